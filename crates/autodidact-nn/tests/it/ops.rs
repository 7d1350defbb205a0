//! The fused kernels against hand-computed values and against candle's composite ops.

use std::sync::Arc;

use autodidact_nn::ops::{
    causal_softmax, layer_norm, masked_nll, merge_heads, relu, split_heads, split_heads_t,
};
use candle_core::{D, Device, Tensor, Var};

use crate::{max_abs_diff, setup};

fn t(data: &[f32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(data.to_vec(), shape, &Device::Cpu).unwrap()
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

/// (input, shape, scale, offset, expected output)
#[test]
fn causal_softmax_matches_hand_computed_values() {
    setup();
    let s = 1.0 / (1.0 + 1f32.exp()); // softmax([a, a + 1]) = [s, 1 - s]
    let check = |input: &[f32], shape: &[usize], scale: f32, offset: usize, expected: &[f32]| {
        let out = causal_softmax(&t(input, shape), scale, offset).unwrap();
        let got = flat(&out);
        assert!(
            max_abs_diff(&got, expected) < 1e-6,
            "{input:?} offset {offset}: {got:?} != {expected:?}"
        );
    };
    // Query 0 sees only key 0; query 1 sees both.
    check(
        &[1.0, 2.0, 3.0, 4.0],
        &[2, 2],
        1.0,
        0,
        &[1.0, 0.0, s, 1.0 - s],
    );
    // The scale applies before the softmax: 0.5 * [2, 4] = [1, 2].
    check(
        &[9.0, 9.0, 2.0, 4.0],
        &[2, 2],
        0.5,
        0,
        &[1.0, 0.0, s, 1.0 - s],
    );
    // One query after one cached key sees both keys.
    check(&[3.0, 4.0], &[1, 2], 1.0, 1, &[s, 1.0 - s]);
    // Leading dimensions are independent rows.
    check(
        &[5.0, 0.0, 0.0, 1.0, 7.0, 0.0, 2.0, 2.0],
        &[2, 2, 2],
        1.0,
        0,
        &[1.0, 0.0, s, 1.0 - s, 1.0, 0.0, 0.5, 0.5],
    );
    // More queries than keys allow is an error, not a panic.
    assert!(causal_softmax(&t(&[1.0, 2.0], &[1, 2]), 1.0, 2).is_err());
}

#[test]
fn layer_norm_matches_hand_computed_values() {
    setup();
    // [1, 2, 3]: mean 2, variance 2/3.
    let r = 1.0 / (2.0f32 / 3.0 + autodidact_nn::ops::LAYER_NORM_EPS).sqrt();
    let out = flat(&layer_norm(&t(&[1.0, 2.0, 3.0, 5.0, 5.0, 5.0], &[2, 3])).unwrap());
    assert!(
        max_abs_diff(&out, &[-r, 0.0, r, 0.0, 0.0, 0.0]) < 1e-6,
        "{out:?}"
    );
}

#[test]
fn masked_nll_matches_hand_computed_values() {
    setup();
    // Row 0: logits [0, ln 3], target 1 -> -ln(3/4). Row 1: weight 0 -> 0. Row 2: weight 2,
    // uniform over 2 -> 2 ln 2.
    let logits = t(&[0.0, 3f32.ln(), 5.0, -1.0, 1.0, 1.0], &[3, 2]);
    let out = masked_nll(
        &logits,
        Arc::from([1u32, 0, 0]),
        Arc::from([1.0f32, 0.0, 2.0]),
    )
    .unwrap();
    let expected = [-(0.75f32.ln()), 0.0, 2.0 * 2f32.ln()];
    assert!(
        max_abs_diff(&flat(&out), &expected) < 1e-6,
        "{:?}",
        flat(&out)
    );
    let err = masked_nll(
        &logits,
        Arc::from([1u32, 2, 0]),
        Arc::from([1.0f32, 1.0, 1.0]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("target 2 of row 1"), "{err}");
}

/// Gradient of `sum(f(x) * w)` for a fixed random-ish `w`, so every output element matters.
fn grad_of(x: &[f32], shape: &[usize], f: impl Fn(&Tensor) -> Tensor) -> Vec<f32> {
    let var = Var::from_tensor(&t(x, shape)).unwrap();
    let y = f(var.as_tensor());
    let n = y.elem_count();
    let w: Vec<f32> = (0..n).map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0).collect();
    let w = Tensor::from_vec(w, y.shape(), &Device::Cpu).unwrap();
    let grads = (y * w).unwrap().sum_all().unwrap().backward().unwrap();
    flat(grads.get(var.as_tensor()).unwrap())
}

fn inputs(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 13 % 17) as f32 - 8.0) / 4.0).collect()
}

#[test]
fn layer_norm_gradient_matches_composite() {
    setup();
    let x = inputs(4 * 6);
    let fused = grad_of(&x, &[4, 6], |x| layer_norm(x).unwrap());
    let composite = grad_of(&x, &[4, 6], |x| {
        let mean = x.mean_keepdim(D::Minus1).unwrap();
        let xc = x.broadcast_sub(&mean).unwrap();
        let var = xc.sqr().unwrap().mean_keepdim(D::Minus1).unwrap();
        let std = (var + autodidact_nn::ops::LAYER_NORM_EPS as f64)
            .unwrap()
            .sqrt()
            .unwrap();
        xc.broadcast_div(&std).unwrap()
    });
    assert!(
        composite.iter().any(|g| g.abs() > 1e-3),
        "degenerate test: {composite:?}"
    );
    assert!(
        max_abs_diff(&fused, &composite) < 1e-4,
        "{fused:?}\n{composite:?}"
    );
}

#[test]
fn causal_softmax_gradient_matches_composite() {
    setup();
    for (t_q, t_k) in [(5, 5), (2, 5)] {
        let offset = t_k - t_q;
        let x = inputs(3 * t_q * t_k);
        let shape = [3, t_q, t_k];
        let fused = grad_of(&x, &shape, |x| causal_softmax(x, 0.7, offset).unwrap());
        let mask: Vec<f32> = (0..t_q)
            .flat_map(|i| {
                (0..t_k).map(move |j| {
                    if j > offset + i {
                        f32::NEG_INFINITY
                    } else {
                        0.0
                    }
                })
            })
            .collect();
        let mask = t(&mask, &[t_q, t_k]);
        let composite = grad_of(&x, &shape, |x| {
            let s = (x * 0.7).unwrap().broadcast_add(&mask).unwrap();
            candle_nn::ops::softmax(&s, D::Minus1).unwrap()
        });
        assert!(composite.iter().any(|g| g.abs() > 1e-3), "degenerate test");
        assert!(
            max_abs_diff(&fused, &composite) < 1e-5,
            "t_q {t_q}: {fused:?}\n{composite:?}"
        );
    }
}

#[test]
fn masked_nll_gradient_matches_composite() {
    setup();
    let (n, vocab) = (5, 4);
    let x = inputs(n * vocab);
    let targets = [3u32, 0, 1, 1, 2];
    let weights = [0.5f32, 0.0, 1.0, 2.0, 0.25];
    let fused = grad_of(&x, &[n, vocab], |x| {
        masked_nll(x, Arc::from(targets), Arc::from(weights)).unwrap()
    });
    let composite = grad_of(&x, &[n, vocab], |x| {
        let idx = Tensor::from_vec(targets.to_vec(), (n, 1), &Device::Cpu).unwrap();
        let picked = candle_nn::ops::log_softmax(x, D::Minus1)
            .unwrap()
            .gather(&idx, 1)
            .unwrap();
        let w = t(&weights, &[n, 1]);
        (picked.neg().unwrap() * w).unwrap().squeeze(1).unwrap()
    });
    assert!(
        fused[vocab..2 * vocab].iter().all(|g| *g == 0.0),
        "a weight-0 row got gradient"
    );
    assert!(
        max_abs_diff(&fused, &composite) < 1e-5,
        "{fused:?}\n{composite:?}"
    );
}

#[test]
fn head_permutations_match_reshape_and_transpose() {
    setup();
    let (b, t, h, hd) = (2, 3, 2, 4);
    let x = inputs(b * t * h * hd);
    let xt = Tensor::from_vec(x.clone(), (b * t, h * hd), &Device::Cpu).unwrap();
    let reference = xt
        .reshape((b, t, h, hd))
        .unwrap()
        .transpose(1, 2)
        .unwrap()
        .contiguous()
        .unwrap();
    let split = split_heads(&xt, b, t, h).unwrap();
    assert_eq!(split.dims(), &[b, h, t, hd]);
    assert_eq!(flat(&split), flat(&reference));
    let split_t = split_heads_t(&xt, b, t, h).unwrap();
    assert_eq!(split_t.dims(), &[b, h, hd, t]);
    assert_eq!(
        flat(&split_t),
        flat(&reference.t().unwrap().contiguous().unwrap())
    );
    let merged = merge_heads(&split).unwrap();
    assert_eq!(merged.dims(), &[b * t, h * hd]);
    assert_eq!(flat(&merged), x);
    // Gradients are the inverse permutations (weights make every position distinct).
    let shape = [b * t, h * hd];
    let composite = grad_of(&x, &shape, |x| {
        x.reshape((b, t, h, hd))
            .unwrap()
            .transpose(1, 2)
            .unwrap()
            .t()
            .unwrap()
    });
    assert_eq!(
        grad_of(&x, &shape, |x| split_heads_t(x, b, t, h).unwrap()),
        composite
    );
    let composite = grad_of(&x, &shape, |x| {
        x.reshape((b, t, h, hd)).unwrap().transpose(1, 2).unwrap()
    });
    assert_eq!(
        grad_of(&x, &shape, |x| split_heads(x, b, t, h).unwrap()),
        composite
    );
    let shape4 = [b, h, t, hd];
    let composite = grad_of(&x, &shape4, |x| {
        x.transpose(1, 2).unwrap().reshape((b * t, h * hd)).unwrap()
    });
    assert_eq!(grad_of(&x, &shape4, |x| merge_heads(x).unwrap()), composite);
    assert!(split_heads(&xt, b, t, 5).is_err());
}

#[test]
fn relu_and_its_gradient_match_candle() {
    setup();
    let x = inputs(40);
    let xt = t(&x, &[5, 8]);
    assert_eq!(flat(&relu(&xt).unwrap()), flat(&xt.relu().unwrap()));
    let fused = grad_of(&x, &[5, 8], |x| relu(x).unwrap());
    let composite = grad_of(&x, &[5, 8], |x| x.relu().unwrap());
    assert!(
        fused.contains(&0.0) && fused.iter().any(|g| *g != 0.0),
        "degenerate test"
    );
    for ((x, f), c) in x.iter().zip(&fused).zip(&composite) {
        // At exactly 0 the gradient is 0, as in PyTorch (candle's own ReLU passes it).
        let expected = if *x == 0.0 { 0.0 } else { *c };
        assert_eq!(*f, expected, "x = {x}");
    }
    assert!(x.contains(&0.0), "the test should cover x = 0");
}
