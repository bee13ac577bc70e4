#!/usr/bin/env python3
"""Medians and ratios from the JSON lines of scripts/compare.sh, as a Markdown table.

    python3 scripts/summarise_timings.py RESULTS.jsonl [FIRST-LAST:LABEL …]

With line ranges, each range is summarised on its own and its rows carry LABEL (e.g. the
commit of the binary that produced them).
"""
import json
import statistics
import sys
from collections import defaultdict


def main():
    lines = open(sys.argv[1]).read().splitlines()
    ranges = []
    for spec in sys.argv[2:]:
        span, _, label = spec.partition(":")
        first, _, last = span.partition("-")
        ranges.append((int(first), int(last), label))
    if not ranges:
        ranges = [(1, len(lines), "")]
    runs = defaultdict(list)
    for first, last, label in ranges:
        for line in lines[first - 1:last]:
            line = line.strip()
            if not line.startswith("{") or '"side"' not in line:
                continue
            r = json.loads(line)
            threads = r.get("threads", r.get("n_jobs"))
            key = (label, r["kind"], r["preset"], r["train_rows"], r["test_rows"], threads)
            runs[key].append(r)
    print("| set | model | preset | train / test rows | threads | runs | fit s: ours / scikit-learn (ratio) "
          "| predict s: ours / scikit-learn | accuracy: ours / scikit-learn |")
    print("|---|---|---|---|---:|---:|---|---|---|")
    for key, rs in runs.items():
        label, kind, preset, ntr, nte, threads = key
        side = {s: [r for r in rs if r["side"] == s] for s in ("mqtt-ids-learn", "scikit-learn")}
        if not side["mqtt-ids-learn"] or not side["scikit-learn"]:
            continue
        med = lambda s, f: statistics.median(r[f] for r in side[s])
        fo, fs = med("mqtt-ids-learn", "fit_s"), med("scikit-learn", "fit_s")
        po, ps = med("mqtt-ids-learn", "predict_s"), med("scikit-learn", "predict_s")
        ao, as_ = med("mqtt-ids-learn", "accuracy"), med("scikit-learn", "accuracy")
        n = min(len(side["mqtt-ids-learn"]), len(side["scikit-learn"]))
        print(f"| {label} | {kind} | {preset} | {ntr // 1000}k / {nte // 1000}k | {threads} | {n} | "
              f"{fo:.3f} / {fs:.3f} (**{fs / fo:.1f}×**) | {po:.3f} / {ps:.3f} | {ao:.4f} / {as_:.4f} |")


if __name__ == "__main__":
    main()
