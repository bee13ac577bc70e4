//! Alerts as JSON lines shaped like Suricata's EVE `alert` events (what Elastic, Splunk and
//! Wazuh already ingest), with our fields under `mqtt_ids`, MQTT context under `mqtt`, and a
//! rate limit per flow and signature.

use std::collections::HashMap;
use std::io::{self, Write};
use std::net::IpAddr;

use mqtt_ids_mqtt::FindingKind;

use crate::observer::ConnInfo;
use crate::sink::RowCtx;

/// Alert settings.
#[derive(Clone, Debug)]
pub struct AlertConfig {
    /// At most one alert per flow and signature per this much packet time; the others are
    /// counted (`suppressed` in the next one and in the summary). 0: no limit.
    pub rate_window_ns: i64,
    /// Features listed with each model alert.
    pub top_features: usize,
    /// Findings that raise alerts.
    pub findings: Vec<FindingKind>,
    /// Interface name for `in_iface` (live capture).
    pub interface: Option<String>,
}

/// Findings that say something about the capture rather than the traffic (a connection picked
/// up mid-stream, segments the capture missed, our own buffer caps): no alert by default.
pub const CAPTURE_FINDINGS: [FindingKind; 4] = [
    FindingKind::MidstreamPickup,
    FindingKind::StreamGap,
    FindingKind::BufferCapDrop,
    FindingKind::ResyncSkippedBytes,
];

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            rate_window_ns: 60_000_000_000,
            top_features: 5,
            findings: FindingKind::ALL
                .iter()
                .copied()
                .filter(|k| !CAPTURE_FINDINGS.contains(k))
                .collect(),
            interface: None,
        }
    }
}

/// Alert counters.
#[derive(Clone, Debug, Default)]
pub struct AlertCounts {
    /// Alerts written, by signature text.
    pub by_signature: Vec<(String, u64)>,
    /// Alerts written.
    pub written: u64,
    /// Alerts held back by the rate limit.
    pub suppressed: u64,
    /// Rate-limit entries dropped because the table was full.
    pub limiter_evictions: u64,
}

/// Rate-limit table cap (flows × signatures).
const LIMITER_CAP: usize = 65_536;

/// A Suricata-style flow id: a 51-bit hash of the connection's endpoints and protocol, the same
/// for both directions (so packet, flow and finding alerts of one connection correlate), exact
/// in a JSON double.
pub fn flow_id(ctx: &RowCtx) -> u64 {
    let a = (ctx.src, ctx.src_port);
    let b = (ctx.dst, ctx.dst_port);
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &x in bytes {
            h ^= u64::from(x);
            h = h.wrapping_mul(0x0100_0000_01B3);
        }
    };
    for (ip, port) in [lo, hi] {
        match ip {
            IpAddr::V4(v) => eat(&v.octets()),
            IpAddr::V6(v) => eat(&v.octets()),
        }
        eat(&port.to_be_bytes());
    }
    eat(&[ctx.proto]);
    h & ((1 << 51) - 1)
}

/// `ts_ns` as EVE writes timestamps: `2020-05-04T12:34:56.123456+0000` (UTC).
pub fn eve_timestamp(ts_ns: i64) -> String {
    let secs = ts_ns.div_euclid(1_000_000_000);
    let micros = ts_ns.rem_euclid(1_000_000_000) / 1000;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}+0000",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Suricata's classification for a class name (its `classification.config` texts).
pub fn category_of_class(class: &str) -> &'static str {
    let c = class.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| c.contains(w));
    if has(&["flood", "dos", "malaria", "slowite", "slow"]) {
        "Attempted Denial of Service"
    } else if has(&["brute", "sparta", "password", "credential"]) {
        "Attempted User Privilege Gain"
    } else if has(&["scan"]) {
        "Attempted Information Leak"
    } else if has(&["malformed", "fuzz"]) {
        "Potentially Bad Traffic"
    } else {
        "Misc Attack"
    }
}

/// What an alert is about.
pub enum AlertKind<'a> {
    /// A model's decision.
    Model {
        /// Model name.
        model: &'a str,
        /// Its feature set.
        set: &'static str,
        /// Predicted class.
        class: &'a str,
        /// Its probability.
        probability: f32,
        /// (feature name, value, contribution), strongest first.
        top: Vec<(&'a str, f32, f32)>,
    },
    /// A protocol finding of the dissector.
    Finding(FindingKind),
}

/// Writes alerts and keeps the rate limit.
pub struct AlertWriter<W: Write> {
    out: W,
    config: AlertConfig,
    /// (flow id, signature id) → (packet time of the last alert written, suppressed since).
    limiter: HashMap<(u64, u32), (i64, u64), foldhash::fast::FixedState>,
    by_signature: HashMap<String, u64>,
    counts: AlertCounts,
    line: Vec<u8>,
}

/// Signature ids: 9,100,000 + a hash of model and class for models, 9,200,000 + the finding's
/// index for findings (Suricata reserves nothing in these ranges for its own rules).
fn signature_id(kind: &AlertKind<'_>) -> u32 {
    match kind {
        AlertKind::Model { model, class, .. } => {
            let mut h: u32 = 0x811C_9DC5;
            for b in model.bytes().chain([0]).chain(class.bytes()) {
                h ^= u32::from(b);
                h = h.wrapping_mul(0x0100_0193);
            }
            9_100_000 + h % 100_000
        }
        AlertKind::Finding(f) => 9_200_000 + *f as u32,
    }
}

impl<W: Write> AlertWriter<W> {
    /// Alerts to `out`, one JSON object per line.
    pub fn new(out: W, config: AlertConfig) -> Self {
        AlertWriter {
            out,
            config,
            limiter: HashMap::default(),
            by_signature: HashMap::new(),
            counts: AlertCounts::default(),
            line: Vec::with_capacity(1024),
        }
    }

    /// The settings.
    pub fn config(&self) -> &AlertConfig {
        &self.config
    }

    /// Whether an alert of `kind` on `ctx` would be written now (and, if not, counts it as
    /// suppressed). Call before the costly parts of an alert.
    pub fn admit(&mut self, ctx: &RowCtx, kind: &AlertKind<'_>) -> Option<u64> {
        let window = self.config.rate_window_ns;
        if window <= 0 {
            return Some(0);
        }
        let key = (flow_id(ctx), signature_id(kind));
        if let Some((last, suppressed)) = self.limiter.get_mut(&key) {
            if ctx.ts_ns.saturating_sub(*last) < window {
                *suppressed += 1;
                self.counts.suppressed += 1;
                return None;
            }
            let held = *suppressed;
            *last = ctx.ts_ns;
            *suppressed = 0;
            return Some(held);
        }
        if self.limiter.len() >= LIMITER_CAP {
            let now = ctx.ts_ns;
            let before = self.limiter.len();
            self.limiter
                .retain(|_, (last, _)| now.saturating_sub(*last) < window);
            if self.limiter.len() >= LIMITER_CAP {
                self.limiter.clear();
            }
            self.counts.limiter_evictions += (before - self.limiter.len()) as u64;
        }
        self.limiter.insert(key, (ctx.ts_ns, 0));
        Some(0)
    }

    /// Writes one admitted alert (`suppressed`: how many of its kind on this flow were held
    /// back since the last one). The JSON is written field by field into a reused buffer (no
    /// value tree per alert); strings and numbers go through serde_json's own formatting.
    pub fn write(
        &mut self,
        ctx: &RowCtx,
        kind: &AlertKind<'_>,
        suppressed: u64,
        conn: Option<&ConnInfo>,
    ) -> io::Result<()> {
        let (signature, category, severity) = match kind {
            AlertKind::Model {
                model,
                class,
                probability,
                ..
            } => (
                format!("MQTT-IDS {class} detected by model {model}"),
                category_of_class(class),
                if *probability >= 0.9 { 1 } else { 2 },
            ),
            AlertKind::Finding(f) => (
                format!("MQTT-IDS MQTT protocol anomaly: {}", f.name()),
                "Generic Protocol Command Decode",
                if matches!(
                    f,
                    FindingKind::MalformedTraffic
                        | FindingKind::InvalidQosLevel
                        | FindingKind::UnassignedMsgType
                        | FindingKind::InvalidRemainingLength
                ) {
                    2
                } else {
                    3
                },
            ),
        };
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let result = (|| -> serde_json::Result<()> {
            let out = &mut line;
            let key = |out: &mut Vec<u8>, first: bool, name: &str| {
                if !first {
                    out.push(b',');
                }
                out.push(b'"');
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b"\":");
            };
            out.push(b'{');
            key(out, true, "timestamp");
            serde_json::to_writer(&mut *out, &eve_timestamp(ctx.ts_ns))?;
            key(out, false, "flow_id");
            serde_json::to_writer(&mut *out, &flow_id(ctx))?;
            if let Some(i) = &self.config.interface {
                key(out, false, "in_iface");
                serde_json::to_writer(&mut *out, i)?;
            }
            key(out, false, "event_type");
            out.extend_from_slice(b"\"alert\"");
            key(out, false, "src_ip");
            serde_json::to_writer(&mut *out, &ctx.src.to_string())?;
            key(out, false, "src_port");
            serde_json::to_writer(&mut *out, &ctx.src_port)?;
            key(out, false, "dest_ip");
            serde_json::to_writer(&mut *out, &ctx.dst.to_string())?;
            key(out, false, "dest_port");
            serde_json::to_writer(&mut *out, &ctx.dst_port)?;
            key(out, false, "proto");
            match ctx.proto {
                6 => out.extend_from_slice(b"\"TCP\""),
                17 => out.extend_from_slice(b"\"UDP\""),
                p => serde_json::to_writer(&mut *out, &p.to_string())?,
            }
            if conn.is_some() {
                key(out, false, "app_proto");
                out.extend_from_slice(b"\"mqtt\"");
            }
            key(out, false, "alert");
            out.extend_from_slice(b"{\"action\":\"allowed\",\"gid\":1,\"signature_id\":");
            serde_json::to_writer(&mut *out, &signature_id(kind))?;
            out.extend_from_slice(b",\"rev\":1,\"signature\":");
            serde_json::to_writer(&mut *out, &signature)?;
            out.extend_from_slice(b",\"category\":");
            serde_json::to_writer(&mut *out, category)?;
            out.extend_from_slice(b",\"severity\":");
            serde_json::to_writer(&mut *out, &severity)?;
            out.push(b'}');
            if let Some(c) = conn {
                key(out, false, "mqtt");
                out.extend_from_slice(b"{\"client_id\":");
                serde_json::to_writer(&mut *out, &c.client_id)?;
                out.extend_from_slice(b",\"last_messages\":");
                serde_json::to_writer(&mut *out, &c.last_messages())?;
                out.push(b'}');
            }
            key(out, false, "mqtt_ids");
            match kind {
                AlertKind::Model {
                    model,
                    set,
                    class,
                    probability,
                    top,
                } => {
                    out.extend_from_slice(b"{\"source\":\"model\",\"model\":");
                    serde_json::to_writer(&mut *out, model)?;
                    out.extend_from_slice(b",\"feature_set\":");
                    serde_json::to_writer(&mut *out, set)?;
                    out.extend_from_slice(b",\"row\":");
                    serde_json::to_writer(&mut *out, ctx.kind.name())?;
                    out.extend_from_slice(b",\"class\":");
                    serde_json::to_writer(&mut *out, class)?;
                    out.extend_from_slice(b",\"probability\":");
                    serde_json::to_writer(&mut *out, &round6(*probability))?;
                    out.extend_from_slice(b",\"top_features\":[");
                    for (i, (name, value, contribution)) in top.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(b"{\"name\":");
                        serde_json::to_writer(&mut *out, name)?;
                        out.extend_from_slice(b",\"value\":");
                        serde_json::to_writer(&mut *out, value)?;
                        out.extend_from_slice(b",\"contribution\":");
                        serde_json::to_writer(&mut *out, &round6(*contribution))?;
                        out.push(b'}');
                    }
                    out.extend_from_slice(b"],\"suppressed\":");
                    serde_json::to_writer(&mut *out, &suppressed)?;
                    out.push(b'}');
                }
                AlertKind::Finding(f) => {
                    out.extend_from_slice(b"{\"source\":\"finding\",\"finding\":");
                    serde_json::to_writer(&mut *out, f.name())?;
                    out.extend_from_slice(b",\"row\":");
                    serde_json::to_writer(&mut *out, ctx.kind.name())?;
                    out.extend_from_slice(b",\"suppressed\":");
                    serde_json::to_writer(&mut *out, &suppressed)?;
                    out.push(b'}');
                }
            }
            out.extend_from_slice(b"}\n");
            Ok(())
        })();
        self.line = line;
        result?;
        self.out.write_all(&self.line)?;
        self.counts.written += 1;
        match self.by_signature.get_mut(&signature) {
            Some(n) => *n += 1,
            None => {
                self.by_signature.insert(signature, 1);
            }
        }
        Ok(())
    }

    /// Flushes the output (live capture: after each batch of alerts).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Counters so far.
    pub fn counts(&self) -> AlertCounts {
        let mut c = self.counts.clone();
        c.by_signature = self
            .by_signature
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        c.by_signature.sort();
        c
    }

    /// The output back.
    pub fn into_inner(self) -> W {
        self.out
    }
}

fn round6(v: f32) -> f64 {
    (f64::from(v) * 1e6).round() / 1e6
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_eve_utc() {
        // date -u -d @1589120096.123456 +%Y-%m-%dT%H:%M:%S.%6N+0000
        assert_eq!(
            eve_timestamp(1_589_120_096_123_456_789),
            "2020-05-10T14:14:56.123456+0000"
        );
        assert_eq!(eve_timestamp(0), "1970-01-01T00:00:00.000000+0000");
        // date -u -d @951782400 (a leap day)
        assert_eq!(
            eve_timestamp(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000+0000"
        );
        assert_eq!(eve_timestamp(-1_000), "1969-12-31T23:59:59.999999+0000");
    }

    #[test]
    fn flow_ids_are_direction_free_and_json_exact() {
        let a = RowCtx {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            src_port: 40000,
            dst_port: 1883,
            proto: 6,
            ..RowCtx::default()
        };
        let b = RowCtx {
            src: a.dst,
            dst: a.src,
            src_port: a.dst_port,
            dst_port: a.src_port,
            ..a
        };
        assert_eq!(flow_id(&a), flow_id(&b));
        assert!(flow_id(&a) < 1 << 53);
        assert_ne!(flow_id(&a), flow_id(&RowCtx { proto: 17, ..a }));
    }

    #[test]
    fn the_rate_limit_holds_repeats_per_flow_and_signature() {
        let mut w = AlertWriter::new(Vec::new(), AlertConfig::default());
        let kind = AlertKind::Finding(FindingKind::InvalidQosLevel);
        let mut ctx = RowCtx {
            proto: 6,
            ..RowCtx::default()
        };
        assert_eq!(w.admit(&ctx, &kind), Some(0));
        for s in 1..=5 {
            ctx.ts_ns = s * 1_000_000_000;
            assert_eq!(w.admit(&ctx, &kind), None);
        }
        // Another signature on the same flow is not held back.
        assert_eq!(
            w.admit(&ctx, &AlertKind::Finding(FindingKind::MalformedTraffic)),
            Some(0)
        );
        ctx.ts_ns = 61_000_000_000;
        assert_eq!(w.admit(&ctx, &kind), Some(5));
        assert_eq!(w.counts().suppressed, 5);
    }
}
