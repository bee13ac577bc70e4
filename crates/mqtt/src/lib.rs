//! MQTT dissection for mqtt-ids: a zero-copy codec for MQTT 3.1, 3.1.1 and 5.0, per-direction TCP
//! stream reassembly, connection state, and anomalies as typed, counted findings.
//!
//! The crate depends on nothing of ours: the capture layer feeds [`Segment`]s of one TCP connection to
//! a [`Connection`], which hands every message to a [`Visitor`]. Parsing is bounded and total: no input
//! panics, no length field is trusted before it is checked against the data and a configured cap.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
pub mod connection;
pub mod finding;
pub mod probe;
pub mod stream;
pub mod summary;

pub use codec::{
    parse_message, Decoded, FixedHeader, Message, Needed, Packet, PacketType, ParseOptions,
    ProtocolVersion, TooLarge,
};
pub use connection::{Connection, ConnectionStats, FindingEvent, MessageEvent, Phase, Visitor};
pub use finding::{FindingCounts, FindingKind, FindingSet};
pub use probe::{probe_connect, Probe};
pub use stream::{Direction, MemoryBudget, ReassemblyConfig, Segment, StreamStats};
pub use summary::{BoundedCounter, Summary};
