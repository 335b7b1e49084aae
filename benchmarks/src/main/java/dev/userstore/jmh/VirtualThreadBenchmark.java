package dev.userstore.jmh;

import dev.userstore.KotlinUserStore;
import dev.userstore.NativeUserStore;
import dev.userstore.User;
import dev.userstore.UserStore;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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
 * One get per virtual thread, the JDK 21+ server idiom ({@code Executors.newVirtualThreadPerTaskExecutor()}):
 * each invocation starts {@value #TASKS} virtual threads, each doing one {@code get} of a pseudo-random id,
 * and waits for all of them; the score is the time per task (thread start, get, hand-off of the result).
 * Both stores get the same ids. Needs JDK 21 or later (the executor is looked up at run time, as the
 * module compiles for JDK 17); {@code ./gradlew jmh} leaves it out on older JDKs.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx2g", "-XX:+AlwaysPreTouch", "--enable-native-access=ALL-UNNAMED"})
public class VirtualThreadBenchmark {
    private static final int TASKS = 1000;
    private static final int MASK = (1 << 16) - 1;

    @Param({"native", "native-jni", "kotlin"})
    public String store;

    @Param({"100000"})
    public int users;

    private UserStore target;
    private ExecutorService executor;
    private long[] ids;
    private User[] results;
    private int next;

    @Setup(Level.Trial)
    public void load() throws ReflectiveOperationException {
        target = Stores.open(store);
        for (long id = 0; id < users; id++) {
            target.put(new User(id, "user-" + id));
        }
        SplittableRandom random = new SplittableRandom(42);
        ids = new long[MASK + 1];
        for (int i = 0; i <= MASK; i++) {
            ids[i] = random.nextLong(users);
        }
        results = new User[TASKS];
        try {
            executor = (ExecutorService) Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
        } catch (NoSuchMethodException e) {
            throw new IllegalStateException("virtual threads need JDK 21 or later; this is " + Runtime.version(), e);
        }
    }

    @TearDown(Level.Trial)
    public void close() {
        executor.shutdown();
        target.close();
    }

    @Benchmark
    @OperationsPerInvocation(TASKS)
    public void getPerVirtualThread(Blackhole bh) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(TASKS);
        int base = next;
        next += TASKS;
        for (int i = 0; i < TASKS; i++) {
            int slot = i;
            long id = ids[(base + i) & MASK];
            executor.execute(() -> {
                results[slot] = target.get(id);
                done.countDown();
            });
        }
        done.await();
        bh.consume(results);
    }
}
