package dev.userstore.demo.verdict

import dev.userstore.demo.format.fmt
import dev.userstore.demo.format.oneDecimal
import dev.userstore.demo.format.ratio
import dev.userstore.demo.measure.SafetyResult

/** What a claim came to in this run. */
enum class Outcome(
    val text: String,
) {
    HOLDS("holds"),
    DOES_NOT_HOLD("does not hold"),
    DEPENDS("depends"),

    /** The part of the run that would decide it was switched off (e.g. --no-gc-pressure). */
    NOT_MEASURED("not measured"),
}

/** A claim of the article, its outcome and one sentence of why, with this run's numbers. */
internal data class Verdict(
    val claim: String,
    val outcome: Outcome,
    val why: String,
)

/**
 * The rules that turn a run's numbers into verdicts. Every threshold is a named constant here
 * (and in the README); nothing is decided in advance of the numbers.
 */
internal object Verdicts {
    /** Memory holds when native bytes per user are at most this share of Kotlin's. */
    const val MEMORY_HOLDS_AT_MOST = 0.5

    /** Memory does not hold when native bytes per user are at least this share of Kotlin's. */
    const val MEMORY_FAILS_AT_LEAST = 1.0

    /** A latency spike: p99.9 under garbage pressure at least this many times the same store's p99.9 without. */
    const val SPIKE_FACTOR = 2.0

    /** ...and at least this many times the other store's p99.9 under the same pressure. */
    const val SPIKE_VS_NATIVE = 2.0

    /**
     * Or: the collector itself stopped Kotlin's lookup thread (longest GC pause or allocation stall)
     * for at least this many ms, and at least [SPIKE_VS_NATIVE] x as long as it stopped native's.
     */
    const val SPIKE_STOP_MILLIS = 50.0

    /** A throughput ratio (native/kotlin) at least this is "native faster". */
    const val FASTER_AT_LEAST = 1.10

    /** The JIT visibly speeds Kotlin up: its first chunk is at least this many times slower than steady state. */
    const val WARMUP_FACTOR = 2.0

    /** ...and Kotlin's warm-up factor is at least this many times native's. */
    const val WARMUP_VS_NATIVE = 1.5

    const val GC_CLAIM = "GC pauses cause latency spikes"
    const val MEMORY_CLAIM = "Rust's memory footprint is smaller"
    const val WARMUP_CLAIM = "Start-up and warm-up: the JVM needs to warm up (the JIT gets faster as it runs), Rust does not"
    const val THROUGHPUT_CLAIM = "Throughput: the Rust store (through the JVM's default binding) is faster than the pure-Kotlin store"
    const val SAFETY_CLAIM = "Safety at the boundary: hostile input gets a clean exception and leaves the store unchanged"

    /** Tail latencies of one store under one collector, in ns. */
    data class Tail(
        val baselineP999: Double,
        val pressureP999: Double,
        val pressureMax: Double,
        val gcCount: Long,
        val gcMaxPauseMillis: Long?,
        /** Allocation stalls of the lookup thread under garbage (from the GC log), and the longest. */
        val stalls: Int = 0,
        val stallMaxMillis: Double = 0.0,
    ) {
        /** The longest time the collector stopped this lookup thread: a pause or an allocation stall. */
        val gcStopMillis: Double get() = maxOf((gcMaxPauseMillis ?: 0).toDouble(), stallMaxMillis)
    }

    /** One collector's numbers for both stores. */
    data class GcCase(
        val gc: String,
        val native: Tail,
        val kotlin: Tail,
    )

    /**
     * Kotlin spikes under a collector when its p99.9 under pressure is >= [SPIKE_FACTOR] x its own
     * p99.9 without pressure and >= [SPIKE_VS_NATIVE] x native's p99.9 under the same pressure, or
     * when the collector stopped its lookup thread for >= [SPIKE_STOP_MILLIS] ms and >= [SPIKE_VS_NATIVE] x
     * as long as native's. Holds if Kotlin spikes under every collector measured; does not hold if
     * under none; depends otherwise.
     */
    fun gcSpikes(cases: List<GcCase>): Verdict {
        if (cases.isEmpty()) return Verdict(GC_CLAIM, Outcome.NOT_MEASURED, "the GC-pressure scenario was not run (--no-gc-pressure).")
        val spikes = cases.associateWith { spikes(it) }
        val outcome =
            when {
                spikes.values.all { it } -> Outcome.HOLDS
                spikes.values.none { it } -> Outcome.DOES_NOT_HOLD
                else -> Outcome.DEPENDS
            }
        val details =
            cases.joinToString("; ") { c ->
                "${c.gc}: kotlin p99.9 ${us(c.kotlin.pressureP999)} µs under garbage vs ${us(c.kotlin.baselineP999)} without " +
                    "(${x(c.kotlin.pressureP999 / c.kotlin.baselineP999)}), native ${us(c.native.pressureP999)} µs " +
                    "(kotlin/native ${x(c.kotlin.pressureP999 / c.native.pressureP999)}), max kotlin ${us(c.kotlin.pressureMax)} / " +
                    "native ${us(c.native.pressureMax)} µs, longest GC stop of the lookup thread kotlin " +
                    "${fmt("%,.0f", c.kotlin.gcStopMillis)} / native ${fmt("%,.0f", c.native.gcStopMillis)} ms" + stalls(c) +
                    (if (spikes.getValue(c)) " - a spike" else " - no spike by the rule")
            }
        return Verdict(GC_CLAIM, outcome, "$details.")
    }

    private fun stalls(c: GcCase): String =
        if (c.kotlin.stalls + c.native.stalls == 0) {
            ""
        } else {
            ", allocation stalls kotlin ${c.kotlin.stalls} (longest ${fmt("%,.0f", c.kotlin.stallMaxMillis)} ms) / native " +
                "${c.native.stalls} (${fmt("%,.0f", c.native.stallMaxMillis)} ms)"
        }

    private fun spikes(c: GcCase): Boolean {
        val tail =
            c.kotlin.pressureP999 >= SPIKE_FACTOR * c.kotlin.baselineP999 &&
                c.kotlin.pressureP999 >= SPIKE_VS_NATIVE * c.native.pressureP999
        val stop = c.kotlin.gcStopMillis >= SPIKE_STOP_MILLIS && c.kotlin.gcStopMillis >= SPIKE_VS_NATIVE * c.native.gcStopMillis
        return tail || stop
    }

    /** Holds if native B/user <= [MEMORY_HOLDS_AT_MOST] x Kotlin's; does not hold if >= [MEMORY_FAILS_AT_LEAST] x; depends between. */
    fun memory(
        nativeBytesPerUser: Double,
        kotlinBytesPerUser: Double,
    ): Verdict {
        val r = nativeBytesPerUser / kotlinBytesPerUser
        val outcome =
            when {
                !r.isFinite() || kotlinBytesPerUser <= 0 -> Outcome.DEPENDS
                r <= MEMORY_HOLDS_AT_MOST -> Outcome.HOLDS
                r >= MEMORY_FAILS_AT_LEAST -> Outcome.DOES_NOT_HOLD
                else -> Outcome.DEPENDS
            }
        val why =
            "native took ${oneDecimal(nativeBytesPerUser)} B/user and kotlin ${oneDecimal(kotlinBytesPerUser)} B/user " +
                "(${x(r)}; holds at <= ${MEMORY_HOLDS_AT_MOST}x, does not hold at >= ${MEMORY_FAILS_AT_LEAST}x)."
        return Verdict(MEMORY_CLAIM, outcome, why)
    }

    /** Start-up and warm-up figures of one store, from its own fresh JVM. */
    data class Warmup(
        val jvmToFirstGetMillis: Double,
        val storeStartNanos: Long,
        val firstChunkNanos: Double,
        val steadyNanos: Double,
    ) {
        val ratio: Double get() = firstChunkNanos / steadyNanos
    }

    /**
     * The JIT claim stands when Kotlin's first chunk of gets is >= [WARMUP_FACTOR] x its steady state
     * and that factor is >= [WARMUP_VS_NATIVE] x native's. Then: holds if native also reaches its
     * first get no later (JVM start to first get), depends if native starts slower (loading the
     * library); does not hold when the JIT claim does not stand.
     */
    fun warmup(
        native: Warmup,
        kotlin: Warmup,
    ): Verdict {
        val jit = kotlin.ratio >= WARMUP_FACTOR && kotlin.ratio >= WARMUP_VS_NATIVE * native.ratio
        val nativeStartsFaster = native.jvmToFirstGetMillis <= kotlin.jvmToFirstGetMillis
        val outcome =
            when {
                !jit -> Outcome.DOES_NOT_HOLD
                nativeStartsFaster -> Outcome.HOLDS
                else -> Outcome.DEPENDS
            }
        val why =
            "the first 1,000 gets took ${x(kotlin.ratio)} kotlin's steady time per get (${oneDecimal(kotlin.firstChunkNanos)} vs " +
                "${oneDecimal(kotlin.steadyNanos)} ns) and ${x(native.ratio)} native's (${oneDecimal(native.firstChunkNanos)} vs " +
                "${oneDecimal(native.steadyNanos)} ns); from JVM start to the first get answered: native " +
                "${oneDecimal(native.jvmToFirstGetMillis)} ms, kotlin ${oneDecimal(kotlin.jvmToFirstGetMillis)} ms " +
                "(store creation + first put + first get: native ${ms(native.storeStartNanos)}, kotlin ${ms(kotlin.storeStartNanos)} ms)."
        return Verdict(WARMUP_CLAIM, outcome, why)
    }

    /** Throughput ratios native/kotlin: holds if all are >= [FASTER_AT_LEAST]; does not hold if none is; depends otherwise. */
    fun throughput(ratios: Map<String, Double>): Verdict {
        val faster = ratios.filterValues { it >= FASTER_AT_LEAST }
        val outcome =
            when (faster.size) {
                ratios.size -> Outcome.HOLDS
                0 -> Outcome.DOES_NOT_HOLD
                else -> Outcome.DEPENDS
            }
        val why =
            "native/kotlin " + ratios.entries.joinToString(", ") { (name, r) -> "$name ${x(r)}" } +
                " (native counts as faster at >= ${FASTER_AT_LEAST}x)."
        return Verdict(THROUGHPUT_CLAIM, outcome, why)
    }

    /** Holds if every hostile call was clean and both stores unchanged; does not hold if native failed any; depends if only Kotlin did. */
    fun safety(
        native: SafetyResult,
        kotlin: SafetyResult,
    ): Verdict {
        val outcome =
            when {
                native.allClean && kotlin.allClean -> Outcome.HOLDS
                !native.allClean -> Outcome.DOES_NOT_HOLD
                else -> Outcome.DEPENDS
            }
        val failures = (native.outcomes + kotlin.outcomes).filterNot { it.clean }.map { "${it.name}: ${it.outcome}" }.distinct()
        val why =
            "native: ${native.clean}/${native.calls} hostile calls got the expected exception, store " +
                (if (native.unchanged) "unchanged" else "CHANGED") + "; kotlin: ${kotlin.clean}/${kotlin.calls}, store " +
                (if (kotlin.unchanged) "unchanged" else "CHANGED") +
                (if (failures.isEmpty()) "" else " (${failures.take(3).joinToString("; ")})") + "."
        return Verdict(SAFETY_CLAIM, outcome, why)
    }

    private fun us(nanos: Double): String = fmt("%,.1f", nanos / 1e3)

    private fun ms(nanos: Long): String = fmt("%.1f", nanos / 1e6)

    private fun x(r: Double): String = if (r.isFinite()) fmt("%.2fx", r) else "n/a"
}
