// The maintainers' page: asks for an admin key, reads the statistics API of this server with it,
// and draws what it answers for the product picked (`?product=`, Printernizer by default, as
// in the API). No framework, no build step, nothing from any other host.

import { $, addDays, bars, element, humane, iso, lineChart, longDate, number, percent, rowsOf,
  sum } from "./charts.js";
import { declared } from "./declared.js";
import { report } from "./report.js";

const KEY = "tally.adminKey";
// The API's default product, and the one whose typed weekly reports have a view of their own.
const PRINTERNIZER = "printernizer";

// The declared products, read once per key.
let products = null;
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
  products = null;
  $("key").value = "";
  $("key-message").textContent = message || "";
  $("key-message").hidden = !message;
  setState("key");
}

function failed(error) {
  if (error instanceof ApiError && error.status === 401) {
    askForKey(`The server refused this key (401: ${error.detail}). Enter an admin key.`);
  } else if (error instanceof ApiError && error.status === 403) {
    askForKey(
      `This key may not read statistics (403: ${error.detail}). ` +
        "Enter an admin key, not an ingest key.",
    );
  } else {
    showError(`The statistics could not be loaded (${error.message}).`);
  }
}

function showError(message) {
  $("load-message").textContent = message;
  $("load-message").hidden = false;
  for (const view of document.querySelectorAll(".view, .common")) view.hidden = true;
  setState("error");
}

function ago(date) {
  const minutes = Math.round((Date.now() - date.getTime()) / 60000);
  if (minutes < 1) return "just now";
  if (minutes < 90) return `${minutes} min ago`;
  const hours = Math.round(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.round(hours / 24)} days ago`;
}

// --- the product: in the URL, so a link names it and back and forward move between them ---

const productInUrl = () =>
  new URLSearchParams(window.location.search).get("product") || PRINTERNIZER;

function pick(name) {
  const url = new URL(window.location.href);
  url.searchParams.set("product", name);
  window.history.pushState(null, "", url);
  load(null);
}

function fillPicker(name) {
  const picker = $("product");
  if (picker.options.length !== products.length) {
    picker.replaceChildren(...products.map((product) => {
      const option = element("option", "", humane(product.name));
      option.value = product.name;
      return option;
    }));
  }
  picker.value = name;
}

// --- loading ---

async function load(range) {
  setState("loading");
  $("load-message").hidden = true;
  try {
    products = products || (await api("api/v1/products")).products;
    const name = productInUrl();
    const product = products.find((p) => p.name === name);
    fillPicker(name);
    if (!product) {
      showError(`No product named “${name}” is declared on this server. Pick one above.`);
      return;
    }
    const title = `${humane(name)} usage statistics`;
    $("product-title").textContent = title;
    document.title = `Tally · ${title}`;
    const view = name === PRINTERNIZER ? report : declared;
    const q = `product=${encodeURIComponent(name)}`;
    // Without a range the API picks its default: the 30 days ending the latest rolled day.
    const asked = range ? `&from=${range.from}&to=${range.to}` : "";
    const active7 = await api(`api/v1/metrics/active_installations?${q}&window=7${asked}`);
    const { from, to } = active7;
    const span = `${q}&from=${from}&to=${to}`;
    const [active30, fresh, outcomes, own] = await Promise.all([
      api(`api/v1/metrics/active_installations?window=30&${span}`),
      api(`api/v1/metrics/new_installations?${span}`),
      api(`api/v1/outcomes?${span}`),
      view.load(api, product, span, to),
    ]);
    if (name !== productInUrl()) return; // Another product was picked meanwhile.
    shown = { view, product, active7, active30, fresh, outcomes, own, from, to };
    draw(shown);
    document.body.dataset.product = name;
    setState("ready");
  } catch (error) {
    failed(error);
  }
}

// --- drawing what every product has; the view draws the rest ---

function draw(data) {
  const { view, product, active7, active30, fresh, outcomes, from, to } = data;
  const cards = view.cards(data);
  $("from").value = from;
  $("to").value = to;
  setText("active-7d", number.format(cards.active7));
  setText("active-30d", number.format(cards.active30));
  setText("total", number.format(cards.known));
  setText("growth-7d", cards.growth === null ? `up to ${longDate(to)}` :
    `${cards.growth > 0 ? "+" : ""}${cards.growth}% against the week before`);
  setText("new-installations", number.format(sum(fresh.points.map((point) => point.value))));
  setText("new-range", `first reported ${longDate(from)} – ${longDate(to)}`);
  drawFreshness(cards.lastUpdated);
  $("empty-message").hidden = cards.known > 0;

  lineChart($("chart-active"), active7.points.map((p) => p.date), [
    { name: "Active in 7 days", values: active7.points.map((p) => p.value) },
    { name: "Active in 30 days", values: active30.points.map((p) => p.value) },
  ], { empty: "No active installations in this range." });
  bars($("bars-outcomes"), rowsOf(outcomes.totals, (outcome, count) => ({
    label: humane(outcome), value: count, note: percent(count, outcomeTotal(outcomes)),
  })));
  for (const common of document.querySelectorAll(".common")) common.hidden = false;
  for (const other of document.querySelectorAll(".view")) other.hidden = other.id !== view.id;
  view.draw(data, product);
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
    delete badge.dataset.lastUpdated;
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
    .reduce((total, [, n]) => total + n, 0);
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
  $("product").addEventListener("change", (event) => pick(event.target.value));
  window.addEventListener("popstate", () => sessionStorage.getItem(KEY) && load(null));
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
