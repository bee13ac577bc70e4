#!/usr/bin/env python3
"""Benchmark matrices for PERFORMANCE-NOTES.md (not committed: written to a directory given on
the command line). Like ../shared/guide/ML-CHOICES.md: 30 features, 5 classes, mixed scales,
integer "port/flag" columns, 2 % label noise; train and test CSVs with a `target` column.

    /work/venv-learn/bin/python scripts/make_bench_data.py OUT_DIR N_TRAIN N_TEST
"""
import os
import sys

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification


def main():
    out, n_train, n_test = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    n = n_train + n_test
    x, y = make_classification(
        n_samples=n, n_features=30, n_informative=18, n_redundant=4, n_classes=5,
        n_clusters_per_class=3, weights=[0.45, 0.2, 0.15, 0.12, 0.08], flip_y=0.02,
        random_state=20261121,
    )
    rng = np.random.default_rng(7)
    x = x * rng.choice([0.01, 1, 10, 1000], size=30) + rng.choice([0, 5, 100], size=30)
    for j in range(24, 30):  # integer-valued columns (ports, flags, counts)
        x[:, j] = np.round(np.abs(x[:, j]))
    x = x.astype(np.float32)
    cols = [f"f{j:02d}" for j in range(30)]
    for name, sl in (("train", slice(0, n_train)), ("test", slice(n_train, n))):
        df = pd.DataFrame(x[sl], columns=cols)
        df["target"] = [f"c{c}" for c in y[sl]]
        df.to_csv(os.path.join(out, f"{name}_{n_train // 1000}k.csv"), index=False, float_format="%.7g")


if __name__ == "__main__":
    main()
