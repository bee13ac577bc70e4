//! `mqtt-ids train`: fit one classifier on feature tables and save it as a model file.

use std::path::PathBuf;
use std::time::Instant;

use mqtt_ids_learn::{table, FeatureSchema, ModelFile, ModelParams};

use crate::learn_args::TableArgs;
use crate::{progress, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Classifier: lr, knn, svm-rbf, svm-linear, nb, dt, rf, gb, mlp.
    #[arg(long)]
    model: String,
    /// Hyper-parameter preset: default, hindy2020, mqttset2020 (mlp also: keras).
    #[arg(long)]
    preset: Option<String>,
    /// Random seed (default: the preset's, as the paper used).
    #[arg(long)]
    seed: Option<u64>,
    /// Where to write the model file.
    #[arg(short = 'o', long = "output", value_name = "MODEL")]
    output: PathBuf,
    #[command(flatten)]
    table: TableArgs,
}

pub fn run(args: &Args) -> u8 {
    let mut params = match ModelParams::from_name(&args.model, args.preset.as_deref()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mqtt-ids train: {e}");
            return EXIT_USAGE;
        }
    };
    if let Some(seed) = args.seed {
        params = params.with_seed(seed);
    }
    let options = match args.table.options(args.preset.as_deref()) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("mqtt-ids train: {e}");
            return EXIT_USAGE;
        }
    };
    let reading = progress::spinner(&format!("reading {} table(s)", args.table.data.len()));
    let ds = table::read_files(&args.table.data, &options);
    reading.finish_and_clear();
    let ds = match ds {
        Ok(ds) => ds,
        Err(e) => {
            eprintln!("mqtt-ids train: {e}");
            return EXIT_FAILURE;
        }
    };
    let bar = progress::steps(&format!(
        "fitting {} on {} rows x {} features",
        params.kind(),
        ds.records.n_rows(),
        ds.feature_names.len()
    ));
    let start = Instant::now();
    let fitted = params.fit_with_progress(&ds, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    });
    bar.finish_and_clear();
    let model = match fitted {
        Ok(m) => m,
        Err(e) => {
            eprintln!("mqtt-ids train: {e}");
            return EXIT_FAILURE;
        }
    };
    let seconds = start.elapsed().as_secs_f64();
    let file = ModelFile::new(params, model, FeatureSchema::default());
    if let Err(e) = file.save(&args.output) {
        eprintln!("mqtt-ids train: {e}");
        return EXIT_FAILURE;
    }
    eprintln!(
        "{}: {} on {} rows, {} classes, fitted in {seconds:.3} s",
        args.output.display(),
        args.model,
        ds.records.n_rows(),
        ds.classes.len()
    );
    EXIT_OK
}
