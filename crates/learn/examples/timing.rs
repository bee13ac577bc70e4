//! Fit and predict timings of one or more classifiers on a train and a test table (CSV or
//! Parquet, label column `target`), for PERFORMANCE-NOTES.md; `scripts/sklearn_timing.py`
//! times scikit-learn the same way.
//!
//! ```text
//! RAYON_NUM_THREADS=2 cargo run --release --example timing -- TRAIN.csv TEST.csv rf:mqttset2020,nb
//! ```
//! Prints one JSON object per model: kind, preset, rows, fit and predict seconds (fit also in
//! CPU seconds), accuracy.

use mqtt_ids_learn::estimator::Model;
use mqtt_ids_learn::metrics::accuracy;
use mqtt_ids_learn::table::{read_files, TableOptions};
use mqtt_ids_learn::{Classifier, ModelParams};
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 3 {
        return Err("usage: timing TRAIN.csv TEST.csv KIND[:PRESET][,KIND[:PRESET]…]".into());
    }
    let opts = TableOptions::with_label_column("target");
    let t = Instant::now();
    let train = read_files(&[&args[0]], &opts)?;
    let test = read_files(&[&args[1]], &opts)?;
    eprintln!(
        "read {} + {} rows in {:.2} s",
        train.n_rows(),
        test.n_rows(),
        t.elapsed().as_secs_f64()
    );
    for spec in args[2].split(',') {
        let (kind, preset) = match spec.split_once(':') {
            Some((k, p)) => (k, Some(p)),
            None => (spec, None),
        };
        let mut params = ModelParams::from_name(kind, preset)?;
        if let Ok(seed) = std::env::var("SEED") {
            // SEED=N replaces the preset's seed (as scripts/sklearn_timing.py's SEED does).
            params = params.with_seed(seed.parse()?);
        }
        let (t, cpu) = (Instant::now(), cpu_seconds());
        let model = params.fit(&train)?;
        let fit_s = t.elapsed().as_secs_f64();
        let fit_cpu_s = cpu_seconds() - cpu;
        let t = Instant::now();
        let pred = model.predict(&test.records)?;
        let predict_s = t.elapsed().as_secs_f64();
        let acc = accuracy(&test.targets, &pred);
        // Epochs run and the last training loss (to the bit) of an MLP: scikit-learn's
        // `n_iter_` and `loss_` beside it.
        let epochs = match &model {
            Model::Mlp(m) => format!(
                ",\"epochs\":{},\"loss\":{:?}",
                m.loss_curve.len(),
                m.loss_curve.last().copied().unwrap_or(f64::NAN)
            ),
            _ => String::new(),
        };
        // DIGEST=1: an FNV-1a hash of the test rows' class probabilities, bit for bit, to show
        // that a change to the learner left the fitted model the same.
        let digest = if std::env::var_os("DIGEST").is_some() {
            let proba = model.predict_proba(&test.records)?;
            let h = proba
                .as_slice()
                .iter()
                .fold(0xcbf2_9ce4_8422_2325u64, |h, v| {
                    (h ^ u64::from(v.to_bits())).wrapping_mul(0x0100_0000_01b3)
                });
            format!(",\"proba_digest\":\"{h:016x}\"")
        } else {
            String::new()
        };
        println!(
            "{{\"kind\":\"{kind}\",\"preset\":\"{}\",\"train_rows\":{},\"test_rows\":{},\"threads\":{},\"fit_s\":{fit_s:.4},\"fit_cpu_s\":{fit_cpu_s:.2},\"predict_s\":{predict_s:.4},\"accuracy\":{acc:.4}{epochs}{digest}}}",
            preset.unwrap_or("default"),
            train.n_rows(),
            test.n_rows(),
            rayon::current_num_threads()
        );
    }
    Ok(())
}

/// User + system CPU seconds of this process so far (Linux `/proc/self/stat`, 100 ticks per
/// second; 0 elsewhere): on a shared machine it moves less with the load than wall time.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the parenthesised command name; utime and stime are the 12th and 13th.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    f.iter().sum::<f64>() / 100.0
}
