package dev.userstore.testing

import kotlin.random.Random

/** Random importJson inputs: mostly well-formed, with invalid ids, names, keys, numbers and bytes mixed in. */
class RandomJson(
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
        if (random.nextInt(4) == 0) bytes = ByteMutator.mutate(random, bytes)
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
        val INTERESTING =
            listOf('"', '\\', ',', ':', '[', ']', '{', '}', '0', '-', 'e', '.', ' ', 'u', 0x00, 0x1F, 0x7F, 0x80, 0xC0, 0xED, 0xFF)
                .map { if (it is Char) it.code.toByte() else (it as Int).toByte() }
        val BAD_UTF8 =
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
