package dev.userstore.jmh;

import dev.userstore.KotlinUserStore;
import dev.userstore.internal.binding.NativeBridge;
import dev.userstore.NativeUserStore;
import dev.userstore.User;
import dev.userstore.UserStore;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OperationsPerInvocation;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.infra.Blackhole;

/**
 * The same operations on both stores, in one JMH run, so the two can be compared as a ratio.
 *
 * <p>Both stores hold the same {@code users} users (ids 0..users-1, names {@code user-<id>}), are
 * asked for the same pseudo-random ids in the same order, and hand every result to a {@link
 * Blackhole}. {@code getMany} reports the time per id ({@link OperationsPerInvocation}).
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
// A fixed, pre-touched heap: page faults on fresh heap pages would otherwise be charged to
// whichever store allocates more.
@Fork(value = 1, jvmArgsAppend = {"-Xms4g", "-Xmx4g", "-XX:+AlwaysPreTouch", "--enable-native-access=ALL-UNNAMED"})
public class StoreBenchmark {
    private static final int BATCH = 1024;
    /** 2^20 pre-drawn ids: more distinct keys than any cache holds, so lookups really miss. */
    private static final int MASK = (1 << 20) - 1;

    /**
     * {@code native}: the Rust store through the JVM's default binding (FFM on JDK 22+, JNI before);
     * {@code native-jni} / {@code native-ffm}: through that binding, forced ({@link Stores#open}). On JDK 17 to
     * 21 {@code ./gradlew jmh} leaves {@code native-jni} out (it is {@code native} there).
     */
    @Param({"native", "native-jni", "kotlin"})
    public String store;

    @Param({"1000000"})
    public int users;

    private UserStore target;
    private long[] ids;
    private String[] names;
    private User[] renames;
    private User[] originals;
    private long[][] batches;
    private int next;

    @Setup(Level.Trial)
    public void load() {
        target = Stores.open(store);
        for (long id = 0; id < users; id++) {
            target.put(new User(id, "user-" + id));
        }
        SplittableRandom random = new SplittableRandom(42);
        ids = new long[MASK + 1];
        names = new String[MASK + 1];
        renames = new User[MASK + 1];
        originals = new User[MASK + 1];
        for (int i = 0; i <= MASK; i++) {
            long id = random.nextLong(users);
            ids[i] = id;
            names[i] = "user-" + id;
            renames[i] = new User(id, "renamed-" + id);
            originals[i] = new User(id, "user-" + id);
        }
        batches = new long[1024][BATCH]; // 2^20 ids in all, as for single gets
        for (long[] batch : batches) {
            for (int i = 0; i < BATCH; i++) {
                batch[i] = random.nextLong(users);
            }
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        target.close();
    }

    private int nextIndex() {
        return next++ & MASK;
    }

    /**
     * The floor: one empty call through the binding in use (JNI and the boundary's wrapper, or a critical FFM
     * downcall). The Kotlin row runs it too (through the JVM's default binding).
     */
    @Benchmark
    public long emptyNativeCall() {
        return Stores.calls().noop(next++);
    }

    /**
     * The JNI floor as it was: an empty JNI call through the wrapper the cold exports use, which builds
     * jni-rs's environment (attach guard, error policy) on every call (JNI whatever the binding).
     */
    @Benchmark
    public long emptyNativeCallWithEnv() {
        return NativeBridge.noopWithEnv0(next++);
    }

    /** get over 256 ids only, so the lookups hit the cache: what is left of get without the miss. */
    @Benchmark
    public User getCached() {
        return target.get(ids[next++ & 255]);
    }

    @Benchmark
    public User get() {
        return target.get(ids[nextIndex()]);
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void getMany(Blackhole bh) {
        bh.consume(target.getMany(batches[nextIndex() & 1023]));
    }

    @Benchmark
    public byte[] getJson() {
        return target.getJson(ids[nextIndex()]);
    }

    /** Replaces a user, with its name changing every other time (so the name index does work). */
    @Benchmark
    public void put() {
        int i = next++;
        int slot = i & MASK;
        target.put(((i >>> 20) & 1) == 0 ? renames[slot] : originals[slot]);
    }

    @Benchmark
    public Object findByName() {
        return target.findByName(names[nextIndex()]);
    }
}
