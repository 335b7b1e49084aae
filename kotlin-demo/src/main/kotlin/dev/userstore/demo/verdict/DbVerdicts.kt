package dev.userstore.demo.verdict

import dev.userstore.demo.format.fmt
import java.math.BigDecimal
import java.math.MathContext

/**
 * The article's handler on a database: GET /users/{id} answered from PostgreSQL by the Rust service and
 * by the Kotlin service, judged from a recorded `./gradlew dbLoadtest` ([DbLoadTestSummary]). Every threshold is a
 * named constant; the row appears only when a summary exists.
 */
internal object DbVerdicts {
    /** Holds only if the Rust service's direct capacity is at least this many times the Kotlin service's... */
    const val CAPACITY_AT_LEAST = 1.5

    /** ...and its GET p99.9 at [AT_FRACTION] of the lowest direct capacity at most this share of the Kotlin service's. */
    const val P999_AT_MOST = 0.5

    /** The constant rate the p99.9 is compared at: this fraction of the lowest direct capacity (the same rate for both). */
    const val AT_FRACTION = 0.8

    /** The mode the claim is about: every GET a query to PostgreSQL. */
    const val DIRECT = "direct"

    const val REPLICA = "replica"

    const val RUST = "rust"

    /** The Kotlin service in direct mode (its --store plays no part there). */
    const val KOTLIN = "kotlin"

    /** The Kotlin service over the Kotlin store, in replica mode: the RSS ratio's reference. */
    const val KOTLIN_KOTLIN = "kotlin-kotlin"

    const val CLAIM = "The article's handler on a database: GET /users/{id} from PostgreSQL, the Rust service against the Kotlin service"

    /**
     * Holds if rust/kotlin direct capacity >= [CAPACITY_AT_LEAST] and rust/kotlin p99.9 at [AT_FRACTION] <= [P999_AT_MOST];
     * depends if the Rust service has the higher capacity but misses either (or its p99.9 was not measured); does not
     * hold if it has no higher capacity; not measured if either direct capacity is missing.
     */
    fun handler(db: DbLoadTestSummary): Verdict {
        val rust = db.run(RUST, DIRECT)
        val kotlin = db.run(KOTLIN, DIRECT)
        val run = runText(db)
        val rustCap = rust?.capacityRps
        val kotlinCap = kotlin?.capacityRps
        if (rustCap == null || kotlinCap == null || !(kotlinCap > 0)) {
            val missing = listOfNotNull(if (rustCap == null) RUST else null, if (kotlinCap == null || !(kotlinCap > 0)) KOTLIN else null)
            return Verdict(CLAIM, Outcome.NOT_MEASURED, "no direct capacity for ${missing.joinToString(" and ")} in $run.")
        }
        val capRatio = rustCap / kotlinCap
        val rustRate = rust.at(AT_FRACTION)
        val kotlinRate = kotlin.at(AT_FRACTION)
        val rustTail = rustRate?.p999Ms
        val kotlinTail = kotlinRate?.p999Ms
        val tailRatio = if (rustTail != null && kotlinTail != null && kotlinTail > 0) rustTail / kotlinTail else null
        val outcome =
            when {
                !(capRatio > 1) -> Outcome.DOES_NOT_HOLD
                capRatio >= CAPACITY_AT_LEAST && tailRatio != null && tailRatio <= P999_AT_MOST -> Outcome.HOLDS
                else -> Outcome.DEPENDS
            }
        val target = (rustRate?.targetRps ?: kotlinRate?.targetRps)?.let { " (${rps(it)})" }.orEmpty()
        val tailText =
            "GET p99.9 at ${pct(AT_FRACTION)} of the lowest direct capacity$target: rust ${ms(rustTail)}, kotlin ${ms(kotlinTail)}" +
                " (${x(tailRatio)}; holds at <= ${P999_AT_MOST}x)" + errors(rustRate, kotlinRate)
        return Verdict(
            CLAIM,
            outcome,
            "direct capacity: rust ${rps(rustCap)}, kotlin ${rps(kotlinCap)} (${x(capRatio)}; holds at >= ${CAPACITY_AT_LEAST}x, " +
                "does not hold at <= 1x); $tailText. ${replicaText(db)} From $run.",
        )
    }

    /** The non-2xx answers during the compared phase, when there were any (they make a p99.9 look better than it is). */
    private fun errors(vararg rates: DbRate?): String {
        val bad =
            listOf(RUST, KOTLIN).zip(rates).mapNotNull { (name, r) ->
                r?.non2xx?.takeIf { it > 0 }?.let { "$name ${fmt("%,.0f", it)}" }
            }
        return if (bad.isEmpty()) "" else "; non-2xx answers: ${bad.joinToString(", ")}"
    }

    /** One sentence: replica over direct capacity per service, lag p99 at each write rate, the replicas' RSS ratio. */
    private fun replicaText(db: DbLoadTestSummary): String {
        val replicas = db.runs.filter { it.mode == REPLICA }
        if (replicas.isEmpty() && db.lag.isEmpty()) return "Replica mode was not measured."
        val parts = mutableListOf<String>()
        if (replicas.isNotEmpty()) {
            parts +=
                "replica over direct capacity " +
                replicas.joinToString(", ") { r ->
                    // The Kotlin replicas (kotlin-native, kotlin-kotlin) are measured against the one Kotlin direct run.
                    val direct = db.run(r.service, DIRECT) ?: db.run(KOTLIN, DIRECT)?.takeIf { r.service.startsWith(KOTLIN) }
                    val ratio = r.capacityRps?.let { c -> direct?.capacityRps?.takeIf { it > 0 }?.let { c / it } }
                    "${r.service} ${x(ratio)}"
                }
        }
        val rates =
            db.lag
                .mapNotNull { it.targetCps }
                .distinct()
                .sorted()
        for (rate in rates) {
            parts +=
                "lag p99 at ${fmt("%,.0f", rate)}/s " +
                db.lag.filter { it.targetCps == rate }.joinToString(", ") { l ->
                    val instances =
                        l.instances
                            ?.takeIf { it > 1 }
                            ?.let { fmt(" (%.0f instances)", it) }
                            .orEmpty()
                    "${l.service} " + (l.p99Ms?.let { "<= ${bound(it)} ms" } ?: "n/a") + instances
                }
        }
        val rssRust = db.run(RUST, REPLICA)?.rssReadyMiB
        val rssKotlin = db.run(KOTLIN_KOTLIN, REPLICA)?.rssReadyMiB
        if (rssRust != null && rssKotlin != null && rssKotlin > 0) {
            parts += "ready RSS of the rust replica over kotlin-kotlin's ${x(rssRust / rssKotlin)} (${mib(rssRust)} vs ${mib(rssKotlin)})"
        }
        return "Replica mode: ${parts.joinToString("; ")}."
    }

    private fun runText(db: DbLoadTestSummary): String =
        "the db load test of ${db.date} (" + (if (db.recorded) "recorded, " else "this build's ./gradlew dbLoadtest, ") + "${db.path})"

    /** A histogram bucket's upper bound as written: 2.5, 20, 0.25. */
    private fun bound(v: Double): String =
        BigDecimal
            .valueOf(v)
            .round(MathContext(3))
            .stripTrailingZeros()
            .toPlainString()

    private fun ms(v: Double?): String =
        when {
            v == null -> "n/a"
            v >= 100 -> fmt("%,.0f ms", v)
            else -> fmt("%.2f ms", v)
        }

    private fun rps(v: Double): String = fmt("%,.0f req/s", v)

    private fun mib(v: Double): String = fmt("%,.1f MiB", v)

    private fun pct(f: Double): String = fmt("%.0f%%", f * 100)

    private fun x(r: Double?): String =
        when {
            r == null || !r.isFinite() -> "n/a"
            r < 0.1 -> fmt("%.3fx", r)
            else -> fmt("%.2fx", r)
        }
}
