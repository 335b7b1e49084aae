package dev.userstore.jmh;

import dev.userstore.KotlinUserStore;
import dev.userstore.NativeUserStore;
import dev.userstore.Sync;
import dev.userstore.User;
import dev.userstore.UserStore;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
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
import org.openjdk.jmh.annotations.Threads;

/**
 * Issue 13: what durability costs a put. One store per trial: {@code sync=MEMORY} is the plain in-memory store
 * (the baseline), {@code ALWAYS}, {@code BATCH} and {@code NONE} a durable store ({@code openDurable}) on a fresh
 * data directory made for the trial and deleted after it.
 *
 * <p>Writers: {@code put1}, {@code put2} and {@code put8} are the same put from 1, 2 and 8 threads ({@link Threads}),
 * so one run holds the whole matrix (an explicit {@code -t} would override all three); {@code putLatency1/2/8}
 * likewise. Each thread puts its own
 * {@value #IDS_PER_THREAD} ids ({@code thread * IDS_PER_THREAD + i}, the thread's number given out in setup), so
 * no two threads write one id; the first pass over them inserts new users, later passes replace them, alternating
 * between two short names ({@code user-<id>} and {@code name-<id>}), so every put changes the user. The {@link
 * User} objects are made in setup: both stores get the same ids and the same names in the same order.
 *
 * <p>Modes: {@code putN} in {@link Mode#Throughput} (acknowledged puts per second, all threads together), {@code
 * putLatencyN} in {@link Mode#SampleTime} (the latency of one put in µs; JMH keeps the percentiles p50, p99, p99.9 of
 * the samples). Separate methods so each has its own unit.
 * {@code scripts/jmh-durable-table.py} turns a results file into puts/s, latencies and the ratios to MEMORY.
 *
 * <p>Checkpoints: {@code checkpointLogBytes} is 1 GiB by default, so no automatic checkpoint runs during a trial
 * (a short trial writes well under that: about 35 bytes of log per put): this measures the log alone. {@code -p
 * checkpointLogBytes=67108864} gives the stores' default (64 MiB), checkpoints included.
 *
 * <p>Where: {@code dir=tmpdir} puts the data directories in {@code java.io.tmpdir}; {@code -p dir=PATH} elsewhere.
 * The file system's type is printed (a tmpfs makes every sync free, and the figures meaningless for durability).
 */
@State(Scope.Benchmark)
@Fork(value = 1, jvmArgsAppend = {"-Xms2g", "-Xmx2g", "-XX:+AlwaysPreTouch", "--enable-native-access=ALL-UNNAMED"})
public class DurableBenchmark {
    /** Ids per writer thread. */
    static final int IDS_PER_THREAD = 1 << 16;

    private static final int MASK = IDS_PER_THREAD - 1;

    /** {@code native} (the JVM's default binding) or {@code kotlin}. */
    @Param({"native", "kotlin"})
    public String store;

    /** {@code MEMORY} (no data directory: the baseline), or a {@link Sync} mode's name. */
    @Param({"MEMORY", "ALWAYS", "BATCH", "NONE"})
    public String sync;

    /** The automatic checkpoint's threshold: 1 GiB, so none runs in a trial (see the class comment). */
    @Param({"1073741824"})
    public long checkpointLogBytes;

    /** The parent of the trial's data directory: {@code tmpdir} for {@code java.io.tmpdir}, else a path. */
    @Param({"tmpdir"})
    public String dir;

    private UserStore target;
    private Path data;
    private final AtomicInteger threadNumbers = new AtomicInteger();

    /** One writer thread's users and position. */
    @State(Scope.Thread)
    public static class Writer {
        /** Two passes' users: {@code users[pass & 1][i]}. */
        User[][] users;
        int next;

        @Setup(Level.Trial)
        public void draw(DurableBenchmark bench) {
            long base = (long) bench.threadNumbers.getAndIncrement() * IDS_PER_THREAD;
            users = new User[2][IDS_PER_THREAD];
            for (int i = 0; i < IDS_PER_THREAD; i++) {
                long id = base + i;
                users[0][i] = new User(id, "user-" + id);
                users[1][i] = new User(id, "name-" + id);
            }
        }

        User nextUser() {
            int n = next++;
            return users[(n >>> 16) & 1][n & MASK];
        }
    }

    @Setup(Level.Trial)
    public void open() throws IOException {
        threadNumbers.set(0);
        if (sync.equals("MEMORY")) {
            target = Stores.open(store);
            data = null;
            return;
        }
        Sync mode = Sync.valueOf(sync);
        Path parent = dir.equals("tmpdir") ? Path.of(System.getProperty("java.io.tmpdir")) : Path.of(dir);
        Files.createDirectories(parent);
        data = Files.createTempDirectory(parent, "userstore-durable-bench-");
        switch (store) {
            case "native":
                target = NativeUserStore.openDurable(data, mode, checkpointLogBytes);
                System.out.println("# userstore binding: " + NativeUserStore.binding() + " (JDK " + Runtime.version() + ")");
                break;
            case "kotlin":
                target = KotlinUserStore.openDurable(data, mode, checkpointLogBytes);
                break;
            default:
                throw new IllegalArgumentException("store must be native or kotlin: " + store);
        }
        System.out.println("# data directory: " + data + " (" + Files.getFileStore(data).type() + "), sync " + mode
                + ", checkpointLogBytes " + checkpointLogBytes);
    }

    @TearDown(Level.Trial)
    public void close() throws IOException {
        target.close();
        if (data != null) {
            try (Stream<Path> files = Files.walk(data)) {
                files.sorted(Comparator.reverseOrder()).forEach(p -> {
                    try {
                        Files.delete(p);
                    } catch (IOException e) {
                        throw new UncheckedIOException(e);
                    }
                });
            }
        }
    }

    // put returns nothing (Unit): nothing to hand to a Blackhole; the store's own work cannot be dropped.

    @Benchmark
    @Threads(1)
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public void put1(Writer writer) {
        target.put(writer.nextUser());
    }

    @Benchmark
    @Threads(2)
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public void put2(Writer writer) {
        target.put(writer.nextUser());
    }

    @Benchmark
    @Threads(8)
    @BenchmarkMode(Mode.Throughput)
    @OutputTimeUnit(TimeUnit.SECONDS)
    public void put8(Writer writer) {
        target.put(writer.nextUser());
    }

    @Benchmark
    @Threads(1)
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public void putLatency1(Writer writer) {
        target.put(writer.nextUser());
    }

    @Benchmark
    @Threads(2)
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public void putLatency2(Writer writer) {
        target.put(writer.nextUser());
    }

    @Benchmark
    @Threads(8)
    @BenchmarkMode(Mode.SampleTime)
    @OutputTimeUnit(TimeUnit.MICROSECONDS)
    public void putLatency8(Writer writer) {
        target.put(writer.nextUser());
    }
}
