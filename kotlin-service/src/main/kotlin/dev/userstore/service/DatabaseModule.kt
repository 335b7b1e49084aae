package dev.userstore.service

import dev.userstore.User
import io.ktor.http.ContentType
import io.ktor.http.HttpStatusCode
import io.ktor.server.application.Application
import io.ktor.server.application.log
import io.ktor.server.response.respond
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

/** Prometheus text exposition format, as `PrometheusMeterRegistry.scrape()` writes it. */
private val PROMETHEUS_TEXT = ContentType.parse("text/plain; version=0.0.4; charset=utf-8")

/**
 * The HTTP API of `serve --db URL --db-mode direct`: the routes, statuses and bodies of [userStoreModule], answered
 * from PostgreSQL through [db] (every request is one statement on a pooled connection, as the article's handler).
 *
 * Writes are checked by the store's rules first ([checkUser]): a bad one is 400 and nothing is sent. A failed
 * database call is 503 `{"error":"the database is unavailable"}`, its cause (passwords scrubbed) in the log.
 * `/health` is 503 when the database does not answer through the pool; the size gauge (`store="postgres"`) counts
 * the rows when `/metrics` is scraped.
 */
fun Application.databaseModule(
    db: PostgresUsers,
    registry: PrometheusMeterRegistry,
) {
    installMetricsAndErrors(registry)
    Gauge
        .builder("userstore.users", db) { it.countOrNaN() }
        .description("Number of users in the store")
        .tag("store", "postgres")
        .strongReference(true)
        .register(registry)

    routing {
        get("/health") {
            try {
                db.ping()
            } catch (e: DatabaseUnavailableException) {
                call.application.log.error("health check: the database does not answer: ${e.message}")
                call.respondText(
                    "{\"status\":\"unavailable\",\"error\":\"the database does not answer\"}",
                    ContentType.Application.Json,
                    HttpStatusCode.ServiceUnavailable,
                )
                return@get
            }
            call.respondText("{\"status\":\"ok\"}", ContentType.Application.Json)
        }
        // The size gauge runs a query: the scrape goes to an IO thread.
        get("/metrics") { call.respondText(withContext(Dispatchers.IO) { registry.scrape() }, PROMETHEUS_TEXT) }

        get("/users/{id}") {
            val id = parseId(call.parameters["id"])
            val name = db.getName(id) ?: throw notFound(id)
            call.respondJson(HttpStatusCode.OK, Json.encodeToString(UserBody.serializer(), UserBody(id, name)))
        }
        put("/users/{id}") {
            val id = parseId(call.parameters["id"])
            val name = parsePutBody(call.receiveBoundedBody())
            val created = db.put(User(id, name))
            call.respondJson(
                if (created) HttpStatusCode.Created else HttpStatusCode.OK,
                Json.encodeToString(UserBody.serializer(), UserBody(id, name)),
            )
        }
        delete("/users/{id}") {
            val id = parseId(call.parameters["id"])
            if (!db.remove(id)) throw notFound(id)
            call.respond(HttpStatusCode.NoContent)
        }
        get("/users") {
            val name =
                call.request.queryParameters["name"]
                    ?: throw HttpError(HttpStatusCode.BadRequest, "missing query parameter name: GET /users?name=…")
            val users = db.findByName(name).map { UserBody(it.id, it.name) }
            call.respondJson(HttpStatusCode.OK, Json.encodeToString(ListSerializer(UserBody.serializer()), users))
        }
    }
}
