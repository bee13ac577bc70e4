//! Criterion benchmarks of fit and predict for every classifier on a seeded synthetic matrix
//! (20,000 × 30, 5 classes); regression tracking only — the comparison with scikit-learn at
//! 150k × 30 and 1M × 30 is in PERFORMANCE-NOTES.md (examples/timing.rs and scripts/).
//!
//! `cargo bench -p mqtt-ids-learn --bench fit_predict`

use criterion::{criterion_group, criterion_main, Criterion};
use mqtt_ids_learn::rng::Rng;
use mqtt_ids_learn::{Classifier, Dataset, Matrix, ModelParams};
use std::hint::black_box;

fn synthetic(n: usize, seed: u64) -> Dataset {
    let (d, k) = (30, 5);
    let mut rng = Rng::new(99);
    let centres: Vec<f64> = (0..k * d).map(|_| rng.normal() * 1.5).collect();
    let mut rng = Rng::new(seed);
    let mut data = Vec::with_capacity(n * d);
    let mut targets = Vec::with_capacity(n);
    for _ in 0..n {
        let c = rng.below(k);
        for j in 0..d {
            let scale = [1.0, 10.0, 1000.0][j % 3];
            data.push(((centres[c * d + j] + rng.normal()) * scale) as f32);
        }
        targets.push(c);
    }
    Dataset::new(
        Matrix::new(n, d, data).unwrap(),
        targets,
        (0..k).map(|c| format!("c{c}")).collect(),
        (0..d).map(|j| format!("f{j:02}")).collect(),
    )
    .unwrap()
}

fn quick(kind: &str) -> ModelParams {
    match ModelParams::from_name(kind, None).unwrap() {
        ModelParams::Rf(p) => ModelParams::Rf(p.n_estimators(10)),
        ModelParams::Gb(p) => ModelParams::Gb(p.n_estimators(5)),
        ModelParams::Mlp(p) => ModelParams::Mlp(p.max_iter(5)),
        other => other,
    }
}

fn bench(c: &mut Criterion) {
    let train = synthetic(20_000, 1);
    let small = synthetic(2_000, 3);
    let test = synthetic(2_000, 2);
    let mut g = c.benchmark_group("fit_20k_x_30");
    g.sample_size(10);
    for kind in ["nb", "lr", "dt", "rf", "gb", "svm-linear", "mlp"] {
        let p = quick(kind);
        g.bench_function(kind, |b| b.iter(|| black_box(p.fit(&train).unwrap())));
    }
    let p = quick("svm-rbf");
    g.bench_function("svm-rbf (2k rows)", |b| {
        b.iter(|| black_box(p.fit(&small).unwrap()))
    });
    g.finish();
    let mut g = c.benchmark_group("predict_2k_x_30");
    g.sample_size(10);
    for kind in ["nb", "lr", "dt", "rf", "gb", "knn", "svm-linear", "mlp"] {
        let m = quick(kind).fit(&train).unwrap();
        g.bench_function(kind, |b| {
            b.iter(|| black_box(m.predict(&test.records).unwrap()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
