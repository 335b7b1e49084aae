package dev.userstore.service

import com.github.ajalt.clikt.core.CliktError
import com.github.ajalt.clikt.core.UsageError
import com.github.ajalt.clikt.core.parse
import dev.userstore.KotlinUserStore
import dev.userstore.NativeUserStore
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.ByteArrayOutputStream
import java.io.PrintStream
import java.nio.file.Files
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** `serve`'s durable options refused before anything starts (the cases that would start a server are not run here). */
class ServeCommandOptionsTest {
    private fun serve(vararg args: String) = ServeCommand(PrintStream(ByteArrayOutputStream(), true, Charsets.UTF_8)).parse(args.toList())

    @Test
    fun `--data-dir with --snapshot or --users, and --sync alone, are usage errors`(
        @TempDir dir: Path,
    ) {
        val data = dir.resolve("data").toString()
        for ((args, message) in listOf(
            listOf("--data-dir", data, "--snapshot", dir.resolve("users.snap").toString()) to
                "option --data-dir cannot be used with --snapshot",
            listOf("--data-dir", data, "--users", "10") to "option --data-dir cannot be used with --users",
            listOf("--users", "0", "--data-dir", data) to "option --data-dir cannot be used with --users",
            listOf("--sync", "batch") to "option --sync needs --data-dir",
        )) {
            val error = assertFailsWith<UsageError>(args.toString()) { serve(*args.toTypedArray()) }
            assertEquals(1, error.statusCode, args.toString())
            assertEquals(message, error.message, args.toString())
        }
        assertFailsWith<UsageError> { serve("--data-dir", data, "--sync", "sometimes") }
        assertFalse(Files.exists(dir.resolve("data")), "a refused start created the directory")
    }

    @Test
    fun `--db with options it does not combine with, and --db-mode alone, are usage errors`(
        @TempDir dir: Path,
    ) {
        val url = "postgres://u:pw-not-shown@127.0.0.1:1/db"
        for ((args, message) in listOf(
            listOf("--db", url, "--db-mode", "direct", "--users", "5") to "option --db cannot be used with --users",
            listOf("--db", url, "--db-mode", "direct", "--snapshot", dir.resolve("u.snap").toString()) to
                "option --db cannot be used with --snapshot",
            listOf("--db-mode", "direct") to "option --db-mode needs --db",
            listOf("--db", url) to "option --db needs --db-mode direct or --db-mode replica",
            listOf("--db", url, "--db-mode", "direct", "--data-dir", dir.resolve("d").toString()) to
                "option --data-dir cannot be used with --db-mode direct: the data lives in PostgreSQL",
            listOf("--db", url, "--db-mode", "replica", "--users", "5") to "option --db cannot be used with --users",
            listOf("--db", url, "--db-mode", "replica", "--snapshot", dir.resolve("u.snap").toString()) to
                "option --db cannot be used with --snapshot",
            listOf("--db", url, "--db-mode", "replica", "--data-dir", dir.resolve("d").toString()) to
                "option --data-dir with --db-mode replica needs --db-slot NAME: a durable replica resumes from a named " +
                "replication slot, one per replica, chosen by you (e.g. the host's name)",
            listOf("--db", url, "--db-mode", "replica", "--data-dir", dir.resolve("d").toString(), "--db-slot", "a", "--sync", "batch") to
                "option --sync batch cannot be used with --db-mode replica: a durable replica needs --sync always, so " +
                "the replication position is saved (and told to PostgreSQL) only after the transactions it covers are " +
                "synced in --data-dir",
            listOf("--db", url, "--db-mode", "replica", "--db-slot", "a") to "option --db-slot needs --data-dir (a durable replica)",
            listOf("--db", url, "--db-mode", "direct", "--db-slot", "a") to "option --db-slot needs --db-mode replica",
            listOf("--db-slot", "a") to "option --db-slot needs --db",
            listOf("--db", url, "--db-mode", "replica", "--sync", "batch") to "option --sync needs --data-dir",
        )) {
            val error = assertFailsWith<UsageError>(args.toString()) { serve(*args.toTypedArray()) }
            assertEquals(message, error.message, args.toString())
        }
        // Nothing listens on port 1: the start fails, naming the URL without its password.
        val error = assertFailsWith<CliktError> { serve("--db", url, "--db-mode", "direct") }
        val message = error.message ?: ""
        assertTrue(message.startsWith("cannot use the database postgres://u:***@127.0.0.1:1/db: "), message)
        assertFalse(message.contains("pw-not-shown"), message)
        // Replica mode connects its write pool first: the same refusal, the same redaction.
        val replicaError = assertFailsWith<CliktError> { serve("--store", "kotlin", "--db", url, "--db-mode", "replica") }
        val replicaMessage = replicaError.message ?: ""
        assertTrue(replicaMessage.startsWith("cannot use the database postgres://u:***@127.0.0.1:1/db: "), replicaMessage)
        assertFalse(replicaMessage.contains("pw-not-shown"), replicaMessage)
        assertFalse(Files.exists(dir.resolve("d")), "a refused start created the data directory")
    }

    @Test
    fun `a data directory in use is refused naming its lock, for either store`(
        @TempDir dir: Path,
    ) {
        KotlinUserStore.openDurable(dir).use {
            for (store in ServedStore.entries) {
                val error = assertFailsWith<CliktError>(store.label) { serve("--store", store.label, "--data-dir", dir.toString()) }
                assertEquals(1, error.statusCode)
                val message = error.message ?: ""
                assertTrue(message.startsWith("cannot open --data-dir $dir: ") && message.contains("${dir.resolve("LOCK")}"), message)
            }
        }
        // Released: it opens again (the other implementation).
        NativeUserStore.openDurable(dir).close()
    }
}
