package dev.userstore.internal.engine

import dev.userstore.CorruptSnapshotException
import dev.userstore.Sync
import dev.userstore.User
import dev.userstore.internal.DirectoryLock
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.channels.FileChannel
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.StandardOpenOption
import java.util.zip.CRC32

/**
 * Opening a data directory (docs/DURABILITY.md, "Opening a directory"): lock it, load the newest snapshot,
 * replay the logs after it with the torn-tail rules, and only once the whole directory was checked, change it
 * (cut the torn tail, delete the temporary files and the older generations). A damaged file throws
 * [CorruptSnapshotException] with nothing loaded and nothing in the directory changed.
 */
internal object DataDirectory {
    /** An opened directory: its running log (not yet started) and the users it holds. */
    class Opened(
        val wal: Wal,
        val users: Collection<User>,
    )

    fun open(
        dir: Path,
        sync: Sync,
        checkpointLogBytes: Long,
    ): Opened {
        uninterruptibly {
            val lock = DirectoryLock.acquire(dir)
            try {
                return openLocked(dir, sync, checkpointLogBytes, lock)
            } catch (t: Throwable) {
                lock.close()
                throw t
            }
        }
    }

    private fun openLocked(
        dir: Path,
        sync: Sync,
        checkpointLogBytes: Long,
        lock: DirectoryLock,
    ): Opened {
        val names =
            try {
                Files.list(dir).use { files -> files.map { it.fileName.toString() }.toList() }
            } catch (e: IOException) {
                throw IOException("data directory $dir: cannot list: $e", e)
            }
        val temporaries = names.filter(WalFormat::isTemporary)
        val snapshots = names.mapNotNull { WalFormat.generation(it, "snapshot-", ".snap") }
        val logs = names.mapNotNull { WalFormat.generation(it, "log-", ".wal") }.sorted()
        val base = snapshots.maxOrNull() ?: 1L
        val users = HashMap<Long, User>()
        if (snapshots.isNotEmpty()) {
            for (user in Snapshot.read(dir.resolve(WalFormat.snapshotName(base)))) users[user.id] = user
        }
        val live = logs.filter { it >= base }
        for ((i, g) in live.withIndex()) {
            if (g != base + i) {
                val missing = dir.resolve(WalFormat.logName(base + i))
                throw CorruptSnapshotException(
                    "log $missing is missing: the logs from generation $base on must follow one another without a gap " +
                        "(found ${WalFormat.logName(g)})",
                )
            }
        }
        var end = 0L
        var size = 0L
        for ((i, g) in live.withIndex()) {
            val newest = i == live.lastIndex
            val replayed = replay(dir.resolve(WalFormat.logName(g)), g, newest, users)
            if (newest) {
                end = replayed.first
                size = replayed.second
            }
        }
        // The whole directory is checked: now it may change.
        for (name in temporaries) {
            val path = dir.resolve(name)
            try {
                Files.deleteIfExists(path)
            } catch (e: IOException) {
                throw IOException("$path: cannot delete: $e", e)
            }
        }
        val channel: FileChannel
        val generation: Long
        if (live.isEmpty()) {
            generation = base
            channel = WalFormat.createLog(dir, base)
            end = WalFormat.HEADER_BYTES.toLong()
        } else {
            generation = live.last()
            val path = dir.resolve(WalFormat.logName(generation))
            channel =
                try {
                    FileChannel.open(path, StandardOpenOption.WRITE)
                } catch (e: IOException) {
                    throw IOException("log $path: cannot open: $e", e)
                }
            try {
                if (end < size) {
                    channel.truncate(end)
                    channel.force(false)
                }
                channel.position(end)
            } catch (e: IOException) {
                channel.close()
                throw IOException("log $path: cannot cut the torn tail at offset $end: $e", e)
            }
        }
        try {
            Wal.deleteGenerations(dir, below = base)
        } catch (e: IOException) {
            channel.close()
            throw e
        }
        return Opened(Wal(dir, sync, checkpointLogBytes, lock, channel, generation, end), users.values)
    }

    /**
     * Checks the log at [path] (of [generation]) and applies its records to [users]. Returns where its valid
     * records end and the file's size: in the [newest] log a torn tail ends it early; anywhere else every
     * record must be whole and valid.
     */
    private fun replay(
        path: Path,
        generation: Long,
        newest: Boolean,
        users: HashMap<Long, User>,
    ): Pair<Long, Long> {
        val channel =
            try {
                FileChannel.open(path, StandardOpenOption.READ)
            } catch (e: IOException) {
                throw IOException("log $path: cannot read: $e", e)
            }
        channel.use {
            try {
                return replay(channel, path, generation, newest, users)
            } catch (e: CorruptSnapshotException) {
                throw e
            } catch (e: IOException) {
                throw IOException("log $path: cannot read: $e", e)
            }
        }
    }

    private fun replay(
        channel: FileChannel,
        path: Path,
        generation: Long,
        newest: Boolean,
        users: HashMap<Long, User>,
    ): Pair<Long, Long> {
        val size = channel.size()
        checkHeader(channel, path, generation, size)
        val head = ByteBuffer.allocate(WalFormat.RECORD_HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN)
        var payload = ByteArray(256)
        val crc = CRC32()
        var o = WalFormat.HEADER_BYTES.toLong()
        while (o < size) {
            val left = size - o
            if (left < WalFormat.RECORD_HEADER_BYTES) {
                if (newest) break
                throw damaged(path, o, "truncated: $left bytes left, a record takes at least ${WalFormat.RECORD_HEADER_BYTES}")
            }
            readFully(channel, head.clear(), o)
            if (newest && isZero(head.array(), WalFormat.RECORD_HEADER_BYTES) &&
                zeroFrom(channel, o + WalFormat.RECORD_HEADER_BYTES, size)
            ) {
                break
            }
            val length = head.getInt(0).toLong() and 0xFFFFFFFFL
            val check = head.getInt(4).toLong() and 0xFFFFFFFFL
            if (length xor check != 0xFFFFFFFFL) throw damaged(path, o, "the length $length and its check disagree")
            if (length < 1 || length > WalFormat.MAX_PAYLOAD) {
                throw damaged(path, o, "length $length is not in 1..=${WalFormat.MAX_PAYLOAD}")
            }
            val recordEnd = o + WalFormat.RECORD_HEADER_BYTES + length
            if (recordEnd > size) {
                if (newest) break
                throw damaged(path, o, "truncated: the record of $length bytes runs past the end of the file")
            }
            val n = length.toInt()
            if (payload.size < n) payload = ByteArray(maxOf(n, minOf(payload.size * 2, WalFormat.MAX_PAYLOAD)))
            readFully(channel, ByteBuffer.wrap(payload, 0, n), o + WalFormat.RECORD_HEADER_BYTES)
            crc.reset()
            crc.update(payload, 0, n)
            val stored = head.getInt(8).toLong() and 0xFFFFFFFFL
            if (stored != crc.value) {
                if (newest && recordEnd == size) break
                throw damaged(path, o, "checksum mismatch")
            }
            apply(payload, n, users)?.let { throw damaged(path, o, it) }
            o = recordEnd
        }
        return o to size
    }

    private fun checkHeader(
        channel: FileChannel,
        path: Path,
        generation: Long,
        size: Long,
    ) {
        if (size < WalFormat.HEADER_BYTES) {
            throw damagedHeader(path, "truncated: $size bytes, a log starts with ${WalFormat.HEADER_BYTES}")
        }
        val header = ByteBuffer.allocate(WalFormat.HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN)
        readFully(channel, header, 0)
        val bytes = header.array()
        for (i in WalFormat.MAGIC.indices) {
            if (bytes[i] != WalFormat.MAGIC[i]) throw damagedHeader(path, "not a userstore log (wrong magic bytes)")
        }
        val crc = CRC32()
        crc.update(bytes, 0, WalFormat.HEADER_BYTES - 4)
        if ((header.getInt(WalFormat.HEADER_BYTES - 4).toLong() and 0xFFFFFFFFL) != crc.value) {
            throw damagedHeader(path, "checksum mismatch")
        }
        val version = header.getInt(8).toUInt()
        if (version != WalFormat.VERSION.toUInt()) {
            throw damagedHeader(path, "unsupported format version $version (this build reads version ${WalFormat.VERSION})")
        }
        val flags = header.getInt(12)
        if (flags != 0) throw damagedHeader(path, "unknown flags 0x%08x".format(flags))
        val stored = header.getLong(16)
        if (stored != generation) {
            throw damagedHeader(
                path,
                "generation ${java.lang.Long.toUnsignedString(stored)}, the file name says $generation",
            )
        }
    }

    /**
     * Applies the payload `payload[0, length)` to [users]; returns why it is invalid, or null. An invalid payload
     * may have been applied in part: the open fails then, and [users] is dropped.
     */
    private fun apply(
        payload: ByteArray,
        length: Int,
        users: HashMap<Long, User>,
    ): String? {
        val buffer = ByteBuffer.wrap(payload, 0, length).order(ByteOrder.LITTLE_ENDIAN)
        when (payload[0]) {
            WalFormat.PUT -> {
                if (length < WalFormat.PUT_FIXED) return "a put payload of $length bytes is too short"
                val id = buffer.getLong(1)
                val n = buffer.getShort(9).toInt() and 0xFFFF
                if (length != WalFormat.PUT_FIXED + n) {
                    return "the payload's length $length does not match its content (${WalFormat.PUT_FIXED + n})"
                }
                val user = user(payload, id, WalFormat.PUT_FIXED, n) ?: return invalidUser(payload, id, WalFormat.PUT_FIXED, n)
                users[id] = user
            }

            WalFormat.REMOVE -> {
                if (length != 1 + 8) return "the payload's length $length does not match its content (9)"
                val id = buffer.getLong(1)
                if (id < 0) return "id ${id.toULong()} is above ${Long.MAX_VALUE}"
                users.remove(id)
            }

            WalFormat.IMPORT -> {
                if (length < WalFormat.IMPORT_FIXED) return "an import payload of $length bytes is too short"
                val count = buffer.getInt(1).toLong() and 0xFFFFFFFFL
                if (count == 0L) return "an import of no users"
                var pos = WalFormat.IMPORT_FIXED
                for (index in 0 until count) {
                    if (length - pos < WalFormat.USER_FIXED) {
                        return "the payload's length $length does not match its content (user $index of $count runs past it)"
                    }
                    val id = buffer.getLong(pos)
                    val n = buffer.getShort(pos + 8).toInt() and 0xFFFF
                    pos += WalFormat.USER_FIXED
                    if (length - pos < n) {
                        return "the payload's length $length does not match its content (user $index of $count runs past it)"
                    }
                    val user = user(payload, id, pos, n) ?: return "user $index: " + invalidUser(payload, id, pos, n)
                    users[id] = user
                    pos += n
                }
                if (pos != length) return "the payload's length $length does not match its content ($pos)"
            }

            WalFormat.BATCH -> {
                return applyBatch(buffer, payload, length, users)
            }

            else -> {
                return "unknown record type ${payload[0].toInt() and 0xFF}"
            }
        }
        return null
    }

    /**
     * A batch payload (type 4): the whole payload is checked (lengths, users, ids, at least one put or remove, no
     * id both put and removed) before it is applied, puts in order, then removes. Returns why it is invalid, or
     * null.
     */
    private fun applyBatch(
        buffer: ByteBuffer,
        payload: ByteArray,
        length: Int,
        users: HashMap<Long, User>,
    ): String? {
        if (length < WalFormat.BATCH_FIXED) return "a batch payload of $length bytes is too short"
        val putCount = buffer.getInt(1).toLong() and 0xFFFFFFFFL
        // Each put takes at least USER_FIXED + 1 bytes: a count beyond that cannot fit (and is not allocated for).
        if (putCount > (length - WalFormat.BATCH_FIXED) / (WalFormat.USER_FIXED + 1)) {
            return "the payload's length $length does not match its content ($putCount puts cannot fit)"
        }
        val puts = ArrayList<User>(putCount.toInt())
        var pos = 1 + 4
        for (index in 0 until putCount) {
            if (length - pos < WalFormat.USER_FIXED) {
                return "the payload's length $length does not match its content (put $index of $putCount runs past it)"
            }
            val id = buffer.getLong(pos)
            val n = buffer.getShort(pos + 8).toInt() and 0xFFFF
            pos += WalFormat.USER_FIXED
            if (length - pos < n) {
                return "the payload's length $length does not match its content (put $index of $putCount runs past it)"
            }
            puts.add(user(payload, id, pos, n) ?: return "put $index: " + invalidUser(payload, id, pos, n))
            pos += n
        }
        if (length - pos < 4) return "the payload's length $length does not match its content (no remove count)"
        val removeCount = buffer.getInt(pos).toLong() and 0xFFFFFFFFL
        pos += 4
        if (removeCount * WalFormat.ID_BYTES != (length - pos).toLong()) {
            return "the payload's length $length does not match its content (${pos + removeCount * WalFormat.ID_BYTES})"
        }
        if (putCount + removeCount == 0L) return "a batch of no puts and no removes"
        val removes = LongArray(removeCount.toInt()) { buffer.getLong(pos + it * WalFormat.ID_BYTES) }
        val putIds = if (removes.isEmpty()) emptySet() else puts.mapTo(HashSet(puts.size * 2)) { it.id }
        for (id in removes) {
            if (id < 0) return "removed id ${id.toULong()} is above ${Long.MAX_VALUE}"
            if (id in putIds) return "id $id is both put and removed"
        }
        for (user in puts) users[user.id] = user
        for (id in removes) users.remove(id)
        return null
    }

    /** The user with [id] and the [n]-byte name at [at], or null when it breaks the rules (see [invalidUser]). */
    private fun user(
        payload: ByteArray,
        id: Long,
        at: Int,
        n: Int,
    ): User? {
        if (id < 0 || n < 1 || n > WalFormat.MAX_NAME_BYTES) return null
        val codePoints = Snapshot.checkUtf8(payload, at, n)
        if (codePoints < 0 || codePoints > StrictJson.MAX_NAME_CODE_POINTS) return null
        return User(id, String(payload, at, n, Charsets.UTF_8))
    }

    /** Why [user] refused its arguments. */
    private fun invalidUser(
        payload: ByteArray,
        id: Long,
        at: Int,
        n: Int,
    ): String {
        if (id < 0) return "id ${id.toULong()} is above ${Long.MAX_VALUE}"
        if (n < 1 || n > WalFormat.MAX_NAME_BYTES) return "name length $n is not in 1..=${WalFormat.MAX_NAME_BYTES} bytes"
        val codePoints = Snapshot.checkUtf8(payload, at, n)
        if (codePoints < 0) return "the name is not valid UTF-8 (invalid byte at offset ${-codePoints - 1})"
        return "invalid name: the name is too long: $codePoints code points (at most ${StrictJson.MAX_NAME_CODE_POINTS})"
    }

    private fun damaged(
        path: Path,
        offset: Long,
        reason: String,
    ) = CorruptSnapshotException("log $path is corrupt: damaged record at offset $offset ($reason)")

    private fun damagedHeader(
        path: Path,
        reason: String,
    ) = CorruptSnapshotException("log $path is corrupt: damaged header at offset 0 ($reason)")

    private fun readFully(
        channel: FileChannel,
        buffer: ByteBuffer,
        at: Long,
    ) {
        var position = at
        while (buffer.hasRemaining()) {
            val n = channel.read(buffer, position)
            if (n < 0) throw IOException("the file ended at offset $position while it was read")
            position += n
        }
    }

    private fun isZero(
        bytes: ByteArray,
        length: Int,
    ): Boolean {
        for (i in 0 until length) if (bytes[i] != 0.toByte()) return false
        return true
    }

    /** Whether every byte from [from] to [size] is zero. */
    private fun zeroFrom(
        channel: FileChannel,
        from: Long,
        size: Long,
    ): Boolean {
        val buffer = ByteBuffer.allocate(64 * 1024)
        var position = from
        while (position < size) {
            buffer.clear()
            if (size - position < buffer.capacity()) buffer.limit((size - position).toInt())
            readFully(channel, buffer, position)
            if (!isZero(buffer.array(), buffer.limit())) return false
            position += buffer.limit()
        }
        return true
    }
}
