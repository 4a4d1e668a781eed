// Compares the browser module's logits with native for the same prompts,
// with the shipped Q8_0 weights and with the same weights dequantized to F32:
// (native F32: candle's CANDLE_DEQUANTIZE_ALL=1; wasm F32: Quarry.load's
// `dequantize` argument).
//   node compare.mjs PKG_DIR NATIVE_BIN MODEL QUERY...
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const [pkg, native, model, ...queries] = process.argv.slice(2);
const { Quarry } = createRequire(import.meta.url)(path.resolve(pkg, "quarry_browser.js"));
const gguf = readFileSync(model);
const q8 = Quarry.load(gguf);
const f32 = Quarry.load(gguf, undefined, undefined, true);
const run = (env) => execFileSync(native, [model, ...queries], { maxBuffer: 1 << 28, encoding: "utf8", env: { ...process.env, ...env } })
  .trim().split("\n").map((l) => JSON.parse(l));
const top = (v) => [...v].map((x, i) => [x, i]).sort((a, b) => b[0] - a[0]).slice(0, 3)
  .map(([x, i]) => `${i}:${x.toFixed(4)}`).join(" ");
for (const [label, nativeLogits, wasmLogits] of [
  ["Q8_0 (shipped)", run({ CANDLE_DEQUANTIZE_ALL: "0" }), (q) => q8.probeTaggerLogits(q)],
  ["F32 (dequantized at load)", run({ CANDLE_DEQUANTIZE_ALL: "1" }), (q) => f32.probeTaggerLogits(q)],
]) {
  console.log(`== ${label}`);
  queries.forEach((q, k) => {
    const w = wasmLogits(q);
    const n = nativeLogits[k];
    let maxd = 0, same = 0;
    n.forEach((x, i) => { maxd = Math.max(maxd, Math.abs(w[i] - x)); if (Math.fround(x) === w[i]) same++; });
    console.log(`${JSON.stringify(q)}: max |Δlogit| ${maxd.toExponential(2)}, ${same}/${n.length} logits bit-identical`);
    console.log(`  top-3 native ${top(n)}\n  top-3 wasm   ${top(w)}`);
  });
}
