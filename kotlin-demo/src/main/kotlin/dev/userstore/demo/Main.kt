package dev.userstore.demo

import com.github.ajalt.clikt.core.CliktCommand
import com.github.ajalt.clikt.core.Context
import com.github.ajalt.clikt.core.main
import com.github.ajalt.clikt.core.subcommands
import dev.userstore.demo.cli.CompareCommand
import dev.userstore.demo.cli.GcPressureCommand
import dev.userstore.demo.cli.SnapshotCommand
import dev.userstore.demo.measure.GcPressureWorker
import dev.userstore.demo.measure.StartupProbe
import dev.userstore.service.ServeCommand

/** The subcommand that runs when the command line names none. */
private const val DEFAULT_SUBCOMMAND = "compare"

/** Flags that must reach the root command itself rather than the default subcommand. */
private val ROOT_FLAGS = setOf("-h", "--help")

/**
 * Entry point of `kotlin-demo`. With no subcommand (or with only options, as in
 * `kotlin-demo --users 1000`) it runs `compare`.
 */
fun main(args: Array<String>) {
    val root = KotlinDemoCommand().subcommands(CompareCommand(), SnapshotCommand(), ServeCommand())
    root.subcommands(GcPressureCommand(), GcPressureWorker(), StartupProbe())
    val names = root.registeredSubcommands().map { it.commandName }.toSet()
    root.main(withDefaultSubcommand(args.toList(), names))
}

/** The root command: it only dispatches to its subcommands. */
class KotlinDemoCommand : CliktCommand(name = "kotlin-demo") {
    override fun help(context: Context): String =
        "Compares the Rust store (NativeUserStore, through FFM on JDK 22+, JNI before) with the pure-Kotlin store " +
            "(KotlinUserStore) in one JVM. Runs `$DEFAULT_SUBCOMMAND` when no subcommand is given."

    override fun run() = Unit
}

/**
 * Puts [DEFAULT_SUBCOMMAND] in front of [args] unless they already start with one of the
 * [subcommands] or ask the root command for help.
 */
internal fun withDefaultSubcommand(
    args: List<String>,
    subcommands: Set<String>,
): List<String> {
    val first = args.firstOrNull()
    return if (first != null && (first in subcommands || first in ROOT_FLAGS)) args else listOf(DEFAULT_SUBCOMMAND) + args
}
