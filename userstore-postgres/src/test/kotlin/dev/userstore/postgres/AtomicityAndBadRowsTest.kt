package dev.userstore.postgres

import dev.userstore.UserStore
import dev.userstore.postgres.PgDatabase.Companion.assertReplicaEquals
import dev.userstore.postgres.PgDatabase.Companion.contents
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.MethodSource
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong
import java.util.concurrent.atomic.AtomicReference
import kotlin.test.assertEquals
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** A reader never sees half of a source transaction; rows that break the rules are reported, not applied. */
class AtomicityAndBadRowsTest : PgDatabaseTest() {
    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `a reader never sees half of a transaction`(newStore: () -> UserStore) {
        val rows = 20
        db.sql("INSERT INTO users SELECT g, 'v0' FROM generate_series(0, ${rows - 1}) g")
        newStore().use { store ->
            PostgresReplica.start(store, db.url).use { replica ->
                assertReplicaEquals(db, replica, store, "copy")
                val stop = AtomicBoolean()
                val torn = AtomicReference<String?>()
                val reads = AtomicLong()
                val versions =
                    java.util.concurrent.ConcurrentHashMap
                        .newKeySet<String>()
                val reader =
                    Thread {
                        while (!stop.get()) {
                            val page = store.scan(0, 1000)
                            val names = page.map { it.name }.toSet()
                            reads.incrementAndGet()
                            versions += names
                            // Every transaction rewrites all rows to one version, in one statement per row, and
                            // the odd-numbered ones also delete and re-insert row 0.
                            if (names.size != 1 || page.size != rows) torn.compareAndSet(null, "saw $names in ${page.size} rows")
                        }
                    }
                reader.start()
                db.connect().use { c ->
                    c.autoCommit = false
                    for (v in 1..150) {
                        c.createStatement().use { st ->
                            if (v % 2 == 1) st.execute("DELETE FROM users WHERE id = 0")
                            for (id in 0 until rows) {
                                if (v % 2 == 1 && id == 0) {
                                    st.execute("INSERT INTO users VALUES (0, 'v$v')")
                                } else {
                                    st.execute("UPDATE users SET name = 'v$v' WHERE id = $id")
                                }
                            }
                        }
                        c.commit()
                    }
                }
                assertReplicaEquals(db, replica, store, "end")
                stop.set(true)
                reader.join()
                assertNull(torn.get(), "a reader saw part of a transaction")
                assertTrue(versions.size > 10, "the reader saw ${versions.size} versions in ${reads.get()} reads: too few to tell")
                assertEquals(setOf("v150"), contents(store).values.toSet())
            }
        }
    }

    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `rows that break the rules are reported and not applied`(newStore: () -> UserStore) {
        val tooLong = "x".repeat(257)
        // One in the initial copy.
        db.sql("INSERT INTO users VALUES (1, 'one'), (2, '')")
        newStore().use { store ->
            PostgresReplica.start(store, db.url).use { replica ->
                assertReplicaEquals(db, replica, store, "copy")
                assertEquals(1, replica.rejectedRows)
                assertEquals(mapOf(1L to "one"), contents(store))
                db.sql(
                    "INSERT INTO users VALUES (3, 'three'), (4, ''), (5, '$tooLong'), (-6, 'negative'), (7, '${"😀".repeat(256)}')",
                    "UPDATE users SET name = 'uno' WHERE id = 1",
                )
                assertReplicaEquals(db, replica, store, "bad rows in a transaction")
                assertEquals(4, replica.rejectedRows)
                assertEquals(mapOf(1L to "uno", 3L to "three", 7L to "😀".repeat(256)), contents(store))
                val error = assertNotNull(replica.lastError)
                assertTrue(error.contains("id 4") && error.contains("id 5") && error.contains("id -6"), error)
                // A bad row made good appears; a good row made bad disappears (the store never serves a stale name).
                db.sql("UPDATE users SET name = 'four' WHERE id = 4", "UPDATE users SET name = '' WHERE id = 3")
                assertReplicaEquals(db, replica, store, "fixed and broken")
                assertEquals(mapOf(1L to "uno", 4L to "four", 7L to "😀".repeat(256)), contents(store))
                assertEquals(5, replica.rejectedRows)
                assertTrue(replica.isConnected)
            }
        }
    }
}
