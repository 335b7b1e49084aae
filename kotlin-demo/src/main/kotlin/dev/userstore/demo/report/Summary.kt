package dev.userstore.demo.report

import dev.userstore.demo.format.fmt
import dev.userstore.demo.format.oneDecimal
import dev.userstore.demo.format.plural
import dev.userstore.demo.format.ratio
import dev.userstore.demo.measure.CompareOptions
import dev.userstore.demo.measure.LoadResult
import dev.userstore.demo.measure.LoopKind
import dev.userstore.demo.measure.StoreResult

/**
 * Plain sentences comparing [native] with [kotlin], every number taken from this run: nothing
 * here is a claim that was not just measured.
 */
internal class Summary(
    private val native: StoreResult,
    private val kotlin: StoreResult,
    private val options: CompareOptions,
) {
    /** Three or four sentences. */
    fun sentences(): List<String> = listOfNotNull(throughput(), batching(), latency(), memoryAndGc())

    private fun throughput(): String {
        val n = native.phase(LoopKind.UNTIMED).opsPerSecond
        val k = kotlin.phase(LoopKind.UNTIMED).opsPerSecond
        val threads = if (options.threads == 1) "on one thread" else "over ${options.threads} threads together"
        return "- Untimed get throughput $threads: native ${rate(n)} ops/s, kotlin ${rate(k)} ops/s, " +
            "so native ran at ${ratio(n, k)} kotlin's rate."
    }

    private fun batching(): String {
        val n = native.phase(LoopKind.BATCH).opsPerSecond
        val k = kotlin.phase(LoopKind.BATCH).opsPerSecond
        val nativeSingle = native.phase(LoopKind.UNTIMED).opsPerSecond
        val kotlinSingle = kotlin.phase(LoopKind.UNTIMED).opsPerSecond
        return "- With getMany (${options.batchSize} ids per call) native reached ${rate(n)} ids/s and kotlin ${rate(k)} " +
            "(${ratio(n, k)}); per id, batching ran at ${ratio(n, nativeSingle)} of native's untimed single-get rate " +
            "and ${ratio(k, kotlinSingle)} of kotlin's."
    }

    private fun latency(): String {
        val parts =
            listOf("p50" to 50.0, "p99" to 99.0, "p99.9" to 99.9).map { (label, p) ->
                val n = native.latency.getValueAtPercentile(p)
                val k = kotlin.latency.getValueAtPercentile(p)
                "$label ${ratio(n.toDouble(), k.toDouble())} (${fmt("%.3f", n / 1e3)} vs ${fmt("%.3f", k / 1e3)} µs)"
            }
        val maxN = native.latency.maxValue
        val maxK = kotlin.latency.maxValue
        return "- Timed get latency, native relative to kotlin: ${parts.joinToString(", ")}; " +
            "the slowest single get took ${fmt("%,.1f", maxN / 1e3)} µs in native and ${fmt("%,.1f", maxK / 1e3)} µs in kotlin."
    }

    private fun memoryAndGc(): String {
        val users = options.users.toDouble()
        val n = native.load.totalBytes / users
        val k = kotlin.load.totalBytes / users
        val memory =
            "native took ${fmt("%.1f", n)} B/user (${parts(native.load)}) and kotlin ${fmt("%.1f", k)} " +
                "(${parts(kotlin.load)}), ${ratio(n, k)}"
        val gcN = native.lookupGc
        val gcK = kotlin.lookupGc
        val allocation =
            listOf(native, kotlin).map { it.phase(LoopKind.UNTIMED).allocatedPerOp }.let { (n, k) ->
                if (n == null ||
                    k == null
                ) {
                    ""
                } else {
                    "; each get allocated ${fmt("%.1f", n)} B of Java heap in native and ${fmt("%.1f", k)} B in kotlin"
                }
            }
        return "- After loading, $memory; during the measured lookups native saw ${plural(gcN.count, "collection")} " +
            "(${gcN.pauseMillis} ms in total) and kotlin ${gcK.count} (${gcK.pauseMillis} ms)$allocation."
    }

    /** Where a store's bytes per user are: on the heap and, if measured, outside it. */
    private fun parts(load: LoadResult): String {
        val users = options.users.toDouble()
        val heap = "${oneDecimal(load.heapRetainedBytes / users)} on the Java heap"
        return load.offHeapBytes?.let { "$heap, ${oneDecimal(it / users)} outside it" } ?: heap
    }

    private fun rate(x: Double): String = fmt("%.2f M", x / 1e6)
}
