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
 * docs/RULES.md, "Concurrency": a reader never sees part of an `importJson`, a `putAll` or an `applyBatch`, in either
 * store (every binding this JVM has, memory-only and durable). One writer writes generation after generation, each
 * as one call ([Write]): each renames every user of a fixed set of [IDS] ids to `gen-<k>` and adds [GROWTH] new
 * users (an `applyBatch` also removes [SHRINK] of the users the generation before added), so the size moves by
 * whole generations.
 * Readers meanwhile check that
 * - `getMany` never goes back a generation along its ids (it may not be one snapshot in the native store, where a
 *   later import may land between two ids, but it never sees an import in part: an id read after another never
 *   shows an older generation), and reading the ids in the import's own order, so a record-by-record import would
 *   show a newer generation first and then an older one;
 * - `exportJson` holds one generation for every id of the set, and as many users as whole imports give;
 * - `findByName("gen-<k>")` finds all of the set or none of it;
 * - `size` is always the size after a whole number of imports.
 * Applying an import record by record (as the Kotlin store did) fails every one of these within the first
 * generations; so does applying a batch without holding the readers off (checked by hand on the Kotlin store).
 */
class AtomicityTest {
    /** How one generation is written, as one call; the size grows by [net] per generation. */
    enum class Write(
        val net: Int,
    ) {
        IMPORT_JSON(GROWTH),
        PUT_ALL(GROWTH),
        APPLY_BATCH(GROWTH - SHRINK),
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("stores")
    @Timeout(60)
    fun `readers see every import whole`(
        factory: (Path) -> UserStore,
        @TempDir dir: Path,
    ) {
        factory(dir).use { store -> hammer(store, Write.IMPORT_JSON) }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("stores")
    @Timeout(60)
    fun `readers see every putAll whole`(
        factory: (Path) -> UserStore,
        @TempDir dir: Path,
    ) {
        factory(dir).use { store -> hammer(store, Write.PUT_ALL) }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("stores")
    @Timeout(60)
    fun `readers see every applyBatch whole, its puts and its removes`(
        factory: (Path) -> UserStore,
        @TempDir dir: Path,
    ) {
        factory(dir).use { store -> hammer(store, Write.APPLY_BATCH) }
    }

    private fun hammer(
        store: UserStore,
        write: Write,
    ) {
        store.importJson(batch(0))
        val base = IDS + GROWTH
        val net = write.net
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
                        if (g < last) fail("getMany went back from gen-$last to gen-$g at id $i: part of a write")
                        last = g
                    }
                },
                reader {
                    // Mostly single gets in the import's order, and now and then a search and a size.
                    var last = -1
                    for (id in ids) {
                        val g = generation(store.get(id) ?: fail("id $id missing"))
                        if (g < last) fail("get of id $id saw gen-$g after gen-$last: part of a write")
                        last = g
                    }
                    val found = store.findByName("gen-$last").size
                    if (found != 0 && found != IDS) fail("findByName(gen-$last) found $found of $IDS users")
                    val size = store.size
                    if ((size - base) % net != 0L) fail("size $size is not the size after whole generations")
                },
                reader {
                    val json = String(store.exportJson(), Charsets.UTF_8)
                    val generations = GEN.findAll(json).map { it.groupValues[1] }.toList()
                    if (generations.size != IDS || generations.toSet().size != 1) {
                        fail("exportJson holds ${generations.toSet().sorted()} (${generations.size} names): part of a write")
                    }
                    val users = USER.findAll(json).count()
                    if ((users - base) % net != 0) fail("exportJson holds $users users, not whole generations")
                },
            )
        readers.forEach { it.start() }
        assertTrue(started.await(10, TimeUnit.SECONDS))
        var generation = 1
        val start = System.nanoTime()

        // RUN_MILLIS at least, longer (up to MAX_RUN_MILLIS) until the readers made MIN_CHECKS checks: a writer that
        // holds the locks most of the time (a batch is validated in no time) leaves the readers few chances.
        fun goOn(): Boolean {
            val millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start)
            return millis < RUN_MILLIS || (checks.get() < MIN_CHECKS && millis < MAX_RUN_MILLIS)
        }
        while (!stop.get() && goOn()) {
            when (write) {
                Write.IMPORT_JSON -> {
                    store.importJson(batch(generation))
                }

                Write.PUT_ALL -> {
                    store.putAll(users(generation))
                }

                Write.APPLY_BATCH -> {
                    val removed = LongArray(SHRINK) { firstNew(generation - 1) + it }
                    assertEquals(SHRINK, store.applyBatch(users(generation), removed))
                }
            }
            generation++
            // The locks are not fair: let the readers in between two generations.
            Thread.yield()
        }
        stop.set(true)
        readers.forEach { it.join(10_000) }
        failure.get()?.let { throw AssertionError("after ${generation - 1} generations, ${checks.get()} checks", it) }
        assertEquals(base + (generation - 1).toLong() * net, store.size)
        assertTrue(generation > 5, "too few imports ($generation) to prove anything")
        assertTrue(checks.get() >= MIN_CHECKS, "too few checks (${checks.get()}) to prove anything")
    }

    private fun generation(user: User): Int {
        val match = GEN.matchEntire("\"" + user.name + "\"") ?: fail("unexpected name ${user.name}")
        return match.groupValues[1].toInt()
    }

    /** The first of the [GROWTH] new ids of generation [k]. */
    private fun firstNew(k: Int): Long = IDS + k.toLong() * GROWTH

    /** Generation [k]: ids 0 until [IDS] named `gen-k`, then [GROWTH] new ids named `new`. */
    private fun users(k: Int): List<User> = List(IDS) { User(it.toLong(), "gen-$k") } + List(GROWTH) { User(firstNew(k) + it, "new") }

    /** [users] of generation [k] as an import. */
    private fun batch(k: Int): ByteArray =
        users(k)
            .joinToString(",", "[", "]") { "{\"id\":${it.id},\"name\":\"${it.name}\"}" }
            .toByteArray(Charsets.UTF_8)

    companion object {
        private const val IDS = 2_000
        private const val GROWTH = 7
        private const val SHRINK = 3
        private const val READERS = 3
        private const val RUN_MILLIS = 1_500L
        private const val MAX_RUN_MILLIS = 20_000L
        private const val MIN_CHECKS = 100L
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
