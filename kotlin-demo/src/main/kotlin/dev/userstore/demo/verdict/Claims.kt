package dev.userstore.demo.verdict

import dev.userstore.demo.measure.CompareOptions
import dev.userstore.demo.measure.CompareResults
import dev.userstore.demo.measure.DurabilityRun
import dev.userstore.demo.measure.GcPressureOptions
import dev.userstore.demo.measure.GcPressureRun
import dev.userstore.demo.measure.LoopKind
import dev.userstore.demo.measure.PressureStoreResult
import dev.userstore.demo.measure.STARTUP_REPEATS
import dev.userstore.demo.measure.SafetyResult
import dev.userstore.demo.measure.StartupResult
import dev.userstore.demo.measure.StoreKind

/** What `compare` measures beyond the in-process benchmark, to judge the article's claims. */
internal class Extras(
    val startup: List<StartupResult>,
    val safety: List<SafetyResult>,
    val gcPressureOptions: GcPressureOptions?,
    val gcPressure: List<GcPressureRun>,
    /** Fresh JVMs per store behind the start-up figures (medians). */
    val startupRepeats: Int = STARTUP_REPEATS,
    /** The durability scenario (puts memory-only against durable); null if --no-durability. */
    val durability: DurabilityRun? = null,
)

/** The verdict on each claim, from this run's numbers; empty unless both stores were measured. */
internal fun verdicts(
    options: CompareOptions,
    results: CompareResults,
    extras: Extras,
): List<Verdict> {
    val native = results.of(StoreKind.NATIVE) ?: return emptyList()
    val kotlin = results.of(StoreKind.KOTLIN) ?: return emptyList()
    val cases =
        extras.gcPressure.mapNotNull { run ->
            val n = run.of(StoreKind.NATIVE) ?: return@mapNotNull null
            val k = run.of(StoreKind.KOTLIN) ?: return@mapNotNull null
            Verdicts.GcCase(run.gc.label, tail(n), tail(k))
        }
    val startN = extras.startup.firstOrNull { it.kind == StoreKind.NATIVE }
    val startK = extras.startup.firstOrNull { it.kind == StoreKind.KOTLIN }
    val safeN = extras.safety.firstOrNull { it.kind == StoreKind.NATIVE }
    val safeK = extras.safety.firstOrNull { it.kind == StoreKind.KOTLIN }
    val users = options.users.toDouble()
    return listOfNotNull(
        Verdicts.gcSpikes(cases),
        Verdicts.memory(native.load.totalBytes / users, kotlin.load.totalBytes / users),
        if (startN != null && startK != null) Verdicts.warmup(warmup(startN), warmup(startK)) else null,
        Verdicts.throughput(
            linkedMapOf(
                "get" to native.phase(LoopKind.UNTIMED).opsPerSecond / kotlin.phase(LoopKind.UNTIMED).opsPerSecond,
                "getMany per id" to native.phase(LoopKind.BATCH).opsPerSecond / kotlin.phase(LoopKind.BATCH).opsPerSecond,
                "load (put)" to native.load.usersPerSecond / kotlin.load.usersPerSecond,
            ),
        ),
        if (safeN != null && safeK != null) Verdicts.safety(safeN, safeK) else null,
    )
}

private fun tail(s: PressureStoreResult): Verdicts.Tail =
    Verdicts.Tail(
        baselineP999 = s.baseline.getValueAtPercentile(99.9).toDouble(),
        pressureP999 = s.pressure.getValueAtPercentile(99.9).toDouble(),
        pressureMax = s.pressure.maxValue.toDouble(),
        gcCount = s.pressureGc.count,
        gcMaxPauseMillis = s.pressureGc.maxPauseMillis,
        stalls = s.pressureStalls.count,
        stallMaxMillis = s.pressureStalls.maxMillis,
    )

private fun warmup(s: StartupResult): Verdicts.Warmup =
    Verdicts.Warmup(s.jvmToFirstGetMillis, s.storeStartNanos, s.chunkMeans.first(), s.steadyMeanNanos)
