package dev.userstore.service

import dev.userstore.User
import dev.userstore.UserStore
import dev.userstore.postgres.PostgresReplica
import dev.userstore.postgres.ReplicaLag
import dev.userstore.postgres.ReplicaState
import io.ktor.http.ContentType
import io.ktor.http.HttpStatusCode
import io.ktor.server.application.Application
import io.ktor.server.response.respond
import io.ktor.server.response.respondBytes
import io.ktor.server.response.respondText
import io.ktor.server.routing.delete
import io.ktor.server.routing.get
import io.ktor.server.routing.put
import io.ktor.server.routing.routing
import io.micrometer.core.instrument.Gauge
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.withContext
import kotlinx.serialization.builtins.ListSerializer
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.buildJsonObject
import kotlinx.serialization.json.put
import kotlinx.serialization.json.putJsonObject
import java.time.Duration
import java.util.concurrent.atomic.AtomicReference

/** How long a write waits, by default, for this instance's replica to apply its commit before answering 503. */
val DEFAULT_VISIBLE_TIMEOUT: Duration = Duration.ofSeconds(5)

/** Prometheus text exposition format, as `PrometheusMeterRegistry.scrape()` writes it. */
private val PROMETHEUS_TEXT = ContentType.parse("text/plain; version=0.0.4; charset=utf-8")

/**
 * The HTTP API of `serve --db URL --db-mode replica`: the routes, statuses and bodies of [userStoreModule], reads
 * answered from the in-process [store] that [replica] keeps equal to the table, writes sent to PostgreSQL through
 * [db] (docs/SERVICE.md, "Replica mode (Kotlin service)").
 *
 * - Reads (`GET /users/{id}`, `GET /users?name=`) never touch the database. Until the replica's first copy of the
 *   table is complete they are 503 (the store is still filling: a 404 then would be a lie); afterwards they answer
 *   the last applied state, also while the replica reconnects.
 * - Writes (`PUT`, `DELETE`) are checked by the store's rules, run on PostgreSQL as in direct mode, and answered only
 *   once this instance's store has applied their commit ([PostgresUsers.putAt], [PostgresReplica.awaitApplied]):
 *   a GET here right after the answer sees the write. If that takes longer than [visibleTimeout] the answer is 503
 *   with a JSON error saying the write is committed but not yet visible here.
 * - `/health`: 200 `{"status":"ok","replica":{…}}` while the replica streams; 503 while the initial copy runs
 *   (`"status":"starting"`) or when the replica is disconnected, reconnecting or stopped (`"status":"unavailable"`),
 *   the reason in `replica.reason`.
 * - `/metrics`: the request histogram, the store size gauge and the replica's gauges (lag in bytes and seconds,
 *   applied position, connected, rows rejected), the lag asked from the server once per scrape; and the histogram of
 *   every applied transaction's commit-to-apply delay, `userstore_replica_commit_delay_seconds`, when [replica] was
 *   started with a [ReplicaCommitDelayTimer] on [registry] as its listener (as `serve` does).
 */
fun Application.replicaModule(
    store: UserStore,
    storeLabel: String,
    replica: PostgresReplica,
    db: PostgresUsers,
    registry: PrometheusMeterRegistry,
    visibleTimeout: Duration = DEFAULT_VISIBLE_TIMEOUT,
) {
    installMetricsAndErrors(registry)
    Gauge
        .builder("userstore.users", store) { sizeOrNaN(it) }
        .description("Number of users in the store")
        .tag("store", storeLabel)
        .strongReference(true)
        .register(registry)
    // The lag needs a query: read once per scrape (in the /metrics handler, on an IO thread), shown by two gauges.
    val lastLag = AtomicReference(ReplicaLag(null, null))
    Gauge
        .builder("userstore.replica.lag.bytes", lastLag) { it.get().bytes?.toDouble() ?: Double.NaN }
        .description("WAL bytes between the server's flush position and the replica's applied position (NaN: server not reachable)")
        .strongReference(true)
        .register(registry)
    Gauge
        .builder("userstore.replica.lag.seconds", lastLag) { ref ->
            ref.get().lastCommitDelay?.let { it.toNanos() / 1e9 } ?: Double.NaN
        }.description("Commit-to-apply delay of the last transaction the replica applied (NaN before the first)")
        .strongReference(true)
        .register(registry)
    Gauge
        .builder("userstore.replica.applied.lsn", replica) { it.appliedLsn.toDouble() }
        .description("WAL position (LSN, in bytes) up to which the store holds every committed transaction")
        .strongReference(true)
        .register(registry)
    Gauge
        .builder("userstore.replica.connected", replica) { if (it.isConnected) 1.0 else 0.0 }
        .description("1 while the replica streams changes (copy done, connected), else 0")
        .strongReference(true)
        .register(registry)
    Gauge
        .builder("userstore.replica.rejected.rows", replica) { it.rejectedRows.toDouble() }
        .description("Rows of the table not applied because they break the store's rules")
        .strongReference(true)
        .register(registry)

    /** 503 until the first copy is complete: before it the store holds part of the table. */
    fun requireCopied() {
        if (!replica.isLoaded) {
            throw HttpError(HttpStatusCode.ServiceUnavailable, "the replica's initial copy of the table is not finished yet")
        }
    }

    /** Waits (on an IO thread: the wait blocks) until the replica has applied [position], else 503. */
    suspend fun awaitVisible(position: Long) {
        val start = System.nanoTime()
        val visible = withContext(Dispatchers.IO) { replica.awaitApplied(position, visibleTimeout) }
        if (!visible) {
            val waited = (System.nanoTime() - start) / 1_000_000
            throw HttpError(
                HttpStatusCode.ServiceUnavailable,
                "the write is committed in PostgreSQL but not yet visible on this instance (its replica did not apply " +
                    "it within $waited ms; replica ${replica.state.name.lowercase()})",
            )
        }
    }

    routing {
        get("/health") {
            val state = replica.state
            val (status, reason) =
                when {
                    state == ReplicaState.STREAMING -> {
                        "ok" to null
                    }

                    state == ReplicaState.CLOSED -> {
                        "unavailable" to "the replica is stopped"
                    }

                    !replica.isLoaded && state == ReplicaState.RECONNECTING -> {
                        "starting" to "the initial copy has not run: PostgreSQL cannot be reached yet (retrying)"
                    }

                    !replica.isLoaded -> {
                        "starting" to "the initial copy of the table is running"
                    }

                    state == ReplicaState.COPYING -> {
                        "unavailable" to "the replica reconnected and is copying the table again"
                    }

                    else -> {
                        "unavailable" to "the replica is disconnected from PostgreSQL (reads serve the last applied state)"
                    }
                }
            val body =
                buildJsonObject {
                    put("status", status)
                    putJsonObject("replica") {
                        put("caughtUp", state == ReplicaState.STREAMING)
                        put("state", state.name.lowercase())
                        if (reason != null) put("reason", reason)
                        put("appliedLsn", replica.appliedLsnText)
                        put("copies", replica.copies)
                        put("reconnects", replica.reconnects)
                        put("rejectedRows", replica.rejectedRows)
                    }
                }
            call.respondText(
                body.toString(),
                ContentType.Application.Json,
                if (status == "ok") HttpStatusCode.OK else HttpStatusCode.ServiceUnavailable,
            )
        }
        get("/metrics") {
            val text =
                withContext(Dispatchers.IO) {
                    lastLag.set(replica.lag())
                    registry.scrape()
                }
            call.respondText(text, PROMETHEUS_TEXT)
        }

        get("/users/{id}") {
            val id = parseId(call.parameters["id"])
            requireCopied()
            val bytes = store.getJson(id) ?: throw notFound(id)
            call.respondBytes(bytes, ContentType.Application.Json)
        }
        put("/users/{id}") {
            val id = parseId(call.parameters["id"])
            val name = parsePutBody(call.receiveBoundedBody())
            val written = db.putAt(User(id, name))
            awaitVisible(written.walPosition)
            call.respondJson(
                if (written.changed) HttpStatusCode.Created else HttpStatusCode.OK,
                Json.encodeToString(UserBody.serializer(), UserBody(id, name)),
            )
        }
        delete("/users/{id}") {
            val id = parseId(call.parameters["id"])
            val written = db.removeAt(id)
            // A 404 waits too: the row may have been deleted elsewhere, and a GET here must then say 404 as well.
            awaitVisible(written.walPosition)
            if (!written.changed) throw notFound(id)
            call.respond(HttpStatusCode.NoContent)
        }
        get("/users") {
            val name =
                call.request.queryParameters["name"]
                    ?: throw HttpError(HttpStatusCode.BadRequest, "missing query parameter name: GET /users?name=…")
            requireCopied()
            val users = store.findByName(name).map { UserBody(it.id, it.name) }
            call.respondJson(HttpStatusCode.OK, Json.encodeToString(ListSerializer(UserBody.serializer()), users))
        }
    }
}
