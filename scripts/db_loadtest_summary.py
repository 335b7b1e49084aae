#!/usr/bin/env python3
"""The summary of a scripts/db-loadtest.sh run (the article's handler on a database).

    db_loadtest_summary.py RUN_DIR       writes RUN_DIR/summary.json and prints summary.txt's text
    db_loadtest_summary.py --count FILE  prints the _count of userstore_replica_commit_delay_seconds in a
                                         /metrics scrape (summed over its series), or "none"
    db_loadtest_summary.py --self-test   checks the histogram parser on synthetic /metrics texts

It reads only the run's folder: environment.json, records.jsonl, the oha JSON files, the pgbench outputs and the
/metrics scrapes named there. summary.json (times in ms, rates per second, memory in MiB = 2^20 bytes, CPU in
seconds, null where not measured; extra keys beyond these are allowed):
  {"schema": 1, "kind": "db-loadtest", "date",
   "machine": {"cpu", "cores", "memory_gib", "java", "os", "load_start", "load_end", "git", "postgres"},
   "oha", "settings": {"users", "services", "modes", "fractions", "duration", "capacity", "warmup", "connections",
                       "lag_rates", "lag_duration", "lag_clients", "instances", "heap", "jdk"},
   "runs": [{"service", "mode", "ready_ms", "rss_ready_mib", "rss_after_mib", "capacity_rps",
             "capacity_cpu_per_100k_s", "capacity_db_cpu_per_100k_s",
             "rates": [{"fraction", "target_rps", "achieved_rps", "p50_ms", "p99_ms", "p999_ms", "max_ms",
                        "non_2xx", "cpu_per_100k_s", "db_cpu_per_100k_s"}]}],
   "lowest_capacity": [{"mode", "service", "capacity_rps"}],
   "lag": [{"service", "instances", "target_cps", "achieved_cps", "transactions", "p50_ms", "p99_ms", "max_ms",
            "mean_ms"}],     p50/p99/max: the upper bound (ms) of the histogram bucket holding that quantile
                             (userstore_replica_commit_delay_seconds, bucket diff over the run); mean = sum/count
   "copy": [{"service", "users", "ready_ms", "copy_ms"}],
   "restart": [{"service", "users", "first_ready_ms", "ready_ms", "caught_up_ms", "copied", "writes_while_down",
                "rss_mib"}],   (a durable replica stopped, written to, started again; caught_up_ms: spawn -> every
                                write made while it was down is served)
   "instances": [{"service", "count", "rss_mib": [..], "rss_mean_mib", "ready_ms": [..]}],
   "goals": [{"name", "measured", "limit", "comparison", "unit", "against", "met"}]}
capacity_rps and achieved_rps count 2xx answers; non_2xx counts other answers and errors, but not the requests oha
cancels at its -z deadline; CPU per 100k divides by every answered request. Python standard library only.
"""
import json
import math
import os
import re
import sys
import unittest

METRIC = "userstore_replica_commit_delay_seconds"
MISSING = f"no {METRIC} histogram in /metrics (the service does not expose it)"

# ---------------------------------------------------------------- the /metrics histogram
# A minimal reader of the Prometheus text format, for one histogram: the scripts are standard-library only (as
# startup_probe.py and loadtest_summary.py), and the official parser (prometheus_client) is a pip package.
_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?\s*$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')


def parse_histogram(text, name=METRIC):
    """{"buckets": {le (float, inf for +Inf): cumulative count}, "count", "sum"} summed over the histogram's series
    (any labels besides le), or None when the text holds no bucket of it."""
    buckets, count, total, seen = {}, 0.0, 0.0, False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m or not m.group(1).startswith(name):
            continue
        metric, labels, value = m.group(1), dict(_LABEL.findall(m.group(2) or "")), m.group(3)
        try:
            v = float(value)
        except ValueError:
            continue
        if metric == name + "_bucket" and "le" in labels:
            le = float(labels["le"].replace("+Inf", "inf"))
            buckets[le] = buckets.get(le, 0.0) + v
            seen = True
        elif metric == name + "_count":
            count += v
        elif metric == name + "_sum":
            total += v
    if not seen:
        return None
    return {"buckets": buckets, "count": count, "sum": total}


def upper_bound(diff, total, q):
    """The upper bound (seconds) of the first bucket whose cumulative count reaches q of total (inf: above every
    finite bucket); None without transactions."""
    if total <= 0:
        return None
    for le in sorted(diff):
        if diff[le] >= q * total - 1e-9:
            return le
    return math.inf


def lag_figures(before, after):
    """The commit delays of the transactions between two scrapes: {"transactions", "p50_ms", "p99_ms", "max_ms",
    "mean_ms", "buckets": {le_ms: cumulative count}}; all None (and "note") when a scrape lacks the histogram."""
    empty = {"transactions": None, "p50_ms": None, "p99_ms": None, "max_ms": None, "mean_ms": None, "buckets": None}
    if before is None or after is None:
        return {**empty, "note": MISSING}
    diff = {le: after["buckets"].get(le, 0.0) - before["buckets"].get(le, 0.0) for le in after["buckets"]}
    total = diff.get(math.inf, after["count"] - before["count"])
    ms = lambda s: None if s is None or math.isinf(s) else round(s * 1000, 3)
    r = {"transactions": int(round(total)), "buckets": {("+Inf" if math.isinf(le) else repr(round(le * 1000, 6))): int(round(c))
                                                        for le, c in sorted(diff.items())}}
    above = False
    for key, q in (("p50_ms", 0.5), ("p99_ms", 0.99), ("max_ms", 1.0)):
        b = upper_bound(diff, total, q)
        above = above or (b is not None and math.isinf(b))
        r[key] = ms(b)
    n = after["count"] - before["count"]
    r["mean_ms"] = round((after["sum"] - before["sum"]) / n * 1000, 3) if n > 0 else None
    if above:
        r["note"] = "some quantile lies above the largest finite bucket (its figure is null)"
    return r


def share_within(lag, limit_ms):
    """The share of the transactions at or below limit_ms, from the bucket whose bound is limit_ms; None if no
    bucket has that bound or there were no transactions."""
    if not lag.get("buckets") or not lag.get("transactions"):
        return None
    for key, c in lag["buckets"].items():
        if key != "+Inf" and abs(float(key) - limit_ms) < 1e-6:
            return c / lag["transactions"]
    return None


def read_histogram(path):
    try:
        with open(path) as f:
            return parse_histogram(f.read())
    except OSError:
        return None


# ---------------------------------------------------------------- the raw files
def oha_figures(path):
    d = json.load(open(path))
    codes = d.get("statusCodeDistribution", {}) or {}
    # Requests oha cancels at the -z deadline are not failures of the service: left out of non_2xx.
    errors = {k: n for k, n in (d.get("errorDistribution", {}) or {}).items() if "deadline" not in k}
    answered = sum(codes.values())
    good = sum(n for c, n in codes.items() if str(c).startswith("2"))
    seconds = d["summary"]["total"] or 0
    p = d.get("latencyPercentiles", {}) or {}
    ms = lambda x: None if x is None else round(x * 1000, 3)
    return {"rps": good / seconds if seconds else 0.0, "answered": answered,
            "non_2xx": answered + sum(errors.values()) - good,
            "p50_ms": ms(p.get("p50")), "p99_ms": ms(p.get("p99")), "p999_ms": ms(p.get("p99.9")),
            "max_ms": ms(d["summary"].get("slowest"))}


def pgbench_figures(path):
    try:
        text = open(path).read()
    except OSError:
        return {"achieved_cps": None, "pgbench_transactions": None, "pgbench_failed": None}
    tps = re.search(r"^tps = ([0-9.]+)", text, re.M)
    n = re.search(r"number of transactions actually processed: (\d+)", text)
    failed = re.search(r"number of failed transactions: (\d+)", text)
    return {"achieved_cps": float(tps.group(1)) if tps else None,
            "pgbench_transactions": int(n.group(1)) if n else None,
            "pgbench_failed": int(failed.group(1)) if failed else None}


def per_100k(ticks0, ticks1, clk, answered):
    if ticks0 is None or ticks1 is None or not answered:
        return None
    return round((ticks1 - ticks0) / clk / answered * 100000, 4)


def mib(kib):
    return None if kib is None else round(kib / 1024, 1)


def ratio(a, b):
    return a / b if a is not None and b else None


# ---------------------------------------------------------------- the summary
def summarize(out):
    env = json.load(open(os.path.join(out, "environment.json")))
    records = [json.loads(line) for line in open(os.path.join(out, "records.jsonl")) if line.strip()]
    st = env["settings"]
    clk = env["machine"].get("clk_tck", 100)
    kind = lambda t: [r for r in records if r["type"] == t]
    end = (kind("end") or [{}])[-1]

    runs = []
    for srv in kind("server"):
        m, s = srv["mode"], srv["service"]
        phases = [r for r in kind("phase") if r["mode"] == m and r["service"] == s]
        after = next((r for r in kind("after") if r["mode"] == m and r["service"] == s), {})
        run = {"service": s, "mode": m, "ready_ms": round(srv["ready_ms"], 1), "rss_ready_mib": mib(srv["rss_ready_kib"]),
               "rss_after_mib": mib(after.get("rss_after_kib")), "capacity_rps": None,
               "capacity_cpu_per_100k_s": None, "capacity_db_cpu_per_100k_s": None, "rates": []}
        for ph in phases:
            path = os.path.join(out, ph["file"])
            if not os.path.isfile(path):
                continue
            f = oha_figures(path)
            cpu = per_100k(ph["cpu_start"], ph["cpu_end"], clk, f["answered"])
            db = per_100k(ph.get("db_cpu_start"), ph.get("db_cpu_end"), clk, f["answered"])
            if ph["phase"] == "capacity":
                run.update({"capacity_rps": round(f["rps"], 1), "capacity_cpu_per_100k_s": cpu,
                            "capacity_db_cpu_per_100k_s": db, "capacity_p50_ms": f["p50_ms"],
                            "capacity_p99_ms": f["p99_ms"], "capacity_non_2xx": f["non_2xx"], "capacity_file": ph["file"]})
            elif ph["phase"] == "warmup":
                run.update({"warmup_rps": round(f["rps"], 1), "warmup_non_2xx": f["non_2xx"]})
            elif ph["phase"] == "rate":
                run["rates"].append({"fraction": ph["fraction"], "target_rps": ph["target_rps"],
                                     "achieved_rps": round(f["rps"], 1), "p50_ms": f["p50_ms"], "p99_ms": f["p99_ms"],
                                     "p999_ms": f["p999_ms"], "max_ms": f["max_ms"], "non_2xx": f["non_2xx"],
                                     "cpu_per_100k_s": cpu, "db_cpu_per_100k_s": db, "file": ph["file"]})
        runs.append(run)
    lowest = [{"mode": r["mode"], "service": r["service"], "capacity_rps": round(r["capacity_rps"], 1)}
              for r in kind("lowest")]

    lag = []
    for r in kind("lag"):
        before, after = read_histogram(os.path.join(out, r["before"])), read_histogram(os.path.join(out, r["after"]))
        fig = lag_figures(before, after)
        pg = pgbench_figures(os.path.join(out, r["pgbench"]))
        lag.append({"service": r["service"], "instances": r["instances"], "target_cps": r["target_cps"],
                    "achieved_cps": pg["achieved_cps"], "transactions": fig["transactions"], "p50_ms": fig["p50_ms"],
                    "p99_ms": fig["p99_ms"], "max_ms": fig["max_ms"], "mean_ms": fig["mean_ms"],
                    "pgbench_transactions": pg["pgbench_transactions"], "pgbench_failed": pg["pgbench_failed"],
                    "buckets_ms": fig["buckets"], "note": fig.get("note"),
                    "files": {"pgbench": r["pgbench"], "before": r["before"], "after": r["after"]}})
    copy = [{"service": r["service"], "users": r["users"], "ready_ms": round(r["ready_ms"], 1), "copy_ms": r["copy_ms"]}
            for r in kind("copy")]
    restart = [{"service": r["service"], "users": r["users"], "first_ready_ms": round(r["first_ready_ms"], 1),
                "ready_ms": round(r["ready_ms"], 1),
                "caught_up_ms": None if r["caught_up_ms"] is None else round(r["caught_up_ms"], 1),
                "copied": r["copied"], "writes_while_down": r["writes_while_down"], "rss_mib": mib(r["rss_kib"])}
               for r in kind("restart")]
    instances = []
    for r in kind("instances"):
        rss = [mib(k) for k in r["rss_kib"]]
        known = [x for x in rss if x is not None]
        instances.append({"service": r["service"], "count": r["count"], "rss_mib": rss,
                          "rss_mean_mib": round(sum(known) / len(known), 1) if known else None,
                          "ready_ms": [round(x, 1) for x in r["ready_ms"]]})
    fill = (kind("fill") or [{}])[0]

    # ---- goals
    run_of = {(r["mode"], r["service"]): r for r in runs}
    goals = []

    def goal(name, measured, limit, comparison, unit, against, met=None, decided=False):
        if not decided:
            met = None if measured is None else (measured <= limit if comparison == "<=" else measured >= limit)
        goals.append({"name": name, "measured": None if measured is None else round(measured, 4), "limit": limit,
                      "comparison": comparison, "unit": unit, "against": against, "met": met})

    def get(mode, service, key):
        return (run_of.get((mode, service)) or {}).get(key)

    for s in st.get("replica_services", []):
        base = "rust" if s == "rust" else "kotlin"
        goal(f"replica GET capacity over direct ({s})",
             ratio(get("replica", s, "capacity_rps"), get("direct", base, "capacity_rps")), 5, ">=", "ratio",
             f"{base} direct")
    if ("direct", "rust") in run_of and ("direct", "kotlin") in run_of:
        goal("direct capacity rust over kotlin",
             ratio(get("direct", "rust", "capacity_rps"), get("direct", "kotlin", "capacity_rps")), 1.5, ">=", "ratio",
             "kotlin")

        def p999_at(service, target=0.8):
            rates = get("direct", service, "rates") or []
            best = min(rates, key=lambda x: abs(x["fraction"] - target), default=None)
            return best["p999_ms"] if best else None
        goal("direct p99.9 at 0.8 rust over kotlin", ratio(p999_at("rust"), p999_at("kotlin")), 0.5, "<=", "ratio",
             "kotlin")
    for lg in lag:
        limit = {1000: 20, 5000: 100}.get(lg["target_cps"])
        if limit is None:
            continue
        share = share_within(lg, limit)
        # Met when at least 99% of the transactions sit in buckets up to the limit (the bound is a bucket's).
        met = None if share is None else share >= 0.99
        if share is None and lg["p99_ms"] is not None:
            met = lg["p99_ms"] <= limit
        goal(f"lag p99 at {lg['target_cps']}/s ({lg['service']})", lg["p99_ms"], limit, "<=", "ms", None, met, True)
    # The copy itself as the service logs it (the replica alone on the database), else spawn -> ready in replica mode.
    copy_of = {c["service"]: c for c in copy}
    for s in st.get("replica_services", []):
        logged = (copy_of.get(s) or {}).get("copy_ms")
        goal(f"initial copy of {st['users']} users ({s})", logged if logged is not None else get("replica", s, "ready_ms"),
             5000, "<=", "ms", None)
    for r in restart:
        # Met only when the restart copied nothing: the goal is a restart from the stored data.
        caught = r["caught_up_ms"]
        goal(f"durable replica restart of {r['users']} users, caught up ({r['service']})", caught, 3000, "<=", "ms",
             None, None if caught is None else (caught <= 3000 and not r["copied"]), True)
    if ("replica", "rust") in run_of and ("replica", "kotlin-kotlin") in run_of:
        goal("rss rust replica over kotlin-kotlin replica",
             ratio(get("replica", "rust", "rss_ready_mib"), get("replica", "kotlin-kotlin", "rss_ready_mib")), 0.2,
             "<=", "ratio", "kotlin-kotlin")

    mc = env["machine"]
    summary = {
        "schema": 1, "kind": "db-loadtest", "date": env["date"],
        "machine": {"cpu": mc["cpu"], "cores": mc["cores"], "memory_gib": mc["memory_gib"], "java": mc["java"],
                    "os": mc["os"], "load_start": round(mc["load_start"], 2), "load_end": end.get("load"), "git": mc["git"],
                    "postgres": mc["postgres"], "clk_tck": clk, "java_home": mc.get("java_home")},
        "oha": env["oha"],
        "settings": st,
        "runs": runs, "lowest_capacity": lowest, "lag": lag, "copy": copy, "restart": restart, "instances": instances,
        "goals": goals,
        "fill": {"users": fill.get("users"), "insert_ms": fill.get("insert_ms"),
                 "vacuum_analyze_ms": fill.get("vacuum_analyze_ms"), "table_mib": mib((fill.get("table_bytes") or 0) / 1024)
                 if fill.get("table_bytes") is not None else None},
        "end": end.get("date"),
    }
    return summary


def text(summary):
    lines = []
    say = lines.append
    f = lambda x, p="{:,.0f}": "-" if x is None else p.format(x)
    ms = lambda x: "-" if x is None else f"{x:,.2f}"

    def table(rows):
        w = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        for r in rows:
            say("  " + "  ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i]) for i, c in enumerate(r)))

    mc, st = summary["machine"], summary["settings"]
    say(f"the article's handler on a database, {summary['date']}: {mc['cpu']}, {mc['cores']} cores, "
        f"{mc['memory_gib']} GiB, load {mc['load_start']} -> {mc['load_end']}")
    say(f"PostgreSQL {mc['postgres']}; {mc['java'] or 'no JVM service'}, heap {st['heap']}; oha {summary['oha']}, {st['connections']} "
        f"connections; {st['users']:,} users")
    fl = summary["fill"]
    say(f"table filled in {f(fl['insert_ms'])} ms (INSERT ... generate_series), VACUUM ANALYZE {f(fl['vacuum_analyze_ms'])} ms, "
        f"{f(fl['table_mib'], '{:,.1f}')} MiB with indexes")
    if summary["runs"]:
        say("")
        say(f"capacity: closed loop GET /users/{{id}} for {st['capacity']} after {st['warmup']} of warm-up "
            "(CPU: seconds per 100k answered requests; db = PostgreSQL's processes)")
        rows = [["mode", "service", "ready ms", "RSS ready", "RSS after", "GET/s", "cpu/100k", "db cpu/100k"]]
        for r in summary["runs"]:
            rows.append([r["mode"], r["service"], f(r["ready_ms"]), f(r["rss_ready_mib"], "{:,.1f}"),
                         f(r["rss_after_mib"], "{:,.1f}"), f(r["capacity_rps"]), f(r["capacity_cpu_per_100k_s"], "{:.3f}"),
                         f(r["capacity_db_cpu_per_100k_s"], "{:.3f}")])
        table(rows)
        say("lowest capacity per mode: " + "; ".join(f"{x['mode']} {x['service']} {f(x['capacity_rps'])}/s"
                                                     for x in summary["lowest_capacity"]))
        say("")
        say(f"constant rates (fractions of the mode's lowest capacity), {st['duration']} each, latency-corrected:")
        rows = [["mode", "service", "fraction", "target/s", "achieved/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms",
                 "non-2xx", "cpu/100k", "db cpu/100k"]]
        for r in summary["runs"]:
            for x in r["rates"]:
                rows.append([r["mode"], r["service"], str(x["fraction"]), f(x["target_rps"]), f(x["achieved_rps"]),
                             ms(x["p50_ms"]), ms(x["p99_ms"]), ms(x["p999_ms"]), ms(x["max_ms"]), str(x["non_2xx"]),
                             f(x["cpu_per_100k_s"], "{:.3f}"), f(x["db_cpu_per_100k_s"], "{:.3f}")])
        table(rows)
    if summary["lag"]:
        say("")
        say(f"replication lag: pgbench single-row UPDATE commits for {st['lag_duration']} s, {st['lag_clients']} clients; "
            f"commit delay from the replica's {METRIC} (bucket upper bounds)")
        rows = [["service", "target/s", "achieved/s", "transactions", "p50 ms", "p99 ms", "max ms", "mean ms"]]
        for x in summary["lag"]:
            rows.append([x["service"], f(x["target_cps"]), f(x["achieved_cps"], "{:,.1f}"), f(x["transactions"]),
                         ms(x["p50_ms"]), ms(x["p99_ms"]), ms(x["max_ms"]), ms(x["mean_ms"])])
        table(rows)
        for note in sorted({f"{x['service']}: {x['note']}" for x in summary["lag"] if x.get("note")}):
            say("  " + note)
    if summary["copy"]:
        say("")
        say("initial copy (the replica alone on the database): spawn -> first 200 of /health, and the copy as logged")
        rows = [["service", "users", "ready ms", "copy ms"]]
        for x in summary["copy"]:
            rows.append([x["service"], f(x["users"]), f(x["ready_ms"]), f(x["copy_ms"])])
        table(rows)
    if summary.get("restart"):
        say("")
        say("durable replica restart (--data-dir, --db-slot): stopped, written to while down, started again:")
        rows = [["service", "users", "first start ms", "restart: ready ms", "caught up ms", "copied again",
                 "writes while down", "RSS MiB"]]
        for x in summary["restart"]:
            rows.append([x["service"], f(x["users"]), f(x["first_ready_ms"]), f(x["ready_ms"]), f(x["caught_up_ms"]),
                         "yes" if x["copied"] else "no", f(x["writes_while_down"]), f(x["rss_mib"], "{:,.1f}")])
        table(rows)
    if summary["instances"]:
        say("")
        say("instances of one service started at once on one database (each its own slot and copy):")
        rows = [["service", "count", "RSS MiB each", "mean MiB", "ready ms each"]]
        for x in summary["instances"]:
            rows.append([x["service"], str(x["count"]), " ".join(f(v, "{:,.1f}") for v in x["rss_mib"]),
                         f(x["rss_mean_mib"], "{:,.1f}"), " ".join(f(v) for v in x["ready_ms"])])
        table(rows)
    say("")
    say("goals:")
    for g in summary["goals"]:
        verdict = {True: "met", False: "NOT met", None: "not measured"}[g["met"]]
        unit = "" if g["unit"] == "ratio" else " " + g["unit"]
        m = "-" if g["measured"] is None else f"{g['measured']:,.3f}{unit}"
        say(f"  {g['name']}: {m} (goal {g['comparison']} {g['limit']}{unit}): {verdict}")
    return "\n".join(lines)


# ---------------------------------------------------------------- self-test
SYNTHETIC = """# HELP userstore_replica_commit_delay_seconds time from a transaction's commit to its apply
# TYPE userstore_replica_commit_delay_seconds histogram
userstore_replica_commit_delay_seconds_bucket{le="0.0001"} 0
userstore_replica_commit_delay_seconds_bucket{le="0.001"} %d
userstore_replica_commit_delay_seconds_bucket{le="0.005"} %d
userstore_replica_commit_delay_seconds_bucket{le="0.02"} %d
userstore_replica_commit_delay_seconds_bucket{le="0.1"} %d
userstore_replica_commit_delay_seconds_bucket{le="30.0"} %d
userstore_replica_commit_delay_seconds_bucket{le="+Inf"} %d
userstore_replica_commit_delay_seconds_sum %s
userstore_replica_commit_delay_seconds_count %d
userstore_replica_lag_seconds 0.001
"""


class ParserTest(unittest.TestCase):
    def scrape(self, b1, b5, b20, b100, b30k, inf, total_s):
        return parse_histogram(SYNTHETIC % (b1, b5, b20, b100, b30k, inf, repr(total_s), inf))

    def test_diff_quantiles_and_mean(self):
        before = self.scrape(10, 10, 10, 10, 10, 10, 0.005)
        # 1000 more: 500 <= 1 ms, 400 in (1, 5], 95 in (5, 20], 5 in (20, 100].
        after = self.scrape(510, 910, 1005, 1010, 1010, 1010, 0.005 + 3.0)
        lag = lag_figures(before, after)
        self.assertEqual(lag["transactions"], 1000)
        self.assertEqual(lag["p50_ms"], 1.0)
        self.assertEqual(lag["p99_ms"], 20.0)    # 995 of 1000 within 20 ms: 99% reached in the (5, 20] bucket
        self.assertEqual(lag["max_ms"], 100.0)
        self.assertAlmostEqual(lag["mean_ms"], 3.0)
        self.assertAlmostEqual(share_within(lag, 20), 0.995)
        self.assertAlmostEqual(share_within(lag, 100), 1.0)
        self.assertIsNone(share_within(lag, 7))

    def test_p99_inside_a_bucket(self):
        before = self.scrape(0, 0, 0, 0, 0, 0, 0.0)
        after = self.scrape(0, 990, 1000, 1000, 1000, 1000, 2.0)
        lag = lag_figures(before, after)
        self.assertEqual((lag["p50_ms"], lag["p99_ms"], lag["max_ms"]), (5.0, 5.0, 20.0))
        self.assertEqual(share_within(lag, 5), 0.99)

    def test_labels_micrometer_style_and_inf(self):
        text = ('userstore_replica_commit_delay_seconds_bucket{service="a",le="1.0E-4",} 3.0\n'
                'userstore_replica_commit_delay_seconds_bucket{service="a",le="+Inf",} 4.0\n'
                'userstore_replica_commit_delay_seconds_count{service="a",} 4.0\n'
                'userstore_replica_commit_delay_seconds_sum{service="a",} 40.0\n')
        h = parse_histogram(text)
        self.assertEqual(h["buckets"], {0.0001: 3.0, math.inf: 4.0})
        zero = parse_histogram('userstore_replica_commit_delay_seconds_bucket{service="a",le="1.0E-4",} 0\n')
        lag = lag_figures(zero, h)
        self.assertEqual(lag["p50_ms"], 0.1)
        self.assertIsNone(lag["max_ms"])          # one transaction above the largest finite bucket
        self.assertIn("above", lag["note"])

    def test_missing_metric(self):
        h = parse_histogram("userstore_users{store=\"native\"} 5\nuserstore_replica_lag_seconds 0.1\n")
        self.assertIsNone(h)
        lag = lag_figures(None, h)
        self.assertIsNone(lag["p99_ms"])
        self.assertIsNone(lag["transactions"])
        self.assertEqual(lag["note"], MISSING)

    def test_no_transactions(self):
        h = self.scrape(5, 5, 5, 5, 5, 5, 0.01)
        lag = lag_figures(h, h)
        self.assertEqual(lag["transactions"], 0)
        self.assertIsNone(lag["p50_ms"])
        self.assertIsNone(lag["mean_ms"])
        self.assertIsNone(share_within(lag, 20))


def main(argv):
    if argv[1:] == ["--self-test"]:
        result = unittest.main(argv=[argv[0]], exit=False, verbosity=2).result
        return 0 if result.wasSuccessful() else 1
    if len(argv) == 3 and argv[1] == "--count":
        h = read_histogram(argv[2])
        print("none" if h is None else repr(h["count"]))
        return 0
    if len(argv) != 2 or argv[1].startswith("-"):
        print(__doc__, file=sys.stderr)
        return 2
    out = argv[1]
    summary = summarize(out)
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    txt = text(summary)
    print(txt)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
