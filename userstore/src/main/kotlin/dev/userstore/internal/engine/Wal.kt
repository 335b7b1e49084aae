package dev.userstore.internal.engine

import dev.userstore.DurabilityException
import dev.userstore.StoreClosedException
import dev.userstore.Sync
import dev.userstore.User
import dev.userstore.internal.DirectoryLock
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.channels.FileChannel
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.StandardCopyOption
import java.nio.file.StandardOpenOption
import java.util.concurrent.Executors
import java.util.concurrent.ScheduledExecutorService
import java.util.concurrent.TimeUnit
import java.util.concurrent.locks.ReentrantLock
import java.util.zip.CRC32

/**
 * Runs [block] with this thread's interrupt status cleared, and sets it again after: an interrupt during
 * `FileChannel` I/O closes the channel (`ClosedByInterruptException`), which would break the log for every
 * writer. An interrupt that arrives during the I/O itself still does: the store then fails its writes with
 * [DurabilityException] until it is reopened.
 */
internal inline fun <T> uninterruptibly(block: () -> T): T {
    val interrupted = Thread.interrupted()
    try {
        return block()
    } finally {
        if (interrupted) Thread.currentThread().interrupt()
    }
}

/**
 * The write-ahead log format of docs/DURABILITY.md (version 1), in Kotlin: the twin of `src/core/wal.rs`.
 * Both write the same bytes for the same calls.
 */
internal object WalFormat {
    /** `\x89USWAL\r\n`. */
    val MAGIC =
        byteArrayOf(
            0x89.toByte(),
            'U'.code.toByte(),
            'S'.code.toByte(),
            'W'.code.toByte(),
            'A'.code.toByte(),
            'L'.code.toByte(),
            0x0D,
            0x0A,
        )
    const val VERSION = 1
    const val HEADER_BYTES = 28
    const val RECORD_HEADER_BYTES = 12

    /** The largest payload: 1 GiB. */
    const val MAX_PAYLOAD = 1 shl 30
    const val PUT: Byte = 1
    const val REMOVE: Byte = 2
    const val IMPORT: Byte = 3
    const val BATCH: Byte = 4
    const val MAX_NAME_BYTES = 1024

    /** Bytes of a put payload besides the name: type, id, name length. */
    const val PUT_FIXED = 1 + 8 + 2

    /** Bytes of an import payload besides its users: type, count. */
    const val IMPORT_FIXED = 1 + 4

    /** Bytes of one user of an import or a batch besides the name: id, name length. */
    const val USER_FIXED = 8 + 2

    /** Bytes of a batch payload besides its users and ids: type, put count, remove count. */
    const val BATCH_FIXED = 1 + 4 + 4

    /** Bytes of one removed id of a batch. */
    const val ID_BYTES = 8

    private const val DIGITS = 20

    fun logName(generation: Long): String = "log-${pad(generation)}.wal"

    fun snapshotName(generation: Long): String = "snapshot-${pad(generation)}.snap"

    private fun pad(generation: Long): String =
        java.lang.Long
            .toUnsignedString(generation)
            .padStart(DIGITS, '0')

    /** The generation of a file named `PREFIX` + 20 digits + `SUFFIX`, or null for any other name. */
    fun generation(
        name: String,
        prefix: String,
        suffix: String,
    ): Long? {
        if (name.length != prefix.length + DIGITS + suffix.length || !name.startsWith(prefix) || !name.endsWith(suffix)) return null
        val digits = name.substring(prefix.length, prefix.length + DIGITS)
        if (!digits.all { it in '0'..'9' }) return null
        val value = digits.toULongOrNull() ?: return null
        return if (value > Long.MAX_VALUE.toULong()) null else value.toLong()
    }

    /** Whether [name] is a temporary file of an atomic write (`.*.tmp`). */
    fun isTemporary(name: String): Boolean = name.startsWith(".") && name.endsWith(".tmp")

    /** The 28-byte header of the log of [generation]. */
    fun header(generation: Long): ByteArray {
        val buffer = ByteBuffer.allocate(HEADER_BYTES).order(ByteOrder.LITTLE_ENDIAN)
        buffer
            .put(MAGIC)
            .putInt(VERSION)
            .putInt(0)
            .putLong(generation)
        val crc = CRC32()
        crc.update(buffer.array(), 0, HEADER_BYTES - 4)
        buffer.putInt(crc.value.toInt())
        return buffer.array()
    }

    /**
     * The import records of [users] (whose UTF-8 names are [names]): one record, or several consecutive ones
     * when one would pass [maxPayload] bytes, each filled greedily (docs/DURABILITY.md). Each array is a whole
     * record: length, check, CRC-32 and payload.
     */
    fun importRecords(
        users: List<User>,
        names: List<ByteArray>,
        maxPayload: Int = MAX_PAYLOAD,
    ): List<ByteArray> {
        val records = ArrayList<ByteArray>(1)
        var from = 0
        while (from < users.size) {
            var payload = IMPORT_FIXED.toLong()
            var to = from
            while (to < users.size) {
                val next = payload + USER_FIXED + names[to].size
                if (next > maxPayload && to > from) break
                payload = next
                to++
            }
            val record = ByteArray(RECORD_HEADER_BYTES + payload.toInt())
            val buffer = ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN)
            buffer.position(RECORD_HEADER_BYTES)
            buffer.put(IMPORT).putInt(to - from)
            for (i in from until to) {
                buffer.putLong(users[i].id).putShort(names[i].size.toShort()).put(names[i])
            }
            seal(buffer, 0, payload.toInt(), CRC32())
            records.add(record)
            from = to
        }
        return records
    }

    /**
     * The payload length of a batch record putting users whose UTF-8 names take [nameBytes] bytes in all
     * ([puts] users) and removing [removes] ids (docs/DURABILITY.md, type 4). May pass [MAX_PAYLOAD]: the caller
     * refuses such a batch.
     */
    fun batchPayload(
        puts: Int,
        nameBytes: Long,
        removes: Int,
    ): Long = BATCH_FIXED + puts.toLong() * USER_FIXED + nameBytes + removes.toLong() * ID_BYTES

    /**
     * The batch record (docs/DURABILITY.md, payload type 4) putting [puts] (whose UTF-8 names are [names]) in
     * order, then removing [removed]: length, check, CRC-32 and payload. The caller checked the rules: at least
     * one put or remove, no id both put and removed, a payload of at most [MAX_PAYLOAD] bytes.
     */
    fun batchRecord(
        puts: List<User>,
        names: List<ByteArray>,
        removed: LongArray,
    ): ByteArray {
        val payload = batchPayload(puts.size, names.sumOf { it.size.toLong() }, removed.size)
        require(payload <= MAX_PAYLOAD) { "a batch record of $payload bytes passes the largest payload, $MAX_PAYLOAD" }
        val record = ByteArray(RECORD_HEADER_BYTES + payload.toInt())
        val buffer = ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN)
        buffer.position(RECORD_HEADER_BYTES)
        buffer.put(BATCH).putInt(puts.size)
        for (i in puts.indices) buffer.putLong(puts[i].id).putShort(names[i].size.toShort()).put(names[i])
        buffer.putInt(removed.size)
        for (id in removed) buffer.putLong(id)
        seal(buffer, 0, payload.toInt(), CRC32())
        return record
    }

    /** Writes the length, check and CRC-32 of the record at [at] of [buffer], whose [length]-byte payload follows. */
    fun seal(
        buffer: ByteBuffer,
        at: Int,
        length: Int,
        crc: CRC32,
    ) {
        crc.reset()
        crc.update(buffer.array(), buffer.arrayOffset() + at + RECORD_HEADER_BYTES, length)
        buffer.putInt(at, length)
        buffer.putInt(at + 4, length.inv())
        buffer.putInt(at + 8, crc.value.toInt())
    }

    /**
     * Creates `log-G.wal` in [dir] holding only its header (written to a temporary file, synced, renamed, the
     * directory synced) and returns a channel writing at its end.
     */
    fun createLog(
        dir: Path,
        generation: Long,
    ): FileChannel {
        val path = dir.resolve(logName(generation))
        val temp = dir.resolve(".${logName(generation)}.tmp")
        try {
            FileChannel
                .open(temp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)
                .use { channel ->
                    val header = ByteBuffer.wrap(header(generation))
                    while (header.hasRemaining()) channel.write(header)
                    channel.force(true)
                }
            Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE)
        } catch (e: IOException) {
            try {
                Files.deleteIfExists(temp)
            } catch (suppressed: IOException) {
                e.addSuppressed(suppressed)
            }
            throw IOException("log $path: cannot create: $e", e)
        }
        Snapshot.forceDirectory(dir)
        return try {
            FileChannel.open(path, StandardOpenOption.WRITE).also { it.position(HEADER_BYTES.toLong()) }
        } catch (e: IOException) {
            throw IOException("log $path: cannot open: $e", e)
        }
    }
}

/**
 * The records appended to the log and not yet written: small records are encoded into [staging]; a large one
 * (an import) is kept as its own array in [chunks], after the staging bytes that came before it.
 */
private class Pending {
    var staging: ByteBuffer = newStaging()
    val chunks = ArrayList<ByteBuffer>()
    var bytes = 0L

    /** Room for [n] more bytes in [staging]. */
    fun ensure(n: Int) {
        if (staging.remaining() >= n) return
        val grown = ByteBuffer.allocate(maxOf(staging.capacity() * 2, staging.position() + n)).order(ByteOrder.LITTLE_ENDIAN)
        staging.flip()
        grown.put(staging)
        staging = grown
    }

    /** Appends [record], a whole record: copied when small, else kept as it is. */
    fun add(record: ByteArray) {
        if (record.size <= LARGE_RECORD) {
            ensure(record.size)
            staging.put(record)
        } else {
            seal()
            chunks.add(ByteBuffer.wrap(record))
        }
        bytes += record.size
    }

    /** Moves the staged bytes into [chunks], so that what follows is written after them. */
    private fun seal() {
        if (staging.position() == 0) return
        staging.flip()
        chunks.add(staging)
        staging = newStaging()
    }

    /** Writes everything to [channel] (at its position). */
    fun writeTo(channel: FileChannel) {
        seal()
        val buffers = chunks.toTypedArray()
        var left = bytes
        while (left > 0) left -= channel.write(buffers)
    }

    fun reset() {
        chunks.clear()
        staging.clear()
        if (staging.capacity() > KEEP_BYTES) staging = newStaging()
        bytes = 0
    }

    private companion object {
        const val INITIAL_BYTES = 64 * 1024
        const val KEEP_BYTES = 2 shl 20
        const val LARGE_RECORD = 64 * 1024

        fun newStaging(): ByteBuffer = ByteBuffer.allocate(INITIAL_BYTES).order(ByteOrder.LITTLE_ENDIAN)
    }
}

/**
 * The running write-ahead log of a durable [dev.userstore.KotlinUserStore] (docs/DURABILITY.md).
 *
 * Locks, always taken in this order: [checkpointLock] (one checkpoint or close at a time), [ioLock] (the one
 * thread writing or syncing the file: the group-commit leader, the background thread, a checkpoint or close),
 * [lock] (the writer lock: the store applies a change and appends its record under it, so the log's order is
 * the order of the changes; held only for that, and by the leader for the moment it swaps the buffers). All are
 * [ReentrantLock]s, so a virtual thread waiting for one does not pin its carrier.
 *
 * Offsets ([appended], [written], [durable]) count the bytes of records appended since open; a write's ticket
 * is [appended] after its record, and the write is durable once [durable] reaches it.
 */
internal class Wal(
    private val dir: Path,
    private val sync: Sync,
    private val checkpointLogBytes: Long,
    private val dirLock: DirectoryLock,
    private var channel: FileChannel,
    generation: Long,
    logBytes: Long,
) {
    /** The writer lock; see the class comment. */
    val lock = ReentrantLock()
    private val ioLock = ReentrantLock()
    private val checkpointLock = ReentrantLock()

    /** Group commit ([syncTo]): guards [leading]; [leaderDone] is signalled when a leader is done. */
    private val leaderLock = ReentrantLock()
    private val leaderDone = leaderLock.newCondition()
    private var leading = false

    /** Under [lock]. */
    private var pending = Pending()

    /** Under [ioLock]: the buffer being written. */
    private var spare = Pending()

    /** Under [lock]. */
    private val crc = CRC32()

    @Volatile private var appended = 0L

    /** [appended] when the buffers were last swapped: what is still buffered is [appended] minus this. */
    @Volatile private var taken = 0L

    @Volatile private var written = 0L

    @Volatile private var durable = 0L

    @Volatile private var syncs = 0L

    @Volatile private var generation = generation

    /** [appended] when the current log was started (0 at open), and the log's size then. */
    @Volatile private var logStartOffset = 0L

    @Volatile private var logStartBytes = logBytes

    /** Checkpoints completed (all five steps) since open; written under [checkpointLock]. */
    @Volatile private var checkpoints = 0L

    /** The first failed write or sync, message and cause; the store then refuses writes, each with this cause. */
    @Volatile private var failure: Failure? = null

    @Volatile private var closed = false

    /** Where a checkpoint takes the store's content from: users sorted by id. */
    private var content: (() -> List<User>)? = null

    private var syncThread: ScheduledExecutorService? = null

    /** Starts the log: [content] gives the store's users for checkpoints; starts the background thread if needed. */
    fun start(content: () -> List<User>) {
        this.content = content
        if (sync != Sync.ALWAYS) {
            val executor =
                Executors.newSingleThreadScheduledExecutor { task ->
                    Thread(task, SYNC_THREAD_NAME).apply { isDaemon = true }
                }
            executor.scheduleWithFixedDelay(::tick, Sync.BATCH_INTERVAL_MILLIS, Sync.BATCH_INTERVAL_MILLIS, TimeUnit.MILLISECONDS)
            syncThread = executor
        }
    }

    private val logPath: Path get() = dir.resolve(WalFormat.logName(generation))

    /** Under [lock], before a change: refuses it on a closed or failed log. */
    fun checkWritable() {
        if (closed) throw StoreClosedException()
        failure?.let { throw it.exception() }
    }

    /** Under [lock]: appends a put record; returns the write's ticket. */
    fun appendPut(
        id: Long,
        name: ByteArray,
    ): Long {
        val length = WalFormat.PUT_FIXED + name.size
        val p = pending
        p.ensure(WalFormat.RECORD_HEADER_BYTES + length)
        val buffer = p.staging
        val at = buffer.position()
        buffer.position(at + WalFormat.RECORD_HEADER_BYTES)
        buffer
            .put(WalFormat.PUT)
            .putLong(id)
            .putShort(name.size.toShort())
            .put(name)
        WalFormat.seal(buffer, at, length, crc)
        return added(p, WalFormat.RECORD_HEADER_BYTES + length)
    }

    /** Under [lock]: appends a remove record; returns the write's ticket. */
    fun appendRemove(id: Long): Long {
        val length = 1 + 8
        val p = pending
        p.ensure(WalFormat.RECORD_HEADER_BYTES + length)
        val buffer = p.staging
        val at = buffer.position()
        buffer.position(at + WalFormat.RECORD_HEADER_BYTES)
        buffer.put(WalFormat.REMOVE).putLong(id)
        WalFormat.seal(buffer, at, length, crc)
        return added(p, WalFormat.RECORD_HEADER_BYTES + length)
    }

    /** Under [lock]: appends whole records (from [WalFormat.importRecords]); returns the write's ticket. */
    fun appendRecords(records: List<ByteArray>): Long {
        var total = 0L
        for (record in records) {
            pending.add(record)
            total += record.size
        }
        appended += total
        return appended
    }

    private fun added(
        p: Pending,
        bytes: Int,
    ): Long {
        p.bytes += bytes
        appended += bytes
        return appended
    }

    /**
     * After [lock] is released: waits until the write with [ticket] is durable as the mode says, writes the
     * buffer out when it reached 1 MiB, and runs a checkpoint when the write left the log at
     * `checkpointLogBytes` or more.
     */
    fun commit(ticket: Long) {
        if (sync == Sync.ALWAYS) {
            if (durable < ticket) syncTo(ticket)
        } else if (appended - taken >= FLUSH_BYTES) {
            ioLock.lock()
            try {
                if (!closed && failure == null && appended - taken >= FLUSH_BYTES) writeOut(force = false)
            } finally {
                ioLock.unlock()
            }
        }
        if (checkpointDue(ticket)) {
            checkpointLock.lock()
            try {
                if (!closed && checkpointDue(ticket)) uninterruptibly { checkpointLocked() }
            } finally {
                checkpointLock.unlock()
            }
        }
    }

    /** Whether the write with [ticket] went to the current log and left it at `checkpointLogBytes` or more. */
    private fun checkpointDue(ticket: Long): Boolean {
        val start = logStartOffset
        return ticket > start && logStartBytes + (ticket - start) >= checkpointLogBytes
    }

    /**
     * Group commit: a writer whose record is not durable yet becomes the leader if there is none, writes and
     * syncs every record buffered so far, then wakes all the others at once; the others wait on [leaderDone]
     * (not in the queue of [ioLock], which would wake them one after another, each holding up the next).
     */
    private fun syncTo(ticket: Long) {
        while (true) {
            leaderLock.lock()
            try {
                while (true) {
                    if (durable >= ticket) return
                    failure?.let { throw it.exception() }
                    if (closed) throw StoreClosedException()
                    if (!leading) break
                    leaderDone.awaitUninterruptibly()
                }
                leading = true
            } finally {
                leaderLock.unlock()
            }
            try {
                ioLock.lock()
                try {
                    if (durable < ticket && !closed && failure == null) writeOut(force = true)
                } finally {
                    ioLock.unlock()
                }
            } finally {
                leaderLock.lock()
                try {
                    leading = false
                    leaderDone.signalAll()
                } finally {
                    leaderLock.unlock()
                }
            }
        }
    }

    /** Under [ioLock]: takes the buffered records, writes them, and syncs if [force]. */
    private fun writeOut(force: Boolean) {
        val batch: Pending
        val end: Long
        lock.lock()
        try {
            batch = pending
            pending = spare
            spare = batch
            end = appended
            taken = end
        } finally {
            lock.unlock()
        }
        writeBatch(batch, end, force)
    }

    /** Under [ioLock]: writes [batch] (the records up to offset [end]), then syncs if [force]. */
    private fun writeBatch(
        batch: Pending,
        end: Long,
        force: Boolean,
    ) {
        // An interrupt during FileChannel I/O closes the channel; keep a pending interrupt for after the I/O.
        val interrupted = Thread.interrupted()
        try {
            if (batch.bytes > 0) {
                batch.writeTo(channel)
                written = end
            }
            if (force && durable < written) {
                channel.force(false)
                syncs++
                durable = written
            }
        } catch (e: IOException) {
            val failed = Failure("log $logPath: cannot write or sync: $e", e)
            failure = failed
            throw failed.exception()
        } finally {
            batch.reset()
            if (interrupted) Thread.currentThread().interrupt()
        }
    }

    /** The background thread of [Sync.BATCH] and [Sync.NONE]: writes the buffer (and syncs it for BATCH). */
    private fun tick() {
        if (closed || failure != null) return
        if (appended == written && (sync == Sync.NONE || durable == written)) return
        ioLock.lock()
        try {
            if (!closed && failure == null) writeOut(force = sync == Sync.BATCH)
        } catch (_: RuntimeException) {
            // Recorded in failure: the next write throws it.
        } finally {
            ioLock.unlock()
        }
    }

    /** A checkpoint (docs/DURABILITY.md, "Checkpoints"). */
    fun checkpoint() {
        checkpointLock.lock()
        try {
            uninterruptibly { checkpointLocked() }
        } finally {
            checkpointLock.unlock()
        }
    }

    /** Under [checkpointLock]. */
    private fun checkpointLocked() {
        val retired: Long
        val users: List<User>
        ioLock.lock()
        try {
            lock.lock()
            try {
                checkWritable()
                // 1. Write out and sync the current log.
                val batch = pending
                pending = spare
                spare = batch
                val end = appended
                taken = end
                writeBatch(batch, end, force = true)
                // 2. Start the next log and send every later write there.
                retired = generation
                val next = WalFormat.createLog(dir, retired + 1)
                val old = channel
                channel = next
                generation = retired + 1
                logStartBytes = WalFormat.HEADER_BYTES.toLong()
                logStartOffset = end
                try {
                    old.close()
                } catch (_: IOException) {
                    // Its records are synced; nothing more is written to it.
                }
                // 3. Take the content; the writers go on after this.
                users = (content ?: error("the log was not started"))()
            } finally {
                lock.unlock()
            }
        } finally {
            ioLock.unlock()
        }
        // 4. The snapshot of the new generation, atomically.
        Snapshot.save(dir.resolve(WalFormat.snapshotName(retired + 1)), users)
        // 5. The files of the generations up to the retired one.
        deleteGenerations(dir, below = retired + 1)
        checkpoints++
    }

    /** Flushes and syncs the buffered records, closes the log and releases the directory. Idempotent. */
    fun close() {
        checkpointLock.lock()
        try {
            ioLock.lock()
            try {
                lock.lock()
                try {
                    if (closed) return
                    closed = true
                } finally {
                    lock.unlock()
                }
                syncThread?.shutdown()
                var error: DurabilityException? = null
                uninterruptibly {
                    if (failure == null) {
                        try {
                            writeOut(force = true)
                        } catch (e: DurabilityException) {
                            error = e
                        }
                    }
                    try {
                        channel.close()
                    } catch (_: IOException) {
                        // Everything written was synced above.
                    }
                    dirLock.close()
                }
                error?.let { throw it }
            } finally {
                ioLock.unlock()
            }
        } finally {
            checkpointLock.unlock()
        }
    }

    /**
     * A failed write or sync: every write after it throws a new [DurabilityException] with this message and the
     * [IOException] that caused it as its cause (a new exception each time: threads do not share one instance).
     */
    private class Failure(
        val message: String,
        val cause: IOException,
    ) {
        fun exception() = DurabilityException(message, cause)
    }

    /** `{appended, durable, syncs, generation}`. */
    fun stats(): LongArray = longArrayOf(appended, durable, syncs, generation)

    /**
     * The current log's size: its header and every record appended to it, the ones still buffered included (the
     * size the automatic checkpoint counts, docs/DURABILITY.md), so it does not depend on when the buffer was
     * written out.
     */
    fun logBytes(): Long {
        lock.lock()
        try {
            return logStartBytes + (appended - logStartOffset)
        } finally {
            lock.unlock()
        }
    }

    /** Checkpoints completed since open. */
    fun checkpoints(): Long = checkpoints

    companion object {
        /** The name of the background thread of [Sync.BATCH] and [Sync.NONE]. */
        const val SYNC_THREAD_NAME = "userstore-wal-sync"

        /** A buffer this large is written out by the writer that filled it. */
        const val FLUSH_BYTES = 1L shl 20

        /** Deletes the snapshots and logs of the generations below [below] in [dir], then syncs the directory. */
        fun deleteGenerations(
            dir: Path,
            below: Long,
        ) {
            val names =
                try {
                    Files.list(dir).use { files -> files.map { it.fileName.toString() }.toList() }
                } catch (e: IOException) {
                    throw IOException("data directory $dir: cannot list: $e", e)
                }
            var deleted = false
            for (name in names) {
                val g = WalFormat.generation(name, "snapshot-", ".snap") ?: WalFormat.generation(name, "log-", ".wal") ?: continue
                if (g >= below) continue
                val path = dir.resolve(name)
                try {
                    Files.deleteIfExists(path)
                } catch (e: IOException) {
                    throw IOException("$path: cannot delete: $e", e)
                }
                deleted = true
            }
            if (deleted) Snapshot.forceDirectory(dir)
        }
    }
}
