package dev.userstore.internal.binding

import dev.userstore.User
import java.io.IOException

/**
 * One binding to the Rust library: how [dev.userstore.NativeUserStore] reaches the native store. Two exist,
 * [JniCalls] (JNI, every JDK from 17) and `FfmCalls` (the Foreign Function & Memory API, JDK 22 and later;
 * Java, compiled for JDK 22 into `META-INF/versions/22` of the jar); [NativeBinding] picks one per JVM.
 *
 * Handles are the addresses of native handle cells (`src/handle.rs`), the same for both bindings. Every
 * call on a closed store throws `StoreClosedException`; errors and panics become the same exceptions through
 * either binding (one mapping in Rust, `src/jni.rs` and `src/ffi.rs`). Not part of the public API.
 */
internal interface NativeCalls {
    /** "jni" or "ffm". */
    val name: String

    fun create(): Long

    @Throws(IOException::class)
    fun open(pathUtf8: ByteArray): Long

    /** Closes the store (never waits: the last call out frees it); true if this call closed it. */
    fun close(handle: Long): Boolean

    /** Closes if still open and frees the handle; only once its owner is unreachable. */
    fun destroy(handle: Long)

    fun isFreed(handle: Long): Boolean

    fun size(handle: Long): Long

    fun put(
        handle: Long,
        id: Long,
        nameUtf8: ByteArray,
    )

    fun get(
        handle: Long,
        id: Long,
    ): User?

    /** Appends to [result] the users of ids[from until from + count], in order. */
    fun getMany(
        handle: Long,
        ids: LongArray,
        from: Int,
        count: Int,
        result: MutableList<User?>,
    )

    fun remove(
        handle: Long,
        id: Long,
    ): Boolean

    fun findByName(
        handle: Long,
        nameUtf8: ByteArray,
    ): LongArray

    fun getJson(
        handle: Long,
        id: Long,
    ): ByteArray?

    fun importJson(
        handle: Long,
        json: ByteArray,
    ): Int

    fun exportJson(handle: Long): ByteArray

    @Throws(IOException::class)
    fun save(
        handle: Long,
        pathUtf8: ByteArray,
    )

    /** A durable store on the directory [dirUtf8]; [sync] is the ordinal of `dev.userstore.Sync`. */
    @Throws(IOException::class)
    fun openDurable(
        dirUtf8: ByteArray,
        sync: Int,
        checkpointLogBytes: Long,
    ): Long

    /** A checkpoint; nothing if the store is not durable. */
    @Throws(IOException::class)
    fun checkpoint(handle: Long)

    /** `{appended, durable, syncs, generation}`, or null if the store is not durable. */
    fun logStats(handle: Long): LongArray?

    /**
     * One batch, all or nothing: [puts] as `NativeWire.encodePuts` encodes them, then [removes]; how many
     * distinct removed ids existed.
     */
    fun applyBatch(
        handle: Long,
        puts: ByteArray,
        removes: LongArray,
    ): Int

    /** A page of at most [limit] (>= 0) users with an id >= [fromId], encoded as `NativeWire.decodePage` reads it. */
    fun scan(
        handle: Long,
        fromId: Long,
        limit: Int,
    ): ByteArray

    /** `{users, tableBytes, durable (1/0), logBytes, checkpoints}` (`NativeAbi.STATS_FIELDS` longs). */
    fun stats(handle: Long): LongArray

    /** Whether the loaded library has the test-only entries. */
    fun hasTestHooks(): Boolean

    /** Makes Rust panic with [message] (test builds of the library only). */
    fun panicForTest(message: ByteArray)

    /** Retired native memory not yet freed, process-wide (for the tests). */
    fun pendingFrees(): Long

    /** Returns [value] through the cheapest call this binding makes (JMH's floor). */
    fun noop(value: Long): Long
}
