package dev.userstore.service

import dev.userstore.KotlinUserStore
import dev.userstore.NativeUserStore
import dev.userstore.User
import dev.userstore.testing.ChildJvm
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.io.TempDir
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.EnumSource
import java.io.File
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.util.concurrent.TimeUnit
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlin.test.fail

/**
 * `serve` as a real process: started with `--snapshot`, changed over HTTP, stopped with SIGTERM (what
 * [Process.destroy] sends on Linux and macOS); the snapshot must then hold the change, and a second start
 * must serve it. The child runs without -Xcheck:jni (its output is checked here, not by the JNI gate).
 */
class ServeShutdownTest {
    private val http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()

    @ParameterizedTest
    @EnumSource(ServedStore::class)
    @Timeout(120)
    fun `SIGTERM saves the snapshot and closes the store, and the next start loads it`(
        kind: ServedStore,
        @TempDir dir: Path,
    ) {
        val snapshot = dir.resolve("users.snap")
        val first = Server.start(kind, dir.resolve("first.log"), "--users", "100", "--snapshot", snapshot.toString())
        val base = first.baseUrl
        assertEquals(201, send(put("$base/users/1000", """{"name":"survives"}""")).statusCode())
        assertEquals(200, send(put("$base/users/5", """{"name":"renamed"}""")).statusCode())
        assertEquals(204, send(HttpRequest.newBuilder(URI("$base/users/7")).DELETE().build()).statusCode())
        assertEquals(400, send(put("$base/users/8", """{"name":""}""")).statusCode())
        // Requests still running when SIGTERM arrives: each one must get a complete answer or no connection,
        // never a 5xx.
        val inFlight =
            (0 until 8).map { i ->
                http.sendAsync(HttpRequest.newBuilder(URI("$base/users/${i % 100}")).GET().build(), HttpResponse.BodyHandlers.ofString())
            }
        first.process.destroy()
        assertTrue(first.awaitExit(), "serve did not stop after SIGTERM:\n${first.output()}")
        assertEquals(143, first.process.exitValue(), "exit status after SIGTERM (128 + 15):\n${first.output()}")
        for (future in inFlight) {
            val status = runCatching { future.handle { r, _ -> r?.statusCode() }.get(10, TimeUnit.SECONDS) }.getOrNull()
            if (status != null) assertTrue(status < 500, "a request in flight at SIGTERM got $status")
        }
        assertTrue(first.output().contains("saved 100 users to $snapshot"), first.output())
        assertTrue(first.output().contains("store closed"), first.output())

        val opened = if (kind == ServedStore.NATIVE) NativeUserStore.open(snapshot) else KotlinUserStore.open(snapshot)
        opened.use {
            assertEquals(100L, it.size)
            assertEquals(User(1000, "survives"), it.get(1000))
            assertEquals(User(5, "renamed"), it.get(5))
            assertEquals(null, it.get(7))
            assertEquals(User(8, "user-8"), it.get(8))
        }

        // Second start: the snapshot is loaded; --users only adds ids that are missing (7 comes back as user-7).
        val second = Server.start(kind, dir.resolve("second.log"), "--users", "100", "--snapshot", snapshot.toString())
        try {
            assertEquals("""{"id":1000,"name":"survives"}""", send(get("${second.baseUrl}/users/1000")).body())
            assertEquals("""{"id":5,"name":"renamed"}""", send(get("${second.baseUrl}/users/5")).body())
            assertEquals("""{"id":7,"name":"user-7"}""", send(get("${second.baseUrl}/users/7")).body())
        } finally {
            second.process.destroy()
            assertTrue(second.awaitExit(), second.output())
        }
        assertTrue(second.output().contains("loaded 100 users from $snapshot"), second.output())
        assertTrue(second.output().contains("saved 101 users to $snapshot"), second.output())
    }

    private fun send(request: HttpRequest): HttpResponse<String> = http.send(request, HttpResponse.BodyHandlers.ofString())

    private fun get(url: String) = HttpRequest.newBuilder(URI(url)).GET().build()

    private fun put(
        url: String,
        body: String,
    ) = HttpRequest
        .newBuilder(URI(url))
        .PUT(HttpRequest.BodyPublishers.ofString(body))
        .header("Content-Type", "application/json")
        .build()

    /** A `kotlin-demo serve` child process on a free port; its merged output goes to [log]. */
    private class Server(
        val process: Process,
        val baseUrl: String,
        private val log: Path,
    ) {
        fun output(): String = Files.readString(log)

        /** Waits for the process to exit; false on time-out. */
        fun awaitExit(): Boolean = process.waitFor(60, TimeUnit.SECONDS)

        companion object {
            private val LISTENING = Regex("""listening on (http://\S+)""")

            fun start(
                kind: ServedStore,
                log: Path,
                vararg args: String,
            ): Server {
                val command =
                    ChildJvm.command(
                        "dev.userstore.service.MainKt",
                        listOf("-Xmx256m"),
                        listOf("--store", kind.label, "--port", "0") + args,
                    )
                val process =
                    ProcessBuilder(command)
                        .redirectErrorStream(true)
                        .redirectOutput(log.toFile())
                        .redirectInput(ProcessBuilder.Redirect.from(File("/dev/null")))
                        .start()
                val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60)
                while (System.nanoTime() < deadline && process.isAlive) {
                    LISTENING.find(Files.readString(log))?.let { return Server(process, it.groupValues[1], log) }
                    Thread.sleep(50)
                }
                process.destroyForcibly()
                fail("serve did not start:\n${Files.readString(log)}")
            }
        }
    }
}
