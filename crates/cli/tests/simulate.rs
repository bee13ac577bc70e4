//! `mqtt-ids simulate` as a user runs it: the labels it writes, fed to `mqtt-ids extract
//! --labels`, give every row the class of the ground truth; tshark reads every capture without
//! malformed frames and counts the MQTT messages the simulation sent.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use mqtt_ids_mqtt::codec::PacketType;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mqtt-ids"))
}

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mqtt-ids-simulate-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn csv(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

fn simulate(dir: &Path) {
    let st = bin()
        .args([
            "simulate",
            "--scenario",
            "mqttset2020",
            "--duration",
            "20",
            "--seed",
            "5",
            "-o",
        ])
        .arg(dir)
        .status()
        .unwrap();
    assert!(st.success());
}

const CAPTURES: [&str; 6] = [
    "legitimate",
    "dos",
    "flood",
    "slowite",
    "malformed",
    "bruteforce",
];

#[test]
fn extract_with_the_simulated_labels_reproduces_the_ground_truth() {
    let dir = out_dir("roundtrip");
    simulate(&dir);
    for name in CAPTURES {
        let feats = dir.join(format!("features-{name}"));
        let st = bin()
            .args(["extract", "--set", "mqttset,packet,uniflow", "--labels"])
            .arg(dir.join(format!("{name}.labels.csv")))
            .arg("-o")
            .arg(&feats)
            .arg(dir.join(format!("{name}.pcap")))
            .status()
            .unwrap();
        assert!(st.success(), "{name}");
        let truth = csv(&dir.join(format!("{name}.truth.csv")));
        let conns = csv(&dir.join(format!("{name}.connections.csv")));
        let proto: HashMap<&str, &str> = conns[1..]
            .iter()
            .map(|c| (c[0].as_str(), c[1].as_str()))
            .collect();
        // frame,time,class,is_attack,attacker,phase,conn
        let tcp: Vec<&Vec<String>> = truth[1..]
            .iter()
            .filter(|r| proto[r[6].as_str()] == "tcp")
            .collect();
        // mqttset: one row per TCP frame, class in `target` (the last column).
        let rows = csv(&feats.join(format!("mqttset_{name}.csv")));
        assert_eq!(rows.len() - 1, tcp.len(), "{name}: mqttset rows");
        let mut classes = HashMap::new();
        for (row, t) in rows[1..].iter().zip(&tcp) {
            assert_eq!(row.last().unwrap(), &t[2], "{name}: frame {}", t[0]);
            *classes.entry(t[2].clone()).or_insert(0) += 1;
        }
        if name != "legitimate" {
            assert!(
                classes.get(name).copied().unwrap_or(0) > 0,
                "{name}: {classes:?}"
            );
        }
        // packet: one row per TCP/UDP packet, is_attack last.
        let rows = csv(&feats.join(format!("packet_{name}.csv")));
        let tcp_udp: Vec<&Vec<String>> = truth[1..]
            .iter()
            .filter(|r| proto[r[6].as_str()] != "icmp")
            .collect();
        assert_eq!(rows.len() - 1, tcp_udp.len(), "{name}: packet rows");
        for (row, t) in rows[1..].iter().zip(&tcp_udp) {
            assert_eq!(row.last().unwrap(), &t[3], "{name}: frame {}", t[0]);
        }
        // uniflow: each flow's is_attack is its connection's.
        let by_tuple: HashMap<(String, String, String, String), &str> = conns[1..]
            .iter()
            .flat_map(|c| {
                [
                    (
                        (c[2].clone(), c[3].clone(), c[4].clone(), c[5].clone()),
                        c[12].as_str(),
                    ),
                    (
                        (c[4].clone(), c[5].clone(), c[2].clone(), c[3].clone()),
                        c[12].as_str(),
                    ),
                ]
            })
            .collect();
        let rows = csv(&feats.join(format!("uniflow_{name}.csv")));
        for row in &rows[1..] {
            let key = (
                row[0].clone(),
                row[2].clone(),
                row[1].clone(),
                row[3].clone(),
            );
            assert_eq!(row.last().unwrap(), by_tuple[&key], "{name}: flow {key:?}");
        }
    }
}

fn tshark(args: &[&str], file: &Path) -> Option<String> {
    let out = Command::new("tshark")
        .args(["-n", "-r"])
        .arg(file)
        .args(args)
        .output()
        .ok()?;
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn tshark_reads_every_capture_and_counts_the_messages_sent() {
    if Command::new("tshark").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "tshark is required in CI");
        eprintln!("skipping: tshark not found");
        return;
    }
    let dir = out_dir("tshark");
    simulate(&dir);
    let record: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("simulate.json")).unwrap()).unwrap();
    for cap in record["captures"].as_array().unwrap() {
        let name = cap["name"].as_str().unwrap();
        let file = dir.join(format!("{name}.pcap"));
        // Zero malformed frames (tshark -Y _ws.malformed).
        let malformed = tshark(&["-Y", "_ws.malformed"], &file).unwrap();
        assert_eq!(malformed.lines().count(), 0, "{name}: {malformed}");
        // No expert errors (TCP analysis, checksums off as by default).
        let expert = tshark(&["-q", "-z", "expert,error"], &file).unwrap();
        assert!(!expert.contains("Error"), "{name}: {expert}");
        // MQTT messages by type: tshark -Y mqtt -T fields -e mqtt.msgtype -E occurrence=a.
        let by_type = tshark_messages(&file);
        let sent = sent_messages(cap);
        if name == "malformed" {
            // Malformed probes are not counted as sent messages; tshark still sees some as
            // messages of their type, so it finds at least as many.
            for (ty, n) in &sent {
                assert!(by_type.get(ty).copied().unwrap_or(0) >= *n, "{name}: {ty}");
            }
        } else {
            assert_eq!(by_type, sent, "{name}");
        }
    }
}

fn simulate_file(scenario: &Path, dir: &Path) -> serde_json::Value {
    let out = bin()
        .args(["simulate", "--json", "--seed", "3", "--scenario"])
        .arg(scenario)
        .arg("-o")
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// MQTT messages by type name that tshark finds (`tshark -Y mqtt -T fields -e mqtt.msgtype`).
fn tshark_messages(file: &Path) -> BTreeMap<String, u64> {
    let text = tshark(
        &[
            "-Y",
            "mqtt",
            "-T",
            "fields",
            "-e",
            "mqtt.msgtype",
            "-E",
            "occurrence=a",
        ],
        file,
    )
    .unwrap();
    let mut out = BTreeMap::new();
    for t in text.split([',', '\n']).filter(|s| !s.is_empty()) {
        let i: usize = t.parse().unwrap();
        *out.entry(PacketType::ALL[i].name().to_string())
            .or_insert(0) += 1;
    }
    out
}

/// Messages the simulation sent, all classes together.
fn sent_messages(cap: &serde_json::Value) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for per_class in cap["mqtt_messages"].as_object().unwrap().values() {
        for (ty, n) in per_class.as_object().unwrap() {
            *out.entry(ty.clone()).or_insert(0) += n.as_u64().unwrap();
        }
    }
    out
}

fn have_tshark() -> bool {
    if Command::new("tshark").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "tshark is required in CI");
        eprintln!("skipping: tshark not found");
        return false;
    }
    true
}

/// A network described by a user: an authenticating broker, sensors with each payload and
/// interval kind, one subscriber, a camera stream over a lossy link, and a credential brute
/// force whose word list holds the password.
const FARM: &str = r#"
name = "farm"
start = "2024-03-01T08:00:00Z"
duration = 45.0
benign_class = "normal"

[[hosts]]
name = "hub"
ip = "10.0.0.2"

[[hosts]]
name = "soil"
ip = "10.0.0.11"

[[hosts]]
name = "gate"
ip = "10.0.0.12"
os = "windows"

[[hosts]]
name = "barn"
ip = "10.0.0.13"

[[hosts]]
name = "cam"
ip = "10.0.0.20"
link = { loss = 0.02, delay_ms = 2.0 }

[[hosts]]
name = "nvr"
ip = "10.0.0.21"

[[hosts]]
name = "intruder"
ip = "10.0.0.66"
os = "macos"

[broker]
host = "hub"
auth = { username = "farm", password = "tractor7" }

[[sensors]]
name = "soil-moisture"
host = "soil"
topic = "farm/soil"
payload = { kind = "integer", min = 0, max = 100 }
interval = { kind = "periodic", period = 2.0, jitter = 0.1 }
keep_alive = 10

[[sensors]]
name = "gate"
host = "gate"
topic = "farm/gate"
payload = { kind = "choice", values = ["open", "closed"] }
interval = { kind = "random", max = 3.0 }
qos = 1
keep_alive = 10

[[sensors]]
name = "barn-log"
host = "barn"
topic = "farm/barn/log"
payload = { kind = "text", min_len = 20, max_len = 200 }
interval = { kind = "random", max = 4.0 }
subscribe = ["farm/#"]
keep_alive = 10

[[streams]]
name = "camera"
from = "cam"
to = "nvr"
src_port = 40000
dst_port = 5004
payload_len = 1000
rate_pps = 10.0

[[captures]]
name = "quiet"

[[captures]]
name = "guessing"

[[captures.attacks]]
class = "bruteforce"
attacker = "intruder"
target = "hub"
start = 5.0
attack = { kind = "mqtt_bruteforce", usernames = ["farm"], wordlist = ["123456", "admin", "farm", "tractor7", "never-tried"], interval_ms = 500.0 }
"#;

#[test]
fn a_user_written_toml_scenario_runs_end_to_end() {
    let dir = out_dir("toml");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("farm.toml");
    std::fs::write(&file, FARM).unwrap();
    let record = simulate_file(&file, &dir.join("out"));
    let caps = record["captures"].as_array().unwrap();
    assert_eq!(caps.len(), 2);
    for cap in caps {
        let name = cap["name"].as_str().unwrap();
        let pcap = dir.join("out").join(format!("{name}.pcap"));
        // `mqtt-ids inspect --json` finds the MQTT messages the ground truth says were sent (no
        // TCP link is lossy here; the lossy one carries only the camera's UDP).
        let out = bin()
            .args(["inspect", "--json"])
            .arg(&pcap)
            .output()
            .unwrap();
        assert!(out.status.success());
        let inspect: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let found: BTreeMap<String, u64> = inspect["mqtt"]["by_type"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
            .collect();
        let sent = sent_messages(cap);
        assert_eq!(found, sent, "{name}: inspect vs ground truth");
        assert_eq!(inspect["packets"], cap["packets"], "{name}");
        assert_eq!(inspect["undecodable"], 0);
        // Every sensor logs in, the subscriber gets fan-out, QoS 1 is acknowledged.
        assert!(
            sent["SUBSCRIBE"] >= 1 && sent["PUBACK"] >= 1,
            "{name}: {sent:?}"
        );
        assert!(sent["PUBLISH"] > sent["PUBACK"], "{name}: fan-out");
        // PINGREQ / PINGRESP at the 10 s keep-alive: each of the three clients pings
        // 3–4 times in 45 s (connected within the first second), the broker answers each.
        assert!((9..=12).contains(&sent["PINGREQ"]), "{name}: {sent:?}");
        assert_eq!(sent["PINGREQ"], sent["PINGRESP"]);
        // The lossy camera link loses some of the 450 datagrams (2 % each way).
        let udp = inspect["udp"].as_u64().unwrap();
        assert!((380..450).contains(&udp), "{name}: {udp} datagrams");
    }
    // The brute force: refused four times with CONNACK 5, accepted at `tractor7`, then stops.
    let guessing = &caps[1];
    assert_eq!(guessing["mqtt_messages"]["bruteforce"]["CONNECT"], 4);
    let truth = csv(&dir.join("out/guessing.truth.csv"));
    assert!(truth[1..]
        .iter()
        .any(|r| r[2] == "bruteforce" && r[4] == "10.0.0.66"));
    if have_tshark() {
        let pcap = dir.join("out/guessing.pcap");
        let codes = tshark(
            &[
                "-Y",
                "mqtt.msgtype == 2 && ip.dst == 10.0.0.66",
                "-T",
                "fields",
                "-e",
                "mqtt.conack.val",
            ],
            &pcap,
        )
        .unwrap();
        let codes: Vec<&str> = codes.lines().collect();
        assert_eq!(codes, ["5", "5", "5", "0"]);
        // PINGREQs of one client are one keep-alive (10 s) apart.
        let times = tshark(
            &[
                "-Y",
                "mqtt.msgtype == 12 && ip.src == 10.0.0.11",
                "-T",
                "fields",
                "-e",
                "frame.time_epoch",
            ],
            &pcap,
        )
        .unwrap();
        let t: Vec<f64> = times.lines().map(|l| l.parse().unwrap()).collect();
        assert!(t.len() >= 3, "{t:?}");
        for w in t.windows(2) {
            assert!((w[1] - w[0] - 10.0).abs() < 0.01, "{t:?}");
        }
    }
}

/// MQTT 5.0 with QoS 2 everywhere: a persistent publisher, a per-message publisher and a
/// subscriber at QoS 2.
const V5: &str = r#"
name = "v5"
start = "2024-03-01T08:00:00Z"
duration = 30.0
mqtt_version = "5.0"

[[hosts]]
name = "broker"
ip = "172.20.0.2"

[[hosts]]
name = "meter"
ip = "172.20.0.10"

[[hosts]]
name = "valve"
ip = "172.20.0.11"

[[hosts]]
name = "panel"
ip = "172.20.0.12"

[broker]
host = "broker"

[[sensors]]
name = "meter"
host = "meter"
topic = "plant/meter"
payload = { kind = "integer", min = 0, max = 99999 }
interval = { kind = "periodic", period = 1.0 }
qos = 2

[[sensors]]
name = "valve"
host = "valve"
topic = "plant/valve"
payload = { kind = "choice", values = ["on", "off"] }
interval = { kind = "random", max = 2.0 }
qos = 2
connection = "per_message"

[[sensors]]
name = "panel"
host = "panel"
topic = "plant/panel"
payload = { kind = "text", min_len = 5, max_len = 10 }
interval = { kind = "periodic", period = 10.0 }
qos = 2
subscribe = ["plant/+"]

[[captures]]
name = "plant"
"#;

#[test]
fn mqtt5_with_qos2_end_to_end_and_tshark_agrees() {
    if !have_tshark() {
        return;
    }
    let dir = out_dir("v5");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("v5.toml");
    std::fs::write(&file, V5).unwrap();
    let record = simulate_file(&file, &dir.join("out"));
    let cap = &record["captures"][0];
    let pcap = dir.join("out/plant.pcap");
    let sent = sent_messages(cap);
    assert_eq!(tshark_messages(&pcap), sent);
    // Both directions of the QoS 2 handshake: sensors → broker and broker → subscriber.
    assert!(sent["PUBREC"] > 40, "{sent:?}");
    assert_eq!(sent["PUBREC"], sent["PUBREL"]);
    assert_eq!(sent["PUBREL"], sent["PUBCOMP"]);
    assert_eq!(sent["PUBLISH"], sent["PUBREC"]);
    // Every CONNECT says protocol level 5 and tshark decodes 5.0 properties without error.
    let versions = tshark(
        &["-Y", "mqtt.msgtype == 1", "-T", "fields", "-e", "mqtt.ver"],
        &pcap,
    )
    .unwrap();
    assert!(versions.lines().count() > 5);
    assert!(versions.lines().all(|v| v == "5"), "{versions}");
    let qos = tshark(
        &["-Y", "mqtt.msgtype == 3", "-T", "fields", "-e", "mqtt.qos"],
        &pcap,
    )
    .unwrap();
    assert!(qos.lines().all(|q| q == "2"), "{qos}");
    let malformed = tshark(&["-Y", "_ws.malformed"], &pcap).unwrap();
    assert!(malformed.is_empty(), "{malformed}");
    let expert = tshark(&["-q", "-z", "expert,error"], &pcap).unwrap();
    assert!(!expert.contains("Error"), "{expert}");
}
