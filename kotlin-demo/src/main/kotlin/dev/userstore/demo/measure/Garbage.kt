package dev.userstore.demo.measure

import java.util.SplittableRandom
import java.util.concurrent.locks.LockSupport
import kotlin.concurrent.thread

/** Smallest and largest short-lived array the generator allocates, in bytes. */
private const val MIN_GARBAGE = 16
private const val MAX_GARBAGE = 2048

/** One allocation in this many is kept in the medium-lived ring instead of dropped at once. */
private const val KEEP_ONE_IN = 16

/** The generator checks its pace every this many bytes. */
private const val PACE_CHECK_BYTES = 64 * 1024L

/** How long the generator sleeps when it is ahead of its pace, in nanoseconds. */
private const val PACE_SLEEP_NANOS = 100_000L

/** Bytes per MB (10^6: rates are given in MB/s). */
internal const val BYTES_PER_MB = 1_000_000L

/**
 * A background thread that allocates garbage at a steady [bytesPerSecond]: byte arrays of 16 to
 * 2048 bytes, most of them dropped at once (they die young), one in 16 kept in a ring of
 * [ringBytes] where it lives until the ring comes round again (medium-lived objects, which survive
 * young collections and get promoted, so the old generation fills and is collected too).
 *
 * The rate it really reached is measured from the thread's own allocated bytes (ThreadMXBean),
 * since a slow machine can fall behind the asked rate.
 */
internal class GarbageGenerator(
    private val bytesPerSecond: Long,
    ringBytes: Long,
    seed: Long,
) : AutoCloseable {
    private val ring = arrayOfNulls<ByteArray>((ringBytes / ((MIN_GARBAGE + MAX_GARBAGE) / 2)).toInt().coerceAtLeast(1))

    @Volatile private var running = true

    @Volatile private var allocatedBytes = 0L

    @Volatile private var elapsedNanos = 0L

    @Volatile private var measuredBytes: Long? = null

    /** Keeps the last short-lived array reachable from a field, so escape analysis cannot remove it. */
    @Volatile var last: ByteArray? = null
        private set

    private val worker =
        thread(isDaemon = true, name = "garbage") {
            val random = SplittableRandom(seed)
            val allocatedBefore = currentThreadAllocatedBytes()
            val start = System.nanoTime()
            var bytes = 0L
            var slot = 0
            var sinceCheck = 0L
            var n = 0L
            while (running) {
                val size = MIN_GARBAGE + random.nextInt(MAX_GARBAGE - MIN_GARBAGE)
                val array = ByteArray(size)
                array[size - 1] = n.toByte()
                if (n % KEEP_ONE_IN == 0L) {
                    ring[slot] = array
                    slot = (slot + 1) % ring.size
                } else {
                    last = array
                }
                n++
                bytes += size
                sinceCheck += size
                if (sinceCheck >= PACE_CHECK_BYTES) {
                    sinceCheck = 0
                    allocatedBytes = bytes
                    // Ahead of the pace: sleep until the clock catches up.
                    while (running && bytes * NANOS_PER_SECOND > bytesPerSecond * (System.nanoTime() - start)) {
                        LockSupport.parkNanos(PACE_SLEEP_NANOS)
                    }
                }
            }
            elapsedNanos = System.nanoTime() - start
            allocatedBytes = bytes
            measuredBytes = currentThreadAllocatedBytes()?.let { after -> allocatedBefore?.let { after - it } }
        }

    /** Stops the thread and waits for it. */
    override fun close() {
        running = false
        worker.join()
    }

    /** Bytes allocated per second over the generator's life (after [close]): the JVM's count if it has one. */
    val achievedBytesPerSecond: Double
        get() = perSecond(measuredBytes ?: allocatedBytes, elapsedNanos)
}
