package dev.userstore.postgres

import dev.userstore.Sync
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.channels.FileChannel
import java.nio.file.Files
import java.nio.file.NoSuchFileException
import java.nio.file.Path
import java.nio.file.StandardCopyOption
import java.nio.file.StandardOpenOption
import java.time.Duration
import java.util.concurrent.atomic.AtomicLong

/**
 * How a [PostgresReplica] runs. Kotlin: `ReplicaOptions(slotName = "api_1")`; Java:
 * `new ReplicaOptions().withSlotName("api_1").withPublication("userstore_users")`.
 *
 * @property slotName null (the default): a TEMPORARY replication slot with a random name, which PostgreSQL
 *   drops when the connection ends (a reconnect copies the table again). A name (`[a-z0-9_]`, at most 63
 *   characters): a named slot that survives disconnects and restarts, so a reconnect resumes the stream from
 *   the [positionStore]'s position without a copy; it keeps WAL on the server until dropped
 *   ([PostgresReplica.dropSlot]), see docs/POSTGRES.md.
 * @property publication the publication streamed (created `FOR TABLE users` if missing)
 * @property minBackoff first wait before a reconnect; doubled after each failure up to [maxBackoff]
 * @property maxBackoff longest wait between reconnect attempts
 * @property positionStore where the applied position is kept (see [PositionStore]); null = in memory
 * @property copyBatchSize rows fetched per round trip by the initial copy, and users per `putAll` batch when the
 *   copy fills an empty store
 * @property statusInterval how often the applied position is reported to PostgreSQL when nothing else asks
 * @property listener told about every transaction applied from the stream (commit LSN, rows, commit-to-apply
 *   delay), on the replica's thread; see [ReplicaListener]. null (the default): none
 */
data class ReplicaOptions
    @JvmOverloads
    constructor(
        val slotName: String? = null,
        val publication: String = DEFAULT_PUBLICATION,
        val minBackoff: Duration = Duration.ofMillis(100),
        val maxBackoff: Duration = Duration.ofSeconds(10),
        val positionStore: PositionStore? = null,
        val copyBatchSize: Int = 10_000,
        val statusInterval: Duration = Duration.ofSeconds(1),
        val listener: ReplicaListener? = null,
    ) {
        init {
            require(slotName == null || IDENT.matches(slotName)) { "slot name must match [a-z0-9_]{1,63}: $slotName" }
            require(IDENT.matches(publication)) { "publication name must match [a-z0-9_]{1,63}: $publication" }
            require(!minBackoff.isNegative && !minBackoff.isZero) { "minBackoff must be positive" }
            require(maxBackoff >= minBackoff) { "maxBackoff must be >= minBackoff" }
            require(copyBatchSize > 0) { "copyBatchSize must be positive" }
            require(!statusInterval.isNegative && !statusInterval.isZero) { "statusInterval must be positive" }
        }

        fun withSlotName(slotName: String?) = copy(slotName = slotName)

        fun withPublication(publication: String) = copy(publication = publication)

        fun withBackoff(
            min: Duration,
            max: Duration,
        ) = copy(minBackoff = min, maxBackoff = max)

        fun withPositionStore(positionStore: PositionStore?) = copy(positionStore = positionStore)

        fun withCopyBatchSize(copyBatchSize: Int) = copy(copyBatchSize = copyBatchSize)

        fun withStatusInterval(statusInterval: Duration) = copy(statusInterval = statusInterval)

        /** These options with [listener] (null: none); Java: `options.withListener(tx -> timer.record(tx.getCommitDelay()))`. */
        fun withListener(listener: ReplicaListener?) = copy(listener = listener)

        companion object {
            const val DEFAULT_PUBLICATION = "userstore_users"

            /**
             * The options of a durable replica: the named slot [slotName] (required: the slot must be found
             * again after a restart, so the caller chooses a stable name, one per replica) and
             * [PositionStore.file] on [dataDir], the directory the store was opened on with
             * `openDurable(dataDir, Sync.ALWAYS)`. A restart with the same directory and slot resumes from the
             * saved position without a copy. Retire the replica with [PostgresReplica.dropSlot].
             *
             * @throws IllegalArgumentException as [PositionStore.file] (a [sync] other than ALWAYS) or for a bad
             *   slot name
             */
            @JvmStatic
            @JvmOverloads
            fun durable(
                slotName: String,
                dataDir: Path,
                sync: Sync = Sync.ALWAYS,
            ): ReplicaOptions = ReplicaOptions(slotName = slotName, positionStore = PositionStore.file(dataDir, sync))

            private val IDENT = Regex("[a-z0-9_]{1,63}")
        }
    }

/**
 * Where a replica keeps the WAL position (LSN) its store's data is complete up to. The replica calls
 * [save] after each source transaction is applied to the store, and reports a position to PostgreSQL as
 * flushed (letting a named slot free the WAL before it) only once [save] returned for it. On start with a
 * named slot, [load] tells where to resume: null means "the store's content is not known to match any
 * position", and the replica then copies the table again.
 *
 * Applying is at-least-once: if the process dies between a batch and its [save], the restart re-applies the
 * transactions after the saved position; each batch sets every id it touches to its final value, so
 * re-applying in order converges to the same content.
 *
 * The default keeps the position in memory (right for a store that is not durable: its content is gone with
 * the process). A durable store keeps it with its data: [file] (see docs/POSTGRES.md, "A durable replica").
 */
interface PositionStore {
    /** The saved position, or null if none. */
    fun load(): Long?

    /** Saves [lsn]; returns only once it is as durable as the store's data it describes. */
    fun save(lsn: Long)

    companion object {
        /** A position kept in memory only. */
        @JvmStatic
        fun inMemory(): PositionStore =
            object : PositionStore {
                private val value = AtomicLong(-1)

                override fun load(): Long? = value.get().takeIf { it >= 0 }

                override fun save(lsn: Long) = value.set(lsn)
            }

        /**
         * The position kept in the file [FilePositionStore.FILE_NAME] inside [dataDir], the data directory of a
         * store opened with `openDurable(dataDir, sync)`: read at start, and replaced atomically by each [save]
         * (see [FilePositionStore]). The replica calls [save] only after `applyBatch` returned, so the file
         * never names a position the store's log does not hold durably.
         *
         * @param sync the store's [Sync]; only [Sync.ALWAYS] is accepted. With [Sync.BATCH] or [Sync.NONE],
         *   `applyBatch` returns while its log record is still in a buffer, so a saved (and reported) position
         *   could get ahead of the data a crash keeps: PostgreSQL would free transactions this store lost, and
         *   the replica would silently miss them. Waiting for the next background sync instead is not offered:
         *   the store does not say when a given record is synced.
         * @throws IllegalArgumentException for [Sync.BATCH] or [Sync.NONE], or if [dataDir] is not a directory
         * @throws java.io.IOException naming the file if an existing position file cannot be read or is damaged
         */
        @JvmStatic
        @JvmOverloads
        fun file(
            dataDir: Path,
            sync: Sync = Sync.ALWAYS,
        ): PositionStore = FilePositionStore(dataDir, sync)
    }
}

/**
 * [PositionStore.file]: one line `lsn X/Y` (PostgreSQL's notation) in `DIR/replica-position`. [save] writes
 * `DIR/replica-position.tmp`, fsyncs it, renames it over the file and fsyncs the directory, so the file holds
 * the old or the new position, whole, after any crash. The name is not one of the store's own (`log-*.wal`,
 * `snapshot-*.snap`, `.*.tmp`), so the store leaves it alone. Hand-written: a few lines of `java.nio`; no
 * library does an atomic small-file replace with the directory fsync.
 */
class FilePositionStore internal constructor(
    dataDir: Path,
    sync: Sync,
) : PositionStore {
    /** The position file. */
    val path: Path = dataDir.resolve(FILE_NAME)
    private val temp: Path = dataDir.resolve("$FILE_NAME.tmp")
    private val dir = dataDir

    init {
        require(sync == Sync.ALWAYS) {
            "a durable replica needs its store opened with Sync.ALWAYS, not Sync.$sync: with BATCH or NONE a " +
                "transaction is acknowledged before its log record is synced, so the saved position could get " +
                "ahead of the data a crash keeps and the replica would miss those transactions"
        }
        require(Files.isDirectory(dataDir)) { "not a directory: $dataDir (open the durable store on it first)" }
        load() // a damaged file fails here, at start, rather than on the replica's thread
    }

    override fun load(): Long? {
        val text =
            try {
                Files.readString(path)
            } catch (e: NoSuchFileException) {
                return null
            }
        val m =
            LINE.matchEntire(text)
                ?: throw IOException("$path: damaged replica position (expected one line \"lsn X/Y\"): ${text.take(80)}")
        return (m.groupValues[1].toLong(16) shl 32) or m.groupValues[2].toLong(16)
    }

    override fun save(lsn: Long) {
        require(lsn >= 0) { "negative position $lsn" }
        val bytes = "lsn ${java.lang.Long.toHexString(
            lsn ushr 32,
        ).uppercase()}/${java.lang.Long.toHexString(lsn and 0xFFFFFFFFL).uppercase()}\n"
        FileChannel.open(temp, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING).use { ch ->
            val buf = ByteBuffer.wrap(bytes.toByteArray(Charsets.US_ASCII))
            while (buf.hasRemaining()) ch.write(buf)
            ch.force(false)
        }
        Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING)
        FileChannel.open(dir, StandardOpenOption.READ).use { it.force(true) }
    }

    companion object {
        /** The position file's name inside the data directory. */
        const val FILE_NAME = "replica-position"
        private val LINE = Regex("lsn ([0-9A-F]{1,8})/([0-9A-F]{1,8})\n")
    }
}

/**
 * How far a replica is behind ([PostgresReplica.lag]).
 *
 * @property bytes WAL bytes between the server's current flush position and the replica's applied position
 *   (0 when caught up; null when the server could not be asked). Counts all of the server's WAL, other
 *   tables' and databases' too: it says how much the replica still has to read, not how many rows.
 * @property lastCommitDelay for the last applied transaction, the time from its commit on the server to its
 *   apply here (server clock vs this clock: meaningful on one machine or with synchronised clocks); null
 *   before the first streamed transaction.
 */
data class ReplicaLag(
    val bytes: Long?,
    val lastCommitDelay: Duration?,
)
