//! `mqtt-ids reproduce --quick`: the command CI runs, end to end through the binary.

use std::process::Command;

#[test]
fn reproduce_quick_writes_the_report_and_prints_the_headline() {
    let out = std::env::temp_dir().join(format!("mqtt-ids-cli-reproduce-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&out);
    let output = Command::new(env!("CARGO_BIN_EXE_mqtt-ids"))
        .args(["reproduce", "--quick", "--seed", "1", "-o"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for file in [
        "results.json",
        "report.md",
        "report.html",
        "tables/hindy_table3_accuracy.csv",
        "figures/mqttset_scores.png",
    ] {
        assert!(out.join(file).is_file(), "{file} missing");
    }
    assert!(
        stdout.contains("Hindy et al. 2020") && stdout.contains("Vaccari et al. 2020"),
        "{stdout}"
    );
    assert!(stdout.contains("report.html"), "{stdout}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("results.json")).unwrap()).unwrap();
    assert_eq!(r["provenance"]["seed"], 1);
    assert_eq!(r["provenance"]["quick"], true);
    // A wrong paper name is a usage error.
    let status = Command::new(env!("CARGO_BIN_EXE_mqtt-ids"))
        .args(["reproduce", "--paper", "kdd99", "-o"])
        .arg(&out)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(64));
}
