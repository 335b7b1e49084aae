package dev.userstore

import java.io.IOException
import java.lang.ref.Cleaner
import java.lang.ref.Reference
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.file.Path
import java.util.concurrent.atomic.AtomicBoolean
import java.util.concurrent.atomic.AtomicLong

/**
 * The user store implemented in Rust (`src/core`), called through JNI (`src/jni.rs`).
 *
 * The native memory is owned by this object and freed exactly once: by [close], or, as a backstop
 * only, by a [Cleaner] when the object becomes unreachable without having been closed. Every call
 * registers itself in a call counter; [close] marks the store closed, waits until the calls in
 * flight have returned, then frees. So a close racing with calls on other threads can never free
 * memory under a running call: each racing call either completes or throws [StoreClosedException].
 *
 * Validation happens in the Rust core (ids, name length, JSON). The one rule checked here is the
 * one that must be checked before encoding: a name with an unpaired surrogate has no UTF-8 form.
 */
class NativeUserStore private constructor(
    private val handle: Long,
) : UserStore {
    /** A new, empty store. Loads the native library on first use. */
    constructor() : this(NativeBridge.create0())

    /** Bit 62: closed. Bits 0..61: calls in flight. */
    private val state = AtomicLong(0)
    private val resource = NativeResource(handle)
    private val cleanable = CLEANER.register(this, resource)

    override val size: Long
        get() = call { NativeBridge.size0(it) }

    override fun put(user: User) = call { NativeBridge.put0(it, user.id, encodeName(user.name)) }

    override fun get(id: Long): User? {
        // One reused buffer per thread: the native side copies the name into it, no byte[] per call.
        val buffer = NAME_BUFFER.get()
        val length = call { NativeBridge.getInto0(it, id, buffer) }
        return if (length < 0) null else User(id, String(buffer, 0, length, Charsets.UTF_8))
    }

    override fun getMany(ids: LongArray): List<User?> {
        val packed = call { NativeBridge.getMany0(it, ids) }
        val buffer = ByteBuffer.wrap(packed).order(ByteOrder.LITTLE_ENDIAN)
        val result = ArrayList<User?>(ids.size)
        for (id in ids) {
            val length = buffer.getInt()
            if (length < 0) {
                result.add(null)
            } else {
                result.add(User(id, String(packed, buffer.position(), length, Charsets.UTF_8)))
                buffer.position(buffer.position() + length)
            }
        }
        return result
    }

    override fun remove(id: Long): Boolean = call { NativeBridge.remove0(it, id) }

    override fun findByName(name: String): List<User> {
        val ids = call { NativeBridge.findByName0(it, encodeName(name)) }
        return ids.map { User(it, name) }
    }

    override fun getJson(id: Long): ByteArray? = call { NativeBridge.getJson0(it, id) }

    override fun importJson(json: ByteArray): Int = call { NativeBridge.importJson0(it, json) }

    override fun exportJson(): ByteArray = call { NativeBridge.exportJson0(it) }

    /** Serialises one consistent view of the store in Rust and writes it; see [UserStore.save] and docs/SNAPSHOT.md. */
    @Throws(IOException::class)
    override fun save(path: Path) {
        val pathUtf8 = encodePath(path)
        call { NativeBridge.save0(it, pathUtf8) }
    }

    override suspend fun getUser(id: Long): User? = get(id)

    override fun close() {
        while (true) {
            val s = state.get()
            if (s and CLOSED != 0L) return
            if (state.compareAndSet(s, s or CLOSED)) break
        }
        // No new call can start now; wait for the calls in flight, then free once.
        var spins = 0
        while (state.get() and IN_FLIGHT != 0L) {
            if (++spins < 100) Thread.onSpinWait() else Thread.yield()
        }
        cleanable.clean()
    }

    override fun toString(): String = if (state.get() and CLOSED != 0L) "NativeUserStore(closed)" else "NativeUserStore"

    private inline fun <T> call(block: (Long) -> T): T {
        enter()
        try {
            return block(handle)
        } finally {
            state.decrementAndGet()
            Reference.reachabilityFence(this)
        }
    }

    private fun enter() {
        while (true) {
            val s = state.get()
            if (s and CLOSED != 0L) throw StoreClosedException()
            if (state.compareAndSet(s, s + 1)) return
        }
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

    /** Opening snapshots; see [open]. */
    companion object {
        private const val CLOSED = 1L shl 62
        private const val IN_FLIGHT = CLOSED - 1
        private val CLEANER: Cleaner = Cleaner.create()
        private val NAME_BUFFER: ThreadLocal<ByteArray> = ThreadLocal.withInitial { ByteArray(NativeBridge.NAME_BUFFER_BYTES) }

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
