//! The feature sets: the papers' four and two of ours (`context`, `session`).
//!
//! `packet` and `mqttset` have one row per packet ([`FrameSet`]): the driver feeds them every MQTT
//! message the packet completes (during [`mqtt_ids_mqtt::Tracker::on_packet`]), then asks for the
//! packet's row. `uniflow` and `biflow` come from one [`mqtt_ids_flows::FlowTable`] ([`flows`]).
//! `context` (per packet) and `session` (per connection) come from one connection state machine
//! ([`context::ContextSet`]).

use std::io;

use mqtt_ids_capture::Packet;
use mqtt_ids_mqtt::MessageEvent;

use crate::label::Labeler;
use crate::schema::Schema;
use crate::sink::RowSink;

pub mod context;
pub mod flows;
pub mod mqttset;
pub mod packet;
pub mod protocol;
pub mod session;

/// A feature set with (at most) one row per packet.
pub trait FrameSet {
    /// A message completed by the packet being processed (called zero or more times between
    /// two [`FrameSet::end_packet`] calls). The message borrows reassembly buffers: copy what
    /// is needed.
    fn on_message(&mut self, event: &MessageEvent<'_>);
    /// The packet is done: write its row when the set has one for it, and reset the per-packet
    /// state. `mqtt` tells whether the MQTT tracker took the packet as part of an MQTT
    /// connection.
    fn end_packet<S: RowSink>(
        &mut self,
        packet: &Packet<'_>,
        mqtt: bool,
        labels: &Labeler,
        sink: &mut S,
    ) -> io::Result<()>;
}

/// The sets `--set` accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SetKind {
    /// Hindy Table 1, packet level.
    Packet,
    /// Hindy Table 1, uni-directional flows.
    Uniflow,
    /// Hindy Table 1, bi-directional flows.
    Biflow,
    /// Vaccari Table 4: 33 tshark fields and `target`.
    Mqttset,
    /// Per packet: the packet's fields and its connection's TCP/MQTT state so far.
    Context,
    /// Per connection: bi-flow statistics and MQTT session aggregates.
    Session,
}

impl SetKind {
    /// All sets, in output order.
    pub const ALL: [SetKind; 6] = [
        SetKind::Packet,
        SetKind::Uniflow,
        SetKind::Biflow,
        SetKind::Mqttset,
        SetKind::Context,
        SetKind::Session,
    ];

    /// The name `--set` takes and output files start with.
    pub fn name(self) -> &'static str {
        match self {
            SetKind::Packet => "packet",
            SetKind::Uniflow => "uniflow",
            SetKind::Biflow => "biflow",
            SetKind::Mqttset => "mqttset",
            SetKind::Context => "context",
            SetKind::Session => "session",
        }
    }

    /// Parses a set name.
    pub fn parse(name: &str) -> Option<SetKind> {
        SetKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The set's schema.
    pub fn schema(self) -> Schema {
        match self {
            SetKind::Packet => packet::SCHEMA,
            SetKind::Uniflow => flows::UNIFLOW_SCHEMA,
            SetKind::Biflow => flows::BIFLOW_SCHEMA,
            SetKind::Mqttset => mqttset::SCHEMA,
            SetKind::Context => context::SCHEMA,
            SetKind::Session => session::SCHEMA,
        }
    }
}

/// Every capture under `../shared/data` (MQTTset, Suricata's and Zeek's test captures), sorted,
/// for the sets' tests that compare a fast path with the general one on real traffic. `None`
/// outside CI when the directory is not there; in CI, or with fewer than 40 captures, a panic:
/// those tests must not pass on an empty list.
#[cfg(test)]
pub(crate) fn shared_captures() -> Option<Vec<std::path::PathBuf>> {
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if !data.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{} missing",
            data.display()
        );
        eprintln!("skipping: {} not found", data.display());
        return None;
    }
    let mut captures = Vec::new();
    let mut dirs = vec![data];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "pcap" || e == "pcapng")
            {
                captures.push(path);
            }
        }
    }
    captures.sort();
    assert!(captures.len() >= 40, "{} captures", captures.len());
    Some(captures)
}
