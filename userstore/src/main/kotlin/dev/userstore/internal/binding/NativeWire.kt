package dev.userstore.internal.binding

import dev.userstore.InvalidUserException
import dev.userstore.User
import java.nio.ByteBuffer
import java.nio.ByteOrder

/**
 * The JVM side of the batch and page encodings of `src/wire.rs` (`read_puts`, `write_page`), shared by both
 * bindings: flat runs of little-endian fields, read and written with a [ByteBuffer]. Hand-written for the same
 * reason as the Rust side: a dozen lines each, where a serialisation library would add a dependency to the
 * library artifact (which depends on kotlin-stdlib only).
 */
internal object NativeWire {
    /** The largest log record payload (docs/DURABILITY.md): a batch whose record would pass it is refused. */
    const val MAX_PAYLOAD: Long = 1L shl 30

    /** Per put in the wire: id (8) and name length (4). */
    private const val PUT_FIXED = 12

    /** Per user in a batch record: id (8) and name length (2). */
    private const val RECORD_USER_FIXED = 10

    /** Type byte, put count, remove count. */
    private const val RECORD_FIXED = 9

    /**
     * [puts] as `read_puts` reads them: per user, its id (Long), its name's UTF-8 length (Int) and the UTF-8
     * bytes. A name with an unpaired surrogate has no UTF-8 form: [InvalidUserException], before anything is
     * sent. Puts whose log record alone would pass 1 GiB are refused here with the core's
     * [IllegalArgumentException] (the removes can only add to it), so no array past 1 GiB is built.
     */
    fun encodePuts(puts: Collection<User>): ByteArray {
        // One pass over the caller's collection: the rest works on this copy.
        val users = puts.toTypedArray()
        val lengths = IntArray(users.size)
        var record = RECORD_FIXED.toLong()
        for (i in users.indices) {
            val n = utf8Length(users[i].name)
            lengths[i] = n
            record += RECORD_USER_FIXED + n
        }
        if (record > MAX_PAYLOAD) {
            throw IllegalArgumentException(
                "the batch is too large: its log record would take $record bytes, more than $MAX_PAYLOAD (1 GiB)",
            )
        }
        var total = 0L
        for (n in lengths) total += PUT_FIXED + n
        // Below 1 GiB + 2 bytes per user: fits an array.
        val out = ByteArray(Math.toIntExact(total))
        val buf = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN)
        for (i in users.indices) {
            val name = users[i].name.toByteArray(Charsets.UTF_8)
            check(name.size == lengths[i]) { "the name changed while it was encoded" }
            buf.putLong(users[i].id).putInt(name.size).put(name)
        }
        return out
    }

    /**
     * The UTF-8 length of [name]; an unpaired surrogate (which has none) is an [InvalidUserException] with the
     * message `NativeUserStore.put` gives.
     */
    fun utf8Length(name: String): Int {
        var bytes = 0
        var i = 0
        while (i < name.length) {
            val c = name[i]
            when {
                c.code < 0x80 -> {
                    bytes += 1
                }

                c.code < 0x800 -> {
                    bytes += 2
                }

                Character.isHighSurrogate(c) && i + 1 < name.length && Character.isLowSurrogate(name[i + 1]) -> {
                    bytes += 4
                    i++
                }

                Character.isSurrogate(c) -> {
                    throw InvalidUserException("invalid name: unpaired surrogate U+%04X at index %d".format(c.code, i))
                }

                else -> {
                    bytes += 3
                }
            }
            i++
        }
        return bytes
    }

    /** The users of a page `write_page` encoded: per user its id (Long), its name's length word and bytes. */
    fun decodePage(page: ByteArray): List<User> {
        val buf = ByteBuffer.wrap(page).order(ByteOrder.LITTLE_ENDIAN)
        val users = ArrayList<User>()
        while (buf.hasRemaining()) {
            val id = buf.getLong()
            val word = buf.getInt()
            val length = word and (NativeAbi.LATIN1 - 1)
            val charset = if (word and NativeAbi.LATIN1 != 0) Charsets.ISO_8859_1 else Charsets.UTF_8
            users.add(User(id, String(page, buf.position(), length, charset)))
            buf.position(buf.position() + length)
        }
        return users
    }
}
