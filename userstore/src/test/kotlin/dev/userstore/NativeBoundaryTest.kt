package dev.userstore

import dev.userstore.internal.binding.NativeBinding
import dev.userstore.internal.binding.NativeBridge
import dev.userstore.internal.binding.NativeLoader
import dev.userstore.testing.ChildJvm
import org.junit.jupiter.api.Test
import java.io.File
import java.util.concurrent.TimeUnit
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** What only the native store has: the loader, panics crossing the boundary, the handle's life. */
class NativeBoundaryTest {
    @Test
    fun `the tests run against the test-hooks build`() {
        assertTrue(NativeBinding.calls.hasTestHooks(), "expected -Duserstore.library.path to point at the test-hooks build")
    }

    @Test
    fun `a Rust panic becomes a NativeStoreException naming it, and the store stays usable`() {
        NativeUserStore().use { store ->
            store.put(User(1, "before"))
            repeat(3) { round ->
                val e = assertFailsWith<NativeStoreException> { NativeBinding.calls.panicForTest("boom $round".toByteArray()) }
                assertContains(e.message.orEmpty(), "boom $round")
                assertContains(e.message.orEmpty(), "panic")
            }
            assertEquals(User(1, "before"), store.get(1))
            store.put(User(2, "after"))
            assertEquals(2, store.size)
        }
    }

    @Test
    fun `the binding is the one the JDK and -Duserstore binding ask for`() {
        val forced = System.getProperty("userstore.binding")
        val expected = forced ?: if (Runtime.version().feature() >= 22) "ffm" else "jni"
        assertEquals(expected, NativeUserStore.binding())
    }

    @Test
    fun `a store can take the other binding, and both bindings share one store format`() {
        NativeUserStore.withBinding("jni").use { jni ->
            jni.put(User(1, "Zoë 😀"))
            assertEquals(User(1, "Zoë 😀"), jni.get(1))
            assertEquals(listOf(User(1, "Zoë 😀"), null), jni.getMany(longArrayOf(1, 2)))
        }
        if (Runtime.version().feature() >= 22) {
            NativeUserStore.withBinding("ffm").use { ffm ->
                ffm.put(User(2, "b"))
                assertEquals(User(2, "b"), ffm.get(2))
                ffm.close()
                assertFailsWith<StoreClosedException> { ffm.get(2) }
            }
        } else {
            assertFailsWith<UnsupportedOperationException> { NativeUserStore.withBinding("ffm") }
        }
        assertFailsWith<IllegalArgumentException> { NativeUserStore.withBinding("rmi") }
    }

    @Test
    fun `the empty native call used as the benchmark floor returns its argument`() {
        assertEquals(42L, NativeBinding.calls.noop(42L))
        NativeLoader.ensureLoaded()
        assertEquals(42L, NativeBridge.noop0(42L))
        assertEquals(Long.MIN_VALUE, NativeBridge.noop0(Long.MIN_VALUE))
        assertEquals(-7L, NativeBridge.noopWithEnv0(-7L))
    }

    @Test
    fun `getMany grows its direct buffer and asks again when the names do not fit, across batches`() {
        // 5,000 ids (two native batches) of 1,024-byte names need ~5 MB: far beyond the first buffer,
        // so the native side reports the room it needs and the call is repeated with a larger buffer.
        val latin1 = "\u00E9".repeat(256)

        fun name(id: Long) = if (id % 3 == 0L) latin1 else "\uD83D\uDE00".repeat(255) + ('a' + (id % 10).toInt())
        NativeUserStore().use { store ->
            for (id in 0L until 5_000L) store.put(User(id, name(id)))
            val ids = LongArray(5_001) { if (it == 2_500) 99_999L else it.toLong() }
            val users = store.getMany(ids)
            assertEquals(ids.size, users.size)
            for ((i, id) in ids.withIndex()) assertEquals(if (id >= 5_000L) null else User(id, name(id)), users[i])
            assertEquals(User(3, latin1), users[3])
        }
    }

    @Test
    fun `close is idempotent and calls after close throw StoreClosedException`() {
        val store = NativeUserStore()
        store.put(User(7, "seven"))
        store.close()
        store.close()
        assertFailsWith<StoreClosedException> { store.get(7) }
        assertFailsWith<StoreClosedException> { store.size }
    }

    @Test
    fun `many stores created, filled and closed do not interfere`() {
        val stores = List(50) { NativeUserStore() }
        stores.forEachIndexed { i, s -> s.put(User(i.toLong(), "user-$i")) }
        stores.forEachIndexed { i, s -> assertEquals(listOf(User(i.toLong(), "user-$i")), s.findByName("user-$i")) }
        stores.forEach { it.close() }
    }

    @Test
    fun `without the override the library is loaded from the classpath resource`() {
        val output = runProbe(emptyList())
        assertEquals(0, output.first, output.second)
        assertContains(output.second, "loaded from ")
        assertContains(output.second, "native/${NativeLoader.platform}/${NativeLoader.libraryFileName}")
        assertContains(output.second, "roundtrip ok")
        assertFalse(output.second.contains("WARNING"), output.second)
    }

    @Test
    fun `a wrong override fails with an UnsatisfiedLinkError listing what was tried`() {
        val output = runProbe(listOf("-D${NativeLoader.PATH_PROPERTY}=/nonexistent/libuserstore.so"))
        assertEquals(3, output.first, output.second)
        assertContains(output.second, "UnsatisfiedLinkError")
        assertContains(output.second, "/nonexistent/libuserstore.so")
        assertContains(output.second, "tried:")
    }

    /** Runs [LoaderProbe] in a fresh JVM (the library loads once per JVM); returns exit code and output. */
    private fun runProbe(jvmArgs: List<String>): Pair<Int, String> {
        val command = ChildJvm.command(LoaderProbe::class.java.name, listOf("-Xcheck:jni") + jvmArgs, inheritLibrary = false)
        val result = ChildJvm.run(command, 60)
        return result.exitCode to result.output
    }
}

/** The child JVM of the loader tests. Exit 0: loaded and worked; 3: UnsatisfiedLinkError. */
object LoaderProbe {
    @JvmStatic
    fun main(args: Array<String>) {
        try {
            NativeUserStore().use { store ->
                store.put(User(1, "a\u0000b\uD83D\uDE00"))
                check(store.get(1) == User(1, "a\u0000b\uD83D\uDE00"))
                println("loaded from ${NativeLoader.loadedFrom}")
                println("roundtrip ok")
            }
        } catch (e: UnsatisfiedLinkError) {
            println("UnsatisfiedLinkError: ${e.message}")
            System.exit(3)
        }
    }
}
