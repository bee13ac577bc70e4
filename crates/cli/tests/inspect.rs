//! `mqtt-ids inspect` as a user runs it: exit codes, JSON keys, bad inputs among good ones,
//! standard input.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mqtt-ids"))
}

fn shared(rel: &str) -> Option<PathBuf> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/data")
        .join(rel);
    if p.exists() {
        Some(p)
    } else if std::env::var_os("CI").is_some() {
        panic!("{} missing in CI", p.display());
    } else {
        None
    }
}

fn json_lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn temp(name: &str, bytes: &[u8]) -> PathBuf {
    let p = std::env::temp_dir().join(format!("mqtt-ids-cli-{}-{name}", std::process::id()));
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn json_has_the_documented_keys_and_exit_0() {
    let Some(zeek) = shared("corpus/zeek/mqtt.pcap") else {
        return;
    };
    let out = bin()
        .args(["inspect", "--json"])
        .arg(&zeek)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = &json_lines(&out)[0];
    for key in [
        "file",
        "format",
        "link_types",
        "packets",
        "bytes",
        "first_ts",
        "last_ts",
        "ipv4",
        "ipv6",
        "tcp",
        "udp",
        "undecodable",
        "errors",
    ] {
        assert!(v.get(key).is_some(), "missing {key}: {v}");
    }
    // capinfos -c / tshark on the same file: 19 packets, all IPv4/TCP.
    assert_eq!(v["packets"], 19);
    assert_eq!(v["tcp"], 19);
    assert_eq!(v["format"], "pcap");
    assert_eq!(v["link_types"][0], "ETHERNET");
    assert_eq!(v["first_ts"], "2016-04-20T16:43:10.509491000Z");
    assert_eq!(v["errors"].as_array().unwrap().len(), 0);
    // tshark -r mqtt.pcap -Y mqtt -T fields -e mqtt.msgtype -E occurrence=a | sort | uniq -c
    let m = &v["mqtt"];
    assert_eq!(m["messages"], 20);
    for (name, n) in [
        ("CONNECT", 2),
        ("CONNACK", 2),
        ("PUBLISH", 3),
        ("SUBSCRIBE", 1),
        ("SUBACK", 1),
        ("PINGREQ", 5),
        ("PINGRESP", 5),
        ("DISCONNECT", 1),
    ] {
        assert_eq!(m["by_type"][name], n, "{name}: {m}");
    }
    assert!(m["findings"].is_object());
}

#[test]
fn bad_inputs_are_reported_and_the_others_still_processed() {
    let Some(zeek) = shared("corpus/zeek/mqtt.pcap") else {
        return;
    };
    let good = std::fs::read(&zeek).unwrap();
    // Cut the last record short: 18 packets remain whole.
    let cut = temp("cut.pcap", &good[..good.len() - 10]);
    let empty = temp("empty.pcap", b"");
    let text = temp("notes.pcap", b"these are not packets\n");
    let dir = std::env::temp_dir();
    let out = bin()
        .args(["inspect", "--json"])
        .arg(&cut)
        .arg("/nonexistent/capture.pcap")
        .arg(&empty)
        .arg(&text)
        .arg(&dir)
        .arg(&zeek)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let v = json_lines(&out);
    assert_eq!(v.len(), 6, "one object per input");
    assert_eq!(v[0]["packets"], 18);
    let e = &v[0]["errors"][0];
    assert_eq!(e["packet"], 19);
    assert!(e["offset"].as_u64().unwrap() > 0);
    let msg = e["message"].as_str().unwrap();
    assert!(
        msg.contains("cut.pcap: byte offset") && msg.contains("expected"),
        "{msg}"
    );
    assert!(v[1]["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("cannot open"));
    assert!(v[2]["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("empty"));
    assert!(v[3]["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("magic"));
    assert!(v[4]["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("directory"));
    assert_eq!(
        v[5]["packets"], 19,
        "a good file after bad ones is read in full"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 5, "{stderr}");
    for p in [cut, empty, text] {
        let _ = std::fs::remove_file(p);
    }
}

#[test]
fn unknown_link_type_is_an_error_naming_the_first_packet() {
    // pcap header with link type 147 (USER0) and one record.
    let mut f = vec![0xD4, 0xC3, 0xB2, 0xA1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    f.extend_from_slice(&65535u32.to_le_bytes());
    f.extend_from_slice(&147u32.to_le_bytes());
    f.extend_from_slice(&[0; 8]);
    f.extend_from_slice(&2u32.to_le_bytes());
    f.extend_from_slice(&2u32.to_le_bytes());
    f.extend_from_slice(b"hi");
    let p = temp("user0.pcap", &f);
    let out = bin().args(["inspect", "--json"]).arg(&p).output().unwrap();
    let _ = std::fs::remove_file(&p);
    assert_eq!(out.status.code(), Some(2));
    let v = &json_lines(&out)[0];
    assert_eq!(v["packets"], 1);
    assert_eq!(v["undecodable"], 1);
    let e = &v["errors"][0];
    assert_eq!(
        (e["offset"].as_u64(), e["packet"].as_u64()),
        (Some(24), Some(1))
    );
    assert!(e["message"]
        .as_str()
        .unwrap()
        .contains("LINKTYPE_147 is not supported"));
}

#[test]
fn standard_input_and_gzip() {
    let Some(flood) = shared("mqttset-train/flood-train.pcap") else {
        return;
    };
    let bytes = std::fs::read(&flood).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let gz = gz.finish().unwrap();
    for input in [bytes, gz] {
        let mut child = bin()
            .args(["inspect", "--json", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert_eq!(out.status.code(), Some(0));
        let v = &json_lines(&out)[0];
        // capinfos -c flood-train.pcap: 58 packets, Linux cooked.
        assert_eq!(v["packets"], 58);
        assert_eq!(v["link_types"][0], "LINUX_SLL");
        assert_eq!(v["file"], "-");
    }
}

#[test]
fn usage_errors_exit_64() {
    let out = bin().args(["inspect"]).output().unwrap();
    assert_eq!(out.status.code(), Some(64));
    let out = bin().args(["--version"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn mqtt_ports_are_configurable() {
    let Some(zeek) = shared("corpus/zeek/mqtt.pcap") else {
        return;
    };
    // With 1883 not configured and probing off, nothing is MQTT; with probing on, the
    // connections that open with a CONNECT in the capture are found anyway.
    let run = |extra: &[&str]| {
        let out = bin()
            .args(["inspect", "--json", "--mqtt-ports", "8883"])
            .args(extra)
            .arg(&zeek)
            .output()
            .unwrap();
        json_lines(&out)[0]["mqtt"].clone()
    };
    assert_eq!(run(&["--no-mqtt-probe"])["messages"], 0);
    let probed = run(&[]);
    assert_eq!(probed["connections_found_by_probe"], probed["connections"]);
    assert!(probed["messages"].as_u64().unwrap() > 0);
}
