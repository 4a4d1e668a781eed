// The browser module's JS API, outside any page: errors are `QuarryError`s
// with the core's codes, callbacks can stop the model, outputs are plain
// objects. Runs the same www/pkg/ build the page loads (node has WebAssembly
// with SIMD128 too).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { ROOT } from "./lib.mjs";

const pkg = path.join(ROOT, "www/pkg");
const { default: init, Quarry, version } = await import(path.join(pkg, "quarry_browser.js"));
await init({ module_or_path: readFileSync(path.join(pkg, "quarry_browser_bg.wasm")) });
const model = readFileSync(path.join(ROOT, "models/quarry-q8_0.gguf"));
let passed = 0;
async function check(name, body) {
  await body();
  passed++;
  console.log(`ok   ${name}`);
}
async function rejects(promiseOrFn, code, message) {
  let error;
  try {
    await (typeof promiseOrFn === "function" ? promiseOrFn() : promiseOrFn);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof Error, `expected an Error with code ${code}`);
  assert.equal(error.code, code, error.message);
  if (message) assert.match(error.message, message);
  return error;
}

await check("corrupt model bytes: QuarryError code model", async () => {
  const e = await rejects(() => Quarry.load(new Uint8Array([1, 2, 3, 4])), "model");
  assert.equal(e.name, "QuarryError");
  await rejects(() => Quarry.load(model.subarray(0, model.length >> 1)), "model");
});
await check("unknown prompt style: invalid_input", async () => {
  await rejects(() => Quarry.load(model, undefined, "chatty"), "invalid_input", /unknown style `chatty`/);
});

const quarry = Quarry.load(model);
assert.match(version(), /^\d+\.\d+\.\d+$/);
assert.equal(quarry.style, "compact");

await check("understand resolves a plain contract object", async () => {
  const out = await quarry.understand({ query: "  nurse jobs in naples ", profile: { location: "Naples, Campania, Italy" } });
  assert.equal(Object.getPrototypeOf(out), Object.prototype);
  assert.equal(out.query, "nurse jobs in naples");
  assert.ok(["criteria_search", "self_reference", "non_job", "trust_violation"].includes(out.intent));
  assert.ok(Array.isArray(out.tools) && Array.isArray(out.suggested_industries));
  for (const t of out.tools) assert.equal(Object.getPrototypeOf(t.arguments), Object.prototype);
  const stats = quarry.lastStats();
  assert.ok(stats.generated_tokens > 0 && stats.forced_tokens <= stats.generated_tokens);
  const load = quarry.loadTimings();
  assert.ok(load.model >= 0 && load.warm_up >= 0 && load.taxonomy >= 0);
});
await check("a bare string is a query", async () => {
  const out = await quarry.understand("how to kill my boss");
  assert.equal(out.denied, true);
  assert.equal(out.message, "This search query may violate our Professional Community Policies. Edit your search to try again");
  assert.deepEqual(out.tools, []);
});
await check("bad inputs reject with the core's codes and messages", async () => {
  await rejects(quarry.understand("   "), "invalid_input", /invalid `query`: must not be empty/);
  await rejects(quarry.understand({ query: "é".repeat(257) }), "invalid_input", /exceeds the limit of 512/);
  await rejects(quarry.understand({ query: "nurse", profile: { age: 30 } }), "malformed_request", /unknown field `age`/);
  await rejects(quarry.understand({ query: "nurse", profile: { years_experience: -1 } }), "malformed_request");
  await rejects(quarry.understand({ profile: {} }), "malformed_request", /missing field `query`/);
  await rejects(quarry.understand(42), "malformed_request");
  await rejects(quarry.understand(undefined), "malformed_request");
  await rejects(quarry.understand({ query: "bad\u0007bell" }), "invalid_input", /control characters/);
});
await check("understandStream: intent first, done last, done carries the output", async () => {
  const events = [];
  const out = await quarry.understandStream({ query: "remote rust jobs posted today" }, (e) => { events.push(e); });
  assert.equal(events[0].event, "intent");
  assert.equal(events.at(-1).event, "done");
  assert.deepEqual(events.at(-1).data, out);
  assert.deepEqual(events.filter((e) => e.event === "tool").map((e) => e.data), out.tools);
});
await check("returning false from onEvent stops the model: cancelled", async () => {
  let calls = 0;
  await rejects(quarry.understandStream("data scientist jobs in berlin", () => { calls++; return false; }), "cancelled");
  assert.equal(calls, 1);
});
await check("an exception in onEvent stops the model and is rethrown as is", async () => {
  const mine = new TypeError("listener broke");
  let error;
  try { await quarry.understandStream("data scientist jobs", () => { throw mine; }); } catch (e) { error = e; }
  assert.equal(error, mine);
});
await check("the instance still works after errors and cancellations", async () => {
  const a = await quarry.understand({ query: "barista jobs" });
  const b = await quarry.understand({ query: "barista jobs" });
  assert.deepEqual(a, b); // greedy decoding is deterministic
});
console.log(`${passed} API checks passed`);
