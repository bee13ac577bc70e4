//! `extract_parallel` splits the sets into passes on threads: every output must equal what one
//! pass writes, and the merged report must equal the one pass's report, on real captures.

mod common;

use common::{shared_data, Shared};
use mqtt_ids_capture::{open, ReaderOptions};
use mqtt_ids_features::{
    extract, extract_parallel, plan_passes, CsvSink, ExtractOptions, ExtractReport, Output,
    Outputs, SetKind,
};

/// Every set of `path` as CSV text, in `SetKind::ALL` order, and the report.
fn run(
    path: &str,
    threads: Option<usize>,
    options: &ExtractOptions,
) -> (Vec<String>, ExtractReport) {
    let buffers: Vec<Shared> = SetKind::ALL.iter().map(|_| Shared::default()).collect();
    let mut outputs = Outputs::default();
    for (set, buffer) in SetKind::ALL.into_iter().zip(&buffers) {
        let absent = if set == SetKind::Mqttset { "0" } else { "" };
        let sink = CsvSink::new(
            Box::new(buffer.clone()) as Box<dyn mqtt_ids_features::LineOut + Send>,
            set.schema(),
            absent,
        )
        .unwrap();
        *outputs.slot(set) = Some(Output::Csv(sink));
    }
    let mut reader = open(path, ReaderOptions::default()).unwrap();
    let mut last = 0;
    let report = match threads {
        None => extract(&mut reader, options, &mut outputs, &mut |_| {}).unwrap(),
        Some(n) => {
            let reopen = || open(path, ReaderOptions::default());
            extract_parallel(&mut reader, &reopen, n, options, &mut outputs, &mut |b| {
                assert!(b >= last, "progress went back from {last} to {b}");
                last = b;
            })
            .unwrap()
        }
    };
    if threads.is_some() {
        assert_eq!(
            last, report.bytes_read,
            "the last progress report is the end"
        );
    }
    for set in SetKind::ALL {
        outputs.slot(set).take().unwrap().finish().unwrap();
    }
    (buffers.iter().map(Shared::text).collect(), report)
}

#[test]
fn passes_on_threads_write_what_one_pass_writes() {
    let Some(data) = shared_data() else { return };
    let options = ExtractOptions {
        // The online `session` variant too: interim rows depend on packet time only.
        session_update_ns: Some(1_000_000_000),
        ..ExtractOptions::default()
    };
    for name in [
        "mqttset-train/malformed-train.pcap",
        "mqttset-train/bruteforce-train.pcapng",
        "mqttset-train/slowite-train.pcap",
    ] {
        let path = data.join(name);
        let path = path.to_str().unwrap();
        let (one, one_report) = run(path, None, &options);
        assert!(
            one.iter().all(|text| text.lines().count() > 1),
            "{name}: every set has rows"
        );
        for threads in [1, 2, 3, 4] {
            let (many, report) = run(path, Some(threads), &options);
            for ((set, a), b) in SetKind::ALL.into_iter().zip(&one).zip(&many) {
                assert!(
                    a == b,
                    "{name}, {threads} threads: the {} rows differ",
                    set.name()
                );
            }
            assert_eq!(report.packets, one_report.packets, "{name}");
            assert_eq!(report.bytes_read, one_report.bytes_read, "{name}");
            assert_eq!(report.mqtt, one_report.mqtt, "{name}, {threads} threads");
            assert_eq!(report.flows, one_report.flows, "{name}, {threads} threads");
            assert_eq!(
                report.mqttset, one_report.mqttset,
                "{name}, {threads} threads"
            );
            assert_eq!(
                report.context, one_report.context,
                "{name}, {threads} threads"
            );
            assert_eq!(
                report.input_error.is_some(),
                one_report.input_error.is_some()
            );
        }
    }
}

#[test]
fn plans_keep_shared_state_together_and_balance_the_rest() {
    use SetKind::*;
    let papers = [Packet, Uniflow, Biflow, Mqttset];
    assert_eq!(plan_passes(&papers, 1), vec![papers.to_vec()]);
    // The costliest pass first; the flow sets never apart.
    assert_eq!(
        plan_passes(&papers, 2),
        vec![vec![Uniflow, Biflow, Mqttset], vec![Packet]]
    );
    for threads in 1..=6 {
        for requested in [
            &papers[..],
            &SetKind::ALL[..],
            &[Uniflow, Biflow][..],
            &[Context][..],
        ] {
            let plan = plan_passes(requested, threads);
            assert!(plan.len() <= threads.max(1));
            let mut covered: Vec<SetKind> = plan.concat();
            covered.sort_by_key(|s| SetKind::ALL.iter().position(|x| x == s));
            let mut want = requested.to_vec();
            want.sort_by_key(|s| SetKind::ALL.iter().position(|x| x == s));
            assert_eq!(
                covered, want,
                "{threads} threads: each set in exactly one pass"
            );
            for pass in &plan {
                assert_eq!(
                    pass.contains(&Uniflow) && requested.contains(&Biflow),
                    pass.contains(&Biflow) && requested.contains(&Uniflow)
                );
                assert_eq!(
                    pass.contains(&Context) && requested.contains(&Session),
                    pass.contains(&Session) && requested.contains(&Context)
                );
            }
        }
    }
    // `context` is the costliest set by far: with two threads it runs alone.
    assert_eq!(
        plan_passes(&SetKind::ALL, 2),
        vec![
            vec![Context, Session],
            vec![Packet, Uniflow, Biflow, Mqttset]
        ]
    );
    assert!(plan_passes(&[], 2).is_empty(), "nothing requested: no pass");
}
