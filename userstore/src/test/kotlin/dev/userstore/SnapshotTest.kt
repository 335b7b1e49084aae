package dev.userstore

import org.junit.jupiter.api.Nested
import org.junit.jupiter.api.Test
import org.junit.jupiter.api.io.TempDir
import java.io.IOException
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.file.Files
import java.nio.file.NoSuchFileException
import java.nio.file.Path
import java.util.zip.CRC32
import kotlin.io.path.listDirectoryEntries
import kotlin.io.path.name
import kotlin.random.Random
import kotlin.test.assertContains
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNull
import kotlin.test.assertTrue

/**
 * Snapshots (docs/SNAPSHOT.md): the same cases against both stores ([SnapshotSuite]), then files written by
 * one store opened by the other, byte for byte.
 */
class SnapshotTest {
    /** The pure-Kotlin store. */
    @Nested
    inner class Kotlin : SnapshotSuite() {
        override fun newStore(): UserStore = KotlinUserStore()

        override fun open(path: Path): UserStore = KotlinUserStore.open(path)
    }

    /** The Rust store through JNI. */
    @Nested
    inner class Native : SnapshotSuite() {
        override fun newStore(): UserStore = NativeUserStore()

        override fun open(path: Path): UserStore = NativeUserStore.open(path)
    }

    @Test
    fun `a file saved by one store opens in the other with the same content`(
        @TempDir dir: Path,
    ) {
        val users = randomUsers(Random(7), 3_000)
        val fromNative = dir.resolve("native.snap")
        val fromKotlin = dir.resolve("kotlin.snap")
        val exported =
            NativeUserStore().use { native ->
                KotlinUserStore().use { kotlin ->
                    for (user in users) {
                        native.put(user)
                        kotlin.put(user)
                    }
                    assertContentEquals(native.exportJson(), kotlin.exportJson())
                    native.save(fromNative)
                    kotlin.save(fromKotlin)
                    kotlin.exportJson()
                }
            }
        assertContentEquals(Files.readAllBytes(fromNative), Files.readAllBytes(fromKotlin), "byte-identical files")
        KotlinUserStore.open(fromNative).use { assertContentEquals(exported, it.exportJson()) }
        NativeUserStore.open(fromKotlin).use { assertContentEquals(exported, it.exportJson()) }
        // And back again: what each opened saves to the same bytes.
        val again = dir.resolve("again.snap")
        NativeUserStore.open(fromKotlin).use { it.save(again) }
        assertContentEquals(Files.readAllBytes(fromNative), Files.readAllBytes(again))
        KotlinUserStore.open(fromNative).use { it.save(again) }
        assertContentEquals(Files.readAllBytes(fromNative), Files.readAllBytes(again))
    }

    @Test
    fun `both stores write byte-identical files for the same content, empty and special names included`(
        @TempDir dir: Path,
    ) {
        val contents = listOf(emptyList(), SPECIAL_USERS, listOf(User(Long.MAX_VALUE, "max"), User(0, "\u0000")))
        for ((i, users) in contents.withIndex()) {
            val native = dir.resolve("n$i.snap")
            val kotlin = dir.resolve("k$i.snap")
            NativeUserStore().use { s ->
                users.forEach(s::put)
                s.save(native)
            }
            KotlinUserStore().use { s ->
                users.asReversed().forEach(s::put)
                s.save(kotlin)
            }
            assertContentEquals(Files.readAllBytes(native), Files.readAllBytes(kotlin), "content $i")
        }
        assertEquals(36, Files.size(dir.resolve("n0.snap")))
    }

    @Test
    fun `both stores refuse the same damaged files with the same exception types`(
        @TempDir dir: Path,
    ) {
        val good =
            KotlinUserStore().use { s ->
                SPECIAL_USERS.forEach(s::put)
                s.save(dir.resolve("good.snap"))
                Files.readAllBytes(dir.resolve("good.snap"))
            }
        val path = dir.resolve("damaged.snap")
        val random = Random(11)
        repeat(300) { round ->
            val damaged =
                if (round % 3 == 0) {
                    good.copyOf(random.nextInt(good.size))
                } else {
                    good.copyOf().also {
                        val at = random.nextInt(it.size)
                        it[at] = (it[at].toInt() xor random.nextInt(1, 256)).toByte()
                    }
                }
            Files.write(path, damaged)
            val native = assertFailsWith<IOException>("round $round") { NativeUserStore.open(path).close() }
            val kotlin = assertFailsWith<IOException>("round $round") { KotlinUserStore.open(path).close() }
            assertEquals<Class<*>>(CorruptSnapshotException::class.java, native.javaClass, native.toString())
            assertEquals<Class<*>>(CorruptSnapshotException::class.java, kotlin.javaClass, kotlin.toString())
            // Same check fails first in both: the messages agree after the path.
            assertEquals(native.message, kotlin.message)
        }
    }
}

/** The snapshot cases, independent of the implementation under test. */
abstract class SnapshotSuite {
    /** A new, empty store of the implementation under test. */
    abstract fun newStore(): UserStore

    /** The implementation's `open(path)`. */
    abstract fun open(path: Path): UserStore

    @TempDir
    lateinit var dir: Path

    private fun saved(
        users: List<User>,
        name: String = "users.snap",
    ): Path {
        val path = dir.resolve(name)
        newStore().use { s ->
            users.forEach(s::put)
            s.save(path)
        }
        return path
    }

    @Test
    fun `save then open gives the same users, special names included`() {
        val path = saved(SPECIAL_USERS)
        newStore().use { original ->
            SPECIAL_USERS.forEach(original::put)
            open(path).use { opened ->
                assertEquals(SPECIAL_USERS.size.toLong(), opened.size)
                assertContentEquals(original.exportJson(), opened.exportJson())
                for (user in SPECIAL_USERS) assertEquals(user, opened.get(user.id))
                assertEquals(listOf(User(1, "same"), User(2, "same")), opened.findByName("same"))
                opened.put(User(99, "after open"))
                assertEquals(User(99, "after open"), opened.get(99))
            }
        }
        assertEquals(listOf("users.snap"), dir.listDirectoryEntries().map { it.name }, "no temporary file is left")
    }

    @Test
    fun `an empty store round-trips`() {
        val path = saved(emptyList())
        assertEquals(36, Files.size(path))
        open(path).use { opened ->
            assertEquals(0L, opened.size)
            assertEquals("[]", opened.exportJson().decodeToString())
        }
    }

    @Test
    fun `many users round-trip, and save replaces an existing file`() {
        val users = randomUsers(Random(3), 20_000)
        val path = saved(users)
        open(path).use { opened ->
            newStore().use { original ->
                users.forEach(original::put)
                assertContentEquals(original.exportJson(), opened.exportJson())
            }
        }
        saved(listOf(User(5, "five")))
        open(path).use { assertEquals("""[{"id":5,"name":"five"}]""", it.exportJson().decodeToString()) }
    }

    @Test
    fun `a relative path works`() {
        val name = "userstore-relative-${ProcessHandle.current().pid()}-${javaClass.simpleName}.snap"
        val relative = Path.of(name)
        try {
            newStore().use { s ->
                s.put(User(1, "one"))
                s.save(relative)
            }
            open(relative).use { assertEquals(User(1, "one"), it.get(1)) }
        } finally {
            Files.deleteIfExists(relative)
        }
    }

    @Test
    fun `a missing file throws NoSuchFileException whose message is the path`() {
        for (path in listOf(dir.resolve("missing.snap"), dir.resolve("no-dir").resolve("x.snap"))) {
            val e = assertFailsWith<NoSuchFileException> { open(path) }
            assertEquals(path.toString(), e.message)
        }
    }

    @Test
    fun `a directory is refused with a plain IOException naming it`() {
        val e = assertFailsWith<IOException> { open(dir) }
        assertEquals(IOException::class.java, e.javaClass, e.toString())
        assertContains(e.message.orEmpty(), dir.toString())
    }

    @Test
    fun `truncation at any position is detected`() {
        val good = Files.readAllBytes(saved(SPECIAL_USERS))
        val path = dir.resolve("cut.snap")
        for (len in (0 until good.size step 5) + listOf(1, 8, 35, 36, good.size - 1)) {
            Files.write(path, good.copyOf(len))
            val e = assertFailsWith<CorruptSnapshotException>("cut at $len") { open(path) }
            assertContains(e.message.orEmpty(), path.toString())
            assertContains(e.message.orEmpty(), "truncated", message = "cut at $len")
        }
        Files.write(path, good + byteArrayOf(0))
        assertContains(assertFailsWith<CorruptSnapshotException> { open(path) }.message.orEmpty(), "bytes after the end")
    }

    @Test
    fun `a flipped byte in the header, a record or the CRC is detected`() {
        val good = Files.readAllBytes(saved(SPECIAL_USERS))
        val path = dir.resolve("flipped.snap")
        val cases =
            listOf(
                0 to "wrong magic",
                5 to "wrong magic",
                8 to "unsupported format version",
                12 to "unknown flags",
                16 to "header says",
                24 to "checksum mismatch",
                32 to "checksum mismatch",
                45 to "checksum mismatch",
                good.size / 2 to "checksum mismatch",
                good.size - 4 to "checksum mismatch",
                good.size - 1 to "checksum mismatch",
            )
        for ((at, expected) in cases) {
            for (mask in listOf(0x01, 0x80, 0xFF)) {
                val damaged = good.copyOf()
                damaged[at] = (damaged[at].toInt() xor mask).toByte()
                Files.write(path, damaged)
                val e = assertFailsWith<CorruptSnapshotException>("byte $at ^ $mask") { open(path) }
                assertContains(e.message.orEmpty(), expected, message = "byte $at ^ $mask")
                assertContains(e.message.orEmpty(), path.toString())
            }
        }
        for (at in good.indices) {
            val damaged = good.copyOf()
            damaged[at] = (damaged[at].toInt() xor 0x10).toByte()
            Files.write(path, damaged)
            assertFailsWith<CorruptSnapshotException>("byte $at") { open(path) }
        }
    }

    @Test
    fun `wrong magic or version is refused`() {
        val path = dir.resolve("other.snap")
        Files.write(path, """[{"id":1,"name":"a"}]""".toByteArray())
        assertContains(assertFailsWith<CorruptSnapshotException> { open(path) }.message.orEmpty(), "wrong magic")
        Files.write(path, ByteArray(0))
        assertContains(assertFailsWith<CorruptSnapshotException> { open(path) }.message.orEmpty(), "truncated: 0 bytes")
        Files.write(path, forge(emptyList(), version = 2))
        assertContains(assertFailsWith<CorruptSnapshotException> { open(path) }.message.orEmpty(), "unsupported format version 2")
    }

    @Test
    fun `records with a valid checksum are still checked one by one`() {
        val path = dir.resolve("forged.snap")
        val cases =
            listOf(
                forge(listOf(1L to "a".toByteArray(), Long.MIN_VALUE to "b".toByteArray())) to "record 1: id 9223372036854775808 is above",
                forge(listOf(-1L to "b".toByteArray())) to "record 0: id 18446744073709551615",
                forge(listOf(2L to "a".toByteArray(), 1L to "b".toByteArray())) to "record 1: id 1 does not follow 2",
                forge(listOf(2L to "a".toByteArray(), 2L to "b".toByteArray())) to "record 1: id 2 does not follow 2",
                forge(listOf(1L to ByteArray(0), 2L to "bcd".toByteArray())) to "record 0: name length 0",
                forge(listOf(1L to byteArrayOf(0x61, 0x62, 0xFF.toByte()))) to
                    "record 0: the name is not valid UTF-8 (invalid byte at offset 2)",
                forge(listOf(1L to byteArrayOf(0xED.toByte(), 0xA0.toByte(), 0x80.toByte()))) to "not valid UTF-8",
                forge(listOf(1L to byteArrayOf(0xC0.toByte(), 0x80.toByte()))) to "not valid UTF-8",
                forge(listOf(1L to byteArrayOf(0xF4.toByte(), 0x90.toByte(), 0x80.toByte(), 0x80.toByte()))) to "not valid UTF-8",
                forge(listOf(1L to "x".repeat(257).toByteArray())) to "too long: 257",
                forge(listOf(1L to EMOJI.repeat(257).toByteArray())) to "name length 1028",
                forge(listOf(1L to "a".toByteArray()), count = 2) to "cannot fit",
                forge(listOf(1L to "a".toByteArray(), 2L to "b".toByteArray()), count = 1) to "bytes after the last",
                forge(listOf(1L to "abcdefghijkl".toByteArray()), count = 2) to "record 1: runs past the end",
            )
        for ((bytes, expected) in cases) {
            Files.write(path, bytes)
            val e = assertFailsWith<CorruptSnapshotException>(expected) { open(path) }
            assertContains(e.message.orEmpty(), expected)
        }
        Files.write(path, forge(listOf(1L to "a".toByteArray(), 5L to EMOJI.toByteArray())))
        open(path).use { assertEquals(User(5, EMOJI), it.get(5)) }
    }

    @Test
    fun `a failed save throws an IOException naming the file and leaves the target untouched`() {
        val missing = dir.resolve("no-such-dir").resolve("users.snap")
        newStore().use { s ->
            s.put(User(1, "one"))
            val e = assertFailsWith<IOException> { s.save(missing) }
            assertEquals(IOException::class.java, e.javaClass, e.toString())
            assertContains(e.message.orEmpty(), missing.toString())

            // The target is a non-empty directory: the rename fails after the temporary file was written.
            val target = dir.resolve("target.snap")
            Files.createDirectory(target)
            Files.write(target.resolve("keep"), "kept".toByteArray())
            assertFailsWith<IOException> { s.save(target) }
            assertEquals("kept", Files.readString(target.resolve("keep")))
            assertEquals(listOf("target.snap"), dir.listDirectoryEntries().map { it.name }, "no temporary file is left")

            // A good snapshot stays as it was when a save next to it fails.
            val good = dir.resolve("good.snap")
            s.save(good)
            val before = Files.readAllBytes(good)
            assertFailsWith<IOException> { s.save(good.resolve("child")) }
            assertContentEquals(before, Files.readAllBytes(good))
        }
    }

    @Test
    fun `save on a closed store throws StoreClosedException and writes nothing`() {
        val store = newStore()
        store.put(1, "one")
        store.close()
        val path = dir.resolve("closed.snap")
        assertFailsWith<StoreClosedException> { store.save(path) }
        assertTrue(Files.notExists(path))
        assertNull(dir.listDirectoryEntries().firstOrNull(), "nothing written")
    }

    private fun UserStore.put(
        id: Long,
        name: String,
    ) = put(User(id, name))
}

/** Users whose names test the encoding: NUL, emoji, 256 code points, every UTF-8 length, the extreme ids. */
internal val SPECIAL_USERS: List<User> =
    listOf(
        User(0, "zero"),
        User(1, "same"),
        User(2, "same"),
        User(3, "\u0000"),
        User(4, "a\u0000b"),
        User(5, EMOJI),
        User(6, EMOJI.repeat(256)),
        User(7, "x".repeat(256)),
        User(8, "é".repeat(256)),
        User(9, "日".repeat(256)),
        User(10, "Zoë Ελληνικά 日本語 \uDBFF\uDFFF \"q\" \\"),
        User(11, "\u007F\u0080\u07FF\u0800\uFFFF\uD800\uDC00"),
        User(Long.MAX_VALUE, "max"),
    )

/** [count] users with distinct random ids and names mixing ASCII, 2-, 3- and 4-byte characters. */
internal fun randomUsers(
    random: Random,
    count: Int,
): List<User> {
    val alphabet = listOf("a", "Z", "0", " ", "\u0000", "é", "Ω", "日", "€", EMOJI, "\uD834\uDD1E")
    val ids = HashSet<Long>()
    while (ids.size < count) ids.add(if (random.nextInt(10) == 0) random.nextLong(0, 100) else random.nextLong(0, Long.MAX_VALUE))
    return ids.map { id -> User(id, (1..random.nextInt(1, 12)).joinToString("") { alphabet[random.nextInt(alphabet.size)] }) }
}

/** A snapshot of [records] (id, name bytes) with a correct header and CRC-32, valid or not. */
internal fun forge(
    records: List<Pair<Long, ByteArray>>,
    count: Long = records.size.toLong(),
    version: Int = 1,
): ByteArray {
    val size = 36 + records.sumOf { 10 + it.second.size }
    val buffer = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN)
    buffer.put(byteArrayOf(0x89.toByte(), 0x55, 0x53, 0x4E, 0x41, 0x50, 0x0D, 0x0A))
    buffer
        .putInt(version)
        .putInt(0)
        .putLong(size.toLong())
        .putLong(count)
    for ((id, name) in records) buffer.putLong(id).putShort(name.size.toShort()).put(name)
    val crc = CRC32()
    crc.update(buffer.array(), 0, size - 4)
    buffer.putInt(crc.value.toInt())
    return buffer.array()
}
