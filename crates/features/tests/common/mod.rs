//! Helpers shared by the feature-set integration tests: where the shared captures are, running one
//! set through the driver into memory, and reading RFC 4180 CSV back.
#![allow(dead_code)] // each test file uses its own subset

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use mqtt_ids_capture::{open, ReaderOptions};
use mqtt_ids_features::{
    extract, CsvSink, ExtractOptions, ExtractReport, Output, Outputs, SetKind,
};

/// `../shared/data`, or `None` outside CI when it is not there (a CI run without it fails).
pub fn shared_data() -> Option<PathBuf> {
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

/// A writer into memory that the driver can own while the test keeps a handle.
#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<Vec<u8>>>);

impl Shared {
    /// Everything written so far, as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The CSV the driver writes for one set of a capture (absent values empty), and its report.
pub fn run_set(path: &Path, set: SetKind, options: &ExtractOptions) -> (String, ExtractReport) {
    let buffer = Shared::default();
    let sink = CsvSink::new(
        Box::new(buffer.clone()) as Box<dyn mqtt_ids_features::LineOut + Send>,
        set.schema(),
        "",
    )
    .unwrap();
    let mut outputs = Outputs::default();
    *outputs.slot(set) = Some(Output::Csv(sink));
    let mut reader = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
    let report = extract(&mut reader, options, &mut outputs, &mut |_| {}).unwrap();
    for set in SetKind::ALL {
        if let Some(output) = outputs.slot(set).take() {
            output.finish().unwrap();
        }
    }
    (buffer.text(), report)
}

/// RFC 4180 records (quoted fields may hold commas, quotes and line breaks).
pub fn csv_records(text: &str) -> Vec<Vec<String>> {
    let mut records = Vec::new();
    let mut record = vec![String::new()];
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) => quoted = true,
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                record.last_mut().unwrap().push('"');
            }
            ('"', true) => quoted = false,
            (',', false) => record.push(String::new()),
            ('\n', false) => records.push(std::mem::replace(&mut record, vec![String::new()])),
            (c, _) => record.last_mut().unwrap().push(c),
        }
    }
    assert_eq!(record, [""], "CSV must end with a line end");
    records
}

/// tshark's MQTTset export of a capture (the command of `reference/make_expected_mqttset.py`:
/// tab-separated, first occurrence, no quoting), with `extra` fields before the 33 of the set;
/// one row of cells per TCP frame. `None` when tshark is missing or fails.
pub fn tshark_mqttset(path: &Path, extra: &[&str]) -> Option<Vec<Vec<String>>> {
    let mut command = Command::new("tshark");
    command.args(["-n", "-r"]).arg(path).args([
        "-o",
        "tcp.calculate_timestamps:TRUE",
        "-Y",
        "tcp",
        "-T",
        "fields",
        "-E",
        "header=n",
        "-E",
        "separator=/t",
        "-E",
        "occurrence=f",
        "-E",
        "quote=n",
    ]);
    for name in extra {
        command.args(["-e", name]);
    }
    for name in SetKind::Mqttset.schema().names().filter(|n| *n != "target") {
        command.args(["-e", name]);
    }
    let out = command.output().ok().filter(|o| o.status.success())?;
    Some(
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| l.split('\t').map(str::to_string).collect())
            .collect(),
    )
}
