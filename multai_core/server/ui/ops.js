// The operations view, polled each second while it is shown: devices (memory bars), resident
// models (GET /v1/ps), the queue by priority (GET /v1/queue), requests per minute per model
// (from GET /metrics, when the key may read it) and the loads and evictions seen between two
// reads of /v1/ps with their reasons from the metrics (both read every few seconds even while
// another view is shown).
import { ApiError, call, getJson } from "./api.js";
import { byId, el, formatBytes, formatSeconds } from "./dom.js";

const PRIORITY = ["0 urgent", "1 default", "2 background"];
const WINDOW_MS = 60000;
let resident = null; // Map id -> last /v1/ps entry
let samples = []; // [{ at, counts: Map model -> requests done }]
let metricsReadable = true;
let visible = false;
let timer = 0;

function cell(text, attrs = {}) {
  return el("td", { ...attrs, text });
}

function showDevices(devices) {
  const items = devices.gpus.map((gpu) =>
    meterItem(`GPU ${gpu.index}: ${gpu.name}`, gpu.total_bytes - gpu.free_bytes, gpu.total_bytes),
  );
  items.push(meterItem("RAM", devices.ram_total_bytes - devices.ram_free_bytes, devices.ram_total_bytes));
  byId("ops-devices").replaceChildren(...items);
}

function meterItem(label, used, total) {
  const id = `meter-${label.replace(/[^A-Za-z0-9]/g, "-")}`;
  return el(
    "li",
    {},
    el("label", { for: id, text: label }),
    el("meter", { id, min: 0, max: total, value: used, low: total * 0.7, high: total * 0.9, optimum: 0 }),
    el("span", { class: "hint", text: `${formatBytes(used)} used of ${formatBytes(total)}` }),
  );
}

function showResident(models, rates) {
  const rows = models.map((m) =>
    el(
      "tr",
      { "data-model": m.id },
      el("th", { scope: "row", text: m.id }),
      cell(m.placement === "partial" ? `${m.device}, ${m.gpu_layers} layers` : `${m.placement} (${m.device})`),
      cell([m.vram_bytes && `${formatBytes(m.vram_bytes)} VRAM`, m.ram_bytes && `${formatBytes(m.ram_bytes)} RAM`].filter(Boolean).join(", ") || "0 B"),
      cell(String(m.in_use)),
      cell(m.in_use ? "busy" : formatSeconds(m.idle_s)),
      cell(m.pinned ? "pinned" : formatSeconds(m.keep_alive_s)),
      cell(formatSeconds(m.load_s)),
      cell(rates.has(m.id) ? rates.get(m.id).toFixed(1) : "–"),
    ),
  );
  byId("ops-resident").tBodies[0].replaceChildren(...rows);
  byId("ops-resident-empty").hidden = rows.length > 0;
}

function showQueue(entries) {
  const sorted = [...entries].sort(
    (a, b) => a.priority - b.priority || (a.status === "running" ? -1 : 1) - (b.status === "running" ? -1 : 1) || (a.position ?? 0) - (b.position ?? 0),
  );
  const rows = sorted.map((e) =>
    el(
      "tr",
      { "data-request": e.id, class: e.status },
      cell(PRIORITY[e.priority] ?? String(e.priority)),
      cell(e.status),
      cell(e.position === null || e.position === undefined ? "–" : String(e.position + 1)),
      cell(formatSeconds(e.waited_s)),
      cell(e.model),
      cell(e.kind),
      cell(e.id, { class: "id" }),
    ),
  );
  byId("ops-queue").tBodies[0].replaceChildren(...rows);
  byId("ops-queue-empty").hidden = rows.length > 0;
}

function logEvent(text, kind) {
  const time = new Date().toLocaleTimeString();
  const list = byId("ops-events");
  list.prepend(el("li", { class: kind }, el("time", { text: time }), ` ${text}`));
  while (list.children.length > 50) list.lastChild.remove();
}

const UNLOADED = {
  keep_alive: (m) => `idle past its keep_alive of ${formatSeconds(m.keep_alive_s)}`,
  evicted: () => "evicted to make room for another model",
  reload: () => "reloaded with another placement",
  requested: () => "unloaded on request",
  shutdown: () => "the server is shutting down",
};

// Loads and unloads between two reads of /v1/ps; `unloads` (model -> reason, from the
// metrics' multai_model_unloads_total) says why a model went, where the key may read them.
function noteChanges(models, unloads) {
  const now = new Map(models.map((m) => [m.id, m]));
  if (resident) {
    for (const [id, m] of now)
      if (!resident.has(id))
        logEvent(`Loaded ${id}: ${m.placement} on ${m.device}, ${formatBytes(m.vram_bytes + m.ram_bytes)}, in ${formatSeconds(m.load_s)}`, "load");
    for (const [id, m] of resident)
      if (!now.has(id)) {
        const why = UNLOADED[unloads.get(id)];
        logEvent(`Unloaded ${id}: ${why ? why(m) : `after ${formatSeconds(m.idle_s)} idle`}`, "unload");
      }
  }
  resident = now;
}

function labelOf(line, name) {
  return line.match(new RegExp(`${name}="((?:[^"\\\\]|\\\\.)*)"`))?.[1];
}

// Prometheus text: requests done per model (multai_inference_seconds_count, every kind and
// outcome) and unloads per model and reason.
function parseMetrics(text) {
  const counts = new Map();
  const unloads = new Map();
  for (const line of text.split("\n")) {
    const value = Number.parseFloat(line.slice(line.lastIndexOf(" ") + 1));
    const model = labelOf(line, "model");
    if (model === undefined || !Number.isFinite(value)) continue;
    if (line.startsWith("multai_inference_seconds_count{")) counts.set(model, (counts.get(model) || 0) + value);
    else if (line.startsWith("multai_model_unloads_total{")) unloads.set(`${model}\n${labelOf(line, "reason")}`, value);
  }
  return { counts, unloads };
}

let lastUnloads = null;

// Requests per minute per model over the last minute, and the reason of each unload since the
// last read; empty where the key may not read /metrics.
async function readMetrics() {
  const found = { rates: new Map(), unloads: new Map() };
  if (!metricsReadable) return found;
  let parsed;
  try {
    parsed = parseMetrics(await (await call("/metrics", {}, { askOn401: false })).text());
  } catch (error) {
    if (!(error instanceof ApiError) || (error.status !== 401 && error.status !== 403)) throw error;
    metricsReadable = false;
    byId("ops-rates-note").textContent = "This key may not read /metrics: no request rates.";
    return found;
  }
  if (lastUnloads)
    for (const [key, value] of parsed.unloads)
      if (value > (lastUnloads.get(key) || 0)) {
        const [model, reason] = key.split("\n");
        found.unloads.set(model, reason);
      }
  lastUnloads = parsed.unloads;
  const at = performance.now();
  samples.push({ at, counts: parsed.counts });
  samples = samples.filter((s) => at - s.at <= WINDOW_MS);
  const first = samples[0];
  const minutes = (at - first.at) / 60000;
  for (const [model, count] of parsed.counts)
    found.rates.set(model, minutes > 0 ? (count - (first.counts.get(model) || 0)) / minutes : 0);
  return found;
}

function showRates(rates) {
  const last = samples[samples.length - 1];
  byId("ops-rates").replaceChildren(
    ...[...rates].map(([model, rate]) =>
      el("li", { "data-model": model }, el("strong", { text: model }), ` ${rate.toFixed(1)} per minute (${last.counts.get(model)} in all)`),
    ),
  );
  const seconds = Math.round((last.at - samples[0].at) / 1000);
  byId("ops-rates-note").textContent = rates.size ? `Over the last ${seconds} s.` : "No request has run yet.";
}

let polling = false;
let started = false;

async function poll() {
  if (polling) return;
  polling = true;
  clearTimeout(timer);
  try {
    const [ps, metrics] = await Promise.all([getJson("/v1/ps"), readMetrics()]);
    noteChanges(ps.data, metrics.unloads);
    if (visible) {
      const [queue, devices] = await Promise.all([getJson("/v1/queue"), getJson("/ui/api/devices")]);
      showResident(ps.data, metrics.rates);
      if (metricsReadable) showRates(metrics.rates);
      showQueue(queue.data);
      showDevices(devices);
      byId("view-ops").dataset.updated = String(Date.now());
    }
  } catch {
    // the next poll tries again; a missing key shows its dialog from api.js
  } finally {
    polling = false;
    timer = setTimeout(poll, visible ? 1000 : 3000);
  }
}

export function startOps() {
  if (!started) {
    started = true;
    poll();
  }
}

export function showOps(on) {
  visible = on;
  if (on && started) poll();
}
