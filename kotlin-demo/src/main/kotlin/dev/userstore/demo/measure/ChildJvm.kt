package dev.userstore.demo.measure

import com.github.ajalt.clikt.core.CliktError
import dev.userstore.NativeUserStore
import java.io.IOException
import java.lang.management.ManagementFactory
import java.nio.file.Files
import java.nio.file.Path
import java.util.Properties
import java.util.concurrent.TimeUnit

/** What HotSpot prints under -Xcheck:jni when a JNI call is wrong (the pattern .ci/check-jni-warnings looks for). */
private val JNI_PROBLEM = Regex("WARNING in native method|FATAL ERROR in native method|WARNING: JNI local refs|Check JNI")

/** Longest a child JVM may run, in seconds, beyond what it was asked to measure. */
private const val CHILD_GRACE_SECONDS = 300L

/**
 * Runs the demo's own main class in a fresh JVM (the same java binary and class path as this one),
 * for measurements one JVM cannot make: a JVM has one garbage collector for life, and start-up
 * can be measured only once per JVM.
 *
 * The child writes its results as a [Properties] file; its output lines are passed to [log]. The
 * native library override (`-Duserstore.library.path`) and `-Xcheck:jni` are passed on when this
 * JVM has them, and a child whose output shows a JNI warning fails the run, as the test suite would.
 */
internal object ChildJvm {
    /**
     * Runs `kotlin-demo <args> --out FILE` in a child JVM with [jvmOptions], waits at most
     * [expectedSeconds] plus a grace period, and returns what it wrote to FILE.
     */
    fun run(
        jvmOptions: List<String>,
        args: List<String>,
        expectedSeconds: Double,
        log: (String) -> Unit,
    ): Properties {
        val out = Files.createTempFile("userstore-child", ".properties")
        try {
            val command =
                listOf(javaBinary()) + inheritedOptions() + jvmOptions +
                    listOf("-cp", System.getProperty("java.class.path"), MAIN_CLASS) + args + listOf("--out", out.toString())
            val process =
                ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .start()
            val problems = mutableListOf<String>()
            val reader =
                Thread {
                    process.inputStream.bufferedReader().forEachLine { line ->
                        if (JNI_PROBLEM.containsMatchIn(line)) synchronized(problems) { problems += line }
                        log("  [${args.first()}] $line")
                    }
                }.apply { start() }
            val finished = process.waitFor(expectedSeconds.toLong() + CHILD_GRACE_SECONDS, TimeUnit.SECONDS)
            if (!finished) {
                process.destroyForcibly()
                throw CliktError("child JVM (${args.first()}) did not finish in time")
            }
            reader.join()
            if (problems.isNotEmpty()) throw CliktError("child JVM reported JNI problems: ${problems.first()}")
            if (process.exitValue() != 0) {
                throw CliktError(
                    "child JVM (${args.first()} with ${jvmOptions.joinToString(" ")}) failed with exit code ${process.exitValue()}",
                )
            }
            return Properties().also { props -> Files.newBufferedReader(out).use { props.load(it) } }
        } catch (e: IOException) {
            throw CliktError("cannot run a child JVM: ${e.message}")
        } finally {
            Files.deleteIfExists(out)
        }
    }

    /** Writes [values] where the parent asked ([path]). */
    fun write(
        path: Path,
        values: Map<String, Any?>,
    ) {
        val props = Properties()
        values.forEach { (k, v) -> if (v != null) props.setProperty(k, v.toString()) }
        Files.newBufferedWriter(path).use { props.store(it, "userstore child JVM results") }
    }

    private const val MAIN_CLASS = "dev.userstore.demo.MainKt"

    /** The library calls System.load, a restricted method on JDK 24+ (JEP 472): allowed, so no warning is printed. */
    private const val ENABLE_NATIVE_ACCESS = "--enable-native-access=ALL-UNNAMED"

    private fun javaBinary(): String = Path.of(System.getProperty("java.home"), "bin", "java").toString()

    /** The options of this JVM a child must share: the library override and -Xcheck:jni. */
    private fun inheritedOptions(): List<String> {
        val mine = ManagementFactory.getRuntimeMXBean().inputArguments
        val library = System.getProperty(NativeUserStore.LIBRARY_PATH_PROPERTY)?.let { "-D${NativeUserStore.LIBRARY_PATH_PROPERTY}=$it" }
        return listOfNotNull(ENABLE_NATIVE_ACCESS, library, "-Xcheck:jni".takeIf { it in mine })
    }
}

/** A number a child wrote, or an error naming the missing [key]. */
internal fun Properties.number(key: String): Double =
    getProperty(key)?.toDoubleOrNull() ?: throw CliktError("child JVM result lacks '$key'")

/** A whole number a child wrote. */
internal fun Properties.long(key: String): Long = number(key).toLong()
