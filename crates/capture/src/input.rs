//! Opening inputs: files or standard input (`-`), gzip-compressed or not, told apart by their
//! first bytes rather than their names.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::error::{ErrorKind, ReadError};
use crate::reader::{CaptureReader, ReaderOptions};

/// The reader type [`open`] returns.
pub type AnyReader = CaptureReader<Box<dyn Read + Send>>;

const GZIP_MAGIC: [u8; 2] = [0x1F, 0x8B];

/// Opens a capture file, or standard input when `path` is `-`, and reads its file header.
/// gzip-compressed input (`.pcap.gz`, or gzip data under any name) is decompressed on the fly.
pub fn open(path: &str, opts: ReaderOptions) -> Result<AnyReader, ReadError> {
    let fail = |kind| ReadError::new(path, 0, None, kind);
    let raw: Box<dyn Read + Send> = if path == "-" {
        Box::new(io::stdin())
    } else {
        let p = Path::new(path);
        if p.is_dir() {
            return Err(fail(ErrorKind::IsDirectory));
        }
        Box::new(File::open(p).map_err(|e| fail(ErrorKind::Open(e)))?)
    };
    from_reader(path, raw, opts)
}

/// Like [`open`] but over any reader; `source` names it in errors.
pub fn from_reader(
    source: &str,
    mut raw: Box<dyn Read + Send>,
    opts: ReaderOptions,
) -> Result<AnyReader, ReadError> {
    let mut prefix = [0u8; 2];
    let mut got = 0;
    while got < prefix.len() {
        match raw.read(&mut prefix[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(ReadError::new(source, 0, None, ErrorKind::Io(e))),
        }
    }
    let rejoined = Cursor::new(prefix[..got].to_vec()).chain(raw);
    if got == 2 && prefix == GZIP_MAGIC {
        let inflated: Box<dyn Read + Send> = Box::new(MultiGzDecoder::new(rejoined));
        CaptureReader::new(source, inflated, true, opts)
    } else {
        CaptureReader::new(source, Box::new(rejoined), false, opts)
    }
}
