#!/usr/bin/env bash
# Load test of the three userstore HTTP services under the same oha settings:
#   rust           target/release/userstore-server (axum/tokio, the Rust store; no JVM)
#   kotlin-native  kotlin-demo serve --store native (Ktor/Netty on the JVM, the Rust store through JNI/FFM)
#   kotlin-kotlin  kotlin-demo serve --store kotlin (Ktor/Netty on the JVM, the pure-Kotlin store)
# A JVM service runs once per (JDK, GC) variant and is then named SERVICE@JDK-GC, e.g. kotlin-native@17-G1,
# kotlin-kotlin@25-ZGC (JDK = the feature version, GC = the collector given); rust runs once per user count.
# Run it as `./gradlew loadtest` (which builds installDist first) or directly after installDist.
#
# ONE RUN. Start-up probes once per repeat, then per repeat, per user count N, all services in one order
# (rotated by one place from repeat to repeat), then the density test once at the end:
#   0. snapshot    once per run: one service (rust if selected, else the first JVM one) starts with
#                  --users SNAPSHOT_USERS --snapshot F and SIGTERM saves F (both kinds of service read that format).
#   1. start-up    per repeat, STARTUPS samples per service of each kind: "empty" (0 users; after SETTLE s its
#                  VmRSS is the idle RSS) and "snapshot" (--snapshot of a fresh copy of F; stopped with SIGKILL so
#                  it does not save). Spawn -> first 200 of GET /health is timed by scripts/startup_probe.py,
#                  which spawns the server itself (time.monotonic before the spawn) and polls /health with a raw
#                  socket every ~1 ms; it stays the server's parent, so /proc/PID is the server itself (the
#                  JVM launcher bin/kotlin-demo execs java: its PID is the java process).
#   2. per N, each service in turn, left running until step 3 is done (each on its own port):
#      start --users N (spawn -> first 200 timed too), SETTLE s, VmRSS = "rss_preloaded"; then
#      cold        oha at COLD_RATE req/s, latency-corrected, for COLD: the first requests a fresh server answers;
#      warm-up     closed loop for WARMUP, GET and PUT at once as in the mix below (so both paths are compiled
#                  before anything is measured); kept and reported (its GET figures), used for nothing else;
#      capacity    closed loop (no -q) for CAPACITY: requests per second answered = the capacity.
#      GET /users/{id}, id uniform in 0..N-1 (oha --rand-regex-url), CONNECTIONS connections throughout.
#   3. per N, rate(F) = F x the LOWEST capacity of all services at this N in this repeat, for each fraction F of
#      FRACTIONS (ascending), each service in the same order, DURATION each, latency-corrected (oha -q R
#      --latency-correction: a stall counts against every request that should have been sent during it):
#      get         GET only at rate(F);
#      mix         90/10 GET/PUT: two oha at once, GET at (1-PUT_SHARE) x rate(F) and PUT {"name":"loadtest-put"}
#                  to random existing ids at PUT_SHARE x rate(F); connections split in the same proportion
#                  (at least 1 each). GET and PUT percentiles are reported apart; achieved = both together.
#      After the last one, VmRSS again ("rss_after_load"); then every server of this N is stopped (SIGTERM).
#   4. density     once, at the end: per service variant, DENSITY_COUNT idle instances (0 users) started one
#                  after another on distinct ports, each waited for until /health answers; after SETTLE s their
#                  VmRSS summed; then all stopped. JVM options: the load test's without -Xms and without the GC
#                  log (-Xmx HEAP and the collector), so each JVM takes what it really would when idle; with
#                  DENSITY_HEAP=SIZE they get -XmsSIZE -XmxSIZE instead.
# JVM options everywhere else (start-up, idle RSS, load): -Xms HEAP -Xmx HEAP, the collector, -Xlog:gc* to a file.
# Memory: all services of one N run at once (at 5M users some 3 to 5 GiB of RSS for the three default services, more
# per extra JVM variant); density keeps DENSITY_COUNT instances of one variant up at a time.
# Every phase of step 2 and 3 records the server's utime+stime (/proc/PID/stat, in CLK_TCK ticks) before and
# after and the wall clock, so the summary has CPU seconds per 100k requests answered and, from each JVM's
# -Xlog:gc* log (utctime decorations), the GC pauses inside the phase (G1 "Pause Young/Remark/Cleanup/Full ...ms";
# ZGC "Pause Mark Start/End, Relocate Start ...ms", generational "Y:/O:" prefixes too): count, total, max.
# Every oha run is bounded by -z; every server is stopped on any exit (SIGTERM, SIGKILL after 30 s).
# The first-requests latency: "cold" p50/p99 (the first COLD of load on a fresh server at a modest COLD_RATE,
# latency-corrected, so a server that falls behind shows it) against the steady state, the GET run at the lowest
# fraction (a higher rate, on a warm server): cold_p50_over_steady, cold_p99_over_steady.
#
# Settings (environment; ./gradlew loadtest maps -Ploadtest.NAME=VALUE onto LOADTEST_NAME=VALUE):
#   LOADTEST_USERS         user counts, comma separated, each d*10^k   (default 1000000,5000000)
#   LOADTEST_SERVICES      services, comma separated                   (default rust,kotlin-native,kotlin-kotlin)
#   LOADTEST_JDKS          JDKs for the JVM services: "default" (JAVA_HOME, else java on the PATH), a feature
#                          version found under /usr/lib/jvm (e.g. 25), or a JDK folder   (default: default)
#   LOADTEST_GCS           collectors: G1, ZGC (generational on JDK 21+), Parallel, Serial, Shenandoah (default G1)
#   LOADTEST_FRACTIONS     constant rates as fractions of the lowest capacity           (default 0.5,0.8)
#   LOADTEST_PUT_SHARE     the PUT share of the mix                                     (default 0.1)
#   LOADTEST_DURATION      each constant-rate run (get, mix)                            (default 15s)
#   LOADTEST_CAPACITY      the closed-loop run                                          (default 10s)
#   LOADTEST_WARMUP        the closed-loop warm-up after the cold part                  (default 10s)
#   LOADTEST_COLD          the cold part (first requests)                               (default 1s)
#   LOADTEST_COLD_RATE     request rate of the cold part                                (default 1000)
#   LOADTEST_CONNECTIONS   oha connections                                              (default 32)
#   LOADTEST_REPEATS       repeats (the summary gives medians over them)                (default 1)
#   LOADTEST_STARTUPS      start-up samples per service and kind per repeat             (default 3)
#   LOADTEST_SNAPSHOT_USERS users in the start-up snapshot                              (default 1000000)
#   LOADTEST_SETTLE        seconds between /health and an RSS reading                   (default 2)
#   LOADTEST_PAUSE         seconds between two oha runs                                 (default 2)
#   LOADTEST_HEAP          JVM heap under load: -Xms and -Xmx                           (default 4g)
#   LOADTEST_DENSITY_COUNT idle instances per service variant; 0 skips the density test (default 20)
#   LOADTEST_DENSITY_HEAP  empty: -Xmx HEAP, no -Xms; SIZE: -XmsSIZE -XmxSIZE            (default empty)
#   LOADTEST_AOT           1: every JVM variant on JDK 25+ is also started from an ahead-of-time cache (JEP 483/514)
#                          in the start-up step, recorded as SERVICE@JDK-GC+aot; its cache is trained once per run
#                          before the repeats (--users 10000, LOADTEST_AOT_TRAIN of the GET/PUT mix, SIGTERM
#                          writes the cache with -XX:AOTCacheOutput; same JVM options as the start-ups). 0: off (default 1)
#   LOADTEST_AOT_TRAIN     the training load                                            (default 5s)
#   LOADTEST_PORT          first port tried; busy ports are skipped (density: from PORT+101) (default 18080)
#   LOADTEST_RUST_BIN      the Rust service                  (default target/release/userstore-server)
#   LOADTEST_OUT           output folder                     (default kotlin-demo/build/reports/userstore/loadtest)
# (LOADTEST_RATE and LOADTEST_STORES of the previous version are refused: rates are now fractions.)
# Default run: 3 services, 1M and 5M, 1 repeat, default JDK: about 15 minutes (printed at the start).
#
# OUTPUT: LOADTEST_OUT/<UTC stamp>/ holds environment.json, records.jsonl (every server, phase and RSS reading,
# as measured), every raw oha JSON (r<R>-<N>-<service>-<phase>.json, phase = cold, warmup-get, warmup-put,
# capacity, cF-get, cF-mix-get, cF-mix-put), every server log and GC log (start-up probes and density too), summary.json, summary.csv (one row per run, the flat keys
# below) and summary.txt; LOADTEST_OUT/summary.json is a copy of the latest summary. scripts/loadtest_summary.py
# DIR rebuilds the summaries from a run's folder.
# summary.json is DEFINED in scripts/loadtest-summary.schema.json (JSON Schema, the one definition: every key and
# type; loadtest_summary.py validates each summary against it before writing it, and kotlin-demo's LoadTestSummaryTest
# holds LoadTestSummary, its reader, to it; `python3 scripts/loadtest_summary.py --check FILE` checks a file). What the
# keys mean (times in ms, rates in requests/s, memory in MiB (2^20 bytes), CPU in seconds):
#   { "schema": 2, "date": "...Z",
#     "machine": {"cpu", "cores", "memory_gib", "java" (default java -version), "os", "load_start", "load_end",
#                 "clk_tck", "git"},
#     "server":  {"heap", "gc", "jvm_options"}          (the reference JVM variant: first JDK, first GC),
#     "oha": "1.16.0",
#     "settings": {"users": [..], "services": [..], "jdks": [..], "gcs": [..], "fractions": [..], "put_share",
#                  "duration", "capacity", "warmup", "cold", "cold_rate", "connections", "repeats", "startups",
#                  "snapshot_users", "settle", "pause", "heap", "density_count", "density_heap",
#                  "rate": "0.5,0.8 x lowest capacity" (a text, for the old reader)},
#     "variants": [ {"name", "service", "kind": "native"|"jvm", "jdk", "jdk_version", "java_home", "gc",
#                    "jvm_options", "density_jvm_options"} ]      (jdk, gc, options null for rust),
#     "startup":  [ {"repeat", "sample", "service", "kind": "empty"|"snapshot", "ms", "idle_rss_mib" (empty only),
#                    "process" (/proc/PID/comm of the process measured: java for the JVM services)} ],
#     "startup_medians": [ {"service", "base", "jdk", "gc", "start_empty_ms", "start_snapshot_ms",
#                           "idle_rss_mib", "samples"} ],
#     "lowest_capacity": [ {"users", "repeat", "capacity_rps", "service", "rates": {"F": rps}} ],
#     "runs":    [ one per repeat, N, service: flat keys ],
#     "medians": [ one per N, service: the same flat keys, each the median over the repeats; "repeats" ],
#     "ratios":  [ {"users", "best_jvm", "kotlin_kotlin", "fraction",
#                   "capacity_native_over_kotlin", "p999_native_over_kotlin"   (kotlin-native / kotlin-kotlin,
#                                                                the reference variant; old keys, old meaning),
#                   "goal_throughput_met", "goal_p999_met"      (the Rust goals below at this N; null if not run),
#                   "services": [ {"service", "capacity_over_best_jvm", "p999_over_kotlin_kotlin",
#                                  "p99_over_kotlin_kotlin", "mix_get_p999_over_kotlin_kotlin",
#                                  "rss_preloaded_over_kotlin_kotlin", "cpu_per_100k_over_kotlin_kotlin"} ]} ],
#     "goals":   [ {"name", "users" (or null), "measured", "limit", "comparison": "<="|">=", "unit": "ms"|"MiB"|"ratio",
#                   "against" (the variant compared with, or null), "met"} ],
#     "density": {"count", "heap_note", "services": [ {"service", "base", "jdk", "gc", "jvm_options", "started",
#                  "total_rss_mib", "per_instance_mib", "services_per_gib", "start_ms_median", "start_ms_max"} ]} }
# Flat keys of a run (F = the fraction in percent, e.g. c80_...; null where not applicable):
#   users, store (= service, the old key), service (e.g. kotlin-native@17-G1), base (e.g. kotlin-native),
#   jdk, gc, repeat, position (0-based place in this repeat's order),
#   start_preload_ms, rss_preloaded_mib, rss_after_load_mib,
#   cold_offered_rps, cold_achieved_rps, cold_{p50,p99,p999,max}_ms, cold_non_200, cold_gc_*,
#   warmup_rps (closed loop; GET side), warmup_achieved_rps, warmup_{p50,p99,p999,max}_ms, warmup_non_200, warmup_gc_*,
#   capacity_rps, capacity_p50_ms, capacity_p99_ms, capacity_non_200, capacity_cpu_per_100k, capacity_gc_*,
#   cF_offered_rps, cF_get_achieved_rps, cF_get_{p50,p99,p999,max}_ms, cF_get_non_200, cF_get_cpu_per_100k,
#   cF_get_gc_*, cF_mix_offered_rps, cF_mix_achieved_rps (GET + PUT), cF_mix_get_achieved_rps,
#   cF_mix_get_{p50,p99,p999,max}_ms, cF_mix_get_non_200, cF_mix_put_achieved_rps, cF_mix_put_{p50,p99,p999,max}_ms,
#   cF_mix_put_non_200, cF_mix_cpu_per_100k, cF_mix_gc_*,
#   cold_p50_over_steady, cold_p99_over_steady (steady = the GET run at the lowest fraction),
#   gc_* (the server's whole life, preload included),
#   offered_rps, achieved_rps, success_ratio, p50_ms, p99_ms, p999_ms, max_ms, non_200 (old keys: the GET run
#   at the highest fraction), raw (the file names; not in the CSV).
#   non_200: requests without a 200 (PUT: without a 2xx), including those oha cancels at the -z deadline.
#   cpu_per_100k: server CPU seconds (utime+stime) in the phase / answered requests x 100,000.
#   X_gc_* = X_gc_count, X_gc_total_ms, X_gc_max_ms (pauses inside the phase) and X_gc_stalls (ZGC allocation
#   stalls inside the phase); null for rust.
# Goals (the issue's), evaluated on the medians: rust spawn->first 200 (0 users) <= 50 ms; rust idle RSS <= 20 MiB;
# rust idle RSS <= 0.1 x the leanest JVM variant's; rust RSS after preloading the largest N (5M) <= 0.25 x
# kotlin-kotlin's (each variant); per N, rust capacity >= 1.5 x the best JVM variant's; per N, rust p99.9 at the
# fraction nearest 0.8 <= 0.5 x kotlin-kotlin's (each variant).
set -euo pipefail
export LC_ALL=C # EPOCHREALTIME and sort -g with a decimal point

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"

die() { echo "loadtest: $*" >&2; exit 1; }
log() { echo "loadtest: $(date -u +%H:%M:%S) $*" >&2; }

[ -z "${LOADTEST_RATE:-}" ] || die "LOADTEST_RATE (-Ploadtest.rate) is gone: constant rates are LOADTEST_FRACTIONS of the lowest capacity"
[ -z "${LOADTEST_STORES:-}" ] || die "LOADTEST_STORES (-Ploadtest.stores) is now LOADTEST_SERVICES (rust,kotlin-native,kotlin-kotlin)"

users_list=${LOADTEST_USERS:-1000000,5000000}
services=${LOADTEST_SERVICES:-rust,kotlin-native,kotlin-kotlin}
jdks=${LOADTEST_JDKS:-default}
gcs=${LOADTEST_GCS:-G1}
fractions=${LOADTEST_FRACTIONS:-0.5,0.8}
put_share=${LOADTEST_PUT_SHARE:-0.1}
duration=${LOADTEST_DURATION:-15s}
capacity=${LOADTEST_CAPACITY:-10s}
warmup=${LOADTEST_WARMUP:-10s}
cold=${LOADTEST_COLD:-1s}
cold_rate=${LOADTEST_COLD_RATE:-1000}
connections=${LOADTEST_CONNECTIONS:-32}
repeats=${LOADTEST_REPEATS:-1}
startups=${LOADTEST_STARTUPS:-3}
snapshot_users=${LOADTEST_SNAPSHOT_USERS:-1000000}
settle=${LOADTEST_SETTLE:-2}
pause=${LOADTEST_PAUSE:-2}
heap=${LOADTEST_HEAP:-4g}
density_count=${LOADTEST_DENSITY_COUNT:-20}
density_heap=${LOADTEST_DENSITY_HEAP:-}
port=${LOADTEST_PORT:-18080}
aot=${LOADTEST_AOT:-1}
aot_train=${LOADTEST_AOT_TRAIN:-5s}
rust_bin=${LOADTEST_RUST_BIN:-$root/target/release/userstore-server}
out_base=${LOADTEST_OUT:-$root/kotlin-demo/build/reports/userstore/loadtest}
oha_version=1.16.0
oha=$root/build/tools/oha-$oha_version/bin/oha
jvm_bin=$root/kotlin-demo/build/install/kotlin-demo/bin/kotlin-demo
probe=$root/scripts/startup_probe.py
host=127.0.0.1

command -v python3 > /dev/null 2>&1 || die "python3 is needed (start-up probe and summary)"
for v in connections repeats startups snapshot_users cold_rate density_count port; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "LOADTEST_${v^^} must be a whole number, not '${!v}'"
done
{ [ "$repeats" -ge 1 ] && [ "$startups" -ge 1 ]; } || die "LOADTEST_REPEATS and LOADTEST_STARTUPS must be at least 1"
[[ $aot =~ ^[01]$ ]] || die "LOADTEST_AOT must be 0 or 1, not '$aot'"
for d in "$duration" "$capacity" "$warmup" "$cold" "$aot_train"; do
  [[ $d =~ ^[0-9]+(ms|s|m|h)?$ ]] || die "a duration must look like 20s, 500ms or 2m, not '$d'"
done
[[ $settle =~ ^[0-9.]+$ && $pause =~ ^[0-9.]+$ && $put_share =~ ^0?\.[0-9]+$ ]] \
  || die "LOADTEST_SETTLE, LOADTEST_PAUSE must be seconds and LOADTEST_PUT_SHARE a fraction below 1"
IFS=, read -r -a user_counts <<< "$users_list"
IFS=, read -r -a service_list <<< "$services"
IFS=, read -r -a jdk_list <<< "$jdks"
IFS=, read -r -a gc_list <<< "$gcs"
# Fractions, ascending (the lowest one is the steady state the cold latency is compared with).
mapfile -t fraction_list < <(tr ',' '\n' <<< "$fractions" | sort -g)
for f in "${fraction_list[@]}"; do [[ $f =~ ^(0?\.[0-9]+|1(\.0*)?)$ ]] || die "a fraction must be in (0, 1], not '$f'"; done

# GET /users/{id} with id uniform in 0..N-1, as oha's --rand-regex-url regex (dots outside classes are literal
# there): N must be d*10^k (1 <= d <= 9).
id_regex() {
  local n=$1 d k
  [[ $n =~ ^([1-9])(0*)$ ]] || die "user count $n must be a digit followed by zeros (1000000, 5000000, ...)"
  d=${BASH_REMATCH[1]} k=${#BASH_REMATCH[2]}
  if [ "$d" = 1 ]; then echo "[0-9]{$k}"; else echo "[0-$((d - 1))][0-9]{$k}"; fi
}
for n in "${user_counts[@]}"; do id_regex "$n" > /dev/null; done

# ---------------------------------------------------------------- the service variants
java_feature() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1; }
resolve_jdk() { # resolve_jdk SPEC -> a JDK folder
  local spec=$1 home f
  case $spec in
    default)
      if [ -n "${JAVA_HOME:-}" ]; then echo "$JAVA_HOME"; return; fi
      command -v java > /dev/null 2>&1 || die "no java on the PATH and no JAVA_HOME"
      dirname "$(dirname "$(readlink -f "$(command -v java)")")"
      ;;
    /*) [ -x "$spec/bin/java" ] || die "LOADTEST_JDKS: $spec/bin/java does not exist"; echo "$spec" ;;
    *)
      [[ $spec =~ ^[0-9]+$ ]] || die "LOADTEST_JDKS: '$spec' is neither default, a feature version nor a folder"
      for home in ${JAVA_HOME:-} /usr/lib/jvm/*; do
        [ -x "$home/bin/java" ] || continue
        f=$(java_feature "$home" 2> /dev/null || true)
        if [ "${f%%.*}" = "$spec" ]; then readlink -f "$home"; return; fi
      done
      die "LOADTEST_JDKS: no JDK $spec in JAVA_HOME or /usr/lib/jvm"
      ;;
  esac
}
gc_flags() { # gc_flags GC FEATURE
  case $1 in
    G1) echo "-XX:+UseG1GC" ;;
    ZGC) if [ "$2" -ge 21 ] && [ "$2" -lt 23 ]; then echo "-XX:+UseZGC -XX:+ZGenerational"; else echo "-XX:+UseZGC"; fi ;;
    Parallel) echo "-XX:+UseParallelGC" ;;
    Serial) echo "-XX:+UseSerialGC" ;;
    Shenandoah) echo "-XX:+UseShenandoahGC" ;;
    *) die "LOADTEST_GCS: unknown collector '$1' (G1, ZGC, Parallel, Serial, Shenandoah)" ;;
  esac
}

v_name=() v_base=() v_kind=() v_jdk=() v_version=() v_home=() v_gc=() v_opts=() v_dopts=()
for s in "${service_list[@]}"; do
  case $s in
    rust)
      [ -x "$rust_bin" ] || die "no $rust_bin: build it (./gradlew installDist or cargo build --release -p userstore-server), or leave rust out of LOADTEST_SERVICES"
      v_name+=(rust) v_base+=(rust) v_kind+=(native) v_jdk+=("") v_version+=("") v_home+=("") v_gc+=("") v_opts+=("") v_dopts+=("")
      ;;
    kotlin-native | kotlin-kotlin)
      [ -x "$jvm_bin" ] || die "no $jvm_bin: run ./gradlew installDist first (./gradlew loadtest does)"
      for j in "${jdk_list[@]}"; do
        home=$(resolve_jdk "$j")
        feature=$(java_feature "$home")
        [ -n "$feature" ] || die "cannot run $home/bin/java"
        version=$("$home/bin/java" -version 2>&1 | head -1)
        for g in "${gc_list[@]}"; do
          flags=$(gc_flags "$g" "${feature%%.*}")
          if [ -n "$density_heap" ]; then dheap="-Xms$density_heap -Xmx$density_heap"; else dheap="-Xmx$heap"; fi
          v_name+=("$s@${feature%%.*}-$g") v_base+=("$s") v_kind+=(jvm) v_jdk+=("${feature%%.*}") v_version+=("$version")
          v_home+=("$home") v_gc+=("$g") v_opts+=("-Xms$heap -Xmx$heap $flags") v_dopts+=("$dheap $flags")
        done
      done
      ;;
    *) die "LOADTEST_SERVICES: unknown service '$s' (rust, kotlin-native, kotlin-kotlin)" ;;
  esac
done
nv=${#v_name[@]}
[ "$nv" -gt 0 ] || die "no services"

# oha, pinned, built once into build/tools (not expected on the PATH).
if [ ! -x "$oha" ]; then
  command -v cargo > /dev/null 2>&1 || die "cargo is needed to build oha $oha_version"
  log "building oha $oha_version into build/tools (once; a few minutes)"
  cargo install oha --version "$oha_version" --locked --root "$root/build/tools/oha-$oha_version" \
    --target-dir "$root/build/tools/cargo-target" >&2
fi

# ---------------------------------------------------------------- output, environment
stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
out=$out_base/$stamp
tmp=$out/tmp
mkdir -p "$out" "$tmp"
records=$out/records.jsonl
: > "$records"
clk_tck=$(getconf CLK_TCK)

nj=0
for k in "${v_kind[@]}"; do if [ "$k" = jvm ]; then nj=$((nj + 1)); fi; done
estimate=$(python3 - "$nv" "$nj" "${#user_counts[@]}" "${#fraction_list[@]}" "$repeats" "$startups" "$density_count" \
  "$duration" "$capacity" "$warmup" "$cold" "$settle" "$pause" << 'PY'
import re, sys
def secs(d):
    v, unit = re.fullmatch(r"([0-9]+)(ms|s|m|h)?", d).groups()
    return int(v) * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600}[unit]
nv, nj, nn, nf, rep, st, dc = map(int, sys.argv[1:8])
dur, cap, warm, cold = map(secs, sys.argv[8:12])
settle, pause = map(float, sys.argv[12:14])
jvm = 3.0  # a JVM start on this kind of machine, roughly, plus its stop; a preload adds a few seconds
per_n = nj * (jvm + 4) + nv * (settle + cold + warm + cap + 2 * pause) + nf * nv * 2 * (dur + pause)
startup = st * (nj * (3 * jvm + settle + 1) + (nv - nj) * (settle + 1))
density = dc * nj * jvm + nv * (settle + 2)
print(round((rep * (nn * per_n + startup) + 10 + density) / 60, 1))
PY
)

LT_OUT=$out LT_STAMP=$stamp LT_CLK=$clk_tck LT_OHA=$oha_version LT_ROOT=$root \
  LT_SETTINGS="$(printf '%s\n' "$users_list" "$services" "$jdks" "$gcs" "$fractions" "$put_share" "$duration" "$capacity" \
    "$warmup" "$cold" "$cold_rate" "$connections" "$repeats" "$startups" "$snapshot_users" "$settle" "$pause" "$heap" \
    "$density_count" "$density_heap" "$port" "$estimate")" \
  LT_VARIANTS="$(for ((i = 0; i < nv; i++)); do printf '%s\t' "${v_name[i]}" "${v_base[i]}" "${v_kind[i]}" "${v_jdk[i]}" \
    "${v_version[i]}" "${v_home[i]}" "${v_gc[i]}" "${v_opts[i]}"; printf '%s\n' "${v_dopts[i]}"; done)" \
  python3 - << 'PY'
import json, os, platform, subprocess
e = os.environ
s = e["LT_SETTINGS"].split("\n")
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
        return subprocess.run(cmd, capture_output=True, text=True, cwd=e["LT_ROOT"]).stdout.strip()
    except OSError:
        return ""
java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.split("\n")[0] if run("sh", "-c", "command -v java") else None
variants = []
for line in e["LT_VARIANTS"].strip("\n").split("\n"):
    name, base, kind, jdk, version, home, gc, opts, dopts = line.split("\t")
    variants.append({"name": name, "service": base, "kind": kind, "jdk": jdk or None, "jdk_version": version or None,
                     "java_home": home or None, "gc": gc or None, "jvm_options": opts or None,
                     "density_jvm_options": dopts or None})
num = lambda x: float(x) if "." in x else int(x)
env = {
    "date": e["LT_STAMP"], "cpu": cpu(), "cores": os.cpu_count(), "memory_gib": mem(), "java": java,
    "os": f"{platform.system()} {platform.release()}", "load_start": os.getloadavg()[0], "clk_tck": int(e["LT_CLK"]),
    "git": (run("git", "rev-parse", "--short", "HEAD") + (" (modified)" if run("git", "status", "--porcelain", "-uno") else "")) or None,
    "oha": e["LT_OHA"], "estimated_minutes": float(s[21]),
    "settings": {
        "users": [int(x) for x in s[0].split(",")], "services": s[1].split(","), "jdks": s[2].split(","),
        "gcs": s[3].split(","), "fractions": sorted(float(x) for x in s[4].split(",")), "put_share": float(s[5]),
        "duration": s[6], "capacity": s[7], "warmup": s[8], "cold": s[9], "cold_rate": int(s[10]),
        "connections": int(s[11]), "repeats": int(s[12]), "startups": int(s[13]), "snapshot_users": int(s[14]),
        "settle": num(s[15]), "pause": num(s[16]), "heap": s[17], "density_count": int(s[18]),
        "density_heap": s[19] or None, "port": int(s[20]),
        "rate": s[4] + " x lowest capacity",
    },
    "variants": variants,
}
json.dump(env, open(os.path.join(e["LT_OUT"], "environment.json"), "w"), indent=1)
PY
log "results in $out; ${nv} service variants: ${v_name[*]}; estimated wall time ${estimate} min"

# ---------------------------------------------------------------- servers
declare -A probe_of=() # server PID -> its startup_probe.py PID (our child)
started_pid='' started_ms=''

json_str() { local s=${1//\\/\\\\}; s=${s//\"/\\\"}; printf '"%s"' "$s"; }
record() { printf '%s\n' "$1" >> "$records"; }
now() { echo "$EPOCHREALTIME"; }
rss_kib() { # VmRSS of PID in KiB, or null
  local v
  v=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status" 2> /dev/null || true)
  echo "${v:-null}"
}
mib() { if [[ $1 =~ ^[0-9]+$ ]]; then echo $(($1 / 1024)); else echo '?'; fi; }
cpu_ticks() { # utime + stime of PID, in clock ticks (fields 14 and 15 of /proc/PID/stat; comm may hold spaces)
  local line rest
  read -r line < "/proc/$1/stat" || { echo null; return; }
  rest=${line##*) }
  local -a st
  read -r -a st <<< "$rest"
  echo $((st[11] + st[12]))
}

# start_server VARIANT PORT TAG [--users N] [--snapshot F]: spawns the server through the probe, waits for its
# first 200 of /health; sets started_pid and started_ms. GC_LOG=0 leaves out the GC log, DENSITY=1 uses the
# density JVM options, AOT_OPTS adds JVM options (the ahead-of-time cache). Returns 1 (and logs) if it did not come up.
start_server() {
  local i=$1 p=$2 tag=$3 res pid_probe opts
  shift 3
  res=$tmp/$tag.probe.json
  rm -f "$res"
  started_pid='' started_ms=''
  if [ "${v_kind[i]}" = native ]; then
    python3 "$probe" --host "$host" --port "$p" --result "$res" -- \
      "$rust_bin" --port "$p" --host "$host" "$@" > "$out/$tag-server.log" 2>&1 &
  else
    if [ "${DENSITY:-0}" = 1 ]; then opts=${v_dopts[i]}; else opts=${v_opts[i]}; fi
    [ "${GC_LOG:-1}" = 1 ] && opts="$opts -Xlog:gc*:file=$out/$tag-gc.log:utctime,uptime,level,tags:filecount=0"
    local store=${v_base[i]#kotlin-}
    [ -n "${AOT_OPTS:-}" ] && opts="$opts $AOT_OPTS"
    JAVA_HOME=${v_home[i]} JAVA_OPTS=$opts KOTLIN_DEMO_OPTS='' \
      python3 "$probe" --host "$host" --port "$p" --result "$res" -- \
      "$jvm_bin" serve --store "$store" --port "$p" --host "$host" "$@" > "$out/$tag-server.log" 2>&1 &
  fi
  pid_probe=$!
  until [ -s "$res" ]; do
    kill -0 "$pid_probe" 2> /dev/null || break
    sleep 0.02
  done
  if [ ! -s "$res" ]; then
    wait "$pid_probe" 2> /dev/null || true
    log "$tag: the start-up probe failed; see $out/$tag-server.log"
    return 1
  fi
  started_pid=$(sed -n 's/.*"pid": \([0-9][0-9]*\).*/\1/p' "$res")
  started_ms=$(sed -n 's/.*"ms": \([0-9.e+-]*\).*/\1/p' "$res")
  [ -n "$started_pid" ] && probe_of[$started_pid]=$pid_probe
  if grep -q '"error"' "$res"; then
    log "$tag: $(sed -n 's/.*"error": "\([^"]*\)".*/\1/p' "$res"); see $out/$tag-server.log"
    [ -n "$started_pid" ] && stop_server "$started_pid" KILL
    wait "$pid_probe" 2> /dev/null || true
    started_pid=''
    return 1
  fi
  return 0
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
stop_server() { if [ "${2:-}" = KILL ]; then stop_servers KILL "$1"; else stop_servers "$1"; fi; }
stop_all() { [ ${#probe_of[@]} -eq 0 ] || stop_servers "${!probe_of[@]}"; }
trap 'stop_all; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# free_port FROM: the first port from FROM on where nothing accepts a connection (other jobs share the machine).
free_port() {
  local q=$1
  while (exec 3<> "/dev/tcp/$host/$q") 2> /dev/null; do q=$((q + 1)); done
  echo "$q"
}

# ---------------------------------------------------------------- oha
run_oha() { # run_oha FILE URL DURATION CONNECTIONS [oha options...]
  local file=$1 url=$2 length=$3 conns=$4
  shift 4
  "$oha" --no-tui --output-format json -z "$length" -c "$conns" --rand-regex-url "$@" "$url" > "$file"
}
capacity_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["summary"]["requestsPerSec"])' "$1"; }

# phase PID PHASE RECORD_FIELDS COMMAND...: runs COMMAND, records wall clock and CPU ticks around it.
phase() {
  local pid=$1 name=$2 fields=$3 t0 c0 t1 c1
  shift 3
  c0=$(cpu_ticks "$pid") t0=$(now)
  "$@"
  t1=$(now) c1=$(cpu_ticks "$pid")
  record "{\"type\":\"phase\",\"phase\":\"$name\",$fields,\"t_start\":$t0,\"t_end\":$t1,\"cpu_start\":$c0,\"cpu_end\":$c1}"
}

mix() { # mix PREFIX URL DURATION [RATE]: GET and PUT oha at once (RATE empty: closed loop, connections split alike)
  local prefix=$1 url=$2 length=$3 r=${4:-0} gr pr gc pc
  read -r gr pr gc pc <<< "$(python3 -c '
import sys
r, share, c = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
put = max(1, round(r * share)); get = max(1, round(r) - put)
pc = max(1, round(c * share)); gc = max(1, c - pc)
print(get, put, gc, pc)' "$r" "$put_share" "$connections")"
  local qg=() qp=()
  [ "$r" = 0 ] || qg=(-q "$gr" --latency-correction) qp=(-q "$pr" --latency-correction)
  "$oha" --no-tui --output-format json -z "$length" -c "$gc" ${qg[@]+"${qg[@]}"} --rand-regex-url \
    "$url" > "$prefix-get.json" &
  local g=$!
  "$oha" --no-tui --output-format json -z "$length" -c "$pc" ${qp[@]+"${qp[@]}"} --rand-regex-url \
    -m PUT -T application/json -d '{"name":"loadtest-put"}' "$url" > "$prefix-put.json" &
  local p=$!
  local rc=0
  wait "$g" || rc=$?
  wait "$p" || rc=$?
  return "$rc"
}

# ---------------------------------------------------------------- 0. the snapshot
snapshot=$tmp/snapshot-$snapshot_users.snap
maker=0
for ((i = 0; i < nv; i++)); do if [ "${v_kind[i]}" = native ]; then maker=$i; break; fi; done
log "making the start-up snapshot: ${v_name[maker]} --users $snapshot_users, SIGTERM saves it"
start_server "$maker" "$(free_port "$port")" "snapshot-maker" --users "$snapshot_users" --snapshot "$snapshot" || die "could not make the snapshot"
stop_server "$started_pid"
[ -s "$snapshot" ] || die "no snapshot at $snapshot after SIGTERM; see $out/snapshot-maker-server.log"
record "{\"type\":\"snapshot\",\"service\":$(json_str "${v_name[maker]}"),\"users\":$snapshot_users,\"bytes\":$(stat -c %s "$snapshot")}"

# ---------------------------------------------------------------- 0b. ahead-of-time caches (JDK 25+)
declare -A aot_of=() # variant index -> its trained AOT cache
if [ "$aot" = 1 ]; then
  for ((i = 0; i < nv; i++)); do
    [ "${v_kind[i]}" = jvm ] && [ "${v_jdk[i]}" -ge 25 ] || continue
    cache=$tmp/aot-${v_name[i]}.aot
    tag=aot-train-${v_name[i]}
    p=$(free_port "$port")
    log "training the AOT cache of ${v_name[i]}: --users 10000, $aot_train of GET/PUT, then SIGTERM writes $cache"
    AOT_OPTS="-XX:AOTCacheOutput=$cache" start_server "$i" "$p" "$tag" --users 10000 || die "${v_name[i]} did not start to train its AOT cache"
    pid=$started_pid
    mix "$tmp/$tag" "http://$host:$p/users/[0-9]{4}" "$aot_train" > /dev/null 2>&1 || true
    stop_server "$pid"
    [ -s "$cache" ] || die "no AOT cache at $cache after SIGTERM; see $out/$tag-server.log"
    aot_of[$i]=$cache
    record "{\"type\":\"aot_cache\",\"service\":$(json_str "${v_name[i]}"),\"bytes\":$(stat -c %s "$cache"),\"train\":$(json_str "$aot_train")}"
  done
fi

# startup_pair REPEAT SAMPLE VARIANT NAME: the two start-up samples of a variant (AOT_OPTS: its JVM options more),
# recorded under NAME: with 0 users (then the idle RSS) and from a fresh copy of the snapshot (stopped with SIGKILL).
startup_pair() {
  local r=$1 s=$2 i=$3 name=$4 tag pid ms rss comm
  tag=r$r-startup$s-$name-empty
  start_server "$i" "$(free_port "$port")" "$tag" || die "$name did not start with 0 users"
  pid=$started_pid ms=$started_ms
  sleep "$settle"
  rss=$(rss_kib "$pid") comm=$(cat "/proc/$pid/comm" 2> /dev/null || echo '?')
  stop_server "$pid"
  record "{\"type\":\"startup\",\"repeat\":$r,\"sample\":$s,\"service\":$(json_str "$name"),\"kind\":\"empty\",\"ms\":$ms,\"idle_rss_kib\":$rss,\"comm\":$(json_str "$comm")}"
  log "repeat $r, start-up $s, $name: 0 users ${ms%.*} ms, idle RSS $(mib "$rss") MiB"
  cp "$snapshot" "$tmp/probe.snap"
  tag=r$r-startup$s-$name-snapshot
  start_server "$i" "$(free_port "$port")" "$tag" --snapshot "$tmp/probe.snap" || die "$name did not start from the snapshot"
  pid=$started_pid ms=$started_ms
  stop_server "$pid" KILL
  rm -f "$tmp/probe.snap"
  record "{\"type\":\"startup\",\"repeat\":$r,\"sample\":$s,\"service\":$(json_str "$name"),\"kind\":\"snapshot\",\"ms\":$ms}"
  log "repeat $r, start-up $s, $name: $snapshot_users-user snapshot ${ms%.*} ms"
}

rotate() { # rotate R: the variant indices in this repeat's order
  local r=$1 k
  for ((k = 0; k < nv; k++)); do echo $(((k + r - 1) % nv)); done
}

for r in $(seq 1 "$repeats"); do
  mapfile -t order < <(rotate "$r")
  # ---------------------------------------------------------------- 1. start-up
  for s in $(seq 1 "$startups"); do
    for i in "${order[@]}"; do
      startup_pair "$r" "$s" "$i" "${v_name[i]}"
      # The same two start-ups from the variant's ahead-of-time cache.
      [ -z "${aot_of[$i]:-}" ] || AOT_OPTS="-XX:AOTMode=on -XX:AOTCache=${aot_of[$i]}" startup_pair "$r" "$s" "$i" "${v_name[i]}+aot"
    done
  done

  for n in "${user_counts[@]}"; do
    url="http://$host:PORT/users/$(id_regex "$n")"
    declare -A pid_of=() port_of=()
    p=$port
    # ---------------------------------------------------------------- 2. preload, warm-up, capacity
    lowest='' lowest_name=''
    for pos in "${!order[@]}"; do
      i=${order[pos]} name=${v_name[i]} p=$(free_port $((p + 1)))
      port_of[$i]=$p
      base=r$r-$n-$name
      u=${url/PORT/$p}
      log "repeat $r/$repeats, $n users, $name: starting (port $p)"
      start_server "$i" "$p" "$base" --users "$n" || die "$name did not start with $n users"
      pid=$started_pid
      pid_of[$i]=$pid
      sleep "$settle"
      fields="\"repeat\":$r,\"users\":$n,\"service\":$(json_str "$name"),\"position\":$pos"
      rss=$(rss_kib "$pid")
      record "{\"type\":\"server\",$fields,\"port\":$p,\"pid\":$pid,\"start_ms\":$started_ms,\"rss_preloaded_kib\":$rss,\"gc_log\":$(json_str "$base-gc.log")}"
      log "  started in ${started_ms%.*} ms, RSS $(mib "$rss") MiB; cold $cold at $cold_rate/s, warm-up $warmup"
      phase "$pid" cold "$fields,\"file\":\"$base-cold.json\",\"offered_rps\":$cold_rate" \
        run_oha "$out/$base-cold.json" "$u" "$cold" "$connections" -q "$cold_rate" --latency-correction
      phase "$pid" warmup "$fields,\"file\":\"$base-warmup-get.json\",\"file_put\":\"$base-warmup-put.json\"" \
        mix "$out/$base-warmup" "$u" "$warmup" 
      sleep "$pause"
      phase "$pid" capacity "$fields,\"file\":\"$base-capacity.json\"" \
        run_oha "$out/$base-capacity.json" "$u" "$capacity" "$connections"
      cap=$(capacity_of "$out/$base-capacity.json")
      log "  capacity ${cap%.*} req/s"
      if [ -z "$lowest" ] || python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)' "$cap" "$lowest"; then
        lowest=$cap lowest_name=$name
      fi
      sleep "$pause"
    done
    record "{\"type\":\"lowest\",\"repeat\":$r,\"users\":$n,\"capacity_rps\":$lowest,\"service\":$(json_str "$lowest_name")}"
    # ---------------------------------------------------------------- 3. constant rates: GET, then the 90/10 mix
    for f in "${fraction_list[@]}"; do
      rate=$(python3 -c 'import sys; print(max(1, int(float(sys.argv[1]) * float(sys.argv[2]))))' "$f" "$lowest")
      pct=$(python3 -c 'import sys; print(format(float(sys.argv[1]) * 100, "g"))' "$f")
      for pos in "${!order[@]}"; do
        i=${order[pos]} name=${v_name[i]} p=${port_of[$i]}
        base=r$r-$n-$name
        u=${url/PORT/$p}
        pid=${pid_of[$i]}
        fields="\"repeat\":$r,\"users\":$n,\"service\":$(json_str "$name"),\"position\":$pos,\"fraction\":$f,\"offered_rps\":$rate"
        log "repeat $r, $n users, $name: GET at $rate/s ($f x lowest capacity) for $duration"
        phase "$pid" "c$pct-get" "$fields,\"file\":\"$base-c$pct-get.json\"" \
          run_oha "$out/$base-c$pct-get.json" "$u" "$duration" "$connections" -q "$rate" --latency-correction
        sleep "$pause"
        log "repeat $r, $n users, $name: GET/PUT mix at $rate/s for $duration"
        phase "$pid" "c$pct-mix" "$fields,\"file\":\"$base-c$pct-mix-get.json\",\"file_put\":\"$base-c$pct-mix-put.json\"" \
          mix "$out/$base-c$pct-mix" "$u" "$duration" "$rate"
        sleep "$pause"
      done
    done
    for pos in "${!order[@]}"; do
      i=${order[pos]}
      record "{\"type\":\"after\",\"repeat\":$r,\"users\":$n,\"service\":$(json_str "${v_name[i]}"),\"rss_after_load_kib\":$(rss_kib "${pid_of[$i]}")}"
    done
    log "repeat $r, $n users: stopping the servers"
    stop_servers "${pid_of[@]}"
    unset pid_of port_of
  done
done

# ---------------------------------------------------------------- 4. density
if [ "$density_count" -gt 0 ]; then
  mapfile -t order < <(rotate 1)
  for i in "${order[@]}"; do
    name=${v_name[i]}
    log "density: $density_count idle instances of $name"
    pids=() mss=() p=$((port + 100))
    for k in $(seq 1 "$density_count"); do
      p=$(free_port $((p + 1)))
      if DENSITY=1 GC_LOG=0 start_server "$i" "$p" "density-$name-$k"; then
        pids+=("$started_pid") mss+=("$started_ms")
      else
        break
      fi
    done
    sleep "$settle"
    total=0
    for pid in "${pids[@]}"; do
      rss=$(rss_kib "$pid")
      [ "$rss" = null ] || total=$((total + rss))
    done
    record "{\"type\":\"density\",\"service\":$(json_str "$name"),\"started\":${#pids[@]},\"total_rss_kib\":$total,\"start_ms\":[$(IFS=,; echo "${mss[*]}")]}"
    log "density: $name: ${#pids[@]} instances, $((total / 1024)) MiB in all"
    [ ${#pids[@]} -eq 0 ] || stop_servers "${pids[@]}"
  done
fi

record "{\"type\":\"end\",\"date\":\"$(date -u +%Y-%m-%dT%H:%M:%SZ)\",\"load\":$(cut -d' ' -f1 /proc/loadavg)}"
python3 "$root/scripts/loadtest_summary.py" "$out" | tee "$out/summary.txt"
cp "$out/summary.json" "$out_base/summary.json"
log "raw oha JSON, server and GC logs, records.jsonl, summary.{json,csv,txt}: $out"
