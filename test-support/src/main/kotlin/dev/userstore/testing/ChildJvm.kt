package dev.userstore.testing

import java.io.File
import java.nio.file.Path
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit

/**
 * Launching a child JVM from a test: the same `java` as the test's own JVM, its class path, the native
 * library the test uses (`-Duserstore.library.path`, when set), and native access enabled, so JDK 24+ prints
 * no restricted-method warning (JEP 472) into output the tests read.
 */
object ChildJvm {
    /** The system property that points the loader at a native library file (see the library's NativeLoader). */
    const val LIBRARY_PROPERTY = "userstore.library.path"

    /** `--enable-native-access=ALL-UNNAMED`: the library calls System.load, a restricted method on JDK 24+. */
    const val ENABLE_NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED"

    /** The `java` launcher of the running JVM. */
    val java: String get() = File(System.getProperty("java.home"), "bin/java").path

    /**
     * The command that runs [mainClass] with [args] in a child JVM with [jvmArgs] (see the class comment);
     * with [inheritLibrary] false, the child loads the library packed in the jar (or whatever [jvmArgs] say).
     */
    fun command(
        mainClass: String,
        jvmArgs: List<String> = emptyList(),
        args: List<String> = emptyList(),
        inheritLibrary: Boolean = true,
    ): List<String> {
        val library =
            System.getProperty(LIBRARY_PROPERTY)?.takeIf { inheritLibrary }?.let { listOf("-D$LIBRARY_PROPERTY=$it") } ?: emptyList()
        return listOf(java, ENABLE_NATIVE_ACCESS) + library + jvmArgs +
            listOf("-cp", System.getProperty("java.class.path"), mainClass) + args
    }

    /**
     * Starts [command] (stdout and stderr merged, read on a daemon thread) and waits at most [timeoutSeconds] for
     * its first line starting with [marker]; returns the running process and the rest of that line. A child that
     * prints no such line in time is killed and this throws [AssertionError].
     */
    fun startUntil(
        command: List<String>,
        marker: String,
        timeoutSeconds: Long = 60,
    ): Pair<Process, String> {
        val process = ProcessBuilder(command).redirectErrorStream(true).start()
        val lines = LinkedBlockingQueue<String>()
        Thread { process.inputStream.bufferedReader().forEachLine { lines.put(it) } }.apply { isDaemon = true }.start()
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds)
        while (System.nanoTime() < deadline) {
            val line = lines.poll(100, TimeUnit.MILLISECONDS) ?: continue
            if (line.startsWith(marker)) return process to line.removePrefix(marker).trim()
        }
        process.destroyForcibly()
        throw AssertionError("child JVM ${command.joinToString(" ")} printed no line starting with \"$marker\" in $timeoutSeconds s")
    }

    /** A finished child: its exit code and everything it printed (stdout and stderr together). */
    data class Result(
        val exitCode: Int,
        val output: String,
    )

    /**
     * Runs [command] with stdout and stderr merged, standard input empty, for at most [timeoutSeconds]
     * (then it is killed and this throws [AssertionError] with what it printed).
     */
    fun run(
        command: List<String>,
        timeoutSeconds: Long = 600,
        directory: Path? = null,
    ): Result {
        val builder =
            ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(File("/dev/null")))
        directory?.let { builder.directory(it.toFile()) }
        val process = builder.start()
        val output = StringBuilder()
        val reader =
            Thread { process.inputStream.bufferedReader().forEachLine { synchronized(output) { output.appendLine(it) } } }
                .apply { start() }
        val finished = process.waitFor(timeoutSeconds, TimeUnit.SECONDS)
        if (!finished) process.destroyForcibly().waitFor()
        reader.join(10_000)
        val text = synchronized(output) { output.toString() }
        if (!finished) throw AssertionError("child JVM ${command.joinToString(" ")} did not finish in $timeoutSeconds s:\n$text")
        return Result(process.exitValue(), text)
    }
}
