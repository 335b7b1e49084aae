package dev.userstore.postgres

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

        companion object {
            const val DEFAULT_PUBLICATION = "userstore_users"
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
 * the process). A durable store will keep it with its data (to come; see docs/POSTGRES.md).
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
