package dev.userstore.reliability

import dev.userstore.InvalidJsonException
import dev.userstore.User
import dev.userstore.UserStore
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlin.test.fail

/**
 * Hostile importJson inputs through the boundary (and, for the same verdict, through the Kotlin store):
 * each is rejected with an [InvalidJsonException] naming the problem, or accepted, never a crash, a
 * StackOverflowError or an OutOfMemoryError; the store is unchanged after a rejection and usable after.
 * The 100 MB imports run in a child JVM whose peak RSS is measured.
 */
class MaliciousJsonTest {
    private fun eachStore(block: (String, UserStore) -> Unit) {
        for ((name, create) in Reliability.stores) create().use { store -> block(name, store) }
    }

    /** Rejected with InvalidJsonException whose message contains [expected]; the store is unchanged and usable. */
    private fun assertRejected(
        store: UserStore,
        input: ByteArray,
        expected: String,
        what: String,
    ) {
        store.put(User(1, "kept"))
        val before = store.exportJson()
        val e =
            try {
                store.importJson(input)
                fail("$what: accepted")
            } catch (e: InvalidJsonException) {
                e
            } catch (e: Throwable) {
                throw AssertionError("$what: expected InvalidJsonException, got ${e::class.qualifiedName}", e)
            }
        assertTrue(e.message.orEmpty().contains(expected, ignoreCase = true), "$what: message ${e.message?.take(300)}")
        assertEquals(String(before, Charsets.ISO_8859_1), String(store.exportJson(), Charsets.ISO_8859_1), "$what: store changed")
        store.put(User(2, "usable"))
        assertEquals(User(2, "usable"), store.get(2))
        store.remove(2)
    }

    @Test
    @Timeout(120)
    fun `nesting 100k levels deep is rejected without a stack overflow`() =
        eachStore { name, s ->
            val n = 100_000
            val cases =
                listOf(
                    "open arrays" to "[".repeat(n),
                    "balanced arrays" to "[".repeat(n) + "]".repeat(n),
                    "balanced objects in an ignored value" to
                        """[{"id":1,"name":"a","x":""" + "{\"k\":".repeat(n) + "1" + "}".repeat(n) + "}]",
                    "arrays as the name" to """[{"id":1,"name":""" + "[".repeat(n) + "]".repeat(n) + "}]",
                    "arrays as the id" to """[{"name":"a","id":""" + "[".repeat(n) + "]".repeat(n) + "}]",
                    "records nested in records" to "[{\"id\":1,\"name\":\"a\",\"x\":[".repeat(n / 20),
                )
            for ((what, input) in cases) assertRejected(s, input.encodeToByteArray(), "", "$name: $what")
            // The message says what is wrong when the input is otherwise valid.
            assertRejected(s, cases[2].second.encodeToByteArray(), "nest", "$name: nesting message")
        }

    @Test
    fun `10k-digit numbers are rejected as ids and skipped as ignored values`() =
        eachStore { name, s ->
            val digits = "9".repeat(10_000)
            assertRejected(s, """[{"id":$digits,"name":"a"}]""".encodeToByteArray(), "record 0", "$name: 10k-digit id")
            assertRejected(s, """[{"id":1$digits,"name":"a"}]""".encodeToByteArray(), "record 0", "$name: 10k-digit id")
            assertRejected(s, """[{"id":0.$digits,"name":"a"}]""".encodeToByteArray(), "record 0", "$name: 10k-digit fraction")
            assertRejected(s, """[{"id":1e$digits,"name":"a"}]""".encodeToByteArray(), "record 0", "$name: 10k-digit exponent")
            for (ignored in listOf(digits, "-$digits", "0.$digits", "1e$digits", "1e-$digits")) {
                val input = """[{"id":5,"name":"a","x":$ignored}]""".encodeToByteArray()
                assertEquals(1, s.importJson(input), "$name: ignored ${ignored.take(3)}…")
                assertEquals(User(5, "a"), s.get(5))
            }
        }

    @Test
    @Timeout(120)
    fun `a 10 MB name is rejected as too long, a 10 MB ignored string is skipped`() =
        eachStore { name, s ->
            val huge = "é".repeat(5 shl 20) // 10 MiB of UTF-8
            assertRejected(s, """[{"id":1,"name":"$huge"}]""".encodeToByteArray(), "long", "$name: 10 MB name")
            val escaped = "\\u00e9".repeat(1 shl 20)
            assertRejected(s, """[{"id":1,"name":"$escaped"}]""".encodeToByteArray(), "long", "$name: escaped 6 MB name")
            assertEquals(1, s.importJson("""[{"id":3,"name":"c","x":"$huge"}]""".encodeToByteArray()), "$name: ignored")
            assertEquals(User(3, "c"), s.get(3))
            assertRejected(s, """[{"id":1,"name":"a","$huge":1,"$huge":2}]""".encodeToByteArray(), "duplicate", "$name: huge keys")
        }

    /**
     * 100 MB imports through the boundary, each in a fresh JVM (-Xmx1g, -Xcheck:jni) whose peak RSS during the
     * import is read from /proc (VmHWM, reset just before the call). The bound: the import may use at most 8 times
     * the input's size on top of what the process held before (the input itself is already in the JVM heap).
     */
    @Test
    @Timeout(900)
    fun `100 MB imports, valid and invalid, are handled with bounded memory`() {
        val megabytes = 100
        val limit = 8L * (megabytes.toLong() shl 20)
        val expected =
            mapOf(
                "valid" to "accepted",
                "invalid-end" to "rejected exception=InvalidJsonException",
                "huge-name" to "rejected exception=InvalidJsonException",
            )
        for ((kind, outcome) in expected) {
            val (code, output) = Reliability.runChild(listOf("-Xmx1g"), listOf("import", kind, megabytes.toString()))
            assertEquals(0, code, "child JVM for $kind failed:\n$output")
            assertEquals(emptyList(), Reliability.jniWarnings(output), "JNI warnings for $kind:\n$output")
            val line = output.lines().single { it.startsWith("RESULT ") }
            assertTrue(line.contains("outcome=$outcome"), "$kind: $line")
            val r = Reliability.results(output)
            val growth = r.getValue("peak_growth").toLong()
            assertTrue(growth <= limit, "$kind: peak RSS grew by $growth bytes, more than the bound $limit")
            if (kind == "valid") assertEquals(r.getValue("count"), r.getValue("size"), line)
            if (kind != "valid") assertEquals("0", r.getValue("size"), "$kind: a rejected import changed the store")
            Reliability.report(
                "malicious-import kind=$kind input_mb=$megabytes ${outcome.substringBefore(' ')} " +
                    "peak_rss_growth_mb=${growth shr 20} bound_mb=${limit shr 20} millis=${r["millis"]}",
            )
        }
    }
}
