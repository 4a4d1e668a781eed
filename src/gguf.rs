//! GGUF export: a model's Hugging Face-named tensors, its configuration and
//! its tokenizer, written as a llama.cpp `qwen2` file. The inverse of
//! [`crate::model::Qwen2::from_gguf`] and [`crate::tokenizer::Tokenizer::from_gguf`].

use std::io::{Seek, Write};

use candle_core::quantized::gguf_file::{self, Value};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::Tensor;

use crate::error::{QuarryError, Result};
use crate::model::{gguf_name, model_err, Config};
use crate::prompt::Style;
use crate::tokenizer::Tokenizer;

/// How weight matrices are stored; norms and biases stay f32.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantization {
    F32,
    F16,
    Q8_0,
    Q4_0,
    Q4K,
}

impl Quantization {
    pub fn parse(name: &str) -> Option<Quantization> {
        match name.to_ascii_lowercase().as_str() {
            "f32" => Some(Quantization::F32),
            "f16" => Some(Quantization::F16),
            "q8_0" => Some(Quantization::Q8_0),
            "q4_0" => Some(Quantization::Q4_0),
            "q4_k" | "q4k" => Some(Quantization::Q4K),
            _ => None,
        }
    }

    fn dtype(self) -> GgmlDType {
        match self {
            Quantization::F32 => GgmlDType::F32,
            Quantization::F16 => GgmlDType::F16,
            Quantization::Q8_0 => GgmlDType::Q8_0,
            Quantization::Q4_0 => GgmlDType::Q4_0,
            Quantization::Q4K => GgmlDType::Q4K,
        }
    }

    /// llama.cpp's `general.file_type`.
    fn file_type(self) -> u32 {
        match self {
            Quantization::F32 => 0,
            Quantization::F16 => 1,
            Quantization::Q4_0 => 2,
            Quantization::Q8_0 => 7,
            Quantization::Q4K => 15,
        }
    }
}

/// The metadata key that tells loaders which prompt style the model expects.
pub const PROMPT_STYLE_KEY: &str = "quarry.prompt_style";

/// ChatML, for llama.cpp's chat endpoints.
const CHAT_TEMPLATE: &str = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// Writes a GGUF file. `tensors` are named as in Hugging Face checkpoints.
pub fn write<W: Write + Seek>(
    out: &mut W,
    config: &Config,
    tensors: &[(String, Tensor)],
    tokenizer: &Tokenizer,
    style: Style,
    quantization: Quantization,
) -> Result<()> {
    let mut quantized: Vec<(String, QTensor)> = Vec::with_capacity(tensors.len());
    for (name, tensor) in tensors {
        if config.tie_word_embeddings && name == "lm_head.weight" {
            continue;
        }
        let matrix = tensor.rank() == 2;
        let row = tensor.dims().last().copied().unwrap_or(0);
        // Rows must hold whole quantization blocks; small models' rows may not.
        let dtype = if matrix && row % quantization.dtype().block_size() == 0 {
            quantization.dtype()
        } else {
            GgmlDType::F32
        };
        let tensor = tensor
            .to_dtype(candle_core::DType::F32)
            .map_err(model_err(name))?;
        let q = QTensor::quantize(&tensor, dtype).map_err(model_err(name))?;
        quantized.push((gguf_name(name), q));
    }
    let metadata = metadata(config, tokenizer, style, quantization)?;
    let metadata_refs: Vec<(&str, &Value)> =
        metadata.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let tensor_refs: Vec<(&str, &QTensor)> =
        quantized.iter().map(|(k, v)| (k.as_str(), v)).collect();
    gguf_file::write(out, &metadata_refs, &tensor_refs).map_err(model_err("gguf write"))
}

fn metadata(
    config: &Config,
    tokenizer: &Tokenizer,
    style: Style,
    quantization: Quantization,
) -> Result<Vec<(String, Value)>> {
    let (tokens, types, merges) = vocabulary(tokenizer, config.vocab_size)?;
    let u32v = |v: usize| Value::U32(v as u32);
    let style = match style {
        Style::Compact => "compact",
        Style::Instruct => "instruct",
    };
    let mut out: Vec<(&str, Value)> = vec![
        ("general.architecture", Value::String("qwen2".into())),
        ("general.name", Value::String("quarry".into())),
        ("general.file_type", Value::U32(quantization.file_type())),
        ("qwen2.context_length", u32v(config.max_position_embeddings)),
        ("qwen2.embedding_length", u32v(config.hidden_size)),
        ("qwen2.block_count", u32v(config.num_hidden_layers)),
        ("qwen2.feed_forward_length", u32v(config.intermediate_size)),
        (
            "qwen2.attention.head_count",
            u32v(config.num_attention_heads),
        ),
        (
            "qwen2.attention.head_count_kv",
            u32v(config.num_key_value_heads),
        ),
        ("qwen2.rope.freq_base", Value::F32(config.rope_theta as f32)),
        (
            "qwen2.attention.layer_norm_rms_epsilon",
            Value::F32(config.rms_norm_eps as f32),
        ),
        ("tokenizer.ggml.model", Value::String("gpt2".into())),
        ("tokenizer.ggml.pre", Value::String("qwen2".into())),
        (
            "tokenizer.ggml.tokens",
            Value::Array(tokens.into_iter().map(Value::String).collect()),
        ),
        (
            "tokenizer.ggml.token_type",
            Value::Array(types.into_iter().map(Value::I32).collect()),
        ),
        (
            "tokenizer.ggml.merges",
            Value::Array(merges.into_iter().map(Value::String).collect()),
        ),
        (
            "tokenizer.ggml.eos_token_id",
            Value::U32(tokenizer.end_of_turn()),
        ),
        (
            "tokenizer.ggml.padding_token_id",
            Value::U32(tokenizer.end_of_turn()),
        ),
        ("tokenizer.ggml.add_bos_token", Value::Bool(false)),
        (
            "tokenizer.chat_template",
            Value::String(CHAT_TEMPLATE.into()),
        ),
        (PROMPT_STYLE_KEY, Value::String(style.into())),
    ];
    if let Some(bos) = tokenizer.token_id("<|endoftext|>") {
        out.push(("tokenizer.ggml.bos_token_id", Value::U32(bos)));
    }
    Ok(out.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// Tokens by id (padded to the model's vocabulary), their llama.cpp types
/// (1 normal, 3 control, 4 user-defined, 5 unused) and the merges as "a b" strings.
fn vocabulary(
    tokenizer: &Tokenizer,
    vocab_size: usize,
) -> Result<(Vec<String>, Vec<i32>, Vec<String>)> {
    let json = tokenizer.json();
    let bad = |what: &str| QuarryError::Model(format!("tokenizer.json: {what}"));
    let mut tokens: Vec<Option<String>> = vec![None; vocab_size];
    let mut types = vec![1i32; vocab_size];
    let vocab = json["model"]["vocab"]
        .as_object()
        .ok_or_else(|| bad("no model.vocab"))?;
    let mut place = |id: usize, token: &str| -> Result<()> {
        let slot = tokens
            .get_mut(id)
            .ok_or_else(|| bad(&format!("token id {id} beyond the model's {vocab_size}")))?;
        *slot = Some(token.to_string());
        Ok(())
    };
    for (token, id) in vocab {
        place(
            id.as_u64().ok_or_else(|| bad("non-numeric id"))? as usize,
            token,
        )?;
    }
    for added in json["added_tokens"].as_array().into_iter().flatten() {
        let id = added["id"]
            .as_u64()
            .ok_or_else(|| bad("added token without id"))? as usize;
        place(id, added["content"].as_str().unwrap_or_default())?;
        // Control tokens are special; other added tokens (`<think>`) are
        // user-defined, which llama.cpp also keeps whole.
        types[id] = if added["special"].as_bool() == Some(true) {
            3
        } else {
            4
        };
    }
    let tokens = tokens
        .into_iter()
        .enumerate()
        .map(|(id, t)| {
            t.unwrap_or_else(|| {
                types[id] = 5;
                format!("[PAD{id}]")
            })
        })
        .collect();
    let merges = json["model"]["merges"]
        .as_array()
        .ok_or_else(|| bad("no model.merges"))?
        .iter()
        .map(|m| match m {
            serde_json::Value::String(s) => Ok(s.clone()),
            serde_json::Value::Array(pair) if pair.len() == 2 => Ok(format!(
                "{} {}",
                pair[0].as_str().unwrap_or_default(),
                pair[1].as_str().unwrap_or_default()
            )),
            _ => Err(bad("a merge is neither \"a b\" nor [a, b]")),
        })
        .collect::<Result<_>>()?;
    Ok((tokens, types, merges))
}

/// The prompt style a GGUF file declares (Quarry's own files say
/// `compact`); files from elsewhere are instruction-tuned checkpoints.
pub fn prompt_style(content: &gguf_file::Content) -> Style {
    match content
        .metadata
        .get(PROMPT_STYLE_KEY)
        .and_then(|v| v.to_string().ok())
    {
        Some(s) if s == "compact" => Style::Compact,
        _ => Style::Instruct,
    }
}
