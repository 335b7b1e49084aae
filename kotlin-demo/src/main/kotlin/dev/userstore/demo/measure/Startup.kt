package dev.userstore.demo.measure

import com.github.ajalt.clikt.core.CliktCommand
import com.github.ajalt.clikt.core.Context
import com.github.ajalt.clikt.parameters.options.default
import com.github.ajalt.clikt.parameters.options.option
import com.github.ajalt.clikt.parameters.options.required
import com.github.ajalt.clikt.parameters.types.enum
import com.github.ajalt.clikt.parameters.types.int
import com.github.ajalt.clikt.parameters.types.path
import dev.userstore.User
import dev.userstore.demo.format.fmt
import java.lang.management.ManagementFactory
import java.util.SplittableRandom

/** Users the start-up probe puts before timing gets. */
internal const val STARTUP_USERS = 10_000

/** Gets per timed chunk of the warm-up curve. */
internal const val WARMUP_CHUNK = 1_000

/** Chunks in the warm-up curve. */
internal const val WARMUP_CHUNKS = 400

/** Steady state is the median chunk of the curve's last quarter. */
private const val STEADY_TAIL_SHARE = 4

/** A chunk counts as warmed up once it is within this factor of steady state. */
internal const val WARM_WITHIN = 1.5

/**
 * Start-up and warm-up of one store, measured in a fresh JVM: how long from the JVM's start until
 * the first get was answered, what creating the store and the first put and get cost, and the
 * mean time per get of successive chunks of [chunk] gets (the JIT at work).
 */
internal class StartupResult(
    val kind: StoreKind,
    /** From the JVM's start until the first get returned, in ms (JVM boot and class loading included). */
    val jvmToFirstGetMillis: Double,
    /** Creating the store (loading the native library, for native), in ns. */
    val createNanos: Long,
    val firstPutNanos: Long,
    val firstGetNanos: Long,
    /** Gets per chunk. */
    val chunk: Int,
    /** Mean ns per get of each chunk, in order. */
    val chunkMeans: List<Double>,
) {
    /** Creating the store and its first put and get, in ns. */
    val storeStartNanos: Long get() = createNanos + firstPutNanos + firstGetNanos

    /** Median of the last quarter of the chunks. */
    val steadyMeanNanos: Double
        get() = chunkMeans.takeLast((chunkMeans.size / STEADY_TAIL_SHARE).coerceAtLeast(1)).sorted().let { it[it.size / 2] }

    /** The first chunk's mean time per get over steady state's. */
    val warmupRatio: Double get() = chunkMeans.first() / steadyMeanNanos

    /** Gets done before the first chunk within [WARM_WITHIN] of steady state. */
    val getsToWarm: Long get() = chunkMeans.indexOfFirst { it <= steadyMeanNanos * WARM_WITHIN }.toLong() * chunk
}

/** Fresh JVMs per store; the figures are medians over them (start-up is noisy on a shared machine). */
internal const val STARTUP_REPEATS = 3

/**
 * Runs the probe [STARTUP_REPEATS] times for each of [kinds], each in its own JVM (default collector
 * and heap), the stores taking turns; every figure is the median over the repeats (the warm-up
 * curve chunk by chunk).
 */
internal fun runStartup(
    kinds: List<StoreKind>,
    log: (String) -> Unit,
    repeats: Int = STARTUP_REPEATS,
): List<StartupResult> {
    val runs = kinds.associateWith { mutableListOf<StartupResult>() }
    repeat(repeats) { round ->
        for (kind in if (round % 2 == 0) kinds else kinds.reversed()) {
            val p = ChildJvm.run(emptyList(), listOf(StartupProbe.NAME, "--store", kind.label), 30.0, log)
            runs.getValue(kind) +=
                StartupResult(
                    kind,
                    p.number("jvmToFirstGetMillis"),
                    p.long("createNanos"),
                    p.long("firstPutNanos"),
                    p.long("firstGetNanos"),
                    p.long("chunk").toInt(),
                    p.getProperty("chunkMeans", "").split(",").mapNotNull { it.toDoubleOrNull() },
                )
        }
    }
    return kinds.map { kind ->
        val r = runs.getValue(kind)
        StartupResult(
            kind,
            median(r.map { it.jvmToFirstGetMillis }),
            median(r.map { it.createNanos.toDouble() }).toLong(),
            median(r.map { it.firstPutNanos.toDouble() }).toLong(),
            median(r.map { it.firstGetNanos.toDouble() }).toLong(),
            r.first().chunk,
            r
                .first()
                .chunkMeans.indices
                .map { i -> median(r.map { it.chunkMeans[i] }) },
        )
    }
}

/** The median of [values] (the lower middle one for an even count). */
internal fun median(values: List<Double>): Double = values.sorted()[(values.size - 1) / 2]

/** The hidden probe behind [runStartup]: the first thing this JVM does is create the store. */
internal class StartupProbe : CliktCommand(name = NAME) {
    override val hiddenFromHelp = true
    private val store by option("--store").enum<StoreKind> { it.label }.required()
    private val chunks by option("--chunks").int().default(WARMUP_CHUNKS)
    private val out by option("--out").path().required()

    override fun help(context: Context): String = "internal: start-up and warm-up of one store in a fresh JVM"

    override fun run() {
        val t0 = System.nanoTime()
        val s = store.create()
        val t1 = System.nanoTime()
        s.use {
            s.put(User(0, nameFor(0)))
            val t2 = System.nanoTime()
            val first = s.get(0)
            val t3 = System.nanoTime()
            val uptime = ManagementFactory.getRuntimeMXBean().uptime
            check(first?.id == 0L) { "the first get did not return the user put" }
            for (id in 1 until STARTUP_USERS) s.put(User(id.toLong(), nameFor(id.toLong())))
            val random = SplittableRandom(1)
            val ids = LongArray(WARMUP_CHUNK * chunks) { random.nextLong(STARTUP_USERS.toLong()) }
            val means = DoubleArray(chunks)
            var sink = 0L
            for (c in 0 until chunks) {
                val start = System.nanoTime()
                for (i in c * WARMUP_CHUNK until (c + 1) * WARMUP_CHUNK) sink += s.get(ids[i])?.name?.length ?: -1
                means[c] = (System.nanoTime() - start).toDouble() / WARMUP_CHUNK
            }
            check(sink > 0)
            ChildJvm.write(
                out,
                mapOf(
                    "jvmToFirstGetMillis" to uptime,
                    "createNanos" to t1 - t0,
                    "firstPutNanos" to t2 - t1,
                    "firstGetNanos" to t3 - t2,
                    "chunk" to WARMUP_CHUNK,
                    "chunkMeans" to means.joinToString(",") { fmt("%.1f", it) },
                ),
            )
        }
    }

    companion object {
        const val NAME = "startup-probe"
    }
}
