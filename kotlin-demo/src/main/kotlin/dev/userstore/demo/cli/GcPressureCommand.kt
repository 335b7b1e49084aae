package dev.userstore.demo.cli

import com.github.ajalt.clikt.core.CliktCommand
import com.github.ajalt.clikt.core.Context
import com.github.ajalt.clikt.core.ParameterHolder
import com.github.ajalt.clikt.core.context
import com.github.ajalt.clikt.output.MordantHelpFormatter
import com.github.ajalt.clikt.parameters.options.check
import com.github.ajalt.clikt.parameters.options.convert
import com.github.ajalt.clikt.parameters.options.default
import com.github.ajalt.clikt.parameters.options.flag
import com.github.ajalt.clikt.parameters.options.option
import com.github.ajalt.clikt.parameters.options.split
import com.github.ajalt.clikt.parameters.types.double
import com.github.ajalt.clikt.parameters.types.int
import com.github.ajalt.clikt.parameters.types.long
import com.github.ajalt.clikt.parameters.types.path
import com.github.ajalt.clikt.parameters.types.restrictTo
import dev.userstore.demo.measure.GcChoice
import dev.userstore.demo.measure.GcPressureOptions
import dev.userstore.demo.measure.MAX_USERS
import dev.userstore.demo.measure.runGcPressure
import dev.userstore.demo.report.Json
import dev.userstore.demo.report.gcPressureJson
import dev.userstore.demo.report.gcPressureTable
import dev.userstore.demo.report.writeText
import java.io.PrintStream

/**
 * `gc-pressure`: lookup tail latency while the application allocates garbage at a steady rate,
 * with millions of users resident, under each chosen collector; both stores in each child JVM.
 */
class GcPressureCommand(
    private val out: PrintStream = System.out,
    private val err: PrintStream = System.err,
) : CliktCommand(name = "gc-pressure") {
    private val users by option("--users", metavar = "N", help = "users loaded into each store")
        .int()
        .restrictTo(1..MAX_USERS)
        .default(2_000_000)
    private val duration by option(
        "--duration",
        metavar = "SECONDS",
        help = "seconds of timed gets per store, per condition, per collector",
    ).double()
        .restrictTo(0.1..3600.0)
        .default(10.0)
    private val allocRate by allocRateOption()
    private val gcs by collectorsOption()
    private val heap by heapOption("--heap", DEFAULT_HEAP)
    private val seed by option("--seed", metavar = "N", help = "seed of the load order and the lookup ids").long().default(42L)
    private val json by option("--json", metavar = "PATH", help = "also write the raw results as JSON to PATH").path(canBeDir = false)
    private val sameJvm by option("--same-jvm", help = "both stores in one child JVM per collector (default: one child JVM per store)")
        .flag()

    init {
        context { helpFormatter = { MordantHelpFormatter(it, showDefaultValues = true) } }
    }

    override fun help(context: Context): String =
        "Lookup tail latency (p99, p99.9, max) of both stores while a background thread allocates garbage at a steady rate, " +
            "with millions of users resident, under G1 and ZGC (one child JVM per store and collector)."

    override fun run() {
        val options = GcPressureOptions(users, duration, allocRate, gcs, heap, seed, sameJvm)
        val runs = runGcPressure(options) { err.println(it) }
        out.println(gcPressureTable(runs, sameJvm).joinToString("\n"))
        json?.let { path ->
            writeText(path, Json.encode(gcPressureJson(options, runs)) + "\n", "--json")
            for (run in runs) {
                writeText(
                    path.resolveSibling("${path.fileName.toString().removeSuffix(".json")}-gc-${run.gc.label}.log"),
                    run.gcLog.joinToString("") {
                        it +
                            "\n"
                    },
                    "GC log",
                )
            }
            out.println("raw results written to $path (GC logs beside it)")
        }
    }

    companion object {
        /** Default garbage rate, MB/s. */
        const val DEFAULT_ALLOC_RATE = 200.0

        /** Default fixed heap of the child JVMs. */
        const val DEFAULT_HEAP = "3g"
    }
}

/** `--alloc-rate` of gc-pressure and compare. */
internal fun ParameterHolder.allocRateOption() =
    option("--alloc-rate", metavar = "MB/s", help = "garbage the background thread allocates per second (GC-pressure scenario)")
        .double()
        .restrictTo(1.0..100_000.0)
        .default(GcPressureCommand.DEFAULT_ALLOC_RATE)

/** `--gc` of gc-pressure and compare. */
internal fun ParameterHolder.collectorsOption() =
    option("--gc", metavar = "LIST", help = "collectors of the GC-pressure scenario, comma-separated: g1, zgc, parallel, serial")
        .convert { name -> GcChoice.entries.firstOrNull { it.label == name } ?: fail("unknown collector '$name'") }
        .split(",")
        .default(listOf(GcChoice.G1, GcChoice.ZGC), defaultForHelp = "g1,zgc")

/** The fixed heap of the GC-pressure child JVMs, as option [name]. */
internal fun ParameterHolder.heapOption(
    name: String,
    default: String,
) = option(name, metavar = "SIZE", help = "fixed heap of each GC-pressure child JVM (-Xms = -Xmx)")
    .default(default)
    .check("must look like 2g or 4096m") { HEAP_SIZE.matches(it) }

/** A heap size as -Xmx takes it: digits and k, m or g. */
internal val HEAP_SIZE = Regex("[1-9][0-9]*[kmgKMG]")
