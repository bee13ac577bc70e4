#!/usr/bin/env python3
"""scikit-learn fit/predict timings with the hyper-parameters of mqtt-ids-learn's presets, on the
same CSVs as `cargo run --release --example timing` (label column `target`).

    /work/venv-learn/bin/python scripts/sklearn_timing.py TRAIN.csv TEST.csv rf:mqttset2020,nb [N_JOBS]

Prints one JSON object per model (an MLP also gives its epochs, `n_iter_`, and last loss). Models that standardise inside mqtt-ids-learn get a
StandardScaler in front here, and the scaler's time counts. `fit_cpu_s` is the process's CPU time
during the fit (all threads), as examples/timing.rs reports it. SEED=N in the environment
replaces the preset's random_state.
"""
import json
import os
import sys
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC
from sklearn.tree import DecisionTreeClassifier


def make(kind, preset, n_jobs):
    s = lambda m: make_pipeline(StandardScaler(), m)
    table = {
        ("nb", "default"): lambda: GaussianNB(),
        ("lr", "default"): lambda: s(LogisticRegression()),
        ("knn", "default"): lambda: s(KNeighborsClassifier(5, n_jobs=n_jobs)),
        ("svm-linear", "default"): lambda: s(LinearSVC(dual=True)),
        ("svm-rbf", "default"): lambda: s(SVC()),
        ("dt", "default"): lambda: DecisionTreeClassifier(random_state=0),
        ("dt", "hindy2020"): lambda: DecisionTreeClassifier(criterion="entropy", random_state=0),
        ("dt", "mqttset2020"): lambda: DecisionTreeClassifier(random_state=7),
        ("rf", "default"): lambda: RandomForestClassifier(random_state=0, n_jobs=n_jobs),
        ("rf", "hindy2020"): lambda: RandomForestClassifier(10, criterion="entropy", random_state=0, n_jobs=n_jobs),
        ("rf", "mqttset2020"): lambda: RandomForestClassifier(random_state=7, n_jobs=n_jobs),
        ("gb", "mqttset2020"): lambda: GradientBoostingClassifier(n_estimators=20, random_state=7),
        ("mlp", "mqttset2020"): lambda: s(MLPClassifier(max_iter=130, batch_size=1000, random_state=7)),
        ("mlp", "keras"): lambda: s(MLPClassifier((50, 30, 20), alpha=0.0, batch_size=32, max_iter=10, random_state=7)),
    }
    return table[(kind, preset)]()


def main():
    warnings.filterwarnings("ignore")
    train = pd.read_csv(sys.argv[1])
    test = pd.read_csv(sys.argv[2])
    n_jobs = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    xtr = train.drop(columns=["target"]).to_numpy(np.float32)
    ytr = train["target"].to_numpy()
    xte = test.drop(columns=["target"]).to_numpy(np.float32)
    yte = test["target"].to_numpy()
    for spec in sys.argv[3].split(","):
        kind, _, preset = spec.partition(":")
        preset = preset or "default"
        model = make(kind, preset, n_jobs)
        if os.environ.get("SEED"):
            # SEED=N replaces the preset's random_state (as examples/timing.rs's SEED does).
            name = model.steps[-1][0] + "__random_state" if hasattr(model, "steps") else "random_state"
            model.set_params(**{name: int(os.environ["SEED"])})
        t, cpu = time.perf_counter(), time.process_time()
        model.fit(xtr, ytr)
        fit_s, fit_cpu_s = time.perf_counter() - t, time.process_time() - cpu
        t = time.perf_counter()
        pred = model.predict(xte)
        predict_s = time.perf_counter() - t
        row = {"kind": kind, "preset": preset, "train_rows": len(xtr), "test_rows": len(xte),
               "n_jobs": n_jobs, "fit_s": round(fit_s, 4), "fit_cpu_s": round(fit_cpu_s, 2), "predict_s": round(predict_s, 4),
               "accuracy": round(float((pred == yte).mean()), 4)}
        last = model.steps[-1][1] if hasattr(model, "steps") else model
        if isinstance(last, MLPClassifier):
            # Epochs run and the last training loss, as examples/timing.rs prints them.
            row["epochs"] = int(last.n_iter_)
            row["loss"] = float(last.loss_)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
