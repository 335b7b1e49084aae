package dev.userstore.demo.verdict

import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.doubleOrNull
import java.nio.file.Files
import java.nio.file.Path
import kotlin.math.abs
import kotlinx.serialization.json.Json as KxJson

/** One constant-rate phase of a [DbRun]: GET /users/{id} at [fraction] of the lowest capacity of its mode. */
internal data class DbRate(
    val fraction: Double,
    val targetRps: Double?,
    val achievedRps: Double?,
    val p50Ms: Double?,
    val p99Ms: Double?,
    val p999Ms: Double?,
    val maxMs: Double?,
    val non2xx: Double?,
)

/** One service in one database mode (`direct`: every GET from PostgreSQL; `replica`: from its in-memory replica). */
internal data class DbRun(
    /** `rust`, `kotlin` (direct), `kotlin-native` or `kotlin-kotlin` (replica). */
    val service: String,
    val mode: String,
    val readyMs: Double?,
    val rssReadyMiB: Double?,
    val rssAfterMiB: Double?,
    /** Closed-loop GET /users/{id}, requests/s. */
    val capacityRps: Double?,
    val rates: List<DbRate>,
) {
    /** The constant-rate phase at [fraction] of the lowest capacity, or null if the run had none. */
    fun at(fraction: Double): DbRate? = rates.firstOrNull { abs(it.fraction - fraction) < 1e-9 }
}

/** Commit-to-replica lag of one service at one write rate; quantiles are histogram bucket upper bounds (ms). */
internal data class DbLag(
    val service: String,
    val instances: Double?,
    val targetCps: Double?,
    val achievedCps: Double?,
    val transactions: Double?,
    val p50Ms: Double?,
    val p99Ms: Double?,
    val maxMs: Double?,
    val meanMs: Double?,
)

/**
 * The database load test's results (`./gradlew dbLoadtest`, `scripts/db-loadtest.sh`): the services answering
 * GET /users/{id} from PostgreSQL (`direct`) or from a replica of it (`replica`). Its summary.json (schema 1,
 * `"kind": "db-loadtest"`) is the one the script writes; only the keys the verdict needs are typed here, and
 * DbLoadTestSummaryTest reads a fixture with every key of that schema.
 * Like [LoadTestSummary]: this build's own run first, else the newest recorded under `docs/results`.
 */
internal class DbLoadTestSummary(
    /** Where the summary was read from. */
    val path: Path,
    /** True when it comes from `docs/results` rather than this build's own `./gradlew dbLoadtest`. */
    val recorded: Boolean,
    /** When the load test ran (ISO 8601, UTC). */
    val date: String,
    val runs: List<DbRun>,
    val lag: List<DbLag>,
) {
    /** The run of [service] in [mode], or null. */
    fun run(
        service: String,
        mode: String,
    ): DbRun? = runs.firstOrNull { it.service == service && it.mode == mode }

    companion object {
        /** Where `./gradlew dbLoadtest` leaves its latest summary, from the project root. */
        val BUILD: Path = Path.of("kotlin-demo", "build", "reports", "userstore", "db-loadtest", "summary.json")

        /** Where recorded runs are kept, from the project root (`<date>-db-loadtest*` folders). */
        val RECORDED: Path = RecordedRuns.FOLDER

        /** The summary's `kind`: the HTTP load test's summaries (and anything else) are not this. */
        const val KIND = "db-loadtest"

        /** The schema this reader knows. */
        const val SCHEMA = 1.0

        /**
         * The latest summary under [root] (the project root under `./gradlew run`): this build's own, else the
         * recorded one with the latest `date`; null when there is none in the expected shape.
         */
        fun find(root: Path = Path.of("")): DbLoadTestSummary? =
            RecordedRuns.latest(root, BUILD, KIND, { path, recorded -> read(path, recorded) }) { it.date }

        /** Reads one summary file; null if it is missing, not JSON, or not a schema-1 db-loadtest summary. */
        fun read(
            path: Path,
            recorded: Boolean,
        ): DbLoadTestSummary? {
            if (!Files.isRegularFile(path)) return null
            return try {
                parse(path, recorded, Files.readString(path))
            } catch (e: IllegalArgumentException) {
                // Not JSON (kotlinx.serialization's parse errors are IllegalArgumentExceptions).
                null
            } catch (e: java.io.IOException) {
                null
            }
        }

        private fun parse(
            path: Path,
            recorded: Boolean,
            text: String,
        ): DbLoadTestSummary? {
            val root = KxJson.parseToJsonElement(text) as? JsonObject ?: return null
            if (num(root, "schema") != SCHEMA || str(root, "kind") != KIND) return null
            val date = str(root, "date") ?: return null
            val runs = objects(root, "runs") ?: return null
            return DbLoadTestSummary(
                path = path,
                recorded = recorded,
                date = date,
                runs = runs.map { run(it) ?: return null },
                lag = objects(root, "lag")?.map { lag(it) ?: return null }.orEmpty(),
            )
        }

        private fun run(o: JsonObject): DbRun? =
            DbRun(
                service = str(o, "service") ?: return null,
                mode = str(o, "mode") ?: return null,
                readyMs = num(o, "ready_ms"),
                rssReadyMiB = num(o, "rss_ready_mib"),
                rssAfterMiB = num(o, "rss_after_mib"),
                capacityRps = num(o, "capacity_rps"),
                rates =
                    objects(o, "rates")?.map { r ->
                        DbRate(
                            fraction = num(r, "fraction") ?: return null,
                            targetRps = num(r, "target_rps"),
                            achievedRps = num(r, "achieved_rps"),
                            p50Ms = num(r, "p50_ms"),
                            p99Ms = num(r, "p99_ms"),
                            p999Ms = num(r, "p999_ms"),
                            maxMs = num(r, "max_ms"),
                            non2xx = num(r, "non_2xx"),
                        )
                    } ?: return null,
            )

        private fun lag(o: JsonObject): DbLag? =
            DbLag(
                service = str(o, "service") ?: return null,
                instances = num(o, "instances"),
                targetCps = num(o, "target_cps"),
                achievedCps = num(o, "achieved_cps"),
                transactions = num(o, "transactions"),
                p50Ms = num(o, "p50_ms"),
                p99Ms = num(o, "p99_ms"),
                maxMs = num(o, "max_ms"),
                meanMs = num(o, "mean_ms"),
            )

        /** The objects of the array at [key]; null if it is absent, not an array, or holds anything else. */
        private fun objects(
            o: JsonObject,
            key: String,
        ): List<JsonObject>? = (o[key] as? JsonArray)?.map { it as? JsonObject ?: return null }

        /** A number, or null (JSON null, absent, a string). */
        private fun num(
            o: JsonObject,
            key: String,
        ): Double? = (o[key] as? JsonPrimitive)?.takeIf { !it.isString }?.doubleOrNull

        private fun str(
            o: JsonObject,
            key: String,
        ): String? = (o[key] as? JsonPrimitive)?.takeIf { it.isString }?.content
    }
}
