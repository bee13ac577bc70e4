//! The default data: the papers' testbeds simulated by crates/simulate into `DIR/data/<scenario>`,
//! each capture with the label rules the simulator writes beside it.

use std::time::Instant;

use mqtt_ids_simulate::{simulate_with_progress, Scenario, SimOptions};

use crate::inputs::{CaptureInput, Discovered, LEGITIMATE};
use crate::results::StageTime;
use crate::run::{Config, Event, Observer, Paper};

/// Seconds of traffic per capture of a full run, chosen so the data volumes approach the papers'
/// (a quick run keeps each scenario's own lengths: 120 s for hindy2020, 60 s for mqttset2020).
///
/// - hindy2020: `normal` one hour (≈ 1.0 M packets; Hindy et al. Table 2: 1,056,230), every
///   attack capture ten minutes (scan_A ≈ 30 k attack packets, Table 2: 40,624; scan_sU ≈ 30 k,
///   22,436; Sparta far fewer than its 19.7 M — its SSH rows collapse to a few hundred distinct
///   ones anyway once duplicates are removed).
/// - mqttset2020: `legitimate` one simulated day (≈ 1.06 M packets; the paper's legitimate
///   traffic is ≈ 11.75 M of its 11,915,716 packets, 98.7 % of its test rows), each attack
///   capture as long as Table 3 says it was recorded (DoS 5:00, flood 5:00, SlowITe 10:00,
///   malformed 6:00, brute force 30:00).
pub fn full_run_seconds(scenario: &str, capture: &str) -> Option<f64> {
    match (scenario, capture) {
        ("hindy2020", "normal") => Some(3600.0),
        ("hindy2020", _) => Some(600.0),
        ("mqttset2020", "legitimate") => Some(86_400.0),
        ("mqttset2020", "dos" | "flood") => Some(300.0),
        ("mqttset2020", "slowite") => Some(600.0),
        ("mqttset2020", "malformed") => Some(360.0),
        ("mqttset2020", "bruteforce") => Some(1800.0),
        _ => None,
    }
}

/// The scenario as run: a full run sets each capture's length ([`full_run_seconds`]); traffic
/// keeps the scenario's own rates (scale 1), so inter-arrival times stay those of the testbed.
fn sized(mut scenario: Scenario, config: &Config) -> (Scenario, SimOptions) {
    if !config.quick {
        let name = scenario.name.clone();
        for c in &mut scenario.captures {
            if let Some(s) = full_run_seconds(&name, &c.name) {
                c.duration = Some(s);
            }
        }
    }
    let options = SimOptions {
        seed: config.seed,
        duration: None,
        scale: 1.0,
        ..SimOptions::default()
    };
    (scenario, options)
}

/// Simulates the scenario of each paper (a paper without a built-in scenario of its own uses
/// the other's captures, which the report states) and returns the captures to extract.
#[allow(clippy::type_complexity)]
pub fn simulate(
    config: &Config,
    observer: Observer<'_>,
) -> Result<(Discovered, Vec<serde_json::Value>, Vec<StageTime>), String> {
    let mut found = Discovered::default();
    let mut records = Vec::new();
    let mut times = Vec::new();
    let mut scenarios: Vec<(String, Option<String>)> = Vec::new();
    for paper in &config.papers {
        let name = paper.name();
        if Scenario::builtin(name).is_some() {
            scenarios.push((name.to_string(), Some(name.to_string())));
        }
    }
    // A paper without its own scenario shares the other's captures.
    let covered: Vec<&str> = scenarios.iter().filter_map(|(_, p)| p.as_deref()).collect();
    let missing: Vec<Paper> = config
        .papers
        .iter()
        .copied()
        .filter(|p| !covered.contains(&p.name()))
        .collect();
    if !missing.is_empty() {
        let fallback = Paper::Mqttset2020.name().to_string();
        let fallback = if Scenario::builtin(&fallback).is_some() {
            fallback
        } else {
            return Err("no built-in simulation scenario is available; run with --data DIR".into());
        };
        match scenarios.iter_mut().find(|(s, _)| *s == fallback) {
            // Already simulated for its own paper: share it.
            Some(entry) => entry.1 = None,
            None => scenarios.push((
                fallback.clone(),
                if config.papers.len() == 1 {
                    None
                } else {
                    Some(fallback.clone())
                },
            )),
        }
        for p in &missing {
            records.push(serde_json::json!({
                "note": format!("{} has no built-in scenario in this build; it runs on the {fallback} captures", p.name()),
            }));
        }
    }
    for (scenario_name, paper) in scenarios {
        let (scenario, options) = sized(
            Scenario::builtin(&scenario_name).expect("checked above"),
            config,
        );
        let dir = config.out_dir.join("data").join(&scenario_name);
        let stage = format!("simulate {scenario_name}");
        let total_seconds: f64 = scenario
            .captures
            .iter()
            .map(|c| options.duration.or(c.duration).unwrap_or(scenario.duration))
            .sum();
        observer(Event::Stage {
            name: &stage,
            total: (total_seconds * 1000.0) as u64,
            bytes: false,
        });
        let start = Instant::now();
        let mut done_before = 0.0;
        let mut current = String::new();
        let mut last_t = 0.0;
        let report =
            simulate_with_progress(&scenario, &options, &dir, &mut |capture, t, packets| {
                if capture != current {
                    done_before += last_t;
                    current = capture.to_string();
                }
                last_t = t;
                observer(Event::Progress {
                    done: ((done_before + t) * 1000.0) as u64,
                    message: &format!("{capture}: {packets} packets"),
                });
            })
            .map_err(|e| format!("simulating {scenario_name}: {e}"))?;
        let seconds = start.elapsed().as_secs_f64();
        observer(Event::Done { seconds });
        times.push(StageTime { stage, seconds });
        for c in &report.captures {
            let rules = crate::inputs::read_rules(&c.labels)?;
            found.captures.push(CaptureInput {
                path: c.capture.clone(),
                class: LEGITIMATE.into(),
                rules,
                rules_file: Some(c.labels.clone()),
                attackers: Vec::new(),
                paper: paper.clone(),
            });
        }
        records.push(serde_json::json!({
            "scenario": report.scenario,
            "tool_version": report.tool_version,
            "seed": options.seed,
            "scale": options.scale,
            "captures": report.captures.iter().map(|c| serde_json::json!({
                "name": c.name,
                "class": c.class,
                "seconds": c.span.1 - c.span.0,
                "packets": c.packets,
                "bytes": c.bytes,
                "packets_by_class": c.packets_by_class,
                "connections_by_class": c.connections_by_class,
            })).collect::<Vec<_>>(),
            "record": report.record.display().to_string(),
            "used_by": paper.as_deref().unwrap_or("both papers"),
        }));
    }
    Ok((found, records, times))
}
