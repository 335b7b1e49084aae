package dev.userstore.service

import io.ktor.client.HttpClient
import io.ktor.client.request.delete
import io.ktor.client.request.get
import io.ktor.client.request.put
import io.ktor.client.request.setBody
import io.ktor.client.statement.HttpResponse
import io.ktor.client.statement.bodyAsText
import io.ktor.http.ContentType
import io.ktor.http.HttpStatusCode
import io.ktor.http.contentType
import io.ktor.server.testing.ApplicationTestBuilder
import io.ktor.server.testing.testApplication
import io.micrometer.prometheusmetrics.PrometheusConfig
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry
import org.junit.jupiter.api.Test
import java.net.URI
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/**
 * `serve --db URL --db-mode direct` ([databaseModule] over [PostgresUsers]) against a real PostgreSQL: the URL of a
 * running server in `USERSTORE_PG_URL` (`scripts/postgres.sh start` prints one; CI exports it). Skipped, with that
 * reason, when it is unset. The class works in a database of its own (`us_test_<random>`, created before and dropped
 * after), emptied before each test, so it collides neither with other classes nor with other suites on the cluster.
 */
class DatabaseDirectTest : PgServiceTest() {
    private fun api(
        dbUrl: String = url,
        block: suspend ApplicationTestBuilder.(PostgresUsers) -> Unit,
    ) {
        PostgresUsers.connect(dbUrl, 4).use { db ->
            testApplication {
                application { databaseModule(db, PrometheusMeterRegistry(PrometheusConfig.DEFAULT)) }
                block(db)
            }
        }
    }

    private suspend fun HttpClient.putJson(
        path: String,
        body: String,
    ): HttpResponse =
        put(path) {
            contentType(ContentType.Application.Json)
            setBody(body)
        }

    private suspend fun HttpResponse.pair() = status to bodyAsText()

    @Test
    fun `the schema is created on an empty database and PUT, GET, find and DELETE go to the table`() {
        // A fresh database each time for this case: no table before the start.
        val fresh = database + "_e"
        jdbc("postgres").use { c -> c.createStatement().use { it.execute("CREATE DATABASE $fresh") } }
        try {
            val uri = URI(url)
            val freshUrl = URI(uri.scheme, uri.userInfo, uri.host, uri.port, "/$fresh", null, null).toString()
            api(freshUrl) {
                val c = client
                assertEquals(HttpStatusCode.NotFound, c.get("/users/7").status)
                assertEquals(HttpStatusCode.Created to """{"id":7,"name":"alice"}""", c.putJson("/users/7", """{"name":"alice"}""").pair())
                assertEquals(HttpStatusCode.OK to """{"id":7,"name":"alice"}""", c.get("/users/7").pair())
                assertEquals(HttpStatusCode.OK, c.putJson("/users/7", """{"name":"Zoë 😀"}""").status)
                assertEquals(HttpStatusCode.Created, c.putJson("/users/3", """{"name":"bob"}""").status)
                assertEquals(HttpStatusCode.Created, c.putJson("/users/9223372036854775807", """{"name":"bob"}""").status)
                assertEquals(
                    HttpStatusCode.OK to """[{"id":3,"name":"bob"},{"id":9223372036854775807,"name":"bob"}]""",
                    c.get("/users?name=bob").pair(),
                )
                assertEquals(HttpStatusCode.NoContent, c.delete("/users/3").status)
                assertEquals(HttpStatusCode.NotFound, c.delete("/users/3").status)
                assertEquals(HttpStatusCode.NotFound, c.get("/users/3").status)
                assertEquals(HttpStatusCode.OK to """{"status":"ok"}""", c.get("/health").pair())
                val metrics = c.get("/metrics").bodyAsText()
                assertTrue(metrics.contains("userstore_users{store=\"postgres\"} 2.0"), metrics)
            }
            jdbc(fresh).use { conn ->
                conn.createStatement().use { s ->
                    s.executeQuery("SELECT id, name FROM users ORDER BY id").use { r ->
                        val rows = buildList { while (r.next()) add(r.getLong(1) to r.getString(2)) }
                        assertEquals(listOf(7L to "Zoë 😀", Long.MAX_VALUE to "bob"), rows)
                    }
                    s.executeQuery("SELECT indexdef FROM pg_indexes WHERE indexname = 'users_name_idx'").use { r ->
                        assertTrue(r.next())
                        assertEquals("CREATE INDEX users_name_idx ON public.users USING btree (name)", r.getString(1))
                    }
                }
            }
        } finally {
            jdbc("postgres").use { c -> c.createStatement().use { it.execute("DROP DATABASE IF EXISTS $fresh WITH (FORCE)") } }
        }
    }

    @Test
    fun `bad writes are refused with 400 and nothing is written`() {
        api {
            val c = client
            for ((path, body, message) in listOf(
                Triple("/users/1", """{"name":""}""", "the name is empty"),
                Triple("/users/1", """{"name":"${"é".repeat(257)}"}""", "too long: 257 code points"),
                Triple("/users/1", """{"name":"a\u0000b"}""", "U+0000"),
                Triple("/users/1", """{"name":"\ud800"}""", "unpaired surrogate"),
                Triple("/users/-1", """{"name":"x"}""", "invalid id"),
                Triple("/users/1", """{"nam":"x"}""", "expected {"),
            )) {
                val (status, text) = c.putJson(path, body).pair()
                assertEquals(HttpStatusCode.BadRequest, status, "$path $body: $text")
                assertTrue(text.startsWith("{\"error\":") && text.contains(message), "$path $body: $text")
            }
            assertEquals("0", query("SELECT count(*) FROM users"))
            assertEquals(HttpStatusCode.Created, c.putJson("/users/1", """{"name":"${"é".repeat(256)}"}""").status)
            assertEquals("1", query("SELECT count(*) FROM users"))
        }
    }

    @Test
    fun `the password is shown nowhere`() {
        // The project's cluster trusts loopback: the password is accepted unchecked; what is tested is that it never shows.
        val secret = "Pw-9f3b1c7e"
        val uri = URI(url)
        val withPassword = URI(uri.scheme, uri.userInfo + ":" + secret, uri.host, uri.port, uri.path, null, null).toString()
        api(withPassword) { db ->
            assertFalse(db.shownUrl.contains(secret), db.shownUrl)
            assertTrue(db.shownUrl.contains(":***@"), db.shownUrl)
            val c = client
            assertEquals(HttpStatusCode.Created, c.putJson("/users/5", """{"name":"e"}""").status)
            for (path in listOf("/health", "/metrics", "/users/5", "/users/404", "/nowhere")) {
                val text = c.get(path).bodyAsText()
                assertFalse(text.contains(secret), "$path: $text")
            }
        }
        // A database that does not exist: the error names the URL, without the password.
        val missing = URI(uri.scheme, uri.userInfo + ":" + secret, uri.host, uri.port, "/us_test_no_such_database", null, null)
        val e = kotlin.runCatching { PostgresUsers.connect(missing.toString(), 1) }.exceptionOrNull()
        assertTrue(e is DatabaseUnavailableException, "$e")
        val message = e.message!!
        assertFalse(message.contains(secret), message)
        assertTrue(message.contains("us_test_no_such_database") && message.contains("does not exist"), message)
    }

    @Test
    fun `a database that stops answering is 503 with a JSON error, health included`() {
        api { db ->
            val c = client
            assertEquals(HttpStatusCode.Created, c.putJson("/users/1", """{"name":"a"}""").status)
            db.close()
            val (status, text) = c.get("/users/1").pair()
            assertEquals(HttpStatusCode.ServiceUnavailable to """{"error":"the database is unavailable"}""", status to text)
            assertEquals(HttpStatusCode.ServiceUnavailable, c.get("/health").status)
        }
    }
}
