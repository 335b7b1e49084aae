package dev.userstore.postgres

import java.time.Duration
import java.time.Instant

/**
 * Told about every source transaction a [PostgresReplica] applies from the change stream: set it with
 * [ReplicaOptions.listener] (Java: `options.withListener(tx -> ...)`). Made for metrics (the distribution of
 * [AppliedTransaction.commitDelay], transactions and rows per second) and for tracing which commit a store holds.
 *
 * The contract, in the manner of pgjdbc's and Debezium's callbacks (called on the thread that reads the
 * stream, in stream order, after the work they describe is done):
 * - [applied] runs on the replica's thread (`userstore-postgres-replica`), once per transaction, in commit order,
 *   after the transaction is applied to the store ([dev.userstore.UserStore.applyBatch] returned, so a durable
 *   store has written it) and after its position was saved ([PositionStore.save]) and became [PostgresReplica.appliedLsn]:
 *   a reader woken by [PostgresReplica.awaitApplied] may see the change before the listener is called.
 * - It is never called for the initial copy of the table, nor for the copy a reconnect with a temporary slot
 *   makes (those are not transactions of the stream), nor for WAL that holds no transaction of the publication.
 * - It blocks the stream while it runs: keep it short (record a number, hand off to a queue). A listener that
 *   throws an [Exception] is logged (`System.Logger` of [PostgresReplica], level WARNING, at most once per second
 *   with the count of failures since) and replication goes on; the transaction stays applied.
 * - Delivery follows the store: after a crash of a durable replica, the transactions after its saved position
 *   are applied, and reported, again.
 */
fun interface ReplicaListener {
    /** Called after [tx] is applied to the store; see [ReplicaListener] for the thread and the guarantees. */
    fun applied(tx: AppliedTransaction)
}

/**
 * One source transaction applied by a [PostgresReplica] from the change stream ([ReplicaListener.applied]).
 *
 * @property commitLsn the WAL position (LSN) of the transaction's commit record, as pgoutput's Commit message
 *   gives it (PostgreSQL's "commit LSN"; [PostgresReplica.formatLsn] prints it `X/Y`)
 * @property endLsn the end of the commit record: the position the replica confirms to the server, and the value
 *   [PostgresReplica.appliedLsn] has once this transaction is applied (what [PostgresReplica.awaitApplied] waits for)
 * @property xid the source transaction's id (PostgreSQL's 32-bit xid, as an unsigned number)
 * @property commitTime when the transaction committed, by the server's clock (microsecond resolution)
 * @property appliedTime when the apply ended here, by this machine's clock (after the store's write and the
 *   position's save)
 * @property putRows rows of `users` the transaction inserted or updated and the store now holds (per id: several
 *   changes of one id in a transaction count once, as its final value)
 * @property removedRows ids the store's batch removed: those the transaction deleted (or a TRUNCATE emptied), and
 *   the ids of its rejected rows (a rejected row counts as absent, so an earlier version of it is removed)
 * @property rejectedRows rows not applied because they break the store's rules (counted in
 *   [PostgresReplica.rejectedRows] too); when the store refused the whole batch they are its puts, and
 *   [putRows] and [removedRows] are then 0
 */
class AppliedTransaction internal constructor(
    val commitLsn: Long,
    val endLsn: Long,
    val xid: Long,
    val commitTime: Instant,
    val appliedTime: Instant,
    val putRows: Int,
    val removedRows: Int,
    val rejectedRows: Int,
) {
    /**
     * Time from the commit on the server to the end of the apply here: [appliedTime] minus [commitTime], with the
     * server's clock against this one (meaningful on one machine or with synchronised clocks). Zero, never
     * negative, when this clock is behind the server's.
     */
    val commitDelay: Duration
        get() = Duration.between(commitTime, appliedTime).let { if (it.isNegative) Duration.ZERO else it }

    /** [commitLsn] in PostgreSQL's text form, `X/Y` hexadecimal. */
    val commitLsnText: String get() = PostgresReplica.formatLsn(commitLsn)

    override fun toString(): String =
        "AppliedTransaction(commitLsn=$commitLsnText, endLsn=${PostgresReplica.formatLsn(endLsn)}, xid=$xid, " +
            "putRows=$putRows, removedRows=$removedRows, rejectedRows=$rejectedRows, commitDelay=$commitDelay)"
}
