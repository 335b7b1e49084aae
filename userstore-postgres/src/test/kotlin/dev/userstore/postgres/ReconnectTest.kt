package dev.userstore.postgres

import dev.userstore.UserStore
import dev.userstore.postgres.PgDatabase.Companion.assertReplicaEquals
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.MethodSource
import java.time.Duration
import java.util.concurrent.TimeUnit
import kotlin.random.Random
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** The connection goes away (walsender killed, server restarted): the replica reconnects and catches up. */
class ReconnectTest : PgDatabaseTest() {
    private val fast = ReplicaOptions(minBackoff = Duration.ofMillis(50), maxBackoff = Duration.ofMillis(500))

    private fun waitFor(
        what: String,
        condition: () -> Boolean,
    ) {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
        while (!condition()) {
            check(System.nanoTime() < deadline) { "timed out waiting for $what" }
            Thread.sleep(10)
        }
    }

    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `a temporary slot's replica copies again after its connection is killed`(newStore: () -> UserStore) {
        val work = RandomWorkload(Random.nextLong())
        db.sql("INSERT INTO users SELECT g, 'n' || g FROM generate_series(0, 299) g")
        newStore().use { store ->
            PostgresReplica.start(store, db.url, fast).use { replica ->
                assertReplicaEquals(db, replica, store, "copy")
                repeat(3) { round ->
                    val slot = replica.slotName!!
                    db.terminateSlot(slot)
                    // Writes while it is away (or reconnecting): all must arrive.
                    db.connect().use { c -> repeat(10) { work.transaction(c) } }
                    assertTrue(store.size >= 0) // the store keeps serving meanwhile
                    assertReplicaEquals(db, replica, store, "after kill $round (seed ${work.seed})")
                    waitFor("a new slot") { replica.slotName != slot }
                }
                assertTrue(replica.reconnects >= 3, "reconnects ${replica.reconnects}")
                assertEquals(4, replica.copies)
                // The copy is counted before the stream starts: the state turns STREAMING a moment later.
                waitFor("the stream after the last copy") { replica.isConnected }
            }
        }
    }

    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `a named slot's replica resumes without a copy, and the slot is listed and dropped`(newStore: () -> UserStore) {
        val slot = "us_test_" + Random.nextLong(1L shl 30).toString(36)
        val work = RandomWorkload(Random.nextLong())
        db.sql("INSERT INTO users SELECT g, 'n' || g FROM generate_series(0, 99) g")
        newStore().use { store ->
            PostgresReplica.start(store, db.url, fast.withSlotName(slot)).use { replica ->
                assertReplicaEquals(db, replica, store, "copy")
                assertTrue(slot in PostgresReplica.listSlots(db.url))
                repeat(2) { round ->
                    db.terminateSlot(slot)
                    db.connect().use { c -> repeat(10) { work.transaction(c) } }
                    assertReplicaEquals(db, replica, store, "after kill $round (seed ${work.seed})")
                }
                assertEquals(1, replica.copies, "a named slot resumes from its position")
            }
            // The slot outlives the replica until dropped.
            assertTrue(slot in PostgresReplica.listSlots(db.url))
            assertTrue(PostgresReplica.dropSlot(db.url, slot))
            assertFalse(slot in PostgresReplica.listSlots(db.url))
            assertFalse(PostgresReplica.dropSlot(db.url, slot))
        }
    }

    /** Needs USERSTORE_PG_RESTART: a shell command that restarts the server (e.g. `pg_ctl -D DIR restart`). */
    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `a server restart is survived`(newStore: () -> UserStore) {
        val restart = System.getenv("USERSTORE_PG_RESTART")
        assumeTrue(!restart.isNullOrBlank(), "USERSTORE_PG_RESTART (a command restarting the server) is not set: skipped")
        val work = RandomWorkload(Random.nextLong())
        db.sql("INSERT INTO users SELECT g, 'n' || g FROM generate_series(0, 199) g")
        newStore().use { store ->
            PostgresReplica.start(store, db.url, fast).use { replica ->
                assertReplicaEquals(db, replica, store, "copy")
                val before = PgDatabase.contents(store)
                val p = ProcessBuilder("sh", "-c", restart).inheritIO().start()
                assertEquals(0, p.waitFor())
                waitFor("the replica to notice") { !replica.isConnected || replica.reconnects > 0 }
                assertEquals(before, PgDatabase.contents(store), "the store keeps its last state while disconnected")
                waitFor("the server") { runCatching { db.table() }.isSuccess }
                db.connect().use { c -> repeat(10) { work.transaction(c) } }
                assertReplicaEquals(db, replica, store, "after the restart (seed ${work.seed})")
                assertTrue(replica.reconnects >= 1)
            }
        }
    }
}
