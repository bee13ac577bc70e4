//! The capture layer of mqtt-ids: reads pcap and pcapng captures (files, standard input, gzip)
//! as a stream of [`Frame`]s and decodes each into a zero-copy [`Packet`] view (link, IP, TCP,
//! UDP, ICMP).
//!
//! Everything here reads attacker-controlled bytes: nothing panics on any input, no allocation
//! is sized from a length field before that length is checked against the bytes present and a
//! cap, and every fault is reported with its input, byte offset and packet number.
#![forbid(unsafe_code)]

pub mod decode;
pub mod error;
pub mod input;
pub mod linktype;
pub mod reader;
#[doc(hidden)]
pub mod replicate;
pub mod ring;
pub mod summary;
pub mod time;
pub mod writer;

pub use decode::{
    decode, DecodeError, IpHeader, IpVersion, Layer, Network, Packet, TcpFlags, Transport,
};
pub use error::{ErrorKind, ReadError};
pub use input::{from_reader, open, AnyReader};
pub use linktype::LinkType;
pub use reader::{CaptureReader, Format, Frame, Interface, ReaderOptions};
pub use summary::Summary;
pub use writer::{PcapNgWriter, PcapWriter};
