#!/usr/bin/env python3
"""Summary of one scripts/loadtest.sh run: reads DIR/environment.json, DIR/records.jsonl, the raw oha JSON and the
JVMs' GC logs in DIR; writes DIR/summary.json and DIR/summary.csv and prints the text summary (loadtest.sh saves
it as DIR/summary.txt). summary.json is defined once, in scripts/loadtest-summary.schema.json (JSON Schema): the
summary is validated against it before it is written; scripts/loadtest.sh explains how each figure is measured.
Standard library only: the validator below covers the part of JSON Schema that file uses.

    python3 scripts/loadtest_summary.py DIR > DIR/summary.txt
    python3 scripts/loadtest_summary.py --check FILE...   validates summary.json files against the schema
"""
import csv
import datetime
import json
import math
import os
import re
import statistics
import sys

SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loadtest-summary.schema.json")
JSON_TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def schema_errors(value, schema, root, where="$"):
    """The ways value breaks schema, as "path: problem" lines. Hand-written because the project's scripts use the
    standard library only (no jsonschema package); it covers what loadtest-summary.schema.json uses: $ref to
    #/$defs, type (one or a list), const, properties, patternProperties, additionalProperties (false or a schema),
    required and items. Any other keyword in the schema is an error, so the file cannot outgrow this validator."""
    known = {"$schema", "$id", "$defs", "$ref", "title", "description", "type", "const", "properties",
             "patternProperties", "additionalProperties", "required", "items"}
    unknown = set(schema) - known
    if unknown:
        return [f"{where}: the schema uses {sorted(unknown)}, which this validator does not know"]
    if "$ref" in schema:
        node = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            node = node[part]
        return schema_errors(value, node, root, where)
    errors = []
    if "const" in schema and value != schema["const"]:
        errors.append(f"{where}: {value!r} is not {schema['const']!r}")
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]

        def is_type(t):
            if t == "number":
                return isinstance(value, (int, float)) and not isinstance(value, bool)
            return isinstance(value, JSON_TYPES[t])
        if not any(is_type(t) for t in types):
            return errors + [f"{where}: {type(value).__name__} {value!r:.60} is not {'|'.join(types)}"]
    if isinstance(value, dict):
        props = schema.get("properties", {})
        patterns = schema.get("patternProperties", {})
        for key in schema.get("required", []):
            if key not in value:
                errors.append(f"{where}: {key} is missing")
        for key, item in value.items():
            matched = False
            if key in props:
                matched = True
                errors += schema_errors(item, props[key], root, f"{where}.{key}")
            for pattern, sub in patterns.items():
                if re.search(pattern, key):
                    matched = True
                    errors += schema_errors(item, sub, root, f"{where}.{key}")
            if not matched:
                extra = schema.get("additionalProperties", True)
                if extra is False:
                    errors.append(f"{where}: {key} is not in the schema")
                elif isinstance(extra, dict):
                    errors += schema_errors(item, extra, root, f"{where}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            errors += schema_errors(item, schema["items"], root, f"{where}[{i}]")
    return errors


def check_summary(summary, name):
    """Raises SystemExit listing every way summary breaks the schema."""
    schema = json.load(open(SCHEMA_PATH))
    errors = schema_errors(summary, schema, schema)
    if errors:
        shown = "\n  ".join(errors[:40])
        more = f"\n  ... and {len(errors) - 40} more" if len(errors) > 40 else ""
        sys.exit(f"{name} does not follow {SCHEMA_PATH}:\n  {shown}{more}")


if len(sys.argv) > 1 and sys.argv[1] == "--check":
    for path in sys.argv[2:]:
        check_summary(json.load(open(path)), path)
        print(f"{path}: follows {os.path.basename(SCHEMA_PATH)}")
    sys.exit(0)

out = sys.argv[1]
env = json.load(open(os.path.join(out, "environment.json")))
S = env["settings"]
records = [json.loads(line) for line in open(os.path.join(out, "records.jsonl")) if line.strip()]
variants = env["variants"]
vmap = {v["name"]: v for v in variants}
clk = env["clk_tck"]
fractions = sorted(S["fractions"])


def pct(f):
    return format(f * 100, "g")


def mib(kib):
    return None if kib is None else kib / 1024.0


def ms(v):
    return None if v is None else v * 1000.0


def div(a, b):
    return a / b if a is not None and b not in (None, 0) else None


def median(vals):
    vals = [v for v in vals if isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)]
    return statistics.median(vals) if vals else None


# ------------------------------------------------------------------ oha
def oha(name, ok=lambda code: code == "200"):
    """The figures of one oha JSON: answered, ok, non-ok, achieved (ok per second), percentiles in ms."""
    path = os.path.join(out, name)
    if not os.path.isfile(path):
        return None
    d = json.load(open(path))
    codes = d.get("statusCodeDistribution", {}) or {}
    errors = d.get("errorDistribution", {}) or {}
    answered = sum(codes.values())
    good = sum(n for c, n in codes.items() if ok(c))
    seconds = d["summary"]["total"] or 0
    p = d.get("latencyPercentiles", {}) or {}
    return {
        "answered": answered,
        "rps": d["summary"]["requestsPerSec"],
        "achieved_rps": good / seconds if seconds else 0.0,
        "success_ratio": d["summary"].get("successRate"),
        "p50_ms": ms(p.get("p50")), "p99_ms": ms(p.get("p99")), "p999_ms": ms(p.get("p99.9")),
        "max_ms": ms(d["summary"].get("slowest")),
        "non_200": answered + sum(errors.values()) - good,
    }


# ------------------------------------------------------------------ GC logs
# G1:  [..][gc          ] GC(12) Pause Young (Normal) (G1 Evacuation Pause) 210M->25M(4096M) 3.412ms
#      [..][gc          ] GC(13) Pause Remark 1900M->1900M(4096M) 2.1ms   (Cleanup, Full likewise)
# ZGC: [..][gc,phases   ] GC(3) Pause Mark Start 0.010ms                   (JDK 17, single generation)
#      [..][gc,phases   ] GC(3) y: Pause Mark Start 0.012ms                (generational: y/Y young, O old)
# The "[gc,start] GC(12) Pause Young ..." line has no duration and is not counted; ZGC's statistics table
# ("Phase: Pause Mark Start ...") has no GC(n) and is not counted either.
# ZGC also stalls an allocating thread when the heap runs out ("[gc] Allocation Stall (thread) 12.3ms"): not a
# pause of the world, but a request waits; counted apart as "stalls".
STALL = re.compile(r"\bAllocation Stall \([^)]*\)\s+(\d+(?:\.\d+)?)ms\s*$")
PAUSE = re.compile(r"GC\(\d+\)\s+(?:[YyOo]:\s+)?Pause\b.*?\s(\d+(?:\.\d+)?)ms\s*$")
STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d{4})\]")
_gc_cache = {}


def pauses(log):
    """[(epoch seconds, ms, is_stall)] of one GC log (utctime decoration), [] if none, None if no log."""
    if log in _gc_cache:
        return _gc_cache[log]
    path = os.path.join(out, log)
    result = None
    if os.path.isfile(path):
        result = []
        for line in open(path, errors="replace"):
            m = PAUSE.search(line)
            stall = None if m else STALL.search(line)
            t = STAMP.match(line)
            if (m or stall) and t:
                when = datetime.datetime.strptime(t.group(1), "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
                result.append((when, float((m or stall).group(1)), stall is not None))
    _gc_cache[log] = result
    return result


def gc_figures(log, start=None, end=None):
    ps = pauses(log) if log else None
    if ps is None:
        return {"count": None, "total_ms": None, "max_ms": None, "stalls": None}
    inside = [(p, stall) for t, p, stall in ps if (start is None or t >= start) and (end is None or t <= end)]
    sel = [p for p, stall in inside if not stall]
    return {"count": len(sel), "total_ms": sum(sel), "max_ms": max(sel) if sel else 0.0,
            "stalls": len(inside) - len(sel)}


def put_gc(run, prefix, g):
    for k in ("count", "total_ms", "max_ms", "stalls"):
        run[f"{prefix}gc_{k}"] = g[k]


# ------------------------------------------------------------------ runs
runs = {}
for rec in records:
    if rec["type"] == "server":
        v = vmap[rec["service"]]
        key = (rec["repeat"], rec["users"], rec["service"])
        runs[key] = {
            "users": rec["users"], "store": rec["service"], "service": rec["service"], "base": v["service"],
            "jdk": v["jdk"], "gc": v["gc"], "repeat": rec["repeat"], "position": rec["position"],
            "start_preload_ms": rec["start_ms"], "rss_preloaded_mib": mib(rec.get("rss_preloaded_kib")),
            "rss_after_load_mib": None, "_gc_log": rec["gc_log"] if v["kind"] == "jvm" else None, "raw": {},
        }
for rec in records:
    key = (rec.get("repeat"), rec.get("users"), rec.get("service"))
    if rec["type"] == "after" and key in runs:
        runs[key]["rss_after_load_mib"] = mib(rec.get("rss_after_load_kib"))
    if rec["type"] != "phase" or key not in runs:
        continue
    run = runs[key]
    phase = rec["phase"]
    gcf = gc_figures(run["_gc_log"], rec["t_start"], rec["t_end"])
    cpu_s = None
    if rec.get("cpu_start") is not None and rec.get("cpu_end") is not None:
        cpu_s = (rec["cpu_end"] - rec["cpu_start"]) / clk
    if phase in ("cold", "warmup"):
        o = oha(rec["file"])
        run["raw"][phase] = rec["file"]
        if phase == "cold":
            run["cold_offered_rps"] = rec["offered_rps"]
        else:
            run["raw"][phase] = [rec["file"], rec["file_put"]]
            run["warmup_rps"] = o["rps"] if o else None
        for k in ("achieved_rps", "p50_ms", "p99_ms", "p999_ms", "max_ms", "non_200"):
            run[f"{phase}_{k}"] = o[k] if o else None
        put_gc(run, f"{phase}_", gcf)
    elif phase == "capacity":
        o = oha(rec["file"])
        run["raw"]["capacity"] = rec["file"]
        run["capacity_rps"] = o["rps"] if o else None
        for k in ("p50_ms", "p99_ms", "non_200"):
            run[f"capacity_{k}"] = o[k] if o else None
        run["capacity_cpu_per_100k"] = div(cpu_s, o["answered"] / 1e5) if o else None
        put_gc(run, "capacity_", gcf)
    elif phase.endswith("-get") or phase.endswith("-mix"):
        c = "c" + pct(rec["fraction"])
        run[f"{c}_offered_rps"] = rec["offered_rps"]
        if phase.endswith("-get"):
            o = oha(rec["file"])
            run["raw"][f"{c}_get"] = rec["file"]
            for k in ("achieved_rps", "p50_ms", "p99_ms", "p999_ms", "max_ms", "non_200"):
                run[f"{c}_get_{k}"] = o[k] if o else None
            run[f"{c}_get_cpu_per_100k"] = div(cpu_s, o["answered"] / 1e5) if o else None
            put_gc(run, f"{c}_get_", gcf)
        else:
            g = oha(rec["file"])
            p = oha(rec["file_put"], ok=lambda code: code.startswith("2"))
            run["raw"][f"{c}_mix"] = [rec["file"], rec["file_put"]]
            run[f"{c}_mix_offered_rps"] = rec["offered_rps"]
            run[f"{c}_mix_achieved_rps"] = (g["achieved_rps"] + p["achieved_rps"]) if g and p else None
            for name, o in (("get", g), ("put", p)):
                for k in ("achieved_rps", "p50_ms", "p99_ms", "p999_ms", "max_ms", "non_200"):
                    run[f"{c}_mix_{name}_{k}"] = o[k] if o else None
            answered = (g["answered"] + p["answered"]) if g and p else None
            run[f"{c}_mix_cpu_per_100k"] = div(cpu_s, answered / 1e5) if answered else None
            put_gc(run, f"{c}_mix_", gcf)

low, high = "c" + pct(fractions[0]), "c" + pct(fractions[-1])
near80 = min(fractions, key=lambda f: abs(f - 0.8))
c80 = "c" + pct(near80)
run_list = []
for key in sorted(runs, key=lambda k: (k[0], S["users"].index(k[1]), runs[k]["position"])):
    run = runs[key]
    run["cold_p50_over_steady"] = div(run.get("cold_p50_ms"), run.get(f"{low}_get_p50_ms"))
    run["cold_p99_over_steady"] = div(run.get("cold_p99_ms"), run.get(f"{low}_get_p99_ms"))
    g = run.pop("_gc_log")
    put_gc(run, "", gc_figures(g))
    # The old keys: the GET run at the highest fraction.
    run["offered_rps"] = run.get(f"{high}_offered_rps")
    run["achieved_rps"] = run.get(f"{high}_get_achieved_rps")
    o = oha(run["raw"].get(f"{high}_get", "-"))
    run["success_ratio"] = o["success_ratio"] if o else None
    for k in ("p50_ms", "p99_ms", "p999_ms", "max_ms", "non_200"):
        run[k] = run.get(f"{high}_get_{k}")
    run["raw"] = run.pop("raw")  # last
    run_list.append(run)

# Column order for the CSV and the medians: every key in the order first seen.
columns = []
for run in run_list:
    for k in run:
        if k not in columns and k != "raw":
            columns.append(k)
identity = ("users", "store", "service", "base", "jdk", "gc")
medians = []
for n in S["users"]:
    for v in variants:
        mine = [r for r in run_list if r["users"] == n and r["service"] == v["name"]]
        if not mine:
            continue
        m = {k: mine[0][k] for k in identity}
        m["repeats"] = len(mine)
        for k in columns:
            if k in identity or k in ("repeat", "position"):
                continue
            m[k] = median([r.get(k) for r in mine])
        medians.append(m)


def med(n, name):
    return next((m for m in medians if m["users"] == n and m["service"] == name), None)


# ------------------------------------------------------------------ start-up
startup = []
for rec in records:
    if rec["type"] == "startup":
        startup.append({"repeat": rec["repeat"], "sample": rec["sample"], "service": rec["service"], "kind": rec["kind"],
                        "ms": rec["ms"], "idle_rss_mib": mib(rec.get("idle_rss_kib")) if rec["kind"] == "empty" else None,
                        "process": rec.get("comm")})
startup_medians = []
for v in variants:
    # A JVM variant on JDK 25+ is also started from its ahead-of-time cache, recorded as NAME+aot.
    for name, aot in ((v["name"], False), (v["name"] + "+aot", True)):
        mine = [s for s in startup if s["service"] == name]
        if aot and not mine:
            continue
        startup_medians.append({
            "service": name, "base": v["service"], "jdk": v["jdk"], "gc": v["gc"], "aot_cache": aot,
            "start_empty_ms": median([s["ms"] for s in mine if s["kind"] == "empty"]),
            "start_snapshot_ms": median([s["ms"] for s in mine if s["kind"] == "snapshot"]),
            "idle_rss_mib": median([s["idle_rss_mib"] for s in mine if s["kind"] == "empty"]),
            "samples": len([s for s in mine if s["kind"] == "empty"]),
        })
smap = {s["service"]: s for s in startup_medians}

lowest = []
for rec in records:
    if rec["type"] == "lowest":
        lowest.append({"users": rec["users"], "repeat": rec["repeat"], "capacity_rps": rec["capacity_rps"],
                       "service": rec["service"],
                       "rates": {pct(f): max(1, int(f * rec["capacity_rps"])) for f in fractions}})

# ------------------------------------------------------------------ ratios and goals
jvms = [v for v in variants if v["kind"] == "jvm"]
kks = [v for v in jvms if v["service"] == "kotlin-kotlin"]
kk_ref = kks[0]["name"] if kks else None
kn_ref = None
if kk_ref:
    kn_ref = "kotlin-native@" + kk_ref.split("@", 1)[1]
    kn_ref = kn_ref if kn_ref in vmap else None
rust = "rust" if "rust" in vmap else None

ratios = []
goals = []
for n in S["users"]:
    jvm_meds = [med(n, v["name"]) for v in jvms if med(n, v["name"]) and med(n, v["name"])["capacity_rps"] is not None]
    best = max(jvm_meds, key=lambda m: m["capacity_rps"]) if jvm_meds else None
    kk = med(n, kk_ref) if kk_ref else None
    kn = med(n, kn_ref) if kn_ref else None
    entry = {
        "users": n, "best_jvm": best["service"] if best else None, "kotlin_kotlin": kk_ref, "fraction": near80,
        "capacity_native_over_kotlin": div(kn and kn["capacity_rps"], kk and kk["capacity_rps"]),
        "p999_native_over_kotlin": div(kn and kn.get(f"{c80}_get_p999_ms"), kk and kk.get(f"{c80}_get_p999_ms")),
        "goal_throughput_met": None, "goal_p999_met": None, "services": [],
    }
    for v in variants:
        m = med(n, v["name"])
        if not m:
            continue
        entry["services"].append({
            "service": v["name"],
            "capacity_over_best_jvm": div(m["capacity_rps"], best and best["capacity_rps"]),
            "p999_over_kotlin_kotlin": div(m.get(f"{c80}_get_p999_ms"), kk and kk.get(f"{c80}_get_p999_ms")),
            "p99_over_kotlin_kotlin": div(m.get(f"{c80}_get_p99_ms"), kk and kk.get(f"{c80}_get_p99_ms")),
            "mix_get_p999_over_kotlin_kotlin": div(m.get(f"{c80}_mix_get_p999_ms"), kk and kk.get(f"{c80}_mix_get_p999_ms")),
            "rss_preloaded_over_kotlin_kotlin": div(m.get("rss_preloaded_mib"), kk and kk.get("rss_preloaded_mib")),
            "cpu_per_100k_over_kotlin_kotlin": div(m.get(f"{c80}_get_cpu_per_100k"), kk and kk.get(f"{c80}_get_cpu_per_100k")),
        })
    rm = med(n, rust) if rust else None
    if rm and best:
        ratio = div(rm["capacity_rps"], best["capacity_rps"])
        goals.append({"name": "rust capacity >= 1.5 x the best JVM variant's", "users": n, "measured": ratio,
                      "limit": 1.5, "comparison": ">=", "unit": "ratio", "against": best["service"],
                      "met": ratio is not None and ratio >= 1.5})
        entry["goal_throughput_met"] = goals[-1]["met"]
    if rm:
        for kv in kks:
            km = med(n, kv["name"])
            if not km:
                continue
            ratio = div(rm.get(f"{c80}_get_p999_ms"), km.get(f"{c80}_get_p999_ms"))
            goals.append({"name": f"rust p99.9 at {near80:g} x the lowest capacity <= 0.5 x kotlin-kotlin's", "users": n,
                          "measured": ratio, "limit": 0.5, "comparison": "<=", "unit": "ratio", "against": kv["name"],
                          "met": ratio is not None and ratio <= 0.5})
            if kv["name"] == kk_ref:
                entry["goal_p999_met"] = goals[-1]["met"]
    ratios.append(entry)

if rust and smap.get(rust):
    rs = smap[rust]
    goals.insert(0, {"name": "rust spawn -> first 200 of /health (0 users) <= 50 ms", "users": None,
                     "measured": rs["start_empty_ms"], "limit": 50, "comparison": "<=", "unit": "ms", "against": None,
                     "met": rs["start_empty_ms"] is not None and rs["start_empty_ms"] <= 50})
    goals.insert(1, {"name": "rust idle RSS (0 users) <= 20 MiB", "users": None, "measured": rs["idle_rss_mib"],
                     "limit": 20, "comparison": "<=", "unit": "MiB", "against": None,
                     "met": rs["idle_rss_mib"] is not None and rs["idle_rss_mib"] <= 20})
    jvm_idle = [smap[v["name"]] for v in jvms if smap.get(v["name"]) and smap[v["name"]]["idle_rss_mib"]]
    if jvm_idle:
        lean = min(jvm_idle, key=lambda s: s["idle_rss_mib"])
        ratio = div(rs["idle_rss_mib"], lean["idle_rss_mib"])
        goals.insert(2, {"name": "rust idle RSS <= 0.1 x the leanest JVM variant's", "users": None, "measured": ratio,
                         "limit": 0.1, "comparison": "<=", "unit": "ratio", "against": lean["service"],
                         "met": ratio is not None and ratio <= 0.1})
    big = 5000000 if 5000000 in S["users"] else max(S["users"])
    rm = med(big, rust)
    for kv in reversed(kks):  # each inserted at 3: in variant order at the end
        km = med(big, kv["name"])
        if rm and km:
            ratio = div(rm["rss_preloaded_mib"], km["rss_preloaded_mib"])
            goals.insert(3, {"name": f"rust RSS with {big:,} users <= 0.25 x kotlin-kotlin's", "users": big,
                             "measured": ratio, "limit": 0.25, "comparison": "<=", "unit": "ratio",
                             "against": kv["name"], "met": ratio is not None and ratio <= 0.25})

# ------------------------------------------------------------------ density
dens = []
for rec in records:
    if rec["type"] == "density":
        v = vmap[rec["service"]]
        started = rec["started"]
        total = mib(rec["total_rss_kib"])
        per = div(total, started)
        dens.append({"service": v["name"], "base": v["service"], "jdk": v["jdk"], "gc": v["gc"],
                     "jvm_options": v["density_jvm_options"], "started": started, "total_rss_mib": total,
                     "per_instance_mib": per, "services_per_gib": div(1024.0, per),
                     "start_ms_median": median(rec["start_ms"]), "start_ms_max": max(rec["start_ms"]) if rec["start_ms"] else None})
density = {"count": S["density_count"],
           "heap_note": (f"-Xms{S['density_heap']} -Xmx{S['density_heap']}" if S["density_heap"]
                         else f"-Xmx{S['heap']} without -Xms (the JVM's own idle footprint), no GC log"),
           "services": dens}

end = next((r for r in records if r["type"] == "end"), {})
ref = next((v for v in jvms), None)
summary = {
    "schema": 2,
    "date": env["date"],
    "machine": {"cpu": env["cpu"], "cores": env["cores"], "memory_gib": env["memory_gib"], "java": env["java"],
                "os": env["os"], "load_start": env["load_start"], "load_end": end.get("load"), "clk_tck": clk,
                "git": env.get("git")},
    "server": {"heap": S["heap"], "gc": ref["gc"] if ref else None, "jvm_options": ref["jvm_options"] if ref else None},
    "oha": env["oha"],
    "settings": S,
    "variants": variants,
    "startup": startup,
    "startup_medians": startup_medians,
    "lowest_capacity": lowest,
    "runs": run_list,
    "medians": medians,
    "ratios": ratios,
    "goals": goals,
    "density": density,
}
# Round-trip through JSON first, so the check sees what a reader will (tuples as arrays, NaN refused).
check_summary(json.loads(json.dumps(summary, allow_nan=False)), "the summary of " + out)
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)
with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(columns)
    for run in run_list:
        w.writerow(["" if run.get(c) is None else run.get(c) for c in columns])


# ------------------------------------------------------------------ text
def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def table(head, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) if i == 0 else str(c).rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    print(line(head))
    print("-" * len(line(head)))
    for r in rows:
        print(line(r))
    print()


def gcs(m, prefix):
    if m.get(f"{prefix}_gc_count") is None:
        return "-"
    text = f"{m[f'{prefix}_gc_count']:g}/{m[f'{prefix}_gc_total_ms']:.1f}/{m[f'{prefix}_gc_max_ms']:.2f}"
    return text + (f" +{m[f'{prefix}_gc_stalls']:g} stalls" if m.get(f"{prefix}_gc_stalls") else "")


print(f"userstore load test {env['date']} (git {env.get('git')}): {env['cpu']}, {env['cores']} cores, "
      f"{env['memory_gib']} GiB, {env['os']}; load average {env['load_start']:.2f} at the start, "
      f"{fmt(end.get('load'), '.2f')} at the end")
print(f"oha {env['oha']}, {S['connections']} connections, loopback; cold {S['cold']} at {S['cold_rate']} req/s, then "
      f"warm-up {S['warmup']} closed loop (GET+PUT); capacity = closed loop {S['capacity']}; constant rates {', '.join(f'{f:g}' for f in fractions)} "
      f"x the lowest capacity, {S['duration']} each, latency-corrected, GET and a {1 - S['put_share']:g}/{S['put_share']:g} "
      f"GET/PUT mix; medians of {S['repeats']} repeat(s)")
for v in variants:
    if v["kind"] == "jvm":
        print(f"  {v['name']}: {v['jdk_version']} ({v['java_home']}), {v['gc']}: {v['jvm_options']}")
    else:
        print(f"  {v['name']}: native binary, no JVM")
print()
print(f"Start-up (spawn -> first 200 of /health, median of {S['startups']} x {S['repeats']}) and idle RSS")
table(["service", "0 users ms", f"{S['snapshot_users']:,}-user snapshot ms", "idle RSS MiB"],
      [[s["service"], fmt(s["start_empty_ms"], ".1f"), fmt(s["start_snapshot_ms"], ".1f"), fmt(s["idle_rss_mib"], ".1f")]
       for s in startup_medians])
for n in S["users"]:
    ms_ = [m for m in medians if m["users"] == n]
    lows = [x for x in lowest if x["users"] == n]
    print(f"{n:,} users; lowest capacity per repeat: "
          + ", ".join(f"r{x['repeat']} {x['capacity_rps']:,.0f} ({x['service']})" for x in lows))
    table(["service", "start ms", "RSS MiB", "after MiB", "capacity r/s", "CPU s/100k", "GC n/tot/max ms",
           "cold p50", "cold p99", "warm-up p99", "steady p50", "steady p99", "cold/steady p99"],
          [[m["service"], fmt(m["start_preload_ms"], ".0f"), fmt(m["rss_preloaded_mib"], ".0f"),
            fmt(m["rss_after_load_mib"], ".0f"), fmt(m["capacity_rps"], ",.0f"), fmt(m["capacity_cpu_per_100k"], ".2f"),
            gcs(m, "capacity"), fmt(m.get("cold_p50_ms"), ".2f"), fmt(m.get("cold_p99_ms"), ".2f"),
            fmt(m.get("warmup_p99_ms"), ".2f"), fmt(m.get(f"{low}_get_p50_ms"), ".2f"),
            fmt(m.get(f"{low}_get_p99_ms"), ".2f"), fmt(m.get("cold_p99_over_steady"), ".1f")] for m in ms_])
    for f in fractions:
        c = "c" + pct(f)
        print(f"{n:,} users, GET at {f:g} x lowest capacity (latency-corrected; ms)")
        table(["service", "offered r/s", "achieved r/s", "p50", "p99", "p99.9", "max", "non-200", "CPU s/100k", "GC n/tot/max ms"],
              [[m["service"], fmt(m.get(f"{c}_offered_rps"), ",.0f"), fmt(m.get(f"{c}_get_achieved_rps"), ",.0f"),
                fmt(m.get(f"{c}_get_p50_ms"), ".2f"), fmt(m.get(f"{c}_get_p99_ms"), ".2f"), fmt(m.get(f"{c}_get_p999_ms"), ".2f"),
                fmt(m.get(f"{c}_get_max_ms"), ".1f"), fmt(m.get(f"{c}_get_non_200"), ".0f"),
                fmt(m.get(f"{c}_get_cpu_per_100k"), ".2f"), gcs(m, f"{c}_get")] for m in ms_])
        print(f"{n:,} users, {1 - S['put_share']:g}/{S['put_share']:g} GET/PUT at {f:g} x lowest capacity (ms)")
        table(["service", "achieved r/s", "GET p50", "GET p99", "GET p99.9", "GET max", "PUT p50", "PUT p99", "PUT p99.9",
               "PUT max", "non-2xx", "CPU s/100k", "GC n/tot/max ms"],
              [[m["service"], fmt(m.get(f"{c}_mix_achieved_rps"), ",.0f"),
                fmt(m.get(f"{c}_mix_get_p50_ms"), ".2f"), fmt(m.get(f"{c}_mix_get_p99_ms"), ".2f"),
                fmt(m.get(f"{c}_mix_get_p999_ms"), ".2f"), fmt(m.get(f"{c}_mix_get_max_ms"), ".1f"),
                fmt(m.get(f"{c}_mix_put_p50_ms"), ".2f"), fmt(m.get(f"{c}_mix_put_p99_ms"), ".2f"),
                fmt(m.get(f"{c}_mix_put_p999_ms"), ".2f"), fmt(m.get(f"{c}_mix_put_max_ms"), ".1f"),
                fmt((m.get(f"{c}_mix_get_non_200") or 0) + (m.get(f"{c}_mix_put_non_200") or 0), ".0f"),
                fmt(m.get(f"{c}_mix_cpu_per_100k"), ".2f"), gcs(m, f"{c}_mix")] for m in ms_])
    e = next(x for x in ratios if x["users"] == n)
    print(f"{n:,} users, ratios: capacity against the best JVM variant ({e['best_jvm']}); the rest against "
          f"{e['kotlin_kotlin']} (GET at {near80:g}; RSS after preload)")
    table(["service", "capacity", "p99", "p99.9", "mix GET p99.9", "RSS", "CPU/100k"],
          [[x["service"], fmt(x["capacity_over_best_jvm"], ".2f"), fmt(x["p99_over_kotlin_kotlin"], ".2f"),
            fmt(x["p999_over_kotlin_kotlin"], ".2f"), fmt(x["mix_get_p999_over_kotlin_kotlin"], ".2f"),
            fmt(x["rss_preloaded_over_kotlin_kotlin"], ".2f"), fmt(x["cpu_per_100k_over_kotlin_kotlin"], ".2f")]
           for x in e["services"]])
if dens:
    print(f"Density: {S['density_count']} idle instances (0 users) per variant; JVM: {density['heap_note']}")
    table(["service", "started", "total RSS MiB", "MiB each", "services/GiB", "start ms median", "start ms max"],
          [[d["service"], d["started"], fmt(d["total_rss_mib"], ".0f"), fmt(d["per_instance_mib"], ".1f"),
            fmt(d["services_per_gib"], ".1f"), fmt(d["start_ms_median"], ".0f"), fmt(d["start_ms_max"], ".0f")] for d in dens])
if goals:
    print("Goals")
    table(["goal", "users", "against", "measured", "limit", "met"],
          [[g["name"], fmt(g["users"], ",") if g["users"] else "-", g["against"] or "-",
            fmt(g["measured"], ".3f" if g["unit"] == "ratio" else ".1f") + ("" if g["unit"] == "ratio" else " " + g["unit"]),
            f"{g['comparison']} {g['limit']:g}", "met" if g["met"] else "NOT met"] for g in goals])
else:
    print("Goals: not evaluated (no rust service in this run)")
