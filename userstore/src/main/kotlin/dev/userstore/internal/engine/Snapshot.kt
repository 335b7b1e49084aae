package dev.userstore.internal.engine

import dev.userstore.CorruptSnapshotException
import dev.userstore.User
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.channels.FileChannel
import java.nio.file.AtomicMoveNotSupportedException
import java.nio.file.Files
import java.nio.file.NoSuchFileException
import java.nio.file.Path
import java.nio.file.StandardCopyOption
import java.nio.file.StandardOpenOption
import java.util.concurrent.ThreadLocalRandom
import java.util.zip.CRC32

/**
 * The snapshot format of docs/SNAPSHOT.md (version 1), in Kotlin: the twin of `src/core/snapshot.rs`. Both
 * write the same bytes for the same users and refuse the same damaged files.
 */
internal object Snapshot {
    /** `\x89USNAP\r\n`. */
    private val MAGIC =
        byteArrayOf(
            0x89.toByte(),
            'U'.code.toByte(),
            'S'.code.toByte(),
            'N'.code.toByte(),
            'A'.code.toByte(),
            'P'.code.toByte(),
            0x0D,
            0x0A,
        )
    private const val VERSION = 1
    private const val HEADER_LEN = 8 + 4 + 4 + 8 + 8
    private const val CRC_LEN = 4
    private const val MIN_LEN = HEADER_LEN + CRC_LEN
    private const val RECORD_FIXED_LEN = 8 + 2
    private const val MAX_NAME_BYTES = 1024
    private const val BUFFER_BYTES = 1 shl 20

    /** Largest file read into one array (JVM arrays hold a little under 2^31 bytes). */
    private const val MAX_FILE_BYTES = Int.MAX_VALUE - 16L

    /**
     * Writes [users] (valid, sorted by ascending id, ids distinct) to [path] atomically: temporary file in
     * the same directory, force to disk, atomic rename over [path], then the directory is forced where the
     * platform allows. Any failure removes the temporary file and is rethrown as an [IOException] naming
     * [path].
     */
    fun save(
        path: Path,
        users: List<User>,
    ) {
        val fileName = path.fileName ?: throw IOException("snapshot $path: cannot save: the path has no file name")
        val dir: Path = path.toAbsolutePath().parent
        val temp = dir.resolve(".$fileName.${ProcessHandle.current().pid()}-${ThreadLocalRandom.current().nextLong().toULong()}.tmp")
        try {
            FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).use { channel ->
                write(channel, users)
                channel.force(true)
            }
            Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE)
        } catch (e: IOException) {
            try {
                Files.deleteIfExists(temp)
            } catch (suppressed: IOException) {
                e.addSuppressed(suppressed)
            }
            val reason = if (e is AtomicMoveNotSupportedException) "the file system cannot rename atomically" else e.toString()
            throw IOException("snapshot $path: cannot save: $reason", e)
        }
        forceDirectory(dir)
    }

    /** Flushes the directory entry of the rename; some platforms (Windows) cannot open a directory, then it is skipped. */
    fun forceDirectory(dir: Path) {
        try {
            FileChannel.open(dir, StandardOpenOption.READ).use { it.force(true) }
        } catch (e: IOException) {
            // Not supported on this platform: the rename is flushed with the file system.
        } catch (e: UnsupportedOperationException) {
            // Same.
        }
    }

    /** Streams the snapshot of [users] into [channel], computing the CRC-32 on the way. */
    private fun write(
        channel: FileChannel,
        users: List<User>,
    ) {
        var total = (HEADER_LEN + CRC_LEN).toLong()
        for (user in users) total += RECORD_FIXED_LEN + utf8Length(user.name)
        val crc = CRC32()
        val buffer = ByteBuffer.allocate(BUFFER_BYTES).order(ByteOrder.LITTLE_ENDIAN)
        buffer
            .put(MAGIC)
            .putInt(VERSION)
            .putInt(0)
            .putLong(total)
            .putLong(users.size.toLong())
        for (user in users) {
            if (buffer.remaining() < RECORD_FIXED_LEN + MAX_NAME_BYTES) flush(channel, buffer, crc)
            buffer.putLong(user.id)
            val lengthAt = buffer.position()
            buffer.putShort(0)
            val nameLength = encodeUtf8(user.name, buffer)
            buffer.putShort(lengthAt, nameLength.toShort())
        }
        flush(channel, buffer, crc)
        buffer.putInt(crc.value.toInt())
        buffer.flip()
        while (buffer.hasRemaining()) channel.write(buffer)
    }

    /** Adds the buffered bytes to [crc], writes them and empties [buffer]. */
    private fun flush(
        channel: FileChannel,
        buffer: ByteBuffer,
        crc: CRC32,
    ) {
        crc.update(buffer.array(), 0, buffer.position())
        buffer.flip()
        while (buffer.hasRemaining()) channel.write(buffer)
        buffer.clear()
    }

    /** The number of UTF-8 bytes of [s], a string without unpaired surrogates. */
    fun utf8Length(s: String): Int {
        var n = 0
        var i = 0
        while (i < s.length) {
            val c = s[i].code
            n +=
                when {
                    c < 0x80 -> {
                        1
                    }

                    c < 0x800 -> {
                        2
                    }

                    Character.isHighSurrogate(s[i]) -> {
                        i++
                        4
                    }

                    else -> {
                        3
                    }
                }
            i++
        }
        return n
    }

    /** Writes [s] (no unpaired surrogates) as UTF-8 into [out]; returns the byte count. */
    private fun encodeUtf8(
        s: String,
        out: ByteBuffer,
    ): Int {
        val start = out.position()
        var i = 0
        while (i < s.length) {
            val c = s[i].code
            when {
                c < 0x80 -> {
                    out.put(c.toByte())
                }

                c < 0x800 -> {
                    out.put((0xC0 or (c shr 6)).toByte()).put((0x80 or (c and 0x3F)).toByte())
                }

                Character.isHighSurrogate(s[i]) -> {
                    val cp = Character.toCodePoint(s[i], s[i + 1])
                    i++
                    out
                        .put((0xF0 or (cp shr 18)).toByte())
                        .put((0x80 or ((cp shr 12) and 0x3F)).toByte())
                        .put((0x80 or ((cp shr 6) and 0x3F)).toByte())
                        .put((0x80 or (cp and 0x3F)).toByte())
                }

                else -> {
                    out
                        .put((0xE0 or (c shr 12)).toByte())
                        .put((0x80 or ((c shr 6) and 0x3F)).toByte())
                        .put((0x80 or (c and 0x3F)).toByte())
                }
            }
            i++
        }
        return out.position() - start
    }

    /**
     * Reads the snapshot at [path] and returns its users in ascending id order, after checking the whole file.
     *
     * @throws NoSuchFileException (message: [path]) if the file does not exist
     * @throws CorruptSnapshotException if it is not a valid snapshot
     * @throws IOException naming [path] for any other failure
     */
    fun read(path: Path): List<User> {
        val bytes = readFile(path)
        return parse(bytes) { reason -> CorruptSnapshotException("snapshot $path is corrupt: $reason") }
    }

    private fun readFile(path: Path): ByteArray {
        val channel =
            try {
                FileChannel.open(path, StandardOpenOption.READ)
            } catch (e: NoSuchFileException) {
                throw NoSuchFileException(path.toString())
            } catch (e: IOException) {
                throw IOException("snapshot $path: cannot read: $e", e)
            }
        channel.use {
            val size = reading(path) { channel.size() }
            if (size > MAX_FILE_BYTES) {
                throw IOException("snapshot $path: cannot read: $size bytes is more than this implementation reads ($MAX_FILE_BYTES)")
            }
            val buffer = ByteBuffer.allocate(size.toInt())
            reading(path) {
                while (buffer.hasRemaining()) {
                    if (channel.read(buffer) < 0) break
                }
            }
            // A file that shrank while it was read is a truncated snapshot: parse what was there.
            return if (buffer.hasRemaining()) buffer.array().copyOf(buffer.position()) else buffer.array()
        }
    }

    /** Runs [block], turning an [IOException] into one naming [path]. */
    private inline fun <T> reading(
        path: Path,
        block: () -> T,
    ): T =
        try {
            block()
        } catch (e: IOException) {
            throw IOException("snapshot $path: cannot read: $e", e)
        }

    /** Checks [bytes] in the order docs/SNAPSHOT.md gives; [corrupt] builds the exception for a problem. */
    private inline fun parse(
        bytes: ByteArray,
        corrupt: (String) -> CorruptSnapshotException,
    ): List<User> {
        val len = bytes.size
        val magicLen = minOf(len, MAGIC.size)
        for (i in 0 until magicLen) {
            if (bytes[i] != MAGIC[i]) throw corrupt("not a userstore snapshot (wrong magic bytes)")
        }
        if (len < MIN_LEN) throw corrupt("truncated: $len bytes, a snapshot has at least $MIN_LEN")
        val buffer = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN)
        val version = buffer.getInt(8).toUInt()
        if (version != VERSION.toUInt()) {
            throw corrupt("unsupported format version $version (this build reads version $VERSION)")
        }
        val flags = buffer.getInt(12)
        if (flags != 0) throw corrupt("unknown flags 0x%08x".format(flags))
        val total = buffer.getLong(16).toULong()
        if (total != len.toULong()) {
            throw corrupt(
                if (total > len.toULong()) {
                    "truncated: the header says $total bytes, the file has $len"
                } else {
                    "the header says $total bytes, the file has $len (bytes after the end)"
                },
            )
        }
        val bodyEnd = len - CRC_LEN
        val stored = buffer.getInt(bodyEnd).toUInt().toLong()
        val crc = CRC32()
        crc.update(bytes, 0, bodyEnd)
        if (stored != crc.value) {
            throw corrupt("checksum mismatch: stored 0x%08x, computed 0x%08x".format(stored, crc.value))
        }
        val count = buffer.getLong(24).toULong()
        val recordBytes = bodyEnd - HEADER_LEN
        if (count > (recordBytes / (RECORD_FIXED_LEN + 1)).toULong()) {
            throw corrupt("$count users cannot fit in $recordBytes bytes of records")
        }
        val users = ArrayList<User>(count.toInt())
        var pos = HEADER_LEN
        var previous = -1L
        for (index in 0 until count.toInt()) {
            if (bodyEnd - pos < RECORD_FIXED_LEN) throw corrupt("record $index: runs past the end of the records")
            val id = buffer.getLong(pos)
            val nameLength = buffer.getShort(pos + 8).toInt() and 0xFFFF
            pos += RECORD_FIXED_LEN
            if (id < 0) throw corrupt("record $index: id ${id.toULong()} is above ${Long.MAX_VALUE}")
            if (index > 0 && id <= previous) {
                throw corrupt("record $index: id $id does not follow $previous in ascending order")
            }
            previous = id
            if (nameLength == 0 || nameLength > MAX_NAME_BYTES) {
                throw corrupt("record $index: name length $nameLength is not in 1..=$MAX_NAME_BYTES bytes")
            }
            if (bodyEnd - pos < nameLength) throw corrupt("record $index: runs past the end of the records")
            val codePoints = checkUtf8(bytes, pos, nameLength)
            if (codePoints < 0) {
                throw corrupt("record $index: the name is not valid UTF-8 (invalid byte at offset ${-codePoints - 1})")
            }
            if (codePoints > StrictJson.MAX_NAME_CODE_POINTS) {
                throw corrupt(
                    "record $index: invalid name: the name is too long: $codePoints code points " +
                        "(at most ${StrictJson.MAX_NAME_CODE_POINTS})",
                )
            }
            users.add(User(id, String(bytes, pos, nameLength, Charsets.UTF_8)))
            pos += nameLength
        }
        if (pos != bodyEnd) throw corrupt("${bodyEnd - pos} bytes after the last of $count records")
        return users
    }

    /**
     * Strict UTF-8 check (no overlong forms, no surrogates, nothing above U+10FFFF) of `bytes[start, start + length)`.
     * Returns the number of code points, or `-(offset + 1)` where the first invalid sequence starts.
     */
    fun checkUtf8(
        bytes: ByteArray,
        start: Int,
        length: Int,
    ): Int {
        val end = start + length
        var i = start
        var codePoints = 0
        while (i < end) {
            val b = bytes[i].toInt() and 0xFF
            val size: Int
            var low = 0x80
            var high = 0xBF
            when {
                b < 0x80 -> {
                    size = 1
                }

                b in 0xC2..0xDF -> {
                    size = 2
                }

                b in 0xE0..0xEF -> {
                    size = 3
                    if (b == 0xE0) low = 0xA0
                    if (b == 0xED) high = 0x9F
                }

                b in 0xF0..0xF4 -> {
                    size = 4
                    if (b == 0xF0) low = 0x90
                    if (b == 0xF4) high = 0x8F
                }

                else -> {
                    return -(i - start) - 1
                }
            }
            if (size > 1) {
                if (i + size > end) return -(i - start) - 1
                val second = bytes[i + 1].toInt() and 0xFF
                if (second < low || second > high) return -(i - start) - 1
                for (k in 2 until size) {
                    val next = bytes[i + k].toInt() and 0xFF
                    if (next < 0x80 || next > 0xBF) return -(i - start) - 1
                }
            }
            i += size
            codePoints++
        }
        return codePoints
    }
}
