#!/usr/bin/env bash
# ./gradlew: the project's one build entry point, with Gradle's task names.
#
# Why not Gradle itself: the Gradle distribution cannot be fetched on this project's machines (they
# reach only package registries, and none of them serves it), so this script runs the same tasks
# with Maven (pom.xml, kotlin-demo/pom.xml), which those registries do serve. Tasks:
#
#   ./gradlew check        Rust fmt + clippy + tests, Kotlin tests (-Xcheck:jni), ktlint
#   ./gradlew test         the tests only (Rust and Kotlin), no linters
#   ./gradlew build        check + the jar and installDist
#   ./gradlew installDist  kotlin-demo/build/install/kotlin-demo/{bin/kotlin-demo, lib/*.jar}
#   ./gradlew run [--args="..."]   installDist, then runs the demo with those arguments; compare's
#                          HTML report goes to build/reports/userstore (and kotlin-demo/build/reports/userstore)
#   ./gradlew jmh [-Pjmh.profile=quick|full] [-Pjmh.profiler=async] [--args="JMH options"]
#                          JMH benchmarks of both stores; JSON results in kotlin-demo/build/reports/jmh
#                          (with async-profiler: flame graphs and flat profiles beside them)
#   ./gradlew loadtest [-Ploadtest.rate=10000 -Ploadtest.users=1000000,5000000 ...]
#                          installDist, then scripts/loadtest.sh: `serve` with each store under oha load;
#                          results in kotlin-demo/build/reports/userstore/loadtest (settings: see the script)
#   ./gradlew fuzz [-Pfuzz.seconds=60]
#                          coverage-guided fuzzing of the Rust core (import_json, snapshot reader),
#                          each target for that many seconds; prints inputs tried and crashes
#   ./gradlew leakcheck    the Rust core's tests under valgrind; prints leaked bytes, fails on a leak
#   ./gradlew clean        deletes kotlin-demo/build and the cargo target folders
#   ./gradlew tasks        this list
#
# -Dname=value goes to the build (Maven), -Pname=value to this script's tasks (jmh.profile,
# jmh.profiler, loadtest.*, fuzz.seconds).
# Several tasks run in order (./gradlew clean check). A leading ":" or ":kotlin-demo:" is accepted.
# Gradle's common flags (--no-daemon, --offline, -q, --info, --stacktrace, --console=...) are
# accepted; --offline and -q are passed on to Maven.
#
# Maven: `mvn` on the PATH (or MAVEN_HOME); without one, Maven 3.9.9 is fetched once from the Apache
# archive, verified against its pinned SHA-512 (USERSTORE_MAVEN_URL overrides the address, and
# forces this path, for testing). Artifacts go to the usual Maven repository, or to
# $GRADLE_USER_HOME/maven-repository when GRADLE_USER_HOME is set, so an empty Gradle home means
# empty caches, as with Gradle. Needs cargo (stable Rust) and a JDK 17+ as well.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
cd "$root"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
die() { echo "gradlew: $*" >&2; exit 1; }

declare -A props=()
tasks=() run_args="" mvn_flags=(-B --no-transfer-progress -Dstyle.color=never)
while [ $# -gt 0 ]; do
  case $1 in
    --args=*) run_args=${1#--args=} ;;
    --args) shift; run_args=${1:-} ;;
    -P*=*) kv=${1#-P}; props[${kv%%=*}]=${kv#*=} ;;
    -D*) mvn_flags+=("$1") ;;
    --offline) mvn_flags+=(--offline) ;;
    -q|--quiet) mvn_flags+=(-q) ;;
    --no-daemon|--daemon|--info|--debug|--stacktrace|-s|--scan|--no-scan|--console=*|--warning-mode=*|--parallel|--no-parallel|--build-cache|--no-build-cache|--continue) ;;
    -h|--help|help|tasks) usage; exit 0 ;;
    -*) die "unknown option $1 (see ./gradlew tasks)" ;;
    *) t=${1#:}; t=${t#kotlin-demo:}; tasks+=("$t") ;;
  esac
  shift
done
[ ${#tasks[@]} -gt 0 ] || { usage; exit 0; }

# Maven: on the PATH, in MAVEN_HOME, or a pinned release fetched once from the Apache archive
# (checked against its SHA-512) into the Gradle user home.
maven_version=3.9.9
maven_sha512=a555254d6b53d267965a3404ecb14e53c3827c09c3b94b5678835887ab404556bfaf78dcfe03ba76fa2508649dca8531c74bca4d5846513522404d48e8c4ac8b
maven_url=${USERSTORE_MAVEN_URL:-https://archive.apache.org/dist/maven/maven-3/$maven_version/binaries/apache-maven-$maven_version-bin.tar.gz}
bootstrap_maven() {
  local home=${GRADLE_USER_HOME:-$HOME/.gradle}/userstore/apache-maven-$maven_version
  if [ ! -x "$home/bin/mvn" ]; then
    local tmp
    tmp=$(mktemp -d)
    echo "gradlew: no mvn on the PATH; fetching Maven $maven_version from $maven_url" >&2
    if command -v curl > /dev/null 2>&1; then curl -fsSL --retry 3 -o "$tmp/maven.tar.gz" "$maven_url"
    elif command -v wget > /dev/null 2>&1; then wget -q -O "$tmp/maven.tar.gz" "$maven_url"
    else die "no mvn, curl or wget: install Maven (apt-get install maven, brew install maven)"
    fi || die "could not download $maven_url; install Maven (apt-get install maven, brew install maven)"
    echo "$maven_sha512  $tmp/maven.tar.gz" | sha512sum -c --quiet - > /dev/null 2>&1 \
      || die "the Maven download does not match its pinned SHA-512; refusing to use it"
    mkdir -p "$(dirname "$home")"
    tar -xzf "$tmp/maven.tar.gz" -C "$tmp"
    rm -rf "$home"
    mv "$tmp/apache-maven-$maven_version" "$home"
    rm -rf "$tmp"
  fi
  mvn=$home/bin/mvn
}
if [ -z "${USERSTORE_MAVEN_URL:-}" ] && command -v mvn > /dev/null 2>&1; then mvn=mvn
elif [ -z "${USERSTORE_MAVEN_URL:-}" ] && [ -n "${MAVEN_HOME:-}" ] && [ -x "$MAVEN_HOME/bin/mvn" ]; then mvn=$MAVEN_HOME/bin/mvn
else bootstrap_maven
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

maven() { echo "> mvn $*" >&2; "$mvn" "${mvn_flags[@]}" "$@"; }

# ./gradlew jmh: see the task list at the top.
run_jmh() {
  local build=kotlin-demo/build out=kotlin-demo/build/reports/jmh profile=${props[jmh.profile]:-quick}
  local cp="$build/kotlin-demo.jar:$(cat "$build/jmh.classpath")"
  rm -rf "$build/jmh-classes" && mkdir -p "$build/jmh-classes" "$out"
  echo "> javac src/jmh/java (JMH annotation processor)" >&2
  find kotlin-demo/src/jmh/java -name '*.java' > "$build/jmh-sources.txt"
  # Naming the processor runs it on every JDK (newer ones no longer discover processors implicitly).
  javac -processor org.openjdk.jmh.generators.BenchmarkProcessor -cp "$cp" \
    -d "$build/jmh-classes" @"$build/jmh-sources.txt"
  local opts
  case $profile in
    quick) opts=(-f 1 -wi 3 -w 1s -i 5 -r 1s) ;;
    full) opts=(-f 3 -wi 5 -w 2s -i 10 -r 2s) ;;
    *) die "jmh.profile must be quick or full, not $profile" ;;
  esac
  local stamp
  stamp=$(date -u +%Y-%m-%dT%H-%M-%SZ)
  {
    printf '{"date":"%s","profile":"%s",' "$stamp" "$profile"
    printf '"cpu":"%s","cores":%s,' "$(grep -m1 'model name' /proc/cpuinfo 2> /dev/null | sed 's/.*: //' || uname -m)" "$(nproc 2> /dev/null || echo 0)"
    printf '"java":"%s",' "$(java -version 2>&1 | head -1 | sed 's/"/\\"/g')"
    printf '"gc":"JVM default (G1 unless -jvmArgs says otherwise)","os":"%s"}\n' "$(uname -sr)"
  } > "$out/environment-$stamp.json"
  eval "set -- $run_args"
  # -Pjmh.profiler=async: async-profiler's agent, taken from its jar on the JMH class path; CPU
  # time sampled by interval timer (perf events are often unavailable on virtual machines; -Pjmh.profiler.event
  # changes it); a flame graph and a flat text profile per benchmark under $out/async-<date>.
  case ${props[jmh.profiler]:-} in
    '') ;;
    async)
      local jar lib
      jar=$(tr ':' '\n' < "$build/jmh.classpath" | grep '/async-profiler-[0-9.]*\.jar$' | head -1)
      [ -n "$jar" ] || die "async-profiler is not on the JMH class path"
      lib=$build/tools/async-profiler/linux-$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')/libasyncProfiler.so
      unzip -o -q "$jar" "$(basename "$(dirname "$lib")")/*" -d "$build/tools/async-profiler"
      set -- "$@" -prof "async:libPath=$root/$lib;event=${props[jmh.profiler.event]:-itimer};output=flamegraph,text;flat=25;traces=5;dir=$out/async-$stamp"
      ;;
    *) die "jmh.profiler must be async, not ${props[jmh.profiler]}" ;;
  esac
  # JMH refuses a repeated option: a preset option that --args gives too is left out.
  local keep=() i
  for ((i = 0; i < ${#opts[@]}; i += 2)); do
    case " $* " in *" ${opts[i]} "*) ;; *) keep+=("${opts[i]}" "${opts[i + 1]}") ;; esac
  done
  echo "> java org.openjdk.jmh.Main ${keep[*]} $*" >&2
  java -cp "$build/jmh-classes:$cp" org.openjdk.jmh.Main "${keep[@]}" \
    -rf json -rff "$out/results-$stamp.json" "$@"
  echo "JMH results: $out/results-$stamp.json (environment: $out/environment-$stamp.json)" >&2
}

for task in "${tasks[@]}"; do
  case $task in
    check) maven verify ;;
    build) maven verify ;;
    test) maven verify -DskipRustLint=true -Dktlint.skip=true ;;
    assemble|jar|installDist) maven package -DskipTests -DskipRustLint=true -Dktlint.skip=true ;;
    run)
      # The build's log goes to stderr, so stdout holds only the demo's output.
      maven package -DskipTests -DskipRustLint=true -Dktlint.skip=true 1>&2
      # Gradle splits --args on white space, honouring quotes; so does this.
      eval "set -- $run_args"
      echo "> kotlin-demo $*" >&2
      marker=$(mktemp)
      kotlin-demo/build/install/kotlin-demo/bin/kotlin-demo "$@"
      # compare's report (build/reports/userstore, from the project root) is also left in the
      # subproject's build folder, where a Gradle user would look for it.
      if [ build/reports/userstore/index.html -nt "$marker" ]; then
        rm -rf kotlin-demo/build/reports/userstore
        mkdir -p kotlin-demo/build/reports
        cp -r build/reports/userstore kotlin-demo/build/reports/userstore
        echo "report also copied to $root/kotlin-demo/build/reports/userstore/index.html"
      fi
      rm -f "$marker"
      ;;
    jmh)
      # JMH without a Gradle plugin: compile src/jmh/java against the library jar, then run
      # org.openjdk.jmh.Main. Quick by default; -Pjmh.profile=full for the long run; --args adds
      # JMH options (e.g. --args="get -p users=4000000").
      maven package -DskipTests -DskipRustLint=true -Dktlint.skip=true 1>&2
      run_jmh
      ;;
    loadtest)
      maven package -DskipTests -DskipRustLint=true -Dktlint.skip=true 1>&2
      # -Ploadtest.NAME=VALUE becomes LOADTEST_NAME=VALUE (users, stores, rate, duration, repeats, ...).
      for key in "${!props[@]}"; do
        case $key in loadtest.*) name=${key#loadtest.}; export "LOADTEST_${name^^}=${props[$key]}" ;; esac
      done
      bash scripts/loadtest.sh
      ;;
    fuzz) scripts/fuzz.sh "${props[fuzz.seconds]:-60}" ;;
    leakcheck) scripts/leakcheck.sh ;;
    clean)
      maven clean
      cargo clean --target-dir "$root/target"
      rm -rf "$root/fuzz/target"
      ;;
    *) die "task '$task' not found (see ./gradlew tasks)" ;;
  esac
done
