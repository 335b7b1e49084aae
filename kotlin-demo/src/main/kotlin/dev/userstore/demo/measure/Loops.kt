package dev.userstore.demo.measure

import dev.userstore.User
import dev.userstore.UserStore
import org.HdrHistogram.Histogram
import java.lang.management.ManagementFactory
import java.util.concurrent.CountDownLatch
import kotlin.concurrent.thread

/** Untimed gets between two deadline checks. */
private const val CHECK_EVERY = 256

/** Largest latency the histograms track (one minute), in nanoseconds. */
private const val MAX_TRACKED_NANOS = 60 * NANOS_PER_SECOND

/** Significant decimal digits the latency histograms keep. */
private const val HISTOGRAM_DIGITS = 3

/** What one worker thread did in one slice. */
internal class WorkerResult(
    /** Lookups done (ids, for getMany). */
    val ops: Long,
    /** Sum of the lengths of the returned names: the results are consumed, so no lookup can be dropped. */
    val sink: Long,
    /** `System.nanoTime()` when the worker stopped. */
    val endNanos: Long,
    /** Per-get latencies in ns, for timed loops only. */
    val histogram: Histogram?,
)

/** What all workers of one slice did together. */
internal class SliceResult(
    val ops: Long,
    val sink: Long,
    /** Java heap the workers allocated during their loops; null where the JVM cannot tell. */
    val allocatedBytes: Long?,
    /** From the common start to the last worker's stop. */
    val wallNanos: Long,
    /** The workers' latencies merged, for timed loops only. */
    val histogram: Histogram?,
)

/** The three lookup loops the demo measures. */
internal enum class LoopKind(
    val description: String,
) {
    /** get(id) with System.nanoTime() around each call. */
    TIMED("get latency"),

    /** get(id) without per-call timing: throughput only. */
    UNTIMED("get throughput"),

    /** getMany(batch): per-id throughput. */
    BATCH("getMany throughput"),
}

/** Bytes of Java heap the current thread has allocated so far; null where the JVM does not count them. */
internal fun currentThreadAllocatedBytes(): Long? {
    val bean = ManagementFactory.getThreadMXBean() as? com.sun.management.ThreadMXBean ?: return null
    return if (bean.isThreadAllocatedMemorySupported && bean.isThreadAllocatedMemoryEnabled) bean.currentThreadAllocatedBytes else null
}

/** A latency histogram with the range and precision the demo uses. */
internal fun newHistogram(): Histogram = Histogram(1, MAX_TRACKED_NANOS, HISTOGRAM_DIGITS)

/** One returned user as a number the caller keeps: its name length, or -1 if missing. */
@Suppress("NOTHING_TO_INLINE")
private inline fun consume(user: User?): Int = user?.name?.length ?: -1

/**
 * Runs [kind] on [store] with [threads] workers for [nanos], all starting together; worker `t` starts
 * at its own offset in [ids] (and in [batches]); the workers are named [threadName]-0, -1, ...
 */
internal fun runSlice(
    kind: LoopKind,
    store: UserStore,
    threads: Int,
    nanos: Long,
    ids: LongArray,
    batches: List<LongArray>,
    threadName: String = "lookup",
): SliceResult {
    val go = CountDownLatch(1)
    val results = arrayOfNulls<WorkerResult>(threads)
    val allocated = arrayOfNulls<Long>(threads)
    val failures = arrayOfNulls<Throwable>(threads)
    var start = 0L
    val workers =
        (0 until threads).map { t ->
            thread(name = "$threadName-$t") {
                try {
                    go.await()
                    val deadline = start + nanos
                    val allocatedBefore = currentThreadAllocatedBytes()
                    results[t] =
                        when (kind) {
                            LoopKind.TIMED -> timedGets(store, ids, t * (ids.size / threads), deadline)
                            LoopKind.UNTIMED -> untimedGets(store, ids, t * (ids.size / threads), deadline)
                            LoopKind.BATCH -> batchGets(store, batches, t * (batches.size / threads), deadline)
                        }
                    allocated[t] = currentThreadAllocatedBytes()?.let { after -> allocatedBefore?.let { after - it } }
                } catch (e: Throwable) {
                    failures[t] = e
                }
            }
        }
    start = System.nanoTime()
    go.countDown()
    workers.forEach { it.join() }
    failures.firstOrNull { it != null }?.let { throw it }
    val allocatedBytes = if (allocated.all { it != null }) allocated.sumOf { it!! } else null
    return merge(results.map { checkNotNull(it) }, allocatedBytes, start)
}

/** Adds up the workers' results of one slice that started at [start]. */
private fun merge(
    results: List<WorkerResult>,
    allocatedBytes: Long?,
    start: Long,
): SliceResult {
    val histograms = results.mapNotNull { it.histogram }
    val histogram = if (histograms.isEmpty()) null else newHistogram().also { merged -> histograms.forEach(merged::add) }
    return SliceResult(
        ops = results.sumOf { it.ops },
        sink = results.sumOf { it.sink },
        allocatedBytes = allocatedBytes,
        wallNanos = results.maxOf { it.endNanos } - start,
        histogram = histogram,
    )
}

/** get(id) over [ids] from [offset], each call timed with System.nanoTime(), until [deadline]. */
private fun timedGets(
    store: UserStore,
    ids: LongArray,
    offset: Int,
    deadline: Long,
): WorkerResult {
    val histogram = newHistogram()
    val mask = ids.size - 1
    var i = offset
    var ops = 0L
    var sink = 0L
    var end: Long
    do {
        val id = ids[i and mask]
        val before = System.nanoTime()
        val user = store.get(id)
        end = System.nanoTime()
        histogram.recordValue(end - before)
        sink += consume(user)
        i++
        ops++
    } while (end - deadline < 0)
    return WorkerResult(ops, sink, end, histogram)
}

/** get(id) over [ids] from [offset] without per-call timing, until [deadline]. */
private fun untimedGets(
    store: UserStore,
    ids: LongArray,
    offset: Int,
    deadline: Long,
): WorkerResult {
    val mask = ids.size - 1
    var i = offset
    var ops = 0L
    var sink = 0L
    var end: Long
    do {
        repeat(CHECK_EVERY) {
            sink += consume(store.get(ids[i and mask]))
            i++
        }
        ops += CHECK_EVERY
        end = System.nanoTime()
    } while (end - deadline < 0)
    return WorkerResult(ops, sink, end, null)
}

/** getMany over [batches] from [offset], until [deadline]; counts ids, not calls. */
private fun batchGets(
    store: UserStore,
    batches: List<LongArray>,
    offset: Int,
    deadline: Long,
): WorkerResult {
    var b = offset
    var ops = 0L
    var sink = 0L
    var end: Long
    do {
        val batch = batches[Math.floorMod(b, batches.size)]
        for (user in store.getMany(batch)) sink += consume(user)
        ops += batch.size
        b++
        end = System.nanoTime()
    } while (end - deadline < 0)
    return WorkerResult(ops, sink, end, null)
}
