package dev.userstore

import dev.userstore.testing.RepoFiles
import kotlinx.coroutines.CoroutineDispatcher
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.asCoroutineDispatcher
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.joinAll
import kotlinx.coroutines.launch
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withContext
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.io.TempDir
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.EnumSource
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.Executors
import java.util.concurrent.atomic.AtomicInteger
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** A durable store's writes for coroutines: each blocking call runs on [STORE_WRITES], never on the caller's. */
class CoroutineUserWrites(
    private val store: UserStore,
) {
    suspend fun put(user: User) = withContext(STORE_WRITES) { store.put(user) }

    suspend fun remove(id: Long): Boolean = withContext(STORE_WRITES) { store.remove(id) }

    suspend fun applyBatch(
        puts: List<User>,
        removeIds: LongArray,
    ): Int = withContext(STORE_WRITES) { store.applyBatch(puts, removeIds) }

    /** Reads do no I/O and wait at most for a batch or an import being applied: no dispatcher switch. */
    suspend fun get(id: Long): User? = store.getUser(id)

    companion object {
        /** At most 16 threads blocked in store writes at once, apart from the rest of `Dispatchers.IO`. */
        val STORE_WRITES: CoroutineDispatcher = Dispatchers.IO.limitedParallelism(16)
    }
}

/**
 * docs/API.md, "Durable writes from coroutines": the example above (the same text as the document's, checked here)
 * run against a durable store of both kinds.
 */
class CoroutineWriteExampleTest {
    @Test
    fun `the example in docs-API-md is the code this test runs`() {
        val doc = Files.readString(RepoFiles.find("docs/API.md"))
        val start = doc.indexOf("```kotlin", doc.indexOf("## Durable writes from coroutines"))
        val block = doc.substring(start + "```kotlin".length, doc.indexOf("```", start + 3))
        val code =
            block
                .lines()
                .filterNot { it.startsWith("import ") }
                .joinToString("\n")
                .trim()
        val source = Files.readString(RepoFiles.find("userstore/src/test/kotlin/dev/userstore/CoroutineWriteExampleTest.kt"))
        assertTrue(code.startsWith("/** A durable store's writes for coroutines"), code)
        assertTrue(source.contains(code + "\n"), "docs/API.md's example differs from this file's CoroutineUserWrites")
        // Its imports are this file's.
        for (line in block.lines().filter { it.startsWith("import kotlinx") }) assertTrue(source.contains(line + "\n"), line)
    }

    @ParameterizedTest
    @EnumSource(DurableImpl::class)
    @Timeout(120)
    fun `writes launched from one thread run off it, concurrently, and land durably`(
        impl: DurableImpl,
        @TempDir dir: Path,
    ) {
        val writers = ConcurrentHashMap.newKeySet<String>()
        val inFlight = AtomicInteger()
        val most = AtomicInteger()
        val n = 400
        impl.open(dir, Sync.ALWAYS).use { store ->
            // The store as it is, except that a put notes the thread it runs on and how many puts run at once.
            val noting =
                object : UserStore by store {
                    override fun put(user: User) {
                        // Without the coroutine's name, which the debug mode (-ea) appends.
                        writers.add(Thread.currentThread().name.substringBefore(" @coroutine"))
                        most.accumulateAndGet(inFlight.incrementAndGet(), ::maxOf)
                        try {
                            store.put(user)
                        } finally {
                            inFlight.decrementAndGet()
                        }
                    }
                }
            val writes = CoroutineUserWrites(noting)
            Executors.newSingleThreadExecutor { Thread(it, "the-caller") }.asCoroutineDispatcher().use { caller ->
                runBlocking(caller) {
                    (0 until n).map { i -> launch { writes.put(User(i.toLong(), "user $i")) } }.joinAll()
                }
            }
            assertFalse("the-caller" in writers, "a write ran on the caller's thread")
            assertTrue(most.get() in 2..16, "${most.get()} puts ran at once: several, at most 16 (threads: $writers)")
            val stats = logStats(store)!!
            assertEquals(stats[0], stats[1], "every write is durable once its call returned")
            // One thread calling put one after another would sync once per put; these shared syncs.
            assertTrue(stats[2] < n, "$n concurrent ALWAYS writes shared syncs: ${stats[2]} syncs")
            runBlocking {
                assertEquals(User(7, "user 7"), writes.get(7))
                assertTrue(writes.remove(7))
            }
        }
        impl.open(dir).use { assertEquals(n - 1L, it.size) }
    }

    @ParameterizedTest
    @EnumSource(DurableImpl::class)
    @Timeout(120)
    fun `cancelled writes leave the store writable, and the directory reopens to what the store held`(
        impl: DurableImpl,
        @TempDir dir: Path,
    ) {
        val expected =
            impl.open(dir, Sync.ALWAYS).use { store ->
                val writes = CoroutineUserWrites(store)
                runBlocking {
                    val job = launch(Dispatchers.Default) { for (i in 0 until 5_000L) launch { writes.put(User(i, "c$i")) } }
                    delay(30)
                    job.cancelAndJoin()
                }
                // No interrupt reached the log's I/O: the store still writes.
                runBlocking { writes.put(User(1_000_000, "after")) }
                assertEquals(User(1_000_000, "after"), store.get(1_000_000))
                content(store)
            }
        impl.open(dir).use { assertEquals(expected, content(it)) }
    }

    @ParameterizedTest
    @EnumSource(DurableImpl::class)
    fun `a batch through the example is applied and durable`(
        impl: DurableImpl,
        @TempDir dir: Path,
    ) {
        impl.open(dir).use { store ->
            val writes = CoroutineUserWrites(store)
            runBlocking {
                writes.put(User(1, "one"))
                assertEquals(1, writes.applyBatch(listOf(User(2, "two"), User(3, "three")), longArrayOf(1, 4)))
            }
        }
        impl.open(dir).use { assertEquals("""[{"id":2,"name":"two"},{"id":3,"name":"three"}]""", content(it)) }
    }
}
