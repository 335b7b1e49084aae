package dev.userstore.internal.binding

import java.nio.ByteBuffer

/**
 * The raw JNI functions, implemented in `src/jni.rs`. Private to the library: they take
 * primitives and arrays only, and trust their caller ([dev.userstore.internal.binding.JniCalls]) to pass a live
 * handle. A call on a closed store throws [StoreClosedException].
 * Names are UTF-8 byte arrays; see each function in `src/jni.rs` for its encoding.
 */
internal object NativeBridge {
    init {
        NativeLoader.ensureLoaded()
    }

    @JvmStatic external fun create0(): Long

    /** Closes the store if still open and frees the handle cell; only once the owner is unreachable. */
    @JvmStatic external fun destroy0(handle: Long)

    /** Closes the store (never waits; the last call out frees it); true if this call closed it. */
    @JvmStatic external fun close0(handle: Long): Boolean

    /** Whether the closed store's memory has been freed (for the tests). */
    @JvmStatic external fun isFreed0(handle: Long): Boolean

    /** Retired native memory not yet freed, process-wide (for the tests). */
    @JvmStatic external fun pendingFrees0(): Long

    @JvmStatic external fun size0(handle: Long): Long

    @JvmStatic external fun put0(
        handle: Long,
        id: Long,
        nameUtf8: ByteArray,
    )

    /** The address of the direct [buffer], for the `*Direct0` reads below. Called once per buffer. */
    @JvmStatic external fun bufferAddress0(buffer: ByteBuffer): Long

    /**
     * Writes the name of [id] at [address] (a direct buffer of at least `NativeAbi.NAME_BUFFER_BYTES`)
     * and returns its length word: the byte count, plus `NativeAbi.LATIN1` when the bytes are Latin-1
     * rather than UTF-8; -1 when there is no such user. Makes no JNI call back into the JVM and creates
     * no Java object.
     */
    @JvmStatic external fun getDirect0(
        handle: Long,
        id: Long,
        address: Long,
    ): Int

    /**
     * Looks up the [count] ids stored in native byte order at the start of the direct buffer at [address]
     * ([capacity] bytes) and writes after them, per id in order, a native-order Int length word (as
     * [getDirect0]; -1 when missing) and the name's bytes. Returns the bytes the entries need; more than
     * the room after the ids means the entries are incomplete: retry with a larger buffer.
     */
    @JvmStatic external fun getManyDirect0(
        handle: Long,
        address: Long,
        capacity: Int,
        count: Int,
    ): Int

    @JvmStatic external fun remove0(
        handle: Long,
        id: Long,
    ): Boolean

    @JvmStatic external fun findByName0(
        handle: Long,
        nameUtf8: ByteArray,
    ): LongArray

    /**
     * Writes `{"id":…,"name":…}` for [id] at [address] and returns its length, or -1 when there is no such
     * user; a length above [capacity] means nothing was written: retry with a larger buffer.
     */
    @JvmStatic external fun getJsonDirect0(
        handle: Long,
        id: Long,
        address: Long,
        capacity: Int,
    ): Int

    @JvmStatic external fun importJson0(
        handle: Long,
        json: ByteArray,
    ): Int

    @JvmStatic external fun exportJson0(handle: Long): ByteArray

    /** Writes a snapshot to the file named by [pathUtf8]; throws `IOException`s (see `src/jni.rs`). */
    @JvmStatic external fun save0(
        handle: Long,
        pathUtf8: ByteArray,
    )

    /** A new store read from the snapshot named by [pathUtf8]; its handle, owned as one from [create0]. */
    @JvmStatic external fun open0(pathUtf8: ByteArray): Long

    /**
     * A durable store on the directory named by [dirUtf8] (docs/DURABILITY.md); [sync] is 0 ALWAYS, 1 BATCH,
     * 2 NONE; [checkpointLogBytes] at least 1. Its handle, owned as one from [create0]. Throws
     * `StoreLockedException`, `CorruptSnapshotException` or `IOException`s (see `src/jni.rs`).
     */
    @JvmStatic external fun openDurable0(
        dirUtf8: ByteArray,
        sync: Int,
        checkpointLogBytes: Long,
    ): Long

    /** A checkpoint of a durable store; nothing if the store is not durable. */
    @JvmStatic external fun checkpoint0(handle: Long)

    /** Writes `{appended, durable, syncs, generation}` into [out] (at least 4 longs); false if the store is not durable. */
    @JvmStatic external fun logStats0(
        handle: Long,
        out: LongArray,
    ): Boolean

    /**
     * One batch, all or nothing: [puts] encoded by `NativeWire.encodePuts` (id, name length, UTF-8 name per
     * user), then the ids [removes]; returns how many distinct removed ids existed (see `src/jni.rs`).
     */
    @JvmStatic external fun applyBatch0(
        handle: Long,
        puts: ByteArray,
        removes: LongArray,
    ): Int

    /** At most [limit] (>= 0) users with an id >= [fromId], ascending, encoded as `NativeWire.decodePage` reads them. */
    @JvmStatic external fun scan0(
        handle: Long,
        fromId: Long,
        limit: Int,
    ): ByteArray

    /** Writes users, table bytes, durable (1 or 0), log bytes, checkpoints into [out] (`NativeAbi.STATS_FIELDS` longs). */
    @JvmStatic external fun stats0(
        handle: Long,
        out: LongArray,
    )

    /** Returns [value] and does nothing else: the cost of one call through the read path's wrapper (JMH's floor). */
    @JvmStatic external fun noop0(value: Long): Long

    /** As [noop0], through the wrapper that builds jni-rs's environment on every call (the other exports). */
    @JvmStatic external fun noopWithEnv0(value: Long): Long

    /** Whether the loaded library was built with the `test-hooks` feature. */
    @JvmStatic external fun hasTestHooks0(): Boolean

    /** Panics inside Rust on purpose; present only in `test-hooks` builds. */
    @JvmStatic external fun panicForTest0(message: ByteArray)
}
