package dev.userstore.demo.measure

import com.github.ajalt.clikt.core.CliktError
import dev.userstore.User
import dev.userstore.UserStore
import org.HdrHistogram.Histogram
import java.util.Locale
import java.util.SplittableRandom
import kotlin.math.ceil

/** Longest slice a measured or warm-up loop runs for before the other store takes its turn. */
private const val MAX_SLICE_NANOS = NANOS_PER_SECOND

/** Users put into a throwaway instance of each store before the measured load, at most. */
private const val PREWARM_USERS = 50_000

/** The put loop publishes its progress every this many users (a mask: 4096 - 1). */
private const val PROGRESS_MASK = 4095

/** Lookup ids checked against the expected users before measuring. */
private const val VERIFY_IDS = 1000

/** Percent, for progress lines. */
private const val PERCENT = 100

/** A count the put loop publishes for the progress thread. */
private class Counter {
    @Volatile var value = 0
}

/** What the put loop measured; the heap is measured by the caller, once the users' array is gone. */
private class TimedLoad(
    val users: Int,
    val nanos: Long,
    val gc: GcStats,
    val rssGrowth: Long?,
    val outsideHeapRssGrowth: Long?,
)

/** A store under test and what its load measured. */
private class LoadedStore(
    val kind: StoreKind,
    val store: UserStore,
    val load: LoadResult,
)

/** Sums the slices of one loop for one store. */
private class PhaseAccumulator(
    private val kind: LoopKind,
) {
    private var ops = 0L
    private var nanos = 0L
    private var sink = 0L
    private var slices = 0
    private var allocated: Long? = 0
    private var gc = GcStats.NONE
    private val histogram: Histogram? = if (kind == LoopKind.TIMED) newHistogram() else null

    fun add(
        slice: SliceResult,
        sliceGc: GcStats,
    ) {
        ops += slice.ops
        nanos += slice.wallNanos
        sink += slice.sink
        slices++
        allocated = slice.allocatedBytes?.let { bytes -> allocated?.plus(bytes) }
        gc += sliceGc
        slice.histogram?.let { histogram?.add(it) }
    }

    fun result(): PhaseResult = PhaseResult(kind, ops, nanos, sink, slices, allocated, gc, histogram)
}

/**
 * Runs the comparison: for each selected store, in an order drawn from the seed, a warm-up load
 * into a throwaway instance, then the measured loads; a check that every store returns the
 * expected users; an unrecorded warm-up of all three lookup loops (so the JIT has seen every store
 * before anything is recorded); then, loop by loop, the measured slices, the stores taking turns
 * (the order of each round alternates) with a full GC before every slice.
 */
internal class Benchmark(
    private val options: CompareOptions,
    private val env: Environment,
    private val gc: GcMonitor,
    private val progress: Progress,
) {
    private val rounds = ceil(options.durationNanos.toDouble() / MAX_SLICE_NANOS).toInt().coerceAtLeast(1)
    private val sliceNanos = options.durationNanos / rounds

    /** Runs everything and closes every store it opened. */
    fun run(): CompareResults {
        val order = options.stores.let { if (SplittableRandom(options.seed).nextBoolean()) it.reversed() else it }
        val workload = progress.phase({ "preparing ${count(options.users)} users" }) { Workload(options.users, options.seed) }
        val batches = workload.batches(options.batchSize)
        val opened = mutableListOf<UserStore>()
        try {
            val prewarm = minOf(PREWARM_USERS, options.users)
            for (kind in order) {
                val store = kind.create()
                opened += store
                putAll(store, workload.users(prewarm), Counter())
            }
            val loaded = order.map { kind -> load(kind, workload).also { opened += it.store } }
            val verified = loaded.map { verify(it, workload) }.first()
            warmUp(loaded, workload.lookupIds, batches)
            val phases = LoopKind.entries.associateWith { measure(it, loaded, workload.lookupIds, batches) }
            val stores = loaded.map { s -> StoreResult(s.kind, s.load, phases.mapValues { it.value.getValue(s.kind) }) }
            return CompareResults(order, stores, rounds, sliceNanos, prewarm, verified)
        } finally {
            opened.forEach { it.close() }
        }
    }

    /** Loads all users into a new store of [kind], measuring time, GC and memory. */
    private fun load(
        kind: StoreKind,
        workload: Workload,
    ): LoadedStore {
        val heapBefore = settledHeapUsed()
        val store = kind.create()
        try {
            val load = timedLoad(kind, store, workload)
            val heapRetained = settledHeapUsed() - heapBefore
            val offHeap = load.outsideHeapRssGrowth ?: load.rssGrowth?.takeIf { kind == StoreKind.NATIVE }?.minus(heapRetained)
            val result =
                LoadResult(load.users, store.size, load.nanos, load.gc, heapRetained, load.rssGrowth, load.outsideHeapRssGrowth, offHeap)
            progress.log("loaded ${kind.label}: ${count(result.users)} users in ${millis(result.nanos)} ms")
            return LoadedStore(kind, store, result)
        } catch (e: Throwable) {
            store.close()
            throw e
        }
    }

    /**
     * Generates the users and puts them into [store]. The users' array lives only in this frame, so
     * the caller's heap reading after it returns counts what the store retains and nothing else.
     */
    private fun timedLoad(
        kind: StoreKind,
        store: UserStore,
        workload: Workload,
    ): TimedLoad {
        val users = workload.users()
        val done = Counter()
        val rssBefore = residentMemory(env.heapRange)
        val gcBefore = gc.snapshot()
        val nanos =
            progress.phase({
                "loading ${kind.label}: ${percent(done.value.toLong(), users.size.toLong())} (${count(done.value)}/${count(users.size)})"
            }) {
                putAll(store, users, done)
            }
        val gcAfter = gc.snapshot()
        val rssAfter = residentMemory(env.heapRange)
        return TimedLoad(
            users.size,
            nanos,
            gc.stats(gcBefore, gcAfter),
            rssGrowth = difference(rssBefore?.totalBytes, rssAfter?.totalBytes),
            outsideHeapRssGrowth = difference(rssBefore?.outsideHeapBytes, rssAfter?.outsideHeapBytes),
        )
    }

    /** Puts [users] in order and returns the time it took; publishes progress into [done]. */
    private fun putAll(
        store: UserStore,
        users: Array<User>,
        done: Counter,
    ): Long {
        val start = System.nanoTime()
        for (i in users.indices) {
            store.put(users[i])
            if (i and PROGRESS_MASK == 0) done.value = i
        }
        return System.nanoTime() - start
    }

    /**
     * Fails the run unless [loaded] holds exactly the expected users (a wrong store makes timings
     * meaningless); returns how many ids it checked.
     */
    private fun verify(
        loaded: LoadedStore,
        workload: Workload,
    ): Int {
        val n = workload.userCount.toLong()
        val ids = workload.lookupIds.copyOf(VERIFY_IDS) + longArrayOf(0, n - 1, n)
        val expected = ids.map { id -> if (id < n) User(id, nameFor(id)) else null }
        val store = loaded.store
        val problem =
            when {
                store.size != n -> "size is ${store.size}, expected $n"
                ids.map { store.get(it) } != expected -> "get returned other users than were put"
                store.getMany(ids) != expected -> "getMany returned other users than were put"
                else -> null
            }
        if (problem != null) throw CliktError("the ${loaded.kind.label} store is wrong: $problem; nothing was measured")
        return ids.size
    }

    /** Unrecorded lookups: each store gets --warmup in total, split evenly over the loops. */
    private fun warmUp(
        loaded: List<LoadedStore>,
        ids: LongArray,
        batches: List<LongArray>,
    ) {
        val perLoop = options.warmupNanos / LoopKind.entries.size
        if (perLoop <= 0) return
        val rounds = ceil(perLoop.toDouble() / MAX_SLICE_NANOS).toInt()
        val total = LoopKind.entries.size * rounds * loaded.size
        var done = 0
        progress.phase({ "warming up: slice ${done + 1}/$total" }) {
            for (kind in LoopKind.entries) {
                repeat(rounds) { round ->
                    for (s in turnOrder(loaded, round)) {
                        runSlice(kind, s.store, options.threads, perLoop / rounds, ids, batches)
                        done++
                    }
                }
            }
        }
    }

    /** The measured slices of [kind] for every store, taking turns; a full GC precedes each slice. */
    private fun measure(
        kind: LoopKind,
        loaded: List<LoadedStore>,
        ids: LongArray,
        batches: List<LongArray>,
    ): Map<StoreKind, PhaseResult> {
        val sums = loaded.associate { it.kind to PhaseAccumulator(kind) }
        val total = rounds * loaded.size
        var done = 0
        var current = loaded.first().kind
        progress.phase({ "measuring ${kind.description}: slice ${done + 1}/$total (${current.label})" }) {
            repeat(rounds) { round ->
                for (s in turnOrder(loaded, round)) {
                    current = s.kind
                    System.gc()
                    val before = gc.snapshot()
                    val slice = runSlice(kind, s.store, options.threads, sliceNanos, ids, batches)
                    sums.getValue(s.kind).add(slice, gc.stats(before, gc.snapshot()))
                    done++
                }
            }
        }
        return sums.mapValues { it.value.result() }
    }

    /** The stores in load order in even rounds, reversed in odd ones. */
    private fun turnOrder(
        loaded: List<LoadedStore>,
        round: Int,
    ): List<LoadedStore> = if (round % 2 == 0) loaded else loaded.reversed()

    private companion object {
        /** [after] minus [before], if both are known. */
        fun difference(
            before: Long?,
            after: Long?,
        ): Long? = if (before != null && after != null) after - before else null

        fun count(n: Int): String = String.format(Locale.ROOT, "%,d", n)

        fun millis(nanos: Long): String = String.format(Locale.ROOT, "%.1f", nanos / 1e6)

        fun percent(
            done: Long,
            total: Long,
        ): String = "${(done * PERCENT / total.coerceAtLeast(1)).coerceIn(0, PERCENT - 1L)}%"
    }
}
