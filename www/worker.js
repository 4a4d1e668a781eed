// Quarry's inference worker (a module worker). The engine's calls are
// synchronous WebAssembly, so they run here, off the page's thread: typing
// and rendering never wait for the model. Streaming events are posted the
// moment the router emits them; the page renders them while we go on.
//
// Messages in:  {type: "load", modelUrl, dequantize}
//               {type: "understand", id, input}
// Messages out: {type: "ready", loadMs, fetchMs, initMs, modelBytes, style, version}
//               {type: "event", id, event}
//               {type: "result", id, output, ms, stats}
//               {type: "error", id, error: {name, code, message}}

import init, { Quarry, version } from "./pkg/quarry_browser.js";

let quarry = null;

function plainError(e) {
  return {
    name: (e && e.name) || "Error",
    code: (e && e.code) || "internal",
    message: (e && e.message) || String(e),
  };
}

async function load(modelUrl, dequantize) {
  const t0 = performance.now();
  const [, modelBytes] = await Promise.all([
    init(),
    fetch(modelUrl).then((r) => {
      if (!r.ok) throw new Error(`fetching ${modelUrl}: HTTP ${r.status}`);
      return r.arrayBuffer();
    }),
  ]);
  const t1 = performance.now();
  quarry = Quarry.load(new Uint8Array(modelBytes), undefined, undefined, dequantize);
  const t2 = performance.now();
  postMessage({
    type: "ready",
    fetchMs: t1 - t0,
    initMs: t2 - t1,
    loadMs: t2 - t0,
    modelBytes: modelBytes.byteLength,
    style: quarry.style,
    loadParts: quarry.loadTimings(),
    weights: dequantize ? "F32 (dequantized at load)" : "as stored",
    version: version(),
  });
}

async function understand(id, input) {
  const t0 = performance.now();
  try {
    const output = await quarry.understandStream(input, (event) => {
      postMessage({ type: "event", id, event });
    });
    const ms = performance.now() - t0;
    postMessage({ type: "result", id, output, ms, stats: quarry.lastStats() });
  } catch (e) {
    postMessage({ type: "error", id, error: plainError(e), ms: performance.now() - t0 });
  }
}

onmessage = async ({ data }) => {
  if (data.type === "load") {
    try {
      await load(data.modelUrl, Boolean(data.dequantize));
    } catch (e) {
      postMessage({ type: "error", id: null, error: plainError(e) });
    }
  } else if (data.type === "understand") {
    if (!quarry) {
      postMessage({ type: "error", id: data.id, error: { name: "Error", code: "not_ready", message: "the model is still loading" } });
      return;
    }
    await understand(data.id, data.input);
  }
};
