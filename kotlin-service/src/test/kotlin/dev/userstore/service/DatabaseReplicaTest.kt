package dev.userstore.service

import dev.userstore.postgres.PostgresReplica
import dev.userstore.postgres.ReplicaOptions
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
import kotlinx.coroutines.delay
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.EnumSource
import java.net.URI
import java.net.http.HttpRequest
import java.net.http.HttpResponse.BodyHandlers
import java.nio.file.Path
import java.time.Duration
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue
import java.net.http.HttpClient as JdkHttpClient

/**
 * `serve --db URL --db-mode replica` ([replicaModule]: reads from the store fed by [PostgresReplica], writes to
 * PostgreSQL, answered once applied here) against a real PostgreSQL named by `USERSTORE_PG_URL`, over both stores.
 * Skipped, with that reason, when it is unset. The class works in a database of its own (`us_test_<random>`).
 */
class DatabaseReplicaTest : PgServiceTest() {
    private companion object {
        const val SECRET = "Pw-replica-5d2e9a"
    }

    /** [url] with a password in it (the project's cluster trusts loopback: accepted unchecked, it must never show). */
    private fun urlWithPassword(): String {
        val uri = URI(url)
        return URI(uri.scheme, uri.userInfo + ":" + SECRET, uri.host, uri.port, uri.path, null, null).toString()
    }

    /** The replica module over a new [store] fed from [replicaUrl], writes through [dbUrl]; waits for the copy. */
    private fun api(
        store: ServedStore,
        dbUrl: String = url,
        replicaUrl: String = dbUrl,
        visibleTimeout: Duration = DEFAULT_VISIBLE_TIMEOUT,
        awaitCopy: Boolean = true,
        block: suspend ApplicationTestBuilder.(PostgresReplica) -> Unit,
    ) {
        PostgresUsers.connect(dbUrl, 4, readYourWrites = true).use { db ->
            store.create().use { userStore ->
                // As serve does: the registry first, its commit-delay timer as the replica's listener.
                val registry = PrometheusMeterRegistry(PrometheusConfig.DEFAULT)
                val options = ReplicaOptions(listener = ReplicaCommitDelayTimer(registry))
                PostgresReplica.start(userStore, replicaUrl, options).use { replica ->
                    if (awaitCopy) assertTrue(replica.awaitCaughtUp(Duration.ofSeconds(30)), "${replica.state} ${replica.lastError}")
                    testApplication {
                        application {
                            replicaModule(
                                userStore,
                                store.label,
                                replica,
                                db,
                                registry,
                                visibleTimeout,
                            )
                        }
                        block(replica)
                    }
                }
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

    @ParameterizedTest
    @EnumSource(ServedStore::class)
    fun `a PUT or DELETE is visible to the next GET on the same instance, every time`(store: ServedStore) {
        api(store) {
            val c = client
            // No retry and no sleep between the write's answer and the read: a write answered early fails here.
            repeat(400) { i ->
                val id = (i % 23).toLong()
                val put = c.putJson("/users/$id", """{"name":"n-$i"}""")
                assertTrue(put.status == HttpStatusCode.Created || put.status == HttpStatusCode.OK, "PUT $i: ${put.pair()}")
                assertEquals(HttpStatusCode.OK to """{"id":$id,"name":"n-$i"}""", c.get("/users/$id").pair(), "GET after PUT $i")
                if (i % 3 == 0) {
                    assertEquals(HttpStatusCode.NoContent, c.delete("/users/$id").status, "DELETE $i")
                    assertEquals(HttpStatusCode.NotFound, c.get("/users/$id").status, "GET after DELETE $i")
                    assertEquals(HttpStatusCode.NotFound, c.delete("/users/$id").status, "second DELETE $i")
                }
            }
            assertEquals(HttpStatusCode.Created to """{"id":1000,"name":"same"}""", c.putJson("/users/1000", """{"name":"same"}""").pair())
            assertEquals(HttpStatusCode.OK, c.putJson("/users/1000", """{"name":"same"}""").status)
            assertEquals(HttpStatusCode.Created, c.putJson("/users/1001", """{"name":"same"}""").status)
            assertEquals(
                HttpStatusCode.OK to """[{"id":1000,"name":"same"},{"id":1001,"name":"same"}]""",
                c.get("/users?name=same").pair(),
            )
            // The store equals the table.
            val table =
                jdbc().use { conn ->
                    conn.createStatement().use { s ->
                        s.executeQuery("SELECT count(*) FROM users").use {
                            it.next()
                            it.getLong(1)
                        }
                    }
                }
            val metrics = c.get("/metrics").bodyAsText()
            assertTrue(metrics.contains("userstore_users{store=\"${store.label}\"} $table.0"), metrics)
        }
    }

    @ParameterizedTest
    @EnumSource(ServedStore::class)
    fun `a row written in SQL by someone else appears, and health and metrics describe the replica`(store: ServedStore) {
        api(store) { replica ->
            val c = client
            query("INSERT INTO users VALUES (77, 'from sql') RETURNING 1")
            var seen = c.get("/users/77").pair()
            val deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos()
            while (seen.first != HttpStatusCode.OK && System.nanoTime() < deadline) {
                delay(5)
                seen = c.get("/users/77").pair()
            }
            assertEquals(HttpStatusCode.OK to """{"id":77,"name":"from sql"}""", seen)

            val (status, health) = c.get("/health").pair()
            assertEquals(HttpStatusCode.OK, status, health)
            assertTrue(health.startsWith("""{"status":"ok","replica":{"caughtUp":true,"state":"streaming","appliedLsn":""""), health)
            assertTrue(health.contains(""""copies":1,"reconnects":0,"rejectedRows":0"""), health)

            val metrics = c.get("/metrics").bodyAsText()
            for (name in listOf(
                "userstore_replica_lag_bytes ",
                "userstore_replica_lag_seconds ",
                "userstore_replica_applied_lsn ",
                "userstore_replica_connected 1.0",
                "userstore_replica_rejected_rows 0.0",
                "userstore_users{store=\"${store.label}\"} 1.0",
            )) {
                assertTrue(metrics.lines().any { it.startsWith(name) }, "$name missing:\n$metrics")
            }
            val applied =
                metrics
                    .lines()
                    .first { it.startsWith("userstore_replica_applied_lsn ") }
                    .substringAfter(' ')
                    .toDouble()
            assertTrue(applied > 0 && applied <= replica.appliedLsn.toDouble(), "applied $applied vs ${replica.appliedLsn}")
            val lagBytes =
                metrics
                    .lines()
                    .first { it.startsWith("userstore_replica_lag_bytes ") }
                    .substringAfter(' ')
                    .toDouble()
            assertTrue(lagBytes >= 0, "lag $lagBytes")
            val lagSeconds =
                metrics
                    .lines()
                    .first { it.startsWith("userstore_replica_lag_seconds ") }
                    .substringAfter(' ')
                    .toDouble()
            assertTrue(lagSeconds in 0.0..10.0, "lag seconds $lagSeconds (the row from SQL was applied)")
        }
    }

    /** The `userstore_replica_commit_delay_seconds` lines of a scrape: `le` to cumulative count, and `_count`, `_sum`. */
    private class DelayHistogram(
        metrics: String,
    ) {
        val buckets = LinkedHashMap<String, Double>()
        var count = Double.NaN
        var sum = Double.NaN

        init {
            val bucket = Regex("""^userstore_replica_commit_delay_seconds_bucket\{le="([^"]+)"} (\S+)$""")
            for (line in metrics.lines()) {
                val m = bucket.matchEntire(line)
                when {
                    m != null -> buckets[m.groupValues[1]] = m.groupValues[2].toDouble()
                    line.startsWith("userstore_replica_commit_delay_seconds_count ") -> count = line.substringAfter(' ').toDouble()
                    line.startsWith("userstore_replica_commit_delay_seconds_sum ") -> sum = line.substringAfter(' ').toDouble()
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(ServedStore::class)
    fun `the commit delay histogram counts each applied commit once, in exactly the shared buckets`(store: ServedStore) {
        api(store) { replica ->
            val c = client
            val before = DelayHistogram(c.get("/metrics").bodyAsText())
            assertEquals(0.0, before.count, "the initial copy is not counted")
            val expectedBounds = REPLICA_COMMIT_DELAY_BUCKETS_SECONDS + Double.POSITIVE_INFINITY
            assertEquals(
                expectedBounds,
                before.buckets.keys.map { if (it == "+Inf") Double.POSITIVE_INFINITY else it.toDouble() },
                "bucket bounds: ${before.buckets.keys}",
            )
            // N single-row commits, from SQL (autocommit: one transaction each), then caught up.
            val n = 200
            jdbc().use { conn ->
                conn.prepareStatement("INSERT INTO users VALUES (?, ?)").use { ps ->
                    for (i in 0 until n) {
                        ps.setLong(1, 5_000L + i)
                        ps.setString(2, "d-$i")
                        ps.executeUpdate()
                    }
                }
            }
            assertTrue(replica.awaitCaughtUp(Duration.ofSeconds(20)), "${replica.lastError}")
            // The listener runs right after the apply wakes awaitCaughtUp: allow it a moment, then check nothing more comes.
            var after = DelayHistogram(c.get("/metrics").bodyAsText())
            val deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos()
            while (after.count < n && System.nanoTime() < deadline) {
                delay(5)
                after = DelayHistogram(c.get("/metrics").bodyAsText())
            }
            delay(200)
            after = DelayHistogram(c.get("/metrics").bodyAsText())
            assertEquals(n.toDouble(), after.count - before.count, "_count grew by the number of commits")
            assertEquals(after.count, after.buckets["+Inf"], "+Inf bucket = _count")
            val cumulative = after.buckets.values.toList()
            assertEquals(cumulative.sorted(), cumulative, "buckets are cumulative")
            assertTrue(after.sum > 0 && after.sum < n * 10.0, "sum ${after.sum} s")
        }
    }

    @ParameterizedTest
    @EnumSource(ServedStore::class)
    fun `bad writes are refused with 400 and nothing is written`(store: ServedStore) {
        api(store) {
            val c = client
            for ((path, body, message) in listOf(
                Triple("/users/1", """{"name":""}""", "the name is empty"),
                Triple("/users/1", """{"name":"${"é".repeat(257)}"}""", "too long: 257 code points"),
                Triple("/users/1", """{"name":"a\u0000b"}""", "U+0000"),
                Triple("/users/1", """{"name":"\ud800"}""", "unpaired surrogate"),
                Triple("/users/-1", """{"name":"x"}""", "invalid id"),
                Triple("/users/1", """{"nam":"x"}""", "expected {"),
                Triple("/users/x", """{"name":"x"}""", "invalid id"),
            )) {
                val (status, text) = c.putJson(path, body).pair()
                assertEquals(HttpStatusCode.BadRequest, status, "$path $body: $text")
                assertTrue(text.startsWith("{\"error\":") && text.contains(message), "$path $body: $text")
            }
            assertEquals("0", query("SELECT count(*) FROM users"))
            assertEquals(HttpStatusCode.NotFound, c.get("/users/1").status)
            assertEquals(HttpStatusCode.Created, c.putJson("/users/1", """{"name":"${"é".repeat(256)}"}""").status)
            assertEquals(HttpStatusCode.OK, c.get("/users/1").status)
        }
    }

    @Test
    fun `before the initial copy reads and health are 503, a write not applied in time is 503 committed, no password shown`() {
        // The replica cannot reach its server (nothing listens on port 1): no copy ever runs. Writes go to the real one.
        val unreachable = "postgres://u:$SECRET@127.0.0.1:1/db"
        api(
            ServedStore.KOTLIN,
            dbUrl = urlWithPassword(),
            replicaUrl = unreachable,
            visibleTimeout = Duration.ofMillis(300),
            awaitCopy = false,
        ) {
            val c = client
            val (status, health) = c.get("/health").pair()
            assertEquals(HttpStatusCode.ServiceUnavailable, status, health)
            assertTrue(health.startsWith("""{"status":"starting","replica":{"caughtUp":false,"""), health)
            assertTrue(health.contains("the initial copy"), health)
            assertEquals(
                HttpStatusCode.ServiceUnavailable to """{"error":"the replica's initial copy of the table is not finished yet"}""",
                c.get("/users/1").pair(),
            )
            assertEquals(HttpStatusCode.ServiceUnavailable, c.get("/users?name=a").status)
            val (putStatus, putText) = c.putJson("/users/9", """{"name":"late"}""").pair()
            assertEquals(HttpStatusCode.ServiceUnavailable, putStatus, putText)
            assertTrue(putText.contains("the write is committed in PostgreSQL but not yet visible on this instance"), putText)
            assertEquals("late", query("SELECT name FROM users WHERE id = 9"), "the write is committed")
            for (path in listOf("/health", "/metrics", "/users/1", "/nowhere")) {
                val text = c.get(path).bodyAsText()
                assertFalse(text.contains(SECRET), "$path: $text")
            }
            assertFalse(putText.contains(SECRET), putText)
        }
    }

    @Test
    fun `a stopped replica makes health 503 and writes 503, reads serve the last state, no password shown`() {
        api(ServedStore.NATIVE, dbUrl = urlWithPassword(), visibleTimeout = Duration.ofMillis(300)) { replica ->
            val c = client
            assertEquals(HttpStatusCode.Created, c.putJson("/users/5", """{"name":"e"}""").status)
            replica.close()
            val (status, health) = c.get("/health").pair()
            assertEquals(HttpStatusCode.ServiceUnavailable, status, health)
            assertTrue(
                health.startsWith(
                    """{"status":"unavailable","replica":{"caughtUp":false,"state":"closed","reason":"the replica is stopped"""",
                ),
                health,
            )
            assertEquals(HttpStatusCode.OK to """{"id":5,"name":"e"}""", c.get("/users/5").pair())
            val (putStatus, putText) = c.putJson("/users/5", """{"name":"f"}""").pair()
            assertEquals(HttpStatusCode.ServiceUnavailable, putStatus, putText)
            assertTrue(putText.contains("committed in PostgreSQL but not yet visible"), putText)
            for (path in listOf("/health", "/metrics", "/users/5")) {
                val text = c.get(path).bodyAsText()
                assertFalse(text.contains(SECRET), "$path: $text")
            }
        }
    }

    @ParameterizedTest
    @EnumSource(ServedStore::class)
    fun `the serve command in replica mode listens, reads its writes, and its log shows no password`(
        store: ServedStore,
        @TempDir dir: Path,
    ) {
        val log = dir.resolve("serve.log")
        val service = ServiceProcess.startKotlin(store, log, "replica-${store.label}", "--db", urlWithPassword(), "--db-mode", "replica")
        try {
            service.awaitListening()
            val http = JdkHttpClient.newHttpClient()

            fun send(
                method: String,
                path: String,
                body: String? = null,
            ): Pair<Int, String> {
                val request =
                    HttpRequest
                        .newBuilder(URI(service.baseUrl + path))
                        .method(
                            method,
                            if (body ==
                                null
                            ) {
                                HttpRequest.BodyPublishers.noBody()
                            } else {
                                HttpRequest.BodyPublishers.ofString(body)
                            },
                        ).header("Content-Type", "application/json")
                        .build()
                val response = http.send(request, BodyHandlers.ofString())
                return response.statusCode() to response.body()
            }
            val deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos()
            var health = send("GET", "/health")
            while (health.first != 200 && System.nanoTime() < deadline) {
                Thread.sleep(20)
                health = send("GET", "/health")
            }
            assertEquals(200, health.first, health.second)
            repeat(50) { i ->
                assertEquals(if (i == 0) 201 else 200, send("PUT", "/users/3", """{"name":"p-$i"}""").first)
                assertEquals(200 to """{"id":3,"name":"p-$i"}""", send("GET", "/users/3"))
            }
            assertEquals(204, send("DELETE", "/users/3").first)
            assertEquals(404, send("GET", "/users/3").first)
            // serve gives the replica its commit-delay timer: 51 committed writes, 51 observations (the listener runs
            // just after the apply that answered the write, so allow it a moment).
            var delays = DelayHistogram(send("GET", "/metrics").second)
            while (delays.count < 51 && System.nanoTime() < deadline) {
                Thread.sleep(10)
                delays = DelayHistogram(send("GET", "/metrics").second)
            }
            assertEquals(51.0, delays.count, "userstore_replica_commit_delay_seconds_count")
            assertEquals(REPLICA_COMMIT_DELAY_BUCKETS_SECONDS.size + 1, delays.buckets.size, "${delays.buckets.keys}")
            for (path in listOf("/health", "/metrics", "/users/3")) assertFalse(send("GET", path).second.contains(SECRET), path)
            val output = service.output()
            assertTrue(output.contains("replica caught up"), output)
            assertTrue(output.contains(":***@"), output)
            assertFalse(output.contains(SECRET), output)
            assertTrue(service.stop(), "SIGTERM stops it")
        } finally {
            service.stop()
        }
        assertTrue(service.output().contains("serve: replica stopped, database pool and store closed"), service.output())
        assertFalse(service.output().contains(SECRET), service.output())
    }

    @ParameterizedTest
    @EnumSource(ServedStore::class)
    fun `a durable replica (--data-dir, --db-slot) killed and restarted keeps its data and resumes without a copy`(
        store: ServedStore,
        @TempDir dir: Path,
    ) {
        val data = dir.resolve("data").toString()
        val slot = "svc_durable_" + store.label
        val args = arrayOf("--db", url, "--db-mode", "replica", "--data-dir", data, "--db-slot", slot)
        val http = JdkHttpClient.newHttpClient()

        fun send(
            base: String,
            method: String,
            path: String,
            body: String? = null,
        ): Pair<Int, String> {
            val publisher = if (body == null) HttpRequest.BodyPublishers.noBody() else HttpRequest.BodyPublishers.ofString(body)
            val request =
                HttpRequest
                    .newBuilder(
                        URI(base + path),
                    ).method(method, publisher)
                    .header("Content-Type", "application/json")
                    .build()
            val response = http.send(request, BodyHandlers.ofString())
            return response.statusCode() to response.body()
        }

        fun awaitHealthy(base: String): String {
            val deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos()
            var health = send(base, "GET", "/health")
            while (health.first != 200 && System.nanoTime() < deadline) {
                Thread.sleep(20)
                health = send(base, "GET", "/health")
            }
            assertEquals(200, health.first, health.second)
            return health.second
        }
        val first = ServiceProcess.startKotlin(store, dir.resolve("first.log"), "durable-1-${store.label}", *args)
        try {
            first.awaitListening()
            assertTrue(awaitHealthy(first.baseUrl).contains("\"copies\":1"))
            assertEquals(201, send(first.baseUrl, "PUT", "/users/70001", """{"name":"before-kill"}""").first)
            first.kill()
        } finally {
            first.stop()
        }
        // Committed while no replica runs: the restarted one must stream it, not copy it.
        jdbc(database).use { c -> c.createStatement().use { it.execute("INSERT INTO users VALUES (70002, 'while-down')") } }
        val second = ServiceProcess.startKotlin(store, dir.resolve("second.log"), "durable-2-${store.label}", *args)
        try {
            second.awaitListening()
            assertTrue(awaitHealthy(second.baseUrl).contains("\"copies\":0"), "resumed without copying the table")
            assertEquals(200 to """{"id":70001,"name":"before-kill"}""", send(second.baseUrl, "GET", "/users/70001"))
            assertEquals(200 to """{"id":70002,"name":"while-down"}""", send(second.baseUrl, "GET", "/users/70002"))
            assertTrue(second.stop(), "SIGTERM stops it")
        } finally {
            second.stop()
        }
        assertTrue(PostgresReplica.dropSlot(url, slot))
    }
}
