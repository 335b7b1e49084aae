package dev.userstore.internal.binding

import dev.userstore.CorruptSnapshotException
import dev.userstore.DurabilityException
import dev.userstore.InvalidJsonException
import dev.userstore.InvalidUserException
import dev.userstore.NativeStoreException
import dev.userstore.StoreClosedException
import dev.userstore.StoreLockedException
import java.io.IOException
import java.nio.file.NoSuchFileException

/**
 * The JVM side of the native ABI: the error codes, flags and constants both bindings share with the
 * Rust boundary, and the one place that turns an error code into its exception.
 *
 * The source of every value is `src/abi.rs`; `NativeAbiTest` reads that file and fails when a constant
 * here differs from it, is missing here, or exists only here. The FFM binding gets a code as a return
 * value and calls [exception]; the JNI binding's Rust side calls [exception] through JNI and throws
 * what it returns, so both bindings throw the same class with the same message for the same failure.
 */
internal object NativeAbi {
    /** The version of the C ABI the FFM binding speaks. */
    const val ABI_VERSION = 1

    /** No such user (a get, a getMany entry, a getJson): not an error. */
    const val MISSING = -1
    const val ERR_CLOSED = -2
    const val ERR_INVALID_USER = -3
    const val ERR_INVALID_JSON = -4
    const val ERR_NO_SUCH_FILE = -5
    const val ERR_CORRUPT_SNAPSHOT = -6
    const val ERR_IO = -7
    const val ERR_PANIC = -8
    const val ERR_INTERNAL = -9
    const val ERR_LOCKED = -10
    const val ERR_LOG_IO = -11

    /** An input too large to take (a batch whose log record would pass 1 GiB): [IllegalArgumentException]. */
    const val ERR_TOO_LARGE = -12

    /** Set in a name's length word when its bytes are Latin-1 (one byte per char) rather than UTF-8. */
    const val LATIN1 = 1 shl 20

    /** The room the longest name needs in UTF-8: 256 code points of at most 4 bytes. */
    const val NAME_BUFFER_BYTES = 1024

    const val SYNC_ALWAYS = 0
    const val SYNC_BATCH = 1
    const val SYNC_NONE = 2

    /** The longs `logStats` writes: bytes appended, bytes durable, syncs, generation. */
    const val LOG_STATS_FIELDS = 4

    /** The longs `stats` writes: users, table bytes, durable (1 or 0), log bytes, checkpoints. */
    const val STATS_FIELDS = 5

    /**
     * The exception of error [code] with [message]: bad input is an [IllegalArgumentException] subclass,
     * a closed store an [IllegalStateException] subclass, snapshot and log failures their I/O exceptions,
     * and a panic or a broken call a [NativeStoreException]. Called from Rust by the JNI binding, so its
     * JVM name and signature (`exception(ILjava/lang/String;)Ljava/lang/Throwable;`) are part of the ABI.
     */
    @JvmStatic
    fun exception(
        code: Int,
        message: String,
    ): Throwable =
        when (code) {
            ERR_CLOSED -> StoreClosedException(message)
            ERR_INVALID_USER -> InvalidUserException(message)
            ERR_INVALID_JSON -> InvalidJsonException(message)
            ERR_NO_SUCH_FILE -> NoSuchFileException(message)
            ERR_CORRUPT_SNAPSHOT -> CorruptSnapshotException(message)
            ERR_IO -> IOException(message)
            ERR_LOCKED -> StoreLockedException(message)
            ERR_LOG_IO -> DurabilityException(message)
            ERR_TOO_LARGE -> IllegalArgumentException(message)
            else -> NativeStoreException(message)
        }

    /** The code of [sync] for `openDurable`. */
    fun syncCode(sync: dev.userstore.Sync): Int =
        when (sync) {
            dev.userstore.Sync.ALWAYS -> SYNC_ALWAYS
            dev.userstore.Sync.BATCH -> SYNC_BATCH
            dev.userstore.Sync.NONE -> SYNC_NONE
        }
}
