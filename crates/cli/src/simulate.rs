//! `mqtt-ids simulate`: the papers' testbeds (or a TOML scenario) as labelled captures.

use std::io::Write;
use std::path::PathBuf;

use mqtt_ids_simulate::{simulate_with_progress, Format, Scenario, SimOptions};

use crate::{progress, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A built-in scenario (`hindy2020`, `mqttset2020`) or a TOML scenario file.
    #[arg(long, value_name = "NAME|FILE")]
    scenario: String,
    /// Seed of every random choice; the same seed gives byte-identical files.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Length of each capture in seconds (attack windows stretch with it); default: the
    /// scenario's.
    #[arg(long, value_name = "SECONDS")]
    duration: Option<f64>,
    /// Traffic multiplier: sensors, streams and attacks act this many times as often.
    #[arg(long, default_value_t = 1.0)]
    scale: f64,
    /// Capture format.
    #[arg(long, value_parser = ["pcap", "pcapng"], default_value = "pcap")]
    format: String,
    /// Write only these captures (comma-separated names).
    #[arg(long, value_delimiter = ',', value_name = "NAME,...")]
    capture: Vec<String>,
    /// Print the scenario as TOML (a starting point for your own) and exit.
    #[arg(long)]
    print_scenario: bool,
    /// Print the run record as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// Output directory.
    #[arg(
        short = 'o',
        long = "out",
        value_name = "DIR",
        required_unless_present_any = ["print_scenario", "live"]
    )]
    out: Option<PathBuf>,
    /// Play the scenario's sensors and the attacks of its captures (--capture, default all)
    /// with real TCP connections against a broker at ADDR:PORT, which must be in 127.0.0.0/8;
    /// each capture's attacks run --duration seconds (default 30).
    #[arg(long, value_name = "ADDR:PORT", conflicts_with = "out")]
    live: Option<std::net::SocketAddr>,
}

pub fn run(args: &Args) -> u8 {
    let scenario = match Scenario::builtin(&args.scenario) {
        Some(s) => s,
        None => {
            let path = std::path::Path::new(&args.scenario);
            if !path.exists() {
                eprintln!(
                    "mqtt-ids simulate: `{}` is neither a built-in scenario ({}) nor a file",
                    args.scenario,
                    Scenario::BUILTIN.join(", ")
                );
                return EXIT_USAGE;
            }
            match Scenario::from_file(path) {
                Ok(s) => s,
                Err(e) => {
                    eprintln!("mqtt-ids simulate: {e}");
                    return EXIT_USAGE;
                }
            }
        }
    };
    if args.print_scenario {
        print!("{}", scenario.to_toml());
        return EXIT_OK;
    }
    if let Some(broker) = args.live {
        return live(&scenario, args, broker);
    }
    let Some(out) = &args.out else {
        eprintln!("mqtt-ids simulate: -o DIR is required");
        return EXIT_USAGE;
    };
    let options = SimOptions {
        seed: args.seed,
        duration: args.duration,
        scale: args.scale,
        format: if args.format == "pcapng" {
            Format::PcapNg
        } else {
            Format::Pcap
        },
        captures: args.capture.clone(),
    };
    let bar = progress::fraction("simulate");
    let total: f64 = scenario
        .captures
        .iter()
        .filter(|c| options.captures.is_empty() || options.captures.contains(&c.name))
        .map(|c| args.duration.or(c.duration).unwrap_or(scenario.duration))
        .sum();
    bar.set_length(1000);
    let mut done_before = 0.0;
    let mut current = String::new();
    let mut current_secs = 0.0;
    let result = simulate_with_progress(&scenario, &options, out, &mut |name, secs, packets| {
        if name != current {
            done_before += current_secs;
            current = name.to_string();
        }
        current_secs = secs;
        bar.set_message(format!("{name}: {packets} packets"));
        bar.set_position((1000.0 * (done_before + secs) / total.max(1e-9)) as u64);
    });
    bar.finish_and_clear();
    match result {
        Ok(report) => {
            if args.json {
                let text = std::fs::read_to_string(&report.record).unwrap_or_default();
                if std::io::stdout().write_all(text.as_bytes()).is_err() {
                    return EXIT_FAILURE;
                }
            } else {
                for c in &report.captures {
                    let classes: Vec<String> = c
                        .packets_by_class
                        .iter()
                        .filter(|(_, n)| **n > 0)
                        .map(|(k, n)| format!("{k} {n}"))
                        .collect();
                    eprintln!(
                        "{}: {} packets ({}), labels {}",
                        c.capture.display(),
                        c.packets,
                        classes.join(", "),
                        c.labels.display()
                    );
                    for w in &c.label_conflicts {
                        eprintln!("warning: {}: {w}", c.name);
                    }
                }
                eprintln!("record: {}", report.record.display());
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("mqtt-ids simulate: {e}");
            EXIT_FAILURE
        }
    }
}

/// `--live ADDR:PORT`: the scenario against a real broker on loopback.
fn live(scenario: &Scenario, args: &Args, broker: std::net::SocketAddr) -> u8 {
    use mqtt_ids_simulate::live::{self, LiveOptions};
    let options = LiveOptions {
        broker,
        captures: args.capture.clone(),
        duration: args.duration.unwrap_or(30.0),
        lead_in: 0.0,
        sensors: true,
        scale: args.scale,
        seed: args.seed,
        credentials: None,
    };
    if let Err(e) = live::check_target(&broker) {
        eprintln!("mqtt-ids simulate: {e}");
        return EXIT_USAGE;
    }
    let stop = std::sync::atomic::AtomicBool::new(false);
    match live::run(scenario, &options, &stop, &mut |phase| {
        eprintln!("live: {phase}")
    }) {
        Ok(report) => {
            for a in &report.attacks {
                match &a.skipped {
                    Some(why) => eprintln!("{} ({}): skipped: {why}", a.capture, a.attack),
                    None => eprintln!(
                        "{} ({}, class {}): {:.1}-{:.1} s, {} connections, {} messages, {} errors",
                        a.capture,
                        a.attack,
                        a.class,
                        a.started,
                        a.ended,
                        a.connections,
                        a.messages,
                        a.errors
                    ),
                }
            }
            eprintln!(
                "sensors: {} messages on {} connections; {:.1} s",
                report.sensor_messages, report.sensor_connections, report.seconds
            );
            if args.json {
                let json = serde_json::json!({
                    "tool": "mqtt-ids simulate --live",
                    "tool_version": env!("CARGO_PKG_VERSION"),
                    "scenario": scenario.name,
                    "broker": broker.to_string(),
                    "seed": args.seed,
                    "report": report,
                });
                println!("{json}");
            }
            EXIT_OK
        }
        Err(e) => {
            eprintln!("mqtt-ids simulate: {e}");
            EXIT_FAILURE
        }
    }
}
