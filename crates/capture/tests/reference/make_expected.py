#!/usr/bin/env python3
"""Expected per-capture numbers for the capture layer's golden test, from the reference tools.

For every capture under ../shared/data (sorted by path), writes one tab-separated row:
  path  packets  bytes  first_ts  last_ts  ipv4  ipv6  tcp  udp
- packets, bytes:   capinfos -M -c -d   (packet count; "data size" = sum of captured lengths)
- first/last_ts:    min/max of tshark's frame.time_epoch (nanosecond strings)
- ipv4 .. udp:      tshark frame.protocols: first network layer after the link layer, and the
                    transport layer right after it

Run from the repository root:
  python3 crates/capture/tests/reference/make_expected.py ../shared/data \
      > crates/capture/tests/reference/expected.tsv
CI re-runs it and diffs against the committed file, so the numbers stay tied to tshark.
"""
import os
import subprocess
import sys


def capinfos(path):
    out = subprocess.run(["capinfos", "-M", "-T", "-r", "-c", "-d", path],
                         check=True, capture_output=True, text=True).stdout.strip().split("\t")
    # -T -r: tab-separated, no header: file, packets, data size
    return int(out[1]), int(out[2])


def tshark(path):
    out = subprocess.run(["tshark", "-n", "-r", path, "-T", "fields",
                          "-e", "frame.time_epoch", "-e", "frame.protocols"],
                         check=True, capture_output=True, text=True).stdout
    first = last = None
    counts = dict(ipv4=0, ipv6=0, tcp=0, udp=0)
    for line in out.splitlines():
        epoch, protocols = line.split("\t")
        ns = to_ns(epoch)
        first = ns if first is None else min(first, ns)
        last = ns if last is None else max(last, ns)
        layers = protocols.split(":")
        for i, layer in enumerate(layers):
            if layer in ("ip", "ipv6"):
                counts["ipv4" if layer == "ip" else "ipv6"] += 1
                rest = [l for l in layers[i + 1:] if not l.startswith("ipv6.")]
                if rest and rest[0] in ("tcp", "udp"):
                    counts[rest[0]] += 1
                break
    return first, last, counts


def to_ns(epoch):
    sec, _, frac = epoch.partition(".")
    return int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])


def main():
    root = sys.argv[1]
    paths = []
    for d, _, files in os.walk(root):
        for f in files:
            if f.endswith((".pcap", ".pcapng", ".cap", ".pcap.gz")):
                paths.append(os.path.relpath(os.path.join(d, f), root))
    print("# path\tpackets\tbytes\tfirst_ts_ns\tlast_ts_ns\tipv4\tipv6\ttcp\tudp")
    for rel in sorted(paths):
        full = os.path.join(root, rel)
        packets, size = capinfos(full)
        first, last, c = tshark(full)
        print(f"{rel}\t{packets}\t{size}\t{first}\t{last}\t{c['ipv4']}\t{c['ipv6']}\t{c['tcp']}\t{c['udp']}")


if __name__ == "__main__":
    main()
