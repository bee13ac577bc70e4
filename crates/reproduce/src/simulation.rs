//! The default data: the papers' testbeds simulated by crates/simulate into `DIR/data/<scenario>`,
//! each capture with the label rules the simulator writes beside it.

use std::time::Instant;

use mqtt_ids_simulate::{simulate_with_progress, Scenario, SimOptions};

use crate::inputs::{CaptureInput, Discovered, LEGITIMATE};
use crate::results::StageTime;
use crate::run::{Config, Event, Observer, Paper};

/// Seconds of traffic per capture: a quick run keeps the scenario's own length, a full run
/// records longer and busier captures.
fn options(config: &Config) -> SimOptions {
    SimOptions {
        seed: config.seed,
        duration: if config.quick { None } else { Some(300.0) },
        scale: if config.quick { 1.0 } else { 2.0 },
        ..SimOptions::default()
    }
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
    let options = options(config);
    for (scenario_name, paper) in scenarios {
        let scenario = Scenario::builtin(&scenario_name).expect("checked above");
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
            "duration_seconds": options.duration,
            "scale": options.scale,
            "captures": report.captures.iter().map(|c| serde_json::json!({
                "name": c.name,
                "class": c.class,
                "packets": c.packets,
                "packets_by_class": c.packets_by_class,
            })).collect::<Vec<_>>(),
            "record": report.record.display().to_string(),
            "used_by": paper.as_deref().unwrap_or("both papers"),
        }));
    }
    Ok((found, records, times))
}
