#!/usr/bin/env bash
# PUT load on the three userstore HTTP services per sync mode (issue 13, durability): what a durable store costs
# a service. The services are loadtest.sh's:
#   rust           target/release/userstore-server
#   kotlin-native  kotlin-demo serve --store native
#   kotlin-kotlin  kotlin-demo serve --store kotlin
# and the modes:
#   memory         no --data-dir: the in-memory store (the baseline)
#   always|batch|none   --data-dir on a fresh temporary directory (deleted after) and --sync MODE
# Run it as `./gradlew durableLoadtest` (which builds installDist and the Rust server first) or directly after them.
#
# For each service, for each mode: start the service with 0 users (the first 200 of GET /health, polled every
# 50 ms, is the end of the start), warm up with a closed-loop PUT load for WARMUP at the highest connection count,
# then for each connection count C: a closed-loop PUT load (oha -c C, no rate limit) for DURATION, after PAUSE s.
# Every PUT is /users/{id} with id uniform in 0..999,999 (oha --rand-regex-url) and the body {"name":"durable-put"};
# so the first requests insert, later ones mostly insert too (1M ids), some replace. A closed loop measures
# capacity and the latency at capacity: it is not latency-corrected (loadtest.sh's constant-rate runs are).
# JVM services: -Xms HEAP -Xmx HEAP, the JVM's default collector (loadtest.sh's default variant, G1 on JDK 17+).
# Automatic checkpoints: the services' default threshold (64 MiB of log), as a deployment would run them.
#
# Settings (environment; ./gradlew durableLoadtest maps -PdurableLoadtest.NAME=VALUE onto DURABLE_LOADTEST_NAME=VALUE):
#   DURABLE_LOADTEST_SERVICES     services, comma separated          (default rust,kotlin-native,kotlin-kotlin)
#   DURABLE_LOADTEST_MODES        modes, comma separated             (default memory,always,batch,none)
#   DURABLE_LOADTEST_CONNECTIONS  oha connection counts, ascending   (default 1,8)
#   DURABLE_LOADTEST_DURATION     each measured run                  (default 10s)
#   DURABLE_LOADTEST_WARMUP       the warm-up run                    (default 5s)
#   DURABLE_LOADTEST_PAUSE        seconds before each measured run   (default 1)
#   DURABLE_LOADTEST_HEAP         JVM heap, -Xms and -Xmx            (default 2g)
#   DURABLE_LOADTEST_DATA         parent of the data directories     (default: TMPDIR, else /tmp)
#   DURABLE_LOADTEST_PORT         first port tried; busy ones skipped (default 18380)
#   DURABLE_LOADTEST_RUST_BIN     the Rust service                   (default target/release/userstore-server)
#   DURABLE_LOADTEST_OUT          output folder                      (default build/durable-loadtest)
# Default run: 3 services x 4 modes x (start, 5 s warm-up, 2 x (1 + 10) s) = about 7 minutes (6m50s on the busy 2-core machine).
#
# OUTPUT: OUT/<UTC stamp>/ holds every raw oha JSON (<service>-<mode>-warmup.json, <service>-<mode>-c<C>.json),
# every server log, environment.json, summary.json and summary.txt; OUT/summary.json and OUT/summary.txt are
# copies of the latest. summary.json:
#   { "schema": 1, "date", "machine": {"cpu", "cores", "java", "os", "load_start", "load_end", "git",
#                                      "data_dir", "data_fs"},
#     "oha": "1.16.0", "settings": {...},
#     "runs": [ {"service", "mode", "connections", "rps" (2xx answers per second), "answered",
#                "non_2xx" (answers other than 2xx and errors, not counting the requests oha cancels at the deadline),
#                "p50_ms", "p99_ms", "p999_ms", "max_ms", "file"} ],
#     "ratios": [ {"service", "mode", "connections", "rps_over_memory", "p99_over_memory", "p999_over_memory"} ],
#     "group_commit": [ {"service", "mode", "low_connections", "high_connections", "rps_high_over_low"} ],
#     "not_started": [ "<service>-<mode>", ... ] (left out: the service did not start in that mode) }
set -euo pipefail
export LC_ALL=C

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"

die() { echo "durable-loadtest: $*" >&2; exit 1; }
log() { echo "durable-loadtest: $(date -u +%H:%M:%S) $*" >&2; }

services=${DURABLE_LOADTEST_SERVICES:-rust,kotlin-native,kotlin-kotlin}
modes=${DURABLE_LOADTEST_MODES:-memory,always,batch,none}
connections=${DURABLE_LOADTEST_CONNECTIONS:-1,8}
duration=${DURABLE_LOADTEST_DURATION:-10s}
warmup=${DURABLE_LOADTEST_WARMUP:-5s}
pause=${DURABLE_LOADTEST_PAUSE:-1}
heap=${DURABLE_LOADTEST_HEAP:-2g}
data_parent=${DURABLE_LOADTEST_DATA:-${TMPDIR:-/tmp}}
port=${DURABLE_LOADTEST_PORT:-18380}
rust_bin=${DURABLE_LOADTEST_RUST_BIN:-$root/target/release/userstore-server}
out_base=${DURABLE_LOADTEST_OUT:-$root/build/durable-loadtest}
oha_version=1.16.0
oha=$root/build/tools/oha-$oha_version/bin/oha
jvm_bin=$root/kotlin-demo/build/install/kotlin-demo/bin/kotlin-demo
host=127.0.0.1

command -v python3 > /dev/null 2>&1 || die "python3 is needed (the summary)"
command -v curl > /dev/null 2>&1 || die "curl is needed (the /health poll)"
IFS=, read -r -a service_list <<< "$services"
IFS=, read -r -a mode_list <<< "$modes"
mapfile -t conn_list < <(tr ',' '\n' <<< "$connections" | sort -n)
for c in "${conn_list[@]}"; do [[ $c =~ ^[1-9][0-9]*$ ]] || die "a connection count must be a whole number >= 1, not '$c'"; done
for d in "$duration" "$warmup"; do [[ $d =~ ^[0-9]+(ms|s|m)?$ ]] || die "a duration must look like 10s, 500ms or 2m, not '$d'"; done
[[ $pause =~ ^[0-9.]+$ ]] || die "DURABLE_LOADTEST_PAUSE must be seconds"
[[ $port =~ ^[0-9]+$ ]] || die "DURABLE_LOADTEST_PORT must be a port number"
for m in "${mode_list[@]}"; do
  case $m in memory | always | batch | none) ;; *) die "unknown mode '$m' (memory, always, batch, none)" ;; esac
done
for s in "${service_list[@]}"; do
  case $s in
    rust) [ -x "$rust_bin" ] || die "no $rust_bin: cargo build --release -p userstore-server (./gradlew durableLoadtest does)" ;;
    kotlin-native | kotlin-kotlin) [ -x "$jvm_bin" ] || die "no $jvm_bin: ./gradlew installDist (./gradlew durableLoadtest does)" ;;
    *) die "unknown service '$s' (rust, kotlin-native, kotlin-kotlin)" ;;
  esac
done
mkdir -p "$data_parent"
data_fs=$(df --output=fstype "$data_parent" 2> /dev/null | tail -1)
[ "$data_fs" = tmpfs ] && log "WARNING: $data_parent is a tmpfs: syncs cost nothing there, the figures say nothing about durability"

# oha, pinned, built once into build/tools (as loadtest.sh does).
if [ ! -x "$oha" ]; then
  command -v cargo > /dev/null 2>&1 || die "cargo is needed to build oha $oha_version"
  log "building oha $oha_version into build/tools (once; a few minutes)"
  cargo install oha --version "$oha_version" --locked --root "$root/build/tools/oha-$oha_version" \
    --target-dir "$root/build/tools/cargo-target" >&2
fi

stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
out=$out_base/$stamp
mkdir -p "$out"
load_start=$(cut -d' ' -f1 /proc/loadavg)

server_pid='' data_dir=''
stop_server() {
  [ -n "$server_pid" ] || return 0
  kill -TERM "$server_pid" 2> /dev/null || true
  for _ in $(seq 1 300); do
    kill -0 "$server_pid" 2> /dev/null || break
    sleep 0.1
  done
  kill -0 "$server_pid" 2> /dev/null && kill -KILL "$server_pid" 2> /dev/null
  wait "$server_pid" 2> /dev/null || true
  server_pid=''
  if [ -n "$data_dir" ]; then rm -rf "$data_dir"; data_dir=''; fi
}
trap 'stop_server' EXIT
trap 'exit 130' INT TERM

free_port() {
  local q=$1
  while (exec 3<> "/dev/tcp/$host/$q") 2> /dev/null; do q=$((q + 1)); done
  echo "$q"
}

# start SERVICE MODE PORT LOG: starts the server (our child: bin/kotlin-demo execs java) and waits for /health.
start() {
  local s=$1 m=$2 p=$3 logf=$4 args=()
  if [ "$m" != memory ]; then
    data_dir=$(mktemp -d "$data_parent/userstore-durable-loadtest-XXXXXX")
    args=(--data-dir "$data_dir" --sync "$m")
  fi
  if [ "$s" = rust ]; then
    "$rust_bin" --port "$p" --host "$host" ${args[@]+"${args[@]}"} > "$logf" 2>&1 &
  else
    JAVA_OPTS="-Xms$heap -Xmx$heap" KOTLIN_DEMO_OPTS='' \
      "$jvm_bin" serve --store "${s#kotlin-}" --port "$p" --host "$host" ${args[@]+"${args[@]}"} > "$logf" 2>&1 &
  fi
  server_pid=$!
  for _ in $(seq 1 1200); do
    kill -0 "$server_pid" 2> /dev/null || { wait "$server_pid" 2> /dev/null || true; server_pid=''; return 1; }
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://$host:$p/health" 2> /dev/null)" = 200 ] && return 0
    sleep 0.05
  done
  return 1
}

put_load() { # put_load FILE URL DURATION CONNECTIONS
  "$oha" --no-tui --output-format json -z "$3" -c "$4" --rand-regex-url \
    -m PUT -T application/json -d '{"name":"durable-put"}' "$2" > "$1"
}

log "results in $out; services ${service_list[*]}; modes ${mode_list[*]}; connections ${conn_list[*]}; data in $data_parent ($data_fs)"
max_conn=${conn_list[${#conn_list[@]} - 1]}
failed=()
for s in "${service_list[@]}"; do
  for m in "${mode_list[@]}"; do
    p=$(free_port "$port")
    tag=$s-$m
    log "$tag: starting on port $p"
    if ! start "$s" "$m" "$p" "$out/$tag-server.log"; then
      # Said and left out of the summary (e.g. a service built without --data-dir); the other runs go on.
      log "$tag did not start; see $out/$tag-server.log"
      failed+=("$tag")
      stop_server
      continue
    fi
    url="http://$host:$p/users/[0-9]{6}"
    log "$tag: warm-up $warmup, $max_conn connections"
    put_load "$out/$tag-warmup.json" "$url" "$warmup" "$max_conn"
    for c in "${conn_list[@]}"; do
      sleep "$pause"
      put_load "$out/$tag-c$c.json" "$url" "$duration" "$c"
      log "$tag: $c connections: $(python3 -c 'import json,sys; print("{:,.0f} req/s".format(json.load(open(sys.argv[1]))["summary"]["requestsPerSec"]))' "$out/$tag-c$c.json")"
    done
    stop_server
  done
done
load_end=$(cut -d' ' -f1 /proc/loadavg)

DLT_OUT=$out DLT_STAMP=$stamp DLT_ROOT=$root DLT_OHA=$oha_version DLT_LOAD_START=$load_start DLT_LOAD_END=$load_end \
  DLT_DATA=$data_parent DLT_FS=$data_fs DLT_SERVICES=$services DLT_MODES=$modes DLT_CONNS=$(IFS=,; echo "${conn_list[*]}") \
  DLT_DURATION=$duration DLT_WARMUP=$warmup DLT_PAUSE=$pause DLT_HEAP=$heap DLT_FAILED="${failed[*]:-}" \
  python3 - << 'PY' | tee "$out/summary.txt"
import json, os, platform, subprocess
e = os.environ
out = e["DLT_OUT"]
services, modes = e["DLT_SERVICES"].split(","), e["DLT_MODES"].split(",")
conns = [int(c) for c in e["DLT_CONNS"].split(",")]

def cpu():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()

def run(*cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, cwd=e["DLT_ROOT"])
        return (r.stdout + r.stderr).strip()
    except OSError:
        return ""

def figures(name):
    d = json.load(open(os.path.join(out, name)))
    codes = d.get("statusCodeDistribution", {}) or {}
    # Requests oha cancels at the -z deadline are not failures of the service: left out of non_2xx.
    errors = {k: n for k, n in (d.get("errorDistribution", {}) or {}).items() if "deadline" not in k}
    answered = sum(codes.values())
    good = sum(n for c, n in codes.items() if str(c).startswith("2"))
    seconds = d["summary"]["total"] or 0
    p = d.get("latencyPercentiles", {}) or {}
    ms = lambda x: None if x is None else x * 1000
    return {"rps": good / seconds if seconds else 0.0, "answered": answered,
            "non_2xx": answered + sum(errors.values()) - good,
            "p50_ms": ms(p.get("p50")), "p99_ms": ms(p.get("p99")), "p999_ms": ms(p.get("p99.9")),
            "max_ms": ms(d["summary"].get("slowest")), "file": name}

runs = []
for s in services:
    for m in modes:
        for c in conns:
            name = f"{s}-{m}-c{c}.json"
            if os.path.isfile(os.path.join(out, name)):
                runs.append({"service": s, "mode": m, "connections": c, **figures(name)})
by = {(r["service"], r["mode"], r["connections"]): r for r in runs}
div = lambda a, b: a / b if a is not None and b else None
ratios, group = [], []
for r in runs:
    base = by.get((r["service"], "memory", r["connections"]))
    if r["mode"] != "memory" and base:
        ratios.append({"service": r["service"], "mode": r["mode"], "connections": r["connections"],
                       "rps_over_memory": div(r["rps"], base["rps"]), "p99_over_memory": div(r["p99_ms"], base["p99_ms"]),
                       "p999_over_memory": div(r["p999_ms"], base["p999_ms"])})
if len(conns) > 1:
    for s in services:
        for m in modes:
            lo, hi = by.get((s, m, conns[0])), by.get((s, m, conns[-1]))
            if lo and hi:
                group.append({"service": s, "mode": m, "low_connections": conns[0], "high_connections": conns[-1],
                              "rps_high_over_low": div(hi["rps"], lo["rps"])})
git = run("git", "rev-parse", "--short", "HEAD")
summary = {
    "schema": 1, "date": e["DLT_STAMP"],
    "machine": {"cpu": cpu(), "cores": os.cpu_count(), "java": run("java", "-version").split("\n")[0] or None,
                "os": f"{platform.system()} {platform.release()}", "load_start": float(e["DLT_LOAD_START"]),
                "load_end": float(e["DLT_LOAD_END"]),
                "git": (git + (" (modified)" if run("git", "status", "--porcelain", "-uno") else "")) or None,
                "data_dir": e["DLT_DATA"], "data_fs": e["DLT_FS"]},
    "oha": e["DLT_OHA"],
    "settings": {"services": services, "modes": modes, "connections": conns, "duration": e["DLT_DURATION"],
                 "warmup": e["DLT_WARMUP"], "pause": float(e["DLT_PAUSE"]), "heap": e["DLT_HEAP"],
                 "request": "PUT /users/{0..999999} {\"name\":\"durable-put\"}, closed loop"},
    "runs": runs, "ratios": ratios, "group_commit": group, "not_started": e["DLT_FAILED"].split(),
}
json.dump(summary, open(os.path.join(out, "summary.json"), "w"), indent=1)

f = lambda x, p="{:,.0f}": "-" if x is None else p.format(x)
ms = lambda x: "-" if x is None else f"{x:,.2f}"
mc = summary["machine"]
print(f"durable PUT load, {summary['date']}: {mc['cpu']}, {mc['cores']} cores, load {mc['load_start']} -> {mc['load_end']}; "
      f"data in {mc['data_dir']} ({mc['data_fs']}); oha {summary['oha']}, closed loop, {e['DLT_DURATION']} per run")
rows = [["service", "mode", "conns", "PUT/s", "/ memory", "p50 ms", "p99 ms", "p99.9 ms", "p99.9 / memory", "non-2xx"]]
rat = {(x["service"], x["mode"], x["connections"]): x for x in ratios}
for r in runs:
    x = rat.get((r["service"], r["mode"], r["connections"]), {})
    rows.append([r["service"], r["mode"], str(r["connections"]), f(r["rps"]), f(x.get("rps_over_memory"), "{:.3f}"),
                 ms(r["p50_ms"]), ms(r["p99_ms"]), ms(r["p999_ms"]), f(x.get("p999_over_memory"), "{:.1f}"), str(r["non_2xx"])])
w = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
for row in rows:
    print("  ".join(c.ljust(w[i]) if i < 2 else c.rjust(w[i]) for i, c in enumerate(row)))
if group:
    print(f"\nPUT/s with {conns[-1]} connections over PUT/s with {conns[0]} (group commit shows as a higher ratio under always):")
    for g in group:
        print(f"  {g['service']:<14} {g['mode']:<7} {f(g['rps_high_over_low'], '{:.2f}')}")
PY
if [ ${#failed[@]} -gt 0 ]; then echo "did not start (left out): ${failed[*]}" | tee -a "$out/summary.txt"; fi
cp "$out/summary.json" "$out/summary.txt" "$out_base/"
log "raw oha JSON, server logs, summary.{json,txt}: $out"
