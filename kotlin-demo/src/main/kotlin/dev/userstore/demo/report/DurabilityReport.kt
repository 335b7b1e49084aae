package dev.userstore.demo.report

import dev.userstore.Sync
import dev.userstore.demo.format.fmt
import dev.userstore.demo.format.plural
import dev.userstore.demo.format.ratio
import dev.userstore.demo.measure.DURABILITY_IDS_PER_THREAD
import dev.userstore.demo.measure.DURABILITY_WARMUP_SHARE
import dev.userstore.demo.measure.DurabilityMode
import dev.userstore.demo.measure.DurabilityRun
import dev.userstore.demo.measure.FLOOR_RECORD_BYTES

/** The rows of the durability table: store, mode, then per thread count puts/s and the ratio to memory-only, then last/first. */
internal fun durabilityRows(run: DurabilityRun): List<List<String>> {
    val threads = run.options.threads
    val head =
        listOf("store", "mode") +
            threads.flatMap { listOf("puts/s, ${plural(it, "thread")}", "/ memory-only") } +
            (if (threads.size > 1) listOf("${threads.last()} / ${threads.first()} threads") else emptyList())
    val rows =
        run.kinds.flatMap { kind ->
            DurabilityMode.entries.map { mode ->
                val figures =
                    threads.flatMap { t ->
                        val ratio = if (mode == DurabilityMode.MEMORY) null else run.overMemory(kind, mode, t)
                        listOf(run.putsPerSecond(kind, mode, t)?.let { fmt("%,.0f", it) } ?: "-", ratio?.let { ratio(it, 1.0) } ?: "-")
                    }
                val scaling =
                    if (threads.size > 1) {
                        val last = run.putsPerSecond(kind, mode, threads.last())
                        val first = run.putsPerSecond(kind, mode, threads.first())
                        listOf(if (last != null && first != null) ratio(last, first) else "-")
                    } else {
                        emptyList()
                    }
                listOf(kind.label, mode.label) + figures + scaling
            }
        }
    return listOf(head) + rows
}

/** One sentence saying how the durability figures were measured. */
internal fun durabilityHow(run: DurabilityRun): String =
    "acknowledged puts per second of each store, memory-only against openDurable on a fresh data directory in " +
        "${run.options.parent} (${run.fileSystem}; the stores' default checkpoint threshold), " +
        "${fmt("%.2f", run.options.seconds)} s per run after ${fmt("%.2f", run.options.seconds * DURABILITY_WARMUP_SHARE)} s " +
        "of warm-up (after one unmeasured run per store, memory-only and Sync.BATCH), each writer thread putting its own " +
        "${fmt("%,d", DURABILITY_IDS_PER_THREAD)} ids"

/** A goal's figure: puts/s whole, ratios with two decimals. */
internal fun goalFigure(
    value: Double?,
    unit: String,
): String =
    when {
        value == null -> "-"
        unit == "x" -> ratio(value, 1.0)
        else -> "${fmt("%,.0f", value)} $unit"
    }

/** The sentence on this disk's sync floor, or null if it was not measured. */
internal fun floorText(run: DurabilityRun): String? {
    val f = run.floor ?: return null
    val one =
        run.kinds.mapNotNull { k ->
            run.putsPerSecond(k, DurabilityMode.ALWAYS, 1)?.let { "${k.label} ${ratio(it, f.syncsPerSecond)}" }
        }
    return "This disk's sync floor (one thread appending $FLOOR_RECORD_BYTES bytes and calling FileChannel.force(false), i.e. " +
        "fdatasync; ${fmt("%,d", f.syncs)} syncs): ${fmt("%,.0f", f.syncsPerSecond)} syncs/s, p50 ${fmt("%.3f", f.p50Nanos / 1e6)} ms, " +
        "p99 ${fmt("%.3f", f.p99Nanos / 1e6)} ms; one Sync.ALWAYS writer cannot beat it" +
        (if (one.isEmpty()) "." else " (Sync.ALWAYS, 1 thread, over the floor: ${one.joinToString(", ")}).")
}

/** The console lines of the durability scenario: its table and the issue's goals. */
internal fun durabilityText(run: DurabilityRun): List<String> {
    val rows = durabilityRows(run)
    val widths = rows.first().indices.map { c -> rows.maxOf { it[c].length } }
    val table =
        rows.map { row ->
            row
                .mapIndexed { c, cell -> if (c < 2) cell.padEnd(widths[c]) else cell.padStart(widths[c]) }
                .joinToString("   ")
                .trimEnd()
        }
    val goals =
        run.goals.map { g ->
            "- ${g.kind.label}: ${g.goal}: ${goalFigure(g.measured, g.unit)} (at least ${goalFigure(g.atLeast, g.unit)}): " +
                g.outcome.uppercase()
        }
    return listOf("", "Durability (issue 13): ${durabilityHow(run)}:") + table + listOfNotNull(floorText(run)) +
        listOf("Goals of issue 13 (computed from this run):") + goals
}

/** The durability scenario as JSON: settings, every measurement, the goals. */
internal fun durabilityJson(run: DurabilityRun): Map<String, Any?> =
    linkedMapOf(
        "seconds" to run.options.seconds,
        "warmupSeconds" to run.options.seconds * DURABILITY_WARMUP_SHARE,
        "directory" to run.options.parent.toString(),
        "fileSystem" to run.fileSystem,
        "checkpointLogBytes" to Sync.DEFAULT_CHECKPOINT_LOG_BYTES,
        "idsPerThread" to DURABILITY_IDS_PER_THREAD,
        "syncFloor" to
            run.floor?.let { f ->
                linkedMapOf(
                    "recordBytes" to FLOOR_RECORD_BYTES,
                    "syncs" to f.syncs,
                    "nanos" to f.nanos,
                    "syncsPerSecond" to f.syncsPerSecond,
                    "p50Nanos" to f.p50Nanos,
                    "p99Nanos" to f.p99Nanos,
                )
            },
        "measurements" to
            run.measurements.map { m ->
                linkedMapOf(
                    "store" to m.kind.label,
                    "mode" to m.mode.label,
                    "threads" to m.threads,
                    "puts" to m.puts,
                    "nanos" to m.nanos,
                    "putsPerSecond" to m.putsPerSecond,
                    "overMemory" to if (m.mode == DurabilityMode.MEMORY) null else run.overMemory(m.kind, m.mode, m.threads),
                )
            },
        "goals" to
            run.goals.map { g ->
                linkedMapOf("store" to g.kind.label, "goal" to g.goal, "measured" to g.measured, "atLeast" to g.atLeast, "met" to g.met)
            },
    )
