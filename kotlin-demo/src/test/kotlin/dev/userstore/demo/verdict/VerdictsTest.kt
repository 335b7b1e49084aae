package dev.userstore.demo.verdict

import dev.userstore.demo.measure.HOSTILE_CALLS
import dev.userstore.demo.measure.HostileOutcome
import dev.userstore.demo.measure.SafetyResult
import dev.userstore.demo.measure.StoreKind
import dev.userstore.demo.measure.checkSafety
import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/** The verdict rules, given numbers: each outcome is reachable, and the thresholds sit where the README says. */
class VerdictsTest {
    private fun tail(
        baseline: Double,
        pressure: Double,
    ) = Verdicts.Tail(baselineP999 = baseline, pressureP999 = pressure, pressureMax = pressure * 10, gcCount = 3, gcMaxPauseMillis = 2)

    @Test
    fun `GC spikes hold only when Kotlin's p99_9 jumps under garbage and stands above native's`() {
        val spike = Verdicts.GcCase("g1", native = tail(1_000.0, 1_200.0), kotlin = tail(1_000.0, 5_000.0))
        val noJump = Verdicts.GcCase("zgc", native = tail(1_000.0, 1_200.0), kotlin = tail(1_000.0, 1_900.0))
        val nativeToo = Verdicts.GcCase("zgc", native = tail(1_000.0, 3_000.0), kotlin = tail(1_000.0, 5_000.0))
        assertEquals(Outcome.HOLDS, Verdicts.gcSpikes(listOf(spike)).outcome)
        assertEquals(Outcome.HOLDS, Verdicts.gcSpikes(listOf(spike, spike.copy(gc = "zgc"))).outcome)
        assertEquals(Outcome.DOES_NOT_HOLD, Verdicts.gcSpikes(listOf(noJump)).outcome)
        assertEquals(Outcome.DOES_NOT_HOLD, Verdicts.gcSpikes(listOf(nativeToo)).outcome, "kotlin only 1.67x native's p99.9")
        val mixed = Verdicts.gcSpikes(listOf(spike, noJump))
        assertEquals(Outcome.DEPENDS, mixed.outcome)
        assertTrue("g1" in mixed.why && "zgc" in mixed.why && "5.0 µs" in mixed.why, mixed.why)
        assertEquals(Outcome.NOT_MEASURED, Verdicts.gcSpikes(emptyList()).outcome)
        // Exactly at the thresholds counts as a spike.
        val edge = Verdicts.GcCase("g1", native = tail(500.0, 1_000.0), kotlin = tail(1_000.0, 2_000.0))
        assertEquals(Outcome.HOLDS, Verdicts.gcSpikes(listOf(edge)).outcome)
    }

    @Test
    fun `a long GC stop of Kotlin's lookup thread alone is a spike too`() {
        val quiet = tail(1_000.0, 1_100.0)
        val stalled = quiet.copy(stalls = 2, stallMaxMillis = 5_728.0)
        assertEquals(5_728.0, stalled.gcStopMillis)
        assertEquals(2.0, quiet.gcStopMillis, "without stalls the longest pause counts")
        assertEquals(Outcome.HOLDS, Verdicts.gcSpikes(listOf(Verdicts.GcCase("zgc", native = quiet, kotlin = stalled))).outcome)
        // Native stopped as long: no spike of Kotlin's own.
        assertEquals(Outcome.DOES_NOT_HOLD, Verdicts.gcSpikes(listOf(Verdicts.GcCase("zgc", native = stalled, kotlin = stalled))).outcome)
        // Under 50 ms: not a spike, however it compares.
        val short = quiet.copy(gcMaxPauseMillis = 49)
        assertEquals(Outcome.DOES_NOT_HOLD, Verdicts.gcSpikes(listOf(Verdicts.GcCase("g1", native = quiet, kotlin = short))).outcome)
        val why = Verdicts.gcSpikes(listOf(Verdicts.GcCase("zgc", native = quiet, kotlin = stalled))).why
        assertTrue("longest GC stop of the lookup thread kotlin 5,728 / native 2 ms" in why && "allocation stalls kotlin 2" in why, why)
    }

    @Test
    fun `memory holds at half of Kotlin's bytes per user or less`() {
        assertEquals(Outcome.HOLDS, Verdicts.memory(50.0, 100.0).outcome)
        assertEquals(Outcome.HOLDS, Verdicts.memory(20.0, 400.0).outcome)
        assertEquals(Outcome.DEPENDS, Verdicts.memory(50.1, 100.0).outcome)
        assertEquals(Outcome.DEPENDS, Verdicts.memory(99.0, 100.0).outcome)
        assertEquals(Outcome.DOES_NOT_HOLD, Verdicts.memory(100.0, 100.0).outcome)
        assertEquals(Outcome.DOES_NOT_HOLD, Verdicts.memory(300.0, 100.0).outcome)
        assertEquals(Outcome.DEPENDS, Verdicts.memory(30.0, 0.0).outcome, "no Kotlin figure: nothing to compare")
        val why = Verdicts.memory(56.6, 411.8).why
        assertTrue("56.6 B/user" in why && "411.8 B/user" in why && "0.14x" in why, why)
    }

    private fun warm(
        startMillis: Double,
        first: Double,
        steady: Double,
    ) = Verdicts.Warmup(jvmToFirstGetMillis = startMillis, storeStartNanos = 1_000_000, firstChunkNanos = first, steadyNanos = steady)

    @Test
    fun `warm-up holds when only Kotlin speeds up and native answers first no later`() {
        assertEquals(Outcome.HOLDS, Verdicts.warmup(native = warm(300.0, 110.0, 100.0), kotlin = warm(320.0, 500.0, 50.0)).outcome)
        assertEquals(
            Outcome.DEPENDS,
            Verdicts.warmup(native = warm(700.0, 110.0, 100.0), kotlin = warm(320.0, 500.0, 50.0)).outcome,
            "the JIT claim stands but native starts slower",
        )
        assertEquals(
            Outcome.DOES_NOT_HOLD,
            Verdicts.warmup(native = warm(300.0, 150.0, 100.0), kotlin = warm(320.0, 190.0, 100.0)).outcome,
            "kotlin speeds up less than 2x",
        )
        assertEquals(
            Outcome.DOES_NOT_HOLD,
            Verdicts.warmup(native = warm(300.0, 2_000.0, 100.0), kotlin = warm(320.0, 600.0, 30.0)).outcome,
            "native warms up as much (its JNI wrapper is JVM code too)",
        )
    }

    @Test
    fun `throughput holds when native is at least 10 percent faster everywhere`() {
        assertEquals(Outcome.HOLDS, Verdicts.throughput(mapOf("get" to 1.1, "getMany" to 3.0)).outcome)
        assertEquals(Outcome.DEPENDS, Verdicts.throughput(mapOf("get" to 0.5, "getMany" to 1.2)).outcome)
        assertEquals(Outcome.DOES_NOT_HOLD, Verdicts.throughput(mapOf("get" to 1.09, "getMany" to 0.2)).outcome)
        val why = Verdicts.throughput(mapOf("get" to 0.25, "getMany per id" to 0.17)).why
        assertTrue("get 0.25x" in why && "getMany per id 0.17x" in why, why)
    }

    @Test
    fun `safety holds only when every hostile call was clean and both stores are unchanged`() {
        val clean = listOf(HostileOutcome("put negative id", true, "clean"))
        val dirty = listOf(HostileOutcome("put negative id", false, "returned kotlin.Unit"))
        val ok = { kind: StoreKind -> SafetyResult(kind, clean, unchanged = true) }
        assertEquals(Outcome.HOLDS, Verdicts.safety(ok(StoreKind.NATIVE), ok(StoreKind.KOTLIN)).outcome)
        val nativeBad = Verdicts.safety(SafetyResult(StoreKind.NATIVE, dirty, true), ok(StoreKind.KOTLIN))
        assertEquals(Outcome.DOES_NOT_HOLD, nativeBad.outcome)
        assertTrue("returned kotlin.Unit" in nativeBad.why, nativeBad.why)
        assertEquals(Outcome.DOES_NOT_HOLD, Verdicts.safety(SafetyResult(StoreKind.NATIVE, clean, false), ok(StoreKind.KOTLIN)).outcome)
        assertEquals(Outcome.DEPENDS, Verdicts.safety(ok(StoreKind.NATIVE), SafetyResult(StoreKind.KOTLIN, dirty, true)).outcome)
    }

    @Test
    fun `both real stores take every hostile call cleanly`() {
        for (kind in StoreKind.entries) {
            val result = checkSafety(kind)
            assertEquals(HOSTILE_CALLS, result.calls)
            assertTrue(
                result.allClean,
                "${kind.label}: " + result.outcomes.filterNot { it.clean }.joinToString { "${it.name}: ${it.outcome}" },
            )
        }
    }
}
