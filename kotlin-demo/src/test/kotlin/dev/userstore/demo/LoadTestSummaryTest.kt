package dev.userstore.demo

import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Files
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

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
}
