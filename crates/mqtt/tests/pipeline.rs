//! The whole pipeline on real captures: the capture layer's reader and decoder feed the
//! [`Tracker`], and MQTT messages by type equal tshark's on every shared capture
//! (tests/reference/expected_by_type.tsv, made by tests/reference/make_expected.py).

use std::path::Path;

use mqtt_ids_capture::{decode, open, ReaderOptions};
use mqtt_ids_mqtt::{Summary, Tracker, TrackerConfig};

fn run(path: &Path) -> (Summary, Tracker) {
    let mut reader = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut summary = Summary::default();
    let (mut n, mut ts) = (0, 0);
    while let Some(frame) = reader.next_frame().unwrap() {
        let p = decode(frame);
        tracker.on_packet(&p, &mut summary);
        (n, ts) = (p.frame.number, p.frame.ts_ns);
    }
    tracker.finish(n, ts, &mut summary);
    (summary, tracker)
}

#[test]
fn message_counts_by_type_equal_tsharks_on_every_capture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if !root.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "shared data missing in CI"
        );
        return;
    }
    let mut mismatches = Vec::new();
    let mut files = 0;
    for line in include_str!("reference/expected_by_type.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
    {
        let mut cols = line.split('\t');
        let file = cols.next().unwrap();
        let want: Vec<u64> = cols.map(|c| c.parse().unwrap()).collect();
        let (summary, tracker) = run(&root.join(file));
        if summary.by_type[..] != want[..] {
            mismatches.push(format!(
                "{file}: ours {:?} tshark {want:?}",
                summary.by_type
            ));
        }
        assert_eq!(tracker.stats().evicted, 0, "{file}");
        files += 1;
    }
    assert!(files >= 40, "{files}");
    assert!(mismatches.is_empty(), "\n{}", mismatches.join("\n"));
}
