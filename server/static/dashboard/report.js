// Printernizer's view: its weekly reports have typed daily tables of their own (`/stats/*`
// and Printernizer's `/api/v1/dimensions/*`), with windows of 7 and 30 days, so its cards
// come from `/stats/overview` and its distributions are taken at the range's end.

import { $, bars, humane, lineChart, longDate, number, percent, rowsOf, topSeries }
  from "./charts.js";

const DIMENSIONS = ["version", "country", "deployment_mode", "printer_type", "feature",
  "error_type"];
const DEPLOYMENT_MODES = {
  homeassistant: "Home Assistant",
  docker: "Docker",
  pi: "Raspberry Pi",
  standalone: "Standalone",
  other: "Other",
};
const regions = new Intl.DisplayNames(["en"], { type: "region" });

function countryName(code) {
  if (code === "XX") return "Unknown";
  try {
    return regions.of(code) || code;
  } catch {
    return code;
  }
}

export const report = {
  id: "view-report",

  async load(api, _product, span, to) {
    const end = `window=30&from=${to}&to=${to}`;
    const [overview, versionTrend, ...ends] = await Promise.all([
      api("stats/overview"),
      api(`api/v1/dimensions/version?window=7&${span}`),
      ...DIMENSIONS.map((name) => api(`api/v1/dimensions/${name}?${end}`)),
    ]);
    const atEnd = {};
    for (const series of ends) atEnd[series.dimension] = series.points[0].values;
    return { overview, versionTrend, atEnd };
  },

  cards({ own }) {
    const installations = own.overview.installations;
    return {
      active7: installations.active_7d,
      active30: installations.active_30d,
      known: installations.total,
      growth: installations.growth_7d_percent,
      lastUpdated: own.overview.last_updated,
    };
  },

  draw({ own, active30, to }) {
    const { versionTrend, atEnd } = own;
    for (const sub of document.querySelectorAll("[data-end]")) {
      sub.title = `As of ${longDate(to)}`;
    }
    lineChart($("chart-version-trend"), versionTrend.points.map((p) => p.date),
      topSeries(versionTrend.points, (cell) => cell.installations),
      { empty: "No active installations in this range." });

    const activeAtEnd = active30.points[active30.points.length - 1].value;
    const share = (n) => percent(n, activeAtEnd);
    const box = (name) => $(`bars-${name}`);
    bars(box("version"), rowsOf(atEnd.version, (v, c) => ({
      label: v, value: c.installations, note: share(c.installations),
    })));
    bars(box("country"), rowsOf(atEnd.country, (code, c) => ({
      label: countryName(code), value: c.installations, note: share(c.installations),
    })));
    bars(box("deployment_mode"), rowsOf(atEnd.deployment_mode, (mode, c) => ({
      label: DEPLOYMENT_MODES[mode] || mode, value: c.installations,
      note: share(c.installations),
    })));
    bars(box("printer_type"), rowsOf(atEnd.printer_type, (type, c) => ({
      label: humane(type), value: c.amount, note: `${number.format(c.installations)} inst.`,
    })));
    bars(box("feature"), rowsOf(atEnd.feature, (feature, c) => ({
      label: humane(feature.replace(/_enabled$/, "")), value: c.amount, of: c.installations,
      note: percent(c.amount, c.installations),
    })));
    bars(box("error_type"), rowsOf(atEnd.error_type, (type, c) => ({
      label: humane(type), value: c.amount, note: `${number.format(c.installations)} inst.`,
    })));
  },
};
