# Runs the built worker (build/) in workerd, the Workers runtime, on
# 127.0.0.1:8787:  workerd serve wasm/worker/workerd.capnp
# The test suite writes its own copy of this file with other vars
# (tests/edge/edge_test.py).
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .quarry),
    # Outbound fetches (the origin) may go to loopback and private
    # addresses: the default "internet" service allows public ones only.
    (name = "outbound", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:8787", http = (), service = "main") ],
);

const quarry :Workerd.Worker = (
  modules = [
    (name = "index.js", esModule = embed "build/index.js"),
    (name = "index_bg.wasm", wasm = embed "build/index_bg.wasm"),
  ],
  compatibilityDate = "2025-11-01",
  globalOutbound = "outbound",
  bindings = [
    (name = "QUARRY_ORIGIN", text = "http://127.0.0.1:8080"),
    (name = "QUARRY_FALLBACK_THRESHOLD", text = "0.7"),
    (name = "QUARRY_EDGE_MAX_QUERY_TOKENS", text = "64"),
  ],
);
