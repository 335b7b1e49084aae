package dev.userstore.postgres

import dev.userstore.InvalidUserException
import dev.userstore.StoreClosedException
import dev.userstore.User
import dev.userstore.UserStore
import org.postgresql.PGConnection
import org.postgresql.replication.LogSequenceNumber
import org.postgresql.replication.PGReplicationStream
import java.lang.System.Logger.Level
import java.security.SecureRandom
import java.sql.Connection
import java.sql.DriverManager
import java.sql.SQLException
import java.time.Duration
import java.time.Instant
import java.util.concurrent.ThreadLocalRandom
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong
import java.util.concurrent.locks.LockSupport
import java.util.concurrent.locks.ReentrantLock
import kotlin.concurrent.withLock

/** Where a [PostgresReplica] is in its cycle. */
enum class ReplicaState {
    /** Connecting, creating the schema, the publication or the slot. */
    CONNECTING,

    /** Copying the table (initial copy, or a new copy after a reconnect with a temporary slot). */
    COPYING,

    /** Streaming changes: the store follows the table. */
    STREAMING,

    /** The connection failed; waiting before the next attempt. The store keeps its last applied state. */
    RECONNECTING,

    /** Closed, or stopped because the store was closed. */
    CLOSED,
}

/**
 * Keeps a [UserStore] equal to the PostgreSQL table `users(id bigint primary key, name text not null)` by
 * logical replication (the `pgoutput` plugin, protocol version 1): an initial copy read in the replication
 * slot's exported snapshot, then every committed transaction applied as one [UserStore.applyBatch], so a
 * reader of the store never sees half of a source transaction. See docs/POSTGRES.md.
 *
 * One background thread (named `userstore-postgres-replica`) does the work; the methods here are
 * thread-safe. The replica owns the store's content (an id the table does not hold is removed by a copy),
 * and [close] does not close the store.
 *
 * ```kotlin
 * val store = KotlinUserStore()
 * PostgresReplica.start(store, "postgres://app@db:5432/app").use { replica ->
 *     replica.awaitCaughtUp(Duration.ofSeconds(30))
 *     store.get(42)
 * }
 * ```
 */
class PostgresReplica private constructor(
    private val store: UserStore,
    private val spec: ConnectionSpec,
    /** The options this replica runs with. */
    val options: ReplicaOptions,
) : AutoCloseable {
    private val log = System.getLogger(PostgresReplica::class.java.name)
    private val positions = options.positionStore ?: PositionStore.inMemory()
    private val closed = AtomicBoolean()
    private val lock = ReentrantLock()
    private val progress = lock.newCondition()
    private val statusRequested = AtomicBoolean()
    private val rejected = AtomicLong()
    private val reconnectCount = AtomicLong()
    private val copyCount = AtomicLong()
    private val controlLock = Any()
    private var control: Connection? = null

    @Volatile private var applied = 0L

    /** A durable replica's saved position, read once here: its store already holds the table as of it. */
    private val resumedFrom: Long? = if (options.slotName != null) positions.load()?.also { applied = it } else null

    @Volatile private var stateNow = ReplicaState.CONNECTING

    @Volatile private var lastErrorText: String? = null

    @Volatile private var lastCommitDelayNanos = -1L

    @Volatile private var currentSlot: String? = null

    /** The listener's failures not yet logged, and when the last was (replica thread only). */
    private var listenerFailures = 0L
    private var lastListenerLog = 0L

    private val worker = Thread(::run, "userstore-postgres-replica").apply { isDaemon = true }

    /** The WAL position (LSN) up to which every source transaction is applied to the store; 0 before the copy (a durable replica: its saved position). */
    val appliedLsn: Long get() = applied

    /** [appliedLsn] in PostgreSQL's text form, `X/Y` hexadecimal. */
    val appliedLsnText: String get() = formatLsn(applied)

    /** True while the change stream runs (connected, copy done). */
    val isConnected: Boolean get() = stateNow == ReplicaState.STREAMING

    /** Where the replica is in its cycle. */
    val state: ReplicaState get() = stateNow

    /** The last error (connection, protocol or rejected rows), credentials masked; null if none yet. */
    val lastError: String? get() = lastErrorText

    /** Rows not applied because they break the store's rules (empty name, more than 256 code points, ...). */
    val rejectedRows: Long get() = rejected.get()

    /** Connections lost and retried since start. */
    val reconnects: Long get() = reconnectCount.get()

    /**
     * True once the store holds a whole state of the table (not part of a copy): after the first copy, or from
     * the start for a replica with a named slot whose [PositionStore] holds a position (a durable replica
     * restarted: its store is the table as of that position, and only moves on by whole transactions, or by
     * one batch if the slot was lost and the table is copied again).
     */
    val isLoaded: Boolean get() = resumedFrom != null || copyCount.get() > 0

    /** Table copies made (1 after start; one more per reconnect with a temporary slot). */
    val copies: Long get() = copyCount.get()

    /** The replication slot in use (a random name for a temporary slot), or null before the first connection. */
    val slotName: String? get() = currentSlot

    /**
     * Waits until the store holds every transaction committed on the server before this call: true once the
     * applied position reaches the server's WAL flush position read at the call (the copy done), false if
     * [timeout] passes first (or the replica is closed).
     */
    fun awaitCaughtUp(timeout: Duration): Boolean {
        val deadline = System.nanoTime() + timeout.toNanos()
        var target: Long? = null
        while (true) {
            if (closed.get()) return false
            if (target == null) {
                target =
                    try {
                        serverFlushLsn()
                    } catch (e: SQLException) {
                        null
                    }
            }
            if (target != null && applied >= target) return true
            statusRequested.set(true) // asks the server for a keepalive carrying its position
            val left = deadline - System.nanoTime()
            if (left <= 0) return false
            lock.withLock { progress.awaitNanos(minOf(left, TimeUnit.MILLISECONDS.toNanos(if (target == null) 100 else 5))) }
        }
    }

    /**
     * Waits until the store holds everything up to the WAL position [lsn]: true once [appliedLsn] >= [lsn], false if
     * [timeout] passes first (or the replica is closed). Read-your-writes: after a write's COMMIT returned, read
     * `pg_current_wal_lsn()` on the same connection (the commit record's end is at or before it) and pass it here;
     * when the write was the last WAL, its transaction's commit moves the applied position there; otherwise the
     * server's keepalives move it past WAL that holds nothing for this table (the wait asks for them).
     * Does not query the server; a [lsn] <= 0 returns true at once.
     */
    fun awaitApplied(
        lsn: Long,
        timeout: Duration,
    ): Boolean {
        if (applied >= lsn) return true
        val deadline = System.nanoTime() + timeout.toNanos()
        while (true) {
            if (applied >= lsn) return true
            if (closed.get()) return false
            val left = deadline - System.nanoTime()
            if (left <= 0) return false
            statusRequested.set(true) // a status update makes the server send a keepalive with its position
            lock.withLock { if (applied < lsn && !closed.get()) progress.awaitNanos(minOf(left, AWAIT_POLL_NANOS)) }
        }
    }

    /** How far behind the server the store is (see [ReplicaLag]); asks the server for its position. */
    fun lag(): ReplicaLag {
        val bytes =
            try {
                maxOf(0L, serverFlushLsn() - applied)
            } catch (e: SQLException) {
                null
            }
        val delay = lastCommitDelayNanos.takeIf { it >= 0 }?.let { Duration.ofNanos(it) }
        return ReplicaLag(bytes, delay)
    }

    /**
     * Stops the replica: the stream ends, a temporary slot is dropped by PostgreSQL with the connection, a
     * named slot stays (drop it with [dropSlot]). The store stays open with its last applied state.
     * Idempotent; waits for the background thread.
     */
    override fun close() {
        if (!closed.compareAndSet(false, true)) return
        lock.withLock { progress.signalAll() }
        worker.join(TimeUnit.SECONDS.toMillis(15))
        if (worker.isAlive) worker.interrupt()
        synchronized(controlLock) {
            runCatching { control?.close() }
            control = null
        }
        stateNow = ReplicaState.CLOSED
    }

    override fun toString(): String = "PostgresReplica(${spec.displayUrl}, state=$stateNow, applied=${formatLsn(applied)})"

    // ---- the background thread ----

    private fun run() {
        try {
            loop()
        } catch (e: Throwable) {
            error("the replica stopped on an unexpected error", e)
        } finally {
            closed.set(true)
            stateNow = ReplicaState.CLOSED
            lock.withLock { progress.signalAll() }
        }
    }

    private fun loop() {
        var backoff = options.minBackoff.toNanos()
        var first = true
        while (!closed.get()) {
            if (!first) reconnectCount.incrementAndGet()
            first = false
            stateNow = ReplicaState.CONNECTING
            try {
                session { backoff = options.minBackoff.toNanos() }
            } catch (e: StoreClosedException) {
                error("the store was closed; the replica stops", e)
                break
            } catch (e: Exception) {
                if (closed.get()) break
                error("replication from ${spec.displayUrl} failed (retry in ${backoff / 1_000_000} ms)", e)
            }
            if (closed.get()) break
            stateNow = ReplicaState.RECONNECTING
            val jittered = backoff / 2 + ThreadLocalRandom.current().nextLong(backoff / 2 + 1)
            lock.withLock { if (!closed.get()) progress.awaitNanos(jittered) }
            backoff = minOf(backoff * 2, options.maxBackoff.toNanos())
        }
    }

    private fun session(onStreaming: () -> Unit) {
        openRegular().use { ensureSchema(it) }
        openReplication().use { repl ->
            val pg = repl.unwrap(PGConnection::class.java)
            val (slot, start) = prepareSlot(pg)
            currentSlot = slot
            val stream =
                pg.replicationAPI
                    .replicationStream()
                    .logical()
                    .withSlotName(slot)
                    .withStartPosition(LogSequenceNumber.valueOf(start))
                    .withSlotOption("proto_version", 1)
                    .withSlotOption("publication_names", options.publication)
                    .withStatusInterval(options.statusInterval.toMillis().toInt(), TimeUnit.MILLISECONDS)
                    .start()
            stream.setAppliedLSN(LogSequenceNumber.valueOf(start))
            stream.setFlushedLSN(LogSequenceNumber.valueOf(start))
            stateNow = ReplicaState.STREAMING
            onStreaming()
            log.log(Level.INFO, "replica streaming from slot {0} at {1} ({2})", slot, formatLsn(start), spec.displayUrl)
            try {
                follow(stream)
            } finally {
                runCatching { stream.close() }
            }
        }
    }

    /** Creates (or finds) the slot, copies the table when needed; returns the slot's name and where to start. */
    private fun prepareSlot(pg: PGConnection): Pair<String, Long> {
        val named = options.slotName
        if (named == null) {
            val slot = "userstore_" + randomSuffix()
            val info =
                pg.replicationAPI
                    .createReplicationSlot()
                    .logical()
                    .withSlotName(slot)
                    .withOutputPlugin("pgoutput")
                    .withTemporaryOption()
                    .make()
            val start = info.consistentPoint.asLong()
            currentSlot = slot
            copyTable(info.snapshotName ?: throw SQLException("no exported snapshot for slot $slot"), start)
            return slot to start
        }
        val saved = positions.load()
        val slotState = openRegular().use { slotState(it, named) }
        currentSlot = named
        // The slot never streams from before its confirmed position: a saved position behind it (a data directory
        // restored from an older copy, or the slot used by another replica) would skip the transactions in between.
        val confirmed = slotState?.confirmedLsn ?: 0L
        if (slotState != null && saved != null && slotState.walStatus != "lost" && confirmed <= saved) return named to saved
        if (slotState != null) {
            // A slot whose position this store does not share, or one PostgreSQL invalidated (it passed
            // max_slot_wal_keep_size): start it again from a copy.
            val why =
                when {
                    saved == null -> "no saved position here"
                    slotState.walStatus == "lost" -> "invalidated: the WAL it needed is gone (max_slot_wal_keep_size)"
                    else -> "confirmed up to ${formatLsn(confirmed)}, past the saved position ${formatLsn(saved)}"
                }
            log.log(Level.INFO, "slot {0} ({1}): dropping it and copying again", named, why)
            openRegular().use { c ->
                c.prepareStatement("SELECT pg_drop_replication_slot(?)").use {
                    it.setString(1, named)
                    it.execute()
                }
            }
        }
        val info =
            pg.replicationAPI
                .createReplicationSlot()
                .logical()
                .withSlotName(named)
                .withOutputPlugin("pgoutput")
                .make()
        val start = info.consistentPoint.asLong()
        currentSlot = named
        copyTable(info.snapshotName ?: throw SQLException("no exported snapshot for slot $named"), start)
        positions.save(start)
        return named to start
    }

    /**
     * Reads the table in [snapshot] (the slot's exported snapshot, so the copy ends exactly where the stream
     * starts). An empty store is filled in `putAll` batches; a store that holds data gets the difference as
     * ONE batch (puts for new or changed rows, removes for ids the table no longer has), so readers go from
     * the old state to the new one in one step.
     */
    private fun copyTable(
        snapshot: String,
        start: Long,
    ) {
        require(Regex("[0-9A-Fa-f-]+").matches(snapshot)) { "unexpected snapshot name" }
        stateNow = ReplicaState.COPYING
        val diff = store.size > 0
        val t0 = System.nanoTime()
        var rows = 0L
        var bad = 0
        var firstBad: String? = null
        val pending = ArrayList<User>(if (diff) 1024 else options.copyBatchSize)
        val tableIds = LongArrayBuilder(if (diff) 1024 else 1)
        openRegular().use { c ->
            c.autoCommit = false
            c.createStatement().use { st ->
                st.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                st.execute("SET TRANSACTION SNAPSHOT '$snapshot'")
            }
            c.createStatement().use { st ->
                st.fetchSize = options.copyBatchSize
                st.executeQuery("SELECT id, name FROM users").use { rs ->
                    while (rs.next()) {
                        if (closed.get()) return
                        rows++
                        val id = rs.getLong(1)
                        val name = rs.getString(2)
                        val problem = RowRules.problem(id, name)
                        if (problem != null) {
                            bad++
                            if (firstBad == null) firstBad = "id $id: $problem"
                            continue
                        }
                        pending += User(id, name)
                        if (diff) {
                            tableIds += id
                        } else if (pending.size >= options.copyBatchSize) {
                            store.putAll(pending)
                            pending.clear()
                        }
                    }
                }
            }
            c.rollback()
        }
        var changed: Long = rows - bad
        if (!diff) {
            if (pending.isNotEmpty()) store.putAll(pending)
        } else {
            changed = applyDiff(pending, tableIds.toArray()).toLong()
        }
        if (bad > 0) {
            rejected.addAndGet(bad.toLong())
            reportRejected("initial copy: $bad row(s) break the store's rules and were not applied (first: $firstBad)")
        }
        copyCount.incrementAndGet()
        advanceTo(start, null)
        log.log(
            Level.INFO,
            "copied $rows rows ($changed changes applied) in ${(System.nanoTime() - t0) / 1_000_000} ms, consistent at ${formatLsn(start)}",
        )
    }

    /** Applies the table's [rows] over the store as one batch; returns how many puts and removes it held. */
    private fun applyDiff(
        rows: List<User>,
        ids: LongArray,
    ): Int {
        val puts = ArrayList<User>()
        val chunk = 4096
        var i = 0
        while (i < rows.size) {
            val part = rows.subList(i, minOf(rows.size, i + chunk))
            val current = store.getMany(LongArray(part.size) { part[it].id })
            for (j in part.indices) if (current[j] != part[j]) puts += part[j]
            i += chunk
        }
        ids.sort()
        val removes = LongArrayBuilder()
        for (id in allStoreIds()) if (ids.binarySearch(id) < 0) removes += id
        val r = removes.toArray()
        if (puts.isNotEmpty() || r.isNotEmpty()) store.applyBatch(puts, r)
        return puts.size + r.size
    }

    private fun allStoreIds(): LongArray {
        val out = LongArrayBuilder()
        var from = 0L
        while (true) {
            val page = store.scan(from, 65_536)
            for (u in page) out += u.id
            if (page.size < 65_536 || page.last().id == Long.MAX_VALUE) break
            from = page.last().id + 1
        }
        return out.toArray()
    }

    private class RelationInfo(
        val isUsers: Boolean,
        val idIndex: Int,
        val nameIndex: Int,
    )

    /** Reads the stream until closed (returns) or the connection fails (throws). */
    private fun follow(stream: PGReplicationStream) {
        val relations = HashMap<Int, RelationInfo>()
        var txn: TransactionBuffer? = null
        // Committed transactions not yet applied: applied together once nothing more has arrived, or once the first
        // has waited GROUP_WAIT_NANOS (group commit). The wait bound matters: pgjdbc's readPending only says "nothing
        // more" after a 1 ms read finds the socket silent, which a steady stream of commits never is.
        val group = ArrayList<Pair<TransactionBuffer, PgMessage.Commit>>()
        var groupSince = 0L
        while (!closed.get()) {
            val buf = stream.readPending()
            if (buf == null) {
                if (group.isNotEmpty()) {
                    applyGroup(group, stream)
                    continue
                }
                if (txn == null) {
                    // Everything received is applied; a keepalive may have moved the received position on
                    // past WAL that holds nothing for this publication.
                    val received = stream.lastReceiveLSN.asLong()
                    if (received > applied) {
                        advanceTo(received, null)
                        stream.setAppliedLSN(LogSequenceNumber.valueOf(received))
                        stream.setFlushedLSN(LogSequenceNumber.valueOf(received))
                    }
                }
                if (statusRequested.getAndSet(false)) stream.forceUpdateStatus()
                LockSupport.parkNanos(POLL_NANOS)
                continue
            }
            when (val m = PgOutput.decode(buf)) {
                is PgMessage.Begin -> {
                    txn = TransactionBuffer(m.commitTimeMicros, m.xid.toLong() and 0xFFFFFFFFL)
                }

                is PgMessage.Relation -> {
                    val idIndex = m.columns.indexOf("id")
                    val nameIndex = m.columns.indexOf("name")
                    relations[m.id] = RelationInfo(m.name == "users" && idIndex >= 0 && nameIndex >= 0, idIndex, nameIndex)
                }

                is PgMessage.Insert -> {
                    val rel = relations[m.relationId]?.takeIf { it.isUsers } ?: continue
                    val t = txn ?: protocol("insert outside a transaction")
                    val id = idOf(m.tuple, rel)
                    when (val name = m.tuple.getOrNull(rel.nameIndex)) {
                        is Column.Text -> t.put(id, name.value)
                        else -> t.rejected += "id $id: name is not a value ($name)"
                    }
                }

                is PgMessage.Update -> {
                    val rel = relations[m.relationId]?.takeIf { it.isUsers } ?: continue
                    val t = txn ?: protocol("update outside a transaction")
                    val id = idOf(m.tuple, rel)
                    val oldId = m.oldKey?.let { (it.getOrNull(rel.idIndex) as? Column.Text)?.value?.toLong() } ?: id
                    val name: String? =
                        when (val col = m.tuple.getOrNull(rel.nameIndex)) {
                            is Column.Text -> {
                                col.value
                            }

                            // An unchanged TOASTed name is not sent: it is the one the row had.
                            Column.UnchangedToast -> {
                                when (val p = t.pending(oldId)) {
                                    is TransactionBuffer.Pending.Known -> p.name
                                    TransactionBuffer.Pending.Untouched -> store.get(oldId)?.name
                                }
                            }

                            else -> {
                                null
                            }
                        }
                    if (oldId != id) t.remove(oldId)
                    if (name != null) t.put(id, name) else t.rejected += "id $id: unchanged name not known here"
                    if (name == null) t.remove(id)
                }

                is PgMessage.Delete -> {
                    val rel = relations[m.relationId]?.takeIf { it.isUsers } ?: continue
                    val t = txn ?: protocol("delete outside a transaction")
                    t.remove(idOf(m.oldKey, rel))
                }

                is PgMessage.Truncate -> {
                    if (m.relationIds.any { relations[it]?.isUsers == true }) {
                        (txn ?: protocol("truncate outside a transaction")).truncate()
                    }
                }

                is PgMessage.Commit -> {
                    val t = txn ?: protocol("commit without begin")
                    txn = null
                    if (t.truncated) {
                        // A truncate needs the store's ids as they are before it: applied on its own.
                        applyGroup(group, stream)
                        val counts = applyTransaction(t, m.endLsn)
                        applied(stream, listOf(t to m), listOf(counts))
                    } else {
                        if (group.isEmpty()) groupSince = System.nanoTime()
                        group += t to m
                        if (group.size >= GROUP_MAX || System.nanoTime() - groupSince >= GROUP_WAIT_NANOS) {
                            applyGroup(group, stream)
                        }
                    }
                }

                is PgMessage.Ignored -> {}
            }
        }
    }

    private fun idOf(
        tuple: List<Column>,
        rel: RelationInfo,
    ): Long =
        (tuple.getOrNull(rel.idIndex) as? Column.Text)?.value?.toLongOrNull()
            ?: protocol("a users row without an id")

    private fun protocol(what: String): Nothing = throw IllegalStateException("pgoutput stream: $what")

    /**
     * Applies the committed transactions of [group] (then empties it) as ONE batch: one log record, so one sync of a
     * durable store and one position save, where one per transaction would cap a durable replica at its disk's sync
     * rate. Each transaction stays whole (a reader sees none of the group or all of it). A group never holds a
     * truncate (applied alone). Should the store refuse the merged batch, each transaction is applied on its own, so
     * only one that is refused is skipped.
     */
    private fun applyGroup(
        group: MutableList<Pair<TransactionBuffer, PgMessage.Commit>>,
        stream: PGReplicationStream,
    ) {
        if (group.isEmpty()) return
        val counts =
            if (group.size == 1) {
                listOf(applyTransaction(group[0].first, group[0].second.endLsn))
            } else {
                val merged = TransactionBuffer(0)
                for ((t, m) in group) {
                    reportRejectedRows(t, m.endLsn)
                    merged.absorb(t)
                }
                val (puts, removes) = merged.toBatch { allStoreIds() }
                try {
                    if (puts.isNotEmpty() || removes.isNotEmpty()) store.applyBatch(puts, removes)
                    group.map { (t, _) -> Applied(t.putCount, t.removeCount, t.rejected.size) }
                } catch (e: InvalidUserException) {
                    group.map { (t, m) -> applyTransaction(t, m.endLsn, rejectedReported = true) }
                }
            }
        applied(stream, group, counts)
        group.clear()
    }

    /** After [group] is applied: the position moves to its last transaction's end, and the listener hears of each. */
    private fun applied(
        stream: PGReplicationStream,
        group: List<Pair<TransactionBuffer, PgMessage.Commit>>,
        counts: List<Applied>,
    ) {
        val last = group.last().second
        val appliedMicros = advanceTo(last.endLsn, last.commitTimeMicros)
        stream.setAppliedLSN(LogSequenceNumber.valueOf(last.endLsn))
        stream.setFlushedLSN(LogSequenceNumber.valueOf(last.endLsn))
        val listener = options.listener ?: return
        for ((k, tm) in group.withIndex()) {
            val (t, m) = tm
            notify(
                listener,
                AppliedTransaction(
                    commitLsn = m.commitLsn,
                    endLsn = m.endLsn,
                    xid = t.xid,
                    commitTime = instantOfMicros(m.commitTimeMicros + PG_EPOCH_MICROS),
                    appliedTime = instantOfMicros(appliedMicros),
                    putRows = counts[k].puts,
                    removedRows = counts[k].removes,
                    rejectedRows = counts[k].rejected,
                ),
            )
        }
    }

    /** What [applyTransaction] did: rows put, ids removed, rows rejected. */
    private class Applied(
        val puts: Int,
        val removes: Int,
        val rejected: Int,
    )

    private fun reportRejectedRows(
        t: TransactionBuffer,
        endLsn: Long,
    ) {
        if (t.rejected.isEmpty()) return
        rejected.addAndGet(t.rejected.size.toLong())
        reportRejected(
            "transaction ending at ${formatLsn(endLsn)}: ${t.rejected.size} row(s) break the store's rules and were " +
                "not applied: " + t.rejected.take(5).joinToString("; "),
        )
    }

    private fun applyTransaction(
        t: TransactionBuffer,
        endLsn: Long,
        rejectedReported: Boolean = false,
    ): Applied {
        if (!rejectedReported) reportRejectedRows(t, endLsn)
        if (t.isEmpty) return Applied(0, 0, t.rejected.size)
        val (puts, removes) = t.toBatch { allStoreIds() }
        if (puts.isEmpty() && removes.isEmpty()) return Applied(0, 0, t.rejected.size)
        try {
            store.applyBatch(puts, removes)
        } catch (e: InvalidUserException) {
            // The rules checked above and the store's disagree: the transaction is skipped whole (atomic).
            rejected.addAndGet(puts.size.toLong())
            reportRejected("transaction ending at ${formatLsn(endLsn)} refused by the store, not applied: ${e.message}")
            return Applied(0, 0, t.rejected.size + puts.size)
        }
        return Applied(puts.size, removes.size, t.rejected.size)
    }

    /**
     * Saves [lsn] as the applied position and wakes the waiters; with the [commitTimeMicros] of a streamed
     * transaction (PostgreSQL's epoch), records its commit-to-apply delay for [lag]. Returns the time of the apply
     * (after the save), in Unix microseconds.
     */
    private fun advanceTo(
        lsn: Long,
        commitTimeMicros: Long?,
    ): Long {
        positions.save(lsn)
        val nowMicros = epochMicrosNow()
        if (commitTimeMicros != null) {
            val commitEpochMicros = commitTimeMicros + PG_EPOCH_MICROS
            lastCommitDelayNanos = maxOf(0L, nowMicros - commitEpochMicros) * 1000
        }
        lock.withLock {
            if (lsn > applied) applied = lsn
            progress.signalAll()
        }
        return nowMicros
    }

    /** Calls [listener]; an exception it throws is logged (at most once a second, with the count) and dropped. */
    private fun notify(
        listener: ReplicaListener,
        tx: AppliedTransaction,
    ) {
        try {
            listener.applied(tx)
        } catch (e: Exception) {
            listenerFailures++
            val now = System.nanoTime()
            if (lastListenerLog == 0L || now - lastListenerLog >= LISTENER_LOG_INTERVAL_NANOS) {
                lastListenerLog = now
                // Hand-written rate limit: System.Logger has none, and a listener failing on every transaction
                // would otherwise write a stack trace per commit.
                log.log(
                    Level.WARNING,
                    "the ReplicaListener threw on the transaction ending at ${formatLsn(tx.endLsn)} " +
                        "($listenerFailures failure(s) since the last report); replication goes on",
                    e,
                )
                listenerFailures = 0
            }
        }
    }

    private fun reportRejected(message: String) {
        val m = spec.redact(message)
        lastErrorText = m
        log.log(Level.WARNING, m)
    }

    private fun error(
        message: String,
        e: Throwable,
    ) {
        val m = spec.redact("$message: ${e.javaClass.simpleName}: ${e.message}")
        lastErrorText = m
        log.log(Level.WARNING, m) // the message only: a driver's stack trace could carry text we did not redact
    }

    // ---- SQL ----

    private fun openRegular(): Connection = DriverManager.getConnection(spec.jdbcUrl, spec.properties(replication = false))

    private fun openReplication(): Connection = DriverManager.getConnection(spec.jdbcUrl, spec.properties(replication = true))

    /** Creates the table, its name index and the publication if missing, serialised by an advisory lock. */
    private fun ensureSchema(c: Connection) {
        c.autoCommit = false
        c.createStatement().use { st ->
            st.execute("SELECT pg_advisory_xact_lock($SCHEMA_LOCK_KEY)")
            st.execute("CREATE TABLE IF NOT EXISTS users (id bigint PRIMARY KEY, name text NOT NULL)")
            st.execute("CREATE INDEX IF NOT EXISTS users_name_idx ON users (name)")
        }
        val exists =
            c.prepareStatement("SELECT 1 FROM pg_publication WHERE pubname = ?").use { ps ->
                ps.setString(1, options.publication)
                ps.executeQuery().use { it.next() }
            }
        if (!exists) c.createStatement().use { it.execute("CREATE PUBLICATION \"${options.publication}\" FOR TABLE users") }
        c.commit()
    }

    private fun serverFlushLsn(): Long =
        synchronized(controlLock) {
            if (closed.get()) throw SQLException("replica closed")
            val c = control ?: openRegular().also { control = it }
            try {
                c.createStatement().use { st ->
                    st.executeQuery("SELECT pg_current_wal_flush_lsn()").use { rs ->
                        rs.next()
                        LogSequenceNumber.valueOf(rs.getString(1)).asLong()
                    }
                }
            } catch (e: SQLException) {
                runCatching { c.close() }
                control = null
                throw e
            }
        }

    init {
        worker.start()
    }

    companion object {
        private const val POLL_NANOS = 1_000_000L

        /** The most transactions applied as one batch (bounds a group's memory and its first transaction's wait). */
        private const val GROUP_MAX = 1024

        /** The longest a committed transaction waits for others to join its group before the group is applied. */
        private val GROUP_WAIT_NANOS = TimeUnit.MILLISECONDS.toNanos(1)

        /** How often [awaitApplied] asks again for the server's position while it waits. */
        private val AWAIT_POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(5)
        private const val SCHEMA_LOCK_KEY = 0x7573657273746f72L // "userstor"
        private const val PG_EPOCH_MICROS = 946_684_800_000_000L // 2000-01-01 in Unix microseconds
        private val LISTENER_LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(1)

        /** This clock in Unix microseconds (`Instant.now()`: microsecond resolution on Linux, as the server's commit times). */
        private fun epochMicrosNow(): Long {
            val now = Instant.now()
            return now.epochSecond * 1_000_000 + now.nano / 1000
        }

        private fun instantOfMicros(micros: Long): Instant =
            Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000)

        private val random = SecureRandom()

        /**
         * Starts a replica that keeps [store] equal to the table `users` of the database at [url]
         * (`postgres://user[:password]@host:port/db` or `jdbc:postgresql://host:port/db?user=...`). Returns at
         * once; the connection, the schema, the slot and the copy are made in the background (see
         * [awaitCaughtUp], [state] and [lastError]). A password is never logged or put in a message.
         *
         * @throws IllegalArgumentException if [url] is not a PostgreSQL URL
         */
        @JvmStatic
        @JvmOverloads
        fun start(
            store: UserStore,
            url: String,
            options: ReplicaOptions = ReplicaOptions(),
        ): PostgresReplica = PostgresReplica(store, ConnectionSpec.parse(url), options)

        /** The logical replication slots using pgoutput in [url]'s database (a replica's named slots among them). */
        @JvmStatic
        fun listSlots(url: String): List<String> {
            val spec = ConnectionSpec.parse(url)
            return withRedaction(spec) {
                DriverManager.getConnection(spec.jdbcUrl, spec.properties(false)).use { c ->
                    c
                        .prepareStatement(
                            "SELECT slot_name FROM pg_replication_slots WHERE plugin = 'pgoutput' AND database = current_database() " +
                                "ORDER BY slot_name",
                        ).use { ps ->
                            ps.executeQuery().use { rs ->
                                buildList { while (rs.next()) add(rs.getString(1)) }
                            }
                        }
                }
            }
        }

        /**
         * Drops the named replication slot [slotName] (a durable replica's, once that replica is retired), so
         * PostgreSQL stops keeping WAL for it. True if it existed. Fails if a replica is still using it.
         */
        @JvmStatic
        fun dropSlot(
            url: String,
            slotName: String,
        ): Boolean {
            val spec = ConnectionSpec.parse(url)
            return withRedaction(spec) {
                DriverManager.getConnection(spec.jdbcUrl, spec.properties(false)).use { c ->
                    if (!slotExists(c, slotName)) {
                        false
                    } else {
                        c.prepareStatement("SELECT pg_drop_replication_slot(?)").use {
                            it.setString(1, slotName)
                            it.execute()
                        }
                        true
                    }
                }
            }
        }

        /** [lsn] in PostgreSQL's text form, `X/Y` hexadecimal. */
        @JvmStatic
        fun formatLsn(lsn: Long): String = LogSequenceNumber.valueOf(lsn).asString()

        private fun slotExists(
            c: Connection,
            name: String,
        ): Boolean =
            c.prepareStatement("SELECT 1 FROM pg_replication_slots WHERE slot_name = ?").use { ps ->
                ps.setString(1, name)
                ps.executeQuery().use { it.next() }
            }

        /** A slot's `wal_status` (`reserved`, `extended`, `unreserved`, `lost`; "" if unknown) and confirmed position. */
        private class SlotState(
            val walStatus: String,
            val confirmedLsn: Long?,
        )

        /** The slot's state, null if no such slot. */
        private fun slotState(
            c: Connection,
            name: String,
        ): SlotState? =
            c
                .prepareStatement(
                    "SELECT coalesce(wal_status, ''), (confirmed_flush_lsn - '0/0'::pg_lsn)::bigint " +
                        "FROM pg_replication_slots WHERE slot_name = ?",
                ).use { ps ->
                    ps.setString(1, name)
                    ps.executeQuery().use { rs ->
                        if (!rs.next()) return null
                        val confirmed = rs.getLong(2)
                        SlotState(rs.getString(1), if (rs.wasNull()) null else confirmed)
                    }
                }

        /** Runs [block]; an SQLException comes out with its message's credentials masked. */
        private inline fun <T> withRedaction(
            spec: ConnectionSpec,
            block: () -> T,
        ): T =
            try {
                block()
            } catch (e: SQLException) {
                throw SQLException(spec.redact(e.message), e.sqlState)
            }

        private fun randomSuffix(): String {
            val b = ByteArray(8)
            random.nextBytes(b)
            return b.joinToString("") { "%02x".format(it) }
        }
    }
}
