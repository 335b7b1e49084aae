package dev.userstore

import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import kotlin.random.Random
import kotlin.test.assertEquals

/**
 * The batch record (docs/DURABILITY.md, payload type 4) across the two implementations, as [DurableCrossTest] does
 * for the other writes: the same batches from fresh directories leave the same files with the same bytes, and
 * each implementation opens a directory of batches the other wrote.
 */
class DurableBatchCrossTest {
    /** A fixed mix of batches (puts with duplicates, removes of present, absent and repeated ids) and single writes. */
    private fun batches(s: UserStore) {
        val random = Random(29)
        for (i in 0 until 200) {
            val puts = List(random.nextInt(0, 5)) { User(random.nextLong(0, 60), listOf("Ada", "Zoë", "名前", "😀x")[it % 4] + i) }
            val putIds = puts.map { it.id }.toSet()
            val removes = LongArray(random.nextInt(0, 4)) { random.nextLong(0, 60) }.filter { it !in putIds }.toLongArray()
            when (random.nextInt(6)) {
                0 -> s.putAll(puts)
                1 -> s.removeAll(removes)
                2 -> s.put(User(random.nextLong(0, 60), "single $i"))
                else -> s.applyBatch(puts, removes)
            }
        }
    }

    @Test
    fun `the same batches leave byte-identical directories, also across checkpoints`(
        @TempDir root: Path,
    ) {
        val kotlinDir = root.resolve("kotlin")
        val nativeDir = root.resolve("native")
        KotlinUserStore.openDurable(kotlinDir).use { k ->
            NativeUserStore.openDurable(nativeDir).use { n ->
                batches(k)
                batches(n)
                assertEquals(content(k), content(n))
                assertEquals(directoryBytes(kotlinDir), directoryBytes(nativeDir), "after the batches")
                assertEquals(k.stats().copy(bytes = 0), n.stats().copy(bytes = 0), "stats but bytes")
                k.checkpoint()
                n.checkpoint()
                batches(k)
                batches(n)
                assertEquals(directoryBytes(kotlinDir), directoryBytes(nativeDir), "after a checkpoint and more batches")
            }
        }
        // Automatic checkpoints at the same batches.
        KotlinUserStore.openDurable(kotlinDir, Sync.ALWAYS, 1024).use { batches(it) }
        NativeUserStore.openDurable(nativeDir, Sync.ALWAYS, 1024).use { batches(it) }
        assertEquals(directoryBytes(kotlinDir), directoryBytes(nativeDir), "after automatic checkpoints")
    }

    @Test
    fun `each implementation opens the other's directory of batches`(
        @TempDir root: Path,
    ) {
        for (writer in DurableImpl.entries) {
            val dir = root.resolve(writer.name)
            val expected =
                writer.open(dir).use { s ->
                    batches(s)
                    content(s)
                }
            writer.other.open(dir).use { s ->
                assertEquals(expected, content(s), "${writer.other} reads the batches $writer wrote")
                s.applyBatch(listOf(User(1000, "from ${writer.other}")), longArrayOf(0, 1, 2))
            }
            writer.open(dir).use { s -> assertEquals(User(1000, "from ${writer.other}"), s.get(1000)) }
        }
    }
}
