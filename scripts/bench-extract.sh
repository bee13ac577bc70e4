#!/usr/bin/env bash
# Feature extraction beside tshark, same file, same run: `mqtt-ids extract` writing all four
# sets (packet, uniflow, biflow, mqttset) as CSV, against tshark exporting the MQTTset fields
# (the way MQTTset itself was made) on a >= 1 M-packet capture built from the seven MQTTset
# training captures (copies with new IPv4 hosts; `cargo bench -p mqtt-ids-features --bench
# extract` builds the same file). Peak memory from GNU time. All four sets in one pass
# (`--threads 1`) and in two passes on two threads (`--threads 2`, the default on 2 cores).
# Usage: scripts/bench-extract.sh   (needs hyperfine, tshark, /usr/bin/time; from the repo root)
set -euo pipefail
cargo build --release -q -p mqtt-ids
cargo build --release -q -p mqtt-ids-capture --example replicate
t=${CARGO_TARGET_DIR:-target}
d=target/bench-data
mkdir -p "$d"
f=$d/extract-mqttset-1m.pcapng
if [[ ! -f $f ]]; then
  inputs=$(ls ../shared/data/mqttset-train/*.pcap* | sort | paste -sd,)
  "$t"/release/examples/replicate "$inputs" "$f" 1000000
fi
fields=(tcp.flags tcp.time_delta tcp.len mqtt.conack.flags mqtt.conack.flags.reserved
  mqtt.conack.flags.sp mqtt.conack.val mqtt.conflag.cleansess mqtt.conflag.passwd
  mqtt.conflag.qos mqtt.conflag.reserved mqtt.conflag.retain mqtt.conflag.uname
  mqtt.conflag.willflag mqtt.conflags mqtt.dupflag mqtt.hdrflags mqtt.kalive mqtt.len mqtt.msg
  mqtt.msgid mqtt.msgtype mqtt.proto_len mqtt.protoname mqtt.qos mqtt.retain mqtt.sub.qos
  mqtt.suback.qos mqtt.ver mqtt.willmsg mqtt.willmsg_len mqtt.willtopic mqtt.willtopic_len)
tshark_cmd="tshark -n -r $f -o tcp.calculate_timestamps:TRUE -Y tcp -T fields -E header=y -E separator=, -E occurrence=f"
for x in "${fields[@]}"; do tshark_cmd+=" -e $x"; done
# Our CSV files go to memory (/dev/shm when there is one) as tshark's output goes to /dev/null:
# the comparison is of the work, not of this machine's disk writeback. Each timed run starts
# with an empty directory (hyperfine --prepare), so freeing the last run's files is not timed.
# OUT_BASE=/some/dir measures writing to a disk instead.
base=${OUT_BASE:-$([[ -d /dev/shm && -w /dev/shm ]] && echo /dev/shm || echo "${TMPDIR:-/tmp}")}
out=$(mktemp -d "$base/bench-extract.XXXXXX")
trap 'rm -rf "$out"' EXIT
ours="$t/release/mqtt-ids extract --threads 1 -o $out $f"
ours_threads="$t/release/mqtt-ids extract --threads 2 -o $out $f"
ours_mqttset="$t/release/mqtt-ids extract --threads 1 --set mqttset -o $out $f"
echo "packets: $("$t"/release/mqtt-ids inspect --json "$f" | python3 -c 'import json,sys; print(json.load(sys.stdin)["packets"])')"
for cmd in "$ours" "$ours_threads" "$ours_mqttset" "$tshark_cmd"; do
  rm -f "$out"/*.csv "$out"/*.json
  /usr/bin/time -f "peak RSS %M KiB, %e s wall, %U s user, %S s sys: ${cmd:0:60}" $cmd >/dev/null 2>"$out/time.txt" || true
  tail -1 "$out/time.txt"
done
hyperfine -N --warmup 1 --runs "${RUNS:-3}" --export-markdown "$f.extract-hyperfine.md" \
  --prepare "find $out -name '*.csv' -delete" \
  "$ours" "$ours_threads" "$ours_mqttset" "$tshark_cmd" 2>&1 | grep -v '^ *$'
