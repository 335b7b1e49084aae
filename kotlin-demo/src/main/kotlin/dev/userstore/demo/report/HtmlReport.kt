package dev.userstore.demo.report

import com.github.ajalt.clikt.core.CliktError
import dev.userstore.demo.format.fmt
import dev.userstore.demo.measure.CompareOptions
import dev.userstore.demo.measure.CompareResults
import dev.userstore.demo.measure.Environment
import dev.userstore.demo.measure.LoopKind
import dev.userstore.demo.measure.StoreKind
import dev.userstore.demo.verdict.DbLoadTestSummary
import dev.userstore.demo.verdict.Extras
import dev.userstore.demo.verdict.LoadTestSummary
import dev.userstore.demo.verdict.ServiceVerdicts
import dev.userstore.demo.verdict.Verdict
import dev.userstore.demo.verdict.verdicts
import java.io.IOException
import java.nio.file.Files
import java.nio.file.Path
import java.time.Instant

/** Writes [text] to [path] (creating its folder), turning an I/O failure into a plain error naming [what]. */
internal fun writeText(
    path: Path,
    text: String,
    what: String,
) {
    try {
        path.toAbsolutePath().parent?.let { Files.createDirectories(it) }
        Files.writeString(path, text)
    } catch (e: IOException) {
        throw CliktError("cannot write $what file $path: ${e.message}")
    }
}

/** Escapes text for HTML. */
private fun html(s: String): String =
    s
        .replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\"", "&quot;")

/** Quotes a CSV field when it needs it (RFC 4180). */
private fun csv(value: Any?): String {
    val s = value?.toString() ?: ""
    return if (s.any { it == ',' || it == '"' || it == '\n' }) "\"" + s.replace("\"", "\"\"") + "\"" else s
}

/**
 * The report folder: `index.html` (charts as SVG rendered by lets-plot, inline, so it opens
 * offline), the charts as separate `.svg` files, and the raw numbers beside them as
 * `results.json`, `results.csv` (one row per figure) and `percentiles.csv` (the latency curves).
 */
internal class HtmlReport(
    private val env: Environment,
    private val options: CompareOptions,
    private val results: CompareResults,
    private val extras: Extras,
    private val verdicts: List<Verdict>,
    /** The console text of the run, shown at the end of the page. */
    private val consoleText: String,
    /** The HTTP load test's latest results, if any (see [LoadTestSummary]). */
    private val loadTest: LoadTestSummary? = LoadTestSummary.find(),
    /** `./gradlew benchShapes`' table of the two shapes, if it exists (see [ShapesSummary]). */
    private val shapes: ShapesSummary? = ShapesSummary.find(),
    /** The database load test's latest results, if any: one more service verdict (see [DbLoadTestSummary]). */
    private val dbLoadTest: DbLoadTestSummary? = DbLoadTestSummary.find(),
) {
    /** Writes the folder and returns the path of index.html. */
    fun write(dir: Path): Path {
        val charts = charts(options, results, extras)
        val svgs = charts.associateWith { it.svg() }
        val serviceSvgs = loadTest?.let(::serviceCharts).orEmpty().associateWith { it.svg() }
        for ((chart, svg) in svgs + serviceSvgs) writeText(dir.resolve("${chart.id}.svg"), svg, "chart")
        writeText(dir.resolve("results.json"), Json.encode(json()) + "\n", "report")
        writeText(dir.resolve("results.csv"), resultsCsv(), "report")
        writeText(dir.resolve("percentiles.csv"), percentilesCsv(), "report")
        for (run in extras.gcPressure) writeText(dir.resolve("gc-${run.gc.label}.log"), run.gcLog.joinToString("") { it + "\n" }, "GC log")
        loadTest?.let { writeText(dir.resolve("loadtest-summary.json"), it.text, "load-test summary") }
        val index = dir.resolve("index.html")
        writeText(index, page(svgs, serviceSvgs), "report")
        return index
    }

    /** The raw results: compare's own JSON plus start-up, safety, GC pressure and the verdicts. */
    fun json(): Map<String, Any?> =
        resultsToJson(env, options, results) +
            linkedMapOf(
                "startup" to
                    extras.startup.map { s ->
                        linkedMapOf(
                            "store" to s.kind.label,
                            "jvmToFirstGetMillis" to s.jvmToFirstGetMillis,
                            "createNanos" to s.createNanos,
                            "firstPutNanos" to s.firstPutNanos,
                            "firstGetNanos" to s.firstGetNanos,
                            "chunkGets" to s.chunk,
                            "chunkMeanNanos" to s.chunkMeans,
                            "steadyMeanNanos" to s.steadyMeanNanos,
                            "warmupRatio" to s.warmupRatio,
                            "getsToWarm" to s.getsToWarm,
                        )
                    },
                "safety" to
                    extras.safety.map { s ->
                        linkedMapOf(
                            "store" to s.kind.label,
                            "calls" to s.calls,
                            "clean" to s.clean,
                            "unchanged" to s.unchanged,
                            "outcomes" to s.outcomes.associate { it.name to it.outcome },
                        )
                    },
                "gcPressure" to if (extras.gcPressure.isEmpty()) null else gcPressureJson(extras.gcPressureOptions, extras.gcPressure),
                "durability" to extras.durability?.let(::durabilityJson),
                "lookupShape" to SHAPE_OF_THIS_RUN,
                "verdicts" to verdicts.map { linkedMapOf("claim" to it.claim, "outcome" to it.outcome.text, "why" to it.why) },
                "writtenAt" to Instant.now().toString(),
            )

    private fun resultsCsv(): String {
        val rows = mutableListOf(listOf("section", "store", "collector", "metric", "value"))

        fun add(
            section: String,
            store: String,
            gc: String,
            metric: String,
            value: Any?,
        ) {
            rows += listOf(section, store, gc, metric, value?.toString() ?: "")
        }
        val jvmGc = env.collectors.joinToString(" + ")
        for (s in results.stores) {
            val k = s.kind.label
            add("load", k, jvmGc, "users", s.load.users)
            add("load", k, jvmGc, "users_per_second", s.load.usersPerSecond)
            add("load", k, jvmGc, "heap_retained_bytes_per_user", s.load.heapRetainedBytes.toDouble() / options.users)
            add("load", k, jvmGc, "off_heap_bytes_per_user", s.load.offHeapBytes?.let { it.toDouble() / options.users })
            add("load", k, jvmGc, "total_bytes_per_user", s.load.totalBytes.toDouble() / options.users)
            add("load", k, jvmGc, "gc_count", s.load.gc.count)
            add("load", k, jvmGc, "gc_pause_ms", s.load.gc.pauseMillis)
            add("throughput", k, jvmGc, "get_ops_per_second", s.phase(LoopKind.UNTIMED).opsPerSecond)
            add("throughput", k, jvmGc, "getmany_ids_per_second", s.phase(LoopKind.BATCH).opsPerSecond)
            PERCENTILES.forEach { (label, p) -> add("latency", k, jvmGc, "${label}_ns", s.latency.getValueAtPercentile(p)) }
            add("latency", k, jvmGc, "max_ns", s.latency.maxValue)
            add("lookups", k, jvmGc, "gc_count", s.lookupGc.count)
            add("lookups", k, jvmGc, "gc_pause_ms", s.lookupGc.pauseMillis)
            add("lookups", k, jvmGc, "gc_max_pause_ms", s.lookupGc.maxPauseMillis)
        }
        for (s in extras.startup) {
            val k = s.kind.label
            add("startup", k, "default", "jvm_to_first_get_ms", s.jvmToFirstGetMillis)
            add("startup", k, "default", "create_first_put_first_get_ns", s.storeStartNanos)
            add("warmup", k, "default", "first_chunk_ns_per_get", s.chunkMeans.first())
            add("warmup", k, "default", "steady_ns_per_get", s.steadyMeanNanos)
            add("warmup", k, "default", "gets_to_warm", s.getsToWarm)
        }
        for (s in extras.safety) {
            add("safety", s.kind.label, "", "hostile_calls", s.calls)
            add("safety", s.kind.label, "", "clean_exceptions", s.clean)
            add("safety", s.kind.label, "", "store_unchanged", s.unchanged)
        }
        for (run in extras.gcPressure) {
            for (s in run.stores) {
                val k = s.kind.label
                val gc = run.gc.label
                add("gc_pressure", k, gc, "users", run.users)
                add("gc_pressure", k, gc, "alloc_bytes_per_second", run.achievedBytesPerSecond)
                for ((condition, h) in listOf("baseline" to s.baseline, "pressure" to s.pressure)) {
                    add("gc_pressure", k, gc, "${condition}_p99_ns", h.getValueAtPercentile(99.0))
                    add("gc_pressure", k, gc, "${condition}_p99.9_ns", h.getValueAtPercentile(99.9))
                    add("gc_pressure", k, gc, "${condition}_max_ns", h.maxValue)
                }
                add("gc_pressure", k, gc, "pressure_gc_count", s.pressureGc.count)
                add("gc_pressure", k, gc, "pressure_gc_pause_ms", s.pressureGc.pauseMillis)
                add("gc_pressure", k, gc, "pressure_gc_max_pause_ms", s.pressureGc.maxPauseMillis)
            }
        }
        extras.durability?.let { run ->
            for (m in run.measurements) {
                add("durability", m.kind.label, jvmGc, "${m.mode.name.lowercase()}_${m.threads}t_puts_per_second", m.putsPerSecond)
            }
            for (g in run.goals) add("durability_goal", g.kind.label, "", g.goal, g.outcome)
        }
        verdicts.forEach { add("verdict", "", "", it.claim, it.outcome.text) }
        return rows.joinToString("") { row -> row.joinToString(",") { csv(it) } + "\n" }
    }

    private fun percentilesCsv(): String {
        val sb = StringBuilder("scenario,store,collector,condition,percentile,latency_ns\n")

        fun curve(
            prefix: String,
            h: org.HdrHistogram.Histogram,
        ) {
            for (v in h.percentiles(
                5,
            )) {
                sb
                    .append(prefix)
                    .append(',')
                    .append(v.percentileLevelIteratedTo)
                    .append(',')
                    .append(v.valueIteratedTo)
                    .append('\n')
            }
        }
        val jvmGc = csv(env.collectors.joinToString(" + "))
        results.stores.forEach { curve("compare,${it.kind.label},$jvmGc,timed gets", it.latency) }
        for (run in extras.gcPressure) {
            for (s in run.stores) {
                curve("gc-pressure,${s.kind.label},${run.gc.label},baseline", s.baseline)
                curve("gc-pressure,${s.kind.label},${run.gc.label},pressure", s.pressure)
            }
        }
        return sb.toString()
    }

    /** The HTTP load test's tables (and, for three services, the service-level verdicts), or how to get one. */
    private fun loadTestSection(serviceSvgs: Map<Chart, String>): String {
        // The database load test's verdict, in a table of its own when the HTTP load test gives no verdicts table.
        val dbOnly =
            dbLoadTest
                ?.let {
                    "\n<h3>Verdicts at the service level</h3>\n<table>\n" +
                        "<tr><th>claim</th><th>verdict</th><th>why (the database load test's numbers)</th></tr>\n" +
                        verdictRows(ServiceVerdicts.all(null, it)) + "\n</table>"
                }.orEmpty()
        val t =
            loadTest
                ?: return "<h2>Whole services under load</h2>\n<p>No load-test results found: run <code>./gradlew loadtest</code>.</p>" +
                    dbOnly

        fun table(
            head: List<String>,
            rows: List<List<String>>,
        ) = "<table>\n<tr>" + head.joinToString("") { "<th>${html(it)}</th>" } + "</tr>\n" +
            rows.joinToString("\n") { r -> "<tr>" + r.joinToString("") { "<td>${html(it)}</td>" } + "</tr>" } + "\n</table>"
        val source =
            if (t.recorded) {
                "a recorded run (${html(t.path.toString())}), not this build's: run <code>./gradlew loadtest</code> for your own"
            } else {
                "the latest <code>./gradlew loadtest</code> of this build (${html(t.path.toString())})"
            }
        val head = listOf("users", "service", "capacity req/s", "achieved req/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms")
        if (t.services == null && t.goals.isEmpty()) {
            return "<h2>HTTP load test (<code>serve</code> under oha)</h2>\n<p>From $source, ${html(t.date)}: ${html(t.settings)}. " +
                "Raw: <a href=\"loadtest-summary.json\">loadtest-summary.json</a>.</p>\n" + table(head, t.rows) + "\n" +
                table(listOf("users", "capacity native/Kotlin", "p99.9 native/Kotlin", "goals: throughput / p99.9"), t.ratios) + dbOnly
        }
        val verdictRows = verdictRows(ServiceVerdicts.all(t.services, dbLoadTest))
        val charts =
            serviceSvgs.entries.joinToString("\n") { (chart, svg) ->
                "<figure id=\"${chart.id}\">\n$svg\n<figcaption>${html(
                    chart.title,
                )} (<a href=\"${chart.id}.svg\">SVG</a>)</figcaption></figure>"
            }
        return "<h2>Whole services: the Rust service against the Kotlin services (<code>./gradlew loadtest</code>)</h2>\n" +
            "<p>From $source, ${html(t.date)}: ${html(t.settings)}. Services: ${html(t.variants.joinToString("; "))}. " +
            "Raw: <a href=\"loadtest-summary.json\">loadtest-summary.json</a>.</p>\n" +
            "<h3>Verdicts at the service level</h3>\n<table>\n" +
            "<tr><th>claim</th><th>verdict</th><th>why (the load test's numbers)</th></tr>\n" +
            verdictRows + "\n</table>\n" +
            "<h3>Start-up, idle memory and density</h3>\n" +
            table(
                listOf(
                    "service",
                    "spawn to first 200, 0 users (ms)",
                    "opening the snapshot (ms)",
                    "idle RSS MiB",
                    "density: MiB each",
                    "per GiB",
                ),
                t.startup,
            ) +
            "\n<h3>Under load</h3>\n" +
            table(
                head + listOf("RSS MiB loaded", "CPU s / 100k req", "GC pauses: n / longest ms", "mix GET p99.9 ms", "mix PUT p99.9 ms"),
                t.rows,
            ) +
            "\n<h3>The issue's goals</h3>\n" + table(listOf("goal", "measured", "limit", "met"), t.goals) + "\n" + charts
    }

    /** The shape the demo measures, its per-get figures, and `./gradlew benchShapes`' two shapes beside them. */
    private fun shapesSection(): String {
        if (results.of(StoreKind.NATIVE) == null || results.of(StoreKind.KOTLIN) == null) return ""
        val rows = demoShapeCells(results, options.threads) + shapes?.cells().orEmpty()
        val source =
            when {
                shapes == null -> {
                    "Run <code>./gradlew benchShapes</code> to see the plain-main program (CallerLoop) and JMH's two shapes " +
                        "beside them."
                }

                else -> {
                    "Beside them, from <code>./gradlew benchShapes</code> of this build (${html(shapes.path.toString())}, " +
                        "${html(shapes.modified)}${if (shapes.sameJvm) "" else "; another JDK or binding than this run's"}): " +
                        "CallerLoop and JMH's SharedCallSiteBenchmark measure the same shared call site; StoreBenchmark " +
                        "holds one store per fork, so its call sites see one class and inline it."
                }
            }
        return "<h2 id=\"shapes\">Shapes: which caller the lookup figures are for</h2>\n" +
            "<p>This run's lookups are measured in the ${html(SHAPE_OF_THIS_RUN)}. Figures per thread in ns " +
            "(1e9 &times; threads / throughput). $source</p>\n<table>\n<tr>" +
            ShapesSummary.HEADINGS.joinToString("") { "<th>${html(it)}</th>" } + "</tr>\n" +
            rows.joinToString("\n") { r -> "<tr>" + r.joinToString("") { "<td>${html(it)}</td>" } + "</tr>" } + "\n</table>"
    }

    /** The durability scenario's table and goals, or a line saying it was not run. */
    private fun durabilitySection(): String {
        val run = extras.durability ?: return "<h2>Durability</h2>\n<p>Not measured (--no-durability).</p>"
        val rows = durabilityRows(run)
        val table =
            "<table>\n<tr>" + rows.first().joinToString("") { "<th>${html(it)}</th>" } + "</tr>\n" +
                rows.drop(1).joinToString("\n") { r -> "<tr>" + r.joinToString("") { "<td>${html(it)}</td>" } + "</tr>" } + "\n</table>"
        val goals =
            run.goals.joinToString("\n") { g ->
                "<tr class=\"${g.outcome.replace(' ', '_')}\"><td>${html(g.kind.label)}</td><td>${html(g.goal)}</td>" +
                    "<td>${html(goalFigure(g.measured, g.unit))}</td><td>at least ${html(goalFigure(g.atLeast, g.unit))}</td>" +
                    "<td class=\"outcome\">${html(g.outcome)}</td></tr>"
            }
        val floor = floorText(run)?.let { "<p>${html(it)}</p>\n" }.orEmpty()
        return "<h2>Durability: what a durable store costs a put</h2>\n<p>${html(durabilityHow(run))}.</p>\n$table\n$floor" +
            "<h3>Goals of issue 13</h3>\n<table>\n<tr><th>store</th><th>goal</th><th>measured</th><th>limit</th><th>met</th></tr>\n" +
            goals + "\n</table>"
    }

    private fun verdictRows(verdicts: List<Verdict>): String =
        verdicts.joinToString("\n") { v ->
            "<tr class=\"${v.outcome.name.lowercase()}\"><td>${html(v.claim)}</td><td class=\"outcome\">${html(v.outcome.text)}</td>" +
                "<td>${html(v.why)}</td></tr>"
        }

    private fun page(
        svgs: Map<Chart, String>,
        serviceSvgs: Map<Chart, String>,
    ): String {
        val verdictRows = verdictRows(verdicts)
        val chartBlocks =
            svgs.entries.joinToString("\n") { (chart, svg) ->
                "<figure id=\"${chart.id}\">\n$svg\n<figcaption>${html(chart.title)} " +
                    "(<a href=\"${chart.id}.svg\">SVG</a>)</figcaption></figure>"
            }
        val binding = dev.userstore.NativeUserStore.binding()
        return """
            |<!DOCTYPE html>
            |<html lang="en">
            |<head>
            |<meta charset="utf-8">
            |<title>userstore: native (Rust, ${html(binding.uppercase())}) vs Kotlin</title>
            |<style>
            |body { font-family: sans-serif; max-width: 1000px; margin: 2em auto; color: #222; }
            |table { border-collapse: collapse; margin: 1em 0; }
            |td, th { border: 1px solid #ccc; padding: 0.4em 0.6em; vertical-align: top; text-align: left; }
            |td.outcome { font-weight: bold; white-space: nowrap; }
            |tr.holds td.outcome { color: #1a7f37; }
            |tr.does_not_hold td.outcome { color: #b42318; }
            |tr.depends td.outcome { color: #9a6700; }
            |tr.not_measured td.outcome { color: #666; }
            |tr.met td.outcome { color: #1a7f37; }
            |tr.not_met td.outcome { color: #b42318; }
            |figure { margin: 2em 0; }
            |figcaption { color: #555; font-size: 0.9em; }
            |pre { background: #f6f8fa; padding: 1em; overflow-x: auto; font-size: 0.8em; }
            |</style>
            |</head>
            |<body>
            |<h1>userstore: the Rust store through ${html(binding.uppercase())} against the pure-Kotlin store</h1>
            |<p>${html(env.javaVersion)} (${html(env.vmName)}), GC ${html(env.collectors.joinToString(", "))}, ${html(env.cpuModel)}, 
            |${env.cores} cores; ${fmt(
            "%,d",
            options.users,
        )} users per store; lookups measured in the shared call-site shape
            |(both stores through the same <code>UserStore</code> call sites, see <a href="#shapes">Shapes</a>). Every figure below comes from this run; the raw numbers are in
            |<a href="results.json">results.json</a>, <a href="results.csv">results.csv</a> and <a href="percentiles.csv">percentiles.csv</a>
            |${extras.gcPressure.joinToString(
            "",
        ) { " (GC log of the ${it.gc.label} child JVM: <a href=\"gc-${it.gc.label}.log\">gc-${it.gc.label}.log</a>)" }}.</p>
            |<h2>Verdicts on the article's claims: the stores in one process</h2>
            |<table>
            |<tr><th>claim</th><th>verdict</th><th>why (this run's numbers)</th></tr>
            |$verdictRows
            |</table>
            |${shapesSection()}
            |<h2>Charts</h2>
            |$chartBlocks
            |${durabilitySection()}
            |${loadTestSection(serviceSvgs)}
            |<h2>The console output of this run</h2>
            |<pre>${html(consoleText)}</pre>
            |</body>
            |</html>
            |
            """.trimMargin()
    }
}
