package dev.userstore.service

import dev.userstore.KotlinUserStore
import dev.userstore.NativeUserStore
import dev.userstore.StoreLockedException
import dev.userstore.Sync
import dev.userstore.UserStore
import dev.userstore.service.ServiceProcess.Kind
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.jsonObject
import kotlinx.serialization.json.jsonPrimitive
import org.junit.jupiter.api.AfterEach
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.io.TempDir
import java.io.IOException
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Path
import java.time.Duration
import java.util.Collections
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import kotlin.random.Random
import kotlin.test.fail

/**
 * The durable services (`--data-dir`) killed with SIGKILL at random moments, over HTTP, for the three services
 * (Rust; Kotlin over the native store; Kotlin over the Kotlin store), each on its own data directory.
 *
 * A round: the service starts on the directory; GETs of every id of a small id space must show what the
 * acknowledged requests before the last kill left (see [check]); then one client thread sends sequential random
 * PUTs and DELETEs over that id space, recording each acknowledged one (a 2xx, or the 404 of a DELETE, fully
 * read) and the one in flight; after a random number of acknowledgements and a random few milliseconds more,
 * the service is killed with SIGKILL ([Process.destroyForcibly]). With `--sync always` every acknowledged
 * request must have survived and only the one in flight may go either way; with `batch` and `none` an
 * acknowledged request may be lost, but what survives must be the state after some prefix of the requests
 * (the log is written in order). [ROUNDS_PROPERTY] rounds per service (default 5: three `always`, one `batch`,
 * one `none`).
 *
 * Also: a second service on a directory in use is refused, naming the lock (the Rust service against the Rust
 * service and against the Kotlin-store service), and so is the other implementation's store opened in this JVM
 * (the two lock kinds of docs/DURABILITY.md exclude each other); the directory written by the Rust service is
 * opened by the Kotlin-store service for a round, and the one it leaves by the Rust service; and the last start
 * of each directory ends with SIGTERM (exit 143, `store closed`) after acknowledged writes under `batch` or
 * `none`, which the close must have made durable (the directory is then opened in this JVM by the other
 * implementation). The three directories run side by side, one thread each.
 */
@Timeout(value = 240, unit = TimeUnit.SECONDS)
class HttpDurabilityTest {
    private val http: HttpClient =
        HttpClient
            .newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build()

    private val rounds = Integer.getInteger(ROUNDS_PROPERTY, 5).coerceAtLeast(1)
    private val seed = java.lang.Long.getLong(SEED_PROPERTY) ?: System.nanoTime()
    private val problems = Collections.synchronizedList(mutableListOf<String>())

    /** Every process started, so none outlives a failed test. */
    private val processes = Collections.synchronizedList(mutableListOf<ServiceProcess>())

    private fun start(
        kind: Kind,
        log: Path,
        vararg args: String,
    ): ServiceProcess = kind.start(log, *args).also { processes += it }

    @AfterEach
    fun killLeftovers() {
        processes.filter { it.process.isAlive }.forEach { it.kill() }
    }

    @Test
    fun `acknowledged writes survive SIGKILL, a used directory is refused, directories cross implementations`(
        @TempDir temp: Path,
    ) {
        val started = System.nanoTime()
        // The three directories side by side (one thread each), so the JVM services' starts overlap.
        val sequences =
            listOf<Pair<String, (Directory) -> Unit>>(
                // The Rust service's directory: its rounds; then the Kotlin-store service opens it for one round, and
                // the Rust service opens what that left, writes under batch and stops with SIGTERM.
                "rust" to { rust ->
                    rust.rounds(Kind.RUST) {
                        // While it runs the directory is locked: another Rust service is refused, and so is the
                        // Kotlin store in this JVM (the lock kinds of the two implementations exclude each other).
                        expectLocked(Kind.RUST, rust.dir, temp.resolve("locked-rust-by-rust.log"))
                        expectLockedInJvm(rust.dir) { KotlinUserStore.openDurable(it) }
                    }
                    rust.round(Kind.KOTLIN_KOTLIN, Sync.ALWAYS, "cross")
                    rust.finish(Kind.RUST, Sync.BATCH) { dir -> KotlinUserStore.openDurable(dir) }
                },
                "kotlin-native" to { native ->
                    native.rounds(Kind.KOTLIN_NATIVE)
                    native.finish(Kind.KOTLIN_NATIVE, Sync.BATCH) { dir -> KotlinUserStore.openDurable(dir) }
                },
                "kotlin-kotlin" to { kotlin ->
                    kotlin.rounds(Kind.KOTLIN_KOTLIN) {
                        // The Rust service against the Kotlin store's lock.
                        expectLocked(Kind.RUST, kotlin.dir, temp.resolve("locked-kotlin-by-rust.log"))
                        expectLockedInJvm(kotlin.dir) { NativeUserStore.openDurable(it) }
                    }
                    kotlin.finish(Kind.KOTLIN_KOTLIN, Sync.NONE) { dir -> NativeUserStore.openDurable(dir) }
                },
            )
        val pool = Executors.newFixedThreadPool(sequences.size)
        try {
            sequences
                .mapIndexed { i, (label, steps) ->
                    pool.submit(
                        Runnable {
                            val sequenceStart = System.nanoTime()
                            try {
                                steps(Directory(temp.resolve("$label-data"), temp, label, Random(seed + i)))
                            } catch (e: Throwable) {
                                problems += "$label: ${e.stackTraceToString()}"
                            }
                            println("HttpDurabilityTest: $label %.1f s".format((System.nanoTime() - sequenceStart) / 1e9))
                        },
                    )
                }.forEach { it.get(200, TimeUnit.SECONDS) }
        } finally {
            pool.shutdownNow()
        }
        val seconds = (System.nanoTime() - started) / 1e9
        println("HttpDurabilityTest: $rounds rounds per service, seed $seed, %.1f s".format(seconds))
        if (problems.isNotEmpty()) {
            fail("${problems.size} problems (seed $seed, -D$SEED_PROPERTY=$seed repeats the choices):\n" + problems.joinToString("\n"))
        }
    }

    /** Starts [kind] on [dir] while another service holds it: it must exit, not 0, naming the lock file. */
    private fun expectLocked(
        kind: Kind,
        dir: Path,
        log: Path,
    ) {
        val second = start(kind, log, "--data-dir", dir.toString())
        val code = second.awaitExit(60)
        if (code == null) {
            second.kill()
            problems += "${kind.label} on a directory in use did not exit:\n${second.output()}"
            return
        }
        val output = second.output()
        if (code == 0 || !output.contains(dir.resolve("LOCK").toString())) {
            problems += "${kind.label} on a directory in use: exit $code, expected non-zero and a message naming the lock:\n$output"
        }
        if (output.contains("listening on")) problems += "${kind.label} on a directory in use listened:\n$output"
    }

    /** Opens [dir] in this JVM while a service holds it: [StoreLockedException] naming the lock file. */
    private fun expectLockedInJvm(
        dir: Path,
        open: (Path) -> UserStore,
    ) {
        try {
            open(dir).close()
            problems += "the directory $dir in use by a service was opened in the test JVM"
        } catch (e: StoreLockedException) {
            if (e.message?.contains(dir.resolve("LOCK").toString()) != true) problems += "locked, but the message names no lock: $e"
        }
    }

    /** One request: its id, and the name a PUT sets (null: a DELETE). */
    private data class Op(
        val id: Long,
        val name: String?,
    ) {
        override fun toString() = if (name == null) "DELETE /users/$id" else "PUT /users/$id $name"
    }

    /** The successive services on one data directory, and what its acknowledged requests left there. */
    private inner class Directory(
        val dir: Path,
        val logs: Path,
        val label: String,
        val random: Random,
    ) {
        /** The content every acknowledged request so far leaves (id -> name). */
        var model: Map<Long, String> = emptyMap()

        /** The requests after the last check and the one in flight at the kill, for the next check. */
        var pending: List<Op> = emptyList()
        var inFlight: Op? = null
        var pendingSync = Sync.ALWAYS
        var starts = 0

        /** [rounds] rounds with [kind]: `always`, except the 4th of every 5 `batch` and the 5th `none`. */
        fun rounds(
            kind: Kind,
            duringFirst: () -> Unit = {},
        ) {
            for (r in 0 until rounds) {
                val sync =
                    when (r % 5) {
                        3 -> Sync.BATCH
                        4 -> Sync.NONE
                        else -> Sync.ALWAYS
                    }
                round(kind, sync, "round ${r + 1}", if (r == 0) duringFirst else null)
            }
        }

        /** Starts [kind] with [sync], checks the content, sends requests, kills it at a random moment. */
        fun round(
            kind: Kind,
            sync: Sync,
            name: String,
            during: (() -> Unit)? = null,
        ) {
            val service = startChecked(kind, sync, name) ?: return
            during?.invoke()
            val target = random.nextInt(1, 80)
            val extraMillis = random.nextLong(0, 12)
            val client = Client(service, name, model, random.nextLong())
            val thread = Thread(client, "durability-client-$label").apply { start() }
            val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30)
            while (client.acked.size < target && thread.isAlive && System.nanoTime() < deadline) Thread.sleep(1)
            Thread.sleep(extraMillis)
            service.kill()
            thread.join(TimeUnit.SECONDS.toMillis(30))
            if (thread.isAlive) problems += "$label $name: the client did not stop after the kill"
            client.failure?.let { problems += "$label $name (${kind.label}): $it\n${service.output()}" }
            pending = client.acked.toList()
            inFlight = client.inFlight
            pendingSync = sync
        }

        /**
         * The last start: [kind] with [sync] checks the content, takes acknowledged writes, and is stopped with
         * SIGTERM: exit 143, `store closed`; the directory opened in this JVM with [open] must hold every one of
         * them (the close wrote and synced the buffered log).
         */
        fun finish(
            kind: Kind,
            sync: Sync,
            open: (Path) -> UserStore,
        ) {
            val service = startChecked(kind, sync, "last start") ?: return
            val client = Client(service, "last start", model, random.nextLong(), limit = 30)
            client.run()
            client.failure?.let { problems += "$label last start (${kind.label}): $it" }
            if (!service.stop()) problems += "$label last start: ${kind.label} did not stop on SIGTERM"
            val output = service.output()
            if (service.process.exitValue() != 143 || !output.contains("serve: store closed")) {
                problems += "$label last start: ${kind.label} exited ${service.process.exitValue()} after SIGTERM:\n$output"
            }
            val expected = client.acked.fold(model, ::apply)
            val found =
                try {
                    open(dir).use { store -> (0L until IDS).mapNotNull { id -> store.get(id)?.let { id to it.name } }.toMap() }
                } catch (e: Exception) {
                    problems += "$label: cannot open the directory after SIGTERM: $e"
                    return
                }
            if (found != expected) {
                problems +=
                    "$label after SIGTERM with --sync ${sync.name.lowercase()}: found $found, expected $expected (acknowledged: ${client.acked})"
            }
        }

        /** Starts [kind] on the directory and checks what it serves against the requests before; null if it failed. */
        private fun startChecked(
            kind: Kind,
            sync: Sync,
            name: String,
        ): ServiceProcess? {
            val log = logs.resolve("$label-${starts++}-${kind.label}.log")
            val service = start(kind, log, "--data-dir", dir.toString(), "--sync", sync.name.lowercase())
            try {
                service.awaitListening()
            } catch (e: AssertionError) {
                problems += "$label $name: ${e.message}"
                return null
            }
            if (!service.output().contains("from data dir $dir (sync ${sync.name.lowercase()})")) {
                problems += "$label $name: no start-up line naming the data dir and the sync mode:\n${service.output()}"
            }
            val found = content(service)
            if (found == null) {
                service.kill()
                return null
            }
            check("$name (${kind.label})", found)
            model = found
            return service
        }

        /** What the service serves for every id, by GET. */
        private fun content(service: ServiceProcess): Map<Long, String>? {
            val found = mutableMapOf<Long, String>()
            for (id in 0L until IDS) {
                val response =
                    try {
                        http.send(
                            HttpRequest.newBuilder(URI("${service.baseUrl}/users/$id")).GET().build(),
                            HttpResponse.BodyHandlers.ofString(),
                        )
                    } catch (e: IOException) {
                        problems += "$label: GET /users/$id failed: $e"
                        return null
                    }
                when (response.statusCode()) {
                    200 -> {
                        found[id] =
                            Json
                                .parseToJsonElement(response.body())
                                .jsonObject["name"]!!
                                .jsonPrimitive.content
                    }

                    404 -> {}

                    else -> {
                        problems += "$label: GET /users/$id: ${response.statusCode()} ${response.body()}"
                    }
                }
            }
            return found
        }

        /**
         * [found] against the requests since the last check: with `always`, exactly the content after all the
         * acknowledged ones, except that the request in flight may or may not have been applied; with `batch` or
         * `none`, the content after some prefix of them (the one in flight included).
         */
        private fun check(
            name: String,
            found: Map<Long, String>,
        ) {
            val acked = model.let { start -> pending.fold(start, ::apply) }
            val withInFlight = inFlight?.let { apply(acked, it) } ?: acked
            // Every prefix: the state before any request, after each acknowledged one, after the one in flight.
            val states = pending.runningFold(model, ::apply) + listOfNotNull(inFlight?.let { withInFlight })
            val ok =
                if (pendingSync == Sync.ALWAYS) {
                    found == acked || found == withInFlight
                } else {
                    found in states
                }
            if (pending.isNotEmpty() || inFlight != null) {
                // The state found is the one after this many requests (the one in flight counted when applied).
                val after = states.lastIndexOf(found).takeIf { it >= 0 }?.toString() ?: "none"
                println(
                    "HttpDurabilityTest: $label, at the start of $name: the last run (--sync ${pendingSync.name.lowercase()}) had " +
                        "${pending.size} acknowledged, in flight: $inFlight; found the state after $after requests",
                )
            }
            if (!ok) {
                problems += "$label $name after a kill under --sync ${pendingSync.name.lowercase()}: found $found, " +
                    "expected $acked (in flight: $inFlight; acknowledged since the last start: $pending)"
            }
        }
    }

    /** The content [state] becomes after [op]. */
    private fun apply(
        state: Map<Long, String>,
        op: Op,
    ): Map<Long, String> = if (op.name == null) state - op.id else state + (op.id to op.name)

    /**
     * Sends sequential random PUTs and DELETEs until the connection fails (the kill) or [limit] are acknowledged,
     * checking each answer against the content so far, from [start] on (201 for a new id, 200 for a replaced one,
     * 204 or 404).
     */
    private inner class Client(
        val service: ServiceProcess,
        val round: String,
        val start: Map<Long, String>,
        seed: Long,
        val limit: Int = Int.MAX_VALUE,
    ) : Runnable {
        val acked: MutableList<Op> = Collections.synchronizedList(mutableListOf())

        @Volatile var inFlight: Op? = null

        @Volatile var failure: String? = null

        private val clientRandom = Random(seed)

        override fun run() {
            val present = start.toMutableMap()
            var n = 0
            while (acked.size < limit) {
                val id = clientRandom.nextLong(IDS)
                val op = if (clientRandom.nextInt(4) == 0) Op(id, null) else Op(id, "é-${round.replace(' ', '-')}-${n++}")
                inFlight = op
                val response =
                    try {
                        http.send(request(op), HttpResponse.BodyHandlers.ofString())
                    } catch (e: IOException) {
                        return
                    } catch (e: InterruptedException) {
                        return
                    }
                val expected =
                    when {
                        op.name != null && present.containsKey(id) -> 200
                        op.name != null -> 201
                        present.containsKey(id) -> 204
                        else -> 404
                    }
                if (response.statusCode() != expected) {
                    failure = "$op answered ${response.statusCode()} ${response.body()}, expected $expected"
                    return
                }
                if (op.name == null) present.remove(id) else present[id] = op.name
                acked += op
                inFlight = null
            }
        }

        private fun request(op: Op): HttpRequest {
            val builder = HttpRequest.newBuilder(URI("${service.baseUrl}/users/${op.id}")).timeout(Duration.ofSeconds(20))
            return if (op.name == null) {
                builder.DELETE().build()
            } else {
                builder
                    .PUT(HttpRequest.BodyPublishers.ofString("""{"name":"${op.name}"}"""))
                    .header("Content-Type", "application/json")
                    .build()
            }
        }
    }

    private companion object {
        /** The system property with the number of killed rounds per service. */
        const val ROUNDS_PROPERTY = "userstore.killtest.rounds"

        /** The system property that fixes the random choices (the seed is printed with every failure). */
        const val SEED_PROPERTY = "userstore.killtest.seed"

        /** The id space: ids 0 until IDS. */
        const val IDS = 24L
    }
}
