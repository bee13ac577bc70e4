#!/usr/bin/env python3
"""Expected `packet` rows (Hindy et al. 2020, Table 1) for the features crate's `packet` test.

What MQTT_ML's pcap_packet_features.py (pyshark) wrote for each packet, re-derived from tshark
without pyshark, in UTC. Run from the repository root (Python 3 standard library and tshark):

  python3 crates/features/tests/reference/make_expected_packet.py ../shared/data \
      > crates/features/tests/reference/expected_packet.tsv

Made with TShark 4.0.17 (Debian 12); CI re-runs it and diffs against the committed file. `--rows FILE...` prints the rows themselves
(frame number, then the 31 columns, tab-separated) for the test's detailed comparison.

The script's logic, as pyshark saw tshark's PDML:
- a row for every frame with a top-level `udp` or `tcp` layer (`'udp' in packet` first; the
  UDP/TCP headers quoted inside an ICMP error are nested, so such frames have none);
- timestamp = datetime.fromtimestamp(float(frame.time_epoch)).strftime('%m/%d/%Y, %H:%M:%S:%f')
  (pyshark's sniff_time), here in UTC instead of the machine's local time;
- protocol = pyshark's highest_layer: the last top-level PDML <proto> upper-cased
  (fake-field-wrapper is DATA); that is the last element of frame.protocols except when an
  exception added a `_ws.malformed`/`_ws.short`/`_ws.unreassembled` layer, which
  frame.protocols omits;
- src_ip, dst_ip, ttl, ip_len, ip_flag_* from the `ip` layer (IPv4 only: empty for IPv6);
- src_port, dst_port (UDP or TCP) and, for TCP, tcp_flag_*: tcp.flags.res (a boolean over the
  three reserved bits, as tshark defines it), tcp.flags.ns (tshark 4: tcp.flags.ae), .cwr,
  .ecn (tshark 4: .ece), .urg, .ack, .push, .reset, .syn, .fin;
- mqtt_* from `packet.mqtt`, the first MQTT message of the frame: mqtt.msgtype, mqtt.len and,
  when that message has connect flags, mqtt.conflag.uname, .passwd, .retain, .qos, .willflag,
  .cleansess, .reserved;
- is_attack = 1 when ip.src or ip.dst is one of ATTACKERS (IPv6 rows: 0).

tshark -T fields gives every value but two: which message a connect flag belongs to when a frame
holds several MQTT messages, and where an exception layer sits. Frames where either is in doubt
(a `_ws.*` exception layer, or CONNECTs and connect-flag sets not one to one) are read again from
tshark's PDML, exactly as pyshark read them.

Summary output, one line per capture (sorted by path), tab-separated:
  path  rows  frames=HASH  COLUMN=HASH ...
HASH is FNV-1a 64 (hex) over the values in row order, each followed by a newline; `frames`
hashes the frame numbers that have a row.
"""
import datetime
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

COMMAND = ("python3 crates/features/tests/reference/make_expected_packet.py ../shared/data "
           "> crates/features/tests/reference/expected_packet.tsv")
ATTACKERS = {"192.168.2.5", "192.168.1.90"}

COLUMNS = ["timestamp", "src_ip", "dst_ip", "protocol", "ttl", "ip_len", "ip_flag_df",
           "ip_flag_mf", "ip_flag_rb", "src_port", "dst_port", "tcp_flag_res", "tcp_flag_ns",
           "tcp_flag_cwr", "tcp_flag_ecn", "tcp_flag_urg", "tcp_flag_ack", "tcp_flag_push",
           "tcp_flag_reset", "tcp_flag_syn", "tcp_flag_fin", "mqtt_messagetype",
           "mqtt_messagelength", "mqtt_flag_uname", "mqtt_flag_passwd", "mqtt_flag_retain",
           "mqtt_flag_qos", "mqtt_flag_willflag", "mqtt_flag_clean", "mqtt_flag_reserved",
           "is_attack"]
CONFLAGS = ["uname", "passwd", "retain", "qos", "willflag", "cleansess", "reserved"]
EXCEPTIONS = ["_ws.malformed", "_ws.short", "_ws.unreassembled"]
FNV_OFFSET, FNV_PRIME = 0xCBF29CE484222325, 0x100000001B3


def tcp_flag_fields():
    """tshark renamed tcp.flags.ns → .ae and .ecn → .ece; take whichever this one has."""
    names = set()
    out = subprocess.run(["tshark", "-G", "fields"], check=True, capture_output=True,
                         text=True).stdout
    for line in out.splitlines():
        cols = line.split("\t")
        if len(cols) > 2 and cols[0] == "F":
            names.add(cols[2])
    ns = "tcp.flags.ns" if "tcp.flags.ns" in names else "tcp.flags.ae"
    ecn = "tcp.flags.ecn" if "tcp.flags.ecn" in names else "tcp.flags.ece"
    return ["tcp.flags.res", ns, "tcp.flags.cwr", ecn, "tcp.flags.urg", "tcp.flags.ack",
            "tcp.flags.push", "tcp.flags.reset", "tcp.flags.syn", "tcp.flags.fin"]


TCP_FLAGS = tcp_flag_fields()
IP_FIELDS = ["ip.src", "ip.dst", "ip.ttl", "ip.len", "ip.flags.df", "ip.flags.mf", "ip.flags.rb"]
FIELDS = (["frame.number", "frame.time_epoch", "frame.protocols"] + IP_FIELDS
          + ["udp.srcport", "udp.dstport", "tcp.srcport", "tcp.dstport"] + TCP_FLAGS
          + ["mqtt.msgtype", "mqtt.len", "mqtt.conflags"]
          + [f"mqtt.conflag.{f}" for f in CONFLAGS] + EXCEPTIONS)


def boolean(v):
    """tshark 4.2+ renders booleans True/False; 4.0 and pyshark's era 1/0."""
    return {"True": "1", "False": "0"}.get(v, v)


def timestamp(epoch):
    """pyshark: float(sniff_timestamp) → datetime.fromtimestamp (microseconds rounded half to
    even from the double), here with tz=UTC."""
    t = datetime.datetime.fromtimestamp(float(epoch), tz=datetime.timezone.utc)
    return t.strftime("%m/%d/%Y, %H:%M:%S:%f")


def top_level(protocols):
    """Layers before any ICMP error (whose quoted headers pyshark does not see)."""
    top = []
    for p in protocols:
        if p in ("icmp", "icmpv6"):
            break
        top.append(p)
    return top


def row(epoch, highest, ip, udp, tcp, tcp_flags, mqtt):
    """One row from the values pyshark would have read; None when the frame has no row.
    ip: dict of IP_FIELDS or None; udp/tcp: (src, dst) or None; mqtt: (type, len, flags or
    None) or None."""
    r = dict.fromkeys(COLUMNS, "")
    r["timestamp"] = timestamp(epoch)
    r["protocol"] = highest
    r["is_attack"] = "0"
    if ip is not None:
        r["src_ip"], r["dst_ip"] = ip["ip.src"], ip["ip.dst"]
        r["ttl"], r["ip_len"] = ip["ip.ttl"], ip["ip.len"]
        r["ip_flag_df"], r["ip_flag_mf"], r["ip_flag_rb"] = (
            ip["ip.flags.df"], ip["ip.flags.mf"], ip["ip.flags.rb"])
        if ip["ip.src"] in ATTACKERS or ip["ip.dst"] in ATTACKERS:
            r["is_attack"] = "1"
    if udp is not None:
        r["src_port"], r["dst_port"] = udp
    elif tcp is not None:
        r["src_port"], r["dst_port"] = tcp
        for col, v in zip(COLUMNS[11:21], tcp_flags):
            r[col] = v
    else:
        return None
    if mqtt is not None:
        r["mqtt_messagetype"], r["mqtt_messagelength"] = mqtt[0], mqtt[1]
        if mqtt[2] is not None:
            for col, v in zip(COLUMNS[23:30], mqtt[2]):
                r[col] = v
    return [r[c] for c in COLUMNS]


def tshark(path, *args):
    return subprocess.run(["tshark", "-n", "-r", path, *args], check=True, capture_output=True,
                          text=True).stdout


def pdml_rows(path, frames):
    """The rows of `frames` (None: every frame) from tshark's PDML, read as pyshark reads it."""
    out = {}
    if frames is not None and not frames:
        return out
    select = [] if frames is None else ["-Y", "frame.number in {%s}" % ",".join(map(str, frames))]
    proc = subprocess.Popen(["tshark", "-n", "-r", path, "-T", "pdml", *select],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    for _, packet in ET.iterparse(proc.stdout):
        if packet.tag != "packet":
            continue
        protos = [p for p in packet if p.tag == "proto"]
        geninfo, layers = protos[0], protos[2:]

        def field(proto, name):
            for f in proto.iter("field"):
                if f.get("name") == name:
                    return boolean(f.get("show"))
            return None

        number = int(field(geninfo, "num"))
        epoch = next(f.get("value") for f in geninfo.iter("field") if f.get("name") == "timestamp")
        names = ["data" if p.get("name") == "fake-field-wrapper" else p.get("name")
                 for p in layers]
        highest = names[-1].upper() if names else ""
        by_name = {}
        for p in layers:
            by_name.setdefault(p.get("name"), p)
        ip = None
        if "ip" in by_name:
            ip = {f: field(by_name["ip"], f) or "" for f in IP_FIELDS}
        udp = tcp = None
        flags = []
        if "udp" in by_name:
            udp = (field(by_name["udp"], "udp.srcport"), field(by_name["udp"], "udp.dstport"))
        elif "tcp" in by_name:
            t = by_name["tcp"]
            tcp = (field(t, "tcp.srcport"), field(t, "tcp.dstport"))
            flags = [field(t, f) or "" for f in TCP_FLAGS]
        mqtt = None
        if "mqtt" in by_name:
            m = by_name["mqtt"]
            conflags = None
            if field(m, "mqtt.conflags") is not None:
                conflags = [field(m, f"mqtt.conflag.{f}") or "" for f in CONFLAGS]
            mqtt = (field(m, "mqtt.msgtype") or "", field(m, "mqtt.len") or "", conflags)
        out[number] = row(epoch, highest, ip, udp, tcp, flags, mqtt)
        packet.clear()
    if proc.wait() != 0:
        raise RuntimeError(f"tshark -T pdml failed on {path}")
    return out


def capture_rows(path):
    """[(frame number, row)] for one capture, in frame order."""
    text = tshark(path, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a",
                  *[a for f in FIELDS for a in ("-e", f)])
    rows, doubtful = [], []
    for line in text.splitlines():
        v = dict(zip(FIELDS, line.split("\t")))
        first = {k: boolean(x.split(",")[0]) for k, x in v.items()}
        number = int(v["frame.number"])
        top = top_level(v["frame.protocols"].split(":"))
        if "udp" not in top and "tcp" not in top:
            continue
        types = [t for t in v["mqtt.msgtype"].split(",") if t]
        lens = [t for t in v["mqtt.len"].split(",") if t]
        conflag_sets = [t for t in v["mqtt.conflags"].split(",") if t]
        if (any(v[e] for e in EXCEPTIONS) or len(lens) != len(types)
                or types.count("1") != len(conflag_sets)):
            doubtful.append(number)
            rows.append((number, None))
            continue
        ip = {f: first[f] for f in IP_FIELDS} if first["ip.src"] else None
        udp = (first["udp.srcport"], first["udp.dstport"]) if "udp" in top else None
        tcp = (first["tcp.srcport"], first["tcp.dstport"]) if "tcp" in top else None
        flags = [first[f] for f in TCP_FLAGS]
        mqtt = None
        if "mqtt" in top and types:
            conflags = None
            if types[0] == "1":
                conflags = [first[f"mqtt.conflag.{f}"] for f in CONFLAGS]
            mqtt = (types[0], lens[0], conflags)
        highest = top[-1].upper() if top else ""
        rows.append((number, row(v["frame.time_epoch"], highest, ip, udp, tcp, flags, mqtt)))
    exact = pdml_rows(path, doubtful)
    return [(n, r if r is not None else exact.get(n)) for n, r in rows
            if r is not None or exact.get(n) is not None]


def fnv(h, text):
    for b in text.encode():
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFFFFFFFFFF
    return h


def summary(rel, rows):
    frames = FNV_OFFSET
    hashes = [FNV_OFFSET] * len(COLUMNS)
    for number, r in rows:
        frames = fnv(frames, f"{number}\n")
        hashes = [fnv(h, value + "\n") for h, value in zip(hashes, r)]
    cells = [f"frames={frames:016x}"] + [f"{c}={h:016x}" for c, h in zip(COLUMNS, hashes)]
    return "\t".join([rel, str(len(rows))] + cells)


def main():
    if len(sys.argv) > 2 and sys.argv[1] == "--rows":
        for path in sys.argv[2:]:
            for number, r in capture_rows(path):
                print("\t".join([str(number)] + r))
        return
    root = sys.argv[1]
    paths = sorted(
        os.path.relpath(os.path.join(d, f), root)
        for d, _, files in os.walk(root)
        for f in files
        if f.endswith((".pcap", ".pcapng", ".pcap.gz", ".pcapng.gz"))
    )
    print(f"# {COMMAND}")
    print(f"# attackers {','.join(sorted(ATTACKERS))}")
    print("# path\trows\tframes=HASH\t" + "\t".join(f"{c}=HASH" for c in COLUMNS))
    for rel in paths:
        print(summary(rel, capture_rows(os.path.join(root, rel))))


if __name__ == "__main__":
    main()
