package dev.userstore.service

import dev.userstore.testing.ChildJvm
import java.io.File
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.util.concurrent.TimeUnit

/**
 * One HTTP service under test as a real process on loopback (`--port 0`): the Rust `userstore-server` binary or
 * the Kotlin service in a child JVM. Its stdout and stderr go to [log]; [baseUrl] comes from the
 * `listening on http://HOST:PORT` line both print on stderr.
 */
class ServiceProcess private constructor(
    val label: String,
    val process: Process,
    val log: Path,
) {
    /** `http://127.0.0.1:PORT`, once [awaitListening] has returned. */
    lateinit var baseUrl: String
        private set

    /** Everything the process printed so far. */
    fun output(): String = if (Files.exists(log)) Files.readString(log) else ""

    /** Waits until the process prints where it listens; fails with its output if it exits or takes over [seconds]. */
    fun awaitListening(seconds: Long = 60): ServiceProcess {
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds)
        while (System.nanoTime() < deadline) {
            LISTENING.find(output())?.let {
                baseUrl = it.groupValues[1]
                return this
            }
            if (!process.isAlive) break
            Thread.sleep(20)
        }
        stop()
        throw AssertionError("$label did not start (exit ${exitOrNull()}):\n${output()}")
    }

    /** SIGTERM ([Process.destroy] on Linux and macOS), then a kill if it has not exited after [graceSeconds]. */
    fun stop(graceSeconds: Long = 20): Boolean {
        if (!process.isAlive) return true
        process.destroy()
        if (process.waitFor(graceSeconds, TimeUnit.SECONDS)) return true
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS)
        return false
    }

    /** SIGKILL ([Process.destroyForcibly]): no shutdown code runs; returns once the process is gone. */
    fun kill() {
        process.destroyForcibly()
        if (!process.waitFor(30, TimeUnit.SECONDS)) throw AssertionError("$label survived SIGKILL")
    }

    /** Waits at most [seconds] for the process to exit by itself; its exit code, or null if it still runs. */
    fun awaitExit(seconds: Long = 60): Int? = if (process.waitFor(seconds, TimeUnit.SECONDS)) process.exitValue() else null

    private fun exitOrNull(): Int? = if (process.isAlive) null else process.exitValue()

    /**
     * The three services of the suites, by label: `rust` (the [rustBinary]), `kotlin-native` and `kotlin-kotlin`
     * (the Kotlin service over each store in a child JVM).
     */
    enum class Kind(
        val label: String,
    ) {
        RUST("rust"),
        KOTLIN_NATIVE("kotlin-native"),
        KOTLIN_KOTLIN("kotlin-kotlin"),
        ;

        /**
         * Starts this service on `--port 0` with the extra [args] (`--data-dir DIR --sync batch`, ...); its output
         * goes to [log]. Call [awaitListening] next (or [awaitExit] for a start that must fail).
         */
        fun start(
            log: Path,
            vararg args: String,
        ): ServiceProcess =
            when (this) {
                RUST -> {
                    val (binary, tried) = rustBinary()
                    binary ?: throw AssertionError("no Rust service binary (build it: ./gradlew installDist); tried $tried")
                    startRust(binary, log, label, *args)
                }

                KOTLIN_NATIVE -> {
                    startKotlin(ServedStore.NATIVE, log, label, *args)
                }

                KOTLIN_KOTLIN -> {
                    startKotlin(ServedStore.KOTLIN, log, label, *args)
                }
            }
    }

    companion object {
        private val LISTENING = Regex("""listening on (http://[^\s/]+)""")

        /** The system property surefire sets to the Rust service binary. */
        const val BINARY_PROPERTY = "userstore.server.binary"

        /**
         * The Rust service binary: the [BINARY_PROPERTY] property, else `../target/release/userstore-server` from the
         * working directory (the module's, under surefire), else the one under the repository root (the nearest
         * folder above with a `Cargo.toml`). Null (with the places tried) when none exists.
         */
        fun rustBinary(): Pair<Path?, List<Path>> {
            val tried = mutableListOf<Path>()
            System.getProperty(BINARY_PROPERTY)?.takeIf { it.isNotBlank() }?.let { tried.add(Paths.get(it)) }
            val cwd = Paths.get(System.getProperty("user.dir")).toAbsolutePath()
            tried.add(cwd.resolve("../target/release/userstore-server").normalize())
            generateSequence(cwd) { it.parent }
                .firstOrNull { Files.isRegularFile(it.resolve("Cargo.toml")) && Files.isDirectory(it.resolve("kotlin-service")) }
                ?.let { tried.add(it.resolve("target/release/userstore-server")) }
            return tried.firstOrNull { Files.isRegularFile(it) && Files.isExecutable(it) } to tried.distinct()
        }

        /** Starts the Rust service [binary] with [args] (after `--port 0`); call [awaitListening] next. */
        fun startRust(
            binary: Path,
            log: Path,
            label: String,
            vararg args: String,
        ): ServiceProcess = launch(label, listOf(binary.toString(), "--port", "0") + args, log)

        /**
         * Starts the Kotlin service over [store] in a child JVM (the test JVM's `java` and class path, native
         * access enabled, `userstore.library.path` passed on: see [ChildJvm]); call [awaitListening] next.
         */
        fun startKotlin(
            store: ServedStore,
            log: Path,
            label: String,
            vararg args: String,
        ): ServiceProcess =
            launch(
                label,
                ChildJvm.command(
                    "dev.userstore.service.MainKt",
                    listOf("-Xmx256m"),
                    listOf("--store", store.label, "--port", "0") + args,
                ),
                log,
            )

        private fun launch(
            label: String,
            command: List<String>,
            log: Path,
        ): ServiceProcess {
            val process =
                ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectOutput(log.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(File("/dev/null")))
                    .start()
            return ServiceProcess(label, process, log)
        }
    }
}
