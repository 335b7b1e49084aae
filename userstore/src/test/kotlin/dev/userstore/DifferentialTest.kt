package dev.userstore

import dev.userstore.testing.RandomJson
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import kotlin.random.Random
import kotlin.test.assertEquals
import kotlin.test.fail

/**
 * Seeded random sequences of calls applied to both stores; after every step the results (or the exception
 * classes) must be equal, and at the end so must exportJson. On failure the message gives the seed; rerun
 * one sequence with `-Duserstore.diff.seed=<seed>`.
 */
class DifferentialTest {
    @Test
    @Timeout(120)
    fun `random call sequences give identical results on both stores`() {
        val fixed = System.getProperty("userstore.diff.seed")?.toLong()
        val seeds = if (fixed != null) listOf(fixed) else listOf(1L, 2L, 3L, 4L, System.nanoTime())
        for (seed in seeds) {
            try {
                Sequence(seed).run(STEPS)
            } catch (e: Throwable) {
                throw AssertionError("differential test failed with seed $seed (rerun with -Duserstore.diff.seed=$seed): ${e.message}", e)
            }
        }
    }

    /** One random sequence; [log] keeps the recent calls for the failure message. */
    private class Sequence(
        seed: Long,
    ) {
        private val random = Random(seed)
        private val names = ArrayList<String>()
        private val log = ArrayDeque<String>()

        fun run(steps: Int) {
            KotlinUserStore().use { kotlin ->
                NativeUserStore().use { native ->
                    for (step in 0 until steps) {
                        try {
                            step(kotlin, native)
                            if (step % 50 == 49) compare("exportJson", kotlin, native) { it.exportJson() }
                        } catch (e: Throwable) {
                            throw AssertionError("step $step: ${e.message}\nlast calls:\n${log.joinToString("\n")}", e)
                        }
                    }
                    compare("exportJson", kotlin, native) { it.exportJson() }
                    compare("size", kotlin, native) { it.size }
                }
            }
        }

        private fun step(
            kotlin: UserStore,
            native: UserStore,
        ) {
            when (random.nextInt(100)) {
                in 0 until 30 -> {
                    val user = User(randomId(), randomName())
                    compare("put(${show(user)})", kotlin, native) { it.put(user) }
                }

                in 30 until 42 -> {
                    val id = randomId()
                    compare("get($id)", kotlin, native) { it.get(id) }
                }

                in 42 until 48 -> {
                    val ids = LongArray(random.nextInt(6)) { randomId() }
                    compare("getMany(${ids.toList()})", kotlin, native) { it.getMany(ids) }
                }

                in 48 until 56 -> {
                    val id = randomId()
                    compare("remove($id)", kotlin, native) { it.remove(id) }
                }

                in 56 until 68 -> {
                    val name = if (names.isNotEmpty() && random.nextInt(4) != 0) names.random(random) else randomName()
                    compare("findByName(${show(name)})", kotlin, native) { it.findByName(name) }
                }

                in 68 until 76 -> {
                    val id = randomId()
                    compare("getJson($id)", kotlin, native) { it.getJson(id) }
                }

                in 76 until 78 -> {
                    val id = randomId()
                    compare("getUser($id)", kotlin, native) { runBlocking { it.getUser(id) } }
                }

                in 78 until 80 -> {
                    compare("size", kotlin, native) { it.size }
                }

                else -> {
                    val json = RandomJson(random, names).document()
                    compare("importJson(${show(json)})", kotlin, native) { it.importJson(json) }
                }
            }
        }

        /** Runs [call] on both stores and requires the same result, or exceptions of the same class. */
        private fun compare(
            what: String,
            kotlin: UserStore,
            native: UserStore,
            call: (UserStore) -> Any?,
        ) {
            log.addLast(what.take(300))
            if (log.size > 12) log.removeFirst()
            val expected = runCatching { call(kotlin) }
            val actual = runCatching { call(native) }
            val e1 = expected.exceptionOrNull()
            val e2 = actual.exceptionOrNull()
            when {
                e1 == null && e2 == null -> {
                    assertEquals(normalize(expected.getOrNull()), normalize(actual.getOrNull()), what)
                }

                e1 != null && e2 != null -> {
                    if (e1 !is IllegalArgumentException) throw AssertionError("$what: unexpected exception from the Kotlin store", e1)
                    if (e2 !is IllegalArgumentException) throw AssertionError("$what: unexpected exception from the native store", e2)
                    assertEquals(e1::class, e2::class, "$what: exception classes (${e1.message} / ${e2.message})")
                }

                e1 != null -> {
                    fail("$what: Kotlin threw ${e1::class.simpleName} (${e1.message}), native returned ${show(actual.getOrNull())}")
                }

                else -> {
                    fail(
                        "$what: native threw ${e2?.let { it::class.simpleName }} (${e2?.message}), Kotlin returned ${show(
                            expected.getOrNull(),
                        )}",
                    )
                }
            }
        }

        private fun randomId(): Long =
            when (random.nextInt(40)) {
                0 -> -1
                1 -> Long.MIN_VALUE
                2 -> Long.MAX_VALUE
                3 -> 0
                else -> random.nextLong(24)
            }

        private fun randomName(): String {
            val name = RandomJson.randomString(random)
            if (names.size < 40 && name.isNotEmpty()) names.add(name)
            return name
        }
    }

    private companion object {
        const val STEPS = 3000

        /** Byte arrays compared by content (as Latin-1, which maps each byte to one char). */
        fun normalize(value: Any?): Any? = if (value is ByteArray) String(value, Charsets.ISO_8859_1) else value

        fun show(value: Any?): String =
            when (value) {
                is ByteArray -> printable(String(value, Charsets.ISO_8859_1)).take(300)
                is String -> "\"" + printable(value) + "\""
                is User -> "User(${value.id}, \"${printable(value.name)}\")"
                else -> value.toString()
            }
    }
}
