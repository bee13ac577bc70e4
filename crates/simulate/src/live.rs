//! `mqtt-ids simulate --live ADDR:PORT`: plays a scenario's sensors and attacks with real TCP
//! sockets against a real broker, to exercise a live detector. The same parameter types as the
//! simulation ([`Scenario`], [`AttackKind`] and each attack's `Params`) and the same MQTT
//! encoder ([`crate::encode`]) make the bytes; the timing is the wall clock's.
//!
//! Safety of the network around: only addresses in 127.0.0.0/8 are accepted as targets
//! ([`check_target`]), every run is bounded ([`MAX_SECONDS`] per capture, connection caps), and
//! nothing is sent anywhere but the broker's address.

use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rand_chacha::ChaCha8Rng;

use crate::attacks::{flood_dos, malformed, mqtt_bruteforce, publish_flood, slowite, AttackKind};
use crate::encode::{self, kind, MqttVersion};
use crate::rng::{derive, Rand};
use crate::scenario::{Credentials, IntervalSpec, PayloadSpec, Scenario, SensorSpec};

/// Longest capture a live run plays, seconds.
pub const MAX_SECONDS: f64 = 3600.0;
/// Most connections one attack holds or runs in parallel (SlowITe, flooding DoS).
pub const MAX_CONNECTIONS: u32 = 256;
/// Most client ports an attack's report lists (its first connections'; `connections` counts
/// them all).
pub const MAX_LISTED_PORTS: usize = 4096;

/// Refuses every broker address outside 127.0.0.0/8 (IPv6 included): a live run must never
/// send attack traffic to another machine.
pub fn check_target(addr: &SocketAddr) -> Result<(), String> {
    match addr.ip() {
        IpAddr::V4(v4) if v4.octets()[0] == 127 => Ok(()),
        ip => Err(format!(
            "--live plays attacks: only a broker on a loopback address in 127.0.0.0/8 is \
             accepted, not {ip} (run the broker locally, e.g. `mosquitto -p 1883` binds \
             127.0.0.1)"
        )),
    }
}

/// What to play.
#[derive(Clone, Debug)]
pub struct LiveOptions {
    /// The broker (127.0.0.0/8 only).
    pub broker: SocketAddr,
    /// Captures of the scenario whose attacks are played, in this order (empty: every capture
    /// with attacks, in scenario order).
    pub captures: Vec<String>,
    /// Seconds each capture plays (attacks start at once and run this long).
    pub duration: f64,
    /// Seconds of sensors alone before the first capture (a benign phase).
    pub lead_in: f64,
    /// Run the scenario's sensors throughout.
    pub sensors: bool,
    /// Rate multiplier of sensors and attacks.
    pub scale: f64,
    /// Seed of payloads, client ids and jitter.
    pub seed: u64,
    /// Credentials of the sensors (and of attacks that need a session, when the broker
    /// requires one); default: none (anonymous).
    pub credentials: Option<Credentials>,
}

/// What one attack did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct AttackStats {
    /// Capture it belongs to.
    pub capture: String,
    /// Its class.
    pub class: String,
    /// Attack kind (`mqtt_bruteforce`, …).
    pub attack: String,
    /// Seconds since the run started: when it began and ended.
    pub started: f64,
    /// End.
    pub ended: f64,
    /// TCP connections opened.
    pub connections: u64,
    /// Local (client) ports of the connections it opened, in opening order; at most
    /// [`MAX_LISTED_PORTS`]. With the broker's address and port, the connections' endpoints
    /// (what a detector's per-connection alerts name).
    pub client_ports: Vec<u16>,
    /// MQTT messages sent.
    pub messages: u64,
    /// Connections refused or reset, and other socket errors.
    pub errors: u64,
    /// Not playable live (an attack that is not MQTT over TCP): why.
    pub skipped: Option<String>,
}

/// What a live run did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct LiveReport {
    /// Per attack.
    pub attacks: Vec<AttackStats>,
    /// MQTT messages the sensors sent.
    pub sensor_messages: u64,
    /// Sensor connections (re)opened.
    pub sensor_connections: u64,
    /// Client port of the probe connection opened (and closed at once, no MQTT sent) to
    /// check that a broker listens before anything is played.
    pub probe_port: Option<u16>,
    /// Seconds the run took.
    pub seconds: f64,
}

/// Plays `scenario` against the broker. `stop` ends it early (Ctrl-C); `progress` hears of
/// each phase.
pub fn run(
    scenario: &Scenario,
    options: &LiveOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(&str),
) -> Result<LiveReport, String> {
    check_target(&options.broker)?;
    let bounded = options.duration > 0.0
        && options.duration <= MAX_SECONDS
        && (0.0..=MAX_SECONDS).contains(&options.lead_in);
    if !bounded {
        return Err(format!(
            "--duration must be in (0, {MAX_SECONDS}] seconds and the lead-in within [0, {MAX_SECONDS}]"
        ));
    }
    if !(options.scale > 0.0 && options.scale <= 1000.0) {
        return Err("--scale must be in (0, 1000] for a live run".into());
    }
    let captures: Vec<_> = if options.captures.is_empty() {
        scenario
            .captures
            .iter()
            .filter(|c| !c.attacks.is_empty())
            .collect()
    } else {
        options
            .captures
            .iter()
            .map(|name| {
                scenario
                    .captures
                    .iter()
                    .find(|c| &c.name == name)
                    .ok_or_else(|| {
                        let known: Vec<&str> =
                            scenario.captures.iter().map(|c| c.name.as_str()).collect();
                        format!(
                            "scenario {} has no capture `{name}` (it has: {})",
                            scenario.name,
                            known.join(", ")
                        )
                    })
            })
            .collect::<Result<_, _>>()?
    };
    // One probe connection, closed at once: a clear error when no broker listens.
    let probe_port = TcpStream::connect_timeout(&options.broker, Duration::from_secs(2))
        .map_err(|e| {
            format!(
                "no broker answers on {}: {e} (start one, e.g. `mosquitto -p {}`)",
                options.broker,
                options.broker.port()
            )
        })?
        .local_addr()
        .ok()
        .map(|a| a.port());
    let t0 = Instant::now();
    let done = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let opened = Arc::new(AtomicU64::new(0));
    let mut sensor_threads = Vec::new();
    if options.sensors {
        for s in &scenario.sensors {
            let (s, o, done, sent, opened) = (
                s.clone(),
                options.clone(),
                done.clone(),
                sent.clone(),
                opened.clone(),
            );
            let version = scenario.mqtt_version;
            let rng = derive(options.seed, &format!("live/sensor/{}", s.name));
            sensor_threads.push(thread::spawn(move || {
                run_sensor(&s, &o, version, rng, &done, &sent, &opened)
            }));
        }
    }
    let mut report = LiveReport {
        probe_port,
        ..LiveReport::default()
    };
    let wait = |secs: f64| {
        let until = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(20));
        }
    };
    if options.lead_in > 0.0 {
        progress(&format!("sensors alone for {:.0} s", options.lead_in));
        wait(options.lead_in);
    }
    for capture in captures {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        progress(&format!(
            "capture {}: {} attack(s) for {:.0} s",
            capture.name,
            capture.attacks.len(),
            options.duration
        ));
        let deadline = Instant::now() + Duration::from_secs_f64(options.duration);
        let mut handles = Vec::new();
        for (i, spec) in capture.attacks.iter().enumerate() {
            let end = match spec.duration {
                Some(d) => {
                    (Instant::now() + Duration::from_secs_f64(d.min(MAX_SECONDS))).min(deadline)
                }
                None => deadline,
            };
            let mut stats = AttackStats {
                capture: capture.name.clone(),
                class: spec.class.clone(),
                attack: spec.attack.name().into(),
                started: t0.elapsed().as_secs_f64(),
                ..AttackStats::default()
            };
            let player = Player {
                broker: options.broker,
                version: scenario.mqtt_version,
                end,
                scale: options.scale,
                rng: derive(options.seed, &format!("live/attack/{}/{i}", capture.name)),
                credentials: options.credentials.clone(),
                host: spec.attacker.clone(),
                topic: scenario
                    .sensors
                    .first()
                    .map_or_else(|| "Temperature".to_string(), |s| s.topic.clone()),
            };
            let attack = spec.attack.clone();
            let stop_all = done.clone();
            handles.push(thread::spawn(move || {
                let counts = player.play(&attack, &stop_all);
                stats.connections = counts.connections;
                stats.client_ports = counts.ports;
                stats.messages = counts.messages;
                stats.errors = counts.errors;
                stats.skipped = counts.skipped;
                stats
            }));
        }
        // Stop early on request: the players see `done` through their deadline checks.
        while Instant::now() < deadline && !stop.load(Ordering::Relaxed) {
            thread::sleep(Duration::from_millis(20));
        }
        if stop.load(Ordering::Relaxed) {
            done.store(true, Ordering::Relaxed);
        }
        for h in handles {
            let mut s = h
                .join()
                .map_err(|_| "an attack thread panicked".to_string())?;
            s.ended = t0.elapsed().as_secs_f64();
            report.attacks.push(s);
        }
    }
    done.store(true, Ordering::Relaxed);
    for h in sensor_threads {
        let _ = h.join();
    }
    report.sensor_messages = sent.load(Ordering::Relaxed);
    report.sensor_connections = opened.load(Ordering::Relaxed);
    report.seconds = t0.elapsed().as_secs_f64();
    Ok(report)
}

/// Reads whatever the broker sent (and drops it) until `until`; `false` when the connection
/// ended.
fn drain_until(stream: &mut TcpStream, until: Instant, buf: &mut [u8]) -> bool {
    loop {
        let now = Instant::now();
        if now >= until {
            return true;
        }
        let _ = stream.set_read_timeout(Some((until - now).max(Duration::from_millis(1))));
        match stream.read(buf) {
            Ok(0) => return false,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return true
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
}

/// Reads one MQTT message (fixed header, remaining length, body) within `timeout`; returns its
/// first byte and body.
fn read_message(stream: &mut TcpStream, timeout: Duration) -> io::Result<(u8, Vec<u8>)> {
    stream.set_read_timeout(Some(timeout))?;
    let mut first = [0u8; 1];
    stream.read_exact(&mut first)?;
    let mut len = 0usize;
    for i in 0..4 {
        let mut b = [0u8; 1];
        stream.read_exact(&mut b)?;
        len |= usize::from(b[0] & 0x7f) << (7 * i);
        if b[0] & 0x80 == 0 {
            break;
        }
        if i == 3 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "bad remaining length",
            ));
        }
    }
    if len > 1 << 20 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "message too large",
        ));
    }
    let mut body = vec![0u8; len];
    stream.read_exact(&mut body)?;
    Ok((first[0], body))
}

fn client_id(rng: &mut ChaCha8Rng) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    (0..23)
        .map(|_| HEX[rng.below(16) as usize] as char)
        .collect()
}

fn payload(spec: &PayloadSpec, rng: &mut ChaCha8Rng) -> Vec<u8> {
    match spec {
        PayloadSpec::Integer { min, max } => {
            let span = (max - min).max(0) as u64;
            (min + rng.below(span + 1) as i64).to_string().into_bytes()
        }
        PayloadSpec::Choice { values } => values
            .get(rng.below(values.len() as u64) as usize)
            .cloned()
            .unwrap_or_default()
            .into_bytes(),
        PayloadSpec::Text { min_len, max_len } => {
            const ALNUM: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
            let n = rng.range(*min_len as u64, (*max_len).min(1 << 16) as u64) as usize;
            (0..n)
                .map(|_| ALNUM[rng.below(ALNUM.len() as u64) as usize])
                .collect()
        }
    }
}

fn next_gap(spec: &IntervalSpec, scale: f64, rng: &mut ChaCha8Rng) -> Duration {
    let secs = match spec {
        IntervalSpec::Periodic { period, jitter } => period + jitter * (2.0 * rng.unit() - 1.0),
        IntervalSpec::Random { max } => max * rng.unit().max(1e-6),
    };
    Duration::from_secs_f64((secs / scale).clamp(0.001, MAX_SECONDS))
}

/// One sensor: a persistent connection (CONNECT, SUBSCRIBE, PUBLISH at its interval, PINGREQ
/// at its keep-alive), reconnecting after a drop, until `done`.
fn run_sensor(
    s: &SensorSpec,
    o: &LiveOptions,
    version: MqttVersion,
    mut rng: ChaCha8Rng,
    done: &AtomicBool,
    sent: &AtomicU64,
    opened: &AtomicU64,
) {
    let id = s.client_id.clone().unwrap_or_else(|| client_id(&mut rng));
    let creds = s.credentials.clone().or_else(|| o.credentials.clone());
    let mut buf = vec![0u8; 65536];
    let mut packet_id: u16 = 0;
    while !done.load(Ordering::Relaxed) {
        let Ok(mut stream) = TcpStream::connect_timeout(&o.broker, Duration::from_secs(2)) else {
            thread::sleep(Duration::from_millis(500));
            continue;
        };
        opened.fetch_add(1, Ordering::Relaxed);
        let _ = stream.set_nodelay(true);
        let connect = encode::connect(&encode::Connect {
            version,
            client_id: id.as_bytes(),
            keep_alive: s.keep_alive,
            clean: true,
            username: creds.as_ref().map(|c| c.username.as_bytes()),
            password: creds.as_ref().map(|c| c.password.as_bytes()),
            will: None,
        });
        if stream.write_all(&connect).is_err() {
            continue;
        }
        sent.fetch_add(1, Ordering::Relaxed);
        if !matches!(read_message(&mut stream, Duration::from_secs(5)), Ok((f, b)) if f >> 4 == kind::CONNACK && b.get(1) == Some(&0))
        {
            thread::sleep(Duration::from_millis(500));
            continue;
        }
        if !s.subscribe.is_empty() {
            packet_id = packet_id.wrapping_add(1).max(1);
            let filters: Vec<(&[u8], u8)> = s.subscribe.iter().map(|t| (t.as_bytes(), 0)).collect();
            if stream
                .write_all(&encode::subscribe(version, packet_id, &filters))
                .is_err()
            {
                continue;
            }
            sent.fetch_add(1, Ordering::Relaxed);
        }
        let keep_alive = Duration::from_secs(u64::from(s.keep_alive.max(1)));
        let mut next_publish = Instant::now() + next_gap(&s.interval, o.scale, &mut rng);
        let mut next_ping = Instant::now() + keep_alive;
        loop {
            if done.load(Ordering::Relaxed) {
                let _ = stream.write_all(&encode::empty(kind::DISCONNECT));
                sent.fetch_add(1, Ordering::Relaxed);
                let _ = stream.shutdown(Shutdown::Write);
                let _ = drain_until(
                    &mut stream,
                    Instant::now() + Duration::from_millis(200),
                    &mut buf,
                );
                return;
            }
            let until = next_publish
                .min(next_ping)
                .min(Instant::now() + Duration::from_millis(100));
            if !drain_until(&mut stream, until, &mut buf) {
                break;
            }
            let now = Instant::now();
            let message = if now >= next_publish {
                next_publish = now + next_gap(&s.interval, o.scale, &mut rng);
                next_ping = now + keep_alive;
                let qos = s.qos.min(2);
                if qos > 0 {
                    packet_id = packet_id.wrapping_add(1).max(1);
                }
                Some(encode::publish(
                    version,
                    s.topic.as_bytes(),
                    &payload(&s.payload, &mut rng),
                    qos,
                    false,
                    packet_id,
                ))
            } else if now >= next_ping {
                next_ping = now + keep_alive;
                Some(encode::empty(kind::PINGREQ))
            } else {
                None
            };
            if let Some(m) = message {
                if stream.write_all(&m).is_err() {
                    break;
                }
                sent.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

#[derive(Default)]
struct Counts {
    connections: u64,
    ports: Vec<u16>,
    messages: u64,
    errors: u64,
    skipped: Option<String>,
}

/// Plays one attack until its end.
struct Player {
    broker: SocketAddr,
    version: MqttVersion,
    end: Instant,
    scale: f64,
    rng: ChaCha8Rng,
    credentials: Option<Credentials>,
    host: String,
    topic: String,
}

impl Player {
    fn over(&self, stop: &AtomicBool) -> bool {
        Instant::now() >= self.end || stop.load(Ordering::Relaxed)
    }

    /// Sleeps `d` (or until the end); `false` when the attack is over.
    fn pause(&self, d: Duration, stop: &AtomicBool) -> bool {
        let until = (Instant::now() + d).min(self.end);
        while Instant::now() < until {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            thread::sleep((until - Instant::now()).min(Duration::from_millis(20)));
        }
        !self.over(stop)
    }

    fn connect(&self, c: &mut Counts) -> Option<TcpStream> {
        match TcpStream::connect_timeout(&self.broker, Duration::from_secs(2)) {
            Ok(s) => {
                c.connections += 1;
                if let (Ok(local), true) = (s.local_addr(), c.ports.len() < MAX_LISTED_PORTS) {
                    c.ports.push(local.port());
                }
                let _ = s.set_nodelay(true);
                Some(s)
            }
            Err(_) => {
                c.errors += 1;
                None
            }
        }
    }

    /// CONNECT with the session credentials and wait for CONNACK 0.
    fn session(&self, client_id: &str, c: &mut Counts) -> Option<TcpStream> {
        let mut s = self.connect(c)?;
        let creds = self.credentials.as_ref();
        let m = encode::connect(&encode::Connect {
            version: self.version,
            client_id: client_id.as_bytes(),
            keep_alive: 60,
            clean: true,
            username: creds.map(|c| c.username.as_bytes()),
            password: creds.map(|c| c.password.as_bytes()),
            will: None,
        });
        if s.write_all(&m).is_err() {
            c.errors += 1;
            return None;
        }
        c.messages += 1;
        match read_message(&mut s, Duration::from_secs(5)) {
            Ok((f, b)) if f >> 4 == kind::CONNACK && b.get(1) == Some(&0) => Some(s),
            _ => {
                c.errors += 1;
                None
            }
        }
    }

    fn play(mut self, attack: &AttackKind, stop: &AtomicBool) -> Counts {
        let mut c = Counts::default();
        match attack {
            AttackKind::MqttBruteforce(p) => self.bruteforce(p, stop, &mut c),
            AttackKind::PublishFlood(p) => self.publish_flood(p, stop, &mut c),
            AttackKind::FloodDos(p) => self.flood_dos(p, stop, &mut c),
            AttackKind::Slowite(p) => self.slowite(p, stop, &mut c),
            AttackKind::Malformed(p) => self.malformed(p, stop, &mut c),
            other => {
                c.skipped = Some(format!(
                    "{} is not MQTT over TCP to the broker: not played live",
                    other.name()
                ))
            }
        }
        c
    }

    /// One TCP connection per guess: CONNECT with the user name and the next password, read
    /// CONNACK, close (MQTTSA's behaviour); stops at an accepted password when asked to.
    fn bruteforce(&mut self, p: &mqtt_bruteforce::Params, stop: &AtomicBool, c: &mut Counts) {
        let words: Vec<&str> = if p.wordlist.is_empty() {
            mqtt_bruteforce::ROCKYOU_HEAD.to_vec()
        } else {
            p.wordlist.iter().map(String::as_str).collect()
        };
        let gap = Duration::from_secs_f64(p.interval_ms / 1e3 / self.scale);
        'all: for user in &p.usernames {
            for word in &words {
                if self.over(stop) {
                    break 'all;
                }
                if let Some(mut s) = self.connect(c) {
                    let m = encode::connect(&encode::Connect {
                        version: self.version,
                        client_id: p.client_id.as_bytes(),
                        keep_alive: 60,
                        clean: true,
                        username: Some(user.as_bytes()),
                        password: Some(word.as_bytes()),
                        will: None,
                    });
                    if s.write_all(&m).is_ok() {
                        c.messages += 1;
                        if let Ok((f, b)) = read_message(&mut s, Duration::from_secs(5)) {
                            if f >> 4 == kind::CONNACK && b.get(1) == Some(&0) {
                                let _ = s.write_all(&encode::empty(kind::DISCONNECT));
                                c.messages += 1;
                                if p.stop_on_success {
                                    break 'all;
                                }
                            }
                        }
                    }
                    let _ = s.shutdown(Shutdown::Both);
                }
                if !self.pause(gap, stop) {
                    break 'all;
                }
            }
        }
    }

    /// IoT-Flock's publish flood: one session, a PUBLISH of `payload_len` bytes every
    /// `interval_ms`.
    fn publish_flood(&mut self, p: &publish_flood::Params, stop: &AtomicBool, c: &mut Counts) {
        let id = client_id(&mut self.rng);
        let Some(mut s) = self.session(&id, c) else {
            return;
        };
        let gap = Duration::from_secs_f64(p.interval_ms / 1e3 / self.scale);
        let mut body = Vec::with_capacity(p.payload_len.min(1 << 20));
        let mut buf = vec![0u8; 4096];
        let mut packet_id: u16 = 0;
        while !self.over(stop) {
            body.clear();
            self.rng.extend_bytes(&mut body, p.payload_len.min(1 << 20));
            packet_id = packet_id.wrapping_add(1).max(1);
            let topic = if p.topic.is_empty() {
                &self.topic
            } else {
                &p.topic
            };
            let m = encode::publish(
                self.version,
                topic.as_bytes(),
                &body,
                p.qos.min(2),
                false,
                packet_id,
            );
            if s.write_all(&m).is_err() {
                c.errors += 1;
                return;
            }
            c.messages += 1;
            let until = (Instant::now() + gap).min(self.end);
            if !drain_until(&mut s, until, &mut buf) {
                c.errors += 1;
                return;
            }
        }
        let _ = s.write_all(&encode::empty(kind::DISCONNECT));
    }

    /// MQTT-malaria: `connections` sessions in parallel, each publishing `messages` messages
    /// as fast as the broker acknowledges them.
    fn flood_dos(&mut self, p: &flood_dos::Params, stop: &AtomicBool, c: &mut Counts) {
        let n = ((f64::from(p.connections) * self.scale).round() as u32).clamp(1, MAX_CONNECTIONS);
        let seeds: Vec<u64> = (0..n).map(|_| self.rng.next_u32().into()).collect();
        let me = &*self;
        let each: Vec<Counts> = thread::scope(|scope| {
            let mut sessions = Vec::new();
            for (k, seed) in seeds.into_iter().enumerate() {
                let mut rng = derive(seed, &format!("malaria/{k}"));
                sessions.push(scope.spawn(move || {
                    let mut local = Counts::default();
                    let id = format!("{}-malaria-{k}", me.host);
                    if let Some(mut s) = me.session(&id, &mut local) {
                        let qos = p.qos.min(2);
                        for i in 0..p.messages {
                            if me.over(stop) {
                                break;
                            }
                            let len = rng
                                .range(p.payload_min as u64, p.payload_max.min(1 << 20) as u64)
                                as usize;
                            let mut body = Vec::with_capacity(len);
                            rng.extend_bytes(&mut body, len);
                            let id = (i % 65535 + 1) as u16;
                            let topic = format!("mqtt-malaria/{k}/data");
                            if s.write_all(&encode::publish(
                                me.version,
                                topic.as_bytes(),
                                &body,
                                qos,
                                false,
                                id,
                            ))
                            .is_err()
                            {
                                local.errors += 1;
                                break;
                            }
                            local.messages += 1;
                            if qos > 0 && read_message(&mut s, Duration::from_secs(5)).is_err() {
                                local.errors += 1;
                                break;
                            }
                            if p.think_ms > 0.0
                                && !me.pause(Duration::from_secs_f64(p.think_ms / 1e3), stop)
                            {
                                break;
                            }
                        }
                        let _ = s.write_all(&encode::empty(kind::DISCONNECT));
                    }
                    local
                }));
            }
            // A session thread that panicked counts nothing.
            sessions.into_iter().filter_map(|h| h.join().ok()).collect()
        });
        for local in each {
            c.connections += local.connections;
            c.messages += local.messages;
            c.errors += local.errors;
            let room = MAX_LISTED_PORTS.saturating_sub(c.ports.len());
            c.ports.extend(local.ports.into_iter().take(room));
        }
    }

    /// SlowITe: open up to `connections` connections at `open_rate` per second, each sending
    /// a CONNECT with the maximum keep-alive in two writes, then holding it silent; reopened
    /// when the broker closes one; all closed at the end.
    fn slowite(&mut self, p: &slowite::Params, stop: &AtomicBool, c: &mut Counts) {
        let total =
            ((f64::from(p.connections) * self.scale).round() as u32).clamp(1, MAX_CONNECTIONS);
        let gap = Duration::from_secs_f64(1.0 / p.open_rate.max(1e-3));
        let mut held: Vec<TcpStream> = Vec::new();
        let mut n = 0u32;
        let mut buf = vec![0u8; 256];
        while !self.over(stop) {
            if (held.len() as u32) < total {
                if let Some(mut s) = self.connect(c) {
                    let id = format!("slowiteslowitesl{n}");
                    n += 1;
                    let m = encode::connect(&encode::Connect {
                        version: self.version,
                        client_id: id.as_bytes(),
                        keep_alive: p.keep_alive,
                        clean: true,
                        ..encode::Connect::default()
                    });
                    let cut = m.len().saturating_sub(2).max(1);
                    let ok = s.write_all(&m[..cut]).is_ok() && {
                        thread::sleep(Duration::from_secs_f64(p.split_ms / 1e3));
                        s.write_all(&m[cut..]).is_ok()
                    };
                    if ok {
                        c.messages += 1;
                        let _ = s.set_nonblocking(true);
                        held.push(s);
                    } else {
                        c.errors += 1;
                    }
                }
                if !self.pause(gap, stop) {
                    break;
                }
            } else if !self.pause(Duration::from_millis(100), stop) {
                break;
            }
            // Drop connections the broker closed (they are reopened above).
            held.retain_mut(|s| match s.read(&mut buf) {
                Ok(0) => false,
                Ok(_) => true,
                Err(e) => e.kind() == io::ErrorKind::WouldBlock,
            });
        }
        for s in held {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// MQTTSA's malformed-data probes: a session per probe, one protocol violation each.
    fn malformed(&mut self, p: &malformed::Params, stop: &AtomicBool, c: &mut Counts) {
        let gap = Duration::from_secs_f64(p.interval_ms / 1e3 / self.scale);
        let mut k = 0usize;
        while !self.over(stop) {
            if let Some(mut s) = self.connect(c) {
                let id = format!("malformed{k}");
                let connect = encode::connect(&encode::Connect {
                    version: self.version,
                    client_id: id.as_bytes(),
                    keep_alive: 60,
                    clean: true,
                    ..encode::Connect::default()
                });
                // A few of MQTTSA's probes: QoS 3 PUBLISH, a wildcard topic in PUBLISH, a
                // remaining length longer than the data, a reserved CONNECT flag.
                let probe = match k % 4 {
                    0 => {
                        let mut m =
                            encode::publish(self.version, b"Temperature", b"1", 1, false, 1);
                        m[0] |= 0x06; // QoS bits 11
                        [connect, m].concat()
                    }
                    1 => [
                        connect,
                        encode::publish(self.version, b"a/#", b"1", 0, false, 0),
                    ]
                    .concat(),
                    2 => [connect, vec![kind::PUBLISH << 4, 0x7f, 0, 1, b'a']].concat(),
                    _ => {
                        let mut m = connect;
                        // Connect flags sit after the fixed header (2 bytes), the protocol
                        // name (6) and the level (1).
                        if let Some(f) = m.get_mut(9) {
                            *f |= 0x01;
                        }
                        m
                    }
                };
                k += 1;
                if s.write_all(&probe).is_ok() {
                    c.messages += 2;
                } else {
                    c.errors += 1;
                }
                let hold = Duration::from_secs_f64(p.hold_ms / 1e3 / self.scale);
                let _ = drain_until(
                    &mut s,
                    (Instant::now() + hold).min(self.end),
                    &mut buf_of(256),
                );
            }
            if !self.pause(gap, stop) {
                break;
            }
        }
    }
}

fn buf_of(n: usize) -> Vec<u8> {
    vec![0u8; n]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_targets_are_accepted() {
        for ok in ["127.0.0.1:1883", "127.1.2.3:1", "127.255.255.254:65535"] {
            assert!(check_target(&ok.parse().unwrap()).is_ok(), "{ok}");
        }
        for bad in [
            "10.16.100.73:1883",
            "192.168.0.1:1883",
            "0.0.0.0:1883",
            "128.0.0.1:1883",
            "126.255.255.255:1883",
            "8.8.8.8:53",
            "[::1]:1883",
            "[::ffff:127.0.0.1]:1883",
            "[2001:db8::1]:1883",
        ] {
            let e = check_target(&bad.parse().unwrap()).unwrap_err();
            assert!(e.contains("127.0.0.0/8"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_run_refuses_other_targets_before_sending_anything() {
        let scenario = Scenario::builtin("mqttset2020").unwrap();
        let options = LiveOptions {
            broker: "192.0.2.1:1883".parse().unwrap(),
            captures: Vec::new(),
            duration: 1.0,
            lead_in: 0.0,
            sensors: true,
            scale: 1.0,
            seed: 0,
            credentials: None,
        };
        let stop = AtomicBool::new(false);
        let e = run(&scenario, &options, &stop, &mut |_| {}).unwrap_err();
        assert!(e.contains("127.0.0.0/8"), "{e}");
        // Unbounded or silly durations are refused too.
        let options = LiveOptions {
            broker: "127.0.0.1:1".parse().unwrap(),
            duration: 1e9,
            ..options
        };
        assert!(run(&scenario, &options, &stop, &mut |_| {}).is_err());
    }

    /// Against a listener of our own on 127.0.0.1: the brute force sends one CONNECT per
    /// connection with the user name and a password from the word list.
    /// The report names the client port of every connection the run opened: the probe first,
    /// then the attack's, as the broker saw them.
    #[test]
    fn the_report_lists_the_probe_and_attack_client_ports() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let broker = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let done = Arc::new(AtomicBool::new(false));
        let server = {
            let done = done.clone();
            thread::spawn(move || {
                let mut peers = Vec::new();
                while !done.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((mut s, peer)) => {
                            peers.push(peer.port());
                            s.set_nonblocking(false).unwrap();
                            // Refuse every guess; the probe sends nothing and closes.
                            if read_message(&mut s, Duration::from_secs(1)).is_ok() {
                                let _ = s.write_all(&encode::connack(MqttVersion::V311, false, 5));
                            }
                        }
                        Err(_) => thread::sleep(Duration::from_millis(5)),
                    }
                }
                peers
            })
        };
        let scenario = Scenario::builtin("mqttset2020").unwrap();
        let options = LiveOptions {
            broker,
            captures: vec!["bruteforce".into()],
            duration: 1.0,
            lead_in: 0.0,
            sensors: false,
            scale: 5.0,
            seed: 0,
            credentials: None,
        };
        let report = run(&scenario, &options, &AtomicBool::new(false), &mut |_| {}).unwrap();
        done.store(true, Ordering::Relaxed);
        let peers = server.join().unwrap();
        let attack = &report.attacks[0];
        assert!(attack.connections >= 2, "{report:?}");
        assert_eq!(attack.client_ports.len() as u64, attack.connections);
        let mut listed = vec![report.probe_port.unwrap()];
        listed.extend(&attack.client_ports);
        assert_eq!(listed, peers);
    }

    #[test]
    fn bruteforce_sends_one_connect_per_connection() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = thread::spawn(move || {
            let (mut seen, mut ports) = (Vec::new(), Vec::new());
            for _ in 0..3 {
                let (mut s, peer) = listener.accept().unwrap();
                ports.push(peer.port());
                let (first, body) = read_message(&mut s, Duration::from_secs(5)).unwrap();
                assert_eq!(first >> 4, kind::CONNECT);
                seen.push(body);
                s.write_all(&encode::connack(MqttVersion::V311, false, 5))
                    .unwrap();
            }
            (seen, ports)
        });
        let player = Player {
            broker: addr,
            version: MqttVersion::V311,
            end: Instant::now() + Duration::from_secs(10),
            scale: 1.0,
            rng: derive(0, "t"),
            credentials: None,
            host: "attacker".into(),
            topic: "Temperature".into(),
        };
        let p = mqtt_bruteforce::Params {
            wordlist: vec!["123456".into(), "password".into(), "qwerty".into()],
            interval_ms: 1.0,
            ..Default::default()
        };
        let stop = AtomicBool::new(false);
        let counts = player.play(&AttackKind::MqttBruteforce(p), &stop);
        let (seen, ports) = server.join().unwrap();
        assert_eq!((counts.connections, counts.messages), (3, 3));
        // The client ports the broker saw, one per connection (each guess its own).
        assert_eq!(counts.ports, ports);
        for (body, word) in seen.iter().zip(["123456", "password", "qwerty"]) {
            // Flags: user name and password (0xc0) and clean session (0x02).
            assert_eq!(body[7], 0xc2);
            assert!(body.ends_with(word.as_bytes()));
            assert!(body.windows(4).any(|w| w == b"user"));
        }
    }
}
