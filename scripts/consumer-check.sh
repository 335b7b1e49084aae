#!/usr/bin/env bash
# A backend's view of the library: publishes dev.userstore:userstore to the local Maven repository
# (./gradlew publishToMavenLocal), then builds a fresh Maven project that declares only that one
# dependency, checks that it resolves to the library, kotlin-stdlib and its annotations and nothing
# else, and runs a Java main that uses the native store on each JDK given (JAVA_HOME folders; default:
# the java on the PATH), with --enable-native-access=ALL-UNNAMED: no warning may be printed.
# Usage: scripts/consumer-check.sh [JDK_HOME...]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$root"
./gradlew -q publishToMavenLocal > /dev/null
flags=(-B -q --no-transfer-progress -Dstyle.color=never)
[ -n "${GRADLE_USER_HOME:-}" ] && flags+=("-Dmaven.repo.local=$GRADLE_USER_HOME/maven-repository")
version=$(sed -n 's:^  <version>\(.*\)</version>:\1:p' pom.xml | head -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/src/main/java/consumer"
cat > "$work/pom.xml" << POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>consumer</groupId>
  <artifactId>backend</artifactId>
  <version>1</version>
  <properties>
    <maven.compiler.release>17</maven.compiler.release>
    <project.build.sourceEncoding>UTF-8</project.build.sourceEncoding>
  </properties>
  <dependencies>
    <dependency>
      <groupId>dev.userstore</groupId>
      <artifactId>userstore</artifactId>
      <version>$version</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin><artifactId>maven-compiler-plugin</artifactId><version>3.13.0</version></plugin>
      <plugin><artifactId>maven-resources-plugin</artifactId><version>3.3.1</version></plugin>
      <plugin><artifactId>maven-dependency-plugin</artifactId><version>3.8.1</version></plugin>
    </plugins>
  </build>
</project>
POM
cat > "$work/src/main/java/consumer/Main.java" << 'JAVA'
package consumer;

import dev.userstore.NativeUserStore;
import dev.userstore.User;
import dev.userstore.UserStore;

public class Main {
    public static void main(String[] args) {
        try (UserStore store = new NativeUserStore()) {
            store.put(new User(1, "Ada \uD83D\uDE00"));
            System.out.println("got " + store.get(1) + ", size " + store.getSize() + ", binding " + NativeUserStore.binding());
        }
    }
}
JAVA
(cd "$work" && mvn "${flags[@]}" compile dependency:build-classpath -Dmdep.outputFile=cp.txt)
jars=$(tr ':' '\n' < "$work/cp.txt" | xargs -n1 basename | sort | tr '\n' ' ')
expected="annotations-13.0.jar kotlin-stdlib-"
echo "consumer-check: the one dependency line resolves to: $jars"
case $jars in
  "$expected"*".jar userstore-$version.jar ") ;;
  *) echo "consumer-check: expected only userstore, kotlin-stdlib and annotations" >&2; exit 1 ;;
esac
[ $# -gt 0 ] || set -- "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
for jdk in "$@"; do
  out=$("$jdk/bin/java" --enable-native-access=ALL-UNNAMED -cp "$work/target/classes:$(cat "$work/cp.txt")" consumer.Main 2>&1)
  echo "consumer-check: $("$jdk/bin/java" -version 2>&1 | head -1): $out"
  # The multi-release jar: the FFM binding on JDK 22 and later, JNI before.
  feature=$("$jdk/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
  binding=jni
  [ "${feature%%.*}" -ge 22 ] && binding=ffm
  [ "$out" = "got User(id=1, name=Ada 😀), size 1, binding $binding" ] || { echo "consumer-check: unexpected output on $jdk (expected binding $binding)" >&2; exit 1; }
done
echo "consumer-check: ok"
