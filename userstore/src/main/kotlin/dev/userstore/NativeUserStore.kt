package dev.userstore

import dev.userstore.internal.OpenDirectories
import dev.userstore.internal.binding.NativeAbi
import dev.userstore.internal.binding.NativeBinding
import dev.userstore.internal.binding.NativeCalls
import dev.userstore.internal.binding.NativeLoader
import dev.userstore.internal.binding.NativeWire
import java.io.IOException
import java.lang.ref.Cleaner
import java.lang.ref.Reference
import java.nio.file.Path
import java.util.concurrent.atomic.AtomicBoolean

/**
 * The user store implemented in Rust (`src/core`), called through JNI (`src/jni.rs`, JDK 17 and later) or,
 * on JDK 22 and later, through the Foreign Function & Memory API (`src/ffi.rs`, critical downcalls for the
 * reads); [binding] says which. `-Duserstore.binding=jni|ffm` forces one.
 *
 * The native memory is owned by this object. [close] marks the store closed in native memory and returns at
 * once (it never waits or spins); the store's memory is freed when the calls running at that moment have
 * returned (at once if there are none), through the Rust library's reclamation (`src/handle.rs`,
 * `src/reclaim.rs`): each call pins its thread with a store to that thread's own line, no atomic
 * read-modify-write and no fence, and no line shared between threads is written on a call. A close racing
 * with calls can never free memory under a running call: each racing call either completes or throws
 * [StoreClosedException]. A [Cleaner] frees the small handle cell (and closes a store that was never closed)
 * once this object is unreachable.
 *
 * Thread safety: any number of threads, platform or virtual, may call one store at once.
 *
 * Validation happens in the Rust core (ids, name length, JSON). The one rule checked here is the
 * one that must be checked before encoding: a name with an unpaired surrogate has no UTF-8 form.
 */
class NativeUserStore private constructor(
    private val handle: Long,
    private val calls: NativeCalls,
    /** A durable store's entry in the JVM's registry of open directories; null if not durable. */
    private val directory: OpenDirectories.Registration? = null,
) : UserStore {
    /** A new, empty store, through this JVM's binding ([binding]). Loads the native library on first use. */
    constructor() : this(CALLS)

    private constructor(calls: NativeCalls) : this(calls.create(), calls)

    /**
     * Set by [close]. Read at the start of every call (a plain load on x86, no fence) so a closed store refuses a
     * call before looking at its arguments; the native side is what guarantees it (the handle cell is cleared).
     */
    @Volatile private var closed = false

    init {
        CLEANER.register(this, Destroy(handle, calls, directory))
    }

    override val size: Long
        get() = call { calls.size(handle) }

    override fun put(user: User) = call { calls.put(handle, user.id, encodeName(user.name)) }

    override fun get(id: Long): User? = call { calls.get(handle, id) }

    override fun getMany(ids: LongArray): List<User?> {
        val result = ArrayList<User?>(ids.size)
        call {
            // Batches of at most GET_MANY_BATCH ids bound the buffers (and the native side's work per call).
            var from = 0
            do {
                val count = minOf(GET_MANY_BATCH, ids.size - from)
                calls.getMany(handle, ids, from, count, result)
                from += count
            } while (from < ids.size)
        }
        return result
    }

    override fun remove(id: Long): Boolean = call { calls.remove(handle, id) }

    override fun findByName(name: String): List<User> {
        val ids = call { calls.findByName(handle, encodeName(name)) }
        return ids.map { User(it, name) }
    }

    override fun getJson(id: Long): ByteArray? = call { calls.getJson(handle, id) }

    override fun importJson(json: ByteArray): Int = call { calls.importJson(handle, json) }

    override fun exportJson(): ByteArray = call { calls.exportJson(handle) }

    /** Serialises one consistent view of the store in Rust and writes it; see [UserStore.save] and docs/SNAPSHOT.md. */
    @Throws(IOException::class)
    override fun save(path: Path) {
        val pathUtf8 = encodePath(path)
        call { calls.save(handle, pathUtf8) }
    }

    /** A checkpoint in Rust (see [UserStore.checkpoint] and docs/DURABILITY.md); nothing if the store is not durable. */
    @Throws(IOException::class)
    override fun checkpoint() = call { calls.checkpoint(handle) }

    /** `{appended, durable, syncs, generation}` of the log (docs/DURABILITY.md), or null if not durable (tests). */
    internal fun logStats(): LongArray? = call { calls.logStats(handle) }

    /**
     * One page, read in Rust with every shard's writer mutex held (one consistent view, as [exportJson]): the
     * `limit` smallest ids >= [fromId] are selected in one pass over the tables, then sorted.
     */
    override fun scan(
        fromId: Long,
        limit: Int,
    ): List<User> {
        if (closed) throw StoreClosedException()
        require(limit >= 0) { "limit must not be negative, not $limit" }
        return NativeWire.decodePage(call { calls.scan(handle, fromId, limit) })
    }

    /**
     * One native call: the names are encoded here (an unpaired surrogate is an [InvalidUserException] before
     * anything is sent), every other rule is checked by the Rust core before it changes anything; it holds the
     * touched shards' writer mutexes for the whole batch, so readers see all of it or none.
     */
    override fun applyBatch(
        puts: Collection<User>,
        removeIds: LongArray,
    ): Int {
        if (closed) throw StoreClosedException()
        val wire = NativeWire.encodePuts(puts)
        return call { calls.applyBatch(handle, wire, removeIds) }
    }

    override fun stats(): StoreStats {
        val values = call { calls.stats(handle) }
        return StoreStats(
            users = values[0],
            bytes = values[1],
            durable = values[2] != 0L,
            logBytes = values[3],
            checkpoints = values[4],
        )
    }

    override suspend fun getUser(id: Long): User? = get(id)

    /**
     * Closes the store: no call starts after this. The native memory is freed now if no call is in flight, else
     * by the last of those calls as it returns. A durable store first writes and syncs its buffered records
     * and releases its directory (waiting for the writers holding the log's lock), so the directory can be
     * opened again when this returns. Idempotent and thread-safe.
     */
    override fun close() {
        closed = true
        try {
            calls.close(handle)
        } finally {
            directory?.release()
            Reference.reachabilityFence(this)
        }
    }

    /** Whether the native memory has been freed (after [close] and the last call out); for the tests. */
    internal fun isFreed(): Boolean =
        try {
            calls.isFreed(handle)
        } finally {
            Reference.reachabilityFence(this)
        }

    override fun toString(): String = if (closed) "NativeUserStore(closed)" else "NativeUserStore"

    /** Keeps this object (so its handle cell) reachable until [block] returns: the Cleaner cannot run under a call. */
    private inline fun <T> call(block: () -> T): T {
        if (closed) throw StoreClosedException()
        try {
            return block()
        } finally {
            Reference.reachabilityFence(this)
        }
    }

    /** Frees the handle cell (closing the store first if it is still open) once the store is unreachable. */
    private class Destroy(
        private val handle: Long,
        private val calls: NativeCalls,
        private val directory: OpenDirectories.Registration?,
    ) : Runnable {
        private val done = AtomicBoolean(false)

        override fun run() {
            if (done.compareAndSet(false, true)) {
                try {
                    calls.destroy(handle)
                } finally {
                    directory?.release()
                }
            }
        }
    }

    /** Opening snapshots; see [open]. */
    companion object {
        /**
         * The system property that makes the loader take the native library from this file instead of the one
         * packed in the jar (for a library built locally, or a platform the jar has no build for).
         */
        const val LIBRARY_PATH_PROPERTY: String = NativeLoader.PATH_PROPERTY

        /** Ids per native call of [getMany]: bounds the buffers a batch needs. */
        private const val GET_MANY_BATCH = 4096

        /** The binding this JVM uses (see [binding]). */
        private val CALLS: NativeCalls = NativeBinding.calls

        /**
         * The binding this JVM uses to reach the Rust library: `"ffm"` (the Foreign Function & Memory API, the
         * default on JDK 22 and later) or `"jni"` (JDK 17 to 21, or forced with `-Duserstore.binding=jni`).
         * Loads the native library on first use.
         */
        @JvmStatic
        fun binding(): String = CALLS.name

        /**
         * A new, empty store reached through the named binding, `"jni"` or `"ffm"`, whatever this JVM's default:
         * for side-by-side comparisons of the two bindings in one process (the demo does). `"ffm"` needs JDK 22
         * or later and a jar with the FFM binding, else [UnsupportedOperationException]; any other name is an
         * [IllegalArgumentException].
         */
        @JvmStatic
        fun withBinding(binding: String): NativeUserStore = NativeUserStore(NativeBinding.named(binding))

        private val CLEANER: Cleaner = Cleaner.create()

        /**
         * A new store holding the users of the snapshot at [path] (docs/SNAPSHOT.md), written by either
         * implementation. The Rust core reads and checks the whole file (length, magic, version, CRC-32, every
         * record) before it builds the store, so a damaged file loads nothing.
         *
         * @throws java.nio.file.NoSuchFileException (its message is [path]) if the file does not exist
         * @throws CorruptSnapshotException if the file is not a valid snapshot
         * @throws IOException naming [path] if it cannot be read
         */
        @JvmStatic
        @Throws(IOException::class)
        fun open(path: Path): NativeUserStore = NativeUserStore(CALLS.open(encodePath(path)), CALLS)

        /**
         * A durable store on the data directory [dir] (docs/DURABILITY.md), created with its parents if missing,
         * kept by the Rust core: the newest snapshot is loaded and the logs after it replayed (a torn tail of the
         * newest log is cut), and every write from then on returns only once its record is durable as [sync]
         * says. A write that leaves the log at [checkpointLogBytes] bytes or more runs a [checkpoint] before it
         * returns. The directory stays locked until [close]. The same directory opens with
         * [KotlinUserStore.openDurable].
         *
         * @throws IllegalArgumentException if [checkpointLogBytes] is below 1
         * @throws StoreLockedException naming `DIR/LOCK` if another store (this process or another) has [dir] open
         * @throws CorruptSnapshotException naming the file and the offset of a damaged snapshot or log record;
         *   nothing is loaded and nothing in the directory is changed
         * @throws IOException naming the file for any other failure
         */
        @JvmStatic
        @JvmOverloads
        @Throws(IOException::class)
        fun openDurable(
            dir: Path,
            sync: Sync = Sync.ALWAYS,
            checkpointLogBytes: Long = Sync.DEFAULT_CHECKPOINT_LOG_BYTES,
        ): NativeUserStore {
            require(checkpointLogBytes >= 1) { "checkpointLogBytes must be at least 1, not $checkpointLogBytes" }
            // This JVM's registry first: a second descriptor of LOCK opened and closed here would drop the
            // classic POSIX lock a KotlinUserStore of this process holds on it.
            val directory = OpenDirectories.register(dir)
            val handle =
                try {
                    CALLS.openDurable(encodePath(dir), NativeAbi.syncCode(sync), checkpointLogBytes)
                } catch (t: Throwable) {
                    directory.release()
                    throw t
                }
            return NativeUserStore(handle, CALLS, directory)
        }

        /** The path as the UTF-8 bytes the native side reads. */
        private fun encodePath(path: Path): ByteArray = path.toString().toByteArray(Charsets.UTF_8)

        /** UTF-8 bytes of [name]; a name with an unpaired surrogate has none and is refused. */
        private fun encodeName(name: String): ByteArray {
            var i = 0
            while (i < name.length) {
                val c = name[i]
                if (Character.isHighSurrogate(c) && i + 1 < name.length && Character.isLowSurrogate(name[i + 1])) {
                    i += 2
                    continue
                }
                if (Character.isSurrogate(c)) {
                    throw InvalidUserException("invalid name: unpaired surrogate U+%04X at index %d".format(c.code, i))
                }
                i++
            }
            return name.toByteArray(Charsets.UTF_8)
        }
    }
}
