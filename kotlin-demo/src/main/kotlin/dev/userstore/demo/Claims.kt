package dev.userstore.demo

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

/** The console lines after the main table: start-up, safety, the GC-pressure table and the verdicts. */
internal fun extrasText(
    extras: Extras,
    verdicts: List<Verdict>,
): List<String> {
    val lines = mutableListOf<String>()
    if (extras.startup.isNotEmpty()) {
        lines += ""
        lines +=
            "Start-up and warm-up (each store in ${plural(extras.startupRepeats, "fresh JVM")}, default GC, medians; " +
            "${fmt("%,d", STARTUP_USERS)} users, chunks of $WARMUP_CHUNK gets):"
        for (s in extras.startup) {
            lines +=
                "- ${s.kind.label}: JVM start to first get answered ${oneDecimal(
                    s.jvmToFirstGetMillis,
                )} ms; create + first put + first get " +
                "${fmt("%.2f", s.storeStartNanos / 1e6)} ms; first chunk ${oneDecimal(s.chunkMeans.first())} ns/get, steady " +
                "${oneDecimal(s.steadyMeanNanos)} ns/get (${fmt("%.2f", s.warmupRatio)}x), within ${WARM_WITHIN}x of steady after " +
                "${fmt("%,d", s.getsToWarm)} gets"
        }
    }
    if (extras.safety.isNotEmpty()) {
        lines += ""
        lines +=
            "Safety at the boundary ($HOSTILE_CALLS hostile calls per store: invalid ids and names, lone surrogates, malformed JSON, calls after close):"
        for (s in extras.safety) {
            val bad = s.outcomes.filterNot { it.clean }
            lines += "- ${s.kind.label}: ${s.clean}/${s.calls} clean exceptions, store ${if (s.unchanged) "unchanged" else "CHANGED"}" +
                (if (bad.isEmpty()) "" else "; not clean: " + bad.joinToString("; ") { "${it.name} (${it.outcome})" })
        }
    }
    extras.durability?.let { lines += durabilityText(it) }
    if (extras.gcPressure.isNotEmpty()) {
        lines += ""
        lines += gcPressureTable(extras.gcPressure, extras.gcPressureOptions?.sameJvm ?: false)
    }
    if (verdicts.isNotEmpty()) {
        lines += ""
        lines += "Verdicts on the article's claims (computed from this run's numbers; rules in the README):"
        verdicts.forEach { lines += "- ${it.claim}: ${it.outcome.text.uppercase()}. ${it.why}" }
    }
    return lines
}

/** The console lines of the service-level verdicts, from the latest load test (none when it predates the Rust service). */
internal fun serviceVerdictsText(loadTest: LoadTestSummary?): List<String> {
    val services = loadTest?.services ?: return emptyList()
    val source = if (loadTest.recorded) "a recorded run, ${loadTest.path}" else "this build's ./gradlew loadtest, ${loadTest.path}"
    return listOf(
        "",
        "Verdicts on whole services (the Rust service against the Kotlin services; load test of ${loadTest.date}, $source):",
    ) +
        ServiceVerdicts.all(services).map { "- ${it.claim}: ${it.outcome.text.uppercase()}. ${it.why}" }
}
