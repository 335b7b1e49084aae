package dev.userstore.postgres

import dev.userstore.UserStore
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.MethodSource
import org.postgresql.replication.LogSequenceNumber
import java.sql.Connection
import java.time.Duration
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** [PostgresReplica.awaitApplied]: read-your-writes after a COMMIT, by the position read on the writing connection. */
class AwaitAppliedTest : PgDatabaseTest() {
    private fun Connection.walLsn(): Long =
        createStatement().use { st ->
            st.executeQuery("SELECT pg_current_wal_lsn()").use { rs ->
                rs.next()
                LogSequenceNumber.valueOf(rs.getString(1)).asLong()
            }
        }

    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `after awaitApplied returns true the store holds the committed write`(newStore: () -> UserStore) {
        newStore().use { store ->
            PostgresReplica.start(store, db.url).use { replica ->
                assertTrue(replica.awaitCaughtUp(Duration.ofSeconds(20)), "${replica.state} ${replica.lastError}")
                db.connect().use { c ->
                    c.autoCommit = true
                    c.prepareStatement("INSERT INTO users VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name").use { put ->
                        c.prepareStatement("DELETE FROM users WHERE id = ?").use { delete ->
                            // Each check reads the store right after the wait: no retry, so a wait that returns early fails.
                            repeat(300) { i ->
                                val id = (i % 17).toLong()
                                put.setLong(1, id)
                                put.setString(2, "name-$i")
                                put.executeUpdate()
                                assertTrue(replica.awaitApplied(c.walLsn(), Duration.ofSeconds(10)), "write $i: ${replica.lastError}")
                                assertEquals("name-$i", store.get(id)?.name, "write $i")
                                if (i % 5 == 0) {
                                    delete.setLong(1, id)
                                    delete.executeUpdate()
                                    assertTrue(replica.awaitApplied(c.walLsn(), Duration.ofSeconds(10)), "delete $i")
                                    assertNull(store.get(id), "delete $i")
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `a position not reached yet times out, and a closed replica says false`(newStore: () -> UserStore) {
        newStore().use { store ->
            val replica = PostgresReplica.start(store, db.url)
            replica.use {
                assertTrue(it.awaitCaughtUp(Duration.ofSeconds(20)))
                assertTrue(it.awaitApplied(it.appliedLsn, Duration.ZERO), "the applied position itself is reached")
                assertTrue(it.awaitApplied(0, Duration.ZERO))
                val far = it.appliedLsn + (1L shl 40)
                val t0 = System.nanoTime()
                assertFalse(it.awaitApplied(far, Duration.ofMillis(300)))
                val waitedMillis = (System.nanoTime() - t0) / 1_000_000
                assertTrue(waitedMillis in 290..5_000, "waited $waitedMillis ms for a 300 ms timeout")
            }
            assertFalse(replica.awaitApplied(replica.appliedLsn + 1, Duration.ofSeconds(5)))
        }
    }
}
