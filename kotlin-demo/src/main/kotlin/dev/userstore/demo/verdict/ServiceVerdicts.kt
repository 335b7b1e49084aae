package dev.userstore.demo.verdict

import dev.userstore.demo.format.fmt

/**
 * One service's figures from one load-test run (`./gradlew loadtest`: medians over its repeats), as the
 * service-level verdicts need them. Null where the run did not measure it.
 */
internal data class ServiceFigures(
    /** `rust`, `kotlin-native@17-G1`, `kotlin-kotlin@25-ZGC`, ... */
    val name: String,
    /** True for the Rust binary, false for a JVM service. */
    val rust: Boolean,
    /** The store behind it: `native` (the Rust core) or `kotlin`. */
    val store: String,
    /** Spawn to the first 200 of GET /health, with no users. */
    val startupMillis: Double?,
    /** Spawn to the first 200 when opening a snapshot (of [Services.snapshotUsers] users). */
    val startupSnapshotMillis: Double?,
    /** Resident memory with no users, MiB. */
    val idleRssMiB: Double?,
    /** Resident memory after preloading [Services.users] users, MiB. */
    val loadedRssMiB: Double?,
    /** Closed-loop capacity at [Services.users] users, requests/s. */
    val capacityRps: Double?,
    /** GET p50 at the lower constant rate (ms). */
    val p50Ms: Double?,
    /** GET p99.9 at the higher constant rate (ms). */
    val p999Ms: Double?,
    /** The longest GC pause of a JVM service during that constant-rate phase (ms); null for Rust. */
    val gcMaxPauseMs: Double?,
    /** The first requests' latency over the steady state's (see the load test's schema); 1.0 = no warm-up. */
    val warmupRatio: Double?,
    /** Idle instances per GiB of resident memory (density run). */
    val perGiB: Double?,
    /** [startupMillis] of the same JVM started from its JDK 25+ ahead-of-time cache (JEP 483/514); null if not run. */
    val startupAotMillis: Double? = null,
)

/** The services of one load-test run at its largest user count. */
internal data class Services(
    val users: Long,
    val snapshotUsers: Long,
    /** Fraction of the lowest capacity behind [ServiceFigures.p999Ms] (e.g. 0.8). */
    val highFraction: Double,
    val lowFraction: Double,
    /** This machine's memory, GiB, for "how many services fit on this node". */
    val nodeMemoryGiB: Double,
    val rust: ServiceFigures,
    val jvms: List<ServiceFigures>,
)

/**
 * The article's claims about whole backends, judged where it makes them: the Rust service against the Kotlin
 * services under one load test. Every threshold is a named constant; the in-process verdicts ([Verdicts]) stay
 * apart.
 */
internal object ServiceVerdicts {
    /** Start-up and memory hold when the Rust service takes at most this share of the best JVM service's. */
    const val HOLDS_AT_MOST = 0.5

    /** ...and do not hold when it takes at least as much. */
    const val FAILS_AT_LEAST = 1.0

    /** "Hundreds of services on a single node": at least this many idle Rust services fit in this machine's memory... */
    const val HUNDREDS = 200.0

    /** ...and at least this many times as many as JVM services. */
    const val DENSITY_VS_JVM = 10.0

    /** The GC claim at the service level: the Kotlin-store service's p99.9 at least this many times the Rust service's. */
    const val TAIL_FACTOR = 2.0

    /** A warm-up: the first requests at least this many times slower than the steady state. */
    const val WARMUP_FACTOR = Verdicts.WARMUP_FACTOR

    const val STARTUP_CLAIM = "Service start-up time is fast: the Rust service against the JVM services, spawn to first 200"
    const val MEMORY_CLAIM = "Service memory footprint is small: resident memory idle and loaded"
    const val DENSITY_CLAIM = "You can run hundreds of Rust services on a single node"
    const val GC_CLAIM = "GC pauses cause latency spikes: p99.9 of the services under the same constant load"
    const val THROUGHPUT_CLAIM = "Throughput of whole services: closed-loop capacity"
    const val LATENCY_CLAIM = "Per-request latency of whole services: p50 under the same constant load"
    const val WARMUP_CLAIM = "Warm-up of whole services: the JVM services' first requests are slower, the Rust service's are not"

    /** Every service-level verdict this run's figures allow. */
    fun all(s: Services): List<Verdict> = listOfNotNull(startup(s), memory(s), density(s), gcTails(s), throughput(s), latency(s), warmup(s))

    /**
     * The service verdicts of the report: those of the HTTP load test ([s], null when it has none) and, when a database
     * load test exists ([db]), the row on the article's handler on a database ([DbVerdicts.handler]).
     */
    fun all(
        s: Services?,
        db: DbLoadTestSummary?,
    ): List<Verdict> = s?.let(::all).orEmpty() + listOfNotNull(db?.let(DbVerdicts::handler))

    fun startup(s: Services): Verdict? {
        val rust = s.rust.startupMillis ?: return null
        val best = s.jvms.filter { it.startupMillis != null }.minByOrNull { it.startupMillis!! } ?: return null
        val r = rust / best.startupMillis!!
        // The JVM at its best without GraalVM: started from JDK 25's ahead-of-time cache, where the run had one.
        val aot = s.jvms.filter { it.startupAotMillis != null }.minByOrNull { it.startupAotMillis!! }
        val rAot = aot?.let { rust / it.startupAotMillis!! }
        val aotText =
            if (aot == null) {
                ""
            } else {
                "; from its ahead-of-time cache (JDK 25) the fastest JVM service, ${aot.name}+aot, ${ms(aot.startupAotMillis!!)} " +
                    "(${x(rAot!!)}; judged against this one)"
            }
        val snapshot =
            s.rust.startupSnapshotMillis?.let { rs ->
                val js = s.jvms.mapNotNull { j -> j.startupSnapshotMillis?.let { j.name to it } }.minByOrNull { it.second }
                "; opening a ${fmt("%,d", s.snapshotUsers)}-user snapshot: rust ${ms(rs)}" +
                    (js?.let { ", ${it.first} ${ms(it.second)} (${x(rs / it.second)})" } ?: "")
            } ?: ""
        return Verdict(
            STARTUP_CLAIM,
            ratioOutcome(maxOf(r, rAot ?: r)),
            "with no users: rust ${ms(rust)}, the fastest JVM service ${best.name} ${ms(best.startupMillis)} (${x(r)})$aotText$snapshot " +
                "(holds at <= ${HOLDS_AT_MOST}x, does not hold at >= ${FAILS_AT_LEAST}x).",
        )
    }

    fun memory(s: Services): Verdict? {
        val idle = s.rust.idleRssMiB ?: return null
        val jvmIdle = s.jvms.mapNotNull { j -> j.idleRssMiB?.let { j to it } }.minByOrNull { it.second } ?: return null
        val rIdle = idle / jvmIdle.second
        val loaded = s.rust.loadedRssMiB
        val kotlinLoaded = s.jvms.filter { it.store == "kotlin" && it.loadedRssMiB != null }.minByOrNull { it.loadedRssMiB!! }
        val rLoaded = if (loaded != null && kotlinLoaded != null) loaded / kotlinLoaded.loadedRssMiB!! else null
        val outcome =
            when {
                rLoaded == null -> ratioOutcome(rIdle)
                ratioOutcome(rIdle) == ratioOutcome(rLoaded) -> ratioOutcome(rIdle)
                else -> Outcome.DEPENDS
            }
        val loadedText =
            if (rLoaded == null) {
                ""
            } else {
                "; with ${fmt("%,d", s.users)} users rust ${mib(loaded!!)}, ${kotlinLoaded!!.name} ${mib(kotlinLoaded.loadedRssMiB!!)} " +
                    "(${x(rLoaded)})"
            }
        return Verdict(
            MEMORY_CLAIM,
            outcome,
            "idle: rust ${mib(idle)}, the smallest JVM service ${jvmIdle.first.name} ${mib(jvmIdle.second)} (${x(rIdle)})$loadedText " +
                "(holds at <= ${HOLDS_AT_MOST}x, does not hold at >= ${FAILS_AT_LEAST}x).",
        )
    }

    fun density(s: Services): Verdict? {
        val rust = s.rust.perGiB ?: return null
        val jvm = s.jvms.mapNotNull { j -> j.perGiB?.let { j to it } }.maxByOrNull { it.second }
        val fitRust = rust * s.nodeMemoryGiB
        val vsJvm = jvm?.let { rust / it.second }
        val outcome =
            when {
                fitRust < HUNDREDS / 2 -> Outcome.DOES_NOT_HOLD
                fitRust >= HUNDREDS && (vsJvm == null || vsJvm >= DENSITY_VS_JVM) -> Outcome.HOLDS
                else -> Outcome.DEPENDS
            }
        val jvmText =
            jvm?.let {
                "; the densest JVM service ${it.first.name} ${fmt(
                    "%,.1f",
                    it.second,
                )} per GiB (${fmt("%,.0f", it.second * s.nodeMemoryGiB)}; " +
                    "rust ${x(vsJvm!!)})"
            } ?: ""
        return Verdict(
            DENSITY_CLAIM,
            outcome,
            "idle instances measured side by side: rust ${fmt("%,.1f", rust)} per GiB of resident memory, so " +
                "${fmt("%,.0f", fitRust)} on this ${fmt("%.0f", s.nodeMemoryGiB)} GiB machine$jvmText (holds at >= " +
                "${fmt("%.0f", HUNDREDS)} and >= ${fmt("%.0f", DENSITY_VS_JVM)}x the JVM's; idle services only: real ones add their data).",
        )
    }

    fun gcTails(s: Services): Verdict? {
        val rust = s.rust.p999Ms ?: return null
        val kotlinStore = s.jvms.filter { it.store == "kotlin" && it.p999Ms != null }
        if (kotlinStore.isEmpty()) return null
        val spikes = kotlinStore.associateWith { it.p999Ms!! >= TAIL_FACTOR * rust }
        val outcome =
            when {
                spikes.values.all { it } -> Outcome.HOLDS
                spikes.values.none { it } -> Outcome.DOES_NOT_HOLD
                else -> Outcome.DEPENDS
            }
        val details =
            kotlinStore.joinToString("; ") { k ->
                "${k.name} ${ms(k.p999Ms!!)} (${x(k.p999Ms / rust)} rust's" +
                    (k.gcMaxPauseMs?.let { p -> ", longest GC pause ${ms(p)}" } ?: "") + ")"
            }
        return Verdict(
            GC_CLAIM,
            outcome,
            "at ${pct(s.highFraction)} of the lowest capacity, ${fmt("%,d", s.users)} users: rust ${ms(rust)}; $details " +
                "(holds where the Kotlin-store service's p99.9 is >= ${TAIL_FACTOR}x rust's).",
        )
    }

    fun throughput(s: Services): Verdict? {
        val rust = s.rust.capacityRps ?: return null
        val best = s.jvms.filter { it.capacityRps != null }.maxByOrNull { it.capacityRps!! } ?: return null
        val r = rust / best.capacityRps!!
        val outcome =
            when {
                r >= Verdicts.FASTER_AT_LEAST -> Outcome.HOLDS
                r <= 1 / Verdicts.FASTER_AT_LEAST -> Outcome.DOES_NOT_HOLD
                else -> Outcome.DEPENDS
            }
        return Verdict(
            THROUGHPUT_CLAIM,
            outcome,
            "${fmt("%,d", s.users)} users: rust ${rps(rust)}, the best JVM service ${best.name} ${rps(best.capacityRps)} (${x(r)}; " +
                "faster at >= ${Verdicts.FASTER_AT_LEAST}x, slower at <= ${fmt("%.2f", 1 / Verdicts.FASTER_AT_LEAST)}x).",
        )
    }

    fun latency(s: Services): Verdict? {
        val rust = s.rust.p50Ms ?: return null
        val best = s.jvms.filter { it.p50Ms != null }.minByOrNull { it.p50Ms!! } ?: return null
        val r = rust / best.p50Ms!!
        val outcome =
            when {
                r <= 1 / Verdicts.FASTER_AT_LEAST -> Outcome.HOLDS
                r >= Verdicts.FASTER_AT_LEAST -> Outcome.DOES_NOT_HOLD
                else -> Outcome.DEPENDS
            }
        return Verdict(
            LATENCY_CLAIM,
            outcome,
            "at ${pct(s.lowFraction)} of the lowest capacity: rust p50 ${ms(rust)}, the fastest JVM service ${best.name} " +
                "${ms(best.p50Ms)} (${x(r)}; faster at <= ${fmt("%.2f", 1 / Verdicts.FASTER_AT_LEAST)}x).",
        )
    }

    fun warmup(s: Services): Verdict? {
        val rust = s.rust.warmupRatio ?: return null
        val jvms = s.jvms.filter { it.warmupRatio != null }
        if (jvms.isEmpty()) return null
        val jvmWarms = jvms.filter { it.warmupRatio!! >= WARMUP_FACTOR && it.warmupRatio >= Verdicts.WARMUP_VS_NATIVE * rust }
        val outcome =
            when {
                rust >= WARMUP_FACTOR -> Outcome.DOES_NOT_HOLD
                jvmWarms.size == jvms.size -> Outcome.HOLDS
                jvmWarms.isEmpty() -> Outcome.DOES_NOT_HOLD
                else -> Outcome.DEPENDS
            }
        return Verdict(
            WARMUP_CLAIM,
            outcome,
            "first requests over steady state: rust ${x(rust)}; " + jvms.joinToString(", ") { "${it.name} ${x(it.warmupRatio!!)}" } +
                " (a warm-up at >= ${WARMUP_FACTOR}x and >= ${Verdicts.WARMUP_VS_NATIVE}x rust's).",
        )
    }

    private fun ratioOutcome(r: Double): Outcome =
        when {
            !r.isFinite() -> Outcome.DEPENDS
            r <= HOLDS_AT_MOST -> Outcome.HOLDS
            r >= FAILS_AT_LEAST -> Outcome.DOES_NOT_HOLD
            else -> Outcome.DEPENDS
        }

    private fun ms(v: Double): String = if (v >= 100) fmt("%,.0f ms", v) else fmt("%.2f ms", v)

    private fun mib(v: Double): String = fmt("%,.1f MiB", v)

    private fun rps(v: Double): String = fmt("%,.0f req/s", v)

    private fun pct(f: Double): String = fmt("%.0f%%", f * 100)

    /** A ratio with two decimals, three below 0.1 (a start-up ratio of 0.002 must not read 0.00). */
    private fun x(r: Double): String =
        when {
            !r.isFinite() -> "n/a"
            r < 0.1 -> fmt("%.3fx", r)
            else -> fmt("%.2fx", r)
        }
}
