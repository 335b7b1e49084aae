package dev.userstore.demo.verdict

import org.junit.jupiter.api.Test
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** The rule of "the article's handler on a database", given numbers: each outcome reachable, the edges where the constants say. */
class DbVerdictsTest {
    private fun direct(
        service: String,
        capacity: Double?,
        p999: Double?,
        non2xx: Double = 0.0,
    ) = DbRun(
        service = service,
        mode = DbVerdicts.DIRECT,
        readyMs = 50.0,
        rssReadyMiB = 10.0,
        rssAfterMiB = 12.0,
        capacityRps = capacity,
        rates =
            listOf(
                DbRate(0.5, 500.0, 500.0, 1.0, 2.0, 3.0, 4.0, 0.0),
                DbRate(DbVerdicts.AT_FRACTION, 800.0, 800.0, 1.0, 2.0, p999, 40.0, non2xx),
            ),
    )

    private fun summary(vararg runs: DbRun) =
        DbLoadTestSummary(Path.of("summary.json"), recorded = true, date = "2026-12-07", runs = runs.toList(), lag = emptyList())

    private fun outcome(
        rustCapacity: Double,
        rustP999: Double?,
        kotlinCapacity: Double = 1_000.0,
        kotlinP999: Double = 10.0,
    ): Outcome =
        DbVerdicts
            .handler(summary(direct("rust", rustCapacity, rustP999), direct("kotlin", kotlinCapacity, kotlinP999)))
            .outcome

    @Test
    fun `holds at the goals exactly, depends just short of either`() {
        // 1500 / 1000 = 1.5 and 5 / 10 = 0.5 exactly in binary floating point.
        assertEquals(Outcome.HOLDS, outcome(1_500.0, 5.0))
        assertEquals(Outcome.HOLDS, outcome(4_000.0, 1.0))
        assertEquals(Outcome.DEPENDS, outcome(1_490.0, 5.0), "capacity 1.49x")
        assertEquals(Outcome.DEPENDS, outcome(1_500.0, 5.1), "p99.9 0.51x")
        assertEquals(Outcome.DEPENDS, outcome(1_010.0, 20.0), "faster, but the tail is worse")
        assertEquals(Outcome.DEPENDS, outcome(4_000.0, null), "faster, p99.9 at 0.8 not measured")
    }

    @Test
    fun `does not hold when the Rust service is not faster`() {
        assertEquals(Outcome.DOES_NOT_HOLD, outcome(1_000.0, 1.0), "equal capacity, even with a far better tail")
        assertEquals(Outcome.DOES_NOT_HOLD, outcome(800.0, 1.0))
    }

    @Test
    fun `not measured without both direct capacities`() {
        val noKotlin = DbVerdicts.handler(summary(direct("rust", 1_500.0, 5.0)))
        assertEquals(Outcome.NOT_MEASURED, noKotlin.outcome)
        assertTrue("kotlin" in noKotlin.why, noKotlin.why)
        assertEquals(Outcome.NOT_MEASURED, DbVerdicts.handler(summary(direct("rust", null, 5.0), direct("kotlin", 1_000.0, 10.0))).outcome)
    }

    @Test
    fun `the why gives the figures, the run and the non-2xx answers`() {
        val v = DbVerdicts.handler(summary(direct("rust", 1_750.0, 4.0, non2xx = 3.0), direct("kotlin", 1_000.0, 10.0)))
        assertEquals(DbVerdicts.CLAIM, v.claim)
        for (part in listOf("rust 1,750 req/s", "kotlin 1,000 req/s", "1.75x", "rust 4.00 ms", "kotlin 10.00 ms", "0.40x", "(800 req/s)")) {
            assertTrue(part in v.why, "'$part' missing from: ${v.why}")
        }
        assertTrue("non-2xx answers: rust 3" in v.why, v.why)
        assertTrue("2026-12-07" in v.why && "summary.json" in v.why, v.why)
        assertTrue("Replica mode was not measured." in v.why, v.why)
        assertFalse("non-2xx" in DbVerdicts.handler(summary(direct("rust", 1_750.0, 4.0), direct("kotlin", 1_000.0, 10.0))).why)
    }

    @Test
    fun `the row is one more service verdict, only when a summary exists`() {
        assertEquals(emptyList(), ServiceVerdicts.all(null, null))
        val db = summary(direct("rust", 1_500.0, 5.0), direct("kotlin", 1_000.0, 10.0))
        assertEquals(listOf(DbVerdicts.CLAIM), ServiceVerdicts.all(null, db).map { it.claim })
    }
}
