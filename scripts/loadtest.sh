#!/usr/bin/env bash
# Load test of `kotlin-demo serve`: the native and the Kotlin store side by side under real HTTP load.
# Run it as `./gradlew loadtest` (which builds installDist first) or directly after installDist.
#
# For each user count and each repeat, for each store in turn (the order alternates between repeats): starts
# `bin/kotlin-demo serve --store S --users N` on 127.0.0.1 with a fixed heap, waits for GET /health, then drives
# GET /users/{random id in 0..N-1} with oha (HTTP load generator, a Rust crate built with cargo install into build/tools once):
#   1. warm-up      constant rate, WARMUP long, results kept but not reported;
#   2. capacity     closed loop (no rate limit), CAPACITY long: the most requests per second the server answers;
#   3. constant     RATE requests per second with latency correction (oha -q RATE --latency-correction), so
#                   a stalled server shows up as latency of the requests that should have been sent meanwhile
#                   (no coordinated omission); DURATION long. Its p50/p99/p99.9/max are the tail figures.
# Every oha run is bounded by -z; the server is stopped (SIGTERM, then SIGKILL) after each store and on any exit.
#
# Settings (environment; ./gradlew loadtest maps -Ploadtest.NAME=VALUE onto them):
#   LOADTEST_USERS       user counts, comma separated        (default 1000000,5000000; each must be d*10^k)
#   LOADTEST_STORES      stores, comma separated              (default native,kotlin)
#   LOADTEST_RATE        constant request rate per second     (default 10000: see README, "Backend (serve)")
#   LOADTEST_DURATION    length of the constant-rate run      (default 30s)
#   LOADTEST_CAPACITY    length of the closed-loop run        (default 10s)
#   LOADTEST_WARMUP      length of the warm-up                (default 10s)
#   LOADTEST_CONNECTIONS concurrent connections of oha        (default 32)
#   LOADTEST_REPEATS     repeats of the whole matrix          (default 3; the summary gives medians)
#   LOADTEST_PORT        port of the server                   (default 18080)
#   LOADTEST_HEAP        the server's fixed heap              (default 4g: ~400 B per Kotlin user at 5M, room to spare)
#   LOADTEST_OUT         output folder                        (default kotlin-demo/build/reports/userstore/loadtest)
#
# Output: LOADTEST_OUT/<UTC stamp>/ holds every raw oha JSON (<users>-<store>-r<repeat>-<phase>.json), each server's
# log and GC log, summary.json and summary.csv; LOADTEST_OUT/summary.json is a copy of the latest summary.
# Schema of summary.json (times in milliseconds, rates in requests per second):
#   { "date": "...Z", "machine": {"cpu", "cores", "memory_gib", "java", "os"},
#     "server": {"heap", "gc", "jvm_options"}, "oha": "1.16.0",
#     "settings": {"rate", "duration", "capacity", "warmup", "connections", "repeats", "users": [..], "stores": [..]},
#     "runs":    [ {"users", "store", "repeat", "capacity_rps", "offered_rps", "achieved_rps", "success_ratio",
#                   "p50_ms", "p99_ms", "p999_ms", "max_ms", "non_200", "raw": {"capacity", "constant"}} ],
#     "medians": [ {"users", "store", same figures as runs: the median over the repeats} ],
#     "ratios":  [ {"users", "capacity_native_over_kotlin", "achieved_native_over_kotlin",
#                   "p999_native_over_kotlin", "p99_native_over_kotlin",
#                   "goal_throughput_met", "goal_p999_met"} ] }
#   non_200 counts the requests without a 200 answer, including those oha cancels at the -z deadline
#   ("aborted due to deadline" in the raw errorDistribution).
#   The goal (issue 5): native capacity >= Kotlin capacity and native p99.9 <= Kotlin p99.9 at 5M users.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"

users_list=${LOADTEST_USERS:-1000000,5000000}
stores=${LOADTEST_STORES:-native,kotlin}
rate=${LOADTEST_RATE:-10000}
duration=${LOADTEST_DURATION:-30s}
capacity=${LOADTEST_CAPACITY:-10s}
warmup=${LOADTEST_WARMUP:-10s}
connections=${LOADTEST_CONNECTIONS:-32}
repeats=${LOADTEST_REPEATS:-3}
port=${LOADTEST_PORT:-18080}
heap=${LOADTEST_HEAP:-4g}
out_base=${LOADTEST_OUT:-$root/kotlin-demo/build/reports/userstore/loadtest}
oha_version=1.16.0
oha=$root/build/tools/oha-$oha_version/bin/oha
bin=$root/kotlin-demo/build/install/kotlin-demo/bin/kotlin-demo

die() { echo "loadtest: $*" >&2; exit 1; }
log() { echo "loadtest: $*" >&2; }

[ -x "$bin" ] || die "no $bin: run ./gradlew installDist first (./gradlew loadtest does)"
command -v python3 > /dev/null 2>&1 || die "python3 is needed for the summary"
command -v curl > /dev/null 2>&1 || die "curl is needed to wait for /health"

# oha, pinned, built once into build/tools (not expected on the PATH).
if [ ! -x "$oha" ]; then
  command -v cargo > /dev/null 2>&1 || die "cargo is needed to build oha $oha_version"
  log "building oha $oha_version into build/tools (once; a few minutes)"
  cargo install oha --version "$oha_version" --locked --root "$root/build/tools/oha-$oha_version" \
    --target-dir "$root/build/tools/cargo-target" >&2
fi

# GET /users/{id} with id uniform in 0..N-1, as oha's --rand-regex-url regex: N must be d*10^k (1 <= d <= 9).
id_regex() {
  local n=$1 d k
  [[ $n =~ ^([1-9])(0*)$ ]] || die "user count $n must be a digit followed by zeros (1000000, 5000000, ...)"
  d=${BASH_REMATCH[1]} k=${#BASH_REMATCH[2]}
  if [ "$d" = 1 ]; then echo "[0-9]{$k}"; else echo "[0-$((d - 1))][0-9]{$k}"; fi
}

server_pid=
stop_server() {
  [ -n "$server_pid" ] || return 0
  if kill -0 "$server_pid" 2> /dev/null; then
    kill -TERM "$server_pid" 2> /dev/null || true
    for _ in $(seq 1 60); do kill -0 "$server_pid" 2> /dev/null || break; sleep 0.5; done
    kill -0 "$server_pid" 2> /dev/null && kill -KILL "$server_pid" 2> /dev/null || true
  fi
  wait "$server_pid" 2> /dev/null || true
  server_pid=
}
trap stop_server EXIT
trap 'stop_server; exit 130' INT TERM

stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
out=$out_base/$stamp
mkdir -p "$out"
jvm_options="-Xms$heap -Xmx$heap -XX:+UseG1GC"
cat > "$out/environment.json" << EOF
{"date":"$stamp","cpu":"$(grep -m1 'model name' /proc/cpuinfo 2> /dev/null | sed 's/.*: //' || uname -m)","cores":$(nproc),
 "memory_gib":$(awk '/MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo 2> /dev/null || echo 0),
 "java":"$(java -version 2>&1 | head -1 | sed 's/"/\\"/g')","os":"$(uname -sr)",
 "heap":"$heap","gc":"G1","jvm_options":"$jvm_options","oha":"$oha_version",
 "settings":{"rate":$rate,"duration":"$duration","capacity":"$capacity","warmup":"$warmup","connections":$connections,
  "repeats":$repeats,"users":[${users_list}],"stores":["${stores//,/\",\"}"]}}
EOF
log "results in $out"

run_oha() { # run_oha OUTPUT.json URL_REGEX DURATION [oha options...]
  local file=$1 url=$2 length=$3
  shift 3
  "$oha" --no-tui --output-format json -z "$length" -c "$connections" --rand-regex-url "$@" "$url" > "$file"
}

IFS=, read -r -a user_counts <<< "$users_list"
IFS=, read -r -a store_list <<< "$stores"
for r in $(seq 1 "$repeats"); do
  for n in "${user_counts[@]}"; do
    # Alternate the order between repeats so neither store always runs on a machine warmed by the other.
    order=("${store_list[@]}")
    if [ $((r % 2)) = 0 ]; then
      order=()
      for ((i = ${#store_list[@]} - 1; i >= 0; i--)); do order+=("${store_list[i]}"); done
    fi
    url="http://127.0.0.1:$port/users/$(id_regex "$n")"
    for store in "${order[@]}"; do
      name=$n-$store-r$r
      log "repeat $r/$repeats, $n users, $store store: starting the server"
      JAVA_OPTS="$jvm_options -Xlog:gc:file=$out/$name-gc.log" \
        "$bin" serve --store "$store" --users "$n" --port "$port" --host 127.0.0.1 > "$out/$name-server.log" 2>&1 &
      server_pid=$!
      for _ in $(seq 1 600); do
        curl -fsS -o /dev/null "http://127.0.0.1:$port/health" 2> /dev/null && break
        kill -0 "$server_pid" 2> /dev/null || die "the server exited; see $out/$name-server.log"
        sleep 0.5
      done
      curl -fsS -o /dev/null "http://127.0.0.1:$port/health" || die "no /health after 300 s; see $out/$name-server.log"
      log "  warm-up $warmup at $rate/s"
      run_oha "$out/$name-warmup.json" "$url" "$warmup" -q "$rate" --latency-correction
      log "  capacity $capacity, closed loop"
      run_oha "$out/$name-capacity.json" "$url" "$capacity"
      sleep 2
      log "  constant rate $rate/s for $duration, latency-corrected"
      run_oha "$out/$name-constant.json" "$url" "$duration" -q "$rate" --latency-correction
      stop_server
    done
  done
done

python3 - "$out" << 'PY' | tee "$out/summary.txt"
import csv, json, os, statistics, sys

out = sys.argv[1]
env = json.load(open(os.path.join(out, "environment.json")))
s = env["settings"]

def load(name):
    return json.load(open(os.path.join(out, name)))

def ms(v):
    return None if v is None else v * 1000.0

runs = []
for r in range(1, s["repeats"] + 1):
    for n in s["users"]:
        for store in s["stores"]:
            name = f"{n}-{store}-r{r}"
            cap, const = load(name + "-capacity.json"), load(name + "-constant.json")
            codes = const.get("statusCodeDistribution", {})
            ok = codes.get("200", 0)
            total = sum(codes.values()) + sum(const.get("errorDistribution", {}).values())
            seconds = const["summary"]["total"]
            p = const["latencyPercentiles"]
            runs.append({
                "users": n, "store": store, "repeat": r,
                "capacity_rps": cap["summary"]["requestsPerSec"],
                "offered_rps": s["rate"],
                "achieved_rps": ok / seconds if seconds else 0.0,
                "success_ratio": const["summary"]["successRate"],
                "p50_ms": ms(p.get("p50")), "p99_ms": ms(p.get("p99")), "p999_ms": ms(p.get("p99.9")),
                "max_ms": ms(const["summary"]["slowest"]),
                "non_200": total - ok,
                "raw": {"capacity": name + "-capacity.json", "constant": name + "-constant.json"},
            })

figures = ["capacity_rps", "achieved_rps", "p50_ms", "p99_ms", "p999_ms", "max_ms"]
medians = []
for n in s["users"]:
    for store in s["stores"]:
        mine = [x for x in runs if x["users"] == n and x["store"] == store]
        m = {"users": n, "store": store, "repeats": len(mine)}
        for f in figures:
            vals = [x[f] for x in mine if x[f] is not None]
            m[f] = statistics.median(vals) if vals else None
        m["non_200"] = sum(x["non_200"] for x in mine)
        medians.append(m)

def med(n, store):
    return next((m for m in medians if m["users"] == n and m["store"] == store), None)

ratios = []
for n in s["users"]:
    nat, kot = med(n, "native"), med(n, "kotlin")
    if not nat or not kot:
        continue
    div = lambda a, b: (a / b) if (a is not None and b) else None
    ratios.append({
        "users": n,
        "capacity_native_over_kotlin": div(nat["capacity_rps"], kot["capacity_rps"]),
        "achieved_native_over_kotlin": div(nat["achieved_rps"], kot["achieved_rps"]),
        "p99_native_over_kotlin": div(nat["p99_ms"], kot["p99_ms"]),
        "p999_native_over_kotlin": div(nat["p999_ms"], kot["p999_ms"]),
        "goal_throughput_met": nat["capacity_rps"] >= kot["capacity_rps"],
        "goal_p999_met": nat["p999_ms"] <= kot["p999_ms"],
    })

summary = {
    "date": env["date"],
    "machine": {k: env[k] for k in ("cpu", "cores", "memory_gib", "java", "os")},
    "server": {"heap": env["heap"], "gc": env["gc"], "jvm_options": env["jvm_options"]},
    "oha": env["oha"], "settings": s, "runs": runs, "medians": medians, "ratios": ratios,
}
with open(os.path.join(out, "summary.json"), "w") as f:
    json.dump(summary, f, indent=2)
with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
    w = csv.writer(f)
    cols = ["users", "store", "repeat", "capacity_rps", "offered_rps", "achieved_rps", "p50_ms", "p99_ms", "p999_ms", "max_ms", "non_200"]
    w.writerow(cols)
    for x in runs:
        w.writerow([x[c] for c in cols])

def fmt(v, spec):
    return "-" if v is None else format(v, spec)

print(f"userstore load test {env['date']}: {env['cpu']}, {env['cores']} cores, {env['memory_gib']} GiB, {env['java']}")
print(f"server: {env['jvm_options']}; oha {env['oha']}, {s['connections']} connections, loopback; "
      f"capacity = closed loop {s['capacity']}; constant = {s['rate']} req/s for {s['duration']} with latency correction; "
      f"medians of {s['repeats']} repeats")
head = f"{'users':>9} {'store':<15} {'capacity r/s':>13} {'achieved r/s':>13} {'p50 ms':>9} {'p99 ms':>9} {'p99.9 ms':>9} {'max ms':>9} {'non-200':>8}"
print(head)
print("-" * len(head))
for n in s["users"]:
    for store in s["stores"]:
        m = med(n, store)
        print(f"{n:>9} {store:<15} {fmt(m['capacity_rps'], ',.0f'):>13} {fmt(m['achieved_rps'], ',.0f'):>13} "
              f"{fmt(m['p50_ms'], '.3f'):>9} {fmt(m['p99_ms'], '.3f'):>9} {fmt(m['p999_ms'], '.3f'):>9} {fmt(m['max_ms'], '.1f'):>9} {m['non_200']:>8}")
    r = next((x for x in ratios if x["users"] == n), None)
    if r:
        nat, kot = med(n, "native"), med(n, "kotlin")
        ratio = lambda a, b: fmt(a / b if a is not None and b else None, '.2f')
        print(f"{n:>9} {'native/kotlin':<15} {ratio(nat['capacity_rps'], kot['capacity_rps']):>13} "
              f"{ratio(nat['achieved_rps'], kot['achieved_rps']):>13} {ratio(nat['p50_ms'], kot['p50_ms']):>9} "
              f"{ratio(nat['p99_ms'], kot['p99_ms']):>9} {ratio(nat['p999_ms'], kot['p999_ms']):>9} {ratio(nat['max_ms'], kot['max_ms']):>9}")
for r in ratios:
    print(f"goal at {r['users']} users: native capacity >= kotlin: {'met' if r['goal_throughput_met'] else 'NOT met'}; "
          f"native p99.9 <= kotlin: {'met' if r['goal_p999_met'] else 'NOT met'}")
PY
cp "$out/summary.json" "$out_base/summary.json"
log "raw oha JSON, server and GC logs, summary.json and summary.csv: $out"
