package dev.userstore.postgres

import dev.userstore.UserStore
import dev.userstore.postgres.PgDatabase.Companion.assertReplicaEquals
import dev.userstore.postgres.PgDatabase.Companion.contents
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.MethodSource
import java.time.Duration
import kotlin.random.Random
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/** Initial copy, then the stream: the store equals the table after every random transaction (issue 21, item 5). */
class ReplicaStreamTest : PgDatabaseTest() {
    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `initial copy and random transactions keep the store equal to the table`(newStore: () -> UserStore) {
        val seed = Random.nextLong()
        println("seed $seed")
        val work = RandomWorkload(seed)
        db.connect().use { c ->
            c.autoCommit = false
            repeat(2_000) { work.upsert(c, it.toLong() * 7 % 2_500, work.name()) }
            c.commit()
        }
        newStore().use { store ->
            PostgresReplica.start(store, db.url, ReplicaOptions(copyBatchSize = 300)).use { replica ->
                assertReplicaEquals(db, replica, store, "after the initial copy (seed $seed)")
                assertEquals(1, replica.copies)
                db.connect().use { c ->
                    repeat(60) { i ->
                        work.transaction(c)
                        assertReplicaEquals(db, replica, store, "after transaction $i (seed $seed)")
                    }
                }
                assertTrue(work.rollbacks > 0 && work.commits > 0, "the workload both committed and rolled back")
                assertEquals(0, replica.rejectedRows)
                assertTrue(replica.isConnected)
                assertEquals(0, replica.lag().bytes)
            }
        }
    }

    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `a copy over a store with other data applies the difference`(newStore: () -> UserStore) {
        db.sql("INSERT INTO users VALUES (1, 'one'), (2, 'two'), (3, 'three')")
        newStore().use { store ->
            store.putAll(PgDatabase.users(2L to "old two", 3L to "three", 9L to "nine"))
            PostgresReplica.start(store, db.url).use { replica ->
                assertReplicaEquals(db, replica, store, "after the copy")
                assertEquals(mapOf(1L to "one", 2L to "two", 3L to "three"), contents(store))
            }
        }
    }

    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `a transaction that changes an id and a truncate followed by inserts`(newStore: () -> UserStore) {
        db.sql("INSERT INTO users VALUES (1, 'one'), (2, 'two')")
        newStore().use { store ->
            PostgresReplica.start(store, db.url).use { replica ->
                assertReplicaEquals(db, replica, store, "copy")
                db.sql("UPDATE users SET id = 10 WHERE id = 1", "UPDATE users SET name = 'ten' WHERE id = 10")
                assertReplicaEquals(db, replica, store, "id change")
                assertEquals(mapOf(2L to "two", 10L to "ten"), contents(store))
                db.sql("INSERT INTO users VALUES (5, 'five')", "TRUNCATE users", "INSERT INTO users VALUES (7, 'seven')")
                assertReplicaEquals(db, replica, store, "truncate")
                assertEquals(mapOf(7L to "seven"), contents(store))
                // A long name, stored out of line (TOAST), then an update that leaves it unchanged.
                val long = "é".repeat(256)
                db.sql(
                    "ALTER TABLE users ALTER COLUMN name SET STORAGE EXTERNAL",
                    "ALTER TABLE users SET (toast_tuple_target = 128)",
                    "INSERT INTO users VALUES (8, '$long')",
                )
                db.sql("UPDATE users SET id = 80 WHERE id = 8")
                assertReplicaEquals(db, replica, store, "toast")
                assertEquals(long, store.get(80)?.name)
            }
        }
    }

    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `lag and awaitCaughtUp report positions`(newStore: () -> UserStore) {
        newStore().use { store ->
            PostgresReplica.start(store, db.url).use { replica ->
                assertTrue(replica.awaitCaughtUp(Duration.ofSeconds(20)))
                val before = replica.appliedLsn
                assertTrue(before > 0)
                db.sql("INSERT INTO users VALUES (1, 'one')")
                assertTrue(replica.awaitCaughtUp(Duration.ofSeconds(20)))
                assertTrue(replica.appliedLsn > before)
                assertEquals("one", store.get(1)?.name)
                val lag = replica.lag()
                assertEquals(0, lag.bytes)
                assertTrue((lag.lastCommitDelay ?: Duration.ofDays(1)) < Duration.ofSeconds(10))
                assertTrue(replica.appliedLsnText.contains('/'))
            }
        }
    }
}
