package dev.userstore.service

import com.github.ajalt.clikt.core.CliktCommand
import com.github.ajalt.clikt.core.CliktError
import com.github.ajalt.clikt.core.Context
import com.github.ajalt.clikt.core.UsageError
import com.github.ajalt.clikt.core.context
import com.github.ajalt.clikt.output.MordantHelpFormatter
import com.github.ajalt.clikt.parameters.options.default
import com.github.ajalt.clikt.parameters.options.option
import com.github.ajalt.clikt.parameters.types.enum
import com.github.ajalt.clikt.parameters.types.int
import com.github.ajalt.clikt.parameters.types.path
import com.github.ajalt.clikt.parameters.types.restrictTo
import dev.userstore.KotlinUserStore
import dev.userstore.NativeUserStore
import dev.userstore.Sync
import dev.userstore.User
import dev.userstore.UserStore
import dev.userstore.postgres.PostgresReplica
import dev.userstore.postgres.ReplicaOptions
import io.ktor.server.application.ApplicationStopped
import io.ktor.server.engine.connector
import io.ktor.server.engine.embeddedServer
import io.ktor.server.netty.Netty
import io.micrometer.prometheusmetrics.PrometheusConfig
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.runBlocking
import java.io.IOException
import java.io.PrintStream
import java.io.UncheckedIOException
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.util.concurrent.CountDownLatch

/** How long shutdown waits for quiet (no new work) before stopping the engine, in milliseconds. */
private const val SHUTDOWN_GRACE_MILLIS = 1_000L

/** The longest shutdown waits for requests in flight, in milliseconds. */
private const val SHUTDOWN_TIMEOUT_MILLIS = 10_000L

/** How `--db` is used. */
enum class DbMode(
    val label: String,
) {
    /** Every request goes to PostgreSQL. */
    DIRECT("direct"),

    /** Reads from the in-process store, kept equal to the table by logical replication; writes go to PostgreSQL. */
    REPLICA("replica"),
}

/** The store behind the service. */
enum class ServedStore(
    val label: String,
) {
    NATIVE("native"),
    KOTLIN("kotlin"),
    ;

    /** An empty store of this kind. */
    fun create(): UserStore = if (this == NATIVE) NativeUserStore() else KotlinUserStore()

    /** A store of this kind loaded from the snapshot at [path]. */
    fun open(path: Path): UserStore = if (this == NATIVE) NativeUserStore.open(path) else KotlinUserStore.open(path)

    /** A durable store of this kind in the directory [dir] (docs/DURABILITY.md). */
    fun openDurable(
        dir: Path,
        sync: Sync,
    ): UserStore = if (this == NATIVE) NativeUserStore.openDurable(dir, sync) else KotlinUserStore.openDurable(dir, sync)
}

/**
 * `serve`: the HTTP backend ([userStoreModule]) on Ktor's Netty engine over the store chosen with `--store`.
 *
 * Start: loads `--snapshot PATH` if the file exists, then makes sure users 0..N-1 of `--users N` exist
 * (named `user-<id>`; ids already loaded from the snapshot keep their names). Stop (SIGTERM or SIGINT): Ktor's
 * shutdown hook stops accepting connections and lets requests in flight finish; then the store is saved to
 * `--snapshot PATH` (if given) and closed, and the process exits.
 *
 * With `--data-dir DIR` the store is durable instead (docs/DURABILITY.md): opened from that directory, every
 * PUT and DELETE answered only once its log record is durable under `--sync` (default `always`), the writes run
 * on [Dispatchers.IO] so no Netty thread waits for the disk, and on SIGTERM the store is closed (its log flushed
 * and synced). `--data-dir` excludes `--snapshot` and `--users`.
 *
 * With `--db postgres://USER@HOST:PORT/DB --db-mode direct` every request goes to PostgreSQL instead
 * ([databaseModule], [PostgresUsers]; docs/SERVICE.md, "Database modes"): the table is created if missing at start,
 * and the URL is shown with its password redacted. `--db` excludes `--users` and `--snapshot`, `--db-mode` needs
 * `--db`, `--data-dir` does not combine with direct mode.
 *
 * With `--db URL --db-mode replica` the `--store` store answers the reads, kept equal to the table by
 * [PostgresReplica] (logical replication), and writes go to PostgreSQL, answered once this instance's store has
 * applied them ([replicaModule]). It listens at once; `/health` is 503 until the initial copy is done. With
 * `--data-dir DIR --db-slot NAME` the replica is durable ([ReplicaOptions.durable]): the store is opened on DIR
 * with `Sync.ALWAYS` (`--sync batch|none` are refused: the applied position could get ahead of the data a crash
 * keeps), the replication slot NAME is named (it outlives the process) and the applied position is kept in
 * `DIR/replica-position`, so a restart resumes from it without copying the table. The slot name is required, not
 * derived from DIR: a path is neither stable (a moved directory) nor unique (two hosts, one database).
 *
 * @param err where progress and shutdown messages go
 */
class ServeCommand(
    private val err: PrintStream = PrintStream(System.err, true, Charsets.UTF_8),
) : CliktCommand(name = "serve") {
    private val store by option("--store", help = "which store serves the requests")
        .enum<ServedStore> { it.label }
        .default(ServedStore.NATIVE, defaultForHelp = "native")
    private val port by option("--port", help = "TCP port (0: any free port)")
        .int()
        .restrictTo(0..65_535)
        .default(8080)
    private val host by option("--host", help = "address to bind (loopback unless told otherwise)")
        .default("127.0.0.1")

    // No default in the option itself, so a given --users can be refused with --data-dir (0 when not given).
    private val usersOption by option("--users", metavar = "N", help = "preloads users with ids 0..N-1 named user-<id> (default: 0)")
        .int()
        .restrictTo(0..Int.MAX_VALUE)
    private val users: Int get() = usersOption ?: 0
    private val snapshot by option(
        "--snapshot",
        metavar = "PATH",
        help = "snapshot file: loaded at start if present, saved on shutdown (SIGTERM)",
    ).path(canBeDir = false)
    private val dataDir by option(
        "--data-dir",
        metavar = "DIR",
        help =
            "durable store in this directory (write-ahead log and snapshots): created if missing, opened with its " +
                "content; excludes --snapshot and --users",
    ).path(canBeFile = false)
    private val sync by option(
        "--sync",
        help =
            "when a PUT or DELETE on the --data-dir store is answered: always (its log record written and synced), " +
                "batch (synced within 10 ms), none (written to the OS within 10 ms)",
    ).enum<Sync> { it.name.lowercase() }
    private val db by option(
        "--db",
        metavar = "URL",
        help =
            "PostgreSQL database, postgres://USER[:PASSWORD]@HOST:PORT/DB (or postgresql://; the password may come " +
                "from PGPASSWORD or ~/.pgpass instead); needs --db-mode; excludes --users and --snapshot",
    )
    private val dbMode by option(
        "--db-mode",
        help =
            "how --db is used: direct (every request goes to PostgreSQL) or replica (reads from the --store store, kept " +
                "equal to the table by logical replication; writes go to PostgreSQL)",
    ).enum<DbMode> { it.label }
    private val dbSlot by option(
        "--db-slot",
        metavar = "NAME",
        help =
            "replica mode with --data-dir: the named replication slot ([a-z0-9_], at most 63) this durable replica " +
                "resumes from after a restart; one per replica; drop it when the replica is retired",
    )
    private val dbPool by option("--db-pool", metavar = "N", help = "most connections the --db pool opens")
        .int()
        .restrictTo(1..1_000)
        .default(10)

    init {
        context { helpFormatter = { MordantHelpFormatter(it, showDefaultValues = true) } }
    }

    override fun help(context: Context): String =
        "Serves the store over HTTP (Ktor, Netty): GET/PUT/DELETE /users/{id}, GET /users?name=…, /health, /metrics."

    override fun run() {
        checkDatabaseOptions()
        val url = db
        if (url != null) return if (dbMode == DbMode.REPLICA) runReplica(url) else runDirect(url)
        checkDurableOptions()
        val dir = dataDir
        val userStore = if (dir != null) openDurable(dir) else openStore()
        preload(userStore)
        val registry = PrometheusMeterRegistry(PrometheusConfig.DEFAULT)
        val server =
            embeddedServer(Netty, configure = {
                connector {
                    host = this@ServeCommand.host
                    port = this@ServeCommand.port
                }
                shutdownGracePeriod = SHUTDOWN_GRACE_MILLIS
                shutdownTimeout = SHUTDOWN_TIMEOUT_MILLIS
            }) { userStoreModule(userStore, registry, store.label, writeContext = if (dir != null) Dispatchers.IO else null) }
        val stopped = CountDownLatch(1)
        // Runs in Ktor's shutdown hook once the engine has stopped, so no request is in flight any more.
        server.monitor.subscribe(ApplicationStopped) {
            try {
                saveAndClose(userStore)
            } finally {
                stopped.countDown()
            }
        }
        try {
            server.start(wait = false)
        } catch (e: IOException) {
            userStore.close()
            throw CliktError("cannot listen on $host:$port: $e")
        }
        val bound = runBlocking { server.engine.resolvedConnectors() }.first()
        err.println("serve: ${store.label} store, ${userStore.size} users, listening on http://${bound.host}:${bound.port}")
        stopped.await()
    }

    /** `--db` and `--db-mode` with what they do not combine with: refused before anything starts. */
    private fun checkDatabaseOptions() {
        if (db == null) {
            if (dbMode != null) throw UsageError("option --db-mode needs --db")
            if (dbSlot != null) throw UsageError("option --db-slot needs --db")
            return
        }
        if (usersOption != null) throw UsageError("option --db cannot be used with --users")
        if (snapshot != null) throw UsageError("option --db cannot be used with --snapshot")
        when (dbMode) {
            null -> {
                throw UsageError("option --db needs --db-mode direct or --db-mode replica")
            }

            DbMode.REPLICA -> {
                if (dataDir != null) {
                    if (dbSlot == null) {
                        throw UsageError(
                            "option --data-dir with --db-mode replica needs --db-slot NAME: a durable replica resumes " +
                                "from a named replication slot, one per replica, chosen by you (e.g. the host's name)",
                        )
                    }
                    val mode = sync
                    if (mode != null && mode != Sync.ALWAYS) {
                        throw UsageError(
                            "option --sync ${mode.name.lowercase()} cannot be used with --db-mode replica: a durable " +
                                "replica needs --sync always, so the replication position is saved (and told to " +
                                "PostgreSQL) only after the transactions it covers are synced in --data-dir",
                        )
                    }
                    return
                }
                if (dbSlot != null) throw UsageError("option --db-slot needs --data-dir (a durable replica)")
            }

            DbMode.DIRECT -> {
                if (dataDir !=
                    null
                ) {
                    throw UsageError("option --data-dir cannot be used with --db-mode direct: the data lives in PostgreSQL")
                }
                if (dbSlot != null) throw UsageError("option --db-slot needs --db-mode replica")
            }
        }
        if (sync != null) throw UsageError("option --sync needs --data-dir")
    }

    /** Direct mode: the pool, the schema, then the same API over the database until SIGTERM. */
    private fun runDirect(url: String) {
        val start = System.nanoTime()
        val users =
            try {
                PostgresUsers.connect(url, dbPool)
            } catch (e: DatabaseUnavailableException) {
                throw CliktError(e.message)
            } catch (e: IllegalArgumentException) {
                throw CliktError(e.message)
            }
        err.println(
            "serve: connected to ${users.shownUrl} (pool of at most $dbPool), table users ready in " +
                "${(System.nanoTime() - start) / 1_000_000} ms",
        )
        val registry = PrometheusMeterRegistry(PrometheusConfig.DEFAULT)
        val server =
            embeddedServer(Netty, configure = {
                connector {
                    host = this@ServeCommand.host
                    port = this@ServeCommand.port
                }
                shutdownGracePeriod = SHUTDOWN_GRACE_MILLIS
                shutdownTimeout = SHUTDOWN_TIMEOUT_MILLIS
            }) { databaseModule(users, registry) }
        val stopped = CountDownLatch(1)
        server.monitor.subscribe(ApplicationStopped) {
            try {
                users.close()
                err.println("serve: database pool closed")
            } finally {
                stopped.countDown()
            }
        }
        try {
            server.start(wait = false)
        } catch (e: IOException) {
            users.close()
            throw CliktError("cannot listen on $host:$port: $e")
        }
        val bound = runBlocking { server.engine.resolvedConnectors() }.first()
        err.println("serve: postgres (direct, ${users.shownUrl}), listening on http://${bound.host}:${bound.port}")
        stopped.await()
    }

    /**
     * Replica mode: the write pool and the schema first (a bad URL or an unreachable database stops the start with
     * its message, password redacted), then the replica in the background and the server at once; `/health` says
     * 503 until the initial copy is done, and a line is printed when it is.
     */
    private fun runReplica(url: String) {
        val start = System.nanoTime()
        val users =
            try {
                PostgresUsers.connect(url, dbPool, readYourWrites = true)
            } catch (e: DatabaseUnavailableException) {
                throw CliktError(e.message)
            } catch (e: IllegalArgumentException) {
                throw CliktError(e.message)
            }
        val dir = dataDir
        val userStore =
            try {
                if (dir != null) openDurable(dir) else store.create()
            } catch (e: Throwable) {
                users.close()
                throw e
            }
        // Made before the replica: its listener records each applied transaction's delay in this registry.
        val registry = PrometheusMeterRegistry(PrometheusConfig.DEFAULT)
        val commitDelays = ReplicaCommitDelayTimer(registry)
        val replica =
            try {
                val slot = dbSlot
                val options = if (dir != null && slot != null) ReplicaOptions.durable(slot, dir, Sync.ALWAYS) else ReplicaOptions()
                PostgresReplica.start(userStore, url, options.withListener(commitDelays))
            } catch (e: IOException) {
                users.close()
                userStore.close()
                throw CliktError("--data-dir $dir: ${e.message}")
            } catch (e: IllegalArgumentException) {
                users.close()
                userStore.close()
                throw CliktError("--db ${users.shownUrl}: ${e.message}")
            }
        val how =
            if (dir !=
                null
            ) {
                "durable replica on slot $dbSlot starting (resumes from $dir, or copies)"
            } else {
                "replica starting (initial copy)"
            }
        err.println("serve: connected to ${users.shownUrl} (write pool of at most $dbPool); $how")
        // Says when the store is ready (the initial copy's time is the start-up cost of this mode).
        Thread({
            if (replica.awaitCaughtUp(Duration.ofDays(1))) {
                err.println(
                    "serve: replica caught up: ${userStore.size} users at ${replica.appliedLsnText}, " +
                        "${(System.nanoTime() - start) / 1_000_000} ms after start",
                )
            }
        }, "serve-replica-ready").apply { isDaemon = true }.start()
        val server =
            embeddedServer(Netty, configure = {
                connector {
                    host = this@ServeCommand.host
                    port = this@ServeCommand.port
                }
                shutdownGracePeriod = SHUTDOWN_GRACE_MILLIS
                shutdownTimeout = SHUTDOWN_TIMEOUT_MILLIS
            }) { replicaModule(userStore, store.label, replica, users, registry) }
        val stopped = CountDownLatch(1)
        server.monitor.subscribe(ApplicationStopped) {
            try {
                replica.close()
                users.close()
                userStore.close()
                err.println("serve: replica stopped, database pool and store closed")
            } finally {
                stopped.countDown()
            }
        }
        try {
            server.start(wait = false)
        } catch (e: IOException) {
            replica.close()
            users.close()
            userStore.close()
            throw CliktError("cannot listen on $host:$port: $e")
        }
        val bound = runBlocking { server.engine.resolvedConnectors() }.first()
        err.println(
            "serve: ${store.label} store, replica of postgres (${users.shownUrl}), listening on http://${bound.host}:${bound.port}",
        )
        stopped.await()
    }

    /** `--data-dir` with `--snapshot` or `--users`, or `--sync` without `--data-dir`: refused before anything starts. */
    private fun checkDurableOptions() {
        if (dataDir != null) {
            if (snapshot != null) throw UsageError("option --data-dir cannot be used with --snapshot")
            if (usersOption != null) throw UsageError("option --data-dir cannot be used with --users")
        } else if (sync != null) {
            throw UsageError("option --sync needs --data-dir")
        }
    }

    private fun openDurable(dir: Path): UserStore {
        val mode = sync ?: Sync.ALWAYS
        val start = System.nanoTime()
        val opened =
            try {
                store.openDurable(dir, mode)
            } catch (e: IOException) {
                throw CliktError("cannot open --data-dir $dir: ${e.message}")
            }
        err.println(
            "serve: loaded ${opened.size} users from data dir $dir (sync ${mode.name.lowercase()}) in " +
                "${(System.nanoTime() - start) / 1_000_000} ms",
        )
        return opened
    }

    private fun openStore(): UserStore {
        val path = snapshot ?: return store.create()
        val parent = path.toAbsolutePath().parent
        if (parent != null && !Files.isDirectory(parent)) throw CliktError("--snapshot $path: the folder $parent does not exist")
        if (!Files.exists(path)) {
            err.println("serve: no snapshot at $path yet; starting empty, will save there on shutdown")
            return store.create()
        }
        val start = System.nanoTime()
        val opened =
            try {
                store.open(path)
            } catch (e: IOException) {
                throw CliktError("cannot load --snapshot $path: ${e.message}")
            }
        err.println("serve: loaded ${opened.size} users from $path in ${(System.nanoTime() - start) / 1_000_000} ms")
        return opened
    }

    private fun preload(userStore: UserStore) {
        if (users == 0) return
        val start = System.nanoTime()
        val keepExisting = userStore.size > 0
        for (id in 0L until users) {
            if (!keepExisting || userStore.getJson(id) == null) userStore.put(User(id, "user-$id"))
        }
        err.println("serve: preloaded users 0..${users - 1} in ${(System.nanoTime() - start) / 1_000_000} ms")
    }

    private fun saveAndClose(userStore: UserStore) {
        val path = snapshot
        try {
            if (path != null) {
                val start = System.nanoTime()
                userStore.save(path)
                err.println("serve: saved ${userStore.size} users to $path in ${(System.nanoTime() - start) / 1_000_000} ms")
            }
        } catch (e: IOException) {
            err.println("serve: could not save the snapshot to $path: ${e.message}")
        } finally {
            // A durable store's close writes and syncs its buffered log records and releases the directory.
            try {
                userStore.close()
                err.println("serve: store closed")
            } catch (e: UncheckedIOException) {
                err.println("serve: could not close the log in $dataDir: ${e.message}")
            }
        }
    }
}
