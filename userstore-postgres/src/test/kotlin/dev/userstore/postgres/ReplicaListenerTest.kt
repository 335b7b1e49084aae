package dev.userstore.postgres

import dev.userstore.UserStore
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.MethodSource
import org.postgresql.replication.LogSequenceNumber
import java.sql.Connection
import java.time.Duration
import java.time.Instant
import java.util.Collections
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/** [ReplicaOptions.listener]: one call per committed transaction of the stream, with its LSN, xid, rows and delay. */
class ReplicaListenerTest : PgDatabaseTest() {
    private fun Connection.lsn(function: String): Long =
        createStatement().use { st ->
            st.executeQuery("SELECT $function()").use { rs ->
                rs.next()
                LogSequenceNumber.valueOf(rs.getString(1)).asLong()
            }
        }

    private fun Connection.single(sql: String): Long =
        createStatement().use { st ->
            st.executeQuery(sql).use { rs ->
                rs.next()
                rs.getLong(1)
            }
        }

    /** What one committed transaction must produce: its bounds on the server and the rows the store gets. */
    private class Expected(
        val insertLsnBeforeCommit: Long,
        val walLsnAfterCommit: Long,
        val xid: Long,
        val puts: Int,
        val removes: Int,
        val rejected: Int,
        val committedAfter: Instant,
        val committedBefore: Instant,
    )

    /** Runs [statements] as one transaction and returns what the listener must see for it. */
    private fun Connection.commit(
        puts: Int,
        removes: Int,
        rejected: Int,
        vararg statements: String,
    ): Expected {
        val before = Instant.now()
        createStatement().use { st -> statements.forEach { st.execute(it) } }
        val xid = single("SELECT txid_current() % 4294967296")
        val insertLsn = lsn("pg_current_wal_insert_lsn")
        commit()
        val after = Instant.now()
        return Expected(insertLsn, lsn("pg_current_wal_lsn"), xid, puts, removes, rejected, before, after)
    }

    private fun awaitCalls(
        calls: List<*>,
        n: Int,
    ) {
        val deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos()
        while (calls.size < n && System.nanoTime() < deadline) Thread.sleep(2)
        Thread.sleep(100) // a surplus call, if any, shows up too
        assertEquals(n, calls.size, "listener calls: $calls")
    }

    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `each committed transaction gives one call with its LSN, xid, rows and delay, the copy none`(newStore: () -> UserStore) {
        db.sql("INSERT INTO users SELECT g, 'copied-' || g FROM generate_series(1000, 1049) g")
        val calls = Collections.synchronizedList(ArrayList<AppliedTransaction>())
        newStore().use { store ->
            PostgresReplica.start(store, db.url, ReplicaOptions(listener = { calls += it })).use { replica ->
                assertTrue(replica.awaitCaughtUp(Duration.ofSeconds(20)), "${replica.state} ${replica.lastError}")
                assertEquals(50, store.size)
                Thread.sleep(200)
                assertEquals(emptyList(), calls.toList(), "the initial copy is not reported")

                val expected = ArrayList<Expected>()
                db.connect().use { c ->
                    c.autoCommit = false
                    for (i in 0 until 30) {
                        expected +=
                            when (i % 6) {
                                0 -> {
                                    c.commit(1, 0, 0, "INSERT INTO users VALUES ($i, 'one-$i')")
                                }

                                1 -> {
                                    c.commit(3, 0, 0, "INSERT INTO users VALUES (${i + 100}, 'a'), (${i + 200}, 'b'), (${i + 300}, 'c')")
                                }

                                // Two changes of one id count once, as its final value.
                                2 -> {
                                    c.commit(
                                        1,
                                        0,
                                        0,
                                        "UPDATE users SET name = 'x' WHERE id = ${i - 2}",
                                        "UPDATE users SET name = 'y' WHERE id = ${i - 2}",
                                    )
                                }

                                3 -> {
                                    c.commit(0, 1, 0, "DELETE FROM users WHERE id = ${i + 98}")
                                }

                                // An empty name breaks the store's rules: rejected (its id counts as removed, as the
                                // batch removes any earlier version of it), the other row applied.
                                4 -> {
                                    c.commit(1, 1, 1, "INSERT INTO users VALUES (${i + 400}, ''), (${i + 500}, 'fine')")
                                }

                                else -> {
                                    c.commit(
                                        1,
                                        1,
                                        0,
                                        "DELETE FROM users WHERE id = ${1000 + i}",
                                        "INSERT INTO users VALUES (${i + 600}, 'z')",
                                    )
                                }
                            }
                        // A rolled-back transaction is not streamed: no call.
                        c.createStatement().use { it.execute("INSERT INTO users VALUES (${i + 700}, 'rolled back')") }
                        c.rollback()
                    }
                    assertTrue(replica.awaitApplied(expected.last().walLsnAfterCommit, Duration.ofSeconds(10)), "${replica.lastError}")
                }
                awaitCalls(calls, expected.size)
                PgDatabase.assertReplicaEquals(db, replica, store, "after the transactions")
                val seen = calls.toList()
                for ((i, pair) in expected.zip(seen).withIndex()) {
                    val (want, got) = pair
                    val at = "transaction $i: $got"
                    assertTrue(got.commitLsn >= want.insertLsnBeforeCommit, "$at: commit LSN before the transaction's last record")
                    assertTrue(got.commitLsn < got.endLsn, at)
                    assertTrue(got.endLsn <= want.walLsnAfterCommit, "$at: end LSN after the WAL position read after COMMIT")
                    if (i > 0) assertTrue(got.commitLsn >= seen[i - 1].endLsn, "$at: not in commit order")
                    assertEquals(want.xid, got.xid, at)
                    assertEquals(want.puts, got.putRows, "$at: rows put")
                    assertEquals(want.removes, got.removedRows, "$at: rows removed")
                    assertEquals(want.rejected, got.rejectedRows, "$at: rows rejected")
                    // One machine: the server's commit time lies within the client's COMMIT call (1 ms of slack for rounding).
                    assertTrue(
                        !got.commitTime.isBefore(want.committedAfter.minusMillis(1)) &&
                            !got.commitTime.isAfter(want.committedBefore.plusMillis(1)),
                        "$at: commit time outside ${want.committedAfter}..${want.committedBefore}",
                    )
                    assertEquals(Duration.between(got.commitTime, got.appliedTime).coerceAtLeast(Duration.ZERO), got.commitDelay, at)
                    assertTrue(!got.commitDelay.isNegative && got.commitDelay < Duration.ofSeconds(10), "$at: delay")
                }
                // Keepalives may move the applied position on past WAL without transactions of the publication.
                assertTrue(replica.appliedLsn >= seen.last().endLsn, "the last call's end LSN is applied")
                assertEquals(5L, replica.rejectedRows)
            }
        }
    }

    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `a listener that throws does not stop replication`(newStore: () -> UserStore) {
        val calls = Collections.synchronizedList(ArrayList<Long>())
        val listener =
            ReplicaListener { tx ->
                calls += tx.endLsn
                throw IllegalStateException("listener failure ${calls.size}")
            }
        newStore().use { store ->
            PostgresReplica.start(store, db.url, ReplicaOptions().withListener(listener)).use { replica ->
                assertTrue(replica.awaitCaughtUp(Duration.ofSeconds(20)), "${replica.state} ${replica.lastError}")
                repeat(20) { i -> db.sql("INSERT INTO users VALUES ($i, 'n-$i')") }
                PgDatabase.assertReplicaEquals(db, replica, store, "after 20 transactions with a throwing listener")
                awaitCalls(calls, 20)
                assertEquals(ReplicaState.STREAMING, replica.state)
                assertEquals(0, replica.reconnects)
                val ends = calls.toList()
                assertEquals(ends.sorted().distinct(), ends, "one call per transaction, in commit order")
                assertTrue(replica.appliedLsn >= ends.last())
            }
        }
    }
}
