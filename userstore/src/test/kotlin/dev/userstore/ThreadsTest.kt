package dev.userstore

import dev.userstore.internal.binding.JniCalls
import org.junit.jupiter.api.Assumptions.assumeTrue
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import java.util.concurrent.Executors
import java.util.concurrent.TimeUnit
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/**
 * The native store under many threads: scratch memory bounded by the calls at once (the JNI binding's pooled direct
 * buffers; the FFM binding has none: Java arrays go straight to Rust), close() that never waits.
 */
@Timeout(120)
class ThreadsTest {
    @Test
    fun `thousands of short-lived threads share a few scratches`() {
        assumeTrue(NativeUserStore.binding() == "jni", "the JNI binding's scratch pool")
        NativeUserStore().use { store ->
            (0L until 100).forEach { store.put(User(it, "user-$it")) }
            val before = JniCalls.scratchesCreated()
            // Each read on a thread of its own, one after another: a per-thread cache would make 3,000 scratches.
            repeat(3_000) { i ->
                var got: Result<User?> = Result.success(null)
                val t =
                    Thread {
                        got =
                            runCatching {
                                when (i % 3) {
                                    0 -> store.get(i % 100L)
                                    1 -> store.getMany(longArrayOf(i % 100L)).single()
                                    else -> store.getJson(i % 100L)?.let { User(i % 100L, it.decodeToString()) }
                                }
                            }
                    }
                t.start()
                t.join()
                val expected = if (i % 3 == 2) """{"id":${i % 100},"name":"user-${i % 100}"}""" else "user-${i % 100}"
                assertEquals(User(i % 100L, expected), got.getOrThrow())
            }
            val made = JniCalls.scratchesCreated() - before
            assertTrue(made <= 1, "scratches made: $made")
        }
    }

    @Test
    fun `scratches are bounded by the calls running at once`() {
        assumeTrue(NativeUserStore.binding() == "jni", "the JNI binding's scratch pool")
        NativeUserStore().use { store ->
            (0L until 1_000).forEach { store.put(User(it, "user-$it")) }
            val before = JniCalls.scratchesCreated()
            val threads = 8
            val pool = Executors.newFixedThreadPool(threads)
            try {
                val tasks = (0 until 20_000).map { i -> pool.submit<User?> { store.get(i % 1_000L) } }
                tasks.forEachIndexed { i, task -> assertEquals(User(i % 1_000L, "user-${i % 1_000}"), task.get()) }
            } finally {
                pool.shutdown()
            }
            val made = JniCalls.scratchesCreated() - before
            assertTrue(made <= threads, "scratches made: $made for $threads threads")
        }
    }

    @Test
    fun `close returns at once while a long call runs, and the last call out frees`() {
        val store = NativeUserStore()
        val json =
            buildString {
                append('[')
                for (i in 0 until 1_000_000) {
                    if (i > 0) append(',')
                    append("""{"id":$i,"name":"user-$i"}""")
                }
                append(']')
            }.encodeToByteArray()
        var imported = -1
        val importer = Thread { imported = store.importJson(json) }
        importer.start()
        // The import parses ~35 MB, then applies a million records: well over a second on this machine.
        Thread.sleep(200)
        assertTrue(importer.isAlive, "the import ended before close(): the test proves nothing")
        store.close()
        // close() neither waited for the import (hundreds of milliseconds of work) nor freed under it.
        val stillRunning = importer.isAlive
        val freedAtClose = store.isFreed()
        importer.join(TimeUnit.MINUTES.toMillis(1))
        assertTrue(stillRunning, "close() returned only after the import had finished")
        assertFalse(freedAtClose, "freed while a call was in flight")
        assertEquals(1_000_000, imported, "the call in flight completes normally")
        assertTrue(store.isFreed(), "freed once the last call is out")
        assertFailsWith<StoreClosedException> { store.get(1) }
        store.close()
    }

    @Test
    fun `many stores opened and closed share the same scratches`() {
        assumeTrue(NativeUserStore.binding() == "jni", "the JNI binding's scratch pool")
        val before = JniCalls.scratchesCreated()
        repeat(2_000) { i ->
            NativeUserStore().use { store ->
                store.put(User(i.toLong(), "user-$i"))
                assertEquals(User(i.toLong(), "user-$i"), store.get(i.toLong()))
            }
        }
        val made = JniCalls.scratchesCreated() - before
        assertTrue(made <= 1, "scratches made: $made for 2,000 stores on one thread")
    }

    @Test
    fun `close with no call in flight frees at once and is idempotent`() {
        val store = NativeUserStore()
        store.put(User(1, "a"))
        assertFalse(store.isFreed())
        store.close()
        assertTrue(store.isFreed())
        store.close()
        assertTrue(store.isFreed())
    }
}
