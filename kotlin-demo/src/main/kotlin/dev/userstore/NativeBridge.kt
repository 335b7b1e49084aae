package dev.userstore

/**
 * The raw native functions, implemented in `src/jni.rs`. Private to the library: they take
 * primitives and arrays only, and trust their caller ([NativeUserStore]) to pass a live handle.
 * Names are UTF-8 byte arrays; see each function in `src/jni.rs` for its encoding.
 */
internal object NativeBridge {
    init {
        NativeLoader.ensureLoaded()
    }

    @JvmStatic external fun create0(): Long

    @JvmStatic external fun destroy0(handle: Long)

    @JvmStatic external fun size0(handle: Long): Long

    @JvmStatic external fun put0(
        handle: Long,
        id: Long,
        nameUtf8: ByteArray,
    )

    /**
     * Writes the name of [id] as UTF-8 into [buffer] (at least [NAME_BUFFER_BYTES] long) and returns
     * the byte count, or -1 when there is no such user. Creates no Java object.
     */
    @JvmStatic external fun getInto0(
        handle: Long,
        id: Long,
        buffer: ByteArray,
    ): Int

    /** The longest name in UTF-8: 256 code points of at most 4 bytes. */
    const val NAME_BUFFER_BYTES = 1024

    @JvmStatic external fun getMany0(
        handle: Long,
        ids: LongArray,
    ): ByteArray

    @JvmStatic external fun remove0(
        handle: Long,
        id: Long,
    ): Boolean

    @JvmStatic external fun findByName0(
        handle: Long,
        nameUtf8: ByteArray,
    ): LongArray

    @JvmStatic external fun getJson0(
        handle: Long,
        id: Long,
    ): ByteArray?

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

    /** Returns [value] and does nothing else: the cost of one call through the boundary (JMH's floor). */
    @JvmStatic external fun noop0(value: Long): Long

    /** Whether the loaded library was built with the `test-hooks` feature. */
    @JvmStatic external fun hasTestHooks0(): Boolean

    /** Panics inside Rust on purpose; present only in `test-hooks` builds. */
    @JvmStatic external fun panicForTest0(message: ByteArray)
}
