//! Writers for classic pcap and pcapng (little-endian), used by the simulator and by tests.
//! What they write, [`crate::reader`] and tshark read back unchanged.

use std::io::{self, Write};

use crate::linktype::LinkType;

/// Classic pcap writer with one link type, micro- or nanosecond timestamps.
pub struct PcapWriter<W: Write> {
    out: W,
    nanos: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Writes the file header.
    pub fn new(mut out: W, link_type: LinkType, snaplen: u32, nanos: bool) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xA1B2_3C4D } else { 0xA1B2_C3D4 };
        let mut h = Vec::with_capacity(24);
        h.extend_from_slice(&magic.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&0i32.to_le_bytes()); // thiszone
        h.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
        h.extend_from_slice(&snaplen.to_le_bytes());
        h.extend_from_slice(&u32::from(link_type.0).to_le_bytes());
        out.write_all(&h)?;
        Ok(PcapWriter { out, nanos })
    }

    /// Writes one packet; `data` is what was captured of its `orig_len` bytes. Timestamps
    /// before 1970 or after 2106 do not fit the format and are rejected.
    pub fn write_packet(&mut self, ts_ns: i64, orig_len: u32, data: &[u8]) -> io::Result<()> {
        let secs = u32::try_from(ts_ns.div_euclid(1_000_000_000))
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "timestamp out of range"))?;
        let frac = ts_ns.rem_euclid(1_000_000_000) as u32;
        let frac = if self.nanos { frac } else { frac / 1_000 };
        let caplen = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too large"))?;
        let mut h = [0u8; 16];
        h[0..4].copy_from_slice(&secs.to_le_bytes());
        h[4..8].copy_from_slice(&frac.to_le_bytes());
        h[8..12].copy_from_slice(&caplen.to_le_bytes());
        h[12..16].copy_from_slice(&orig_len.max(caplen).to_le_bytes());
        self.out.write_all(&h)?;
        self.out.write_all(data)
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// pcapng writer: one section, any number of interfaces, nanosecond timestamps.
pub struct PcapNgWriter<W: Write> {
    out: W,
    interfaces: u32,
}

const TSRESOL_NANOS: u8 = 9;

impl<W: Write> PcapNgWriter<W> {
    /// Writes the section header block.
    pub fn new(mut out: W) -> io::Result<Self> {
        let mut body = Vec::with_capacity(16);
        body.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&(-1i64).to_le_bytes()); // section length unknown
        out.write_all(&block(0x0A0D_0D0A, &body))?;
        Ok(PcapNgWriter { out, interfaces: 0 })
    }

    /// Describes a new interface and returns its index for [`PcapNgWriter::write_packet`].
    pub fn add_interface(&mut self, link_type: LinkType, snaplen: u32) -> io::Result<u32> {
        let mut body = Vec::with_capacity(20);
        body.extend_from_slice(&link_type.0.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        body.extend_from_slice(&snaplen.to_le_bytes());
        // if_tsresol = 9 (nanoseconds), then opt_endofopt.
        body.extend_from_slice(&9u16.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&[TSRESOL_NANOS, 0, 0, 0]);
        body.extend_from_slice(&[0, 0, 0, 0]);
        self.out.write_all(&block(1, &body))?;
        self.interfaces += 1;
        Ok(self.interfaces - 1)
    }

    /// Writes one Enhanced Packet Block on `interface`.
    pub fn write_packet(
        &mut self,
        interface: u32,
        ts_ns: i64,
        orig_len: u32,
        data: &[u8],
    ) -> io::Result<()> {
        if interface >= self.interfaces {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "packet on an interface that was not added",
            ));
        }
        let ts = u64::try_from(ts_ns)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "timestamp before 1970"))?;
        let caplen = u32::try_from(data.len())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "packet too large"))?;
        let mut body = Vec::with_capacity(20 + data.len() + 3);
        body.extend_from_slice(&interface.to_le_bytes());
        body.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        body.extend_from_slice(&(ts as u32).to_le_bytes());
        body.extend_from_slice(&caplen.to_le_bytes());
        body.extend_from_slice(&orig_len.max(caplen).to_le_bytes());
        body.extend_from_slice(data);
        self.out.write_all(&block(6, &body))
    }

    /// Flushes and returns the underlying writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.out.flush()?;
        Ok(self.out)
    }
}

/// A little-endian pcapng block around `body`, padded to 32 bits.
fn block(block_type: u32, body: &[u8]) -> Vec<u8> {
    let padded = body.len().div_ceil(4) * 4;
    let len = (12 + padded) as u32;
    let mut b = Vec::with_capacity(len as usize);
    b.extend_from_slice(&block_type.to_le_bytes());
    b.extend_from_slice(&len.to_le_bytes());
    b.extend_from_slice(body);
    b.resize(8 + padded, 0);
    b.extend_from_slice(&len.to_le_bytes());
    b
}
