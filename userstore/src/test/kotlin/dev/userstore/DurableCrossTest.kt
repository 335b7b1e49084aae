package dev.userstore

import dev.userstore.testing.RepoFiles
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.file.Files
import java.nio.file.Path
import java.util.zip.CRC32
import kotlin.random.Random
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/**
 * The two implementations of docs/DURABILITY.md against each other: the same calls from fresh directories leave
 * the same files with the same bytes, each opens the other's directory, and both write the golden log.
 */
class DurableCrossTest {
    /** A fixed mix of every kind of write, with names in 1, 2, 3 and 4 UTF-8 bytes per character. */
    private fun writes(s: UserStore) {
        val random = Random(13)
        for (i in 0 until 300) {
            val id = random.nextLong(0, 40)
            when (random.nextInt(10)) {
                in 0..5 -> {
                    s.put(User(id, listOf("Ada", "Zoë", "名前", "😀x", "b".repeat(250))[random.nextInt(5)] + i))
                }

                in 6..7 -> {
                    s.remove(id)
                }

                else -> {
                    val n = random.nextInt(0, 4)
                    val json = (0 until n).joinToString(",", "[", "]") { """{"id":${random.nextLong(0, 40)},"name":"i$it-$i"}""" }
                    s.importJson(json.toByteArray())
                }
            }
        }
    }

    @Test
    fun `the same writes leave byte-identical directories, also across checkpoints`(
        @TempDir root: Path,
    ) {
        val kotlinDir = root.resolve("kotlin")
        val nativeDir = root.resolve("native")
        KotlinUserStore.openDurable(kotlinDir).use { k ->
            NativeUserStore.openDurable(nativeDir).use { n ->
                assertEquals(directoryBytes(kotlinDir), directoryBytes(nativeDir), "fresh")
                writes(k)
                writes(n)
                assertEquals(content(k), content(n))
                assertEquals(directoryBytes(kotlinDir), directoryBytes(nativeDir), "after the writes")
                k.checkpoint()
                n.checkpoint()
                assertEquals(directoryBytes(kotlinDir), directoryBytes(nativeDir), "after a checkpoint")
                writes(k)
                writes(n)
                assertEquals(directoryBytes(kotlinDir), directoryBytes(nativeDir), "after more writes")
                val (ks, ns) = logStats(k)!! to logStats(n)!!
                assertEquals(listOf(ks[0], ks[1], ks[3]), listOf(ns[0], ns[1], ns[3]), "appended, durable, generation")
            }
        }
        assertEquals(directoryBytes(kotlinDir), directoryBytes(nativeDir), "after close")
        // Automatic checkpoints at the same writes.
        KotlinUserStore.openDurable(kotlinDir, Sync.ALWAYS, 2048).use { writes(it) }
        NativeUserStore.openDurable(nativeDir, Sync.ALWAYS, 2048).use { writes(it) }
        assertEquals(directoryBytes(kotlinDir), directoryBytes(nativeDir), "after automatic checkpoints")
    }

    @Test
    fun `each implementation opens the other's directory`(
        @TempDir root: Path,
    ) {
        for (writer in DurableImpl.entries) {
            val dir = root.resolve(writer.name)
            val expected =
                writer.open(dir).use { s ->
                    writes(s)
                    s.checkpoint()
                    writes(s)
                    content(s)
                }
            writer.other.open(dir).use { s ->
                assertEquals(expected, content(s), "${writer.other} reads what $writer wrote")
                s.put(User(1000, "from ${writer.other}"))
            }
            writer.open(dir).use { s -> assertEquals(User(1000, "from ${writer.other}"), s.get(1000)) }
        }
    }

    /**
     * put(1,"Ada"), put(2,"Bob"), remove(1), importJson([3 Cy, 2 Bo]), remove(99) (absent: not logged),
     * applyBatch([4 Di, 5 Eve, 4 Dee], [3, 98, 2, 3]) (one record: the removed ids that existed, each once, in the
     * order of their first mention: 3, 2), removeAll([98]) (changes nothing: not logged).
     */
    private fun goldenWrites(s: UserStore) {
        s.put(User(1, "Ada"))
        s.put(User(2, "Bob"))
        s.remove(1)
        s.importJson("""[{"id":3,"name":"Cy"},{"id":2,"name":"Bo"}]""".toByteArray())
        s.remove(99)
        assertEquals(2, s.applyBatch(listOf(User(4, "Di"), User(5, "Eve"), User(4, "Dee")), longArrayOf(3, 98, 2, 3)))
        assertEquals(0, s.removeAll(longArrayOf(98)))
    }

    @Test
    fun `both write the golden log, which is the one docs-DURABILITY-md describes`(
        @TempDir root: Path,
    ) {
        val golden = goldenFile()
        assertTrue(Files.exists(golden), "the golden log $golden is missing")
        val expected = hex(Files.readString(golden).trim())
        assertContentEquals(fromTheDocument(), expected, "the golden log is the document's encoding")
        for (impl in DurableImpl.entries) {
            val dir = root.resolve(impl.name)
            impl.open(dir).use(::goldenWrites)
            assertContentEquals(expected, Files.readAllBytes(dir.resolve(logName(1))), "$impl writes the golden log")
        }
    }

    /** The golden sequence's log, encoded here straight from the tables of docs/DURABILITY.md. */
    private fun fromTheDocument(): ByteArray {
        val out = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN)
        out.put(walHeader(1))

        fun record(payload: ByteBuffer.() -> Unit) {
            val p = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN).apply(payload)
            val bytes = p.array().copyOf(p.position())
            val crc = CRC32().apply { update(bytes) }
            out
                .putInt(bytes.size)
                .putInt(bytes.size xor -1)
                .putInt(crc.value.toInt())
                .put(bytes)
        }

        fun ByteBuffer.user(
            id: Long,
            name: String,
        ) {
            putLong(id).putShort(name.length.toShort()).put(name.toByteArray())
        }
        record {
            put(1)
            user(1, "Ada")
        }
        record {
            put(1)
            user(2, "Bob")
        }
        record {
            put(2)
            putLong(1)
        }
        record {
            put(3)
            putInt(2)
            user(3, "Cy")
            user(2, "Bo")
        }
        record {
            put(4)
            putInt(3)
            user(4, "Di")
            user(5, "Eve")
            user(4, "Dee")
            putInt(2)
            putLong(3)
            putLong(2)
        }
        return out.array().copyOf(out.position())
    }

    private fun goldenFile(): Path = RepoFiles.find("spec/durable-golden.wal.hex")

    private fun hex(text: String): ByteArray = ByteArray(text.length / 2) { text.substring(2 * it, 2 * it + 2).toInt(16).toByte() }
}
