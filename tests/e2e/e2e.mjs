// End-to-end test of the demo page in real Chromium: every golden input is
// typed into the page (query and profile), and what the page shows must
// equal the native CLI's output for the same input. The one allowed
// difference is date_posted_tool.posted_after, which is "now" minus the
// window: it may differ by the seconds between the two runs (≤ 120 s).
//
//   QUARRY_NATIVE_BIN=path/to/quarry node e2e.mjs   (scripts/wasm/e2e.sh does it all)
// QUARRY_E2E_WEIGHTS=f32 runs both sides with the weights dequantized to F32
// (page: ?weights=f32; native: CANDLE_DEQUANTIZE_ALL=1), see wasm/README.md.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { isDeepStrictEqual } from "node:util";
import { ROOT, launchChromium, openPage, percentile, readJsonl, serveWww } from "./lib.mjs";

const GOLDEN = path.join(ROOT, "tests/data/golden.jsonl");
const MODEL = path.join(ROOT, "models/quarry-q8_0.gguf");
const ARTIFACTS = process.env.QUARRY_ARTIFACTS || path.join(ROOT, "target/e2e");
const NATIVE = process.env.QUARRY_NATIVE_BIN;
const F32 = process.env.QUARRY_E2E_WEIGHTS === "f32";
if (!NATIVE) { console.error("set QUARRY_NATIVE_BIN to the native `quarry` binary"); process.exit(2); }
mkdirSync(ARTIFACTS, { recursive: true });

// Bad inputs: the page must show the same error (code and message) as native.
const BAD = [
  { query: "   " },
  { query: "x".repeat(513) },
  { query: "nurse jobs", profile: { favourite_colour: "blue" } },
  { query: "nurse jobs", profile: { years_experience: "many" } },
];

const golden = readJsonl(GOLDEN);
const inputs = [...golden, ...BAD];
const failures = [];
const problems = [];
// How each mismatch differs, so a report can tell numeric drift from decisions.
const kinds = { identical: 0, confidenceOnly: 0, decision: 0 };
let maxConfidenceDrift = 0;

if (!readFileSync(MODEL).equals(readFileSync(path.join(ROOT, "www/models/quarry-q8_0.gguf")))) {
  throw new Error("www/models/quarry-q8_0.gguf differs from models/quarry-q8_0.gguf: run scripts/wasm/build.sh");
}

function runNative() {
  const stdin = inputs.map((i) => JSON.stringify(i)).join("\n") + "\n";
  const r = spawnSync(NATIVE, ["understand", "--jsonl", "--model", MODEL], {
    input: stdin, encoding: "utf8", maxBuffer: 64 << 20,
    env: { ...process.env, CANDLE_DEQUANTIZE_ALL: F32 ? "1" : "0" },
  });
  if (r.status !== 0) throw new Error(`native quarry failed (${r.status}): ${r.stderr}`);
  const lines = r.stdout.split("\n").filter((l) => l.trim()).map((l) => JSON.parse(l));
  if (lines.length !== inputs.length) throw new Error(`native gave ${lines.length} lines for ${inputs.length} inputs`);
  return lines;
}

/** Copies `posted_after` from native into the page's output when within 120 s. */
function alignClock(page, native) {
  if (!page || !native || !Array.isArray(page.tools) || !Array.isArray(native.tools)) return;
  page.tools.forEach((t, i) => {
    const n = native.tools[i];
    if (t.name === "date_posted_tool" && n && n.name === t.name
        && Number.isInteger(t.arguments.posted_after) && Number.isInteger(n.arguments.posted_after)
        && Math.abs(t.arguments.posted_after - n.arguments.posted_after) <= 120) {
      t.arguments.posted_after = n.arguments.posted_after;
    }
  });
}

/** Reads what the page renders, for checks beyond the JSON. */
async function rendered(page) {
  return page.evaluate(() => ({
    intent: document.getElementById("intent").textContent,
    chips: [...document.querySelectorAll("#tools .chip")].map((c) => c.className.split(" ")[1]),
    banner: document.getElementById("banner").hidden ? null : document.getElementById("banner").textContent,
    rewrite: document.getElementById("rewrite").hidden ? null : document.getElementById("rewrite").textContent,
    suggestions: [...document.querySelectorAll("#suggestions .chip")].map((c) => c.textContent),
    latency: document.getElementById("latency").textContent,
    events: window.quarryLastEvents,
  }));
}

function checkRendering(shown, out) {
  const bad = [];
  if (out.error) {
    if (shown.banner !== `${out.error.code}: ${out.error.message}`) bad.push(`error banner "${shown.banner}"`);
    return bad;
  }
  if (shown.intent !== out.intent.replaceAll("_", " ")) bad.push(`intent badge "${shown.intent}"`);
  if (!isDeepStrictEqual(shown.chips, out.tools.map((t) => t.name))) bad.push(`chips ${JSON.stringify(shown.chips)}`);
  if (out.denied ? shown.banner !== out.message : shown.banner !== null) bad.push(`trust banner "${shown.banner}"`);
  if (out.rewritten_query && !(shown.rewrite || "").includes(out.rewritten_query)) bad.push(`rewrite "${shown.rewrite}"`);
  if (!isDeepStrictEqual(shown.suggestions, out.suggested_industries)) bad.push(`suggestions ${JSON.stringify(shown.suggestions)}`);
  if (!/^\d+(\.\d)? ms$/.test(shown.latency)) bad.push(`latency "${shown.latency}"`);
  // The stream (spec, "Streaming"): intent first, the rewrite, each tool as
  // executed in output order, suggestions, then one done carrying the output.
  const ev = shown.events.filter((e) => e.event !== "error");
  const kinds = ev.map((e) => e.event);
  const want = ["intent", ...(kinds.includes("rewrite") ? ["rewrite"] : []), ...out.tools.map(() => "tool"),
    ...(kinds.includes("suggestions") ? ["suggestions"] : []), "done"];
  if (!isDeepStrictEqual(kinds, want)) bad.push(`event order ${JSON.stringify(kinds)}`);
  else {
    if (ev[0].data !== out.intent && !(out.denied && ev[0].data === "trust_violation")) bad.push(`intent event ${ev[0].data}`);
    const rw = ev.find((e) => e.event === "rewrite");
    if (rw && rw.data !== out.rewritten_query) bad.push(`rewrite event ${JSON.stringify(rw.data)}`);
    const tools = ev.filter((e) => e.event === "tool").map((e) => e.data);
    if (!isDeepStrictEqual(tools, out.tools)) bad.push("tool events differ from the output's tools");
    if (!isDeepStrictEqual(ev[ev.length - 1].data, out)) bad.push("done event differs from the output shown");
  }
  return bad;
}

const started = Date.now();
const server = await serveWww();
const browser = await launchChromium();
let exitCode = 0;
try {
  const { page, timings } = await openPage(browser, server.url + (F32 ? "?weights=f32" : ""), problems);
  console.log(`weights: ${F32 ? "F32 on both sides (dequantized at load)" : "Q8_0 as shipped"}`);
  console.log(`page: DOM interactive ${timings.domInteractiveMs.toFixed(0)} ms, model ready ${timings.modelReadyMs.toFixed(0)} ms after navigation (worker load ${timings.workerLoadMs.toFixed(0)} ms)`);
  await page.click("#profile-panel summary"); // the profile textarea must be visible to type into
  await page.uncheck("#live");                // one request per Enter keeps the test's ids simple

  // Native runs right before the page does, so the clocks stay close.
  const native = runNative();
  const latencies = [];
  for (const [i, input] of inputs.entries()) {
    await page.fill("#profile-json", input.profile ? JSON.stringify(input.profile, null, 2) : "");
    await page.fill("#query", "");
    if (i < 3) await page.type("#query", input.query); // a few through real key events
    else await page.fill("#query", input.query);
    await page.press("#query", "Enter");
    const id = await page.evaluate(() => document.body.dataset.requested);
    await page.waitForFunction((id) => {
      const pre = document.getElementById("output-json");
      return pre.dataset.seq === id && pre.dataset.state !== "running";
    }, id, { timeout: 30_000 });
    const shownJson = JSON.parse(await page.textContent("#output-json"));
    const shown = await rendered(page);
    const expected = native[i];
    if (expected.error) delete expected.line; // the CLI numbers its input lines
    const renderingProblems = checkRendering(shown, structuredClone(shownJson)); // before the clock is aligned
    alignClock(shownJson, expected);
    const label = `#${i + 1} ${JSON.stringify(input.query.slice(0, 60))}${input.profile ? ` [${input.profile.location || "profile"}]` : ""}`;
    const why = [];
    const same = isDeepStrictEqual(shownJson, expected);
    const sameButConfidence = !same && !expected.error && !shownJson.error
      && isDeepStrictEqual({ ...shownJson, confidence: 0 }, { ...expected, confidence: 0 });
    if (same) kinds.identical++;
    else if (sameButConfidence) {
      kinds.confidenceOnly++;
      maxConfidenceDrift = Math.max(maxConfidenceDrift, Math.abs(shownJson.confidence - expected.confidence));
    } else kinds.decision++;
    if (!same) why.push(`page JSON ${JSON.stringify(shownJson)}\n      native  ${JSON.stringify(expected)}`);
    why.push(...renderingProblems);
    if (why.length) failures.push(`${label}: ${why.join("; ")}`);
    else if (!expected.error) latencies.push(parseFloat(shown.latency));
    console.log(`${why.length ? "FAIL" : "ok  "} ${label} ${shown.latency}`);
    if (input.query === "hitman jobs") {
      await page.waitForTimeout(300);
      await page.screenshot({ path: path.join(ARTIFACTS, "denied.png"), fullPage: true });
    }
    if (input.profile && input.query === "restaurant jobs in naples") {
      await page.screenshot({ path: path.join(ARTIFACTS, `naples-${input.profile.location.includes("Italy") ? "italy" : "florida"}.png`), fullPage: true });
    }
  }
  // Live typing: each keystroke may start a query; the page must end up
  // showing the output for the whole text, not a stale prefix.
  await page.check("#live");
  await page.fill("#profile-json", "");
  await page.fill("#query", "");
  const typed = "registered nurse jobs in naples";
  await page.type("#query", typed, { delay: 25 });
  await page.waitForFunction((q) => {
    const pre = document.getElementById("output-json");
    return pre.dataset.state === "done" && pre.dataset.seq === document.body.dataset.requested
      && JSON.parse(pre.textContent).query === q;
  }, typed, { timeout: 30_000 }).catch(() => failures.push("live typing: the page never showed the typed query's output"));
  await page.uncheck("#live");

  // The page as a visitor would leave it: an Italian member's self-reference query.
  await page.click("text=Sous chef in Naples, Italy");
  await page.fill("#query", "senior rust engineer jobs in naples posted this week");
  await page.press("#query", "Enter");
  await page.waitForFunction(() => document.getElementById("output-json").dataset.state === "done"
    && document.getElementById("output-json").dataset.seq === document.body.dataset.requested);
  await page.waitForTimeout(500); // let the chips' entry animation finish
  await page.screenshot({ path: path.join(ARTIFACTS, "page.png"), fullPage: true });

  latencies.sort((a, b) => a - b);
  console.log(`\n${inputs.length - failures.length}/${inputs.length} inputs identical to native (${golden.length} golden, ${BAD.length} bad inputs)`);
  console.log(`outputs: ${kinds.identical} identical, ${kinds.confidenceOnly} differ only in confidence (max |Δ| ${maxConfidenceDrift.toFixed(4)}), ${kinds.decision} differ in intent/tools/rewrite/suggestions/errors`);
  console.log(`page-reported latency over ${latencies.length} queries: p50 ${percentile(latencies, 50)} ms, p95 ${percentile(latencies, 95)} ms`);
  console.log(`screenshots in ${ARTIFACTS}; total ${((Date.now() - started) / 1000).toFixed(1)} s`);
  writeFileSync(path.join(ARTIFACTS, `e2e-summary${F32 ? "-f32" : ""}.json`), JSON.stringify({ inputs: inputs.length, kinds, maxConfidenceDrift, failures, problems, timings }, null, 2));
} catch (e) {
  failures.push(`error: ${e.stack || e}`);
} finally {
  await browser.close();
  server.close();
}
for (const p of problems) console.error(`page problem: ${p}`);
if (failures.length || problems.length) {
  for (const f of failures) console.error(`FAIL ${f}`);
  exitCode = 1;
}
process.exit(exitCode);
