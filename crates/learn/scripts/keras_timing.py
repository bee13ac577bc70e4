#!/usr/bin/env python3
"""Keras fit/predict timing of Vaccari et al. 2020's network, the reference for mqtt-ids-learn's
`mlp:keras` preset, on the same CSVs as `cargo run --release --example timing` (label column
`target`).

    /work/venv-keras/bin/python scripts/keras_timing.py TRAIN.csv TEST.csv THREADS [EPOCHS] [BATCH]

The network as the paper describes it (MQTTset, section 5): Sequential, Dense 50-30-20 with ReLU
and `kernel_initializer="normal"` (Keras's RandomNormal, stddev 0.05), a softmax output layer
with Keras's default initialiser (Glorot uniform, as ours), seed 7. The paper gives neither
epochs, batch size nor optimiser settings; the preset's choice is used on both sides: 10 epochs,
batch 32 (Keras's default), Adam with learning rate 1e-3 (Keras's default; its epsilon is 1e-7,
ours 1e-8), sparse categorical cross-entropy, shuffled every epoch. Features are standardised
(mean and standard deviation of the training rows, constant columns
kept, as scikit-learn's StandardScaler) inside the timed fit, as mqtt-ids-learn standardises inside the model.

THREADS limits the process to that many cores (sched_setaffinity) and XLA's CPU thread pool.
Prints one JSON object: fit seconds (the first epoch includes XLA compilation; `first_epoch_s`
and `epoch_s_median` separate it), predict seconds, accuracy, versions.
"""
import json
import os
import sys
import time

threads = int(sys.argv[3])
os.sched_setaffinity(0, set(range(threads)))
os.environ.setdefault("KERAS_BACKEND", "jax")
os.environ["XLA_FLAGS"] = (
    f"--xla_cpu_multi_thread_eigen={'true' if threads > 1 else 'false'} "
    f"intra_op_parallelism_threads={threads}"
)
os.environ["OMP_NUM_THREADS"] = str(threads)

import keras  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


class EpochTimes(keras.callbacks.Callback):
    def on_train_begin(self, logs=None):
        self.times = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.times.append(time.perf_counter() - self.start)


def main():
    epochs = int(sys.argv[4]) if len(sys.argv) > 4 else 10
    batch = int(sys.argv[5]) if len(sys.argv) > 5 else 32
    train = pd.read_csv(sys.argv[1])
    test = pd.read_csv(sys.argv[2])
    classes = sorted(set(train["target"]))
    index = {c: i for i, c in enumerate(classes)}
    xtr = train.drop(columns=["target"]).to_numpy(np.float32)
    ytr = train["target"].map(index).to_numpy(np.int32)
    xte = test.drop(columns=["target"]).to_numpy(np.float32)
    yte = test["target"].map(lambda c: index.get(c, -1)).to_numpy(np.int32)
    keras.utils.set_random_seed(7)
    normal = "normal"
    model = keras.Sequential(
        [
            keras.Input(shape=(xtr.shape[1],)),
            keras.layers.Dense(50, activation="relu", kernel_initializer=normal),
            keras.layers.Dense(30, activation="relu", kernel_initializer=normal),
            keras.layers.Dense(20, activation="relu", kernel_initializer=normal),
            keras.layers.Dense(len(classes), activation="softmax"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=1e-3),
        loss="sparse_categorical_crossentropy",
    )
    timer = EpochTimes()
    t = time.perf_counter()
    mean = xtr.mean(axis=0, dtype=np.float64)
    scale = xtr.std(axis=0, dtype=np.float64)
    scale[scale == 0] = 1.0

    def standardise(x):
        return ((x - mean) / scale).astype(np.float32)

    model.fit(standardise(xtr), ytr, epochs=epochs, batch_size=batch, shuffle=True,
              verbose=0, callbacks=[timer])
    fit_s = time.perf_counter() - t
    t = time.perf_counter()
    pred = model.predict(standardise(xte), batch_size=4096, verbose=0).argmax(axis=1)
    predict_s = time.perf_counter() - t
    print(json.dumps({
        "kind": "mlp", "preset": "keras", "train_rows": len(xtr), "test_rows": len(xte),
        "threads": threads, "epochs": epochs, "batch": batch, "fit_s": round(fit_s, 4),
        "first_epoch_s": round(timer.times[0], 4),
        "epoch_s_median": round(float(np.median(timer.times[1:] or timer.times)), 4),
        "predict_s": round(predict_s, 4), "accuracy": round(float((pred == yte).mean()), 4),
        "keras": keras.__version__, "backend": keras.backend.backend(),
    }), flush=True)


if __name__ == "__main__":
    main()
