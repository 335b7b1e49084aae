package dev.userstore.demo.report

import dev.userstore.demo.measure.CompareOptions
import dev.userstore.demo.measure.CompareResults
import dev.userstore.demo.measure.Environment
import dev.userstore.demo.measure.GcStats
import dev.userstore.demo.measure.PhaseResult
import dev.userstore.demo.measure.StoreResult
import org.HdrHistogram.Histogram

/** Hex digits for `\u00XX` escapes. */
private const val HEX = "0123456789abcdef"

/** The first code point JSON lets stand unescaped. */
private const val FIRST_PLAIN_CHAR = 0x20

/** A minimal JSON writer for the raw results: maps, lists, strings, numbers, booleans and null. */
internal object Json {
    /** [value] as JSON; non-finite numbers become null. */
    fun encode(value: Any?): String = StringBuilder().also { write(it, value) }.toString()

    private fun write(
        out: StringBuilder,
        value: Any?,
    ) {
        when (value) {
            null -> {
                out.append("null")
            }

            is String -> {
                string(out, value)
            }

            is Boolean, is Int, is Long -> {
                out.append(value)
            }

            is Double -> {
                out.append(if (value.isFinite()) value.toString() else "null")
            }

            is Map<*, *> -> {
                out.append('{')
                value.entries.forEachIndexed { i, (k, v) ->
                    if (i > 0) out.append(',')
                    string(out, k.toString())
                    out.append(':')
                    write(out, v)
                }
                out.append('}')
            }

            is Iterable<*> -> {
                out.append('[')
                value.forEachIndexed { i, v ->
                    if (i > 0) out.append(',')
                    write(out, v)
                }
                out.append(']')
            }

            else -> {
                string(out, value.toString())
            }
        }
    }

    private fun string(
        out: StringBuilder,
        s: String,
    ) {
        out.append('"')
        for (c in s) {
            when {
                c == '"' -> out.append("\\\"")
                c == '\\' -> out.append("\\\\")
                c == '\n' -> out.append("\\n")
                c == '\r' -> out.append("\\r")
                c == '\t' -> out.append("\\t")
                c.code < FIRST_PLAIN_CHAR -> out.append("\\u00").append(HEX[c.code shr 4]).append(HEX[c.code and 0xf])
                else -> out.append(c)
            }
        }
        out.append('"')
    }
}

/** The raw results of a run as nested maps and lists, for [Json.encode]. */
internal fun resultsToJson(
    env: Environment,
    options: CompareOptions,
    results: CompareResults,
): Map<String, Any?> =
    linkedMapOf(
        "environment" to
            linkedMapOf(
                "javaVersion" to env.javaVersion,
                "javaVendor" to env.javaVendor,
                "vmName" to env.vmName,
                "collectors" to env.collectors,
                "cpuModel" to env.cpuModel,
                "cores" to env.cores,
                "maxHeapBytes" to env.maxHeapBytes,
                "jvmArguments" to env.jvmArguments,
                "heapPreTouched" to env.heapPreTouched,
                "heapAddressRangeKnown" to (env.heapRange != null),
                "timerOverheadNanos" to env.timerOverheadNanos,
            ),
        "options" to
            linkedMapOf(
                "users" to options.users,
                "durationSeconds" to options.durationSeconds,
                "warmupSeconds" to options.warmupSeconds,
                "threads" to options.threads,
                "seed" to options.seed,
                "stores" to options.stores.map { it.label },
                "batchSize" to options.batchSize,
            ),
        "loadOrder" to results.order.map { it.label },
        "roundsPerLoop" to results.rounds,
        "sliceNanos" to results.sliceNanos,
        "prewarmUsers" to results.prewarmUsers,
        "verifiedIds" to results.verifiedIds,
        "stores" to results.stores.associate { it.kind.label to storeJson(it) },
    )

private fun storeJson(store: StoreResult): Map<String, Any?> =
    linkedMapOf(
        "load" to
            linkedMapOf(
                "users" to store.load.users,
                "storedAfterLoad" to store.load.storedAfterLoad,
                "nanos" to store.load.nanos,
                "usersPerSecond" to store.load.usersPerSecond,
                "heapRetainedBytes" to store.load.heapRetainedBytes,
                "rssGrowthBytes" to store.load.rssGrowthBytes,
                "outsideHeapRssGrowthBytes" to store.load.outsideHeapRssGrowthBytes,
                "offHeapBytes" to store.load.offHeapBytes,
                "totalBytes" to store.load.totalBytes,
                "gc" to gcJson(store.load.gc),
            ),
        "lookups" to store.phases.entries.associate { (kind, phase) -> kind.name.lowercase() to phaseJson(phase) },
        "lookupGc" to gcJson(store.lookupGc),
        "sink" to store.sink,
    )

private fun phaseJson(phase: PhaseResult): Map<String, Any?> =
    linkedMapOf(
        "ops" to phase.ops,
        "nanos" to phase.nanos,
        "opsPerSecond" to phase.opsPerSecond,
        "slices" to phase.slices,
        "allocatedBytes" to phase.allocatedBytes,
        "sink" to phase.sink,
        "gc" to gcJson(phase.gc),
        "latencyNanos" to phase.histogram?.let(::latencyJson),
    )

/** A latency histogram's summary: count, min, mean, [PERCENTILES] and max, in ns. */
internal fun latencyJson(h: Histogram): Map<String, Any?> =
    linkedMapOf<String, Any?>("count" to h.totalCount, "min" to h.minValue, "mean" to h.mean) +
        PERCENTILES.associate { (label, p) -> label to h.getValueAtPercentile(p) } +
        ("max" to h.maxValue)

internal fun gcJson(gc: GcStats): Map<String, Any?> =
    linkedMapOf("count" to gc.count, "pauseMillis" to gc.pauseMillis, "maxPauseMillis" to gc.maxPauseMillis)
