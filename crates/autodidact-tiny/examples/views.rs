//! How independent are a model's answers to the same problem asked differently? Loads a
//! checkpoint, asks problems of one length in both operand orders at several position
//! offsets (greedy) and sampled, and prints each view's accuracy and the precision and
//! recall of a majority vote over views at several agreement thresholds. A tool for choosing
//! `[grade]`; the run does not use it.
//!
//! `cargo run --release -p autodidact-tiny --example views -- MODEL_DIR LENGTH [N]`

use autodidact_nn::Network;
use autodidact_tiny::arithmetic::{Answer, Problem, draw_distinct};
use autodidact_tiny::grade::{answer, majority};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // SAFETY: first thing in main, before any other thread exists.
    unsafe { autodidact_nn::set_thread_defaults() };
    let args: Vec<String> = std::env::args().collect();
    let network = Network::load(args[1].as_ref())?;
    let length: usize = args[2].parse()?;
    let n: usize = args.get(3).map_or(Ok(2000), |s| s.parse())?;
    let problems = draw_distinct(n, length, &Default::default(), &mut StdRng::seed_from_u64(9));
    let swapped: Vec<Problem> = problems.iter().map(Problem::swapped).collect();
    let mut views: Vec<(String, Vec<Answer>)> = Vec::new();
    for offset in [0u32, 2, 4, 6, 8, 10, 12] {
        views.push((format!("a+b @{offset}"), answer(&network, &problems, offset, 0.0, 0)?));
        views.push((format!("b+a @{offset}"), answer(&network, &swapped, offset, 0.0, 0)?));
    }
    for (i, t) in [0.5f32, 1.0].iter().enumerate() {
        views.push((format!("a+b T{t}"), answer(&network, &problems, 0, *t, i as u64)?));
    }
    let truth: Vec<Vec<u8>> = problems.iter().map(Problem::sum).collect();
    for (name, answers) in &views {
        let right = answers.iter().zip(&truth).filter(|(a, t)| a.digits() == Some(&t[..])).count();
        println!("{name:10} {:.3}", right as f64 / n as f64);
    }
    let parts = autodidact_tiny::grade::decompose(&network, &problems, 4)?;
    let parts_right = parts.iter().zip(&truth).filter(|(a, t)| a.digits() == Some(&t[..])).count();
    let (mut kept, mut kept_right) = (0, 0);
    for ((p, g), t) in parts.iter().zip(&views[0].1).zip(&truth) {
        if p.digits().is_some() && p.digits() == g.digits() {
            kept += 1;
            kept_right += usize::from(g.digits() == Some(&t[..]));
        }
    }
    let greedy_right = views[0].1.iter().zip(&truth).filter(|(a, t)| a.digits() == Some(&t[..])).count();
    println!(
        "parts alone right {:.3}; greedy kept when the parts agree: {kept}, precision {:.4}, recall {:.3}",
        parts_right as f64 / n as f64,
        kept_right as f64 / kept.max(1) as f64,
        kept_right as f64 / greedy_right.max(1) as f64
    );
    let mut shown = 0;
    for (i, t) in truth.iter().enumerate() {
        let (x, y) = (&views[0].1[i], &views[1].1[i]);
        if x == y && x.digits() != Some(&t[..]) && shown < 25 {
            shown += 1;
            println!("agreed but wrong: {} {x} (true {})", problems[i], autodidact_tiny::arithmetic::to_decimal(t));
        }
    }
    let sets: Vec<(&str, Vec<usize>)> = vec![
        ("2 orders @0", vec![0, 1]),
        ("2 orders @0,4", vec![0, 1, 4, 5]),
        ("2 orders @0,4,8", vec![0, 1, 4, 5, 8, 9]),
        ("2 orders @0..12 step 2", (0..14).collect()),
        ("a+b @0..12", vec![0, 2, 4, 6, 8, 10, 12]),
        ("greedy2 + T1x3", vec![0, 1, 15, 15, 15]),
    ];
    for (name, idx) in sets {
        let mut line = format!("{name:24}");
        for threshold in [0.5, 0.6, 0.8, 1.0] {
            let (mut kept, mut kept_right, mut right) = (0, 0, 0);
            for (i, t) in truth.iter().enumerate() {
                let v: Vec<Answer> = idx.iter().map(|&j| views[j].1[i].clone()).collect();
                let (best, agreement) = majority(&v);
                let correct = best.as_deref() == Some(&t[..]);
                right += usize::from(correct);
                if agreement >= threshold {
                    kept += 1;
                    kept_right += usize::from(correct);
                }
            }
            line += &format!(
                " | >={threshold}: kept {kept:4} prec {:.3} rec {:.3}",
                kept_right as f64 / kept.max(1) as f64,
                kept_right as f64 / right.max(1) as f64
            );
        }
        println!("{line}");
    }
    Ok(())
}
