package dev.userstore.demo.verdict

import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.doubleOrNull
import kotlinx.serialization.json.jsonObject
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

/** The reader of `./gradlew dbLoadtest`'s summary.json, on a fixture written to its schema, and on broken files. */
class DbLoadTestSummaryTest {
    @TempDir
    lateinit var dir: Path

    private val fixtureText: String =
        requireNotNull(javaClass.getResource("/db-loadtest/summary.json")) { "the fixture is on the test classpath" }.readText()

    private fun write(
        path: Path,
        text: String,
    ): Path {
        Files.createDirectories(path.parent)
        Files.writeString(path, text)
        return path
    }

    /** The keys of the schema (as agreed with scripts/db-loadtest.sh), each of which the fixture must have. */
    @Test
    fun `the fixture follows the schema`() {
        val root = KxJson.parseToJsonElement(fixtureText).jsonObject

        fun has(
            o: JsonObject,
            vararg keys: String,
        ) = keys.forEach { assertTrue(it in o, "'$it' missing from $o") }

        fun each(
            key: String,
            vararg keys: String,
        ) = (root[key] as JsonArray).forEach { has(it.jsonObject, *keys) }
        has(root, "schema", "kind", "date", "machine", "oha", "settings", "runs", "lowest_capacity", "lag", "copy", "instances", "goals")
        has(root["machine"]!!.jsonObject, "cpu", "cores", "memory_gib", "java", "os", "load_start", "load_end", "git", "postgres")
        has(
            root["settings"]!!.jsonObject,
            *"users services modes fractions duration capacity warmup connections lag_rates lag_duration lag_clients instances heap jdk"
                .split(" ")
                .toTypedArray(),
        )
        each(
            "runs",
            *"service mode ready_ms rss_ready_mib rss_after_mib capacity_rps capacity_cpu_per_100k_s capacity_db_cpu_per_100k_s rates"
                .split(" ")
                .toTypedArray(),
        )
        for (run in root["runs"] as JsonArray) {
            (run.jsonObject["rates"] as JsonArray).forEach {
                has(
                    it.jsonObject,
                    *"fraction target_rps achieved_rps p50_ms p99_ms p999_ms max_ms non_2xx cpu_per_100k_s db_cpu_per_100k_s"
                        .split(" ")
                        .toTypedArray(),
                )
            }
        }
        each("lowest_capacity", "mode", "service", "capacity_rps")
        each("lag", "service", "instances", "target_cps", "achieved_cps", "transactions", "p50_ms", "p99_ms", "max_ms", "mean_ms")
        each("copy", "service", "users", "ready_ms", "copy_ms")
        each("instances", "service", "count", "rss_mib", "rss_mean_mib", "ready_ms")
        each("goals", "name", "measured", "limit", "comparison", "unit", "against", "met")
    }

    @Test
    fun `reads the fixture into typed figures and judges it`() {
        val file = write(dir.resolve("summary.json"), fixtureText)
        val db = assertNotNull(DbLoadTestSummary.read(file, recorded = true))
        assertEquals("2026-12-07T20:50:00Z", db.date)
        assertEquals(5, db.runs.size)
        val rust = assertNotNull(db.run("rust", "direct"))
        assertEquals(9_800.0, rust.capacityRps)
        assertEquals(6.0, rust.at(0.8)?.p999Ms)
        assertEquals(4_480.0, rust.at(0.8)?.targetRps)
        assertEquals(800.0, db.run("kotlin-kotlin", "replica")?.rssReadyMiB)
        assertEquals(6, db.lag.size)
        assertEquals(100.0, db.lag.single { it.service == "kotlin-kotlin" && it.targetCps == 5_000.0 }.p99Ms)

        // The figures the verdict computes from the runs are the ones the script's goals report for the same run.
        val goals =
            (KxJson.parseToJsonElement(fixtureText).jsonObject["goals"] as JsonArray).associate {
                val o = it.jsonObject
                (o["name"] as JsonPrimitive).content to (o["measured"] as JsonPrimitive).doubleOrNull
            }
        val kotlin = assertNotNull(db.run("kotlin", "direct"))
        assertEquals(goals.getValue("direct capacity rust over kotlin")!!, rust.capacityRps!! / kotlin.capacityRps!!, 1e-3)
        assertEquals(goals.getValue("direct p99.9 at 0.8 rust over kotlin")!!, rust.at(0.8)!!.p999Ms!! / kotlin.at(0.8)!!.p999Ms!!, 1e-3)

        val v = DbVerdicts.handler(db)
        assertEquals(Outcome.HOLDS, v.outcome, "1.75x the capacity, 0.40x the p99.9")
        for (part in listOf(
            "rust 9,800 req/s",
            "kotlin 5,600 req/s",
            "1.75x",
            "(4,480 req/s)",
            "rust 6.00 ms",
            "kotlin 15.00 ms",
            "0.40x",
            "rust 6.22x",
            "kotlin-native 5.50x",
            "kotlin-kotlin 4.91x",
            "lag p99 at 1,000/s rust <= 2.5 ms",
            "lag p99 at 5,000/s rust <= 10 ms, kotlin-native <= 50 ms, kotlin-kotlin <= 100 ms",
            "0.15x (120.0 MiB vs 800.0 MiB)",
            "2026-12-07T20:50:00Z",
            "recorded",
            file.toString(),
        )) {
            assertTrue(part in v.why, "'$part' missing from: ${v.why}")
        }
    }

    @Test
    fun `a missing, broken or foreign file gives none`() {
        assertNull(DbLoadTestSummary.read(dir.resolve("absent.json"), recorded = false))
        val bad = dir.resolve("bad.json")
        for (text in listOf(
            "not json",
            "[1, 2]",
            fixtureText.substring(0, fixtureText.length / 2),
            fixtureText.replace("\"kind\": \"db-loadtest\"", "\"kind\": \"loadtest\""),
            fixtureText.replace("\"schema\": 1,", "\"schema\": 2,"),
            fixtureText.replace("\"runs\": [", "\"runs_\": [").replace("\"lowest_capacity\"", "\"runs\": 5, \"lowest_capacity\""),
            fixtureText.replaceFirst("\"service\": \"rust\", \"mode\": \"direct\"", "\"service\": 7, \"mode\": \"direct\""),
            fixtureText.replaceFirst("{\"fraction\": 0.5,", "{\"fraction\": null,"),
        )) {
            Files.writeString(bad, text)
            assertNull(DbLoadTestSummary.read(bad, recorded = false), text.take(80))
        }
        // The HTTP load test's reader does not take a db summary for one of its own (both live in docs/results/*loadtest*).
        assertNull(LoadTestSummary.read(write(dir.resolve("db.json"), fixtureText), recorded = true))
    }

    @Test
    fun `find takes this build's summary first, else the latest recorded one by date`() {
        assertNull(DbLoadTestSummary.find(dir))
        val results = dir.resolve(DbLoadTestSummary.RECORDED)
        write(results.resolve("2026-12-01-db-loadtest/summary.json"), fixtureText.replace("2026-12-07T20:50:00Z", "2026-12-01T10:00:00Z"))
        val latest =
            write(
                results.resolve("2026-12-03-db-loadtest-run2/summary.json"),
                fixtureText.replace("2026-12-07T20:50:00Z", "2026-12-03T10:00:00Z"),
            )
        write(results.resolve("2026-12-09-db-loadtest-broken/summary.json"), "{\"schema\": 1, \"kind\": \"db-loadtest\"}")
        write(results.resolve("2026-12-09-loadtest-services/summary.json"), "{\"schema\": 2, \"date\": \"2026-12-09\"}")
        val recorded = assertNotNull(DbLoadTestSummary.find(dir))
        assertEquals(latest, recorded.path)
        assertTrue(recorded.recorded)

        val local = write(dir.resolve(DbLoadTestSummary.BUILD), fixtureText)
        val found = assertNotNull(DbLoadTestSummary.find(dir))
        assertEquals(local, found.path)
        assertFalse(found.recorded)
    }
}
