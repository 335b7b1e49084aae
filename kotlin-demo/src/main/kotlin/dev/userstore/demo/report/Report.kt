package dev.userstore.demo.report

import dev.userstore.demo.format.fmt
import dev.userstore.demo.format.oneDecimal
import dev.userstore.demo.format.plural
import dev.userstore.demo.format.ratio
import dev.userstore.demo.measure.CompareOptions
import dev.userstore.demo.measure.CompareResults
import dev.userstore.demo.measure.Environment
import dev.userstore.demo.measure.GcStats
import dev.userstore.demo.measure.LoopKind
import dev.userstore.demo.measure.MIB
import dev.userstore.demo.measure.StoreKind
import dev.userstore.demo.measure.StoreResult

/** Latency percentiles the table shows, with their labels. */
internal val PERCENTILES = listOf("p50" to 50.0, "p90" to 90.0, "p99" to 99.0, "p99.9" to 99.9, "p99.99" to 99.99)

/** Columns of the table are separated by at least this many spaces (cells never hold two in a row). */
private const val GAP = "   "

/** Nanoseconds per microsecond. */
private const val NANOS_PER_MICRO = 1_000.0

/** Nanoseconds per millisecond. */
private const val NANOS_PER_MILLI = 1_000_000.0

/** One row of the table: a label, a cell per store and, where it makes sense, native/kotlin. */
private class Row(
    val label: String,
    val cells: Map<StoreKind, String>,
    val ratio: String = "",
)

/** A whole number with thousands separators. */
private fun whole(x: Double): String = fmt("%,.0f", x)

/** Nanoseconds as microseconds with three decimals. */
private fun micros(nanos: Double): String = fmt("%,.3f", nanos / NANOS_PER_MICRO)

/**
 * The text `compare` prints: a header describing the machine and the run, the side-by-side table,
 * notes on how each figure was measured, and a few sentences computed from this run's numbers.
 */
internal class Report(
    private val env: Environment,
    private val options: CompareOptions,
    private val results: CompareResults,
    /** `./gradlew benchShapes`' table, shown beside this run's figures when it exists. */
    private val shapes: ShapesSummary? = null,
) {
    /** Stores in table order: native first, then kotlin. */
    private val kinds = StoreKind.entries.filter { results.of(it) != null }
    private val both = StoreKind.NATIVE in kinds && StoreKind.KOTLIN in kinds

    /** The whole report. */
    fun render(): String = (header() + "" + table() + "" + notes() + "" + shapesSection() + "" + summary()).joinToString("\n")

    /** The shape this run measures, its figures per get, and the two shapes of `./gradlew benchShapes` beside them. */
    private fun shapesSection(): List<String> = if (both) shapesText(results, options.threads, shapes) else emptyList()

    private fun header(): List<String> {
        val order = results.order.joinToString(", then ") { it.label }
        return listOf(
            "userstore compare: the same users and the same lookups against each store, in one JVM",
            "JDK       ${env.javaVersion} (${env.javaVendor}), ${env.vmName}",
            "GC        ${env.collectors.joinToString(", ")}",
            "CPU       ${env.cpuModel}, ${env.cores} cores",
            "max heap  ${whole(env.maxHeapBytes.toDouble() / MIB)} MiB",
            "options   --users ${options.users} --duration ${options.durationSeconds} --warmup ${options.warmupSeconds} " +
                "--threads ${options.threads} --seed ${options.seed} --store ${storeOption()} --batch ${options.batchSize}",
            "order     loaded $order (order drawn from --seed); each lookup loop then runs ${plural(results.rounds, "round")} " +
                "of ${fmt("%.2f", results.sliceNanos / 1e9)} s per store,",
            "          " +
                (if (results.order.size > 1) "the stores taking turns (${turns()}), " else "") +
                "each slice after a full GC",
            "shape     shared call site: both stores in this JVM, every lookup through the same UserStore call sites " +
                "(bimorphic), as in a backend; not JMH's one store per fork (see Shapes below)",
        )
    }

    /** The order of the stores in the first rounds, e.g. `native-kotlin, kotlin-native, ...`. */
    private fun turns(): String {
        val first = results.order.joinToString("-") { it.label }
        val second = results.order.reversed().joinToString("-") { it.label }
        return if (results.rounds == 1) first else "$first, $second, ..."
    }

    private fun storeOption(): String = if (both) "both" else kinds.single().label

    private fun table(): List<String> {
        val rows = rows()
        val headings = listOf("") + kinds.map { it.label } + (if (both) listOf("native/kotlin") else emptyList())
        val cells = listOf(headings) + rows.map { cellsOf(it) }
        val widths = headings.indices.map { column -> cells.maxOf { it[column].length } }
        return cells.map { line ->
            line
                .mapIndexed { column, cell -> if (column == 0) cell.padEnd(widths[0]) else cell.padStart(widths[column]) }
                .joinToString(GAP)
                .trimEnd()
        }
    }

    private fun cellsOf(row: Row): List<String> =
        listOf(row.label) + kinds.map { row.cells.getValue(it) } + (if (both) listOf(row.ratio) else emptyList())

    private fun rows(): List<Row> {
        val threads = if (options.threads == 1) "1 thread" else "${options.threads} threads, aggregate"
        return listOf(
            row("users loaded", ::whole, false) { it.load.storedAfterLoad.toDouble() },
            row("load time (ms)", ::oneDecimal) { it.load.nanos / NANOS_PER_MILLI },
            row("load throughput (users/s)", ::whole) { it.load.usersPerSecond },
            row("get throughput, untimed (ops/s, $threads)", ::whole) { it.phase(LoopKind.UNTIMED).opsPerSecond },
            row("getMany throughput (ids/s, ${options.batchSize} per call, $threads)", ::whole) { it.phase(LoopKind.BATCH).opsPerSecond },
            row("timed gets recorded", ::whole, false) { it.latency.totalCount.toDouble() },
        ) + latencyRows() + memoryRows() + allocationRows() + gcRows()
    }

    private fun latencyRows(): List<Row> =
        PERCENTILES.map { (label, p) -> row("get latency $label (µs)", ::micros) { it.latency.getValueAtPercentile(p).toDouble() } } +
            row("get latency max (µs)", ::micros) { it.latency.maxValue.toDouble() }

    private fun memoryRows(): List<Row> =
        listOf(
            row("memory: Java heap retained after full GC (B/user)", ::oneDecimal, false) { perUser(it.load.heapRetainedBytes) },
            row("memory: $offHeapMethod (B/user)", ::oneDecimal, false) { s -> s.load.offHeapBytes?.let { perUser(it) } },
            row("memory: total (B/user)", ::oneDecimal) { perUser(it.load.totalBytes) },
        )

    /** How native memory was measured, for the row label. */
    private val offHeapMethod = if (env.heapRange != null) "RSS growth outside the Java heap" else "native, RSS growth - heap growth"

    private fun allocationRows(): List<Row> =
        listOf(
            row("Java heap allocated per get (B)", ::oneDecimal, false) { it.phase(LoopKind.UNTIMED).allocatedPerOp },
            row("Java heap allocated per getMany id (B)", ::oneDecimal, false) { it.phase(LoopKind.BATCH).allocatedPerOp },
        )

    private fun gcRows(): List<Row> =
        listOf(
            "load" to { s: StoreResult -> s.load.gc },
            "timed gets" to { s: StoreResult -> s.phase(LoopKind.TIMED).gc },
            "untimed gets" to { s: StoreResult -> s.phase(LoopKind.UNTIMED).gc },
            "getMany" to { s: StoreResult -> s.phase(LoopKind.BATCH).gc },
        ).map { (phase, gc) ->
            Row("GC during $phase (count / total ms / longest ms)", kinds.associateWith { gcCell(gc(results.of(it)!!)) })
        }

    private fun gcCell(gc: GcStats): String = "${gc.count} / ${gc.pauseMillis} / ${gc.maxPauseMillis ?: "-"}"

    /** A row of numbers: [value] of each store shown with [format], and native/kotlin if [ratio]. */
    private fun row(
        label: String,
        format: (Double) -> String,
        ratio: Boolean = true,
        value: (StoreResult) -> Double?,
    ): Row {
        val values = kinds.associateWith { value(results.of(it)!!) }
        val native = values[StoreKind.NATIVE]
        val kotlin = values[StoreKind.KOTLIN]
        val r = if (ratio && native != null && kotlin != null && native > 0 && kotlin > 0) ratio(native, kotlin) else ""
        return Row(label, values.mapValues { it.value?.let(format) ?: "-" }, r)
    }

    private fun perUser(bytes: Long): Double = bytes.toDouble() / options.users

    private fun notes(): List<String> {
        val sinks = kinds.joinToString(", ") { "${it.label} ${results.of(it)!!.sink}" }
        return listOfNotNull(
            "Notes:",
            "- Every lookup hits (ids drawn uniformly from the loaded ones, same sequence for every store); " +
                "get and getMany results were checked on ${whole(results.verifiedIds.toDouble())} ids (one absent) per store " +
                "before measuring.",
            "- Load: one thread, after a ${whole(results.prewarmUsers.toDouble())}-user warm-up load into a " +
                "separate instance of each store. Lookups: ${plural(options.threads, "thread")}" +
                (if (options.threads > 1) "; throughput is all threads together." else "."),
            "- Latency: System.nanoTime() around each get, so every latency includes one timer call " +
                "(median back-to-back gap here: ${env.timerOverheadNanos} ns) for every store alike; " +
                "the untimed throughput row has no per-call timer. The timer calls also keep the CPU from overlapping " +
                "consecutive lookups, so 1/p50 can be well below the untimed throughput.",
            memoryNote(),
            memoryHint(),
            "- GC: collection counts and total time from the GarbageCollectorMXBeans, longest pause from GC notifications " +
                "(- where none arrived); the lookup rows cover only the measured slices, which each start after a full GC, so a " +
                "store whose garbage fits in the young generation shows none: the allocation rows (the lookup threads' " +
                "allocated bytes, from ThreadMXBean) show the pressure either way.",
            "- Consumed-result checksum (sum of returned name lengths, kept so the JIT cannot drop lookups): $sinks.",
        )
    }

    private fun memoryNote(): String {
        val heap = "- Memory: \"Java heap retained\" is the heap in use after full GCs, after minus before the load."
        val outside =
            when {
                !env.rssAvailable -> {
                    " Resident memory is not readable on this OS, so memory outside the heap is n/a."
                }

                env.heapRange != null -> {
                    " \"RSS growth outside the Java heap\" is the growth of resident memory (/proc/self/smaps) outside " +
                        "the heap's address range during the load: the native store's own memory, plus whatever native " +
                        "memory the JVM took meanwhile (GC structures grow with the committed heap, JIT). Total is the sum."
                }

                else -> {
                    " For native, \"RSS growth - heap growth\" is the growth of process RSS during its load minus the " +
                        "heap growth (the heap's address range was not available from GC.heap_info); kotlin's total is its heap."
                }
            }
        return heap + outside
    }

    private fun memoryHint(): String? =
        when {
            !env.rssAvailable -> {
                null
            }

            env.heapRange != null && !env.heapFixed -> {
                "- Hint: the heap may grow during a load, and the JVM's GC structures with it; for a tighter figure " +
                    "outside the heap fix the heap size, e.g. JAVA_OPTS=\"-Xms4g -Xmx4g\"."
            }

            env.heapRange == null && !env.heapPreTouched -> {
                "- Hint: RSS growth also counts JVM heap pages first touched during the load; for a tighter native " +
                    "figure run with a fixed, pre-touched heap, e.g. JAVA_OPTS=\"-Xms4g -Xmx4g -XX:+AlwaysPreTouch\"."
            }

            else -> {
                null
            }
        }

    private fun summary(): List<String> {
        val native = results.of(StoreKind.NATIVE)
        val kotlin = results.of(StoreKind.KOTLIN)
        if (native == null || kotlin == null) {
            return listOf("Only the ${kinds.single().label} store was measured; use --store both to compare.")
        }
        return listOf("Summary (computed from this run):") + Summary(native, kotlin, options).sentences()
    }
}
