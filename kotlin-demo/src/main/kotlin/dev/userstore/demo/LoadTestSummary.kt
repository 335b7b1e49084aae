package dev.userstore.demo

import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.booleanOrNull
import kotlinx.serialization.json.doubleOrNull
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import java.nio.file.Files
import java.nio.file.Path
import kotlinx.serialization.json.Json as KxJson

/**
 * The HTTP load test's results (`./gradlew loadtest`, `scripts/loadtest.sh`; schema at the top of the
 * script), shown in the report: the latest run in the build folder if there is one, else the newest run
 * recorded in `docs/results`, labelled as such.
 */
internal class LoadTestSummary(
    /** Where the summary was read from. */
    val path: Path,
    /** True when it comes from `docs/results` rather than this build's own `./gradlew loadtest`. */
    val recorded: Boolean,
    /** The date the load test ran. */
    val date: String,
    /** One line on the machine and the settings. */
    val settings: String,
    /** Median rows: users, store, capacity, achieved, p50, p99, p99.9, max. */
    val rows: List<List<String>>,
    /** Per user count: the native/Kotlin capacity and p99.9 ratios and the goals. */
    val ratios: List<List<String>>,
    /** The summary file's own text, copied beside the report. */
    val text: String,
) {
    companion object {
        /** Where `./gradlew loadtest` leaves its latest summary, from the project root. */
        private val BUILD: Path = Path.of("kotlin-demo", "build", "reports", "userstore", "loadtest", "summary.json")

        /** Where recorded runs are kept, from the project root. */
        private val RECORDED: Path = Path.of("docs", "results")

        /** The latest summary available from the working directory (the project root under `./gradlew run`), or null. */
        fun find(): LoadTestSummary? {
            read(BUILD, recorded = false)?.let { return it }
            if (!Files.isDirectory(RECORDED)) return null
            val candidates =
                Files.list(RECORDED).use { dirs ->
                    dirs
                        .filter { it.fileName.toString().contains("loadtest") }
                        .map { it.resolve("summary.json") }
                        .filter { Files.isRegularFile(it) }
                        .toList()
                }
            return candidates.mapNotNull { read(it, recorded = true) }.maxByOrNull { it.date }
        }

        /** Reads one summary file; null if it is missing or not in the expected shape. */
        fun read(
            path: Path,
            recorded: Boolean,
        ): LoadTestSummary? {
            if (!Files.isRegularFile(path)) return null
            return try {
                val text = Files.readString(path)
                val root = KxJson.parseToJsonElement(text).jsonObject
                val machine = root["machine"]?.jsonObject
                val settings = root["settings"]?.jsonObject
                val line =
                    "${str(machine, "cpu")}, ${str(machine, "cores")} cores, ${str(machine, "java")}; " +
                        "server ${str(root["server"]?.jsonObject, "jvm_options")}; oha ${str(root, "oha")}, " +
                        "${str(settings, "connections")} connections, constant ${str(settings, "rate")} req/s for " +
                        "${str(settings, "duration")} with latency correction, capacity from a ${str(settings, "capacity")} " +
                        "closed loop; medians of ${str(settings, "repeats")} repeats"
                val medians = root["medians"]?.jsonArray ?: return null
                val ratioList = root["ratios"]?.jsonArray ?: return null
                val rows =
                    medians.map { m ->
                        val o = m.jsonObject
                        listOf(
                            fmt("%,.0f", num(o, "users")),
                            str(o, "store"),
                            fmt("%,.0f", num(o, "capacity_rps")),
                            fmt("%,.0f", num(o, "achieved_rps")),
                            fmt("%.2f", num(o, "p50_ms")),
                            fmt("%.2f", num(o, "p99_ms")),
                            fmt("%.2f", num(o, "p999_ms")),
                            fmt("%.1f", num(o, "max_ms")),
                        )
                    }
                val ratios =
                    ratioList.map { r ->
                        val o = r.jsonObject
                        listOf(
                            fmt("%,.0f", num(o, "users")),
                            fmt("%.2f", num(o, "capacity_native_over_kotlin")),
                            fmt("%.2f", num(o, "p999_native_over_kotlin")),
                            met(o["goal_throughput_met"]) + " / " + met(o["goal_p999_met"]),
                        )
                    }
                LoadTestSummary(path, recorded, str(root, "date"), line, rows, ratios, text)
            } catch (e: IllegalArgumentException) {
                // Not JSON, or not the shape scripts/loadtest.sh writes (kotlinx.serialization's errors are IAEs).
                null
            } catch (e: java.io.IOException) {
                null
            }
        }

        private fun str(
            o: JsonObject?,
            key: String,
        ): String = (o?.get(key) as? JsonPrimitive)?.content ?: "?"

        private fun num(
            o: JsonObject,
            key: String,
        ): Double = (o[key] as? JsonPrimitive)?.doubleOrNull ?: Double.NaN

        private fun met(e: JsonElement?): String =
            when ((e as? JsonPrimitive)?.booleanOrNull) {
                true -> "met"
                false -> "not met"
                null -> "?"
            }
    }
}
