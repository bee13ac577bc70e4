//! A bounds-checked cursor over one message body. Every read either succeeds or returns a
//! [`FieldError`] naming the field, its offset and how many bytes it needed: a body is framed, so
//! running out of bytes means a field overruns its message, never "wait for more".

use super::header::{decode_varint, VarintError};
use super::types::MqttStr;
use crate::finding::{FindingKind, FindingSet};

/// A field that does not fit in its message (etherparse's `LenError` shape: what, where, how much).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The field being read, named as in the spec (`packet_id`, `topic_name`, `properties`, …).
    pub field: &'static str,
    /// Offset of the field from the start of the body (after the fixed header).
    pub offset: usize,
    /// Bytes the field needed (for a varint: up to 4).
    pub needed: usize,
    /// Bytes that were left in the body.
    pub available: usize,
}

impl core::fmt::Display for FieldError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "field `{}` at body offset {} needs {} bytes, {} left in the message",
            self.field, self.offset, self.needed, self.available
        )
    }
}

impl std::error::Error for FieldError {}

/// Cursor over a body slice.
#[derive(Clone, Debug)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    #[inline]
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    fn error(&self, field: &'static str, needed: usize) -> FieldError {
        FieldError {
            field,
            offset: self.pos,
            needed,
            available: self.remaining(),
        }
    }

    /// The next `n` bytes.
    #[inline]
    pub(crate) fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], FieldError> {
        match self.buf.get(self.pos..).and_then(|rest| rest.get(..n)) {
            Some(out) => {
                self.pos += n;
                Ok(out)
            }
            None => Err(self.error(field, n)),
        }
    }

    /// Everything left.
    #[inline]
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let out = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        out
    }

    #[inline]
    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, FieldError> {
        Ok(self.bytes(1, field)?[0])
    }

    #[inline]
    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, FieldError> {
        let b = self.bytes(2, field)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    #[inline]
    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, FieldError> {
        let b = self.bytes(4, field)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A varint (v5 property length, subscription identifier). A non-minimal encoding is a finding.
    pub(crate) fn varint(
        &mut self,
        field: &'static str,
        findings: &mut FindingSet,
    ) -> Result<u32, FieldError> {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        match decode_varint(rest) {
            Ok(v) => {
                if !v.minimal {
                    findings.insert(FindingKind::NonMinimalVarint);
                }
                self.pos += v.len as usize;
                Ok(v.value)
            }
            Err(VarintError::Incomplete) => Err(self.error(field, rest.len() + 1)),
            Err(VarintError::TooLong) => Err(self.error(field, 5)),
        }
    }

    /// "Binary Data": a two-byte length then that many bytes.
    #[inline]
    pub(crate) fn binary(&mut self, field: &'static str) -> Result<&'a [u8], FieldError> {
        let start = self.pos;
        let len = self.u16(field)? as usize;
        self.bytes(len, field).inspect_err(|_| self.pos = start)
    }

    /// "UTF-8 Encoded String": binary data that must be well-formed UTF-8 without U+0000.
    /// Violations are findings; the bytes are kept as they are.
    #[inline]
    pub(crate) fn string(
        &mut self,
        field: &'static str,
        findings: &mut FindingSet,
    ) -> Result<MqttStr<'a>, FieldError> {
        let bytes = self.binary(field)?;
        check_string(bytes, findings);
        Ok(MqttStr::new(bytes))
    }
}

/// Record UTF-8 and null-character findings for string bytes.
#[inline]
pub(crate) fn check_string(bytes: &[u8], findings: &mut FindingSet) {
    // ASCII fast path: most topics and client ids are ASCII.
    if bytes.is_ascii() {
        if bytes.contains(&0) {
            findings.insert(FindingKind::NullCharacter);
        }
        return;
    }
    match core::str::from_utf8(bytes) {
        Ok(s) => {
            if s.contains('\0') {
                findings.insert(FindingKind::NullCharacter);
            }
        }
        Err(_) => findings.insert(FindingKind::InvalidUtf8),
    }
}
