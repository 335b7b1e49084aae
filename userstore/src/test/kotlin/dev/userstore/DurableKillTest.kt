package dev.userstore

import dev.userstore.testing.ChildJvm
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.EnumSource
import java.io.BufferedWriter
import java.io.FileDescriptor
import java.io.FileOutputStream
import java.io.OutputStreamWriter
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.TimeUnit
import kotlin.random.Random
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlin.test.fail

/**
 * Durability under SIGKILL: a child JVM ([DurableKillChild]) opens a durable store with [Sync.ALWAYS] and writes at
 * random (put, remove, importJson over 20 ids) in one thread, printing `B <op>` before each call and `A` after it
 * returns. This test kills it (`destroyForcibly`, SIGKILL on Linux) after a random number of acknowledgements and
 * a random delay, then opens the directory with the same implementation and with the other one: the content must
 * be every acknowledged write applied in order, plus or minus the one call in flight. The directory is reused
 * round after round (recovery after recovery); every third round uses a tiny `checkpointLogBytes`, so kills
 * land in checkpoints.
 *
 * Rounds per implementation: [DEFAULT_ROUNDS]; `-Duserstore.killtest.rounds=N` or `USERSTORE_KILLTEST_ROUNDS=N`
 * for more.
 */
class DurableKillTest {
    @ParameterizedTest
    @EnumSource(DurableImpl::class)
    fun `every acknowledged write survives a SIGKILL`(impl: DurableImpl) {
        val rounds = (System.getProperty(ROUNDS_PROPERTY) ?: System.getenv(ROUNDS_ENV))?.toInt() ?: DEFAULT_ROUNDS
        val dir = Files.createTempDirectory("durable-kill-${impl.name.lowercase()}")
        try {
            val random = Random(System.nanoTime())
            var model = sortedMapOf<Long, String>()
            var inFlightApplied = 0
            repeat(rounds) { round ->
                val checkpointLogBytes = if (round % 3 == 2) 512L else Sync.DEFAULT_CHECKPOINT_LOG_BYTES
                val lines = runAndKill(impl, dir, random.nextLong(), checkpointLogBytes, acks = random.nextInt(1, 80), random)
                val (acked, inFlight) = parse(lines, round)
                for (op in acked) apply(model, op)
                val withInFlight = inFlight?.let { op -> sortedMapOf<Long, String>().apply { putAll(model) }.also { apply(it, op) } }
                val recovered = impl.open(dir).use { s -> snapshotOf(s) }
                when (recovered) {
                    model -> {}

                    withInFlight -> {
                        inFlightApplied++
                    }

                    else -> {
                        fail(
                            "round $round ($impl): ${acked.size} acknowledged writes, in flight: $inFlight\n" +
                                "expected $model\n" + (withInFlight?.let { "or $it\n" } ?: "") + "found $recovered",
                        )
                    }
                }
                val other = impl.other.open(dir).use { s -> snapshotOf(s) }
                assertEquals(recovered, other, "round $round: ${impl.other} reads what $impl recovered")
                model = sortedMapOf<Long, String>().apply { putAll(recovered) }
            }
            println("durable kill test ($impl): $rounds rounds, the write in flight was applied in $inFlightApplied")
        } finally {
            dir.toFile().deleteRecursively()
        }
    }

    /** One round: starts the child, kills it after [acks] acknowledgements and a random delay; returns its lines. */
    private fun runAndKill(
        impl: DurableImpl,
        dir: Path,
        seed: Long,
        checkpointLogBytes: Long,
        acks: Int,
        random: Random,
    ): List<String> {
        val command =
            ChildJvm.command(
                DurableKillChild::class.java.name,
                listOf("-Xmx256m", "-XX:TieredStopAtLevel=1", "-Xshare:auto"),
                listOf(impl.name, dir.toString(), seed.toString(), checkpointLogBytes.toString()),
            )
        val child = ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start()
        val lines = ArrayList<String>()
        try {
            val reader = child.inputStream.bufferedReader()
            val ready = reader.readLine()
            assertEquals("ready", ready, "the child ($impl) did not open $dir")
            var seen = 0
            while (seen < acks) {
                val line = reader.readLine() ?: fail("the child ($impl) stopped by itself: ${lines.takeLast(3)}")
                lines.add(line)
                if (line == "A") seen++
            }
            val delayMicros = random.nextLong(0, 3000)
            val deadline = System.nanoTime() + delayMicros * 1000
            while (System.nanoTime() < deadline) Thread.onSpinWait()
            // SIGKILL through the ProcessHandle: Process.destroyForcibly would also close the pipe, losing the
            // lines the child printed before it died.
            child.toHandle().destroyForcibly()
            while (true) lines.add(reader.readLine() ?: break)
        } finally {
            child.destroyForcibly()
            assertTrue(child.waitFor(30, TimeUnit.SECONDS), "the child did not die")
        }
        return lines
    }

    /** The acknowledged operations in order, and the one in flight (a `B` without its `A`), if any. */
    private fun parse(
        lines: List<String>,
        round: Int,
    ): Pair<List<String>, String?> {
        val acked = ArrayList<String>()
        var pending: String? = null
        for (line in lines) {
            if (line == "A") {
                acked.add(pending ?: fail("round $round: an A without its B"))
                pending = null
            } else if (line.startsWith("B ")) {
                if (pending != null) fail("round $round: two B lines in a row")
                pending = line.removePrefix("B ")
            } else {
                fail("round $round: unexpected line '$line'")
            }
        }
        return acked to pending
    }

    private fun apply(
        model: MutableMap<Long, String>,
        op: String,
    ) {
        val parts = op.split(" ", limit = 3)
        when (parts[0]) {
            "put" -> {
                model[parts[1].toLong()] = parts[2]
            }

            "remove" -> {
                model.remove(parts[1].toLong())
            }

            "import" -> {
                // Records in input order: a later duplicate wins, as in the import.
                USER.findAll(op).forEach { model[it.groupValues[1].toLong()] = it.groupValues[2] }
            }

            else -> {
                fail("unknown op $op")
            }
        }
    }

    private fun snapshotOf(store: UserStore): Map<Long, String> {
        val map = sortedMapOf<Long, String>()
        USER.findAll(String(store.exportJson(), Charsets.UTF_8)).forEach { map[it.groupValues[1].toLong()] = it.groupValues[2] }
        assertEquals(store.size, map.size.toLong())
        return map
    }

    private companion object {
        const val ROUNDS_PROPERTY = "userstore.killtest.rounds"
        const val ROUNDS_ENV = "USERSTORE_KILLTEST_ROUNDS"
        const val DEFAULT_ROUNDS = 5

        /** One user of this test's JSON: names are plain ASCII, no quotes or escapes. */
        val USER = Regex("\\{\"id\":(\\d+),\"name\":\"([^\"]*)\"\\}")
    }
}

/**
 * The child JVM of [DurableKillTest]: args `KOTLIN|NATIVE DIR SEED CHECKPOINT_LOG_BYTES`; opens the directory with
 * [Sync.ALWAYS], prints `ready`, then writes at random until killed (or for at most a minute), printing `B <op>`
 * before each call and `A` after it returns, each line flushed at once. Names are plain ASCII without spaces.
 */
object DurableKillChild {
    @JvmStatic
    fun main(args: Array<String>) {
        val impl = DurableImpl.valueOf(args[0])
        val random = Random(args[2].toLong())
        val out = BufferedWriter(OutputStreamWriter(FileOutputStream(FileDescriptor.out), Charsets.UTF_8))

        fun line(text: String) {
            out.write(text)
            out.write("\n")
            out.flush()
        }
        val store = impl.open(Path.of(args[1]), Sync.ALWAYS, args[3].toLong())
        line("ready")
        val end = System.nanoTime() + TimeUnit.MINUTES.toNanos(1)
        var i = 0
        while (System.nanoTime() < end) {
            val id = random.nextLong(0, 20)
            when (random.nextInt(10)) {
                in 0..4 -> {
                    val name = "n$i-${random.nextInt(1000)}"
                    line("B put $id $name")
                    store.put(User(id, name))
                }

                in 5..7 -> {
                    line("B remove $id")
                    store.remove(id)
                }

                else -> {
                    val json =
                        (0 until random.nextInt(1, 5)).joinToString(",", "[", "]") {
                            """{"id":${random.nextLong(0, 20)},"name":"i$i-$it"}"""
                        }
                    line("B import $json")
                    store.importJson(json.toByteArray())
                }
            }
            line("A")
            i++
        }
        store.close()
    }
}
