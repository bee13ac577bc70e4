//! What a `--data DIR` holds: captures (pcap/pcapng, optionally gzip-compressed; told by their
//! magic number, not their name) and published dataset tables recognised by their columns and
//! file names — MQTT-IoT-IDS2020 packet, `uniflow_*` and `biflow_*` CSVs, MQTTset
//! `train70*`/`test30*` CSVs.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use mqtt_ids_features::label::{Labeler, Net, Rule};

/// A capture and how its rows are labelled.
#[derive(Clone, Debug)]
pub struct CaptureInput {
    pub path: PathBuf,
    /// The capture's class (whole-file label, or the fallback of its label rules).
    pub class: String,
    /// Label rules read from a labels file beside the capture, if any.
    pub rules: Vec<Rule>,
    /// The labels file the rules came from.
    pub rules_file: Option<PathBuf>,
    /// Attacker addresses (MQTT-IoT-IDS2020's captures: 192.168.2.5 marks the attack rows).
    pub attackers: Vec<Net>,
    /// The one paper whose experiment uses the capture (`None`: both).
    pub paper: Option<String>,
}

impl CaptureInput {
    /// Whether `paper`'s experiment uses the capture.
    pub fn serves(&self, paper: &str) -> bool {
        self.paper.as_deref().is_none_or(|p| p == paper)
    }
}

impl CaptureInput {
    /// The classes its rows can take.
    pub fn classes(&self) -> Vec<String> {
        let mut c: Vec<String> = self.rules.iter().map(|r| r.class.clone()).collect();
        if !self.attackers.is_empty() {
            c.push(LEGITIMATE.into());
        }
        c.push(self.class.clone());
        c.sort();
        c.dedup();
        c
    }

    /// How the capture is labelled, in words (for the provenance).
    pub fn describe(&self) -> String {
        match (&self.rules_file, self.attackers.is_empty()) {
            (Some(f), _) => format!(
                "rules from {} ({} rules), else {}",
                f.display(),
                self.rules.len(),
                self.class
            ),
            (None, false) => format!(
                "{} to or from the attacker 192.168.2.5, else legitimate",
                self.class
            ),
            (None, true) => format!("every row {}", self.class),
        }
    }

    /// A labeler for the rows of class `only` (all other attack classes read as legitimate),
    /// or, with `None`, for every class.
    pub fn labeler(&self, only: Option<&str>) -> Labeler {
        let keep = |class: &str| only.is_none_or(|o| o == class);
        let rules = self
            .rules
            .iter()
            .map(|r| {
                let mut r = r.clone();
                if !keep(&r.class) && !is_legitimate(&r.class) {
                    r.class = LEGITIMATE.into();
                }
                r
            })
            .collect();
        let class = if keep(&self.class) || is_legitimate(&self.class) {
            self.class.clone()
        } else {
            LEGITIMATE.into()
        };
        Labeler {
            rules,
            attackers: self.attackers.clone(),
            class: Some(class),
        }
    }
}

/// The name normal traffic gets (MQTTset's; Hindy's `normal`/`benign` are read as it).
pub const LEGITIMATE: &str = "legitimate";

/// Whether a class name means normal traffic.
pub fn is_legitimate(class: &str) -> bool {
    mqtt_ids_features::label::is_benign_class(class)
}

/// Which MQTT-IoT-IDS2020 feature level a CSV holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HindyLevel {
    Packet,
    Uniflow,
    Biflow,
}

impl HindyLevel {
    pub const ALL: [HindyLevel; 3] = [HindyLevel::Packet, HindyLevel::Uniflow, HindyLevel::Biflow];
    pub fn name(self) -> &'static str {
        match self {
            HindyLevel::Packet => "packet",
            HindyLevel::Uniflow => "uniflow",
            HindyLevel::Biflow => "biflow",
        }
    }
}

/// A pair of published MQTTset CSVs (`train70<suffix>.csv`, `test30<suffix>.csv`).
#[derive(Clone, Debug, PartialEq)]
pub struct MqttsetPair {
    /// `""`, `_reduced`, `_augmented`.
    pub suffix: String,
    pub train: PathBuf,
    pub test: PathBuf,
}

/// Everything found in a `--data` directory.
#[derive(Clone, Debug, Default)]
pub struct Discovered {
    pub captures: Vec<CaptureInput>,
    /// Published MQTT-IoT-IDS2020 tables per level (packet, uniflow, biflow).
    pub hindy_tables: [Vec<PathBuf>; 3],
    /// Published MQTTset train/test pairs.
    pub mqttset_pairs: Vec<MqttsetPair>,
    /// MQTTset-shaped tables that are not part of a pair (split by the protocol).
    pub mqttset_tables: Vec<PathBuf>,
    /// Files left out, and why.
    pub ignored: Vec<(PathBuf, String)>,
}

/// The file name without directory and capture/compression extensions
/// (`data/flood-train.pcap.gz` → `flood-train`).
pub fn stem(path: &Path) -> String {
    let mut name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    const EXTENSIONS: [&str; 6] = [".gz", ".pcapng", ".pcap", ".cap", ".dmp", ".ntar"];
    loop {
        let lower = name.to_ascii_lowercase();
        match EXTENSIONS.iter().find(|e| lower.ends_with(*e)) {
            Some(e) if name.len() > e.len() => name.truncate(name.len() - e.len()),
            _ => break,
        }
    }
    name
}

/// The class a capture stands for: its stem without `-train`/`-test`; `benign*`, `normal*`
/// and `legitimate*` are `legitimate` (MQTTset's `benign` and `benign-5mb` are one class).
pub fn class_of_capture(path: &Path) -> String {
    let stem = stem(path);
    let mut s = stem.as_str();
    for suffix in ["-train", "-test", "_train", "_test"] {
        if let Some(rest) = s.strip_suffix(suffix) {
            s = rest;
        }
    }
    let lower = s.to_ascii_lowercase();
    if ["benign", "normal", "legitimate"]
        .iter()
        .any(|b| lower.starts_with(b))
    {
        LEGITIMATE.into()
    } else {
        s.to_string()
    }
}

/// MQTT-IoT-IDS2020's capture names, whose attack rows are those of the attacker 192.168.2.5.
const HINDY_CAPTURES: [&str; 4] = ["scan_A", "scan_sU", "sparta", "mqtt_bruteforce"];
const HINDY_ATTACKER: &str = "192.168.2.5";

/// The labels file beside a capture: `<stem>.labels` or `<stem>.labels.csv`.
pub fn labels_file_for(path: &Path) -> Option<PathBuf> {
    let dir = path.parent()?;
    let stem = stem(path);
    [format!("{stem}.labels"), format!("{stem}.labels.csv")]
        .into_iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// Reads label rules. Comment lines are dropped first, so a `class,…` header after them (as
/// `mqtt-ids simulate` writes its rules) is still taken as the header.
pub fn read_rules(path: &Path) -> Result<Vec<Rule>, String> {
    let text = fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read label rules: {e}", path.display()))?;
    let kept: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with('#'))
        .collect();
    let body: String = kept.iter().map(|(_, l)| format!("{l}\n")).collect();
    mqtt_ids_features::label::parse_rules(&body).map_err(|(line, e)| {
        let original = kept
            .get(line.saturating_sub(1))
            .map_or(line, |(i, _)| i + 1);
        format!("{}:{original}: {e}", path.display())
    })
}

/// A capture labelled as its name and neighbours say.
pub fn capture_input(path: &Path) -> Result<CaptureInput, String> {
    let class = class_of_capture(path);
    let mut input = CaptureInput {
        path: path.to_path_buf(),
        class: class.clone(),
        rules: Vec::new(),
        rules_file: None,
        attackers: Vec::new(),
        paper: None,
    };
    if let Some(file) = labels_file_for(path) {
        input.rules = read_rules(&file)?;
        input.rules_file = Some(file);
        // Unmatched rows are background traffic.
        input.class = LEGITIMATE.into();
    } else if HINDY_CAPTURES.contains(&class.as_str()) {
        input.attackers = vec![Net::parse(HINDY_ATTACKER).expect("valid address")];
    }
    Ok(input)
}

fn is_capture(path: &Path) -> bool {
    let mut magic = [0u8; 4];
    let Ok(mut f) = fs::File::open(path) else {
        return false;
    };
    if f.read_exact(&mut magic).is_err() {
        return false;
    }
    matches!(
        magic,
        [0xd4, 0xc3, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xc3, 0xd4]
            | [0x4d, 0x3c, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0x3c, 0x4d]
            | [0x34, 0xcd, 0xb2, 0xa1]
            | [0xa1, 0xb2, 0xcd, 0x34]
            | [0x0a, 0x0d, 0x0d, 0x0a]
    ) || (magic[..2] == [0x1f, 0x8b] && {
        let lower = path.to_string_lossy().to_ascii_lowercase();
        lower.contains(".pcap") || lower.contains(".cap")
    })
}

/// The header of a CSV (first line, split on commas, trimmed, quotes removed).
fn csv_header(path: &Path) -> Option<Vec<String>> {
    let mut f = fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 64 * 1024];
    let n = f.read(&mut buf).ok()?;
    let text = String::from_utf8_lossy(&buf[..n]);
    let line = text.lines().next()?;
    Some(
        line.split(',')
            .map(|c| c.trim().trim_matches('"').to_string())
            .collect(),
    )
}

/// What a table is, from its columns and name.
#[derive(Clone, Debug, PartialEq)]
pub enum TableKind {
    Hindy(HindyLevel),
    MqttsetTrain(String),
    MqttsetTest(String),
    Mqttset,
}

/// Recognises a published table by its header (and, for MQTTset, its name).
pub fn table_kind(path: &Path, header: &[String]) -> Option<TableKind> {
    let has = |c: &str| header.iter().any(|h| h == c);
    if has("target") && has("tcp.flags") && has("mqtt.msgtype") {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Some(if let Some(suffix) = name.strip_prefix("train70") {
            TableKind::MqttsetTrain(suffix.to_string())
        } else if let Some(suffix) = name.strip_prefix("test30") {
            TableKind::MqttsetTest(suffix.to_string())
        } else {
            TableKind::Mqttset
        });
    }
    if has("is_attack") {
        if has("fwd_num_pkts") && has("bwd_num_pkts") {
            return Some(TableKind::Hindy(HindyLevel::Biflow));
        }
        if has("num_pkts") && has("mean_iat") {
            return Some(TableKind::Hindy(HindyLevel::Uniflow));
        }
        if has("ttl") && has("ip_len") {
            return Some(TableKind::Hindy(HindyLevel::Packet));
        }
    }
    None
}

/// Looks through `dir` (and its sub-directories) for captures and published tables.
pub fn discover(dir: &Path) -> Result<Discovered, String> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = fs::read_dir(&d)
            .map_err(|e| format!("--data {}: cannot list the directory: {e}", d.display()))?;
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut found = Discovered::default();
    let mut trains = Vec::new();
    let mut tests = Vec::new();
    for path in files {
        let name = path.to_string_lossy().to_ascii_lowercase();
        if name.ends_with(".labels") || name.ends_with(".labels.csv") {
            continue;
        }
        if is_capture(&path) {
            found.captures.push(capture_input(&path)?);
            continue;
        }
        if !name.ends_with(".csv") {
            found
                .ignored
                .push((path, "neither a capture nor a CSV table".into()));
            continue;
        }
        let Some(header) = csv_header(&path) else {
            found.ignored.push((path, "unreadable".into()));
            continue;
        };
        match table_kind(&path, &header) {
            Some(TableKind::Hindy(level)) => found.hindy_tables[level as usize].push(path),
            Some(TableKind::MqttsetTrain(s)) => trains.push((s, path)),
            Some(TableKind::MqttsetTest(s)) => tests.push((s, path)),
            Some(TableKind::Mqttset) => found.mqttset_tables.push(path),
            None => found.ignored.push((
                path,
                "columns are neither MQTT-IoT-IDS2020's (is_attack with ttl/ip_len, num_pkts or \
                 fwd_num_pkts) nor MQTTset's (target, tcp.flags, mqtt.msgtype)"
                    .into(),
            )),
        }
    }
    for (suffix, train) in trains {
        match tests.iter().position(|(s, _)| *s == suffix) {
            Some(i) => {
                let (_, test) = tests.remove(i);
                found.mqttset_pairs.push(MqttsetPair {
                    suffix,
                    train,
                    test,
                });
            }
            None => found.mqttset_tables.push(train),
        }
    }
    found
        .mqttset_tables
        .extend(tests.into_iter().map(|(_, p)| p));
    Ok(found)
}

impl Discovered {
    /// Whether anything usable was found.
    pub fn is_empty(&self) -> bool {
        self.captures.is_empty()
            && self.hindy_tables.iter().all(Vec::is_empty)
            && self.mqttset_pairs.is_empty()
            && self.mqttset_tables.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_classes_and_stems() {
        assert_eq!(
            class_of_capture(Path::new("x/benign-5mb-train.pcap")),
            "legitimate"
        );
        assert_eq!(
            class_of_capture(Path::new("x/benign-train.pcap")),
            "legitimate"
        );
        assert_eq!(
            class_of_capture(Path::new("x/malariados-train.pcap")),
            "malariados"
        );
        assert_eq!(
            class_of_capture(Path::new("bruteforce-train.pcapng")),
            "bruteforce"
        );
        assert_eq!(class_of_capture(Path::new("normal.pcap.gz")), "legitimate");
        assert_eq!(class_of_capture(Path::new("scan_A.pcap")), "scan_A");
        assert_eq!(stem(Path::new("a/b.pcapng.gz")), "b");
    }

    #[test]
    fn tables_are_told_by_columns_and_names() {
        let h = |s: &str| s.split(',').map(String::from).collect::<Vec<_>>();
        let p = Path::new("d/train70_augmented.csv");
        assert_eq!(
            table_kind(p, &h("tcp.flags,tcp.time_delta,mqtt.msgtype,target")),
            Some(TableKind::MqttsetTrain("_augmented".into()))
        );
        assert_eq!(
            table_kind(
                Path::new("biflow_x.csv"),
                &h("ip_src,fwd_num_pkts,bwd_num_pkts,is_attack")
            ),
            Some(TableKind::Hindy(HindyLevel::Biflow))
        );
        assert_eq!(
            table_kind(
                Path::new("normal.csv"),
                &h("timestamp,ttl,ip_len,is_attack")
            ),
            Some(TableKind::Hindy(HindyLevel::Packet))
        );
        assert_eq!(table_kind(Path::new("x.csv"), &h("a,b,target")), None);
    }

    #[test]
    fn a_labeler_for_one_class_reads_the_others_as_legitimate() {
        let input = CaptureInput {
            path: "x.pcap".into(),
            class: LEGITIMATE.into(),
            rules: mqtt_ids_features::label::parse_rules(
                "scan,10.0.0.9,,,\nbruteforce,10.0.0.8,,,\n",
            )
            .unwrap(),
            rules_file: Some("x.labels".into()),
            attackers: Vec::new(),
            paper: None,
        };
        assert_eq!(input.classes(), vec!["bruteforce", "legitimate", "scan"]);
        let l = input.labeler(Some("scan"));
        assert_eq!(l.rules[0].class, "scan");
        assert_eq!(l.rules[1].class, LEGITIMATE);
        assert_eq!(l.class.as_deref(), Some(LEGITIMATE));
        assert_eq!(input.labeler(None).rules[1].class, "bruteforce");
    }
}
