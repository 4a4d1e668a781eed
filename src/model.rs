//! The Qwen2-architecture decoder, on candle.
//!
//! One definition serves every target (native, wasm, CUDA, Metal); training
//! is `transformers`' own `Qwen2ForCausalLM` (`training/train.py`), which
//! the parity test checks this module against. Weights come from Hugging
//! Face safetensors or from a llama.cpp-style GGUF file, quantized or not. The KV cache is an
//! explicit value rather than state hidden in the layers, so a task's fixed
//! prompt prefix can be computed once and cloned for every request.
//!
//! Layout follows `transformers`' `Qwen2ForCausalLM`: token embedding,
//! pre-norm blocks (RMSNorm → attention with q/k/v biases, grouped-query
//! heads and rotary positions → RMSNorm → SwiGLU MLP), final RMSNorm, and an
//! LM head that may be tied to the embedding.

use std::io::Cursor;

use candle_core::quantized::{gguf_file, QMatMul};
use candle_core::{DType, Device, Module, Tensor};
use candle_nn::{Init, VarBuilder};
use serde::{Deserialize, Serialize};

use crate::error::{QuarryError, Result};

/// Converts candle's errors into ours with context.
pub(crate) fn model_err(context: &str) -> impl Fn(candle_core::Error) -> QuarryError + '_ {
    move |e| QuarryError::Model(format!("{context}: {e}"))
}

/// The hyper-parameters, named as in a Hugging Face `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Config {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub intermediate_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub num_key_value_heads: usize,
    #[serde(default = "default_max_positions")]
    pub max_position_embeddings: usize,
    #[serde(default = "default_rope_theta")]
    pub rope_theta: f64,
    #[serde(default = "default_rms_norm_eps")]
    pub rms_norm_eps: f64,
    #[serde(default)]
    pub tie_word_embeddings: bool,
    /// transformers ≥ 5 nests the rope base here instead of `rope_theta`.
    #[serde(default, skip_serializing)]
    pub rope_parameters: Option<RopeParameters>,
    /// Scaled rope variants (YaRN, dynamic NTK) are not implemented.
    #[serde(default, skip_serializing)]
    pub rope_scaling: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RopeParameters {
    pub rope_theta: Option<f64>,
    #[serde(default)]
    pub rope_type: Option<String>,
}

fn default_max_positions() -> usize {
    32_768
}
fn default_rope_theta() -> f64 {
    1_000_000.0
}
fn default_rms_norm_eps() -> f64 {
    1e-6
}

impl Config {
    pub fn head_dim(&self) -> usize {
        self.hidden_size / self.num_attention_heads
    }

    /// Parses a Hugging Face `config.json`, taking the rope base from
    /// wherever this version of transformers wrote it.
    pub fn from_json(bytes: &[u8]) -> Result<Config> {
        let mut config: Config = serde_json::from_slice(bytes)
            .map_err(|e| QuarryError::Model(format!("config.json: {e}")))?;
        if let Some(params) = config.rope_parameters.take() {
            if let Some(kind) = params.rope_type.as_deref().filter(|k| *k != "default") {
                return Err(QuarryError::Model(format!(
                    "config: rope type `{kind}` is not supported"
                )));
            }
            if let Some(theta) = params.rope_theta {
                config.rope_theta = theta;
            }
        }
        if config.rope_scaling.as_ref().is_some_and(|v| !v.is_null()) {
            return Err(QuarryError::Model(
                "config: rope scaling is not supported".into(),
            ));
        }
        config.check()?;
        Ok(config)
    }

    /// Rejects shapes the layers cannot be built with.
    pub fn check(&self) -> Result<()> {
        let bad = |reason: String| Err(QuarryError::Model(format!("config: {reason}")));
        if self.num_attention_heads == 0 || self.num_key_value_heads == 0 {
            return bad("head counts must be positive".into());
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return bad(format!(
                "hidden_size {} is not divisible by {} heads",
                self.hidden_size, self.num_attention_heads
            ));
        }
        if !self
            .num_attention_heads
            .is_multiple_of(self.num_key_value_heads)
        {
            return bad("attention heads must be a multiple of key/value heads".into());
        }
        if !self.head_dim().is_multiple_of(2) {
            return bad("head dimension must be even for rotary positions".into());
        }
        if self.vocab_size == 0 || self.num_hidden_layers == 0 {
            return bad("vocab_size and num_hidden_layers must be positive".into());
        }
        Ok(())
    }

    /// Parameters, counting a tied head once.
    pub fn parameter_count(&self) -> usize {
        let (h, i, kv) = (
            self.hidden_size,
            self.intermediate_size,
            self.num_key_value_heads * self.head_dim(),
        );
        let attention = h * h + h + 2 * (h * kv + kv) + h * h;
        let layer = attention + 3 * h * i + 2 * h;
        let head = if self.tie_word_embeddings {
            0
        } else {
            self.vocab_size * h
        };
        self.vocab_size * h + self.num_hidden_layers * layer + h + head
    }
}

/// Where weights come from. Names are Hugging Face's; GGUF names are derived.
enum Weights<'a> {
    Hf(VarBuilder<'a>),
    Gguf {
        content: gguf_file::Content,
        reader: Cursor<&'a [u8]>,
        device: Device,
        /// Matrices dequantized to f32 at load instead of kept quantized.
        dequantize: bool,
    },
}

/// llama.cpp's name for a Hugging Face tensor name.
pub(crate) fn gguf_name(hf: &str) -> String {
    let hf = hf.strip_prefix("model.").unwrap_or(hf);
    let mapped = hf
        .replace("embed_tokens", "token_embd")
        .replace("layers.", "blk.")
        .replace("self_attn.q_proj", "attn_q")
        .replace("self_attn.k_proj", "attn_k")
        .replace("self_attn.v_proj", "attn_v")
        .replace("self_attn.o_proj", "attn_output")
        .replace("mlp.gate_proj", "ffn_gate")
        .replace("mlp.up_proj", "ffn_up")
        .replace("mlp.down_proj", "ffn_down")
        .replace("input_layernorm", "attn_norm")
        .replace("post_attention_layernorm", "ffn_norm");
    match mapped.as_str() {
        "norm.weight" => "output_norm.weight".into(),
        "lm_head.weight" => "output.weight".into(),
        _ => mapped,
    }
}

impl Weights<'_> {
    fn has(&self, name: &str) -> bool {
        match self {
            Weights::Hf(vb) => vb.contains_tensor(name),
            Weights::Gguf { content, .. } => content.tensor_infos.contains_key(&gguf_name(name)),
        }
    }

    /// A tensor in f32, of the given shape. `init` seeds it when the
    /// weights are fresh (a `VarMap` in tests); loaded files ignore it.
    fn tensor(&mut self, name: &str, shape: &[usize], init: Init) -> Result<Tensor> {
        match self {
            Weights::Hf(vb) => vb
                .get_with_hints(shape, name, init)
                .map_err(model_err(name)),
            Weights::Gguf {
                content,
                reader,
                device,
                ..
            } => {
                let (gname, qt) = read_gguf(content, reader, device, name, shape)?;
                qt.dequantize(device).map_err(model_err(&gname))
            }
        }
    }

    /// A weight matrix `[out, in]`, kept quantized when the file is.
    fn matrix(&mut self, name: &str, out_dim: usize, in_dim: usize) -> Result<QMatMul> {
        match self {
            Weights::Hf(_) => Ok(QMatMul::Tensor(self.tensor(
                name,
                &[out_dim, in_dim],
                INIT_MATRIX,
            )?)),
            Weights::Gguf {
                content,
                reader,
                device,
                dequantize,
            } => {
                let (gname, qt) = read_gguf(content, reader, device, name, &[out_dim, in_dim])?;
                if *dequantize {
                    let t = qt.dequantize(device).map_err(model_err(&gname))?;
                    Ok(QMatMul::Tensor(t))
                } else {
                    QMatMul::from_qtensor(qt).map_err(model_err(&gname))
                }
            }
        }
    }
}

/// Fresh matrices start as GPT-2/Qwen do: normal with standard deviation 0.02.
const INIT_MATRIX: Init = Init::Randn {
    mean: 0.0,
    stdev: 0.02,
};

/// Reads the GGUF tensor that stands for Hugging Face tensor `name`, which
/// must have `shape`.
fn read_gguf(
    content: &gguf_file::Content,
    reader: &mut Cursor<&[u8]>,
    device: &Device,
    name: &str,
    shape: &[usize],
) -> Result<(String, candle_core::quantized::QTensor)> {
    let gname = gguf_name(name);
    let qt = content
        .tensor(reader, &gname, device)
        .map_err(model_err(&gname))?;
    if qt.shape().dims() != shape {
        return Err(QuarryError::Model(format!(
            "{gname}: shape {:?}, expected {shape:?}",
            qt.shape().dims()
        )));
    }
    Ok((gname, qt))
}

/// A linear layer: a (possibly quantized) matrix and an optional bias.
#[derive(Debug, Clone)]
struct Linear {
    weight: QMatMul,
    bias: Option<Tensor>,
}

impl Linear {
    fn load(
        w: &mut Weights<'_>,
        name: &str,
        out_dim: usize,
        in_dim: usize,
        bias: bool,
    ) -> Result<Linear> {
        let weight = w.matrix(&format!("{name}.weight"), out_dim, in_dim)?;
        let bias = if bias {
            Some(w.tensor(&format!("{name}.bias"), &[out_dim], Init::Const(0.0))?)
        } else {
            None
        };
        Ok(Linear { weight, bias })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let y = project(&self.weight, x)?;
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

/// `x · wᵀ` over the last dimension. A plain f32 weight multiplies `x`
/// flattened to 2-D, one product for every row, where `QMatMul` would
/// broadcast the weight over the batch.
fn project(w: &QMatMul, x: &Tensor) -> candle_core::Result<Tensor> {
    match w {
        QMatMul::Tensor(weight) if x.rank() > 2 => {
            let dims = x.dims().to_vec();
            let Some((last, lead)) = dims.split_last() else {
                return w.forward(x);
            };
            let rows: usize = lead.iter().product();
            let y = x.reshape((rows, *last))?.matmul(&weight.t()?)?;
            let mut out = lead.to_vec();
            out.push(weight.dim(0)?);
            y.reshape(out)
        }
        _ => w.forward(x),
    }
}

#[derive(Debug, Clone)]
struct Block {
    q: Linear,
    k: Linear,
    v: Linear,
    o: Linear,
    gate: Linear,
    up: Linear,
    down: Linear,
    attn_norm: Tensor,
    mlp_norm: Tensor,
}

/// Keys and values of the positions seen so far, per layer.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    layers: Vec<Option<(Tensor, Tensor)>>,
    len: usize,
}

impl KvCache {
    pub fn new() -> KvCache {
        KvCache::default()
    }

    /// Positions cached.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

/// A Qwen2 model ready to run.
#[derive(Debug, Clone)]
pub struct Qwen2 {
    config: Config,
    embed: QMatMul,
    blocks: Vec<Block>,
    norm: Tensor,
    head: QMatMul,
    cos: Tensor,
    sin: Tensor,
    device: Device,
}

/// Positions the rotary tables cover; queries and prompts are far shorter.
const MAX_POSITIONS: usize = 4096;

impl Qwen2 {
    /// Builds from Hugging Face-named tensors (a safetensors checkpoint, or
    /// a `VarMap` in tests).
    pub fn from_var_builder(config: Config, vb: VarBuilder<'_>) -> Result<Qwen2> {
        let device = vb.device().clone();
        Qwen2::build(config, Weights::Hf(vb), device)
    }

    /// Loads safetensors files with a `config.json`.
    pub fn from_safetensors(
        config: Config,
        files: &[std::path::PathBuf],
        device: &Device,
    ) -> Result<Qwen2> {
        // SAFETY: the files are mapped read-only and not modified while loaded.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(files, DType::F32, device) }
            .map_err(model_err("safetensors"))?;
        Qwen2::from_var_builder(config, vb)
    }

    /// Loads safetensors bytes (wasm has no files).
    pub fn from_safetensors_bytes(config: Config, bytes: &[u8], device: &Device) -> Result<Qwen2> {
        let vb = VarBuilder::from_buffered_safetensors(bytes.to_vec(), DType::F32, device)
            .map_err(model_err("safetensors"))?;
        Qwen2::from_var_builder(config, vb)
    }

    /// Loads a GGUF file (F32/F16/Q8_0/Q4_K/Q4_0…) written for llama.cpp's
    /// `qwen2` architecture.
    pub fn from_gguf(bytes: &[u8], device: &Device) -> Result<Qwen2> {
        Qwen2::read_gguf(bytes, device, false)
    }

    /// Loads a GGUF file with every matrix dequantized to f32. Slower, but
    /// its arithmetic no longer depends on each device's quantized kernels,
    /// so two devices can be held to f32 tolerances (`quarry parity`).
    pub fn from_gguf_dequantized(bytes: &[u8], device: &Device) -> Result<Qwen2> {
        Qwen2::read_gguf(bytes, device, true)
    }

    fn read_gguf(bytes: &[u8], device: &Device, dequantize: bool) -> Result<Qwen2> {
        let mut reader = Cursor::new(bytes);
        let content = gguf_file::Content::read(&mut reader).map_err(model_err("gguf"))?;
        let config = gguf_config(&content)?;
        let weights = Weights::Gguf {
            content,
            reader,
            device: device.clone(),
            dequantize,
        };
        Qwen2::build(config, weights, device.clone())
    }

    fn build(config: Config, mut w: Weights<'_>, device: Device) -> Result<Qwen2> {
        config.check()?;
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let kv = config.num_key_value_heads * config.head_dim();
        // Quantized embedding tables stay quantized: rows are dequantized
        // as they are looked up.
        let embed = w.matrix("model.embed_tokens.weight", config.vocab_size, h)?;
        let mut blocks = Vec::with_capacity(config.num_hidden_layers);
        for layer in 0..config.num_hidden_layers {
            let p = format!("model.layers.{layer}");
            blocks.push(Block {
                q: Linear::load(&mut w, &format!("{p}.self_attn.q_proj"), h, h, true)?,
                k: Linear::load(&mut w, &format!("{p}.self_attn.k_proj"), kv, h, true)?,
                v: Linear::load(&mut w, &format!("{p}.self_attn.v_proj"), kv, h, true)?,
                o: Linear::load(&mut w, &format!("{p}.self_attn.o_proj"), h, h, false)?,
                gate: Linear::load(&mut w, &format!("{p}.mlp.gate_proj"), i, h, false)?,
                up: Linear::load(&mut w, &format!("{p}.mlp.up_proj"), i, h, false)?,
                down: Linear::load(&mut w, &format!("{p}.mlp.down_proj"), h, i, false)?,
                attn_norm: w.tensor(
                    &format!("{p}.input_layernorm.weight"),
                    &[h],
                    Init::Const(1.0),
                )?,
                mlp_norm: w.tensor(
                    &format!("{p}.post_attention_layernorm.weight"),
                    &[h],
                    Init::Const(1.0),
                )?,
            });
        }
        let norm = w.tensor("model.norm.weight", &[h], Init::Const(1.0))?;
        let head = if config.tie_word_embeddings || !w.has("lm_head.weight") {
            embed.clone()
        } else {
            w.matrix("lm_head.weight", config.vocab_size, h)?
        };
        let (cos, sin) = rotary_tables(&config, &device)?;
        Ok(Qwen2 {
            config,
            embed,
            blocks,
            norm,
            head,
            cos,
            sin,
            device,
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The most positions a sequence may hold (prompt and output).
    pub fn max_positions(&self) -> usize {
        self.cos.dim(0).unwrap_or(0)
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Logits for every position of `tokens` (`[batch, seq]`), appending
    /// their keys and values to `cache`. Returns `[batch, seq, vocab]`.
    pub fn forward(&self, tokens: &Tensor, cache: &mut KvCache) -> Result<Tensor> {
        self.forward_inner(tokens, cache, false)
            .map_err(model_err("forward"))
    }

    /// Logits of the last position only (`[batch, vocab]`): what decoding
    /// needs, without projecting every prompt position onto the vocabulary.
    pub fn forward_last(&self, tokens: &Tensor, cache: &mut KvCache) -> Result<Tensor> {
        self.forward_inner(tokens, cache, true)
            .map_err(model_err("forward"))
    }

    fn forward_inner(
        &self,
        tokens: &Tensor,
        cache: &mut KvCache,
        last_only: bool,
    ) -> candle_core::Result<Tensor> {
        let (batch, seq) = tokens.dims2()?;
        let offset = cache.len;
        if offset + seq > self.cos.dim(0)? {
            candle_core::bail!(
                "sequence of {} positions exceeds {MAX_POSITIONS}",
                offset + seq
            );
        }
        if cache.layers.len() != self.blocks.len() {
            cache.layers = vec![None; self.blocks.len()];
        }
        let mut x = self.embed.embedding(tokens)?;
        let cos = self.cos.narrow(0, offset, seq)?;
        let sin = self.sin.narrow(0, offset, seq)?;
        let mask = causal_mask(seq, offset, &self.device)?;
        for (block, layer_cache) in self.blocks.iter().zip(cache.layers.iter_mut()) {
            let residual = &x;
            let normed = self.rms_norm(&x, &block.attn_norm)?;
            let attended = self.attention(
                block,
                &normed,
                &cos,
                &sin,
                mask.as_ref(),
                layer_cache,
                batch,
                seq,
            )?;
            let x1 = (residual + attended)?;
            let normed = self.rms_norm(&x1, &block.mlp_norm)?;
            let gated = candle_nn::ops::silu(&block.gate.forward(&normed)?)?;
            let mlp = block.down.forward(&(gated * block.up.forward(&normed)?)?)?;
            x = (x1 + mlp)?;
        }
        cache.len += seq;
        let x = if last_only {
            x.narrow(1, seq - 1, 1)?
        } else {
            x
        };
        let x = self.rms_norm(&x, &self.norm)?;
        let logits = project(&self.head, &x)?;
        if last_only {
            logits.squeeze(1)
        } else {
            Ok(logits)
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn attention(
        &self,
        block: &Block,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        mask: Option<&Tensor>,
        cache: &mut Option<(Tensor, Tensor)>,
        batch: usize,
        seq: usize,
    ) -> candle_core::Result<Tensor> {
        let (q, k, v) = self.project(block, x, cos, sin, batch, seq)?;
        let (k, v) = append(cache, k, v)?;
        let out = self.attend(&q, &k, &v, mask)?;
        let hidden = self.config.hidden_size;
        block
            .o
            .forward(&out.transpose(1, 2)?.reshape((batch, seq, hidden))?)
    }

    /// Queries, keys and values `[batch, heads, seq, head_dim]`, rotated.
    fn project(
        &self,
        block: &Block,
        x: &Tensor,
        cos: &Tensor,
        sin: &Tensor,
        batch: usize,
        seq: usize,
    ) -> candle_core::Result<(Tensor, Tensor, Tensor)> {
        let c = &self.config;
        let split = |t: Tensor, n: usize| {
            t.reshape((batch, seq, n, c.head_dim()))?
                .transpose(1, 2)?
                .contiguous()
        };
        let q = split(block.q.forward(x)?, c.num_attention_heads)?;
        let k = split(block.k.forward(x)?, c.num_key_value_heads)?;
        let v = split(block.v.forward(x)?, c.num_key_value_heads)?;
        let rotate = |t: &Tensor| candle_nn::rotary_emb::rope(t, cos, sin);
        Ok((rotate(&q)?, rotate(&k)?, v))
    }

    /// Scaled dot-product attention over grouped key/value heads.
    fn attend(
        &self,
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        mask: Option<&Tensor>,
    ) -> candle_core::Result<Tensor> {
        let c = &self.config;
        let rep = c.num_attention_heads / c.num_key_value_heads;
        let (k, v) = (repeat_kv(k.clone(), rep)?, repeat_kv(v.clone(), rep)?);
        let scale = 1.0 / (c.head_dim() as f64).sqrt();
        let mut scores = (q.matmul(&k.t()?)? * scale)?;
        if let Some(mask) = mask {
            scores = scores.broadcast_add(mask)?;
        }
        candle_nn::ops::softmax_last_dim(&scores)?.matmul(&v)
    }

    /// One decoding step for many sequences at once: `tokens[i]` continues
    /// the sequence whose keys and values are in `caches[i]`. Returns
    /// `[batch, vocab]`, row `i` equal to what `forward_last` would give.
    pub fn forward_decode_batch(&self, tokens: &[u32], caches: &mut [KvCache]) -> Result<Tensor> {
        let segments: Vec<&[u32]> = tokens.iter().map(std::slice::from_ref).collect();
        self.forward_packed(&segments, caches)
    }

    /// One forward pass for many sequences that each add any number of
    /// tokens (a prompt to prefill, forced tokens, one free token):
    /// `segments[i]` continues the sequence in `caches[i]`. All new tokens
    /// are packed into one set of rows, so projections, MLPs and the LM head
    /// run as single products; attention runs per sequence over its own
    /// cache (causal within the segment). Returns `[batch, vocab]`, row `i`
    /// the logits after segment `i`'s last token, as `forward_last` gives.
    pub fn forward_packed(&self, segments: &[&[u32]], caches: &mut [KvCache]) -> Result<Tensor> {
        self.packed_inner(segments, caches)
            .map_err(model_err("batched forward"))
    }

    fn packed_inner(
        &self,
        segments: &[&[u32]],
        caches: &mut [KvCache],
    ) -> candle_core::Result<Tensor> {
        let batch = segments.len();
        if batch != caches.len() || batch == 0 {
            candle_core::bail!("{batch} segments for {} caches", caches.len());
        }
        if segments.iter().any(|s| s.is_empty()) {
            candle_core::bail!("an empty segment");
        }
        let mut positions: Vec<u32> = Vec::new();
        let mut ids: Vec<u32> = Vec::new();
        let mut last_rows: Vec<u32> = Vec::with_capacity(batch);
        for (segment, cache) in segments.iter().zip(caches.iter()) {
            positions.extend((cache.len..cache.len + segment.len()).map(|p| p as u32));
            ids.extend_from_slice(segment);
            last_rows.push(ids.len() as u32 - 1);
        }
        if positions
            .iter()
            .any(|&p| p as usize >= self.max_positions())
        {
            candle_core::bail!("a sequence exceeds {} positions", self.max_positions());
        }
        for cache in caches.iter_mut() {
            if cache.layers.len() != self.blocks.len() {
                cache.layers = vec![None; self.blocks.len()];
            }
        }
        // Every new token is a row of its own: `[rows, 1, hidden]`.
        let rows = ids.len();
        let positions = Tensor::new(positions.as_slice(), &self.device)?;
        let cos = self.cos.index_select(&positions, 0)?.unsqueeze(1)?;
        let sin = self.sin.index_select(&positions, 0)?.unsqueeze(1)?;
        let ids = Tensor::new(ids.as_slice(), &self.device)?.unsqueeze(1)?;
        let mut x = self.embed.embedding(&ids)?;
        let hidden = self.config.hidden_size;
        // `[len, heads, 1, d]` rows of one segment as `[1, heads, len, d]`.
        let gather = |t: &Tensor, start: usize, len: usize| {
            t.narrow(0, start, len)?.transpose(0, 2)?.contiguous()
        };
        for (layer, block) in self.blocks.iter().enumerate() {
            let normed = self.rms_norm(&x, &block.attn_norm)?;
            let (q, k, v) = self.project(block, &normed, &cos, &sin, rows, 1)?;
            let mut outs = Vec::with_capacity(batch);
            let mut start = 0;
            for (segment, cache) in segments.iter().zip(caches.iter_mut()) {
                let len = segment.len();
                let mask = causal_mask(len, cache.len, &self.device)?;
                let (k, v) = append(
                    &mut cache.layers[layer],
                    gather(&k, start, len)?,
                    gather(&v, start, len)?,
                )?;
                let out = self.attend(&gather(&q, start, len)?, &k, &v, mask.as_ref())?;
                outs.push(out.transpose(0, 2)?);
                start += len;
            }
            let attended = Tensor::cat(&outs, 0)?
                .transpose(1, 2)?
                .reshape((rows, 1, hidden))?;
            let x1 = (&x + block.o.forward(&attended)?)?;
            let normed = self.rms_norm(&x1, &block.mlp_norm)?;
            let gated = candle_nn::ops::silu(&block.gate.forward(&normed)?)?;
            x = (&x1 + block.down.forward(&(gated * block.up.forward(&normed)?)?)?)?;
        }
        for (segment, cache) in segments.iter().zip(caches.iter_mut()) {
            cache.len += segment.len();
        }
        let last_rows = Tensor::new(last_rows.as_slice(), &self.device)?;
        let x = self.rms_norm(&x.index_select(&last_rows, 0)?, &self.norm)?;
        project(&self.head, &x)?.squeeze(1)
    }

    fn rms_norm(&self, x: &Tensor, weight: &Tensor) -> candle_core::Result<Tensor> {
        candle_nn::ops::rms_norm(x, weight, self.config.rms_norm_eps as f32)
    }
}

/// Appends this step's keys and values to a layer's cache; returns all.
fn append(
    cache: &mut Option<(Tensor, Tensor)>,
    k: Tensor,
    v: Tensor,
) -> candle_core::Result<(Tensor, Tensor)> {
    let (k, v) = match cache.take() {
        Some((pk, pv)) => (Tensor::cat(&[&pk, &k], 2)?, Tensor::cat(&[&pv, &v], 2)?),
        None => (k, v),
    };
    *cache = Some((k.clone(), v.clone()));
    Ok((k, v))
}

/// `[heads/rep … ]` → `[heads …]`: each key/value head serves `rep` queries.
fn repeat_kv(x: Tensor, rep: usize) -> candle_core::Result<Tensor> {
    if rep == 1 {
        return Ok(x);
    }
    let (b, kv, s, d) = x.dims4()?;
    x.unsqueeze(2)?
        .expand((b, kv, rep, s, d))?
        .reshape((b, kv * rep, s, d))
}

/// Additive mask letting query `i` (at absolute position `offset + i`) see
/// keys `0..=offset + i`; none is needed for a single query.
fn causal_mask(seq: usize, offset: usize, device: &Device) -> candle_core::Result<Option<Tensor>> {
    if seq == 1 {
        return Ok(None);
    }
    let total = offset + seq;
    let values: Vec<f32> = (0..seq)
        .flat_map(|i| {
            (0..total).map(move |j| {
                if j <= offset + i {
                    0.0
                } else {
                    f32::NEG_INFINITY
                }
            })
        })
        .collect();
    Tensor::from_vec(values, (seq, total), device).map(Some)
}

/// cos/sin tables for rotary positions, as `transformers` computes them.
fn rotary_tables(config: &Config, device: &Device) -> Result<(Tensor, Tensor)> {
    let half = config.head_dim() / 2;
    let positions = config.max_position_embeddings.min(MAX_POSITIONS);
    let inv_freq: Vec<f32> = (0..half)
        .map(|i| {
            1.0 / config
                .rope_theta
                .powf(2.0 * i as f64 / config.head_dim() as f64) as f32
        })
        .collect();
    let build = || -> candle_core::Result<(Tensor, Tensor)> {
        let inv_freq = Tensor::from_vec(inv_freq, (1, half), device)?;
        let t = Tensor::arange(0u32, positions as u32, device)?
            .to_dtype(DType::F32)?
            .reshape((positions, 1))?;
        let freqs = t.broadcast_mul(&inv_freq)?;
        Ok((freqs.cos()?, freqs.sin()?))
    };
    build().map_err(model_err("rotary tables"))
}

/// Reads the hyper-parameters of a `qwen2` GGUF file.
fn gguf_config(content: &gguf_file::Content) -> Result<Config> {
    let arch = content
        .metadata
        .get("general.architecture")
        .and_then(|v| v.to_string().ok())
        .cloned()
        .unwrap_or_default();
    if arch != "qwen2" {
        return Err(QuarryError::Model(format!(
            "gguf architecture `{arch}` is not qwen2"
        )));
    }
    let get = |key: &str| {
        content
            .metadata
            .get(&format!("qwen2.{key}"))
            .ok_or_else(|| QuarryError::Model(format!("gguf lacks qwen2.{key}")))
    };
    let int = |key: &str| -> Result<usize> {
        get(key)?
            .to_u32()
            .map(|v| v as usize)
            .map_err(model_err(key))
    };
    let float =
        |key: &str| -> Result<f64> { get(key)?.to_f32().map(f64::from).map_err(model_err(key)) };
    let embedding = content
        .tensor_infos
        .get("token_embd.weight")
        .ok_or_else(|| QuarryError::Model("gguf lacks token_embd.weight".into()))?;
    let vocab_size = embedding.shape.dims()[0];
    Ok(Config {
        vocab_size,
        hidden_size: int("embedding_length")?,
        intermediate_size: int("feed_forward_length")?,
        num_hidden_layers: int("block_count")?,
        num_attention_heads: int("attention.head_count")?,
        num_key_value_heads: int("attention.head_count_kv")?,
        max_position_embeddings: int("context_length").unwrap_or(32_768),
        rope_theta: float("rope.freq_base").unwrap_or(1_000_000.0),
        rms_norm_eps: float("attention.layer_norm_rms_epsilon").unwrap_or(1e-6),
        tie_word_embeddings: !content.tensor_infos.contains_key("output.weight"),
        rope_parameters: None,
        rope_scaling: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = r#""vocab_size": 10, "hidden_size": 8, "intermediate_size": 16,
        "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1"#;

    #[test]
    fn the_rope_base_is_read_where_transformers_writes_it() {
        let old =
            Config::from_json(format!("{{{BASE}, \"rope_theta\": 10000.0}}").as_bytes()).unwrap();
        assert_eq!(old.rope_theta, 10_000.0);
        let new = format!("{{{BASE}, \"rope_parameters\": {{\"rope_theta\": 5000.0, \"rope_type\": \"default\"}}}}");
        assert_eq!(
            Config::from_json(new.as_bytes()).unwrap().rope_theta,
            5_000.0
        );
        let yarn = format!(
            "{{{BASE}, \"rope_parameters\": {{\"rope_theta\": 5000.0, \"rope_type\": \"yarn\"}}}}"
        );
        assert!(Config::from_json(yarn.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("yarn"));
        let scaled = format!("{{{BASE}, \"rope_scaling\": {{\"type\": \"dynamic\"}}}}");
        assert!(Config::from_json(scaled.as_bytes()).is_err());
    }

    fn random_model() -> Qwen2 {
        let config = Config::from_json(
            format!("{{{BASE}, \"tie_word_embeddings\": true}}")
                .replace("\"hidden_size\": 8", "\"hidden_size\": 16")
                .as_bytes(),
        )
        .unwrap();
        let varmap = candle_nn::VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let model = Qwen2::from_var_builder(config, vb).unwrap();
        for var in varmap.all_vars() {
            var.set(&Tensor::randn(0f32, 0.5, var.shape(), &Device::Cpu).unwrap())
                .unwrap();
        }
        model
    }

    /// `forward_last` of `tokens` on `cache`, as `[vocab]`.
    fn last_logits(model: &Qwen2, tokens: &[u32], cache: &mut KvCache) -> Tensor {
        let t = Tensor::new(tokens, &Device::Cpu)
            .unwrap()
            .unsqueeze(0)
            .unwrap();
        model.forward_last(&t, cache).unwrap().squeeze(0).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap()
    }

    #[test]
    fn batched_decoding_equals_one_sequence_at_a_time() {
        let model = random_model();
        let prompts: [&[u32]; 3] = [&[1, 2, 3], &[4, 5, 6, 7, 8], &[9]];
        let mut caches = Vec::new();
        for prompt in prompts {
            let mut cache = KvCache::new();
            last_logits(&model, prompt, &mut cache);
            caches.push(cache);
        }
        let mut single = caches.clone();
        let next = [3u32, 7, 1];
        for _ in 0..3 {
            let batched = model.forward_decode_batch(&next, &mut caches).unwrap();
            for (i, cache) in single.iter_mut().enumerate() {
                let one = last_logits(&model, &[next[i]], cache);
                assert!(max_diff(&batched.get(i).unwrap(), &one) < 1e-5);
                assert_eq!(caches[i].len(), cache.len());
            }
        }
    }

    #[test]
    fn packed_segments_of_any_length_equal_separate_forwards() {
        let model = random_model();
        // A fresh prompt, a forced run on a cache, one token on a cache.
        let starts: [&[u32]; 3] = [&[], &[4, 5, 6], &[9, 2]];
        let segments: [&[u32]; 3] = [&[1, 2, 3, 4], &[7, 8, 1], &[3]];
        let mut caches = Vec::new();
        for start in starts {
            let mut cache = KvCache::new();
            if !start.is_empty() {
                last_logits(&model, start, &mut cache);
            }
            caches.push(cache);
        }
        let mut single = caches.clone();
        let packed = model.forward_packed(&segments, &mut caches).unwrap();
        for (i, cache) in single.iter_mut().enumerate() {
            let one = last_logits(&model, segments[i], cache);
            assert!(
                max_diff(&packed.get(i).unwrap(), &one) < 1e-5,
                "segment {i}"
            );
            assert_eq!(caches[i].len(), cache.len());
        }
        assert!(model.forward_packed(&[&[]], &mut [KvCache::new()]).is_err());
    }

    #[test]
    fn impossible_shapes_are_rejected() {
        let odd = r#"{"vocab_size": 10, "hidden_size": 9, "intermediate_size": 16,
            "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1}"#;
        assert!(Config::from_json(odd.as_bytes())
            .unwrap_err()
            .to_string()
            .contains("divisible"));
        assert!(Config::from_json(b"{").is_err());
    }
}
