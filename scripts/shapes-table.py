#!/usr/bin/env python3
"""The two shapes side by side: tabulates ./gradlew benchShapes' results (issue 19).

Usage: scripts/shapes-table.py [DIR]   (DIR: benchmarks/build/reports/shapes)

Reads, for every JDK and binding, the newest CallerLoop result (callerloop-<binding>-jdk<N>-<date>.json: the
shared call site, plain main, medians of interleaved rounds) and the newest JMH result (jmh-<binding>-jdk<N>-
<date>.json: SharedCallSiteBenchmark = shared call site, StoreBenchmark = one store per fork). Prints a Markdown
table per JDK and binding (native, kotlin, native/kotlin, and the issue's goal where it has one) and writes
DIR/summary.csv with the same rows, which the demo's compare report shows. Standard library only.
"""

import csv
import glob
import json
import os
import re
import sys

# The goals, as native/kotlin time ratios (gets/s: 2 threads over 1 thread), by shape and op.
# get in the shared shape: <= 1.0 on JDK 22+ with the default binding (ffm), <= 1.3 on JDK 17.
GOALS = {
    ("shared call site", "get"): lambda jdk, binding: 1.3 if jdk < 22 else (1.0 if binding == "ffm" else None),
    ("one store per fork", "get"): lambda jdk, binding: 2.0,
    ("shared call site", "getMany"): lambda jdk, binding: 0.5,
    ("shared call site", "getJson"): lambda jdk, binding: 0.3,
    ("shared call site", "findByName"): lambda jdk, binding: 1.0,
}
SCALING_GOAL = 1.8

NAME = re.compile(r"^(callerloop|jmh)-(\w+)-jdk(\d+)-(.+)\.json$")


def newest(directory):
    """{(kind, binding, jdk): path} of the newest file of each kind, binding and JDK."""
    found = {}
    for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
        m = NAME.match(os.path.basename(path))
        if m:
            found[(m.group(1), m.group(2), int(m.group(3)))] = path  # sorted by date: the last one wins
    return found


def callerloop_rows(path, jdk, binding):
    with open(path, encoding="utf-8") as f:
        doc = json.load(f)
    env = doc["environment"]
    rows = []
    for s in doc["summary"]:
        if s["op"] == "scaling2tOver1t":
            store = "native" if s["store"].startswith("native") else "kotlin"
            rows.append(dict(jdk=jdk, binding=binding, shape="shared call site", source="CallerLoop",
                             op="gets/s 2t/1t (" + store + ")", unit="x", native=None, kotlin=None,
                             ratio=s["stats"]["median"], spread="%.2f..%.2f" % (s["stats"]["min"], s["stats"]["max"]),
                             goal=">= %.1f" % SCALING_GOAL, met=s["stats"]["median"] >= SCALING_GOAL))
            continue
        r = s["ratioNativeOverKotlin"]
        goal = GOALS.get(("shared call site", s["op"]), lambda j, b: None)(jdk, binding)
        rows.append(dict(jdk=jdk, binding=binding, shape="shared call site", source="CallerLoop", op=s["op"],
                         unit=s["unit"], native=s["native"]["median"], kotlin=s["kotlin"]["median"],
                         ratio=r["median"], spread="%.2f..%.2f" % (r["min"], r["max"]),
                         goal=None if goal is None else "<= %.1f" % goal,
                         met=None if goal is None else r["median"] <= goal))
    floor = doc.get("floorNsPerLoad")
    if floor:
        rows.append(dict(jdk=jdk, binding=binding, shape="machine", source="CallerLoop",
                         op="floor (%d MiB chain)" % (env.get("floorBytes", 0) >> 20), unit="ns/load",
                         native=floor["median"], kotlin=None, ratio=None,
                         spread="%.1f..%.1f" % (floor["min"], floor["max"]), goal=None, met=None))
    return rows, env


def jmh_rows(path, jdk, binding):
    with open(path, encoding="utf-8") as f:
        results = json.load(f)
    by = {}
    for r in results:
        cls, op = r["benchmark"].rsplit(".", 2)[-2:]
        shape = "shared call site" if cls == "SharedCallSiteBenchmark" else "one store per fork"
        store = r.get("params", {}).get("store")
        m = r["primaryMetric"]
        by.setdefault((shape, op), {})[store] = (m["score"], m.get("scoreError"))
    rows = []
    for (shape, op), v in sorted(by.items()):
        n, k = v.get("native"), v.get("kotlin")
        ratio = n[0] / k[0] if n and k and k[0] > 0 else None
        goal = GOALS.get((shape, op), lambda j, b: None)(jdk, binding)
        rows.append(dict(jdk=jdk, binding=binding, shape=shape, source="JMH", op=op,
                         unit="ns/id" if op == "getMany" else "ns/op",
                         native=n[0] if n else None, kotlin=k[0] if k else None, ratio=ratio,
                         spread="± %.1f / ± %.1f" % (n[1] or 0, k[1] or 0) if n and k else "",
                         goal=None if goal is None else "<= %.1f" % goal,
                         met=None if goal is None or ratio is None else ratio <= goal))
    return rows


OPS = ["get", "getMiss", "getMany", "getJson", "findByName", "getsPerSec1t", "getsPerSec2t"]
SHAPES = [("shared call site", "CallerLoop"), ("shared call site", "JMH"), ("one store per fork", "JMH")]


def order(row):
    """Side by side: each op's shapes together (CallerLoop, JMH shared, JMH per fork); scaling and floor last."""
    op = OPS.index(row["op"]) if row["op"] in OPS else len(OPS) + (row["shape"] == "machine")
    shape = (row["shape"], row["source"])
    return (op, SHAPES.index(shape) if shape in SHAPES else len(SHAPES), row["op"])


def fmt(x, digits=1):
    return "" if x is None else ("%.*f" % (digits, x) if abs(x) < 1e5 else "{:,.0f}".format(x))


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else "benchmarks/build/reports/shapes"
    files = newest(directory)
    if not files:
        print("no CallerLoop or JMH results in %s: run ./gradlew benchShapes" % directory, file=sys.stderr)
        return 1
    all_rows = []
    for jdk, binding in sorted({(j, b) for (_, b, j) in files}):
        rows, env = [], None
        if ("callerloop", binding, jdk) in files:
            r, env = callerloop_rows(files[("callerloop", binding, jdk)], jdk, binding)
            rows += r
        if ("jmh", binding, jdk) in files:
            rows += jmh_rows(files[("jmh", binding, jdk)], jdk, binding)
        rows.sort(key=order)
        print("## JDK %d, native binding %s" % (jdk, binding))
        if env:
            print("CallerLoop: %s, %s, GC %s, %s users, %s rounds, load average %.2f at start" % (
                env["date"], env["cpu"], env["gc"], env["users"], env["rounds"], env["loadAverage"]))
        print()
        print("| shape | source | op | unit | native | kotlin | native/kotlin | spread | goal | met |")
        print("|---|---|---|---|---:|---:|---:|---|---|---|")
        for r in rows:
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["shape"], r["source"], r["op"], r["unit"], fmt(r["native"]), fmt(r["kotlin"]),
                fmt(r["ratio"], 2), r["spread"], r["goal"] or "",
                "" if r["met"] is None else ("yes" if r["met"] else "no")))
        print()
        all_rows += rows
    with open(os.path.join(directory, "summary.csv"), "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["jdk", "binding", "shape", "source", "op", "unit", "native", "kotlin",
                                          "ratio", "spread", "goal", "met"])
        w.writeheader()
        for r in all_rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
    print("Ratios are native/kotlin times (below 1: native faster; getsPerSec rows: native/kotlin rates, above 1: "
          "native faster); CallerLoop's is the median of the per-round ratios, JMH's the ratio of the scores "
          "(± its 99.9% errors). gets/s 2t/1t: 2-thread over 1-thread rate.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
