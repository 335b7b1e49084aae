package dev.userstore.postgres

import dev.userstore.User
import dev.userstore.UserStore
import org.junit.jupiter.api.Assumptions.assumeTrue
import java.sql.Connection
import java.sql.DriverManager
import java.time.Duration
import kotlin.random.Random
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/**
 * A database of its own for one test class, on the server named by USERSTORE_PG_URL (a postgres:// or
 * jdbc:postgresql:// URL of a user allowed to create databases and to replicate; `scripts/postgres.sh` prints
 * one). Without that variable the test class is skipped, saying so.
 */
class PgDatabase private constructor(
    adminUrl: String,
) : AutoCloseable {
    val name = "us_repl_" + Random.nextLong(1L shl 40).toString(36)
    private val admin = ConnectionSpec.parse(adminUrl)

    /** The URL of this database, in the form the variable was given. */
    val url: String = withDatabase(adminUrl, name)
    private val spec = ConnectionSpec.parse(url)

    init {
        adminConnection().use { it.createStatement().execute("CREATE DATABASE $name") }
        sql("CREATE TABLE IF NOT EXISTS users (id bigint PRIMARY KEY, name text NOT NULL)")
    }

    fun connect(): Connection = DriverManager.getConnection(spec.jdbcUrl, spec.properties(false))

    private fun adminConnection(): Connection = DriverManager.getConnection(admin.jdbcUrl, admin.properties(false))

    /** Runs [statements] in one transaction. */
    fun sql(vararg statements: String) {
        connect().use { c ->
            c.autoCommit = false
            c.createStatement().use { st -> statements.forEach { st.execute(it) } }
            c.commit()
        }
    }

    /** The table as a map. */
    fun table(): Map<Long, String> =
        connect().use { c ->
            c.createStatement().use { st ->
                st.executeQuery("SELECT id, name FROM users").use { rs ->
                    buildMap { while (rs.next()) put(rs.getLong(1), rs.getString(2)) }
                }
            }
        }

    /** Ends the walsender serving [slot] (the replica sees its connection drop). */
    fun terminateSlot(slot: String) {
        connect().use { c ->
            c.prepareStatement("SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = ?").use {
                it.setString(1, slot)
                it.execute()
            }
        }
    }

    /** Ends every connection using a slot of this database, drops its slots, then the database. */
    override fun close() {
        adminConnection().use { c ->
            c.createStatement().use { st ->
                st.execute(
                    "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots " +
                        "WHERE database = '$name' AND active_pid IS NOT NULL",
                )
                Thread.sleep(200)
                st.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '$name' AND NOT active")
                st.execute("DROP DATABASE IF EXISTS $name WITH (FORCE)")
            }
        }
    }

    companion object {
        const val ENV = "USERSTORE_PG_URL"

        /** A new database, or a skipped test when USERSTORE_PG_URL is unset. */
        fun create(): PgDatabase {
            val url = System.getenv(ENV)
            assumeTrue(
                !url.isNullOrBlank(),
                "$ENV is not set: the PostgreSQL replica tests are SKIPPED (start a server with wal_level=logical, " +
                    "e.g. scripts/postgres.sh, and export $ENV=postgres://USER@127.0.0.1:PORT/postgres)",
            )
            return PgDatabase(url!!)
        }

        /** [url] with its database replaced by [db]. */
        fun withDatabase(
            url: String,
            db: String,
        ): String {
            val m = Regex("^([a-z:]+//[^/?]*)(/[^?]*)?(\\?.*)?$").matchEntire(url) ?: error("cannot parse $ENV")
            return m.groupValues[1] + "/" + db + m.groupValues[3]
        }

        fun contents(store: UserStore): Map<Long, String> = store.scan(0, Int.MAX_VALUE).associate { it.id to it.name }

        /** The table's rows the store may hold: those that keep the store's rules. */
        fun valid(table: Map<Long, String>): Map<Long, String> = table.filter { (id, n) -> RowRules.problem(id, n) == null }

        fun assertReplicaEquals(
            db: PgDatabase,
            replica: PostgresReplica,
            store: UserStore,
            what: String,
        ) {
            assertTrue(replica.awaitCaughtUp(Duration.ofSeconds(20)), "$what: not caught up (${replica.state}, ${replica.lastError})")
            val expected = valid(db.table())
            val actual = contents(store)
            if (expected != actual) {
                val missing = expected.filter { actual[it.key] != it.value }
                val extra = actual.filter { expected[it.key] != it.value }
                assertEquals(expected, actual, "$what: store differs from the table: missing/different $missing, extra/different $extra")
            }
        }

        fun users(vararg pairs: Pair<Long, String>) = pairs.map { User(it.first, it.second) }
    }
}
