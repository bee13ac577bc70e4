#!/usr/bin/env bash
# Fit/predict timings of mqtt-ids-learn's `mlp:keras` preset (examples/timing.rs) and of the
# Keras network it reproduces (scripts/keras_timing.py: Vaccari et al. 2020's 50-30-20 ReLU,
# normal init, softmax; 10 epochs, batch 32, Adam 1e-3) on the same CSVs, alternating the two
# so both see the same machine load. Appends JSON lines to OUT.
#
#   scripts/compare_keras.sh TRAIN.csv TEST.csv THREADS RUNS OUT
#   (Keras in its own virtualenv: python3 -m venv /work/venv-keras &&
#    /work/venv-keras/bin/pip install keras "jax[cpu]" pandas; KERAS_PYTHON overrides it)
set -euo pipefail
train=$1 test=$2 threads=$3 runs=$4 out=$5
here=$(cd "$(dirname "$0")" && pwd)
timing=${TIMING_BIN:-/work/target-learn/release/examples/timing}
python=${KERAS_PYTHON:-/work/venv-keras/bin/python}
export RAYON_NUM_THREADS=$threads
echo "{\"start\":\"$(date -u +%FT%TZ)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"threads\":$threads}" >> "$out"
for _ in $(seq "$runs"); do
  nice -n 10 "$timing" "$train" "$test" mlp:keras 2>/dev/null | sed 's/^{/{"side":"mqtt-ids-learn",/' >> "$out"
  nice -n 10 "$python" "$here/keras_timing.py" "$train" "$test" "$threads" 10 32 2>/dev/null | sed 's/^{/{"side":"keras",/' >> "$out"
done
echo "{\"end\":\"$(date -u +%FT%TZ)\",\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >> "$out"
