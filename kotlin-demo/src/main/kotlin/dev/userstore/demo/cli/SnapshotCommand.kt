package dev.userstore.demo.cli

import com.github.ajalt.clikt.core.CliktCommand
import com.github.ajalt.clikt.core.CliktError
import com.github.ajalt.clikt.core.Context
import com.github.ajalt.clikt.core.context
import com.github.ajalt.clikt.output.MordantHelpFormatter
import com.github.ajalt.clikt.parameters.options.default
import com.github.ajalt.clikt.parameters.options.option
import com.github.ajalt.clikt.parameters.types.enum
import com.github.ajalt.clikt.parameters.types.int
import com.github.ajalt.clikt.parameters.types.path
import com.github.ajalt.clikt.parameters.types.restrictTo
import dev.userstore.KotlinUserStore
import dev.userstore.NativeUserStore
import dev.userstore.User
import dev.userstore.UserStore
import dev.userstore.demo.format.fmt
import dev.userstore.demo.measure.Environment
import dev.userstore.demo.measure.MAX_USERS
import dev.userstore.demo.measure.MIB
import dev.userstore.demo.measure.NANOS_PER_SECOND
import dev.userstore.demo.measure.StoreChoice
import dev.userstore.demo.measure.StoreKind
import java.io.IOException
import java.io.PrintStream
import java.nio.file.Files
import java.nio.file.Path

/** Bytes in a megabyte, for MB/s (decimal, as disks and networks count). */
private const val MB = 1_000_000.0

/** What `open` should beat `importJson` by: the goal the snapshot format was made for. */
private const val OPEN_GOAL = 5.0

/** One measured operation: how long it took and how many bytes it read or wrote. */
private data class Timed(
    val nanos: Long,
    val bytes: Long,
)

/**
 * `snapshot`: for each selected store, loads `--users` users (`user-<id>`) and times `exportJson`, `importJson`
 * of that JSON into a fresh store, `save` to a file in `--dir`, and `open` of that file; prints time, MB/s and
 * users/s for each, and how much faster `open` is than `importJson`. The files are deleted afterwards.
 *
 * @param out where the report goes
 * @param err where progress goes
 */
class SnapshotCommand(
    private val out: PrintStream = PrintStream(System.out, true, Charsets.UTF_8),
    private val err: PrintStream = PrintStream(System.err, true, Charsets.UTF_8),
) : CliktCommand(name = "snapshot") {
    private val users by option("--users", metavar = "N", help = "users loaded into each store")
        .int()
        .restrictTo(1..MAX_USERS)
        .default(10_000_000)
    private val store by option("--store", help = "which stores to measure")
        .enum<StoreChoice> { it.name.lowercase() }
        .default(StoreChoice.BOTH, defaultForHelp = "both")
    private val dir by option("--dir", metavar = "PATH", help = "directory for the snapshot files (deleted afterwards)")
        .path(canBeFile = false)
        .default(Path.of(System.getProperty("java.io.tmpdir")), defaultForHelp = "the temporary directory")

    init {
        context { helpFormatter = { MordantHelpFormatter(it, showDefaultValues = true) } }
    }

    override fun help(context: Context): String =
        "Times exportJson, importJson, save and open on each store with the same users, and compares open " +
            "(the binary snapshot, docs/SNAPSHOT.md) with importJson."

    override fun run() {
        val env = Environment.capture()
        out.println("userstore snapshot: exportJson, importJson, save and open of the same users, in one JVM")
        out.println("JDK       ${env.javaVersion} (${env.javaVendor}), ${env.vmName}")
        out.println("GC        ${env.collectors.joinToString(", ")}")
        out.println("CPU       ${env.cpuModel}, ${env.cores} cores")
        out.println("max heap  ${fmt("%,d", env.maxHeapBytes / MIB)} MiB")
        out.println("options   --users $users --store ${store.name.lowercase()} --dir $dir")
        out.println()
        try {
            Files.createDirectories(dir)
        } catch (e: IOException) {
            throw CliktError("cannot create --dir $dir: $e")
        }
        for (kind in store.kinds) measure(kind)
        out.println("Each operation ran once, after a full GC; MB/s counts the JSON or snapshot bytes, users/s the users.")
    }

    private fun measure(kind: StoreKind) {
        val file = dir.resolve("userstore-snapshot-${kind.label}-${ProcessHandle.current().pid()}.snap")
        progress("${kind.label}: loading $users users")
        val loaded = kind.create()
        val load = timed { for (id in 0L until users) loaded.put(User(id, "user-$id")) }
        var json = ByteArray(0)
        val export =
            timedBytes {
                json = loaded.exportJson()
                json.size.toLong()
            }
        progress("${kind.label}: save")
        val save =
            try {
                timedBytes {
                    loaded.save(file)
                    Files.size(file)
                }
            } catch (e: IOException) {
                loaded.close()
                throw CliktError("cannot save to $file: ${e.message}")
            }
        loaded.close()
        progress("${kind.label}: importJson")
        val import =
            kind.create().use { fresh ->
                timedBytes {
                    check(fresh.importJson(json) == users)
                    json.size.toLong()
                }
            }
        progress("${kind.label}: open")
        var opened: UserStore? = null
        val open =
            timedBytes {
                opened = if (kind == StoreKind.NATIVE) NativeUserStore.open(file) else KotlinUserStore.open(file)
                Files.size(file)
            }
        checkNotNull(opened).use {
            check(it.size == users.toLong()) { "opened ${it.size} users, expected $users" }
            check(it.get(users - 1L) == User(users - 1L, "user-${users - 1}")) { "the last user did not survive" }
        }
        Files.deleteIfExists(file)

        out.println(
            "${kind.label} store, $users users (JSON ${fmt("%,.1f", json.size / MB)} MB, snapshot ${fmt("%,.1f", save.bytes / MB)} MB)",
        )
        out.println(fmt("  %-12s %10s %10s %14s", "", "time (ms)", "MB/s", "users/s"))
        row("load (put)", load)
        row("exportJson", export)
        row("importJson", import)
        row("save", save)
        row("open", open)
        val speedup = import.nanos.toDouble() / open.nanos
        out.println(
            fmt(
                "  open vs importJson: %.1fx faster (goal: >= %.0fx, %s)",
                speedup,
                OPEN_GOAL,
                if (speedup >=
                    OPEN_GOAL
                ) {
                    "met"
                } else {
                    "NOT met"
                },
            ),
        )
        out.println()
    }

    private fun row(
        label: String,
        t: Timed,
    ) {
        val seconds = t.nanos / NANOS_PER_SECOND.toDouble()
        val mbPerSecond = if (t.bytes > 0) fmt("%,.1f", t.bytes / MB / seconds) else "-"
        out.println(fmt("  %-12s %10s %10s %14s", label, fmt("%,.1f", t.nanos / 1e6), mbPerSecond, fmt("%,.0f", users / seconds)))
    }

    private fun progress(text: String) = err.println(text)

    /** Runs [block] once after a full GC; the time, with no byte count. */
    private inline fun timed(block: () -> Unit): Timed =
        timedBytes {
            block()
            0L
        }

    /** Runs [block] once after a full GC; the time and the bytes [block] returns. */
    private inline fun timedBytes(block: () -> Long): Timed {
        System.gc()
        val start = System.nanoTime()
        val bytes = block()
        return Timed(System.nanoTime() - start, bytes)
    }
}
