//! Errors that stop reading a capture: each names the input, the byte offset and the packet
//! number where reading stopped, and what was expected there.

use std::fmt;
use std::io;

/// Why reading a capture stopped before its end. Every packet before the fault has already been
/// delivered by the time this error is returned.
#[derive(Debug)]
pub struct ReadError {
    /// The input's name as the user gave it (a path, or `-` for standard input).
    pub source: String,
    /// Byte offset of the record, block or header at fault, in the uncompressed stream.
    pub offset: u64,
    /// 1-based number of the packet that was being read, if the fault lies within the packet
    /// records (a fault in a file header has none).
    pub packet: Option<u64>,
    /// What went wrong.
    pub kind: ErrorKind,
}

/// The kinds of [`ReadError`].
#[derive(Debug)]
pub enum ErrorKind {
    /// The input could not be opened.
    Open(io::Error),
    /// The input is a directory.
    IsDirectory,
    /// Reading failed (I/O error, or a corrupt gzip stream).
    Io(io::Error),
    /// The input holds no bytes at all.
    Empty,
    /// The first bytes are neither a pcap nor a pcapng magic number.
    BadMagic { found: Vec<u8> },
    /// The input ends inside a file header, record or block.
    Truncated {
        what: &'static str,
        needed: u64,
        available: u64,
    },
    /// A record or block claims a length larger than the configured maximum.
    TooLarge {
        what: &'static str,
        len: u64,
        max: u64,
    },
    /// A pcapng block length that cannot be right (too small, not a multiple of 4, or the
    /// trailing copy disagrees).
    BadBlockLength { len: u64, trailer: Option<u64> },
    /// A pcapng packet names an interface its section has not described.
    UnknownInterface { interface: u32, count: usize },
    /// A pcapng block whose framing is fine but whose content is not.
    MalformedBlock { block: &'static str, reason: String },
    /// A pcap or pcapng version this reader does not understand.
    UnsupportedVersion { major: u16, minor: u16 },
}

impl ReadError {
    pub(crate) fn new(source: &str, offset: u64, packet: Option<u64>, kind: ErrorKind) -> Self {
        ReadError {
            source: source.to_string(),
            offset,
            packet,
            kind,
        }
    }

    /// The fault without the input's name: `byte offset N (packet M): what; expected what`.
    pub fn location_and_reason(&self) -> String {
        match self.packet {
            Some(n) => format!("byte offset {} (packet {}): {}", self.offset, n, self.kind),
            None => format!("byte offset {}: {}", self.offset, self.kind),
        }
    }
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            // Nothing was read, so there is no offset worth naming.
            ErrorKind::Open(_) | ErrorKind::IsDirectory => {
                write!(f, "{}: {}", self.source, self.kind)
            }
            _ => write!(f, "{}: {}", self.source, self.location_and_reason()),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            ErrorKind::Open(e) | ErrorKind::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ErrorKind::Open(e) => write!(f, "cannot open: {e}"),
            ErrorKind::IsDirectory => write!(
                f,
                "is a directory; expected a pcap or pcapng file (pass the files inside it)"
            ),
            ErrorKind::Io(e) => write!(f, "read failed: {e}"),
            ErrorKind::Empty => write!(
                f,
                "file is empty; expected a pcap header (24 bytes) or a pcapng section header block"
            ),
            ErrorKind::BadMagic { found } => {
                write!(f, "unrecognised magic number ")?;
                for b in found {
                    write!(f, "{b:02x}")?;
                }
                write!(
                    f,
                    "; expected pcap (a1b2c3d4, a1b23c4d or byte-swapped) or pcapng (0a0d0d0a)"
                )
            }
            ErrorKind::Truncated {
                what,
                needed,
                available,
            } => write!(
                f,
                "input ends inside a {what}: expected {needed} bytes, found {available} \
                 (file cut short?)"
            ),
            ErrorKind::TooLarge { what, len, max } => write!(
                f,
                "{what} claims {len} bytes, more than the maximum of {max}; expected a sane \
                 length (corrupt file?)"
            ),
            ErrorKind::BadBlockLength { len, trailer } => match trailer {
                Some(t) => write!(
                    f,
                    "pcapng block length {len} disagrees with its trailing copy {t}; expected \
                     equal lengths (corrupt block)"
                ),
                None => write!(
                    f,
                    "pcapng block length {len} is invalid; expected a multiple of 4 and at \
                     least 12"
                ),
            },
            ErrorKind::UnknownInterface { interface, count } => write!(
                f,
                "packet refers to interface {interface} but its section describes {count}; \
                 expected an Interface Description Block first"
            ),
            ErrorKind::MalformedBlock { block, reason } => {
                write!(f, "malformed {block}: {reason}")
            }
            ErrorKind::UnsupportedVersion { major, minor } => {
                write!(
                    f,
                    "unsupported format version {major}.{minor}; expected pcap 2.x or pcapng 1.x"
                )
            }
        }
    }
}
