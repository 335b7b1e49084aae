#!/usr/bin/env bash
# The session's final measured runs, one after another on a machine with nothing else running.
set -uo pipefail
cd /work/main
out=docs/results/2026-12-07-issue19
mkdir -p $out
J25=/usr/lib/jvm/temurin-25-jdk-amd64/bin/java
J17=/usr/lib/jvm/java-17-openjdk-amd64/bin/java
jar=benchmarks/build/benchmarks.jar
shapes=benchmarks/build/reports/shapes
env_line() { echo "# $(date -u +%FT%TZ) $(uname -srm); $(lscpu | sed -n 's/^Model name: *//p'); $(nproc) cores; load $(cut -d' ' -f1-3 /proc/loadavg)"; }
rm -rf $shapes
heap=(-Xms3g -Xmx3g -XX:+AlwaysPreTouch --enable-native-access=ALL-UNNAMED)
caller() { local java=$1 b=$2; env_line; "$java" "${heap[@]}" -Duserstore.binding=$b -cp $jar dev.userstore.bench.CallerLoop --out $shapes 2>&1 | tail -30; }
jmh() { local java=$1 b=$2 feature=$3; env_line; "$java" --enable-native-access=ALL-UNNAMED -jar $jar -f 1 -wi 2 -w 1s -i 3 -r 1s -p store=native,kotlin \
  -jvmArgsAppend "-Xms4g -Xmx4g -XX:+AlwaysPreTouch --enable-native-access=ALL-UNNAMED -Duserstore.binding=$b" \
  -rf json -rff "$shapes/jmh-$b-jdk$feature-$(date -u +%Y-%m-%dT%H-%M-%SZ).json" \
  'SharedCallSiteBenchmark' 'StoreBenchmark\.(get|getMany|getJson|findByName)$' 2>&1 | tail -40; }
echo "build" >&2
[ -f $jar ] || { echo no jar; exit 1; }
unzip -l $jar > /tmp/fm-jar.txt; grep -q "META-INF/versions/22/dev/userstore/internal/FfmCalls.class" /tmp/fm-jar.txt || { echo "no FFM binding in the jar"; exit 1; }
echo "floor 1" >&2; { env_line; cargo bench --bench floor 2>&1 | sed -n '/^summary/,$p'; } > $out/floor-run1.txt
for round in 1 2; do
  echo "callers $round" >&2
  caller $J25 ffm > $out/callerloop-jdk25-ffm-run$round.txt
  caller $J25 jni > $out/callerloop-jdk25-jni-run$round.txt
  caller $J17 jni > $out/callerloop-jdk17-jni-run$round.txt
done
echo "jmh" >&2
jmh $J25 ffm 25 > $out/jmh-jdk25-ffm.txt
jmh $J17 jni 17 > $out/jmh-jdk17-jni.txt
echo "memory" >&2
{ env_line; cargo run --release --example memory -- 4000000 short 2>&1 | tail -6; env_line; cargo run --release --example memory -- 1000000 reopen 2>&1 | tail -10; } > $out/memory.txt
echo "floor 2" >&2; { env_line; cargo bench --bench floor 2>&1 | sed -n '/^summary/,$p'; } > $out/floor-run2.txt
python3 scripts/shapes-table.py $shapes > $out/summary.md 2>&1
mkdir -p $out/raw; cp $shapes/*.json $shapes/*.csv $out/raw/ 2>/dev/null
echo done > $out/.finished
