package dev.userstore.demo.report

import dev.userstore.demo.format.fmt
import dev.userstore.demo.format.oneDecimal
import dev.userstore.demo.format.plural
import dev.userstore.demo.measure.HOSTILE_CALLS
import dev.userstore.demo.measure.STARTUP_USERS
import dev.userstore.demo.measure.WARMUP_CHUNK
import dev.userstore.demo.measure.WARM_WITHIN
import dev.userstore.demo.verdict.DbLoadTestSummary
import dev.userstore.demo.verdict.Extras
import dev.userstore.demo.verdict.LoadTestSummary
import dev.userstore.demo.verdict.ServiceVerdicts
import dev.userstore.demo.verdict.Verdict
import dev.userstore.demo.verdict.verdicts

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

/**
 * The console lines of the service-level verdicts, from the latest load test (none when it predates the Rust service)
 * and the latest database load test ([db], a row of its own; none when there is no such summary).
 */
internal fun serviceVerdictsText(
    loadTest: LoadTestSummary?,
    db: DbLoadTestSummary? = DbLoadTestSummary.find(),
): List<String> {
    val services = loadTest?.services
    val verdicts = ServiceVerdicts.all(services, db)
    if (verdicts.isEmpty()) return emptyList()
    val heading =
        if (services != null) {
            val source = if (loadTest.recorded) "a recorded run, ${loadTest.path}" else "this build's ./gradlew loadtest, ${loadTest.path}"
            "Verdicts on whole services (the Rust service against the Kotlin services; load test of ${loadTest.date}, $source):"
        } else {
            "Verdicts on whole services (the Rust service against the Kotlin service; the database load test named below):"
        }
    return listOf("", heading) + verdicts.map { "- ${it.claim}: ${it.outcome.text.uppercase()}. ${it.why}" }
}
