package dev.userstore

import dev.userstore.internal.binding.ExtractedLibrary
import dev.userstore.internal.binding.NativeLoader
import dev.userstore.testing.ChildJvm
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.File
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import java.nio.file.attribute.FileTime
import java.time.Instant
import java.util.concurrent.LinkedBlockingQueue
import java.util.concurrent.TimeUnit
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlin.test.fail

/**
 * The extraction of the packed library (NativeLoader, ExtractedLibrary; docs/BUILD.md, "Native library
 * extraction"), in child JVMs that each get a private `java.io.tmpdir` and load the library from the classpath
 * (not the override the test JVM uses): nothing is left after normal exits, a killed JVM's copy is removed by
 * the next load, a live JVM's copy survives another JVM's cleanup, and the override extracts nothing.
 */
class NativeExtractionTest {
    @TempDir
    lateinit var tmp: Path

    @Test
    fun `10 normal exits, 10 SIGKILLs and one more normal run leave no userstore-native entry`() {
        // Two at a time: pairs of JVMs extract at the same instant.
        repeat(5) {
            val pair = List(2) { start(Mode.EXIT) }
            for (child in pair) child.finishNormally()
        }
        assertEquals(emptyList(), entries(), "after 10 normal exits")

        // Ten started together, all alive at once: each one's cleanup meets the others' live copies.
        val doomed = List(10) { start(Mode.SLEEP) }
        val copies = doomed.map { it.awaitReady() }
        assertEquals(10, copies.toSet().size, "ten distinct copies: $copies")
        for (copy in copies) assertTrue(Files.exists(copy), "$copy is there while its JVM lives")
        assertEquals(20, entries().size, "a library and a lock file per live JVM: ${entries()}")
        for (child in doomed) child.kill()
        // The kills left everything behind (no exit hook ran): the last run below has work to do.
        assertEquals(20, entries().size, "left by the killed JVMs: ${entries()}")

        start(Mode.EXIT).finishNormally()
        assertEquals(emptyList(), entries(), "after the last normal run")
    }

    @Test
    fun `a live JVM's copy survives another JVM's cleanup, which removes the dead ones`() {
        val signal = tmp.resolve("go")
        val holder = start(Mode.HOLD, signal.toString())
        try {
            val held = holder.awaitReady()
            val heldLock = held.resolveSibling(held.fileName.toString().substringBeforeLast('.') + ".lck")
            // A dead JVM's copy (its lock file is not locked by anyone), a library whose lock file is gone, and a
            // legacy folder (the loader before lock files) with its library, older than the legacy age limit.
            val dead = listOf("userstore-native-999999-1-42.lck", "userstore-native-999999-1-42.so", "userstore-native-999999-1-43.so")
            for (name in dead) Files.write(tmp.resolve(name), byteArrayOf(1))
            val legacy = Files.createDirectory(tmp.resolve("userstore-native1234567"))
            Files.write(legacy.resolve("libuserstore.so"), byteArrayOf(1))
            Files.setLastModifiedTime(legacy, FileTime.from(Instant.now().minus(ExtractedLibrary.LEGACY_MIN_AGE).minusSeconds(60)))

            start(Mode.EXIT).finishNormally()

            assertEquals(listOf(heldLock.fileName.toString(), held.fileName.toString()).sorted(), entries())
            Files.createFile(signal)
            val output = holder.finishNormally()
            assertTrue(output.contains("still works"), output)
            assertEquals(emptyList(), entries(), "after the holder's normal exit")
        } finally {
            holder.kill()
        }
    }

    @Test
    fun `the override loads that file and extracts nothing`() {
        val library =
            System.getProperty(NativeLoader.PATH_PROPERTY)
                ?: fail("the test JVM runs with -D${NativeLoader.PATH_PROPERTY} (see the parent pom's test.argLine)")
        val output = start(Mode.EXIT, override = library).finishNormally()
        assertTrue(output.contains("loaded from ${Paths.get(library).toAbsolutePath()}\n"), output)
        assertTrue(output.contains("extracted null\n"), output)
        assertTrue(output.contains("entries while loaded: []\n"), output)
        assertEquals(emptyList(), entries())
    }

    @Test
    fun `an unusable temporary directory fails with an error listing what was tried`() {
        val missing = tmp.resolve("missing")
        val child = start(Mode.EXIT, tmpdir = missing)
        val exit = child.waitFor()
        assertEquals(3, exit, child.output())
        val output = child.output()
        assertTrue(output.contains("UnsatisfiedLinkError: could not load the userstore native library"), output)
        assertTrue(
            output.contains("classpath resource native/${NativeLoader.platform}/${NativeLoader.libraryFileName}: extraction to $missing"),
            output,
        )
        assertEquals(emptyList(), entries())
    }

    private fun entries(): List<String> =
        Files.list(tmp).use { s ->
            s
                .map { it.fileName.toString() }
                .filter { it.startsWith("userstore-native") }
                .sorted()
                .toList()
        }

    private enum class Mode { EXIT, SLEEP, HOLD }

    private fun start(
        mode: Mode,
        vararg args: String,
        override: String? = null,
        tmpdir: Path = tmp,
    ): Child {
        val jvmArgs =
            listOf("-Djava.io.tmpdir=$tmpdir", "-Xmx64m", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC") +
                (override?.let { listOf("-D${NativeLoader.PATH_PROPERTY}=$it") } ?: emptyList())
        val command = ChildJvm.command(ExtractionProbe::class.java.name, jvmArgs, listOf(mode.name) + args, inheritLibrary = false)
        return Child(ProcessBuilder(command).redirectErrorStream(true).redirectInput(File("/dev/null")).start())
    }

    /** A running child JVM whose output lines are collected as they come. */
    private class Child(
        val process: Process,
    ) {
        private val lines = LinkedBlockingQueue<String>()
        private val all = StringBuilder()
        private val reader =
            Thread {
                process.inputStream.bufferedReader().forEachLine {
                    synchronized(all) { all.appendLine(it) }
                    lines.put(it)
                }
            }.apply {
                isDaemon = true
                start()
            }

        fun output(): String {
            reader.join(10_000)
            return synchronized(all) { all.toString() }
        }

        /** Waits for the child's `ready <path>` line; returns the extracted library's path. */
        fun awaitReady(): Path {
            val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60)
            while (true) {
                val line =
                    lines.poll(deadline - System.nanoTime(), TimeUnit.NANOSECONDS)
                        ?: fail("child not ready within 60 s:\n${synchronized(all) { all.toString() }}")
                if (line.startsWith("ready ")) return Paths.get(line.removePrefix("ready "))
            }
        }

        fun waitFor(): Int {
            if (!process.waitFor(60, TimeUnit.SECONDS)) {
                process.destroyForcibly().waitFor()
                fail("child did not finish within 60 s:\n${output()}")
            }
            return process.exitValue()
        }

        /** Waits for a normal exit (code 0); returns the output. */
        fun finishNormally(): String {
            val exit = waitFor()
            val output = output()
            assertEquals(0, exit, output)
            return output
        }

        /** SIGKILL (destroyForcibly on Unix): no shutdown hook, no deleteOnExit. */
        fun kill() {
            if (process.isAlive) process.destroyForcibly().waitFor(60, TimeUnit.SECONDS)
        }
    }
}

/**
 * The child JVM of [NativeExtractionTest]: loads the library (a store round trip), prints where from, then
 * `EXIT` exits normally; `SLEEP` prints `ready <copy>` and sleeps until killed; `HOLD <file>` prints
 * `ready <copy>`, waits for that file to appear, makes another round trip and exits normally.
 * Exit 3: UnsatisfiedLinkError.
 */
object ExtractionProbe {
    @JvmStatic
    fun main(args: Array<String>) {
        try {
            roundTrip()
        } catch (e: UnsatisfiedLinkError) {
            println("UnsatisfiedLinkError: ${e.message}")
            System.exit(3)
        }
        val copy = NativeLoader.extractedPath
        println("loaded from ${NativeLoader.loadedFrom}")
        println("extracted $copy")
        val tmp = Paths.get(System.getProperty("java.io.tmpdir"))
        val entries = Files.list(tmp).use { s -> s.map { it.fileName.toString() }.filter { it.startsWith("userstore-native") }.toList() }
        println("entries while loaded: $entries")
        if (copy != null) {
            check(Files.exists(copy)) { "the extracted copy $copy is missing while loaded" }
            // One copy per JVM (a library and its lock file): JNI_OnLoad's reentrant ensureLoaded loads nothing.
            val own = entries.filter { it.startsWith("${ExtractedLibrary.PREFIX}-${ExtractedLibrary.processToken}-") }
            check(own.size == 2) { "this JVM extracted more than one copy: $own" }
        }
        when (args[0]) {
            "EXIT" -> {}

            "SLEEP" -> {
                println("ready $copy")
                Thread.sleep(Long.MAX_VALUE)
            }

            "HOLD" -> {
                println("ready $copy")
                val signal = Paths.get(args[1])
                while (!Files.exists(signal)) Thread.sleep(20)
                roundTrip()
                println("still works")
            }
        }
    }

    private fun roundTrip() {
        NativeUserStore().use { store ->
            store.put(User(1, "a\u0000b\uD83D\uDE00"))
            check(store.get(1) == User(1, "a\u0000b\uD83D\uDE00"))
        }
    }
}
