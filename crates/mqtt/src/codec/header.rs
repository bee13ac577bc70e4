//! The fixed header (type, flags, remaining length) and the variable byte integer ("varint") that
//! encodes the remaining length and v5 property lengths.
//!
//! Promise: the varint reader looks at no more than 4 bytes and never panics; a fifth continuation
//! byte is an error, not a larger number.

use super::types::{PacketType, QoS};

/// Largest value a 4-byte varint can carry: 268,435,455 (`FF FF FF 7F`), i.e. 256 MB.
pub const MAX_VARINT: u32 = 268_435_455;

/// Longest fixed header: 1 type/flags byte + 4 remaining-length bytes.
pub const MAX_FIXED_HEADER_LEN: usize = 5;

/// A decoded variable byte integer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Varint {
    /// The value (at most [`MAX_VARINT`]).
    pub value: u32,
    /// Bytes the encoding used (1–4).
    pub len: u8,
    /// False when a shorter encoding existed (e.g. `80 00` for 0), which 5.0 §1.5.5 forbids.
    pub minimal: bool,
}

/// Why a varint could not be decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarintError {
    /// The input ended while the continuation bit was still set (fewer than 4 bytes seen).
    Incomplete,
    /// The 4th byte still had its continuation bit set: "The maximum number of bytes in the
    /// Remaining Length field is four" (3.1.1 §2.2.3).
    TooLong,
}

/// Decode a variable byte integer from the start of `input`.
pub fn decode_varint(input: &[u8]) -> Result<Varint, VarintError> {
    let mut value: u32 = 0;
    for (i, &byte) in input.iter().take(4).enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // A multi-byte encoding whose last byte is 0 could have been one byte shorter.
            let minimal = i == 0 || byte != 0;
            return Ok(Varint {
                value,
                len: i as u8 + 1,
                minimal,
            });
        }
    }
    if input.len() >= 4 {
        Err(VarintError::TooLong)
    } else {
        Err(VarintError::Incomplete)
    }
}

/// Encode `value` as a varint into `out`, returning the number of bytes written, or `None` when
/// `value > MAX_VARINT`. Used by tests, fuzzers and benchmarks to build messages.
pub fn encode_varint(mut value: u32, out: &mut [u8; 4]) -> Option<usize> {
    if value > MAX_VARINT {
        return None;
    }
    let mut i = 0;
    loop {
        let mut byte = (value % 128) as u8;
        value /= 128;
        if value > 0 {
            byte |= 0x80;
        }
        out[i] = byte;
        i += 1;
        if value == 0 {
            return Some(i);
        }
    }
}

/// A parsed fixed header. Only the first byte and the remaining length are stored; the rest is
/// derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FixedHeader {
    /// Type (high nibble) and flags (low nibble).
    pub first_byte: u8,
    /// Number of bytes after the fixed header (the variable header plus payload).
    pub remaining_length: u32,
    /// Length of the fixed header itself (2–5).
    pub header_len: u8,
    /// Whether the remaining length used the minimum number of bytes.
    pub minimal_length: bool,
}

impl FixedHeader {
    /// The control packet type.
    #[inline]
    pub const fn packet_type(&self) -> PacketType {
        PacketType::from_first_byte(self.first_byte)
    }

    /// The 4 flag bits.
    #[inline]
    pub const fn flags(&self) -> u8 {
        self.first_byte & 0x0f
    }

    /// PUBLISH DUP flag (bit 3).
    #[inline]
    pub const fn dup(&self) -> bool {
        self.first_byte & 0x08 != 0
    }

    /// PUBLISH QoS bits (bits 2–1), 0–3 (3 is invalid).
    #[inline]
    pub const fn qos_bits(&self) -> u8 {
        (self.first_byte >> 1) & 0x03
    }

    /// PUBLISH QoS, `None` for the invalid value 3.
    #[inline]
    pub const fn qos(&self) -> Option<QoS> {
        QoS::from_bits(self.qos_bits())
    }

    /// PUBLISH RETAIN flag (bit 0).
    #[inline]
    pub const fn retain(&self) -> bool {
        self.first_byte & 0x01 != 0
    }

    /// Whole message length: fixed header plus remaining length (fits in `usize` on every target we
    /// build for, being at most 268,435,460).
    #[inline]
    pub const fn frame_len(&self) -> usize {
        self.header_len as usize + self.remaining_length as usize
    }

    /// Whether the flags are the ones the spec requires for the type (always true for PUBLISH,
    /// whose invalid QoS 3 is reported separately).
    #[inline]
    pub const fn flags_valid(&self) -> bool {
        match self.packet_type().required_flags() {
            Some(required) => self.flags() == required,
            None => true,
        }
    }
}

/// Why a fixed header could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderError {
    /// More input is needed; `needed` is a lower bound on how many more bytes (at least 1).
    Incomplete {
        /// Minimum number of additional bytes before trying again.
        needed: usize,
    },
    /// The remaining-length varint does not end within 4 bytes.
    InvalidRemainingLength,
}

/// Parse the fixed header at the start of `input`.
#[inline]
pub fn parse_fixed_header(input: &[u8]) -> Result<FixedHeader, HeaderError> {
    // Fast path: a one-byte remaining length (messages under 128 bytes; most of them). Built
    // directly, not through `Varint`, whose packing into a register went through the stack and
    // stalled store forwarding on every message (measured: a third of `parse_message`).
    if let [first_byte, len, ..] = *input {
        if len < 0x80 {
            return Ok(FixedHeader {
                first_byte,
                remaining_length: u32::from(len),
                header_len: 2,
                minimal_length: true,
            });
        }
    }
    let Some((&first_byte, rest)) = input.split_first() else {
        // Type byte plus at least one length byte.
        return Err(HeaderError::Incomplete { needed: 2 });
    };
    match decode_varint(rest) {
        Ok(v) => Ok(FixedHeader {
            first_byte,
            remaining_length: v.value,
            header_len: 1 + v.len,
            minimal_length: v.minimal,
        }),
        Err(VarintError::Incomplete) => Err(HeaderError::Incomplete { needed: 1 }),
        Err(VarintError::TooLong) => Err(HeaderError::InvalidRemainingLength),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_boundaries() {
        // (encoding, value) at every length boundary, from the spec's table (3.1.1 §2.2.3).
        let cases: &[(&[u8], u32)] = &[
            (&[0x00], 0),
            (&[0x7f], 127),
            (&[0x80, 0x01], 128),
            (&[0xff, 0x7f], 16_383),
            (&[0x80, 0x80, 0x01], 16_384),
            (&[0xff, 0xff, 0x7f], 2_097_151),
            (&[0x80, 0x80, 0x80, 0x01], 2_097_152),
            (&[0xff, 0xff, 0xff, 0x7f], 268_435_455),
        ];
        for (bytes, value) in cases {
            let v = decode_varint(bytes).unwrap();
            assert_eq!(v.value, *value);
            assert_eq!(v.len as usize, bytes.len());
            assert!(v.minimal);
            let mut out = [0u8; 4];
            let n = encode_varint(*value, &mut out).unwrap();
            assert_eq!(&out[..n], *bytes);
        }
        assert_eq!(
            decode_varint(&[0xff, 0xff, 0xff, 0x7f]).unwrap().value,
            MAX_VARINT
        );
        // A fifth byte is never read: FF FF FF 80 fails whatever follows.
        assert_eq!(
            decode_varint(&[0xff, 0xff, 0xff, 0x80]),
            Err(VarintError::TooLong)
        );
        assert_eq!(
            decode_varint(&[0xff, 0xff, 0xff, 0x80, 0x01]),
            Err(VarintError::TooLong)
        );
        assert_eq!(encode_varint(MAX_VARINT + 1, &mut [0; 4]), None);
    }

    #[test]
    fn varint_truncations_and_non_minimal() {
        assert_eq!(decode_varint(&[]), Err(VarintError::Incomplete));
        assert_eq!(decode_varint(&[0x80]), Err(VarintError::Incomplete));
        assert_eq!(decode_varint(&[0xff, 0xff]), Err(VarintError::Incomplete));
        assert_eq!(
            decode_varint(&[0xff, 0xff, 0xff]),
            Err(VarintError::Incomplete)
        );
        // 0 in two bytes: legal framing, but not minimal.
        let v = decode_varint(&[0x80, 0x00]).unwrap();
        assert_eq!((v.value, v.len, v.minimal), (0, 2, false));
        let v = decode_varint(&[0x81, 0x80, 0x00]).unwrap();
        assert_eq!((v.value, v.len, v.minimal), (1, 3, false));
    }

    #[test]
    fn fixed_header_fields() {
        // 0x3b: PUBLISH (3), DUP=1, QoS=1, RETAIN=1; remaining length 0xc8 0x01 = 200.
        let h = parse_fixed_header(&[0x3b, 0xc8, 0x01]).unwrap();
        assert_eq!(h.packet_type(), PacketType::Publish);
        assert!(h.dup() && h.retain());
        assert_eq!(h.qos(), Some(QoS::AtLeastOnce));
        assert_eq!(
            (h.remaining_length, h.header_len, h.frame_len()),
            (200, 3, 203)
        );
        assert!(h.flags_valid());
        // PUBLISH with QoS 3.
        assert_eq!(parse_fixed_header(&[0x36, 0]).unwrap().qos(), None);
        // SUBSCRIBE must carry flags 0010.
        assert!(parse_fixed_header(&[0x82, 0]).unwrap().flags_valid());
        assert!(!parse_fixed_header(&[0x80, 0]).unwrap().flags_valid());
        assert_eq!(
            parse_fixed_header(&[]),
            Err(HeaderError::Incomplete { needed: 2 })
        );
        assert_eq!(
            parse_fixed_header(&[0x30]),
            Err(HeaderError::Incomplete { needed: 1 })
        );
        assert_eq!(
            parse_fixed_header(&[0x30, 0xff, 0xff, 0xff, 0x80]),
            Err(HeaderError::InvalidRemainingLength)
        );
    }
}
