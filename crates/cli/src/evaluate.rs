//! `mqtt-ids evaluate`: the papers' evaluation protocols over feature tables, printed like the
//! papers' tables and written as JSON (every number) and CSV.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use mqtt_ids_learn::estimator::presets;
use mqtt_ids_learn::metrics::ClassificationReport;
use mqtt_ids_learn::{evaluate_with_progress, table, Evaluation, ModelParams, Protocol};

use crate::learn_args::TableArgs;
use crate::{progress, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Classifiers, comma-separated: lr, knn, svm-rbf, svm-linear, nb, dt, rf, gb, mlp.
    /// svm-rbf fits each training side on at most 20,000 rows (a seeded, stratified subsample
    /// beyond that).
    #[arg(long, value_delimiter = ',', required = true)]
    models: Vec<String>,
    /// Protocol: hindy2020 (dedupe, stratified 5-fold CV, seed 0) or mqttset2020 (70/30
    /// hold-out, seed 7).
    #[arg(long)]
    protocol: String,
    /// Hyper-parameter preset for every model (default: the protocol's paper, where the model
    /// has that preset).
    #[arg(long)]
    preset: Option<String>,
    /// Replicate every class of the training side to the size of the largest (Vaccari's
    /// balanced dataset).
    #[arg(long)]
    balance: bool,
    /// Split by the table's group column (connections), so no group is on both sides (implied
    /// by --group-by).
    #[arg(long)]
    grouped: bool,
    /// Write every number as JSON here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write one CSV row per model and class here.
    #[arg(long, value_name = "PATH")]
    csv: Option<PathBuf>,
    #[command(flatten)]
    table: TableArgs,
}

pub fn run(args: &Args) -> u8 {
    let protocol = match Protocol::from_name(&args.protocol) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mqtt-ids evaluate: {e}");
            return EXIT_USAGE;
        }
    };
    let protocol = if args.balance {
        protocol.balance_replicate(None)
    } else {
        protocol
    }
    .grouped(args.grouped || !args.table.group_by.is_empty());
    let preset_for = |kind: &str| -> Option<String> {
        args.preset.clone().or_else(|| {
            presets(kind)
                .contains(&args.protocol.as_str())
                .then(|| args.protocol.clone())
        })
    };
    let mut all_params = Vec::new();
    for kind in &args.models {
        match ModelParams::from_name(kind, preset_for(kind).as_deref()) {
            Ok(p) => all_params.push(p),
            Err(e) => {
                eprintln!("mqtt-ids evaluate: {e}");
                return EXIT_USAGE;
            }
        }
    }
    let options = match args.table.options(Some(&args.protocol)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("mqtt-ids evaluate: {e}");
            return EXIT_USAGE;
        }
    };
    let reading = progress::spinner(&format!("reading {} table(s)", args.table.data.len()));
    let ds = table::read_files(&args.table.data, &options);
    reading.finish_and_clear();
    let ds = match ds {
        Ok(ds) => ds,
        Err(e) => {
            eprintln!("mqtt-ids evaluate: {e}");
            return EXIT_FAILURE;
        }
    };
    let mut results: Vec<Evaluation> = Vec::new();
    for params in &all_params {
        // One bar per model over all its splits: split `i` of `n` covers [i/n, (i+1)/n) and
        // its fit's steps fill that share.
        const SCALE: u64 = 1000;
        let bar = progress::fraction(params.kind());
        let (split, n_splits) = (AtomicUsize::new(0), AtomicUsize::new(1));
        let result = evaluate_with_progress(
            params,
            &ds,
            &protocol,
            &mut |done, total, label| {
                split.store(done, Ordering::Relaxed);
                n_splits.store(total.max(1), Ordering::Relaxed);
                bar.set_length(total.max(1) as u64 * SCALE);
                bar.set_position(done as u64 * SCALE);
                bar.set_message(if done < total {
                    format!("{} {label} ({}/{total})", params.kind(), done + 1)
                } else {
                    format!("{} {label}", params.kind())
                });
            },
            &|done, total| {
                let within = done as u64 * SCALE / total.max(1) as u64;
                bar.set_position(split.load(Ordering::Relaxed) as u64 * SCALE + within);
            },
        );
        bar.finish_and_clear();
        match result {
            Ok(e) => results.push(e),
            Err(e) => {
                eprintln!("mqtt-ids evaluate: {}: {e}", params.kind());
                return EXIT_FAILURE;
            }
        }
    }
    print!("{}", text_report(&results));
    if let Some(path) = &args.json {
        let json = serde_json::json!({
            "tool_version": env!("CARGO_PKG_VERSION"),
            "protocol": args.protocol,
            "data": args.table.data,
            "evaluations": results,
        });
        if let Err(e) = std::fs::write(path, serde_json::to_vec_pretty(&json).expect("JSON")) {
            eprintln!("mqtt-ids evaluate: {}: {e}", path.display());
            return EXIT_FAILURE;
        }
    }
    if let Some(path) = &args.csv {
        if let Err(e) = std::fs::write(path, csv_report(&results)) {
            eprintln!("mqtt-ids evaluate: {}: {e}", path.display());
            return EXIT_FAILURE;
        }
    }
    EXIT_OK
}

/// The report the protocol produces: pooled cross-validation, else the hold-out split.
fn headline(e: &Evaluation) -> Option<&ClassificationReport> {
    e.cross_validation
        .as_ref()
        .or(e.hold_out.as_ref().map(|h| &h.report))
}

fn fit_predict_seconds(e: &Evaluation) -> (f64, f64) {
    let splits = e.folds.iter().chain(e.hold_out.iter());
    splits.fold((0.0, 0.0), |(f, p), s| {
        (f + s.fit_seconds, p + s.predict_seconds)
    })
}

fn text_report(results: &[Evaluation]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<12} {:>9} {:>9} {:>9} {:>9} {:>10} {:>10}",
        "model", "accuracy", "bal.acc", "macro F1", "wtd F1", "fit s", "predict s"
    );
    for e in results {
        let Some(r) = headline(e) else { continue };
        let (fit, predict) = fit_predict_seconds(e);
        let _ = writeln!(
            out,
            "{:<12} {:>8.2}% {:>8.2}% {:>8.2}% {:>8.2}% {:>10.3} {:>10.3}",
            e.model,
            100.0 * r.accuracy,
            100.0 * r.balanced_accuracy,
            100.0 * r.macro_avg.f1,
            100.0 * r.weighted_avg.f1,
            fit,
            predict
        );
    }
    for e in results {
        let Some(r) = headline(e) else { continue };
        let _ = writeln!(out, "\n{}", e.model);
        let _ = writeln!(
            out,
            "  {:<20} {:>9} {:>9} {:>9} {:>9}",
            "class", "recall", "precision", "F1", "support"
        );
        for c in &r.per_class {
            let _ = writeln!(
                out,
                "  {:<20} {:>8.2}% {:>8.2}% {:>8.2}% {:>9}",
                c.class,
                100.0 * c.recall,
                100.0 * c.precision,
                100.0 * c.f1,
                c.support
            );
        }
        let w = &r.weighted_avg;
        let _ = writeln!(
            out,
            "  {:<20} {:>8.2}% {:>8.2}% {:>8.2}% {:>9}",
            "weighted average",
            100.0 * w.recall,
            100.0 * w.precision,
            100.0 * w.f1,
            w.support
        );
    }
    out
}

fn csv_report(results: &[Evaluation]) -> String {
    let mut out = String::from("model,class,precision,recall,f1,support\n");
    for e in results {
        let Some(r) = headline(e) else { continue };
        for c in &r.per_class {
            let _ = writeln!(
                out,
                "{},{},{},{},{},{}",
                e.model,
                csv_field(&c.class),
                c.precision,
                c.recall,
                c.f1,
                c.support
            );
        }
        for (name, a) in [
            ("macro avg", &r.macro_avg),
            ("weighted avg", &r.weighted_avg),
        ] {
            let _ = writeln!(
                out,
                "{},{name},{},{},{},{}",
                e.model, a.precision, a.recall, a.f1, a.support
            );
        }
    }
    out
}

/// RFC 4180: quote a field holding a comma, quote or line break.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
