//! Quarry in the browser: the core engine (same router, prompts, constrained
//! decoder, stream parser, tools and trust screen as native) behind one
//! wasm-bindgen class.
//!
//! ```js
//! import init, { Quarry } from "./pkg/quarry_browser.js";
//! await init();
//! const quarry = Quarry.load(modelBytes);            // Uint8Array of a GGUF
//! const out = await quarry.understand({ query: "nurse jobs in naples" });
//! await quarry.understandStream("rust jobs", (event) => console.log(event));
//! ```
//!
//! Inputs go through `JSON.stringify` and [`Input::from_json`], so a page gets
//! exactly the validation (and error messages) of the native CLI and server.
//! Errors are JS `Error`s whose `name` is `QuarryError` and whose `code` is
//! [`QuarryError::code`].

use std::ops::ControlFlow;

use js_sys::{Function, Promise, Reflect};
use quarry::contract::{Event, Input};
use quarry::engine::Engine;
use quarry::generator::GenerationStats;
use quarry::prompt::Style;
use quarry::{QuarryError, Router, Taxonomy};
use serde::Serialize;
use wasm_bindgen::prelude::*;

mod dequantized;

/// A loaded model with its prefix caches computed, ready to understand
/// queries. One instance serves one query at a time (JS is single-threaded;
/// a re-entrant call from an event callback is refused by wasm-bindgen).
#[wasm_bindgen]
pub struct Quarry {
    engine: Engine,
    router: Router<'static>,
    last: GenerationStats,
    load_ms: [f64; 3],
}

#[wasm_bindgen]
impl Quarry {
    /// Loads a GGUF model (its embedded tokenizer unless `tokenizer_bytes`,
    /// a `tokenizer.json`, is given), parses the embedded taxonomies and
    /// computes every task's prompt-prefix cache, so the first query pays
    /// nothing extra. `style` is `"compact"` or `"instruct"`; default: what
    /// the model declares. `dequantize` loads every weight matrix as F32
    /// (4x the memory; matches a native run with `CANDLE_DEQUANTIZE_ALL=1`
    /// to ~1e-6 in the logits, see wasm/README.md). Throws a `QuarryError`
    /// for a corrupt file.
    pub fn load(
        model_bytes: &[u8],
        tokenizer_bytes: Option<Vec<u8>>,
        style: Option<String>,
        dequantize: Option<bool>,
    ) -> Result<Quarry, JsValue> {
        let style = match style.as_deref() {
            None => None,
            Some("compact") => Some(Style::Compact),
            Some("instruct") => Some(Style::Instruct),
            Some(other) => {
                return Err(js_error(
                    "invalid_input",
                    &format!("unknown style `{other}` (compact or instruct)"),
                ))
            }
        };
        let t0 = js_sys::Date::now();
        let mut engine = Engine::from_gguf(
            model_bytes,
            tokenizer_bytes.as_deref(),
            style,
            &candle_core::Device::Cpu,
        )
        .map_err(quarry_error)?;
        if dequantize.unwrap_or(false) {
            let model = dequantized::model(model_bytes, engine.model().config().clone())
                .map_err(|e| js_error("model", &format!("model: {e}")))?;
            let (tokenizer, style) = (engine.tokenizer().clone(), engine.style());
            engine = Engine::new(model, tokenizer, style).map_err(quarry_error)?;
        }
        let t1 = js_sys::Date::now();
        engine.warm_up().map_err(quarry_error)?;
        let t2 = js_sys::Date::now();
        let router = Router::new(Taxonomy::embedded(), engine.style());
        let t3 = js_sys::Date::now();
        Ok(Quarry {
            engine,
            router,
            last: GenerationStats::default(),
            load_ms: [t1 - t0, t2 - t1, t3 - t2],
        })
    }

    /// The prompt style in use: `"compact"` or `"instruct"`.
    #[wasm_bindgen(getter)]
    pub fn style(&self) -> String {
        match self.engine.style() {
            Style::Compact => "compact",
            Style::Instruct => "instruct",
        }
        .to_string()
    }

    /// Understands one input — `{query, profile?}` or a bare query string —
    /// and resolves to the contract's output object. Rejects with a
    /// `QuarryError` for invalid input.
    pub fn understand(&mut self, input: JsValue) -> Promise {
        settle(self.run(&input, None))
    }

    /// Like `understand`, calling `onEvent(event)` for each streaming event
    /// (`{event: "intent" | "rewrite" | "tool" | "suggestions" | "error" |
    /// "done", data}`) the moment it is final. If `onEvent` throws or
    /// returns `false`, the model stops and the promise rejects with code
    /// `cancelled`.
    #[wasm_bindgen(js_name = understandStream)]
    pub fn understand_stream(&mut self, input: JsValue, on_event: Function) -> Promise {
        settle(self.run(&input, Some(&on_event)))
    }

    /// Where `load` spent its time, in ms: `{model, warm_up, taxonomy}`
    /// (parsing the GGUF and building the decoder; the per-task prefix
    /// caches; parsing and indexing the embedded taxonomies).
    #[wasm_bindgen(js_name = loadTimings)]
    pub fn load_timings(&self) -> Result<JsValue, JsValue> {
        let [model, warm_up, taxonomy] = self.load_ms;
        to_js(&serde_json::json!({"model": model, "warm_up": warm_up, "taxonomy": taxonomy}))
    }

    /// Counts behind the last query: `{prompt_tokens, generated_tokens,
    /// forced_tokens, free_tokens}` (for the demo page and benchmarks).
    #[wasm_bindgen(js_name = lastStats)]
    pub fn last_stats(&self) -> Result<JsValue, JsValue> {
        let s = &self.last;
        to_js(&serde_json::json!({
            "prompt_tokens": s.prompt_tokens,
            "generated_tokens": s.generated_tokens,
            "forced_tokens": s.forced_tokens,
            "free_tokens": s.free_tokens(),
        }))
    }
}

impl Quarry {
    fn run(&mut self, input: &JsValue, on_event: Option<&Function>) -> Result<JsValue, JsValue> {
        let input = parse_input(input)?;
        let now = (js_sys::Date::now() / 1000.0).floor() as i64;
        // A callback's exception is kept and rethrown after the router has
        // stopped, so the page sees its own error rather than "cancelled".
        let mut thrown: Option<JsValue> = None;
        let mut sink = |event: &Event| -> ControlFlow<()> {
            let Some(callback) = on_event else {
                return ControlFlow::Continue(());
            };
            let value = match to_js(event) {
                Ok(value) => value,
                Err(e) => {
                    thrown = Some(e);
                    return ControlFlow::Break(());
                }
            };
            match callback.call1(&JsValue::NULL, &value) {
                Ok(answer) if answer == JsValue::FALSE => ControlFlow::Break(()),
                Ok(_) => ControlFlow::Continue(()),
                Err(e) => {
                    thrown = Some(e);
                    ControlFlow::Break(())
                }
            }
        };
        let routed = self
            .router
            .understand(&mut self.engine, &input, now, &mut sink);
        if let Some(e) = thrown {
            return Err(e);
        }
        let routed = routed.map_err(quarry_error)?;
        self.last = routed.stats;
        to_js(&routed.output)
    }
}

/// A JS value as an [`Input`]: a string is a bare query; anything else goes
/// through `JSON.stringify` and the core's own parser and validation.
fn parse_input(value: &JsValue) -> Result<Input, JsValue> {
    if let Some(query) = value.as_string() {
        return Input::query(query).validated().map_err(quarry_error);
    }
    let json = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .ok_or_else(|| {
            quarry_error(QuarryError::MalformedRequest(
                "input must be a string or a JSON object {query, profile?}".into(),
            ))
        })?;
    Input::from_json(json.as_bytes()).map_err(quarry_error)
}

/// Serializes to plain JS objects (not `Map`s), as `JSON.parse` of the
/// native output would give.
fn to_js<T: Serialize + ?Sized>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| js_error("generation", &format!("serializing output: {e}")))
}

fn settle(result: Result<JsValue, JsValue>) -> Promise {
    match result {
        Ok(value) => Promise::resolve(&value),
        Err(error) => Promise::reject(&error),
    }
}

fn quarry_error(error: QuarryError) -> JsValue {
    js_error(error.code(), &error.to_string())
}

/// `new Error(message)` with `name = "QuarryError"` and `code` set.
fn js_error(code: &str, message: &str) -> JsValue {
    let error = js_sys::Error::new(message);
    error.set_name("QuarryError");
    // Setting a property on a fresh Error object cannot fail.
    let _ = Reflect::set(&error, &JsValue::from_str("code"), &JsValue::from_str(code));
    error.into()
}

/// The crate version, for the page's footer.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

#[cfg(feature = "probe")]
#[wasm_bindgen]
impl Quarry {
    /// The tagger prompt's last-position logits for `query` (diagnostics:
    /// native and wasm kernels round differently; this measures by how much).
    #[wasm_bindgen(js_name = probeTaggerLogits)]
    pub fn probe_tagger_logits(&self, query: &str) -> Result<Vec<f32>, JsValue> {
        let prompt = quarry::prompt::tagger(query, self.engine.style());
        let (ids, _) = self
            .engine
            .tokenizer()
            .encode_prompt(&prompt)
            .map_err(quarry_error)?;
        let err = |e: candle_core::Error| js_error("generation", &e.to_string());
        let tokens = candle_core::Tensor::new(ids.as_slice(), &candle_core::Device::Cpu)
            .and_then(|t| t.unsqueeze(0))
            .map_err(err)?;
        let mut cache = quarry::model::KvCache::new();
        let logits = self
            .engine
            .model()
            .forward_last(&tokens, &mut cache)
            .map_err(quarry_error)?;
        logits.flatten_all().and_then(|l| l.to_vec1()).map_err(err)
    }
}
