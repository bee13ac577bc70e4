//! Differential test: on every frame of every real capture under ../shared/data, our decoder
//! and etherparse's lax slicer (an independent implementation) agree on every field both
//! produce. Link headers etherparse lacks (Linux cooked) are stripped by hand for it.

use std::net::IpAddr;
use std::path::Path;

use etherparse::{EtherType, LaxNetSlice, LaxSlicedPacket, TransportSlice};
use mqtt_ids_capture::{decode, open, LinkType, ReaderOptions, Transport};

/// The fields compared: addresses, TTL, IP total length, DF/MF, id, protocol, then transport
/// (ports, seq, ack, flags, window for TCP), then the payload.
type Fields = (
    Option<(IpAddr, IpAddr, u8, u32, bool, bool, u32, u8)>,
    Option<(u16, u16, u32, u32, u16, u16)>,
    Vec<u8>,
);

fn etherparse_fields(link_type: LinkType, data: &[u8]) -> Fields {
    let sliced = match link_type {
        LinkType::ETHERNET => LaxSlicedPacket::from_ethernet(data).unwrap(),
        LinkType::LINUX_SLL => {
            let proto = u16::from_be_bytes([data[14], data[15]]);
            LaxSlicedPacket::from_ether_type(EtherType(proto), &data[16..])
        }
        other => panic!("no such link type in the shared captures: {other}"),
    };
    let ip = match &sliced.net {
        Some(LaxNetSlice::Ipv4(v4)) => {
            let h = v4.header();
            Some((
                IpAddr::V4(h.source_addr()),
                IpAddr::V4(h.destination_addr()),
                h.ttl(),
                u32::from(h.total_len()),
                h.dont_fragment(),
                h.more_fragments(),
                u32::from(h.identification()),
                v4.payload().ip_number.0,
            ))
        }
        Some(LaxNetSlice::Ipv6(v6)) => {
            let h = v6.header();
            Some((
                IpAddr::V6(h.source_addr()),
                IpAddr::V6(h.destination_addr()),
                h.hop_limit(),
                40 + u32::from(h.payload_length()),
                false,
                false,
                0,
                v6.payload().ip_number.0,
            ))
        }
        _ => None,
    };
    let (transport, payload) = match &sliced.transport {
        Some(TransportSlice::Tcp(t)) => {
            let raw = t.header_slice();
            let flags = (u16::from(raw[12] & 0x0F) << 8) | u16::from(raw[13]);
            (
                Some((
                    t.source_port(),
                    t.destination_port(),
                    t.sequence_number(),
                    t.acknowledgment_number(),
                    flags,
                    t.window_size(),
                )),
                t.payload().to_vec(),
            )
        }
        Some(TransportSlice::Udp(u)) => (
            Some((u.source_port(), u.destination_port(), 0, 0, 0, 0)),
            u.payload().to_vec(),
        ),
        _ => (None, Vec::new()),
    };
    (ip, transport, payload)
}

fn our_fields(p: &mqtt_ids_capture::Packet<'_>) -> Fields {
    let ip = p.ip.map(|h| {
        (
            h.src,
            h.dst,
            h.ttl,
            h.total_len,
            h.df,
            h.mf,
            h.id,
            h.protocol,
        )
    });
    let transport = match p.transport {
        Transport::Tcp {
            src_port,
            dst_port,
            seq,
            ack,
            flags,
            window,
            ..
        } => Some((src_port, dst_port, seq, ack, flags.0, window)),
        Transport::Udp {
            src_port, dst_port, ..
        } => Some((src_port, dst_port, 0, 0, 0, 0)),
        _ => None,
    };
    let payload = if transport.is_some() {
        p.payload.to_vec()
    } else {
        Vec::new()
    };
    (ip, transport, payload)
}

#[test]
fn every_real_frame_decodes_as_etherparse_decodes_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if !root.is_dir() {
        assert!(
            std::env::var_os("CI").is_none(),
            "shared data missing in CI"
        );
        return;
    }
    let expected = include_str!("reference/expected.tsv");
    let mut frames = 0u64;
    let mut want = 0u64;
    for line in expected.lines().filter(|l| !l.starts_with('#')) {
        want += line.split('\t').nth(1).unwrap().parse::<u64>().unwrap();
        let path = root.join(line.split('\t').next().unwrap());
        let mut r = open(path.to_str().unwrap(), ReaderOptions::default()).unwrap();
        while let Some(f) = r.next_frame().unwrap() {
            let theirs = etherparse_fields(f.link_type, f.data);
            let p = decode(f);
            assert_eq!(
                our_fields(&p),
                theirs,
                "{} frame {}",
                path.display(),
                p.frame.number
            );
            frames += 1;
        }
    }
    assert_eq!(frames, want, "every frame of every capture compared");
}
