//! End to end on loopback with real components: Debian's `mosquitto` on 127.0.0.1 (a random
//! free port, a password file for the brute-force phase), benign `mosquitto_pub` /
//! `mosquitto_sub` clients, attacks from `mqtt-ids simulate --live`, and three `mqtt-ids detect
//! --interface lo --filter "tcp port P"` processes side by side watching it all, one per feature
//! set: `mqttset` (per TCP frame, the paper's fields), `context` (per TCP frame, the frame and
//! its connection's state) and `session` (per connection: a row every `--session-interval 1s`
//! while it lasts and one at its end). Then each detector's alerts are checked: none from its
//! model while only benign clients talk; brute force, flood and SlowITe alerts while each attack
//! runs, on that attack's own connections (the live player reports the client ports it opened);
//! for `session`, SlowITe's connections judged while they are still open (`session_update`
//! rows); no alert on a sensor's connection or of another class than the attack's in the attack
//! phase; stats lines and a summary after Ctrl-C (SIGINT). Also: without CAP_NET_RAW the detector
//! refuses with the `setcap` advice; with only that capability (not root) it captures.
//!
//! The models are trained in the test on `mqtt-ids simulate --scenario mqttset2020` output, not
//! on the real MQTTset captures: the live player sends the bytes the simulator's attack modules
//! model (same parameter types, same encoder), so this test checks the live path — capture,
//! filter, engine, alerts — rather than generalisation from a 2020 network to loopback, which
//! `crates/detect/tests/files.rs` measures on the real captures. (A forest trained on the real
//! captures classifies most benign loopback packets as attacks: time deltas, client ids and
//! handshakes of another network.) Choices that keep the labels honest, per set ([`Set`]):
//! - `mqttset`: a packet carries an attack label only when it is evidence of the attack — the
//!   attacker's MQTT messages (CONNECT, PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, DISCONNECT)
//!   and refused CONNACKs; TCP control segments and the broker's routine answers of an attack
//!   connection are the same bytes in every connection and are relabelled `legitimate`.
//!   `tcp.time_delta` is left out: loopback time is not a network's.
//! - `context` and `session`: a row carries its connection's attack label once the attacker has
//!   sent an MQTT message on it (`msgs_fwd` ≥ 1); before, the row is the same TCP handshake as
//!   every connection's and is relabelled `legitimate`. Measured on a recording of this test's
//!   traffic (`detect --read`, 2026-11-21): without it the context model raised 42 alerts on the
//!   benign clients (their SYNs and handshake ACKs look like SlowITe's 900 handshakes), 22 with
//!   the host columns left out too; with it, 0 (the session model: 0 either way).
//!   `host_conns`, `host_ports` and `host_open` are left out: on loopback every client is
//!   127.0.0.1, so the client host's fan-out counts the benign clients, the sensors and the
//!   attacker together — not what it means on a network, where each sensor is its own host
//!   (kept, the context model gave benign frames up to 0.36 flood; left out, no benign row
//!   reaches 0.01). The time columns (`iat`, `age`, `since_mqtt`, the IAT statistics) are
//!   kept: they are times relative to the connection, and the simulated broker answers as fast
//!   as mosquitto on loopback (median gap before a CONNACK, SUBACK or PINGRESP: 53 µs simulated,
//!   28 µs on loopback); SlowITe per connection is about them. Left out, the same trial gave the
//!   same alerts (0 benign, the same per class).
//!   The session rows are extracted with `--session-interval 1s`, as the detector scores them.
//!
//! The benign clients use 23-hex-digit client ids and a 60 s keep-alive, as the scenario's
//! IoT-Flock sensors do (the model knows the site's sensors as they were when it was trained).
//!
//! Known and printed, not asserted: the session model flags the probe connection `simulate
//! --live` opens to check the broker (TCP handshake and close, no MQTT) as brute force at
//! p ≈ 0.51. In the simulated training captures no legitimate connection ever closes (the
//! sensors stay connected; all 41 closed connections are brute-force guesses), so "closed" is
//! learnt as brute force; the benign phase's per-message publisher, which closes too, is not
//! flagged (its PUBLISH and DISCONNECT say otherwise). Short legitimate connections in the
//! simulator's legitimate traffic would teach it.
//!
//! Skipped with a message when mosquitto or CAP_NET_RAW is missing, except under CI.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const BIN: &str = env!("CARGO_BIN_EXE_mqtt-ids");

fn find(tool: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/bin".into(), "/sbin".into()])
        .map(|d| d.join(tool))
        .find(|p| p.is_file())
}

fn has_cap_net_raw() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|h| u64::from_str_radix(h.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 13) != 0)
}

fn skip(why: &str) -> bool {
    if std::env::var_os("CI").is_some() {
        panic!("CI must run the live end-to-end test: {why}");
    }
    eprintln!("skipping the live end-to-end test: {why}");
    true
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// EVE timestamp `2026-11-21T19:16:14.123456+0000` → Unix seconds.
fn eve_seconds(ts: &str) -> f64 {
    let n = |r: std::ops::Range<usize>| ts[r].parse::<i64>().unwrap();
    let (y, m, d) = (n(0..4), n(5..7), n(8..10));
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + n(11..13) * 3600 + n(14..16) * 60 + n(17..19);
    secs as f64 + ts[20..26].parse::<f64>().unwrap() / 1e6
}

struct Killer(Vec<Child>);

impl Drop for Killer {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The simulated mqttset2020 captures the models learn from: `DIR/sim/CLASS.pcap` with their
/// `CLASS.labels.csv` rules.
const CLASSES: [&str; 4] = ["legitimate", "bruteforce", "flood", "slowite"];

fn simulate_training(dir: &Path) -> PathBuf {
    let sim = dir.join("sim");
    run(Command::new(BIN)
        .args([
            "simulate",
            "--scenario",
            "mqttset2020",
            "--seed",
            "1",
            "--capture",
            &CLASSES.join(","),
            "-o",
        ])
        .arg(&sim));
    sim
}

/// A feature set a detector of the test runs: how its training rows are extracted, labelled
/// (see the module doc) and which columns are left out.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Set {
    Mqttset,
    Context,
    Session,
}

impl Set {
    fn name(self) -> &'static str {
        match self {
            Set::Mqttset => "mqttset",
            Set::Context => "context",
            Set::Session => "session",
        }
    }

    /// Options of `extract` besides the set, the labels and the output.
    fn extract_args(self) -> &'static [&'static str] {
        match self {
            Set::Mqttset => &["--flow-timeout", "60s,300s"],
            Set::Context => &[],
            // Interim rows every second while connections last, as detect scores them.
            Set::Session => &["--session-interval", "1s"],
        }
    }

    /// Options of `train` besides the model, preset and output.
    fn train_args(self) -> &'static [&'static str] {
        match self {
            Set::Mqttset => &["--exclude", "tcp.time_delta"],
            Set::Context | Set::Session => &[
                "--table",
                "label:target",
                "--group-by",
                "conn_id",
                "--exclude",
                "host_conns,host_ports,host_open",
            ],
        }
    }

    /// Whether a row of an attack's connection is evidence of the attack (else it is
    /// relabelled `legitimate`). `header` names the row's cells.
    fn evidence(self, header: &[&str]) -> impl Fn(&[&str]) -> bool {
        let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
        let (a, b) = match self {
            Set::Mqttset => (col("mqtt.msgtype"), col("mqtt.conack.val")),
            Set::Context | Set::Session => (col("msgs_fwd"), 0),
        };
        move |cells: &[&str]| match self {
            // The attacker's MQTT messages and refused CONNACKs.
            Set::Mqttset => {
                matches!(cells[a], "1" | "3" | "8" | "10" | "12" | "14")
                    || (cells[a] == "2" && !matches!(cells[b], "0" | ""))
            }
            // The connection's state once the attacker has sent an MQTT message on it.
            Set::Context | Set::Session => cells[a] != "0",
        }
    }
}

/// `extract --set SET` of the simulated captures, attack labels kept on evidence rows only,
/// then `train` a forest (the mqttset2020 preset: 100 trees, seed 7) on them.
fn train_model(sim: &Path, set: Set, dir: &Path) -> PathBuf {
    let name = set.name();
    let feat = dir.join(format!("feat-{name}"));
    let mut tables = Vec::new();
    for class in CLASSES {
        run(Command::new(BIN)
            .args(["extract", "--set", name])
            .args(set.extract_args())
            .arg("--labels")
            .arg(sim.join(format!("{class}.labels.csv")))
            .arg("-o")
            .arg(&feat)
            .arg(sim.join(format!("{class}.pcap"))));
        let table = feat.join(format!("{name}_{class}.csv"));
        let text = std::fs::read_to_string(&table).unwrap();
        let mut lines = text.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        assert_eq!(*header.last().unwrap(), "target");
        let evidence = set.evidence(&header);
        let mut out = String::with_capacity(text.len());
        out.push_str(&header.join(","));
        out.push('\n');
        for line in lines {
            // The cells the rules read are numeric, before any quoted cell.
            let cells: Vec<&str> = line.splitn(header.len(), ',').collect();
            let cut = line.rfind(',').unwrap();
            out.push_str(&line[..=cut]);
            out.push_str(if evidence(&cells) {
                &line[cut + 1..]
            } else {
                "legitimate"
            });
            out.push('\n');
        }
        std::fs::write(&table, out).unwrap();
        tables.push(table);
    }
    let model = dir.join(format!("rf-{name}.model.json"));
    run(Command::new(BIN)
        .args(["train", "--model", "rf", "--preset", "mqttset2020"])
        .args(set.train_args())
        .arg("-o")
        .arg(&model)
        .args(&tables));
    model
}

/// `mqtt-ids detect --interface lo --filter "tcp port P"` with one model, its stderr read by a
/// thread.
struct Detector {
    set: Set,
    child: Child,
    lines: mpsc::Receiver<String>,
    reader: Option<std::thread::JoinHandle<()>>,
    log: Vec<String>,
    alerts: PathBuf,
    summary: PathBuf,
}

/// What a detector wrote.
struct Outcome {
    set: Set,
    alerts: Vec<serde_json::Value>,
    summary: serde_json::Value,
}

impl Detector {
    /// Starts it and waits until it says it listens.
    fn start(set: Set, model: &Path, port: u16, dir: &Path, extra: &[&str]) -> Detector {
        let alerts = dir.join(format!("alerts-{}.json", set.name()));
        let summary = dir.join(format!("summary-{}.json", set.name()));
        let mut child = Command::new(BIN)
            .args(["detect", "--model"])
            .arg(model)
            .args(["--interface", "lo", "--filter"])
            .arg(format!("tcp port {port}"))
            .arg("--alerts")
            .arg(&alerts)
            .args(["--stats-interval", "2s", "--summary-json"])
            .arg(&summary)
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::channel::<String>();
        let stderr = child.stderr.take().unwrap();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut log = Vec::new();
        loop {
            let line = lines
                .recv_timeout(Duration::from_secs(10))
                .unwrap_or_else(|_| {
                    panic!("detect ({}) did not start listening: {log:?}", set.name())
                });
            let ready = line.starts_with("listening on lo");
            log.push(line);
            if ready {
                break;
            }
        }
        Detector {
            set,
            child,
            lines,
            reader: Some(reader),
            log,
            alerts,
            summary,
        }
    }

    /// Ctrl-C (SIGINT): a clean stop with stats lines and a summary.
    fn stop(mut self, port: u16) -> Outcome {
        run(Command::new("kill").args(["-INT", &self.child.id().to_string()]));
        let status = self.child.wait().unwrap();
        self.reader.take().unwrap().join().unwrap();
        self.log.extend(self.lines.try_iter());
        let log = self.log.join("\n");
        let name = self.set.name();
        assert!(status.success(), "detect ({name}): {status}\n{log}");
        assert!(
            log.contains("packets/s") && log.contains("drops: kernel"),
            "{name}: {log}"
        );
        assert!(log.contains("stopped: lo:"), "{name}: {log}");
        let alerts: Vec<serde_json::Value> = std::fs::read_to_string(&self.alerts)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        for a in &alerts {
            assert_eq!(a["event_type"], "alert");
            assert_eq!(a["in_iface"], "lo");
            assert_eq!(a["dest_ip"], "127.0.0.1");
            assert!(a["src_port"] == port || a["dest_port"] == port, "{a}");
            if a["mqtt_ids"]["source"] == "model" {
                assert_eq!(a["mqtt_ids"]["feature_set"], name, "{a}");
            }
        }
        let summary =
            serde_json::from_str(&std::fs::read_to_string(&self.summary).unwrap()).unwrap();
        Outcome {
            set: self.set,
            alerts,
            summary,
        }
    }
}

/// A test that fails midway leaves no detector running.
impl Drop for Detector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn live_detection_on_loopback_against_mosquitto() {
    let tools = [
        "mosquitto",
        "mosquitto_pub",
        "mosquitto_sub",
        "mosquitto_passwd",
    ];
    let found: Vec<Option<PathBuf>> = tools.iter().map(|t| find(t)).collect();
    if let Some(i) = found.iter().position(Option::is_none) {
        if skip(&format!(
            "{} not found (apt-get install mosquitto mosquitto-clients)",
            tools[i]
        )) {
            return;
        }
    }
    if !has_cap_net_raw()
        && skip("no CAP_NET_RAW (run as root, or setcap cap_net_raw+ep on the test binary)")
    {
        return;
    }
    let [mosquitto, publ, sub, passwd] = [0, 1, 2, 3].map(|i| found[i].clone().unwrap());
    let started = Instant::now();
    let dir = std::env::temp_dir().join(format!("mqtt-ids-live-e2e-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sim = simulate_training(&dir);
    let mut models = Vec::new();
    let mut trained = Vec::new();
    for set in [Set::Mqttset, Set::Context, Set::Session] {
        let t = Instant::now();
        models.push((set, train_model(&sim, set, &dir)));
        trained.push((set.name(), t.elapsed().as_secs_f64()));
    }

    // The broker: 127.0.0.1 only, anonymous clients allowed, user names checked against a
    // password file (the brute force's guesses are refused with CONNACK 5).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pw = dir.join("passwords");
    run(Command::new(&passwd)
        .args(["-b", "-c"])
        .arg(&pw)
        .args(["user", "S3nsor!pass"]));
    let conf = dir.join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!(
            "listener {port} 127.0.0.1\nallow_anonymous true\npassword_file {}\nmax_connections -1\n",
            pw.display()
        ),
    )
    .unwrap();
    let mut children = Killer(Vec::new());
    children.0.push(
        Command::new(&mosquitto)
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "mosquitto did not start");
        std::thread::sleep(Duration::from_millis(50));
    }

    // The detectors side by side, each until it says it listens. The session detector
    // scores open connections every second (SlowITe's are judged while they last).
    let mut detectors: Vec<Detector> = models
        .iter()
        .map(|(set, model)| {
            let extra: &[&str] = match set {
                Set::Session => &["--session-interval", "1s"],
                _ => &[],
            };
            Detector::start(*set, model, port, &dir, extra)
        })
        .collect();

    // Benign phase, 8 s: two subscribers, a persistent publisher (-l, one line every 200 ms)
    // and a door sensor connecting for each QoS 1 message.
    let benign_start = now();
    let port_s = port.to_string();
    let client = |tool: &Path, id: &str| {
        let mut c = Command::new(tool);
        c.args(["-h", "127.0.0.1", "-p", &port_s, "-k", "60", "-i", id]);
        c
    };
    let mut benign = Killer(Vec::new());
    for (id, topic) in [
        ("3f2a9c01d4e5b6a7c8d9e0f", "sensors/#"),
        ("0a1b2c3d4e5f60718293a4b", "Temperature"),
    ] {
        benign.0.push(
            client(&sub, id)
                .args(["-t", topic, "-W", "9"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap(),
        );
    }
    let mut line_pub = client(&publ, "9e8d7c6b5a493827161504f")
        .args(["-t", "sensors/temp", "-l"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = line_pub.stdin.take().unwrap();
    let feeder = std::thread::spawn(move || {
        for i in 0..40 {
            writeln!(stdin, "{}", 18 + i % 7).unwrap();
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    for i in 0..8 {
        run(client(&publ, "5c4b3a29180706f5e4d3c2b")
            .args(["-t", "sensors/door", "-q", "1", "-m"])
            .arg(["open", "closed"][i % 2]));
        std::thread::sleep(Duration::from_secs(1));
    }
    feeder.join().unwrap();
    assert!(line_pub.wait().unwrap().success());
    for c in &mut benign.0 {
        c.wait().unwrap();
    }
    let benign_end = now();

    // Attack phase: brute force, flood and SlowITe for 5 s each, with the scenario's sensors.
    let attack_start = now();
    let report = run(Command::new(BIN)
        .args(["simulate", "--scenario", "mqttset2020", "--live"])
        .arg(format!("127.0.0.1:{port}"))
        .args([
            "--capture",
            "bruteforce,flood,slowite",
            "--duration",
            "5",
            "--scale",
            "5",
            "--json",
        ]));
    let report: serde_json::Value = serde_json::from_str(report.trim()).unwrap();
    std::thread::sleep(Duration::from_millis(500));

    // Ctrl-C.
    let outcomes: Vec<Outcome> = detectors.drain(..).map(|d| d.stop(port)).collect();
    let attacks = report["report"]["attacks"].as_array().unwrap();
    // Which attack opened each client port; the probe connection `simulate --live` opens (and
    // closes at once, no MQTT) to check that the broker listens.
    let owner: HashMap<u64, &str> = attacks
        .iter()
        .flat_map(|a| {
            let class = a["class"].as_str().unwrap();
            a["client_ports"]
                .as_array()
                .unwrap()
                .iter()
                .map(move |p| (p.as_u64().unwrap(), class))
        })
        .collect();
    let probe = report["report"]["probe_port"].as_u64();
    // The client end of an alert's connection (alerts of server → client packets name the
    // broker as source).
    let client_port = |a: &serde_json::Value| {
        let key = if a["dest_port"] == port {
            "src_port"
        } else {
            "dest_port"
        };
        a[key].as_u64().unwrap()
    };
    let mut failures = Vec::new();
    for o in &outcomes {
        let name = o.set.name();
        let model_alerts = |class: Option<&str>, from: f64, to: f64| -> Vec<&serde_json::Value> {
            o.alerts
                .iter()
                .filter(|a| a["mqtt_ids"]["source"] == "model")
                .filter(|a| class.is_none_or(|c| a["mqtt_ids"]["class"] == c))
                .filter(|a| (from..to).contains(&eve_seconds(a["timestamp"].as_str().unwrap())))
                .collect()
        };
        let benign_alerts = model_alerts(None, benign_start - 1.0, benign_end);
        for a in &benign_alerts {
            eprintln!("  {name}: benign-phase alert: {a}");
        }
        if !benign_alerts.is_empty() {
            failures.push(format!("{name}: model alerts on benign traffic"));
        }
        // Per attack: alerts of its class in its window, of them on its own connections, of
        // them session rows of connections still open.
        let mut counts = Vec::new();
        for a in attacks {
            let class = a["class"].as_str().unwrap();
            let (from, to) = (
                attack_start + a["started"].as_f64().unwrap(),
                attack_start + a["ended"].as_f64().unwrap() + 1.0,
            );
            let in_window = model_alerts(Some(class), from, to);
            let mine = in_window
                .iter()
                .filter(|a| owner.get(&client_port(a)) == Some(&class))
                .count();
            let open = in_window
                .iter()
                .filter(|a| a["mqtt_ids"]["row"] == "session_update")
                .count();
            counts.push((class, in_window.len(), mine, open));
        }
        // Every alert of the attack phase, by the connection it names.
        let (mut right, mut on_probe, mut wrong) = (0, 0, Vec::new());
        for a in model_alerts(None, attack_start, f64::INFINITY) {
            let c = client_port(a);
            match owner.get(&c) {
                Some(class) if a["mqtt_ids"]["class"] == *class => right += 1,
                _ if Some(c) == probe => {
                    eprintln!("  {name}: alert on the probe connection: {a}");
                    on_probe += 1;
                }
                _ => wrong.push(a),
            }
        }
        eprintln!(
            "live e2e {name}: {} alerts; benign phase {:.1} s: {} model alerts; per attack \
             (class, alerts in its window, of them on its connections, of them session_update \
             rows): {counts:?}; attack phase: {right} alerts of the class of the attack whose \
             connection they name, {on_probe} on the probe connection, {} on other connections \
             or of another class; capture {}",
            o.alerts.len(),
            benign_end - benign_start,
            benign_alerts.len(),
            wrong.len(),
            o.summary["live"],
        );
        for a in &wrong {
            eprintln!("  {name}: alert on a sensor's connection or of another class: {a}");
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{name}: {} alerts on sensors' connections or of the wrong class",
                wrong.len()
            ));
        }
        for class in ["bruteforce", "flood", "slowite"] {
            let Some(&(_, n, mine, open)) = counts.iter().find(|c| c.0 == class) else {
                failures.push(format!("{name}: {class} not played"));
                continue;
            };
            if n == 0 || mine == 0 {
                failures.push(format!(
                    "{name}: no {class} alert on its connections while it ran"
                ));
            }
            // SlowITe's connections stay open: the session model judges them while they last.
            if o.set == Set::Session && class == "slowite" && open == 0 {
                failures.push("session: no slowite alert on a connection still open".into());
            }
        }
        assert!(
            o.summary["live"]["frames"].as_u64().unwrap() > 1000,
            "{}",
            o.summary
        );
        assert_eq!(o.summary["live"]["user_drops"], 0, "{}", o.summary);
        assert!(o.summary["live"]["kernel_drops"].is_u64(), "{}", o.summary);
    }
    eprintln!(
        "live e2e: training (seconds per set) {trained:?}; benign phase {:.1} s; attacks {:.1} s; \
         total {:.1} s",
        benign_end - benign_start,
        report["report"]["seconds"].as_f64().unwrap(),
        started.elapsed().as_secs_f64()
    );
    assert!(failures.is_empty(), "{failures:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Not root: without CAP_NET_RAW the detector stops with the advice to `setcap`; with only that
/// capability (ambient, as `setcap cap_net_raw+ep` gives the binary) it captures. Needs root to
/// switch user (skipped otherwise; CI runs as root) and util-linux's `setpriv`.
#[test]
fn live_capture_needs_only_cap_net_raw() {
    let Some(setpriv) = find("setpriv") else {
        skip("setpriv not found (util-linux)");
        return;
    };
    if !has_cap_net_raw() || uid_is_not_root() {
        skip("not root: cannot drop to another user");
        return;
    }
    // A copy of the binary and a model anyone can read.
    let dir = std::env::temp_dir().join(format!("mqtt-ids-live-caps-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let model = train_model(&simulate_training(&dir), Set::Mqttset, &dir);
    let bin = dir.join("mqtt-ids");
    std::fs::copy(BIN, &bin).unwrap();
    run(Command::new("chmod").arg("-R").arg("a+rX").arg(&dir));
    let as_nobody = |caps: &[&str]| {
        let mut c = Command::new(&setpriv);
        c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(caps)
            .arg(&bin)
            .args(["detect", "--model"])
            .arg(&model)
            .args(["--interface", "lo", "--alerts", "/dev/null"])
            .stderr(Stdio::piped());
        c
    };
    let out = as_nobody(&["--inh-caps=-all"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("CAP_NET_RAW") && text.contains("setcap cap_net_raw+ep"),
        "{text}"
    );
    let mut child = as_nobody(&["--inh-caps=+net_raw", "--ambient-caps=+net_raw"])
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen = Vec::new();
    while let Some(Ok(line)) = lines.next() {
        let ready = line.starts_with("listening on lo");
        seen.push(line);
        if ready {
            break;
        }
    }
    run(Command::new("kill").args(["-INT", &child.id().to_string()]));
    seen.extend(lines.map_while(Result::ok));
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}: {seen:?}");
    assert!(
        seen.iter().any(|l| l.starts_with("stopped: lo:")),
        "{seen:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Whether the real user id is not 0 (`/proc/self/status` `Uid:` line).
fn uid_is_not_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|u| u.split_whitespace().next().map(|x| x != "0"))
        .unwrap_or(true)
}
