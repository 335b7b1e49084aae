package dev.userstore.jmh;

import dev.userstore.User;
import dev.userstore.UserStore;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;

/**
 * Gets per second from 1 and from 2 threads ({@code -t 1}, {@code -t 2}): how each store scales. One shared
 * store ({@code users} users named {@code user-<id>}); each thread walks its own 2^20 pre-drawn random ids (its
 * cursor is its own state, so the benchmark itself writes no shared line). Throughput mode, all threads summed.
 *
 * <p>{@code ./gradlew jmh --args="ScalingBenchmark -t 1"} then {@code -t 2}; the ratio of the two is the scaling.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.Throughput)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms4g", "-Xmx4g", "-XX:+AlwaysPreTouch", "--enable-native-access=ALL-UNNAMED"})
public class ScalingBenchmark {
    private static final int MASK = (1 << 20) - 1;

    /** As in {@link StoreBenchmark}. */
    @Param({"native", "native-jni", "kotlin"})
    public String store;

    @Param({"1000000"})
    public int users;

    private UserStore target;

    /** One thread's ids and position. */
    @State(Scope.Thread)
    public static class Cursor {
        long[] ids;
        int next;

        @Setup(Level.Trial)
        public void draw(ScalingBenchmark bench) {
            SplittableRandom random = new SplittableRandom(Thread.currentThread().getId() * 31 + 7);
            ids = new long[MASK + 1];
            for (int i = 0; i <= MASK; i++) {
                ids[i] = random.nextLong(bench.users);
            }
        }
    }

    @Setup(Level.Trial)
    public void load() {
        target = Stores.open(store);
        for (long id = 0; id < users; id++) {
            target.put(new User(id, "user-" + id));
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        target.close();
    }

    @Benchmark
    public User get(Cursor cursor) {
        return target.get(cursor.ids[cursor.next++ & MASK]);
    }
}
