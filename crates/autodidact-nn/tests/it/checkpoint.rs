//! Checkpoints: safetensors plus a versioned `config.json`.

use std::ops::ControlFlow;

use autodidact_nn::network::{CONFIG_FILE, WEIGHTS_FILE};
use autodidact_nn::{Error, Model, Network, TrainConfig, TrainData, Trainer};
use candle_core::Module;

use crate::{tiny_config, tiny_network};

fn trained() -> Network {
    let seqs: Vec<Vec<u32>> = (0..16)
        .map(|i| vec![i % 12, (i + 1) % 12, (i + 2) % 12])
        .collect();
    let masks = vec![vec![false, true, true]; 16];
    let data = TrainData::new(seqs, masks).unwrap();
    let mut trainer = Trainer::new(tiny_network(1), TrainConfig::default()).unwrap();
    trainer
        .fit(&data, 3, 8, |_| ControlFlow::Continue(()))
        .unwrap();
    trainer.into_network()
}

fn logits(network: &Network) -> Vec<Vec<Vec<f32>>> {
    let tokens = Model::tokens_tensor(&[vec![1, 2, 3, 4], vec![5, 6, 7, 8]]).unwrap();
    network.model().forward(&tokens).unwrap().to_vec3().unwrap()
}

#[test]
fn checkpoints_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let network = trained();
    network.save(dir.path()).unwrap();
    let loaded = Network::load(dir.path()).unwrap();
    assert_eq!(loaded.config(), network.config());
    assert_eq!(logits(&loaded), logits(&network));
    // Training changed the parameters, so a fresh model of the same config would differ.
    assert_ne!(logits(&tiny_network(1)), logits(&network));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join(CONFIG_FILE)).unwrap())
            .unwrap();
    assert_eq!(config["version"], 1);
    assert_eq!(config["d_model"], 32);
}

#[test]
fn a_copy_is_independent() {
    let network = trained();
    let copy = network.try_clone().unwrap();
    assert_eq!(logits(&copy), logits(&network));
    let seqs = vec![vec![1, 2, 3]; 4];
    let data = TrainData::new(seqs, vec![vec![false, true, true]; 4]).unwrap();
    let mut trainer = Trainer::new(copy, TrainConfig::default()).unwrap();
    trainer
        .fit(&data, 2, 4, |_| ControlFlow::Continue(()))
        .unwrap();
    assert_ne!(logits(trainer.network()), logits(&network));
}

fn saved() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    tiny_network(0).save(dir.path()).unwrap();
    dir
}

fn load_err(dir: &std::path::Path) -> String {
    Network::load(dir)
        .err()
        .expect("load should fail")
        .to_string()
}

#[test]
fn an_unknown_version_is_a_clear_error() {
    let dir = saved();
    let path = dir.path().join(CONFIG_FILE);
    for (version, shown) in [("2", "2"), ("\"1\"", "\"1\""), ("null", "null")] {
        let text = std::fs::read_to_string(&path).unwrap();
        let text = regex_free_replace_version(&text, version);
        std::fs::write(&path, text).unwrap();
        let err = Network::load(dir.path()).err().unwrap();
        assert!(matches!(err, Error::UnknownVersion { .. }), "{err}");
        assert_eq!(
            err.to_string(),
            format!(
                "{}: unknown config version {shown} (this build reads version 1)",
                path.display()
            )
        );
    }
    // A missing version, with an unknown key too: the version is reported first.
    std::fs::write(&path, r#"{"vocab_size": 12, "layers": 2}"#).unwrap();
    assert!(load_err(dir.path()).contains("unknown config version (missing)"));
}

/// Replaces the value of `"version"` in pretty-printed JSON.
fn regex_free_replace_version(text: &str, version: &str) -> String {
    text.lines()
        .map(|l| {
            if l.trim_start().starts_with("\"version\"") {
                format!("  \"version\": {version},")
            } else {
                l.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_bad_config_names_the_file_and_key() {
    let dir = saved();
    let path = dir.path().join(CONFIG_FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replace("\"n_heads\": 4", "\"n_heads\": 5")).unwrap();
    let err = load_err(dir.path());
    assert_eq!(
        err,
        format!(
            "{}: invalid model config: `n_heads` (5) must divide d_model (32)",
            path.display()
        )
    );
    std::fs::write(&path, text.replace("\"d_ff\"", "\"d_fff\"")).unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains("unknown field `d_fff`") && err.contains("line"),
        "{err}"
    );
    std::fs::write(&path, "{ not json").unwrap();
    assert!(load_err(dir.path()).starts_with(&format!("error parsing {}", path.display())));
    std::fs::remove_file(&path).unwrap();
    assert!(load_err(dir.path()).starts_with(&path.display().to_string()));
}

#[test]
fn weights_that_do_not_fit_the_config_are_named() {
    // Weights of a wider model under this config.
    let dir = saved();
    let mut wide = tiny_config();
    wide.d_ff = 128;
    Network::init(&wide, 0)
        .unwrap()
        .varmap()
        .save(dir.path().join(WEIGHTS_FILE))
        .unwrap();
    let err = load_err(dir.path());
    assert!(
        err.contains(
            "tensor 'blocks.0.mlp.down.weight' has shape [32, 128], the config needs [32, 64]"
        ),
        "{err}"
    );
    // Weights of a deeper model: an extra tensor.
    let mut deep = tiny_config();
    deep.n_layers = 3;
    Network::init(&deep, 0)
        .unwrap()
        .varmap()
        .save(dir.path().join(WEIGHTS_FILE))
        .unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("unexpected tensor 'blocks.2."), "{err}");
    // Weights of a shallower model: a missing tensor.
    let mut shallow = tiny_config();
    shallow.n_layers = 1;
    Network::init(&shallow, 0)
        .unwrap()
        .varmap()
        .save(dir.path().join(WEIGHTS_FILE))
        .unwrap();
    let err = load_err(dir.path());
    assert!(err.contains("missing tensor 'blocks.1."), "{err}");
    std::fs::write(dir.path().join(WEIGHTS_FILE), b"garbage").unwrap();
    assert!(load_err(dir.path()).contains("cannot read"));
    std::fs::remove_file(dir.path().join(WEIGHTS_FILE)).unwrap();
    assert!(load_err(dir.path()).contains(WEIGHTS_FILE));
}
