package dev.userstore

import org.junit.jupiter.api.Nested
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.io.TempDir
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.Arguments
import org.junit.jupiter.params.provider.MethodSource
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * Durable stores (docs/DURABILITY.md) against both implementations: [DurableSuite] holds the cases, each nested
 * class runs all of them against one implementation (as [ConformanceTest] does).
 */
class DurableStoreTest {
    /** The pure-Kotlin store (internal/Wal.kt). */
    @Nested
    inner class Kotlin : DurableSuite(DurableImpl.KOTLIN)

    /** The Rust store (src/core/durable.rs) through this JVM's binding. */
    @Nested
    inner class Native : DurableSuite(DurableImpl.NATIVE)

    /** The directory lock between any two stores of this JVM, both implementations in every order. */
    @Nested
    @TestInstance(TestInstance.Lifecycle.PER_CLASS)
    inner class Lock {
        fun pairs(): List<Arguments> =
            DurableImpl.entries.flatMap { first -> DurableImpl.entries.map { second -> Arguments.of(first, second) } }

        @ParameterizedTest(name = "{0} holds, {1} is refused")
        @MethodSource("pairs")
        fun `a second store is refused while the first has the directory, and opens after close`(
            first: DurableImpl,
            second: DurableImpl,
            @TempDir dir: Path,
        ) {
            first.open(dir).use { held ->
                held.put(User(1, "held"))
                val before = directoryBytes(dir)
                val e = assertFailsWith<StoreLockedException> { second.open(dir) }
                assertTrue(e.message!!.contains(dir.resolve("LOCK").toString()), "names DIR/LOCK: ${e.message}")
                assertEquals(before, directoryBytes(dir), "a refused open changes nothing")
                // The holder still works, and still holds the lock after the refusal.
                held.put(User(2, "still"))
                assertFailsWith<StoreLockedException> { second.open(dir) }
            }
            second.open(dir).use { s ->
                assertEquals(User(2, "still"), s.get(2))
                assertEquals(2L, s.size)
            }
            // And back to the first implementation.
            first.open(dir).use { assertEquals(2L, it.size) }
        }
    }
}

/** The durable cases, independent of the implementation under test. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class DurableSuite(
    private val impl: DurableImpl,
) {
    @Test
    fun `writes survive close and reopen, and go on after it`(
        @TempDir root: Path,
    ) {
        val dir = root.resolve("a/b/data")
        impl.open(dir).use { s ->
            s.put(User(1, "Ada"))
            s.put(User(2, "Bob"))
            assertTrue(s.remove(1))
            assertFalse(s.remove(99))
            assertEquals(3, s.importJson("""[{"id":3,"name":"Cy"},{"id":2,"name":"Bo"},{"id":4,"name":"Dé 😀"}]""".toByteArray()))
            assertEquals(0, s.importJson("[]".toByteArray()))
        }
        val expected = """[{"id":2,"name":"Bo"},{"id":3,"name":"Cy"},{"id":4,"name":"Dé 😀"}]"""
        impl.open(dir).use { s ->
            assertEquals(expected, content(s))
            assertEquals(listOf(User(2, "Bo")), s.findByName("Bo"))
            s.put(User(5, "Eve"))
            s.remove(3)
        }
        impl.open(dir).use { s ->
            assertEquals("""[{"id":2,"name":"Bo"},{"id":4,"name":"Dé 😀"},{"id":5,"name":"Eve"}]""", content(s))
        }
        assertGenerationFiles(dir, 1)
    }

    @Test
    fun `a fresh directory holds LOCK and the header of log 1`(
        @TempDir dir: Path,
    ) {
        impl.open(dir).use { s ->
            assertEquals(0L, s.size)
            assertContentEquals(longArrayOf(0, 0, 0, 1), logStats(s))
        }
        assertGenerationFiles(dir, 1)
        assertContentEquals(walHeader(1), Files.readAllBytes(dir.resolve(logName(1))))
    }

    @Test
    fun `checkpoint writes the snapshot of the next generation and deletes the older files`(
        @TempDir root: Path,
    ) {
        val dir = root.resolve("d")
        impl.open(dir).use { s ->
            for (i in 0 until 50L) s.put(User(i, "user-$i"))
            s.remove(7)
            s.checkpoint()
            assertGenerationFiles(dir, 2)
            assertEquals(2L, logStats(s)!![3])
            assertContentEquals(walHeader(2), Files.readAllBytes(dir.resolve(logName(2))))
            // The snapshot holds the same bytes save writes for the same content.
            s.save(root.resolve("saved.snap"))
            assertContentEquals(Files.readAllBytes(root.resolve("saved.snap")), Files.readAllBytes(dir.resolve(snapshotName(2))))
            s.put(User(100, "after"))
            s.checkpoint()
            s.checkpoint()
            assertGenerationFiles(dir, 4)
            s.remove(0)
        }
        impl.open(dir).use { s ->
            assertEquals(49L, s.size)
            assertNull(s.get(0))
            assertEquals(User(100, "after"), s.get(100))
        }
    }

    @Test
    fun `a write that leaves the log at checkpointLogBytes runs a checkpoint`(
        @TempDir dir: Path,
    ) {
        impl.open(dir, Sync.ALWAYS, checkpointLogBytes = 300).use { s ->
            for (i in 0 until 40L) {
                s.put(User(i % 10, "name-$i"))
                val generation = logStats(s)!![3]
                assertGenerationFiles(dir, generation)
                assertTrue(Files.size(dir.resolve(logName(generation))) < 300, "the log was checkpointed")
            }
            assertTrue(logStats(s)!![3] > 3, "several checkpoints ran: ${logStats(s)!!.toList()}")
        }
        impl.open(dir).use { s ->
            assertEquals(10L, s.size)
            assertEquals(User(9, "name-39"), s.get(9))
        }
        // checkpointLogBytes = 1: every logged write checkpoints.
        impl.open(dir, Sync.ALWAYS, checkpointLogBytes = 1).use { s ->
            val before = logStats(s)!![3]
            s.put(User(1, "x"))
            assertEquals(before + 1, logStats(s)!![3])
            assertFalse(s.remove(12345))
            assertEquals(before + 1, logStats(s)!![3], "a remove that logs nothing checkpoints nothing")
        }
    }

    @Test
    fun `with ALWAYS every write is synced before it returns`(
        @TempDir dir: Path,
    ) {
        impl.open(dir, Sync.ALWAYS).use { s ->
            var last = logStats(s)!!

            fun acked(what: String) {
                val now = logStats(s)!!
                assertEquals(now[0], now[1], "$what: durable == appended")
                assertTrue(now[0] > last[0], "$what: appended grew")
                assertTrue(now[2] > last[2], "$what: synced")
                last = now
            }
            s.put(User(1, "a"))
            acked("put")
            s.put(User(1, "a"))
            acked("the same put again")
            assertTrue(s.remove(1))
            acked("remove")
            s.importJson("""[{"id":1,"name":"a"},{"id":1,"name":"b"}]""".toByteArray())
            acked("import")
            assertFalse(s.remove(2))
            assertEquals(0, s.importJson("[]".toByteArray()))
            assertContentEquals(last, logStats(s), "an absent remove and an empty import log nothing")
        }
    }

    @Test
    fun `concurrent ALWAYS writers all land and are synced`(
        @TempDir dir: Path,
    ) {
        val threads = 4
        val perThread = 100
        impl.open(dir, Sync.ALWAYS).use { s ->
            val pool = Executors.newFixedThreadPool(threads)
            try {
                val futures =
                    (0 until threads).map { t ->
                        pool.submit {
                            for (i in 0 until perThread) {
                                s.put(User(t * 1000L + i, "t$t-$i"))
                                val stats = logStats(s)!!
                                assertTrue(stats[1] > 0)
                            }
                        }
                    }
                futures.forEach { it.get(60, TimeUnit.SECONDS) }
            } finally {
                pool.shutdown()
            }
            val stats = logStats(s)!!
            assertEquals(stats[0], stats[1])
            assertTrue(stats[2] <= threads * perThread.toLong(), "at most one sync per write: ${stats.toList()}")
        }
        impl.open(dir).use { s -> assertEquals(threads * perThread.toLong(), s.size) }
    }

    @Test
    fun `writes racing with close complete or throw StoreClosedException, and the completed ones are durable`(
        @TempDir dir: Path,
    ) {
        val s = impl.open(dir, Sync.ALWAYS)
        val threads = 4
        val done = Array(threads) { java.util.concurrent.ConcurrentLinkedQueue<Long>() }
        val pool = Executors.newFixedThreadPool(threads)
        try {
            val futures =
                (0 until threads).map { t ->
                    pool.submit {
                        for (i in 0 until 100_000L) {
                            val id = t * 1_000_000L + i
                            try {
                                s.put(User(id, "w$id"))
                            } catch (_: StoreClosedException) {
                                return@submit
                            }
                            done[t].add(id)
                        }
                    }
                }
            Thread.sleep(100)
            s.close()
            futures.forEach { it.get(60, TimeUnit.SECONDS) }
        } finally {
            pool.shutdown()
        }
        impl.open(dir).use { reopened ->
            for (ids in done) for (id in ids) assertEquals(User(id, "w$id"), reopened.get(id))
            assertTrue(done.sumOf { it.size } > 0)
        }
    }

    @Test
    fun `BATCH syncs and NONE writes out in the background, close syncs the rest`(
        @TempDir root: Path,
    ) {
        for (sync in listOf(Sync.BATCH, Sync.NONE)) {
            val dir = root.resolve(sync.name)
            impl.open(dir, sync).use { s ->
                for (i in 0 until 20L) s.put(User(i, "n$i"))
                val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10)
                while (true) {
                    val stats = logStats(s)!!
                    val onDisk = Files.size(dir.resolve(logName(1))) - 28
                    val done = if (sync == Sync.BATCH) stats[1] == stats[0] else onDisk == stats[0]
                    if (done) break
                    assertTrue(System.nanoTime() < deadline, "$sync: the background thread wrote nothing: ${stats.toList()}")
                    Thread.sleep(5)
                }
                if (sync == Sync.NONE) assertEquals(0L, logStats(s)!![1], "NONE never syncs before close")
                s.put(User(99, "last"))
            }
            impl.open(dir).use { assertEquals(21L, it.size) }
        }
    }

    @Test
    fun `a torn tail is cut at every offset of the last record`(
        @TempDir root: Path,
    ) {
        val source = root.resolve("source")
        impl.open(source).use { s ->
            s.put(User(1, "one"))
            s.put(User(2, "two"))
            s.importJson("""[{"id":3,"name":"three"},{"id":4,"name":"four"}]""".toByteArray())
        }
        val log = Files.readAllBytes(source.resolve(logName(1)))
        val lastRecord = 12 + 1 + 4 + 2 * (8 + 2) + "three".length + "four".length
        val lastStart = log.size - lastRecord
        val withoutLast = """[{"id":1,"name":"one"},{"id":2,"name":"two"}]"""
        for (cut in lastStart until log.size) {
            val dir = root.resolve("cut-$cut")
            Files.createDirectories(dir)
            Files.write(dir.resolve(logName(1)), log.copyOf(cut))
            impl.open(dir).use { s -> assertEquals(withoutLast, content(s), "cut at $cut") }
            assertEquals(lastStart.toLong(), Files.size(dir.resolve(logName(1))), "cut at $cut: the tail was cut")
        }
        // Zeroed blocks after the end, and a damaged byte in the last record's payload or checksum.
        val zeroed = root.resolve("zeroed")
        Files.createDirectories(zeroed)
        Files.write(zeroed.resolve(logName(1)), log + ByteArray(4096))
        impl.open(zeroed).use { s -> assertEquals(4L, s.size) }
        assertEquals(log.size.toLong(), Files.size(zeroed.resolve(logName(1))))
        for (at in lastStart + 8 until log.size) {
            val dir = root.resolve("flip-$at")
            Files.createDirectories(dir)
            Files.write(dir.resolve(logName(1)), log.copyOf().also { it[at] = (it[at].toInt() xor 0x40).toByte() })
            impl.open(dir).use { s -> assertEquals(withoutLast, content(s), "flip at $at") }
        }
    }

    @Test
    fun `a damaged byte before the last record is corruption naming the file and the offset, and changes nothing`(
        @TempDir root: Path,
    ) {
        val source = root.resolve("source")
        impl.open(source).use { s ->
            s.put(User(1, "one"))
            s.put(User(2, "two"))
            s.put(User(3, "three"))
        }
        val log = Files.readAllBytes(source.resolve(logName(1)))
        // Every byte of the header and of the first two records.
        val end = 28 + 2 * (12 + 11 + 3)
        for (at in 0 until end) {
            val dir = root.resolve("flip-$at")
            Files.createDirectories(dir)
            val path = dir.resolve(logName(1))
            Files.write(path, log.copyOf().also { it[at] = (it[at].toInt() xor 0xFF).toByte() })
            val before = directoryBytes(dir)
            val e = assertFailsWith<CorruptSnapshotException>("flip at $at") { impl.open(dir) }
            assertTrue(e.message!!.contains(path.toString()), "names the file: ${e.message}")
            if (at >= 28) {
                val recordAt = 28 + (at - 28) / 26 * 26
                assertTrue(e.message!!.contains("offset $recordAt"), "flip at $at: names offset $recordAt: ${e.message}")
            }
            assertEquals(before, directoryBytes(dir) - "LOCK", "flip at $at: nothing in the directory changed")
        }
    }

    @Test
    fun `an open refused for corruption leaves even the temporary files in place`(
        @TempDir dir: Path,
    ) {
        impl.open(dir).use { s ->
            s.put(User(1, "one"))
            s.put(User(2, "two"))
        }
        val path = dir.resolve(logName(1))
        Files.write(path, Files.readAllBytes(path).also { it[28 + 12] = 9 })
        Files.write(dir.resolve(".snapshot-00000000000000000002.snap.1-2.tmp"), byteArrayOf(1))
        val before = directoryBytes(dir)
        assertFailsWith<CorruptSnapshotException> { impl.open(dir) }
        assertEquals(before, directoryBytes(dir), "docs/DURABILITY.md, step 5: nothing in the directory is changed")
    }

    @Test
    fun `a damaged or truncated snapshot is corruption, and a missing log too`(
        @TempDir root: Path,
    ) {
        val source = root.resolve("source")
        impl.open(source).use { s ->
            for (i in 0 until 10L) s.put(User(i, "n$i"))
            s.checkpoint()
            s.put(User(10, "after"))
        }
        val snapshot = Files.readAllBytes(source.resolve(snapshotName(2)))
        val log = Files.readAllBytes(source.resolve(logName(2)))
        for ((name, bytes) in listOf(
            "truncated" to snapshot.copyOf(snapshot.size - 1),
            "flipped" to snapshot.copyOf().also { it[40] = 0x7F },
        )) {
            val dir = root.resolve(name)
            Files.createDirectories(dir)
            Files.write(dir.resolve(snapshotName(2)), bytes)
            Files.write(dir.resolve(logName(2)), log)
            val before = directoryBytes(dir)
            val e = assertFailsWith<CorruptSnapshotException>(name) { impl.open(dir) }
            assertTrue(e.message!!.contains(dir.resolve(snapshotName(2)).toString()), "names the file: ${e.message}")
            assertEquals(before, directoryBytes(dir) - "LOCK", "$name: nothing changed")
        }
        // Logs 2 and 4 without 3.
        val gap = root.resolve("gap")
        Files.createDirectories(gap)
        Files.write(gap.resolve(snapshotName(2)), snapshot)
        Files.write(gap.resolve(logName(2)), log)
        Files.write(gap.resolve(logName(4)), walHeader(4))
        val e = assertFailsWith<CorruptSnapshotException> { impl.open(gap) }
        assertTrue(e.message!!.contains(gap.resolve(logName(3)).toString()), "names the missing log: ${e.message}")
    }

    @Test
    fun `opening deletes temporary files and the generations below the newest snapshot`(
        @TempDir root: Path,
    ) {
        val dir = root.resolve("d")
        impl.open(dir).use { s ->
            s.put(User(1, "a"))
            s.checkpoint()
            s.put(User(2, "b"))
        }
        // A checkpoint cut short after its step 2: the older snapshot and log are still there.
        Files.write(dir.resolve(logName(1)), walHeader(1))
        Files.write(dir.resolve(".snapshot-00000000000000000003.snap.123.tmp"), byteArrayOf(1, 2, 3))
        Files.write(dir.resolve("notes.txt"), byteArrayOf(9))
        impl.open(dir).use { s -> assertEquals(2L, s.size) }
        assertEquals(listOf("LOCK", logName(2), "notes.txt", snapshotName(2)), fileNames(dir))
    }

    @Test
    fun `checkpointLogBytes below 1 is refused`(
        @TempDir dir: Path,
    ) {
        assertFailsWith<IllegalArgumentException> { impl.open(dir.resolve("x"), Sync.ALWAYS, 0) }
        assertFailsWith<IllegalArgumentException> { impl.open(dir.resolve("x"), Sync.BATCH, -1) }
        impl.open(dir.resolve("y"), Sync.NONE, 1).close()
    }

    @Test
    fun `checkpoint does nothing on a store that is not durable`() {
        impl.memory().use { s ->
            s.put(User(1, "a"))
            s.checkpoint()
            assertNull(logStats(s))
            assertEquals(1L, s.size)
        }
    }

    @Test
    fun `a closed durable store refuses every call, closing twice is fine, the directory reopens`(
        @TempDir dir: Path,
    ) {
        val s = impl.open(dir)
        s.put(User(1, "a"))
        s.close()
        s.close()
        assertFailsWith<StoreClosedException> { s.put(User(2, "b")) }
        assertFailsWith<StoreClosedException> { s.remove(1) }
        assertFailsWith<StoreClosedException> { s.importJson("""[{"id":3,"name":"c"}]""".toByteArray()) }
        assertFailsWith<StoreClosedException> { s.get(1) }
        assertFailsWith<StoreClosedException> { s.checkpoint() }
        impl.open(dir).use { assertEquals(User(1, "a"), it.get(1)) }
    }
    // ---- batches (payload type 4) and stats ----

    @Test
    fun `a batch is one record of type 4 holding its puts and the removed ids that existed, and survives reopen`(
        @TempDir dir: Path,
    ) {
        val log = dir.resolve(logName(1))
        impl.open(dir).use { s ->
            s.put(User(3, "three"))
            s.put(User(9, "nine"))
            var size = Files.size(log)

            fun logged(expected: ByteArray) {
                val bytes = Files.readAllBytes(log)
                assertContentEquals(expected, bytes.copyOfRange(size.toInt(), bytes.size))
                size = bytes.size.toLong()
            }
            assertEquals(1, s.applyBatch(listOf(User(1, "Ada"), User(2, "Zoë"), User(1, "Ada 2")), longArrayOf(3, 5, 3)))
            logged(walRecord(batchPayload(listOf(User(1, "Ada"), User(2, "Zoë"), User(1, "Ada 2")), longArrayOf(3))))
            s.putAll(listOf(User(4, "d$EMOJI")))
            logged(walRecord(batchPayload(listOf(User(4, "d$EMOJI")), LongArray(0))))
            assertEquals(2, s.removeAll(longArrayOf(9, 4, 9, 77)))
            logged(walRecord(batchPayload(emptyList(), longArrayOf(9, 4))))
            // A put that changes nothing is logged, as put logs it.
            s.putAll(listOf(User(2, "Zoë")))
            logged(walRecord(batchPayload(listOf(User(2, "Zoë")), LongArray(0))))
            // Puts with removes of absent ids: the puts alone.
            assertEquals(0, s.applyBatch(listOf(User(Long.MAX_VALUE, "max")), longArrayOf(123)))
            logged(walRecord(batchPayload(listOf(User(Long.MAX_VALUE, "max")), LongArray(0))))
        }
        val expected = """[{"id":1,"name":"Ada 2"},{"id":2,"name":"Zoë"},{"id":9223372036854775807,"name":"max"}]"""
        impl.open(dir).use { s ->
            assertEquals(expected, content(s))
            assertEquals(listOf(User(1, "Ada 2")), s.findByName("Ada 2"))
            assertEquals(emptyList(), s.findByName("Ada"))
            s.checkpoint()
            s.applyBatch(listOf(User(5, "five")), longArrayOf(1))
        }
        impl.open(dir).use { s ->
            assertEquals("""[{"id":2,"name":"Zoë"},{"id":5,"name":"five"},{"id":9223372036854775807,"name":"max"}]""", content(s))
        }
    }

    @Test
    fun `a batch that changes nothing logs nothing, an invalid one neither, and ALWAYS syncs a batch before it returns`(
        @TempDir dir: Path,
    ) {
        impl.open(dir, Sync.ALWAYS, checkpointLogBytes = 1).use { s ->
            s.put(User(1, "a"))
            val before = logStats(s)!!
            val checkpoints = s.stats().checkpoints
            val files = directoryBytes(dir)
            assertEquals(0, s.applyBatch(emptyList(), LongArray(0)))
            s.putAll(emptyList())
            assertEquals(0, s.removeAll(longArrayOf(2, 3, 3)))
            assertEquals(0, s.removeAll(LongArray(0)))
            assertFailsWith<InvalidUserException> { s.applyBatch(listOf(User(2, "b")), longArrayOf(2)) }
            assertFailsWith<InvalidUserException> { s.putAll(listOf(User(2, "b"), User(3, "\uD800"))) }
            assertFailsWith<InvalidUserException> { s.removeAll(longArrayOf(1, -1)) }
            assertContentEquals(before, logStats(s), "nothing appended, synced or checkpointed")
            assertEquals(files, directoryBytes(dir), "no file changed")
            assertEquals(checkpoints, s.stats().checkpoints, "a write that logs nothing checkpoints nothing")
        }
        impl.open(dir, Sync.ALWAYS).use { s ->
            var last = logStats(s)!!
            for ((what, batch) in listOf<Pair<String, () -> Unit>>(
                "putAll" to { s.putAll(listOf(User(2, "b"), User(3, "c"))) },
                "removeAll" to { s.removeAll(longArrayOf(2)) },
                "applyBatch" to { s.applyBatch(listOf(User(4, "d")), longArrayOf(3)) },
            )) {
                batch()
                val now = logStats(s)!!
                assertEquals(now[0], now[1], "$what: durable == appended")
                assertTrue(now[0] > last[0], "$what: appended grew")
                assertTrue(now[2] > last[2], "$what: synced")
                last = now
            }
        }
    }

    @Test
    fun `stats of a durable store follow the log's size and count the checkpoints since open`(
        @TempDir dir: Path,
    ) {
        val log1 = dir.resolve(logName(1))
        impl.open(dir, Sync.ALWAYS).use { s ->
            assertEquals(StoreStats(0, s.stats().bytes, true, 28, 0), s.stats())
            s.put(User(1, "a"))
            assertEquals(28L + 12 + 12, s.stats().logBytes)
            assertEquals(Files.size(log1), s.stats().logBytes)
            s.applyBatch(listOf(User(2, "bb")), longArrayOf(1))
            assertEquals(28L + 24 + 12 + (1 + 4 + 12 + 4 + 8), s.stats().logBytes)
            assertEquals(Files.size(log1), s.stats().logBytes)
            assertFalse(s.remove(42))
            assertEquals(Files.size(log1), s.stats().logBytes, "a remove that logs nothing")
            val stats = s.stats()
            assertEquals(1L, stats.users)
            assertEquals(s.size, stats.users)
            assertTrue(stats.durable)
            assertEquals(0L, stats.checkpoints)
            s.checkpoint()
            assertEquals(StoreStats(1, s.stats().bytes, true, 28, 1), s.stats())
            s.put(User(3, "c"))
            s.checkpoint()
            s.checkpoint()
            assertEquals(3L, s.stats().checkpoints)
            assertEquals(Files.size(dir.resolve(logName(4))), s.stats().logBytes)
        }
        // Since open: a reopened store starts at 0; the log's size is the file's, tail included.
        impl.open(dir, Sync.ALWAYS, checkpointLogBytes = 100).use { s ->
            assertEquals(StoreStats(2, s.stats().bytes, true, 28, 0), s.stats())
            var checkpoints = 0L
            for (i in 0 until 20L) {
                s.put(User(10 + i, "name $i"))
                val stats = s.stats()
                if (stats.logBytes == 28L) checkpoints++
                assertEquals(checkpoints, stats.checkpoints, "after put $i: $stats")
                assertEquals(Files.size(dir.resolve(logName(logStats(s)!![3]))), stats.logBytes)
            }
            assertTrue(checkpoints >= 5, "automatic checkpoints are counted: $checkpoints")
        }
        // With NONE the size counts the records still buffered (it does not depend on when they are written out).
        impl.open(dir.resolve("none"), Sync.NONE).use { s ->
            s.put(User(1, "a"))
            assertEquals(28L + 24, s.stats().logBytes)
        }
    }

    @Test
    fun `a damaged batch record is corruption naming the file and the offset, and changes nothing`(
        @TempDir root: Path,
    ) {
        val good = walRecord(batchPayload(listOf(User(1, "a")), longArrayOf(2)))
        val put = walRecord(byteArrayOf(1, 7, 0, 0, 0, 0, 0, 0, 0, 1, 0, 'x'.code.toByte()))
        val damaged: List<Pair<String, ByteArray>> =
            listOf(
                "no puts and no removes" to batchPayload(emptyList(), LongArray(0)),
                "an id both put and removed" to batchPayload(listOf(User(1, "a"), User(2, "b")), longArrayOf(3, 2)),
                "too short for its counts" to byteArrayOf(4, 0, 0, 0, 0),
                "a put count past the payload" to batchPayload(listOf(User(1, "a")), LongArray(0)).also { it[1] = 2 },
                "a huge put count" to batchPayload(listOf(User(1, "a")), LongArray(0)).also { for (i in 1..4) it[i] = -1 },
                "a remove count past the payload" to batchPayload(listOf(User(1, "a")), longArrayOf(2)).also { it[5 + 11] = 2 },
                "a remove count short of the payload" to batchPayload(emptyList(), longArrayOf(2, 3)).also { it[5] = 1 },
                "a byte after the removes" to batchPayload(listOf(User(1, "a")), longArrayOf(2)) + byteArrayOf(0),
                "a name of 0 bytes" to batchPayload(listOf(User(1, "a")), LongArray(0)).also { it[5 + 8] = 0 },
                "a name that is not UTF-8" to batchPayload(listOf(User(1, "a")), LongArray(0)).also { it[5 + 10] = 0xFF.toByte() },
                "a put id above Long.MAX_VALUE" to batchPayload(listOf(User(1, "a")), LongArray(0)).also { it[5 + 7] = 0x80.toByte() },
                "a removed id above Long.MAX_VALUE" to batchPayload(emptyList(), longArrayOf(2)).also { it[9 + 7] = 0x80.toByte() },
            )
        for ((what, payload) in damaged) {
            for (last in listOf(false, true)) {
                val dir = root.resolve("${damaged.indexOfFirst { it.first == what }}-$last")
                Files.createDirectories(dir)
                val path = dir.resolve(logName(1))
                val bad = walRecord(payload)
                Files.write(path, walHeader(1) + good + bad + (if (last) ByteArray(0) else put))
                val before = directoryBytes(dir)
                val e = assertFailsWith<CorruptSnapshotException>("$what (last: $last)") { impl.open(dir) }
                assertTrue(e.message!!.contains(path.toString()), "$what: names the file: ${e.message}")
                val offset = 28 + good.size
                assertTrue(e.message!!.contains("offset $offset"), "$what: names offset $offset: ${e.message}")
                assertEquals(before, directoryBytes(dir) - "LOCK", "$what: nothing in the directory changed")
            }
        }
        // The same log with the good batch alone opens.
        val dir = root.resolve("good")
        Files.createDirectories(dir)
        Files.write(dir.resolve(logName(1)), walHeader(1) + good + put)
        impl.open(dir).use { s -> assertEquals("""[{"id":1,"name":"a"},{"id":7,"name":"x"}]""", content(s)) }
    }
}
