package dev.userstore.reliability

import dev.userstore.NativeUserStore
import dev.userstore.User
import java.io.File
import kotlin.system.exitProcess

/**
 * The child JVM of the reliability tests that measure the whole process (peak RSS, RSS growth) or read
 * -Xcheck:jni's output: [Reliability.runChild] starts it. Prints `RESULT key=value ...` lines; exit code 0
 * when the run finished, whatever it measured (the parent test judges the figures).
 *
 * - `import <valid|invalid-end|huge-name> <megabytes>`: one importJson of that size into a NativeUserStore
 * - `leak <cycles> <users per store> <calibration stores>`: create/fill/close cycles, then the cost of
 *   stores left open
 * - `getmany <users> <ids> <rounds>`: getMany with that many ids, [rounds] times
 */
object ChildProbe {
    @JvmStatic
    fun main(args: Array<String>) {
        when (args.getOrNull(0)) {
            "import" -> {
                import(args[1], args[2].toInt())
            }

            "leak" -> {
                leak(args[1].toLong(), args[2].toInt(), args[3].toInt())
            }

            "getmany" -> {
                getMany(args[1].toInt(), args[2].toInt(), args[3].toInt())
            }

            else -> {
                System.err.println("usage: ChildProbe import|leak|getmany ...")
                exitProcess(2)
            }
        }
    }

    private fun rss() = Reliability.procStatus("VmRSS")

    /** Resets the process's peak RSS (VmHWM) to its current RSS (Linux: clear_refs 5). */
    private fun resetPeak() = File("/proc/self/clear_refs").writeText("5")

    private fun import(
        kind: String,
        megabytes: Int,
    ) {
        val input = maliciousInput(kind, megabytes.toLong() shl 20)
        NativeUserStore().use { store ->
            System.gc()
            resetPeak()
            val before = rss()
            val started = System.nanoTime()
            val outcome =
                try {
                    "accepted count=${store.importJson(input)}"
                } catch (e: IllegalArgumentException) {
                    "rejected exception=${e::class.simpleName} message=${e.message.orEmpty().take(120).replace(' ', '_')}"
                }
            val millis = (System.nanoTime() - started) / 1_000_000
            val peak = Reliability.procStatus("VmHWM")
            val size = store.size
            // The store is still usable afterwards.
            store.put(User(Long.MAX_VALUE, "after"))
            check(store.get(Long.MAX_VALUE) == User(Long.MAX_VALUE, "after"))
            println(
                "RESULT kind=$kind input_bytes=${input.size} outcome=$outcome size=$size rss_before=$before " +
                    "peak_rss=$peak peak_growth=${peak - before} millis=$millis",
            )
        }
    }

    /** [bytes] of JSON: valid records, valid records with a syntax error at the very end, or one huge name. */
    fun maliciousInput(
        kind: String,
        bytes: Long,
    ): ByteArray {
        require(bytes < Int.MAX_VALUE - 64)
        val out = ByteArray(bytes.toInt())
        var at = 0

        fun put(s: String) {
            for (c in s) out[at++] = c.code.toByte()
        }
        when (kind) {
            "valid", "invalid-end" -> {
                put("[")
                var id = 0L
                while (true) {
                    val record = (if (id == 0L) "" else ",") + "{\"id\":$id,\"name\":\"user ${id % 1000}\"}"
                    if (at + record.length + 2 > out.size) break
                    put(record)
                    id++
                }
                put(if (kind == "valid") "]" else ",")
                while (at < out.size) out[at++] = ' '.code.toByte()
            }

            "huge-name" -> {
                put("[{\"id\":1,\"name\":\"")
                while (at < out.size - 3) out[at++] = 'a'.code.toByte()
                put("\"}]")
            }

            else -> {
                error("unknown kind $kind")
            }
        }
        return out
    }

    private fun fill(
        store: NativeUserStore,
        cycle: Long,
        users: Int,
    ) {
        for (u in 0 until users) store.put(User(cycle * users + u, "user $u of $cycle"))
        check(store.size == users.toLong())
        check(store.getMany(longArrayOf(cycle * users, cycle * users + users, cycle * users + users - 1)).count { it != null } == 2)
        check(store.importJson("[{\"id\":1,\"name\":\"json\"}]".toByteArray()) == 1)
        check(store.findByName("json").size == 1)
    }

    private fun leak(
        cycles: Long,
        users: Int,
        calibration: Int,
    ) {
        // Warm-up: JIT, class loading, allocator arenas.
        for (c in 0 until minOf(2_000L, cycles)) NativeUserStore().use { fill(it, c, users) }
        System.gc()
        val before = rss()
        val started = System.nanoTime()
        for (c in 0 until cycles) NativeUserStore().use { fill(it, c, users) }
        val seconds = (System.nanoTime() - started) / 1e9
        System.gc()
        val after = rss()
        // What a leak would look like: the RSS cost of stores filled the same way but not closed.
        val open = ArrayList<NativeUserStore>(calibration)
        val beforeOpen = rss()
        for (c in 0 until calibration) open += NativeUserStore().also { fill(it, c.toLong(), users) }
        val afterOpen = rss()
        open.forEach { it.close() }
        println(
            "RESULT cycles=$cycles users=$users rss_before=$before rss_after=$after growth=${after - before} " +
                "per_open_store=${(afterOpen - beforeOpen) / calibration} calibration_stores=$calibration " +
                "seconds=${"%.1f".format(seconds)}",
        )
    }

    private fun getMany(
        users: Int,
        ids: Int,
        rounds: Int,
    ) {
        NativeUserStore().use { store ->
            val batch = 100_000
            for (from in 0 until users step batch) {
                val json =
                    (
                        from until
                            minOf(
                                users,
                                from + batch,
                            )
                    ).joinToString(",", "[", "]") { "{\"id\":${it * 2},\"name\":\"u${it % 97}\"}" }
                store.importJson(json.toByteArray())
            }
            // Every other id is missing (odd ids); ids beyond the store too.
            val wanted = LongArray(ids) { it.toLong() }
            val expectedPresent = wanted.count { it % 2 == 0L && it / 2 < users }
            var checked = 0L
            repeat(rounds) {
                val result = store.getMany(wanted)
                check(result.size == ids) { "getMany returned ${result.size} entries for $ids ids" }
                val present = result.count { it != null }
                check(present == expectedPresent) { "getMany found $present users, expected $expectedPresent" }
                check(result[2] == User(2, "u1") && result[1] == null)
                checked += result.size
            }
            println("RESULT users=$users ids=$ids rounds=$rounds entries_checked=$checked rss=${rss()}")
        }
    }
}
