package dev.userstore.demo.measure

import org.HdrHistogram.Histogram

/** Per second, from a count over [nanos]. */
internal fun perSecond(
    count: Long,
    nanos: Long,
): Double = if (nanos <= 0) 0.0 else count * NANOS_PER_SECOND.toDouble() / nanos

/** What loading one store measured. */
internal data class LoadResult(
    /** Users put. */
    val users: Int,
    /** `size` of the store right after the load. */
    val storedAfterLoad: Long,
    /** Time of the put loop alone. */
    val nanos: Long,
    /** Collections during the put loop. */
    val gc: GcStats,
    /** Java heap in use after full GC, after minus before the load (the users' array excluded). */
    val heapRetainedBytes: Long,
    /** Growth of the process RSS during the put loop; null where RSS cannot be read. */
    val rssGrowthBytes: Long?,
    /** Growth of the RSS outside the Java heap's address range during the put loop; null if unknown. */
    val outsideHeapRssGrowthBytes: Long?,
    /**
     * Memory outside the Java heap: [outsideHeapRssGrowthBytes] where the heap's range is known; else, for
     * the native store only, [rssGrowthBytes] minus [heapRetainedBytes]; null otherwise.
     */
    val offHeapBytes: Long?,
) {
    /** Users put per second. */
    val usersPerSecond: Double get() = perSecond(users.toLong(), nanos)

    /** Heap retained plus, where known, memory outside the heap (each counted only if positive). */
    val totalBytes: Long get() = heapRetainedBytes.coerceAtLeast(0) + (offHeapBytes ?: 0).coerceAtLeast(0)
}

/** One lookup loop's measurements for one store, summed over its slices. */
internal class PhaseResult(
    val kind: LoopKind,
    /** Lookups (ids, for getMany) done. */
    val ops: Long,
    /** Wall time of the slices together (collections between slices excluded). */
    val nanos: Long,
    /** Sum of the returned names' lengths. */
    val sink: Long,
    /** Slices it was run in. */
    val slices: Int,
    /** Java heap the lookup threads allocated in the loop; null where the JVM cannot tell. */
    val allocatedBytes: Long?,
    /** Collections during the slices. */
    val gc: GcStats,
    /** Per-get latencies in ns ([LoopKind.TIMED] only). */
    val histogram: Histogram?,
) {
    /** Lookups per second, all threads together. */
    val opsPerSecond: Double get() = perSecond(ops, nanos)

    /** Java heap allocated per lookup (per id, for getMany); null where unknown. */
    val allocatedPerOp: Double? get() = allocatedBytes?.takeIf { ops > 0 }?.let { it.toDouble() / ops }
}

/** Everything measured for one store. */
internal class StoreResult(
    val kind: StoreKind,
    val load: LoadResult,
    val phases: Map<LoopKind, PhaseResult>,
) {
    /** The result of one lookup loop. */
    fun phase(kind: LoopKind): PhaseResult = phases.getValue(kind)

    /** Collections during all measured lookup slices. */
    val lookupGc: GcStats get() = phases.values.fold(GcStats.NONE) { sum, phase -> sum + phase.gc }

    /** The timed gets' latency histogram. */
    val latency: Histogram get() = checkNotNull(phase(LoopKind.TIMED).histogram)

    /** Returned-name lengths summed over all measured lookups. */
    val sink: Long get() = phases.values.sumOf { it.sink }
}

/** The whole run. */
internal class CompareResults(
    /** Stores in the order they were loaded; measured rounds alternate from this order. */
    val order: List<StoreKind>,
    val stores: List<StoreResult>,
    /** Measured slices per store and loop. */
    val rounds: Int,
    /** Length of one measured slice. */
    val sliceNanos: Long,
    /** Users loaded into a separate instance of each store first, to warm up the put path. */
    val prewarmUsers: Int,
    /** Ids whose get and getMany results were checked against the expected users in every store. */
    val verifiedIds: Int,
) {
    /** The result for [kind], if it ran. */
    fun of(kind: StoreKind): StoreResult? = stores.firstOrNull { it.kind == kind }
}
