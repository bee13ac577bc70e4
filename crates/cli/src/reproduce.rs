//! `mqtt-ids reproduce`: both papers' experiments end to end, a progress bar per stage, the
//! report in the output directory and the headline table at the end.

use std::path::PathBuf;
use std::sync::Mutex;

use indicatif::ProgressBar;
use mqtt_ids_reproduce::{run, terminal_summary, write_report, Config, Event, Paper};

use crate::{progress, EXIT_FAILURE, EXIT_OK, EXIT_USAGE};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Which paper: hindy2020 (7 classifiers x packet/uni-flow/bi-flow, 5-fold CV),
    /// mqttset2020 (6 classifiers, 70/30 hold-out, unbalanced and balanced) or all.
    #[arg(long, default_value = "all")]
    paper: String,
    /// A reduced run (fewer rows, same protocols) that finishes in a few minutes.
    #[arg(long)]
    quick: bool,
    /// Seed of the simulation and of the row subsampling (the protocols keep the papers' seeds).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Run on these captures (pcap/pcapng; class from the file name, `benign*` is legitimate;
    /// a `<stem>.labels` file beside a capture gives label rules) or published dataset CSVs
    /// (MQTT-IoT-IDS2020 packet/uniflow_*/biflow_*, MQTTset train70*/test30*) instead of the
    /// simulated testbeds.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Output directory: results.json, report.md, report.html, tables/, figures/, features/.
    #[arg(
        short = 'o',
        long = "output",
        value_name = "DIR",
        default_value = "reproduce-report"
    )]
    out_dir: PathBuf,
}

pub fn run_command(args: &Args) -> u8 {
    let papers = match Paper::parse_list(&args.paper) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("mqtt-ids reproduce: {e}");
            return EXIT_USAGE;
        }
    };
    let config = Config::new(
        papers,
        args.quick,
        args.seed,
        args.data.clone(),
        args.out_dir.clone(),
    );
    let bar: Mutex<Option<ProgressBar>> = Mutex::new(None);
    let observer = |e: Event<'_>| {
        let mut current = bar.lock().expect("progress lock");
        match e {
            Event::Stage { name, total, bytes } => {
                // The stage's line first, then its bar below it.
                eprintln!("mqtt-ids reproduce: {name}");
                let b = if bytes {
                    progress::bytes(name, Some(total))
                } else {
                    let b = progress::fraction(name);
                    // Steps are reported in thousandths.
                    b.set_length(total.max(1) * 1000);
                    b
                };
                *current = Some(b);
            }
            Event::Progress { done, message } => {
                if let Some(b) = current.as_ref() {
                    b.set_position(done);
                    b.set_message(message.to_string());
                }
            }
            Event::Done { seconds } => {
                if let Some(b) = current.take() {
                    b.finish_and_clear();
                }
                eprintln!("mqtt-ids reproduce:   done in {seconds:.1} s");
            }
        }
    };
    let results = match run(&config, &observer) {
        Ok(r) => r,
        Err(e) => {
            if let Some(b) = bar.lock().expect("progress lock").take() {
                b.finish_and_clear();
            }
            eprintln!("mqtt-ids reproduce: {e}");
            return EXIT_FAILURE;
        }
    };
    let rendering = progress::spinner("rendering the report");
    let files = write_report(&results, &args.out_dir);
    rendering.finish_and_clear();
    let files = match files {
        Ok(f) => f,
        Err(e) => {
            eprintln!("mqtt-ids reproduce: {e}");
            return EXIT_FAILURE;
        }
    };
    print!("{}", terminal_summary(&results));
    println!(
        "\nReport: {} and {} ({} tables, {} figure files); every number in {}; wall time {:.1} s",
        files.html.display(),
        files.markdown.display(),
        files.tables.len(),
        files.figures.len(),
        files.results_json.display(),
        results.provenance.wall_seconds
    );
    EXIT_OK
}
