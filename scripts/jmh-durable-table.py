#!/usr/bin/env python3
"""Turns JMH result files of DurableBenchmark (issue 13) into a table per store: acknowledged puts per second
and the latency of one put (p50, p99, p99.9) for each sync mode and writer count, each against the memory-only
store's (sync=MEMORY) of the same store and writer count in the same run, and the issue's goals:

  Sync.ALWAYS, 1 writer:  at least 5,000 puts/s
  Sync.ALWAYS, 8 writers: at least 4 x its 1-writer figure (group commit: concurrent writers share an fdatasync)
  Sync.BATCH:             at least 0.5 x the memory-only store's puts/s (each writer count)

Usage: scripts/jmh-durable-table.py RESULTS.json [MORE.json ...]   (./gradlew jmhDurable prints it itself)

Throughput is the median of the measured iterations (Mode.Throughput, all threads together); latencies are
JMH's percentiles over all samples of the SampleTime run. With several files (runs), every figure is the median
over the runs, and the ratios are taken within each run first, then their median (lowest and highest in brackets).
"""
import json
import statistics
import sys

MODES = ["MEMORY", "ALWAYS", "BATCH", "NONE"]
ALWAYS_ONE_WRITER = 5000.0
GROUP_COMMIT = 4.0
BATCH_SHARE = 0.5


def load(path):
    """{(store, sync, threads): {"ops": puts/s, "p50"/"p99"/"p999": µs}} of one results file."""
    out = {}
    for e in json.load(open(path)):
        cls = e["benchmark"].rsplit(".", 2)[-2]
        if cls.endswith("SyncFloorBenchmark"):
            key = ("floor", "fdatasync", e["threads"])
        elif cls.endswith("DurableBenchmark"):
            key = (e["params"]["store"], e["params"]["sync"], e["threads"])
        else:
            continue
        m = e["primaryMetric"]
        unit = m["scoreUnit"]  # ops/us (thrpt) or us/op (sample), as @OutputTimeUnit says
        scale = {"ns": 1e-3, "us": 1.0, "ms": 1e3, "s": 1e6}
        cell = out.setdefault(key, {})
        if e["mode"] == "thrpt":
            per = unit.split("/")[1]
            raw = [x for fork in m["rawData"] for x in fork]
            cell["ops"] = statistics.median(raw) / scale[per] * 1e6
        elif e["mode"] == "sample":
            per = unit.split("/")[0]
            p = m["scorePercentiles"]
            cell["p50"] = p["50.0"] * scale[per]
            cell["p99"] = p["99.0"] * scale[per]
            cell["p999"] = p["99.9"] * scale[per]
    return out


def med(xs):
    return statistics.median(xs) if xs else None


def num(x, fmt="{:,.0f}"):
    return "—" if x is None else fmt.format(x)


def lat(us):
    if us is None:
        return "—"
    return f"{us:,.2f} µs" if us < 1000 else f"{us / 1000:,.2f} ms"


def ratio_cell(rs, fmt="{:.3f}"):
    if not rs:
        return "—"
    cell = fmt.format(statistics.median(rs))
    if len(rs) > 1:
        cell += f" ({fmt.format(min(rs))}–{fmt.format(max(rs))})"
    return cell


def main(paths):
    runs = [load(p) for p in paths]
    stores = sorted({k[0] for r in runs for k in r if k[0] != "floor"}, key=lambda s: (s != "native", s))
    threads = sorted({k[2] for r in runs for k in r if k[0] != "floor"})

    def fig(store, sync, t, what):
        return med([r[(store, sync, t)][what] for r in runs if what in r.get((store, sync, t), {})])

    def ratios(store, sync, t, base_sync, base_t, what="ops"):
        out = []
        for r in runs:
            a, b = r.get((store, sync, t), {}).get(what), r.get((store, base_sync, base_t), {}).get(what)
            if a and b:
                out.append(a / b)
        return out

    floor = med([r[("floor", "fdatasync", 1)]["ops"] for r in runs if "ops" in r.get(("floor", "fdatasync", 1), {})])
    if floor is not None or any(("floor", "fdatasync", 1) in r for r in runs):
        print("This disk's floor (SyncFloorBenchmark: one thread appends 40 bytes and calls FileChannel.force(false), "
              f"i.e. fdatasync): {num(floor)} syncs/s, p50 {lat(fig('floor', 'fdatasync', 1, 'p50'))}, "
              f"p99 {lat(fig('floor', 'fdatasync', 1, 'p99'))}, p99.9 {lat(fig('floor', 'fdatasync', 1, 'p999'))}; "
              "one Sync.ALWAYS writer cannot beat it.")
    goals = []
    for store in stores:
        print(f"\n### {store}\n")
        print("| sync | writers | puts/s | / memory-only | p50 | p99 | p99.9 | p99.9 / memory-only |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|")
        for sync in [m for m in MODES if any(k[0] == store and k[1] == m for r in runs for k in r)]:
            for t in threads:
                if not any((store, sync, t) in r for r in runs):
                    continue
                vs = "—" if sync == "MEMORY" else ratio_cell(ratios(store, sync, t, "MEMORY", t))
                tail = "—" if sync == "MEMORY" else ratio_cell(ratios(store, sync, t, "MEMORY", t, "p999"), "{:,.1f}")
                print(f"| {sync} | {t} | {num(fig(store, sync, t, 'ops'))} | {vs} | {lat(fig(store, sync, t, 'p50'))} | "
                      f"{lat(fig(store, sync, t, 'p99'))} | {lat(fig(store, sync, t, 'p999'))} | {tail} |")
        one = fig(store, "ALWAYS", 1, "ops")
        if one is not None:
            goals.append((store, "Sync.ALWAYS, 1 writer: puts/s", num(one), f">= {ALWAYS_ONE_WRITER:,.0f}",
                          one >= ALWAYS_ONE_WRITER))
        group = ratios(store, "ALWAYS", 8, "ALWAYS", 1)
        if group:
            goals.append((store, "Sync.ALWAYS, 8 writers / 1 writer (group commit)", ratio_cell(group, "{:.2f}"),
                          f">= {GROUP_COMMIT:g}", statistics.median(group) >= GROUP_COMMIT))
        for t in threads:
            batch = ratios(store, "BATCH", t, "MEMORY", t)
            if batch:
                goals.append((store, f"Sync.BATCH / memory-only, {t} writer{'s' if t > 1 else ''}",
                              ratio_cell(batch), f">= {BATCH_SHARE:g}", statistics.median(batch) >= BATCH_SHARE))
    if floor:
        near = [f"{st} {fig(st, 'ALWAYS', 1, 'ops') / floor:.2f}x" for st in stores if fig(st, "ALWAYS", 1, "ops")]
        if near:
            print("\nSync.ALWAYS, 1 writer, over this disk's sync floor (1.00x = one fdatasync per put and nothing else): "
                  + ", ".join(near))
    if goals:
        print("\n### The issue's goals\n")
        print("| store | goal | measured | limit | met |")
        print("|---|---|---:|---:|---|")
        for store, goal, measured, limit, met in goals:
            print(f"| {store} | {goal} | {measured} | {limit} | {'yes' if met else 'no'} |")
    print(f"\n{len(runs)} run(s): " + ", ".join(paths))


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__)
    main(sys.argv[1:])
