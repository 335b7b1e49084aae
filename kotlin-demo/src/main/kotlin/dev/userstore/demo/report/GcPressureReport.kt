package dev.userstore.demo.report

import dev.userstore.demo.format.fmt
import dev.userstore.demo.measure.BYTES_PER_MB
import dev.userstore.demo.measure.GcPressureOptions
import dev.userstore.demo.measure.GcPressureRun
import dev.userstore.demo.measure.MIB
import dev.userstore.demo.measure.StallStats

private fun stallJson(s: StallStats): Map<String, Any?> =
    linkedMapOf(
        "count" to s.count,
        "totalMillis" to s.totalMillis,
        "maxMillis" to s.maxMillis,
    )

/** The scenario's table: one row per collector and store. */
internal fun gcPressureTable(
    runs: List<GcPressureRun>,
    sameJvm: Boolean,
): List<String> {
    val header =
        listOf(
            "collector",
            "store",
            "alloc MB/s",
            "p99 µs",
            "p99.9 µs",
            "max µs",
            "p99.9 no garbage µs",
            "max no garbage µs",
            "GC pauses n / total ms / max ms",
            "alloc stalls n / max ms",
        )
    val rows =
        runs.flatMap { run ->
            run.stores.map { s ->
                listOf(
                    run.gc.label,
                    s.kind.label,
                    fmt("%.0f", s.achievedBytesPerSecond / BYTES_PER_MB),
                    micros(s.pressure.getValueAtPercentile(99.0)),
                    micros(s.pressure.getValueAtPercentile(99.9)),
                    micros(s.pressure.maxValue),
                    micros(s.baseline.getValueAtPercentile(99.9)),
                    micros(s.baseline.maxValue),
                    "${s.pressureGc.count} / ${s.pressureGc.pauseMillis} / ${s.pressureGc.maxPauseMillis ?: "-"}",
                    "${s.pressureStalls.count} / ${fmt("%.0f", s.pressureStalls.maxMillis)}",
                )
            }
        }
    val all = listOf(header) + rows
    val widths = header.indices.map { c -> all.maxOf { it[c].length } }
    val layout = if (sameJvm) "both stores in one JVM per collector" else "each store alone in its own JVM per collector"
    val size =
        runs
            .firstOrNull()
            ?.let {
                "${fmt("%,d", it.users)} users, heap ${fmt("%.0f", it.maxHeapBytes / MIB.toDouble())} MiB, "
            }.orEmpty()
    val title =
        "GC pressure: timed gets under a steady garbage rate ($size$layout; no garbage: same store, same JVM, allocator off; " +
            "GC pauses from the MXBeans, allocation stalls from -Xlog:gc)"
    return listOf(title) +
        all.map { row ->
            row
                .mapIndexed { c, cell ->
                    if (c <
                        2
                    ) {
                        cell.padEnd(widths[c])
                    } else {
                        cell.padStart(widths[c])
                    }
                }.joinToString("   ")
                .trimEnd()
        }
}

private fun micros(nanos: Long): String = fmt("%,.2f", nanos / 1e3)

/** The scenario as nested maps for [Json.encode]. */
internal fun gcPressureJson(
    options: GcPressureOptions?,
    runs: List<GcPressureRun>,
): Map<String, Any?> =
    linkedMapOf(
        "options" to
            options?.let {
                linkedMapOf(
                    "users" to it.users,
                    "durationSeconds" to it.durationSeconds,
                    "allocRateMBps" to it.allocRateMBps,
                    "gcs" to it.gcs.map { gc -> gc.label },
                    "heap" to it.heap,
                    "seed" to it.seed,
                    "sameJvm" to it.sameJvm,
                )
            },
        "runs" to
            runs.map { run ->
                linkedMapOf(
                    "gc" to run.gc.label,
                    "collectors" to run.collectors,
                    "maxHeapBytes" to run.maxHeapBytes,
                    "users" to run.users,
                    "askedBytesPerSecond" to run.askedBytesPerSecond,
                    "achievedBytesPerSecond" to run.achievedBytesPerSecond,
                    "stores" to
                        run.stores.associate { s ->
                            s.kind.label to
                                linkedMapOf(
                                    "baselineLatencyNanos" to latencyJson(s.baseline),
                                    "pressureLatencyNanos" to latencyJson(s.pressure),
                                    "baselineGc" to gcJson(s.baselineGc),
                                    "pressureGc" to gcJson(s.pressureGc),
                                    "pressureAllocationStalls" to stallJson(s.pressureStalls),
                                    "baselineAllocationStalls" to stallJson(s.baselineStalls),
                                    "achievedBytesPerSecond" to s.achievedBytesPerSecond,
                                )
                        },
                )
            },
    )
