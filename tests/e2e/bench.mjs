// Browser benchmark: model load time and per-query latency of the demo page's
// engine in headless Chromium (the same worker the page uses).
//
//   node bench.mjs [--data tests/data/dev.jsonl] [--loads 3] [--limit N] [--weights f32]
// Rows may be inputs ({"query", "profile"?}) or labelled rows ({"input": …}).
import path from "node:path";
import { ROOT, launchChromium, openPage, percentile, readJsonl, serveWww } from "./lib.mjs";

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => {
  if (a.startsWith("--")) acc.push([a.slice(2), all[i + 1]]);
  return acc;
}, []));
const data = path.resolve(ROOT, args.data || "tests/data/dev.jsonl");
const loads = Number(args.loads || 3);
const rows = readJsonl(data).map((r) => r.input || r).slice(0, Number(args.limit || Infinity));

const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), mean };
};
const f = (x) => x.toFixed(1);

const server = await serveWww();
const browser = await launchChromium();
const problems = [];
try {
  // Load: each in a fresh context, so nothing comes from the HTTP cache.
  const loadRuns = [];
  let page;
  for (let i = 0; i < loads; i++) {
    const context = await browser.newContext();
    const opened = await openPage(context, server.url + (args.weights === "f32" ? "?weights=f32" : ""), problems);
    loadRuns.push(opened.timings);
    if (i < loads - 1) await context.close(); else page = opened.page;
  }
  const L = (k) => stats(loadRuns.map((t) => t[k]));
  console.log(`weights: ${args.weights === "f32" ? "F32 (dequantized at load)" : "as stored (Q8_0)"}`);
  console.log(`Chromium ${browser.version()}, ${loads} cold page loads (fresh context each), ms after navigation:`);
  console.log(`  page interactive (DOM + UI wired): p50 ${f(L("domInteractiveMs").p50)}  max ${f(Math.max(...loadRuns.map((t) => t.domInteractiveMs)))}`);
  console.log(`  model ready:                       p50 ${f(L("modelReadyMs").p50)}  max ${f(Math.max(...loadRuns.map((t) => t.modelReadyMs)))}`);
  console.log(`  in the worker: wasm compile + model fetch ${f(L("fetchMs").p50)}, Quarry.load ${f(L("initMs").p50)}, total ${f(L("workerLoadMs").p50)}`);
  const part = (k) => f(stats(loadRuns.map((t) => t.loadParts[k])).p50);
  console.log(`  Quarry.load parts: GGUF + tokenizer + grammar setup ${part("model")}, prefix caches ${part("warm_up")}, taxonomies ${part("taxonomy")}`);

  const run = (input) => page.evaluate(async (input) => {
    const t0 = performance.now();
    try {
      const r = await window.quarry.understand(input);
      return { ms: r.ms, rtt: performance.now() - t0, tokens: r.stats.generated_tokens };
    } catch (e) {
      return { error: e.message, ms: 0, rtt: performance.now() - t0, tokens: 0 };
    }
  }, input);
  for (const input of rows.slice(0, 5)) await run(input); // warm the JIT tiers
  const results = [];
  const t0 = Date.now();
  for (const input of rows) results.push(await run(input));
  const wall = (Date.now() - t0) / 1000;
  const ok = results.filter((r) => !r.error);
  const engine = stats(ok.map((r) => r.ms));
  const rtt = stats(ok.map((r) => r.rtt));
  const tokens = ok.reduce((a, r) => a + r.tokens, 0);
  console.log(`\n${ok.length} queries from ${path.relative(ROOT, data)} (${results.length - ok.length} rejected inputs), one worker:`);
  console.log(`  engine (in the worker):        p50 ${f(engine.p50)} ms  p95 ${f(engine.p95)} ms  p99 ${f(engine.p99)} ms  mean ${f(engine.mean)} ms`);
  console.log(`  round trip (page → worker → page): p50 ${f(rtt.p50)} ms  p95 ${f(rtt.p95)} ms`);
  console.log(`  ${f(results.length / wall)} queries/s, ${Math.round(tokens / ok.reduce((a, r) => a + r.ms / 1000, 0))} generated tokens/s`);
} finally {
  await browser.close();
  server.close();
}
for (const p of problems) console.error(`page problem: ${p}`);
process.exit(problems.length ? 1 : 0);
