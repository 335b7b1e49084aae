#!/usr/bin/env bash
# Coverage-guided fuzzing of the core's readers of untrusted bytes, on stable Rust:
#   import_json  Store::import_json on arbitrary bytes
#   snapshot     Store::from_snapshot_bytes on arbitrary bytes (and with header + CRC repaired)
# The checks each input must pass are in fuzz/src/lib.rs (tests/fuzz_corpus.rs replays the
# committed corpus through them in `cargo test`).
#
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]     (./gradlew fuzz -Pfuzz.seconds=N)
#
# How: libFuzzer (the libfuzzer-sys crate, built from source with the system C++ compiler) and
# rustc's SanitizerCoverage instrumentation, which stable rustc supports (-Cpasses=sancov-module
# and -Cllvm-args); no sanitizer, which would need nightly: the same build as
# `cargo fuzz run --sanitizer none`. Safe Rust needs no AddressSanitizer to catch its memory
# errors; what the fuzzer looks for is panics, aborts (stack overflow, allocation failure),
# timeouts and inputs that break the checks.
#
# Prints, per target, the inputs tried and the crashes found; exits 1 if any target crashed.
# Crashing inputs are kept in fuzz/artifacts/<target>/; new corpus entries found in a run go to
# fuzz/target/corpus/<target>/ (not committed: the committed seeds are in fuzz/corpus/<target>/).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
seconds=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(import_json snapshot)
case $seconds in '' | *[!0-9]*) echo "fuzz: seconds must be a whole number, not '$seconds'" >&2; exit 2 ;; esac

host=$(rustc -vV | sed -n 's/^host: //p')
# --target keeps the instrumentation out of build scripts and proc macros.
export RUSTFLAGS="--cfg fuzzing -Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares -Cdebug-assertions -Coverflow-checks"
echo "> cargo build --release --target $host (fuzz/, RUSTFLAGS=$RUSTFLAGS)" >&2
(cd "$root/fuzz" && cargo build --release --target "$host" --bins)

status=0
summary=()
for target in "${targets[@]}"; do
  bin="$root/fuzz/target/$host/release/$target"
  work="$root/fuzz/target/corpus/$target"
  artifacts="$root/fuzz/artifacts/$target"
  log="$root/fuzz/target/$target.log"
  mkdir -p "$work" "$artifacts"
  before=$(find "$artifacts" -type f | wc -l)
  echo "> $target: ${seconds}s, corpus fuzz/corpus/$target (log: $log)" >&2
  # -rss_limit_mb: an input that makes the store use more than 2 GiB counts as a crash.
  # -max_len: inputs up to 64 KiB (the seeds hold a 10k-digit number and a 1 KiB name).
  set +e
  "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "$root/fuzz/corpus/$target" > "$log" 2>&1
  code=$?
  set -e
  runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  [ -n "$runs" ] || runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  crashes=$(($(find "$artifacts" -type f | wc -l) - before))
  cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -n 's/.*cov: \([0-9]*\).*/\1/p')
  corpus=$(find "$work" -type f | wc -l)
  line="$target: ${runs:-?} inputs tried in ${seconds}s, crashes: $crashes, exit code: $code, coverage: ${cov:-?} edges, work corpus: $corpus files"
  echo "$line"
  summary+=("$line")
  if [ "$code" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    status=1
    grep -E 'panicked|ERROR|SUMMARY|Test unit written' "$log" | head -20 >&2 || true
  fi
done
echo "fuzz summary ($(date -u +%Y-%m-%dT%H:%M:%SZ), rustc $(rustc -V | cut -d' ' -f2)):"
printf '  %s\n' "${summary[@]}"
exit $status
