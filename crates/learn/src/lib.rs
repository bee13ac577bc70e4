//! mqtt-ids learning engine: feature tables, classifiers with scikit-learn's vocabulary in linfa's
//! shape (params → `check()` → `fit` → fitted model), evaluation protocols, metrics and model files.
//!
//! ```
//! use mqtt_ids_learn::{evaluate, Classifier, Dataset, Matrix, ModelParams, Protocol};
//!
//! // A table: records, class per row, class names, feature names (normally `table::read_files`).
//! let rows: Vec<Vec<f32>> = (0..40).map(|i| vec![i as f32, (i % 7) as f32]).collect();
//! let targets: Vec<usize> = (0..40).map(|i| (i >= 20) as usize).collect();
//! let ds = Dataset::new(
//!     Matrix::from_rows(&rows).unwrap(),
//!     targets,
//!     vec!["benign".into(), "attack".into()],
//!     vec!["num_pkts".into(), "mqtt_message_type".into()],
//! )
//! .unwrap();
//!
//! // `train`: a kind and a paper preset by name, then fit.
//! let params = ModelParams::from_name("dt", Some("mqttset2020")).unwrap();
//! let model = params.fit(&ds).unwrap();
//! assert_eq!(model.predict(&ds.records).unwrap(), ds.targets);
//!
//! // `evaluate`: a protocol by name, every split fitted, timed and scored.
//! let e = evaluate(&params, &ds, &Protocol::from_name("hindy2020").unwrap(), &mut |_, _, _| {}).unwrap();
//! assert_eq!(e.folds.len(), 5);
//! ```
// `unsafe` only in `gemm` (the one call into matrixmultiply) and in calls of kernels compiled
// for AVX2 after checking the processor has it (`lr`, `svm_rbf`, `thin`) and in `mlp`'s cache
// prefetch hint, each with a SAFETY line.
#![deny(unsafe_code)]

pub mod dataset;
pub mod encode;
pub mod error;
pub mod evaluate;
pub mod metrics;
pub mod persist;
pub mod rng;
pub mod split;
pub mod table;

pub mod estimator;
pub mod model;
pub mod scaler;

// Classifiers (one file each) and the solvers they share.
pub mod dt;
pub mod gb;
pub mod knn;
pub mod lbfgs;
pub mod lr;
pub mod mlp;
pub mod nb;
pub mod rf;
pub mod svm_linear;
pub mod svm_rbf;
pub mod tree;

mod exp;
mod gemm;
mod parquet_table;
mod thin;

pub use dataset::{Dataset, Matrix};
pub use encode::{producer_of, ColumnUse, Producer, RowEncoder};
pub use error::{Error, Result};
pub use estimator::{Model, ModelParams};
pub use evaluate::{evaluate, evaluate_with_progress, Evaluation, Protocol};
pub use model::{Classifier, Fit, ParamGuard, Progress};
pub use persist::{FeatureSchema, ModelFile};
pub use table::{Cell, CellEncoding};
