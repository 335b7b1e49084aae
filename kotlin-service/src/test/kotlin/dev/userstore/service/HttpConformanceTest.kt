package dev.userstore.service

import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonPrimitive
import kotlinx.serialization.json.jsonObject
import org.junit.jupiter.api.AfterAll
import org.junit.jupiter.api.BeforeAll
import org.junit.jupiter.api.MethodOrderer
import org.junit.jupiter.api.Order
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.TestMethodOrder
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.io.TempDir
import java.io.ByteArrayInputStream
import java.io.ByteArrayOutputStream
import java.io.InputStream
import java.net.InetSocketAddress
import java.net.Socket
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.time.Duration
import java.util.concurrent.Callable
import java.util.concurrent.CyclicBarrier
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlin.test.fail

/**
 * One HTTP conformance suite run against three real services on loopback: the Rust `userstore-server`, and the
 * Kotlin service (Ktor on Netty) over the native store and over the Kotlin store. Every service gets the same
 * requests in the same order from the same start (`--users 10`), and each answer must equal the expectation
 * written here and the other services' answers: status, media type and body. After every refused request the
 * service's content must be unchanged (probe requests before and after). Then racing PUTs and DELETEs, and last
 * the snapshots each service saves on SIGTERM, carried across: Rust to Kotlin (either store) and Kotlin to Rust.
 *
 * The Rust binary must be built first (`./gradlew check` does; by hand `cargo build --release -p userstore-server`
 * or `./gradlew installDist`): without it every test here runs against the Kotlin services, then fails.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation::class)
@Timeout(value = 120, unit = TimeUnit.SECONDS)
class HttpConformanceTest {
    /** Logs and snapshots; JUnit deletes it after the class. */
    private lateinit var dir: Path

    private val http: HttpClient =
        HttpClient
            .newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build()

    private val started = java.util.Collections.synchronizedList(mutableListOf<ServiceProcess>())

    /** The three services of the request list (the Rust one missing when it is not built). */
    private val services = mutableListOf<ServiceProcess>()

    /** Why the Rust service is not among [services], or null. */
    private var rustMissing: String? = null

    @BeforeAll
    fun startServices(
        @TempDir dir: Path,
    ) {
        this.dir = dir

        // Each saves its snapshot there on SIGTERM (the last test); none exists yet, so each starts with --users only.
        fun args(label: String) = arrayOf("--users", PRELOADED.toString(), "--snapshot", "${dir.resolve("$label.snap")}")
        rustBinary()?.let { started += ServiceProcess.startRust(it, dir.resolve("rust.log"), "rust", *args("rust")) }
        for (store in ServedStore.entries) {
            val label = "kotlin-${store.label}"
            started += ServiceProcess.startKotlin(store, dir.resolve("$label.log"), label, *args(label))
        }
        started.forEach { services += it.awaitListening() }
    }

    @AfterAll
    fun stopServices() {
        started.forEach { it.stop() }
    }

    // ---- the request list ----

    @Test
    @Order(1)
    fun `every service answers the request list as expected, and all alike`() {
        val problems = java.util.Collections.synchronizedList(mutableListOf<String>())
        val cases = conformanceCases()
        // Each service gets the whole list in order; the services run side by side.
        val pool = Executors.newFixedThreadPool(services.size)
        val answers =
            try {
                services
                    .map { service -> pool.submit(Callable { runCases(service, cases, problems) }) }
                    .map { it.get(100, TimeUnit.SECONDS) }
            } finally {
                pool.shutdownNow()
            }
        for ((i, case) in cases.withIndex()) compareAcross(case, services.indices.associate { services[it] to answers[it][i] }, problems)
        // The whole content, cheaply: the size gauge of /metrics and the ids the list touched.
        val metrics = services.associateWith { send(it, Request("GET", "/metrics")) }
        for ((service, answer) in metrics) {
            val text = answer.text()
            if (answer.status != 200 || answer.mediaType != "text/plain") {
                problems += "${service.label}: GET /metrics: ${answer.describe()}"
                continue
            }
            if (!Regex("""(?m)^userstore_users(\{[^}]*})? """).containsMatchIn(text)) {
                problems +=
                    "${service.label}: /metrics has no userstore_users"
            }
            if (!Regex("""(?m)^\w+_bucket\{[^}]*le="[^"]+"[^}]*} """).containsMatchIn(text)) {
                problems += "${service.label}: /metrics has no latency histogram (_bucket line)"
            }
        }
        val sizes =
            metrics.mapValues { (_, answer) ->
                Regex("""(?m)^userstore_users(?:\{[^}]*})? (\S+)""")
                    .find(answer.text())
                    ?.groupValues
                    ?.get(1)
                    ?.toDouble()
            }
        if (sizes.values.toSet().size != 1) problems += "userstore_users differs: ${sizes.mapKeys { it.key.label }}"
        val snapshots = services.associateWith { s -> (0L..40L).map { send(s, Request("GET", "/users/$it")).describe() } }
        if (snapshots.values.toSet().size != 1) problems += "GET /users/0..40 differ across services"
        report(problems)
    }

    // ---- concurrency ----

    @Test
    @Order(2)
    fun `two PUTs racing to a new id get exactly one 201, two DELETEs of one id exactly one 204`() {
        val problems = mutableListOf<String>()
        val pool = Executors.newFixedThreadPool(2)
        try {
            for (service in services) {
                for (round in 0 until 25) {
                    val id = 5_000 + round
                    val puts = race(pool) { i -> send(service, Request("PUT", "/users/$id", json("""{"name":"racer-$i"}"""))) }
                    val statuses = puts.map { it.status }.sorted()
                    if (statuses != listOf(200, 201)) problems += "${service.label}: racing PUT /users/$id answered $statuses"
                    val stored = send(service, Request("GET", "/users/$id")).text()
                    if (stored !in setOf("""{"id":$id,"name":"racer-0"}""", """{"id":$id,"name":"racer-1"}""")) {
                        problems += "${service.label}: after racing PUTs, GET /users/$id is $stored"
                    }
                    val deletes = race(pool) { send(service, Request("DELETE", "/users/$id")) }
                    val deleted = deletes.map { it.status }.sorted()
                    if (deleted != listOf(204, 404)) problems += "${service.label}: racing DELETE /users/$id answered $deleted"
                }
            }
        } finally {
            pool.shutdownNow()
        }
        report(problems)
    }

    private fun race(
        pool: java.util.concurrent.ExecutorService,
        request: (Int) -> Answer,
    ): List<Answer> {
        val barrier = CyclicBarrier(2)
        return (0 until 2)
            .map { i ->
                pool.submit(
                    Callable {
                        barrier.await(10, TimeUnit.SECONDS)
                        request(i)
                    },
                )
            }.map { it.get(30, TimeUnit.SECONDS) }
    }

    // ---- snapshots across implementations ----

    /**
     * Runs last, on what the tests before left (names with NUL, controls, astral characters, 256 code points): each
     * service is stopped with SIGTERM and saves its snapshot; the Rust service's is then served by the Kotlin service
     * over each store, and each Kotlin service's by the Rust service, with the same answers as before.
     */
    @Test
    @Order(3)
    fun `snapshots saved on SIGTERM cross over, Rust to Kotlin (either store) and Kotlin to Rust`() {
        val content = services.associateWith { content(it) }
        assertEquals(1, content.values.toSet().size, "the services hold different content before the snapshots")
        val pool = Executors.newFixedThreadPool(4)
        try {
            for (service in services.toList()) {
                assertTrue(service.stop(), "${service.label} did not stop on SIGTERM:\n${service.output()}")
                val snapshot = dir.resolve("${service.label}.snap")
                assertTrue(
                    Files.isRegularFile(snapshot) && Files.size(snapshot) > 0,
                    "${service.label} saved no snapshot at $snapshot:\n${service.output()}",
                )
            }
            val binary = rustBinary() ?: fail(rustMissing)
            val rust = services.first { it.label == "rust" }
            // Rust -> Kotlin (each store), Kotlin (each store) -> Rust, side by side; copies, as each saves on exit.
            val crossings =
                ServedStore.entries.map { store ->
                    val copy = Files.copy(dir.resolve("rust.snap"), dir.resolve("rust-for-kotlin-${store.label}.snap"))
                    rust to
                        ServiceProcess.startKotlin(
                            store,
                            dir.resolve("kotlin-${store.label}-from-rust.log"),
                            "kotlin-${store.label}",
                            "--snapshot",
                            "$copy",
                        )
                } +
                    services.filter { it.label != "rust" }.map { kotlin ->
                        val copy = Files.copy(dir.resolve("${kotlin.label}.snap"), dir.resolve("${kotlin.label}-for-rust.snap"))
                        kotlin to
                            ServiceProcess.startRust(binary, dir.resolve("rust-from-${kotlin.label}.log"), "rust", "--snapshot", "$copy")
                    }
            crossings.forEach { track(it.second) }
            crossings
                .map { (from, to) ->
                    pool.submit {
                        to.awaitListening()
                        assertEquals(
                            content.getValue(from),
                            content(to),
                            "${to.label} serving the snapshot of ${from.label}:\n${to.output()}",
                        )
                        to.stop()
                    }
                }.forEach { it.get(100, TimeUnit.SECONDS) }
        } finally {
            pool.shutdownNow()
        }
    }

    /** What a service holds, as far as the tests touch it: GETs of their ids and a few findByName. */
    private fun content(service: ServiceProcess): List<String> {
        val paths =
            (0L..40L).map { "/users/$it" } + listOf("/users/${Long.MAX_VALUE}", "/users/5000") +
                listOf("/users?name=dup", "/users?name=a%00b", "/users?name=${"a".repeat(256)}", "/users?name=nine")
        return paths.map { "$it -> ${send(service, Request("GET", it)).describe()}" }
    }

    // ---- running one case ----

    /**
     * Runs [cases] in order on [service]. Around a refused request, the probes (GETs) must answer the same before
     * and after; their answers are kept until a request that may change something, so a run of refused requests
     * probes once between each.
     */
    private fun runCases(
        service: ServiceProcess,
        cases: List<Case>,
        problems: MutableList<String>,
    ): List<Answer> {
        val known = HashMap<String, String>()

        fun probe(path: String) = send(service, Request("GET", path)).describe()
        return cases.map { case ->
            val refused = case.status >= 400
            val probes = if (refused) case.probes.ifEmpty { DEFAULT_PROBES } else emptyList()
            val before = probes.map { known.getOrPut(it) { probe(it) } }
            val answer =
                try {
                    send(service, case.request)
                } catch (e: Exception) {
                    problems += "${service.label}: ${case.title}: no answer: $e"
                    Answer(-1, null, ByteArray(0))
                }
            case.expect.mismatch(answer, case)?.let { problems += "${service.label}: ${case.title}: $it; got ${answer.describe()}" }
            if (refused) {
                for ((i, path) in probes.withIndex()) {
                    val after = probe(path)
                    if (after !=
                        before[i]
                    ) {
                        problems += "${service.label}: ${case.title} was refused but changed GET $path: ${before[i]} -> $after"
                    }
                    known[path] = after
                }
            } else {
                known.clear()
            }
            answer
        }
    }

    /** The services must answer alike: status, media type, and the body as far as [Expect.comparable] says. */
    private fun compareAcross(
        case: Case,
        answers: Map<ServiceProcess, Answer>,
        problems: MutableList<String>,
    ) {
        val keys = answers.mapValues { (_, answer) -> Triple(answer.status, answer.mediaType, case.expect.comparable(answer)) }
        if (keys.values.toSet().size > 1) {
            problems +=
                "services disagree on ${case.title}:\n" +
                answers.entries.joinToString("\n") { "    ${it.key.label}: ${it.value.describe()}" }
        }
    }

    private fun report(problems: List<String>) {
        val missing = rustMissing?.let { listOf(it) } ?: emptyList()
        if (problems.isNotEmpty() || missing.isNotEmpty()) {
            fail((missing + problems).joinToString("\n", prefix = "${problems.size} problem(s):\n"))
        }
    }

    private fun rustBinary(): Path? {
        val (binary, tried) = ServiceProcess.rustBinary()
        if (binary == null) {
            rustMissing =
                "The Rust service binary userstore-server is not built (tried ${tried.joinToString()}): build it with " +
                "`cargo build --release -p userstore-server` or `./gradlew installDist` (./gradlew check builds it first), " +
                "or point -D${ServiceProcess.BINARY_PROPERTY} at it."
        }
        return binary
    }

    private fun track(service: ServiceProcess): ServiceProcess = service.also { started += it }

    // ---- HTTP ----

    private fun send(
        service: ServiceProcess,
        request: Request,
    ): Answer = if (request.raw != null) sendRaw(service, request.raw) else sendHttp(service, request)

    private fun sendHttp(
        service: ServiceProcess,
        request: Request,
    ): Answer {
        val publisher =
            when {
                request.body == null -> HttpRequest.BodyPublishers.noBody()

                // Without a known length the client sends the body chunked (Transfer-Encoding: chunked).
                request.chunked -> HttpRequest.BodyPublishers.ofInputStream { ByteArrayInputStream(request.body) }

                else -> HttpRequest.BodyPublishers.ofByteArray(request.body)
            }
        val builder =
            HttpRequest
                .newBuilder(URI.create(service.baseUrl + request.path))
                .timeout(Duration.ofSeconds(20))
                .method(request.method, publisher)
        request.headers.forEach { (name, value) -> builder.header(name, value) }
        val response = http.send(builder.build(), HttpResponse.BodyHandlers.ofByteArray())
        return Answer(response.statusCode(), mediaType(response.headers().firstValue("content-type").orElse(null)), response.body())
    }

    /** For what HttpClient will not send (a Content-Length it did not count, a path that is not a valid URI). */
    private fun sendRaw(
        service: ServiceProcess,
        raw: String,
    ): Answer {
        val uri = URI.create(service.baseUrl)
        Socket().use { socket ->
            socket.connect(InetSocketAddress(uri.host, uri.port), 5_000)
            socket.soTimeout = 20_000
            socket.getOutputStream().apply {
                write(raw.replace("{host}", "${uri.host}:${uri.port}").toByteArray(Charsets.UTF_8))
                flush()
            }
            return readResponse(socket.getInputStream())
        }
    }

    private fun readResponse(input: InputStream): Answer {
        fun line(): String {
            val out = ByteArrayOutputStream()
            while (true) {
                val b = input.read()
                if (b < 0 || b == '\n'.code) break
                if (b != '\r'.code) out.write(b)
            }
            return out.toString(Charsets.ISO_8859_1)
        }
        val status = line().split(' ')[1].toInt()
        val headers =
            generateSequence { line().takeIf { it.isNotEmpty() } }
                .map {
                    it.substringBefore(':').trim().lowercase() to
                        it.substringAfter(':').trim()
                }.toList()
        val length = headers.firstOrNull { it.first == "content-length" }?.second?.toInt()
        val chunked = headers.any { it.first == "transfer-encoding" && it.second.lowercase().contains("chunked") }
        val body =
            when {
                length != null -> {
                    input.readNBytes(length)
                }

                chunked -> {
                    val out = ByteArrayOutputStream()
                    while (true) {
                        val size = line().substringBefore(';').trim().toInt(16)
                        if (size == 0) break
                        out.write(input.readNBytes(size))
                        line()
                    }
                    out.toByteArray()
                }

                else -> {
                    input.readAllBytes()
                }
            }
        return Answer(status, mediaType(headers.firstOrNull { it.first == "content-type" }?.second), body)
    }

    companion object {
        private const val PRELOADED = 10

        /** Probed (GET before and after) around a refused request whose case names no probes of its own. */
        private val DEFAULT_PROBES = listOf("/users/1", "/users?name=x")

        private fun mediaType(contentType: String?): String? = contentType?.substringBefore(';')?.trim()?.lowercase()

        private fun json(text: String) = text.toByteArray(Charsets.UTF_8)

        /** A JSON string literal as both services write one: `"` and `\` escaped, control characters as short escapes or \u00XX. */
        fun jsonString(s: String): String =
            buildString {
                append('"')
                for (c in s) {
                    when {
                        c == '"' -> append("\\\"")
                        c == '\\' -> append("\\\\")
                        c == '\b' -> append("\\b")
                        c == '\u000C' -> append("\\f")
                        c == '\n' -> append("\\n")
                        c == '\r' -> append("\\r")
                        c == '\t' -> append("\\t")
                        c < ' ' -> append("\\u%04x".format(c.code))
                        else -> append(c)
                    }
                }
                append('"')
            }

        fun user(
            id: Long,
            name: String,
        ) = """{"id":$id,"name":${jsonString(name)}}"""
    }
}

/** A request: through HttpClient, or [raw] bytes over a socket (`{host}` replaced by the service's host:port). */
internal class Request(
    val method: String,
    val path: String,
    val body: ByteArray? = null,
    val headers: List<Pair<String, String>> = if (body != null) listOf("Content-Type" to "application/json") else emptyList(),
    val chunked: Boolean = false,
    val raw: String? = null,
)

/** One answer: status, media type (Content-Type without parameters, lower case), body. */
internal class Answer(
    val status: Int,
    val mediaType: String?,
    val body: ByteArray,
) {
    fun text(): String = body.toString(Charsets.UTF_8)

    fun describe(): String {
        val text = text()
        return "$status ${mediaType ?: "(no Content-Type)"} ${if (text.length > 300) text.take(300) + "…(${body.size} bytes)" else text}"
    }
}

/** What a case's answer must be, besides its status. */
internal sealed interface Expect {
    /** Null when [answer] is as expected for [case], else what is wrong. */
    fun mismatch(
        answer: Answer,
        case: Case,
    ): String?

    /** The part of the body every service must agree on. */
    fun comparable(answer: Answer): String = answer.text()

    /** Exactly these bytes (the UTF-8 of [text]) with the given media type. */
    data class Exact(
        val text: String,
        val mediaType: String? = "application/json",
    ) : Expect {
        override fun mismatch(
            answer: Answer,
            case: Case,
        ): String? =
            when {
                answer.status != case.status -> "expected status ${case.status}"
                answer.mediaType != mediaType -> "expected media type $mediaType"
                !answer.body.contentEquals(text.toByteArray(Charsets.UTF_8)) -> "expected body $text"
                else -> null
            }
    }

    /** Exactly `{"error":"message"}`: a message the service composes itself. */
    data class Error(
        val message: String,
    ) : Expect {
        override fun mismatch(
            answer: Answer,
            case: Case,
        ): String? = Exact("""{"error":${HttpConformanceTest.jsonString(message)}}""").mismatch(answer, case)
    }

    /**
     * `{"error":"<prefix>…"}`: only the prefix compares, because the rest is the detail of a JSON parser
     * (kotlinx.serialization in the Kotlin service, serde_json in the Rust one), which words it its own way.
     */
    data class ErrorPrefix(
        val prefix: String,
    ) : Expect {
        override fun mismatch(
            answer: Answer,
            case: Case,
        ): String? {
            if (answer.status != case.status) return "expected status ${case.status}"
            if (answer.mediaType != "application/json") return "expected media type application/json"
            val message = errorMessage(answer) ?: return "expected a {\"error\":\"…\"} body"
            return if (message.startsWith(prefix) &&
                message.length > prefix.length
            ) {
                null
            } else {
                "expected an error message starting with $prefix"
            }
        }

        override fun comparable(answer: Answer): String = errorMessage(answer)?.take(prefix.length) ?: answer.text()
    }

    /** Some `{"error":"…"}`: a refusal worded by the HTTP framework, not by the service. */
    data object AnyError : Expect {
        override fun mismatch(
            answer: Answer,
            case: Case,
        ): String? =
            when {
                answer.status != case.status -> "expected status ${case.status}"
                answer.mediaType != "application/json" -> "expected media type application/json"
                errorMessage(answer).isNullOrBlank() -> "expected a {\"error\":\"…\"} body"
                else -> null
            }

        override fun comparable(answer: Answer): String = if (errorMessage(answer).isNullOrBlank()) answer.text() else "{\"error\":…}"
    }

    /** No body and no Content-Type (204). */
    data object Empty : Expect {
        override fun mismatch(
            answer: Answer,
            case: Case,
        ): String? =
            when {
                answer.status != case.status -> "expected status ${case.status}"
                answer.body.isNotEmpty() -> "expected no body"
                else -> null
            }
    }
}

private fun errorMessage(answer: Answer): String? =
    runCatching {
        val obj = Json.parseToJsonElement(answer.text()).jsonObject
        if (obj.keys != setOf("error")) null else (obj.getValue("error") as? JsonPrimitive)?.takeIf { it.isString }?.content
    }.getOrNull()

/** One entry of the request list. */
internal class Case(
    val title: String,
    val request: Request,
    val status: Int,
    val expect: Expect,
    /** Paths to GET before and after a refused request (its own target, say): they must not change. */
    val probes: List<String> = emptyList(),
)
