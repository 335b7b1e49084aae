package dev.userstore

import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.IOException
import java.nio.channels.ClosedChannelException
import java.nio.channels.FileChannel
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertSame
import kotlin.test.assertTrue

/** docs/RULES.md, "Lifecycle and threads": a [DurabilityException] keeps the [IOException] that caused it. */
class DurabilityCauseTest {
    @Test
    fun `a log that cannot be written fails with its IOException as the cause, for this write and the next`(
        @TempDir dir: Path,
    ) {
        KotlinUserStore.openDurable(dir, Sync.ALWAYS).use { store ->
            store.put(User(1, "before"))
            // Take the log's file away from under it: the next write's FileChannel.write throws ClosedChannelException.
            val wal =
                KotlinUserStore::class.java
                    .getDeclaredField("wal")
                    .apply { isAccessible = true }
                    .get(store)
            val channel =
                wal.javaClass
                    .getDeclaredField("channel")
                    .apply { isAccessible = true }
                    .get(wal) as FileChannel
            channel.close()
            val first = assertFailsWith<DurabilityException> { store.put(User(2, "lost")) }
            assertIs<ClosedChannelException>(first.cause)
            assertTrue(first.message!!.contains("cannot write or sync"), first.message)
            val next = assertFailsWith<DurabilityException> { store.put(User(3, "refused")) }
            assertSame(first.cause, next.cause, "every later refusal carries the same cause")
            assertEquals(first.message, next.message)
            assertEquals(User(1, "before"), store.get(1), "reads go on")
        }
    }

    @Test
    fun `a failure known only by its message (the native store's) has an IOException with that message as its cause`() {
        val e = DurabilityException("log x: cannot write or sync: No space left on device (os error 28)")
        assertIs<IOException>(e.cause)
        assertEquals(e.message, e.cause!!.message)
    }
}
