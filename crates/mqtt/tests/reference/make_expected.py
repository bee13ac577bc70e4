#!/usr/bin/env python3
"""tshark's MQTT message counts by type for every capture under ../shared/data (sorted by path):
  path  <count of type 0>  <count of type 1> ... <count of type 15>
made with, per file:
  tshark -n -r FILE -Y mqtt -T fields -e mqtt.msgtype -E occurrence=a
(every occurrence: one frame may carry many messages). Run from the repository root:
  python3 crates/mqtt/tests/reference/make_expected.py ../shared/data \
      > crates/mqtt/tests/reference/expected_by_type.tsv
CI re-runs it and diffs against the committed file."""
import os
import subprocess
import sys

root = sys.argv[1]
paths = sorted(
    os.path.relpath(os.path.join(d, f), root)
    for d, _, files in os.walk(root)
    for f in files
    if f.endswith((".pcap", ".pcapng"))
)
print("# path\t" + "\t".join(f"type{t}" for t in range(16)))
for rel in paths:
    out = subprocess.run(
        ["tshark", "-n", "-r", os.path.join(root, rel), "-Y", "mqtt", "-T", "fields",
         "-e", "mqtt.msgtype", "-E", "occurrence=a"],
        check=True, capture_output=True, text=True).stdout
    counts = [0] * 16
    for line in out.split():
        for t in line.split(","):
            if t:
                counts[int(t)] += 1
    print(rel + "\t" + "\t".join(map(str, counts)))
