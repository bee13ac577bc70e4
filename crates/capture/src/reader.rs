//! Streaming pcap / pcapng reader: constant memory for any input size, exact byte offsets in
//! every error, and every packet before a fault delivered before the fault is reported.
//!
//! Framing (record and block lengths, caps, truncation) is done here so that each error can name
//! its offset; pcap-parser parses the option-heavy pcapng blocks (section and interface
//! descriptions). Packet blocks have fixed layouts and are read directly: pcap-parser's
//! Enhanced Packet Block parser collects every block's options into a `Vec`, an allocation per
//! packet on the hot path that we do not need.

use std::io::{self, Read};

use pcap_parser::pcapng::{
    parse_interfacedescriptionblock_be, parse_interfacedescriptionblock_le,
    parse_sectionheaderblock_be, parse_sectionheaderblock_le, OptionCode,
};

use crate::error::{ErrorKind, ReadError};
use crate::linktype::LinkType;

/// Largest captured length accepted for one packet by default: Wireshark's
/// `WTAP_MAX_PACKET_SIZE_STANDARD`, so we reject exactly the records tshark rejects.
pub const DEFAULT_MAX_PACKET_LEN: u32 = 262_144;
/// Largest pcapng block accepted by default (non-packet blocks such as name resolution can be
/// larger than any packet).
pub const DEFAULT_MAX_BLOCK_LEN: u32 = 16 * 1024 * 1024;
/// Bytes requested from the input per read. The buffer grows by at most this much per read, so
/// memory follows the data actually present, never a length field.
const CHUNK: usize = 256 * 1024;

const PCAP_HEADER_LEN: usize = 24;
const PCAP_RECORD_LEN: usize = 16;
/// The "modified" pcap format (Alexey Kuznetsov's patches) adds ifindex, protocol, pkt_type, pad.
const PCAP_MODIFIED_RECORD_LEN: usize = 24;

const BLOCK_SHB: u32 = 0x0A0D_0D0A;
const BLOCK_IDB: u32 = 0x0000_0001;
const BLOCK_PB: u32 = 0x0000_0002;
const BLOCK_SPB: u32 = 0x0000_0003;
const BLOCK_EPB: u32 = 0x0000_0006;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// Block type + block total length + trailing block total length.
const BLOCK_OVERHEAD: usize = 12;

/// Limits applied while reading; the defaults match what tshark accepts.
#[derive(Clone, Debug)]
pub struct ReaderOptions {
    /// Maximum captured length of one packet.
    pub max_packet_len: u32,
    /// Maximum total length of one pcapng block.
    pub max_block_len: u32,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        ReaderOptions {
            max_packet_len: DEFAULT_MAX_PACKET_LEN,
            max_block_len: DEFAULT_MAX_BLOCK_LEN,
        }
    }
}

/// The container format, decided from the magic number (never from the file name).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Classic libpcap format, any byte order, micro- or nanosecond timestamps.
    Pcap,
    /// pcapng, any number of sections and interfaces.
    PcapNg,
}

impl Format {
    /// `pcap` or `pcapng`.
    pub fn name(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::PcapNg => "pcapng",
        }
    }
}

/// An interface as described by a pcap file header or a pcapng Interface Description Block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// Link-layer header type of the interface's packets.
    pub link_type: LinkType,
    /// Snapshot length (0 = unlimited).
    pub snaplen: u32,
    /// Timestamp units per second (10^6 for pcap, `if_tsresol` for pcapng).
    pub ts_units_per_sec: u64,
    /// Seconds added to every timestamp (`if_tsoffset`).
    pub ts_offset_s: i64,
}

impl Interface {
    fn timestamp_ns(&self, ts: u64) -> i64 {
        let units = u128::from(self.ts_units_per_sec.max(1));
        let ts = u128::from(ts);
        let ns = (ts / units) * 1_000_000_000 + (ts % units) * 1_000_000_000 / units;
        let ns = ns as i128 + i128::from(self.ts_offset_s) * 1_000_000_000;
        ns.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64
    }
}

/// One captured packet, borrowed from the reader's buffer until the next call.
#[derive(Clone, Copy, Debug)]
pub struct Frame<'a> {
    /// 1-based packet number in its input, as tshark numbers frames.
    pub number: u64,
    /// Byte offset of the packet's record or block in the (uncompressed) input.
    pub offset: u64,
    /// Capture time in nanoseconds since the Unix epoch, UTC.
    pub ts_ns: i64,
    /// Interface index, numbered across all pcapng sections in file order (0 for pcap).
    pub interface: u32,
    /// Link-layer header type of `data`.
    pub link_type: LinkType,
    /// Length of the packet on the wire; `data` may be shorter (snaplen truncation).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

enum State {
    Pcap {
        big_endian: bool,
        nanos: bool,
        record_len: usize,
    },
    PcapNg {
        big_endian: bool,
    },
}

/// Streaming reader over any [`Read`]. Call [`CaptureReader::next_frame`] until it returns
/// `Ok(None)` (end of input) or an error (after which it returns `Ok(None)`).
pub struct CaptureReader<R> {
    source: String,
    input: R,
    buf: Vec<u8>,
    pos: usize,
    offset: u64,
    eof: bool,
    done: bool,
    packets: u64,
    format: Format,
    compressed: bool,
    state: State,
    interfaces: Vec<Interface>,
    section_first_interface: usize,
    sections: u32,
    blocks_skipped: u64,
    opts: ReaderOptions,
}

impl<R: Read> CaptureReader<R> {
    /// Reads the file header of `input` and prepares to stream its packets. `source` names the
    /// input in errors.
    pub fn new(
        source: &str,
        input: R,
        compressed: bool,
        opts: ReaderOptions,
    ) -> Result<Self, ReadError> {
        let mut reader = CaptureReader {
            source: source.to_string(),
            input,
            buf: Vec::new(),
            pos: 0,
            offset: 0,
            eof: false,
            done: false,
            packets: 0,
            format: Format::Pcap,
            compressed,
            state: State::PcapNg { big_endian: false },
            interfaces: Vec::new(),
            section_first_interface: 0,
            sections: 0,
            blocks_skipped: 0,
            opts,
        };
        reader.read_file_header()?;
        Ok(reader)
    }

    /// The container format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// Whether the input was gzip-compressed.
    pub fn compressed(&self) -> bool {
        self.compressed
    }

    /// Interfaces seen so far (all sections, in file order).
    pub fn interfaces(&self) -> &[Interface] {
        &self.interfaces
    }

    /// Packets delivered so far.
    pub fn packets_read(&self) -> u64 {
        self.packets
    }

    /// Bytes of (uncompressed) input consumed so far.
    pub fn bytes_read(&self) -> u64 {
        self.offset
    }

    /// pcapng sections seen so far (0 for pcap).
    pub fn sections(&self) -> u32 {
        self.sections
    }

    /// pcapng blocks that carry no packet and were skipped (statistics, name resolution,
    /// custom and unknown blocks).
    pub fn blocks_skipped(&self) -> u64 {
        self.blocks_skipped
    }

    /// The next packet, `Ok(None)` at the end of the input. After an error the reader is
    /// finished and returns `Ok(None)`.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, ReadError> {
        if self.done {
            return Ok(None);
        }
        let result = match self.state {
            State::Pcap { .. } => self.next_pcap_record(),
            State::PcapNg { .. } => self.next_pcapng_packet(),
        };
        match result {
            Ok(Some((range, meta))) => Ok(Some(Frame {
                data: &self.buf[range],
                ..meta
            })),
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    fn error(&self, offset: u64, packet: Option<u64>, kind: ErrorKind) -> ReadError {
        ReadError::new(&self.source, offset, packet, kind)
    }

    fn available(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// Makes at least `n` unread bytes available, reading as needed. Returns `false` when the
    /// input ended first.
    fn fill(&mut self, n: usize) -> Result<bool, ReadError> {
        while self.available() < n {
            if self.eof {
                return Ok(false);
            }
            if self.pos > 0 {
                // Keep only the unread tail (at most one partial record) before reading more.
                self.buf.drain(..self.pos);
                self.pos = 0;
            }
            let old_len = self.buf.len();
            self.buf.resize(old_len + CHUNK, 0);
            let got = loop {
                match self.input.read(&mut self.buf[old_len..]) {
                    Ok(got) => break got,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        self.buf.truncate(old_len);
                        let at = self.offset + self.available() as u64;
                        return Err(self.error(at, None, ErrorKind::Io(e)));
                    }
                }
            };
            self.buf.truncate(old_len + got);
            if got == 0 {
                self.eof = true;
            }
        }
        Ok(true)
    }

    fn consume(&mut self, n: usize) -> std::ops::Range<usize> {
        let range = self.pos..self.pos + n;
        self.pos += n;
        self.offset += n as u64;
        range
    }

    fn read_file_header(&mut self) -> Result<(), ReadError> {
        self.fill(4)?;
        if self.available() == 0 {
            return Err(self.error(0, None, ErrorKind::Empty));
        }
        let magic: Vec<u8> = self.buf[self.pos..self.pos + self.available().min(4)].to_vec();
        let (big_endian, nanos, modified) = match magic.as_slice() {
            [0x0A, 0x0D, 0x0D, 0x0A] => {
                self.format = Format::PcapNg;
                self.state = State::PcapNg { big_endian: false };
                return Ok(());
            }
            [0xD4, 0xC3, 0xB2, 0xA1] => (false, false, false),
            [0x4D, 0x3C, 0xB2, 0xA1] => (false, true, false),
            [0x34, 0xCD, 0xB2, 0xA1] => (false, false, true),
            [0xA1, 0xB2, 0xC3, 0xD4] => (true, false, false),
            [0xA1, 0xB2, 0x3C, 0x4D] => (true, true, false),
            [0xA1, 0xB2, 0xCD, 0x34] => (true, false, true),
            _ => return Err(self.error(0, None, ErrorKind::BadMagic { found: magic })),
        };
        if !self.fill(PCAP_HEADER_LEN)? {
            return Err(self.error(
                0,
                None,
                ErrorKind::Truncated {
                    what: "pcap file header",
                    needed: PCAP_HEADER_LEN as u64,
                    available: self.available() as u64,
                },
            ));
        }
        let range = self.consume(PCAP_HEADER_LEN);
        let h = &self.buf[range];
        let major = u16_at(h, 4, big_endian);
        let minor = u16_at(h, 6, big_endian);
        if major != 2 {
            return Err(self.error(0, None, ErrorKind::UnsupportedVersion { major, minor }));
        }
        let snaplen = u32_at(h, 16, big_endian);
        // The upper 16 bits of the link-type field carry FCS information, not the type.
        let link_type = LinkType((u32_at(h, 20, big_endian) & 0xFFFF) as u16);
        self.format = Format::Pcap;
        self.interfaces.push(Interface {
            link_type,
            snaplen,
            ts_units_per_sec: if nanos { 1_000_000_000 } else { 1_000_000 },
            ts_offset_s: 0,
        });
        self.state = State::Pcap {
            big_endian,
            nanos,
            record_len: if modified {
                PCAP_MODIFIED_RECORD_LEN
            } else {
                PCAP_RECORD_LEN
            },
        };
        Ok(())
    }

    fn next_pcap_record(
        &mut self,
    ) -> Result<Option<(std::ops::Range<usize>, Frame<'static>)>, ReadError> {
        let State::Pcap {
            big_endian,
            nanos,
            record_len,
        } = self.state
        else {
            unreachable!("called only in the pcap state")
        };
        let number = self.packets + 1;
        let offset = self.offset;
        if !self.fill(record_len)? {
            if self.available() == 0 {
                return Ok(None);
            }
            return Err(self.error(
                offset,
                Some(number),
                ErrorKind::Truncated {
                    what: "pcap record header",
                    needed: record_len as u64,
                    available: self.available() as u64,
                },
            ));
        }
        let h = &self.buf[self.pos..self.pos + record_len];
        let ts_sec = u32_at(h, 0, big_endian);
        let ts_frac = u32_at(h, 4, big_endian);
        let caplen = u32_at(h, 8, big_endian);
        let orig_len = u32_at(h, 12, big_endian);
        if caplen > self.opts.max_packet_len {
            return Err(self.error(
                offset,
                Some(number),
                ErrorKind::TooLarge {
                    what: "pcap record",
                    len: u64::from(caplen),
                    max: u64::from(self.opts.max_packet_len),
                },
            ));
        }
        let total = record_len + caplen as usize;
        if !self.fill(total)? {
            return Err(self.error(
                offset,
                Some(number),
                ErrorKind::Truncated {
                    what: "pcap record",
                    needed: total as u64,
                    available: self.available() as u64,
                },
            ));
        }
        let ts_ns =
            i64::from(ts_sec) * 1_000_000_000 + i64::from(ts_frac) * if nanos { 1 } else { 1_000 };
        let range = self.consume(total);
        self.packets = number;
        Ok(Some((
            range.start + record_len..range.end,
            Frame {
                number,
                offset,
                ts_ns,
                interface: 0,
                link_type: self.interfaces[0].link_type,
                orig_len,
                data: &[],
            },
        )))
    }

    fn next_pcapng_packet(
        &mut self,
    ) -> Result<Option<(std::ops::Range<usize>, Frame<'static>)>, ReadError> {
        loop {
            let offset = self.offset;
            let number = self.packets + 1;
            if !self.fill(BLOCK_OVERHEAD)? {
                if self.available() == 0 {
                    return Ok(None);
                }
                return Err(self.error(
                    offset,
                    Some(number),
                    ErrorKind::Truncated {
                        what: "pcapng block header",
                        needed: BLOCK_OVERHEAD as u64,
                        available: self.available() as u64,
                    },
                ));
            }
            let head = &self.buf[self.pos..self.pos + BLOCK_OVERHEAD];
            let is_shb = head[..4] == [0x0A, 0x0D, 0x0D, 0x0A];
            let big_endian = if is_shb {
                // A section header carries its own byte order, needed to read its length.
                match u32_at(head, 8, false) {
                    BYTE_ORDER_MAGIC => false,
                    m if m.swap_bytes() == BYTE_ORDER_MAGIC => true,
                    m => {
                        return Err(self.error(
                            offset,
                            None,
                            ErrorKind::MalformedBlock {
                                block: "section header block",
                                reason: format!(
                                    "byte-order magic {m:08x}; expected 1a2b3c4d in either order"
                                ),
                            },
                        ))
                    }
                }
            } else {
                let State::PcapNg { big_endian } = self.state else {
                    unreachable!("called only in the pcapng state")
                };
                big_endian
            };
            if self.sections == 0 && !is_shb {
                return Err(self.error(
                    offset,
                    None,
                    ErrorKind::MalformedBlock {
                        block: "pcapng file",
                        reason: "first block is not a section header block".into(),
                    },
                ));
            }
            let block_type = u32_at(head, 0, big_endian);
            let len = u32_at(head, 4, big_endian);
            if len < BLOCK_OVERHEAD as u32 || len % 4 != 0 {
                return Err(self.error(
                    offset,
                    Some(number),
                    ErrorKind::BadBlockLength {
                        len: u64::from(len),
                        trailer: None,
                    },
                ));
            }
            if len > self.opts.max_block_len {
                return Err(self.error(
                    offset,
                    Some(number),
                    ErrorKind::TooLarge {
                        what: "pcapng block",
                        len: u64::from(len),
                        max: u64::from(self.opts.max_block_len),
                    },
                ));
            }
            let len = len as usize;
            if !self.fill(len)? {
                return Err(self.error(
                    offset,
                    Some(number),
                    ErrorKind::Truncated {
                        what: "pcapng block",
                        needed: len as u64,
                        available: self.available() as u64,
                    },
                ));
            }
            let trailer = u32_at(&self.buf[self.pos..self.pos + len], len - 4, big_endian);
            if trailer as usize != len {
                return Err(self.error(
                    offset,
                    Some(number),
                    ErrorKind::BadBlockLength {
                        len: len as u64,
                        trailer: Some(u64::from(trailer)),
                    },
                ));
            }
            let range = self.consume(len);
            match block_type {
                BLOCK_SHB => self.section_header(range, big_endian, offset)?,
                BLOCK_IDB => self.interface_description(range, big_endian, offset)?,
                BLOCK_EPB | BLOCK_PB | BLOCK_SPB => {
                    let (data, mut frame) =
                        self.packet_block(block_type, range, big_endian, offset, number)?;
                    frame.number = number;
                    self.packets = number;
                    return Ok(Some((data, frame)));
                }
                _ => self.blocks_skipped += 1,
            }
        }
    }

    fn section_header(
        &mut self,
        range: std::ops::Range<usize>,
        big_endian: bool,
        offset: u64,
    ) -> Result<(), ReadError> {
        let block = &self.buf[range];
        let parsed = if big_endian {
            parse_sectionheaderblock_be(block)
        } else {
            parse_sectionheaderblock_le(block)
        };
        let (major, minor) = match parsed {
            Ok((_, shb)) => (shb.major_version, shb.minor_version),
            Err(e) => {
                return Err(self.error(
                    offset,
                    None,
                    ErrorKind::MalformedBlock {
                        block: "section header block",
                        reason: format!("{e:?}"),
                    },
                ))
            }
        };
        if major != 1 {
            return Err(self.error(offset, None, ErrorKind::UnsupportedVersion { major, minor }));
        }
        self.state = State::PcapNg { big_endian };
        self.sections += 1;
        self.section_first_interface = self.interfaces.len();
        Ok(())
    }

    fn interface_description(
        &mut self,
        range: std::ops::Range<usize>,
        big_endian: bool,
        offset: u64,
    ) -> Result<(), ReadError> {
        let block = &self.buf[range];
        let parsed = if big_endian {
            parse_interfacedescriptionblock_be(block)
        } else {
            parse_interfacedescriptionblock_le(block)
        };
        let idb = match parsed {
            Ok((_, idb)) => idb,
            Err(e) => {
                return Err(self.error(
                    offset,
                    None,
                    ErrorKind::MalformedBlock {
                        block: "interface description block",
                        reason: format!("{e:?}"),
                    },
                ))
            }
        };
        let Some(ts_units_per_sec) = idb.ts_resolution() else {
            return Err(self.error(
                offset,
                None,
                ErrorKind::MalformedBlock {
                    block: "interface description block",
                    reason: format!(
                        "if_tsresol {:#04x} gives a resolution beyond 2^63 units per second",
                        idb.if_tsresol
                    ),
                },
            ));
        };
        // pcap-parser reads if_tsoffset as little-endian whatever the section's byte order.
        let ts_offset_s = idb
            .options
            .iter()
            .find(|o| o.code == OptionCode::IfTsoffset && o.value.len() >= 8)
            .map(|o| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&o.value[..8]);
                if big_endian {
                    i64::from_be_bytes(b)
                } else {
                    i64::from_le_bytes(b)
                }
            })
            .unwrap_or(0);
        self.interfaces.push(Interface {
            link_type: LinkType((idb.linktype.0 as u32 & 0xFFFF) as u16),
            snaplen: idb.snaplen,
            ts_units_per_sec,
            ts_offset_s,
        });
        Ok(())
    }

    /// Reads an Enhanced, Simple or (obsolete) Packet Block. Returns the range of the captured
    /// bytes in the buffer and the frame's metadata.
    fn packet_block(
        &self,
        block_type: u32,
        range: std::ops::Range<usize>,
        big_endian: bool,
        offset: u64,
        number: u64,
    ) -> Result<(std::ops::Range<usize>, Frame<'static>), ReadError> {
        let block = &self.buf[range.clone()];
        let section_interfaces = self.interfaces.len() - self.section_first_interface;
        let malformed = |block: &'static str, reason: String| {
            self.error(
                offset,
                Some(number),
                ErrorKind::MalformedBlock { block, reason },
            )
        };
        // Body = the block without its type, length and trailing length.
        let body_len = block.len() - BLOCK_OVERHEAD;
        let (if_id, ts, caplen, orig_len, data_start) = match block_type {
            BLOCK_SPB => {
                const SPB_FIXED: usize = 4;
                if body_len < SPB_FIXED {
                    return Err(malformed(
                        "simple packet block",
                        format!("{body_len} body bytes; expected at least {SPB_FIXED}"),
                    ));
                }
                let orig_len = u32_at(block, 8, big_endian);
                let room = (body_len - SPB_FIXED) as u32;
                let mut caplen = orig_len.min(room);
                if let Some(iface) = self.interfaces.get(self.section_first_interface) {
                    if iface.snaplen != 0 {
                        caplen = caplen.min(iface.snaplen);
                    }
                }
                // A Simple Packet Block carries no timestamp.
                (0, 0, caplen, orig_len, 12)
            }
            _ => {
                const FIXED: usize = 20;
                let name = if block_type == BLOCK_EPB {
                    "enhanced packet block"
                } else {
                    "packet block"
                };
                if body_len < FIXED {
                    return Err(malformed(
                        name,
                        format!("{body_len} body bytes; expected at least {FIXED}"),
                    ));
                }
                let if_id = if block_type == BLOCK_EPB {
                    u32_at(block, 8, big_endian)
                } else {
                    // The obsolete Packet Block has a 16-bit interface id and a drops count.
                    u32::from(u16_at(block, 8, big_endian))
                };
                let ts = (u64::from(u32_at(block, 12, big_endian)) << 32)
                    | u64::from(u32_at(block, 16, big_endian));
                let caplen = u32_at(block, 20, big_endian);
                let orig_len = u32_at(block, 24, big_endian);
                if caplen as usize > body_len - FIXED {
                    return Err(malformed(
                        name,
                        format!(
                            "captured length {caplen} overruns the block's {} data bytes",
                            body_len - FIXED
                        ),
                    ));
                }
                (if_id, ts, caplen, orig_len, 28)
            }
        };
        if caplen > self.opts.max_packet_len {
            return Err(self.error(
                offset,
                Some(number),
                ErrorKind::TooLarge {
                    what: "packet",
                    len: u64::from(caplen),
                    max: u64::from(self.opts.max_packet_len),
                },
            ));
        }
        if if_id as usize >= section_interfaces {
            return Err(self.error(
                offset,
                Some(number),
                ErrorKind::UnknownInterface {
                    interface: if_id,
                    count: section_interfaces,
                },
            ));
        }
        let interface = self.section_first_interface + if_id as usize;
        let iface = &self.interfaces[interface];
        let start = range.start + data_start;
        Ok((
            start..start + caplen as usize,
            Frame {
                number,
                offset,
                ts_ns: iface.timestamp_ns(ts),
                interface: interface as u32,
                link_type: iface.link_type,
                orig_len,
                data: &[],
            },
        ))
    }
}

fn u16_at(b: &[u8], at: usize, big_endian: bool) -> u16 {
    let v = [b[at], b[at + 1]];
    if big_endian {
        u16::from_be_bytes(v)
    } else {
        u16::from_le_bytes(v)
    }
}

fn u32_at(b: &[u8], at: usize, big_endian: bool) -> u32 {
    let v = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if big_endian {
        u32::from_be_bytes(v)
    } else {
        u32::from_le_bytes(v)
    }
}
