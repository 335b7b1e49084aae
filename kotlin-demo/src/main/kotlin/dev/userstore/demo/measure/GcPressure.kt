package dev.userstore.demo.measure

import com.github.ajalt.clikt.core.CliktCommand
import com.github.ajalt.clikt.core.CliktError
import com.github.ajalt.clikt.core.Context
import com.github.ajalt.clikt.parameters.options.default
import com.github.ajalt.clikt.parameters.options.option
import com.github.ajalt.clikt.parameters.options.required
import com.github.ajalt.clikt.parameters.types.double
import com.github.ajalt.clikt.parameters.types.enum
import com.github.ajalt.clikt.parameters.types.int
import com.github.ajalt.clikt.parameters.types.long
import com.github.ajalt.clikt.parameters.types.path
import dev.userstore.demo.format.fmt
import org.HdrHistogram.Histogram
import java.nio.ByteBuffer
import java.nio.file.Files
import java.util.Base64
import java.util.Properties
import kotlin.math.ceil

/** Longest measured slice of one store before the other takes its turn. */
private const val PRESSURE_SLICE_NANOS = NANOS_PER_SECOND

/** Unrecorded timed gets per store before anything is measured, and the allocator's settling time. */
private const val PRESSURE_WARMUP_NANOS = NANOS_PER_SECOND

/** The medium-lived ring holds this many seconds' worth of the kept allocations. */
private const val RING_SECONDS = 4L

/** The collectors the scenario can run under, with the flag that selects each. */
enum class GcChoice(
    val label: String,
    val flag: String,
) {
    G1("g1", "-XX:+UseG1GC"),
    ZGC("zgc", "-XX:+UseZGC"),
    PARALLEL("parallel", "-XX:+UseParallelGC"),
    SERIAL("serial", "-XX:+UseSerialGC"),
}

/** What the scenario was asked to do. */
internal data class GcPressureOptions(
    val users: Int,
    /** Seconds of timed gets per store, per condition (baseline, then under pressure), per collector. */
    val durationSeconds: Double,
    /** Garbage to allocate, in MB (10^6 bytes) per second. */
    val allocRateMBps: Double,
    val gcs: List<GcChoice>,
    /** -Xms and -Xmx of each child JVM, e.g. `2g`. */
    val heap: String,
    val seed: Long,
    /** Both stores in one child JVM per collector, instead of one child JVM per store and collector. */
    val sameJvm: Boolean = false,
)

/** One store under one collector: timed gets without and with the garbage allocator running. */
internal class PressureStoreResult(
    val kind: StoreKind,
    val baseline: Histogram,
    val pressure: Histogram,
    val baselineGc: GcStats,
    val pressureGc: GcStats,
    /** Allocation stalls of this store's lookup thread under garbage, from the GC log. */
    val pressureStalls: StallStats = StallStats.NONE,
    /** The same without the garbage allocator. */
    val baselineStalls: StallStats = StallStats.NONE,
    /** Garbage allocated per second while this store was measured under pressure (its JVM's generator). */
    val achievedBytesPerSecond: Double = 0.0,
)

/** Allocation stalls the GC log reported for one store's lookup thread (ZGC stops allocating threads when it falls behind). */
internal data class StallStats(
    val count: Int,
    val totalMillis: Double,
    val maxMillis: Double,
) {
    companion object {
        val NONE = StallStats(0, 0.0, 0.0)
    }
}

/** A ZGC allocation stall line of `-Xlog:gc`: `Allocation Stall (thread) 12.345ms`. */
private val ALLOCATION_STALL = Regex("Allocation Stall \\((.+?)\\) ([0-9.]+)ms")

/** The allocation stalls in [log], per thread name. */
internal fun allocationStalls(log: List<String>): Map<String, StallStats> =
    log
        .mapNotNull { ALLOCATION_STALL.find(it) }
        .groupBy({ it.groupValues[1] }, { it.groupValues[2].toDouble() })
        .mapValues { (_, ms) -> StallStats(ms.size, ms.sum(), ms.max()) }

/** One child JVM's results: both stores under one collector. */
internal class GcPressureRun(
    val gc: GcChoice,
    /** The collector beans the child reported, e.g. `G1 Young Generation`. */
    val collectors: List<String>,
    val maxHeapBytes: Long,
    val users: Int,
    val askedBytesPerSecond: Double,
    val achievedBytesPerSecond: Double,
    val stores: List<PressureStoreResult>,
    /** The child's `-Xlog:gc` output. */
    val gcLog: List<String> = emptyList(),
) {
    fun of(kind: StoreKind): PressureStoreResult? = stores.firstOrNull { it.kind == kind }
}

/**
 * Runs the scenario: one child JVM per collector (a JVM has one collector for life), each with
 * a fixed heap, loading both stores and measuring both; progress and the child's output go to [log].
 */
internal fun runGcPressure(
    options: GcPressureOptions,
    log: (String) -> Unit,
): List<GcPressureRun> =
    options.gcs.mapIndexed { index, gc ->
        val layout = if (options.sameJvm) "both stores in one JVM" else "one JVM per store"
        log(
            "gc-pressure: ${gc.label}, ${fmtCount(
                options.users,
            )} users, ${options.allocRateMBps} MB/s of garbage, heap ${options.heap}, $layout",
        )
        val choices =
            if (options.sameJvm) {
                listOf(StoreChoice.BOTH)
            } else {
                listOf(StoreChoice.NATIVE, StoreChoice.KOTLIN).let { if (index % 2 == 0) it else it.reversed() }
            }
        val children = choices.map { runWorker(options, gc, it, log) }
        val stores = StoreKind.entries.mapNotNull { kind -> children.firstNotNullOfOrNull { child -> child.of(kind) } }
        GcPressureRun(
            gc,
            children.first().collectors,
            children.first().maxHeapBytes,
            options.users,
            children.first().askedBytesPerSecond,
            children.map { it.achievedBytesPerSecond }.average(),
            stores,
            children.flatMap { it.gcLog },
        )
    }

/** One child JVM under [gc] measuring the stores of [choice]. */
private fun runWorker(
    options: GcPressureOptions,
    gc: GcChoice,
    choice: StoreChoice,
    log: (String) -> Unit,
): GcPressureRun {
    val args =
        listOf(GcPressureWorker.NAME, "--users", options.users.toString(), "--duration", options.durationSeconds.toString()) +
            listOf("--alloc-rate", options.allocRateMBps.toString(), "--seed", options.seed.toString(), "--gc", gc.label) +
            listOf("--store", choice.name.lowercase())
    val expected = (options.durationSeconds * 2 + options.users / 200_000.0) * choice.kinds.size + 10
    val gcLog = Files.createTempFile("userstore-gc-${gc.label}", ".log")
    try {
        val jvm = listOf(gc.flag, "-Xms${options.heap}", "-Xmx${options.heap}", "-Xlog:gc:file=$gcLog")
        val props = ChildJvm.run(jvm, args, expected, log)
        val header = "# -Xlog:gc of the ${gc.label} child JVM measuring ${choice.kinds.joinToString(" and ") { it.label }}"
        return parseRun(gc, props, listOf(header) + Files.readAllLines(gcLog))
    } finally {
        Files.deleteIfExists(gcLog)
    }
}

/** The scenario's results as the child wrote them. */
private fun parseRun(
    gc: GcChoice,
    p: Properties,
    gcLog: List<String>,
): GcPressureRun {
    val stalls = allocationStalls(gcLog)
    val stores =
        StoreKind.entries.filter { p.getProperty("${it.label}.baseline.histogram") != null }.map { kind ->
            PressureStoreResult(
                kind,
                decodeHistogram(p.getProperty("${kind.label}.baseline.histogram")),
                decodeHistogram(p.getProperty("${kind.label}.pressure.histogram")),
                readGc(p, "${kind.label}.baseline.gc"),
                readGc(p, "${kind.label}.pressure.gc"),
                stalls["${kind.label}-pressure-0"] ?: StallStats.NONE,
                stalls["${kind.label}-baseline-0"] ?: StallStats.NONE,
                p.number("achievedBytesPerSecond"),
            )
        }
    return GcPressureRun(
        gc,
        p.getProperty("collectors", "").split(",").filter { it.isNotEmpty() },
        p.long("maxHeapBytes"),
        p.long("users").toInt(),
        p.number("askedBytesPerSecond"),
        p.number("achievedBytesPerSecond"),
        stores,
        gcLog,
    )
}

private fun readGc(
    p: Properties,
    prefix: String,
): GcStats = GcStats(p.long("$prefix.count"), p.long("$prefix.pauseMillis"), p.getProperty("$prefix.maxPauseMillis")?.toLongOrNull())

private fun gcProperties(
    prefix: String,
    gc: GcStats,
): Map<String, Any?> =
    mapOf(
        "$prefix.count" to gc.count,
        "$prefix.pauseMillis" to gc.pauseMillis,
        "$prefix.maxPauseMillis" to gc.maxPauseMillis,
    )

/** A histogram as text (HdrHistogram's compressed encoding, in Base64). */
internal fun encodeHistogram(h: Histogram): String {
    val buffer = ByteBuffer.allocate(h.neededByteBufferCapacity)
    val length = h.encodeIntoCompressedByteBuffer(buffer)
    return Base64.getEncoder().encodeToString(buffer.array().copyOf(length))
}

/** The inverse of [encodeHistogram]. */
internal fun decodeHistogram(text: String?): Histogram {
    if (text == null) throw CliktError("child JVM result lacks a histogram")
    return Histogram.decodeFromCompressedByteBuffer(ByteBuffer.wrap(Base64.getDecoder().decode(text)), 0)
}

private fun fmtCount(n: Int): String = fmt("%,d", n)

/**
 * The hidden worker: runs in a child JVM under one collector, loads both stores, measures timed
 * gets without and with garbage, and writes [Properties] to `--out`.
 */
internal class GcPressureWorker : CliktCommand(name = NAME) {
    override val hiddenFromHelp = true
    private val users by option("--users").int().required()
    private val duration by option("--duration").double().required()
    private val allocRate by option("--alloc-rate").double().required()
    private val seed by option("--seed").long().default(42L)
    private val gcLabel by option("--gc").default("")
    private val store by option("--store").enum<StoreChoice> { it.name.lowercase() }.default(StoreChoice.BOTH)
    private val out by option("--out").path().required()

    override fun help(context: Context): String = "internal: one collector's share of gc-pressure"

    override fun run() {
        val workload = Workload(users, seed)
        val batches = emptyList<LongArray>()
        val ids = workload.lookupIds
        val sliceCount = ceil(duration * NANOS_PER_SECOND / PRESSURE_SLICE_NANOS).toInt().coerceAtLeast(1)
        val sliceNanos = (duration * NANOS_PER_SECOND / sliceCount).toLong()
        val rate = (allocRate * BYTES_PER_MB).toLong()
        val results = mutableMapOf<String, Any?>()
        GcMonitor().use { gc ->
            val stores = store.kinds.map { it to it.create() }
            try {
                for ((kind, store) in stores) {
                    val users = workload.users()
                    for (u in users) store.put(u)
                    println("loaded ${kind.label}: ${users.size} users")
                }
                for ((_, store) in stores) runSlice(LoopKind.TIMED, store, 1, PRESSURE_WARMUP_NANOS, ids, batches)

                fun measure(condition: String) {
                    val histograms = stores.associate { it.first to newHistogram() }
                    val gcs = stores.associate { it.first to GcStats.NONE }.toMutableMap()
                    repeat(sliceCount) { round ->
                        for ((kind, store) in if (round % 2 == 0) stores else stores.reversed()) {
                            val before = gc.snapshot()
                            val slice = runSlice(LoopKind.TIMED, store, 1, sliceNanos, ids, batches, "${kind.label}-$condition")
                            gcs[kind] = gcs.getValue(kind) + gc.stats(before, gc.snapshot())
                            histograms.getValue(kind).add(checkNotNull(slice.histogram))
                        }
                    }
                    for ((kind, _) in stores) {
                        results["${kind.label}.$condition.histogram"] = encodeHistogram(histograms.getValue(kind))
                        results += gcProperties("${kind.label}.$condition.gc", gcs.getValue(kind))
                        val h = histograms.getValue(kind)
                        println("${kind.label} $condition: p99 ${h.getValueAtPercentile(99.0)} ns, max ${h.maxValue} ns")
                    }
                }

                System.gc()
                measure("baseline")
                val ringBytes = rate / KEEP_SHARE * RING_SECONDS
                val generator = GarbageGenerator(rate, ringBytes, seed)
                try {
                    Thread.sleep(PRESSURE_WARMUP_NANOS / 1_000_000)
                    measure("pressure")
                } finally {
                    generator.close()
                }
                results["achievedBytesPerSecond"] = generator.achievedBytesPerSecond
                println("garbage allocated at ${fmt("%.1f", generator.achievedBytesPerSecond / BYTES_PER_MB)} MB/s (asked: $allocRate)")
            } finally {
                stores.forEach { it.second.close() }
            }
        }
        results["gc"] = gcLabel
        results["collectors"] = Environment.collectorNames().joinToString(",")
        results["maxHeapBytes"] = Runtime.getRuntime().maxMemory()
        results["users"] = users
        results["askedBytesPerSecond"] = rate
        ChildJvm.write(out, results)
    }

    companion object {
        const val NAME = "gc-pressure-worker"

        /** One allocation in 16 is kept (see [GarbageGenerator]), so the ring takes 1/16 of the rate. */
        private const val KEEP_SHARE = 16L
    }
}
