package dev.userstore.internal.binding

import dev.userstore.User
import dev.userstore.internal.binding.NativeBridge
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.LongBuffer
import java.util.concurrent.atomic.AtomicInteger
import java.util.concurrent.atomic.AtomicReferenceArray

/**
 * The JNI binding (`src/jni.rs`), for every JDK from 17 on; the default below JDK 22.
 *
 * The read path (get, getMany, getJson) makes no JNI call back into the JVM: the native side writes into a
 * direct buffer borrowed from one pool shared by every store in the JVM ([ScratchPool]), and the Strings are
 * built here. A JNI call's return to Java is a full fence whatever this code does; the FFM binding's critical
 * downcalls are the way past it (JDK 22+).
 */
internal object JniCalls : NativeCalls {
    override val name: String get() = "jni"

    override fun create(): Long = NativeBridge.create0()

    override fun open(pathUtf8: ByteArray): Long = NativeBridge.open0(pathUtf8)

    override fun close(handle: Long): Boolean = NativeBridge.close0(handle)

    override fun destroy(handle: Long) = NativeBridge.destroy0(handle)

    override fun isFreed(handle: Long): Boolean = NativeBridge.isFreed0(handle)

    override fun size(handle: Long): Long = NativeBridge.size0(handle)

    override fun put(
        handle: Long,
        id: Long,
        nameUtf8: ByteArray,
    ) = NativeBridge.put0(handle, id, nameUtf8)

    override fun get(
        handle: Long,
        id: Long,
    ): User? =
        withScratch { s ->
            val word = NativeBridge.getDirect0(handle, id, s.address)
            if (word < 0) null else User(id, s.name(word))
        }

    override fun getMany(
        handle: Long,
        ids: LongArray,
        from: Int,
        count: Int,
        result: MutableList<User?>,
    ) = withScratch { s -> s.getMany(handle, ids, from, count, result) }

    override fun remove(
        handle: Long,
        id: Long,
    ): Boolean = NativeBridge.remove0(handle, id)

    override fun findByName(
        handle: Long,
        nameUtf8: ByteArray,
    ): LongArray = NativeBridge.findByName0(handle, nameUtf8)

    override fun getJson(
        handle: Long,
        id: Long,
    ): ByteArray? = withScratch { s -> s.getJson(handle, id) }

    override fun importJson(
        handle: Long,
        json: ByteArray,
    ): Int = NativeBridge.importJson0(handle, json)

    override fun exportJson(handle: Long): ByteArray = NativeBridge.exportJson0(handle)

    override fun save(
        handle: Long,
        pathUtf8: ByteArray,
    ) = NativeBridge.save0(handle, pathUtf8)

    override fun openDurable(
        dirUtf8: ByteArray,
        sync: Int,
        checkpointLogBytes: Long,
    ): Long = NativeBridge.openDurable0(dirUtf8, sync, checkpointLogBytes)

    override fun checkpoint(handle: Long) = NativeBridge.checkpoint0(handle)

    override fun logStats(handle: Long): LongArray? {
        val out = LongArray(NativeAbi.LOG_STATS_FIELDS)
        return if (NativeBridge.logStats0(handle, out)) out else null
    }

    override fun applyBatch(
        handle: Long,
        puts: ByteArray,
        removes: LongArray,
    ): Int = NativeBridge.applyBatch0(handle, puts, removes)

    override fun scan(
        handle: Long,
        fromId: Long,
        limit: Int,
    ): ByteArray = NativeBridge.scan0(handle, fromId, limit)

    override fun stats(handle: Long): LongArray = LongArray(NativeAbi.STATS_FIELDS).also { NativeBridge.stats0(handle, it) }

    override fun hasTestHooks(): Boolean = NativeBridge.hasTestHooks0()

    override fun panicForTest(message: ByteArray) = NativeBridge.panicForTest0(message)

    override fun pendingFrees(): Long = NativeBridge.pendingFrees0()

    override fun noop(value: Long): Long = NativeBridge.noop0(value)

    /** How many read-path scratches have been made in this JVM (for the tests). */
    fun scratchesCreated(): Int = SCRATCH.created.get()

    /** Runs [block] with a scratch borrowed from the pool for its length. */
    private inline fun <T> withScratch(block: (Scratch) -> T): T {
        val s = SCRATCH.acquire()
        try {
            return block(s)
        } finally {
            SCRATCH.release(s)
        }
    }

    /** A direct buffer's first size: a batch of 1024 ids with typical names fits. */
    private const val INITIAL_BUFFER_BYTES = 64 * 1024

    /** The room guessed per entry of a batch before the native side says what it needs. */
    private const val TYPICAL_ENTRY_BYTES = 24

    /** Pooled scratches: twice the processors (a power of two, at least 8, at most 64). */
    private val SLOTS: Int = Integer.highestOneBit((2 * Runtime.getRuntime().availableProcessors()).coerceIn(8, 64) * 2 - 1)

    /** References per 64-byte cache line, with compressed (4 bytes) or full (8 bytes) pointers: 16 covers both. */
    private const val STRIDE = 16

    /** The read path's scratch, shared by every store (see [ScratchPool]); after [SLOTS], which it uses. */
    private val SCRATCH = ScratchPool()

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

        /**
         * This thread's first slot: a platform thread keeps using the same one, so its scratch stays in its cache.
         * From the thread's id, which the JVM hands out in sequence, so threads started together (a server's
         * workers, a benchmark's) get different slots. An identity hash gives two threads the same home slot with
         * a chance of 1 in [SLOTS] (8 on a 2-core machine); they then take and return scratches through the same
         * cache lines on every call, which fits the unsteady 2-thread scaling seen with JNI before this change.
         */
        @Suppress("DEPRECATION") // Thread.threadId() is JDK 19+; getId() is the same number on 17.
        private fun home(): Int = Thread.currentThread().id.toInt() and (SLOTS - 1)
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
        private val bytes = ByteArray(NativeAbi.NAME_BUFFER_BYTES)

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

    /** The byte count in a name's length word (see [NativeBridge.getDirect0]). */
    private fun byteLength(word: Int): Int = word and (NativeAbi.LATIN1 - 1)

    /** The name whose length word is [word], its bytes at [at] in [src]: Latin-1 (a plain copy) or UTF-8. */
    private fun decode(
        src: ByteArray,
        at: Int,
        word: Int,
    ): String {
        val charset = if (word and NativeAbi.LATIN1 != 0) Charsets.ISO_8859_1 else Charsets.UTF_8
        return String(src, at, byteLength(word), charset)
    }

    /**
     * A native-order view of [bytes], for getMany's length words. (Not a byte-array VarHandle: Kotlin compiled
     * with -Xjdk-release=17 on a newer JDK calls its signature-polymorphic get as get(Object[]), which throws
     * WrongMethodTypeException at run time.)
     */
    private fun wrap(bytes: ByteArray): ByteBuffer = ByteBuffer.wrap(bytes).order(ByteOrder.nativeOrder())
}
