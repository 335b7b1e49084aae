package dev.userstore.reliability

import dev.userstore.KotlinUserStore
import dev.userstore.NativeUserStore
import dev.userstore.UserStore
import dev.userstore.internal.binding.NativeLoader
import dev.userstore.testing.ChildJvm
import java.io.File
import java.util.concurrent.TimeUnit
import kotlin.test.assertTrue

/**
 * Settings and helpers shared by the reliability suites (issue 6).
 *
 * Every suite has a short default that runs in `./gradlew check` and a long variant chosen by a system
 * property (or the environment variable in brackets), for example
 * `./gradlew test --tests 'dev.userstore.reliability.*' -Duserstore.fuzz.iterations=200000`:
 *
 * - `userstore.fuzz.iterations` (`USERSTORE_FUZZ_ITERATIONS`): inputs per kind in [BoundaryFuzzTest]
 * - `userstore.race.rounds` (`USERSTORE_RACE_ROUNDS`): close() races per store in [RaceTest]
 * - `userstore.hammer.ops` (`USERSTORE_HAMMER_OPS`): calls per thread in [RaceTest]'s hammer
 * - `userstore.leak.cycles` (`USERSTORE_LEAK_CYCLES`): create/fill/close cycles in [LeakTest]
 * - `userstore.fuzz.seed` (`USERSTORE_FUZZ_SEED`): replays one seed in [BoundaryFuzzTest]
 *
 * Each suite prints one `RELIABILITY ...` line with its figures (Surefire keeps it in
 * `build/surefire-reports/<class>-output.txt`).
 */
internal object Reliability {
    fun setting(
        name: String,
        default: Long,
    ): Long {
        val env = "USERSTORE_" + name.removePrefix("userstore.").replace('.', '_').uppercase()
        val raw = System.getProperty(name) ?: System.getenv(env) ?: return default
        return raw.trim().toLongOrNull() ?: error("$name / $env must be a whole number, not '$raw'")
    }

    /** Both implementations, named, so every check runs on each. */
    val stores: List<Pair<String, () -> UserStore>> =
        listOf("native" to { NativeUserStore() }, "kotlin" to { KotlinUserStore() })

    /** Prints a figure line for the report. */
    fun report(line: String) = println("RELIABILITY $line")

    /** The current process's resident set size (`VmRSS`) or peak (`VmHWM`) in bytes, from /proc/self/status. */
    fun procStatus(field: String): Long {
        val line =
            File("/proc/self/status").readLines().firstOrNull { it.startsWith("$field:") }
                ?: error("/proc/self/status has no $field")
        return line
            .substringAfter(':')
            .trim()
            .removeSuffix("kB")
            .trim()
            .toLong() * 1024
    }

    /**
     * Runs [ChildProbe] with [args] in a fresh JVM under `-Xcheck:jni`, with this JVM's class path and native
     * library; returns its exit code and output (stdout and stderr).
     */
    fun runChild(
        jvmArgs: List<String>,
        args: List<String>,
        timeoutSeconds: Long = 600,
    ): Pair<Int, String> {
        NativeLoader.ensureLoaded()
        val result = ChildJvm.run(ChildJvm.command(ChildProbe::class.java.name, listOf("-Xcheck:jni") + jvmArgs, args), timeoutSeconds)
        return result.exitCode to result.output
    }

    /** The `key=value` pairs of the child's `RESULT` lines. */
    fun results(output: String): Map<String, String> =
        output
            .lines()
            .filter { it.startsWith("RESULT ") }
            .flatMap { it.removePrefix("RESULT ").split(' ') }
            .filter { '=' in it }
            .associate { it.substringBefore('=') to it.substringAfter('=') }

    /** The lines of a child's output that -Xcheck:jni (or the JVM) printed as warnings or errors. */
    fun jniWarnings(output: String): List<String> =
        output.lines().filter {
            it.contains("WARNING") || it.contains("FATAL ERROR") || it.contains("JNI local refs") ||
                it.contains("Check JNI") || it.contains("StackOverflowError")
        }
}
