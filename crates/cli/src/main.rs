//! `mqtt-ids`: the command-line front end. It parses flags into the libraries' configurations
//! and calls them; the work happens in the pipeline crates (capture → mqtt → flows/features →
//! learn → detect/report).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod detect;
mod evaluate;
mod extract;
mod inspect;
mod learn_args;
mod progress;
mod reproduce;
mod simulate;
mod train;

/// Exit status when every input was processed to its end.
pub const EXIT_OK: u8 = 0;
/// Exit status for a failure that stopped the command (e.g. output could not be written).
pub const EXIT_FAILURE: u8 = 1;
/// Exit status when at least one input had an error (the others were still processed).
pub const EXIT_INPUT_ERROR: u8 = 2;
/// Exit status for invalid command-line usage.
pub const EXIT_USAGE: u8 = 64;

/// Intrusion detection for MQTT / IoT networks: capture, dissection, the MQTT-IoT-IDS2020 and
/// MQTTset feature sets, classifiers, simulation and online detection.
#[derive(Parser, Debug)]
#[command(name = "mqtt-ids", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Summarise captures: format, link types, packet/byte counts, time span, protocols,
    /// undecodable packets and read errors.
    Inspect(inspect::Args),
    /// Extract the papers' feature sets (packet, uniflow, biflow, mqttset) from captures, all
    /// from one read of each file, as CSV or Parquet.
    Extract(extract::Args),
    /// Fit one classifier on feature tables and save it as a model file.
    Train(train::Args),
    /// Run a paper's evaluation protocol (cross-validation or hold-out) for several classifiers
    /// and print the results like the papers' tables.
    Evaluate(evaluate::Args),
    /// Detect attacks in captures with trained models; alerts as Suricata-EVE-shaped JSON
    /// lines.
    Detect(detect::Args),
    /// Simulate a testbed (the papers' or a TOML scenario) into labelled captures.
    Simulate(simulate::Args),
    /// Reproduce both papers end to end (data, features, every classifier under the papers'
    /// protocols) and write a report beside the published numbers.
    Reproduce(reproduce::Args),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let code = match cli.command {
        Command::Inspect(args) => inspect::run(&args),
        Command::Extract(args) => extract::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Evaluate(args) => evaluate::run(&args),
        Command::Simulate(args) => simulate::run(&args),
        Command::Detect(args) => detect::run(&args),
        Command::Reproduce(args) => reproduce::run_command(&args),
    };
    ExitCode::from(code)
}
