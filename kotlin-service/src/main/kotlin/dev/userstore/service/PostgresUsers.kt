package dev.userstore.service

import com.zaxxer.hikari.HikariConfig
import com.zaxxer.hikari.HikariDataSource
import dev.userstore.InvalidUserException
import dev.userstore.User
import dev.userstore.UserRules
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import java.net.URLDecoder
import java.sql.Connection
import java.sql.SQLException

/** The table and its index, created when missing (the same statements as the Rust service's `db::SCHEMA`). */
internal val SCHEMA_STATEMENTS =
    listOf(
        // Serializes concurrent creators (a constant key, 0x7573657273746f72 "userstor", the same in both services and
        // in userstore-postgres' PostgresReplica): CREATE ... IF NOT EXISTS alone
        // can still fail with a duplicate-key error when two sessions create the same table at the same moment.
        "SELECT pg_advisory_xact_lock(8463219666996981618)",
        "CREATE TABLE IF NOT EXISTS users (id bigint PRIMARY KEY, name text NOT NULL)",
        "CREATE INDEX IF NOT EXISTS users_name_idx ON users (name)",
    )

private const val SELECT_NAME = "SELECT name FROM users WHERE id = ?"

// An insert tells itself from an update by the new row version's xmax (0 when an INSERT created it), in one
// statement, so a concurrent write of the same id cannot make 201/200 wrong.
private const val UPSERT =
    "INSERT INTO users (id, name) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name RETURNING (xmax = 0) AS inserted"
private const val DELETE = "DELETE FROM users WHERE id = ?"
private const val FIND_BY_NAME = "SELECT id, name FROM users WHERE name = ? ORDER BY id"
private const val COUNT = "SELECT count(*) FROM users"

// Replica mode's read-your-writes: the WAL write position, read on the writing connection right after its COMMIT
// returned, as bytes (pg_lsn minus 0/0). See [PostgresUsers.putAt].
private const val WAL_POSITION = "SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint"

// Replica mode: a session whose synchronous_commit is `off` would answer COMMIT before its record is written, so the
// position read after it could be before the commit; such a session is raised to `local` (the commit record flushed
// here before COMMIT returns). Any other setting (`local`, `on`, `remote_write`, `remote_apply`) is kept.
private const val SYNC_COMMIT_FOR_REPLICA =
    "SELECT set_config('synchronous_commit', 'local', false) WHERE current_setting('synchronous_commit') = 'off'"

/** The longest a request waits for a pooled connection, or for a new one, in milliseconds. */
private const val POOL_TIMEOUT_MILLIS = 5_000L

/** A database call failed. The message names the cause with every password replaced by `***`; no cause is attached. */
class DatabaseUnavailableException(
    message: String,
) : RuntimeException(message)

/** The passwords that must never be shown, and the means to hide them in any text. */
internal class Secrets(
    private val secrets: List<String>,
) {
    /** [text] with every secret replaced by `***`. */
    fun scrub(text: String): String = secrets.filter { it.isNotEmpty() }.fold(text) { acc, secret -> acc.replace(secret, "***") }

    /** [e]'s message and its causes' messages (a cause already quoted is not repeated), scrubbed. */
    fun describe(e: Throwable): String {
        val text = StringBuilder(e.message ?: e.javaClass.simpleName)
        var cause = e.cause
        while (cause != null && cause !== cause.cause) {
            val shown = cause.message ?: cause.javaClass.simpleName
            if (!text.contains(shown)) text.append(": ").append(shown)
            cause = cause.cause
        }
        return scrub(text.toString())
    }
}

/**
 * [url] for display: the password of its user info and any `password` query parameter replaced by `***`. Works on
 * the text itself rather than a parser's result, so even a URL that a parser refuses is shown without its password;
 * a text without `://` is not shown at all.
 */
fun redactDatabaseUrl(url: String): String {
    val schemeEnd = url.indexOf("://")
    if (schemeEnd < 0) return "<the --db URL, not shown: it is not a URL>"
    val authorityStart = schemeEnd + 3
    val authorityEnd = url.indexOfAny(charArrayOf('/', '?', '#'), authorityStart).let { if (it < 0) url.length else it }
    val authority = url.substring(authorityStart, authorityEnd)
    val at = authority.lastIndexOf('@')
    val shownAuthority =
        if (at >= 0 && authority.substring(0, at).contains(':')) {
            val userInfo = authority.substring(0, at)
            userInfo.substringBefore(':') + ":***" + authority.substring(at)
        } else {
            authority
        }
    var rest = url.substring(authorityEnd)
    val queryStart = rest.indexOf('?')
    if (queryStart >= 0) {
        val fragmentStart = rest.indexOf('#', queryStart).let { if (it < 0) rest.length else it }
        val query =
            rest.substring(queryStart + 1, fragmentStart).split('&').joinToString("&") { pair ->
                if (decode(pair.substringBefore('=')).equals("password", ignoreCase = true)) "password=***" else pair
            }
        rest = rest.substring(0, queryStart + 1) + query + rest.substring(fragmentStart)
    }
    return url.substring(0, authorityStart) + shownAuthority + rest
}

/** Percent-decoding of one URL component (a `+` stays a `+`, as in a URL's user info or path). */
private fun decode(part: String): String = URLDecoder.decode(part.replace("+", "%2B"), Charsets.UTF_8)

/**
 * The store's rules for a write (docs/RULES.md: an id in 0..Long.MAX_VALUE, a name of 1 to 256 code points without
 * an unpaired surrogate), with the stores' messages, plus PostgreSQL's own limit that `text` cannot hold U+0000.
 * Written here because the library keeps its check private; `PostgresUsersTest` holds the two to the same answers.
 *
 * @throws InvalidUserException when the user breaks a rule
 */
fun checkUser(
    id: Long,
    name: String,
) {
    // The store's own rules (docs/RULES.md), then PostgreSQL's one more.
    UserRules.checkId(id)
    UserRules.checkName(name)
    if (name.indexOf('\u0000') >= 0) {
        throw InvalidUserException("invalid name: the name contains U+0000, which a PostgreSQL text column cannot hold")
    }
}

/**
 * `--db URL --db-mode direct`: the users table in PostgreSQL, through pgjdbc and a HikariCP pool.
 *
 * JDBC blocks its thread for each call, so every call here runs on [Dispatchers.IO]: a Ktor handler on Netty's event
 * loop suspends instead of blocking that loop (which serves many connections). Dispatchers.IO is the coroutines' pool
 * for blocking work: it grows to 64 threads, more than the connection pool, so a request that waits for a
 * connection waits in HikariCP, on an IO thread. Virtual threads would do the same on JDK 21+, but the service
 * runs on JDK 17 too; an asynchronous client (vertx-pg-client, R2DBC) would avoid the thread hop but is not what most
 * Ktor backends run (docs/SERVICE.md, "Database modes").
 *
 * The password (from the URL, or from `PGPASSWORD` when the URL has none; pgjdbc reads `.pgpass` itself) is handed
 * to HikariCP as a property, never put in the JDBC URL, and scrubbed from every message this class makes.
 */
class PostgresUsers private constructor(
    private val dataSource: HikariDataSource,
    /** The URL as shown: its password redacted. */
    val shownUrl: String,
    private val secrets: Secrets,
) : AutoCloseable {
    /** The user's name, or null. */
    suspend fun getName(id: Long): String? =
        call { connection ->
            connection.prepareStatement(SELECT_NAME).use { statement ->
                statement.setLong(1, id)
                statement.executeQuery().use { rows -> if (rows.next()) rows.getString(1) else null }
            }
        }

    /** Inserts or replaces [user] after [checkUser]; true if the row was created. */
    suspend fun put(user: User): Boolean {
        checkUser(user.id, user.name)
        return call { connection ->
            connection.prepareStatement(UPSERT).use { statement ->
                statement.setLong(1, user.id)
                statement.setString(2, user.name)
                statement.executeQuery().use { rows ->
                    rows.next()
                    rows.getBoolean(1)
                }
            }
        }
    }

    /**
     * A write of replica mode: [changed] as [put] or [remove] answer it, and [walPosition], a WAL position at or after
     * the end of the write's commit record (what the instance's replica must have applied before answering).
     */
    class Committed(
        val changed: Boolean,
        val walPosition: Long,
    )

    /**
     * [put], then the WAL position to wait for (replica mode, read-your-writes). The statement commits on its own
     * (auto-commit) and `pg_current_wal_lsn()` is read next on the same connection.
     *
     * Why that position: PostgreSQL does not hand a transaction its commit LSN. `pg_current_wal_lsn()` is the WAL
     * write position; with synchronous_commit at `local` or above (see [connect]'s `readYourWrites`) COMMIT returns
     * only once its record is flushed, so the write position read after it is at or past the record's end: waiting
     * for it never answers before the write is applied. It can be further on when other sessions wrote WAL in
     * between; the replica then reaches it from the server's keepalives (a little later, never wrongly). The insert
     * position (`pg_current_wal_insert_lsn()`) would also be an upper bound, but at a page boundary it points past the
     * page header, where no WAL may come for a long time on an idle server.
     */
    suspend fun putAt(user: User): Committed {
        checkUser(user.id, user.name)
        return call { connection ->
            val created =
                connection.prepareStatement(UPSERT).use { statement ->
                    statement.setLong(1, user.id)
                    statement.setString(2, user.name)
                    statement.executeQuery().use { rows ->
                        rows.next()
                        rows.getBoolean(1)
                    }
                }
            Committed(created, walPosition(connection))
        }
    }

    /** [remove], then the WAL position to wait for, as [putAt]. */
    suspend fun removeAt(id: Long): Committed =
        call { connection ->
            val removed =
                connection.prepareStatement(DELETE).use { statement ->
                    statement.setLong(1, id)
                    statement.executeUpdate() > 0
                }
            Committed(removed, walPosition(connection))
        }

    private fun walPosition(connection: Connection): Long =
        connection.createStatement().use { statement ->
            statement.executeQuery(WAL_POSITION).use { rows ->
                rows.next()
                rows.getLong(1)
            }
        }

    /** Removes the user; true if it existed. */
    suspend fun remove(id: Long): Boolean =
        call { connection ->
            connection.prepareStatement(DELETE).use { statement ->
                statement.setLong(1, id)
                statement.executeUpdate() > 0
            }
        }

    /** The users named exactly [name], sorted by id. */
    suspend fun findByName(name: String): List<User> =
        call { connection ->
            connection.prepareStatement(FIND_BY_NAME).use { statement ->
                statement.setString(1, name)
                statement.executeQuery().use { rows ->
                    buildList { while (rows.next()) add(User(rows.getLong(1), rows.getString(2))) }
                }
            }
        }

    /** Throws [DatabaseUnavailableException] unless the database answers a query through the pool. */
    suspend fun ping() {
        call { connection -> connection.createStatement().use { it.execute("SELECT 1") } }
    }

    /** The number of rows, blocking (the size gauge, read when /metrics is scraped, on an IO thread); NaN on failure. */
    fun countOrNaN(): Double =
        try {
            dataSource.connection.use { connection ->
                connection.createStatement().use { statement ->
                    statement.executeQuery(COUNT).use { rows ->
                        rows.next()
                        rows.getLong(1).toDouble()
                    }
                }
            }
        } catch (e: SQLException) {
            Double.NaN
        }

    private suspend fun <T> call(block: (Connection) -> T): T =
        withContext(Dispatchers.IO) {
            try {
                dataSource.connection.use(block)
            } catch (e: SQLException) {
                throw DatabaseUnavailableException(secrets.describe(e))
            }
        }

    /** Closes the pool and its connections. */
    override fun close() = dataSource.close()

    companion object {
        /**
         * Opens a pool of at most [poolSize] connections to [url] (`postgres://` or `postgresql://`), checks that it
         * connects and creates the schema if missing.
         *
         * @param readYourWrites replica mode: each connection's synchronous_commit is raised to `local` if it is `off`,
         *   so the position [putAt] and [removeAt] read after COMMIT is at or past the commit
         * @throws IllegalArgumentException for a URL that is not one of those (the message shows it redacted)
         * @throws DatabaseUnavailableException when the database cannot be reached or used
         */
        fun connect(
            url: String,
            poolSize: Int,
            readYourWrites: Boolean = false,
        ): PostgresUsers {
            val shown = redactDatabaseUrl(url)
            val parsed = parse(url, shown)
            val secrets = Secrets(parsed.secrets)
            val config =
                HikariConfig().apply {
                    jdbcUrl = parsed.jdbcUrl
                    if (parsed.user != null) username = parsed.user
                    if (parsed.password != null) password = parsed.password
                    maximumPoolSize = poolSize
                    minimumIdle = 1
                    connectionTimeout = POOL_TIMEOUT_MILLIS
                    poolName = "userstore-db"
                    if (readYourWrites) connectionInitSql = SYNC_COMMIT_FOR_REPLICA
                    addDataSourceProperty("ApplicationName", "userstore-kotlin-service")
                }
            val dataSource =
                try {
                    HikariDataSource(config)
                } catch (e: RuntimeException) {
                    // HikariCP's PoolInitializationException wraps the driver's SQLException.
                    throw DatabaseUnavailableException("cannot use the database $shown: ${secrets.describe(e)}")
                }
            try {
                dataSource.connection.use { connection ->
                    connection.autoCommit = false
                    connection.createStatement().use { statement -> SCHEMA_STATEMENTS.forEach { statement.execute(it) } }
                    connection.commit()
                }
            } catch (e: SQLException) {
                dataSource.close()
                throw DatabaseUnavailableException("cannot use the database $shown: ${secrets.describe(e)}")
            }
            return PostgresUsers(dataSource, shown, secrets)
        }

        private class Parsed(
            val jdbcUrl: String,
            val user: String?,
            val password: String?,
            /** Every spelling of the password met (raw and decoded), to scrub from messages. */
            val secrets: List<String>,
        )

        /** `postgres://USER:PASSWORD@HOST:PORT/DB?k=v` as a JDBC URL without user and password, and those two apart. */
        private fun parse(
            url: String,
            shown: String,
        ): Parsed {
            val prefix = listOf("postgres://", "postgresql://").firstOrNull { url.startsWith(it) }
            require(prefix != null) { "--db $shown: expected a URL postgres://USER@HOST:PORT/DATABASE" }
            val rest = url.substring(prefix.length)
            val authorityEnd = rest.indexOfAny(charArrayOf('/', '?', '#')).let { if (it < 0) rest.length else it }
            val authority = rest.substring(0, authorityEnd)
            val at = authority.lastIndexOf('@')
            val userInfo = if (at >= 0) authority.substring(0, at) else null
            val hostPort = authority.substring(at + 1)
            require(hostPort.isNotEmpty()) { "--db $shown: no host" }
            var user = userInfo?.substringBefore(':')?.let(::decode)?.ifEmpty { null }
            val rawPassword = userInfo?.takeIf { it.contains(':') }?.substringAfter(':')
            var password = rawPassword?.let(::decode)
            val secrets = listOfNotNull(rawPassword, password).toMutableList()
            val pathAndQuery = rest.substring(authorityEnd).substringBefore('#')
            val path = pathAndQuery.substringBefore('?')
            val query = pathAndQuery.substringAfter('?', "")
            // user and password given as query parameters move to the pool's properties too.
            val kept = mutableListOf<String>()
            for (pair in query.split('&').filter { it.isNotEmpty() }) {
                val key = decode(pair.substringBefore('='))
                val value = decode(pair.substringAfter('=', ""))
                when (key) {
                    "user" -> {
                        user = user ?: value
                    }

                    "password" -> {
                        secrets += listOf(pair.substringAfter('=', ""), value)
                        password = password ?: value
                    }

                    else -> {
                        kept += pair
                    }
                }
            }
            if (password == null) password = System.getenv("PGPASSWORD")?.ifEmpty { null }?.also { secrets += it }
            val jdbcUrl = "jdbc:postgresql://$hostPort$path" + if (kept.isEmpty()) "" else "?" + kept.joinToString("&")
            return Parsed(jdbcUrl, user, password, secrets)
        }
    }
}
