//! mqtt-ids learning engine: feature tables, classifiers with scikit-learn's vocabulary in linfa's
//! shape (params → `check()` → `fit` → fitted model), evaluation protocols, metrics and model files.
// `unsafe` only in `gemm`, the one call into matrixmultiply, with a SAFETY line.
#![deny(unsafe_code)]

pub mod dataset;
pub mod error;
pub mod metrics;
pub mod rng;
pub mod split;
pub mod table;

pub use dataset::{Dataset, Matrix};
pub use error::{Error, Result};
pub mod lbfgs;
pub mod lr;
pub mod model;
pub mod nb;
pub mod scaler;

pub use model::{Classifier, Fit, ParamGuard};
pub mod dt;
pub mod estimator;
pub mod gb;
mod gemm;
pub mod knn;
pub mod mlp;
pub mod persist;
pub mod rf;
pub mod svm_linear;
pub mod tree;

pub use estimator::{Model, ModelParams};
pub use persist::{FeatureSchema, ModelFile};
pub mod evaluate;
pub mod svm_rbf;

pub use evaluate::{evaluate, Evaluation, Protocol};
