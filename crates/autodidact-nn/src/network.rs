//! [`Network`]: a [`Model`] with the [`VarMap`] that owns its parameters; what trains, samples
//! and is saved as a checkpoint.
//!
//! A checkpoint is a directory holding `config.json` (the [`Config`], with its `version`) and
//! `model.safetensors` (every parameter, by the names in [`crate::model`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;

use crate::init::SeededVarMap;
use crate::{Batch, Config, Error, Model, Result, ops};

/// File name of the config in a checkpoint directory.
pub const CONFIG_FILE: &str = "config.json";
/// File name of the weights in a checkpoint directory.
pub const WEIGHTS_FILE: &str = "model.safetensors";

/// Rows evaluated together by [`Network::row_losses`].
const ROW_LOSS_BATCH: usize = 64;

/// A model and its parameters.
pub struct Network {
    model: Model,
    varmap: VarMap,
}

impl Network {
    /// A new model with every parameter drawn from `seed` (same seed, same values).
    pub fn init(cfg: &Config, seed: u64) -> Result<Self> {
        cfg.validate()?;
        let varmap = VarMap::new();
        let vb = SeededVarMap::new(varmap.clone(), seed).into_var_builder();
        let model = Model::new(cfg, vb)?;
        Ok(Self { model, varmap })
    }

    /// The model.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The model's config.
    pub fn config(&self) -> &Config {
        self.model.config()
    }

    /// The variables holding the parameters.
    pub fn varmap(&self) -> &VarMap {
        &self.varmap
    }

    /// Every parameter with its name, sorted by name.
    pub fn named_vars(&self) -> Vec<(String, Var)> {
        let data = self.varmap.data().lock().expect("VarMap lock poisoned");
        let mut vars: Vec<(String, Var)> =
            data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        vars
    }

    /// Number of trainable parameters.
    pub fn n_params(&self) -> usize {
        self.named_vars().iter().map(|(_, v)| v.elem_count()).sum()
    }

    /// An independent copy (its own parameters), e.g. to fine-tune while keeping the original.
    pub fn try_clone(&self) -> Result<Self> {
        let copy = Self::init(self.config(), 0)?;
        for (name, var) in self.named_vars() {
            copy.set(&name, var.as_tensor())?;
        }
        Ok(copy)
    }

    fn set(&self, name: &str, value: &Tensor) -> Result<()> {
        let data = self.varmap.data().lock().expect("VarMap lock poisoned");
        let var = data.get(name).ok_or_else(|| Error::Argument {
            name: "name",
            message: format!("the model has no parameter '{name}'"),
        })?;
        var.set(value)?;
        Ok(())
    }

    /// The training loss on `batch`: mean negative log-likelihood over the positions that carry
    /// loss; a scalar tensor to call `backward` on.
    pub fn loss(&self, batch: &Batch) -> Result<Tensor> {
        let cfg = self.config();
        if batch.max_token() as usize >= cfg.vocab_size {
            return Err(Error::Argument {
                name: "batch",
                message: format!(
                    "token id {} is outside the vocabulary of {}",
                    batch.max_token(),
                    cfg.vocab_size
                ),
            });
        }
        if let Some(p) = batch.max_position().filter(|p| *p as usize >= cfg.max_seq_len) {
            return Err(Error::Argument {
                name: "batch",
                message: format!(
                    "position id {p} is outside the model's max_seq_len of {}",
                    cfg.max_seq_len
                ),
            });
        }
        let inv = 1.0 / batch.n_targets() as f32;
        let mut total: Option<Tensor> = None;
        for bucket in batch.buckets() {
            let (_, len) = bucket.shape();
            if len > cfg.max_seq_len {
                return Err(Error::Sequence {
                    index: bucket.sequences[0],
                    message: format!(
                        "has {} tokens; the model reads at most max_seq_len + 1 = {}",
                        len + 1,
                        cfg.max_seq_len + 1
                    ),
                });
            }
            let logits = self.model
                .forward_flat(&bucket.inputs, bucket.positions.as_ref())?;
            let weights: Arc<[f32]> = bucket.mask.iter().map(|m| m * inv).collect();
            let nll = ops::masked_nll(&logits, bucket.targets.clone(), weights)?.sum_all()?;
            total = Some(match total {
                None => nll,
                Some(t) => (t + nll)?,
            });
        }
        Ok(total.expect("a batch has at least one bucket"))
    }

    /// The mean negative log-likelihood, in nats, of each row's tokens after its first (each
    /// predicted from the tokens before it): a row's own loss, e.g. to grade a sample by how
    /// likely its writer found it, or to measure held-out text. Rows may differ in length
    /// (each of 2 to `max_seq_len + 1` tokens); they are evaluated in batches of equal length.
    pub fn row_losses(&self, rows: &[Vec<u32>]) -> Result<Vec<f64>> {
        use candle_core::Module as _;
        let cfg = self.config();
        let mut by_len: std::collections::BTreeMap<usize, Vec<usize>> = Default::default();
        for (i, row) in rows.iter().enumerate() {
            if row.len() < 2 || row.len() > cfg.max_seq_len + 1 {
                return Err(Error::Sequence {
                    index: i,
                    message: format!(
                        "has {} tokens; a row's loss needs 2 to max_seq_len + 1 = {}",
                        row.len(),
                        cfg.max_seq_len + 1
                    ),
                });
            }
            if let Some(&t) = row.iter().find(|&&t| t as usize >= cfg.vocab_size) {
                return Err(Error::Sequence {
                    index: i,
                    message: format!("token id {t} is outside the vocabulary of {}", cfg.vocab_size),
                });
            }
            by_len.entry(row.len()).or_default().push(i);
        }
        let mut losses = vec![0.0; rows.len()];
        let v = cfg.vocab_size;
        for (len, indices) in by_len {
            for chunk in indices.chunks(ROW_LOSS_BATCH) {
                let inputs: Vec<Vec<u32>> = chunk.iter().map(|&i| rows[i][..len - 1].to_vec()).collect();
                let logits = self.model.forward(&Model::tokens_tensor(&inputs)?)?;
                let logits: Vec<f32> = logits.flatten_all()?.to_vec1()?;
                for (r, &i) in chunk.iter().enumerate() {
                    let mut total = 0.0f64;
                    for p in 0..len - 1 {
                        let row = &logits[(r * (len - 1) + p) * v..][..v];
                        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                        let sum: f64 = row.iter().map(|&x| f64::from(x - max).exp()).sum();
                        let target = rows[i][p + 1] as usize;
                        total += f64::from(max) + sum.ln() - f64::from(row[target]);
                    }
                    losses[i] = total / (len - 1) as f64;
                }
            }
        }
        Ok(losses)
    }

    /// Samples continuations of `prompts`; see [`Model::generate`].
    pub fn generate(
        &self,
        prompts: &[Vec<u32>],
        max_new: usize,
        stop_token: Option<u32>,
        temperature: f32,
        seed: u64,
    ) -> Result<Vec<Vec<u32>>> {
        self.model
            .generate(prompts, max_new, stop_token, temperature, seed)
    }

    /// Samples continuations of `prompts` at given position ids; see [`Model::generate_at`].
    pub fn generate_at(
        &self,
        prompts: &[Vec<u32>],
        positions: &[Vec<u32>],
        max_new: usize,
        stop_token: Option<u32>,
        temperature: f32,
        seed: u64,
    ) -> Result<Vec<Vec<u32>>> {
        self.model
            .generate_at(prompts, positions, max_new, stop_token, temperature, seed)
    }

    /// Writes `dir/config.json` and `dir/model.safetensors`, creating `dir` if needed.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Io {
            path: dir.into(),
            source,
        })?;
        let config_path = dir.join(CONFIG_FILE);
        let json = serde_json::to_string_pretty(self.config()).map_err(|source| Error::Json {
            path: config_path.clone(),
            source,
        })?;
        std::fs::write(&config_path, json + "\n").map_err(|source| Error::Io {
            path: config_path,
            source,
        })?;
        let weights_path = dir.join(WEIGHTS_FILE);
        self.varmap
            .save(&weights_path)
            .map_err(|e| Error::Checkpoint {
                path: weights_path,
                message: format!("cannot write: {e}"),
            })
    }

    /// Reads a checkpoint written by [`Network::save`]. An unknown config version, a missing or
    /// extra tensor, or a tensor of the wrong shape is an error naming the file.
    pub fn load(dir: &Path) -> Result<Self> {
        let cfg = read_config(&dir.join(CONFIG_FILE))?;
        let network = Self::init(&cfg, 0)?;
        let path = dir.join(WEIGHTS_FILE);
        if !path.is_file() {
            return Err(Error::Io {
                path,
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        let tensors =
            candle_core::safetensors::load(&path, &Device::Cpu).map_err(|e| Error::Checkpoint {
                path: path.clone(),
                message: format!("cannot read: {e}"),
            })?;
        let vars = network.named_vars();
        let bad = |message: String| Error::Checkpoint {
            path: path.clone(),
            message,
        };
        let mut extra: Vec<&String> = tensors
            .keys()
            .filter(|k| !vars.iter().any(|(n, _)| n == *k))
            .collect();
        extra.sort();
        if let Some(name) = extra.first() {
            return Err(bad(format!(
                "unexpected tensor '{name}' (not in a model of this config)"
            )));
        }
        for (name, var) in &vars {
            let tensor = tensors
                .get(name)
                .ok_or_else(|| bad(format!("missing tensor '{name}'")))?;
            if tensor.dims() != var.dims() {
                return Err(bad(format!(
                    "tensor '{name}' has shape {:?}, the config needs {:?}",
                    tensor.dims(),
                    var.dims()
                )));
            }
            let tensor = tensor.to_dtype(var.dtype())?;
            var.set(&tensor)?;
        }
        Ok(network)
    }
}

/// Reads and checks `config.json`, checking `version` before anything else so that a file from
/// a newer build gets a version error rather than an unknown-key error.
pub fn read_config(path: &Path) -> Result<Config> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let json_err = |source| Error::Json {
        path: PathBuf::from(path),
        source,
    };
    let value: serde_json::Value = serde_json::from_str(&text).map_err(json_err)?;
    match value.get("version") {
        Some(v) if v.as_u64() == Some(u64::from(Config::VERSION)) => {}
        found => {
            return Err(Error::UnknownVersion {
                path: path.into(),
                found: found.map_or_else(|| "(missing)".to_string(), |v| v.to_string()),
                supported: Config::VERSION,
            });
        }
    }
    // Parsed again from the text so that errors carry line and column.
    let cfg: Config = serde_json::from_str(&text).map_err(json_err)?;
    cfg.validate().map_err(|e| match e {
        Error::InvalidConfig { key, message, .. } => Error::InvalidConfig {
            path: Some(path.into()),
            key,
            message,
        },
        other => other,
    })?;
    Ok(cfg)
}
