// Drawing for the maintainers' page: numbers, dates, horizontal bars in HTML and line charts in
// SVG. Nothing here knows a product; the views hand it rows and series.

const SVG = "http://www.w3.org/2000/svg";
const PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#0891b2", "#dc2626", "#64748b"];
const BAR_ROWS = 10;
// Series drawn one by one; the rest are added up as "other".
const TOP_SERIES = 6;

export const number = new Intl.NumberFormat("en");
const decimal = new Intl.NumberFormat("en", { maximumFractionDigits: 1 });

export const $ = (id) => document.getElementById(id);

// --- dates (UTC days, as the API counts them) ---

const day = (text) => new Date(`${text}T00:00:00Z`);
export const iso = (date) => date.toISOString().slice(0, 10);
export const addDays = (text, n) => iso(new Date(day(text).getTime() + n * 86400000));
const shortDate = (text) =>
  day(text).toLocaleDateString("en", { month: "short", day: "numeric", timeZone: "UTC" });
export const longDate = (text) =>
  day(text).toLocaleDateString("en", {
    year: "numeric", month: "short", day: "numeric", timeZone: "UTC",
  });

// --- numbers and words ---

export const percent = (part, whole) =>
  whole > 0 ? `${(Math.round((part * 1000) / whole) / 10).toFixed(1)}%` : "";

const absent = (value) => value === null || value === undefined;

// A ratio from 0 to 1 as a percentage with one decimal; a dash where there is none.
export const ratio = (value) => (absent(value) ? "–" : percent(value, 1));

// A measure's value with at most one decimal; a dash where there is none.
export const amount = (value) => (absent(value) ? "–" : decimal.format(value));

export const humane = (identifier) => {
  const words = identifier.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
};

export const sum = (values) => values.reduce((total, value) => total + (value || 0), 0);

export function element(tag, className, text) {
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

// --- bars ---

// Rows by value, largest first, then by label.
export function rowsOf(cells, row) {
  return Object.entries(cells || {})
    .map(([key, cell]) => ({ key, ...row(key, cell) }))
    .sort((a, b) => b.value - a.value || String(a.label).localeCompare(String(b.label)));
}

// Horizontal bars in plain HTML: the bar is the value against the largest, or against the
// row's own `of` when it has one ("3 of 4"). Each row carries its key and value as data
// attributes, for the tests and for a person reading the markup.
export function bars(box, rows) {
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
    const againstOwnTotal = row.of !== undefined;
    if (againstOwnTotal) line.dataset.of = row.of;
    const label = element("span", "bar-label", row.label);
    label.title = row.key;
    const track = element("span", "bar-track");
    const fill = element("span", "bar-fill");
    const whole = againstOwnTotal ? Math.max(1, row.of) : largest;
    fill.style.width = `${Math.min(100, (100 * row.value) / whole)}%`;
    track.append(fill);
    const value = element("span", "bar-value",
      againstOwnTotal ? `${number.format(row.value)} of ${number.format(row.of)}` :
        number.format(row.value));
    line.append(label, track, value, element("span", "bar-note", row.note || ""));
    box.append(line);
  }
  if (rows.length > BAR_ROWS) {
    const rest = rows.slice(BAR_ROWS).reduce((total, r) => total + r.value, 0);
    box.append(element("p", "more",
      `${rows.length - BAR_ROWS} more, ${number.format(rest)} together`));
  }
}

// --- line charts ---

// Per day, one series for each of the values with the most over the range, the rest as
// "other". `points` are `{values: {value: cell}}`; `of(cell)` is the number drawn.
export function topSeries(points, of) {
  const totals = new Map();
  for (const point of points) {
    for (const [value, cell] of Object.entries(point.values)) {
      totals.set(value, (totals.get(value) || 0) + of(cell));
    }
  }
  const top = [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, TOP_SERIES)
    .map(([v]) => v);
  const series = top.map((value) => ({
    name: value,
    values: points.map((p) => (p.values[value] ? of(p.values[value]) : 0)),
  }));
  if (totals.size > top.length) {
    series.push({
      name: "other",
      values: points.map((p) => Object.entries(p.values)
        .filter(([v]) => !top.includes(v))
        .reduce((total, [, cell]) => total + of(cell), 0)),
    });
  }
  return series;
}

// A round upper bound for the y axis and its step.
function scale(max) {
  if (max <= 5) return { top: Math.max(1, max), step: 1 };
  const rough = max / 4;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough);
  return { top: Math.ceil(max / step) * step, step };
}

// The y axis of a ratio: 0 to 100%.
export const RATIO_AXIS = { top: 1, step: 0.25, format: ratio };

// A line per series over the dates, with a legend, axes, and a tooltip per day. A value of
// null is a day without one: the line breaks there. `axis` fixes the scale and the labels.
export function lineChart(box, dates, series, { empty = "No data in this range.", axis } = {}) {
  box.replaceChildren();
  const max = Math.max(0, ...series.flatMap((s) => s.values.filter((v) => v !== null)));
  const anything = series.some((s) => s.values.some((v) => v !== null && (v > 0 || axis)));
  if (series.length === 0 || !anything) {
    box.append(element("p", "empty", empty));
    return;
  }
  const format = axis ? axis.format : (v) => number.format(v);
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
  const pad = { left: 48, right: 14, top: 10, bottom: 26 };
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const { top, step } = axis || scale(max);
  const x = (i) => pad.left + (dates.length > 1 ? (i * plotW) / (dates.length - 1) : plotW / 2);
  const y = (v) => pad.top + plotH - (v * plotH) / top;
  const chart = svg("svg", {
    width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
    "aria-label": series.map((s) => s.name).join(", "),
  }, box);

  for (let k = 0; k * step <= top + 1e-9; k++) {
    const v = k * step;
    svg("line", { x1: pad.left, x2: width - pad.right, y1: y(v), y2: y(v), class: "grid-line" },
      chart);
    svg("text", { x: pad.left - 8, y: y(v) + 4, class: "axis", "text-anchor": "end" }, chart)
      .textContent = format(v);
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
    let path = "";
    let gap = true;
    s.values.forEach((v, i) => {
      if (v === null) {
        gap = true;
        return;
      }
      path += `${gap ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      gap = false;
    });
    svg("path", { d: path, fill: "none", stroke: color, "stroke-width": 2,
      "stroke-linejoin": "round" }, chart);
    if (dates.length <= 45) {
      s.values.forEach((v, i) => v !== null &&
        svg("circle", { cx: x(i), cy: y(v), r: 2.5, fill: color }, chart));
    }
  });

  // One invisible column per day carries the day's numbers as a tooltip.
  const column = dates.length > 1 ? plotW / (dates.length - 1) : plotW;
  dates.forEach((date, i) => {
    const hit = svg("rect", { x: x(i) - column / 2, y: pad.top, width: column, height: plotH,
      class: "hit" }, chart);
    svg("title", {}, hit).textContent = [longDate(date),
      ...series.map((s) => `${s.name}: ${s.values[i] === null ? "–" : format(s.values[i])}`)]
      .join("\n");
  });
}
