#!/usr/bin/env bash
# Byte-identity check for `mqtt-ids extract`: runs two builds (OLD, NEW) over every shared
# capture (../shared/data, 47 files) with every set and a few option variants, and `cmp`s each
# CSV (and Parquet) file they write, and their messages. For performance work on the
# extractor: build the old binary, keep a copy, make the change, build again, then
#   scripts/extract-identical.sh /tmp/mqtt-ids.old target/release/mqtt-ids
# Exit status 1 and the differing files listed when any output differs (KEEP=1 keeps them).
set -euo pipefail
old=${1:?usage: $0 OLD_BINARY NEW_BINARY}
new=${2:?usage: $0 OLD_BINARY NEW_BINARY}
data=${DATA:-../shared/data}
work=$(mktemp -d)
if [[ -n ${KEEP:-} ]]; then echo "outputs kept in $work"; else trap 'rm -rf "$work"' EXIT; fi
variants=(
  "--set all"
  "--set mqttset,packet --empty-absent --label flood"
  "--set packet,uniflow,biflow --attacker 192.168.2.5,10.0.0.0/8 --label dos"
  "--set uniflow,biflow --flow-timeout 2s,10s"
  "--set uniflow,biflow --max-flows 3"
  "--set packet,uniflow,biflow,mqttset --format parquet"
)
files=0 outputs=0 differ=0
while IFS= read -r f; do
  files=$((files + 1))
  for v in "${!variants[@]}"; do
    for which in old new; do
      bin=$old
      [[ $which == new ]] && bin=$new
      dir=$work/$which/$files-$v
      mkdir -p "$dir"
      # shellcheck disable=SC2086
      "$bin" extract ${variants[$v]} -o "$dir" "$f" >/dev/null 2>"$dir.stderr" || echo "exit $? for $which on $f (${variants[$v]})" >>"$dir.stderr"
    done
    for csv in "$work/old/$files-$v"/*.csv "$work/old/$files-$v"/*.parquet; do
      [[ -e $csv ]] || continue
      outputs=$((outputs + 1))
      if ! cmp -s "$csv" "$work/new/$files-$v/$(basename "$csv")"; then
        differ=$((differ + 1))
        echo "DIFFERS: $f (${variants[$v]}): $(basename "$csv")"
      fi
    done
    if [[ $(ls "$work/old/$files-$v" | wc -l) != $(ls "$work/new/$files-$v" | wc -l) ]]; then
      differ=$((differ + 1))
      echo "DIFFERENT FILE SETS: $f (${variants[$v]})"
    fi
    if ! cmp -s <(sed "s|$work/old|DIR|g" "$work/old/$files-$v.stderr") \
      <(sed "s|$work/new|DIR|g" "$work/new/$files-$v.stderr"); then
      echo "note: stderr differs on $f (${variants[$v]})"
    fi
  done
done < <(find "$data" -name '*.pcap' -o -name '*.pcapng' | sort)
echo "$files captures, ${#variants[@]} option variants, $outputs outputs compared, $differ differ"
[[ $differ == 0 && $outputs -gt 0 ]]
