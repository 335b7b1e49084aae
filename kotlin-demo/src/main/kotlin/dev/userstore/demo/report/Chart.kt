package dev.userstore.demo.report

import dev.userstore.demo.format.fmt
import dev.userstore.demo.format.plural
import dev.userstore.demo.measure.BYTES_PER_MB
import dev.userstore.demo.measure.CompareOptions
import dev.userstore.demo.measure.CompareResults
import dev.userstore.demo.measure.GcStats
import dev.userstore.demo.measure.LoopKind
import dev.userstore.demo.measure.StoreKind
import dev.userstore.demo.measure.WARMUP_CHUNK
import dev.userstore.demo.verdict.Extras
import dev.userstore.demo.verdict.LoadTestSummary
import dev.userstore.demo.verdict.ServiceFigures
import org.HdrHistogram.Histogram
import org.jetbrains.letsPlot.Figure
import org.jetbrains.letsPlot.Stat
import org.jetbrains.letsPlot.awt.plot.PlotSvgExport
import org.jetbrains.letsPlot.facet.facetWrap
import org.jetbrains.letsPlot.geom.geomBar
import org.jetbrains.letsPlot.geom.geomLine
import org.jetbrains.letsPlot.geom.geomPoint
import org.jetbrains.letsPlot.ggsize
import org.jetbrains.letsPlot.intern.Plot
import org.jetbrains.letsPlot.intern.toSpec
import org.jetbrains.letsPlot.label.labs
import org.jetbrains.letsPlot.letsPlot
import org.jetbrains.letsPlot.pos.positionDodge
import org.jetbrains.letsPlot.pos.positionStack
import org.jetbrains.letsPlot.scale.scaleColorManual
import org.jetbrains.letsPlot.scale.scaleFillManual
import org.jetbrains.letsPlot.scale.scaleXDiscrete
import org.jetbrains.letsPlot.scale.scaleXLog10
import org.jetbrains.letsPlot.scale.scaleYLog10
import org.jetbrains.letsPlot.themes.themeLight

/** Chart size in pixels. */
private const val WIDTH = 900
private const val HEIGHT = 420

/** HdrHistogram's percentile iteration: ticks per half-distance to 100%. */
private const val TICKS_PER_HALF = 5

/** The "percentile" axis: 1/(1-p) on a log scale, labelled as percentiles. */
private val PERCENTILE_BREAKS = listOf(2.0, 10.0, 100.0, 1_000.0, 10_000.0, 100_000.0)
private val PERCENTILE_LABELS = listOf("50%", "90%", "99%", "99.9%", "99.99%", "99.999%")

/** One chart: a title, the lets-plot figure and its id (file name of the SVG). */
internal class Chart(
    val id: String,
    val title: String,
    val figure: Figure,
) {
    /** The chart as SVG, rendered by lets-plot's own exporter. */
    fun svg(): String = PlotSvgExport.buildSvgImageFromRawSpecs(figure.toSpec(), null, false)
}

/** Column-oriented data for lets-plot, built row by row. */
private class Frame(
    vararg columns: String,
) {
    val data: Map<String, MutableList<Any?>> = columns.associateWith { mutableListOf() }

    fun row(vararg values: Any?) {
        data.values.zip(values).forEach { (column, value) -> column += value }
    }

    val isEmpty: Boolean get() = data.values.first().isEmpty()
}

/** Adds a histogram's percentile curve (x = 1/(1-p), y = µs) to [frame], with [labels] in front. */
private fun percentileCurve(
    frame: Frame,
    h: Histogram,
    vararg labels: String,
) {
    for (v in h.percentiles(TICKS_PER_HALF)) {
        val p = v.percentileLevelIteratedTo
        if (p >= 100.0) break
        frame.row(*labels, 1.0 / (1.0 - p / 100.0), v.valueIteratedTo / 1e3)
    }
}

/** The same colour for a store in every chart: Rust's orange for native, a darker brown for native over JNI, Kotlin's purple. */
private val STORE_BREAKS = listOf(StoreKind.NATIVE.label, StoreKind.NATIVE_JNI.label, StoreKind.KOTLIN.label)
private val STORE_COLOURS = listOf("#e76f00", "#8c4a00", "#7f52ff")

private fun storeColours() = scaleColorManual(values = STORE_COLOURS, breaks = STORE_BREAKS)

private fun storeFills() = scaleFillManual(values = STORE_COLOURS, breaks = STORE_BREAKS)

private fun percentileAxis() = scaleXLog10(name = "percentile", breaks = PERCENTILE_BREAKS, labels = PERCENTILE_LABELS)

private fun Plot.styled(
    title: String,
    x: String?,
    y: String,
): Plot = this + labs(title = title, x = x, y = y) + themeLight() + ggsize(WIDTH, HEIGHT)

/** Every chart the report shows, from this run's results. */
internal fun charts(
    options: CompareOptions,
    results: CompareResults,
    extras: Extras,
): List<Chart> =
    listOfNotNull(
        latencyChart(results),
        throughputChart(options, results),
        memoryChart(options, results),
        gcPausesChart(results, extras),
        gcPressureCurves(extras),
        gcPressureTails(extras),
        warmupChart(extras),
    )

private fun latencyChart(results: CompareResults): Chart {
    val f = Frame("store", "x", "latency")
    results.stores.forEach { percentileCurve(f, it.latency, it.kind.label) }
    val title = "get latency distribution (timed gets, all users resident)"
    val plot =
        letsPlot(f.data) {
            x = "x"
            y = "latency"
            color = "store"
        } + geomLine(size = 1.2) + percentileAxis() + scaleYLog10() +
            storeColours() +
            labs(title = title, x = "percentile", y = "latency (µs, log scale)") + themeLight() + ggsize(WIDTH, HEIGHT)
    return Chart("latency", title, plot)
}

private fun throughputChart(
    options: CompareOptions,
    results: CompareResults,
): Chart {
    val f = Frame("store", "metric", "value")
    for (s in results.stores) {
        f.row(s.kind.label, "get, untimed (M ops/s)", s.phase(LoopKind.UNTIMED).opsPerSecond / 1e6)
        f.row(s.kind.label, "getMany, ${options.batchSize} per call (M ids/s)", s.phase(LoopKind.BATCH).opsPerSecond / 1e6)
        f.row(s.kind.label, "load (M users/s)", s.load.usersPerSecond / 1e6)
    }
    val title = "throughput (${plural(options.threads, "thread")})"
    val plot =
        letsPlot(f.data) {
            x = "store"
            y = "value"
            fill = "store"
        } + geomBar(stat = Stat.identity) + storeFills() +
            facetWrap(facets = "metric", scales = "free_y")
    return Chart("throughput", title, plot.styled(title, null, "millions per second"))
}

private fun memoryChart(
    options: CompareOptions,
    results: CompareResults,
): Chart {
    val f = Frame("store", "part", "bytes")
    for (s in results.stores) {
        f.row(
            s.kind.label,
            "Java heap",
            s.load.heapRetainedBytes
                .coerceAtLeast(0)
                .toDouble() / options.users,
        )
        f.row(s.kind.label, "outside the Java heap", (s.load.offHeapBytes ?: 0).coerceAtLeast(0).toDouble() / options.users)
    }
    val title = "memory per user after loading ${fmt("%,d", options.users)} users"
    val plot =
        letsPlot(f.data) {
            x = "store"
            y = "bytes"
            fill = "part"
        } + geomBar(stat = Stat.identity, position = positionStack())
    return Chart("memory", title, plot.styled(title, null, "bytes per user"))
}

private fun gcPausesChart(
    results: CompareResults,
    extras: Extras,
): Chart {
    val f = Frame("store", "scenario", "metric", "value")

    fun add(
        store: String,
        scenario: String,
        gc: GcStats,
    ) {
        f.row(store, scenario, "collections", gc.count.toDouble())
        f.row(store, scenario, "total pause (ms)", gc.pauseMillis.toDouble())
        f.row(store, scenario, "longest pause (ms)", (gc.maxPauseMillis ?: 0).toDouble())
    }
    for (s in results.stores) {
        add(s.kind.label, "compare: load", s.load.gc)
        add(s.kind.label, "compare: lookups", s.lookupGc)
    }
    for (run in extras.gcPressure) {
        for (s in run.stores) {
            add(s.kind.label, "${run.gc.label} + garbage", s.pressureGc)
            f.row(s.kind.label, "${run.gc.label} + garbage", "longest allocation stall (ms, GC log)", s.pressureStalls.maxMillis)
        }
    }
    val title = "GC pauses while each store was measured (GarbageCollectorMXBeans; allocation stalls from -Xlog:gc)"
    val plot =
        letsPlot(f.data) {
            x = "scenario"
            y = "value"
            fill = "store"
        } + geomBar(stat = Stat.identity, position = positionDodge()) +
            storeFills() + facetWrap(facets = "metric", scales = "free_y", ncol = 1)
    return Chart("gc-pauses", title, plot + labs(title = title, x = null, y = null) + themeLight() + ggsize(WIDTH, HEIGHT * 3 / 2))
}

private fun gcPressureCurves(extras: Extras): Chart? {
    if (extras.gcPressure.isEmpty()) return null
    val f = Frame("collector", "store", "condition", "x", "latency")
    for (run in extras.gcPressure) {
        for (s in run.stores) {
            val collector = "${run.gc.label}, garbage at ${fmt("%.0f", run.achievedBytesPerSecond / BYTES_PER_MB)} MB/s"
            percentileCurve(f, s.baseline, collector, s.kind.label, "no garbage")
            percentileCurve(f, s.pressure, collector, s.kind.label, "under garbage")
        }
    }
    val title = "GC pressure: get latency with ${fmt("%,d", extras.gcPressure.first().users)} users resident"
    val plot =
        letsPlot(f.data) {
            x = "x"
            y = "latency"
            color = "store"
            linetype = "condition"
        } + geomLine(size = 1.0) +
            percentileAxis() + scaleYLog10() + storeColours() + facetWrap(facets = "collector", ncol = 1) +
            labs(title = title, x = "percentile", y = "latency (µs, log scale)") + themeLight() + ggsize(WIDTH, HEIGHT * 3 / 2)
    return Chart("gc-pressure-latency", title, plot)
}

private fun gcPressureTails(extras: Extras): Chart? {
    if (extras.gcPressure.isEmpty()) return null
    val f = Frame("collector", "store", "condition", "series", "metric", "latency")
    for (run in extras.gcPressure) {
        for (s in run.stores) {
            for ((condition, h) in listOf("no garbage" to s.baseline, "under garbage" to s.pressure)) {
                val series = "${s.kind.label}, $condition"
                f.row(run.gc.label, s.kind.label, condition, series, "p99", h.getValueAtPercentile(99.0) / 1e3)
                f.row(run.gc.label, s.kind.label, condition, series, "p99.9", h.getValueAtPercentile(99.9) / 1e3)
                f.row(run.gc.label, s.kind.label, condition, series, "max", h.maxValue / 1e3)
            }
        }
    }
    val title = "GC pressure: p99, p99.9 and max of gets, without and under garbage"
    val plot =
        letsPlot(f.data) {
            x = "metric"
            y = "latency"
            color = "store"
            group = "series"
        } + geomLine(size = 1.0) { linetype = "condition" } + geomPoint(size = 3.5) { shape = "condition" } +
            scaleXDiscrete(limits = listOf("p99", "p99.9", "max")) + scaleYLog10() + storeColours() + facetWrap(facets = "collector")
    return Chart("gc-pressure-tails", title, plot.styled(title, null, "latency (µs, log scale)"))
}

private fun warmupChart(extras: Extras): Chart? {
    if (extras.startup.isEmpty()) return null
    val f = Frame("store", "gets", "mean")
    for (s in extras.startup) s.chunkMeans.forEachIndexed { i, m -> f.row(s.kind.label, ((i + 1) * s.chunk).toDouble(), m) }
    if (f.isEmpty) return null
    val title = "warm-up in a fresh JVM: mean time per get of each chunk of $WARMUP_CHUNK gets"
    val plot =
        letsPlot(f.data) {
            x = "gets"
            y = "mean"
            color = "store"
        } + geomLine(size = 1.0) + scaleXLog10() + scaleYLog10() + storeColours() +
            labs(title = title, x = "gets done (log scale)", y = "ns per get (log scale)") + themeLight() + ggsize(WIDTH, HEIGHT)
    return Chart("warmup", title, plot)
}

/** The load test's charts of whole services (empty when the summary predates the Rust service). */
internal fun serviceCharts(t: LoadTestSummary): List<Chart> {
    val s = t.services ?: return emptyList()
    val all = listOf(s.rust) + s.jvms

    fun chart(
        id: String,
        title: String,
        metrics: List<Pair<String, (ServiceFigures) -> Double?>>,
    ): Chart? {
        val f = Frame("service", "metric", "value")
        for (svc in all) for ((metric, value) in metrics) value(svc)?.let { f.row(svc.name, metric, it) }
        if (f.isEmpty) return null
        val plot =
            letsPlot(f.data) {
                x = "service"
                y = "value"
                fill = "service"
            } + geomBar(stat = Stat.identity) + facetWrap(facets = "metric", scales = "free_y", ncol = 2)
        return Chart(id, title, plot.styled(title, null, "value") + ggsize(WIDTH, HEIGHT * 3 / 2))
    }
    val users = fmt("%,d", s.users)
    return listOfNotNull(
        chart(
            "services-footprint",
            "whole services: start-up, memory and density (load test ${t.date})",
            listOf(
                "spawn to first 200, 0 users (ms)" to { it.startupMillis },
                "idle resident memory (MiB)" to { it.idleRssMiB },
                "resident memory with $users users (MiB)" to { it.loadedRssMiB },
                "idle instances per GiB" to { it.perGiB },
            ),
        ),
        chart(
            "services-load",
            "whole services under load, $users users (load test ${t.date})",
            listOf(
                "capacity, closed loop (req/s)" to { it.capacityRps },
                "GET p50 at ${fmt("%.0f%%", s.lowFraction * 100)} of the lowest capacity (ms)" to { it.p50Ms },
                "GET p99.9 at ${fmt("%.0f%%", s.highFraction * 100)} of the lowest capacity (ms)" to { it.p999Ms },
                "first requests over steady state (p50 ratio)" to { it.warmupRatio },
            ),
        ),
    )
}
