//! AdamW with decoupled weight decay, as `candle_nn::AdamW` computes it (a
//! test checks the two agree), plus what training here needs and candle's
//! lacks: moments that can be saved and restored (exact `--resume`), no
//! decay on norms and biases, global-norm gradient clipping, and the
//! learning-rate schedule.

use std::collections::HashMap;

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};

struct Param {
    name: String,
    var: Var,
    m: Tensor,
    v: Tensor,
    decay: bool,
}

pub struct AdamW {
    params: Vec<Param>,
    /// Updates applied so far (bias correction depends on it).
    pub step_t: usize,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl AdamW {
    /// Matrices (rank ≥ 2: embeddings and projections) decay; norms and
    /// biases do not.
    pub fn new(
        vars: Vec<(String, Var)>,
        weight_decay: f64,
        beta1: f64,
        beta2: f64,
    ) -> Result<AdamW> {
        let params = vars
            .into_iter()
            .map(|(name, var)| {
                let m = var.zeros_like()?;
                let v = var.zeros_like()?;
                let decay = var.rank() >= 2;
                Ok(Param {
                    name,
                    var,
                    m,
                    v,
                    decay,
                })
            })
            .collect::<Result<_>>()?;
        Ok(AdamW {
            params,
            step_t: 0,
            beta1,
            beta2,
            eps: 1e-8,
            weight_decay,
        })
    }

    /// The global L2 norm of all gradients.
    pub fn grad_norm(&self, grads: &GradStore) -> Result<f64> {
        let squares = self
            .params
            .iter()
            .filter_map(|p| grads.get(p.var.as_tensor()))
            .map(|g| g.sqr()?.sum_all())
            .collect::<Result<Vec<_>>>()?;
        if squares.is_empty() {
            return Ok(0.0);
        }
        let total = Tensor::stack(&squares, 0)?
            .sum_all()?
            .to_dtype(candle_core::DType::F64)?
            .to_scalar::<f64>()?;
        Ok(total.sqrt())
    }

    /// One update at learning rate `lr`, gradients multiplied by
    /// `grad_scale` first (clipping).
    pub fn step(&mut self, grads: &GradStore, lr: f64, grad_scale: f64) -> Result<()> {
        self.step_t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let scale_m = 1.0 / (1.0 - b1.powi(self.step_t as i32));
        let scale_v = 1.0 / (1.0 - b2.powi(self.step_t as i32));
        for p in &mut self.params {
            let Some(g) = grads.get(p.var.as_tensor()) else {
                continue;
            };
            let g = if grad_scale == 1.0 {
                g.clone()
            } else {
                g.affine(grad_scale, 0.0)?
            };
            let m = ((&p.m * b1)? + (&g * (1.0 - b1))?)?;
            let v = ((&p.v * b2)? + (g.sqr()? * (1.0 - b2))?)?;
            let update = ((&m * scale_m)? / ((&v * scale_v)?.sqrt()? + self.eps)?)?;
            let theta = p.var.as_tensor();
            let theta = if p.decay {
                (theta * (1.0 - lr * self.weight_decay))?
            } else {
                theta.clone()
            };
            p.var.set(&(theta - (update * lr)?)?)?;
            p.m = m;
            p.v = v;
        }
        Ok(())
    }

    /// The moments, named `m.<param>` and `v.<param>`.
    pub fn state(&self) -> HashMap<String, Tensor> {
        self.params
            .iter()
            .flat_map(|p| {
                [
                    (format!("m.{}", p.name), p.m.clone()),
                    (format!("v.{}", p.name), p.v.clone()),
                ]
            })
            .collect()
    }

    /// Restores moments saved by [`AdamW::state`].
    pub fn load_state(&mut self, mut state: HashMap<String, Tensor>, step_t: usize) -> Result<()> {
        for p in &mut self.params {
            let device = p.var.device().clone();
            let mut take = |key: String| -> Result<Tensor> {
                let t = state.remove(&key).ok_or_else(|| {
                    candle_core::Error::Msg(format!("optimizer state lacks {key}"))
                })?;
                if t.shape() != p.var.shape() {
                    candle_core::bail!(
                        "optimizer state {key}: shape {:?}, expected {:?}",
                        t.shape(),
                        p.var.shape()
                    );
                }
                t.to_device(&device)
            };
            p.m = take(format!("m.{}", p.name))?;
            p.v = take(format!("v.{}", p.name))?;
        }
        self.step_t = step_t;
        Ok(())
    }
}

/// Learning rate at `progress` ∈ [0, 1] of training: linear warm-up over
/// the first `warmup` of it, then cosine decay to `floor × peak`.
pub fn learning_rate(progress: f64, peak: f64, warmup: f64, floor: f64) -> f64 {
    let p = progress.clamp(0.0, 1.0);
    if p < warmup {
        return peak * (p / warmup).max(0.01);
    }
    let q = ((p - warmup) / (1.0 - warmup).max(1e-9)).clamp(0.0, 1.0);
    let min = peak * floor;
    min + (peak - min) * 0.5 * (1.0 + (std::f64::consts::PI * q).cos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};
    use candle_nn::Optimizer;

    #[test]
    fn updates_equal_candles_adamw() {
        let dev = Device::Cpu;
        let init = Tensor::new(&[[0.5f32, -1.0], [2.0, 0.25]], &dev).unwrap();
        let ours = Var::from_tensor(&init).unwrap();
        let theirs = Var::from_tensor(&init).unwrap();
        let mut a = AdamW::new(vec![("w".into(), ours.clone())], 0.1, 0.9, 0.95).unwrap();
        let params = candle_nn::ParamsAdamW {
            lr: 0.01,
            beta1: 0.9,
            beta2: 0.95,
            eps: 1e-8,
            weight_decay: 0.1,
        };
        let mut b = candle_nn::AdamW::new(vec![theirs.clone()], params).unwrap();
        for _ in 0..3 {
            let grads = (ours.as_tensor().sqr().unwrap().sum_all().unwrap())
                .backward()
                .unwrap();
            a.step(&grads, 0.01, 1.0).unwrap();
            let grads = (theirs.as_tensor().sqr().unwrap().sum_all().unwrap())
                .backward()
                .unwrap();
            b.step(&grads).unwrap();
        }
        let diff = (ours.as_tensor() - theirs.as_tensor())
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap();
        assert!(diff.to_scalar::<f32>().unwrap() < 1e-6);
    }

    #[test]
    fn schedule_warms_up_then_decays_to_its_floor() {
        assert!(learning_rate(0.0, 1.0, 0.03, 0.1) <= 0.01);
        assert!((learning_rate(0.03, 1.0, 0.03, 0.1) - 1.0).abs() < 1e-9);
        assert!((learning_rate(1.0, 1.0, 0.03, 0.1) - 0.1).abs() < 1e-9);
        assert!(learning_rate(0.5, 1.0, 0.03, 0.1) < 0.6);
    }
}
