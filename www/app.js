// Quarry demo page: the UI thread. All inference happens in worker.js; this
// file only renders what the worker streams back, so typing stays smooth.

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const MODEL_URL = params.get("model") || "./models/quarry-q8_0.gguf";
// ?weights=f32 dequantizes the model at load (matches native CANDLE_DEQUANTIZE_ALL=1).
const DEQUANTIZE = params.get("weights") === "f32";

const PRESETS = [
  { label: "No profile", profile: null },
  {
    label: "Nurse in Naples, Florida",
    profile: {
      title: "Registered Nurse", company: "NCH Healthcare System",
      location: "Naples, Florida, United States", industry: "Hospitals and Health Care",
      seniority: "mid_senior", skills: ["Patient Care", "ICU"], years_experience: 7,
    },
  },
  {
    label: "Sous chef in Naples, Italy",
    profile: {
      title: "Sous Chef", company: "Trattoria da Michele",
      location: "Naples, Campania, Italy", industry: "Restaurants",
      seniority: "associate", skills: ["Italian Cuisine", "Pastry"], years_experience: 4,
    },
  },
  {
    label: "Engineer in Berlin",
    profile: {
      title: "Software Engineer", company: "Acme", location: "Berlin, Germany",
      industry: "Software Development", seniority: "mid_senior",
      skills: ["Rust", "Kubernetes"], years_experience: 6, education: "BS Computer Science",
    },
  },
];

const EXAMPLES = [
  "restaurant jobs in naples",
  "jobs that fit my profile",
  "senior rust engineer jobs in naples posted this week",
  "remote fintech jobs over 150k with fewer than 10 applicants",
  "part time barista jobs in zürich",
  "weather in seattle tomorrow",
  "hitman jobs",
];

const TOOL_LABELS = {
  title_tool: "title", company_tool: "company", location_tool: "location",
  seniority_tool: "seniority", industry_tool: "industry", workplace_type_tool: "workplace",
  employment_type_tool: "employment", easy_apply_tool: "easy apply",
  date_posted_tool: "posted", num_applicants_tool: "applicants",
  job_in_network_tool: "network", salary_tool: "salary",
};

const words = (s) => String(s).replaceAll("_", " ");

function toolValue(tool) {
  const a = tool.arguments || {};
  switch (tool.name) {
    case "title_tool": return a.title;
    case "company_tool": return a.company;
    case "industry_tool": return a.industry;
    case "location_tool": {
      const r = a.resolved;
      if (!r) return a.location;
      const place = [r.name, r.admin1, r.country].filter(Boolean).join(", ");
      return `${a.location} → ${place}`;
    }
    case "seniority_tool": return words(a.level);
    case "workplace_type_tool":
    case "employment_type_tool": return words(a.type);
    case "date_posted_tool": return words(a.within);
    case "num_applicants_tool": return `≤ ${a.max}`;
    case "salary_tool": return `≥ ${Number(a.min_annual).toLocaleString("en-US")} ${a.currency}/yr`;
    case "easy_apply_tool": return "yes";
    case "job_in_network_tool": return "my connections";
    default: return JSON.stringify(a);
  }
}

// --- the worker and its requests -------------------------------------------

const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
let ready = false;
let nextId = 0;
let busy = null;           // id the worker is working on
let shown = 0;             // id whose output the result panel shows
const waiters = new Map(); // id -> {resolve, reject} for window.quarry.understand

function send(req) {
  busy = req.id;
  worker.postMessage({ type: "understand", id: req.id, input: req.input });
}

const queue = [];

/** Queues an input. A new UI request supersedes UI requests still waiting
 * (the member kept typing); programmatic ones are all kept. */
function request(input, { ui = true } = {}) {
  const id = ++nextId;
  if (ui) {
    document.body.dataset.requested = String(id);
    for (let i = queue.length - 1; i >= 0; i--) if (queue[i].ui) queue.splice(i, 1);
  }
  queue.push({ id, input, ui });
  pump();
  return id;
}

function pump() {
  if (!ready || busy !== null) return;
  const req = queue.shift();
  if (req) send(req);
}

function next() {
  busy = null;
  pump();
}

worker.onmessage = ({ data }) => {
  switch (data.type) {
    case "ready": return onReady(data);
    case "event": return onEvent(data.id, data.event);
    case "result": {
      settleWaiter(data.id, null, data);
      onResult(data.id, data.output, data.ms, data.stats);
      return next();
    }
    case "error": {
      if (data.id === null) return onFatal(data.error);
      settleWaiter(data.id, data.error, null);
      onError(data.id, data.error);
      return next();
    }
  }
};
worker.onerror = (e) => onFatal({ code: "worker", message: e.message || "worker failed to start" });

function settleWaiter(id, error, result) {
  const w = waiters.get(id);
  if (!w) return;
  waiters.delete(id);
  if (error) w.reject(Object.assign(new Error(error.message), error));
  else w.resolve({ output: result.output, ms: result.ms, stats: result.stats });
}

// A programmatic entry point (benchmarks, the console): same worker, no UI.
window.quarry = {
  understand(input) {
    return new Promise((resolve, reject) => {
      const id = request(input, { ui: false });
      waiters.set(id, { resolve, reject });
    });
  },
  get ready() { return ready; },
};

// --- rendering --------------------------------------------------------------

function isUi(id) { return String(id) === document.body.dataset.requested; }

function reset(id) {
  shown = id;
  window.quarryLastEvents = []; // the stream of the query on display (tests read it)
  $("result").classList.remove("empty");
  $("banner").hidden = true;
  $("banner").textContent = "";
  $("intent").textContent = "…";
  $("intent").className = "intent pending";
  $("rewrite").hidden = true;
  $("tools").replaceChildren();
  $("suggestions").replaceChildren();
  $("suggestions-box").hidden = true;
  $("latency").textContent = "";
  $("confidence").textContent = "";
  $("output-json").dataset.state = "running";
}

function onEvent(id, event) {
  if (!isUi(id)) return;
  if (shown !== id) reset(id);
  window.quarryLastEvents.push(event);
  const { event: kind, data } = event;
  if (kind === "intent") {
    $("intent").textContent = words(data);
    $("intent").className = `intent ${data}`;
  } else if (kind === "rewrite") {
    $("rewrite").hidden = false;
    $("rewrite").innerHTML = "";
    $("rewrite").append("Rewritten with your profile: ", Object.assign(document.createElement("q"), { textContent: data }));
  } else if (kind === "tool") {
    $("tools").append(chip(data));
  } else if (kind === "suggestions") {
    renderSuggestions(data);
  } else if (kind === "error") {
    console.warn("model output error:", data);
  }
}

function chip(tool) {
  const li = document.createElement("li");
  li.className = `chip ${tool.name}`;
  li.append(
    Object.assign(document.createElement("b"), { textContent: TOOL_LABELS[tool.name] || tool.name }),
    Object.assign(document.createElement("span"), { textContent: toolValue(tool) }),
  );
  return li;
}

function renderSuggestions(list) {
  $("suggestions").replaceChildren(...list.map((name) =>
    Object.assign(document.createElement("li"), { className: "chip suggestion", textContent: name })));
  $("suggestions-box").hidden = list.length === 0;
}

function onResult(id, output, ms, stats) {
  if (!isUi(id)) return;
  if (shown !== id) reset(id);
  if (output.denied) {
    $("banner").hidden = false;
    $("banner").className = "banner denied";
    $("banner").textContent = output.message;
  }
  $("intent").textContent = words(output.intent);
  $("intent").className = `intent ${output.intent}`;
  // The done event carries the whole output: make the chips match it exactly.
  if ($("tools").children.length !== output.tools.length) {
    $("tools").replaceChildren(...output.tools.map(chip));
  }
  renderSuggestions(output.suggested_industries);
  $("latency").textContent = `${ms.toFixed(1)} ms`;
  $("latency").title = stats
    ? `${stats.generated_tokens} tokens generated (${stats.forced_tokens} forced by the grammar), ${stats.prompt_tokens} prompt tokens`
    : "";
  $("confidence").textContent = output.denied && output.denial && output.denial.stage === "screen"
    ? "screened before the model" : `confidence ${Math.round(output.confidence * 100)}%`;
  const pre = $("output-json");
  pre.textContent = JSON.stringify(output, null, 2);
  pre.dataset.seq = String(id);
  pre.dataset.state = "done";
}

function onError(id, error) {
  if (!isUi(id)) return;
  if (shown !== id) reset(id);
  $("banner").hidden = false;
  $("banner").className = "banner error";
  $("banner").textContent = `${error.code}: ${error.message}`;
  $("intent").textContent = "error";
  $("intent").className = "intent error";
  const pre = $("output-json");
  pre.textContent = JSON.stringify({ error: { code: error.code, message: error.message } }, null, 2);
  pre.dataset.seq = String(id);
  pre.dataset.state = "error";
}

function onReady(info) {
  ready = true;
  window.quarryTimings.modelReadyMs = performance.now();
  window.quarryTimings.workerLoadMs = info.loadMs;
  Object.assign(window.quarryTimings, { fetchMs: info.fetchMs, initMs: info.initMs, modelBytes: info.modelBytes, loadParts: info.loadParts });
  $("status").className = "status ready";
  $("status").textContent =
    `Ready: model (${(info.modelBytes / 1e6).toFixed(1)} MB) loaded and warmed up in ${Math.round(info.loadMs)} ms, on this device.`;
  $("build-info").textContent = `quarry-browser ${info.version} · prompt style ${info.style} · weights ${info.weights} · WebAssembly + SIMD128`;
  document.body.dataset.ready = "true";
  pump();
}

function onFatal(error) {
  $("status").className = "status failed";
  $("status").textContent = `Could not load the model: ${error.message}`;
  document.body.dataset.ready = "failed";
}

// --- input ------------------------------------------------------------------

function currentInput() {
  const query = $("query").value;
  const text = $("profile-json").value.trim();
  if (!text) return { query };
  let profile;
  try {
    profile = JSON.parse(text);
  } catch (e) {
    throw Object.assign(new Error(`profile is not valid JSON (${e.message})`), { code: "malformed_request" });
  }
  return { query, profile };
}

function submit() {
  clearTimeout(debounce);
  let input;
  try {
    input = currentInput();
  } catch (e) {
    const id = ++nextId;
    document.body.dataset.requested = String(id);
    return onError(id, e);
  }
  request(input);
}

let debounce = 0;
function onTyping() {
  clearTimeout(debounce);
  if (!$("live").checked || !$("query").value.trim()) return;
  debounce = setTimeout(submit, 180);
}

function updateProfileSummary() {
  const text = $("profile-json").value.trim();
  let summary = "none";
  if (text) {
    try {
      const p = JSON.parse(text);
      summary = [p.title, p.location].filter(Boolean).join(" · ") || "custom";
    } catch { summary = "invalid JSON"; }
  }
  $("profile-summary").textContent = summary;
}

function setup() {
  window.quarryTimings.domInteractiveMs = performance.now();
  $("search-form").addEventListener("submit", (e) => { e.preventDefault(); submit(); });
  $("query").addEventListener("input", onTyping);
  $("profile-json").addEventListener("input", () => { updateProfileSummary(); onTyping(); });

  for (const preset of PRESETS) {
    const b = Object.assign(document.createElement("button"), { type: "button", textContent: preset.label });
    b.addEventListener("click", () => {
      $("profile-json").value = preset.profile ? JSON.stringify(preset.profile, null, 2) : "";
      updateProfileSummary();
      if ($("query").value.trim()) submit();
    });
    $("presets").append(b);
  }
  for (const q of EXAMPLES) {
    const b = Object.assign(document.createElement("button"), { type: "button", className: "example", textContent: q });
    b.addEventListener("click", () => { $("query").value = q; submit(); });
    $("examples").append(b);
  }
  updateProfileSummary();
  worker.postMessage({ type: "load", modelUrl: new URL(MODEL_URL, location.href).href, dequantize: DEQUANTIZE });
}

window.quarryTimings = { scriptStartMs: performance.now() };
window.quarryLastEvents = [];
setup();
