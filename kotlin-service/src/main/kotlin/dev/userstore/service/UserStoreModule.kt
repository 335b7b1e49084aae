package dev.userstore.service

import dev.userstore.DurabilityException
import dev.userstore.StoreClosedException
import dev.userstore.User
import dev.userstore.UserStore
import io.ktor.http.ContentType
import io.ktor.http.HttpStatusCode
import io.ktor.server.application.Application
import io.ktor.server.application.ApplicationCall
import io.ktor.server.application.install
import io.ktor.server.application.log
import io.ktor.server.metrics.micrometer.MicrometerMetrics
import io.ktor.server.plugins.BadRequestException
import io.ktor.server.plugins.statuspages.StatusPages
import io.ktor.server.response.respond
import io.ktor.server.response.respondBytes
import io.ktor.server.response.respondText
import io.ktor.server.routing.delete
import io.ktor.server.routing.get
import io.ktor.server.routing.put
import io.ktor.server.routing.routing
import io.micrometer.core.instrument.Gauge
import io.micrometer.core.instrument.distribution.DistributionStatisticConfig
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry
import kotlinx.coroutines.withContext
import kotlinx.serialization.builtins.ListSerializer
import kotlinx.serialization.json.Json
import kotlin.coroutines.CoroutineContext

/** Number of locks that make "did this id exist?" and the change that follows one step for HTTP clients. */
private const val ID_LOCK_STRIPES = 1024

/** The latency histogram's range, in nanoseconds: 10 µs to 10 s. */
private const val MIN_EXPECTED_NANOS = 10_000.0
private const val MAX_EXPECTED_NANOS = 10_000_000_000.0

/** Prometheus text exposition format, as `PrometheusMeterRegistry.scrape()` writes it. */
private val PROMETHEUS_TEXT = ContentType.parse("text/plain; version=0.0.4; charset=utf-8")

/**
 * The HTTP API of `serve` over any [UserStore] (native or Kotlin: the handlers only see the interface):
 *
 * - `GET /users/{id}`: 200 with the store's own `getJson` bytes, 404 when missing
 * - `PUT /users/{id}` with `{"name":"…"}`: 201 when created, 200 when replaced; the body echoes the user
 * - `DELETE /users/{id}`: 204 when removed, 404 when missing
 * - `GET /users?name=…`: 200 with a JSON array (findByName, sorted by id)
 * - `GET /health`: 200; `GET /metrics`: Prometheus text (request latency histogram, store size gauge, JVM)
 *
 * Bad requests get 4xx and `{"error":"…"}` and change nothing: bad ids 400, bad bodies or names 400, bodies
 * over [MAX_BODY_BYTES] 413, unknown paths 404, a wrong method 404 on `/users/{id}` and 405 on the fixed paths.
 * A closed store answers 503, and so does a durable store whose log cannot be written ([DurabilityException]).
 *
 * @param storeLabel the value of the `store` tag on the size gauge (`native` or `kotlin`)
 * @param writeContext where the store calls of PUT and DELETE run: null (the default) runs them on the thread
 *   handling the call, as the reads; a durable store's writes wait for the disk (an `fdatasync` with
 *   `Sync.ALWAYS`), so `serve --data-dir` passes `Dispatchers.IO` and no Netty event loop is blocked meanwhile
 *   (concurrent writes then share one group-commit sync)
 */
fun Application.userStoreModule(
    store: UserStore,
    registry: PrometheusMeterRegistry,
    storeLabel: String,
    writeContext: CoroutineContext? = null,
) {
    installMetricsAndErrors(registry)
    Gauge
        .builder("userstore.users", store) { sizeOrNaN(it) }
        .description("Number of users in the store")
        .tag("store", storeLabel)
        .strongReference(true)
        .register(registry)

    val locks = Array(ID_LOCK_STRIPES) { Any() }

    fun lockFor(id: Long): Any = locks[(id xor (id ushr 32)).toInt() and (ID_LOCK_STRIPES - 1)]

    routing {
        get("/health") { call.respondText("{\"status\":\"ok\"}", ContentType.Application.Json) }
        get("/metrics") { call.respondText(registry.scrape(), PROMETHEUS_TEXT) }

        get("/users/{id}") {
            val id = parseId(call.parameters["id"])
            // The store's own JSON bytes: no User object, no serializer on this path.
            val bytes = store.getJson(id) ?: throw notFound(id)
            call.respondBytes(bytes, ContentType.Application.Json)
        }
        put("/users/{id}") {
            val id = parseId(call.parameters["id"])
            val name = parsePutBody(call.receiveBoundedBody())
            val user = User(id, name)
            // One lock stripe per id: a concurrent PUT or DELETE of the same id cannot make 201/200 wrong.
            val created =
                onWriteContext(writeContext) {
                    synchronized(lockFor(id)) {
                        val existed = store.getJson(id) != null
                        store.put(user)
                        !existed
                    }
                }
            call.respondJson(
                if (created) HttpStatusCode.Created else HttpStatusCode.OK,
                Json.encodeToString(UserBody.serializer(), UserBody(id, name)),
            )
        }
        delete("/users/{id}") {
            val id = parseId(call.parameters["id"])
            val removed = onWriteContext(writeContext) { synchronized(lockFor(id)) { store.remove(id) } }
            if (!removed) throw notFound(id)
            call.respond(HttpStatusCode.NoContent)
        }
        get("/users") {
            val name =
                call.request.queryParameters["name"]
                    ?: throw HttpError(HttpStatusCode.BadRequest, "missing query parameter name: GET /users?name=…")
            val users = store.findByName(name).map { UserBody(it.id, it.name) }
            call.respondJson(HttpStatusCode.OK, Json.encodeToString(ListSerializer(UserBody.serializer()), users))
        }
    }
}

/**
 * What both modules install around their routes: the request latency histogram in [registry] and the JSON error
 * answers (StatusPages) of every refusal and failure.
 */
internal fun Application.installMetricsAndErrors(registry: PrometheusMeterRegistry) {
    install(MicrometerMetrics) {
        // The plugin's configuration starts with a LoggingMeterRegistry that logs every minute; it is replaced.
        this.registry.close()
        this.registry = registry
        // Buckets rather than client-side percentiles: Prometheus computes quantiles from them.
        distributionStatisticConfig =
            DistributionStatisticConfig
                .Builder()
                .percentilesHistogram(true)
                .minimumExpectedValue(MIN_EXPECTED_NANOS)
                .maximumExpectedValue(MAX_EXPECTED_NANOS)
                .build()
    }

    install(StatusPages) {
        exception<HttpError> { call, e -> call.respondError(e.status, e.message) }
        // Ktor's own refusals of a request (for example an unreadable body).
        exception<BadRequestException> { call, e -> call.respondError(HttpStatusCode.BadRequest, e.message ?: "bad request") }
        // The stores' validation (InvalidUserException and other IllegalArgumentExceptions): the store is unchanged.
        exception<IllegalArgumentException> { call, e -> call.respondError(HttpStatusCode.BadRequest, e.message ?: "invalid input") }
        exception<StoreClosedException> { call, _ -> call.respondError(HttpStatusCode.ServiceUnavailable, "the server is shutting down") }
        // The log of a durable store failed: it refuses every write until it is opened again.
        exception<DurabilityException> { call, e ->
            call.application.log.error("the store's log failed", e)
            call.respondError(HttpStatusCode.ServiceUnavailable, "the store cannot write its log")
        }
        // --db-mode direct: the database failed; the message names the cause, passwords scrubbed (PostgresUsers).
        exception<DatabaseUnavailableException> { call, e ->
            call.application.log.error("a database call failed: ${e.message}")
            call.respondError(HttpStatusCode.ServiceUnavailable, "the database is unavailable")
        }
        exception<Throwable> { call, e ->
            call.application.log.error("unexpected failure of ${call.request.local.method.value} ${call.request.local.uri}", e)
            call.respondError(HttpStatusCode.InternalServerError, "internal error: ${e.javaClass.simpleName}")
        }
        // Ktor's bare 404 (no route for that path or method) and 405 get a JSON body too.
        status(HttpStatusCode.NotFound, HttpStatusCode.MethodNotAllowed) { code ->
            if (content.contentType?.match(ContentType.Application.Json) != true) {
                call.respondError(code, if (code == HttpStatusCode.NotFound) "no such endpoint" else "method not allowed")
            }
        }
    }
}

/** A write's store call: right here when [context] is null (no cost added), else in [context]. */
private suspend inline fun <T> onWriteContext(
    context: CoroutineContext?,
    crossinline block: () -> T,
): T = if (context == null) block() else withContext(context) { block() }

internal fun notFound(id: Long) = HttpError(HttpStatusCode.NotFound, "no user with id $id")

internal fun sizeOrNaN(store: UserStore): Double =
    try {
        store.size.toDouble()
    } catch (e: StoreClosedException) {
        Double.NaN
    }

internal suspend fun ApplicationCall.respondJson(
    status: HttpStatusCode,
    body: String,
) = respondText(body, ContentType.Application.Json, status)

internal suspend fun ApplicationCall.respondError(
    status: HttpStatusCode,
    message: String,
) = respondJson(status, Json.encodeToString(ErrorBody.serializer(), ErrorBody(message)))
