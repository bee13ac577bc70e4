#!/usr/bin/env python3
"""tshark's MQTTset fields (Vaccari et al. 2020, Table 4) for every TCP frame of every capture under
../shared/data (sorted by path), summarised so that no megabytes of derived CSV are committed:

  path  rows  <hash of column 1>  ...  <hash of column 33>

made with, per file:

  tshark -n -r FILE -o tcp.calculate_timestamps:TRUE -Y tcp -T fields -E header=n \\
      -E separator=/t -E occurrence=f -E quote=n -e tcp.flags -e tcp.time_delta ... -e mqtt.willtopic_len

(the 33 fields in the set's order; tab-separated because tshark escapes tabs and line ends inside
strings — `-E escape=y`, its default — but not commas). A column's hash: FNV-1a 64 of each value's
UTF-8 bytes (an absent field is the empty string), then FNV-1a 64 over those cell hashes as 8
little-endian bytes each, in row order; 16 lower-case hex digits. crates/features/tests/mqttset.rs
computes the same summary from our output. Run from the repository root:

  python3 crates/features/tests/reference/make_expected_mqttset.py ../shared/data \\
      > crates/features/tests/reference/expected_mqttset.tsv

CI re-runs it and diffs against the committed file."""
import os
import subprocess
import sys

FIELDS = [
    "tcp.flags", "tcp.time_delta", "tcp.len", "mqtt.conack.flags", "mqtt.conack.flags.reserved",
    "mqtt.conack.flags.sp", "mqtt.conack.val", "mqtt.conflag.cleansess", "mqtt.conflag.passwd",
    "mqtt.conflag.qos", "mqtt.conflag.reserved", "mqtt.conflag.retain", "mqtt.conflag.uname",
    "mqtt.conflag.willflag", "mqtt.conflags", "mqtt.dupflag", "mqtt.hdrflags", "mqtt.kalive",
    "mqtt.len", "mqtt.msg", "mqtt.msgid", "mqtt.msgtype", "mqtt.proto_len", "mqtt.protoname",
    "mqtt.qos", "mqtt.retain", "mqtt.sub.qos", "mqtt.suback.qos", "mqtt.ver", "mqtt.willmsg",
    "mqtt.willmsg_len", "mqtt.willtopic", "mqtt.willtopic_len",
]

FNV_OFFSET = 0xCBF29CE484222325
FNV_PRIME = 0x100000001B3
MASK = (1 << 64) - 1


def fnv1a(data, h=FNV_OFFSET):
    for b in data:
        h = ((h ^ b) * FNV_PRIME) & MASK
    return h


def tshark_rows(path):
    """The rows of one capture: lists of 33 strings (empty when absent)."""
    cmd = ["tshark", "-n", "-r", path, "-o", "tcp.calculate_timestamps:TRUE", "-Y", "tcp",
           "-T", "fields", "-E", "header=n", "-E", "separator=/t", "-E", "occurrence=f",
           "-E", "quote=n"]
    for f in FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, check=True, capture_output=True).stdout
    rows = []
    for line in out.split(b"\n")[:-1]:
        cells = line.split(b"\t")
        assert len(cells) == len(FIELDS), (path, line)
        rows.append(cells)
    return rows


def main():
    root = sys.argv[1]
    paths = sorted(
        os.path.relpath(os.path.join(d, f), root)
        for d, _, files in os.walk(root)
        for f in files
        if f.endswith((".pcap", ".pcapng"))
    )
    print("# tshark's MQTTset fields per capture: rows, then one hash per column (see the command"
          " and hash in make_expected_mqttset.py):")
    print("#   tshark -n -r FILE -o tcp.calculate_timestamps:TRUE -Y tcp -T fields -E header=n"
          " -E separator=/t -E occurrence=f -E quote=n -e FIELD ...")
    print("# path\trows\t" + "\t".join(FIELDS))
    for rel in paths:
        rows = tshark_rows(os.path.join(root, rel))
        hashes = []
        for i in range(len(FIELDS)):
            h = FNV_OFFSET
            for row in rows:
                h = fnv1a(fnv1a(row[i]).to_bytes(8, "little"), h)
            hashes.append(f"{h:016x}")
        print(f"{rel}\t{len(rows)}\t" + "\t".join(hashes))


if __name__ == "__main__":
    main()
