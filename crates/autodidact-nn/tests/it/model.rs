//! Shapes, causal masking, gradients and seeded initialisation of the model.

use autodidact_nn::{Batch, Model, Network};
use candle_core::{Module, Tensor};

use crate::{max_abs_diff, tiny_config, tiny_network};

fn logits(network: &Network, rows: &[Vec<u32>]) -> Vec<Vec<Vec<f32>>> {
    let tokens = Model::tokens_tensor(rows).unwrap();
    network.model().forward(&tokens).unwrap().to_vec3().unwrap()
}

#[test]
fn forward_shapes() {
    let network = tiny_network(0);
    let cfg = tiny_config();
    for (b, t) in [(1, 1), (2, 5), (3, cfg.max_seq_len)] {
        let tokens =
            Tensor::zeros((b, t), candle_core::DType::U32, &candle_core::Device::Cpu).unwrap();
        let out = network.model().forward(&tokens).unwrap();
        assert_eq!(out.dims(), &[b, t, cfg.vocab_size]);
    }
    // Past the context, and float tokens, are errors, not panics.
    let long = Tensor::zeros(
        (1, cfg.max_seq_len + 1),
        candle_core::DType::U32,
        &candle_core::Device::Cpu,
    )
    .unwrap();
    assert!(network.model().forward(&long).is_err());
    let floats = Tensor::zeros((1, 2), candle_core::DType::F32, &candle_core::Device::Cpu).unwrap();
    assert!(network.model().forward(&floats).is_err());
    let out_of_vocab = Model::tokens_tensor(&[vec![1, cfg.vocab_size as u32]]).unwrap();
    assert!(network.model().forward(&out_of_vocab).is_err());
}

#[test]
fn a_future_token_never_changes_earlier_logits() {
    let network = tiny_network(1);
    let base: Vec<u32> = vec![3, 1, 4, 1, 5, 9, 2, 6];
    let before = logits(&network, std::slice::from_ref(&base));
    for changed_at in 0..base.len() {
        let mut other = base.clone();
        other[changed_at] = (other[changed_at] + 5) % 12;
        let after = logits(&network, &[other]);
        for pos in 0..base.len() {
            let same = before[0][pos] == after[0][pos];
            // Earlier positions are bit-identical; the changed one and later ones do change.
            assert_eq!(
                same,
                pos < changed_at,
                "change at {changed_at}, position {pos}"
            );
        }
    }
}

#[test]
fn batch_rows_are_independent() {
    let network = tiny_network(2);
    let a = vec![1, 2, 3, 4];
    let b = vec![7, 7, 0, 11];
    let alone = logits(&network, std::slice::from_ref(&a));
    let together = logits(&network, &[b, a]);
    for pos in 0..4 {
        assert!(max_abs_diff(&alone[0][pos], &together[1][pos]) < 1e-5);
    }
}

#[test]
fn every_parameter_receives_a_nonzero_gradient() {
    let network = tiny_network(3);
    let seqs: Vec<Vec<u32>> = vec![
        vec![1, 2, 3, 4, 5],
        vec![6, 7, 8],
        vec![9, 10, 11, 0, 1, 2, 3],
    ];
    let masks: Vec<Vec<bool>> = seqs
        .iter()
        .map(|s| (0..s.len()).map(|i| i > 0).collect())
        .collect();
    let batch = Batch::from_sequences(&seqs, &masks).unwrap();
    let grads = network.loss(&batch).unwrap().backward().unwrap();
    let vars = network.named_vars();
    assert_eq!(
        vars.len(),
        4 + 2 * 8,
        "{:?}",
        vars.iter().map(|v| &v.0).collect::<Vec<_>>()
    );
    for (name, var) in vars {
        let grad = grads
            .get(var.as_tensor())
            .unwrap_or_else(|| panic!("{name} has no gradient"));
        let total: f32 = grad.abs().unwrap().sum_all().unwrap().to_scalar().unwrap();
        assert!(
            total > 0.0 && total.is_finite(),
            "{name}: gradient sum {total}"
        );
    }
}

#[test]
fn initialisation_is_seeded() {
    let values = |seed| -> Vec<(String, Vec<f32>)> {
        tiny_network(seed)
            .named_vars()
            .into_iter()
            .map(|(n, v)| (n, v.as_tensor().flatten_all().unwrap().to_vec1().unwrap()))
            .collect()
    };
    let (a, b, c) = (values(5), values(5), values(6));
    assert_eq!(a, b);
    let differing = a.iter().zip(&c).filter(|(x, y)| x.1 != y.1).count();
    // Every random parameter differs; the LayerNorm gains (all ones) do not.
    assert_eq!(differing, a.len() - (2 * 2 + 1));
    let emb = &a.iter().find(|(n, _)| n == "tok_emb.weight").unwrap().1;
    let std = (emb.iter().map(|v| v * v).sum::<f32>() / emb.len() as f32).sqrt();
    assert!(
        (0.015..0.025).contains(&std),
        "embedding std {std}, expected about 0.02"
    );
}

#[test]
fn parameter_count_matches_config() {
    let network = tiny_network(0);
    assert_eq!(network.n_params(), tiny_config().n_params());
}

#[test]
fn row_losses_match_the_training_loss_of_each_row() {
    let network = tiny_network(3);
    // Rows of different lengths, evaluated together.
    let rows = vec![vec![1, 2, 3, 4, 5], vec![7, 7], vec![0, 11, 4, 2, 9, 9, 1], vec![5, 4, 3, 2, 1]];
    let losses = network.row_losses(&rows).unwrap();
    assert_eq!(losses.len(), rows.len());
    for (row, loss) in rows.iter().zip(&losses) {
        let mask: Vec<bool> = (0..row.len()).map(|i| i > 0).collect();
        let batch = Batch::from_sequences(std::slice::from_ref(row), &[mask]).unwrap();
        let expected = f64::from(network.loss(&batch).unwrap().to_scalar::<f32>().unwrap());
        assert!((loss - expected).abs() < 1e-4, "{loss} vs {expected}");
    }
    // A row's loss does not depend on the rows beside it (up to float rounding); a row of
    // one token has nothing to predict, and a token outside the vocabulary is an error.
    assert!((losses[0] - network.row_losses(&rows[..1]).unwrap()[0]).abs() < 1e-5);
    assert!(network.row_losses(&[vec![1]]).is_err());
    assert!(network.row_losses(&[vec![1, 12]]).is_err());
}
