package dev.userstore.jmh;

import dev.userstore.KotlinUserStore;
import dev.userstore.NativeUserStore;
import dev.userstore.User;
import dev.userstore.UserStore;
import java.util.List;
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
 * The shared call-site shape in JMH: in every fork BOTH stores are created and loaded with the same users, and
 * every operation goes through one {@code UserStore}-typed call site that has seen both receiver classes; the
 * {@code store} parameter only says which of the two is timed. Compare with {@link StoreBenchmark}, where each
 * fork holds one store and its call sites see one class only.
 *
 * <p>How the call site is made bimorphic, deliberately: the interface calls live in the static methods of
 * {@link CallSite}. HotSpot keeps one type profile per bytecode of a method (not per caller), and C2 uses that
 * profile wherever it inlines the method, including into JMH's measuring loop. Before the first warm-up
 * iteration ({@code @Setup(Level.Trial)}) each method is run {@link #PROFILE_CALLS} times with each store,
 * interleaved, so its profile holds both classes about equally (well past the tier-3/C1 profiling and C2
 * thresholds), and the timed store's own warm-up adds to the same profile; before every iteration
 * ({@code @Setup(Level.Iteration)}) the other store runs through the same methods again, as it stays in use in
 * a backend (its data in the caches, its code compiled). C2 then compiles the
 * call site as a backend with both stores gets it: a type check and both receivers inlined (bimorphic
 * inlining), and each store's code is inlined into a method that also holds the other's. With three or more
 * classes the site would be megamorphic (an itable call, no inlining); a migrating backend has two.
 *
 * <p>Which native binding: the JVM's default (FFM on JDK 22+, JNI before), or the one forced with
 * {@code -jvmArgsAppend -Duserstore.binding=jni|ffm} ({@code ./gradlew benchShapes} runs both on JDK 22+).
 * Every result goes to the caller (returned, so JMH's Blackhole takes it): nothing can be dropped.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
// A fixed, pre-touched heap, as StoreBenchmark's (two stores in it here).
@Fork(value = 1, jvmArgsAppend = {"-Xms4g", "-Xmx4g", "-XX:+AlwaysPreTouch", "--enable-native-access=ALL-UNNAMED"})
public class SharedCallSiteBenchmark {
    private static final int BATCH = 1024;
    private static final int MASK = (1 << 20) - 1;
    /** Calls per store and operation before the first warm-up iteration: C2 compiles after ~10-20k. */
    static final int PROFILE_CALLS = 100_000;
    /** Calls of the other store per operation before every iteration. */
    static final int ITERATION_CALLS = 20_000;

    /** Which of the two loaded stores is timed: {@code native} (the binding in use) or {@code kotlin}. */
    @Param({"native", "kotlin"})
    public String store;

    @Param({"1000000"})
    public int users;

    private UserStore nativeStore;
    private UserStore kotlinStore;
    /** The timed store and the other one (both loaded, both through the same call sites). */
    private UserStore measured;
    private UserStore other;
    private long[] ids;
    private long[] missIds;
    private String[] names;
    private long[][] batches;
    private int next;

    /** The shared call sites: one method per operation, run with both stores. */
    static final class CallSite {
        private CallSite() {}

        static User get(UserStore s, long id) {
            return s.get(id);
        }

        static List<User> getMany(UserStore s, long[] ids) {
            return s.getMany(ids);
        }

        static byte[] getJson(UserStore s, long id) {
            return s.getJson(id);
        }

        static List<User> findByName(UserStore s, String name) {
            return s.findByName(name);
        }
    }

    @Setup(Level.Trial)
    public void load() {
        nativeStore = new NativeUserStore();
        kotlinStore = new KotlinUserStore();
        System.out.println("# userstore binding: " + NativeUserStore.binding() + " (JDK " + Runtime.version()
                + "), both stores loaded, timed: " + store);
        for (long id = 0; id < users; id++) {
            User user = new User(id, "user-" + id);
            nativeStore.put(user);
            kotlinStore.put(user);
        }
        switch (store) {
            case "native" -> {
                measured = nativeStore;
                other = kotlinStore;
            }
            case "kotlin" -> {
                measured = kotlinStore;
                other = nativeStore;
            }
            default -> throw new IllegalArgumentException("store must be native or kotlin: " + store);
        }
        SplittableRandom random = new SplittableRandom(42);
        ids = new long[MASK + 1];
        missIds = new long[MASK + 1];
        names = new String[MASK + 1];
        for (int i = 0; i <= MASK; i++) {
            ids[i] = random.nextLong(users);
            missIds[i] = users + random.nextLong(users);
            names[i] = "user-" + ids[i];
        }
        batches = new long[1024][BATCH];
        for (long[] batch : batches) {
            for (int i = 0; i < BATCH; i++) {
                batch[i] = random.nextLong(users);
            }
        }
        // Both classes into every call site's profile, interleaved in blocks, before anything is timed.
        for (int block = 0; block < 10; block++) {
            exercise(nativeStore, PROFILE_CALLS / 10);
            exercise(kotlinStore, PROFILE_CALLS / 10);
        }
    }

    @Setup(Level.Iteration)
    public void keepBimorphic() {
        exercise(other, ITERATION_CALLS);
    }

    /** Runs every call site [calls] times with [s] (getMany: calls / 64 batches); returns a checksum. */
    private long exercise(UserStore s, int calls) {
        long sink = 0;
        for (int i = 0; i < calls; i++) {
            int k = (i * 7919) & MASK;
            User u = CallSite.get(s, ids[k]);
            sink += u == null ? 0 : u.getId();
            sink += CallSite.get(s, missIds[k]) == null ? 1 : 0;
            byte[] json = CallSite.getJson(s, ids[k]);
            sink += json == null ? 0 : json.length;
            sink += CallSite.findByName(s, names[k]).size();
            if ((i & 63) == 0) {
                sink += CallSite.getMany(s, batches[(i >>> 6) & 1023]).size();
            }
        }
        if (sink == 42) { // practically never: keeps the loop's results alive
            System.out.println("# " + sink);
        }
        return sink;
    }

    @TearDown(Level.Trial)
    public void close() {
        nativeStore.close();
        kotlinStore.close();
    }

    private int nextIndex() {
        return next++ & MASK;
    }

    @Benchmark
    public User get() {
        return CallSite.get(measured, ids[nextIndex()]);
    }

    /** get of ids never put: the lookup without building a result. */
    @Benchmark
    public User getMiss() {
        return CallSite.get(measured, missIds[nextIndex()]);
    }

    @Benchmark
    @OperationsPerInvocation(BATCH)
    public void getMany(Blackhole bh) {
        bh.consume(CallSite.getMany(measured, batches[nextIndex() & 1023]));
    }

    @Benchmark
    public byte[] getJson() {
        return CallSite.getJson(measured, ids[nextIndex()]);
    }

    /** Names are unique ({@code user-<id>}): one user per call. */
    @Benchmark
    public List<User> findByName() {
        return CallSite.findByName(measured, names[nextIndex()]);
    }
}
