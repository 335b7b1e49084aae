package dev.userstore.reliability

import dev.userstore.InvalidJsonException
import dev.userstore.InvalidUserException
import dev.userstore.KotlinUserStore
import dev.userstore.NativeUserStore
import dev.userstore.User
import dev.userstore.UserStore
import dev.userstore.testing.ByteMutator
import dev.userstore.testing.RandomJson
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import kotlin.random.Random
import kotlin.test.assertEquals
import kotlin.test.fail

/**
 * Differential fuzzing across the boundary: the same random and mutated inputs go to [NativeUserStore] and
 * [KotlinUserStore], which must give the same verdict (same result, or the same exception class, always an
 * [IllegalArgumentException]: [InvalidJsonException] for importJson, [InvalidUserException] for put and
 * findByName) and keep the same content.
 *
 * - importJson: documents from [RandomJson] (the generator DifferentialTest uses), exports of the stores
 *   mutated at the byte level (flips, inserts of JSON-significant and invalid UTF-8 bytes, truncation,
 *   duplicated slices; the byte lists are RandomJson's), and splices of two inputs.
 * - put / findByName / getMany / getJson: random UTF-16 strings with unpaired surrogates, U+0000, other
 *   control characters, non-BMP characters, and lengths around the 256-code-point limit (0, 1, 255, 256,
 *   257 code points, counted in BMP and non-BMP characters).
 *
 * `-Duserstore.fuzz.iterations=N` sets the inputs of each kind (default 2000: a few seconds);
 * `-Duserstore.fuzz.seed=S` replays one run. The content of both stores is compared every 100 inputs and at
 * the end.
 */
class BoundaryFuzzTest {
    @Test
    @Timeout(3600)
    fun `random and mutated inputs give the same verdict and content on both stores`() {
        val iterations = Reliability.setting("userstore.fuzz.iterations", 2000)
        val seed = Reliability.setting("userstore.fuzz.seed", System.nanoTime())
        val run = Run(Random(seed))
        try {
            KotlinUserStore().use { kotlin -> NativeUserStore().use { native -> run.go(iterations, kotlin, native) } }
        } catch (e: Throwable) {
            throw AssertionError("boundary fuzz failed with seed $seed (rerun with -Duserstore.fuzz.seed=$seed): ${e.message}", e)
        }
        Reliability.report(
            "boundary-fuzz seed=$seed imports=${run.imports} imports_accepted=${run.importsAccepted} puts=${run.puts} " +
                "puts_accepted=${run.putsAccepted} other_calls=${run.others} max_input_bytes=${run.maxInput} disagreements=0",
        )
    }

    private class Run(
        private val random: Random,
    ) {
        var imports = 0L
        var importsAccepted = 0L
        var puts = 0L
        var putsAccepted = 0L
        var others = 0L
        var maxInput = 0
        private val names = ArrayList<String>()
        private val inputs = ArrayList<ByteArray>()

        fun go(
            iterations: Long,
            kotlin: UserStore,
            native: UserStore,
        ) {
            for (i in 0 until iterations) {
                val json = importInput(kotlin)
                val accepted =
                    same("importJson(${show(json)})", kotlin, native, InvalidJsonException::class.java) { it.importJson(json) }
                imports++
                if (accepted) importsAccepted++
                maxInput = maxOf(maxInput, json.size)
                // Splices of splices could otherwise grow without bound and slow the run down.
                if (json.size <= MAX_POOLED) {
                    if (inputs.size < 64) inputs += json else inputs[random.nextInt(inputs.size)] = json
                }

                val name = randomName()
                val id = random.nextLong(64)
                val user = User(id, name)
                if (same("put(${show(name)})", kotlin, native, InvalidUserException::class.java) { it.put(user) }) {
                    putsAccepted++
                    if (names.size < 200) names += name
                }
                puts++
                val query = if (names.isNotEmpty() && random.nextBoolean()) names.random(random) else randomName()
                same("findByName(${show(query)})", kotlin, native, InvalidUserException::class.java) { it.findByName(query) }
                same("get($id)", kotlin, native, InvalidUserException::class.java) { it.get(id) }
                same("getJson($id)", kotlin, native, InvalidUserException::class.java) { it.getJson(id) }
                val ids = LongArray(random.nextInt(8)) { random.nextLong(70) }
                same("getMany", kotlin, native, InvalidUserException::class.java) { it.getMany(ids) }
                if (random.nextInt(8) == 0) same("remove($id)", kotlin, native, InvalidUserException::class.java) { it.remove(id) }
                others += 4
                if (i % 100 == 99L) compareContent(kotlin, native)
            }
            compareContent(kotlin, native)
        }

        private fun compareContent(
            kotlin: UserStore,
            native: UserStore,
        ) {
            assertEquals(kotlin.size, native.size, "size")
            assertEquals(kotlin.exportJson().decodeToString(), native.exportJson().decodeToString(), "exportJson")
        }

        /**
         * Runs [call] on both stores: both return equal results (true is returned) or both throw the same
         * exception class, an IllegalArgumentException of class [rejection] (false is returned).
         */
        private fun same(
            what: String,
            kotlin: UserStore,
            native: UserStore,
            rejection: Class<out IllegalArgumentException>,
            call: (UserStore) -> Any?,
        ): Boolean {
            val k = runCatching { call(kotlin) }
            val n = runCatching { call(native) }
            val ke = k.exceptionOrNull()
            val ne = n.exceptionOrNull()
            for ((store, e) in listOf("kotlin" to ke, "native" to ne)) {
                if (e != null && !rejection.isInstance(e)) {
                    throw AssertionError("$what: the $store store threw ${e::class.qualifiedName}, not ${rejection.simpleName}", e)
                }
                if (e != null && e.message.isNullOrBlank()) fail("$what: the $store store's exception has no message")
            }
            return when {
                ke == null && ne == null -> {
                    assertEquals(normalize(k.getOrNull()), normalize(n.getOrNull()), what)
                    true
                }

                ke != null && ne != null -> {
                    false
                }

                else -> {
                    fail("$what: verdicts differ: kotlin ${ke?.message ?: "accepted"} / native ${ne?.message ?: "accepted"}")
                }
            }
        }

        private fun importInput(store: UserStore): ByteArray =
            when (random.nextInt(10)) {
                in 0..4 -> RandomJson(random, names).document()
                in 5..7 -> ByteMutator.mutate(random, store.exportJson())
                8 -> if (inputs.size >= 2) splice(inputs.random(random), inputs.random(random)) else "[]".encodeToByteArray()
                else -> ByteMutator.mutate(random, RandomJson(random, names).document())
            }

        private fun splice(
            a: ByteArray,
            b: ByteArray,
        ): ByteArray = a.copyOfRange(0, random.nextInt(a.size + 1)) + b.copyOfRange(random.nextInt(b.size + 1), b.size)

        /** A UTF-16 string of awkward characters, with a code-point length around the limit now and then. */
        fun randomName(): String {
            val length =
                when (random.nextInt(12)) {
                    0 -> 0
                    1 -> 255
                    2 -> 256
                    3 -> 257
                    4 -> 250 + random.nextInt(10)
                    else -> 1 + random.nextInt(6)
                }
            val sb = StringBuilder()
            repeat(length) { sb.append(randomCodePointOrUnit()) }
            // Now and then, an unpaired surrogate at a random place (start, middle, end).
            if (random.nextInt(10) == 0) {
                val lone = if (random.nextBoolean()) '\uD800' + random.nextInt(0x400) else '\uDC00' + random.nextInt(0x400)
                sb.insert(random.nextInt(sb.length + 1), lone)
            }
            return sb.toString()
        }

        private fun randomCodePointOrUnit(): String =
            when (random.nextInt(20)) {
                0 -> "\u0000"
                1 -> random.nextInt(0x20).toChar().toString()
                2, 3 -> String(Character.toChars(0x10000 + random.nextInt(0x100000)))
                4 -> "\uD83D\uDE00"
                5 -> (0x80 + random.nextInt(0xD800 - 0x80)).toChar().toString()
                6 -> (0xE000 + random.nextInt(0x2000)).toChar().toString()
                7 -> listOf("\"", "\\", "/", "\u007F", "\uFFFF", "\uFEFF", "\u2028").random(random)
                8 -> if (random.nextInt(10) == 0) "\uDE00\uD83D" else "é"
                else -> ('a' + random.nextInt(3)).toString()
            }
    }

    private companion object {
        /** The largest input kept for later splices. */
        const val MAX_POOLED = 16 * 1024

        fun normalize(value: Any?): Any? = if (value is ByteArray) String(value, Charsets.ISO_8859_1) else value

        fun show(value: Any?): String =
            when (value) {
                is ByteArray -> String(value, Charsets.ISO_8859_1).take(200)
                is String -> dev.userstore.printable(value).take(200)
                else -> value.toString()
            }
    }
}
