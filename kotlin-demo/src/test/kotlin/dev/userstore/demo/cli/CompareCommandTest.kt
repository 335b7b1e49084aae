package dev.userstore.demo.cli

import com.github.ajalt.clikt.core.UsageError
import com.github.ajalt.clikt.core.parse
import dev.userstore.demo.format.ratio
import dev.userstore.demo.withDefaultSubcommand
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.ByteArrayOutputStream
import java.io.PrintStream
import java.nio.file.Files
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotEquals
import kotlin.test.assertTrue

/** Runs `compare` for real on a tiny workload against both stores and checks what it prints. */
class CompareCommandTest {
    private val users = 2_000

    @Test
    fun `compare prints a side-by-side table with plausible numbers`(
        @TempDir dir: Path,
    ) {
        val json = dir.resolve("results.json")
        val result =
            compare(
                "--users $users --duration 1 --warmup 0.3 --store both --json $json --no-gc-pressure --no-durability --startup-repeats 1 --report-dir $dir",
            )
        val table = Table.parse(result.stdout)
        // On JDK 22+ the native store runs over FFM and the JNI binding is measured beside it.
        val stores = if (ffmByDefault()) listOf("native", "native-jni", "kotlin") else listOf("native", "kotlin")
        assertEquals(stores + "native/kotlin", table.columns)

        for (store in stores) {
            assertEquals(users.toDouble(), table.value("users loaded", store), "$store: users loaded")
            assertTrue(table.value("timed gets recorded", store) > 0, "$store: timed gets")
            assertTrue(table.value("load throughput (users/s)", store) > 0, "$store: load throughput")
            assertTrue(table.value(UNTIMED, store) > 0, "$store: get throughput")
            assertTrue(table.value("getMany throughput (ids/s, 1024 per call, 1 thread)", store) > 0, "$store: getMany")
            val latencies = LATENCY_ROWS.map { table.value(it, store) }
            assertTrue(latencies.first() > 0, "$store: p50 $latencies")
            assertEquals(latencies.sorted(), latencies, "$store: p50 <= p90 <= ... <= max")
            assertTrue(table.value("memory: total (B/user)", store) >= 0, "$store: memory")
            val gcRows = table.rows.keys.filter { it.startsWith("GC during") }
            assertEquals(4, gcRows.size, "GC rows: load and the three lookup loops")
            for (row in gcRows) {
                val (count, total, longest) = table.cell(row, store).split(" / ")
                assertTrue(count.toLong() >= 0 && total.toLong() >= 0, "$store: $row")
                if (count == "0") assertEquals("0", total, "$store: $row: no collections, no pause")
                if (longest != "-") assertTrue(longest.toLong() >= 0, "$store: $row")
            }
        }

        val ratio = table.cell(UNTIMED, "native/kotlin").removeSuffix("x").toDouble()
        val expected = table.value(UNTIMED, "native") / table.value(UNTIMED, "kotlin")
        assertEquals(expected, ratio, expected * 0.02 + 0.01, "ratio column is native/kotlin")

        val summary = result.stdout.substringAfter("Summary (computed from this run):", "")
        assertNotEquals("", summary, "a computed summary follows the table")
        assertTrue(table.cell(UNTIMED, "native/kotlin") in summary, "the summary quotes this run's throughput ratio")
        assertTrue("JDK" in result.stdout && "CPU" in result.stdout && "max heap" in result.stdout, "header")

        val text = Files.readString(json)
        assertTrue(text.startsWith("{") && "\"native\":{" in text && "\"kotlin\":{" in text, text)
        assertTrue("\"users\":$users" in text, "JSON has the options")
        for (store in listOf("native", "kotlin")) {
            val timed = table.value("timed gets recorded", store).toLong()
            assertTrue("\"latencyNanos\":{\"count\":$timed," in text, "$store: JSON has the $timed recorded latencies")
            assertTrue("loaded $store: 2,000 users" in result.stderr, "progress on stderr: ${result.stderr}")
        }
    }

    @Test
    fun `a single store gives a single column`(
        @TempDir dir: Path,
    ) {
        val result =
            compare(
                "--users 500 --duration 0.2 --warmup 0 --store kotlin --threads 2 --no-gc-pressure --no-durability --startup-repeats 1 --report-dir $dir",
            )
        val table = Table.parse(result.stdout)
        assertEquals(listOf("kotlin"), table.columns)
        assertEquals(500.0, table.value("users loaded", "kotlin"))
        assertTrue("aggregate" in result.stdout)
        assertTrue("Verdicts" !in result.stdout, "no verdicts without both stores")
        assertTrue(Files.exists(dir.resolve("index.html")), "the report is written for one store too")
    }

    @Test
    fun `bad options are usage errors`() {
        for (args in listOf(
            "--users 0",
            "--duration -1",
            "--duration NaN",
            "--threads 0",
            "--store rust",
            "--seed x",
            "extra",
            "--gc cms",
            "--gc-pressure-heap 2x",
            "--durability-duration 0",
        )) {
            val error = assertFailsWith<UsageError>(args) { compare(args) }
            assertEquals(1, error.statusCode, args)
        }
    }

    @Test
    fun `compare is the default subcommand`() {
        val names = setOf("compare", "serve")
        assertEquals(listOf("compare"), withDefaultSubcommand(emptyList(), names))
        assertEquals(listOf("compare", "--users", "5"), withDefaultSubcommand(listOf("--users", "5"), names))
        assertEquals(listOf("compare", "--users", "5"), withDefaultSubcommand(listOf("compare", "--users", "5"), names))
        assertEquals(listOf("serve"), withDefaultSubcommand(listOf("serve"), names))
        assertEquals(listOf("--help"), withDefaultSubcommand(listOf("--help"), names))
    }

    /** What one run of `compare` printed. */
    private class Output(
        val stdout: String,
        val stderr: String,
    )

    /**
     * Runs `compare` with [args] (split on spaces), capturing its streams. Clikt's own test helper is
     * not used: its terminal would load JNA, whose JNI calls trip the suite's -Xcheck:jni gate.
     */
    private fun compare(args: String): Output {
        val out = ByteArrayOutputStream()
        val err = ByteArrayOutputStream()
        CompareCommand(PrintStream(out, true, Charsets.UTF_8), PrintStream(err, true, Charsets.UTF_8)).parse(args.split(" "))
        return Output(out.toString(Charsets.UTF_8), err.toString(Charsets.UTF_8))
    }

    /** The table `compare` prints: a heading line of store columns, then one labelled row per metric. */
    private class Table(
        val columns: List<String>,
        val rows: Map<String, List<String>>,
    ) {
        fun cell(
            row: String,
            column: String,
        ): String {
            val cells = rows[row] ?: error("no row '$row' in ${rows.keys}")
            return cells.getOrElse(columns.indexOf(column)) { error("no column '$column' in row '$row'") }
        }

        fun value(
            row: String,
            column: String,
        ): Double = cell(row, column).replace(",", "").toDouble()

        companion object {
            private val GAP = Regex(" {2,}")
            private val STORES = setOf("native", "kotlin")

            fun parse(stdout: String): Table {
                val lines = stdout.lines()
                val start = lines.indexOfFirst { it.startsWith(" ") && it.trim().split(GAP).first() in STORES }
                assertTrue(start >= 0, "no table heading in:\n$stdout")
                val columns = lines[start].trim().split(GAP)
                val body = lines.drop(start + 1).takeWhile { it.isNotBlank() }
                val rows = body.associate { line -> line.split(GAP).let { it.first() to it.drop(1) } }
                return Table(columns, rows)
            }
        }
    }

    private companion object {
        const val UNTIMED = "get throughput, untimed (ops/s, 1 thread)"
        val LATENCY_ROWS = listOf("p50", "p90", "p99", "p99.9", "p99.99", "max").map { "get latency $it (µs)" }
    }
}
