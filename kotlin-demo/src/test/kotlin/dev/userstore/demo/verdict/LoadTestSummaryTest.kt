package dev.userstore.demo.verdict

import dev.userstore.demo.measure.median
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.jsonArray
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Files
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue
import kotlinx.serialization.json.Json as KxJson

class LoadTestSummaryTest {
    @TempDir
    lateinit var dir: Path

    private val sample =
        """
        {"date": "2026-11-25T01-30-25Z",
         "machine": {"cpu": "AMD EPYC", "cores": 2, "memory_gib": 23.5, "java": "openjdk 17", "os": "Linux"},
         "server": {"heap": "4g", "gc": "G1", "jvm_options": "-Xms4g -Xmx4g"}, "oha": "1.16.0",
         "settings": {"rate": 10000, "duration": "30s", "capacity": "10s", "warmup": "10s", "connections": 32,
                      "repeats": 3, "users": [5000000], "stores": ["native", "kotlin"]},
         "runs": [],
         "medians": [
           {"users": 5000000, "store": "native", "capacity_rps": 49845.2, "achieved_rps": 9999.1, "p50_ms": 0.4,
            "p99_ms": 11.3, "p999_ms": 32.9, "max_ms": 121.0},
           {"users": 5000000, "store": "kotlin", "capacity_rps": 37611.0, "achieved_rps": 9998.7, "p50_ms": 0.39,
            "p99_ms": 44.7, "p999_ms": 104.2, "max_ms": 145.0}],
         "ratios": [{"users": 5000000, "capacity_native_over_kotlin": 1.325, "p999_native_over_kotlin": 0.316,
                     "goal_throughput_met": true, "goal_p999_met": false}]}
        """.trimIndent()

    @Test
    fun `reads the medians and the goals of a summary`() {
        val file = dir.resolve("summary.json")
        Files.writeString(file, sample)
        val summary = assertNotNull(LoadTestSummary.read(file, recorded = true))
        assertEquals("2026-11-25T01-30-25Z", summary.date)
        assertEquals(listOf("5,000,000", "native", "49,845", "9,999", "0.40", "11.30", "32.90", "121.0"), summary.rows[0])
        assertEquals(listOf("5,000,000", "1.33", "0.32", "met / not met"), summary.ratios[0])
        assertTrue(summary.settings.contains("10000 req/s"))
    }

    @Test
    fun `a missing or malformed summary gives none`() {
        assertNull(LoadTestSummary.read(dir.resolve("absent.json"), recorded = false))
        val bad = dir.resolve("bad.json")
        Files.writeString(bad, "{\"date\": 1, \"medians\": 5}")
        assertNull(LoadTestSummary.read(bad, recorded = false))
        Files.writeString(bad, "not json")
        assertNull(LoadTestSummary.read(bad, recorded = false))
    }

    private fun median(
        service: String,
        base: String,
        capacity: Double,
        p999: Double,
        gcMax: Double?,
    ) = """{"users": 5000000, "store": "$service", "service": "$service", "base": "$base", "capacity_rps": $capacity,
        "achieved_rps": 8000.0, "p50_ms": 0.3, "p99_ms": 1.0, "p999_ms": $p999, "max_ms": 20.0, "rss_preloaded_mib": 300.0,
        "capacity_cpu_per_100k": 2.5, "c50_get_p50_ms": 0.25, "c80_get_p999_ms": $p999, "c80_get_gc_count": ${if (gcMax == null) "null" else "3"},
        "c80_get_gc_max_ms": ${gcMax ?: "null"}, "c80_mix_get_p999_ms": 4.0, "c80_mix_put_p999_ms": 5.0, "cold_p50_over_steady": 1.5}"""

    private val services =
        """
        {"schema": 2, "date": "2026-11-29T21-00-00Z",
         "machine": {"cpu": "AMD EPYC", "cores": 2, "memory_gib": 23.5, "java": "openjdk 17", "os": "Linux", "load_start": 2.1},
         "oha": "1.16.0",
         "settings": {"users": [5000000], "fractions": [0.5, 0.8], "duration": "15s", "capacity": "10s", "warmup": "30s",
                      "connections": 32, "repeats": 1, "snapshot_users": 1000000},
         "variants": [{"name": "rust", "kind": "native"},
                      {"name": "kotlin-kotlin@17-G1", "kind": "jvm", "jdk_version": "openjdk 17.0.15", "gc": "G1", "jvm_options": "-Xms4g"}],
         "startup_medians": [{"service": "rust", "start_empty_ms": 6.0, "start_snapshot_ms": 400.0, "idle_rss_mib": 5.0},
                             {"service": "kotlin-kotlin@17-G1", "start_empty_ms": 1200.0, "start_snapshot_ms": 3000.0, "idle_rss_mib": 118.0}],
         "medians": [${median("rust", "rust", 60000.0, 2.0, null)}, ${median("kotlin-kotlin@17-G1", "kotlin-kotlin", 30000.0, 9.0, 12.0)}],
         "ratios": [],
         "goals": [{"name": "rust spawn -> first 200 <= 50 ms", "measured": 6.0, "limit": 50, "comparison": "<=", "unit": "ms", "met": true}],
         "density": {"count": 20, "services": [{"service": "rust", "per_instance_mib": 5.0, "services_per_gib": 204.8},
                                               {"service": "kotlin-kotlin@17-G1", "per_instance_mib": 110.0, "services_per_gib": 9.3}]}}
        """.trimIndent()

    @Test
    fun `reads a three-service summary into rows, goals and the figures the service verdicts need`() {
        val file = dir.resolve("summary.json")
        Files.writeString(file, services)
        val summary = assertNotNull(LoadTestSummary.read(file, recorded = false))
        assertEquals("rust", summary.rows[0][1])
        assertEquals(listOf("rust spawn -> first 200 <= 50 ms", "6.00 ms", "<= 50", "met"), summary.goals[0])
        assertEquals(listOf("rust", "6.0", "400.0", "5.0", "5.0", "204.8"), summary.startup[0])
        val s = assertNotNull(summary.services)
        assertEquals(5_000_000, s.users)
        assertEquals(0.8, s.highFraction)
        assertEquals(2.0, s.rust.p999Ms)
        assertEquals(0.25, s.rust.p50Ms, "p50 from the lower fraction's GET run")
        val kotlin = s.jvms.single()
        assertEquals("kotlin", kotlin.store)
        assertEquals(12.0, kotlin.gcMaxPauseMs)
        assertEquals(1_200.0, kotlin.startupMillis)
        val verdicts = ServiceVerdicts.all(s).associateBy { it.claim }
        assertEquals(Outcome.HOLDS, verdicts.getValue(ServiceVerdicts.STARTUP_CLAIM).outcome)
        assertEquals(Outcome.HOLDS, verdicts.getValue(ServiceVerdicts.GC_CLAIM).outcome, "9.0 ms against 2.0 ms")
        assertEquals(Outcome.HOLDS, verdicts.getValue(ServiceVerdicts.DENSITY_CLAIM).outcome)
    }

    // ---- the schema: scripts/loadtest-summary.schema.json is the one definition of summary.json ----

    /** The schema file, found from the working directory upwards (the module folder under Maven). */
    private fun schemaFile(): Path {
        var folder: Path? = Path.of("").toAbsolutePath()
        while (folder != null) {
            val file = folder.resolve(SCHEMA)
            if (Files.isRegularFile(file)) return file
            folder = folder.parent
        }
        error("$SCHEMA not found above ${Path.of("").toAbsolutePath()}")
    }

    /**
     * A value for [schema]: every property of every object (the fraction keys `c<F>_...` for F = 50 and 80), one
     * item per array, the first type that is not null; `number` 1.5, `string` "text", `boolean` true.
     */
    private fun example(
        schema: JsonObject,
        root: JsonObject,
    ): JsonElement {
        val ref = (schema["\$ref"] as? JsonPrimitive)?.content
        if (ref != null) {
            val target = ref.removePrefix("#/").split('/').fold(root) { node, part -> node.getValue(part).jsonObject }
            return example(target, root)
        }
        schema["const"]?.let { return it }
        val types =
            when (val type = schema.getValue("type")) {
                is JsonArray -> type.map { it.jsonPrimitive.content }
                else -> listOf(type.jsonPrimitive.content)
            }
        return when (types.first { it != "null" }) {
            "object" -> {
                buildJsonObject {
                    schema["properties"]?.jsonObject?.forEach { (key, sub) -> put(key, example(sub.jsonObject, root)) }
                    schema["patternProperties"]?.jsonObject?.forEach { (pattern, sub) ->
                        if (pattern.startsWith(FRACTION_PATTERN)) {
                            val rest = pattern.removePrefix(FRACTION_PATTERN).removeSuffix("$")
                            for (percent in listOf(50, 80)) put("c${percent}_$rest", example(sub.jsonObject, root))
                        }
                    }
                }
            }

            "array" -> {
                JsonArray(listOfNotNull(schema["items"]?.let { example(it.jsonObject, root) }))
            }

            "number" -> {
                JsonPrimitive(1.5)
            }

            "string" -> {
                JsonPrimitive("text")
            }

            "boolean" -> {
                JsonPrimitive(true)
            }

            else -> {
                error("type ${types.first()} in $schema")
            }
        }
    }

    /** The one item of [array] twice: once as the Rust service, once as a JVM service ([key] = the service's name). */
    private fun twoServices(
        array: JsonElement?,
        key: String,
        vararg extra: Pair<String, Pair<String, String>>,
    ): JsonArray {
        val item = array!!.jsonArray.single().jsonObject
        return JsonArray(
            listOf("rust" to 0, "kotlin-kotlin@17-G1" to 1).map { (name, which) ->
                JsonObject(
                    item + (key to JsonPrimitive(name)) +
                        extra.map { (k, values) -> k to JsonPrimitive(if (which == 0) values.first else values.second) },
                )
            },
        )
    }

    @Test
    fun `reads every figure it shows from keys of the schema, with the schema's types`() {
        val root = KxJson.parseToJsonElement(Files.readString(schemaFile())).jsonObject
        val doc = example(root, root).jsonObject.toMutableMap()
        // What the generic example cannot know: the fractions, and one Rust and one JVM service throughout.
        doc["settings"] =
            JsonObject(doc.getValue("settings").jsonObject + ("fractions" to JsonArray(listOf(JsonPrimitive(0.5), JsonPrimitive(0.8)))))
        doc["medians"] = twoServices(doc["medians"], "service", "base" to ("rust" to "kotlin-kotlin"))
        val starts = twoServices(doc["startup_medians"], "service")
        // ...and the JVM one again, started from its ahead-of-time cache.
        val aot = JsonObject(starts[1].jsonObject + ("service" to JsonPrimitive("kotlin-kotlin@17-G1+aot")))
        doc["startup_medians"] = JsonArray(starts + aot)
        doc["variants"] = twoServices(doc["variants"], "name", "kind" to ("native" to "jvm"))
        val density = doc.getValue("density").jsonObject
        doc["density"] = JsonObject(density + ("services" to twoServices(density["services"], "service")))
        val file = dir.resolve("summary.json")
        Files.writeString(file, JsonObject(doc).toString())

        val summary = assertNotNull(LoadTestSummary.read(file, recorded = false), "the schema's example is not read")
        // A key the reader reads that the schema lacks (or gives another type) shows as "?" or NaN, or as null below.
        val shown = listOf(summary.date, summary.settings) + (summary.rows + summary.goals + summary.startup).flatten() + summary.variants
        for (text in shown) {
            assertFalse(text.contains('?') || text.contains("NaN"), "a figure not in the schema: \"$text\" in $shown")
        }
        assertEquals(2, summary.rows.size)
        val services = assertNotNull(summary.services, "no service figures from the schema's example")
        // The Rust service has no ahead-of-time start-up; every other figure must be there.
        val checked = services.copy(rust = services.rust.copy(startupAotMillis = 0.0)).toString()
        assertFalse(checked.contains("null") || checked.contains("NaN"), "a figure not in the schema: $services")
    }

    @Test
    fun `reads the recorded three-service summaries`() {
        val results =
            schemaFile()
                .parent.parent
                .resolve("docs")
                .resolve("results")
        val recorded =
            Files.list(results).use { dirs ->
                dirs
                    .map { it.resolve("summary.json") }
                    .filter { Files.isRegularFile(it) && Files.readString(it).contains("\"schema\": 2") }
                    .toList()
            }
        assertTrue(recorded.isNotEmpty(), "no recorded schema-2 summary in $results")
        for (file in recorded) {
            val summary = assertNotNull(LoadTestSummary.read(file, recorded = true), "$file")
            assertNotNull(summary.services, "$file")
        }
    }

    private companion object {
        const val SCHEMA = "scripts/loadtest-summary.schema.json"
        const val FRACTION_PATTERN = "^c[0-9]+_"
    }
}
