//! `mqtt-ids inspect`: what each capture holds, and what could not be read or decoded.

use std::io::Write;

use mqtt_ids_capture::{self as capture, time::rfc3339_ns, ReadError, ReaderOptions, Summary};
use mqtt_ids_mqtt::{self as mqtt, Tracker, TrackerConfig, TrackerStats};
use serde_json::{json, Map, Value};

use crate::{progress, EXIT_FAILURE, EXIT_INPUT_ERROR, EXIT_OK};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// One JSON object per input, each on its own line.
    #[arg(long)]
    json: bool,
    /// TCP server ports whose traffic is MQTT (comma-separated; add 8883 for plaintext MQTT on
    /// the TLS port).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1883",
        value_name = "PORT,..."
    )]
    mqtt_ports: Vec<u16>,
    /// Do not look for MQTT on other ports (by default a connection on any port whose client
    /// opens with an MQTT CONNECT is dissected).
    #[arg(long)]
    no_mqtt_probe: bool,
    /// Capture files (pcap or pcapng, optionally gzip-compressed); `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,
}

/// Everything `inspect` learned about one input.
struct Report {
    file: String,
    format: Option<&'static str>,
    compressed: bool,
    interface_link_types: Vec<capture::LinkType>,
    summary: Summary,
    mqtt: mqtt::Summary,
    mqtt_tracker: TrackerStats,
    errors: Vec<InputError>,
}

/// A fault in one input: where it is and what was expected there.
struct InputError {
    offset: Option<u64>,
    packet: Option<u64>,
    /// Full message, starting with the file name.
    message: String,
    /// The message without the file name.
    detail: String,
}

impl From<ReadError> for InputError {
    fn from(e: ReadError) -> Self {
        let located = !matches!(
            e.kind,
            capture::ErrorKind::Open(_) | capture::ErrorKind::IsDirectory
        );
        InputError {
            offset: located.then_some(e.offset),
            packet: e.packet,
            message: e.to_string(),
            detail: if located {
                e.location_and_reason()
            } else {
                e.kind.to_string()
            },
        }
    }
}

pub fn run(args: &Args) -> u8 {
    let mut status = EXIT_OK;
    let stdout = std::io::stdout();
    for file in &args.files {
        let report = inspect_file(file, args);
        if !report.errors.is_empty() {
            status = EXIT_INPUT_ERROR;
            for e in &report.errors {
                eprintln!("mqtt-ids: {}", e.message);
            }
        }
        let text = if args.json {
            let mut line = serde_json::to_string(&to_json(&report)).expect("JSON of plain values");
            line.push('\n');
            line
        } else {
            to_text(&report)
        };
        let mut out = stdout.lock();
        if out
            .write_all(text.as_bytes())
            .and_then(|_| out.flush())
            .is_err()
        {
            // Standard output is gone (closed pipe): nothing more can be reported.
            return EXIT_FAILURE;
        }
    }
    status
}

fn inspect_file(file: &str, args: &Args) -> Report {
    let mut report = Report {
        file: file.to_string(),
        format: None,
        compressed: false,
        interface_link_types: Vec::new(),
        summary: Summary::default(),
        mqtt: mqtt::Summary::default(),
        mqtt_tracker: TrackerStats::default(),
        errors: Vec::new(),
    };
    let mut reader = match capture::open(file, ReaderOptions::default()) {
        Ok(r) => r,
        Err(e) => {
            report.errors.push(e.into());
            return report;
        }
    };
    report.format = Some(reader.format().name());
    report.compressed = reader.compressed();
    let size = std::fs::metadata(file)
        .ok()
        .filter(|m| m.is_file() && !reader.compressed())
        .map(|m| m.len());
    let bar = progress::bytes(file, size);
    let mut last_update = 0u64;
    let mut unsupported: Vec<capture::LinkType> = Vec::new();
    let mut tracker = Tracker::new(TrackerConfig {
        ports: args.mqtt_ports.clone(),
        probe_other_ports: !args.no_mqtt_probe,
        ..TrackerConfig::default()
    });
    let (mut last_number, mut last_ts) = (0, 0);
    loop {
        match reader.next_frame() {
            Ok(Some(frame)) => {
                if !frame.link_type.is_supported() && !unsupported.contains(&frame.link_type) {
                    // Nothing of these packets can be analysed: an error the user must hear
                    // about, not a quiet count.
                    unsupported.push(frame.link_type);
                    let supported: Vec<String> = capture::LinkType::SUPPORTED
                        .iter()
                        .map(|l| l.to_string())
                        .collect();
                    let detail = format!(
                        "byte offset {} (packet {}): link type {} is not supported, so its \
                         packets are counted but not decoded; expected one of {}",
                        frame.offset,
                        frame.number,
                        frame.link_type,
                        supported.join(", ")
                    );
                    report.errors.push(InputError {
                        offset: Some(frame.offset),
                        packet: Some(frame.number),
                        message: format!("{file}: {detail}"),
                        detail,
                    });
                }
                let packet = capture::decode(frame);
                report.summary.add(&packet);
                tracker.on_packet(&packet, &mut report.mqtt);
                (last_number, last_ts) = (packet.frame.number, packet.frame.ts_ns);
            }
            Ok(None) => break,
            Err(e) => {
                report.errors.push(e.into());
                break;
            }
        }
        if reader.bytes_read() - last_update > 4 << 20 {
            last_update = reader.bytes_read();
            bar.set_position(last_update);
        }
    }
    bar.finish_and_clear();
    tracker.finish(last_number, last_ts, &mut report.mqtt);
    report.mqtt_tracker = tracker.stats();
    report.interface_link_types = reader.interfaces().iter().map(|i| i.link_type).collect();
    report
}

fn link_types(report: &Report) -> Vec<capture::LinkType> {
    let mut types = report.interface_link_types.clone();
    types.extend(report.summary.link_types.keys().copied());
    types.sort();
    types.dedup();
    types
}

fn to_json(r: &Report) -> Value {
    let s = &r.summary;
    let mut undecodable = Map::new();
    for (e, (n, first)) in &s.undecodable {
        undecodable.insert(
            e.to_string(),
            json!({ "packets": n, "first_packet": first }),
        );
    }
    let other_network: Map<String, Value> = s
        .other_network
        .iter()
        .map(|(t, n)| (format!("0x{t:04x}"), json!(n)))
        .collect();
    let other_transport: Map<String, Value> = s
        .other_transport
        .iter()
        .map(|(p, n)| (p.to_string(), json!(n)))
        .collect();
    json!({
        "file": r.file,
        "format": r.format,
        "compressed": r.compressed,
        "link_types": link_types(r).iter().map(|l| l.name()).collect::<Vec<_>>(),
        "packets": s.packets,
        "bytes": s.bytes,
        "wire_bytes": s.wire_bytes,
        "first_ts": s.first_ts.map(rfc3339_ns),
        "last_ts": s.last_ts.map(rfc3339_ns),
        "ipv4": s.ipv4,
        "ipv6": s.ipv6,
        "arp": s.arp,
        "other_network": other_network,
        "tcp": s.tcp,
        "udp": s.udp,
        "icmp": s.icmp,
        "icmpv6": s.icmpv6,
        "other_transport": other_transport,
        "ip_fragments": s.fragments,
        "truncated": s.truncated,
        "undecodable": s.undecodable_total(),
        "undecodable_by_reason": undecodable,
        "mqtt": mqtt_json(r),
        "errors": r.errors.iter().map(|e| json!({
            "offset": e.offset,
            "packet": e.packet,
            "message": e.message,
        })).collect::<Vec<_>>(),
    })
}

fn mqtt_json(r: &Report) -> Value {
    let m = &r.mqtt;
    let by_type: Map<String, Value> = m
        .by_type_named()
        .map(|(name, n)| (name.to_string(), json!(n)))
        .collect();
    let findings: Map<String, Value> = m
        .findings
        .iter()
        .map(|(kind, n)| (kind.name().to_string(), json!(n)))
        .collect();
    let levels: Map<String, Value> = m
        .protocol_levels
        .iter()
        .map(|(level, n)| (level.to_string(), json!(n)))
        .collect();
    let t = &r.mqtt_tracker;
    json!({
        "messages": m.messages,
        "by_type": by_type,
        "to_server": m.by_direction[0],
        "to_client": m.by_direction[1],
        "connections": t.connections,
        "connections_found_by_probe": t.found_by_probe,
        "connections_evicted": t.evicted,
        "protocol_levels": levels,
        "client_ids": m.client_ids.len(),
        "topics": m.topics.len(),
        "findings": findings,
    })
}

fn to_text(r: &Report) -> String {
    use std::fmt::Write as _;
    let s = &r.summary;
    let mut out = String::new();
    let _ = writeln!(out, "{}", r.file);
    let format = match (r.format, r.compressed) {
        (Some(f), true) => format!("{f} (gzip)"),
        (Some(f), false) => f.to_string(),
        (None, _) => {
            for e in &r.errors {
                let _ = writeln!(out, "  error         {}", e.detail);
            }
            return out;
        }
    };
    let _ = writeln!(out, "  format        {format}");
    let types: Vec<String> = link_types(r).iter().map(|l| l.to_string()).collect();
    let _ = writeln!(out, "  link types    {}", types.join(", "));
    let _ = writeln!(
        out,
        "  packets       {} ({} bytes captured, {} on the wire)",
        s.packets, s.bytes, s.wire_bytes
    );
    if let (Some(first), Some(last)) = (s.first_ts, s.last_ts) {
        let _ = writeln!(
            out,
            "  time          {} .. {} ({:.3} s)",
            rfc3339_ns(first),
            rfc3339_ns(last),
            (last - first) as f64 / 1e9
        );
    }
    let other_net: u64 = s.other_network.values().sum();
    let _ = writeln!(
        out,
        "  network       ipv4 {}  ipv6 {}  arp {}  other {}",
        s.ipv4, s.ipv6, s.arp, other_net
    );
    let other_tr: u64 = s.other_transport.values().sum();
    let _ = writeln!(
        out,
        "  transport     tcp {}  udp {}  icmp {}  icmpv6 {}  other {}",
        s.tcp, s.udp, s.icmp, s.icmpv6, other_tr
    );
    if s.fragments > 0 || s.truncated > 0 {
        let _ = writeln!(
            out,
            "  partial       {} IP fragments, {} truncated by snaplen",
            s.fragments, s.truncated
        );
    }
    let m = &r.mqtt;
    let types: Vec<String> = m
        .by_type_named()
        .map(|(name, n)| format!("{name} {n}"))
        .collect();
    let _ = writeln!(
        out,
        "  mqtt          {} messages in {} connections ({} by CONNECT on another port, {} \
         evicted)",
        m.messages,
        r.mqtt_tracker.connections,
        r.mqtt_tracker.found_by_probe,
        r.mqtt_tracker.evicted
    );
    if !types.is_empty() {
        let _ = writeln!(out, "    types       {}", types.join("  "));
        let levels: Vec<String> = m
            .protocol_levels
            .iter()
            .map(|(l, n)| format!("{l}: {n}"))
            .collect();
        let _ = writeln!(
            out,
            "    CONNECT     protocol levels {{{}}}, {} client ids, {} topics",
            levels.join(", "),
            m.client_ids.len(),
            m.topics.len()
        );
    }
    for (kind, n) in m.findings.iter() {
        let _ = writeln!(out, "    finding     {n:>8}  {}", kind.name());
    }
    if s.undecodable.is_empty() {
        let _ = writeln!(out, "  undecodable   0");
    } else {
        let _ = writeln!(out, "  undecodable   {}", s.undecodable_total());
        for (e, (n, first)) in &s.undecodable {
            let _ = writeln!(out, "    {n:>10}  {e} (first: packet {first})");
        }
    }
    if r.errors.is_empty() {
        let _ = writeln!(out, "  errors        none");
    } else {
        for e in &r.errors {
            let _ = writeln!(out, "  error         {}", e.detail);
        }
    }
    out
}
