package dev.userstore.demo.verdict

import dev.userstore.demo.format.fmt
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
 * The HTTP load test's results (`./gradlew loadtest`, `scripts/loadtest.sh`), shown in the report: the latest run in
 * the build folder if there is one, else the newest run recorded in `docs/results`, labelled as such.
 *
 * summary.json is defined once, in `scripts/loadtest-summary.schema.json` (schema 2; `scripts/loadtest_summary.py`
 * validates what it writes against it). Every key read here for schema 2 is a key of that file with its type:
 * LoadTestSummaryTest builds a summary from the schema alone and fails if any figure shown is missing from it.
 * Schema 1 (the recorded runs of 2026-11-25, before the schema file) is still read, by [readStores].
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
    /** Median rows: users, service, capacity, achieved, p50, p99, p99.9, max (then, from schema 2: RSS, CPU, GC). */
    val rows: List<List<String>>,
    /** Per user count: the native/Kotlin capacity and p99.9 ratios and the goals (schema 1 only). */
    val ratios: List<List<String>>,
    /** The summary file's own text, copied beside the report. */
    val text: String,
    /** Schema 2 (three services): the figures the service-level verdicts and charts need. */
    val services: Services? = null,
    /** Schema 2: the issue's goals, each: goal, measured, limit, met. */
    val goals: List<List<String>> = emptyList(),
    /** Schema 2: start-up and density rows: service, JDK/GC, spawn to first 200 (0 users, snapshot), idle RSS, per GiB. */
    val startup: List<List<String>> = emptyList(),
    /** Schema 2: the JVM variants behind the figures (`kotlin-native@17-G1: openjdk 17.0.15, G1: -Xms4g ...`). */
    val variants: List<String> = emptyList(),
) {
    companion object {
        /** Where `./gradlew loadtest` leaves its latest summary, from the project root. */
        private val BUILD: Path = Path.of("kotlin-demo", "build", "reports", "userstore", "loadtest", "summary.json")

        /** The latest summary available from the working directory (the project root under `./gradlew run`), or null. */
        fun find(): LoadTestSummary? =
            RecordedRuns.latest(Path.of(""), BUILD, "loadtest", { path, recorded -> read(path, recorded) }) { it.date }

        /** Reads one summary file; null if it is missing or not in the expected shape. */
        fun read(
            path: Path,
            recorded: Boolean,
        ): LoadTestSummary? {
            if (!Files.isRegularFile(path)) return null
            return try {
                val text = Files.readString(path)
                val root = KxJson.parseToJsonElement(text).jsonObject
                // The database load test's summary (DbLoadTestSummary) is kept in docs/results/<date>-db-loadtest*, which
                // also matches "loadtest": it is not this one.
                if ((root["kind"] as? JsonPrimitive)?.content == DbLoadTestSummary.KIND) return null
                if ((root["schema"] as? JsonPrimitive)?.doubleOrNull ==
                    2.0
                ) {
                    readServices(path, recorded, root, text)
                } else {
                    readStores(path, recorded, root, text)
                }
            } catch (e: IllegalArgumentException) {
                // Not JSON, or not the shape scripts/loadtest.sh writes (kotlinx.serialization's errors are IAEs).
                null
            } catch (e: ClassCastException) {
                null
            } catch (e: java.io.IOException) {
                null
            }
        }

        /** Schema 1 (2026-11-25): the Kotlin service over the native and the Kotlin store. */
        private fun readStores(
            path: Path,
            recorded: Boolean,
            root: JsonObject,
            text: String,
        ): LoadTestSummary? {
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
            val rows = medians.map { baseRow(it.jsonObject, "store") }
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
            return LoadTestSummary(path, recorded, str(root, "date"), line, rows, ratios, text)
        }

        /** users, service, capacity, achieved, p50, p99, p99.9, max: the GET run at the highest fraction. */
        private fun baseRow(
            o: JsonObject,
            nameKey: String,
        ): List<String> =
            listOf(
                fmt("%,.0f", num(o, "users")),
                str(o, nameKey),
                fmt("%,.0f", num(o, "capacity_rps")),
                fmt("%,.0f", num(o, "achieved_rps")),
                fmt("%.2f", num(o, "p50_ms")),
                fmt("%.2f", num(o, "p99_ms")),
                fmt("%.2f", num(o, "p999_ms")),
                fmt("%.1f", num(o, "max_ms")),
            )

        /** Schema 2 (scripts/loadtest.sh since issue 12): the Rust service and the Kotlin services. */
        private fun readServices(
            path: Path,
            recorded: Boolean,
            root: JsonObject,
            text: String,
        ): LoadTestSummary? {
            val machine = root["machine"]?.jsonObject
            val settings = root["settings"]?.jsonObject ?: return null
            val fractions = settings["fractions"]?.jsonArray?.mapNotNull { (it as? JsonPrimitive)?.doubleOrNull }.orEmpty()
            if (fractions.isEmpty()) return null
            val low = fractions.min()
            val high = fractions.max()
            val lowKey = "c${Math.round(low * 100)}"
            val highKey = "c${Math.round(high * 100)}"
            val line =
                "${str(machine, "cpu")}, ${str(machine, "cores")} cores, ${str(machine, "memory_gib")} GiB, " +
                    "load average ${str(machine, "load_start")} at the start; oha ${str(root, "oha")}, ${str(settings, "connections")} " +
                    "connections, capacity from a ${str(settings, "capacity")} closed loop after a ${str(settings, "warmup")} warm-up, " +
                    "then ${str(settings, "duration")} at ${fractions.joinToString(" and ") { fmt("%.0f%%", it * 100) }} of the lowest " +
                    "capacity with latency correction (the figures below: GET at ${fmt("%.0f%%", high * 100)}); " +
                    "medians of ${str(settings, "repeats")} repeat(s)"
            val medians = root["medians"]?.jsonArray?.map { it.jsonObject } ?: return null
            val rows =
                medians.map { o ->
                    baseRow(o, "service") +
                        listOf(
                            fmt("%,.0f", num(o, "rss_preloaded_mib")),
                            fmt("%.2f", num(o, "capacity_cpu_per_100k")),
                            gcText(o, "${highKey}_get"),
                            fmt("%.2f", num(o, "${highKey}_mix_get_p999_ms")),
                            fmt("%.2f", num(o, "${highKey}_mix_put_p999_ms")),
                        )
                }
            val goals =
                root["goals"]
                    ?.jsonArray
                    ?.map { g ->
                        val o = g.jsonObject
                        val unit = str(o, "unit").let { if (it == "ratio") "x" else " $it" }
                        listOf(
                            str(o, "name"),
                            fmt("%.3g", num(o, "measured")) + unit,
                            "${str(o, "comparison")} ${str(o, "limit")}",
                            met(o["met"]),
                        )
                    }.orEmpty()
            val starts = root["startup_medians"]?.jsonArray?.map { it.jsonObject }.orEmpty()
            val density =
                root["density"]
                    ?.jsonObject
                    ?.get("services")
                    ?.jsonArray
                    ?.map { it.jsonObject }
                    .orEmpty()
            val startup =
                starts.map { o ->
                    val d = density.firstOrNull { str(it, "service") == str(o, "service") }
                    listOf(
                        str(o, "service"),
                        fmt("%,.1f", num(o, "start_empty_ms")),
                        fmt("%,.1f", num(o, "start_snapshot_ms")),
                        fmt("%,.1f", num(o, "idle_rss_mib")),
                        d?.let { fmt("%,.1f", num(it, "per_instance_mib")) } ?: "-",
                        d?.let { fmt("%,.1f", num(it, "services_per_gib")) } ?: "-",
                    )
                }
            val variants =
                root["variants"]
                    ?.jsonArray
                    ?.map { v ->
                        val o = v.jsonObject
                        if (str(o, "kind") == "native") {
                            "${str(o, "name")}: native binary, no JVM"
                        } else {
                            "${str(o, "name")}: ${str(o, "jdk_version")}, ${str(o, "gc")}: ${str(o, "jvm_options")}"
                        }
                    }.orEmpty()
            val users = medians.maxOfOrNull { num(it, "users") } ?: return null

            fun figures(o: JsonObject): ServiceFigures {
                val name = str(o, "service")
                val start = starts.firstOrNull { str(it, "service") == name }
                val dense = density.firstOrNull { str(it, "service") == name }
                val base = str(o, "base")
                return ServiceFigures(
                    name = name,
                    rust = base == "rust",
                    store = if (base == "kotlin-kotlin") "kotlin" else "native",
                    startupMillis = start?.let { value(it, "start_empty_ms") },
                    startupSnapshotMillis = start?.let { value(it, "start_snapshot_ms") },
                    startupAotMillis = starts.firstOrNull { str(it, "service") == "$name+aot" }?.let { value(it, "start_empty_ms") },
                    idleRssMiB = start?.let { value(it, "idle_rss_mib") },
                    loadedRssMiB = value(o, "rss_preloaded_mib"),
                    capacityRps = value(o, "capacity_rps"),
                    p50Ms = value(o, "${lowKey}_get_p50_ms"),
                    p999Ms = value(o, "${highKey}_get_p999_ms"),
                    gcMaxPauseMs = value(o, "${highKey}_get_gc_max_ms"),
                    warmupRatio = value(o, "cold_p50_over_steady"),
                    perGiB = dense?.let { value(it, "services_per_gib") },
                )
            }
            val atMost = medians.filter { num(it, "users") == users }.map(::figures)
            val rust = atMost.firstOrNull { it.rust }
            val services =
                rust?.let {
                    Services(
                        users = users.toLong(),
                        snapshotUsers = value(settings, "snapshot_users")?.toLong() ?: 0,
                        highFraction = high,
                        lowFraction = low,
                        nodeMemoryGiB = machine?.let { m -> value(m, "memory_gib") } ?: Double.NaN,
                        rust = it,
                        jvms = atMost.filterNot { f -> f.rust },
                    )
                }
            return LoadTestSummary(path, recorded, str(root, "date"), line, rows, emptyList(), text, services, goals, startup, variants)
        }

        /** GC pauses of a phase: count / longest ms, or "-" for the Rust service. */
        private fun gcText(
            o: JsonObject,
            phase: String,
        ): String {
            val count = value(o, "${phase}_gc_count") ?: return "-"
            return fmt("%.0f", count) + " / " + fmt("%.1f", value(o, "${phase}_gc_max_ms") ?: 0.0)
        }

        private fun value(
            o: JsonObject,
            key: String,
        ): Double? = (o[key] as? JsonPrimitive)?.doubleOrNull

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
