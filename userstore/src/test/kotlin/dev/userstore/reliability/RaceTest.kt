package dev.userstore.reliability

import dev.userstore.InvalidJsonException
import dev.userstore.InvalidUserException
import dev.userstore.StoreClosedException
import dev.userstore.User
import dev.userstore.UserStore
import dev.userstore.parseExport
import kotlinx.coroutines.runBlocking
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.Timeout
import org.junit.jupiter.api.io.TempDir
import java.nio.file.Path
import java.util.concurrent.CountDownLatch
import java.util.concurrent.CyclicBarrier
import java.util.concurrent.TimeUnit
import java.util.concurrent.atomic.AtomicLong
import java.util.concurrent.atomic.AtomicReference
import kotlin.random.Random
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue
import kotlin.test.fail

/**
 * Races on both stores:
 *
 * - close() racing with 8 threads of mixed calls (every method, valid and invalid arguments, on shared ids),
 *   repeated `-Duserstore.race.rounds=N` times per store (default 40). Every racing call must return a
 *   well-formed result, or throw [StoreClosedException] (and then every later call on that thread must throw
 *   it too), or, for the deliberately invalid arguments, the IllegalArgumentException the rules name. The JVM
 *   must survive (a use-after-free in the native store would crash it or corrupt results).
 * - A hammer of put/get/remove/findByName/getMany/importJson from 8 threads on 512 shared ids and 24 names
 *   (`-Duserstore.hammer.ops=N` calls per thread, default 20000), after which the name index and the size
 *   must agree with the content: findByName of every name equals the ids the export lists with that name,
 *   size equals the export's length, getMany of every id equals the export.
 */
class RaceTest {
    @TempDir
    lateinit var dir: Path

    @Test
    @Timeout(7200)
    fun `close racing with 8 threads of mixed calls never crashes and never returns garbage`() {
        val rounds = Reliability.setting("userstore.race.rounds", 40)
        for ((storeName, create) in Reliability.stores) {
            val calls = AtomicLong()
            val closedCalls = AtomicLong()
            repeat(rounds.toInt()) { round ->
                val store = create()
                store.put(User(0, NAMES[0]))
                val workers =
                    Workers { t -> raceWorker(store, Random(round * 131L + t), calls, closedCalls, dir.resolve("race-$t.snap")) }
                workers.start.await()
                // Close at a different moment each round: immediately, or after up to 5 ms of calls.
                val delay = round % 6
                if (delay > 0) Thread.sleep(delay.toLong())
                store.close()
                workers.join("$storeName round $round: workers did not stop after close")
                workers.failure.get()?.let { throw AssertionError("$storeName round $round", it) }
                assertFailsWith<StoreClosedException> { store.size }
                store.close()
            }
            Reliability.report(
                "close-race store=$storeName threads=$THREADS rounds_survived=$rounds calls=${calls.get()} " +
                    "calls_after_close=${closedCalls.get()}",
            )
        }
    }

    /** Mixed calls until the store says it is closed, then a few more that must all say so. */
    private fun raceWorker(
        s: UserStore,
        random: Random,
        calls: AtomicLong,
        closedCalls: AtomicLong,
        snapshot: Path,
    ) {
        var closedSeen = 0
        while (closedSeen < 5) {
            val id = random.nextLong(IDS)
            val name = NAMES.random(random)
            val kind = random.nextInt(16)
            try {
                calls.incrementAndGet()
                when (kind) {
                    0, 1 -> {
                        s.put(User(id, name))
                    }

                    2 -> {
                        s.get(id)?.let { check(it.id == id && it.name in NAMES) { "get($id) = $it" } }
                    }

                    3 -> {
                        s.remove(id)
                    }

                    4 -> {
                        val found = s.findByName(name)
                        check(found.all { it.name == name && it.id in 0 until IDS }) { "findByName = $found" }
                        check(found.map { it.id } == found.map { it.id }.sorted()) { "findByName not sorted: $found" }
                    }

                    5 -> {
                        val ids = LongArray(random.nextInt(64)) { random.nextLong(IDS) }
                        val got = s.getMany(ids)
                        check(got.size == ids.size)
                        got.forEachIndexed { i, u -> if (u != null) check(u.id == ids[i] && u.name in NAMES) { "getMany: $u" } }
                    }

                    6 -> {
                        s.getJson(id)?.let { json ->
                            val text = json.decodeToString()
                            check(text.startsWith("{\"id\":$id,\"name\":\"") && text.endsWith("\"}")) { "getJson: $text" }
                        }
                    }

                    7 -> {
                        val json =
                            (
                                0 until 1 +
                                    random.nextInt(
                                        20,
                                    )
                            ).joinToString(",", "[", "]") { """{"id":${random.nextLong(IDS)},"name":"${NAMES[1]}"}""" }
                        check(s.importJson(json.encodeToByteArray()) in 1..20)
                    }

                    8 -> {
                        val export = parseExport(s.exportJson())
                        check(export.all { (i, n) -> i in 0 until IDS && n in NAMES }) { "exportJson: $export" }
                    }

                    9 -> {
                        check(s.size in 0..IDS)
                    }

                    10 -> {
                        runBlocking { s.getUser(id) }?.let { check(it.id == id) }
                    }

                    11 -> {
                        assertFailsWith<InvalidUserException> { s.put(User(-1 - id, name)) }
                    }

                    12 -> {
                        assertFailsWith<InvalidUserException> { s.put(User(id, if (random.nextBoolean()) "" else "a\uD800")) }
                    }

                    13 -> {
                        assertFailsWith<InvalidJsonException> { s.importJson("[{\"id\":$id,\"name\":\"\\ud800\"}]".encodeToByteArray()) }
                    }

                    14 -> {
                        assertFailsWith<InvalidUserException> { s.findByName("x".repeat(257)) }
                    }

                    else -> {
                        if (random.nextInt(16) == 0) s.save(snapshot) else s.getMany(LongArray(0))
                    }
                }
                if (closedSeen > 0) fail("call kind $kind succeeded after the store reported it was closed")
            } catch (_: StoreClosedException) {
                closedSeen++
                closedCalls.incrementAndGet()
            } catch (e: AssertionError) {
                // assertFailsWith wraps a StoreClosedException thrown instead of the expected exception.
                if (e.cause !is StoreClosedException) throw e
                closedSeen++
                closedCalls.incrementAndGet()
            }
        }
    }

    @Test
    @Timeout(3600)
    fun `after an 8-thread hammer the name index and the size agree with the content`() {
        val ops = Reliability.setting("userstore.hammer.ops", 20_000)
        for ((storeName, create) in Reliability.stores) {
            create().use { s ->
                val workers = Workers { t -> hammer(s, Random(7_000L + t), ops) }
                workers.start.await()
                workers.join("$storeName: the hammer did not finish")
                workers.failure.get()?.let { throw AssertionError(storeName, it) }
                val content = parseExport(s.exportJson())
                assertEquals(content.size.toLong(), s.size, "$storeName: size and export")
                for (name in NAMES) {
                    val expected = content.filter { it.second == name }.map { it.first }
                    assertEquals(expected, s.findByName(name).map { it.id }, "$storeName: findByName(${dev.userstore.printable(name)})")
                }
                val all = LongArray(IDS.toInt()) { it.toLong() }
                val byId = content.toMap()
                assertEquals(all.map { id -> byId[id]?.let { User(id, it) } }, s.getMany(all), "$storeName: getMany of every id")
                Reliability.report(
                    "hammer store=$storeName threads=$THREADS calls_per_thread=$ops users_after=${content.size} " +
                        "names_checked=${NAMES.size} index_disagreements=0",
                )
            }
        }
    }

    private fun hammer(
        s: UserStore,
        random: Random,
        ops: Long,
    ) {
        for (i in 0 until ops) {
            val id = random.nextLong(IDS)
            when (random.nextInt(10)) {
                0, 1, 2 -> {
                    s.put(User(id, NAMES.random(random)))
                }

                3, 4 -> {
                    s.remove(id)
                }

                5 -> {
                    s.get(id)?.let { check(it.name in NAMES) }
                }

                6 -> {
                    val name = NAMES.random(random)
                    check(s.findByName(name).all { it.name == name })
                }

                7 -> {
                    check(s.getMany(LongArray(16) { random.nextLong(IDS) }).size == 16)
                }

                8 -> {
                    val json = (0 until 8).joinToString(",", "[", "]") { """{"id":${random.nextLong(IDS)},"name":"${NAMES[it]}"}""" }
                    s.importJson(json.encodeToByteArray())
                }

                else -> {
                    s.getJson(id)
                }
            }
        }
    }

    /**
     * [THREADS] threads that wait on [start] (which this thread joins as the last party), then run [body];
     * the first failure is kept in [failure].
     */
    private class Workers(
        body: (Int) -> Unit,
    ) {
        val start = CyclicBarrier(THREADS + 1)
        val failure = AtomicReference<Throwable?>(null)
        private val done = CountDownLatch(THREADS)
        private val threads =
            (0 until THREADS).map { t ->
                Thread {
                    try {
                        start.await()
                        body(t)
                    } catch (e: Throwable) {
                        failure.compareAndSet(null, e)
                    } finally {
                        done.countDown()
                    }
                }.apply { start() }
            }

        fun join(timeoutMessage: String) {
            assertTrue(done.await(30, TimeUnit.MINUTES), timeoutMessage)
            threads.forEach { it.join() }
        }
    }

    private companion object {
        const val THREADS = 8
        const val IDS = 512L

        /** 24 names: plain, one with U+0000, one with an emoji, one of 256 code points. */
        val NAMES = List(21) { "name-$it" } + listOf("a\u0000b", "\uD83D\uDE00 smile", "x".repeat(256))
    }
}
