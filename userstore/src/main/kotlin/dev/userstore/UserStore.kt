package dev.userstore

import java.io.IOException
import java.nio.file.Path

/** A user: an id in `0..Long.MAX_VALUE` and a name of 1 to 256 code points (see docs/RULES.md). */
data class User(
    val id: Long,
    val name: String,
)

/**
 * A thread-safe, in-memory user store. Two implementations share this contract:
 * [NativeUserStore] (the Rust core, through FFM on JDK 22+ or JNI) and [KotlinUserStore] (pure Kotlin).
 * Swap one for the other in one line; `docs/RULES.md` lists the rules both enforce identically.
 */
interface UserStore : AutoCloseable {
    /** Number of users stored. */
    val size: Long

    /** Inserts [user], or replaces the user with the same id. */
    fun put(user: User)

    /** The user with [id], or null. */
    fun get(id: Long): User?

    /** One entry per id, in the same order, null where missing. */
    fun getMany(ids: LongArray): List<User?>

    /** Removes the user with [id]; true if there was one. */
    fun remove(id: Long): Boolean

    /** Users whose name equals [name] exactly, sorted by id. */
    fun findByName(name: String): List<User>

    /** The user as UTF-8 JSON `{"id":…,"name":…}`, or null. */
    fun getJson(id: Long): ByteArray?

    /** Imports a UTF-8 JSON array of `{"id":…,"name":…}` objects, all or nothing; returns the record count. */
    fun importJson(json: ByteArray): Int

    /** All users as a UTF-8 JSON array sorted by id. */
    fun exportJson(): ByteArray

    /**
     * Writes every user to [path] as a snapshot (docs/SNAPSHOT.md), replacing the file atomically: it holds
     * either its previous content or the complete new snapshot, even if the process dies meanwhile. Both
     * implementations write the same bytes for the same content; `open(path)` on either class reads it back.
     *
     * @throws IOException naming [path] if the file cannot be written; the target is then untouched
     * @throws StoreClosedException if the store is closed
     */
    @Throws(IOException::class)
    fun save(path: Path)

    /**
     * On a durable store (`openDurable`, docs/DURABILITY.md), a checkpoint: the log is synced and a new one
     * started, then the content is written as a snapshot and the files of the older generations deleted, so
     * the next open replays nothing before it. Writers are held off only while the log is rotated and the
     * content copied. A write that leaves the log at `checkpointLogBytes` or more runs one by itself. On a
     * store that is not durable, does nothing.
     *
     * @throws IOException naming the file if the new log or the snapshot cannot be written (the directory
     *   still opens to the same content)
     * @throws DurabilityException if the current log cannot be written or synced
     * @throws StoreClosedException if the store is closed
     */
    @Throws(IOException::class)
    fun checkpoint()

    /** [get] in the coroutine shape a Ktor handler uses. */
    suspend fun getUser(id: Long): User?

    /** Frees the store; idempotent. Later calls throw [StoreClosedException]. */
    override fun close()
}
