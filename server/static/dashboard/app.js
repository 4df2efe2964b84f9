// The maintainers' page: asks for an admin key, reads the statistics API of this server with it,
// and draws what it answers. No framework, no build step, nothing from any other host.
"use strict";

(() => {
  const KEY = "tally.adminKey";
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#dc2626", "#64748b"];
  const BAR_ROWS = 10;
  const number = new Intl.NumberFormat("en");
  const regions = new Intl.DisplayNames(["en"], { type: "region" });
  const DEPLOYMENT_MODES = {
    homeassistant: "Home Assistant",
    docker: "Docker",
    pi: "Raspberry Pi",
    standalone: "Standalone",
    other: "Other",
  };

  const $ = (id) => document.getElementById(id);
  // The last data drawn, to draw again when the window is resized.
  let shown = null;

  class ApiError extends Error {
    constructor(status, detail) {
      super(`${status}${detail ? `: ${detail}` : ""}`);
      this.status = status;
      this.detail = detail;
    }
  }

  function detailOf(body) {
    if (!body || body.detail === undefined) return "";
    if (typeof body.detail === "string") return body.detail;
    return body.detail.map((field) => field.msg).join("; ");
  }

  // Paths are relative to /dashboard, so the page also works behind a proxy that adds a prefix.
  async function api(path) {
    const response = await fetch(path, {
      headers: { "X-API-Key": sessionStorage.getItem(KEY) || "", Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new ApiError(response.status, detailOf(body));
    return body;
  }

  function setState(state) {
    document.body.dataset.state = state;
    $("key-panel").hidden = state !== "key";
    $("stats").hidden = state === "key";
    $("forget-key").hidden = state === "key";
    if (state === "key") {
      $("freshness").hidden = true;
      $("key").focus();
    }
  }

  function askForKey(message) {
    sessionStorage.removeItem(KEY);
    $("key").value = "";
    $("key-message").textContent = message || "";
    $("key-message").hidden = !message;
    setState("key");
  }

  // --- dates (UTC days, as the API counts them) ---

  const day = (text) => new Date(`${text}T00:00:00Z`);
  const iso = (date) => date.toISOString().slice(0, 10);
  const addDays = (text, n) => iso(new Date(day(text).getTime() + n * 86400000));
  const shortDate = (text) =>
    day(text).toLocaleDateString("en", { month: "short", day: "numeric", timeZone: "UTC" });
  const longDate = (text) =>
    day(text).toLocaleDateString("en", {
      year: "numeric", month: "short", day: "numeric", timeZone: "UTC",
    });

  function ago(date) {
    const minutes = Math.round((Date.now() - date.getTime()) / 60000);
    if (minutes < 1) return "just now";
    if (minutes < 90) return `${minutes} min ago`;
    const hours = Math.round(minutes / 60);
    if (hours < 48) return `${hours} h ago`;
    return `${Math.round(hours / 24)} days ago`;
  }

  // --- loading ---

  async function load(range) {
    setState("loading");
    $("load-message").hidden = true;
    try {
      const overview = await api("stats/overview");
      // Without a range the API picks its default: the 30 days ending the latest rolled day.
      const asked = range ? `&from=${range.from}&to=${range.to}` : "";
      const active7 = await api(`api/v1/metrics/active_installations?window=7${asked}`);
      const { from, to } = active7;
      const span = `from=${from}&to=${to}`;
      const end = `window=30&from=${to}&to=${to}`;
      const [active30, fresh, versionTrend, outcomes, ...ends] = await Promise.all([
        api(`api/v1/metrics/active_installations?window=30&${span}`),
        api(`api/v1/metrics/new_installations?${span}`),
        api(`api/v1/dimensions/version?window=7&${span}`),
        api(`api/v1/outcomes?${span}`),
        ...["version", "country", "deployment_mode", "printer_type", "feature", "error_type"].map(
          (name) => api(`api/v1/dimensions/${name}?${end}`),
        ),
      ]);
      const atEnd = {};
      for (const series of ends) atEnd[series.dimension] = series.points[0].values;
      shown = { overview, active7, active30, fresh, versionTrend, outcomes, atEnd, from, to };
      draw(shown);
      setState("ready");
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) {
        askForKey(`The server refused this key (401: ${error.detail}). Enter an admin key.`);
      } else if (error instanceof ApiError && error.status === 403) {
        askForKey(
          `This key may not read statistics (403: ${error.detail}). ` +
            "Enter an admin key, not an ingest key.",
        );
      } else {
        $("load-message").textContent = `The statistics could not be loaded (${error.message}).`;
        $("load-message").hidden = false;
        setState("error");
      }
    }
  }

  // --- drawing ---

  function draw(data) {
    const { overview, active7, active30, fresh, versionTrend, outcomes, atEnd, from, to } = data;
    const installations = overview.installations;
    $("from").value = from;
    $("to").value = to;
    setText("active-7d", number.format(installations.active_7d));
    setText("active-30d", number.format(installations.active_30d));
    setText("total", number.format(installations.total));
    const growth = installations.growth_7d_percent;
    setText("growth-7d", `${growth > 0 ? "+" : ""}${growth}% against the week before`);
    const newInRange = fresh.points.reduce((sum, point) => sum + point.value, 0);
    setText("new-installations", number.format(newInRange));
    setText("new-range", `first reported ${longDate(from)} – ${longDate(to)}`);
    drawFreshness(overview.last_updated);
    $("empty-message").hidden = installations.total > 0;
    for (const sub of document.querySelectorAll("[data-end]")) {
      sub.title = `As of ${longDate(to)}`;
    }

    lineChart($("chart-active"), active7.points.map((p) => p.date), [
      { name: "Active in 7 days", values: active7.points.map((p) => p.value) },
      { name: "Active in 30 days", values: active30.points.map((p) => p.value) },
    ]);
    lineChart($("chart-version-trend"), versionTrend.points.map((p) => p.date),
      versionSeries(versionTrend.points));

    const activeAtEnd = active30.points[active30.points.length - 1].value;
    const share = (n) => percent(n, activeAtEnd);
    bars("version", rowsOf(atEnd.version, (v, c) => ({
      label: v, value: c.installations, note: share(c.installations),
    })));
    bars("country", rowsOf(atEnd.country, (code, c) => ({
      label: countryName(code), key: code, value: c.installations, note: share(c.installations),
    })));
    bars("deployment_mode", rowsOf(atEnd.deployment_mode, (mode, c) => ({
      label: DEPLOYMENT_MODES[mode] || mode, key: mode, value: c.installations,
      note: share(c.installations),
    })));
    bars("printer_type", rowsOf(atEnd.printer_type, (type, c) => ({
      label: humane(type), key: type, value: c.amount,
      note: `${number.format(c.installations)} inst.`,
    })));
    bars("feature", rowsOf(atEnd.feature, (feature, c) => ({
      label: humane(feature.replace(/_enabled$/, "")), key: feature, value: c.amount,
      of: c.installations, note: percent(c.amount, c.installations),
    })), true);
    bars("error_type", rowsOf(atEnd.error_type, (type, c) => ({
      label: humane(type), key: type, value: c.amount,
      note: `${number.format(c.installations)} inst.`,
    })));
    bars("outcomes", rowsOf(outcomes.totals, (outcome, count) => ({
      label: humane(outcome), key: outcome, value: count, note: percent(count, outcomeTotal(outcomes)),
    })));
  }

  function setText(id, text) {
    $(id).textContent = text;
  }

  function drawFreshness(lastUpdated) {
    const badge = $("freshness");
    badge.hidden = false;
    if (lastUpdated === null) {
      badge.textContent = "Not rolled up yet";
      badge.className = "fresh stale";
      badge.title = "The daily tables have not been computed yet.";
      return;
    }
    const at = new Date(lastUpdated);
    badge.textContent = `Last rollup ${ago(at)}`;
    badge.dataset.lastUpdated = lastUpdated;
    badge.title = `Daily tables computed at ${at.toISOString().replace("T", " ").slice(0, 16)} UTC`;
    // The server rolls every minute by default; an hour without one means it has stopped.
    badge.className = Date.now() - at.getTime() > 3600000 ? "fresh stale" : "fresh";
  }

  // Counts of what accepted requests set aside (fields, values, events), not of requests.
  const SET_ASIDE = /^(unknown_fields_dropped|values_.*|events_rejected_.*|fields_rejected)$/;

  function outcomeTotal(outcomes) {
    return Object.entries(outcomes.totals)
      .filter(([name]) => !SET_ASIDE.test(name))
      .reduce((sum, [, n]) => sum + n, 0);
  }

  const percent = (part, whole) =>
    whole > 0 ? `${(Math.round((part * 1000) / whole) / 10).toFixed(1)}%` : "";

  const humane = (identifier) => {
    const words = identifier.replace(/_/g, " ");
    return words.charAt(0).toUpperCase() + words.slice(1);
  };

  function countryName(code) {
    if (code === "XX") return "Unknown";
    try {
      return regions.of(code) || code;
    } catch {
      return code;
    }
  }

  // Rows by value, largest first, then by label.
  function rowsOf(cells, row) {
    return Object.entries(cells || {})
      .map(([key, cell]) => ({ key, ...row(key, cell) }))
      .sort((a, b) => b.value - a.value || String(a.label).localeCompare(String(b.label)));
  }

  // Horizontal bars in plain HTML: the bar is the value against the largest (or against `of`).
  function bars(name, rows, againstOwnTotal = false) {
    const box = $(`bars-${name}`);
    box.replaceChildren();
    if (rows.length === 0) {
      box.append(element("p", "empty", "No data for this range."));
      return;
    }
    const largest = Math.max(1, ...rows.map((r) => r.value));
    for (const row of rows.slice(0, BAR_ROWS)) {
      const line = element("div", "bar-row");
      line.dataset.key = row.key;
      line.dataset.value = row.value;
      const label = element("span", "bar-label", row.label);
      label.title = row.key;
      const track = element("span", "bar-track");
      const fill = element("span", "bar-fill");
      const whole = againstOwnTotal ? Math.max(1, row.of) : largest;
      fill.style.width = `${(100 * row.value) / whole}%`;
      track.append(fill);
      const value = element("span", "bar-value",
        againstOwnTotal ? `${number.format(row.value)} of ${number.format(row.of)}` :
          number.format(row.value));
      line.append(label, track, value, element("span", "bar-note", row.note || ""));
      box.append(line);
    }
    if (rows.length > BAR_ROWS) {
      const rest = rows.slice(BAR_ROWS).reduce((sum, r) => sum + r.value, 0);
      box.append(element("p", "more",
        `${rows.length - BAR_ROWS} more, ${number.format(rest)} together`));
    }
  }

  // The versions with the most installations over the range, the rest as "other".
  function versionSeries(points) {
    const totals = new Map();
    for (const point of points) {
      for (const [version, cell] of Object.entries(point.values)) {
        totals.set(version, (totals.get(version) || 0) + cell.installations);
      }
    }
    const top = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, 6).map(([v]) => v);
    const series = top.map((version) => ({
      name: version,
      values: points.map((p) => (p.values[version] ? p.values[version].installations : 0)),
    }));
    if (totals.size > top.length) {
      series.push({
        name: "other",
        values: points.map((p) => Object.entries(p.values)
          .filter(([v]) => !top.includes(v))
          .reduce((sum, [, c]) => sum + c.installations, 0)),
      });
    }
    return series;
  }

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function svg(tag, attributes, parent) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
    if (parent) parent.append(node);
    return node;
  }

  // A round upper bound for the y axis and its step.
  function scale(max) {
    if (max <= 5) return { top: Math.max(1, max), step: 1 };
    const rough = max / 4;
    const power = 10 ** Math.floor(Math.log10(rough));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough);
    return { top: Math.ceil(max / step) * step, step };
  }

  // A line per series over the dates, with a legend, axes, and a tooltip per day.
  function lineChart(box, dates, series) {
    box.replaceChildren();
    const max = Math.max(0, ...series.flatMap((s) => s.values));
    if (series.length === 0 || max === 0) {
      box.append(element("p", "empty", "No active installations in this range."));
      return;
    }
    const legend = element("div", "legend");
    series.forEach((s, i) => {
      const item = element("span", "legend-item", s.name);
      const swatch = element("span", "swatch");
      swatch.style.background = PALETTE[i % PALETTE.length];
      item.prepend(swatch);
      legend.append(item);
    });
    box.append(legend);

    const width = Math.max(320, box.clientWidth);
    const height = 220;
    const pad = { left: 44, right: 14, top: 10, bottom: 26 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    const { top, step } = scale(max);
    const x = (i) => pad.left + (dates.length > 1 ? (i * plotW) / (dates.length - 1) : plotW / 2);
    const y = (v) => pad.top + plotH - (v * plotH) / top;
    const chart = svg("svg", {
      width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
      "aria-label": series.map((s) => s.name).join(", "),
    }, box);

    for (let v = 0; v <= top; v += step) {
      svg("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: "grid-line" },
        chart);
      svg("text", { x: pad.left - 8, y: y(v) + 4, class: "axis", "text-anchor": "end" }, chart)
        .textContent = number.format(v);
    }
    const labels = Math.min(dates.length, Math.max(2, Math.floor(plotW / 90)));
    for (let k = 0; k < labels; k++) {
      const i = labels === 1 ? 0 : Math.round((k * (dates.length - 1)) / (labels - 1));
      const anchor = k === 0 ? "start" : k === labels - 1 ? "end" : "middle";
      svg("text", { x: x(i), y: height - 6, class: "axis", "text-anchor": anchor }, chart)
        .textContent = shortDate(dates[i]);
    }

    series.forEach((s, n) => {
      const color = PALETTE[n % PALETTE.length];
      const path = s.values.map((v, i) => `${i ? "L" : "M"}${x(i).toFixed(1)},${y(v).toFixed(1)}`);
      svg("path", { d: path.join(""), fill: "none", stroke: color, "stroke-width": 2,
        "stroke-linejoin": "round" }, chart);
      if (dates.length <= 45) {
        s.values.forEach((v, i) => svg("circle", { cx: x(i), cy: y(v), r: 2.5, fill: color }, chart));
      }
    });

    // One invisible column per day carries the day's numbers as a tooltip.
    const column = dates.length > 1 ? plotW / (dates.length - 1) : plotW;
    dates.forEach((date, i) => {
      const hit = svg("rect", { x: x(i) - column / 2, y: pad.top, width: column, height: plotH,
        class: "hit" }, chart);
      svg("title", {}, hit).textContent = [longDate(date),
        ...series.map((s) => `${s.name}: ${number.format(s.values[i])}`)].join("\n");
    });
  }

  // --- wiring ---

  function rangeEnding(days) {
    const to = $("to").value || iso(new Date());
    return { from: addDays(to, 1 - days), to };
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("key-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const key = $("key").value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY, key);
      load(null);
    });
    $("forget-key").addEventListener("click", () => askForKey(""));
    $("range-form").addEventListener("submit", (event) => {
      event.preventDefault();
      load({ from: $("from").value, to: $("to").value });
    });
    for (const preset of document.querySelectorAll("[data-days]")) {
      preset.addEventListener("click", () => load(rangeEnding(Number(preset.dataset.days))));
    }
    let pending = 0;
    window.addEventListener("resize", () => {
      cancelAnimationFrame(pending);
      pending = requestAnimationFrame(() => shown && document.body.dataset.state === "ready" &&
        draw(shown));
    });
    if (sessionStorage.getItem(KEY)) load(null);
    else askForKey("");
  });
})();
