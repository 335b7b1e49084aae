package dev.userstore.demo.measure

import java.io.IOException
import java.lang.management.ManagementFactory
import java.nio.file.Files
import java.nio.file.Path

/** Back-to-back System.nanoTime() pairs [Environment.timerOverheadNanos] takes. */
private const val TIMER_SAMPLES = 2_000_000

/** The flag that makes the JVM touch its whole heap at start. */
private const val PRE_TOUCH_FLAG = "-XX:+AlwaysPreTouch"

/** Bytes in a MiB. */
internal const val MIB = 1024L * 1024L

/** The machine and JVM a run happened on, for the header and the JSON. */
internal data class Environment(
    val javaVersion: String,
    val javaVendor: String,
    val vmName: String,
    val collectors: List<String>,
    val cpuModel: String,
    val cores: Int,
    val maxHeapBytes: Long,
    val jvmArguments: List<String>,
    val rssAvailable: Boolean,
    /** Where the Java heap lives in the address space, to tell heap pages from native ones in RSS. */
    val heapRange: LongRange?,
    /** Median of back-to-back System.nanoTime() deltas: what per-call timing adds to each latency. */
    val timerOverheadNanos: Long,
) {
    /** True when the heap cannot grow (-Xms equal to -Xmx), nor the GC structures that follow its size. */
    val heapFixed: Boolean
        get() = ManagementFactory.getMemoryMXBean().heapMemoryUsage.let { it.init == it.max }

    /** True when the heap is fixed and pre-touched, so heap pages cannot show up as RSS growth. */
    val heapPreTouched: Boolean get() = heapFixed && PRE_TOUCH_FLAG in jvmArguments

    companion object {
        /** Reads everything from this JVM and machine; takes a few milliseconds to time the timer. */
        fun capture(): Environment =
            Environment(
                javaVersion = System.getProperty("java.version", "?"),
                javaVendor = System.getProperty("java.vendor", "?"),
                vmName = System.getProperty("java.vm.name", "?"),
                collectors = collectorNames(),
                cpuModel = cpuModel(),
                cores = Runtime.getRuntime().availableProcessors(),
                maxHeapBytes = Runtime.getRuntime().maxMemory(),
                jvmArguments = ManagementFactory.getRuntimeMXBean().inputArguments,
                rssAvailable = residentMemory(null) != null,
                heapRange = javaHeapAddressRange(),
                timerOverheadNanos = timerOverheadNanos(),
            )

        /** The names of this JVM's garbage collector beans, e.g. `G1 Young Generation`. */
        fun collectorNames(): List<String> = ManagementFactory.getGarbageCollectorMXBeans().map { it.name }

        /** "model name" of /proc/cpuinfo, else the architecture. */
        private fun cpuModel(): String {
            val arch = System.getProperty("os.arch", "?")
            val model =
                try {
                    Files
                        .readAllLines(Path.of("/proc/cpuinfo"))
                        .firstOrNull { it.startsWith("model name") }
                        ?.substringAfter(':')
                        ?.trim()
                } catch (e: IOException) {
                    null
                }
            return if (model.isNullOrEmpty()) arch else "$model ($arch)"
        }

        /** The median gap between two back-to-back System.nanoTime() calls, after a warm-up round. */
        private fun timerOverheadNanos(): Long {
            val histogram = newHistogram()
            repeat(2) {
                histogram.reset()
                repeat(TIMER_SAMPLES) {
                    val before = System.nanoTime()
                    val after = System.nanoTime()
                    histogram.recordValue(after - before)
                }
            }
            return histogram.getValueAtPercentile(50.0)
        }
    }
}
