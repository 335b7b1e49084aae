package dev.userstore

import dev.userstore.testing.RepoFiles
import org.junit.jupiter.api.Named
import org.junit.jupiter.api.Nested
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.TestInstance
import org.junit.jupiter.api.io.TempDir
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.MethodSource
import java.nio.file.Files
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/**
 * The golden files of `spec/` (spec/README.md) against both stores: every row of `spec/cases.tsv` is one test per
 * store, so a new file there is picked up without a code change. The Rust test `tests/spec.rs` reads the same
 * manifest. On JDK 22+ the build runs this class a second time with `-Duserstore.binding=jni`, so the native store
 * is checked through both bindings.
 */
class SpecTest {
    /** The pure-Kotlin store. */
    @Nested
    inner class Kotlin : SpecSuite(DurableImpl.KOTLIN)

    /** The Rust store through this JVM's binding. */
    @Nested
    inner class Native : SpecSuite(DurableImpl.NATIVE)

    @Test
    fun `every file of spec is in the manifest`() {
        val listed = SpecCases.all.flatMap { if (it.outcome == "ok") listOf(it.input, it.expected) else listOf(it.input) }.toSet()
        assertTrue(SpecCases.all.size >= 100, "the manifest holds ${SpecCases.all.size} cases")
        for (sub in listOf("json/accepted", "json/refused", "snapshot", "wal")) {
            Files.list(SpecCases.root.resolve(sub)).use { files ->
                for (file in files) {
                    val rel = "$sub/${file.fileName}"
                    assertTrue(rel in listed, "spec/$rel is in no row of spec/cases.tsv")
                }
            }
        }
    }
}

/** One row of `spec/cases.tsv`: kind, input, outcome (`ok` or an exception kind), expected, extra. */
class SpecCase(
    val kind: String,
    val input: String,
    val outcome: String,
    val expected: String,
    val extra: String,
) {
    override fun toString(): String = "$kind $input"
}

/** The manifest, and the `spec/` folder found by walking up from the working directory. */
internal object SpecCases {
    val root: Path by lazy { RepoFiles.find("spec/cases.tsv").parent }

    val all: List<SpecCase> by lazy {
        Files
            .readAllLines(root.resolve("cases.tsv"))
            .filter { it.isNotEmpty() && !it.startsWith("#") }
            .map { line ->
                val c = line.split('\t')
                require(c.size == 5) { "five columns in $line" }
                SpecCase(c[0], c[1], c[2], c[3], c[4])
            }
    }

    fun read(rel: String): ByteArray = Files.readAllBytes(root.resolve(rel))

    /** Hex text to bytes; whitespace between the digits is ignored (one field or record per line). */
    fun hex(text: String): ByteArray {
        val digits = text.filterNot { it.isWhitespace() }
        require(digits.length % 2 == 0) { "an even number of hex digits" }
        return ByteArray(digits.length / 2) { digits.substring(2 * it, 2 * it + 2).toInt(16).toByte() }
    }
}

/** The golden cases against one implementation. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
abstract class SpecSuite(
    private val impl: DurableImpl,
) {
    fun cases(kind: String): List<Named<SpecCase>> = SpecCases.all.filter { it.kind == kind }.map { Named.of(it.input, it) }

    fun jsonCases() = cases("json")

    fun snapshotCases() = cases("snapshot")

    fun walCases() = cases("wal")

    private fun assertExport(
        case: SpecCase,
        store: UserStore,
    ) = assertEquals(String(SpecCases.read(case.expected), Charsets.UTF_8), content(store), "$impl: ${case.input}")

    @ParameterizedTest(name = "{0}")
    @MethodSource("jsonCases")
    fun `importJson into an empty store`(case: SpecCase) {
        impl.memory().use { s ->
            val input = SpecCases.read(case.input)
            if (case.outcome == "ok") {
                assertEquals(case.extra.toInt(), s.importJson(input), "the count")
                assertExport(case, s)
            } else {
                assertEquals("InvalidJson", case.outcome)
                val e = assertFailsWith<InvalidJsonException>("$impl refuses ${case.input}") { s.importJson(input) }
                assertFragment(case, e)
                assertEquals("[]", content(s), "a refused import leaves the store unchanged")
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("snapshotCases")
    fun `open a snapshot`(
        case: SpecCase,
        @TempDir dir: Path,
    ) {
        val file = dir.resolve("case.snap")
        Files.write(file, SpecCases.hex(String(SpecCases.read(case.input), Charsets.UTF_8)))
        if (case.outcome == "ok") {
            openSnapshot(file).use { s ->
                assertEquals(case.extra.toLong(), s.size)
                assertExport(case, s)
                // Written again, the snapshot has the golden bytes: one encoding per content.
                val again = dir.resolve("again.snap")
                s.save(again)
                assertTrue(Files.readAllBytes(file).contentEquals(Files.readAllBytes(again)), "save writes the golden bytes back")
            }
        } else {
            assertEquals("CorruptSnapshot", case.outcome)
            val e = assertFailsWith<CorruptSnapshotException>("$impl refuses ${case.input}") { openSnapshot(file).close() }
            assertFragment(case, e)
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("walCases")
    fun `open a data directory`(
        case: SpecCase,
        @TempDir root: Path,
    ) {
        val dir = Files.createDirectory(root.resolve("data"))
        val files = Files.list(SpecCases.root.resolve(case.input)).use { it.toList() }
        for (file in files) {
            val name = file.fileName.toString()
            require(name.endsWith(".hex")) { "every file of a wal case is .hex: $file" }
            Files.write(dir.resolve(name.removeSuffix(".hex")), SpecCases.hex(Files.readString(file)))
        }
        val newestLog = fileNames(dir).filter { it.startsWith("log-") }.maxOrNull()
        val before = directoryBytes(dir)
        if (case.outcome == "ok") {
            impl.open(dir).use { s -> assertExport(case, s) }
            if (case.extra != "-") {
                assertEquals(case.extra.toLong(), Files.size(dir.resolve(newestLog!!)), "$newestLog after the open")
            }
        } else {
            assertEquals("CorruptSnapshot", case.outcome)
            val e = assertFailsWith<CorruptSnapshotException>("$impl refuses ${case.input}") { impl.open(dir).close() }
            assertFragment(case, e)
            // The lock file is created by the open (step 1) and is not part of the case.
            val after = directoryBytes(dir).filterKeys { it != "LOCK" || "LOCK" in before }
            assertEquals(before, after, "a refused open changes nothing")
        }
    }

    /** The message holds the fragment; `-` means it is not checked (the engines' messages share none there). */
    private fun assertFragment(
        case: SpecCase,
        e: Exception,
    ) = assertTrue(
        case.expected == "-" || e.message!!.contains(case.expected),
        "$impl ${case.input}: the message \"${e.message}\" lacks \"${case.expected}\"",
    )

    private fun openSnapshot(path: Path): UserStore =
        when (impl) {
            DurableImpl.KOTLIN -> KotlinUserStore.open(path)
            DurableImpl.NATIVE -> NativeUserStore.open(path)
        }
}
