package dev.userstore.internal.engine

import dev.userstore.InvalidJsonException
import dev.userstore.User
import java.nio.ByteBuffer
import java.nio.CharBuffer
import java.nio.charset.CodingErrorAction
import java.nio.charset.StandardCharsets

/**
 * The JSON rules of docs/RULES.md for the pure-Kotlin store: a strict reader for `importJson` and the
 * writer for `getJson`/`exportJson`, matching what the Rust core does with serde_json byte for byte.
 */
internal object StrictJson {
    /** The deepest nesting of arrays/objects accepted, the top-level array being level 1 (serde_json's recursion limit). */
    const val MAX_DEPTH = 128

    /** The most code points a name may hold. */
    const val MAX_NAME_CODE_POINTS = 256

    /**
     * Parses and validates an `importJson` input completely, returning its records in input order.
     * Nothing is applied here, so a store that calls this first is all-or-nothing.
     *
     * @throws InvalidJsonException naming the problem and, when it concerns one record, its zero-based index.
     */
    fun parseRecords(json: ByteArray): List<User> = Reader(decodeUtf8Strictly(json)).readRecords()

    /** `{"id":<id>,"name":"<escaped>"}` as UTF-8 bytes. */
    fun userJson(user: User): ByteArray {
        val out = Writer(userSize(user))
        out.writeUser(user)
        return out.bytes
    }

    /** `[` the users joined by `,` `]` as UTF-8 bytes, in the order given. */
    fun arrayJson(users: List<User>): ByteArray {
        var size = 2 + maxOf(users.size - 1, 0)
        for (user in users) size += userSize(user)
        val out = Writer(size)
        out.writeByte('[')
        for ((i, user) in users.withIndex()) {
            if (i > 0) out.writeByte(',')
            out.writeUser(user)
        }
        out.writeByte(']')
        return out.bytes
    }

    /**
     * Decodes [bytes] as UTF-8 with a decoder that reports (never replaces) malformed input: overlong forms,
     * encoded surrogates, code points above U+10FFFF and truncated sequences are all rejected.
     */
    private fun decodeUtf8Strictly(bytes: ByteArray): String {
        val decoder =
            StandardCharsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
        val input = ByteBuffer.wrap(bytes)
        // UTF-8 never needs more UTF-16 units than bytes (4 bytes give 2 units).
        val output = CharBuffer.allocate(bytes.size)
        var result = decoder.decode(input, output, true)
        if (!result.isError) result = decoder.flush(output)
        if (result.isError) {
            throw InvalidJsonException("invalid JSON: the input is not valid UTF-8 (invalid byte at offset ${input.position()})")
        }
        output.flip()
        return output.toString()
    }

    /** How [Reader.readString] treats a string. */
    private enum class StringMode {
        /** A skipped value: syntax only, any `\uXXXX` allowed, nothing kept. */
        SKIP,

        /**
         * A key of a record object: unescaped for the duplicate check, unpaired surrogate escapes kept as they
         * are (the Rust core reads keys as WTF-8 bytes; two keys are equal exactly when these strings are).
         */
        KEY,

        /** A `"name"` value: unescaped, and an unpaired surrogate escape is an error. */
        NAME,
    }

    /** A recursive-descent reader over the decoded input; [pos] indexes UTF-16 units of [text]. */
    private class Reader(
        private val text: String,
    ) {
        private var pos = 0

        /** The record being read (for messages), or -1 outside any record. */
        private var record = -1

        /** Reads the top-level array of records. */
        fun readRecords(): List<User> {
            skipWhitespace()
            if (pos >= text.length) fail("the input is empty")
            if (text[pos] != '[') {
                // Still a syntax error if it is not JSON at all; either way the answer is "not an array".
                fail("the top level must be an array, found ${describe(pos)}")
            }
            pos++
            val users = ArrayList<User>()
            skipWhitespace()
            if (peek() == ']') {
                pos++
            } else {
                while (true) {
                    record = users.size
                    users.add(readRecord())
                    record = -1
                    skipWhitespace()
                    when (peek()) {
                        ',' -> {
                            pos++
                        }

                        ']' -> {
                            pos++
                            break
                        }

                        else -> {
                            fail("expected ',' or ']' after record ${users.size - 1}, found ${describe(pos)}")
                        }
                    }
                    skipWhitespace()
                }
            }
            skipWhitespace()
            if (pos < text.length) fail("trailing characters after the array: ${describe(pos)}")
            return users
        }

        /** Reads one record object (level 2) with [pos] at its first character. */
        private fun readRecord(): User {
            if (peek() != '{') {
                skipValue(2) // a syntax error, if there is one, is reported first
                fail("a record must be an object")
            }
            pos++
            var id = -1L
            var name: String? = null
            val keys = HashSet<String>(4)
            skipWhitespace()
            if (peek() == '}') {
                pos++
            } else {
                while (true) {
                    if (peek() != '"') fail("expected a key, found ${describe(pos)}")
                    val key = readString(StringMode.KEY)
                    if (!keys.add(key)) fail("duplicate key ${quote(key)}")
                    skipWhitespace()
                    if (peek() != ':') fail("expected ':' after a key, found ${describe(pos)}")
                    pos++
                    skipWhitespace()
                    when (key) {
                        "id" -> id = readId()
                        "name" -> name = readName()
                        else -> skipValue(3)
                    }
                    skipWhitespace()
                    when (peek()) {
                        ',' -> {
                            pos++
                        }

                        '}' -> {
                            pos++
                            break
                        }

                        else -> {
                            fail("expected ',' or '}' in a record, found ${describe(pos)}")
                        }
                    }
                    skipWhitespace()
                }
            }
            if (id < 0) fail("missing \"id\"")
            if (name == null) fail("missing \"name\"")
            return User(id, name)
        }

        /** Reads the value of `"id"`: `0` or `[1-9][0-9]*`, at most [Long.MAX_VALUE]. */
        private fun readId(): Long {
            val start = pos
            val first = peek()
            if (first !in '0'..'9') {
                fail("\"id\" must be an integer in 0..=9223372036854775807, found ${describe(start)}")
            }
            var value = 0L
            var overflow = false
            while (peek() in '0'..'9') {
                val digit = peek() - '0'
                if (value > (Long.MAX_VALUE - digit) / 10) overflow = true else value = value * 10 + digit
                pos++
            }
            if (first == '0' && pos - start > 1) fail("leading zero in a number")
            val next = peek()
            if (next == '.' || next == 'e' || next == 'E') {
                fail("\"id\" must be an integer without fraction or exponent")
            }
            if (overflow) fail("\"id\" is out of range: at most 9223372036854775807")
            return value
        }

        /** Reads the value of `"name"`: a string holding a valid name (1 to 256 code points). */
        private fun readName(): String {
            if (peek() != '"') {
                skipValue(3)
                fail("\"name\" must be a string")
            }
            val name = readString(StringMode.NAME)
            if (name.isEmpty()) fail("invalid name: the name is empty")
            val codePoints = name.codePointCount(0, name.length)
            if (codePoints > MAX_NAME_CODE_POINTS) {
                fail("invalid name: the name is too long: $codePoints code points (at most $MAX_NAME_CODE_POINTS)")
            }
            return name
        }

        /** Checks the syntax of any JSON value at nesting [depth] (the level an array or object there would be). */
        private fun skipValue(depth: Int) {
            when (peek()) {
                '{', '[' -> skipContainer(depth)
                '"' -> readString(StringMode.SKIP)
                't' -> expectLiteral("true")
                'f' -> expectLiteral("false")
                'n' -> expectLiteral("null")
                else -> skipNumber()
            }
        }

        private fun skipContainer(depth: Int) {
            if (depth > MAX_DEPTH) fail("nesting deeper than $MAX_DEPTH levels")
            val isObject = text[pos] == '{'
            val close = if (isObject) '}' else ']'
            pos++
            skipWhitespace()
            if (peek() == close) {
                pos++
                return
            }
            while (true) {
                if (isObject) {
                    // Keys of nested (ignored) objects are only syntax-checked; duplicates are allowed there.
                    if (peek() != '"') fail("expected a key, found ${describe(pos)}")
                    readString(StringMode.SKIP)
                    skipWhitespace()
                    if (peek() != ':') fail("expected ':' after a key, found ${describe(pos)}")
                    pos++
                    skipWhitespace()
                }
                skipValue(depth + 1)
                skipWhitespace()
                when (peek()) {
                    ',' -> {
                        pos++
                    }

                    close -> {
                        pos++
                        return
                    }

                    else -> {
                        fail("expected ',' or '$close', found ${describe(pos)}")
                    }
                }
                skipWhitespace()
            }
        }

        /** `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, any size. */
        private fun skipNumber() {
            val start = pos
            if (peek() == '-') pos++
            when (peek()) {
                '0' -> pos++
                in '1'..'9' -> skipDigits()
                else -> fail(if (pos == start) "expected a value, found ${describe(start)}" else "invalid number")
            }
            if (peek() == '.') {
                pos++
                if (peek() !in '0'..'9') fail("invalid number")
                skipDigits()
            }
            if (peek() == 'e' || peek() == 'E') {
                pos++
                if (peek() == '+' || peek() == '-') pos++
                if (peek() !in '0'..'9') fail("invalid number")
                skipDigits()
            }
        }

        private fun skipDigits() {
            while (peek() in '0'..'9') pos++
        }

        private fun expectLiteral(literal: String) {
            if (!text.startsWith(literal, pos)) fail("expected a value, found ${describe(pos)}")
            pos += literal.length
        }

        /**
         * Reads a string literal with [pos] at its opening quote and returns its unescaped value ("" for
         * [StringMode.SKIP]); see [StringMode] for how each mode treats unpaired surrogate escapes.
         */
        private fun readString(mode: StringMode): String {
            pos++ // the opening quote
            val out = if (mode == StringMode.SKIP) null else StringBuilder()
            var runStart = pos
            while (true) {
                if (pos >= text.length) fail("unterminated string")
                val c = text[pos]
                when {
                    c == '"' -> {
                        out?.append(text, runStart, pos)
                        pos++
                        return out?.toString() ?: ""
                    }

                    c == '\\' -> {
                        out?.append(text, runStart, pos)
                        pos++
                        readEscape(out, strict = mode == StringMode.NAME)
                        runStart = pos
                    }

                    c < ' ' -> {
                        fail("control character U+%04X in a string".format(c.code))
                    }

                    else -> {
                        pos++
                    }
                }
            }
        }

        /**
         * Reads one escape after its backslash, appending its value to [out] unless null. With [strict], a
         * `\uD800`-`\uDBFF` escape must be followed by a `\uDC00`-`\uDFFF` escape and a low one may not
         * stand alone; otherwise each `\uXXXX` is appended as the UTF-16 unit it names (a pair written as
         * two escapes still forms one code point, as in serde_json's WTF-8).
         */
        private fun readEscape(
            out: StringBuilder?,
            strict: Boolean,
        ) {
            if (pos >= text.length) fail("unterminated string")
            val c = text[pos++]
            val simple =
                when (c) {
                    '"', '\\', '/' -> c
                    'b' -> '\b'
                    'f' -> '\u000C'
                    'n' -> '\n'
                    'r' -> '\r'
                    't' -> '\t'
                    'u' -> null
                    else -> fail("invalid escape \\$c")
                }
            if (simple != null) {
                out?.append(simple)
                return
            }
            val unit = readHex4()
            if (!strict || !Character.isSurrogate(unit)) {
                out?.append(unit)
                return
            }
            if (Character.isLowSurrogate(unit)) fail("lone trailing surrogate in a \\u escape")
            if (!text.startsWith("\\u", pos)) fail("lone leading surrogate in a \\u escape")
            pos += 2
            val low = readHex4()
            if (!Character.isLowSurrogate(low)) fail("lone leading surrogate in a \\u escape")
            out?.append(unit)?.append(low)
        }

        private fun readHex4(): Char {
            var value = 0
            repeat(4) {
                val c = peek()
                val digit =
                    when (c) {
                        in '0'..'9' -> c - '0'
                        in 'a'..'f' -> c - 'a' + 10
                        in 'A'..'F' -> c - 'A' + 10
                        else -> fail("invalid \\u escape")
                    }
                value = value * 16 + digit
                pos++
            }
            return value.toChar()
        }

        private fun skipWhitespace() {
            while (pos < text.length) {
                when (text[pos]) {
                    ' ', '\t', '\n', '\r' -> pos++
                    else -> return
                }
            }
        }

        /** The character at [pos], or U+FFFF at the end (never a meaningful JSON character there). */
        private fun peek(): Char = if (pos < text.length) text[pos] else END

        private fun describe(at: Int): String {
            if (at >= text.length) return "the end of the input"
            val cp = text.codePointAt(at)
            val shown = if (cp < 0x20) "" else "'${String(Character.toChars(cp))}' "
            return "%sU+%04X at offset %d".format(shown, cp, at)
        }

        /** [key] quoted for a message, with control characters and surrogates as `\uXXXX`. */
        private fun quote(key: String): String =
            buildString {
                append('"')
                for (c in key) {
                    if (c < ' ' || c == '"' || c == '\\' || Character.isSurrogate(c)) append("\\u%04x".format(c.code)) else append(c)
                }
                append('"')
            }

        private fun fail(problem: String): Nothing {
            val prefix = if (record >= 0) "record $record" else "invalid JSON"
            throw InvalidJsonException("$prefix: $problem")
        }

        private companion object {
            const val END = '\uFFFF'
        }
    }

    /** For each code unit below U+0020, its short escape letter (`b`, `t`, `n`, `f`, `r`) or 0 for `\u00XX`. */
    private val SHORT_ESCAPES =
        ByteArray(0x20).also {
            it[0x08] = 'b'.code.toByte()
            it[0x09] = 't'.code.toByte()
            it[0x0A] = 'n'.code.toByte()
            it[0x0C] = 'f'.code.toByte()
            it[0x0D] = 'r'.code.toByte()
        }

    private val HEX = "0123456789abcdef".encodeToByteArray()

    /** The exact size in bytes of [user] as JSON. */
    private fun userSize(user: User): Int = USER_FIXED_SIZE + decimalSize(user.id) + stringSize(user.name)

    /** `{"id":` + `,"name":` + `}` */
    private const val USER_FIXED_SIZE = 15

    private fun decimalSize(value: Long): Int {
        var size = 1
        var rest = value / 10
        while (rest != 0L) {
            size++
            rest /= 10
        }
        return size
    }

    /** The exact size in bytes of [s] as an escaped JSON string literal, quotes included. */
    private fun stringSize(s: String): Int {
        var size = 2
        for (c in s) {
            val code = c.code
            size +=
                when {
                    code == '"'.code || code == '\\'.code -> 2

                    code < 0x20 -> if (SHORT_ESCAPES[code] != 0.toByte()) 2 else 6

                    code < 0x80 -> 1

                    code < 0x800 -> 2

                    Character.isSurrogate(c) -> 2

                    // a pair (4 bytes) is two surrogates
                    else -> 3
                }
        }
        return size
    }

    /** Writes UTF-8 JSON into an array of exactly the size computed beforehand. */
    private class Writer(
        size: Int,
    ) {
        val bytes = ByteArray(size)
        private var n = 0

        fun writeByte(c: Char) {
            bytes[n++] = c.code.toByte()
        }

        fun writeUser(user: User) {
            writeAscii("{\"id\":")
            writeDecimal(user.id)
            writeAscii(",\"name\":")
            writeString(user.name)
            writeByte('}')
        }

        private fun writeAscii(s: String) {
            for (c in s) bytes[n++] = c.code.toByte()
        }

        private fun writeDecimal(value: Long) {
            val end = n + decimalSize(value)
            var rest = value
            var at = end
            do {
                bytes[--at] = ('0'.code + (rest % 10).toInt()).toByte()
                rest /= 10
            } while (rest != 0L)
            n = end
        }

        /** [s] as a JSON string literal escaped as serde_json does; [s] holds no unpaired surrogate. */
        fun writeString(s: String) {
            val b = bytes
            b[n++] = '"'.code.toByte()
            var i = 0
            while (i < s.length) {
                val c = s[i].code
                when {
                    c == '"'.code || c == '\\'.code -> {
                        b[n++] = '\\'.code.toByte()
                        b[n++] = c.toByte()
                    }

                    c < 0x20 -> {
                        b[n++] = '\\'.code.toByte()
                        val short = SHORT_ESCAPES[c]
                        if (short != 0.toByte()) {
                            b[n++] = short
                        } else {
                            b[n++] = 'u'.code.toByte()
                            b[n++] = '0'.code.toByte()
                            b[n++] = '0'.code.toByte()
                            b[n++] = HEX[c shr 4]
                            b[n++] = HEX[c and 0xF]
                        }
                    }

                    c < 0x80 -> {
                        b[n++] = c.toByte()
                    }

                    c < 0x800 -> {
                        b[n++] = (0xC0 or (c shr 6)).toByte()
                        b[n++] = (0x80 or (c and 0x3F)).toByte()
                    }

                    Character.isHighSurrogate(s[i]) -> {
                        // Names are validated, so a high surrogate is always followed by a low one.
                        val cp = Character.toCodePoint(s[i], s[i + 1])
                        i++
                        b[n++] = (0xF0 or (cp shr 18)).toByte()
                        b[n++] = (0x80 or ((cp shr 12) and 0x3F)).toByte()
                        b[n++] = (0x80 or ((cp shr 6) and 0x3F)).toByte()
                        b[n++] = (0x80 or (cp and 0x3F)).toByte()
                    }

                    else -> {
                        b[n++] = (0xE0 or (c shr 12)).toByte()
                        b[n++] = (0x80 or ((c shr 6) and 0x3F)).toByte()
                        b[n++] = (0x80 or (c and 0x3F)).toByte()
                    }
                }
                i++
            }
            b[n++] = '"'.code.toByte()
        }
    }
}
