package dev.userstore

import java.nio.file.Files
import java.nio.file.Path
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/** The two implementations of durable stores, for the durable tests. */
enum class DurableImpl {
    KOTLIN,
    NATIVE,
    ;

    fun open(
        dir: Path,
        sync: Sync = Sync.ALWAYS,
        checkpointLogBytes: Long = Sync.DEFAULT_CHECKPOINT_LOG_BYTES,
    ): UserStore =
        when (this) {
            KOTLIN -> KotlinUserStore.openDurable(dir, sync, checkpointLogBytes)
            NATIVE -> NativeUserStore.openDurable(dir, sync, checkpointLogBytes)
        }

    /** A store that is not durable. */
    fun memory(): UserStore =
        when (this) {
            KOTLIN -> KotlinUserStore()
            NATIVE -> NativeUserStore()
        }

    val other: DurableImpl get() = if (this == KOTLIN) NATIVE else KOTLIN
}

/** `{appended, durable, syncs, generation}` of [store]'s log, or null if it is not durable. */
internal fun logStats(store: UserStore): LongArray? =
    when (store) {
        is KotlinUserStore -> store.logStats()
        is NativeUserStore -> store.logStats()
        else -> error("unknown store $store")
    }

/** Every regular file of [dir] by name, with its bytes. */
internal fun directoryBytes(dir: Path): Map<String, List<Byte>> =
    Files.list(dir).use { files ->
        files
            .filter { Files.isRegularFile(it) }
            .toList()
            .associate { it.fileName.toString() to Files.readAllBytes(it).toList() }
    }

/** The file names of [dir], sorted. */
internal fun fileNames(dir: Path): List<String> = directoryBytes(dir).keys.sorted()

internal fun logName(generation: Long): String = "log-%020d.wal".format(generation)

internal fun snapshotName(generation: Long): String = "snapshot-%020d.snap".format(generation)

/** The users of [store] as its JSON export, as a String (readable in assertion messages). */
internal fun content(store: UserStore): String = String(store.exportJson(), Charsets.UTF_8)

/** The 28-byte header of the log of [generation], built from docs/DURABILITY.md. */
internal fun walHeader(generation: Long): ByteArray {
    val b =
        java.nio.ByteBuffer
            .allocate(28)
            .order(java.nio.ByteOrder.LITTLE_ENDIAN)
    b
        .put(byteArrayOf(0x89.toByte(), 0x55, 0x53, 0x57, 0x41, 0x4C, 0x0D, 0x0A))
        .putInt(1)
        .putInt(0)
        .putLong(generation)
    val crc = java.util.zip.CRC32()
    crc.update(b.array(), 0, 24)
    b.putInt(crc.value.toInt())
    return b.array()
}

/** Checks that [dir] holds exactly `LOCK`, one snapshot and one log of [generation] (a snapshot only when above 1). */
internal fun assertGenerationFiles(
    dir: Path,
    generation: Long,
) {
    val expected = listOfNotNull("LOCK", logName(generation), if (generation > 1) snapshotName(generation) else null).sorted()
    assertEquals(expected, fileNames(dir))
    assertTrue(Files.size(dir.resolve("LOCK")) == 0L, "LOCK is empty")
}

/** A whole log record around [payload] (length, check, CRC-32, payload), built from docs/DURABILITY.md. */
internal fun walRecord(payload: ByteArray): ByteArray {
    val crc =
        java.util.zip
            .CRC32()
            .apply { update(payload) }
    return java.nio.ByteBuffer
        .allocate(12 + payload.size)
        .order(java.nio.ByteOrder.LITTLE_ENDIAN)
        .putInt(payload.size)
        .putInt(payload.size.inv())
        .putInt(crc.value.toInt())
        .put(payload)
        .array()
}

/** The payload of a batch record (type 4) putting [puts] in order and removing [removes], from docs/DURABILITY.md. */
internal fun batchPayload(
    puts: List<User>,
    removes: LongArray,
): ByteArray {
    val names = puts.map { it.name.toByteArray(Charsets.UTF_8) }
    val b =
        java.nio.ByteBuffer
            .allocate(1 + 4 + names.sumOf { 10 + it.size } + 4 + 8 * removes.size)
            .order(java.nio.ByteOrder.LITTLE_ENDIAN)
    b.put(4).putInt(puts.size)
    for ((i, user) in puts.withIndex()) b.putLong(user.id).putShort(names[i].size.toShort()).put(names[i])
    b.putInt(removes.size)
    for (id in removes) b.putLong(id)
    return b.array()
}
