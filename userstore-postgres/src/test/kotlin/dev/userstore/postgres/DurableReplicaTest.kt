package dev.userstore.postgres

import dev.userstore.KotlinUserStore
import dev.userstore.NativeUserStore
import dev.userstore.Sync
import dev.userstore.UserStore
import dev.userstore.postgres.PgDatabase.Companion.assertReplicaEquals
import dev.userstore.testing.ChildJvm
import org.junit.jupiter.api.Named
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.Arguments
import org.junit.jupiter.params.provider.MethodSource
import java.io.IOException
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.util.concurrent.TimeUnit
import kotlin.random.Random
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** A durable replica (store on a data directory, named slot, [PositionStore.file]) restarted: no copy, equal. */
class DurableReplicaTest : PgDatabaseTest() {
    override val startState = listOf("TRUNCATE users", "INSERT INTO users SELECT g, 'n' || g FROM generate_series(0, 999) g")

    @TempDir
    lateinit var tmp: Path

    private fun slot() = "us_durable_" + Random.nextLong(1L shl 30).toString(36)

    @ParameterizedTest
    @MethodSource("durableStores")
    fun `a closed durable replica reopens from its directory without a copy`(kind: String) {
        val dir = tmp.resolve("data")
        val slot = slot()
        val work = RandomWorkload(Random.nextLong())
        openDurable(kind, dir).use { store ->
            PostgresReplica.start(store, db.url, ReplicaOptions.durable(slot, dir)).use { replica ->
                assertReplicaEquals(db, replica, store, "first run")
                assertEquals(1, replica.copies)
                db.connect().use { c -> repeat(20) { work.transaction(c) } }
                assertReplicaEquals(db, replica, store, "first run, streamed")
            }
        }
        assertTrue(Files.exists(dir.resolve(FilePositionStore.FILE_NAME)))
        db.connect().use { c -> repeat(20) { work.transaction(c) } } // committed while the replica is down
        reopenAndCheck(kind, dir, slot, work)
    }

    @ParameterizedTest
    @MethodSource("durableStores")
    fun `a SIGKILLed durable replica reopens from its directory without a copy`(kind: String) {
        val dir = tmp.resolve("data")
        val slot = slot()
        val work = RandomWorkload(Random.nextLong())
        val process = child(kind, dir, slot)
        db.connect().use { c ->
            repeat(20) { work.transaction(c) }
            Thread.sleep(200) // some of them applied, maybe not all
            process.destroyForcibly() // SIGKILL on Linux
            repeat(20) { work.transaction(c) }
        }
        assertTrue(process.waitFor(30, TimeUnit.SECONDS))
        assertEquals(137, process.exitValue(), "killed by SIGKILL")
        assertTrue(slot in PostgresReplica.listSlots(db.url))
        reopenAndCheck(kind, dir, slot, work)
    }

    @ParameterizedTest
    @MethodSource("durableStores")
    fun `a durable replica whose slot moved past its saved position copies again`(kind: String) {
        val dir = tmp.resolve("data")
        val slot = slot()
        val work = RandomWorkload(Random.nextLong())
        openDurable(kind, dir).use { store ->
            PostgresReplica.start(store, db.url, ReplicaOptions.durable(slot, dir)).use { replica ->
                assertReplicaEquals(db, replica, store, "first run")
            }
        }
        db.connect().use { c -> repeat(20) { work.transaction(c) } }
        // As a data directory restored from an older copy would find its slot: confirmed past the saved position.
        db.sql("SELECT pg_replication_slot_advance('$slot', pg_current_wal_lsn())")
        openDurable(kind, dir).use { store ->
            PostgresReplica.start(store, db.url, ReplicaOptions.durable(slot, dir)).use { replica ->
                assertReplicaEquals(db, replica, store, "reopened")
                assertEquals(1, replica.copies, "the transactions between the two positions come from a new copy")
            }
        }
        assertTrue(PostgresReplica.dropSlot(db.url, slot))
    }

    private fun reopenAndCheck(
        kind: String,
        dir: Path,
        slot: String,
        work: RandomWorkload,
    ) {
        openDurable(kind, dir).use { store ->
            PostgresReplica.start(store, db.url, ReplicaOptions.durable(slot, dir)).use { replica ->
                assertTrue(replica.isLoaded, "a durable replica's store is whole from the start")
                assertReplicaEquals(db, replica, store, "reopened")
                assertEquals(0, replica.copies, "a durable replica resumes without copying the table")
                db.connect().use { c -> repeat(10) { work.transaction(c) } }
                assertReplicaEquals(db, replica, store, "reopened, streamed")
            }
        }
        assertTrue(PostgresReplica.dropSlot(db.url, slot))
        assertFalse(slot in PostgresReplica.listSlots(db.url))
    }

    private fun child(
        kind: String,
        dir: Path,
        slot: String,
    ): Process =
        ChildJvm
            .startUntil(
                ChildJvm.command(DurableReplicaChild::class.java.name, args = listOf(db.url, kind, dir.toString(), slot)),
                "READY",
            ).first

    @Test
    fun `the position file store refuses BATCH and NONE, reads what it saved and names a damaged file`() {
        for (sync in listOf(Sync.BATCH, Sync.NONE)) {
            val e = assertFailsWith<IllegalArgumentException> { PositionStore.file(tmp, sync) }
            assertTrue("Sync.ALWAYS" in e.message!!, e.message)
        }
        assertFailsWith<IllegalArgumentException> { PositionStore.file(tmp.resolve("missing")) }
        val positions = PositionStore.file(tmp)
        assertEquals(null, positions.load())
        positions.save(0x16B3748L or (5L shl 32))
        assertEquals("lsn 5/16B3748\n", Files.readString(tmp.resolve(FilePositionStore.FILE_NAME)))
        assertEquals(0x16B3748L or (5L shl 32), PositionStore.file(tmp).load())
        Files.writeString(tmp.resolve(FilePositionStore.FILE_NAME), "lsn 5/")
        val e = assertFailsWith<IOException> { PositionStore.file(tmp) }
        assertTrue(FilePositionStore.FILE_NAME in e.message!!, e.message)
    }

    companion object {
        @JvmStatic
        fun durableStores(): List<Arguments> =
            listOf("kotlin", "native").map { Arguments.of(Named.of(if (it == "kotlin") "KotlinUserStore" else "NativeUserStore", it)) }

        fun openDurable(
            kind: String,
            dir: Path,
        ): UserStore =
            when (kind) {
                "kotlin" -> KotlinUserStore.openDurable(dir, Sync.ALWAYS)
                else -> NativeUserStore.openDurable(dir, Sync.ALWAYS)
            }
    }
}

/** The durable replica process [DurableReplicaTest] kills: args URL, store kind, data directory, slot. */
object DurableReplicaChild {
    @JvmStatic
    fun main(args: Array<String>) {
        val dir = Path.of(args[2])
        val store = DurableReplicaTest.openDurable(args[1], dir)
        val replica = PostgresReplica.start(store, args[0], ReplicaOptions.durable(args[3], dir))
        check(replica.awaitCaughtUp(Duration.ofSeconds(50))) { "not caught up: ${replica.lastError}" }
        println("READY")
        System.out.flush()
        Thread.sleep(Long.MAX_VALUE)
    }
}
