package dev.userstore.demo.cli

import com.github.ajalt.clikt.core.CliktCommand
import com.github.ajalt.clikt.core.Context
import com.github.ajalt.clikt.core.context
import com.github.ajalt.clikt.output.MordantHelpFormatter
import com.github.ajalt.clikt.parameters.options.check
import com.github.ajalt.clikt.parameters.options.default
import com.github.ajalt.clikt.parameters.options.flag
import com.github.ajalt.clikt.parameters.options.option
import com.github.ajalt.clikt.parameters.types.double
import com.github.ajalt.clikt.parameters.types.enum
import com.github.ajalt.clikt.parameters.types.int
import com.github.ajalt.clikt.parameters.types.long
import com.github.ajalt.clikt.parameters.types.path
import com.github.ajalt.clikt.parameters.types.restrictTo
import dev.userstore.NativeUserStore
import dev.userstore.demo.measure.Benchmark
import dev.userstore.demo.measure.CompareOptions
import dev.userstore.demo.measure.DurabilityOptions
import dev.userstore.demo.measure.Environment
import dev.userstore.demo.measure.GcMonitor
import dev.userstore.demo.measure.GcPressureOptions
import dev.userstore.demo.measure.MAX_USERS
import dev.userstore.demo.measure.Progress
import dev.userstore.demo.measure.STARTUP_REPEATS
import dev.userstore.demo.measure.StoreChoice
import dev.userstore.demo.measure.StoreKind
import dev.userstore.demo.measure.checkSafety
import dev.userstore.demo.measure.runDurability
import dev.userstore.demo.measure.runGcPressure
import dev.userstore.demo.measure.runStartup
import dev.userstore.demo.report.HtmlReport
import dev.userstore.demo.report.Json
import dev.userstore.demo.report.Report
import dev.userstore.demo.report.ShapesSummary
import dev.userstore.demo.report.extrasText
import dev.userstore.demo.report.resultsToJson
import dev.userstore.demo.report.serviceVerdictsText
import dev.userstore.demo.report.writeText
import dev.userstore.demo.verdict.Extras
import dev.userstore.demo.verdict.LoadTestSummary
import dev.userstore.demo.verdict.verdicts
import java.io.OutputStream
import java.io.PrintStream
import java.nio.file.Path

/** Whether this JVM's native store runs over FFM (false too when the library cannot load: the store says why). */
internal fun ffmByDefault(): Boolean = runCatching { NativeUserStore.binding() == "ffm" }.getOrDefault(false)

/** [stream] as a UTF-8 print stream (JDK 17 would otherwise encode "µ" with the locale's charset). */
private fun utf8(stream: OutputStream): PrintStream = PrintStream(stream, true, Charsets.UTF_8)

/**
 * `compare`: loads the same users into each selected store, runs the same lookups against each
 * and prints a side-by-side table of what was measured (see [Benchmark] and [Report]).
 *
 * It writes to plain streams rather than through Clikt's terminal, which would load JNA (a JNI
 * library of its own) into the process being measured.
 *
 * @param out where the report goes
 * @param err where progress goes
 */
class CompareCommand(
    private val out: PrintStream = utf8(System.out),
    private val err: PrintStream = utf8(System.err),
) : CliktCommand(name = "compare") {
    private val users by option("--users", metavar = "N", help = "users loaded into each store")
        .int()
        .restrictTo(1..MAX_USERS)
        .default(1_000_000)
    private val duration by option("--duration", metavar = "SECONDS", help = "seconds each store spends in each of the 3 measured loops")
        .double()
        .restrictTo(0.1..3600.0)
        .default(3.0)
        .check("must be a number") { it.isFinite() }
    private val warmup by option("--warmup", metavar = "SECONDS", help = "seconds of unrecorded warm-up lookups per store")
        .double()
        .restrictTo(0.0..600.0)
        .default(2.0)
        .check("must be a number") { it.isFinite() }
    private val threads by option("--threads", metavar = "N", help = "lookup threads; >1 reports aggregate throughput")
        .int()
        .restrictTo(1..256)
        .default(1)
    private val seed by option("--seed", metavar = "N", help = "seed of the load order and of the lookup ids")
        .long()
        .default(42L)
    private val store by option("--store", help = "which stores to measure")
        .enum<StoreChoice> { it.name.lowercase() }
        .default(StoreChoice.BOTH, defaultForHelp = "both")
    private val batch by option("--batch", metavar = "N", help = "ids per getMany call")
        .int()
        .restrictTo(1..65_536)
        .default(1024)
    private val json by option("--json", metavar = "PATH", help = "also write the raw results as JSON to PATH")
        .path(canBeDir = false)
    private val reportDir by option("--report-dir", metavar = "DIR", help = "where the HTML report and its raw numbers (JSON, CSV) go")
        .path(canBeFile = false)
        .default(Path.of("build", "reports", "userstore"), defaultForHelp = "build/reports/userstore")
    private val startupRepeats by option(
        "--startup-repeats",
        metavar = "N",
        help = "fresh JVMs per store for the start-up and warm-up figures",
    ).int()
        .restrictTo(1..100)
        .default(STARTUP_REPEATS)
    private val gcPressure by option("--gc-pressure", help = "also run the GC-pressure scenario (child JVMs, one per collector)")
        .flag("--no-gc-pressure", default = true)
    private val gcPressureUsers by option("--gc-pressure-users", metavar = "N", help = "users per store in the GC-pressure scenario")
        .int()
        .restrictTo(1..MAX_USERS)
        .default(DEFAULT_GC_PRESSURE_USERS)
    private val gcPressureDuration by option(
        "--gc-pressure-duration",
        metavar = "SECONDS",
        help = "seconds of timed gets per store, per condition, per collector in the GC-pressure scenario",
    ).double()
        .restrictTo(0.1..3600.0)
        .default(DEFAULT_GC_PRESSURE_SECONDS)
    private val durability by option("--durability", help = "also measure puts memory-only against durable (Sync.ALWAYS, Sync.BATCH)")
        .flag("--no-durability", default = true)
    private val durabilityDuration by option(
        "--durability-duration",
        metavar = "SECONDS",
        help = "seconds of puts per store, per mode, per thread count (1 and 8) in the durability scenario",
    ).double()
        .restrictTo(0.05..600.0)
        .default(DEFAULT_DURABILITY_SECONDS)
        .check("must be a number") { it.isFinite() }
    private val durabilityDir by option(
        "--durability-dir",
        metavar = "DIR",
        help = "where the durability scenario makes its data directories",
    ).path(canBeFile = false)
        .default(Path.of(System.getProperty("java.io.tmpdir")), defaultForHelp = "java.io.tmpdir")
    private val allocRate by allocRateOption()
    private val gcs by collectorsOption()
    private val gcPressureHeap by heapOption("--gc-pressure-heap", DEFAULT_GC_PRESSURE_HEAP)

    init {
        context { helpFormatter = { MordantHelpFormatter(it, showDefaultValues = true) } }
    }

    override fun help(context: Context): String =
        "Loads the same users into the native (Rust, through FFM on JDK 22+ or JNI) and the Kotlin store, runs the same lookups " +
            "against each and prints what was measured side by side."

    override fun run() {
        // On JDK 22+ the default native store runs over FFM: the JNI binding is measured beside it.
        val kinds =
            if (store == StoreChoice.BOTH &&
                ffmByDefault()
            ) {
                listOf(StoreKind.NATIVE, StoreKind.NATIVE_JNI, StoreKind.KOTLIN)
            } else {
                store.kinds
            }
        val options = CompareOptions(users, duration, warmup, threads, seed, kinds, batch, json)
        val environment = Environment.capture()
        val results =
            Progress(::writeProgress).use { progress ->
                GcMonitor().use { gc -> Benchmark(options, environment, gc, progress).run() }
            }
        val log = { line: String -> writeProgress(line, true) }
        val safety = options.stores.map { checkSafety(it) }
        val startup = runStartup(options.stores, log, startupRepeats)
        val pressureOptions =
            if (gcPressure) GcPressureOptions(gcPressureUsers, gcPressureDuration, allocRate, gcs, gcPressureHeap, seed) else null
        val pressure = pressureOptions?.let { runGcPressure(it, log) }.orEmpty()
        val durable = if (durability) runDurability(options.stores, DurabilityOptions(durabilityDuration, durabilityDir), log) else null
        val extras = Extras(startup, safety, pressureOptions, pressure, startupRepeats, durable)
        val verdicts = verdicts(options, results, extras)
        val loadTest = LoadTestSummary.find()
        val shapes = ShapesSummary.find()
        val text =
            (listOf(Report(environment, options, results, shapes).render()) + extrasText(extras, verdicts) + serviceVerdictsText(loadTest))
                .joinToString("\n")
        out.println(text)
        options.json?.let { writeJson(it, Json.encode(resultsToJson(environment, options, results))) }
        val index = HtmlReport(environment, options, results, extras, verdicts, text, loadTest, shapes).write(reportDir)
        out.println("report written to ${index.toAbsolutePath().normalize()}")
    }

    /** Writes a progress [text] to [err], ending the line if [newline]. */
    private fun writeProgress(
        text: String,
        newline: Boolean,
    ) {
        if (newline) err.println(text) else err.print(text)
        err.flush()
    }

    /** Writes [text] to [path], turning an I/O failure into a plain error message. */
    private fun writeJson(
        path: Path,
        text: String,
    ) {
        writeText(path, text + "\n", "--json")
        out.println("raw results written to $path")
    }

    private companion object {
        /** The GC-pressure scenario inside compare: shorter and smaller than the standalone gc-pressure. */
        const val DEFAULT_GC_PRESSURE_USERS = 1_000_000
        const val DEFAULT_GC_PRESSURE_SECONDS = 2.0
        const val DEFAULT_GC_PRESSURE_HEAP = "1g"

        /** The durability scenario: seconds per store, mode and thread count (12 runs for both stores). */
        const val DEFAULT_DURABILITY_SECONDS = 1.0
    }
}
