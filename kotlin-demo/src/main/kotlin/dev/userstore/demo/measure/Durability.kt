package dev.userstore.demo.measure

import com.github.ajalt.clikt.core.CliktError
import dev.userstore.KotlinUserStore
import dev.userstore.NativeUserStore
import dev.userstore.Sync
import dev.userstore.User
import dev.userstore.UserStore
import dev.userstore.demo.format.fmt
import dev.userstore.demo.format.plural
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.channels.FileChannel
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.StandardOpenOption
import java.util.concurrent.CountDownLatch
import java.util.concurrent.atomic.AtomicBoolean

/** Ids each writer thread of the durability scenario puts, as a power of two. */
private const val IDS_SHIFT = 14

/** Ids each writer thread of the durability scenario puts (its own range, so no two threads write one id). */
internal const val DURABILITY_IDS_PER_THREAD = 1 shl IDS_SHIFT

/** The warm-up before each measured durability run, as a share of its length. */
internal const val DURABILITY_WARMUP_SHARE = 0.5

/** How a store of the durability scenario keeps its writes: in memory only, or in a data directory's log. */
internal enum class DurabilityMode(
    val label: String,
    val sync: Sync?,
) {
    MEMORY("memory-only", null),
    ALWAYS("Sync.ALWAYS", Sync.ALWAYS),
    BATCH("Sync.BATCH", Sync.BATCH),
}

/** What the durability scenario was asked to do. */
internal data class DurabilityOptions(
    /** Seconds of each measured run (one store, one mode, one thread count); a warm-up half as long precedes it. */
    val seconds: Double,
    /** Where the data directories are made (each a fresh temporary directory, deleted after its run). */
    val parent: Path,
    val threads: List<Int> = DEFAULT_THREADS,
) {
    companion object {
        val DEFAULT_THREADS = listOf(1, 8)
    }
}

/** One measured run: [puts] acknowledged puts by [threads] writers in [nanos]. */
internal data class DurabilityMeasurement(
    val kind: StoreKind,
    val mode: DurabilityMode,
    val threads: Int,
    val puts: Long,
    val nanos: Long,
) {
    val putsPerSecond: Double get() = perSecond(puts, nanos)
}

/** Bytes the sync floor appends before each sync: about one put's log record. */
internal const val FLOOR_RECORD_BYTES = 40

/** The sync floor runs at most this long. */
private const val FLOOR_MAX_SECONDS = 1.0

/** Percentiles of the sync floor. */
private const val P50 = 0.50
private const val P99 = 0.99

/** This disk's sync floor: one thread appending [FLOOR_RECORD_BYTES] bytes and calling `FileChannel.force(false)`. */
internal class SyncFloor(
    val syncs: Int,
    val nanos: Long,
    val p50Nanos: Long,
    val p99Nanos: Long,
) {
    val syncsPerSecond: Double get() = perSecond(syncs.toLong(), nanos)
}

/** The whole scenario: every measurement, the file system the data directories were on, and its sync floor. */
internal class DurabilityRun(
    val options: DurabilityOptions,
    val fileSystem: String,
    val measurements: List<DurabilityMeasurement>,
    val floor: SyncFloor? = null,
) {
    val kinds: List<StoreKind> get() = measurements.map { it.kind }.distinct()

    fun putsPerSecond(
        kind: StoreKind,
        mode: DurabilityMode,
        threads: Int,
    ): Double? = measurements.firstOrNull { it.kind == kind && it.mode == mode && it.threads == threads }?.putsPerSecond

    /** [mode]'s puts per second over the memory-only store's, same store and thread count; null if either is missing. */
    fun overMemory(
        kind: StoreKind,
        mode: DurabilityMode,
        threads: Int,
    ): Double? = ratioOf(putsPerSecond(kind, mode, threads), putsPerSecond(kind, DurabilityMode.MEMORY, threads))

    /** The issue's goals, judged on this run's figures. */
    val goals: List<DurabilityGoal> get() = DurabilityGoals.evaluate(kinds, options.threads, ::putsPerSecond)
}

/** a / b, or null unless both are known and b is positive. */
private fun ratioOf(
    a: Double?,
    b: Double?,
): Double? = if (a != null && b != null && b > 0) a / b else null

/** One goal of issue 13 for one store: what was measured, the limit (a lower bound), and whether it was met. */
internal data class DurabilityGoal(
    val kind: StoreKind,
    val goal: String,
    val measured: Double?,
    val atLeast: Double,
    /** `puts/s` or `x` (a ratio). */
    val unit: String,
) {
    /** Null when the figures it needs were not measured. */
    val met: Boolean? get() = measured?.let { it >= atLeast }

    val outcome: String get() =
        when (met) {
            true -> "met"
            false -> "not met"
            null -> "not measured"
        }
}

/** Issue 13's goals for the write path; every threshold is a named constant. */
internal object DurabilityGoals {
    /** Sync.ALWAYS: acknowledged puts per second from one thread, at least. */
    const val ALWAYS_ONE_THREAD_PUTS = 5_000.0

    /** Sync.ALWAYS: puts per second from [GROUP_COMMIT_THREADS] threads over one thread's, at least (group commit). */
    const val GROUP_COMMIT_FACTOR = 4.0
    const val GROUP_COMMIT_THREADS = 8

    /** Sync.BATCH: puts per second over the memory-only store's, at least. */
    const val BATCH_SHARE = 0.5

    /**
     * For each store of [kinds]: Sync.ALWAYS from one thread >= [ALWAYS_ONE_THREAD_PUTS] puts/s; Sync.ALWAYS from
     * [GROUP_COMMIT_THREADS] threads >= [GROUP_COMMIT_FACTOR] x one thread's; Sync.BATCH >= [BATCH_SHARE] x the
     * memory-only store's, for each of [threads]. [putsPerSecond] gives a measured figure, or null (then the goal is
     * "not measured").
     */
    fun evaluate(
        kinds: List<StoreKind>,
        threads: List<Int>,
        putsPerSecond: (StoreKind, DurabilityMode, Int) -> Double?,
    ): List<DurabilityGoal> =
        kinds.flatMap { kind ->
            val alwaysOne = putsPerSecond(kind, DurabilityMode.ALWAYS, 1)
            val alwaysMany = putsPerSecond(kind, DurabilityMode.ALWAYS, GROUP_COMMIT_THREADS)
            listOf(
                DurabilityGoal(kind, "Sync.ALWAYS, 1 thread: acknowledged puts/s", alwaysOne, ALWAYS_ONE_THREAD_PUTS, "puts/s"),
                DurabilityGoal(
                    kind,
                    "Sync.ALWAYS, $GROUP_COMMIT_THREADS threads / 1 thread (group commit)",
                    ratioOf(alwaysMany, alwaysOne),
                    GROUP_COMMIT_FACTOR,
                    "x",
                ),
            ) +
                threads.map { t ->
                    DurabilityGoal(
                        kind,
                        "Sync.BATCH / memory-only, ${plural(t, "thread")}",
                        ratioOf(putsPerSecond(kind, DurabilityMode.BATCH, t), putsPerSecond(kind, DurabilityMode.MEMORY, t)),
                        BATCH_SHARE,
                        "x",
                    )
                }
        }
}

/**
 * The durability scenario of `compare`: first an unmeasured warm-up of each store's put path (memory-only and
 * Sync.BATCH, [DurabilityOptions.seconds] each, all threads); then, for each thread count, each mode and each of
 * [kinds] (the native store through the JVM's default binding and the Kotlin store; the forced-JNI contender is
 * left out), a fresh store (memory-only, or `openDurable` on a fresh data directory with the stores' default
 * checkpoint threshold), a warm-up half as long, then [DurabilityOptions.seconds] of puts from that many threads, each putting its own ids (new ones
 * first, then replacing them, alternating two names, so every put changes the user); puts per second = puts
 * acknowledged / the time from the start signal until the last writer returned. A full GC precedes each run.
 */
internal fun runDurability(
    kinds: List<StoreKind>,
    options: DurabilityOptions,
    log: (String) -> Unit,
): DurabilityRun {
    val stores = kinds.filter { it == StoreKind.NATIVE || it == StoreKind.KOTLIN }
    val users = Array(options.threads.max()) { t -> writerUsers(t) }
    Files.createDirectories(options.parent)
    val fileSystem = runCatching { Files.getFileStore(options.parent).type() }.getOrDefault("unknown")
    if (fileSystem == "tmpfs") log("durability: WARNING: ${options.parent} is a tmpfs: a sync costs nothing there")
    // The JIT first: each store's put path, memory-only and through the log (BATCH: no wait for a sync), unmeasured,
    // so the first measured runs are not the cold ones.
    log("durability: warming up each store's put path, memory-only and durable")
    for (kind in stores) {
        for (mode in listOf(DurabilityMode.MEMORY, DurabilityMode.BATCH)) {
            withStore(kind, mode, options) { putFor(it, options.threads.max(), users, (options.seconds * NANOS_PER_SECOND).toLong()) }
        }
    }
    val measurements = mutableListOf<DurabilityMeasurement>()
    for (threads in options.threads) {
        for (mode in DurabilityMode.entries) {
            for (kind in stores) {
                val m = measureOne(kind, mode, threads, users, options)
                measurements += m
                log(
                    "durability: ${kind.label}, ${mode.label}, ${plural(threads, "thread")}: " +
                        "${fmt("%,.0f", m.putsPerSecond)} puts/s",
                )
            }
        }
    }
    val floor = measureSyncFloor(options.parent, minOf(options.seconds, FLOOR_MAX_SECONDS))
    log("durability: sync floor ${fmt("%,.0f", floor.syncsPerSecond)} syncs/s, p50 ${fmt("%.3f", floor.p50Nanos / 1e6)} ms")
    return DurabilityRun(options, fileSystem, measurements, floor)
}

/**
 * One thread appends [FLOOR_RECORD_BYTES] bytes to a fresh file in [parent] and calls `FileChannel.force(false)`
 * (`fdatasync` on Linux), again and again for [seconds]: the floor under one `Sync.ALWAYS` writer on this disk.
 */
internal fun measureSyncFloor(
    parent: Path,
    seconds: Double,
): SyncFloor {
    val file = Files.createTempFile(parent, "userstore-sync-floor-", ".bin")
    try {
        FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND).use { channel ->
            val record = ByteBuffer.allocate(FLOOR_RECORD_BYTES)
            val times = ArrayList<Long>()
            val start = System.nanoTime()
            val end = start + (seconds * NANOS_PER_SECOND).toLong()
            do {
                val t = System.nanoTime()
                record.clear()
                while (record.hasRemaining()) channel.write(record)
                channel.force(false)
                times += System.nanoTime() - t
            } while (System.nanoTime() < end)
            val took = System.nanoTime() - start
            times.sort()
            return SyncFloor(times.size, took, times[(times.size * P50).toInt()], times[((times.size - 1) * P99).toInt()])
        }
    } finally {
        Files.deleteIfExists(file)
    }
}

/** Thread [t]'s users: `[pass][i]`, ids `t * DURABILITY_IDS_PER_THREAD + i`, names `user-<id>` then `name-<id>`. */
private fun writerUsers(t: Int): Array<Array<User>> {
    val base = t.toLong() * DURABILITY_IDS_PER_THREAD
    return arrayOf(
        Array(DURABILITY_IDS_PER_THREAD) { User(base + it, "user-${base + it}") },
        Array(DURABILITY_IDS_PER_THREAD) { User(base + it, "name-${base + it}") },
    )
}

private fun measureOne(
    kind: StoreKind,
    mode: DurabilityMode,
    threads: Int,
    users: Array<Array<Array<User>>>,
    options: DurabilityOptions,
): DurabilityMeasurement =
    withStore(kind, mode, options) { store ->
        val nanos = (options.seconds * NANOS_PER_SECOND).toLong()
        putFor(store, threads, users, (nanos * DURABILITY_WARMUP_SHARE).toLong())
        System.gc()
        val (puts, took) = putFor(store, threads, users, nanos)
        DurabilityMeasurement(kind, mode, threads, puts, took)
    }

/** Runs [body] on a fresh store of [kind] in [mode] (a fresh data directory for a durable one), then closes and deletes it. */
private fun <T> withStore(
    kind: StoreKind,
    mode: DurabilityMode,
    options: DurabilityOptions,
    body: (UserStore) -> T,
): T {
    val dir = mode.sync?.let { Files.createTempDirectory(options.parent, "userstore-durability-") }
    try {
        return open(kind, mode, dir).use(body)
    } finally {
        dir?.let(::deleteTree)
    }
}

/** Deletes [dir] and everything in it. */
private fun deleteTree(dir: Path) {
    Files.walk(dir).use { paths -> paths.sorted(Comparator.reverseOrder()).forEach(Files::delete) }
}

private fun open(
    kind: StoreKind,
    mode: DurabilityMode,
    dir: Path?,
): UserStore {
    val sync = mode.sync ?: return kind.create()
    try {
        return when (kind) {
            StoreKind.KOTLIN -> KotlinUserStore.openDurable(checkNotNull(dir), sync)
            else -> NativeUserStore.openDurable(checkNotNull(dir), sync)
        }
    } catch (e: IOException) {
        throw CliktError("durability: cannot open a durable ${kind.label} store in $dir: ${e.message}")
    }
}

/** [threads] writers put until [nanos] have passed; returns the puts done and the time until the last one returned. */
private fun putFor(
    store: UserStore,
    threads: Int,
    users: Array<Array<Array<User>>>,
    nanos: Long,
): Pair<Long, Long> {
    val go = CountDownLatch(1)
    val counts = LongArray(threads)
    val failure = arrayOfNulls<Throwable>(threads)
    val stop = AtomicBoolean()
    val workers =
        (0 until threads).map { t ->
            Thread({
                val mine = users[t]
                var n = 0L
                try {
                    go.await()
                    while (!stop.get()) {
                        val i = n.toInt()
                        store.put(mine[(i ushr IDS_SHIFT) and 1][i and (DURABILITY_IDS_PER_THREAD - 1)])
                        n++
                    }
                } catch (e: Throwable) {
                    failure[t] = e
                }
                counts[t] = n
            }, "durability-writer-$t").apply { isDaemon = true }
        }
    workers.forEach { it.start() }
    val start = System.nanoTime()
    go.countDown()
    Thread.sleep(nanos / 1_000_000, (nanos % 1_000_000).toInt())
    stop.set(true)
    workers.forEach { it.join() }
    val took = System.nanoTime() - start
    failure.firstOrNull { it != null }?.let { throw CliktError("durability: a put failed: $it") }
    return counts.sum() to took
}
