package dev.userstore

import dev.userstore.internal.engine.Wal
import dev.userstore.internal.engine.WalFormat
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.TimeUnit
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** What only the Kotlin implementation of docs/DURABILITY.md can be asked directly (internal/Wal.kt). */
class KotlinDurableTest {
    @Test
    fun `an import is split greedily into records of at most the largest payload`() {
        val users = List(10) { User(it.toLong(), "n".repeat(it + 1)) }
        val names = users.map { it.name.toByteArray() }
        // 5 + (10 + 1) + (10 + 2) + (10 + 3) = 41 fits 45; the 4th user (14 bytes) starts the next record.
        val records = WalFormat.importRecords(users, names, maxPayload = 45)
        val counts =
            records.map { record ->
                val b = ByteBuffer.wrap(record).order(ByteOrder.LITTLE_ENDIAN)
                val length = b.getInt(0)
                assertEquals(record.size - 12, length)
                assertEquals(length.inv(), b.getInt(4))
                assertTrue(length <= 45, "payload $length fits")
                assertEquals(3.toByte(), record[12])
                b.getInt(13)
            }
        assertEquals(users.size, counts.sum())
        assertEquals(3, counts[0])
        // Greedy: no record could have taken the first user of the next one.
        var from = 0
        for ((i, count) in counts.withIndex()) {
            val payload = 5 + (from until from + count).sumOf { 10 + names[it].size }
            if (i < counts.lastIndex) assertTrue(payload + 10 + names[from + count].size > 45)
            from += count
        }
        // One user larger than the limit still gets a record of its own.
        assertEquals(1, WalFormat.importRecords(users.takeLast(1), names.takeLast(1), maxPayload = 8).size)
        // Without a small limit: one record.
        assertEquals(1, WalFormat.importRecords(users, names).size)
    }

    @Test
    fun `a log of split import records replays like the import`(
        @TempDir dir: Path,
    ) {
        val users = List(50) { User((it % 30).toLong(), "u$it") }
        val records = WalFormat.importRecords(users, users.map { it.name.toByteArray() }, maxPayload = 100)
        assertTrue(records.size > 5)
        Files.createDirectories(dir)
        Files.write(dir.resolve(logName(1)), walHeader(1) + records.reduce(ByteArray::plus))
        val expected = KotlinUserStore().use { s -> users.forEach(s::put).let { s.exportJson() } }
        KotlinUserStore.openDurable(dir).use { s -> assertContentEquals(expected, s.exportJson()) }
    }

    @Test
    fun `an interrupted writer still writes, and keeps its interrupt`(
        @TempDir dir: Path,
    ) {
        KotlinUserStore.openDurable(dir).use { s ->
            Thread.currentThread().interrupt()
            try {
                s.put(User(1, "a"))
                s.checkpoint()
                s.put(User(2, "b"))
                assertTrue(Thread.currentThread().isInterrupted, "the interrupt is kept for the caller")
            } finally {
                Thread.interrupted()
            }
            s.put(User(3, "c"))
        }
        KotlinUserStore.openDurable(dir).use { s -> assertEquals(3L, s.size) }
    }

    @Test
    fun `BATCH and NONE run one daemon thread per store, which ends with close`(
        @TempDir dir: Path,
    ) {
        fun syncThreads() = Thread.getAllStackTraces().keys.filter { it.name == Wal.SYNC_THREAD_NAME && it.isAlive }
        val before = syncThreads().size
        val batch = KotlinUserStore.openDurable(dir.resolve("b"), Sync.BATCH)
        val none = KotlinUserStore.openDurable(dir.resolve("n"), Sync.NONE)
        KotlinUserStore.openDurable(dir.resolve("a"), Sync.ALWAYS).use { assertEquals(before + 2, syncThreads().size) }
        assertTrue(syncThreads().all { it.isDaemon })
        batch.close()
        none.close()
        val deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10)
        while (syncThreads().size > before && System.nanoTime() < deadline) Thread.sleep(5)
        assertEquals(before, syncThreads().size)
    }

    @Test
    fun `a memory-only store has no log`() {
        KotlinUserStore().use { s ->
            s.put(User(1, "a"))
            assertEquals(null, s.logStats())
            assertFalse(s.remove(2))
        }
    }

    @Test
    fun `a batch record has exactly the bytes of docs-DURABILITY-md, payload type 4`(
        @TempDir dir: Path,
    ) {
        // put (1, "Ada"), put (2, "Zoë"), remove 3: written out by hand from the table of docs/DURABILITY.md.
        val expected =
            bytes(
                // length 44, its check, CRC-32 of the payload (0xAB87867B)
                "2c000000 d3ffffff 7b8687ab",
                // type 4, put count 2
                "04 02000000",
                // id 1, name length 3, "Ada"
                "0100000000000000 0300 416461",
                // id 2, name length 4, "Zoë" (ë is C3 AB)
                "0200000000000000 0400 5a6fc3ab",
                // remove count 1, id 3
                "01000000 0300000000000000",
            )
        val puts = listOf(User(1, "Ada"), User(2, "Zoë"))
        assertContentEquals(expected, WalFormat.batchRecord(puts, puts.map { it.name.toByteArray() }, longArrayOf(3)))
        // And through the store: the record after put (3, "x") is the same bytes.
        val log = dir.resolve(logName(1))
        KotlinUserStore.openDurable(dir).use { s ->
            s.put(User(3, "x"))
            val before = Files.size(log).toInt()
            assertEquals(1, s.applyBatch(puts, longArrayOf(3)))
            val bytes = Files.readAllBytes(log)
            assertContentEquals(expected, bytes.copyOfRange(before, bytes.size))
        }
        KotlinUserStore.openDurable(dir).use { s -> assertEquals("""[{"id":1,"name":"Ada"},{"id":2,"name":"Zoë"}]""", content(s)) }
    }

    @Test
    fun `a batch whose record would pass 1 GiB is refused before anything changes, durable or not`(
        @TempDir dir: Path,
    ) {
        // 1,038,436 puts of a 1,024-byte name (shared: the heap holds it once) take 9 + 1,034 x 1,038,436 =
        // 1,073,742,833 bytes, 1 GiB + 1,009; one put fewer would fit (1,073,741,799 bytes), but encoding it takes
        // more heap than the tests have.
        val name = EMOJI.repeat(256)
        val count = 1_038_436
        val puts = List(count) { User(it.toLong(), name) }
        KotlinUserStore.openDurable(dir).use { s ->
            s.put(User(1, "kept"))
            val before = logStats(s)!!
            val files = directoryBytes(dir)
            val e = assertFailsWith<IllegalArgumentException> { s.applyBatch(puts, longArrayOf(count + 1L)) }
            assertFalse(e is InvalidUserException, "too large is not an invalid user: $e")
            assertTrue(e.message!!.contains("1 GiB"), e.message)
            assertEquals(listOf(User(1, "kept")), s.scan(0, 10))
            assertContentEquals(before, logStats(s), "nothing logged")
            assertEquals(files, directoryBytes(dir), "no file changed")
        }
        // A memory-only store refuses it too (a batch that works on one store works on the other, as in NativeUserStore).
        KotlinUserStore().use { s ->
            s.put(User(1, "kept"))
            assertFailsWith<IllegalArgumentException> { s.putAll(puts) }
            assertEquals(listOf(User(1, "kept")), s.scan(0, 10))
        }
    }

    @Test
    fun `replay applies a batch's puts in order, then its removes, and a removed id listed twice is not damage`(
        @TempDir dir: Path,
    ) {
        Files.createDirectories(dir)
        val records =
            walRecord(batchPayload(listOf(User(1, "a"), User(2, "b"), User(1, "c")), LongArray(0))) +
                walRecord(batchPayload(listOf(User(3, "d")), longArrayOf(2, 2, 9)))
        Files.write(dir.resolve(logName(1)), walHeader(1) + records)
        KotlinUserStore.openDurable(dir).use { s -> assertEquals("""[{"id":1,"name":"c"},{"id":3,"name":"d"}]""", content(s)) }
    }

    private fun bytes(vararg hex: String): ByteArray {
        val digits = hex.joinToString("").filter { !it.isWhitespace() }
        return ByteArray(digits.length / 2) { digits.substring(2 * it, 2 * it + 2).toInt(16).toByte() }
    }
}
