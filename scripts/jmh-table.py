#!/usr/bin/env python3
"""Turns JMH result files of StoreBenchmark into the README's table: native and Kotlin time per
operation, their ratio, the issue's target and whether this run meets it.

Usage: scripts/jmh-table.py RESULTS.json [MORE.json ...]

Each file is one run (`./gradlew jmh` writes kotlin-demo/build/reports/jmh/results-<date>.json).
Within a run the figure of a benchmark is the median of its measurement iterations (all forks),
which a noisy machine disturbs less than the mean; the ratio is native / Kotlin within that run.
With several runs, every column is the median over the runs, and the ratio column also gives the
lowest and highest run's ratio.
"""
import json
import statistics
import sys

# The targets: native time / Kotlin time, at most.
TARGETS = {"get": 1.2, "getMany": 0.8, "getJson": 0.5, "put": 1.5}
LABELS = {
    "emptyNativeCall": "empty native call (floor, lean wrapper)",
    "emptyNativeCallWithEnv": "empty native call through jni-rs's with_env",
    "get": "get (random ids)",
    "getCached": "get over 256 ids (in cache)",
    "getMany": "getMany (1024 ids), per id",
    "getJson": "getJson",
    "put": "put (replace, new name)",
    "findByName": "findByName",
}
ORDER = list(LABELS)


def run_medians(path):
    """{(benchmark, store): median ns} of one results file."""
    out = {}
    for entry in json.load(open(path)):
        name = entry["benchmark"].rsplit(".", 1)[1]
        raw = [x for fork in entry["primaryMetric"]["rawData"] for x in fork]
        out[(name, entry["params"]["store"])] = statistics.median(raw)
    return out


def main(paths):
    runs = [run_medians(p) for p in paths]
    names = sorted({n for r in runs for n, _ in r}, key=lambda n: ORDER.index(n) if n in ORDER else 99)
    print("| operation | native (ns) | Kotlin (ns) | native / Kotlin | target | met |")
    print("|---|---:|---:|---:|---:|---|")
    for name in names:
        native = [r[(name, "native")] for r in runs if (name, "native") in r]
        kotlin = [r[(name, "kotlin")] for r in runs if (name, "kotlin") in r]
        ratios = [r[(name, "native")] / r[(name, "kotlin")] for r in runs
                  if (name, "native") in r and (name, "kotlin") in r]
        label = LABELS.get(name, name)
        if name.startswith("emptyNativeCall"):
            # Both store parameters run the same call: one figure.
            both = native + kotlin
            print(f"| {label} | {statistics.median(both):,.1f} | — | — | — | |")
            continue
        cell = lambda xs: f"{statistics.median(xs):,.1f}" if xs else "—"
        ratio = "—"
        if ratios:
            ratio = f"{statistics.median(ratios):.2f}"
            if len(ratios) > 1:
                ratio += f" ({min(ratios):.2f}–{max(ratios):.2f})"
        target = TARGETS.get(name)
        met = ""
        if target is not None and ratios:
            met = "yes" if statistics.median(ratios) <= target else f"no ({statistics.median(ratios) / target:.1f}x over)"
        print(f"| {label} | {cell(native)} | {cell(kotlin)} | {ratio} | {'<= %s' % target if target else '—'} | {met} |")
    print(f"\n{len(runs)} run(s): " + ", ".join(paths))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
