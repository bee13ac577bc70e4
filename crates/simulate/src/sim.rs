//! One recording: build the network of a scenario for one capture, run it, write the capture,
//! the per-packet and per-connection ground truth and the `--labels` rules.

use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use mqtt_ids_capture::{LinkType, PcapNgWriter, PcapWriter};
use serde::Serialize;

use crate::apps::broker::Broker;
use crate::apps::sensor::Sensor;
use crate::apps::stream::{UdpSink, UdpStream};
use crate::apps::App;
use crate::attacks::AttackCtx;
use crate::net::{AppId, Captured, FlowKey, HostParams, Net, TagId};
use crate::scenario::{CaptureSpec, Scenario};
use crate::{rng, Format, SimError, SimOptions};

/// Ground-truth tag: what caused a packet.
#[derive(Clone, Debug)]
pub struct Tag {
    /// Class (the dataset's label).
    pub class: String,
    /// Whether the class is an attack.
    pub is_attack: bool,
    /// Attacking host name and address.
    pub attacker: Option<(String, Ipv4Addr)>,
    /// Attack phase (`normal` for background traffic).
    pub phase: String,
}

/// One attack as it happened in a capture.
#[derive(Clone, Debug, Serialize)]
pub struct AttackReport {
    /// Class.
    pub class: String,
    /// Attack module.
    pub kind: String,
    /// Attacking host.
    pub attacker: String,
    /// Its address.
    pub attacker_ip: Ipv4Addr,
    /// Target host.
    pub target: String,
    /// Scheduled start and end, Unix seconds.
    pub scheduled: (f64, f64),
    /// First and last captured packet of the attack, Unix seconds (None if none was captured).
    pub observed: Option<(f64, f64)>,
    /// Captured packets.
    pub packets: u64,
}

/// One written capture.
#[derive(Clone, Debug, Serialize)]
pub struct CaptureReport {
    /// Capture name (file stem).
    pub name: String,
    /// Class of the capture as the papers labelled whole files: the attack's, or the benign class.
    pub class: String,
    /// The capture file.
    pub capture: PathBuf,
    /// Per-packet ground truth (`frame,time,class,is_attack,attacker,phase,conn`).
    pub truth: PathBuf,
    /// Per-connection ground truth.
    pub connections: PathBuf,
    /// `mqtt-ids extract --labels` rules reproducing the ground truth.
    pub labels: PathBuf,
    /// Start and end of the recording, Unix seconds.
    pub span: (f64, f64),
    /// Packets written.
    pub packets: u64,
    /// Bytes of frames written.
    pub bytes: u64,
    /// Packets per class.
    pub packets_by_class: BTreeMap<String, u64>,
    /// Connections (TCP) and flows (UDP, ICMP) per class.
    pub connections_by_class: BTreeMap<String, u64>,
    /// MQTT messages sent per class and type (well-formed ones; malformed probes are not
    /// counted). Equal to what a dissector finds when no segment is lost.
    pub mqtt_messages: BTreeMap<String, BTreeMap<String, u64>>,
    /// The attacks.
    pub attacks: Vec<AttackReport>,
    /// Same attacker, overlapping windows, different classes: the label rules cannot tell them
    /// apart (the per-packet truth still can).
    pub label_conflicts: Vec<String>,
    /// TCP segments sent again (after a loss or a lost acknowledgment).
    pub retransmissions: u64,
}

struct ConnStat {
    key: FlowKey,
    tag: TagId,
    first_frame: u64,
    first: i64,
    last: i64,
    packets: u64,
    bytes: u64,
    closed: bool,
}

fn canonical(k: &FlowKey) -> FlowKey {
    if (k.src.0, k.src.1) <= (k.dst.0, k.dst.1) {
        *k
    } else {
        FlowKey {
            proto: k.proto,
            src: k.dst,
            dst: k.src,
        }
    }
}

enum Writer {
    Pcap(PcapWriter<BufWriter<File>>),
    PcapNg(PcapNgWriter<BufWriter<File>>),
}

struct Recorder {
    writer: Writer,
    truth: BufWriter<File>,
    tag_text: Vec<String>,
    frames: u64,
    bytes: u64,
    conn_index: HashMap<FlowKey, usize, foldhash::fast::FixedState>,
    conns: Vec<ConnStat>,
    per_tag: Vec<(u64, i64, i64)>,
    line: Vec<u8>,
}

impl Recorder {
    fn record(&mut self, c: Captured<'_>) -> std::io::Result<()> {
        self.frames += 1;
        self.bytes += c.frame.len() as u64;
        let len = c.frame.len() as u32;
        match &mut self.writer {
            Writer::Pcap(w) => w.write_packet(c.ts_ns, len, c.frame)?,
            Writer::PcapNg(w) => w.write_packet(0, c.ts_ns, len, c.frame)?,
        }
        let key = canonical(&c.key);
        let syn_only = c.key.proto == crate::wire::PROTO_TCP && c.tcp_flags & 0x12 == 0x02;
        let idx = match self.conn_index.get(&key) {
            Some(&i) if !(syn_only && self.conns[i].closed) => i,
            _ => {
                self.conns.push(ConnStat {
                    key: c.key,
                    tag: c.tag,
                    first_frame: self.frames,
                    first: c.ts_ns,
                    last: c.ts_ns,
                    packets: 0,
                    bytes: 0,
                    closed: false,
                });
                self.conn_index.insert(key, self.conns.len() - 1);
                self.conns.len() - 1
            }
        };
        let conn = &mut self.conns[idx];
        conn.packets += 1;
        conn.bytes += u64::from(len);
        conn.last = c.ts_ns;
        conn.closed |= c.tcp_flags & 0x05 != 0;
        let t = &mut self.per_tag[c.tag as usize];
        if t.0 == 0 {
            t.1 = c.ts_ns;
        }
        t.0 += 1;
        t.2 = c.ts_ns;
        self.line.clear();
        let _ = writeln!(
            self.line,
            "{},{}.{:09},{},{}",
            self.frames,
            c.ts_ns.div_euclid(1_000_000_000),
            c.ts_ns.rem_euclid(1_000_000_000),
            self.tag_text[c.tag as usize],
            idx + 1
        );
        self.truth.write_all(&self.line)
    }
}

fn secs(ns: i64) -> f64 {
    ns as f64 / 1e9
}

fn fmt_time(ns: i64) -> String {
    format!(
        "{}.{:09}",
        ns.div_euclid(1_000_000_000),
        ns.rem_euclid(1_000_000_000)
    )
}

fn partial(path: &Path) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(".partial");
    PathBuf::from(p)
}

fn create(path: &Path) -> Result<BufWriter<File>, SimError> {
    let f = File::create(partial(path)).map_err(|e| SimError::io(path, e))?;
    Ok(BufWriter::with_capacity(1 << 20, f))
}

fn finish(path: &Path) -> Result<(), SimError> {
    std::fs::rename(partial(path), path).map_err(|e| SimError::io(path, e))
}

/// Runs capture `cap` of `scn` from `start_ns` for `duration_ns` and writes its files.
pub fn run_capture(
    scn: &Scenario,
    cap: &CaptureSpec,
    opts: &SimOptions,
    out_dir: &Path,
    start_ns: i64,
    duration_ns: i64,
    progress: &mut dyn FnMut(f64, u64),
) -> Result<CaptureReport, SimError> {
    let end_ns = start_ns + duration_ns;
    let spec_duration = cap.duration.unwrap_or(scn.duration);
    let time_scale = secs(duration_ns) / spec_duration;
    let mut net = Net::new(start_ns, end_ns);
    let seed_name = |what: &str| format!("{}/{}/{}", scn.name, cap.name, what);
    let mut host_ids = HashMap::new();
    for h in &scn.hosts {
        let mut r = rng::derive(opts.seed, &seed_name(&format!("host/{}", h.name)));
        let id = net.add_host(
            HostParams {
                name: h.name.clone(),
                ip: h.ip,
                mac: h.mac_bytes().map_err(SimError::Scenario)?,
                os: h.os,
                delay_ns: (h.link.delay_ms * 1e6) as i64,
                loss: h.link.loss,
                bandwidth_bps: (h.link.bandwidth_mbps * 1e6) as u64,
                ack_delay_ns: (h.ack_delay_ms * 1e6) as i64,
                app_latency_ns: (h.app_latency_ms * 1e6) as i64,
                stack_delay_ns: (
                    h.stack_delay.median_us * 1e3,
                    h.stack_delay.sigma,
                    (h.stack_delay.max_us * 1e3) as i64,
                ),
            },
            &mut r,
        );
        host_ids.insert(h.name.as_str(), id);
    }
    let hid = |name: &str| host_ids[name];
    let ip_of = |name: &str| scn.host(name).expect("validated").ip;

    let mut tags = vec![Tag {
        class: scn.benign_class.clone(),
        is_attack: false,
        attacker: None,
        phase: "normal".into(),
    }];
    let mut apps: Vec<Box<dyn App>> = Vec::new();
    let auth = cap.broker_auth.clone().or_else(|| scn.broker.auth.clone());
    apps.push(Box::new(Broker::new(
        hid(&scn.broker.host),
        scn.broker.port,
        auth.clone(),
    )));
    let broker = (ip_of(&scn.broker.host), scn.broker.port);
    if cap.background {
        for s in &scn.sensors {
            let mut spec = s.clone();
            if spec.credentials.is_none() {
                spec.credentials = auth.clone();
            }
            let r = rng::derive(opts.seed, &seed_name(&format!("sensor/{}", s.name)));
            apps.push(Box::new(Sensor::new(
                spec,
                hid(&s.host),
                broker,
                scn.mqtt_version,
                r,
                0,
                opts.scale,
            )));
        }
        for s in &scn.streams {
            let r = rng::derive(opts.seed, &seed_name(&format!("stream/{}", s.name)));
            apps.push(Box::new(UdpSink::new(hid(&s.to), s.dst_port)));
            apps.push(Box::new(UdpStream::new(
                hid(&s.from),
                ip_of(&s.to),
                (s.src_port, s.dst_port),
                s.payload_len,
                s.rate_pps * opts.scale,
                0,
                r,
            )));
        }
    }
    crate::apps::service::add_services(scn, &host_ids, &mut apps, opts.seed, &seed_name(""));
    let mut attack_reports = Vec::new();
    let mut attack_tags: Vec<Vec<TagId>> = Vec::new();
    for (i, a) in cap.attacks.iter().enumerate() {
        let attacker_ip = ip_of(&a.attacker);
        let mut ids = Vec::new();
        for phase in a.attack.phases() {
            ids.push(tags.len() as TagId);
            tags.push(Tag {
                class: a.class.clone(),
                is_attack: !is_benign(&a.class),
                attacker: Some((a.attacker.clone(), attacker_ip)),
                phase: (*phase).to_string(),
            });
        }
        let start = start_ns + (a.start * time_scale * 1e9) as i64;
        let end = a
            .duration
            .map_or(end_ns, |d| start + (d * time_scale * 1e9) as i64)
            .min(end_ns);
        let ctx = AttackCtx {
            host: hid(&a.attacker),
            target: ip_of(&a.target),
            mqtt_port: scn.broker.port,
            version: scn.mqtt_version,
            start,
            end,
            scale: opts.scale,
            rng: rng::derive(
                opts.seed,
                &seed_name(&format!("attack/{i}/{}", a.attack.name())),
            ),
            tags: ids.clone(),
            host_name: a.attacker.clone(),
            hosts: scn
                .hosts
                .iter()
                .filter(|h| h.name != a.attacker)
                .map(|h| h.ip)
                .collect(),
        };
        apps.push(a.attack.build(ctx));
        attack_tags.push(ids);
        attack_reports.push(AttackReport {
            class: a.class.clone(),
            kind: a.attack.name().into(),
            attacker: a.attacker.clone(),
            attacker_ip,
            target: a.target.clone(),
            scheduled: (secs(start), secs(end)),
            observed: None,
            packets: 0,
        });
    }

    let ext = match opts.format {
        Format::Pcap => "pcap",
        Format::PcapNg => "pcapng",
    };
    let capture_path = out_dir.join(format!("{}.{ext}", cap.name));
    let truth_path = out_dir.join(format!("{}.truth.csv", cap.name));
    let conns_path = out_dir.join(format!("{}.connections.csv", cap.name));
    let labels_path = out_dir.join(format!("{}.labels.csv", cap.name));
    let out = create(&capture_path)?;
    let writer = match opts.format {
        Format::Pcap => Writer::Pcap(
            PcapWriter::new(out, LinkType::ETHERNET, 262_144, true)
                .map_err(|e| SimError::io(&capture_path, e))?,
        ),
        Format::PcapNg => {
            let mut w = PcapNgWriter::new(out).map_err(|e| SimError::io(&capture_path, e))?;
            w.add_interface(LinkType::ETHERNET, 262_144)
                .map_err(|e| SimError::io(&capture_path, e))?;
            Writer::PcapNg(w)
        }
    };
    let mut truth = create(&truth_path)?;
    truth
        .write_all(b"frame,time,class,is_attack,attacker,phase,conn\n")
        .map_err(|e| SimError::io(&truth_path, e))?;
    let tag_text = tags
        .iter()
        .map(|t| {
            format!(
                "{},{},{},{}",
                t.class,
                u8::from(t.is_attack),
                t.attacker
                    .as_ref()
                    .map_or(String::new(), |a| a.1.to_string()),
                t.phase
            )
        })
        .collect();
    let mut rec = Recorder {
        writer,
        truth,
        tag_text,
        frames: 0,
        bytes: 0,
        conn_index: HashMap::default(),
        conns: Vec::new(),
        per_tag: vec![(0, 0, 0); tags.len()],
        line: Vec::with_capacity(128),
    };

    for (i, app) in apps.iter_mut().enumerate() {
        app.start(&mut net, i as AppId);
    }
    let mut last_report = 0u64;
    net.run(
        &mut |c| {
            let ts = c.ts_ns;
            rec.record(c)?;
            if rec.frames - last_report >= 1 << 16 {
                last_report = rec.frames;
                progress(secs(ts - start_ns), rec.frames);
            }
            Ok(())
        },
        &mut |net, app, note| {
            if let Some(a) = apps.get_mut(app) {
                a.on(net, app, note);
            }
        },
    )
    .map_err(|e| SimError::io(&capture_path, e))?;
    progress(secs(duration_ns), rec.frames);

    // Close the capture and the truth.
    match rec.writer {
        Writer::Pcap(w) => w.into_inner().map_err(|e| SimError::io(&capture_path, e))?,
        Writer::PcapNg(w) => w.into_inner().map_err(|e| SimError::io(&capture_path, e))?,
    };
    rec.truth
        .flush()
        .map_err(|e| SimError::io(&truth_path, e))?;
    drop(rec.truth);
    finish(&capture_path)?;
    finish(&truth_path)?;

    // Per-connection truth.
    let mut cw = create(&conns_path)?;
    let mut text = String::from("conn,proto,src,sport,dst,dport,first_frame,first_time,last_time,packets,bytes,class,is_attack,attacker,phase\n");
    let mut connections_by_class = BTreeMap::new();
    for (i, c) in rec.conns.iter().enumerate() {
        let proto = match c.key.proto {
            6 => "tcp",
            17 => "udp",
            _ => "icmp",
        };
        text.push_str(&format!(
            "{},{proto},{},{},{},{},{},{},{},{},{},{}\n",
            i + 1,
            c.key.src.0,
            c.key.src.1,
            c.key.dst.0,
            c.key.dst.1,
            c.first_frame,
            fmt_time(c.first),
            fmt_time(c.last),
            c.packets,
            c.bytes,
            rec.tag_text[c.tag as usize]
        ));
        *connections_by_class
            .entry(tags[c.tag as usize].class.clone())
            .or_insert(0) += 1;
    }
    cw.write_all(text.as_bytes())
        .map_err(|e| SimError::io(&conns_path, e))?;
    cw.flush().map_err(|e| SimError::io(&conns_path, e))?;
    drop(cw);
    finish(&conns_path)?;

    // Label rules: per attack (class, attacker address, observed window), then the rest.
    let mut packets_by_class = BTreeMap::new();
    for (t, (n, _, _)) in tags.iter().zip(&rec.per_tag) {
        *packets_by_class.entry(t.class.clone()).or_insert(0) += n;
    }
    let mut rules = format!(
        "class,address,port,start,end\n# mqtt-ids simulate {} — scenario {}, capture {}, seed {}\n# rules for `mqtt-ids extract --labels`: first match wins\n",
        env!("CARGO_PKG_VERSION"),
        scn.name,
        cap.name,
        opts.seed
    );
    let mut windows: Vec<(String, Ipv4Addr, i64, i64)> = Vec::new();
    for (report, ids) in attack_reports.iter_mut().zip(&attack_tags) {
        let mut n = 0;
        let mut first = i64::MAX;
        let mut last = i64::MIN;
        for &id in ids {
            let (c, f, l) = rec.per_tag[id as usize];
            if c > 0 {
                n += c;
                first = first.min(f);
                last = last.max(l);
            }
        }
        report.packets = n;
        if n > 0 {
            report.observed = Some((secs(first), secs(last)));
            windows.push((report.class.clone(), report.attacker_ip, first, last));
        }
    }
    let mut label_conflicts = Vec::new();
    for (i, a) in windows.iter().enumerate() {
        for b in &windows[i + 1..] {
            if a.1 == b.1 && a.0 != b.0 && a.2 <= b.3 && b.2 <= a.3 {
                label_conflicts.push(format!("{} and {} from {} overlap in time", a.0, b.0, a.1));
            }
        }
        rules.push_str(&format!(
            "{},{},*,{},{}\n",
            a.0,
            a.1,
            fmt_time(a.2),
            fmt_time(a.3 + 1)
        ));
    }
    rules.push_str(&format!("{},*,*,,\n", scn.benign_class));
    let mut lw = create(&labels_path)?;
    lw.write_all(rules.as_bytes())
        .map_err(|e| SimError::io(&labels_path, e))?;
    lw.flush().map_err(|e| SimError::io(&labels_path, e))?;
    drop(lw);
    finish(&labels_path)?;

    let mut mqtt_messages: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    for (&(tag, ty), &n) in &net.mqtt_sent {
        let name = crate::encode::type_name(ty);
        *mqtt_messages
            .entry(tags[tag as usize].class.clone())
            .or_default()
            .entry(name.to_string())
            .or_insert(0) += n;
    }
    let class = cap
        .attacks
        .first()
        .map_or(scn.benign_class.clone(), |a| a.class.clone());
    Ok(CaptureReport {
        name: cap.name.clone(),
        class,
        capture: capture_path,
        truth: truth_path,
        connections: conns_path,
        labels: labels_path,
        span: (secs(start_ns), secs(end_ns)),
        packets: rec.frames,
        bytes: rec.bytes,
        packets_by_class,
        connections_by_class,
        mqtt_messages,
        attacks: attack_reports,
        label_conflicts,
        retransmissions: net.retransmissions,
    })
}

/// Whether a class name means normal traffic (as crates/features' labeller decides).
pub fn is_benign(class: &str) -> bool {
    ["legitimate", "benign", "normal"]
        .iter()
        .any(|b| class.eq_ignore_ascii_case(b))
}
