package dev.userstore.service

import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.TestInstance
import java.net.URI
import java.sql.Connection
import java.sql.DriverManager
import java.util.UUID

/**
 * A test class with a database of its own on the cluster named by `USERSTORE_PG_URL` ([url]): created before its
 * tests, dropped after them (its replication slots' sessions ended first), its `users` table emptied before each
 * test. Without the variable every test reports SKIPPED with the reason.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class PgServiceTest {
    protected val clusterUrl: String? = System.getenv("USERSTORE_PG_URL")?.ifEmpty { null }
    protected val database =
        "us_test_" +
            UUID
                .randomUUID()
                .toString()
                .replace("-", "")
                .take(16)

    /** `postgres://` URL of [database]. */
    protected lateinit var url: String

    /** A JDBC connection to [db] ([database] by default; `postgres` is the cluster's administration database). */
    protected fun jdbc(db: String = database): Connection =
        URI(clusterUrl!!).let { uri ->
            val user = uri.userInfo?.substringBefore(':')
            DriverManager.getConnection(
                "jdbc:postgresql://${uri.host}:${uri.port}/$db",
                java.util.Properties().apply { if (user != null) setProperty("user", user) },
            )
        }

    /** The first column of the first row [sql] gives on [database], or null. */
    protected fun query(sql: String): String? =
        jdbc().use { c -> c.createStatement().use { s -> s.executeQuery(sql).use { r -> if (r.next()) r.getString(1) else null } } }

    @BeforeAll
    fun createDatabase() {
        if (clusterUrl == null) {
            System.err.println("${javaClass.simpleName}: $SKIPPED")
            return
        }
        jdbc("postgres").use { c -> c.createStatement().use { it.execute("CREATE DATABASE $database") } }
        val uri = URI(clusterUrl)
        url = URI(uri.scheme, uri.userInfo, uri.host, uri.port, "/$database", null, null).toString()
    }

    @AfterAll
    fun dropDatabase() {
        if (clusterUrl == null) return
        // A replica's walsender can outlive its client by a moment; DROP DATABASE refuses while its slot is active.
        jdbc("postgres").use { c ->
            c.createStatement().use {
                it.execute(
                    "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots " +
                        "WHERE database = '$database' AND active_pid IS NOT NULL",
                )
                Thread.sleep(200)
                it.execute("DROP DATABASE IF EXISTS $database WITH (FORCE)")
            }
        }
    }

    /** Each test is reported skipped, with the reason, when there is no database to run it against. */
    @BeforeEach
    fun emptyTable() {
        assumeTrue(clusterUrl != null, SKIPPED)
        if (query("SELECT to_regclass('users')::text") != null) query("DELETE FROM users RETURNING 1")
    }

    private companion object {
        const val SKIPPED = "skipped: USERSTORE_PG_URL unset (scripts/postgres.sh start prints one; CI sets it)"
    }
}
