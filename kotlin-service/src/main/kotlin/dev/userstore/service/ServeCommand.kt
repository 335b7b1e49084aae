package dev.userstore.service

import com.github.ajalt.clikt.core.CliktCommand
import com.github.ajalt.clikt.core.CliktError
import com.github.ajalt.clikt.core.Context
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
import dev.userstore.User
import dev.userstore.UserStore
import io.ktor.server.application.ApplicationStopped
import io.ktor.server.engine.connector
import io.ktor.server.engine.embeddedServer
import io.ktor.server.netty.Netty
import io.micrometer.prometheusmetrics.PrometheusConfig
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry
import kotlinx.coroutines.runBlocking
import java.io.IOException
import java.io.PrintStream
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.CountDownLatch

/** How long shutdown waits for quiet (no new work) before stopping the engine, in milliseconds. */
private const val SHUTDOWN_GRACE_MILLIS = 1_000L

/** The longest shutdown waits for requests in flight, in milliseconds. */
private const val SHUTDOWN_TIMEOUT_MILLIS = 10_000L

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
}

/**
 * `serve`: the HTTP backend ([userStoreModule]) on Ktor's Netty engine over the store chosen with `--store`.
 *
 * Start: loads `--snapshot PATH` if the file exists, then makes sure users 0..N-1 of `--users N` exist
 * (named `user-<id>`; ids already loaded from the snapshot keep their names). Stop (SIGTERM or SIGINT): Ktor's
 * shutdown hook stops accepting connections and lets requests in flight finish; then the store is saved to
 * `--snapshot PATH` (if given) and closed, and the process exits.
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
    private val users by option("--users", metavar = "N", help = "preloads users with ids 0..N-1 named user-<id>")
        .int()
        .restrictTo(0..Int.MAX_VALUE)
        .default(0)
    private val snapshot by option(
        "--snapshot",
        metavar = "PATH",
        help = "snapshot file: loaded at start if present, saved on shutdown (SIGTERM)",
    ).path(canBeDir = false)

    init {
        context { helpFormatter = { MordantHelpFormatter(it, showDefaultValues = true) } }
    }

    override fun help(context: Context): String =
        "Serves the store over HTTP (Ktor, Netty): GET/PUT/DELETE /users/{id}, GET /users?name=…, /health, /metrics."

    override fun run() {
        val userStore = openStore()
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
            }) { userStoreModule(userStore, registry, store.label) }
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
            userStore.close()
            err.println("serve: store closed")
        }
    }
}
