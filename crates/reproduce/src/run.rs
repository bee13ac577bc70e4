//! The orchestration: data (simulated, or a `--data` directory) → feature tables → the papers'
//! protocols → [`Results`]. Stages report their progress through an [`Observer`].

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use mqtt_ids_capture::{self as capture, ReaderOptions};
use mqtt_ids_features::{extract, CsvSink, ExtractOptions, Output, Outputs, SetKind};
use mqtt_ids_learn::metrics::ConfusionMatrix;
use mqtt_ids_learn::rng::Rng;
use mqtt_ids_learn::table::{self, LabelSource, TableOptions};
use mqtt_ids_learn::{evaluate_with_progress, Dataset, Evaluation, ModelParams, Protocol};

use crate::compare;
use crate::inputs::{self, is_legitimate, CaptureInput, Discovered, HindyLevel, LEGITIMATE};
use crate::published::{self, paper_class, HINDY_MODELS, MQTTSET_MODELS};
use crate::results::*;

/// Which papers to reproduce.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paper {
    Hindy2020,
    Mqttset2020,
}

impl Paper {
    pub fn name(self) -> &'static str {
        match self {
            Paper::Hindy2020 => "hindy2020",
            Paper::Mqttset2020 => "mqttset2020",
        }
    }
    /// `hindy2020`, `mqttset2020` or `all`.
    pub fn parse_list(name: &str) -> Result<Vec<Paper>, String> {
        match name {
            "hindy2020" => Ok(vec![Paper::Hindy2020]),
            "mqttset2020" => Ok(vec![Paper::Mqttset2020]),
            "all" => Ok(vec![Paper::Hindy2020, Paper::Mqttset2020]),
            other => Err(format!(
                "unknown paper `{other}`; expected hindy2020, mqttset2020 or all"
            )),
        }
    }
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Config {
    pub papers: Vec<Paper>,
    pub quick: bool,
    pub seed: u64,
    /// Captures and/or published tables; `None` simulates the papers' testbeds.
    pub data: Option<PathBuf>,
    /// Where everything is written (`features/`, `results.json`, the report).
    pub out_dir: PathBuf,
    /// The command line, for the provenance.
    pub command: Vec<String>,
    /// Rows given to each Hindy protocol run (per feature level), stratified subsample beyond.
    pub hindy_max_rows: usize,
    /// Rows given to each MQTTset protocol run, stratified subsample beyond.
    pub mqttset_max_rows: usize,
    /// Run both protocols on the `context` and `session` sets too (beyond the papers).
    pub beyond: bool,
    /// Rows (after Hindy's de-duplication) given to each Hindy protocol run on `context`/`session`.
    pub beyond_hindy_max_rows: usize,
    /// Rows given to each MQTTset protocol run on `context`/`session`.
    pub beyond_mqttset_max_rows: usize,
}

impl Config {
    /// The default budgets: a full run finishes in minutes on a 2-core machine, `--quick` in
    /// well under three.
    pub fn new(
        papers: Vec<Paper>,
        quick: bool,
        seed: u64,
        data: Option<PathBuf>,
        out_dir: PathBuf,
    ) -> Self {
        Config {
            papers,
            quick,
            seed,
            data,
            out_dir,
            command: std::env::args().collect(),
            hindy_max_rows: if quick { 4_000 } else { 40_000 },
            mqttset_max_rows: if quick { 6_000 } else { 600_000 },
            beyond: true,
            beyond_hindy_max_rows: if quick { 3_000 } else { 20_000 },
            beyond_mqttset_max_rows: if quick { 5_000 } else { 150_000 },
        }
    }
}

/// A progress report.
#[derive(Clone, Debug)]
pub enum Event<'a> {
    /// A stage begins; `total` steps (0: unknown), `bytes` when the steps are input bytes.
    Stage {
        name: &'a str,
        total: u64,
        bytes: bool,
    },
    /// `done` of the stage's steps, and what is being done.
    Progress { done: u64, message: &'a str },
    /// The stage ended.
    Done { seconds: f64 },
}

/// Receives progress reports (possibly from several threads).
pub type Observer<'a> = &'a (dyn Fn(Event<'_>) + Sync);

/// An observer that ignores everything.
pub fn quiet(_: Event<'_>) {}

struct Stages<'a> {
    observer: Observer<'a>,
    times: Vec<StageTime>,
}

impl Stages<'_> {
    fn run<T>(
        &mut self,
        name: &str,
        total: u64,
        bytes: bool,
        f: impl FnOnce(Observer<'_>) -> T,
    ) -> T {
        (self.observer)(Event::Stage { name, total, bytes });
        let start = Instant::now();
        let out = f(self.observer);
        let seconds = start.elapsed().as_secs_f64();
        (self.observer)(Event::Done { seconds });
        self.times.push(StageTime {
            stage: name.to_string(),
            seconds,
        });
        out
    }
}

/// Runs everything and returns the results (not yet written: see [`crate::write_report`]).
pub fn run(config: &Config, observer: Observer<'_>) -> Result<Results, String> {
    let started = Instant::now();
    let started_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    fs::create_dir_all(&config.out_dir)
        .map_err(|e| format!("cannot create {}: {e}", config.out_dir.display()))?;
    let mut stages = Stages {
        observer,
        times: Vec::new(),
    };
    let mut reductions = Vec::new();
    let (discovered, source, simulation) = match &config.data {
        Some(dir) => {
            let d = inputs::discover(dir)?;
            if d.is_empty() {
                return Err(format!(
                    "--data {}: no capture and no published table found (captures: pcap/pcapng; \
                     tables: MQTT-IoT-IDS2020 packet/uniflow_*/biflow_* CSVs, MQTTset \
                     train70*/test30* CSVs){}",
                    dir.display(),
                    if d.ignored.is_empty() {
                        String::new()
                    } else {
                        format!("; ignored: {}", ignored_list(&d))
                    }
                ));
            }
            let source = if d.captures.is_empty() {
                "published-csv"
            } else {
                "captures"
            };
            (d, source.to_string(), Vec::new())
        }
        None => {
            let (d, sim, times) = crate::simulation::simulate(config, observer)?;
            stages.times.extend(times);
            (d, "simulated".to_string(), sim)
        }
    };
    for (path, why) in &discovered.ignored {
        reductions.push(format!("ignored {}: {why}", path.display()));
    }
    let mut inputs_record = Vec::new();
    for c in &discovered.captures {
        inputs_record.push(InputRecord {
            path: c.path.display().to_string(),
            kind: "capture".into(),
            label: c.describe(),
            bytes: fs::metadata(&c.path).map(|m| m.len()).unwrap_or(0),
        });
    }
    let want_hindy = config.papers.contains(&Paper::Hindy2020);
    let want_mqttset = config.papers.contains(&Paper::Mqttset2020);

    // Feature tables from the captures.
    let features_dir = config.out_dir.join("features");
    let extracted = if discovered.captures.is_empty() {
        Extracted::default()
    } else {
        let total: u64 = discovered
            .captures
            .iter()
            .map(|c| {
                fs::metadata(&c.path).map(|m| m.len()).unwrap_or(0) * passes(c, &discovered) as u64
            })
            .sum();
        stages.run("extract features", total, true, |obs| {
            extract_captures(
                &discovered,
                want_hindy,
                want_mqttset,
                config.beyond,
                &features_dir,
                obs,
            )
        })?
    };

    let mut hindy = None;
    if want_hindy {
        let mut level_tables: Vec<(HindyLevel, Vec<PathBuf>, TableOptions)> = Vec::new();
        for level in HindyLevel::ALL {
            let published = &discovered.hindy_tables[level as usize];
            let ours = &extracted.hindy[level as usize];
            for p in published {
                inputs_record.push(InputRecord {
                    path: p.display().to_string(),
                    kind: format!("hindy-{}-csv", level.name()),
                    label: "class from the file name where is_attack agrees (the authors' code)"
                        .into(),
                    bytes: fs::metadata(p).map(|m| m.len()).unwrap_or(0),
                });
            }
            if !published.is_empty() {
                level_tables.push((level, published.clone(), TableOptions::hindy2020()));
            } else if !ours.is_empty() {
                let mut options = TableOptions::hindy2020();
                options.label = LabelSource::FileNameMatchingAttack {
                    column: "is_attack".into(),
                    benign: LEGITIMATE.into(),
                };
                level_tables.push((level, ours.clone(), options));
            }
        }
        if level_tables.is_empty() {
            reductions.push("Hindy et al.: no capture or MQTT-IoT-IDS2020 table to run on".into());
        } else {
            // Cross-validation for the tables (as the colleague's reading of the paper), and
            // the 75/25 hold-out the paper's text names, reported beside them.
            let protocol = Protocol::hindy2020();
            let n_steps = (level_tables.len() * HINDY_MODELS.len()) as u64;
            let levels = stages.run(
                "hindy2020: 7 classifiers x feature levels, 5-fold CV",
                n_steps,
                false,
                |obs| run_hindy(config, &protocol, &level_tables, obs, &mut reductions),
            )?;
            let mut beyond = Vec::new();
            let sets = beyond_tables(&extracted, "hindy2020");
            if config.beyond && !sets.is_empty() {
                let grouped = protocol.clone().grouped(true);
                beyond = stages.run(
                    "beyond the paper: hindy2020 protocol on context, session (grouped by connection)",
                    (sets.len() * HINDY_MODELS.len()) as u64,
                    false,
                    |obs| run_beyond_hindy(config, &grouped, &sets, obs, &mut reductions),
                )?;
            }
            hindy = Some(HindyRun {
                protocol,
                levels,
                beyond,
            });
        }
    }

    let mut mqttset = None;
    if want_mqttset {
        for pair in &discovered.mqttset_pairs {
            for (p, kind) in [
                (&pair.train, "mqttset-train-csv"),
                (&pair.test, "mqttset-test-csv"),
            ] {
                inputs_record.push(InputRecord {
                    path: p.display().to_string(),
                    kind: kind.into(),
                    label: "column target".into(),
                    bytes: fs::metadata(p).map(|m| m.len()).unwrap_or(0),
                });
            }
        }
        for p in &discovered.mqttset_tables {
            inputs_record.push(InputRecord {
                path: p.display().to_string(),
                kind: "mqttset-csv".into(),
                label: "column target".into(),
                bytes: fs::metadata(p).map(|m| m.len()).unwrap_or(0),
            });
        }
        let mut tables = discovered.mqttset_tables.clone();
        tables.extend(extracted.mqttset.iter().cloned());
        if discovered.mqttset_pairs.is_empty() && tables.is_empty() {
            reductions.push("Vaccari et al.: no capture or MQTTset table to run on".into());
        } else {
            let steps = 2 * MQTTSET_MODELS.len() as u64;
            let run = stages.run(
                "mqttset2020: 6 classifiers, 70/30 hold-out, unbalanced and balanced",
                steps,
                false,
                |obs| run_mqttset(config, &discovered, &tables, obs, &mut reductions),
            )?;
            let mut run = run;
            let sets = beyond_tables(&extracted, "mqttset2020");
            if config.beyond && !sets.is_empty() {
                run.beyond = stages.run(
                    "beyond the paper: mqttset2020 protocol on context, session (grouped by connection)",
                    (sets.len() * 2 * MQTTSET_MODELS.len()) as u64,
                    false,
                    |obs| run_beyond_mqttset(config, &sets, obs, &mut reductions),
                )?;
            }
            mqttset = Some(run);
        }
    }
    if config.quick {
        reductions.push(format!(
            "quick: at most {} rows per Hindy feature level and {} rows per MQTTset run \
             (stratified, seeded subsample)",
            config.hindy_max_rows, config.mqttset_max_rows
        ));
    }
    let mut results = Results {
        schema: SCHEMA.into(),
        provenance: Provenance {
            tool: "mqtt-ids reproduce".into(),
            tool_version: env!("CARGO_PKG_VERSION").into(),
            command: config.command.clone(),
            papers: config.papers.iter().map(|p| p.name().to_string()).collect(),
            quick: config.quick,
            seed: config.seed,
            source,
            data_dir: config.data.as_ref().map(|d| d.display().to_string()),
            simulation,
            inputs: inputs_record,
            reductions,
            machine: machine(),
            started_unix,
            stages: stages.times,
            wall_seconds: 0.0,
        },
        hindy2020: hindy,
        mqttset2020: mqttset,
        conclusions: Vec::new(),
        published: published::published(),
    };
    results.conclusions = compare::conclusions(&results);
    results.provenance.wall_seconds = started.elapsed().as_secs_f64();
    Ok(results)
}

fn ignored_list(d: &Discovered) -> String {
    d.ignored
        .iter()
        .map(|(p, why)| format!("{} ({why})", p.display()))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Feature tables written from the captures.
#[derive(Default)]
struct Extracted {
    /// Per Hindy level, one file per class.
    hindy: [Vec<PathBuf>; 3],
    /// One mqttset file per capture.
    mqttset: Vec<PathBuf>,
    /// One `context` and one `session` file per capture, with the paper the capture serves
    /// (`None`: both).
    context: Vec<(PathBuf, Option<String>)>,
    session: Vec<(PathBuf, Option<String>)>,
}

impl Extracted {
    /// The `context` or `session` files of captures that `paper` uses.
    fn beyond_files(&self, set: SetKind, paper: &str) -> Vec<PathBuf> {
        let list = if set == SetKind::Context {
            &self.context
        } else {
            &self.session
        };
        list.iter()
            .filter(|(_, p)| p.as_deref().is_none_or(|p| p == paper))
            .map(|(f, _)| f.clone())
            .collect()
    }
}

/// Whether the captures hold a capture of normal traffic only (then, as Hindy et al.'s code
/// does, the background traffic inside attack captures is left out of the Hindy tables).
fn has_pure_legitimate(d: &Discovered) -> bool {
    d.captures
        .iter()
        .filter(|c| c.serves("hindy2020"))
        .any(|c| c.classes().iter().all(|k| is_legitimate(k)))
}

/// The Hindy passes over a capture: one per attack class it holds, plus one for its
/// legitimate rows where they are used.
fn hindy_passes(c: &CaptureInput, d: &Discovered) -> Vec<Option<String>> {
    let classes = c.classes();
    let attacks: Vec<String> = classes
        .iter()
        .filter(|k| !is_legitimate(k))
        .cloned()
        .collect();
    let mut passes: Vec<Option<String>> = attacks.into_iter().map(Some).collect();
    if passes.is_empty() || !has_pure_legitimate(d) {
        passes.push(None);
    }
    passes
}

fn passes(c: &CaptureInput, d: &Discovered) -> usize {
    hindy_passes(c, d).len().max(1)
}

fn csv_output(path: &Path, set: SetKind) -> Result<Output, String> {
    let file = File::create(path).map_err(|e| format!("cannot create {}: {e}", path.display()))?;
    let writer: Box<dyn mqtt_ids_features::LineOut + Send> = Box::new(file);
    // The mqttset set writes absent fields as 0, as the published MQTTset CSVs do.
    let absent = if set == SetKind::Mqttset { "0" } else { "" };
    CsvSink::new(writer, set.schema(), absent)
        .map(Output::Csv)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Extracts the sets the papers need: Hindy's three levels into one file per class
/// (`<set>_<class>.csv`, read with the class from the file name where `is_attack` agrees, the
/// authors' way), MQTTset's into one file per capture (its `target` column holds the class).
fn extract_captures(
    d: &Discovered,
    hindy: bool,
    mqttset: bool,
    beyond: bool,
    dir: &Path,
    obs: Observer<'_>,
) -> Result<Extracted, String> {
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    // Open Hindy outputs per class, kept across captures of the same class.
    let mut class_outputs: BTreeMap<String, Outputs> = BTreeMap::new();
    let mut out = Extracted::default();
    let mut done_bytes = 0u64;
    let mut stems = BTreeMap::new();
    for c in &d.captures {
        let size = fs::metadata(&c.path).map(|m| m.len()).unwrap_or(0);
        let hindy = hindy && c.serves("hindy2020");
        let mqttset = mqttset && c.serves("mqttset2020");
        let passes = if hindy {
            hindy_passes(c, d)
        } else {
            vec![None]
        };
        let mut stem = inputs::stem(&c.path);
        let n = stems.entry(stem.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            stem = format!("{stem}-{n}");
        }
        for (i, pass) in passes.iter().enumerate() {
            let file_class = pass.clone().unwrap_or_else(|| {
                if c.classes().iter().all(|k| is_legitimate(k))
                    || !c.rules.is_empty()
                    || !c.attackers.is_empty()
                {
                    LEGITIMATE.to_string()
                } else {
                    c.class.clone()
                }
            });
            let mut outputs = Outputs::default();
            if hindy {
                if let Some(o) = class_outputs.remove(&file_class) {
                    outputs = o;
                } else {
                    for (level, set) in [
                        (HindyLevel::Packet, SetKind::Packet),
                        (HindyLevel::Uniflow, SetKind::Uniflow),
                        (HindyLevel::Biflow, SetKind::Biflow),
                    ] {
                        let path = dir.join(format!("{}_{file_class}.csv", set.name()));
                        let o = Some(csv_output(&path, set)?);
                        out.hindy[level as usize].push(path);
                        match level {
                            HindyLevel::Packet => outputs.packet = o,
                            HindyLevel::Uniflow => outputs.uniflow = o,
                            HindyLevel::Biflow => outputs.biflow = o,
                        }
                    }
                }
            }
            let mqttset_path = (mqttset && i == 0).then(|| dir.join(format!("mqttset_{stem}.csv")));
            if let Some(p) = &mqttset_path {
                outputs.mqttset = Some(csv_output(p, SetKind::Mqttset)?);
            }
            // This tool's context and session sets, from the first pass (its labels are the
            // capture's own where the capture holds one attack class, as the simulated ones do).
            let beyond_paths = (beyond && (hindy || mqttset) && i == 0).then(|| {
                (
                    dir.join(format!("context_{stem}.csv")),
                    dir.join(format!("session_{stem}.csv")),
                )
            });
            if let Some((cp, sp)) = &beyond_paths {
                outputs.context = Some(csv_output(cp, SetKind::Context)?);
                outputs.session = Some(csv_output(sp, SetKind::Session)?);
            }
            let options = ExtractOptions {
                labels: c.labeler(pass.as_deref()),
                ..ExtractOptions::default()
            };
            let path_text = c.path.to_string_lossy().into_owned();
            let mut reader = capture::open(&path_text, ReaderOptions::default())
                .map_err(|e| format!("{e}; remove the file from --data or repair it"))?;
            let message = format!(
                "{} ({})",
                inputs::stem(&c.path),
                pass.as_deref().unwrap_or("all rows")
            );
            let report = extract(&mut reader, &options, &mut outputs, &mut |bytes| {
                obs(Event::Progress {
                    done: done_bytes + bytes.min(size),
                    message: &message,
                })
            })
            .map_err(|e| format!("{}: writing features failed: {e}", c.path.display()))?;
            if let Some(e) = report.input_error {
                // Everything before the fault was used; say so rather than stop.
                eprintln!("mqtt-ids reproduce: {e}; the rows before it are used");
            }
            done_bytes += size;
            if let Some(m) = outputs.mqttset.take() {
                m.finish()
                    .map_err(|e| format!("finishing mqttset features: {e}"))?;
                out.mqttset.push(mqttset_path.expect("path of the output"));
            }
            if let Some((cp, sp)) = beyond_paths {
                for o in [outputs.context.take(), outputs.session.take()]
                    .into_iter()
                    .flatten()
                {
                    o.finish()
                        .map_err(|e| format!("finishing context/session features: {e}"))?;
                }
                let serves = match (hindy, mqttset) {
                    (true, true) => None,
                    (true, false) => Some("hindy2020".to_string()),
                    _ => Some("mqttset2020".to_string()),
                };
                out.context.push((cp, serves.clone()));
                out.session.push((sp, serves));
            }
            if hindy {
                class_outputs.insert(file_class, outputs);
            }
        }
    }
    for (_, outputs) in class_outputs {
        for o in [outputs.packet, outputs.uniflow, outputs.biflow]
            .into_iter()
            .flatten()
        {
            o.finish()
                .map_err(|e| format!("finishing feature tables: {e}"))?;
        }
    }
    Ok(out)
}

/// A seeded, stratified subsample of at most `max` rows: each class keeps its share, and at
/// least `min(rows, 50)` rows, so small classes do not vanish.
pub fn cap_rows(ds: &Dataset, max: usize, seed: u64) -> Dataset {
    let n = ds.n_rows();
    if n <= max {
        return ds.clone();
    }
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); ds.n_classes()];
    for (i, &t) in ds.targets.iter().enumerate() {
        by_class[t].push(i);
    }
    let mut rng = Rng::new(seed);
    let mut keep = Vec::with_capacity(max);
    for mut rows in by_class {
        let share = (rows.len() as f64 * max as f64 / n as f64).round() as usize;
        let k = share.max(rows.len().min(50)).min(rows.len());
        rng.shuffle(&mut rows);
        keep.extend_from_slice(&rows[..k]);
    }
    keep.sort_unstable();
    ds.select(&keep)
}

fn table_info(
    files: &[PathBuf],
    read: &Dataset,
    used: &Dataset,
    evaluated: usize,
    paper: &str,
) -> TableInfo {
    let counts = used.class_counts();
    TableInfo {
        files: files.iter().map(|p| p.display().to_string()).collect(),
        rows_read: read.n_rows(),
        rows_used: used.n_rows(),
        rows_evaluated: evaluated,
        features: used.feature_names.clone(),
        classes: used
            .classes
            .iter()
            .zip(counts)
            .map(|(c, rows)| ClassCount {
                class: c.clone(),
                paper_class: paper_class(paper, c).map(String::from),
                rows,
            })
            .collect(),
    }
}

fn model_run(model: &str, label: &str, preset: &str, e: Evaluation) -> ModelRun {
    let report = e
        .cross_validation
        .clone()
        .or_else(|| e.hold_out.as_ref().map(|h| h.report.clone()))
        .expect("a protocol has folds or a hold-out");
    let splits: Vec<SplitRun> = e
        .folds
        .iter()
        .chain(e.hold_out.iter())
        .map(|s| SplitRun {
            split: s.split.clone(),
            n_train: s.n_train,
            n_test: s.n_test,
            fit_seconds: s.fit_seconds,
            predict_seconds: s.predict_seconds,
            accuracy: s.report.accuracy,
        })
        .collect();
    ModelRun {
        model: model.into(),
        label: label.into(),
        preset: preset.into(),
        params: e.params,
        report,
        fit_seconds: splits.iter().map(|s| s.fit_seconds).sum(),
        predict_seconds: splits.iter().map(|s| s.predict_seconds).sum(),
        splits,
    }
}

/// Hindy et al.'s seven classifiers with their presets under `protocol` on one table, one
/// progress step each from `*step` on.
fn hindy_models(
    table: &str,
    ds: &Dataset,
    protocol: &Protocol,
    obs: Observer<'_>,
    step: &mut u64,
) -> Result<Vec<ModelRun>, String> {
    let mut models = Vec::new();
    for (model, label) in HINDY_MODELS {
        let params = ModelParams::from_name(model, Some("hindy2020")).map_err(|e| e.to_string())?;
        let message = format!("{table} {label}");
        let e = evaluate_step(&params, ds, protocol, obs, *step, &message)?;
        models.push(model_run(model, label, "hindy2020", e));
        *step += 1;
    }
    Ok(models)
}

/// Evaluates one model, reporting split and fit progress as a fraction of step `step`.
fn evaluate_step(
    params: &ModelParams,
    ds: &Dataset,
    protocol: &Protocol,
    obs: Observer<'_>,
    step: u64,
    message: &str,
) -> Result<Evaluation, String> {
    const SCALE: u64 = 1000;
    let split = Mutex::new((0usize, 1usize));
    let report = |within: u64| {
        let (s, n) = *split.lock().expect("progress lock");
        let frac = (s as u64 * SCALE + within) / n.max(1) as u64;
        obs(Event::Progress {
            done: step * SCALE + frac.min(SCALE),
            message,
        });
    };
    evaluate_with_progress(
        params,
        ds,
        protocol,
        &mut |done, total, _| {
            *split.lock().expect("progress lock") = (done, total.max(1));
            report(0);
        },
        &|done, total| report(done as u64 * SCALE / total.max(1) as u64),
    )
    .map_err(|e| format!("{message}: {e}"))
}

fn run_hindy(
    config: &Config,
    protocol: &Protocol,
    tables: &[(HindyLevel, Vec<PathBuf>, TableOptions)],
    obs: Observer<'_>,
    reductions: &mut Vec<String>,
) -> Result<Vec<LevelRun>, String> {
    let mut levels = Vec::new();
    let mut step = 0u64;
    for (level, files, options) in tables {
        obs(Event::Progress {
            done: step * 1000,
            message: &format!("reading {} tables", level.name()),
        });
        let read = table::read_files(files, options)
            .map_err(|e| format!("{} features: {e}", level.name()))?;
        // The protocol removes duplicate rows first; doing it before the cap makes the cap
        // count distinct rows (packet rows repeat a lot once addresses and ports are dropped).
        let unique = mqtt_ids_learn::split::dedupe(&read);
        let used = cap_rows(&unique, config.hindy_max_rows, config.seed);
        if used.n_rows() < unique.n_rows() {
            reductions.push(format!(
                "Hindy {}: {} of {} distinct rows ({} read; stratified subsample, seed {})",
                level.name(),
                used.n_rows(),
                unique.n_rows(),
                read.n_rows(),
                config.seed
            ));
        }
        if used.n_classes() < 2 {
            return Err(format!(
                "Hindy {}: the features hold {} class(es) ({}); at least two are needed",
                level.name(),
                used.n_classes(),
                used.classes.join(", ")
            ));
        }
        let models = hindy_models(level.name(), &used, protocol, obs, &mut step)?;
        levels.push(LevelRun {
            level: level.name().into(),
            // `used` is a subsample of `unique`: its rows are distinct already.
            table: table_info(files, &read, &used, used.n_rows(), "hindy2020"),
            models,
        });
    }
    Ok(levels)
}

/// MQTTset's six classifiers with their presets (`nn` is the paper's Keras network).
fn mqttset_params(model: &str) -> Result<(ModelParams, &'static str), String> {
    let (kind, preset) = match model {
        "nn" => ("mlp", "keras"),
        other => (other, "mqttset2020"),
    };
    let kind: &str = kind;
    ModelParams::from_name(kind, Some(preset))
        .map(|p| (p, preset))
        .map_err(|e| e.to_string())
}

/// The paper's balanced dataset: legitimate rows as they are and every attack class replicated
/// (whole copies, then a seeded sample) to the legitimate count divided by the number of attack
/// classes, so attacks and legitimate traffic weigh the same (10 M rows: 2 M per attack class).
pub fn paper_balance(ds: &Dataset, seed: u64) -> Dataset {
    let counts = ds.class_counts();
    let legit: Vec<usize> = (0..ds.n_classes())
        .filter(|&c| is_legitimate(&ds.classes[c]))
        .collect();
    let n_legit: usize = legit.iter().map(|&c| counts[c]).sum();
    let attacks: Vec<usize> = (0..ds.n_classes())
        .filter(|&c| !legit.contains(&c) && counts[c] > 0)
        .collect();
    let per_attack = if attacks.is_empty() || n_legit == 0 {
        counts.iter().copied().max().unwrap_or(0)
    } else {
        n_legit / attacks.len()
    };
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); ds.n_classes()];
    for (i, &t) in ds.targets.iter().enumerate() {
        by_class[t].push(i);
    }
    let mut rng = Rng::new(seed);
    let mut rows = Vec::new();
    for (c, class_rows) in by_class.into_iter().enumerate() {
        if class_rows.is_empty() {
            continue;
        }
        if legit.contains(&c) && !attacks.is_empty() {
            rows.extend_from_slice(&class_rows);
            continue;
        }
        let m = class_rows.len();
        for _ in 0..per_attack / m {
            rows.extend_from_slice(&class_rows);
        }
        let mut rest = class_rows;
        rng.shuffle(&mut rest);
        rows.extend_from_slice(&rest[..per_attack % m]);
    }
    rng.shuffle(&mut rows);
    ds.select(&rows)
}

/// Puts two datasets on one sorted class list.
fn align(a: Dataset, b: Dataset) -> Result<(Dataset, Dataset), String> {
    if a.feature_names != b.feature_names {
        return Err("the train70 and test30 tables have different columns".into());
    }
    let mut classes: Vec<String> = a.classes.iter().chain(&b.classes).cloned().collect();
    classes.sort();
    classes.dedup();
    let remap = |d: Dataset| -> Result<Dataset, String> {
        let map: Vec<usize> = d
            .classes
            .iter()
            .map(|c| classes.binary_search(c).expect("class in union"))
            .collect();
        let targets = d.targets.iter().map(|&t| map[t]).collect();
        Dataset::new(d.records, targets, classes.clone(), d.feature_names)
            .map_err(|e| e.to_string())
    };
    Ok((remap(a)?, remap(b)?))
}

/// Fits on `train`, scores on `test` (the published train70/test30 split).
fn given_split(
    params: &ModelParams,
    train: &Dataset,
    test: &Dataset,
    obs: Observer<'_>,
    step: u64,
    message: &str,
) -> Result<Evaluation, String> {
    let t = Instant::now();
    let model = params
        .fit_with_progress(train, &|done, total| {
            obs(Event::Progress {
                done: step * 1000 + (done as u64 * 1000 / total.max(1) as u64).min(999),
                message,
            })
        })
        .map_err(|e| format!("{message}: {e}"))?;
    let fit_seconds = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let pred =
        mqtt_ids_learn::Classifier::predict(&model, &test.records).map_err(|e| e.to_string())?;
    let predict_seconds = t.elapsed().as_secs_f64();
    let report = ConfusionMatrix::new(&test.targets, &pred, &test.classes).report();
    let per_s = |n: usize, s: f64| if s > 0.0 { n as f64 / s } else { 0.0 };
    Ok(Evaluation {
        model: params.kind().into(),
        params: params.clone(),
        protocol: Protocol {
            name: "published train70/test30".into(),
            dedupe: false,
            k_fold: None,
            hold_out: None,
            balance: None,
            grouped: false,
        },
        n_rows: train.n_rows() + test.n_rows(),
        folds: Vec::new(),
        cross_validation: None,
        hold_out: Some(mqtt_ids_learn::evaluate::SplitResult {
            split: "hold-out".into(),
            n_train: train.n_rows(),
            n_test: test.n_rows(),
            fit_seconds,
            predict_seconds,
            fit_rows_per_second: per_s(train.n_rows(), fit_seconds),
            predict_rows_per_second: per_s(test.n_rows(), predict_seconds),
            report,
        }),
    })
}

fn run_mqttset(
    config: &Config,
    d: &Discovered,
    tables: &[PathBuf],
    obs: Observer<'_>,
    reductions: &mut Vec<String>,
) -> Result<MqttsetRun, String> {
    let options = TableOptions::mqttset2020();
    let protocol = Protocol::mqttset2020();
    let mut variants = Vec::new();
    let mut step = 0u64;
    let pair = |suffix: &str| d.mqttset_pairs.iter().find(|p| p.suffix == suffix);
    let plain = pair("")
        .or_else(|| pair("_reduced"))
        .or_else(|| d.mqttset_pairs.iter().find(|p| p.suffix != "_augmented"));
    let augmented = pair("_augmented");
    for variant in ["unbalanced", "balanced"] {
        let given = if variant == "balanced" {
            augmented.or(plain)
        } else {
            plain.or(augmented)
        };
        let mut models = Vec::new();
        let (info, how) = if let (Some(p), true) = (given, tables.is_empty()) {
            let read_train = table::read_files(&[&p.train], &options).map_err(|e| e.to_string())?;
            let read_test = table::read_files(&[&p.test], &options).map_err(|e| e.to_string())?;
            let (train, test) = align(read_train, read_test)?;
            let cap_train = config.mqttset_max_rows * 7 / 10;
            let cap_test = config.mqttset_max_rows - cap_train;
            let mut train_used = cap_rows(&train, cap_train, config.seed);
            let test_used = cap_rows(&test, cap_test, config.seed);
            let mut how = format!(
                "published split {} / {}",
                p.train.display(),
                p.test.display()
            );
            if variant == "balanced" && p.suffix != "_augmented" {
                train_used = paper_balance(&train_used, config.seed);
                how.push_str("; training side balanced as the paper (attack classes replicated to the legitimate count / attack classes)");
            }
            if train_used.n_rows() < train.n_rows() || test_used.n_rows() < test.n_rows() {
                reductions.push(format!(
                    "MQTTset {variant}: {} of {} training and {} of {} test rows (stratified subsample, seed {})",
                    train_used.n_rows(), train.n_rows(), test_used.n_rows(), test.n_rows(), config.seed
                ));
            }
            for (model, label) in MQTTSET_MODELS {
                let (params, preset) = mqttset_params(model)?;
                let message = format!("{variant} {label}");
                let e = given_split(&params, &train_used, &test_used, obs, step, &message)?;
                models.push(model_run(model, label, preset, e));
                step += 1;
            }
            let files = vec![p.train.clone(), p.test.clone()];
            let n = train_used.n_rows() + test_used.n_rows();
            (
                table_info(&files, &train, &train_used, n, "mqttset2020"),
                how,
            )
        } else {
            obs(Event::Progress {
                done: step * 1000,
                message: "reading mqttset tables",
            });
            let read = table::read_files(tables, &options)
                .map_err(|e| format!("mqttset features: {e}"))?;
            let capped = cap_rows(&read, config.mqttset_max_rows, config.seed);
            if capped.n_rows() < read.n_rows() && variant == "unbalanced" {
                reductions.push(format!(
                    "MQTTset: {} of {} rows (stratified subsample, seed {})",
                    capped.n_rows(),
                    read.n_rows(),
                    config.seed
                ));
            }
            if capped.n_classes() < 2 {
                return Err(format!(
                    "MQTTset: the features hold {} class(es) ({}); at least two are needed",
                    capped.n_classes(),
                    capped.classes.join(", ")
                ));
            }
            let (used, how) = if variant == "balanced" {
                (
                    paper_balance(&capped, config.seed),
                    "balanced as the paper: every attack class replicated to the legitimate count \
                     divided by the number of attack classes, before the 70/30 split (seed 7), so \
                     copies of a row can sit on both sides, as in the paper"
                        .to_string(),
                )
            } else {
                (
                    capped,
                    "70/30 hold-out, seed 7, not stratified (the paper's)".to_string(),
                )
            };
            for (model, label) in MQTTSET_MODELS {
                let (params, preset) = mqttset_params(model)?;
                let message = format!("{variant} {label}");
                let e = evaluate_step(&params, &used, &protocol, obs, step, &message)?;
                models.push(model_run(model, label, preset, e));
                step += 1;
            }
            let n = used.n_rows();
            (table_info(tables, &read, &used, n, "mqttset2020"), how)
        };
        variants.push(VariantRun {
            variant: variant.into(),
            how,
            table: info,
            models,
        });
    }
    Ok(MqttsetRun {
        protocol,
        variants,
        beyond: Vec::new(),
    })
}

/// The `context` and `session` tables of the captures `paper` uses (none when the data held
/// no capture, e.g. only published CSVs).
fn beyond_tables(extracted: &Extracted, paper: &str) -> Vec<(SetKind, Vec<PathBuf>)> {
    [SetKind::Context, SetKind::Session]
        .into_iter()
        .map(|set| (set, extracted.beyond_files(set, paper)))
        .filter(|(_, files)| !files.is_empty())
        .collect()
}

/// How the `context` and `session` tables are read: the class from `target`, the connection
/// (`conn_id`, per capture file) as the row group, neither of them nor `final` a feature (the
/// sets hold no address or port).
fn beyond_options(missing_value: f32) -> TableOptions {
    TableOptions {
        exclude: vec!["conn_id".into(), "final".into(), "target".into()],
        group_columns: vec!["conn_id".into()],
        missing_value,
        ..TableOptions::with_label_column("target")
    }
}

fn read_beyond(set: SetKind, files: &[PathBuf], options: &TableOptions) -> Result<Dataset, String> {
    let ds =
        table::read_files(files, options).map_err(|e| format!("{} features: {e}", set.name()))?;
    if ds.n_classes() < 2 {
        return Err(format!(
            "{}: the features hold {} class(es) ({}); at least two are needed",
            set.name(),
            ds.n_classes(),
            ds.classes.join(", ")
        ));
    }
    Ok(ds)
}

/// Hindy's seven classifiers and protocol (de-duplicated, 5-fold CV and the 75/25 hold-out),
/// every split grouped by connection, on `context` and `session`.
fn run_beyond_hindy(
    config: &Config,
    protocol: &Protocol,
    sets: &[(SetKind, Vec<PathBuf>)],
    obs: Observer<'_>,
    reductions: &mut Vec<String>,
) -> Result<Vec<LevelRun>, String> {
    let mut out = Vec::new();
    let mut step = 0u64;
    for (set, files) in sets {
        obs(Event::Progress {
            done: step * 1000,
            message: &format!("reading {} tables", set.name()),
        });
        // Hindy's preset reads empty cells as -1 (`fillna(-1)`).
        let read = read_beyond(*set, files, &beyond_options(-1.0))?;
        let unique = mqtt_ids_learn::split::dedupe(&read);
        let used = cap_rows(&unique, config.beyond_hindy_max_rows, config.seed);
        if used.n_rows() < unique.n_rows() {
            reductions.push(format!(
                "beyond the paper, Hindy protocol on {}: {} of {} distinct rows ({} read; stratified subsample, seed {}; a connection's remaining rows stay in one fold)",
                set.name(),
                used.n_rows(),
                unique.n_rows(),
                read.n_rows(),
                config.seed
            ));
        }
        let models = hindy_models(set.name(), &used, protocol, obs, &mut step)?;
        out.push(LevelRun {
            level: set.name().into(),
            table: table_info(files, &read, &used, used.n_rows(), "hindy2020"),
            models,
        });
    }
    Ok(out)
}

/// MQTTset's six classifiers and 70/30 hold-out (unbalanced, and balanced as the paper), the
/// split grouped by connection, on `context` and `session`.
fn run_beyond_mqttset(
    config: &Config,
    sets: &[(SetKind, Vec<PathBuf>)],
    obs: Observer<'_>,
    reductions: &mut Vec<String>,
) -> Result<Vec<SetRun>, String> {
    let protocol = Protocol::mqttset2020().grouped(true);
    let mut out = Vec::new();
    let mut step = 0u64;
    for (set, files) in sets {
        obs(Event::Progress {
            done: step * 1000,
            message: &format!("reading {} tables", set.name()),
        });
        let read = read_beyond(*set, files, &beyond_options(0.0))?;
        let capped = cap_rows(&read, config.beyond_mqttset_max_rows, config.seed);
        if capped.n_rows() < read.n_rows() {
            reductions.push(format!(
                "beyond the paper, MQTTset protocol on {}: {} of {} rows (stratified subsample, seed {}; a connection's remaining rows stay on one side)",
                set.name(),
                capped.n_rows(),
                read.n_rows(),
                config.seed
            ));
        }
        let mut variants = Vec::new();
        for variant in ["unbalanced", "balanced"] {
            let (used, how) = if variant == "balanced" {
                (
                    paper_balance(&capped, config.seed),
                    "balanced as the paper (attack classes replicated to the legitimate count \
                     divided by the number of attack classes), then the 70/30 hold-out (seed 7) \
                     grouped by connection, so a row and its copies stay on one side"
                        .to_string(),
                )
            } else {
                (
                    capped.clone(),
                    "70/30 hold-out (seed 7) grouped by connection".to_string(),
                )
            };
            let mut models = Vec::new();
            for (model, label) in MQTTSET_MODELS {
                let (params, preset) = mqttset_params(model)?;
                let message = format!("{} {variant} {label}", set.name());
                let e = evaluate_step(&params, &used, &protocol, obs, step, &message)?;
                models.push(model_run(model, label, preset, e));
                step += 1;
            }
            let n = used.n_rows();
            variants.push(VariantRun {
                variant: variant.into(),
                how,
                table: table_info(files, &read, &used, n, "mqttset2020"),
                models,
            });
        }
        out.push(SetRun {
            set: set.name().into(),
            variants,
        });
    }
    Ok(out)
}

/// The machine, as far as the standard library and /proc tell.
pub fn machine() -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let memory_bytes = fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines()
            .find(|l| l.starts_with("MemTotal:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    let load_average = fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "));
    Machine {
        os: std::env::consts::OS.into(),
        arch: std::env::consts::ARCH.into(),
        cpu,
        threads: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        memory_bytes,
        load_average,
    }
}
