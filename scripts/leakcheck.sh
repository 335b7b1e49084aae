#!/usr/bin/env bash
# Rust-side leak check: every test binary of the core (unit tests and tests/*.rs) under valgrind's
# memcheck. Prints, per binary, the bytes definitely, indirectly and possibly lost and still
# reachable at exit; fails if any test fails, if memcheck reports a memory error, or if any byte is
# definitely or indirectly lost. (Possibly lost / still reachable are reported, not failed on:
# they are memory still pointed to at exit, such as lazily initialised statics. RUST_BACKTRACE=0:
# with backtraces on, the deliberate panics of some tests leave std's symbolisation cache reachable.)
#
# Usage: scripts/leakcheck.sh [TEST_BINARY_NAME...]      (./gradlew leakcheck)
# Logs: target/leakcheck/<binary>.log
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
command -v valgrind > /dev/null || { echo "leakcheck: valgrind is needed (apt-get install valgrind)" >&2; exit 2; }
out=$root/target/leakcheck
mkdir -p "$out"
echo "> cargo test --no-run (debug build of the core's tests)" >&2
# name<TAB>executable of every test binary, the cdylib's JNI code excluded (it has no tests).
mapfile -t bins < <(cargo test --locked --target-dir "$root/target" --no-run --message-format=json 2> /dev/null |
  python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"]:
        print(m["target"]["name"] + "\t" + m["executable"])
')
[ ${#bins[@]} -gt 0 ] || { echo "leakcheck: no test binaries found" >&2; exit 2; }

total_definite=0 total_indirect=0 status=0
printf '%-14s %10s %10s %10s %10s %8s  %s\n' binary definite indirect possible reachable seconds result
for entry in "${bins[@]}"; do
  name=${entry%%$'\t'*} exe=${entry#*$'\t'}
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  log=$out/$name.log
  start=$(date +%s)
  set +e
  RUST_BACKTRACE=0 valgrind --tool=memcheck --leak-check=full --show-leak-kinds=definite,indirect \
    --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=40 \
    "$exe" -q --test-threads=2 > "$log" 2>&1
  code=$?
  set -e
  seconds=$(($(date +%s) - start))
  lost() { # kind → bytes (0 when valgrind printed "no leaks are possible")
    local v
    v=$(sed -n "s/.*$1 lost: \([0-9,]*\) bytes.*/\1/p; s/.*$1: \([0-9,]*\) bytes.*/\1/p" "$log" | tail -1 | tr -d ,)
    echo "${v:-0}"
  }
  definite=$(lost definitely) indirect=$(lost indirectly) possible=$(lost possibly) reachable=$(lost "still reachable")
  errors=$(sed -n 's/.*ERROR SUMMARY: \([0-9,]*\) errors.*/\1/p' "$log" | tail -1 | tr -d ,)
  result=ok
  if [ "$code" -ne 0 ] || [ "${errors:-1}" != 0 ]; then result="FAILED (exit $code, ${errors:-?} memcheck errors; see $log)"; status=1; fi
  printf '%-14s %10s %10s %10s %10s %8s  %s\n' "$name" "$definite" "$indirect" "$possible" "$reachable" "$seconds" "$result"
  total_definite=$((total_definite + definite)) total_indirect=$((total_indirect + indirect))
done
echo "leakcheck: $total_definite bytes definitely lost, $total_indirect bytes indirectly lost ($(valgrind --version), $(date -u +%Y-%m-%dT%H:%M:%SZ))"
if [ $((total_definite + total_indirect)) -ne 0 ]; then status=1; fi
exit $status
