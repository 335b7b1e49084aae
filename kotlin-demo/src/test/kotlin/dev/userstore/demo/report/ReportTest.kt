package dev.userstore.demo.report

import com.github.ajalt.clikt.core.parse
import dev.userstore.demo.cli.CompareCommand
import dev.userstore.demo.cli.GcPressureCommand
import dev.userstore.demo.measure.BYTES_PER_MB
import dev.userstore.demo.measure.GarbageGenerator
import dev.userstore.demo.measure.HOSTILE_CALLS
import dev.userstore.demo.measure.StallStats
import dev.userstore.demo.measure.allocationStalls
import dev.userstore.demo.measure.decodeHistogram
import dev.userstore.demo.measure.encodeHistogram
import dev.userstore.demo.measure.newHistogram
import dev.userstore.demo.verdict.Verdicts
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.ByteArrayOutputStream
import java.io.PrintStream
import java.nio.file.Files
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/** The HTML report, the GC-pressure scenario (child JVMs) and the garbage generator, on tiny sizes. */
class ReportTest {
    @Test
    fun `compare writes a report with charts, raw numbers and a verdict on every claim`(
        @TempDir dir: Path,
    ) {
        val out = ByteArrayOutputStream()
        val err = ByteArrayOutputStream()
        CompareCommand(PrintStream(out, true, Charsets.UTF_8), PrintStream(err, true, Charsets.UTF_8)).parse(
            (
                "--users 2000 --duration 0.3 --warmup 0.2 --startup-repeats 1 --report-dir $dir --gc-pressure-users 3000 " +
                    "--gc-pressure-duration 0.2 --alloc-rate 50 --gc serial --gc-pressure-heap 256m --durability-duration 0.1 " +
                    "--durability-dir $dir/durable"
            ).split(" "),
        )
        val stdout = out.toString(Charsets.UTF_8)
        val index = dir.resolve("index.html")
        assertTrue("report written to ${index.toAbsolutePath().normalize()}" in stdout, stdout)

        val html = Files.readString(index)
        val claims =
            listOf(Verdicts.GC_CLAIM, Verdicts.MEMORY_CLAIM, Verdicts.WARMUP_CLAIM, Verdicts.THROUGHPUT_CLAIM, Verdicts.SAFETY_CLAIM)
        val verdictLines = stdout.lines().filter { line -> claims.any { line.startsWith("- $it: ") } }
        assertEquals(claims.size, verdictLines.size, "one console verdict per claim:\n$stdout")
        for (line in verdictLines) {
            val outcome = Regex(": (HOLDS|DOES NOT HOLD|DEPENDS)\\. ").find(line)
            assertTrue(outcome != null, "a measured outcome: $line")
            assertTrue(Regex("[0-9]").containsMatchIn(line.substringAfter(outcome.value)), "numbers in the why: $line")
        }
        for (claim in claims) assertTrue(html.contains(claim), "report names the claim '$claim'")
        assertTrue(Regex("<td class=\"outcome\">(holds|does not hold|depends)</td>").findAll(html).count() == claims.size, "verdict cells")
        for (id in listOf("latency", "throughput", "memory", "gc-pauses", "gc-pressure-latency", "gc-pressure-tails", "warmup")) {
            assertTrue(Regex("<figure id=\"$id\">\\s*<svg").containsMatchIn(html), "inline SVG chart '$id'")
            assertTrue(Files.readString(dir.resolve("$id.svg")).trimStart().startsWith("<svg"), "$id.svg")
        }

        val json = Files.readString(dir.resolve("results.json"))
        assertTrue(
            json.startsWith("{\"environment\":") && "\"verdicts\":[{\"claim\":" in json && "\"gcPressure\":{" in json,
            json.take(300),
        )
        val csv = Files.readAllLines(dir.resolve("results.csv"))
        assertEquals("section,store,collector,metric,value", csv.first())
        assertTrue(csv.any { it.startsWith("gc_pressure,kotlin,serial,pressure_p99.9_ns,") }, "GC pressure rows in the CSV")
        assertTrue(csv.any { it.startsWith("safety,native,,clean_exceptions,$HOSTILE_CALLS") }, "safety rows in the CSV")
        assertTrue(Files.readAllLines(dir.resolve("percentiles.csv")).size > 10, "percentile curves")

        // The durability scenario: measured in this run, in the console, the page, the JSON and the CSV.
        assertTrue("Durability (issue 13):" in stdout, stdout)
        val goalLines = stdout.lines().filter { Regex("^- (native|kotlin): Sync\\.").containsMatchIn(it) }
        assertEquals(8, goalLines.size, "4 goals per store:\n$stdout")
        for (line in goalLines) assertTrue(Regex(": (MET|NOT MET)$").containsMatchIn(line), line)
        assertTrue("<h2>Durability: what a durable store costs a put</h2>" in html, "durability section")
        assertTrue(Regex("<td class=\"outcome\">(met|not met)</td>").findAll(html).count() == 8, "durability goal cells")
        assertTrue("\"durability\":{\"seconds\":0.1," in json && "\"syncFloor\":{\"recordBytes\":40," in json, "durability JSON")
        assertTrue(csv.any { it.startsWith("durability,native,") && "always_8t_puts_per_second" in it }, "durability rows in the CSV")
        assertEquals(emptyList(), Files.list(dir.resolve("durable")).use { it.toList() }, "every data directory deleted")
    }

    @Test
    fun `gc-pressure measures both stores under each collector in child JVMs`(
        @TempDir dir: Path,
    ) {
        val out = ByteArrayOutputStream()
        val json = dir.resolve("gc.json")
        GcPressureCommand(PrintStream(out, true, Charsets.UTF_8), PrintStream(ByteArrayOutputStream(), true)).parse(
            "--users 3000 --duration 0.2 --alloc-rate 50 --gc serial,parallel --heap 256m --same-jvm --json $json".split(" "),
        )
        val rows = out.toString(Charsets.UTF_8).lines().filter { Regex("^(serial|parallel) +(native|kotlin) ").containsMatchIn(it) }
        assertEquals(4, rows.size, out.toString(Charsets.UTF_8))
        for (row in rows) {
            val cells = row.trim().split(Regex(" {3,}"))
            val rate = cells[2].toDouble()
            assertTrue(rate in 1.0..60.0, "measured garbage rate near the asked 50 MB/s: $row")
            val (p99, p999, max) = cells.subList(3, 6).map { it.replace(",", "").toDouble() }
            assertTrue(p99 > 0 && p99 <= p999 && p999 <= max, row)
        }
        val text = Files.readString(json)
        assertTrue(
            "\"gc\":\"serial\"" in text && "\"gc\":\"parallel\"" in text && "\"pressureLatencyNanos\":{\"count\":" in text,
            text.take(400),
        )
        assertTrue(
            "\"collectors\":[\"Copy\"" in text || "\"collectors\":[\"Copy\",\"MarkSweepCompact\"]" in text,
            "the child ran the serial collector",
        )
    }

    @Test
    fun `the garbage generator keeps to its rate`() {
        val generator = GarbageGenerator(50 * BYTES_PER_MB, 4 * BYTES_PER_MB, seed = 1)
        Thread.sleep(600)
        generator.close()
        val rate = generator.achievedBytesPerSecond / BYTES_PER_MB
        assertTrue(rate in 10.0..60.0, "asked 50 MB/s, got $rate")
    }

    @Test
    fun `allocation stalls are read from the GC log per thread`() {
        val log =
            listOf(
                "[0.783s][info][gc] GC(0) Garbage Collection (Warmup) 68M(13%)->68M(13%)",
                "[5.101s][info][gc] Allocation Stall (kotlin-pressure-0) 682.123ms",
                "[5.102s][info][gc] Allocation Stall (garbage) 12.5ms",
                "[6.000s][info][gc] Allocation Stall (kotlin-pressure-0) 17.877ms",
            )
        val stalls = allocationStalls(log)
        assertEquals(
            StallStats(2, 700.0, 682.123),
            stalls["kotlin-pressure-0"]?.let {
                it.copy(
                    totalMillis =
                        Math.round(it.totalMillis * 1000) / 1000.0,
                )
            },
        )
        assertEquals(1, stalls["garbage"]?.count)
        assertEquals(null, stalls["native-pressure-0"])
    }

    @Test
    fun `histograms survive the trip from a child JVM`() {
        val h = newHistogram()
        for (v in 1L..10_000L) h.recordValue(v * 10)
        val back = decodeHistogram(encodeHistogram(h))
        assertEquals(h.totalCount, back.totalCount)
        assertEquals(h.getValueAtPercentile(99.9), back.getValueAtPercentile(99.9))
        assertEquals(h.maxValue, back.maxValue)
    }
}
