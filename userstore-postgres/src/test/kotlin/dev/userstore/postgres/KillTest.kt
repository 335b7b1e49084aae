package dev.userstore.postgres

import dev.userstore.KotlinUserStore
import dev.userstore.UserStore
import dev.userstore.postgres.PgDatabase.Companion.assertReplicaEquals
import dev.userstore.testing.ChildJvm
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.MethodSource
import java.time.Duration
import java.util.concurrent.TimeUnit
import kotlin.random.Random
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** A replica's process SIGKILLed mid-stream: what it leaves on the server, and a new replica after it. */
class KillTest : PgDatabaseTest() {
    override val startState = listOf("TRUNCATE users", "INSERT INTO users SELECT g, 'n' || g FROM generate_series(0, 999) g")

    /** Starts [ReplicaChild] on [slot] ("-": temporary); returns the process and the slot it uses once caught up. */
    private fun child(slot: String): Pair<Process, String> =
        ChildJvm.startUntil(ChildJvm.command(ReplicaChild::class.java.name, args = listOf(db.url, slot)), "READY ")

    private fun waitFor(
        what: String,
        condition: () -> Boolean,
    ) {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
        while (!condition()) {
            check(System.nanoTime() < deadline) { "timed out waiting for $what" }
            Thread.sleep(20)
        }
    }

    private fun killMidStream(slot: String): String {
        val work = RandomWorkload(Random.nextLong())
        val (process, used) = child(slot)
        db.connect().use { c ->
            repeat(20) { work.transaction(c) }
            process.destroyForcibly() // SIGKILL on Linux
            repeat(20) { work.transaction(c) }
        }
        assertTrue(process.waitFor(30, TimeUnit.SECONDS))
        assertEquals(137, process.exitValue(), "killed by SIGKILL")
        return used
    }

    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `a killed replica's temporary slot goes away and a new replica is equal`(newStore: () -> UserStore) {
        val slot = killMidStream("-")
        waitFor("PostgreSQL to drop the temporary slot $slot") { slot !in PostgresReplica.listSlots(db.url) }
        newStore().use { store ->
            PostgresReplica.start(store, db.url).use { replica -> assertReplicaEquals(db, replica, store, "new replica") }
        }
    }

    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `a killed replica's named slot stays until a new replica takes it over`(newStore: () -> UserStore) {
        val name = "us_kill_" + Random.nextLong(1L shl 30).toString(36)
        assertEquals(name, killMidStream(name))
        assertTrue(name in PostgresReplica.listSlots(db.url), "a named slot outlives its process")
        newStore().use { store ->
            // A new process knows no position (in-memory PositionStore): the slot is made again, with a copy.
            PostgresReplica.start(store, db.url, ReplicaOptions(slotName = name)).use { replica ->
                assertReplicaEquals(db, replica, store, "replica on the same slot")
                assertEquals(1, replica.copies)
            }
        }
        assertTrue(PostgresReplica.dropSlot(db.url, name))
        assertFalse(name in PostgresReplica.listSlots(db.url))
    }
}

/** The replica process [KillTest] kills: args URL and slot name ("-" = temporary). */
object ReplicaChild {
    @JvmStatic
    fun main(args: Array<String>) {
        val store = KotlinUserStore()
        val slot = args[1].takeIf { it != "-" }
        val replica = PostgresReplica.start(store, args[0], ReplicaOptions(slotName = slot))
        check(replica.awaitCaughtUp(Duration.ofSeconds(50))) { "not caught up: ${replica.lastError}" }
        println("READY ${replica.slotName}")
        System.out.flush()
        Thread.sleep(Long.MAX_VALUE)
    }
}
