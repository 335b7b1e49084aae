package dev.userstore.service

import io.micrometer.prometheusmetrics.PrometheusConfig
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.time.Duration
import kotlin.test.Test
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/** [ReplicaCommitDelayTimer] without a server: its buckets are the Rust service's, and its Prometheus lines. */
class ReplicaMetricsTest {
    /** The project root: the folder above this module's (Maven runs the tests in the module's folder). */
    private val root: Path = Paths.get(System.getProperty("user.dir")).toAbsolutePath().parent

    @Test
    fun `the buckets are the Rust service's COMMIT_DELAY_BUCKETS`() {
        val source = Files.readString(root.resolve("server/src/telemetry.rs"))
        val list =
            Regex("""pub const COMMIT_DELAY_BUCKETS: \[f64; (\d+)] = \[([^\]]*)];""").find(source)
                ?: error("COMMIT_DELAY_BUCKETS not found in server/src/telemetry.rs")
        val rust =
            list.groupValues[2]
                .split(',')
                .map { it.trim() }
                .filter { it.isNotEmpty() }
                .map { it.replace("_", "").toDouble() }
        assertEquals(list.groupValues[1].toInt(), rust.size)
        assertEquals(rust, REPLICA_COMMIT_DELAY_BUCKETS_SECONDS)
    }

    @Test
    fun `the timer is scraped as userstore_replica_commit_delay_seconds with exactly those bounds`() {
        val registry = PrometheusMeterRegistry(PrometheusConfig.DEFAULT)
        val timer = ReplicaCommitDelayTimer(registry).timer
        timer.record(Duration.ofNanos(400_000)) // in (0.0003, 0.0005]
        timer.record(Duration.ofMillis(20)) // on the bound 0.02: counted in it
        timer.record(Duration.ofSeconds(40)) // above the last bound: +Inf only
        val lines = registry.scrape().lines()
        val bucket = Regex("""^userstore_replica_commit_delay_seconds_bucket\{le="([^"]+)"} (\S+)$""")
        val buckets = lines.mapNotNull { bucket.matchEntire(it) }.associate { it.groupValues[1] to it.groupValues[2].toDouble() }
        assertEquals(
            REPLICA_COMMIT_DELAY_BUCKETS_SECONDS + Double.POSITIVE_INFINITY,
            buckets.keys.map { if (it == "+Inf") Double.POSITIVE_INFINITY else it.toDouble() },
        )
        val cumulative = buckets.mapKeys { (le, _) -> if (le == "+Inf") Double.POSITIVE_INFINITY else le.toDouble() }
        assertEquals(0.0, cumulative[0.0003])
        assertEquals(1.0, cumulative[0.0005])
        assertEquals(1.0, cumulative[0.015])
        assertEquals(2.0, cumulative[0.02])
        assertEquals(2.0, cumulative[30.0])
        assertEquals(3.0, cumulative[Double.POSITIVE_INFINITY])
        assertTrue("userstore_replica_commit_delay_seconds_count 3" in lines, lines.joinToString("\n"))
        val sum = lines.first { it.startsWith("userstore_replica_commit_delay_seconds_sum ") }.substringAfter(' ').toDouble()
        assertEquals(40.0204, sum, 1e-9)
    }
}
