//! `mqtt-ids train`: fit one classifier on feature tables and save it as a model file.

use std::path::PathBuf;
use std::time::Instant;

use mqtt_ids_learn::table::TableOptions;
use mqtt_ids_learn::{producer_of, table, CellEncoding, FeatureSchema, ModelFile, ModelParams};

use crate::learn_args::TableArgs;
use crate::{progress, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Classifier: lr, knn, svm-rbf, svm-linear, nb, dt, rf, gb, mlp. svm-rbf (an exact kernel
    /// SVM, O(n²)) fits on at most 20,000 rows: a larger table is cut to a seeded, stratified
    /// subsample of 20,000 rows (each class keeps its share).
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
    let schema = match feature_schema(&args.table.data, &options) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("mqtt-ids train: {e}");
            return EXIT_FAILURE;
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
    if let ModelParams::SvmRbf(p) = &params {
        if ds.records.n_rows() > p.max_train_rows {
            eprintln!(
                "note: svm-rbf was fitted on a seeded stratified subsample of {} of the {} rows \
                 (its row limit: exact kernel SVMs are O(n²))",
                p.max_train_rows,
                ds.records.n_rows()
            );
        }
    }
    let file = ModelFile::new(params, model, schema);
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

/// What the model file records about its features: the feature set and producer configuration
/// the tables' producer (`mqtt-ids extract`) recorded, when every table has the same, and how
/// cells were read (so `detect` computes the same records from traffic).
pub fn feature_schema(tables: &[PathBuf], options: &TableOptions) -> Result<FeatureSchema, String> {
    let mut producers = Vec::new();
    for path in tables {
        producers.push(producer_of(path).map_err(|e| e.to_string())?);
    }
    let mut schema = FeatureSchema {
        encoding: Some(CellEncoding::from(options)),
        ..FeatureSchema::default()
    };
    if let Some(Some(first)) = producers.first() {
        if let Some(other) = producers
            .iter()
            .flatten()
            .find(|p| p.set != first.set || p.schema_version != first.schema_version)
        {
            return Err(format!(
                "the tables come from different feature sets ({:?} v{:?} and {:?} v{:?}); train \
                 one model per set",
                first.set, first.schema_version, other.set, other.schema_version
            ));
        }
        if producers.iter().all(Option::is_some) {
            schema.feature_set = first.set.clone();
            schema.schema_version = first.schema_version;
            schema.producer_config = first.config.clone();
        }
    }
    Ok(schema)
}
