package dev.userstore.demo.measure

import java.io.IOException
import java.lang.management.ManagementFactory
import java.nio.file.Files
import java.nio.file.Path
import javax.management.JMException
import javax.management.ObjectName
import kotlin.math.abs

/** Most full collections [settledHeapUsed] asks for. */
private const val MAX_SETTLE_GCS = 10

/** Two heap readings this close (bytes) count as settled. */
private const val SETTLE_TOLERANCE_BYTES = 64 * 1024L

/** Bytes per kB in /proc. */
private const val KIB = 1024L

/** Java heap in use now, in bytes. */
internal fun heapUsed(): Long = ManagementFactory.getMemoryMXBean().heapMemoryUsage.used

/**
 * Java heap in use after full collections, repeated (at least twice) until two readings in a row
 * agree within 64 KiB, so garbage and late reference processing are gone.
 */
internal fun settledHeapUsed(): Long {
    System.gc()
    var previous = heapUsed()
    repeat(MAX_SETTLE_GCS - 1) {
        System.gc()
        val now = heapUsed()
        if (abs(now - previous) <= SETTLE_TOLERANCE_BYTES) return now
        previous = now
    }
    return previous
}

/** Resident memory of this process at one moment, from /proc/self/smaps. */
internal class RssReading(
    /** All resident bytes of the process. */
    val totalBytes: Long,
    /** Resident bytes inside the Java heap's address range; null when that range is unknown. */
    val heapBytes: Long?,
) {
    /** Resident bytes outside the Java heap; null when the heap's range is unknown. */
    val outsideHeapBytes: Long? get() = heapBytes?.let { totalBytes - it }
}

/**
 * The process's resident memory, split into inside and outside the Java heap's [heapRange]
 * (see [javaHeapAddressRange]); null where /proc/self/smaps cannot be read (not Linux).
 */
internal fun residentMemory(heapRange: LongRange?): RssReading? {
    val lines =
        try {
            Files.readAllLines(Path.of("/proc/self/smaps"))
        } catch (e: IOException) {
            return null
        } catch (e: UnsupportedOperationException) {
            return null
        }
    var total = 0L
    var heap = 0L
    var inHeap = false
    for (line in lines) {
        val mapping = MAPPING.matchEntire(line)
        if (mapping != null) {
            val (start, end) = mapping.destructured
            inHeap = heapRange != null && address(start) >= heapRange.first && address(end) - 1 <= heapRange.last
        } else if (line.startsWith("Rss:")) {
            val bytes = line.split(WHITESPACE)[1].toLong() * KIB
            total += bytes
            if (inHeap) heap += bytes
        }
    }
    return RssReading(total, if (heapRange == null) null else heap)
}

/**
 * The address range the JVM reserved for its Java heap, parsed from the `GC.heap_info` diagnostic
 * command (G1, Parallel and Serial print it); null where it is not printed (e.g. ZGC).
 */
internal fun javaHeapAddressRange(): LongRange? =
    try {
        val info =
            ManagementFactory.getPlatformMBeanServer().invoke(
                ObjectName("com.sun.management:type=DiagnosticCommand"),
                "gcHeapInfo",
                arrayOf<Any>(arrayOf<String>()),
                arrayOf(Array<String>::class.java.name),
            ) as String
        val addresses =
            info
                .lineSequence()
                .takeWhile { !it.trimStart().startsWith("Metaspace") }
                .flatMap { ADDRESS.findAll(it).map { match -> address(match.groupValues[1]) } }
                .toList()
        if (addresses.size < 2) null else addresses.min() until addresses.max()
    } catch (e: JMException) {
        null
    } catch (e: ClassCastException) {
        null
    }

/** A hexadecimal address; those above Long.MAX_VALUE (the vsyscall page) come out negative, below any heap. */
private fun address(hex: String): Long = java.lang.Long.parseUnsignedLong(hex, HEX_RADIX)

/** A mapping line of /proc/self/smaps: `start-end perms ...`. */
private val MAPPING = Regex("^([0-9a-f]+)-([0-9a-f]+) .*")

/** A hexadecimal address in `GC.heap_info` output. */
private val ADDRESS = Regex("0x([0-9a-f]{6,16})")

/** Separates the fields of a /proc line. */
private val WHITESPACE = Regex("\\s+")

/** Base of the addresses in /proc and `GC.heap_info`. */
private const val HEX_RADIX = 16
