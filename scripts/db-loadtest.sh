#!/usr/bin/env bash
# Load test of the article's handler on a database: the userstore HTTP services with --db, Rust
# against Kotlin, on one PostgreSQL database of USERS rows:
#   direct   every request is one statement on a pooled connection (docs/SERVICE.md, "Database modes"):
#            rust = target/release/userstore-server --db URL --db-mode direct,
#            kotlin = kotlin-demo serve --db URL --db-mode direct (no --store: direct mode has no store, so the
#            Kotlin service runs once here, as "kotlin")
#   replica  reads from the in-process store kept equal to the table by logical replication (a temporary slot and
#            an initial copy per instance): rust, kotlin-native (--store native), kotlin-kotlin (--store kotlin)
# Run it as `./gradlew dbLoadtest` (which builds installDist and the Rust server first) or directly after them.
#
# ONE RUN:
#   1. database  DB_LOADTEST_URL, else the project's private cluster (scripts/postgres.sh start; stopped at exit
#                only if this script started it). A fresh database userstore_loadtest (DROP ... WITH (FORCE) +
#                CREATE) on that server, the users table with the services' own DDL (db::SCHEMA, read from
#                server/src/db.rs), filled with USERS rows (id, 'user-'||id), id 0..USERS-1, in one
#                INSERT ... SELECT FROM generate_series, then VACUUM ANALYZE. Both timed (recorded, not a goal).
#   2. per mode (direct first), every service of the mode started one after another and left running until the
#      mode is done, each on its own port: spawn -> first 200 of GET /health timed by scripts/startup_probe.py
#      (polls every 10 ms; replica mode answers 200 once the copy is done and the stream caught up, so it includes
#      the initial copy; at most READY_TIMEOUT s), SETTLE s, VmRSS ("rss_ready"); warm-up: closed loop for WARMUP;
#      capacity: closed loop for CAPACITY (2xx answers per second). GET /users/{id}, id uniform in 0..USERS-1
#      (oha --rand-regex-url), CONNECTIONS connections throughout. Then for each fraction F of FRACTIONS, each
#      service in turn: oha -q F x (the LOWEST capacity of this mode) --latency-correction for DURATION: p50, p99,
#      p99.9, max, achieved 2xx/s, non-2xx. Every phase (warm-up, capacity, rates) records the server's
#      utime+stime (/proc/PID/stat) and PostgreSQL's (the postmaster's utime+stime+cutime+cstime plus the
#      utime+stime of its living children: backends, WAL senders, background workers) before and after, so the
#      summary has CPU seconds per 100k answered requests for both. VmRSS again after the last rate ("rss_after");
#      then the mode's servers are stopped (SIGTERM).
#   3. lag, per replica service, alone on the database: started (its ready_ms and, from its log line
#      "copied N rows ... in T ms" when it prints one, copy_ms: the "copy" record), /metrics scraped; then for each
#      rate R of LAG_RATES: pgbench -n -M prepared -R R -T LAG_DURATION -c LAG_CLIENTS -j 2 with the script
#      `\set id random(0, USERS-1)` / `UPDATE users SET name = 'lag-' || :id WHERE id = :id;` (one single-row
#      commit per transaction); then /metrics scraped until userstore_replica_commit_delay_seconds_count stops
#      growing (2 s after pgbench, then every 1 s, at most 10 s). The replica's commit-delay histogram, diffed
#      over the run, gives p50/p99/max (bucket upper bounds) and the mean. A service without that histogram gives
#      nulls and a message in the summary. Then it is stopped.
#   3b. restart, per replica service: a durable replica (--data-dir on a fresh folder under the run's tmp/,
#      --db-slot userstore_loadtest_<service>, dropped first if left over) started (its copy), stopped with SIGTERM;
#      while it is down, RESTART_WRITES single-row commits (pgbench, 1000/s) and last a marker: id 0 renamed to
#      restart-<stamp>; then started again: "ready_ms" (spawn -> first 200 of /health) and "caught_up_ms" (spawn ->
#      the first GET /users/0 that answers the marker's name, polled every 10 ms: every write made while it was down
#      applied); "copied" is true if its log says it copied the table again ("copied N rows"). Then stopped, its
#      slot dropped and its folder deleted.
#   4. instances, per replica service: INSTANCES instances started at once (each its own temporary slot and copy),
#      all waited for, SETTLE s, VmRSS of each; then all stopped.
#   5. scripts/db_loadtest_summary.py RUN_DIR: summary.json (the db-loadtest schema) and summary.txt (tables and
#      the goals, met or not); OUT/summary.json and OUT/summary.txt are copies of the latest.
# JVM services: JAVA_OPTS="-Xms HEAP -Xmx HEAP", the JVM's default collector, everywhere (instances too).
# Both services use their default --db-pool (10). Every server is stopped on any exit (SIGTERM, SIGKILL after 30 s).
#
# Settings (environment; ./gradlew dbLoadtest maps -PdbLoadtest.NAME=VALUE onto DB_LOADTEST_NAME=VALUE):
#   DB_LOADTEST_URL           postgres://USER@HOST:PORT/DB of a server to use (the database named there is only
#                             used to create userstore_loadtest)  (default: scripts/postgres.sh start)
#   DB_LOADTEST_USERS         rows in the table, d*10^k                         (default 1000000)
#   DB_LOADTEST_SERVICES      rust, kotlin-native, kotlin-kotlin (comma separated; direct mode runs "kotlin" once
#                             if either Kotlin one is selected)          (default rust,kotlin-native,kotlin-kotlin)
#   DB_LOADTEST_MODES         direct, replica                                   (default direct,replica)
#   DB_LOADTEST_FRACTIONS     constant rates as fractions of the mode's lowest capacity (default 0.5,0.8)
#   DB_LOADTEST_DURATION      each constant-rate run                            (default 15s)
#   DB_LOADTEST_CAPACITY      the closed-loop capacity run                      (default 10s)
#   DB_LOADTEST_WARMUP        the closed-loop warm-up                           (default 10s)
#   DB_LOADTEST_CONNECTIONS   oha connections                                   (default 32)
#   DB_LOADTEST_LAG_RATES     pgbench commit rates, comma separated; empty skips the lag step (default 1000,5000)
#   DB_LOADTEST_LAG_DURATION  each pgbench run, seconds                         (default 20)
#   DB_LOADTEST_LAG_CLIENTS   pgbench clients                                   (default 8)
#   DB_LOADTEST_INSTANCES     instances per replica service at once; 0 skips    (default 3)
#   DB_LOADTEST_RESTART       1: the durable replica restart step (3b); 0 skips  (default 1)
#   DB_LOADTEST_HEAP          JVM heap: -Xms and -Xmx                           (default 4g)
#   DB_LOADTEST_JDK           "default" (JAVA_HOME, else java on the PATH), a feature version under /usr/lib/jvm
#                             (e.g. 25) or a JDK folder                         (default default)
#   DB_LOADTEST_SETTLE        seconds between /health and an RSS reading        (default 2)
#   DB_LOADTEST_PAUSE         seconds between two oha runs                      (default 2)
#   DB_LOADTEST_READY_TIMEOUT seconds a service may take to answer 200 on /health (default 120)
#   DB_LOADTEST_PG_BIN        PostgreSQL client programs (psql, pgbench)        (default: pg_config --bindir, else
#                             /usr/lib/postgresql/15/bin)
#   DB_LOADTEST_PG_PID        the postmaster's PID, for PostgreSQL's CPU (default: the private cluster's
#                             postmaster.pid, else the process listening on the URL's port; none: CPU left null)
#   DB_LOADTEST_PORT          first port tried; busy ones skipped               (default 18480)
#   DB_LOADTEST_RUST_BIN      the Rust service                  (default target/release/userstore-server)
#   DB_LOADTEST_OUT           output folder                     (default kotlin-demo/build/reports/userstore/db-loadtest)
# Default run (1M users): about 10 minutes on the 2-core machine (printed at the start). Memory: three JVMs with a 4g
# heap at once in replica mode and in the instances step.
#
# OUTPUT: OUT/<UTC stamp>/ holds environment.json, records.jsonl (every server start, phase, RSS reading, pgbench
# run and /metrics scrape, as measured), every raw oha JSON (<mode>-<service>-<phase>.json), every pgbench output
# (lag-<service>-<rate>.txt) and script, every /metrics scrape (lag-<service>-*.metrics), every server log,
# summary.json and summary.txt. summary.json: see /work/briefs/dbload-schema.md's format, restated in
# scripts/db_loadtest_summary.py (which rebuilds the summaries from a run's folder: db_loadtest_summary.py DIR).
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME with a decimal point

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"

die() { echo "db-loadtest: $*" >&2; exit 1; }
log() { echo "db-loadtest: $(date -u +%H:%M:%S) $*" >&2; }

db_url=${DB_LOADTEST_URL:-}
users=${DB_LOADTEST_USERS:-1000000}
services=${DB_LOADTEST_SERVICES:-rust,kotlin-native,kotlin-kotlin}
modes=${DB_LOADTEST_MODES:-direct,replica}
fractions=${DB_LOADTEST_FRACTIONS:-0.5,0.8}
duration=${DB_LOADTEST_DURATION:-15s}
capacity=${DB_LOADTEST_CAPACITY:-10s}
warmup=${DB_LOADTEST_WARMUP:-10s}
connections=${DB_LOADTEST_CONNECTIONS:-32}
lag_rates=${DB_LOADTEST_LAG_RATES-1000,5000}
lag_duration=${DB_LOADTEST_LAG_DURATION:-20}
lag_clients=${DB_LOADTEST_LAG_CLIENTS:-8}
instances=${DB_LOADTEST_INSTANCES:-3}
restart=${DB_LOADTEST_RESTART:-1}
heap=${DB_LOADTEST_HEAP:-4g}
jdk=${DB_LOADTEST_JDK:-default}
settle=${DB_LOADTEST_SETTLE:-2}
pause=${DB_LOADTEST_PAUSE:-2}
ready_timeout=${DB_LOADTEST_READY_TIMEOUT:-120}
pg_bin=${DB_LOADTEST_PG_BIN:-}
pg_pid=${DB_LOADTEST_PG_PID:-}
port=${DB_LOADTEST_PORT:-18480}
rust_bin=${DB_LOADTEST_RUST_BIN:-$root/target/release/userstore-server}
out_base=${DB_LOADTEST_OUT:-$root/kotlin-demo/build/reports/userstore/db-loadtest}
oha_version=1.16.0
oha=$root/build/tools/oha-$oha_version/bin/oha
jvm_bin=$root/kotlin-demo/build/install/kotlin-demo/bin/kotlin-demo
probe=$root/scripts/startup_probe.py
summary_py=$root/scripts/db_loadtest_summary.py
host=127.0.0.1
test_db=userstore_loadtest

# ---------------------------------------------------------------- settings checked
command -v python3 > /dev/null 2>&1 || die "python3 is needed (start-up probe, summary)"
command -v curl > /dev/null 2>&1 || die "curl is needed (the /metrics scrapes)"
for v in connections lag_duration lag_clients instances restart port ready_timeout; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "DB_LOADTEST_${v^^} must be a whole number, not '${!v}'"
done
{ [ "$connections" -ge 1 ] && [ "$lag_duration" -ge 1 ] && [ "$lag_clients" -ge 1 ]; } \
  || die "DB_LOADTEST_CONNECTIONS, _LAG_DURATION and _LAG_CLIENTS must be at least 1"
for d in "$duration" "$capacity" "$warmup"; do
  [[ $d =~ ^[0-9]+(ms|s|m)?$ ]] || die "a duration must look like 15s, 500ms or 2m, not '$d'"
done
[[ $settle =~ ^[0-9.]+$ && $pause =~ ^[0-9.]+$ ]] || die "DB_LOADTEST_SETTLE and DB_LOADTEST_PAUSE must be seconds"
[[ $heap =~ ^[0-9]+[kKmMgG]?$ ]] || die "DB_LOADTEST_HEAP must look like 4g or 512m, not '$heap'"
# GET /users/{id}, id uniform in 0..USERS-1, as oha's --rand-regex-url regex: USERS must be d*10^k (as loadtest.sh).
[[ $users =~ ^([1-9])(0*)$ ]] || die "DB_LOADTEST_USERS ($users) must be a digit followed by zeros (100000, 1000000, ...)"
if [ "${BASH_REMATCH[1]}" = 1 ]; then id_regex="[0-9]{${#BASH_REMATCH[2]}}"; else id_regex="[0-$((BASH_REMATCH[1] - 1))][0-9]{${#BASH_REMATCH[2]}}"; fi
[ "$users" -ge 10 ] || die "DB_LOADTEST_USERS must be at least 10"
IFS=, read -r -a service_list <<< "$services"
IFS=, read -r -a mode_list <<< "$modes"
mapfile -t fraction_list < <(tr ',' '\n' <<< "$fractions" | sort -g)
for f in "${fraction_list[@]}"; do [[ $f =~ ^(0?\.[0-9]+|1(\.0*)?)$ ]] || die "a fraction must be in (0, 1], not '$f'"; done
lag_list=()
[ -z "$lag_rates" ] || IFS=, read -r -a lag_list <<< "$lag_rates"
for r in ${lag_list[@]+"${lag_list[@]}"}; do [[ $r =~ ^[1-9][0-9]*$ ]] || die "a lag rate must be a whole number >= 1, not '$r'"; done
for m in "${mode_list[@]}"; do
  case $m in direct | replica) ;; *) die "unknown mode '$m' (direct, replica)" ;; esac
done
want_jvm=0
for s in "${service_list[@]}"; do
  case $s in
    rust) [ -x "$rust_bin" ] || die "no $rust_bin: cargo build --release -p userstore-server (./gradlew dbLoadtest does)" ;;
    kotlin-native | kotlin-kotlin)
      [ -x "$jvm_bin" ] || die "no $jvm_bin: ./gradlew installDist (./gradlew dbLoadtest does)"
      want_jvm=1
      ;;
    *) die "unknown service '$s' (rust, kotlin-native, kotlin-kotlin)" ;;
  esac
done
# The services of each mode: direct runs the Kotlin service once ("kotlin"), replica each selected one.
direct_services=() replica_services=()
for s in "${service_list[@]}"; do
  case $s in
    rust) direct_services+=(rust) replica_services+=(rust) ;;
    kotlin-*)
      replica_services+=("$s")
      case " ${direct_services[*]:-} " in *" kotlin "*) ;; *) direct_services+=(kotlin) ;; esac
      ;;
  esac
done

# The JDK of the JVM services (as loadtest.sh's LOADTEST_JDKS, one of them).
java_feature() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1; }
java_home=''
if [ "$want_jvm" = 1 ]; then
  case $jdk in
    default)
      if [ -n "${JAVA_HOME:-}" ]; then java_home=$JAVA_HOME
      else
        command -v java > /dev/null 2>&1 || die "no java on the PATH and no JAVA_HOME"
        java_home=$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")
      fi
      ;;
    /*) java_home=$jdk ;;
    *)
      [[ $jdk =~ ^[0-9]+$ ]] || die "DB_LOADTEST_JDK: '$jdk' is neither default, a feature version nor a folder"
      for h in ${JAVA_HOME:-} /usr/lib/jvm/*; do
        [ -x "$h/bin/java" ] || continue
        f=$(java_feature "$h" 2> /dev/null || true)
        if [ "${f%%.*}" = "$jdk" ]; then java_home=$(readlink -f "$h"); break; fi
      done
      [ -n "$java_home" ] || die "DB_LOADTEST_JDK: no JDK $jdk in JAVA_HOME or /usr/lib/jvm"
      ;;
  esac
  [ -x "$java_home/bin/java" ] || die "no $java_home/bin/java"
fi
java_version=''
[ -z "$java_home" ] || java_version=$("$java_home/bin/java" -version 2>&1 | head -1)

# PostgreSQL's client programs: psql and pgbench.
if [ -z "$pg_bin" ]; then
  pg_bin=$(pg_config --bindir 2> /dev/null || true)
  [ -x "$pg_bin/pgbench" ] || pg_bin=/usr/lib/postgresql/15/bin
fi
{ [ -x "$pg_bin/psql" ] && [ -x "$pg_bin/pgbench" ]; } \
  || die "no psql and pgbench in $pg_bin: install PostgreSQL's client programs or set DB_LOADTEST_PG_BIN"

# The parser of the lag histogram, checked on a synthetic /metrics text before anything is started.
python3 "$summary_py" --self-test > /dev/null 2>&1 || die "python3 $summary_py --self-test fails: the summary cannot be trusted"

# oha, pinned, built once into build/tools (as loadtest.sh does).
if [ ! -x "$oha" ]; then
  command -v cargo > /dev/null 2>&1 || die "cargo is needed to build oha $oha_version"
  log "building oha $oha_version into build/tools (once; a few minutes)"
  cargo install oha --version "$oha_version" --locked --root "$root/build/tools/oha-$oha_version" \
    --target-dir "$root/build/tools/cargo-target" >&2
fi

# ---------------------------------------------------------------- output, servers
stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
out=$out_base/$stamp
tmp=$out/tmp
mkdir -p "$out" "$tmp"
records=$out/records.jsonl
: > "$records"
clk_tck=$(getconf CLK_TCK)

json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
record() { printf '%s\n' "$1" >> "$records"; }
now() { echo "$EPOCHREALTIME"; }
ms_since() { python3 -c 'import sys; print(round((float(sys.argv[2]) - float(sys.argv[1])) * 1000, 1))' "$1" "$(now)"; }
rss_kib() { # VmRSS of PID in KiB, or null
  local v
  v=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2> /dev/null || true)
  echo "${v:-null}"
}
mib() { if [[ $1 =~ ^[0-9]+$ ]]; then echo $(($1 / 1024)); else echo '?'; fi; }
cpu_ticks() { # utime + stime of PID in clock ticks (fields 14 and 15 of /proc/PID/stat; comm may hold spaces)
  local line rest
  { read -r line < "/proc/$1/stat"; } 2> /dev/null || { echo null; return; }
  rest=${line##*) }
  local -a st
  read -r -a st <<< "$rest"
  echo $((st[11] + st[12]))
}
# PostgreSQL's CPU in ticks: the postmaster's utime+stime+cutime+cstime (cutime/cstime: its children that exited
# and were reaped) plus utime+stime of each living child. A child that exits during a phase moves its time from the
# second part to the first, so the difference over a phase is the server's whole CPU in that phase.
pg_ticks() {
  [ -n "$pg_pid" ] || { echo null; return; }
  local line rest total=0 f
  local -a st
  { read -r line < "/proc/$pg_pid/stat"; } 2> /dev/null || { echo null; return; }
  rest=${line##*) }
  read -r -a st <<< "$rest"
  total=$((st[11] + st[12] + st[13] + st[14]))
  for f in /proc/[0-9]*/stat; do
    { read -r line < "$f"; } 2> /dev/null || continue
    rest=${line##*) }
    read -r -a st <<< "$rest"
    [ "${st[1]}" = "$pg_pid" ] && total=$((total + st[11] + st[12]))
  done
  echo "$total"
}

declare -A probe_of=() # server PID -> its startup_probe.py PID (our child)
started_pid='' started_ms=''

# spawn_server SERVICE MODE PORT TAG: starts the server through the start-up probe (in the background); sets
# spawned_probe and spawned_result. Use wait_server to get its PID and start time.
spawn_server() {
  local s=$1 m=$2 p=$3 tag=$4 res
  shift 4 # the rest: extra arguments for the server (the restart step's --data-dir and --db-slot)
  res=$tmp/$tag.probe.json
  rm -f "$res"
  if [ "$s" = rust ]; then
    python3 "$probe" --host "$host" --port "$p" --timeout "$ready_timeout" --interval 0.01 --result "$res" -- \
      "$rust_bin" --port "$p" --host "$host" --db "$load_url" --db-mode "$m" "$@" > "$out/$tag-server.log" 2>&1 &
  else
    local store=()
    [ "$s" = kotlin ] || store=(--store "${s#kotlin-}")
    JAVA_HOME=$java_home JAVA_OPTS="-Xms$heap -Xmx$heap" KOTLIN_DEMO_OPTS='' \
      python3 "$probe" --host "$host" --port "$p" --timeout "$ready_timeout" --interval 0.01 --result "$res" -- \
      "$jvm_bin" serve ${store[@]+"${store[@]}"} --port "$p" --host "$host" --db "$load_url" --db-mode "$m" "$@" \
      > "$out/$tag-server.log" 2>&1 &
  fi
  spawned_probe=$! spawned_result=$res
}

# wait_server PROBE_PID RESULT TAG: waits for the probe's result; sets started_pid and started_ms; 1 if it failed.
wait_server() {
  local pp=$1 res=$2 tag=$3
  started_pid='' started_ms=''
  until [ -s "$res" ]; do
    kill -0 "$pp" 2> /dev/null || break
    sleep 0.05
  done
  if [ ! -s "$res" ]; then
    wait "$pp" 2> /dev/null || true
    log "$tag: the start-up probe failed; see $out/$tag-server.log"
    return 1
  fi
  started_pid=$(sed -n 's/.*"pid": \([0-9][0-9]*\).*/\1/p' "$res")
  started_ms=$(sed -n 's/.*"ms": \([0-9.e+-]*\).*/\1/p' "$res")
  [ -n "$started_pid" ] && probe_of[$started_pid]=$pp
  if grep -q '"error"' "$res"; then
    log "$tag: $(sed -n 's/.*"error": "\([^"]*\)".*/\1/p' "$res"); see $out/$tag-server.log"
    [ -n "$started_pid" ] && stop_servers KILL "$started_pid"
    wait "$pp" 2> /dev/null || true
    started_pid=''
    return 1
  fi
  return 0
}

start_server() { # start_server SERVICE MODE PORT TAG [SERVER ARGS...]
  spawn_server "$@"
  wait_server "$spawned_probe" "$spawned_result" "$4"
}

# stop_servers [KILL] PID...: SIGTERM (or SIGKILL) to each, then waits for each (SIGKILL after 30 s).
stop_servers() {
  local sig=TERM pid
  if [ "${1:-}" = KILL ]; then sig=KILL; shift; fi
  for pid in "$@"; do kill -"$sig" "$pid" 2> /dev/null || true; done
  for pid in "$@"; do
    local pp=${probe_of[$pid]:-}
    for _ in $(seq 1 300); do
      kill -0 "$pid" 2> /dev/null || break
      [ "$(awk '{print $3}' "/proc/$pid/stat" 2> /dev/null)" = Z ] && break
      sleep 0.1
    done
    if kill -0 "$pid" 2> /dev/null; then kill -KILL "$pid" 2> /dev/null || true; fi
    [ -n "$pp" ] && { wait "$pp" 2> /dev/null || true; }
    unset "probe_of[$pid]"
  done
}
started_pg=0
cleanup() {
  [ ${#probe_of[@]} -eq 0 ] || stop_servers "${!probe_of[@]}"
  rm -rf "$tmp"
  if [ "$started_pg" = 1 ]; then scripts/postgres.sh stop || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

free_port() { # the first port from $1 on where nothing accepts a connection (other jobs share the machine)
  local q=$1
  while (exec 3<> "/dev/tcp/$host/$q") 2> /dev/null; do q=$((q + 1)); done
  echo "$q"
}

run_oha() { # run_oha FILE URL DURATION [oha options...]
  local file=$1 url=$2 length=$3
  shift 3
  "$oha" --no-tui --output-format json -z "$length" -c "$connections" --rand-regex-url "$@" "$url" > "$file"
}
# 2xx answers per second of an oha JSON (the capacity).
ok_rps() {
  python3 -c 'import json,sys
d = json.load(open(sys.argv[1])); c = d.get("statusCodeDistribution") or {}; t = d["summary"]["total"] or 0
print(sum(n for k, n in c.items() if str(k).startswith("2")) / t if t else 0)' "$1"
}

# phase PID PHASE RECORD_FIELDS COMMAND...: runs COMMAND, records wall clock and the server's and PostgreSQL's CPU.
phase() {
  local pid=$1 name=$2 fields=$3 t0 c0 d0 t1 c1 d1
  shift 3
  c0=$(cpu_ticks "$pid") d0=$(pg_ticks) t0=$(now)
  "$@"
  t1=$(now) c1=$(cpu_ticks "$pid") d1=$(pg_ticks)
  record "{\"type\":\"phase\",\"phase\":\"$name\",$fields,\"t_start\":$t0,\"t_end\":$t1,\"cpu_start\":$c0,\"cpu_end\":$c1,\"db_cpu_start\":$d0,\"db_cpu_end\":$d1}"
}

# ---------------------------------------------------------------- the expected duration
secs() { python3 -c 'import re, sys
v, u = re.fullmatch(r"([0-9]+)(ms|s|m)?", sys.argv[1]).groups(); print(int(v) * {"ms": 0.001, "s": 1, None: 1, "m": 60}[u])' "$1"; }
nd=0 nr=0
for m in "${mode_list[@]}"; do
  if [ "$m" = direct ]; then nd=${#direct_services[@]}; else nr=${#replica_services[@]}; fi
done
estimate=$(python3 -c 'import sys
nd, nr, nf, nl, ni, users = map(int, sys.argv[1:7]); dur, cap, warm, settle, pause, lagd = map(float, sys.argv[7:13])
start = 4 + users / 400000                 # a start on this kind of machine, roughly, plus a copy in replica mode
per = start + settle + warm + cap + 2 * pause
mode = lambda n: n * per + nf * n * (dur + pause) + n * 2
lag = nr * (start + nl * (lagd + 5) + 2) if nl else 0
inst = nr * (2 * start + settle + 3) if ni else 0
restart = nr * (3 * start + 8) if int(sys.argv[13]) else 0
print(round((users / 100000 + mode(nd) + mode(nr) + lag + inst + restart + 10) / 60, 1))' \
  "$nd" "$nr" "${#fraction_list[@]}" "${#lag_list[@]}" "$instances" "$users" \
  "$(secs "$duration")" "$(secs "$capacity")" "$(secs "$warmup")" "$settle" "$pause" "$lag_duration" "$restart")

log "expected wall time about $estimate min (direct: ${direct_services[*]:-none}; replica: ${replica_services[*]:-none}; $users users)"

# ---------------------------------------------------------------- 1. the database
if [ -z "$db_url" ]; then
  if ! scripts/postgres.sh status > /dev/null 2>&1; then started_pg=1; fi
  db_url=$(scripts/postgres.sh start)
  [ -n "$db_url" ] || die "scripts/postgres.sh start printed no URL"
  [ -n "$pg_pid" ] || pg_pid=$(head -1 "$root/build/postgres/data/postmaster.pid" 2> /dev/null || true)
fi
# The load database's URL: the same server, the path replaced by /userstore_loadtest; its host and port.
read -r load_url pg_host pg_port <<< "$(python3 -c 'import sys, urllib.parse as u
p = u.urlsplit(sys.argv[1])
if p.scheme not in ("postgres", "postgresql") or not p.hostname:
    sys.exit("DB_LOADTEST_URL must be postgres://USER@HOST:PORT/DB")
print(u.urlunsplit((p.scheme, p.netloc, "/" + sys.argv[2], p.query, "")), p.hostname, p.port or 5432)' "$db_url" "$test_db")" \
  || die "cannot read the database URL"
if [ -z "$pg_pid" ]; then
  # The process listening on the URL's port, when the server runs on this machine (/proc/net/tcp* and /proc/*/fd).
  pg_pid=$(python3 - "$pg_port" << 'PY' 2> /dev/null || true
import glob, os, sys
port = int(sys.argv[1]); inodes = set()
for f in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        for line in open(f).readlines()[1:]:
            x = line.split()
            if int(x[1].rsplit(":", 1)[1], 16) == port and x[3] == "0A":
                inodes.add(x[9])
    except OSError:
        pass
for fd in glob.glob("/proc/[0-9]*/fd/*"):
    try:
        if os.readlink(fd).strip("socket:[]") in inodes:
            print(fd.split("/")[2]); break
    except OSError:
        pass
PY
)
fi
if [ -n "$pg_pid" ] && [ -r "/proc/$pg_pid/stat" ]; then
  log "PostgreSQL's CPU: postmaster PID $pg_pid ($(cat "/proc/$pg_pid/comm")) and its children"
else
  log "PostgreSQL's CPU: no postmaster found on this machine (DB_LOADTEST_PG_PID): its CPU figures stay null"
  pg_pid=''
fi

psql() { "$pg_bin/psql" -X -q -v ON_ERROR_STOP=1 "$@"; }
# The services' DDL (server/src/db.rs SCHEMA, which the Kotlin service and PostgresReplica repeat), so the table
# is exactly the one the services would create.
schema=$(python3 -c 'import re, sys
m = re.search(r"pub const SCHEMA: &str = \"(.*?)\";", open(sys.argv[1]).read(), re.S)
sys.exit("no SCHEMA in " + sys.argv[1]) if not m else print(m.group(1))' "$root/server/src/db.rs") \
  || die "cannot read the table's DDL from server/src/db.rs"
pg_version=$(psql -d "$db_url" -tAc 'SHOW server_version')
log "database: $test_db on $pg_host:$pg_port (PostgreSQL $pg_version), $users users"
psql -d "$db_url" -c "DROP DATABASE IF EXISTS $test_db WITH (FORCE)" -c "CREATE DATABASE $test_db"
psql -d "$load_url" -c "$schema" > /dev/null
t0=$(now)
psql -d "$load_url" -c "INSERT INTO users (id, name) SELECT g, 'user-' || g FROM generate_series(0, $((users - 1))) AS g"
fill_ms=$(ms_since "$t0")
t0=$(now)
psql -d "$load_url" -c "VACUUM ANALYZE users"
vacuum_ms=$(ms_since "$t0")
rows=$(psql -d "$load_url" -tAc 'SELECT count(*) FROM users')
[ "$rows" = "$users" ] || die "the table holds $rows rows, not $users"
table_bytes=$(psql -d "$load_url" -tAc "SELECT pg_total_relation_size('users')")
record "{\"type\":\"fill\",\"users\":$users,\"insert_ms\":$fill_ms,\"vacuum_analyze_ms\":$vacuum_ms,\"table_bytes\":$table_bytes}"
log "filled in ${fill_ms%.*} ms, VACUUM ANALYZE ${vacuum_ms%.*} ms; table and indexes $((table_bytes / 1048576)) MiB"

# ---------------------------------------------------------------- environment
DLT_OUT=$out DLT_STAMP=$stamp DLT_ROOT=$root DLT_OHA=$oha_version DLT_CLK=$clk_tck DLT_PG=$pg_version \
  DLT_JAVA=$java_version DLT_JAVA_HOME=$java_home DLT_PG_PID=$pg_pid DLT_ESTIMATE=$estimate \
  DLT_SETTINGS="$(printf '%s\n' "$users" "$services" "$modes" "$(IFS=,; echo "${fraction_list[*]}")" "$duration" \
    "$capacity" "$warmup" "$connections" "$lag_rates" "$lag_duration" "$lag_clients" "$instances" "$heap" "$jdk" \
    "$settle" "$pause" "$ready_timeout" "$port" "$(IFS=,; echo "${direct_services[*]:-}")" \
    "$(IFS=,; echo "${replica_services[*]:-}")" "$pg_host:$pg_port/$test_db")" \
  python3 - << 'PY'
import json, os, platform, subprocess, time
e = os.environ
s = e["DLT_SETTINGS"].split("\n")
def cpu():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()
def mem():
    for line in open("/proc/meminfo"):
        if line.startswith("MemTotal"):
            return round(int(line.split()[1]) / 1048576, 1)
def run(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=e["DLT_ROOT"]).stdout.strip()
    except OSError:
        return ""
num = lambda x: float(x) if "." in x else int(x)
lst = lambda x: [v for v in x.split(",") if v]
git = run("git", "rev-parse", "--short", "HEAD")
env = {
    "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "stamp": e["DLT_STAMP"],
    "machine": {"cpu": cpu(), "cores": os.cpu_count(), "memory_gib": mem(), "java": e["DLT_JAVA"] or None,
                "java_home": e["DLT_JAVA_HOME"] or None, "os": f"{platform.system()} {platform.release()}",
                "load_start": os.getloadavg()[0], "load_end": None, "clk_tck": int(e["DLT_CLK"]),
                "git": (git + (" (modified)" if run("git", "status", "--porcelain", "-uno") else "")) or None,
                "postgres": e["DLT_PG"], "postgres_pid": int(e["DLT_PG_PID"]) if e["DLT_PG_PID"] else None},
    "oha": e["DLT_OHA"], "estimated_minutes": float(e["DLT_ESTIMATE"]),
    "settings": {"users": int(s[0]), "services": lst(s[1]), "modes": lst(s[2]), "fractions": [float(x) for x in lst(s[3])],
                 "duration": s[4], "capacity": s[5], "warmup": s[6], "connections": int(s[7]),
                 "lag_rates": [int(x) for x in lst(s[8])], "lag_duration": int(s[9]), "lag_clients": int(s[10]),
                 "instances": int(s[11]), "heap": s[12], "jdk": s[13], "settle": num(s[14]), "pause": num(s[15]),
                 "ready_timeout": int(s[16]), "port": int(s[17]), "direct_services": lst(s[18]),
                 "replica_services": lst(s[19]), "database": s[20], "db_pool": 10,
                 "request": "GET /users/{id}, id uniform in 0..users-1"},
}
json.dump(env, open(os.path.join(e["DLT_OUT"], "environment.json"), "w"), indent=1)
PY
log "results in $out"

# ---------------------------------------------------------------- 2. per mode: capacity and constant rates
url_of() { echo "http://$host:$1/users/$id_regex"; }
p=$port
for m in "${mode_list[@]}"; do
  if [ "$m" = direct ]; then mode_services=(${direct_services[@]+"${direct_services[@]}"}); else mode_services=(${replica_services[@]+"${replica_services[@]}"}); fi
  [ ${#mode_services[@]} -gt 0 ] || continue
  declare -A pid_of=() port_of=()
  lowest='' lowest_name=''
  for s in "${mode_services[@]}"; do
    p=$(free_port $((p + 1)))
    port_of[$s]=$p
    base=$m-$s
    log "$m, $s: starting (port $p)"
    start_server "$s" "$m" "$p" "$base" || die "$s did not start in $m mode; see $out/$base-server.log"
    pid=$started_pid
    pid_of[$s]=$pid
    sleep "$settle"
    rss=$(rss_kib "$pid")
    fields="\"mode\":\"$m\",\"service\":\"$s\""
    record "{\"type\":\"server\",$fields,\"port\":$p,\"pid\":$pid,\"ready_ms\":$started_ms,\"rss_ready_kib\":$rss}"
    log "  ready in ${started_ms%.*} ms, RSS $(mib "$rss") MiB; warm-up $warmup, capacity $capacity"
    phase "$pid" warmup "$fields,\"file\":\"$base-warmup.json\"" run_oha "$out/$base-warmup.json" "$(url_of "$p")" "$warmup"
    sleep "$pause"
    phase "$pid" capacity "$fields,\"file\":\"$base-capacity.json\"" run_oha "$out/$base-capacity.json" "$(url_of "$p")" "$capacity"
    cap=$(ok_rps "$out/$base-capacity.json")
    log "  capacity ${cap%.*} req/s"
    if [ -z "$lowest" ] || python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$cap" "$lowest"; then
      lowest=$cap lowest_name=$s
    fi
    sleep "$pause"
  done
  record "{\"type\":\"lowest\",\"mode\":\"$m\",\"service\":\"$lowest_name\",\"capacity_rps\":$lowest}"
  for f in "${fraction_list[@]}"; do
    rate=$(python3 -c 'import sys; print(max(1, int(float(sys.argv[1]) * float(sys.argv[2]))))' "$f" "$lowest")
    for s in "${mode_services[@]}"; do
      base=$m-$s-f$f
      log "$m, $s: GET at $rate/s ($f x lowest capacity) for $duration"
      phase "${pid_of[$s]}" rate "\"mode\":\"$m\",\"service\":\"$s\",\"fraction\":$f,\"target_rps\":$rate,\"file\":\"$base.json\"" \
        run_oha "$out/$base.json" "$(url_of "${port_of[$s]}")" "$duration" -q "$rate" --latency-correction
      sleep "$pause"
    done
  done
  for s in "${mode_services[@]}"; do
    record "{\"type\":\"after\",\"mode\":\"$m\",\"service\":\"$s\",\"rss_after_kib\":$(rss_kib "${pid_of[$s]}")}"
  done
  log "$m: stopping the servers"
  stop_servers "${pid_of[@]}"
  unset pid_of port_of
done

# ---------------------------------------------------------------- 3. replication lag, one replica at a time
scrape() { # scrape PORT FILE: GET /metrics into FILE; prints the commit-delay histogram's _count (or "none")
  curl -s --max-time 10 "http://$host:$1/metrics" > "$2" || true
  python3 "$summary_py" --count "$2"
}
# One single-row commit per transaction (the lag step, and the writes made while the restart step's replica is down).
script=$out/lag-update.sql
printf '%s\n' "\\set id random(0, $((users - 1)))" "UPDATE users SET name = 'lag-' || :id WHERE id = :id;" > "$script"
if [ ${#lag_list[@]} -gt 0 ]; then
  for s in ${replica_services[@]+"${replica_services[@]}"}; do
    p=$(free_port $((p + 1)))
    base=lag-$s
    log "lag, $s: starting alone (port $p): the initial copy of $users users"
    start_server "$s" replica "$p" "$base" || die "$s did not start in replica mode; see $out/$base-server.log"
    pid=$started_pid
    # The copy's own duration, when the service logs it ("copied N rows ... in T ms"; both replicas do).
    # It is written as the copy ends, about when /health turns 200: looked for during at most 2 s.
    copy_ms=''
    for _ in $(seq 1 20); do
      copy_ms=$(sed -n 's/.*copied \([0-9][0-9]*\) rows.* in \([0-9][0-9]*\) ms.*/\2/p' "$out/$base-server.log" | head -1)
      [ -z "$copy_ms" ] || break
      sleep 0.1
    done
    record "{\"type\":\"copy\",\"service\":\"$s\",\"users\":$users,\"ready_ms\":$started_ms,\"copy_ms\":${copy_ms:-null}}"
    log "  ready in ${started_ms%.*} ms (copy: ${copy_ms:-not logged} ms)"
    for r in "${lag_list[@]}"; do
      sleep "$settle"
      tag=$base-$r
      c0=$(scrape "$p" "$out/$tag-before.metrics")
      log "  pgbench: $r single-row commits/s for ${lag_duration}s, $lag_clients clients"
      d0=$(pg_ticks) t0=$(now)
      "$pg_bin/pgbench" -n -M prepared -R "$r" -T "$lag_duration" -c "$lag_clients" -j 2 -f "$script" "$load_url" \
        > "$out/$tag.pgbench.txt" 2>&1 || { tail -5 "$out/$tag.pgbench.txt" >&2; die "pgbench failed; see $out/$tag.pgbench.txt"; }
      t1=$(now) d1=$(pg_ticks)
      # The last commits may still be on their way: scrape after 2 s, then every 1 s until _count stops growing (10 s at most).
      sleep 2
      k=1 prev=$(scrape "$p" "$out/$tag-after-$k.metrics")
      while [ "$prev" != none ] && [ "$k" -lt 9 ]; do
        sleep 1
        k=$((k + 1))
        cnt=$(scrape "$p" "$out/$tag-after-$k.metrics")
        [ "$cnt" != "$prev" ] || break
        prev=$cnt
      done
      [ "$prev" != none ] || log "  $s has no userstore_replica_commit_delay_seconds histogram in /metrics: lag figures null"
      record "{\"type\":\"lag\",\"service\":\"$s\",\"instances\":1,\"target_cps\":$r,\"pgbench\":\"$tag.pgbench.txt\",\"before\":\"$tag-before.metrics\",\"after\":\"$tag-after-$k.metrics\",\"count_before\":$(json_str "$c0"),\"count_after\":$(json_str "$prev"),\"t_start\":$t0,\"t_end\":$t1,\"db_cpu_start\":$d0,\"db_cpu_end\":$d1}"
      log "  $(grep -m1 '^tps' "$out/$tag.pgbench.txt" || echo 'no tps line'); histogram count $c0 -> $prev"
    done
    stop_servers "$pid"
  done
fi

# ---------------------------------------------------------------- 3b. a durable replica's restart
if [ "$restart" = 1 ]; then
  restart_writes=5000
  for s in ${replica_services[@]+"${replica_services[@]}"}; do
    slot=userstore_loadtest_${s//-/_}
    dir=$tmp/durable-$s
    rm -rf "$dir"
    psql -d "$load_url" -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$slot'" > /dev/null
    p=$(free_port $((p + 1)))
    base=restart-$s
    log "restart, $s: a durable replica (--data-dir, --db-slot $slot) copies $users users"
    start_server "$s" replica "$p" "$base-first" --data-dir "$dir" --db-slot "$slot" \
      || die "$s did not start as a durable replica; see $out/$base-first-server.log"
    first_ms=$started_ms
    stop_servers "$started_pid"
    log "  stopped (SIGTERM); $restart_writes single-row commits while it is down, then the marker"
    "$pg_bin/pgbench" -n -M prepared -R 1000 -t $((restart_writes / 4)) -c 4 -j 2 -f "$script" "$load_url" \
      > "$out/$base.pgbench.txt" 2>&1 || die "pgbench failed; see $out/$base.pgbench.txt"
    marker=restart-$stamp-$s
    psql -d "$load_url" -c "UPDATE users SET name = '$marker' WHERE id = 0" > /dev/null
    t0=$(now)
    start_server "$s" replica "$p" "$base" --data-dir "$dir" --db-slot "$slot" \
      || die "$s did not restart; see $out/$base-server.log"
    caught_ms=null
    for _ in $(seq 1 3000); do
      if curl -s --max-time 2 "http://$host:$p/users/0" | grep -q "\"$marker\""; then caught_ms=$(ms_since "$t0"); break; fi
      sleep 0.01
    done
    copied=false
    grep -q 'copied [0-9][0-9]* rows' "$out/$base-server.log" && copied=true
    rss=$(rss_kib "$started_pid")
    record "{\"type\":\"restart\",\"service\":\"$s\",\"users\":$users,\"first_ready_ms\":$first_ms,\"ready_ms\":$started_ms,\"caught_up_ms\":$caught_ms,\"copied\":$copied,\"writes_while_down\":$restart_writes,\"rss_kib\":$rss}"
    log "  restarted: 200 after ${started_ms%.*} ms, caught up after ${caught_ms%.*} ms, copied again: $copied"
    stop_servers "$started_pid"
    psql -d "$load_url" -c "SELECT pg_drop_replication_slot('$slot')" > /dev/null
    rm -rf "$dir"
  done
fi

# ---------------------------------------------------------------- 4. instances on one database
if [ "$instances" -gt 0 ]; then
  for s in ${replica_services[@]+"${replica_services[@]}"}; do
    log "instances: $instances of $s started at once"
    probes=() results=() tags=()
    for k in $(seq 1 "$instances"); do
      p=$(free_port $((p + 1)))
      tags+=("instances-$s-$k")
      spawn_server "$s" replica "$p" "instances-$s-$k"
      probes+=("$spawned_probe") results+=("$spawned_result")
    done
    pids=() mss=()
    for k in "${!probes[@]}"; do
      wait_server "${probes[k]}" "${results[k]}" "${tags[k]}" || die "${tags[k]} did not start; see $out/${tags[k]}-server.log"
      pids+=("$started_pid") mss+=("$started_ms")
    done
    sleep "$settle"
    rsss=()
    for pid in "${pids[@]}"; do rsss+=("$(rss_kib "$pid")"); done
    record "{\"type\":\"instances\",\"service\":\"$s\",\"count\":$instances,\"rss_kib\":[$(IFS=,; echo "${rsss[*]}")],\"ready_ms\":[$(IFS=,; echo "${mss[*]}")]}"
    log "  RSS $(for r in "${rsss[@]}"; do printf '%s ' "$(mib "$r")"; done)MiB; ready ms ${mss[*]}"
    stop_servers "${pids[@]}"
  done
fi

# ---------------------------------------------------------------- 5. summary
record "{\"type\":\"end\",\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"load\":$(cut -d' ' -f1 /proc/loadavg)}"
python3 "$summary_py" "$out" | tee "$out/summary.txt"
cp "$out/summary.json" "$out/summary.txt" "$out_base/"
log "raw oha JSON, pgbench outputs, /metrics scrapes, server logs, records.jsonl, summary.{json,txt}: $out"
