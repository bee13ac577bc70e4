#!/usr/bin/env bash
# Fit/predict timings of mqtt-ids-learn (examples/timing.rs) and scikit-learn
# (scripts/sklearn_timing.py) on the same CSVs, model by model, alternating the two so both see
# the same machine load. Appends JSON lines to OUT; PERFORMANCE-NOTES.md takes medians from it.
#
#   scripts/compare.sh TRAIN.csv TEST.csv THREADS RUNS OUT SPEC [SPEC…]
#   (SPEC = kind[:preset]; RUNS repetitions of each side; BLAS and rayon limited to THREADS;
#   SKLEARN_TIMEOUT=SECONDS stops a scikit-learn run after that long and records a "timed_out" line)
set -euo pipefail
train=$1 test=$2 threads=$3 runs=$4 out=$5
shift 5
here=$(cd "$(dirname "$0")" && pwd)
timing=${TIMING_BIN:-/work/target-learn/release/examples/timing}
python=${PYTHON:-/work/venv-learn/bin/python}
export RAYON_NUM_THREADS=$threads OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads MKL_NUM_THREADS=$threads
echo "{\"start\":\"$(date -u +%FT%TZ)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"threads\":$threads}" >> "$out"
for spec in "$@"; do
  for _ in $(seq "$runs"); do
    nice -n 10 "$timing" "$train" "$test" "$spec" 2>/dev/null | sed 's/^{/{"side":"mqtt-ids-learn",/' >> "$out"
    if [ -n "${SKLEARN_TIMEOUT:-}" ]; then
      timeout "$SKLEARN_TIMEOUT" nice -n 10 "$python" "$here/sklearn_timing.py" "$train" "$test" "$spec" "$threads" \
        | sed 's/^{/{"side":"scikit-learn",/' >> "$out" \
        || echo "{\"side\":\"scikit-learn\",\"spec\":\"$spec\",\"threads\":$threads,\"timed_out\":$SKLEARN_TIMEOUT,\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >> "$out"
    else
      nice -n 10 "$python" "$here/sklearn_timing.py" "$train" "$test" "$spec" "$threads" | sed 's/^{/{"side":"scikit-learn",/' >> "$out"
    fi
  done
done
echo "{\"end\":\"$(date -u +%FT%TZ)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >> "$out"
