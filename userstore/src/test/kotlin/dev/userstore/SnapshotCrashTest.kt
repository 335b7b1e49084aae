package dev.userstore

import dev.userstore.testing.ChildJvm
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.File
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.TimeUnit
import kotlin.random.Random
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlin.test.fail

/**
 * Atomic save under SIGKILL: a child JVM ([SnapshotCrashChild]) saves two known contents, A and B, in turn to one
 * file, as fast as it can; this test kills it (`destroyForcibly`, SIGKILL on Linux) at random moments and after
 * each kill opens the file with both stores: it must hold exactly A or exactly B. Before the first save has
 * completed the file may be missing; nothing else is accepted.
 *
 * The children alternate between the native and the Kotlin store. The number of kills is [DEFAULT_KILLS] (about
 * 10 s); the system property [KILLS_PROPERTY] or the environment variable [KILLS_ENV] sets another, e.g.
 * `USERSTORE_CRASHTEST_KILLS=200 ./gradlew test` for a long run.
 */
class SnapshotCrashTest {
    @Test
    fun `a save killed at any moment leaves the previous or the new snapshot, never a damaged one`(
        @TempDir dir: Path,
    ) {
        val kills = (System.getProperty(KILLS_PROPERTY) ?: System.getenv(KILLS_ENV))?.toInt() ?: DEFAULT_KILLS
        val path = dir.resolve("crash.snap")
        val expected =
            listOf("A", "B").associateWith { version ->
                KotlinUserStore().use { s ->
                    crashContent(version).forEach(s::put)
                    s.exportJson()
                }
            }
        val random = Random(System.nanoTime())
        val seen = mutableMapOf("A" to 0, "B" to 0, "missing" to 0)
        repeat(kills) { round ->
            val kind = if (round % 2 == 0) "native" else "kotlin"
            val child = startChild(kind, path)
            try {
                val ready = child.inputStream.bufferedReader().readLine()
                assertEquals("ready", ready, "child $round ($kind) did not start")
                // The child does nothing but save, one save taking some tens of milliseconds: every kill after the
                // first save lands inside one, at a random point of it.
                Thread.sleep(random.nextLong(0, 600))
            } finally {
                child.destroyForcibly()
                assertTrue(child.waitFor(30, TimeUnit.SECONDS), "child $round did not die")
            }
            if (Files.notExists(path)) {
                seen.merge("missing", 1, Int::plus)
                return@repeat
            }
            val native = NativeUserStore.open(path).use { it.exportJson() }
            val kotlin = KotlinUserStore.open(path).use { it.exportJson() }
            assertContentEquals(native, kotlin, "round $round: both stores read the same")
            val version = expected.entries.firstOrNull { it.value.contentEquals(native) }?.key
            version ?: fail("round $round ($kind): the file opened but holds neither A nor B")
            seen.merge(version, 1, Int::plus)
        }
        // The file exists after the first completed save; most rounds must have found and checked it.
        assertTrue(seen.getValue("A") + seen.getValue("B") >= kills / 2, "too few rounds found a file: $seen")
        // Temporary files left behind show kills that landed while a file was being written.
        val leftovers = Files.list(dir).use { files -> files.filter { it.fileName.toString().endsWith(".tmp") }.count() }
        println("snapshot crash test: $kills kills, found $seen, $leftovers temporary files left by killed saves")
    }

    private fun startChild(
        kind: String,
        path: Path,
    ): Process {
        val command = ChildJvm.command(SnapshotCrashChild::class.java.name, listOf("-Xmx512m"), listOf(kind, path.toString()))
        return ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start()
    }

    private companion object {
        const val KILLS_PROPERTY = "userstore.crashtest.kills"
        const val KILLS_ENV = "USERSTORE_CRASHTEST_KILLS"
        const val DEFAULT_KILLS = 6
    }
}

/** Users of the crash test's content [version] ("A" or "B"): different ids, names and counts. */
internal fun crashContent(version: String): List<User> =
    when (version) {
        "A" -> List(CRASH_USERS) { User(it.toLong(), "user-a-$it") }
        else -> List(CRASH_USERS + 1_000) { User(it * 3L, "B-\uD83D\uDE00-$it") }
    }

/** Users per content in the crash test. */
private const val CRASH_USERS = 200_000

/** The child JVM of [SnapshotCrashTest]: args `native|kotlin PATH`; prints `ready`, then saves A, B, A, … until killed. */
object SnapshotCrashChild {
    @JvmStatic
    fun main(args: Array<String>) {
        val path = Path.of(args[1])
        val stores =
            listOf("A", "B").map { version ->
                val store: UserStore = if (args[0] == "native") NativeUserStore() else KotlinUserStore()
                crashContent(version).forEach(store::put)
                store
            }
        println("ready")
        System.out.flush()
        var i = 0
        while (true) stores[i++ % 2].save(path)
    }
}
