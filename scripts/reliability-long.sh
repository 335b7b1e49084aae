#!/usr/bin/env bash
# The long variants of the Kotlin reliability suites (userstore/src/test/kotlin/dev/userstore/
# reliability), through Maven like ./gradlew test, on the test-hooks build, under -Xcheck:jni.
# Sizes come from the environment (defaults below); each suite prints a RELIABILITY line, and this
# script collects them, with Surefire's summaries, into OUT (default: stdout).
#
# Usage: scripts/reliability-long.sh [OUT]
#   USERSTORE_FUZZ_ITERATIONS  inputs of each kind in BoundaryFuzzTest   (default 100000)
#   USERSTORE_RACE_ROUNDS      close() races per store in RaceTest       (default 2000)
#   USERSTORE_HAMMER_OPS       calls per thread in RaceTest's hammer     (default 500000)
#   USERSTORE_LEAK_CYCLES      create/fill/close cycles in LeakTest      (default 100000)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
out=${1:-/dev/stdout}
export USERSTORE_FUZZ_ITERATIONS=${USERSTORE_FUZZ_ITERATIONS:-100000}
export USERSTORE_RACE_ROUNDS=${USERSTORE_RACE_ROUNDS:-2000}
export USERSTORE_HAMMER_OPS=${USERSTORE_HAMMER_OPS:-500000}
export USERSTORE_LEAK_CYCLES=${USERSTORE_LEAK_CYCLES:-100000}
log=$root/userstore/build/reliability-long.log
mkdir -p "$(dirname "$log")"
rm -rf userstore/build/surefire-reports
start=$(date +%s)
set +e
mvn -B --no-transfer-progress -pl userstore -am test -Dktlint.skip=true -DskipRustLint=true -DskipRustTests=true \
  -Dtest=BoundaryFuzzTest,MaliciousJsonTest,RaceTest,LeakTest -Dsurefire.failIfNoSpecifiedTests=false \
  -Djni.check.requireReports=false > "$log" 2>&1
code=$?
set -e
{
  echo "# scripts/reliability-long.sh, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(($(date +%s) - start)) s, exit $code"
  echo "# $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores, $(java -version 2>&1 | head -1)"
  echo "# USERSTORE_FUZZ_ITERATIONS=$USERSTORE_FUZZ_ITERATIONS USERSTORE_RACE_ROUNDS=$USERSTORE_RACE_ROUNDS" \
    "USERSTORE_HAMMER_OPS=$USERSTORE_HAMMER_OPS USERSTORE_LEAK_CYCLES=$USERSTORE_LEAK_CYCLES"
  grep -h '^RELIABILITY' userstore/build/surefire-reports/*-output.txt || true
  grep -h 'Tests run' userstore/build/surefire-reports/*.txt || true
  grep -E 'Tests run:|FAIL|BUILD' "$log" | tail -5 || true
} > "$out"
exit $code
