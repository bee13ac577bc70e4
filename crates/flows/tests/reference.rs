//! Reference comparison: on every shared capture, the uni-flow and bi-flow rows of a
//! [`FlowTable`] in capture mode summarise to what `tests/reference/flows_ref.py` (dpkt + numpy,
//! the reference script's arithmetic taken literally: per-flow lists, sort, `np.diff`, `np.std`)
//! wrote in `tests/reference/expected_flows.tsv` — the command is on its first line.
//!
//! Per capture and set: the row count and an FNV-1a 64 hash of the integer and address columns
//! row by row in output order must be equal; each float column's sum over the rows must agree to
//! a relative 1e-9 (the running statistics add in another order than numpy).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use mqtt_ids_capture::{decode, open, ReaderOptions};
use mqtt_ids_flows::{
    BiFlow, FlowConfig, FlowSink, FlowStats, FlowTable, UniFlow, Value, BIFLOW_COLUMNS,
    UNIFLOW_COLUMNS,
};

const FNV_OFFSET: u64 = 0xCBF2_9CE4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01B3;
const RELATIVE_TOLERANCE: f64 = 1e-9;

fn shared_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if dir.is_dir() {
        Some(dir)
    } else if std::env::var_os("CI").is_some() {
        panic!("{} is missing: CI must run beside shared/", dir.display());
    } else {
        eprintln!("skipping: {} not found", dir.display());
        None
    }
}

/// The summary flows_ref.py prints for one set of rows.
struct Summary {
    columns: &'static [&'static str],
    rows: u64,
    hash: u64,
    /// (column name, sum) for the float columns, in column order.
    sums: Vec<(&'static str, f64)>,
    line: String,
}

impl Summary {
    fn new(columns: &'static [&'static str]) -> Self {
        Summary {
            columns,
            rows: 0,
            hash: FNV_OFFSET,
            sums: Vec::new(),
            line: String::new(),
        }
    }

    fn add(&mut self, row: &[Value]) {
        assert_eq!(row.len(), self.columns.len());
        self.line.clear();
        let mut floats = 0;
        for (name, value) in self.columns.iter().zip(row) {
            match value {
                Value::Float(x) => {
                    if self.rows == 0 {
                        self.sums.push((name, 0.0));
                    }
                    self.sums[floats].1 += x;
                    floats += 1;
                    continue;
                }
                Value::Addr(a) => {
                    let octets = match a {
                        std::net::IpAddr::V4(a) => a.octets().to_vec(),
                        std::net::IpAddr::V6(a) => a.octets().to_vec(),
                    };
                    for b in octets {
                        write!(self.line, "{b:02x}").unwrap();
                    }
                }
                Value::Int(n) => write!(self.line, "{n}").unwrap(),
            }
            self.line.push('\t');
        }
        self.line.pop();
        self.line.push('\n');
        for b in self.line.bytes() {
            self.hash = (self.hash ^ u64::from(b)).wrapping_mul(FNV_PRIME);
        }
        self.rows += 1;
    }

    /// Differences from an expected line's fields (rows, hash, then `name=sum` cells); `worst`
    /// keeps the largest relative difference of a sum.
    fn compare(&self, fields: &[&str], worst: &mut f64) -> Vec<String> {
        let mut bad = Vec::new();
        if fields[0].parse::<u64>().unwrap() != self.rows {
            bad.push(format!("rows: ours {} reference {}", self.rows, fields[0]));
        }
        if u64::from_str_radix(fields[1], 16).unwrap() != self.hash {
            bad.push(format!(
                "key hash: ours {:016x} reference {}",
                self.hash, fields[1]
            ));
        }
        let cells = &fields[2..];
        if self.rows > 0 && cells.len() != self.sums.len() {
            bad.push(format!(
                "{} float columns, reference {}",
                self.sums.len(),
                cells.len()
            ));
        }
        for (i, cell) in cells.iter().enumerate() {
            let (name, want) = cell.split_once('=').unwrap();
            let want: f64 = want.parse().unwrap();
            let (ours_name, got) = self.sums.get(i).copied().unwrap_or((name, 0.0));
            let scale = got.abs().max(want.abs());
            let relative = if scale == 0.0 {
                0.0
            } else {
                (got - want).abs() / scale
            };
            *worst = worst.max(relative);
            let close = relative <= RELATIVE_TOLERANCE;
            if ours_name != name || !close {
                bad.push(format!(
                    "{name}: ours {ours_name}={got:?} reference {want:?}"
                ));
            }
        }
        bad
    }
}

struct Summaries {
    uni: Summary,
    bi: Summary,
}

impl FlowSink for Summaries {
    fn uniflow(&mut self, flow: &UniFlow) {
        self.uni.add(&flow.row());
    }
    fn biflow(&mut self, flow: &BiFlow) {
        self.bi.add(&flow.row());
    }
}

fn run(path: &Path) -> (Summaries, FlowStats) {
    let mut reader =
        open(path.to_str().unwrap(), ReaderOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut table = FlowTable::new(FlowConfig::default());
    let mut out = Summaries {
        uni: Summary::new(&UNIFLOW_COLUMNS),
        bi: Summary::new(&BIFLOW_COLUMNS),
    };
    while let Some(frame) = reader.next_frame().unwrap_or_else(|e| panic!("{e}")) {
        table.on_packet(&decode(frame), &mut out);
    }
    table.finish(&mut out);
    (out, table.stats())
}

#[test]
fn every_shared_capture_matches_the_reference_script() {
    let Some(root) = shared_data() else { return };
    let expected = include_str!("reference/expected_flows.tsv");
    let mut current: Option<(String, Summaries)> = None;
    let (mut captures, mut uni_rows, mut bi_rows) = (0, 0, 0);
    let mut mismatches = Vec::new();
    let mut worst = 0.0f64;
    for line in expected.lines().filter(|l| !l.starts_with('#')) {
        let fields: Vec<&str> = line.split('\t').collect();
        let (file, set) = (fields[0], fields[1]);
        if current.as_ref().is_none_or(|(f, _)| f != file) {
            let (summaries, stats) = run(&root.join(file));
            assert_eq!(stats.evicted, 0, "{file}");
            assert_eq!(stats.out_of_order_flows, 0, "{file}");
            current = Some((file.to_string(), summaries));
            captures += 1;
        }
        let summaries = &current.as_ref().unwrap().1;
        let ours = match set {
            "uniflow" => &summaries.uni,
            "biflow" => &summaries.bi,
            other => panic!("unknown set {other}"),
        };
        let bad = ours.compare(&fields[2..], &mut worst);
        if bad.is_empty() {
            match set {
                "uniflow" => uni_rows += ours.rows,
                _ => bi_rows += ours.rows,
            }
        }
        mismatches.extend(bad.into_iter().map(|b| format!("{file} {set}: {b}")));
    }
    eprintln!(
        "{captures} captures: {uni_rows} uni-flow and {bi_rows} bi-flow rows match \
         (float sums within a relative {worst:.1e})"
    );
    assert!(captures >= 40, "only {captures} captures checked");
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}
