package dev.userstore

import dev.userstore.internal.binding.NativeAbi
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.MethodSource
import java.io.ByteArrayOutputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.atomic.AtomicBoolean
import java.util.zip.CRC32
import kotlin.concurrent.thread
import kotlin.test.assertContains
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/**
 * The production API (scan, applyBatch, stats) of [NativeUserStore] at its boundary, through every binding this
 * JVM has (JNI always, FFM on JDK 22+; durable stores take the JVM's binding, so run this class with
 * `-Duserstore.binding=jni` and `=ffm` too): the wire encodings both ways, bad and huge batches that leave the
 * store unchanged, the batch record on disk, and readers that never see half a batch. The shared contract of
 * both stores is in ConformanceTest and AtomicityTest.
 */
class NativeBatchTest {
    companion object {
        /** The bindings of this JVM. */
        @JvmStatic
        fun bindings(): List<String> = if (Runtime.version().feature() >= 22) listOf("jni", "ffm") else listOf("jni")

        /** Names that take each path of the page encoding: ASCII, Latin-1, other UTF-8, U+0000, the longest. */
        val NAMES =
            listOf("Ada", "Zoë ÿ", "日本", "a\u0000b", "\uD83D\uDE00".repeat(256), "é".repeat(256), "Ā")
    }

    private fun store(binding: String): NativeUserStore = NativeUserStore.withBinding(binding)

    private fun export(store: UserStore): String = String(store.exportJson(), Charsets.UTF_8)

    @ParameterizedTest
    @MethodSource("bindings")
    fun `a batch puts in order, then removes, and counts the distinct removed ids that existed`(binding: String) {
        store(binding).use { s ->
            (1L..4).forEach { s.put(User(it, "u$it")) }
            val removed =
                s.applyBatch(
                    listOf(User(5, "e"), User(1, "a1"), User(5, "e2"), User(6, "Zoë 😀")),
                    longArrayOf(2, 9, 3, 2),
                )
            assertEquals(2, removed)
            assertEquals(listOf(User(1, "a1"), User(4, "u4"), User(5, "e2"), User(6, "Zoë 😀")), s.scan(0, 100))
            assertEquals(listOf(User(5, "e2")), s.findByName("e2"))
            s.putAll(listOf(User(7, "g")))
            assertEquals(1, s.removeAll(longArrayOf(7, 8)))
            assertEquals(0, s.applyBatch(emptyList(), LongArray(0)))
            assertEquals(4, s.size)
        }
    }

    @ParameterizedTest
    @MethodSource("bindings")
    fun `an invalid batch throws InvalidUserException and changes nothing`(binding: String) {
        store(binding).use { s ->
            s.put(User(1, "a"))
            s.put(User(2, "b"))
            val before = export(s)
            val cases: List<Pair<List<User>, LongArray>> =
                listOf(
                    listOf(User(3, "c"), User(-4, "d")) to LongArray(0),
                    listOf(User(3, "c")) to longArrayOf(1, -9),
                    listOf(User(3, "c"), User(4, "")) to longArrayOf(1),
                    listOf(User(3, "x".repeat(257))) to LongArray(0),
                    listOf(User(3, "c"), User(4, "bad \uD800 high")) to LongArray(0),
                    listOf(User(3, "bad low \uDC00")) to longArrayOf(1),
                    listOf(User(3, "reversed \uDE00\uD83D")) to LongArray(0),
                    listOf(User(3, "c"), User(1, "a2")) to longArrayOf(2, 1),
                )
            for ((puts, removes) in cases) {
                assertFailsWith<InvalidUserException>("$puts / ${removes.toList()}") { s.applyBatch(puts, removes) }
                assertEquals(before, export(s))
            }
            val both = assertFailsWith<InvalidUserException> { s.applyBatch(listOf(User(5, "e")), longArrayOf(5)) }
            assertContains(both.message.orEmpty(), "id 5 is both put and removed")
            val surrogate = assertFailsWith<InvalidUserException> { s.putAll(listOf(User(3, "ok"), User(4, "x\uD800"))) }
            assertContains(surrogate.message.orEmpty(), "unpaired surrogate U+D800 at index 1")
            assertEquals(before, export(s))
        }
    }

    @ParameterizedTest
    @MethodSource("bindings")
    fun `a batch whose log record would pass 1 GiB is an IllegalArgumentException and changes nothing`(binding: String) {
        store(binding).use { s ->
            s.put(User(1, "a"))
            // The longest name (1,024 bytes of UTF-8), one String shared by every user: 9 + n * 1,034 > 2^30.
            val name = "\uD83D\uDE00".repeat(256)
            val n = (1 shl 30) / 1034 + 1
            val users = List(n) { User(it + 2L, name) }
            val e = assertFailsWith<IllegalArgumentException> { s.applyBatch(users, longArrayOf(1)) }
            assertEquals(IllegalArgumentException::class, e::class, "not an InvalidUserException: the input is valid")
            assertContains(e.message.orEmpty(), "would take ${9L + n * 1034L} bytes, more than 1073741824")
            assertEquals(1, s.size)
            assertEquals(User(1, "a"), s.get(1))
        }
        // The code the Rust core uses for it (a batch that only its removes push past 1 GiB) maps to the same class.
        val mapped = NativeAbi.exception(NativeAbi.ERR_TOO_LARGE, "too large")
        assertEquals(IllegalArgumentException::class, mapped::class)
    }

    @ParameterizedTest
    @MethodSource("bindings")
    fun `scan pages are the sorted content, names of every kind intact`(binding: String) {
        store(binding).use { s ->
            assertEquals(emptyList(), s.scan(0, 10))
            val ids = listOf(0L, Long.MAX_VALUE) + (1..3000).map { (it * 7919L) % 100_003 }
            ids.forEachIndexed { i, id -> s.put(User(id, NAMES[i % NAMES.size])) }
            val all = ids.distinct().sorted().map { s.get(it)!! }
            assertEquals(all.size.toLong(), s.size)
            for (from in listOf(0L, 1L, 50_000L, 100_002L, Long.MAX_VALUE)) {
                for (limit in listOf(0, 1, 2, 7, 1000, 5000, Int.MAX_VALUE)) {
                    assertEquals(all.filter { it.id >= from }.take(limit), s.scan(from, limit), "from $from limit $limit")
                }
            }
            assertFailsWith<InvalidUserException> { s.scan(-1, 10) }
            assertFailsWith<IllegalArgumentException> { s.scan(0, -1) }
            // The streamed export (pages of scan) writes the bytes exportJson returns.
            val out = ByteArrayOutputStream()
            s.exportJson(out)
            assertContentEquals(s.exportJson(), out.toByteArray())
        }
    }

    @ParameterizedTest
    @MethodSource("bindings")
    fun `stats of a memory store count the users and the tables`(binding: String) {
        store(binding).use { s ->
            val empty = s.stats()
            assertEquals(StoreStats(0, empty.bytes, false, 0, 0), empty)
            s.putAll((1L..10_000).map { User(it, "user number $it") })
            val full = s.stats()
            assertEquals(10_000, full.users)
            assertEquals(s.size, full.users)
            assertTrue(full.bytes > empty.bytes + 10_000 * 16, "$empty -> $full")
            assertEquals(Triple(false, 0L, 0L), Triple(full.durable, full.logBytes, full.checkpoints))
        }
    }

    @ParameterizedTest
    @MethodSource("bindings")
    fun `a closed store refuses scan, applyBatch and stats`(binding: String) {
        val s = store(binding)
        s.close()
        assertFailsWith<StoreClosedException> { s.scan(0, 1) }
        assertFailsWith<StoreClosedException> { s.applyBatch(listOf(User(1, "a")), LongArray(0)) }
        assertFailsWith<StoreClosedException> { s.stats() }
    }

    @ParameterizedTest
    @MethodSource("bindings")
    fun `readers never see half a batch`(binding: String) {
        // Two states of 256 users named "A": ids 0..255 or ids 256..511; each batch moves from one to the other.
        val n = 256L
        val low = (0 until n).map { User(it, "A") }
        val high = (n until 2 * n).map { User(it, "A") }
        val lowIds = LongArray(n.toInt()) { it.toLong() }
        val highIds = LongArray(n.toInt()) { n + it }
        store(binding).use { s ->
            s.putAll(low)
            val stop = AtomicBoolean()
            val failures = java.util.concurrent.ConcurrentLinkedQueue<Throwable>()
            val readers =
                (0 until 2).map { r ->
                    thread(name = "reader-$r") {
                        try {
                            while (!stop.get()) {
                                assertEquals(n, s.size)
                                val ids = s.findByName("A").map { it.id }
                                assertTrue(ids == low.map { it.id } || ids == high.map { it.id }, "findByName saw $ids")
                                if (r == 0) {
                                    val page = s.scan(0, 1000).map { it.id }
                                    assertTrue(page == low.map { it.id } || page == high.map { it.id }, "scan saw $page")
                                }
                            }
                        } catch (t: Throwable) {
                            failures.add(t)
                        }
                    }
                }
            repeat(200) {
                assertEquals(n.toInt(), s.applyBatch(high, lowIds))
                assertEquals(n.toInt(), s.applyBatch(low, highIds))
            }
            stop.set(true)
            readers.forEach { it.join() }
            failures.firstOrNull()?.let { throw it }
        }
    }

    @Test
    fun `a durable batch is one record of type 4, as docs-DURABILITY-md lays it out, replayed on reopen`(
        @TempDir dir: Path,
    ) {
        NativeUserStore.openDurable(dir).use { s ->
            s.put(User(1, "Ada"))
            s.put(User(2, "Bob"))
            val before = s.stats()
            assertEquals(true, before.durable)
            assertEquals(Files.size(dir.resolve(logName(1))), before.logBytes)
            // 2 and 1 exist (listed again: logged once, in the order of their first mention), 7 does not.
            assertEquals(2, s.applyBatch(listOf(User(3, "Cy"), User(4, "Zoë"), User(3, "Cyd")), longArrayOf(2, 7, 1, 2)))
            // An applyBatch that changes nothing logs nothing.
            assertEquals(0, s.removeAll(longArrayOf(7, 8)))
            val after = s.stats()
            val log = Files.readAllBytes(dir.resolve(logName(1)))
            assertEquals(log.size.toLong(), after.logBytes)
            val record = batchRecord(listOf(User(3, "Cy"), User(4, "Zoë"), User(3, "Cyd")), longArrayOf(2, 1))
            assertEquals(before.logBytes + record.size, after.logBytes)
            assertContentEquals(record, log.copyOfRange(log.size - record.size, log.size))
            assertEquals(0, after.checkpoints)
            s.checkpoint()
            val checkpointed = s.stats()
            assertEquals(1, checkpointed.checkpoints)
            assertEquals(28, checkpointed.logBytes)
            s.putAll(listOf(User(5, "Eve"), User(6, "Fay")))
        }
        NativeUserStore.openDurable(dir).use { s ->
            assertEquals(listOf(User(3, "Cyd"), User(4, "Zoë"), User(5, "Eve"), User(6, "Fay")), s.scan(0, 10))
            assertEquals(0, s.stats().checkpoints, "counted since open")
        }
    }

    @Test
    fun `a refused batch on a durable store logs nothing`(
        @TempDir dir: Path,
    ) {
        NativeUserStore.openDurable(dir).use { s ->
            s.put(User(1, "Ada"))
            val size = Files.size(dir.resolve(logName(1)))
            assertFailsWith<InvalidUserException> { s.applyBatch(listOf(User(1, "A2")), longArrayOf(1)) }
            assertFailsWith<InvalidUserException> { s.applyBatch(listOf(User(2, "B"), User(3, "\uDFFF")), LongArray(0)) }
            assertEquals(size, s.stats().logBytes)
        }
        assertEquals(
            Files.size(dir.resolve(logName(1))),
            28L + 12 + 1 + 8 + 2 + 3,
        )
    }

    /** The bytes of a batch record, straight from the table of docs/DURABILITY.md. */
    private fun batchRecord(
        puts: List<User>,
        removes: LongArray,
    ): ByteArray {
        val payload = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN)
        payload.put(4).putInt(puts.size)
        for (u in puts) {
            val name = u.name.toByteArray(Charsets.UTF_8)
            payload.putLong(u.id).putShort(name.size.toShort()).put(name)
        }
        payload.putInt(removes.size)
        removes.forEach { payload.putLong(it) }
        val bytes = payload.array().copyOf(payload.position())
        val crc = CRC32().apply { update(bytes) }
        return ByteBuffer
            .allocate(12 + bytes.size)
            .order(ByteOrder.LITTLE_ENDIAN)
            .putInt(bytes.size)
            .putInt(bytes.size.inv())
            .putInt(crc.value.toInt())
            .put(bytes)
            .array()
    }
}
