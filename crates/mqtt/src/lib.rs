//! MQTT dissection for mqtt-ids: a zero-copy codec for MQTT 3.1, 3.1.1 and 5.0, per-direction TCP
//! stream reassembly, connection state, and anomalies as typed, counted findings.
//!
//! The crate depends on nothing of ours: the capture layer feeds [`Segment`]s of one TCP connection
//! to a [`Connection`], which hands every message to a [`Visitor`]. Parsing is bounded and total:
//! no input panics, no length field is trusted before it is checked against the data and a
//! configured cap.
//!
//! ```
//! use mqtt_ids_mqtt::{Connection, Direction, MemoryBudget, ReassemblyConfig, Segment, Summary};
//!
//! let budget = MemoryBudget::default(); // one per run, shared by all connections
//! let mut conn = Connection::new(ReassemblyConfig::default(), budget.clone());
//! let mut summary = Summary::default(); // or any `Visitor`, or a closure over `&MessageEvent`
//! // CONNECT 3.1.1, client id "c", in one client-to-server segment.
//! let connect = [0x10, 0x0d, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'c'];
//! let segment = Segment {
//!     seq: 1, syn: false, fin: false, rst: false, ack: None,
//!     payload: &connect, packet: 1, ts_ns: 0,
//! };
//! conn.on_segment(Direction::ToServer, &segment, &mut summary);
//! conn.finish(2, 0, &mut summary); // end of capture or flow timeout
//! assert_eq!(summary.by_type_named().collect::<Vec<_>>(), [("CONNECT", 1)]);
//! assert_eq!(summary.client_ids.sorted(), [(&b"c"[..], 1)]);
//! // The capture started mid-connection (no SYN): counted as a finding.
//! assert_eq!(summary.findings.get(mqtt_ids_mqtt::FindingKind::MidstreamPickup), 1);
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod connection;
pub mod finding;
#[doc(hidden)]
pub mod fuzzing;
pub mod probe;
pub mod stream;
pub mod summary;
pub mod tracker;

pub use codec::{
    parse_message, Decoded, FixedHeader, Message, Needed, Packet, PacketType, ParseOptions,
    ProtocolVersion, TooLarge,
};
pub use connection::{Connection, ConnectionStats, FindingEvent, MessageEvent, Phase, Visitor};
pub use finding::{FindingCounts, FindingKind, FindingSet};
pub use probe::{probe_connect, Probe};
pub use stream::{Direction, MemoryBudget, ReassemblyConfig, Segment, StreamStats};
pub use summary::{BoundedCounter, Summary};
pub use tracker::{Tracker, TrackerConfig, TrackerStats};
