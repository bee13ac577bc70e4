#!/usr/bin/env bash
# Whole-process timing of the capture layer beside the reference tools, on the same file in the
# same run: `mqtt-ids inspect` (read + decode + count), `capinfos` (read + count) and
# `cat FILE >/dev/null` (the floor: page-cache copy). Also the peak memory of inspect on the
# 1 M-packet file and on a 4x larger one, to show memory is flat in file size.
#
# Usage: scripts/bench-capture.sh   (needs hyperfine, capinfos; run from the repository root)
# The 1 M-packet capture is made by `cargo bench -p mqtt-ids-capture --bench read`.
set -euo pipefail
cargo build --release -q
file=target/bench-data/mqttset-replicated.pcapng
if [[ ! -f $file ]]; then
  cargo bench -q -p mqtt-ids-capture --bench read -- --test >/dev/null
fi
packets=$(capinfos -M -T -r -c "$file" | cut -f2)
echo "file: $file, $packets packets, $(stat -c %s "$file") bytes"
hyperfine --warmup 2 --runs 10 -N --export-markdown target/bench-data/capture-hyperfine.md \
  "target/release/mqtt-ids inspect $file" \
  "capinfos $file" \
  "cat $file" 2>&1 | grep -v "^ *$"
big=target/bench-data/mqttset-replicated-x4.pcapng
[[ -f $big ]] || mergecap -a -w "$big" "$file" "$file" "$file" "$file"
for f in "$file" "$big"; do
  /usr/bin/time -f "peak RSS %M KiB  ($f)" target/release/mqtt-ids inspect "$f" >/dev/null
done
