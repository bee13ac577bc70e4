//! mqttset2020 end to end: determinism, the ground truth against what the capture holds, and
//! each attack's signature read back with crates/capture and crates/mqtt.

mod common;

use common::{assert_deterministic, read_capture, run, Seen};
use mqtt_ids_simulate::{Format, Scenario, SimOptions};

fn opts(seed: u64, secs: f64) -> SimOptions {
    SimOptions {
        seed,
        duration: Some(secs),
        ..SimOptions::default()
    }
}

#[test]
fn same_seed_same_bytes_other_seed_other_traffic() {
    let s = Scenario::builtin("mqttset2020").unwrap();
    let a = run(&s, &opts(7, 20.0), "det-a");
    let b = run(&s, &opts(7, 20.0), "det-b");
    let c = run(&s, &opts(8, 20.0), "det-c");
    assert_deterministic(&a, &b, &c);
}

#[test]
fn truth_counts_match_the_capture_and_every_attack_shows_its_signature() {
    let s = Scenario::builtin("mqttset2020").unwrap();
    let r = run(&s, &opts(1, 30.0), "sig");
    for c in &r.captures {
        let seen: Seen = read_capture(&c.capture);
        assert_eq!(seen.frames, c.packets, "{}", c.name);
        assert_eq!(seen.undecodable, 0, "{}", c.name);
        // MQTT messages the dissector finds = messages the simulation sent (no loss here),
        // except the malformed probes, which are not counted as messages by the simulator.
        let sent: u64 = c.mqtt_messages.values().flat_map(|m| m.values()).sum();
        if c.name != "malformed" {
            assert_eq!(seen.messages.len() as u64, sent, "{}", c.name);
        } else {
            assert!(seen.messages.len() as u64 >= sent, "{}", c.name);
        }
        let attack = c.packets_by_class.get(&c.class).copied().unwrap_or(0);
        let legit = c.packets_by_class["legitimate"];
        assert!(
            legit > 100,
            "{}: background traffic runs ({legit} packets)",
            c.name
        );
        if c.name != "legitimate" {
            assert!(attack > 0, "{}: no attack packets", c.name);
        }
        match c.name.as_str() {
            "bruteforce" => {
                // Every guess is refused with CONNACK 5 "not authorized" (3.1.1 §3.2.2.3).
                let refused = seen.connack_codes.iter().filter(|&&x| x == 5).count();
                assert!(refused >= 10, "{refused} refusals");
                assert!(seen.connack_codes.iter().all(|&x| x == 0 || x == 5));
            }
            "slowite" => {
                let held = seen.keep_alives.iter().filter(|&&k| k == 65535).count();
                assert!(held >= 500, "{held} CONNECTs with keep-alive 65535");
                // Each slot held open: no FIN from the attacker.
                assert!(c.connections_by_class["slowite"] >= 500);
            }
            "dos" => {
                assert!(c.connections_by_class["dos"] >= 10);
                assert!(c.mqtt_messages["dos"]["PUBLISH"] > 100);
                assert_eq!(
                    c.mqtt_messages["dos"]["PUBLISH"],
                    c.mqtt_messages["dos"]["PUBACK"]
                );
            }
            "flood" => {
                assert_eq!(c.connections_by_class["flood"], 1);
                assert!(seen.max_publish_len >= 32_768, "{}", seen.max_publish_len);
            }
            "malformed" => {
                // The broker closes on each violation; crates/mqtt reports findings for them.
                assert!(seen.findings > 5, "{} findings", seen.findings);
            }
            _ => {}
        }
        // Label windows lie within the capture.
        for a in &c.attacks {
            let (first, last) = a.observed.unwrap();
            assert!(first >= c.span.0 && last <= c.span.1);
        }
    }
}

#[test]
fn pcapng_holds_the_same_frames() {
    let s = Scenario::builtin("mqttset2020").unwrap();
    let mut o = opts(3, 10.0);
    o.captures = vec!["bruteforce".into()];
    let pcap = run(&s, &o, "fmt-pcap");
    o.format = Format::PcapNg;
    let ng = run(&s, &o, "fmt-ng");
    let a = read_capture(&pcap.captures[0].capture);
    let b = read_capture(&ng.captures[0].capture);
    assert!(ng.captures[0]
        .capture
        .to_str()
        .unwrap()
        .ends_with(".pcapng"));
    assert_eq!(a.frame_hash, b.frame_hash);
}
