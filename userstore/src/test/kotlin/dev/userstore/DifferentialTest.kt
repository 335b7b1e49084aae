package dev.userstore

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

/** Random importJson inputs: mostly well-formed, with invalid ids, names, keys, numbers and bytes mixed in. */
internal class RandomJson(
    private val random: Random,
    private val names: List<String>,
) {
    private val out = StringBuilder()

    /** A document, sometimes mutated at the byte level afterwards. */
    fun document(): ByteArray {
        ws()
        out.append('[')
        val records = random.nextInt(5)
        for (i in 0 until records) {
            if (i > 0) out.append(',')
            ws()
            if (random.nextInt(40) == 0) value(2) else record()
            ws()
        }
        out.append(']')
        ws()
        var bytes = out.toString().encodeToByteArray()
        if (random.nextInt(4) == 0) bytes = mutate(bytes)
        return bytes
    }

    private fun record() {
        val members = ArrayList<Pair<String, () -> Unit>>()
        if (random.nextInt(30) != 0) members += "id" to { idValue() }
        if (random.nextInt(30) != 0) members += "name" to { nameValue() }
        repeat(random.nextInt(3)) { members += listOf("x", "y", "Id", "ids", "").random(random) to { value(3) } }
        if (random.nextInt(25) == 0) members += listOf("id", "name").random(random) to { value(3) }
        members.shuffle(random)
        out.append('{')
        for ((i, member) in members.withIndex()) {
            if (i > 0) out.append(',')
            ws()
            key(member.first)
            ws()
            out.append(':')
            ws()
            member.second()
            ws()
        }
        out.append('}')
    }

    private fun key(key: String) {
        out.append('"')
        for (c in key) if (random.nextInt(8) == 0) out.append("\\u%04x".format(c.code)) else out.append(c)
        if (random.nextInt(60) == 0) out.append("\\ud800")
        out.append('"')
    }

    private fun idValue() {
        val odd = """-1 -0 1.0 1e3 0.5 "1" null 9223372036854775807 9223372036854775808 18446744073709551615 01 - [] true""".split(' ')
        when {
            random.nextInt(15) == 0 -> out.append(odd.random(random))
            random.nextInt(30) == 0 -> out.append(Long.MAX_VALUE)
            else -> out.append(random.nextLong(24))
        }
    }

    private fun nameValue() {
        when (random.nextInt(30)) {
            0 -> out.append("null")
            1 -> out.append("12")
            2 -> out.append("\"\\ud800\"")
            3 -> out.append("\"\\udc00x\"")
            4 -> out.append("\"\\ud83d\\u0041\"")
            else -> string(if (names.isNotEmpty() && random.nextBoolean()) names.random(random) else randomString(random))
        }
    }

    /** [s] as a JSON string, each UTF-16 unit written raw or escaped at random (lone surrogates always escaped). */
    private fun string(s: String) {
        out.append('"')
        var i = 0
        while (i < s.length) {
            val c = s[i]
            val pair = c.isHighSurrogate() && i + 1 < s.length && s[i + 1].isLowSurrogate()
            when {
                c == '"' || c == '\\' -> {
                    out.append('\\').append(c)
                }

                c < ' ' || (c.isSurrogate() && !pair) || random.nextInt(6) == 0 -> {
                    val short = mapOf('\b' to 'b', '\u000C' to 'f', '\n' to 'n', '\r' to 'r', '\t' to 't', '/' to '/')[c]
                    if (short != null && random.nextBoolean()) {
                        out.append('\\').append(short)
                    } else {
                        out.append(if (random.nextBoolean()) "\\u%04x".format(c.code) else "\\u%04X".format(c.code))
                    }
                }

                pair -> {
                    out.append(c).append(s[i + 1])
                    i++
                }

                else -> {
                    out.append(c)
                }
            }
            i++
        }
        out.append('"')
    }

    /** Any JSON value at nesting [depth], sometimes invalid. */
    private fun value(depth: Int) {
        when (random.nextInt(12)) {
            0, 1 -> {
                out.append(NUMBERS.random(random))
            }

            2 -> {
                out.append(listOf("true", "false", "null", "tru", "nul", "True").random(random))
            }

            3 -> {
                out.append('"')
                repeat(random.nextInt(4)) { out.append(ESCAPES.random(random)) }
                out.append('"')
            }

            4 -> {
                string(randomString(random))
            }

            5 -> {
                deep(depth)
            }

            6, 7 -> {
                if (depth < 6) container(depth, '[') else out.append("[]")
            }

            8, 9 -> {
                if (depth < 6) container(depth, '{') else out.append("{}")
            }

            10 -> {
                out.append(listOf("[1,]", "{\"a\":1,}", "{\"a\"}", "[,]", "{1:2}", "'a'", "\"a\nb\"").random(random))
            }

            else -> {
                out.append(random.nextInt())
            }
        }
    }

    private fun container(
        depth: Int,
        open: Char,
    ) {
        out.append(open)
        val n = random.nextInt(4)
        for (i in 0 until n) {
            if (i > 0) out.append(',')
            ws()
            if (open == '{') {
                key(listOf("a", "b", "a", "id", "name").random(random))
                out.append(':')
            }
            value(depth + 1)
            ws()
        }
        out.append(if (open == '[') ']' else '}')
    }

    /** Nesting right at the limit: the value's outermost level is [depth], the last level 127 to 130. */
    private fun deep(depth: Int) {
        val levels = 127 + random.nextInt(4) - depth + 1
        if (levels <= 0) {
            out.append("0")
            return
        }
        val objects = random.nextBoolean()
        repeat(levels) { out.append(if (objects) "{\"k\":" else "[") }
        out.append("1")
        repeat(levels) { out.append(if (objects) "}" else "]") }
    }

    private fun ws() {
        when (random.nextInt(20)) {
            0 -> out.append(' ')
            1 -> out.append("\n\t")
            2 -> out.append("\r\n  ")
            3 -> if (random.nextInt(10) == 0) out.append(listOf("\u000C", "\u00A0", "\u000B", "\u2028").random(random))
        }
    }

    private fun mutate(input: ByteArray): ByteArray {
        val bytes = input.toMutableList()
        repeat(1 + random.nextInt(3)) {
            val at = random.nextInt(bytes.size + 1)
            when (random.nextInt(6)) {
                0 -> {
                    if (at < bytes.size) bytes.removeAt(at)
                }

                1 -> {
                    bytes.add(at, INTERESTING.random(random))
                }

                2 -> {
                    if (at < bytes.size) bytes[at] = INTERESTING.random(random)
                }

                3 -> {
                    bytes.addAll(at, BAD_UTF8.random(random).toList())
                }

                4 -> {
                    if (at < bytes.size) bytes.subList(at, bytes.size).clear()
                }

                else -> {
                    val from = random.nextInt(bytes.size + 1)
                    val to = minOf(bytes.size, from + random.nextInt(8))
                    bytes.addAll(at, bytes.subList(from, to).toList())
                }
            }
        }
        return bytes.toByteArray()
    }

    companion object {
        private val NUMBERS =
            listOf(
                "0",
                "-0",
                "1",
                "-1",
                "1.5",
                "-0.0e-0",
                "1E+2",
                "1e-2",
                "1e999999",
                "123456789012345678901234567890",
                "01",
                "-",
                "1.",
                ".5",
                "+1",
                "1e",
                "0x10",
                "NaN",
                "-Infinity",
            )
        private val ESCAPES =
            listOf(
                "\\n",
                "\\\"",
                "\\\\",
                "\\/",
                "\\b",
                "\\f",
                "\\r",
                "\\t",
                "\\u0000",
                "\\ud800",
                "\\udc00",
                "\\uDBFF\\uDFFF",
                "\\uFFFF",
                "\\x",
                "\\u12",
                "\\U0041",
                "a",
                "😀",
            )
        internal val INTERESTING =
            listOf('"', '\\', ',', ':', '[', ']', '{', '}', '0', '-', 'e', '.', ' ', 'u', 0x00, 0x1F, 0x7F, 0x80, 0xC0, 0xED, 0xFF)
                .map { if (it is Char) it.code.toByte() else (it as Int).toByte() }
        internal val BAD_UTF8 =
            listOf(
                byteArrayOf(0xC3.toByte(), 0x28),
                byteArrayOf(0xC0.toByte(), 0x80.toByte()),
                byteArrayOf(0xED.toByte(), 0xA0.toByte(), 0x80.toByte()),
                byteArrayOf(0xF4.toByte(), 0x90.toByte(), 0x80.toByte(), 0x80.toByte()),
                byteArrayOf(0xF0.toByte(), 0x9F.toByte(), 0x98.toByte()),
                byteArrayOf(0xEF.toByte(), 0xBB.toByte(), 0xBF.toByte()),
                // Valid multi-byte sequences, to move bytes around inside them.
                "é😀".encodeToByteArray(),
            )

        /** Short random strings over an alphabet of awkward characters; sometimes empty, long, or with a lone surrogate. */
        fun randomString(random: Random): String {
            val alphabet =
                listOf(
                    "a",
                    "b",
                    "A",
                    " ",
                    "\"",
                    "\\",
                    "/",
                    "\u0000",
                    "\u0001",
                    "\n",
                    "\u001F",
                    "\u007F",
                    "é",
                    "日",
                    "😀",
                    "\uDBFF\uDFFF",
                    "\uFFFF",
                    "\u2028",
                )
            return when (random.nextInt(25)) {
                0 -> ""
                1 -> "a".repeat(254) + (0 until random.nextInt(4)).joinToString("") { "😀" }
                2 -> "\uD800"
                3 -> "a\uDC00"
                4 -> "😀".repeat(255 + random.nextInt(3))
                else -> (0 until 1 + random.nextInt(4)).joinToString("") { alphabet.random(random) }
            }
        }
    }
}
