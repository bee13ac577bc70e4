#!/usr/bin/env bash
# Capture + MQTT dissection beside tshark, same files, same run: `mqtt-ids inspect` (read,
# decode, reassemble, dissect every MQTT message, count) against tshark dissecting the same
# messages (`-Y mqtt -T fields -e mqtt.msgtype -E occurrence=a`).
# Inputs: benign-5mb (benign-heavy) replicated to >= 1 M packets, and flood (one 32 KB frame
# carries up to 1,927 PUBLISH) replicated 200x, each copy as new connections.
# Usage: scripts/bench-mqtt.sh   (needs hyperfine and tshark; run from the repository root)
set -euo pipefail
cargo build --release -q
cargo build --release -q -p mqtt-ids-capture --example replicate
d=target/bench-data
mkdir -p "$d"
[[ -f $d/benign-1m.pcapng ]] || target/release/examples/replicate \
  ../shared/data/mqttset-train/benign-5mb-train.pcap "$d/benign-1m.pcapng" 1000000
[[ -f $d/flood-x200.pcapng ]] || target/release/examples/replicate \
  ../shared/data/mqttset-train/flood-train.pcap "$d/flood-x200.pcapng" 11600
for f in "$d/benign-1m.pcapng" "$d/flood-x200.pcapng"; do
  target/release/mqtt-ids inspect --json "$f" | python3 -c \
    'import json,sys; v=json.load(sys.stdin); print(v["file"], v["packets"], "packets", v["mqtt"]["messages"], "MQTT messages")'
  hyperfine -N --warmup 1 --runs "${RUNS:-3}" --export-markdown "$f.hyperfine.md" \
    "target/release/mqtt-ids inspect $f" \
    "tshark -n -r $f -Y mqtt -T fields -e mqtt.msgtype -E occurrence=a" 2>&1 | grep -v '^ *$'
done
