package dev.userstore.service

import dev.userstore.DurabilityException
import dev.userstore.KotlinUserStore
import dev.userstore.NativeUserStore
import dev.userstore.User
import dev.userstore.UserStore
import io.ktor.client.HttpClient
import io.ktor.client.request.delete
import io.ktor.client.request.get
import io.ktor.client.request.put
import io.ktor.client.request.request
import io.ktor.client.request.setBody
import io.ktor.client.statement.HttpResponse
import io.ktor.client.statement.bodyAsText
import io.ktor.http.ContentType
import io.ktor.http.HttpMethod
import io.ktor.http.HttpStatusCode
import io.ktor.http.content.OutgoingContent
import io.ktor.http.contentType
import io.ktor.server.testing.ApplicationTestBuilder
import io.ktor.server.testing.testApplication
import io.ktor.utils.io.ByteWriteChannel
import io.ktor.utils.io.writeFully
import io.micrometer.prometheusmetrics.PrometheusConfig
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry
import kotlinx.coroutines.Dispatchers
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.Nested
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/**
 * The HTTP API of `serve` ([userStoreModule]) on Ktor's test host (no socket, no real engine), run against both
 * stores: every endpoint, and every bad request of issue 5 answered 4xx with `{"error":…}` and no change.
 */
class ServeApiTest {
    /** The pure-Kotlin store behind the API. */
    @Nested
    inner class Kotlin : ServeApiSuite("kotlin") {
        override fun newStore(): UserStore = KotlinUserStore()

        override fun openDurable(dir: Path): UserStore = KotlinUserStore.openDurable(dir)
    }

    /** The Rust store (through JNI) behind the API. */
    @Nested
    inner class Native : ServeApiSuite("native") {
        override fun newStore(): UserStore = NativeUserStore()

        override fun openDurable(dir: Path): UserStore = NativeUserStore.openDurable(dir)
    }
}

/** The cases, independent of the store behind the API. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class ServeApiSuite(
    private val label: String,
) {
    /** A new, empty store of the implementation under test. */
    abstract fun newStore(): UserStore

    /** A durable store of the implementation under test in [dir] (`Sync.ALWAYS`). */
    abstract fun openDurable(dir: Path): UserStore

    /** A test application over a store holding users 0..9 (`user-<id>`) and 10 named `dup`, 11 named `dup`. */
    private fun api(block: suspend ApplicationTestBuilder.(UserStore) -> Unit) {
        newStore().use { store ->
            for (id in 0L until 10) store.put(User(id, "user-$id"))
            store.put(User(11, "dup"))
            store.put(User(10, "dup"))
            testApplication {
                application { userStoreModule(store, PrometheusMeterRegistry(PrometheusConfig.DEFAULT), label) }
                block(store)
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

    /** Asserts a 4xx/5xx answer of [status] with a JSON `{"error":"…"}` body; returns the message. */
    private suspend fun assertError(
        status: HttpStatusCode,
        response: HttpResponse,
    ): String {
        val text = response.bodyAsText()
        assertEquals(status, response.status, "status of ${response.call.request.method.value} ${response.call.request.url}: $text")
        assertTrue(response.contentType()?.match(ContentType.Application.Json) == true, "JSON error body expected: $text")
        val error = Json.parseToJsonElement(text).jsonObject
        assertEquals(setOf("error"), error.keys, text)
        val message = error.getValue("error").jsonPrimitive.content
        assertTrue(message.isNotBlank(), text)
        return message
    }

    /** Runs [request], which must be refused with [status], and checks that the store's content is unchanged. */
    private suspend fun refusedUnchanged(
        store: UserStore,
        status: HttpStatusCode,
        request: suspend () -> HttpResponse,
    ): String {
        val before = store.exportJson()
        val message = assertError(status, request())
        assertContentEquals(before, store.exportJson(), "a refused request changed the store ($message)")
        return message
    }

    // ---- the endpoints ----

    @Test
    fun `GET a user answers 200 with its JSON, a missing one 404`() =
        api {
            val found = client.get("/users/7")
            assertEquals(HttpStatusCode.OK, found.status)
            assertTrue(found.contentType()?.match(ContentType.Application.Json) == true)
            assertEquals("""{"id":7,"name":"user-7"}""", found.bodyAsText())
            assertTrue(assertError(HttpStatusCode.NotFound, client.get("/users/12345")).contains("12345"))
            // Leading zeros are still a decimal id.
            assertEquals("""{"id":7,"name":"user-7"}""", client.get("/users/007").bodyAsText())
        }

    @Test
    fun `PUT answers 201 when it creates, 200 when it replaces`() =
        api { store ->
            val created = client.putJson("/users/100", """{"name":"alice"}""")
            assertEquals(HttpStatusCode.Created, created.status)
            assertEquals(User(100, "alice"), store.get(100))
            assertEquals(JsonObject(mapOf("id" to json(100), "name" to json("alice"))), Json.parseToJsonElement(created.bodyAsText()))
            val replaced = client.putJson("/users/100", """{"name":"alicia"}""")
            assertEquals(HttpStatusCode.OK, replaced.status)
            assertEquals(User(100, "alicia"), store.get(100))
            assertEquals("""{"id":100,"name":"alicia"}""", client.get("/users/100").bodyAsText())
            assertEquals(13L, store.size)
        }

    @Test
    fun `PUT keeps names beyond ASCII, NUL and 256 code points of emoji exact`() =
        api { store ->
            val emoji = "\uD83D\uDE00".repeat(256)
            assertEquals(HttpStatusCode.Created, client.putJson("/users/200", """{"name":"$emoji"}""").status)
            assertEquals(emoji, store.get(200)?.name)
            assertEquals(HttpStatusCode.Created, client.putJson("/users/201", """{"name":"a\u0000b \u00e9\u4e16"}""").status)
            assertEquals("a\u0000b \u00e9\u4e16", store.get(201)?.name)
            val back = Json.parseToJsonElement(client.get("/users/201").bodyAsText()).jsonObject
            assertEquals("a\u0000b \u00e9\u4e16", back.getValue("name").jsonPrimitive.content)
            // The largest id is a valid id.
            assertEquals(HttpStatusCode.Created, client.putJson("/users/${Long.MAX_VALUE}", """{"name":"max"}""").status)
            assertEquals("max", store.get(Long.MAX_VALUE)?.name)
        }

    @Test
    fun `DELETE answers 204 when it removes, 404 when missing`() =
        api { store ->
            val removed = client.delete("/users/3")
            assertEquals(HttpStatusCode.NoContent, removed.status)
            assertEquals("", removed.bodyAsText())
            assertEquals(null, store.get(3))
            refusedUnchanged(store, HttpStatusCode.NotFound) { client.delete("/users/3") }
            assertError(HttpStatusCode.NotFound, client.get("/users/3"))
        }

    @Test
    fun `GET users by name answers a JSON array sorted by id`() =
        api {
            val dup = client.get("/users?name=dup")
            assertEquals(HttpStatusCode.OK, dup.status)
            assertTrue(dup.contentType()?.match(ContentType.Application.Json) == true)
            assertEquals("""[{"id":10,"name":"dup"},{"id":11,"name":"dup"}]""", dup.bodyAsText())
            assertEquals("""[{"id":4,"name":"user-4"}]""", client.get("/users?name=user-4").bodyAsText())
            assertEquals("[]", client.get("/users?name=nobody").bodyAsText())
            // URL-encoded names are decoded before the lookup.
            client.putJson("/users/300", """{"name":"a b&c"}""")
            assertEquals("""[{"id":300,"name":"a b&c"}]""", client.get("/users?name=a%20b%26c").bodyAsText())
        }

    @Test
    fun `health answers 200`() =
        api {
            val health = client.get("/health")
            assertEquals(HttpStatusCode.OK, health.status)
        }

    @Test
    fun `metrics are Prometheus text with the request latency and the store size`() =
        api { store ->
            client.get("/users/1")
            client.get("/users/99999")
            client.putJson("/users/400", """{"name":"x"}""")
            val metrics = client.get("/metrics")
            assertEquals(HttpStatusCode.OK, metrics.status)
            assertTrue(metrics.contentType()?.match(ContentType.Text.Plain) == true)
            val text = metrics.bodyAsText()
            assertTrue(text.contains("# TYPE ktor_http_server_requests_seconds histogram"), text.take(2000))
            val latency =
                Regex("""ktor_http_server_requests_seconds_count\{[^}]*method="GET",route="/users/\{id}",status="200"[^}]*} (\d+)""")
            assertEquals("1", latency.find(text)?.groupValues?.get(1), "one GET /users/{id} answered 200")
            assertTrue(Regex("""ktor_http_server_requests_seconds_bucket\{[^}]*route="/users/\{id}"""").containsMatchIn(text))
            assertTrue(text.contains("userstore_users{store=\"$label\"} ${store.size}.0"), "size gauge with ${store.size}")
        }

    // ---- bad requests: 4xx, JSON error, nothing changed ----

    @Test
    fun `non-numeric, negative and overflowing ids are 400 on every id endpoint`() =
        api { store ->
            val badIds =
                listOf("abc", "-1", "-0", "9223372036854775808", "99999999999999999999", "1.5", "0x10", "+1", "%201", "1e3", "%E2%82%AC")
            for (id in badIds) {
                refusedUnchanged(store, HttpStatusCode.BadRequest) { client.get("/users/$id") }
                refusedUnchanged(store, HttpStatusCode.BadRequest) { client.putJson("/users/$id", """{"name":"x"}""") }
                refusedUnchanged(store, HttpStatusCode.BadRequest) { client.delete("/users/$id") }
            }
            assertTrue(refusedUnchanged(store, HttpStatusCode.BadRequest) { client.get("/users/-5") }.contains("-5"))
        }

    @Test
    fun `malformed JSON, a missing name and invalid names are 400 and change nothing`() =
        api { store ->
            val badBodies =
                listOf(
                    "",
                    "{",
                    "garbage",
                    "[]",
                    "\"name\"",
                    """{"name":"a",}""",
                    """{}""",
                    """{"nam":"a"}""",
                    """{"name":null}""",
                    """{"name":5}""",
                    """{"name":["a"]}""",
                    """{"name":"a","extra":1}""",
                    """{"name":""}""",
                    """{"name":"${"a".repeat(257)}"}""",
                    """{"name":"${"\uD83D\uDE00".repeat(257)}"}""",
                    // JSON escapes of unpaired surrogates parse to a String the stores refuse.
                    """{"name":"\ud800"}""",
                    """{"name":"x\udc00"}""",
                    """{"name":"\ude00\ud83d"}""",
                )
            for (body in badBodies) {
                // Both on an existing id (would be a replace) and on a new one (would be a create).
                refusedUnchanged(store, HttpStatusCode.BadRequest) { client.putJson("/users/5", body) }
                refusedUnchanged(store, HttpStatusCode.BadRequest) { client.putJson("/users/500", body) }
            }
            assertEquals(User(5, "user-5"), store.get(5))
            assertEquals(null, store.get(500))
        }

    @Test
    fun `a body that is not UTF-8 is 400`() =
        api { store ->
            val latin1 =
                byteArrayOf('{'.code.toByte(), '"'.code.toByte(), 'n'.code.toByte(), '"'.code.toByte(), ':'.code.toByte()) +
                    "\"caf".toByteArray() + byteArrayOf(0xE9.toByte()) + "\"}".toByteArray()
            refusedUnchanged(store, HttpStatusCode.BadRequest) {
                client.put("/users/5") {
                    contentType(ContentType.Application.Json)
                    setBody(latin1)
                }
            }
        }

    @Test
    fun `a body over 64 KiB is 413, with or without Content-Length, and exactly 64 KiB is read`() =
        api { store ->
            val big = """{"name":"${"a".repeat(MAX_BODY_BYTES)}"}"""
            refusedUnchanged(store, HttpStatusCode.PayloadTooLarge) { client.putJson("/users/5", big) }
            refusedUnchanged(store, HttpStatusCode.PayloadTooLarge) {
                client.put("/users/600") { setBody(Chunked(big.toByteArray())) }
            }
            // Exactly the limit: read and parsed, then refused for the name's length (400, not 413).
            val atLimit = """{"name":"${"a".repeat(MAX_BODY_BYTES - 11)}"}"""
            assertEquals(MAX_BODY_BYTES, atLimit.length)
            refusedUnchanged(store, HttpStatusCode.BadRequest) { client.put("/users/600") { setBody(Chunked(atLimit.toByteArray())) } }
            // A small chunked body is fine.
            assertEquals(
                HttpStatusCode.Created,
                client.put("/users/600") { setBody(Chunked("""{"name":"chunked"}""".toByteArray())) }.status,
            )
            assertEquals("chunked", store.get(600)?.name)
        }

    @Test
    fun `a missing name parameter, an unknown path or method are 4xx with a JSON error`() =
        api { store ->
            refusedUnchanged(store, HttpStatusCode.BadRequest) { client.get("/users") }
            refusedUnchanged(store, HttpStatusCode.BadRequest) { client.get("/users?name=") }
            refusedUnchanged(store, HttpStatusCode.NotFound) { client.get("/nothing/here") }
            refusedUnchanged(store, HttpStatusCode.NotFound) { client.get("/users/1/extra") }
            refusedUnchanged(store, HttpStatusCode.NotFound) { client.request("/users/1") { method = HttpMethod.Post } }
        }

    @Test
    fun `over a durable store, writes run on the IO dispatcher and a failed log is 503`(
        @TempDir dir: Path,
    ) {
        val writers = java.util.Collections.synchronizedSet(mutableSetOf<String>())
        openDurable(dir).use { durable ->
            // Records the threads of the writes; a PUT of id 13 fails as a failed log write does.
            val store =
                object : UserStore by durable {
                    override fun put(user: User) {
                        writers += Thread.currentThread().name
                        if (user.id == 13L) throw DurabilityException("log ${dir.resolve("log")} cannot be written: test")
                        durable.put(user)
                    }

                    override fun remove(id: Long): Boolean {
                        writers += Thread.currentThread().name
                        return durable.remove(id)
                    }
                }
            testApplication {
                application { userStoreModule(store, PrometheusMeterRegistry(PrometheusConfig.DEFAULT), label, Dispatchers.IO) }
                assertEquals(HttpStatusCode.Created, client.putJson("/users/1", """{"name":"Ada"}""").status)
                assertEquals(HttpStatusCode.OK, client.putJson("/users/1", """{"name":"Ada L"}""").status)
                assertEquals(HttpStatusCode.Created, client.putJson("/users/2", """{"name":"Bob"}""").status)
                assertEquals(HttpStatusCode.NoContent, client.delete("/users/2").status)
                val failed = client.putJson("/users/13", """{"name":"lost"}""")
                assertEquals(HttpStatusCode.ServiceUnavailable, failed.status)
                assertEquals("""{"error":"the store cannot write its log"}""", failed.bodyAsText())
                assertEquals("""{"id":1,"name":"Ada L"}""", client.get("/users/1").bodyAsText())
            }
        }
        assertTrue(writers.isNotEmpty() && writers.all { it.startsWith("DefaultDispatcher-worker") }, "writes ran on $writers")
        // Everything acknowledged is in the directory.
        openDurable(dir).use { reopened ->
            assertEquals(1L, reopened.size)
            assertEquals(User(1, "Ada L"), reopened.get(1))
        }
    }

    /** A body sent without Content-Length (chunked transfer encoding). */
    private class Chunked(
        private val bytes: ByteArray,
    ) : OutgoingContent.WriteChannelContent() {
        override val contentType: ContentType = ContentType.Application.Json

        override suspend fun writeTo(channel: ByteWriteChannel) {
            channel.writeFully(bytes)
        }
    }

    private fun json(value: Long) = kotlinx.serialization.json.JsonPrimitive(value)

    private fun json(value: String) = kotlinx.serialization.json.JsonPrimitive(value)
}
