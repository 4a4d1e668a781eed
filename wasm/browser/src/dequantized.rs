//! The model with every weight matrix dequantized to F32 at load: what
//! native candle does under `CANDLE_DEQUANTIZE_ALL=1`. Q8_0 matmuls
//! re-quantize activations to int8, which turns the targets' last-bit
//! rounding differences into ~1e-2 logit differences; F32 keeps them ~1e-6,
//! so the browser can match a native run that uses F32 too.
use std::collections::HashMap;
use std::io::Cursor;

use candle_core::quantized::gguf_file;
use candle_core::{DType, Device, Error, Result};
use candle_nn::VarBuilder;
use quarry::model::{Config, Qwen2};

/// Hugging Face name for a llama.cpp `qwen2` tensor name (the inverse of
/// the core's GGUF naming).
fn hf_name(gguf: &str) -> String {
    match gguf {
        "token_embd.weight" => return "model.embed_tokens.weight".into(),
        "output_norm.weight" => return "model.norm.weight".into(),
        "output.weight" => return "lm_head.weight".into(),
        _ => {}
    }
    let mapped = gguf
        .replace("blk.", "layers.")
        .replace("attn_output", "self_attn.o_proj")
        .replace("attn_norm", "input_layernorm")
        .replace("attn_q", "self_attn.q_proj")
        .replace("attn_k", "self_attn.k_proj")
        .replace("attn_v", "self_attn.v_proj")
        .replace("ffn_gate", "mlp.gate_proj")
        .replace("ffn_up", "mlp.up_proj")
        .replace("ffn_down", "mlp.down_proj")
        .replace("ffn_norm", "post_attention_layernorm");
    format!("model.{mapped}")
}

/// Reads every tensor of a GGUF file, dequantized, into a [`Qwen2`] with
/// `config` (the one the quantized load found).
pub fn model(gguf: &[u8], config: Config) -> Result<Qwen2> {
    let device = Device::Cpu;
    let mut reader = Cursor::new(gguf);
    let content = gguf_file::Content::read(&mut reader)?;
    let mut tensors = HashMap::new();
    for name in content.tensor_infos.keys() {
        let tensor = content.tensor(&mut reader, name, &device)?;
        tensors.insert(hf_name(name), tensor.dequantize(&device)?);
    }
    let vb = VarBuilder::from_tensors(tensors, DType::F32, &device);
    Qwen2::from_var_builder(config, vb).map_err(Error::wrap)
}
