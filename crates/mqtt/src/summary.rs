//! A ready-made [`Visitor`] that tallies what `mqtt-ids inspect` reports: messages by type and
//! direction, protocol levels, client ids and topics (bounded), and findings by name.
//!
//! Promise: memory is bounded — at most `max_keys` distinct client ids and topics are kept each;
//! the rest are counted in `other`.

use std::collections::{BTreeMap, HashMap};

use crate::codec::{Packet, PacketType};
use crate::connection::{FindingEvent, MessageEvent, Visitor};
use crate::finding::FindingCounts;

/// Counts per byte-string key, keeping at most `max_keys` distinct keys.
#[derive(Clone, Debug, Default)]
pub struct BoundedCounter {
    // foldhash, not std's SipHash: SipHash was ~20 % of a publish flood's dissection time; foldhash
    // keeps a per-process random seed, and the key count is capped anyway.
    counts: HashMap<Vec<u8>, u64, foldhash::fast::RandomState>,
    max_keys: usize,
    /// Occurrences of keys that did not fit.
    pub other: u64,
    /// The key of the current run of equal keys (a flood repeats one topic thousands of times)
    /// and the occurrences not yet added to `counts`; the key is always in `counts`.
    run_key: Vec<u8>,
    run: u64,
}

impl BoundedCounter {
    /// A counter keeping at most `max_keys` keys.
    pub fn new(max_keys: usize) -> Self {
        BoundedCounter {
            counts: HashMap::default(),
            max_keys,
            other: 0,
            run_key: Vec::new(),
            run: 0,
        }
    }

    /// Count one occurrence of `key`.
    pub fn add(&mut self, key: &[u8]) {
        if self.run > 0 && self.run_key == key {
            // Same key as the last one: one comparison instead of a hash and a probe.
            self.run += 1;
            return;
        }
        self.flush_run();
        let kept = if self.counts.contains_key(key) {
            true
        } else if self.counts.len() < self.max_keys {
            self.counts.insert(key.to_vec(), 0);
            true
        } else {
            false
        };
        if kept {
            self.run_key.clear();
            self.run_key.extend_from_slice(key);
            self.run = 1;
        } else {
            self.other += 1;
        }
    }

    fn flush_run(&mut self) {
        if self.run > 0 {
            if let Some(n) = self.counts.get_mut(self.run_key.as_slice()) {
                *n += self.run;
            }
            self.run = 0;
        }
    }

    fn count_of(&self, key: &[u8], stored: u64) -> u64 {
        if self.run > 0 && self.run_key == key {
            stored + self.run
        } else {
            stored
        }
    }

    /// Distinct keys kept.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// Whether nothing was counted.
    pub fn is_empty(&self) -> bool {
        self.counts.is_empty() && self.other == 0
    }

    /// Keys by descending count, then by key.
    pub fn sorted(&self) -> Vec<(&[u8], u64)> {
        let mut v: Vec<_> = self
            .counts
            .iter()
            .map(|(k, n)| (k.as_slice(), self.count_of(k, *n)))
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        v
    }
}

/// Totals over any number of connections (share one `Summary` as the visitor of all of them).
#[derive(Clone, Debug)]
pub struct Summary {
    /// Messages seen (parsed or skipped as oversized).
    pub messages: u64,
    /// Messages by control packet type (index = type value).
    pub by_type: [u64; 16],
    /// Messages by direction (index = `Direction::index`).
    pub by_direction: [u64; 2],
    /// CONNECT protocol levels as sent.
    pub protocol_levels: BTreeMap<u8, u64>,
    /// CONNECT client ids.
    pub client_ids: BoundedCounter,
    /// PUBLISH topic names.
    pub topics: BoundedCounter,
    /// Findings by kind: message-level and stream-level.
    pub findings: FindingCounts,
}

impl Default for Summary {
    fn default() -> Self {
        Summary::new(10_000)
    }
}

impl Summary {
    /// A summary keeping at most `max_keys` client ids and as many topics.
    pub fn new(max_keys: usize) -> Self {
        Summary {
            messages: 0,
            by_type: [0; 16],
            by_direction: [0; 2],
            protocol_levels: BTreeMap::new(),
            client_ids: BoundedCounter::new(max_keys),
            topics: BoundedCounter::new(max_keys),
            findings: FindingCounts::default(),
        }
    }

    /// Non-zero counts by upper-case type name (`CONNECT`, `PUBLISH`, …), in type order.
    pub fn by_type_named(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        PacketType::ALL
            .iter()
            .map(|t| (t.name(), self.by_type[t.value() as usize]))
            .filter(|(_, n)| *n != 0)
    }
}

impl Visitor for Summary {
    fn on_message(&mut self, e: &MessageEvent<'_>) {
        self.messages += 1;
        self.by_type[e.packet_type().value() as usize] += 1;
        self.by_direction[e.direction.index()] += 1;
        self.findings.add_set(e.findings);
        match e.message.map(|m| &m.packet) {
            Some(Packet::Connect(c)) => {
                *self.protocol_levels.entry(c.protocol_level).or_default() += 1;
                self.client_ids.add(c.client_id.as_bytes());
            }
            Some(Packet::Publish(p)) => self.topics.add(p.topic.as_bytes()),
            _ => {}
        }
    }

    fn on_finding(&mut self, e: &FindingEvent) {
        self.findings.add(e.kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_counter_keeps_at_most_max_keys() {
        let mut c = BoundedCounter::new(2);
        for k in [&b"a"[..], b"b", b"a", b"c", b"d", b"a"] {
            c.add(k);
        }
        assert_eq!(c.len(), 2);
        assert_eq!(c.other, 2);
        assert_eq!(c.sorted(), [(&b"a"[..], 3), (&b"b"[..], 1)]);
    }

    #[test]
    fn runs_of_one_key_count_like_single_adds() {
        let mut c = BoundedCounter::new(2);
        for k in [&b"t"[..], b"t", b"t", b"u", b"u", b"t", b"v", b"v", b"t"] {
            c.add(k);
        }
        // Read while a run is pending, then after more adds.
        assert_eq!(c.sorted(), [(&b"t"[..], 5), (&b"u"[..], 2)]);
        assert_eq!(c.other, 2);
        c.add(b"u");
        assert_eq!(c.sorted(), [(&b"t"[..], 5), (&b"u"[..], 3)]);
        assert_eq!(c.len(), 2);
    }
}
