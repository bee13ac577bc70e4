//! Labels: which rows are attacks, and of which class.
//!
//! Three sources, in this order of precedence:
//! 1. `--labels FILE`: rules `class,address,port,start,end` (first match wins). `address` is an
//!    IP or CIDR block matched against source or destination, `port` against source or
//!    destination port, `start`/`end` a half-open time window (RFC 3339 or Unix seconds) matched
//!    against the row's time (a packet's timestamp, a flow's first packet). Empty or `*` matches
//!    anything. `#` starts a comment line; a first line starting `class,` is a header.
//! 2. `--attacker IP[,IP…]`: rows whose source or destination is one of them are attacks (class =
//!    `--label` if given, else `attack`); the other rows are `legitimate`. This is how
//!    MQTT-IoT-IDS2020 was labelled (attacker 192.168.2.5).
//! 3. `--label CLASS`: every row of the file, as MQTTset labelled its per-class captures.
//!
//! `is_attack` is 1 unless the class is `legitimate`, `benign` or `normal`. Rows no source labels
//! are kept with empty label columns.

use std::net::IpAddr;
use std::path::Path;

/// What a row is about, for labelling.
#[derive(Clone, Copy, Debug)]
pub struct Subject {
    /// Source address (a flow's forward source).
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port (0 when none).
    pub src_port: u16,
    /// Destination port (0 when none).
    pub dst_port: u16,
    /// Time of the row: the packet's, or the flow's first packet's (ns since the Unix epoch).
    pub ts_ns: i64,
}

/// A row's label; both parts absent for unlabelled rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Label<'a> {
    /// Class name.
    pub class: Option<&'a str>,
    /// Whether the class is an attack.
    pub is_attack: Option<bool>,
}

impl<'a> Label<'a> {
    /// The label of `class` (none: unlabelled).
    #[inline]
    fn of(class: Option<&'a str>) -> Self {
        Label {
            class,
            is_attack: class.map(|c| !is_benign_class(c)),
        }
    }
}

/// Whether a class name means normal traffic.
pub fn is_benign_class(class: &str) -> bool {
    ["legitimate", "benign", "normal"]
        .iter()
        .any(|b| class.eq_ignore_ascii_case(b))
}

/// An address or CIDR block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    /// Parses `192.168.2.5`, `10.0.0.0/8`, `::1`, `fd00::/8`.
    pub fn parse(text: &str) -> Result<Net, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{text}` is not an IP address or CIDR block"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(|| format!("`{text}`: prefix length must be 0..={max}"))?,
        };
        Ok(Net { addr, prefix })
    }

    /// Whether `ip` lies in the block.
    pub fn contains(&self, ip: IpAddr) -> bool {
        fn masked(bits: u128, width: u32, prefix: u8) -> u128 {
            let keep = u32::from(prefix).min(width);
            if keep == 0 {
                0
            } else {
                bits >> (width - keep)
            }
        }
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                masked(u32::from(net).into(), 32, self.prefix)
                    == masked(u32::from(ip).into(), 32, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                masked(u128::from(net), 128, self.prefix)
                    == masked(u128::from(ip), 128, self.prefix)
            }
            _ => false,
        }
    }
}

/// One `--labels` rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Class given to matching rows.
    pub class: String,
    /// Address or block matched against source or destination.
    pub net: Option<Net>,
    /// Port matched against source or destination port.
    pub port: Option<u16>,
    /// Window start (inclusive), ns.
    pub start_ns: Option<i64>,
    /// Window end (exclusive), ns.
    pub end_ns: Option<i64>,
}

impl Rule {
    fn matches(&self, s: &Subject) -> bool {
        self.net
            .is_none_or(|n| n.contains(s.src) || n.contains(s.dst))
            && self.port.is_none_or(|p| p == s.src_port || p == s.dst_port)
            && self.start_ns.is_none_or(|t| s.ts_ns >= t)
            && self.end_ns.is_none_or(|t| s.ts_ns < t)
    }
}

/// Labelling configuration for one run.
#[derive(Clone, Debug, Default)]
pub struct Labeler {
    /// `--labels` rules, first match wins.
    pub rules: Vec<Rule>,
    /// `--attacker` addresses or blocks.
    pub attackers: Vec<Net>,
    /// `--label` class for the whole file.
    pub class: Option<String>,
}

impl Labeler {
    /// The label of every row when it does not depend on the row (no rules, no attackers: the
    /// run's class or none), so sets need not build a [`Subject`] per row; `None` when it does.
    #[inline]
    pub fn fixed(&self) -> Option<Label<'_>> {
        (self.rules.is_empty() && self.attackers.is_empty())
            .then(|| Label::of(self.class.as_deref()))
    }

    /// The label of a row.
    pub fn label(&self, s: &Subject) -> Label<'_> {
        let class = if let Some(rule) = self.rules.iter().find(|r| r.matches(s)) {
            Some(rule.class.as_str())
        } else if !self.attackers.is_empty() {
            let attack = self
                .attackers
                .iter()
                .any(|n| n.contains(s.src) || n.contains(s.dst));
            Some(if attack {
                self.class.as_deref().unwrap_or("attack")
            } else {
                "legitimate"
            })
        } else {
            self.class.as_deref()
        };
        Label::of(class)
    }

    /// Reads `--labels` rules from a file; errors name the file and line.
    pub fn read_rules(path: &Path) -> Result<Vec<Rule>, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{}: cannot read label rules: {e}", path.display()))?;
        parse_rules(&text).map_err(|(line, e)| format!("{}:{line}: {e}", path.display()))
    }
}

/// Parses rule lines; errors carry the 1-based line number.
pub fn parse_rules(text: &str) -> Result<Vec<Rule>, (usize, String)> {
    let mut rules = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || (i == 0 && line.starts_with("class,")) {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 5 {
            return Err((
                i + 1,
                format!(
                    "expected 5 fields `class,address,port,start,end`, found {}",
                    fields.len()
                ),
            ));
        }
        let any = |f: &str| f.is_empty() || f == "*";
        if any(fields[0]) {
            return Err((i + 1, "the class must not be empty".into()));
        }
        let net = if any(fields[1]) {
            None
        } else {
            Some(Net::parse(fields[1]).map_err(|e| (i + 1, e))?)
        };
        let port = if any(fields[2]) {
            None
        } else {
            Some(
                fields[2]
                    .parse::<u16>()
                    .map_err(|_| (i + 1, format!("`{}` is not a port", fields[2])))?,
            )
        };
        let time = |f: &str| -> Result<Option<i64>, (usize, String)> {
            if any(f) {
                Ok(None)
            } else {
                parse_time(f).map(Some).map_err(|e| (i + 1, e))
            }
        };
        rules.push(Rule {
            class: fields[0].to_string(),
            net,
            port,
            start_ns: time(fields[3])?,
            end_ns: time(fields[4])?,
        });
    }
    Ok(rules)
}

/// Parses Unix seconds (`1589200000.25`) or RFC 3339 UTC/offset time
/// (`2020-05-11T12:00:00.5Z`, `2020-05-11T13:00:00+01:00`) into ns since the epoch.
pub fn parse_time(text: &str) -> Result<i64, String> {
    let bad =
        || format!("`{text}` is not a time (Unix seconds or RFC 3339 like 2020-05-11T12:00:00Z)");
    if let Some(ns) = parse_seconds(text) {
        return Ok(ns);
    }
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<i64, String> {
        text.get(r)
            .filter(|s| s.bytes().all(|c| c.is_ascii_digit()))
            .and_then(|s| s.parse().ok())
            .ok_or_else(bad)
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    if b[13] != b':' || b[16] != b':' {
        return Err(bad());
    }
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return Err(bad());
    }
    if second > 60 {
        return Err(bad());
    }
    let mut rest = &text[19..];
    let mut frac_ns = 0i64;
    if let Some(r) = rest.strip_prefix('.') {
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return Err(bad());
        }
        let mut scale = 100_000_000;
        for d in r[..digits].bytes().take(9) {
            frac_ns += i64::from(d - b'0') * scale;
            scale /= 10;
        }
        rest = &r[digits..];
    }
    let offset_s = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && (rest.starts_with('+') || rest.starts_with('-')) => {
            let h: i64 = rest[1..3].parse().map_err(|_| bad())?;
            let m: i64 = rest[4..6].parse().map_err(|_| bad())?;
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 3600 + m * 60)
        }
        _ => return Err(bad()),
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    secs.checked_mul(1_000_000_000)
        .and_then(|ns| ns.checked_add(frac_ns))
        .ok_or_else(bad)
}

fn parse_seconds(text: &str) -> Option<i64> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    let negative = int.starts_with('-');
    let digits = int.strip_prefix('-').unwrap_or(int);
    if digits.is_empty()
        || !digits.bytes().all(|c| c.is_ascii_digit())
        || !frac.bytes().all(|c| c.is_ascii_digit())
    {
        return None;
    }
    let secs: i64 = digits.parse().ok()?;
    let mut frac_ns = 0i64;
    let mut scale = 100_000_000;
    for d in frac.bytes().take(9) {
        frac_ns += i64::from(d - b'0') * scale;
        scale /= 10;
    }
    let ns = secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)?;
    Some(if negative { -ns } else { ns })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject(src: &str, dst: &str, sp: u16, dp: u16, ts_ns: i64) -> Subject {
        Subject {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            src_port: sp,
            dst_port: dp,
            ts_ns,
        }
    }

    #[test]
    fn times_parse_as_unix_seconds_or_rfc3339() {
        // date -u -d 2020-05-11T12:00:00Z +%s  → 1589198400
        assert_eq!(parse_time("1589198400").unwrap(), 1_589_198_400_000_000_000);
        assert_eq!(
            parse_time("1589198400.25").unwrap(),
            1_589_198_400_250_000_000
        );
        assert_eq!(
            parse_time("2020-05-11T12:00:00Z").unwrap(),
            1_589_198_400_000_000_000
        );
        assert_eq!(
            parse_time("2020-05-11T13:00:00.000000001+01:00").unwrap(),
            1_589_198_400_000_000_001
        );
        assert_eq!(parse_time("1970-01-01T00:00:00Z").unwrap(), 0);
        // date -u -d 2000-02-29T23:59:59Z +%s → 951868799
        assert_eq!(
            parse_time("2000-02-29T23:59:59Z").unwrap(),
            951_868_799_000_000_000
        );
        for bad in [
            "",
            "yesterday",
            "2020-13-01T00:00:00Z",
            "2020-05-11T12:00:00",
            "1.2.3",
        ] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn cidr_blocks_match_their_addresses_only() {
        let net = Net::parse("192.168.2.0/24").unwrap();
        assert!(net.contains("192.168.2.5".parse().unwrap()));
        assert!(!net.contains("192.168.3.5".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        assert!(Net::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Net::parse("fd00::/8")
            .unwrap()
            .contains("fd12::1".parse().unwrap()));
        assert!(Net::parse("10.0.0.0/33").is_err());
        assert!(Net::parse("host").is_err());
    }

    #[test]
    fn attacker_addresses_label_like_mqtt_iot_ids2020() {
        let labeler = Labeler {
            attackers: vec![Net::parse("192.168.2.5").unwrap()],
            class: Some("bruteforce".into()),
            ..Labeler::default()
        };
        let attack = labeler.label(&subject("192.168.2.5", "192.168.2.1", 40000, 1883, 0));
        assert_eq!(attack.class, Some("bruteforce"));
        assert_eq!(attack.is_attack, Some(true));
        let reply = labeler.label(&subject("192.168.2.1", "192.168.2.5", 1883, 40000, 0));
        assert_eq!(reply.is_attack, Some(true));
        let other = labeler.label(&subject("192.168.2.2", "192.168.2.1", 40001, 1883, 0));
        assert_eq!(other.class, Some("legitimate"));
        assert_eq!(other.is_attack, Some(false));
    }

    #[test]
    fn class_for_the_whole_file_and_unlabelled_rows() {
        let s = subject("10.0.0.1", "10.0.0.2", 1, 2, 0);
        assert_eq!(
            Labeler::default().label(&s),
            Label {
                class: None,
                is_attack: None
            }
        );
        let benign = Labeler {
            class: Some("legitimate".into()),
            ..Labeler::default()
        };
        assert_eq!(benign.label(&s).is_attack, Some(false));
        let flood = Labeler {
            class: Some("flood".into()),
            ..Labeler::default()
        };
        assert_eq!(flood.label(&s).is_attack, Some(true));
        // Without rules or attackers every row has the run's label (sets skip the look-up).
        for l in [&Labeler::default(), &benign, &flood] {
            assert_eq!(l.fixed(), Some(l.label(&s)));
        }
        let attacker = Labeler {
            attackers: vec![Net::parse("10.0.0.1").unwrap()],
            ..Labeler::default()
        };
        let rules = Labeler {
            rules: parse_rules("dos,,1,,").unwrap(),
            ..Labeler::default()
        };
        assert!(attacker.fixed().is_none() && rules.fixed().is_none());
    }

    #[test]
    fn rules_match_first_by_address_port_and_window() {
        let text = "class,address,port,start,end\n\
                    # the brute force ran for one minute\n\
                    bruteforce,192.168.2.5,1883,2020-05-11T12:00:00Z,2020-05-11T12:01:00Z\n\
                    scan,192.168.2.0/24,*,,\n";
        let rules = parse_rules(text).unwrap();
        assert_eq!(rules.len(), 2);
        let labeler = Labeler {
            rules,
            class: Some("legitimate".into()),
            ..Labeler::default()
        };
        let t0 = 1_589_198_400_000_000_000;
        let inside = subject("192.168.2.5", "192.168.2.1", 40000, 1883, t0 + 5);
        assert_eq!(labeler.label(&inside).class, Some("bruteforce"));
        let after = subject(
            "192.168.2.5",
            "192.168.2.1",
            40000,
            1883,
            t0 + 60_000_000_000,
        );
        assert_eq!(labeler.label(&after).class, Some("scan"));
        let outside = subject("10.0.0.1", "10.0.0.2", 40000, 1883, t0);
        assert_eq!(labeler.label(&outside).class, Some("legitimate"));
    }

    #[test]
    fn bad_rules_name_their_line() {
        assert_eq!(parse_rules("a,b\n").unwrap_err().0, 1);
        let err = parse_rules("# c\nflood,10.0.0.1,99999,,\n").unwrap_err();
        assert_eq!(err.0, 2);
        assert!(err.1.contains("99999"), "{}", err.1);
        assert_eq!(parse_rules("x,*,*,soon,\n").unwrap_err().0, 1);
    }
}
