#!/usr/bin/env python3
"""Expected uni-flow and bi-flow summaries for the flows crate's `reference` test.

A small re-implementation of the flow statistics of pcap_parser.py (AbertayMachineLearningGroup/
MQTT_ML, the MQTT-IoT-IDS2020 extractor) with its arithmetic taken literally: dpkt decodes the
packets, every packet of a flow is kept in a list, times are sorted descending, and numpy does
np.diff / np.std as the script does. Independent of the Rust crate's streaming accumulators.

Semantics (the crate documents the same list; see crates/flows/src/lib.rs):
- Packets: IPv4/IPv6 with a TCP or UDP header; fragments and everything else skipped. Unlike the
  script (Ethernet pcap, IPv4 only) this reads pcap and pcapng with Ethernet, Linux cooked
  v1/v2, raw IP and BSD loopback link types, and keeps IPv6, as the capture crate does.
- Length: the IP total length (IPv6: 40 + payload length).
- Time: dpkt's float seconds, sec + usec / 1e6 (nanosecond and pcapng inputs: the same float
  from the timestamp in nanoseconds, sec + nsec / 1e9, which is identical for whole
  microseconds). For classic microsecond pcap the value is checked against the script's own
  `tv_sec + tv_usec / 1e6`.
- Uni-flows: one per exact 5-tuple over the whole capture, in first-seen order.
- Bi-flows: pass 1 pairs each unprocessed uni-flow with its exact reverse (a flow that is its own
  reverse pairs with itself), forward = first seen; pass 2 turns each unpaired UDP uni-flow into
  a bi-flow whose backward half copies the forward; unpaired TCP uni-flows have no bi-flow.

Output, one line per capture and set (uniflow, biflow), tab-separated:
  path  set  rows  key_hash  COLUMN=SUM ...
- key_hash: FNV-1a 64 (hex) over the integer and address columns of every row in output order,
  each row as its values joined by a tab and ended by a newline; addresses as the lower-case
  hex of their 4 or 16 bytes, integers in decimal. Exact.
- COLUMN=SUM: for each float column, in column order, the sum over the rows in output order,
  printed with repr (compared with a relative tolerance of 1e-9).

Run from the repository root (pip packages: dpkt numpy):
  python3 crates/flows/tests/reference/flows_ref.py ../shared/data \
      > crates/flows/tests/reference/expected_flows.tsv
CI re-runs it and diffs against the committed file.
"""
import collections
import gzip
import os
import struct
import sys

import dpkt
import numpy as np

COMMAND = ("python3 crates/flows/tests/reference/flows_ref.py ../shared/data "
           "> crates/flows/tests/reference/expected_flows.tsv")

UNIFLOW_COLUMNS = ["ip_src", "ip_dst", "prt_src", "prt_dst", "proto", "num_pkts", "mean_iat",
                   "std_iat", "min_iat", "max_iat", "mean_pkt_len", "num_bytes", "num_psh_flags",
                   "num_rst_flags", "num_urg_flags", "std_pkt_len", "min_pkt_len", "max_pkt_len"]
STATS = ["num_pkts", "mean_iat", "std_iat", "min_iat", "max_iat", "mean_pkt_len", "std_pkt_len",
         "min_pkt_len", "max_pkt_len", "num_bytes", "num_psh_flags", "num_rst_flags",
         "num_urg_flags"]
BIFLOW_COLUMNS = (["ip_src", "ip_dst", "prt_src", "prt_dst", "proto"]
                  + [f"{d}_{s}" for s in STATS for d in ("fwd", "bwd")])
FLOAT_STATS = {"mean_iat", "std_iat", "min_iat", "max_iat", "mean_pkt_len", "std_pkt_len",
               "min_pkt_len", "max_pkt_len"}

LINKTYPE_NULL, LINKTYPE_ETHERNET, LINKTYPE_LOOP = 0, 1, 108
LINKTYPE_RAW = (101, 12, 14)
LINKTYPE_IPV4, LINKTYPE_IPV6 = 228, 229
LINKTYPE_LINUX_SLL, LINKTYPE_LINUX_SLL2 = 113, 276
AF_INET, AF_INET6 = 2, (24, 28, 30)
# Oddities met, reported on standard error (none in the shared captures).
NOTES = collections.Counter()


def is_float(column):
    return column.removeprefix("fwd_").removeprefix("bwd_") in FLOAT_STATS


# ---- reading: (link type, timestamp in ns, bytes) per packet -------------------------------

def pcap_frames(data):
    fh = dpkt.pcap.FileHdr(data[:24])
    magic = fh.magic
    if magic in (dpkt.pcap.PMUDPCT_MAGIC, dpkt.pcap.PMUDPCT_MAGIC_NANO, dpkt.pcap.PACPDOM_MAGIC):
        fh = dpkt.pcap.LEFileHdr(data[:24])
    hdr_cls = dpkt.pcap.MAGIC_TO_PKT_HDR[magic]
    nano = magic in (dpkt.pcap.TCPDUMP_MAGIC_NANO, dpkt.pcap.PMUDPCT_MAGIC_NANO)
    linktype = fh.linktype & 0x0FFFFFFF  # upper bits: FCS length
    off, hlen = 24, hdr_cls.__hdr_len__
    while off + hlen <= len(data):
        hdr = hdr_cls(data[off:off + hlen])
        off += hlen
        buf = data[off:off + hdr.caplen]
        off += hdr.caplen
        if len(buf) < hdr.caplen:
            break
        ns = hdr.tv_sec * 10**9 + hdr.tv_usec * (1 if nano else 1000)
        if not nano:
            # The script's own float for this packet (dpkt.pcap.Reader).
            assert hdr.tv_sec + (hdr.tv_usec / 1E6) == reference_seconds(ns)
        yield linktype, ns, buf


def pcapng_frames(data):
    le, interfaces, off = True, [], 0
    while off + 12 <= len(data):
        if data[off:off + 4] == b"\x0a\x0d\x0d\x0a":  # section header: byte order, new interfaces
            le = data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a"
            interfaces = []
        endian = "<" if le else ">"
        btype, blen = struct.unpack(endian + "II", data[off:off + 8])
        block = data[off:off + blen]
        off += blen
        if btype == dpkt.pcapng.PCAPNG_BT_IDB:
            idb = (dpkt.pcapng.InterfaceDescriptionBlockLE if le
                   else dpkt.pcapng.InterfaceDescriptionBlock)(block)
            units, offset_s = 10**6, 0
            for opt in idb.opts:
                if opt.code == dpkt.pcapng.PCAPNG_OPT_IF_TSRESOL:
                    v = opt.data[0]
                    units = 2 ** (v & 0x7F) if v & 0x80 else 10 ** (v & 0x7F)
                elif opt.code == dpkt.pcapng.PCAPNG_OPT_IF_TSOFFSET:
                    offset_s = struct.unpack(endian + "q", opt.data[:8])[0]
            interfaces.append((idb.linktype, units, offset_s))
        elif btype in (dpkt.pcapng.PCAPNG_BT_EPB, dpkt.pcapng.PCAPNG_BT_PB):
            if btype == dpkt.pcapng.PCAPNG_BT_EPB:
                blk = (dpkt.pcapng.EnhancedPacketBlockLE if le
                       else dpkt.pcapng.EnhancedPacketBlock)(block)
                iface = blk.iface_id
            else:
                blk = (dpkt.pcapng.PacketBlockLE if le else dpkt.pcapng.PacketBlock)(block)
                iface = blk.iface_id
            linktype, units, offset_s = interfaces[iface]
            ts = (blk.ts_high << 32) | blk.ts_low
            # Exact integer nanoseconds, truncated as the capture crate converts them.
            ns = (ts // units) * 10**9 + (ts % units) * 10**9 // units + offset_s * 10**9
            yield linktype, ns, blk.pkt_data
        elif btype == 3:
            raise SystemExit("simple packet blocks are not in the shared captures")


def frames(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if data[:4] == b"\x0a\x0d\x0d\x0a":
        return pcapng_frames(data)
    return pcap_frames(data)


def reference_seconds(ns):
    sec, sub = divmod(ns, 10**9)
    return sec + sub / 1e9


# ---- decoding with dpkt -----------------------------------------------------------------------

def ip_of_version(buf):
    if not buf:
        return None
    version = buf[0] >> 4
    if version == 4:
        return dpkt.ip.IP(buf)
    if version == 6:
        return dpkt.ip6.IP6(buf)
    return None


def network_layer(linktype, buf):
    if linktype == LINKTYPE_ETHERNET:
        return dpkt.ethernet.Ethernet(buf).data
    if linktype == LINKTYPE_LINUX_SLL:
        return dpkt.sll.SLL(buf).data
    if linktype == LINKTYPE_LINUX_SLL2:
        return dpkt.sll2.SLL2(buf).data
    if linktype in LINKTYPE_RAW:
        return ip_of_version(buf)
    if linktype == LINKTYPE_IPV4:
        return dpkt.ip.IP(buf)
    if linktype == LINKTYPE_IPV6:
        return dpkt.ip6.IP6(buf)
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        raw = buf[:4]
        family = struct.unpack(">I" if linktype == LINKTYPE_LOOP else "<I", raw)[0]
        if linktype == LINKTYPE_NULL and family & 0xFFFF0000:
            family = struct.unpack(">I", raw)[0]
        if family == AF_INET:
            return dpkt.ip.IP(buf[4:])
        if family in AF_INET6:
            return dpkt.ip6.IP6(buf[4:])
        return None
    raise SystemExit(f"link type {linktype} is not read here")


def flow_packet(linktype, buf):
    """(5-tuple, length, flags) of a TCP/UDP packet over IPv4/IPv6, or None."""
    try:
        ip = network_layer(linktype, buf)
    except (dpkt.UnpackError, struct.error):
        return None
    if isinstance(ip, dpkt.ip.IP):
        if ip.mf or ip.offset:
            return None  # a fragment: no transport header
        length = ip.len
    elif isinstance(ip, dpkt.ip6.IP6):
        if 44 in ip.extension_hdrs:
            return None  # a fragment header: the capture crate decodes no transport after it
        length = 40 + ip.plen
    else:
        return None
    l4 = ip.data
    if isinstance(l4, dpkt.tcp.TCP):
        proto, flags = 6, l4.flags
    elif isinstance(l4, dpkt.udp.UDP):
        proto, flags = 17, 0
    else:
        return None
    if len(ip) != length:
        NOTES["dpkt len(ip) differs from the total length"] += 1
    return (ip.src, ip.dst, l4.sport, l4.dport, proto), length, flags


# ---- the script's statistics ------------------------------------------------------------------

def uni_stats(pkts):
    """pkts: list of (time, length, psh, rst, urg), as pcap_parser.py's per-flow lists."""
    num_pkts = len(pkts)
    length_list = [p[1] for p in pkts]
    time_list = [p[0] for p in pkts]
    mean_pkt_len = sum(length_list) / num_pkts
    pkt_len_arry = np.array(length_list)
    s = dict(
        num_pkts=num_pkts,
        mean_pkt_len=mean_pkt_len,
        std_pkt_len=float(np.std(pkt_len_arry)),
        min_pkt_len=float(min(pkt_len_arry)),
        max_pkt_len=float(max(pkt_len_arry)),
        num_bytes=sum(length_list),
        num_psh_flags=sum(p[2] for p in pkts),
        num_rst_flags=sum(p[3] for p in pkts),
        num_urg_flags=sum(p[4] for p in pkts),
    )
    if num_pkts > 1:
        time_list.sort(reverse=True)
        t_diff = abs(np.diff(time_list))
        s.update(mean_iat=sum(t_diff) / (num_pkts - 1), std_iat=np.std(t_diff),
                 min_iat=min(t_diff), max_iat=max(t_diff))
    else:
        s.update(mean_iat=0.0, std_iat=0.0, min_iat=0.0, max_iat=0.0)
    return s


def flows_of(path):
    flows = {}  # 5-tuple -> packets, in first-seen order (dict order)
    for linktype, ns, buf in frames(path):
        found = flow_packet(linktype, buf)
        if found is None:
            continue
        key, length, flags = found
        if key in flows and flows[key][-1][0] > reference_seconds(ns):
            NOTES["packets earlier than their flow's previous one"] += 1
        flows.setdefault(key, []).append((reference_seconds(ns), length,
                                          bool(flags & dpkt.tcp.TH_PUSH),
                                          bool(flags & dpkt.tcp.TH_RST),
                                          bool(flags & dpkt.tcp.TH_URG)))
    keys = list(flows)
    stats = [uni_stats(flows[k]) for k in keys]
    uni = [dict(ip_src=k[0], ip_dst=k[1], prt_src=k[2], prt_dst=k[3], proto=k[4], **s)
           for k, s in zip(keys, stats)]
    # Pass 1. The script scans forward from each unprocessed flow (itself included) for the exact
    # reverse; 5-tuples are unique, so a dictionary finds the same one. A reverse seen earlier
    # would already have claimed this flow.
    index = {k: i for i, k in enumerate(keys)}
    processed = [False] * len(keys)
    bi = []

    def row(i, j):
        k = keys[i]
        r = dict(ip_src=k[0], ip_dst=k[1], prt_src=k[2], prt_dst=k[3], proto=k[4])
        for s in STATS:
            r["fwd_" + s] = stats[i][s]
            r["bwd_" + s] = stats[j][s]
        return r

    for i, k in enumerate(keys):
        if processed[i]:
            continue
        j = index.get((k[1], k[0], k[3], k[2], k[4]))
        if j is not None and j >= i:
            processed[i] = processed[j] = True
            bi.append(row(i, j))
    # Pass 2: unpaired UDP, backward = copy of forward.
    for i, k in enumerate(keys):
        if not processed[i] and k[4] == 17:
            processed[i] = True
            bi.append(row(i, i))
    return uni, bi


# ---- summary ----------------------------------------------------------------------------------

def fnv1a64(data, h=0xCBF29CE484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def text(v):
    return v.hex() if isinstance(v, bytes) else str(int(v))


def summary(rows, columns):
    h = 0xCBF29CE484222325
    key_columns = [c for c in columns if not is_float(c)]
    float_columns = [c for c in columns if is_float(c)]
    sums = {c: 0.0 for c in float_columns}
    for r in rows:
        h = fnv1a64(("\t".join(text(r[c]) for c in key_columns) + "\n").encode(), h)
        for c in float_columns:
            sums[c] += float(r[c])
    cells = [f"{c}={sums[c]!r}" for c in float_columns]
    return [str(len(rows)), f"{h:016x}"] + cells


def main():
    root = sys.argv[1]
    paths = []
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith((".pcap", ".pcapng", ".cap", ".pcap.gz")):
                paths.append(os.path.relpath(os.path.join(d, f), root))
    print(f"# {COMMAND}")
    print("# path\tset\trows\tkey_hash\tfloat column sums (see flows_ref.py)")
    for rel in sorted(paths):
        uni, bi = flows_of(os.path.join(root, rel))
        print("\t".join([rel, "uniflow"] + summary(uni, UNIFLOW_COLUMNS)))
        print("\t".join([rel, "biflow"] + summary(bi, BIFLOW_COLUMNS)))
    for note, n in sorted(NOTES.items()):
        print(f"note: {n} {note}", file=sys.stderr)


if __name__ == "__main__":
    main()
