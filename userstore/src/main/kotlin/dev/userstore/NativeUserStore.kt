package dev.userstore

import java.io.IOException
import java.lang.ref.Cleaner
import java.lang.ref.Reference
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.LongBuffer
import java.nio.file.Path
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicLong
import java.util.concurrent.atomic.AtomicReferenceArray

/**
 * The user store implemented in Rust (`src/core`), called through JNI (`src/jni.rs`).
 *
 * The native memory is owned by this object and freed exactly once: after [close], by the last call
 * out, or, as a backstop only, by a [Cleaner] when the object becomes unreachable without having been
 * closed. Every call registers itself in a call counter; [close] marks the store closed and returns at
 * once (it never waits or spins); whichever of [close] and the calls in flight finds the store closed
 * with no call left frees it (uniffi's objects do the same). So a close racing with calls on other
 * threads can never free memory under a running call: each racing call either completes or throws
 * [StoreClosedException].
 *
 * Thread safety: any number of threads, platform or virtual, may call one store at once. The read path's
 * scratch memory (direct buffers the native side writes into) comes from one small pool shared by every
 * store in the JVM: it is bounded by the calls running at once, not by the threads that ever called nor by
 * the stores ever opened (a pool per store would grow with the open stores and churn direct memory on
 * every create and close).
 *
 * Validation happens in the Rust core (ids, name length, JSON). The one rule checked here is the
 * one that must be checked before encoding: a name with an unpaired surrogate has no UTF-8 form.
 */
class NativeUserStore private constructor(
    private val handle: Long,
) : UserStore {
    /** A new, empty store. Loads the native library on first use. */
    constructor() : this(NativeBridge.create0())

    /** Bit 62: closed. Bit 61: freed. Bits 0..60: calls in flight. */
    private val state = AtomicLong(0)
    private val resource = NativeResource(handle)
    private val cleanable = CLEANER.register(this, resource)

    override val size: Long
        get() = call { NativeBridge.size0(it) }

    override fun put(user: User) = call { NativeBridge.put0(it, user.id, encodeName(user.name)) }

    // The native side writes the name into a pooled direct buffer: no JNI call back into the JVM, no Java
    // object created there; the String is built here (Latin-1 names with a plain copy).
    override fun get(id: Long): User? =
        callWithScratch { handle, s ->
            val word = NativeBridge.getDirect0(handle, id, s.address)
            if (word < 0) null else User(id, s.name(word))
        }

    override fun getMany(ids: LongArray): List<User?> {
        val result = ArrayList<User?>(ids.size)
        callWithScratch { handle, s ->
            // Batches of at most GET_MANY_BATCH ids bound the buffer (and the native side's work per call).
            var from = 0
            do {
                val count = minOf(GET_MANY_BATCH, ids.size - from)
                s.getMany(handle, ids, from, count, result)
                from += count
            } while (from < ids.size)
        }
        return result
    }

    override fun remove(id: Long): Boolean = call { NativeBridge.remove0(it, id) }

    override fun findByName(name: String): List<User> {
        val ids = call { NativeBridge.findByName0(it, encodeName(name)) }
        return ids.map { User(it, name) }
    }

    override fun getJson(id: Long): ByteArray? = callWithScratch { handle, s -> s.getJson(handle, id) }

    override fun importJson(json: ByteArray): Int = call { NativeBridge.importJson0(it, json) }

    override fun exportJson(): ByteArray = call { NativeBridge.exportJson0(it) }

    /** Serialises one consistent view of the store in Rust and writes it; see [UserStore.save] and docs/SNAPSHOT.md. */
    @Throws(IOException::class)
    override fun save(path: Path) {
        val pathUtf8 = encodePath(path)
        call { NativeBridge.save0(it, pathUtf8) }
    }

    override suspend fun getUser(id: Long): User? = get(id)

    /**
     * Closes the store: no call starts after this. Returns at once; the native memory is freed now if no call
     * is in flight, else by the last of those calls as it returns. Idempotent and thread-safe.
     */
    override fun close() {
        while (true) {
            val s = state.get()
            if (s and CLOSED != 0L) return
            if (state.compareAndSet(s, s or CLOSED)) {
                if (s and IN_FLIGHT == 0L) free()
                return
            }
        }
    }

    /** Frees once: only from the state "closed, no call in flight, not freed", which one caller wins. */
    private fun free() {
        if (state.compareAndSet(CLOSED, CLOSED or FREED)) cleanable.clean()
    }

    /** Calls in flight now (for the tests). */
    internal fun callsInFlight(): Long = state.get() and IN_FLIGHT

    /** Whether the native memory has been freed (after [close] and the last call out). */
    internal fun isFreed(): Boolean = state.get() and FREED != 0L

    override fun toString(): String = if (state.get() and CLOSED != 0L) "NativeUserStore(closed)" else "NativeUserStore"

    private inline fun <T> call(block: (Long) -> T): T {
        enter()
        try {
            return block(handle)
        } finally {
            exit()
            Reference.reachabilityFence(this)
        }
    }

    /** [call] with a scratch borrowed from the pool for the call's length. */
    private inline fun <T> callWithScratch(block: (Long, Scratch) -> T): T =
        call { handle ->
            val s = SCRATCH.acquire()
            try {
                block(handle, s)
            } finally {
                SCRATCH.release(s)
            }
        }

    private fun enter() {
        // One atomic add: a call that finds the store closed undoes it and never reaches native code.
        if (state.getAndIncrement() and CLOSED != 0L) {
            exit()
            throw StoreClosedException()
        }
    }

    /** Leaves a call; the last call out of a closed store frees it. */
    private fun exit() {
        if (state.decrementAndGet() == CLOSED) free()
    }

    /** Frees the native store once; the Cleaner runs it, from close() or after the store is unreachable. */
    private class NativeResource(
        private val handle: Long,
    ) : Runnable {
        private val freed = AtomicBoolean(false)

        override fun run() {
            if (freed.compareAndSet(false, true)) NativeBridge.destroy0(handle)
        }
    }

    /**
     * Scratch for the read path, kept for reuse in a few slots, so that a call takes one (a volatile read and a
     * compare-and-set on a slot that is usually its thread's own) instead of allocating, and puts it back after.
     * Memory is bounded: at most [SLOTS] scratches wait here, and beyond them only those of the calls running at
     * once exist (a call that finds every slot empty makes a new one; one put back into a full pool is dropped).
     * Why by hand: a ThreadLocal keeps one per thread ever seen, and makes every new virtual thread allocate
     * its own (64 KiB of direct buffer and a native call) before its first get; the JDK has no bounded object pool.
     */
    private class ScratchPool {
        /** Slot i lives at index i * STRIDE, so two slots never share a cache line. */
        private val slots = AtomicReferenceArray<Scratch?>(SLOTS * STRIDE)

        /** Scratches made so far (rare: only when every slot is empty), for the tests. */
        val created = AtomicInteger()

        fun acquire(): Scratch {
            val start = home()
            for (i in 0 until SLOTS) {
                val at = ((start + i) and (SLOTS - 1)) * STRIDE
                val s = slots.get(at)
                if (s != null && slots.compareAndSet(at, s, null)) return s
            }
            created.incrementAndGet()
            return Scratch()
        }

        /**
         * Puts [s] back into the first empty slot from this thread's own. A plain release store, no
         * compare-and-set: should two threads put one into the same slot at once, one scratch is dropped,
         * which only costs a later allocation.
         */
        fun release(s: Scratch) {
            val start = home()
            for (i in 0 until SLOTS) {
                val at = ((start + i) and (SLOTS - 1)) * STRIDE
                if (slots.get(at) == null) {
                    slots.setRelease(at, s)
                    return
                }
            }
        }

        /** This thread's first slot: a platform thread keeps using the same one, so its scratch stays in its cache. */
        private fun home(): Int = System.identityHashCode(Thread.currentThread()) and (SLOTS - 1)
    }

    /**
     * Scratch for one call at a time on the read path: a direct buffer the native side writes into (and reads
     * batch ids from), its address, and a byte array to build Strings from.
     */
    private class Scratch {
        private var buffer: ByteBuffer = newBuffer(INITIAL_BUFFER_BYTES)
        private var longs: LongBuffer = buffer.asLongBuffer()
        var address: Long = NativeBridge.bufferAddress0(buffer)
            private set
        private val bytes = ByteArray(NativeBridge.NAME_BUFFER_BYTES)

        /** getMany's entries, copied from [buffer] in one go, and a native-order view to read their length words. */
        private var entries = ByteArray(INITIAL_BUFFER_BYTES)
        private var entryWords: ByteBuffer = wrap(entries)

        /** The name [NativeBridge.getDirect0] wrote at the start of the buffer, with length word [word]. */
        fun name(word: Int): String {
            buffer.get(0, bytes, 0, byteLength(word))
            return decode(bytes, 0, word)
        }

        /** Looks up ids[from until from + count] in one native call and appends the users to [result]. */
        fun getMany(
            handle: Long,
            ids: LongArray,
            from: Int,
            count: Int,
            result: MutableList<User?>,
        ) {
            val idBytes = count * Long.SIZE_BYTES
            ensure(idBytes + count * TYPICAL_ENTRY_BYTES)
            var needed: Int
            while (true) {
                longs.put(0, ids, from, count)
                needed = NativeBridge.getManyDirect0(handle, address, buffer.capacity(), count)
                if (needed <= buffer.capacity() - idBytes) break
                ensure(idBytes + needed)
            }
            // One bulk copy onto the heap, then every String straight from it.
            if (entries.size < needed) {
                entries = ByteArray(Integer.highestOneBit(needed - 1) shl 1)
                entryWords = wrap(entries)
            }
            val packed = entries
            val words = entryWords
            buffer.get(idBytes, packed, 0, needed)
            var at = 0
            for (i in 0 until count) {
                val word = words.getInt(at)
                at += Int.SIZE_BYTES
                if (word < 0) {
                    result.add(null)
                } else {
                    result.add(User(ids[from + i], decode(packed, at, word)))
                    at += byteLength(word)
                }
            }
        }

        /** The JSON of user [id], or null; grows the buffer and asks again if it was too small. */
        fun getJson(
            handle: Long,
            id: Long,
        ): ByteArray? {
            while (true) {
                val length = NativeBridge.getJsonDirect0(handle, id, address, buffer.capacity())
                if (length < 0) return null
                if (length <= buffer.capacity()) return ByteArray(length).also { buffer.get(0, it, 0, length) }
                ensure(length)
            }
        }

        private fun ensure(capacity: Int) {
            if (capacity <= buffer.capacity()) return
            buffer = newBuffer(Integer.highestOneBit(capacity - 1) shl 1)
            longs = buffer.asLongBuffer()
            address = NativeBridge.bufferAddress0(buffer)
        }

        private fun newBuffer(capacity: Int): ByteBuffer = ByteBuffer.allocateDirect(capacity).order(ByteOrder.nativeOrder())
    }

    /** Opening snapshots; see [open]. */
    companion object {
        /**
         * The system property that makes the loader take the native library from this file instead of the one
         * packed in the jar (for a library built locally, or a platform the jar has no build for).
         */
        const val LIBRARY_PATH_PROPERTY: String = NativeLoader.PATH_PROPERTY

        /** Ids per native call of [getMany]: bounds the direct buffer a batch needs. */
        private const val GET_MANY_BATCH = 4096

        /** A direct buffer's first size: a batch of 1024 ids with typical names fits. */
        private const val INITIAL_BUFFER_BYTES = 64 * 1024

        /** The room guessed per entry of a batch before the native side says what it needs. */
        private const val TYPICAL_ENTRY_BYTES = 24
        private const val CLOSED = 1L shl 62
        private const val FREED = 1L shl 61
        private const val IN_FLIGHT = FREED - 1
        private val CLEANER: Cleaner = Cleaner.create()

        /** Pooled scratches: twice the processors (a power of two, at least 8, at most 64). */
        private val SLOTS: Int = Integer.highestOneBit((2 * Runtime.getRuntime().availableProcessors()).coerceIn(8, 64) * 2 - 1)

        /** References per 64-byte cache line, with compressed (4 bytes) or full (8 bytes) pointers: 16 covers both. */
        private const val STRIDE = 16

        /** The read path's scratch, shared by every store (see the class comment); after [SLOTS], which it uses. */
        private val SCRATCH = ScratchPool()

        /** How many read-path scratches have been made in this JVM (for the tests). */
        internal fun scratchesCreated(): Int = SCRATCH.created.get()

        /** The byte count in a name's length word (see [NativeBridge.getDirect0]). */
        private fun byteLength(word: Int): Int = word and (NativeBridge.LATIN1 - 1)

        /** The name whose length word is [word], its bytes at [at] in [src]: Latin-1 (a plain copy) or UTF-8. */
        private fun decode(
            src: ByteArray,
            at: Int,
            word: Int,
        ): String {
            val charset = if (word and NativeBridge.LATIN1 != 0) Charsets.ISO_8859_1 else Charsets.UTF_8
            return String(src, at, byteLength(word), charset)
        }

        /**
         * A native-order view of [bytes], for getMany's length words. (Not a byte-array VarHandle: Kotlin compiled
         * with -Xjdk-release=17 on a newer JDK calls its signature-polymorphic get as get(Object[]), which throws
         * WrongMethodTypeException at run time.)
         */
        private fun wrap(bytes: ByteArray): ByteBuffer = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder())

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
        fun open(path: Path): NativeUserStore = NativeUserStore(NativeBridge.open0(encodePath(path)))

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
                    throw InvalidUserException("name has an unpaired surrogate U+%04X at index %d".format(c.code, i))
                }
                i++
            }
            return name.toByteArray(Charsets.UTF_8)
        }
    }
}
