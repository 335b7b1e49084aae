package dev.userstore.demo.report

import dev.userstore.demo.format.fmt
import dev.userstore.demo.measure.CompareResults
import dev.userstore.demo.measure.LoopKind
import dev.userstore.demo.measure.NANOS_PER_SECOND
import dev.userstore.demo.measure.StoreKind
import dev.userstore.demo.measure.StoreResult
import dev.userstore.demo.measure.number
import java.nio.file.Files
import java.nio.file.Path

/** What the demo's lookup loops measure: one sentence, for the console report and the HTML. */
internal const val SHAPE_OF_THIS_RUN =
    "shared call site: both stores are loaded in this JVM and every lookup goes through the same UserStore " +
        "call sites, which have seen both classes (bimorphic), as in a backend that holds or migrates between both; " +
        "JMH's StoreBenchmark (one store per fork) measures another shape, see docs/BENCHMARKS.md \"Two shapes\""

/**
 * The two shapes' figures from `./gradlew benchShapes` (`benchmarks/build/reports/shapes/summary.csv`, written by
 * scripts/shapes-table.py), shown beside the demo's own: CallerLoop (plain main, shared call site), JMH's
 * SharedCallSiteBenchmark (shared call site) and StoreBenchmark (one store per fork). Only the rows of the
 * running JDK and binding when there are any, else all of them (labelled).
 */
internal class ShapesSummary(
    /** Where it was read from. */
    val path: Path,
    /** When the file was written (its modification time). */
    val modified: String,
    /** Rows: jdk, binding, shape, source, op, unit, native, kotlin, ratio. */
    val rows: List<Map<String, String>>,
    /** True when [rows] are of this JVM's JDK and binding. */
    val sameJvm: Boolean,
) {
    /** The rows as cells: JDK/binding, shape, source, op, unit, native, kotlin, native/kotlin. */
    fun cells(): List<List<String>> =
        rows.map { r ->
            listOf(
                "JDK ${r["jdk"]} ${r["binding"]}",
                r.getValue("shape"),
                r.getValue("source"),
                r.getValue("op"),
                r.getValue("unit"),
                number(r["native"]),
                number(r["kotlin"]),
                number(r["ratio"], "%.2f"),
            )
        }

    companion object {
        /** Where `./gradlew benchShapes` leaves its table, from the project root (the working directory of `./gradlew run`). */
        private val BUILD: Path = Path.of("benchmarks", "build", "reports", "shapes", "summary.csv")

        /** The headings of [cells]. */
        val HEADINGS = listOf("JDK, binding", "shape", "source", "op", "unit", "native", "kotlin", "native/kotlin")

        /** The ops shown: the lookups (the scaling and floor rows are in benchShapes' own table). */
        private val OPS = setOf("get", "getMiss", "getMany", "getJson", "findByName")

        /** The summary of this build, or null when `./gradlew benchShapes` has not run (or wrote something else). */
        fun find(
            path: Path = BUILD,
            jdk: Int = Runtime.version().feature(),
            binding: String = dev.userstore.NativeUserStore.binding(),
        ): ShapesSummary? {
            if (!Files.isRegularFile(path)) return null
            val lines = Files.readAllLines(path).filter { it.isNotBlank() }
            if (lines.size < 2) return null
            val head = lines.first().split(',')
            if (!head.containsAll(listOf("jdk", "binding", "shape", "source", "op", "unit", "native", "kotlin", "ratio"))) return null
            val all = lines.drop(1).map { line -> head.zip(splitCsv(line)).toMap() }.filter { it["op"] in OPS }
            val mine = all.filter { it["jdk"] == jdk.toString() && it["binding"] == binding }
            return ShapesSummary(path, Files.getLastModifiedTime(path).toString(), mine.ifEmpty { all }, mine.isNotEmpty())
        }

        /**
         * One CSV line's fields (RFC 4180 quotes). Hand-written: the demo has no CSV library, and the file is
         * written by this project's own script with Python's csv module.
         */
        fun splitCsv(line: String): List<String> {
            val out = mutableListOf<String>()
            val cell = StringBuilder()
            var quoted = false
            var i = 0
            while (i < line.length) {
                val c = line[i]
                when {
                    quoted && c == '"' && i + 1 < line.length && line[i + 1] == '"' -> {
                        cell.append('"')
                        i++
                    }

                    c == '"' -> {
                        quoted = !quoted
                    }

                    c == ',' && !quoted -> {
                        out += cell.toString()
                        cell.clear()
                    }

                    else -> {
                        cell.append(c)
                    }
                }
                i++
            }
            out += cell.toString()
            return out
        }

        private fun number(
            s: String?,
            pattern: String = "%,.1f",
        ): String = s?.toDoubleOrNull()?.let { fmt(pattern, it) } ?: "-"
    }
}

/** The demo's own figures in the units of benchShapes' table: ns per get and per getMany id, per thread. */
internal fun demoShapeCells(
    results: CompareResults,
    threads: Int,
): List<List<String>> {
    val native = results.of(StoreKind.NATIVE)
    val kotlin = results.of(StoreKind.KOTLIN)

    fun nanos(
        s: StoreResult?,
        loop: LoopKind,
    ): Double? =
        s
            ?.phase(loop)
            ?.opsPerSecond
            ?.takeIf { it > 0 }
            ?.let { NANOS_PER_SECOND.toDouble() * threads / it }
    val binding = dev.userstore.NativeUserStore.binding()
    return listOf(LoopKind.UNTIMED to ("get" to "ns/get"), LoopKind.BATCH to ("getMany" to "ns/id")).map { (loop, opUnit) ->
        val n = nanos(native, loop)
        val k = nanos(kotlin, loop)
        listOf(
            "JDK ${Runtime.version().feature()} $binding",
            "shared call site",
            "this demo run",
            opUnit.first,
            opUnit.second,
            n?.let { fmt("%,.1f", it) } ?: "-",
            k?.let { fmt("%,.1f", it) } ?: "-",
            if (n != null && k != null) fmt("%.2f", n / k) else "-",
        )
    }
}

/** The console section: the demo's figures and, if `./gradlew benchShapes` ran, the two shapes beside them. */
internal fun shapesText(
    results: CompareResults,
    threads: Int,
    shapes: ShapesSummary?,
): List<String> {
    val rows = demoShapeCells(results, threads) + shapes?.cells().orEmpty()
    val all = listOf(ShapesSummary.HEADINGS) + rows
    val widths = ShapesSummary.HEADINGS.indices.map { c -> all.maxOf { it[c].length } }
    val table =
        all.map { line ->
            line.mapIndexed { c, cell -> if (c <= 4) cell.padEnd(widths[c]) else cell.padStart(widths[c]) }.joinToString("   ").trimEnd()
        }
    val source =
        when {
            shapes == null -> "(run ./gradlew benchShapes to see the plain-main program and JMH's two shapes beside these)"
            shapes.sameJvm -> "beside them: ./gradlew benchShapes of this build (${shapes.path}, ${shapes.modified})"
            else -> "beside them: ./gradlew benchShapes of this build (${shapes.path}, ${shapes.modified}), another JDK or binding"
        }
    return listOf(
        "Shapes: this run's lookups are measured in the $SHAPE_OF_THIS_RUN.",
        "Per thread, ns (1e9 x threads / throughput); $source:",
    ) + table.map { "  $it" }
}
