//! Golden test: every real capture under ../shared/data reads and decodes to exactly the
//! numbers capinfos and tshark give (tests/reference/expected.tsv, made by
//! tests/reference/make_expected.py — the command is in that script's header).

use std::path::{Path, PathBuf};
use std::process::Command;

use mqtt_ids_capture::{decode, open, LinkType, ReaderOptions, Summary};

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

fn summarise(path: &Path) -> Summary {
    let mut reader =
        open(path.to_str().unwrap(), ReaderOptions::default()).unwrap_or_else(|e| panic!("{e}"));
    let mut summary = Summary::default();
    while let Some(frame) = reader.next_frame().unwrap_or_else(|e| panic!("{e}")) {
        summary.add(&decode(frame));
    }
    summary
}

#[test]
fn every_shared_capture_matches_capinfos_and_tshark() {
    let Some(root) = shared_data() else { return };
    let expected = include_str!("reference/expected.tsv");
    let mut checked = 0;
    for line in expected.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let n = |i: usize| f[i].parse::<u64>().unwrap();
        let s = summarise(&root.join(f[0]));
        let got = (
            s.packets,
            s.bytes,
            s.first_ts.unwrap() as u64,
            s.last_ts.unwrap() as u64,
            s.ipv4,
            s.ipv6,
            s.tcp,
            s.udp,
        );
        let want = (n(1), n(2), n(3), n(4), n(5), n(6), n(7), n(8));
        assert_eq!(
            got, want,
            "{}: (packets, bytes, first, last, ipv4, ipv6, tcp, udp)",
            f[0]
        );
        assert_eq!(s.undecodable_total(), 0, "{}: {:?}", f[0], s.undecodable);
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} captures checked");
}

fn tool(name: &str) -> bool {
    let found = Command::new(name).arg("-h").output().is_ok();
    if !found && std::env::var_os("CI").is_some() {
        panic!("{name} is missing: .ci/run installs it");
    }
    found
}

/// `mergecap -a` of a Linux-cooked pcap and an Ethernet pcapng gives one pcapng whose two
/// interfaces have different link types: the file Suricata, libpcap and CICFlowMeter fail on.
#[test]
fn mergecap_of_sll_and_ethernet_is_read_in_full() {
    let Some(root) = shared_data() else { return };
    if !tool("mergecap") {
        return;
    }
    let sll = root.join("mqttset-train/flood-train.pcap");
    let eth = root.join("mqttset-train/slowite-train.pcap");
    let out = std::env::temp_dir().join(format!("mqtt-ids-merged-{}.pcapng", std::process::id()));
    let status = Command::new("mergecap")
        .arg("-a")
        .arg("-w")
        .arg(&out)
        .arg(&sll)
        .arg(&eth)
        .status()
        .unwrap();
    assert!(status.success());
    let merged = summarise(&out);
    let _ = std::fs::remove_file(&out);
    let (a, b) = (summarise(&sll), summarise(&eth));
    assert_eq!(merged.packets, a.packets + b.packets);
    assert_eq!(merged.bytes, a.bytes + b.bytes);
    assert_eq!(merged.tcp, a.tcp + b.tcp);
    assert_eq!(merged.link_types[&LinkType::LINUX_SLL], a.packets);
    assert_eq!(merged.link_types[&LinkType::ETHERNET], b.packets);
    assert_eq!(merged.undecodable_total(), 0);
}

/// gzip-compressed captures read exactly like the originals.
#[test]
fn gzip_capture_reads_like_the_original() {
    let Some(root) = shared_data() else { return };
    let original = root.join("mqttset-train/bruteforce-train.pcapng");
    let bytes = std::fs::read(&original).unwrap();
    let gz_path = std::env::temp_dir().join(format!("mqtt-ids-{}.pcapng.gz", std::process::id()));
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut enc, &bytes).unwrap();
    std::fs::write(&gz_path, enc.finish().unwrap()).unwrap();
    let gz = summarise(&gz_path);
    let _ = std::fs::remove_file(&gz_path);
    assert_eq!(gz, summarise(&original));
}
