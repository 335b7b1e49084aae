package dev.userstore.demo.measure

import com.sun.management.GarbageCollectionNotificationInfo
import java.lang.management.GarbageCollectorMXBean
import java.lang.management.ManagementFactory
import java.util.concurrent.ConcurrentLinkedQueue
import javax.management.Notification
import javax.management.NotificationEmitter
import javax.management.NotificationListener
import javax.management.openmbean.CompositeData

/** How long [GcMonitor.stats] waits for late GC notifications, in milliseconds. */
private const val NOTIFICATION_WAIT_MILLIS = 500L

/** The class GC notifications need; HotSpot JVMs have it. */
private const val NOTIFICATION_INFO_CLASS = "com.sun.management.GarbageCollectionNotificationInfo"

/** Garbage collections in one window. */
internal data class GcStats(
    /** Collections that pause the application (see [GcMonitor]). */
    val count: Long,
    /** Their accumulated time, in milliseconds, as the collector beans report it. */
    val pauseMillis: Long,
    /** The longest single one, in milliseconds; null when GC notifications are unavailable. */
    val maxPauseMillis: Long?,
) {
    /** Both windows together. */
    operator fun plus(other: GcStats): GcStats =
        GcStats(
            count + other.count,
            pauseMillis + other.pauseMillis,
            if (maxPauseMillis == null || other.maxPauseMillis == null) null else maxOf(maxPauseMillis, other.maxPauseMillis),
        )

    companion object {
        /** No collections. */
        val NONE = GcStats(0, 0, 0)
    }
}

/** The collector counters at one moment; see [GcMonitor.snapshot]. */
internal class GcSnapshot(
    /** Collections so far, per collector. */
    val counts: Map<String, Long>,
    /** Accumulated collection time so far, all collectors together, in milliseconds. */
    val millis: Long,
) {
    /** Collections so far, all collectors together. */
    val count: Long get() = counts.values.sum()
}

/** One collection as a notification reported it: the [id]th collection of [collector]. */
private class GcEvent(
    val collector: String,
    val id: Long,
    val durationMillis: Long,
)

/**
 * Counts collections and their time from the GarbageCollectorMXBeans, and records every single
 * collection's duration from GC notifications, to report the longest pause of a window. A
 * notification is matched to a window by its collection number, never by its timestamp (GcInfo
 * timestamps and RuntimeMXBean uptime start from different instants).
 *
 * Beans of concurrent cycles (names with "Cycles" or "Concurrent", e.g. ZGC, Shenandoah, newer
 * G1) are left out of the pause figures whenever a collector also has beans for its pauses.
 */
internal class GcMonitor : AutoCloseable {
    private val allBeans: List<GarbageCollectorMXBean> = ManagementFactory.getGarbageCollectorMXBeans()
    private val beans: List<GarbageCollectorMXBean> = allBeans.filterNot { isConcurrent(it.name) }.ifEmpty { allBeans }
    private val pauseNames = beans.map { it.name }.toSet()
    private val events = ConcurrentLinkedQueue<GcEvent>()
    private val listener = NotificationListener { notification, _ -> record(notification) }
    private val emitters: List<NotificationEmitter> = subscribe()

    /** The counters now. */
    fun snapshot(): GcSnapshot =
        GcSnapshot(
            counts = beans.associate { it.name to it.collectionCount.coerceAtLeast(0) },
            millis = beans.sumOf { it.collectionTime.coerceAtLeast(0) },
        )

    /** Collections between [from] and [to]; the longest pause comes from notifications, if they all arrived. */
    fun stats(
        from: GcSnapshot,
        to: GcSnapshot,
    ): GcStats {
        val count = to.count - from.count
        if (count == 0L) return GcStats.NONE
        val inWindow = { e: GcEvent -> e.id > from.counts.getValue(e.collector) && e.id <= to.counts.getValue(e.collector) }
        val max =
            if (emitters.isNotEmpty() &&
                awaitNotifications(from, to)
            ) {
                events.filter(inWindow).maxOfOrNull { it.durationMillis }
            } else {
                null
            }
        return GcStats(count, to.millis - from.millis, max)
    }

    override fun close() {
        emitters.forEach { runCatching { it.removeNotificationListener(listener) } }
    }

    /** Waits until the notification of every collection up to [to] has arrived; false on timeout. */
    private fun awaitNotifications(
        from: GcSnapshot,
        to: GcSnapshot,
    ): Boolean {
        val deadline = System.nanoTime() + NOTIFICATION_WAIT_MILLIS * 1_000_000

        fun arrived() =
            to.counts.all { (name, last) -> last == from.counts.getValue(name) || events.any { it.collector == name && it.id >= last } }
        while (!arrived()) {
            if (System.nanoTime() - deadline > 0) return false
            Thread.sleep(1)
        }
        return true
    }

    /** Listens to the pause beans; none on a JVM without com.sun.management (counts and totals only). */
    private fun subscribe(): List<NotificationEmitter> {
        val available = runCatching { Class.forName(NOTIFICATION_INFO_CLASS) }.isSuccess
        if (!available) return emptyList()
        return beans.filterIsInstance<NotificationEmitter>().onEach { it.addNotificationListener(listener, null, null) }
    }

    private fun record(notification: Notification) {
        if (notification.type != GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION) return
        val info = GarbageCollectionNotificationInfo.from(notification.userData as CompositeData)
        if (info.gcName in pauseNames) events.add(GcEvent(info.gcName, info.gcInfo.id, info.gcInfo.duration))
    }

    private companion object {
        fun isConcurrent(name: String): Boolean = "Cycles" in name || "Concurrent" in name
    }
}
