//! Issue 9, item 4: the papers' feature sets beside `context` and `session` on the real MQTTset
//! training captures (`../shared/data/mqttset-train/`), every classifier evaluated with
//! cross-validation grouped by connection (no connection on both sides of a fold), never by
//! packet. Addresses, ports, timestamps, the connection id and the labels are left out of every
//! feature table.
//!
//! - `grouped_evaluation_on_mqttset_captures` (CI): DT, RF (the MQTTset preset's 100 trees) and
//!   NB, 5 folds, targets asserted; prints the table written to docs/features.md.
//! - `session_updates_per_connection_meet_the_targets` (CI): `session` rows every second while
//!   connections last (what `detect` scores), grouped by connection, the flood connection's rows
//!   in five blocks; the per-connection targets asserted for RF on every class.
//! - `grouped_evaluation_all_classifiers` (`#[ignore]`, minutes): also LR, kNN, GB and MLP:
//!   `cargo test -p mqtt-ids --release --test context_eval -- --ignored --nocapture`.
//! - `scores_do_not_change_when_addresses_do`: every address and client port replaced, one for
//!   one; the `context` and `session` tables and the scores stay the same, while a control
//!   table that carries the source address does change.
//!
//! Classes: each capture's file stem without `-train`; `benign` and `benign-5mb` are both
//! `legitimate`. Groups: the `context` set's `conn_id` (per capture) for the per-packet sets
//! (`mqttset`, `packet`, `context`: one row per TCP frame each, checked row for row), the
//! connection for `session`, the bi-flow itself for `biflow`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use mqtt_ids_capture::{open, ReaderOptions};
use mqtt_ids_features::{extract, CsvSink, ExtractOptions, Labeler, Output, Outputs, SetKind};
use mqtt_ids_learn::evaluate::Protocol;
use mqtt_ids_learn::metrics::ClassificationReport;
use mqtt_ids_learn::table::{self, LabelSource, TableOptions, TextPolicy};
use mqtt_ids_learn::{evaluate, Dataset, ModelParams};

/// Every set's rows (header first) of one capture.
type SetRows = HashMap<SetKind, Vec<Vec<String>>>;
/// A capture's class and rows.
type Labelled = (String, SetRows);

/// The shared captures and their classes.
const CAPTURES: [(&str, &str); 7] = [
    ("benign-train.pcap", "legitimate"),
    ("benign-5mb-train.pcap", "legitimate"),
    ("bruteforce-train.pcapng", "bruteforce"),
    ("flood-train.pcap", "flood"),
    ("malariados-train.pcap", "malariados"),
    ("malformed-train.pcap", "malformed"),
    ("slowite-train.pcap", "slowite"),
];

const SETS: [SetKind; 5] = [
    SetKind::Mqttset,
    SetKind::Packet,
    SetKind::Biflow,
    SetKind::Context,
    SetKind::Session,
];

fn shared_data() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/mqttset-train");
    if dir.is_dir() {
        Some(dir)
    } else if std::env::var_os("CI").is_some() {
        panic!("{} is missing: CI must run beside shared/", dir.display());
    } else {
        eprintln!("skipping: {} not found", dir.display());
        None
    }
}

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// RFC 4180 records.
fn records(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
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
            ('\n', false) => out.push(std::mem::replace(&mut record, vec![String::new()])),
            (c, _) => record.last_mut().unwrap().push(c),
        }
    }
    out
}

fn push_cell(line: &mut String, cell: &str) {
    if cell.contains([',', '"', '\n']) {
        let _ = write!(line, "\"{}\"", cell.replace('"', "\"\""));
    } else {
        line.push_str(cell);
    }
}

/// Every set's rows of one capture (header first), from one `extract` pass, with addresses
/// (and client ports) optionally rewritten first.
fn extract_capture(path: &Path, class: &str, session_update_ns: Option<i64>) -> SetRows {
    extract_options(
        path,
        Labeler {
            class: Some(class.to_string()),
            ..Labeler::default()
        },
        session_update_ns,
    )
}

fn extract_labelled(path: &Path, labels: Labeler) -> SetRows {
    extract_options(path, labels, None)
}

fn extract_options(path: &Path, labels: Labeler, session_update_ns: Option<i64>) -> SetRows {
    let buffers: Vec<(SetKind, Shared)> = SETS.iter().map(|&s| (s, Shared::default())).collect();
    let mut outputs = Outputs::default();
    for (set, buffer) in &buffers {
        let sink = CsvSink::new(
            Box::new(buffer.clone()) as Box<dyn mqtt_ids_features::LineOut + Send>,
            set.schema(),
            "",
        )
        .unwrap();
        *outputs.slot(*set) = Some(Output::Csv(sink));
    }
    let options = ExtractOptions {
        labels,
        session_update_ns,
        ..ExtractOptions::default()
    };
    let mut reader = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
    let report = extract(&mut reader, &options, &mut outputs, &mut |_| {}).unwrap();
    assert!(report.input_error.is_none(), "{:?}", report.input_error);
    for set in SetKind::ALL {
        if let Some(o) = outputs.slot(set).take() {
            o.finish().unwrap();
        }
    }
    buffers
        .into_iter()
        .map(|(set, b)| {
            let text = String::from_utf8(b.0.lock().unwrap().clone()).unwrap();
            (set, records(&text))
        })
        .collect()
}

/// Columns never used as features: addresses, ports, protocol number, time, labels, ids.
const NOT_FEATURES: [&str; 13] = [
    "timestamp",
    "src_ip",
    "dst_ip",
    "ip_src",
    "ip_dst",
    "src_port",
    "dst_port",
    "prt_src",
    "prt_dst",
    "is_attack",
    "target",
    "conn_id",
    "group",
];

/// One table per set: the rows of every capture with `class` and `group` columns added, written
/// to `dir/<set>.csv`, read back as the learn crate reads feature tables.
/// How rows are grouped for the folds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Grouping {
    /// By connection (bi-flow for `biflow`): the protocol of record.
    Connection,
    /// By connection, but a capture holding a single connection (flood) has its frames cut into
    /// five contiguous blocks, each a group, as MQTTset's authors split that capture ("split by
    /// packet"): its class can then be both trained and tested. Per-frame sets only.
    SingleConnectionInBlocks,
    /// `session` rows every [`SESSION_UPDATE_NS`] while a connection lasts (what `detect`
    /// scores live), grouped by connection; the flood connection's rows cut into five blocks as
    /// above. Only the `session` set.
    SessionUpdates,
}

/// The update interval of [`Grouping::SessionUpdates`]: 1 s. Rows are written on the packet
/// clock, so the flood connection (a burst every ~2 s for 17.8 s) has 9 of them.
const SESSION_UPDATE_NS: i64 = 1_000_000_000;

fn tables(dir: &Path, per_capture: &[Labelled], grouping: Grouping) -> Vec<(SetKind, Dataset)> {
    std::fs::create_dir_all(dir).unwrap();
    let mut out = Vec::new();
    for set in SETS {
        let mut text = String::new();
        for (i, (class, rows)) in per_capture.iter().enumerate() {
            let table = &rows[&set];
            let context = &rows[&SetKind::Context];
            if i == 0 {
                text.push_str(&table[0].join(","));
                text.push_str(",class,group\n");
            }
            if matches!(set, SetKind::Mqttset | SetKind::Packet) {
                assert_eq!(table.len(), context.len(), "{set:?}: one row per TCP frame");
            }
            let conn = table[0].iter().position(|h| h == "conn_id");
            let one_connection = context[1..].iter().all(|r| r[0] == context[1][0]);
            let blocks = one_connection
                && match grouping {
                    Grouping::SingleConnectionInBlocks => {
                        matches!(set, SetKind::Context | SetKind::Mqttset | SetKind::Packet)
                    }
                    Grouping::SessionUpdates => set == SetKind::Session,
                    Grouping::Connection => false,
                };
            let n = table.len() - 1;
            for (r, row) in table.iter().enumerate().skip(1) {
                let mut line = String::new();
                for cell in row {
                    push_cell(&mut line, cell);
                    line.push(',');
                }
                let group = match set {
                    _ if blocks => format!("block{}", (r - 1) * 5 / n),
                    SetKind::Context | SetKind::Session => row[conn.unwrap()].clone(),
                    SetKind::Biflow => format!("f{r}"),
                    _ => context[r][0].clone(),
                };
                let _ = writeln!(line, "{class},{i}:{group}");
                text.push_str(&line);
            }
        }
        let path = dir.join(format!("{}.csv", set.name()));
        std::fs::write(&path, text).unwrap();
        let mut options = TableOptions {
            label: LabelSource::Column("class".into()),
            exclude: NOT_FEATURES.iter().map(|s| s.to_string()).collect(),
            text: TextPolicy::Error,
            hash_columns: Vec::new(),
            missing_value: 0.0,
            group_columns: vec!["group".into()],
            one_hot: Vec::new(),
        };
        match set {
            SetKind::Mqttset => {
                let m = TableOptions::mqttset2020();
                options.text = m.text;
                options.hash_columns = m.hash_columns;
            }
            SetKind::Packet => options.one_hot = vec!["protocol".into()],
            _ => {}
        }
        let ds = table::read_files(&[&path], &options).unwrap();
        for name in &ds.feature_names {
            assert!(
                !NOT_FEATURES.contains(&name.as_str()),
                "{name} is a feature"
            );
        }
        out.push((set, ds));
    }
    out
}

fn protocol() -> Protocol {
    Protocol {
        name: "grouped-5-fold".into(),
        dedupe: false,
        k_fold: Some((5, 0)),
        hold_out: None,
        balance: None,
        grouped: true,
    }
}

/// (set, model, pooled report over the folds)
type Results = Vec<(SetKind, String, ClassificationReport)>;

fn run(models: &[(&str, Option<&str>)], grouping: Grouping) -> Option<Results> {
    let data = shared_data()?;
    let per_capture: Vec<Labelled> = CAPTURES
        .iter()
        .map(|(file, class)| {
            let interval = (grouping == Grouping::SessionUpdates).then_some(SESSION_UPDATE_NS);
            (
                class.to_string(),
                extract_capture(&data.join(file), class, interval),
            )
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("mqtt-ids-context-eval-{}", std::process::id()));
    let sets = tables(&dir, &per_capture, grouping);
    let mut results = Vec::new();
    for (set, ds) in &sets {
        match grouping {
            Grouping::SingleConnectionInBlocks
                if matches!(set, SetKind::Biflow | SetKind::Session) =>
            {
                continue; // the flood connection is one row: nothing to cut
            }
            Grouping::SessionUpdates if *set != SetKind::Session => continue,
            _ => {}
        }
        for (kind, preset) in models {
            let params = ModelParams::from_name(kind, *preset).unwrap();
            let t = std::time::Instant::now();
            let e = evaluate(&params, ds, &protocol(), &mut |_, _, _| {}).unwrap();
            let report = e.cross_validation.unwrap();
            eprintln!(
                "{:8} {:4} rows {:6} features {:3} acc {:.4} macro-F1 {:.4} ({:.1} s)",
                set.name(),
                kind,
                ds.n_rows(),
                ds.feature_names.len(),
                report.accuracy,
                report.macro_avg.f1,
                t.elapsed().as_secs_f64()
            );
            results.push((*set, kind.to_string(), report));
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    Some(results)
}

/// The Markdown table of docs/features.md.
fn table_markdown(results: &Results) -> String {
    let classes: Vec<String> = results[0]
        .2
        .per_class
        .iter()
        .map(|c| c.class.clone())
        .collect();
    let mut md = String::from("| set | model | rows |");
    for c in &classes {
        let _ = write!(md, " recall {c} |");
    }
    md.push_str(" macro-F1 | accuracy |\n|---|---|---:|");
    for _ in &classes {
        md.push_str("---:|");
    }
    md.push_str("---:|---:|\n");
    for (set, model, r) in results {
        let _ = write!(
            md,
            "| `{}` | {model} | {} |",
            set.name(),
            r.confusion_matrix.total()
        );
        for c in &r.per_class {
            let _ = write!(md, " {:.4} |", c.recall);
        }
        let _ = writeln!(md, " {:.4} | {:.4} |", r.macro_avg.f1, r.accuracy);
    }
    md
}

/// The issue's targets for `models`; each failure is named with its measured value. With
/// `without`, that class is left out of the macro average and the recall targets.
fn target_failures(results: &Results, models: &[&str], without: Option<&str>) -> Vec<String> {
    let mut failures = Vec::new();
    for (set, model, r) in results {
        if !models.contains(&model.as_str()) {
            continue;
        }
        let (macro_target, name) = match set {
            SetKind::Context => (0.95, "every frame"),
            SetKind::Session => (0.99, "per connection"),
            _ => continue,
        };
        let kept: Vec<_> = r
            .per_class
            .iter()
            .filter(|c| Some(c.class.as_str()) != without)
            .collect();
        let macro_f1 = kept.iter().map(|c| c.f1).sum::<f64>() / kept.len() as f64;
        if macro_f1 < macro_target {
            failures.push(format!(
                "{} {model}: macro-F1 {macro_f1:.4} < {macro_target} ({name})",
                set.name(),
            ));
        }
        for c in kept {
            if ["flood", "slowite", "malformed"].contains(&c.class.as_str()) && c.recall < 0.98 {
                failures.push(format!(
                    "{} {model}: recall of {} {:.4} < 0.98",
                    set.name(),
                    c.class,
                    c.recall
                ));
            }
        }
    }
    failures
}

const CI_MODELS: [(&str, Option<&str>); 3] =
    [("dt", None), ("rf", Some("mqttset2020")), ("nb", None)];

/// The protocol of record (grouped by connection) and the flood capture cut into blocks. The
/// flood capture is one connection: grouped by connection, its class is never in a training fold
/// when it is in the test fold, so its recall is 0 by construction and the issue's targets that
/// include it cannot be met with these captures (`issue_targets_as_written`, ignored, asserts
/// them and fails). Here the targets are asserted for DT and RF on every other class, and on
/// all classes with the flood connection cut into blocks (`context`).
#[test]
fn grouped_evaluation_on_mqttset_captures() {
    let Some(results) = run(&CI_MODELS, Grouping::Connection) else {
        return;
    };
    println!("grouped by connection\n{}", table_markdown(&results));
    for (set, model, r) in &results {
        let flood = r.per_class.iter().find(|c| c.class == "flood").unwrap();
        assert_eq!(
            (flood.support, flood.recall),
            (
                if matches!(set, SetKind::Biflow | SetKind::Session) {
                    1
                } else {
                    58
                },
                0.0
            ),
            "{set:?} {model}"
        );
    }
    let failures = target_failures(&results, &["dt", "rf"], Some("flood"));
    assert!(
        failures.is_empty(),
        "targets not met:\n{}",
        failures.join("\n")
    );
    let Some(blocks) = run(&CI_MODELS, Grouping::SingleConnectionInBlocks) else {
        return;
    };
    println!(
        "flood connection in five blocks\n{}",
        table_markdown(&blocks)
    );
    // Every frame, all classes: the macro-F1 target holds; flood's own recall (0.84 measured: its
    // first frames — handshake, CONNECT — are those of any connection's start) is reported by
    // `issue_targets_as_written`, not asserted here.
    for (set, model, r) in &blocks {
        if *set == SetKind::Context && model != "nb" {
            assert!(
                r.macro_avg.f1 >= 0.95,
                "context {model}: {}",
                r.macro_avg.f1
            );
        }
    }
    let failures = target_failures(&blocks, &["dt", "rf"], Some("flood"));
    assert!(
        failures.is_empty(),
        "targets not met:\n{}",
        failures.join("\n")
    );
}

/// Per connection, every class, flood included: `session` rows every second while connections
/// last — the rows `detect` scores live — grouped by connection, the flood capture's single
/// connection cut into five blocks of its update rows (as its authors split it by packet). A
/// connection is judged at every update, from its first second on, not once at its end.
#[test]
fn session_updates_per_connection_meet_the_targets() {
    let Some(results) = run(&CI_MODELS, Grouping::SessionUpdates) else {
        return;
    };
    println!(
        "session rows every second, grouped by connection (flood in five blocks)\n{}",
        table_markdown(&results)
    );
    for (_, model, r) in &results {
        let flood = r.per_class.iter().find(|c| c.class == "flood").unwrap();
        // Rows come on the packet clock: the flood client sends a burst every ~2 s.
        assert_eq!(flood.support, 9, "{model}: flood update rows");
    }
    // The issue's per-connection targets hold for the forest (measured: macro-F1 1.0000, every
    // recall 1.0000); the single tree reaches 0.9857 (one malariados connection's update rows).
    let failures = target_failures(&results, &["rf"], None);
    assert!(
        failures.is_empty(),
        "targets not met:\n{}",
        failures.join("\n")
    );
}

/// The issue's targets as written, on every class, grouped by connection. Fails: see above.
#[test]
#[ignore = "cannot pass on these captures: the flood class is a single connection"]
fn issue_targets_as_written() {
    let Some(results) = run(&CI_MODELS, Grouping::Connection) else {
        return;
    };
    let mut failures = target_failures(&results, &["dt", "rf"], None);
    let Some(blocks) = run(&CI_MODELS, Grouping::SingleConnectionInBlocks) else {
        return;
    };
    failures.extend(
        target_failures(&blocks, &["dt", "rf"], None)
            .into_iter()
            .map(|f| format!("{f} (flood in blocks)")),
    );
    assert!(
        failures.is_empty(),
        "targets not met:\n{}",
        failures.join("\n")
    );
}

#[test]
#[ignore = "minutes: every classifier on every set"]
fn grouped_evaluation_all_classifiers() {
    let models = [
        ("dt", None),
        ("rf", None),
        ("nb", None),
        ("lr", None),
        ("knn", None),
        ("gb", Some("mqttset2020")),
        ("mlp", None),
    ];
    let Some(results) = run(&models, Grouping::Connection) else {
        return;
    };
    println!("grouped by connection\n{}", table_markdown(&results));
    let Some(blocks) = run(&models, Grouping::SingleConnectionInBlocks) else {
        return;
    };
    println!(
        "flood connection in five blocks\n{}",
        table_markdown(&blocks)
    );
    let failures = target_failures(&results, &["dt", "rf"], Some("flood"));
    assert!(
        failures.is_empty(),
        "targets not met:\n{}",
        failures.join("\n")
    );
}

/// Replaces addresses (IPv4) and non-MQTT ports one for one, in order of appearance.
#[derive(Default)]
struct Remap {
    addrs: HashMap<[u8; 4], [u8; 4]>,
    ports: HashMap<u16, u16>,
}

impl Remap {
    fn addr(&mut self, a: [u8; 4]) -> [u8; 4] {
        let n = self.addrs.len() as u32;
        *self
            .addrs
            .entry(a)
            .or_insert_with(|| (0xC633_0000 + n * 7919 % 65_521).to_be_bytes())
    }

    fn port(&mut self, p: u16) -> u16 {
        if p == 1883 {
            return p;
        }
        let n = self.ports.len() as u32;
        *self
            .ports
            .entry(p)
            .or_insert_with(|| (2000 + (n * 7) % 60_000) as u16)
    }
}

/// `path` rewritten to `to` (pcap, nanoseconds) with every IPv4 address and TCP port (but 1883)
/// replaced through `remap`.
fn rewrite(path: &Path, to: &Path, remap: &mut Remap) {
    use mqtt_ids_capture::{decode, writer::PcapWriter, Transport};
    let mut reader = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
    let mut writer = None;
    while let Some(frame) = reader.next_frame().unwrap() {
        let packet = decode(frame);
        let mut data = frame.data.to_vec();
        if let (Some(ip), Transport::Tcp { .. }) = (packet.ip, packet.transport) {
            let (IpAddr::V4(src), IpAddr::V4(dst)) = (ip.src, ip.dst) else {
                panic!("IPv4 only in these captures");
            };
            let mut pair = src.octets().to_vec();
            pair.extend_from_slice(&dst.octets());
            // The IPv4 header: where the two addresses stand, 12 bytes into it.
            let at = (12..data.len().saturating_sub(8))
                .find(|&i| data[i..i + 8] == pair[..] && data[i - 12] >> 4 == 4)
                .unwrap()
                - 12;
            let tcp = at + usize::from(data[at] & 0x0f) * 4;
            let (s, d) = (remap.addr(src.octets()), remap.addr(dst.octets()));
            data[at + 12..at + 16].copy_from_slice(&s);
            data[at + 16..at + 20].copy_from_slice(&d);
            for off in [tcp, tcp + 2] {
                let p = u16::from_be_bytes([data[off], data[off + 1]]);
                data[off..off + 2].copy_from_slice(&remap.port(p).to_be_bytes());
            }
        }
        let w = writer.get_or_insert_with(|| {
            let file = std::fs::File::create(to).unwrap();
            PcapWriter::new(io::BufWriter::new(file), frame.link_type, 262_144, true).unwrap()
        });
        w.write_packet(frame.ts_ns, frame.orig_len, &data).unwrap();
    }
    writer.unwrap().into_inner().unwrap().flush().unwrap();
}

#[test]
fn scores_do_not_change_when_addresses_do() {
    let Some(data) = shared_data() else { return };
    let dir = std::env::temp_dir().join(format!("mqtt-ids-context-remap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut remap = Remap::default();
    let mut plain = Vec::new();
    let mut moved = Vec::new();
    for (file, class) in CAPTURES {
        let to = dir.join(format!("moved-{file}.pcap"));
        rewrite(&data.join(file), &to, &mut remap);
        plain.push((
            class.to_string(),
            extract_capture(&data.join(file), class, None),
        ));
        moved.push((class.to_string(), extract_capture(&to, class, None)));
    }
    assert!(remap.addrs.len() >= 3 && remap.ports.len() > 1000);
    let a = tables(&dir.join("plain"), &plain, Grouping::Connection);
    let b = tables(&dir.join("moved"), &moved, Grouping::Connection);
    // The control: the packet set's addresses did change (so a feature made of them would).
    let src = |t: &[Labelled]| t[2].1[&SetKind::Packet][1][1].clone();
    assert_ne!(src(&plain), src(&moved));
    let params = ModelParams::from_name("dt", None).unwrap();
    for ((set, x), (_, y)) in a.iter().zip(&b) {
        if !matches!(set, SetKind::Context | SetKind::Session) {
            continue;
        }
        assert_eq!(x.feature_names, y.feature_names);
        assert!(
            x.records == y.records,
            "{set:?}: features changed with the addresses"
        );
        let ex = evaluate(&params, x, &protocol(), &mut |_, _, _| {}).unwrap();
        let ey = evaluate(&params, y, &protocol(), &mut |_, _, _| {}).unwrap();
        assert_eq!(
            ex.cross_validation.unwrap().confusion_matrix,
            ey.cross_validation.unwrap().confusion_matrix
        );
    }
    // A table that kept an address as a feature would not be the same.
    let leaky = |t: &[Labelled], d: &Path| {
        let mut rows = t.to_vec();
        for (_, sets) in &mut rows {
            let packet = sets[&SetKind::Packet].clone();
            let ctx = sets.get_mut(&SetKind::Context).unwrap();
            for (i, row) in ctx.iter_mut().enumerate() {
                let addr = if i == 0 {
                    "src_addr".into()
                } else {
                    packet[i][1].replace('.', "")
                };
                row.insert(1, addr);
            }
        }
        tables(d, &rows, Grouping::Connection)
    };
    let la = leaky(&plain, &dir.join("leaky-plain"));
    let lb = leaky(&moved, &dir.join("leaky-moved"));
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(la[3].0, SetKind::Context);
    assert!(la[3].1.feature_names.contains(&"src_addr".to_string()));
    assert!(
        la[3].1.records != lb[3].1.records,
        "the control must see the address change"
    );
}

/// Issue 9, item 5: train on `mqtt-ids simulate` output only (the built-in mqttset2020 testbed,
/// labelled by its `--labels` rules), test on the real MQTTset training captures. Classes by the
/// simulator's names (real `malariados` is its `dos`, real `benign*` its `legitimate`). Prints
/// per-class recall and attack-vs-legitimate figures for `context` and `session` with rf:
/// `cargo test -p mqtt-ids --release --test context_eval -- --ignored --nocapture generalisation`
#[test]
#[ignore = "a report, not a check: the numbers are what they are"]
fn generalisation_from_simulation_to_real_captures() {
    use mqtt_ids_learn::Classifier;
    use mqtt_ids_simulate::{simulate, Scenario, SimOptions};
    let Some(data) = shared_data() else { return };
    let dir = std::env::temp_dir().join(format!("mqtt-ids-context-sim-{}", std::process::id()));
    let sim_dir = dir.join("sim");
    std::fs::create_dir_all(&sim_dir).unwrap();
    let scenario = Scenario::builtin("mqttset2020").unwrap();
    let options = SimOptions {
        seed: 1,
        duration: Some(300.0),
        ..SimOptions::default()
    };
    simulate(&scenario, &options, &sim_dir).unwrap();
    let mut sim = Vec::new();
    for name in [
        "legitimate",
        "dos",
        "flood",
        "slowite",
        "malformed",
        "bruteforce",
    ] {
        let rules = Labeler::read_rules(&sim_dir.join(format!("{name}.labels.csv"))).unwrap();
        let labels = Labeler {
            rules,
            ..Labeler::default()
        };
        sim.push(extract_labelled(
            &sim_dir.join(format!("{name}.pcap")),
            labels,
        ));
    }
    fn rename(class: &str) -> &str {
        match class {
            "malariados" => "dos",
            c if c.starts_with("benign") => "legitimate",
            c => c,
        }
    }
    let real: Vec<_> = CAPTURES
        .iter()
        .map(|(file, class)| extract_capture(&data.join(file), rename(class), None))
        .collect();
    let read = |rows: &[SetRows], set: SetKind, path: &Path| {
        let mut text = rows[0][&set][0].join(",") + "\n";
        for r in rows {
            for row in &r[&set][1..] {
                let mut line = String::new();
                for cell in row {
                    push_cell(&mut line, cell);
                    line.push(',');
                }
                line.pop();
                text.push_str(&line);
                text.push('\n');
            }
        }
        std::fs::write(path, text).unwrap();
        let options = TableOptions {
            exclude: vec!["conn_id".into(), "final".into()],
            ..TableOptions::with_label_column("target")
        };
        table::read_files(&[path], &options).unwrap()
    };
    for set in [SetKind::Context, SetKind::Session] {
        let train = read(&sim, set, &dir.join(format!("sim-{}.csv", set.name())));
        let test = read(&real, set, &dir.join(format!("real-{}.csv", set.name())));
        assert_eq!(train.feature_names, test.feature_names);
        let model = ModelParams::from_name("rf", Some("mqttset2020"))
            .unwrap()
            .fit(&train)
            .unwrap();
        let predicted = model.predict(&test.records).unwrap();
        println!(
            "{}: trained on {} simulated rows {:?}, tested on {} real rows",
            set.name(),
            train.n_rows(),
            train.class_counts(),
            test.n_rows()
        );
        let (mut tp, mut fp, mut tn, mut fnn) = (0u64, 0u64, 0u64, 0u64);
        let mut per_class: std::collections::BTreeMap<&str, (u64, u64, HashMap<&str, u64>)> =
            Default::default();
        for (i, &p) in predicted.iter().enumerate() {
            let truth = test.classes[test.targets[i]].as_str();
            let guess = train.classes[p].as_str();
            let (attack, said_attack) = (truth != "legitimate", guess != "legitimate");
            match (attack, said_attack) {
                (true, true) => tp += 1,
                (false, true) => fp += 1,
                (false, false) => tn += 1,
                (true, false) => fnn += 1,
            }
            let e = per_class.entry(truth).or_default();
            e.0 += 1;
            e.1 += u64::from(truth == guess);
            *e.2.entry(guess).or_default() += 1;
        }
        let recall = tp as f64 / (tp + fnn).max(1) as f64;
        let precision = tp as f64 / (tp + fp).max(1) as f64;
        println!(
            "  attack vs legitimate: recall {recall:.4} precision {precision:.4} \
             false-positive rate {:.4} accuracy {:.4}",
            fp as f64 / (fp + tn).max(1) as f64,
            (tp + tn) as f64 / predicted.len() as f64
        );
        for (class, (n, right, guesses)) in &per_class {
            let mut g: Vec<_> = guesses.iter().collect();
            g.sort_by(|a, b| b.1.cmp(a.1));
            println!(
                "  {class:11} rows {n:6} recall {:.4} predicted as {g:?}",
                *right as f64 / *n as f64
            );
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Item 3 through the binary: `extract --set context,session --label`, then `train` and
/// `evaluate` with `--group-by conn_id` (grouped folds; the id is no feature).
#[test]
fn cli_extracts_context_and_session_and_learns_grouped_by_connection() {
    use std::process::Command;
    let Some(data) = shared_data() else { return };
    let bin = || Command::new(env!("CARGO_BIN_EXE_mqtt-ids"));
    let dir = std::env::temp_dir().join(format!("mqtt-ids-context-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (file, class) in [
        ("slowite-train.pcap", "slowite"),
        ("bruteforce-train.pcapng", "bruteforce"),
    ] {
        let status = bin()
            .args([
                "extract",
                "--set",
                "context,session",
                "--label",
                class,
                "-o",
            ])
            .arg(&dir)
            .arg(data.join(file))
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(0));
    }
    let sidecar: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("session_slowite-train.json")).unwrap())
            .unwrap();
    let run = &sidecar["run"];
    assert_eq!(run["context"]["connections"], 716, "{sidecar:#}");
    assert_eq!(run["rows"]["session"], 716);
    assert_eq!(run["rows"]["context"], 6447);
    let sessions = [
        dir.join("session_slowite-train.csv"),
        dir.join("session_bruteforce-train.csv"),
    ];
    let model = dir.join("dt.json");
    let status = bin()
        .args(["train", "--model", "dt", "--table", "label:target"])
        .args(["--group-by", "conn_id", "-o"])
        .arg(&model)
        .args(&sessions)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let file = mqtt_ids_learn::ModelFile::load(&model).unwrap();
    assert!(!file
        .feature_names
        .iter()
        .any(|f| f == "conn_id" || f == "target"));
    assert!(file.feature_names.iter().any(|f| f == "n_connect"));
    let json = dir.join("ev.json");
    let out = bin()
        .args(["evaluate", "--models", "dt", "--protocol", "hindy2020"])
        .args(["--table", "label:target", "--group-by", "conn_id", "--json"])
        .arg(&json)
        .args(&sessions)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let e = &v["evaluations"][0];
    assert_eq!(e["protocol"]["grouped"], true);
    assert_eq!(e["folds"].as_array().unwrap().len(), 5);
    let _ = std::fs::remove_dir_all(&dir);
}
