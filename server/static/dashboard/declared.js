// The view of every product but Printernizer, drawn from its declaration in the catalog
// (`GET /api/v1/products`): nothing here names a product. Each declared field is read by its
// path from `/api/v1/*` over the range: dimensions, flag sets and count maps per day and
// value, measures per day, counters and rates per day, events per day and type. A day's
// figures are its 1-day window (a report product's reports of the day; an event product
// answers per day whatever the window), so the range's totals are their sums.

import { $, RATIO_AXIS, amount, bars, element, humane, lineChart, longDate, number, percent,
  ratio, rowsOf, sum, topSeries } from "./charts.js";

// The window of the rates counted over installations (`installations_without`).
const RATE_WINDOW = 7;

// Every field the product declares, its own and its events' properties, with the path the
// API knows it by and the event type it belongs to.
function fieldsOf(product) {
  const fields = [];
  const add = (path, kind, field, event) => fields.push({ path, kind, field, event });
  const own = { dimensions: "dimension", counters: "counter", measures: "measure",
    flags: "flag", count_maps: "count_map" };
  for (const [group, kind] of Object.entries(own)) {
    for (const [name, field] of Object.entries(product[group] || {})) add(name, kind, field);
  }
  for (const [event, type] of Object.entries(product.events || {})) {
    for (const [name, field] of Object.entries(type.properties || {})) {
      add(`${event}.${name}`, field.kind, field, event);
    }
  }
  // A flag with entries is a set of flags by name: drawn as values, like a dimension.
  for (const f of fields) {
    if (f.kind === "flag" && f.field.max_entries != null) f.kind = "flag_set";
  }
  return fields;
}

const KEYED = ["dimension", "flag_set", "count_map"];
const of = (fields, kinds) => fields.filter((f) => kinds.includes(f.kind));

// Points of a series whose days carry a value, last first.
const lastWith = (points, has) => [...points].reverse().find(has) || null;

// A card, in the view at once: a chart is as wide as the card it is drawn in.
function card(view, title, sub, attributes = {}, wide = false) {
  const article = element("article", wide ? "card wide" : "card");
  view.append(article);
  Object.assign(article.dataset, attributes);
  article.append(element("h2", "", title));
  if (sub) article.append(element("p", "sub", sub));
  return article;
}

function chartIn(article) {
  const box = element("div", "chart");
  article.append(box);
  return box;
}

function barsIn(article) {
  const box = element("div", "bars");
  article.append(box);
  return box;
}

// A field's title: its name, and the event it belongs to.
const titleOf = (f) => (f.event ? `${humane(f.path.slice(f.event.length + 1))} · ${f.event}` :
  humane(f.path));

function stat(label, value, text, note) {
  const box = element("div", "stat");
  box.dataset.stat = label;
  box.dataset.value = value === null ? "" : value;
  box.append(element("span", "label", label), element("span", "value", text));
  if (note) box.append(element("span", "note", note));
  return box;
}

function drawRate(view, name, rate, series) {
  const sub = rate.installations_without ?
    `Per day: installations active in the ${RATE_WINDOW} days up to it that sent no ` +
      `${rate.installations_without}, of all active ones.` :
    `Per day: ${rate.numerator} over ${rate.denominator.join(" + ")}.`;
  const article = card(view, humane(name), sub, { rate: name });
  const latest = lastWith(series.points, (p) => p.value !== null);
  const stats = element("div", "stats");
  stats.append(stat("latest", latest && latest.value, ratio(latest && latest.value),
    latest ? `on ${longDate(latest.date)}` : "no value in this range"));
  article.append(stats);
  lineChart(chartIn(article), series.points.map((p) => p.date),
    [{ name: humane(name), values: series.points.map((p) => p.value) }],
    { axis: RATIO_AXIS, empty: "No value in this range." });
}

function drawEvents(view, events, totals) {
  const article = card(view, "Events per day",
    "Events received per day, by type; the bars: each type's total over the range.",
    { group: "events" }, true);
  const points = events.days.map((day) => ({ date: day.date, values: day.events }));
  lineChart(chartIn(article), points.map((p) => p.date), topSeries(points, (c) => c.count),
    { empty: "No events in this range." });
  const all = sum(Object.values(totals));
  bars(barsIn(article), rowsOf(totals, (type, count) => ({
    label: humane(type), value: count, note: percent(count, all),
  })));
}

// Count and mean over the range are exact (the sums of the days). The API gives p50 and p90
// per day only (a day's histogram, not the range's), so the page shows the latest day's.
function drawMeasure(view, f, series) {
  const article = card(view, titleOf(f),
    `Values received in the range; p50 and p90 are bucket bounds (${f.field.buckets.join(", ")}).`,
    { field: f.path });
  const count = sum(series.points.map((p) => p.count));
  const mean = count > 0 ? sum(series.points.map((p) => p.sum)) / count : null;
  const latest = lastWith(series.points, (p) => p.count > 0);
  const on = latest ? `on ${longDate(latest.date)}` : "";
  const stats = element("div", "stats");
  stats.append(
    stat("count", count, number.format(count), "in the range"),
    stat("mean", mean, amount(mean), "in the range"),
    stat("p50", latest && latest.p50, amount(latest && latest.p50), on),
    stat("p90", latest && latest.p90, amount(latest && latest.p90), on),
  );
  article.append(stats);
  const line = (name, key) => ({ name, values: series.points.map((p) => p[key]) });
  lineChart(chartIn(article), series.points.map((p) => p.date),
    [line("p50", "p50"), line("p90", "p90"), line("mean", "mean")],
    { empty: "No values in this range." });
}

// A dimension, flag set or count map: the range's amounts by value, and per day the
// installations with each value.
function drawKeyed(view, f, series, unit) {
  const what = {
    dimension: `${humane(unit)} with each value in the range`,
    flag_set: `${humane(unit)} with each flag on in the range`,
    count_map: "Each entry's counts added up over the range",
  }[f.kind];
  const article = card(view, titleOf(f), `${what}; the chart: installations per day.`,
    { field: f.path });
  const totals = {};
  for (const point of series.points) {
    for (const [value, cell] of Object.entries(point.values)) {
      totals[value] = (totals[value] || 0) + cell.amount;
    }
  }
  const all = sum(Object.values(totals));
  bars(barsIn(article), rowsOf(totals, (value, total) => ({
    label: value, value: total, note: f.kind === "dimension" ? percent(total, all) : "",
  })));
  lineChart(chartIn(article), series.points.map((p) => p.date),
    topSeries(series.points, (cell) => cell.installations), { empty: "No data in this range." });
}

// Counters summed over the range; single flags as the times they were on, of their event's
// count when they belong to an event.
function drawTotals(view, counters, flags, eventTotals, unit) {
  if (counters.length > 0) {
    const article = card(view, "Counters", "Each counter's sum over the range.",
      { group: "counters" });
    bars(barsIn(article), rowsOf(Object.fromEntries(counters.map(({ f, series }) =>
      [f.path, sum(series.points.map((p) => p.value))])), (path, total) => ({
      label: path, value: total,
    })));
  }
  if (flags.length > 0) {
    const article = card(view, "Flags", `Times each flag was on in the range, of the ${unit} ` +
      "that could carry it.", { group: "flags" });
    bars(barsIn(article), flags.map(({ f, series }) => {
      const on = sum(series.points.map((p) => (p.values.true ? p.values.true.amount : 0)));
      const row = { key: f.path, label: f.path, value: on };
      if (f.event) {
        row.of = eventTotals[f.event] || 0;
        row.note = percent(on, row.of);
      }
      return row;
    }).sort((a, b) => b.value - a.value));
  }
}

export const declared = {
  id: "view-declared",

  async load(api, product, span) {
    const fields = fieldsOf(product);
    const read = (list, path) => Promise.all(list.map((f) => api(path(f))));
    const hasEvents = Object.keys(product.events || {}).length > 0;
    const rates = Object.entries(product.rates || {});
    const [known, events, keyed, measures, counters, flags, rateSeries] = await Promise.all([
      api(`api/v1/metrics/known_installations?${span}`),
      hasEvents ? api(`api/v1/events?${span}`) : null,
      read(of(fields, KEYED), (f) => `api/v1/dimensions/${f.path}?window=1&${span}`),
      read(of(fields, ["measure"]), (f) => `api/v1/measures/${f.path}?${span}`),
      read(of(fields, ["counter"]), (f) => `api/v1/metrics/${f.path}?window=1&${span}`),
      read(of(fields, ["flag"]), (f) => `api/v1/dimensions/${f.path}?window=1&${span}`),
      Promise.all(rates.map(([name]) =>
        api(`api/v1/metrics/${name}?window=${RATE_WINDOW}&${span}`))),
    ]);
    const pair = (list, answers) => list.map((f, i) => ({ f, series: answers[i] }));
    return {
      known,
      events,
      keyed: pair(of(fields, KEYED), keyed),
      measures: pair(of(fields, ["measure"]), measures),
      counters: pair(of(fields, ["counter"]), counters),
      flags: pair(of(fields, ["flag"]), flags),
      rates: rates.map(([name, rate], i) => ({ name, rate, series: rateSeries[i] })),
    };
  },

  cards({ own, active7, active30 }) {
    const last = (series) => series.points[series.points.length - 1].value;
    const points = active7.points;
    const weekBefore = points.length > 7 ? points[points.length - 8].value : 0;
    return {
      active7: last(active7),
      active30: last(active30),
      known: last(own.known),
      growth: weekBefore > 0 ?
        Math.round((1000 * (last(active7) - weekBefore)) / weekBefore) / 10 : null,
      lastUpdated: active7.last_updated,
    };
  },

  draw({ own }, product) {
    const view = $("view-declared");
    view.replaceChildren();
    const unit = product.cadence === "events" ? "events" : "reports";
    const eventTotals = {};
    for (const day of own.events ? own.events.days : []) {
      for (const [type, cell] of Object.entries(day.events)) {
        eventTotals[type] = (eventTotals[type] || 0) + cell.count;
      }
    }
    for (const { name, rate, series } of own.rates) drawRate(view, name, rate, series);
    if (own.events) drawEvents(view, own.events, eventTotals);
    for (const { f, series } of own.measures) drawMeasure(view, f, series);
    drawTotals(view, own.counters, own.flags, eventTotals, unit);
    for (const { f, series } of own.keyed) drawKeyed(view, f, series, unit);
  },
};
