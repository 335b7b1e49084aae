package dev.userstore.demo.cli

import com.github.ajalt.clikt.core.parse
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.ByteArrayOutputStream
import java.io.PrintStream
import java.nio.file.Files
import java.nio.file.Path
import kotlin.test.assertContains
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/** Runs `snapshot` for real on a tiny workload against both stores and checks what it prints. */
class SnapshotCommandTest {
    @Test
    fun `snapshot times every operation on both stores and cleans up its files`(
        @TempDir dir: Path,
    ) {
        val out = ByteArrayOutputStream()
        val err = ByteArrayOutputStream()
        SnapshotCommand(PrintStream(out, true, Charsets.UTF_8), PrintStream(err, true, Charsets.UTF_8))
            .parse(listOf("--users", "5000", "--store", "both", "--dir", dir.toString()))
        val text = out.toString(Charsets.UTF_8)
        assertTrue("JDK" in text && "CPU" in text && "max heap" in text, text)
        for (store in listOf("native", "kotlin")) assertContains(text, "$store store, 5000 users")
        for (operation in listOf("load (put)", "exportJson", "importJson", "save", "open")) {
            val rows = text.lines().filter { Regex("^ +${Regex.escape(operation)} {2,}[0-9]").containsMatchIn(it) }
            assertEquals(2, rows.size, "$operation: one row per store\n$text")
            for (row in rows) {
                val usersPerSecond =
                    row
                        .trim()
                        .split(Regex(" {2,}"))
                        .last()
                        .replace(",", "")
                        .toDouble()
                assertTrue(usersPerSecond > 0, row)
            }
        }
        assertEquals(2, Regex("open vs importJson: [0-9.]+x faster").findAll(text).count(), text)
        assertEquals(emptyList(), Files.list(dir).use { it.toList() }, "the snapshot files are deleted")
    }
}
