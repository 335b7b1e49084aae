#!/usr/bin/env python3
"""Turns JMH result files of StoreBenchmark into the README's table: native and Kotlin time per
operation, their ratio, the issue's target and whether this run meets it. When the runs have the
store `native-jni` too (JDK 22+: `native` is then the FFM binding), it gets its own columns.

Usage: scripts/jmh-table.py [--targets get=1.0,getMany=0.5,getJson=0.3] RESULTS.json [MORE.json ...]
(the default targets are issue 11's for JDK 25; on JDK 17 its target is get=1.5).

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
TARGETS = {"get": 1.0, "getMany": 0.5, "getJson": 0.3}
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
        if not entry["benchmark"].rsplit(".", 2)[-2].endswith("StoreBenchmark"):
            continue
        out[(name, entry["params"]["store"])] = statistics.median(raw)
    return out


def ratio_cell(ratios):
    if not ratios:
        return "—"
    cell = f"{statistics.median(ratios):.2f}"
    if len(ratios) > 1:
        cell += f" ({min(ratios):.2f}–{max(ratios):.2f})"
    return cell


def main(paths):
    runs = [run_medians(p) for p in paths]
    names = sorted({n for r in runs for n, _ in r}, key=lambda n: ORDER.index(n) if n in ORDER else 99)
    jni = any(store == "native-jni" for r in runs for _, store in r)

    def figures(name, store):
        return [r[(name, store)] for r in runs if (name, store) in r]

    def ratios(name, store):
        return [r[(name, store)] / r[(name, "kotlin")] for r in runs if (name, store) in r and (name, "kotlin") in r]

    cell = lambda xs: f"{statistics.median(xs):,.1f}" if xs else "—"
    if jni:
        print("| operation | native, default binding (ns) | native, JNI (ns) | Kotlin (ns) | default / Kotlin | JNI / Kotlin | target | met |")
        print("|---|---:|---:|---:|---:|---:|---:|---|")
    else:
        print("| operation | native (ns) | Kotlin (ns) | native / Kotlin | target | met |")
        print("|---|---:|---:|---:|---:|---|")
    for name in names:
        label = LABELS.get(name, name)
        if name.startswith("emptyNativeCall"):
            # The Kotlin row runs the default binding's call: one figure per binding.
            default = figures(name, "native") + figures(name, "kotlin")
            if jni:
                print(f"| {label} | {cell(default)} | {cell(figures(name, 'native-jni'))} | — | — | — | — | |")
            else:
                print(f"| {label} | {cell(default)} | — | — | — | |")
            continue
        target = TARGETS.get(name)
        default_ratios = ratios(name, "native")
        met = ""
        if target is not None and default_ratios:
            r = statistics.median(default_ratios)
            met = "yes" if r <= target else f"no ({r / target:.1f}x over)"
        goal = f"<= {target}" if target else "—"
        if jni:
            print(f"| {label} | {cell(figures(name, 'native'))} | {cell(figures(name, 'native-jni'))} | "
                  f"{cell(figures(name, 'kotlin'))} | {ratio_cell(default_ratios)} | "
                  f"{ratio_cell(ratios(name, 'native-jni'))} | {goal} | {met} |")
        else:
            print(f"| {label} | {cell(figures(name, 'native'))} | {cell(figures(name, 'kotlin'))} | "
                  f"{ratio_cell(default_ratios)} | {goal} | {met} |")
    print(f"\n{len(runs)} run(s): " + ", ".join(paths))


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--targets"] and len(args) > 1:
        TARGETS = {k: float(v) for k, v in (kv.split("=") for kv in args[1].split(","))}
        args = args[2:]
    if not args:
        sys.exit(__doc__)
    main(args)
