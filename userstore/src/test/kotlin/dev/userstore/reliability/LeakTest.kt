package dev.userstore.reliability

import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/**
 * Leaks across the boundary, measured on a child JVM (fixed, pre-touched heap, so the heap does not add to
 * the process's RSS as it grows):
 *
 * - `-Duserstore.leak.cycles=N` (default 100000, about 5 s) cycles of NativeUserStore(): fill (puts, getMany, importJson,
 *   findByName), close. RSS (VmRSS) is read after a warm-up and after the cycles. The same child then measures
 *   what one store filled the same way costs when it is NOT closed; the growth over all cycles must stay
 *   below a tenth of what leaking the stores of just 5% of the cycles would cost, and below 32 MiB.
 * - getMany with 2M ids, three times, under -Xcheck:jni: the results are checked and the child's output
 *   must hold no JNI warning (-Xcheck:jni warns when a native method holds more local references than
 *   its capacity, "JNI local refs: N, exceeds capacity").
 */
class LeakTest {
    private val childHeap = listOf("-Xms256m", "-Xmx256m", "-XX:+AlwaysPreTouch", "-XX:+UseSerialGC")

    @Test
    @Timeout(3600)
    fun `create-fill-close cycles of NativeUserStore keep RSS bounded`() {
        val cycles = Reliability.setting("userstore.leak.cycles", 100_000)
        val users = 50
        val (code, output) = Reliability.runChild(childHeap, listOf("leak", cycles.toString(), users.toString(), "1000"), 3600)
        assertEquals(0, code, output)
        assertEquals(emptyList(), Reliability.jniWarnings(output), output)
        val r = Reliability.results(output)
        val growth = r.getValue("growth").toLong()
        val perOpenStore = r.getValue("per_open_store").toLong()
        assertTrue(perOpenStore > 0, "the calibration measured no cost for an open store: $output")
        // Leaking the stores of 5% of the cycles would grow RSS by this much; allow a tenth of it.
        val leakOf5Percent = perOpenStore * cycles / 20
        val bound = minOf(leakOf5Percent / 10, 32L shl 20)
        Reliability.report(
            "leak-cycles cycles=$cycles users_per_store=$users rss_growth_kb=${growth shr 10} bound_kb=${bound shr 10} " +
                "open_store_cost_bytes=$perOpenStore seconds=${r["seconds"]}",
        )
        assertTrue(growth <= bound, "RSS grew by $growth bytes over $cycles cycles (bound $bound; an open store costs $perOpenStore)")
    }

    @Test
    @Timeout(600)
    fun `getMany with 2M ids raises no JNI warning`() {
        val (code, output) = Reliability.runChild(listOf("-Xmx1g"), listOf("getmany", "1000000", "2000000", "3"))
        assertEquals(0, code, output)
        assertEquals(emptyList(), Reliability.jniWarnings(output), "-Xcheck:jni warnings:\n$output")
        val r = Reliability.results(output)
        assertEquals("6000000", r["entries_checked"], output)
        Reliability.report("getmany-2m ids=2000000 rounds=3 jni_warnings=0 rss_mb=${r.getValue("rss").toLong() shr 20}")
    }
}
