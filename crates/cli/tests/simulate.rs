//! `mqtt-ids simulate` as a user runs it: the labels it writes, fed to `mqtt-ids extract
//! --labels`, give every row the class of the ground truth; tshark reads every capture without
//! malformed frames and counts the MQTT messages the simulation sent.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

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
            &file,
        )
        .unwrap();
        let mut by_type: HashMap<u64, u64> = HashMap::new();
        for t in text.split([',', '\n']).filter(|s| !s.is_empty()) {
            *by_type.entry(t.parse().unwrap()).or_insert(0) += 1;
        }
        let names = [
            "",
            "CONNECT",
            "CONNACK",
            "PUBLISH",
            "PUBACK",
            "PUBREC",
            "PUBREL",
            "PUBCOMP",
            "SUBSCRIBE",
            "SUBACK",
            "UNSUBSCRIBE",
            "UNSUBACK",
            "PINGREQ",
            "PINGRESP",
            "DISCONNECT",
        ];
        let mut sent: HashMap<u64, u64> = HashMap::new();
        for per_class in cap["mqtt_messages"].as_object().unwrap().values() {
            for (ty, n) in per_class.as_object().unwrap() {
                let code = names.iter().position(|x| x == ty).unwrap() as u64;
                *sent.entry(code).or_insert(0) += n.as_u64().unwrap();
            }
        }
        if name == "malformed" {
            // Malformed probes are not counted as sent messages; tshark still sees some as
            // messages of their type, so it finds at least as many.
            for (ty, n) in &sent {
                assert!(
                    by_type.get(ty).copied().unwrap_or(0) >= *n,
                    "{name}: type {ty}"
                );
            }
        } else {
            assert_eq!(by_type, sent, "{name}");
        }
    }
}
