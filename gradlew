#!/usr/bin/env bash
# ./gradlew: this project's build entry point. The build is Maven (pom.xml and the modules' poms);
# this short script maps Gradle's task names onto `mvn` and the scripts in scripts/. It is not Gradle
# and downloads nothing: it uses `mvn` from the PATH (Maven 3.8+), cargo (stable Rust) and a JDK 17+.
#
#   ./gradlew check         Rust fmt + clippy + tests, Kotlin tests of every module (-Xcheck:jni), ktlint
#   ./gradlew test          the tests only (Rust and Kotlin), no linters
#   ./gradlew build         check, plus the jars and installDist
#   ./gradlew installDist   kotlin-demo/build/install/kotlin-demo/{bin/kotlin-demo, lib/*.jar}
#   ./gradlew run [--args="..."]   installDist, then the demo with those arguments; compare's HTML
#                           report goes to build/reports/userstore (and kotlin-demo/build/reports/userstore)
#   ./gradlew publishToMavenLocal  installs dev.userstore:userstore (jar, sources jar, pom) and the
#                           PostgreSQL replica dev.userstore:userstore-postgres into the local Maven
#                           repository, for a backend's mavenLocal()
#   ./gradlew jmh [-Pjmh.profile=quick|full] [-Pjmh.profiler=async] [--args="JMH options"]
#                           JMH benchmarks (benchmarks/build/benchmarks.jar); JSON results and the
#                           environment in benchmarks/build/reports/jmh (DurableBenchmark only when named)
#   ./gradlew jmhDurable [--args="JMH options"]   DurableBenchmark (issue 13: puts per sync mode, 1/2/8
#                           writers, throughput and latency) and SyncFloorBenchmark (this disk's fdatasync);
#                           1 fork, 2 x 1 s warm-up, 3 x 1.5 s measured, ~9 min; results-durable-<date>.json
#                           and its table (scripts/jmh-durable-table.py)
#   ./gradlew benchShapes [-PbenchShapes.jmh=true] [-PbenchShapes.bindings=ffm,jni] [--args="CallerLoop options"]
#                           issue 19: both stores through one shared UserStore call site. Runs the plain-main
#                           program dev.userstore.bench.CallerLoop (1M users in both stores, interleaved rounds,
#                           get/getMiss/getMany/getJson/findByName, gets/s on 1 and 2 threads, the machine's floor)
#                           once per binding this JDK has (22+: ffm and jni; 17-21: jni), ~1 min each; with
#                           -PbenchShapes.jmh=true also JMH's SharedCallSiteBenchmark and StoreBenchmark (one store
#                           per fork) for the same ops, quick profile, ~5 min more per binding. Raw results, a
#                           summary.md/summary.csv table (scripts/shapes-table.py) in benchmarks/build/reports/shapes
#                           (the demo's compare report shows it); --args="--quick" for a short check run
#   ./gradlew durableLoadtest [-PdurableLoadtest.NAME=VALUE ...]   installDist and the Rust server, then
#                           scripts/durable-loadtest.sh: PUT load on the three services per sync mode
#   ./gradlew dbLoadtest [-PdbLoadtest.NAME=VALUE ...]   installDist and the Rust server, then
#                           scripts/db-loadtest.sh: the article's handler on PostgreSQL (issue 21 item 6), direct and
#                           replica modes, Rust against Kotlin, replication lag, initial copy, 3 instances; 1M users,
#                           ~10 min; uses the private cluster (scripts/postgres.sh) unless -PdbLoadtest.url=URL
#   ./gradlew loadtest [-Ploadtest.rate=10000 -Ploadtest.users=1000000,5000000 ...]
#                           installDist, then scripts/loadtest.sh (settings: see the script)
#   ./gradlew fuzz [-Pfuzz.seconds=60]   coverage-guided fuzzing of the Rust core (scripts/fuzz.sh)
#   ./gradlew leakcheck     the Rust core's tests under valgrind (scripts/leakcheck.sh)
#   ./gradlew postgresStart  a private PostgreSQL cluster for the database suites and modes (scripts/postgres.sh
#                           start: build/postgres, loopback, a free port); prints its postgres:// URL, for
#                           USERSTORE_PG_URL=$(./gradlew -q postgresStart) and --db URL
#   ./gradlew postgresStop  stops that cluster (its data stays in build/postgres)
#   ./gradlew clean         deletes every module's build folder and the cargo target folders
#                           (and stops the private PostgreSQL first: its data folder is under build/)
#   ./gradlew tasks         this list
#
# Options: --tests PATTERN (test and check: only the JVM test classes or methods that match, as
# Surefire's -Dtest: `ConformanceTest`, `dev.userstore.*Test`, `ConformanceTest#put*`; in a qualified
# pattern `*` also crosses packages, as in Gradle: `dev.userstore.demo.*`; may repeat; the Rust tests
# are then skipped); -q/--quiet; --offline; --stacktrace; --no-daemon (accepted: Maven keeps
# no daemon); -Dname=value (to Maven); -Pname=value (this script's settings above); --args="...".
# Any other option is an error. Several tasks run in order (./gradlew clean check); a leading ":",
# ":userstore:" or ":kotlin-demo:" on a task name is accepted.
# GRADLE_USER_HOME, when set, holds the Maven repository (GRADLE_USER_HOME/maven-repository), so an
# empty Gradle home means empty caches, as with Gradle.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$root"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "gradlew: $*" >&2; exit 1; }

declare -A props=()
tasks=() tests=() run_args="" mvn_flags=(-B --no-transfer-progress -Dstyle.color=never)
while [ $# -gt 0 ]; do
  case $1 in
    --args=*) run_args=${1#--args=} ;;
    --args) [ $# -ge 2 ] || die "--args needs a value"; shift; run_args=$1 ;;
    --tests=*) tests+=("${1#--tests=}") ;;
    --tests) [ $# -ge 2 ] || die "--tests needs a pattern"; shift; tests+=("$1") ;;
    -P*=*)
      kv=${1#-P}
      case ${kv%%=*} in
        jmh.profile|jmh.profiler|jmh.profiler.event|fuzz.seconds|loadtest.*|durableLoadtest.*|dbLoadtest.*|benchShapes.*) props[${kv%%=*}]=${kv#*=} ;;
        *) die "unknown project property $1 (see ./gradlew tasks)" ;;
      esac
      ;;
    -D?*) mvn_flags+=("$1") ;;
    --offline|-o) mvn_flags+=(--offline) ;;
    -q|--quiet) mvn_flags+=(-q) ;;
    --stacktrace|-S|--full-stacktrace) mvn_flags+=(-e) ;;
    --no-daemon) ;;
    -h|--help|help|tasks) usage; exit 0 ;;
    -*) die "option $1 is not implemented by this script (the build is Maven; see ./gradlew tasks)" ;;
    *) t=${1#:}; t=${t#kotlin-demo:}; t=${t#userstore:}; tasks+=("$t") ;;
  esac
  shift
done
[ ${#tasks[@]} -gt 0 ] || { usage; exit 0; }

# Maven 3.8+ from the PATH (or MAVEN_HOME); nothing is downloaded.
if command -v mvn > /dev/null 2>&1; then mvn=mvn
elif [ -n "${MAVEN_HOME:-}" ] && [ -x "$MAVEN_HOME/bin/mvn" ]; then mvn=$MAVEN_HOME/bin/mvn
else die "Maven 3.8 or later is needed on the PATH: install it with your package manager (apt-get install maven, dnf install maven, brew install maven, sdk install maven)."
fi
maven_version=$("$mvn" -v 2> /dev/null | sed -n 's/^Apache Maven \([0-9][0-9]*\)\.\([0-9][0-9]*\).*/\1 \2/p' | head -1)
if [ -n "$maven_version" ]; then
  read -r major minor <<< "$maven_version"
  [ "$major" -gt 3 ] || { [ "$major" -eq 3 ] && [ "$minor" -ge 8 ]; } \
    || die "Maven 3.8 or later is needed; $("$mvn" -v | head -1) is on the PATH."
fi
command -v cargo > /dev/null 2>&1 || die "cargo is needed on the PATH (stable Rust, e.g. from rustup)."
if [ -n "${GRADLE_USER_HOME:-}" ]; then
  mkdir -p "$GRADLE_USER_HOME/maven-repository"
  mvn_flags+=("-Dmaven.repo.local=$GRADLE_USER_HOME/maven-repository")
fi

# The platform folder inside the jar, as the Kotlin loader computes it.
case "$(uname -s)" in
  Linux) os=linux lib=libuserstore.so ;;
  Darwin) os=darwin lib=libuserstore.dylib ;;
  *) die "unsupported OS $(uname -s)" ;;
esac
case "$(uname -m)" in
  x86_64|amd64) arch=x86_64 ;;
  aarch64|arm64) arch=aarch64 ;;
  *) arch=$(uname -m) ;;
esac
mvn_flags+=("-Dnative.platform=$os-$arch" "-Dnative.libname=$lib")

# The FFM binding (JDK 22+) is compiled into META-INF/versions/22 of the library jar by a JDK 22 or later:
# the one running Maven if it is one, else the newest found in USERSTORE_JDK22_HOME or the usual JVM folders,
# passed as -Duserstore.jdk22. With none (or USERSTORE_JDK22_HOME=none), the jar is JNI-only, and this says so.
java_feature() { "$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p' | head -1; }
build_java_home=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v java 2> /dev/null || echo /nonexistent/bin/java)")")")}
build_feature=$(java_feature "$build_java_home" 2> /dev/null || true)
if [ "${USERSTORE_JDK22_HOME:-}" = none ]; then
  echo "gradlew: USERSTORE_JDK22_HOME=none: building a JNI-only jar (no FFM binding)" >&2
  [ "${build_feature%%.*}" -ge 22 ] 2> /dev/null && die "USERSTORE_JDK22_HOME=none needs Maven on a JDK below 22 (this one is $build_feature)"
elif [ "${build_feature%%.*}" -ge 22 ] 2> /dev/null; then
  : # Maven's own JDK compiles the FFM binding (profile ffm-with-this-jdk)
else
  jdk22=
  for home in ${USERSTORE_JDK22_HOME:-} /usr/lib/jvm/* /Library/Java/JavaVirtualMachines/*/Contents/Home "$HOME"/.sdkman/candidates/java/*; do
    [ -x "$home/bin/javac" ] || continue
    f=$(java_feature "$home" 2> /dev/null || true)
    if [ "${f%%.*}" -ge 22 ] 2> /dev/null && { [ -z "$jdk22" ] || [ "${f%%.*}" -gt "$(java_feature "$jdk22")" ]; }; then
      jdk22=$home
    fi
  done
  if [ -n "$jdk22" ]; then
    echo "gradlew: the FFM binding (JDK 22+) is compiled with $jdk22; Maven runs on JDK ${build_feature:-?}" >&2
    mvn_flags+=("-Duserstore.jdk22=$jdk22")
  else
    echo "gradlew: no JDK 22 or later found: building a JNI-only jar (the FFM binding needs a JDK 22+ to compile; set USERSTORE_JDK22_HOME)" >&2
  fi
fi

# --tests: Surefire's -Dtest; modules with no match pass, and the Rust tests are skipped (as Gradle's
# --tests runs only the matching JVM tests).
# A qualified pattern is Gradle's: its `*` also crosses packages (`dev.userstore.demo.*` is every
# class under dev.userstore.demo); Surefire's `*` does not, so it becomes a path with `**/*`.
surefire_pattern() {
  local cls=${1%%#*} method=
  [ "$cls" != "$1" ] && method="#${1#*#}"
  case $cls in *.*) cls=${cls//./\/}; cls=${cls//\*/**\/*} ;; esac
  printf '%s%s' "$cls" "$method"
}
test_flags=()
if [ ${#tests[@]} -gt 0 ]; then
  mapped=()
  for t in "${tests[@]}"; do mapped+=("$(surefire_pattern "$t")"); done
  joined=$(IFS=,; echo "${mapped[*]}")
  test_flags=("-Dtest=$joined" -Dsurefire.failIfNoSpecifiedTests=false -DskipRustTests=true -Djni.check.requireReports=false)
fi

maven() { echo "> mvn $*" >&2; "$mvn" "${mvn_flags[@]}" "$@"; }
no_checks=(-DskipTests -DskipRustLint=true -Dktlint.skip=true)

# ./gradlew jmh: see the task list at the top.
run_jmh() {
  local jar=benchmarks/build/benchmarks.jar out=benchmarks/build/reports/jmh profile=${props[jmh.profile]:-quick}
  local prefix=results
  mkdir -p "$out"
  local opts
  case $profile in
    quick) opts=(-f 1 -wi 3 -w 1s -i 5 -r 1s) ;;
    full) opts=(-f 3 -wi 5 -w 2s -i 10 -r 2s) ;;
    # jmhDurable: 2 stores x 4 sync modes x 3 writer counts x 2 modes = 48 forks of ~10 s, + 2 for the sync floor.
    durable) opts=(-f 1 -wi 2 -w 1s -i 3 -r 1500ms) prefix=results-durable ;;
    *) die "jmh.profile must be quick or full, not $profile" ;;
  esac
  local stamp java_cmd=java
  [ -n "${JAVA_HOME:-}" ] && java_cmd=$JAVA_HOME/bin/java
  stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
  {
    printf '{"date":"%s","profile":"%s",' "$stamp" "$profile"
    printf '"cpu":"%s","cores":%s,' "$(grep -m1 'model name' /proc/cpuinfo 2> /dev/null | sed 's/.*: //' || uname -m)" "$(nproc 2> /dev/null || echo 0)"
    printf '"java":"%s",' "$("$java_cmd" -version 2>&1 | head -1 | sed 's/"/\\"/g')"
    printf '"gc":"JVM default (G1 unless -jvmArgs says otherwise)","os":"%s"}\n' "$(uname -sr)"
  } > "$out/environment-$stamp.json"
  eval "set -- $run_args"
  if [ "$profile" = durable ]; then set -- DurableBenchmark SyncFloorBenchmark "$@"; fi
  # -Pjmh.profiler=async: async-profiler's agent, from its jar beside the benchmarks jar; CPU time
  # sampled by interval timer (perf events are often unavailable on virtual machines;
  # -Pjmh.profiler.event changes it); a flame graph and a flat profile per benchmark.
  case ${props[jmh.profiler]:-} in
    '') ;;
    async)
      local ap lib
      ap=$(ls benchmarks/build/tools/async-profiler-*.jar 2> /dev/null | head -1)
      [ -n "$ap" ] || die "async-profiler's jar is not in benchmarks/build/tools"
      lib=benchmarks/build/tools/async-profiler/linux-$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')/libasyncProfiler.so
      unzip -o -q "$ap" "$(basename "$(dirname "$lib")")/*" -d benchmarks/build/tools/async-profiler
      set -- "$@" -prof "async:libPath=$root/$lib;event=${props[jmh.profiler.event]:-itimer};output=flamegraph,text;flat=25;traces=5;dir=$out/async-$stamp"
      ;;
    *) die "jmh.profiler must be async, not ${props[jmh.profiler]}" ;;
  esac
  # Virtual threads need JDK 21+: on an older JDK their benchmark is left out (said, not hidden).
  local feature
  feature=$("$java_cmd" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  local excludes=()
  if [ "${feature%%.*}" -lt 21 ] 2> /dev/null; then
    echo "gradlew: JDK $feature has no virtual threads: VirtualThreadBenchmark is left out (run on JDK 21+)" >&2
    excludes+=(VirtualThreadBenchmark)
  fi
  # DurableBenchmark and SyncFloorBenchmark (~9 min, disk-bound) run only when named: ./gradlew jmhDurable, or
  # --args="DurableBenchmark".
  case " $* " in *Durable* | *SyncFloor*) ;; *) excludes+=(DurableBenchmark SyncFloorBenchmark) ;; esac
  if [ ${#excludes[@]} -gt 0 ]; then
    case " $* " in
      *" -e "*) ;; # the caller's own -e wins (JMH takes one)
      *) set -- "$@" -e "$(IFS=,; echo "${excludes[*]}")" ;;
    esac
  fi
  # Below JDK 22 there is no FFM binding: native is JNI, so the forced-JNI contender is left out.
  if [ "${feature%%.*}" -lt 22 ] 2> /dev/null; then
    case " $* " in
      *" -p store="*) ;;
      *) echo "gradlew: JDK $feature has no FFM binding: store=native (JNI) and kotlin only" >&2
        set -- "$@" -p store=native,kotlin ;;
    esac
  fi
  # JMH refuses a repeated option: a preset option that --args gives too is left out.
  local keep=() i
  for ((i = 0; i < ${#opts[@]}; i += 2)); do
    case " $* " in *" ${opts[i]} "*) ;; *) keep+=("${opts[i]}" "${opts[i + 1]}") ;; esac
  done
  echo "> java -jar $jar ${keep[*]} $*" >&2
  "$java_cmd" --enable-native-access=ALL-UNNAMED -jar "$jar" "${keep[@]}" -rf json -rff "$out/$prefix-$stamp.json" "$@"
  echo "JMH results: $out/$prefix-$stamp.json (environment: $out/environment-$stamp.json)" >&2
  if [ "$profile" = durable ]; then
    python3 scripts/jmh-durable-table.py "$out/$prefix-$stamp.json" | tee "$out/$prefix-$stamp.md"
    echo "table: $out/$prefix-$stamp.md" >&2
  fi
}

# ./gradlew benchShapes: see the task list at the top.
run_bench_shapes() {
  local jar=benchmarks/build/benchmarks.jar out=benchmarks/build/reports/shapes java_cmd=java feature bindings
  [ -n "${JAVA_HOME:-}" ] && java_cmd=$JAVA_HOME/bin/java
  feature=$("$java_cmd" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  if [ -n "${props[benchShapes.bindings]:-}" ]; then bindings=${props[benchShapes.bindings]//,/ }
  elif [ "${feature%%.*}" -ge 22 ] 2> /dev/null; then bindings="ffm jni"
  else
    echo "gradlew: JDK $feature has no FFM binding: benchShapes runs the JNI binding only" >&2
    bindings=jni
  fi
  mkdir -p "$out"
  local heap=(-Xms3g -Xmx3g -XX:+AlwaysPreTouch --enable-native-access=ALL-UNNAMED) b stamp
  eval "set -- $run_args"
  for b in $bindings; do
    echo "> java ${heap[*]} -Duserstore.binding=$b -cp $jar dev.userstore.bench.CallerLoop --out $out $*   (load average: $(cut -d' ' -f1-3 /proc/loadavg 2> /dev/null))" >&2
    "$java_cmd" "${heap[@]}" "-Duserstore.binding=$b" -cp "$jar" dev.userstore.bench.CallerLoop --out "$out" "$@"
  done
  case ${props[benchShapes.jmh]:-false} in
    false) ;;
    true)
      # Quick profile; the forks' JVM options are given in full, as -jvmArgsAppend replaces the @Fork annotation's.
      for b in $bindings; do
        stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
        local jmh_args=(-f 1 -wi 2 -w 1s -i 3 -r 1s -p store=native,kotlin
          -jvmArgsAppend "-Xms4g -Xmx4g -XX:+AlwaysPreTouch --enable-native-access=ALL-UNNAMED -Duserstore.binding=$b"
          -rf json -rff "$out/jmh-$b-jdk${feature%%.*}-$stamp.json"
          'SharedCallSiteBenchmark' 'StoreBenchmark\.(get|getMany|getJson|findByName)$')
        echo "> java -jar $jar ${jmh_args[*]}   (load average: $(cut -d' ' -f1-3 /proc/loadavg 2> /dev/null))" >&2
        "$java_cmd" --enable-native-access=ALL-UNNAMED -jar "$jar" "${jmh_args[@]}"
      done
      ;;
    *) die "benchShapes.jmh must be true or false, not ${props[benchShapes.jmh]}" ;;
  esac
  python3 scripts/shapes-table.py "$out" | tee "$out/summary.md"
  echo "table: $out/summary.md and $out/summary.csv (raw: $out/callerloop-*.json|csv, $out/jmh-*.json)" >&2
}

for task in "${tasks[@]}"; do
  case $task in
    check|build)
      # README's results table: every figure must occur in the raw file its row links to (fast, first).
      python3 scripts/check-readme-figures.py --self-test
      python3 scripts/check-readme-figures.py
      maven verify ${test_flags[@]+"${test_flags[@]}"}
      ;;
    test) maven verify -DskipRustLint=true -Dktlint.skip=true ${test_flags[@]+"${test_flags[@]}"} ;;
    assemble|jar|installDist) maven package "${no_checks[@]}" -pl kotlin-demo -am ;;
    publishToMavenLocal) maven install "${no_checks[@]}" -pl userstore,userstore-postgres -am ;;
    run)
      # The build's log goes to stderr, so stdout holds only the demo's output.
      maven package "${no_checks[@]}" -pl kotlin-demo -am 1>&2
      # Gradle splits --args on white space, honouring quotes; so does this.
      eval "set -- $run_args"
      echo "> kotlin-demo $*" >&2
      marker=$(mktemp)
      kotlin-demo/build/install/kotlin-demo/bin/kotlin-demo "$@"
      # compare's report (build/reports/userstore) is also left in the subproject's build folder.
      if [ build/reports/userstore/index.html -nt "$marker" ]; then
        rm -rf kotlin-demo/build/reports/userstore
        mkdir -p kotlin-demo/build/reports
        cp -r build/reports/userstore kotlin-demo/build/reports/userstore
        echo "report also copied to $root/kotlin-demo/build/reports/userstore/index.html"
      fi
      rm -f "$marker"
      ;;
    jmh)
      maven package "${no_checks[@]}" -pl benchmarks -am 1>&2
      run_jmh
      ;;
    benchShapes)
      maven package "${no_checks[@]}" -pl benchmarks -am 1>&2
      run_bench_shapes
      ;;
    jmhDurable)
      maven package "${no_checks[@]}" -pl benchmarks -am 1>&2
      props[jmh.profile]=durable
      run_jmh
      ;;
    durableLoadtest)
      maven package "${no_checks[@]}" -pl kotlin-demo -am 1>&2
      cargo build --release --locked -p userstore-server --target-dir "$root/target" 1>&2
      # -PdurableLoadtest.NAME=VALUE becomes DURABLE_LOADTEST_NAME=VALUE (services, modes, connections, ...).
      for key in "${!props[@]}"; do
        case $key in durableLoadtest.*) name=${key#durableLoadtest.}; export "DURABLE_LOADTEST_${name^^}=${props[$key]}" ;; esac
      done
      bash scripts/durable-loadtest.sh
      ;;
    dbLoadtest)
      maven package "${no_checks[@]}" -pl kotlin-demo -am 1>&2
      cargo build --release --locked -p userstore-server --target-dir "$root/target" 1>&2
      # -PdbLoadtest.NAME=VALUE becomes DB_LOADTEST_NAME=VALUE (users, services, modes, lag_rates, url, ...).
      for key in "${!props[@]}"; do
        case $key in dbLoadtest.*) name=${key#dbLoadtest.}; export "DB_LOADTEST_${name^^}=${props[$key]}" ;; esac
      done
      bash scripts/db-loadtest.sh
      ;;
    loadtest)
      maven package "${no_checks[@]}" -pl kotlin-demo -am 1>&2
      # -Ploadtest.NAME=VALUE becomes LOADTEST_NAME=VALUE (users, stores, rate, duration, repeats, ...).
      for key in "${!props[@]}"; do
        case $key in loadtest.*) name=${key#loadtest.}; export "LOADTEST_${name^^}=${props[$key]}" ;; esac
      done
      bash scripts/loadtest.sh
      ;;
    fuzz) scripts/fuzz.sh "${props[fuzz.seconds]:-60}" ;;
    postgresStart) scripts/postgres.sh start ;;
    postgresStop) scripts/postgres.sh stop ;;
    leakcheck) scripts/leakcheck.sh ;;
    clean)
      [ ! -d build/postgres ] || scripts/postgres.sh stop
      maven clean
      cargo clean --target-dir "$root/target"
      rm -rf "$root/fuzz/target"
      ;;
    *) die "task '$task' not found (see ./gradlew tasks)" ;;
  esac
done
