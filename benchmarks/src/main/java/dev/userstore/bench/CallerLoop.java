package dev.userstore.bench;

import com.google.gson.GsonBuilder;
import dev.userstore.KotlinUserStore;
import dev.userstore.NativeUserStore;
import dev.userstore.User;
import dev.userstore.UserStore;
import java.io.IOException;
import java.io.PrintStream;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLongArray;
import org.apache.commons.math3.stat.descriptive.DescriptiveStatistics;

/**
 * The shared call-site shape, measured by a plain {@code main} (no JMH), as a backend meets it.
 *
 * <p>Both stores are created in this JVM and loaded with the same users (ids 0..users-1, names
 * {@code user-<id>}); 2^20 ids are drawn once. Every operation goes through one static loop method per
 * operation whose {@code UserStore}-typed call ({@code store.get(id)}, ...) is run with both stores, so its
 * type profile holds both receiver classes (bimorphic), as in a backend that migrates from one store to
 * the other, or in the demo. Rounds are interleaved (the order of the stores alternates every round); each
 * round times, per store: get (hits), get (misses), getMany (batches of 1024, per id), getJson, findByName
 * (unique names), and gets/s with 1 and 2 threads. Printed: medians, min..max over rounds, and the
 * native/kotlin ratios (median of the per-round ratios). Also measured in the same run: the machine's floor,
 * a dependent random load chain over an array of about the native table's size.
 *
 * <p>One JVM has one native binding (chosen with {@code -Duserstore.binding=jni|ffm} before the first native
 * store), so the program is run once per binding and JDK; {@code ./gradlew benchShapes} does that.
 *
 * <p>Options: {@code --users N} (1000000), {@code --rounds N} (7), {@code --ops N} (gets per store and round,
 * 524288; getJson and findByName do half, getMany the same number of ids), {@code --thread-millis N} (400, per
 * store, thread count and round), {@code --warmup-rounds N} (3), {@code --floor-mib N} (0 = from the table's
 * size), {@code --out DIR} (benchmarks/build/reports/shapes), {@code --quick} (200000 users, 3 rounds, short
 * loops: shows the program works, not a measurement).
 */
public final class CallerLoop {
    private static final int ID_BITS = 20;
    private static final int MASK = (1 << ID_BITS) - 1;
    private static final int BATCH = 1024;
    /**
     * Bytes per slot of the native table (src/core/table.rs: three u64 words); the floor's array is users x 24 B
     * at a load of 3/4 (the table's load lies between its growth factor and 9/10): ~30 MiB for 1M users.
     */
    private static final int SLOT_BYTES = 24;

    private CallerLoop() {}

    /** The operations, in the order a round runs them. */
    enum Op {
        GET("get", "ns/get"),
        GET_MISS("getMiss", "ns/get"),
        GET_MANY("getMany", "ns/id"),
        GET_JSON("getJson", "ns/op"),
        FIND_BY_NAME("findByName", "ns/op"),
        GETS_1T("getsPerSec1t", "Mgets/s"),
        GETS_2T("getsPerSec2t", "Mgets/s");

        final String label;
        final String unit;

        Op(String label, String unit) {
            this.label = label;
            this.unit = unit;
        }

        boolean higherIsBetter() {
            return this == GETS_1T || this == GETS_2T;
        }
    }

    /** Options from the command line. */
    static final class Options {
        int users = 1_000_000;
        int rounds = 7;
        int ops = 1 << 19;
        int threadMillis = 400;
        int warmupRounds = 3;
        int floorMib = 0;
        Path out = Path.of("benchmarks/build/reports/shapes");

        static Options parse(String[] args) {
            Options o = new Options();
            for (int i = 0; i < args.length; i++) {
                String a = args[i];
                if (a.equals("--quick")) {
                    o.users = 200_000;
                    o.rounds = 3;
                    o.ops = 1 << 16;
                    o.threadMillis = 100;
                    o.warmupRounds = 2;
                    continue;
                }
                if (i + 1 >= args.length) {
                    throw new IllegalArgumentException("option " + a + " needs a value");
                }
                String v = args[++i];
                switch (a) {
                    case "--users" -> o.users = positive(a, v);
                    case "--rounds" -> o.rounds = positive(a, v);
                    case "--ops" -> o.ops = positive(a, v);
                    case "--thread-millis" -> o.threadMillis = positive(a, v);
                    case "--warmup-rounds" -> o.warmupRounds = Integer.parseInt(v);
                    case "--floor-mib" -> o.floorMib = Integer.parseInt(v);
                    case "--out" -> o.out = Path.of(v);
                    default -> throw new IllegalArgumentException("unknown option " + a
                            + " (--users, --rounds, --ops, --thread-millis, --warmup-rounds, --floor-mib, --out, --quick)");
                }
            }
            return o;
        }

        private static int positive(String name, String value) {
            int n = Integer.parseInt(value);
            if (n <= 0) {
                throw new IllegalArgumentException(name + " must be positive: " + value);
            }
            return n;
        }
    }

    /** The data every store is asked about: the same ids, names and batches for both. */
    static final class Workload {
        final long[] ids = new long[MASK + 1];
        final long[] missIds = new long[MASK + 1];
        final String[] names = new String[MASK + 1];
        final long[][] batches = new long[(MASK + 1) / BATCH][BATCH];

        Workload(int users) {
            SplittableRandom random = new SplittableRandom(42);
            for (int i = 0; i <= MASK; i++) {
                ids[i] = random.nextLong(users);
                missIds[i] = users + random.nextLong(users); // never put
                names[i] = "user-" + ids[i];
            }
            for (long[] batch : batches) {
                for (int i = 0; i < BATCH; i++) {
                    batch[i] = random.nextLong(users);
                }
            }
        }
    }

    // The shared call sites: each loop below is run with both stores, so the interface call in it has a
    // bimorphic type profile. Each returns a sum of what it got back (so no call can be dropped).

    static long gets(UserStore store, long[] ids, int from, int n) {
        long sink = 0;
        for (int i = 0; i < n; i++) {
            User u = store.get(ids[(from + i) & MASK]);
            sink += u == null ? -1 : u.getName().length();
        }
        return sink;
    }

    static long getManys(UserStore store, long[][] batches, int from, int calls) {
        long sink = 0;
        for (int c = 0; c < calls; c++) {
            List<User> users = store.getMany(batches[(from + c) % batches.length]);
            for (int i = 0, n = users.size(); i < n; i++) {
                User u = users.get(i);
                sink += u == null ? -1 : u.getName().length();
            }
        }
        return sink;
    }

    static long getJsons(UserStore store, long[] ids, int from, int n) {
        long sink = 0;
        for (int i = 0; i < n; i++) {
            byte[] json = store.getJson(ids[(from + i) & MASK]);
            sink += json == null ? -1 : json.length;
        }
        return sink;
    }

    static long findByNames(UserStore store, String[] names, int from, int n) {
        long sink = 0;
        for (int i = 0; i < n; i++) {
            sink += store.findByName(names[(from + i) & MASK]).size();
        }
        return sink;
    }

    /** Keeps every result observable, so the JIT cannot drop a call. */
    private static volatile long blackhole;

    /** Runs [op] once on [store] and returns the figure (ns per op or id, or millions of gets/s). */
    static double measure(Op op, UserStore store, Workload w, Options o, int round) {
        int from = round * 7919; // each round starts elsewhere in the ids, the same for both stores
        long sink;
        long t0 = System.nanoTime();
        switch (op) {
            case GET -> sink = gets(store, w.ids, from, o.ops);
            case GET_MISS -> sink = gets(store, w.missIds, from, o.ops);
            case GET_MANY -> sink = getManys(store, w.batches, from, Math.max(1, o.ops / BATCH));
            case GET_JSON -> sink = getJsons(store, w.ids, from, o.ops / 2);
            case FIND_BY_NAME -> sink = findByNames(store, w.names, from, o.ops / 2);
            case GETS_1T -> {
                return throughput(store, w, 1, o.threadMillis, from);
            }
            case GETS_2T -> {
                return throughput(store, w, 2, o.threadMillis, from);
            }
            default -> throw new IllegalStateException(op.toString());
        }
        long nanos = System.nanoTime() - t0;
        blackhole += sink;
        long count = switch (op) {
            case GET, GET_MISS -> o.ops;
            case GET_MANY -> (long) Math.max(1, o.ops / BATCH) * BATCH;
            default -> o.ops / 2;
        };
        return (double) nanos / count;
    }

    /** Millions of gets per second, all [threads] together, each thread calling {@link #gets} in chunks until the deadline. */
    static double throughput(UserStore store, Workload w, int threads, int millis, int from) {
        final int chunk = 4096;
        CountDownLatch go = new CountDownLatch(1);
        AtomicLongArray done = new AtomicLongArray(threads);
        AtomicLongArray ends = new AtomicLongArray(threads);
        Throwable[] failure = new Throwable[1];
        List<Thread> workers = new ArrayList<>();
        long[] start = new long[1];
        for (int t = 0; t < threads; t++) {
            final int me = t;
            Thread th = new Thread(() -> {
                try {
                    go.await();
                    long deadline = start[0] + millis * 1_000_000L;
                    int at = from + me * (w.ids.length / threads);
                    long ops = 0;
                    long sink = 0;
                    long now;
                    do {
                        sink += gets(store, w.ids, at, chunk);
                        at += chunk;
                        ops += chunk;
                        now = System.nanoTime();
                    } while (now - deadline < 0);
                    done.set(me, ops);
                    ends.set(me, now);
                    blackhole += sink;
                } catch (Throwable e) {
                    synchronized (failure) {
                        failure[0] = e;
                    }
                }
            }, "caller-loop-" + t);
            th.start();
            workers.add(th);
        }
        start[0] = System.nanoTime();
        go.countDown();
        for (Thread th : workers) {
            try {
                th.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted", e);
            }
        }
        if (failure[0] != null) {
            throw new IllegalStateException("a caller thread failed", failure[0]);
        }
        long ops = 0;
        long last = 0;
        for (int t = 0; t < threads; t++) {
            ops += done.get(t);
            last = Math.max(last, ends.get(t) - start[0]);
        }
        return ops * 1e3 / last; // millions of gets per second
    }

    /**
     * The machine's floor: ns per load of a dependent chain of random loads over {@code bytes} (a random cyclic
     * permutation, Sattolo's algorithm, of 4-byte slots): what one cache/TLB miss into a table of that size costs
     * here. Hand-written: it is eight lines and no library measures this from Java.
     */
    static double floorNanos(long bytes, int loads) {
        int n = (int) Math.min(Integer.MAX_VALUE - 8, bytes / Integer.BYTES);
        int[] table = new int[n];
        for (int i = 0; i < n; i++) {
            table[i] = i;
        }
        SplittableRandom random = new SplittableRandom(7);
        for (int i = n - 1; i > 0; i--) { // Sattolo: one cycle through every slot, in random order
            int j = random.nextInt(i);
            int tmp = table[i];
            table[i] = table[j];
            table[j] = tmp;
        }
        int p = 0;
        for (int i = 0; i < loads / 4; i++) { // warm-up
            p = table[p];
        }
        long t0 = System.nanoTime();
        for (int i = 0; i < loads; i++) {
            p = table[p];
        }
        long nanos = System.nanoTime() - t0;
        blackhole += p;
        return (double) nanos / loads;
    }

    static void load(UserStore store, int users) {
        for (long id = 0; id < users; id++) {
            store.put(new User(id, "user-" + id));
        }
        if (store.getSize() != users) {
            throw new IllegalStateException("store holds " + store.getSize() + " users, expected " + users);
        }
    }

    /** Fails unless both stores return the same, expected answers for a few ids (a wrong store makes timings moot). */
    static void verify(UserStore a, UserStore b, Workload w, int users) {
        for (int i = 0; i < 1000; i++) {
            long id = w.ids[i];
            User expected = new User(id, "user-" + id);
            for (UserStore s : List.of(a, b)) {
                if (!expected.equals(s.get(id)) || s.get(w.missIds[i]) != null
                        || !List.of(expected).equals(s.findByName(w.names[i]))) {
                    throw new IllegalStateException(s.getClass().getSimpleName() + " returns other users than were put");
                }
            }
        }
        if (!a.getMany(w.batches[0]).equals(b.getMany(w.batches[0]))
                || !Arrays.equals(a.getJson(w.ids[0]), b.getJson(w.ids[0]))) {
            throw new IllegalStateException("the stores disagree on getMany or getJson");
        }
    }

    public static void main(String[] args) throws IOException {
        Options o;
        try {
            o = Options.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("CallerLoop: " + e.getMessage());
            System.exit(2);
            return;
        }
        PrintStream out = System.out;
        Workload w = new Workload(o.users);
        UserStore nativeStore = new NativeUserStore();
        UserStore kotlinStore = new KotlinUserStore();
        String binding = NativeUserStore.binding();
        Map<String, Object> env = environment(binding, o);
        out.printf(Locale.ROOT, "CallerLoop: shared call site (both stores through one UserStore call site), %s%n",
                env.get("summary"));
        try (nativeStore; kotlinStore) {
            load(nativeStore, o.users);
            load(kotlinStore, o.users);
            verify(nativeStore, kotlinStore, w, o.users);
            UserStore[] stores = {nativeStore, kotlinStore};
            String[] labels = {"native-" + binding, "kotlin"};

            // Warm-up: every loop with both stores, interleaved, before anything is recorded.
            for (int r = 0; r < o.warmupRounds; r++) {
                for (Op op : Op.values()) {
                    for (UserStore s : stores) {
                        measure(op, s, w, o, r);
                    }
                }
            }
            long floorBytes = o.floorMib > 0 ? (long) o.floorMib << 20 : (long) o.users * SLOT_BYTES * 4 / 3;
            List<Map<String, Object>> raw = new ArrayList<>();
            List<Double> floors = new ArrayList<>();
            double[][][] figures = new double[Op.values().length][2][o.rounds];
            for (int r = 0; r < o.rounds; r++) {
                for (Op op : Op.values()) {
                    for (int k = 0; k < 2; k++) {
                        int s = (r % 2 == 0) ? k : 1 - k; // the order alternates every round
                        double v = measure(op, stores[s], w, o, r);
                        figures[op.ordinal()][s][r] = v;
                        Map<String, Object> row = new LinkedHashMap<>();
                        row.put("round", r);
                        row.put("op", op.label);
                        row.put("store", labels[s]);
                        row.put("unit", op.unit);
                        row.put("value", v);
                        raw.add(row);
                    }
                }
                double floor = floorNanos(floorBytes, 1 << 22);
                floors.add(floor);
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("round", r);
                row.put("op", "floor");
                row.put("store", "machine");
                row.put("unit", "ns/load");
                row.put("value", floor);
                raw.add(row);
                out.printf(Locale.ROOT, "  round %d/%d done%n", r + 1, o.rounds);
            }

            List<Map<String, Object>> summary = new ArrayList<>();
            out.printf(Locale.ROOT, "%-14s %-7s %26s %26s %16s%n", "op", "unit", labels[0] + " median [min..max]",
                    "kotlin median [min..max]", "native/kotlin");
            for (Op op : Op.values()) {
                DescriptiveStatistics nat = new DescriptiveStatistics(figures[op.ordinal()][0]);
                DescriptiveStatistics kot = new DescriptiveStatistics(figures[op.ordinal()][1]);
                DescriptiveStatistics ratios = new DescriptiveStatistics();
                for (int r = 0; r < o.rounds; r++) {
                    ratios.addValue(figures[op.ordinal()][0][r] / figures[op.ordinal()][1][r]);
                }
                // A ratio of times: below 1 is native faster; for gets/s, the ratio is of rates (above 1 = native faster).
                out.printf(Locale.ROOT, "%-14s %-7s %26s %26s %9.2f [%.2f..%.2f]%n", op.label, op.unit, cell(nat),
                        cell(kot), ratios.getPercentile(50), ratios.getMin(), ratios.getMax());
                Map<String, Object> s = new LinkedHashMap<>();
                s.put("op", op.label);
                s.put("unit", op.unit);
                s.put("native", stats(nat));
                s.put("kotlin", stats(kot));
                s.put("ratioNativeOverKotlin", stats(ratios));
                summary.add(s);
            }
            // Scaling: gets/s on 2 threads over 1 thread, per round.
            for (int s = 0; s < 2; s++) {
                DescriptiveStatistics scaling = new DescriptiveStatistics();
                for (int r = 0; r < o.rounds; r++) {
                    scaling.addValue(figures[Op.GETS_2T.ordinal()][s][r] / figures[Op.GETS_1T.ordinal()][s][r]);
                }
                out.printf(Locale.ROOT, "%-14s %-7s %s: %.2f [%.2f..%.2f]%n", "scaling", "2t/1t", labels[s],
                        scaling.getPercentile(50), scaling.getMin(), scaling.getMax());
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("op", "scaling2tOver1t");
                row.put("store", labels[s]);
                row.put("stats", stats(scaling));
                summary.add(row);
            }
            DescriptiveStatistics floor = new DescriptiveStatistics(floors.stream().mapToDouble(Double::doubleValue).toArray());
            out.printf(Locale.ROOT, "%-14s %-7s %s over %d MiB (dependent random loads from Java)%n", "floor", "ns/load",
                    cell(floor), floorBytes >> 20);
            env.put("floorBytes", floorBytes);
            Map<String, Object> floorStats = stats(floor);

            Map<String, Object> doc = new LinkedHashMap<>();
            doc.put("program", "CallerLoop");
            doc.put("shape", "shared call site (bimorphic: both stores through one UserStore call site)");
            doc.put("environment", env);
            doc.put("summary", summary);
            doc.put("floorNsPerLoad", floorStats);
            doc.put("raw", raw);
            doc.put("sink", blackhole);
            write(o.out, env, doc, raw);
        }
    }

    private static String cell(DescriptiveStatistics s) {
        return String.format(Locale.ROOT, "%.1f [%.1f..%.1f]", s.getPercentile(50), s.getMin(), s.getMax());
    }

    private static Map<String, Object> stats(DescriptiveStatistics s) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("median", s.getPercentile(50));
        m.put("min", s.getMin());
        m.put("max", s.getMax());
        m.put("n", s.getN());
        return m;
    }

    private static Map<String, Object> environment(String binding, Options o) {
        Map<String, Object> env = new LinkedHashMap<>();
        String date = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH-mm-ss'Z'").withZone(ZoneOffset.UTC).format(Instant.now());
        List<String> gcs = new ArrayList<>();
        for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
            gcs.add(gc.getName());
        }
        env.put("date", date);
        env.put("java", Runtime.version().toString());
        env.put("javaFeature", Runtime.version().feature());
        env.put("vm", System.getProperty("java.vm.name"));
        env.put("gc", String.join(", ", gcs));
        env.put("jvmArgs", ManagementFactory.getRuntimeMXBean().getInputArguments());
        env.put("maxHeapMiB", Runtime.getRuntime().maxMemory() >> 20);
        env.put("cpu", cpuModel());
        env.put("cores", Runtime.getRuntime().availableProcessors());
        env.put("loadAverage", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
        env.put("binding", binding);
        env.put("users", o.users);
        env.put("rounds", o.rounds);
        env.put("opsPerRound", o.ops);
        env.put("threadMillis", o.threadMillis);
        env.put("warmupRounds", o.warmupRounds);
        env.put("summary", String.format(Locale.ROOT, "JDK %s, %s, binding %s, %d users, %d rounds, load %.2f",
                Runtime.version(), String.join("+", gcs), binding, o.users, o.rounds,
                ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage()));
        return env;
    }

    private static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: fall through
        }
        return System.getProperty("os.arch");
    }

    /** callerloop-&lt;binding&gt;-jdk&lt;N&gt;-&lt;date&gt;.json (everything) and .csv (the raw rows with the environment). */
    private static void write(Path dir, Map<String, Object> env, Map<String, Object> doc, List<Map<String, Object>> raw)
            throws IOException {
        Files.createDirectories(dir);
        String base = String.format(Locale.ROOT, "callerloop-%s-jdk%s-%s", env.get("binding"), env.get("javaFeature"),
                env.get("date"));
        Path json = dir.resolve(base + ".json");
        Files.writeString(json, new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create().toJson(doc),
                StandardCharsets.UTF_8);
        // CSV by hand: fixed columns of numbers and of names without commas or quotes (the CPU model is quoted).
        StringBuilder csv = new StringBuilder("date,java,gc,cpu,binding,users,round,op,store,unit,value\n");
        for (Map<String, Object> row : raw) {
            csv.append(env.get("date")).append(',').append(env.get("java")).append(',')
                    .append(String.valueOf(env.get("gc")).replace(',', ';')).append(",\"")
                    .append(String.valueOf(env.get("cpu")).replace("\"", "'")).append("\",")
                    .append(env.get("binding")).append(',').append(env.get("users")).append(',')
                    .append(row.get("round")).append(',').append(row.get("op")).append(',').append(row.get("store"))
                    .append(',').append(row.get("unit")).append(',')
                    .append(String.format(Locale.ROOT, "%.3f", (Double) row.get("value"))).append('\n');
        }
        Files.writeString(dir.resolve(base + ".csv"), csv, StandardCharsets.UTF_8);
        System.out.println("raw results: " + json + " and " + base + ".csv");
    }
}
