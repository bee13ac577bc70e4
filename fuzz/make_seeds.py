#!/usr/bin/env python3
"""Writes the hand-made seed corpus of the capture fuzz targets (fuzz/corpus/seeds-capture_*).
Run from fuzz/: python3 make_seeds.py"""
import struct

IP_TCP = bytes.fromhex(
    "45000028123440004006 0000 0a106401 0a106449".replace(" ", "")
    + "c350075b 00000001 00000002 5018 0100 0000 0000".replace(" ", ""))
ETH = bytes(12) + b"\x08\x00" + IP_TCP
SLL = bytes.fromhex("00000304000600000000000000000800") + IP_TCP


def pcap(link, frames, magic=0xA1B2C3D4, endian="<"):
    out = struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 65535, link)
    for i, f in enumerate(frames):
        out += struct.pack(endian + "IIII", 1600000000 + i, 0, len(f), len(f)) + f
    return out


def block(t, body, endian="<"):
    body += bytes(-len(body) % 4)
    n = 12 + len(body)
    return struct.pack(endian + "II", t, n) + body + struct.pack(endian + "I", n)


def pcapng(endian="<"):
    shb = block(0x0A0D0D0A, struct.pack(endian + "IHHq", 0x1A2B3C4D, 1, 0, -1), endian)
    idb0 = block(1, struct.pack(endian + "HHI", 1, 0, 0), endian)
    idb1 = block(1, struct.pack(endian + "HHI", 113, 0, 0) + struct.pack(endian + "HH", 9, 1) + b"\x09\0\0\0" + bytes(4), endian)
    epb0 = block(6, struct.pack(endian + "IIIII", 0, 0, 5, len(ETH), len(ETH)) + ETH, endian)
    epb1 = block(6, struct.pack(endian + "IIIII", 1, 0, 7, len(SLL), len(SLL)) + SLL, endian)
    spb = block(3, struct.pack(endian + "I", len(ETH)) + ETH, endian)
    isb = block(5, bytes(12), endian)
    return shb + idb0 + idb1 + epb0 + epb1 + spb + isb


def ip4(src, dst, proto, payload):
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0x4000, 64, proto, 0,
                       bytes(src), bytes(dst)) + payload


def tcp(sport, dport, seq, ack, flags, payload=b""):
    return struct.pack(">HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload


def frames(*packets):
    """extract_frames input: each frame a 2-byte big-endian length and its bytes."""
    return b"".join(struct.pack(">H", len(p)) + p for p in packets)


C, S = (10, 0, 0, 1), (10, 0, 0, 2)
CONNECT = bytes.fromhex("101000044d5154540402003c0004") + b"dev1"
CONNACK = bytes.fromhex("20020000")
PUBLISH = bytes.fromhex("300a0003") + b"t/a" + b"hello"[:5]
SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01
MQTT_SESSION = frames(
    ip4(C, S, 6, tcp(40000, 1883, 100, 0, SYN)),
    ip4(S, C, 6, tcp(1883, 40000, 500, 101, SYN | ACK)),
    ip4(C, S, 6, tcp(40000, 1883, 101, 501, ACK | PSH, CONNECT)),
    ip4(S, C, 6, tcp(1883, 40000, 501, 101 + len(CONNECT), ACK | PSH, CONNACK)),
    ip4(C, S, 6, tcp(40000, 1883, 101 + len(CONNECT), 505, ACK | PSH, PUBLISH + PUBLISH[:6])),
    ip4(C, S, 6, tcp(40000, 1883, 101 + len(CONNECT) + len(PUBLISH) + 6, 505, ACK | PSH, PUBLISH[6:])),
    ip4(C, S, 6, tcp(40000, 1883, 101 + len(CONNECT) + 2 * len(PUBLISH), 505, ACK | FIN)),
    ip4(C, (10, 0, 0, 3), 17, struct.pack(">HHHH", 5353, 5353, 12, 0) + b"dns!"),
)

def ring_block(frames):
    """A TPACKET_V3 block as the kernel lays it out (little-endian host): descriptor (num_pkts at
    12, offset_to_first_pkt at 16), then per packet a tpacket3_hdr (tp_next_offset, tp_sec,
    tp_nsec, tp_snaplen, tp_len, tp_status, tp_mac, ...), sockaddr_ll (sll_pkttype at +10) and
    the frame at tp_mac = 80; `frames` are (bytes, pkttype)."""
    out = bytearray(48)
    struct.pack_into("<II", out, 12, len(frames), 48)
    for i, (frame, pkttype) in enumerate(frames):
        total = -(-(80 + len(frame)) // 16) * 16
        hdr = bytearray(total)
        nxt = total if i + 1 < len(frames) else 0
        struct.pack_into("<IIIIIIHH", hdr, 0, nxt, 1_600_000_000, i, len(frame), len(frame), 1, 80, 80)
        hdr[48 + 10] = pkttype
        hdr[80:80 + len(frame)] = frame
        out += hdr
    return bytes(out)


seeds = {
    "ring_block/two-packets-loopback": b"\x01" + ring_block([(ETH, 0), (ETH, 4), (ETH[:40], 0)]),
    "capture_read/eth.pcap": pcap(1, [ETH, ETH[:30]]),
    "capture_read/sll-be-nsec.pcap": pcap(113, [SLL], 0xA1B23C4D, ">"),
    "capture_read/raw.pcap": pcap(101, [IP_TCP]),
    "capture_read/two-ifaces.pcapng": pcapng(),
    "capture_read/two-ifaces-be.pcapng": pcapng(">"),
    "capture_decode/eth": b"\x01" + ETH,
    "capture_decode/sll": b"\x06" + SLL,
    "capture_decode/raw": b"\x04" + IP_TCP,
    "extract_frames/mqtt-session": MQTT_SESSION,
    "extract_frames/mqtt-session-timeouts": MQTT_SESSION + b"\x01",
}
for name, data in seeds.items():
    target, file = name.split("/")
    import os
    os.makedirs(f"corpus/seeds-{target}", exist_ok=True)
    with open(f"corpus/seeds-{target}/{file}", "wb") as f:
        f.write(data)
