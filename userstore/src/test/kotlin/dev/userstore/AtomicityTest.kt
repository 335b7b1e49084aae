package dev.userstore

import org.junit.jupiter.api.Named
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.io.TempDir
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.MethodSource
import java.nio.file.Path
import java.util.concurrent.CountDownLatch
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong
import java.util.concurrent.atomic.AtomicReference
import kotlin.test.assertEquals
import kotlin.test.assertTrue
import kotlin.test.fail

/**
 * docs/RULES.md, "Concurrency": a reader never sees part of an `importJson`, in either store (every binding this
 * JVM has, memory-only and durable). One writer imports generation after generation: each import renames every
 * user of a fixed set of [IDS] ids to `gen-<k>` and adds [GROWTH] new users, so the size moves by whole imports.
 * Readers meanwhile check that
 * - `getMany` never goes back a generation along its ids (it may not be one snapshot in the native store, where a
 *   later import may land between two ids, but it never sees an import in part: an id read after another never
 *   shows an older generation), and reading the ids in the import's own order, so a record-by-record import would
 *   show a newer generation first and then an older one;
 * - `exportJson` holds one generation for every id of the set, and as many users as whole imports give;
 * - `findByName("gen-<k>")` finds all of the set or none of it;
 * - `size` is always the size after a whole number of imports.
 * Applying an import record by record (as the Kotlin store did) fails every one of these within the first
 * generations.
 */
class AtomicityTest {
    @ParameterizedTest(name = "{0}")
    @MethodSource("stores")
    @Timeout(60)
    fun `readers see every import whole`(
        factory: (Path) -> UserStore,
        @TempDir dir: Path,
    ) {
        factory(dir).use { store -> hammer(store) }
    }

    private fun hammer(store: UserStore) {
        store.importJson(batch(0))
        val stop = AtomicBoolean(false)
        val failure = AtomicReference<Throwable>()
        val checks = AtomicLong()
        val ids = LongArray(IDS) { it.toLong() }
        val started = CountDownLatch(READERS)

        fun reader(body: () -> Unit) =
            Thread {
                started.countDown()
                try {
                    while (!stop.get()) {
                        body()
                        checks.incrementAndGet()
                    }
                } catch (t: Throwable) {
                    failure.compareAndSet(null, t)
                    stop.set(true)
                }
            }.apply { isDaemon = true }

        val readers =
            listOf(
                reader {
                    val users = store.getMany(ids)
                    var last = -1
                    for ((i, user) in users.withIndex()) {
                        val g = generation(user ?: fail("id $i missing"))
                        if (g < last) fail("getMany went back from gen-$last to gen-$g at id $i: part of an import")
                        last = g
                    }
                },
                reader {
                    // Mostly single gets in the import's order, and now and then a search and a size.
                    var last = -1
                    for (id in ids) {
                        val g = generation(store.get(id) ?: fail("id $id missing"))
                        if (g < last) fail("get of id $id saw gen-$g after gen-$last: part of an import")
                        last = g
                    }
                    val found = store.findByName("gen-$last").size
                    if (found != 0 && found != IDS) fail("findByName(gen-$last) found $found of $IDS users")
                    val size = store.size
                    if ((size - IDS) % GROWTH != 0L) fail("size $size is not the size after whole imports")
                },
                reader {
                    val json = String(store.exportJson(), Charsets.UTF_8)
                    val generations = GEN.findAll(json).map { it.groupValues[1] }.toList()
                    if (generations.size != IDS || generations.toSet().size != 1) {
                        fail("exportJson holds ${generations.toSet().sorted()} (${generations.size} names): part of an import")
                    }
                    val users = USER.findAll(json).count()
                    if ((users - IDS) % GROWTH != 0) fail("exportJson holds $users users, not whole imports")
                },
            )
        readers.forEach { it.start() }
        assertTrue(started.await(10, TimeUnit.SECONDS))
        var generation = 1
        val deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(RUN_MILLIS)
        while (!stop.get() && System.nanoTime() < deadline) {
            store.importJson(batch(generation))
            generation++
        }
        stop.set(true)
        readers.forEach { it.join(10_000) }
        failure.get()?.let { throw AssertionError("after ${generation - 1} imports, ${checks.get()} checks", it) }
        assertEquals(IDS + (generation - 1).toLong() * GROWTH, store.size)
        assertTrue(generation > 5, "too few imports ($generation) to prove anything")
        assertTrue(checks.get() > 100, "too few checks (${checks.get()}) to prove anything")
    }

    private fun generation(user: User): Int {
        val match = GEN.matchEntire("\"" + user.name + "\"") ?: fail("unexpected name ${user.name}")
        return match.groupValues[1].toInt()
    }

    /** Generation [k]: ids 0 until [IDS] named `gen-k`, then [GROWTH] new ids (none for generation 0). */
    private fun batch(k: Int): ByteArray {
        val sb = StringBuilder("[")
        for (id in 0 until IDS) {
            if (id > 0) sb.append(',')
            sb
                .append("{\"id\":")
                .append(id)
                .append(",\"name\":\"gen-")
                .append(k)
                .append("\"}")
        }
        if (k > 0) {
            val first = IDS + (k - 1).toLong() * GROWTH
            for (id in first until first + GROWTH) sb.append(",{\"id\":").append(id).append(",\"name\":\"new\"}")
        }
        return sb.append(']').toString().toByteArray(Charsets.UTF_8)
    }

    companion object {
        private const val IDS = 2_000
        private const val GROWTH = 7
        private const val READERS = 3
        private const val RUN_MILLIS = 1_500L
        private val GEN = Regex("\"gen-(\\d+)\"")
        private val USER = Regex("\\{\"id\":")

        /** Every store this JVM can make: Kotlin and native (each binding it has), memory-only and durable. */
        @JvmStatic
        fun stores(): List<Named<(Path) -> UserStore>> {
            val stores =
                mutableListOf<Named<(Path) -> UserStore>>(
                    Named.of("kotlin") { _ -> KotlinUserStore() },
                    Named.of("kotlin durable") { dir -> KotlinUserStore.openDurable(dir, Sync.NONE) },
                    Named.of("native jni") { _ -> NativeUserStore.withBinding("jni") },
                    Named.of("native durable (${NativeUserStore.binding()})") { dir ->
                        NativeUserStore.openDurable(dir, Sync.NONE)
                    },
                )
            if (hasFfm()) stores.add(Named.of("native ffm") { _ -> NativeUserStore.withBinding("ffm") })
            return stores
        }

        private fun hasFfm(): Boolean =
            try {
                NativeUserStore.withBinding("ffm").close()
                true
            } catch (_: UnsupportedOperationException) {
                false
            }
    }
}
