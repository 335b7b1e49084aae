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
}
