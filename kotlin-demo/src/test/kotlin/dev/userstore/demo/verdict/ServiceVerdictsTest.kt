package dev.userstore.demo.verdict

import org.junit.jupiter.api.Test
import kotlin.test.assertEquals
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** The service-level verdict rules, given numbers: each outcome reachable, thresholds where the constants say. */
class ServiceVerdictsTest {
    private fun service(
        name: String,
        rust: Boolean,
        store: String = "native",
        startup: Double? = 1_000.0,
        idle: Double? = 120.0,
        loaded: Double? = 2_000.0,
        capacity: Double? = 40_000.0,
        p50: Double? = 0.4,
        p999: Double? = 5.0,
        warmup: Double? = 3.0,
        perGiB: Double? = 8.0,
    ) = ServiceFigures(
        name,
        rust,
        store,
        startup,
        startup?.times(2),
        idle,
        loaded,
        capacity,
        p50,
        p999,
        if (rust) null else 12.0,
        warmup,
        perGiB,
    )

    private fun services(
        rust: ServiceFigures,
        vararg jvms: ServiceFigures,
    ) = Services(5_000_000, 1_000_000, 0.8, 0.5, 24.0, rust, jvms.toList())

    private val kotlinKotlin = service("kotlin-kotlin@17-G1", rust = false, store = "kotlin")
    private val kotlinNative = service("kotlin-native@17-G1", rust = false, startup = 900.0, idle = 110.0, loaded = 600.0)

    @Test
    fun `start-up holds at half the fastest JVM service's time or less, fails at as long or longer`() {
        val fast = services(service("rust", rust = true, startup = 450.0), kotlinKotlin, kotlinNative)
        assertEquals(Outcome.HOLDS, ServiceVerdicts.startup(fast)!!.outcome)
        assertTrue("kotlin-native@17-G1" in ServiceVerdicts.startup(fast)!!.why, "compared with the fastest JVM service")
        assertEquals(Outcome.DEPENDS, ServiceVerdicts.startup(services(service("rust", true, startup = 600.0), kotlinNative))!!.outcome)
        assertEquals(
            Outcome.DOES_NOT_HOLD,
            ServiceVerdicts.startup(services(service("rust", true, startup = 900.0), kotlinNative))!!.outcome,
        )
        assertNull(ServiceVerdicts.startup(services(service("rust", true, startup = null), kotlinNative)))
    }

    @Test
    fun `start-up is judged against the JVM started from its ahead-of-time cache when the run has one`() {
        val jvm = service("kotlin-kotlin@25-G1", rust = false, store = "kotlin", startup = 1_000.0).copy(startupAotMillis = 500.0)
        val rust = service("rust", rust = true, startup = 400.0)
        val verdict = ServiceVerdicts.startup(services(rust, jvm))!!
        // 0.4x the plain JVM would hold; 0.8x the AOT-started one does not.
        assertEquals(Outcome.DEPENDS, verdict.outcome)
        assertTrue("kotlin-kotlin@25-G1+aot" in verdict.why, verdict.why)
        assertTrue("0.4" in verdict.why && "0.8" in verdict.why, verdict.why)
        val plainOnly = ServiceVerdicts.startup(services(rust, jvm.copy(startupAotMillis = null)))!!
        assertEquals(Outcome.HOLDS, plainOnly.outcome)
        assertTrue("+aot" !in plainOnly.why, plainOnly.why)
    }

    @Test
    fun `memory holds only when idle and loaded both hold`() {
        val small = service("rust", true, idle = 10.0, loaded = 300.0)
        assertEquals(Outcome.HOLDS, ServiceVerdicts.memory(services(small, kotlinKotlin, kotlinNative))!!.outcome)
        val bigLoaded = service("rust", true, idle = 10.0, loaded = 2_500.0)
        assertEquals(Outcome.DEPENDS, ServiceVerdicts.memory(services(bigLoaded, kotlinKotlin))!!.outcome)
        val big = service("rust", true, idle = 200.0, loaded = 2_500.0)
        assertEquals(Outcome.DOES_NOT_HOLD, ServiceVerdicts.memory(services(big, kotlinKotlin))!!.outcome)
    }

    @Test
    fun `density needs hundreds on this machine and ten times the JVM's`() {
        assertEquals(Outcome.HOLDS, ServiceVerdicts.density(services(service("rust", true, perGiB = 200.0), kotlinKotlin))!!.outcome)
        // 24 GiB x 5 = 120 instances: not hundreds, but not under 100 either.
        assertEquals(Outcome.DEPENDS, ServiceVerdicts.density(services(service("rust", true, perGiB = 5.0), kotlinKotlin))!!.outcome)
        assertEquals(Outcome.DOES_NOT_HOLD, ServiceVerdicts.density(services(service("rust", true, perGiB = 2.0), kotlinKotlin))!!.outcome)
        // Hundreds fit, but the JVM service is nearly as dense.
        val denseJvm = service("kotlin-kotlin@25-G1", rust = false, store = "kotlin", perGiB = 100.0)
        assertEquals(Outcome.DEPENDS, ServiceVerdicts.density(services(service("rust", true, perGiB = 200.0), denseJvm))!!.outcome)
    }

    @Test
    fun `GC tails are judged against every Kotlin-store service, at the factor`() {
        val rust = service("rust", true, p999 = 2.0)
        val zgc = service("kotlin-kotlin@25-ZGC", rust = false, store = "kotlin", p999 = 3.0)
        assertEquals(Outcome.HOLDS, ServiceVerdicts.gcTails(services(rust, kotlinKotlin, kotlinNative))!!.outcome)
        assertEquals(Outcome.DEPENDS, ServiceVerdicts.gcTails(services(rust, kotlinKotlin, zgc))!!.outcome)
        assertEquals(Outcome.DOES_NOT_HOLD, ServiceVerdicts.gcTails(services(rust, zgc))!!.outcome)
        // Exactly at the factor counts.
        assertEquals(Outcome.HOLDS, ServiceVerdicts.gcTails(services(service("rust", true, p999 = 2.5), kotlinKotlin))!!.outcome)
        assertNull(ServiceVerdicts.gcTails(services(rust, kotlinNative)), "no Kotlin-store service measured")
    }

    @Test
    fun `throughput, latency and warm-up compare with the best JVM service`() {
        val rust = service("rust", true, capacity = 60_000.0, p50 = 0.2, warmup = 1.1)
        val s = services(rust, kotlinKotlin, kotlinNative)
        assertEquals(Outcome.HOLDS, ServiceVerdicts.throughput(s)!!.outcome)
        assertEquals(Outcome.HOLDS, ServiceVerdicts.latency(s)!!.outcome)
        assertEquals(Outcome.HOLDS, ServiceVerdicts.warmup(s)!!.outcome)
        val slow = service("rust", true, capacity = 30_000.0, p50 = 0.5, warmup = 2.5)
        val t = services(slow, kotlinKotlin, kotlinNative)
        assertEquals(Outcome.DOES_NOT_HOLD, ServiceVerdicts.throughput(t)!!.outcome)
        assertEquals(Outcome.DOES_NOT_HOLD, ServiceVerdicts.latency(t)!!.outcome)
        assertEquals(Outcome.DOES_NOT_HOLD, ServiceVerdicts.warmup(t)!!.outcome, "rust warms up too")
        assertEquals(7, ServiceVerdicts.all(s).size)
    }
}
