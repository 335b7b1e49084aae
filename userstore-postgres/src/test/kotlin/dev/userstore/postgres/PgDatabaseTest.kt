package dev.userstore.postgres

import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeEach
import org.junit.jupiter.api.TestInstance

/**
 * A test class with a database of its own ([db], `us_repl_<random>`): made before its first test, dropped after its
 * last, and set to [startState] before each test. Made per test rather than in `@BeforeAll`, so that without
 * `USERSTORE_PG_URL` every test reports SKIPPED with the reason.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class PgDatabaseTest {
    protected lateinit var db: PgDatabase

    /** The statements each test starts from (one transaction); by default an empty table. */
    protected open val startState: List<String> = listOf("TRUNCATE users")

    @BeforeEach
    fun database() {
        if (!::db.isInitialized) db = PgDatabase.create()
        if (startState.isNotEmpty()) db.sql(*startState.toTypedArray())
    }

    @AfterAll
    fun tearDown() {
        if (::db.isInitialized) db.close()
    }
}
