package dev.userstore.demo.measure

import dev.userstore.demo.report.durabilityRows
import dev.userstore.demo.report.durabilityText
import dev.userstore.demo.report.floorText
import org.junit.jupiter.api.Test
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** Issue 13's goals, given numbers: each is met at its limit, missed just below it, and "not measured" without figures. */
class DurabilityGoalsTest {
    private fun run(vararg figures: Pair<Triple<StoreKind, DurabilityMode, Int>, Double>): DurabilityRun =
        DurabilityRun(
            DurabilityOptions(1.0, Path.of("/tmp")),
            "ext4",
            figures.map { (key, perSecond) ->
                // puts over one second: puts/s is the figure itself
                DurabilityMeasurement(key.first, key.second, key.third, perSecond.toLong(), NANOS_PER_SECOND)
            },
        )

    private fun at(
        kind: StoreKind,
        mode: DurabilityMode,
        threads: Int,
    ) = Triple(kind, mode, threads)

    private fun DurabilityRun.goal(
        kind: StoreKind,
        prefix: String,
    ): DurabilityGoal = goals.single { it.kind == kind && it.goal.startsWith(prefix) }

    @Test
    fun `the goals hold at their limits and fail just below`() {
        val k = StoreKind.NATIVE
        val r =
            run(
                at(k, DurabilityMode.MEMORY, 1) to 1_000_000.0,
                at(k, DurabilityMode.MEMORY, 8) to 1_500_000.0,
                at(k, DurabilityMode.ALWAYS, 1) to 5_000.0,
                at(k, DurabilityMode.ALWAYS, 8) to 20_000.0,
                at(k, DurabilityMode.BATCH, 1) to 500_000.0,
                at(k, DurabilityMode.BATCH, 8) to 749_999.0,
            )
        assertEquals(4, r.goals.size, "ALWAYS 1 thread, group commit, BATCH at 1 and at 8 threads")
        assertEquals(true, r.goal(k, "Sync.ALWAYS, 1 thread").met)
        assertEquals(5_000.0, r.goal(k, "Sync.ALWAYS, 1 thread").measured)
        val group = r.goal(k, "Sync.ALWAYS, 8 threads")
        assertEquals(4.0, group.measured)
        assertEquals(true, group.met, "exactly 4x counts")
        assertEquals(true, r.goal(k, "Sync.BATCH / memory-only, 1 thread").met, "exactly 0.5x counts")
        val batch8 = r.goal(k, "Sync.BATCH / memory-only, 8 threads")
        assertEquals(false, batch8.met, "749,999 / 1,500,000 is below 0.5")
        assertEquals("not met", batch8.outcome)
        assertEquals(0.5, r.overMemory(k, DurabilityMode.BATCH, 1))
        assertEquals(0.005, r.overMemory(k, DurabilityMode.ALWAYS, 1))
    }

    @Test
    fun `a slow sync misses both ALWAYS goals`() {
        val k = StoreKind.KOTLIN
        val r = run(at(k, DurabilityMode.ALWAYS, 1) to 4_999.0, at(k, DurabilityMode.ALWAYS, 8) to 19_000.0)
        assertEquals(false, r.goal(k, "Sync.ALWAYS, 1 thread").met)
        assertEquals(false, r.goal(k, "Sync.ALWAYS, 8 threads").met)
        // No memory-only figures: the BATCH goals were not measured, and say so.
        val batch = r.goal(k, "Sync.BATCH / memory-only, 1 thread")
        assertNull(batch.met)
        assertEquals("not measured", batch.outcome)
    }

    @Test
    fun `the console section shows every figure, its ratio and each goal's outcome`() {
        val n = StoreKind.NATIVE
        val r =
            run(
                at(n, DurabilityMode.MEMORY, 1) to 1_000_000.0,
                at(n, DurabilityMode.MEMORY, 8) to 2_000_000.0,
                at(n, DurabilityMode.ALWAYS, 1) to 6_000.0,
                at(n, DurabilityMode.ALWAYS, 8) to 30_000.0,
                at(n, DurabilityMode.BATCH, 1) to 800_000.0,
                at(n, DurabilityMode.BATCH, 8) to 900_000.0,
            )
        val rows = durabilityRows(r)
        assertEquals(
            listOf("store", "mode", "puts/s, 1 thread", "/ memory-only", "puts/s, 8 threads", "/ memory-only", "8 / 1 threads"),
            rows.first(),
        )
        assertEquals(listOf("native", "Sync.ALWAYS", "6,000", "0.006x", "30,000", "0.015x", "5.00x"), rows[2])
        assertEquals(listOf("native", "memory-only", "1,000,000", "-", "2,000,000", "-", "2.00x"), rows[1])
        val text = durabilityText(r).joinToString("\n")
        assertTrue("- native: Sync.ALWAYS, 1 thread: acknowledged puts/s: 6,000 puts/s (at least 5,000 puts/s): MET" in text, text)
        assertTrue("- native: Sync.BATCH / memory-only, 8 threads: 0.45x (at least 0.50x): NOT MET" in text, text)
        assertTrue("/tmp (ext4" in text, text)
    }

    @Test
    fun `the sync floor sentence compares one ALWAYS writer with the disk's own fdatasync rate`() {
        val m = DurabilityMeasurement(StoreKind.NATIVE, DurabilityMode.ALWAYS, 1, 6_000, NANOS_PER_SECOND)
        val floor = SyncFloor(syncs = 10_000, nanos = NANOS_PER_SECOND, p50Nanos = 90_000, p99Nanos = 4_000_000)
        val text = floorText(DurabilityRun(DurabilityOptions(1.0, Path.of("/tmp")), "ext4", listOf(m), floor))
        assertEquals(10_000.0, floor.syncsPerSecond)
        assertTrue(text != null && "10,000 syncs/s, p50 0.090 ms, p99 4.000 ms" in text && "over the floor: native 0.60x" in text, text)
        assertNull(floorText(DurabilityRun(DurabilityOptions(1.0, Path.of("/tmp")), "ext4", listOf(m))))
    }
}
