package dev.userstore

import dev.userstore.internal.engine.StrictJson
import java.io.IOException
import java.io.OutputStream
import java.nio.file.Path

/** A user: an id in `0..Long.MAX_VALUE` and a name of 1 to 256 code points (see docs/RULES.md). */
data class User(
    val id: Long,
    val name: String,
)

/**
 * What a store holds ([UserStore.stats]).
 *
 * @property users the number of users, as [UserStore.size]
 * @property bytes the memory the store's data takes: for [NativeUserStore] the off-heap tables as allocated
 *   (free slots included), for [KotlinUserStore] an estimate of the heap its maps and strings take
 * @property durable true for a store opened with `openDurable`
 * @property logBytes bytes in the current log file, header included (0 if not durable)
 * @property checkpoints checkpoints completed since the store was opened (0 if not durable)
 */
data class StoreStats(
    val users: Long,
    val bytes: Long,
    val durable: Boolean,
    val logBytes: Long,
    val checkpoints: Long,
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
     * At most [limit] users with an id >= [fromId], ascending by id: one page of a walk through the store that
     * never holds the whole store in one array (pass the last id + 1 as the next [fromId]). Each page is a
     * consistent view (writes are held off while it is read, readers are not); pages are not one view
     * together. A page costs a pass over the whole store (the tables are hashed, not ordered), so prefer
     * pages of thousands of users.
     *
     * @throws InvalidUserException if [fromId] is negative
     * @throws IllegalArgumentException if [limit] is negative (0 gives an empty list)
     */
    fun scan(
        fromId: Long,
        limit: Int,
    ): List<User>

    /**
     * Writes the same bytes as [exportJson] returns to [out], page by page through [scan], so a store of any
     * size can be exported. Each page is a consistent view; a user written during the export may or may not
     * appear (use [save] or [exportJson] for one point in time). [out] is neither buffered nor closed here.
     */
    @Throws(IOException::class)
    fun exportJson(out: OutputStream) {
        out.write('['.code)
        var from = 0L
        var first = true
        while (true) {
            val page = scan(from, EXPORT_PAGE_USERS)
            if (page.isNotEmpty()) {
                if (!first) out.write(','.code)
                val json = StrictJson.arrayJson(page)
                out.write(json, 1, json.size - 2)
                first = false
            }
            if (page.size < EXPORT_PAGE_USERS || page.last().id == Long.MAX_VALUE) break
            from = page.last().id + 1
        }
        out.write(']'.code)
    }

    /**
     * Inserts or replaces every user in [users], in iteration order (a later user with the same id wins), all or
     * nothing: every user is validated first, readers see all of them or none, and a durable store logs them as
     * one record (all or nothing across a crash too).
     *
     * @throws InvalidUserException if any user is invalid (the store is then unchanged)
     */
    fun putAll(users: Collection<User>) {
        applyBatch(users, EMPTY_IDS)
    }

    /**
     * Removes every user whose id is in [ids], all or nothing as [putAll]; returns how many existed.
     *
     * @throws InvalidUserException if any id is negative (the store is then unchanged)
     */
    fun removeAll(ids: LongArray): Int = applyBatch(emptyList(), ids)

    /**
     * One atomic write: inserts or replaces [puts] (in iteration order) and removes [removeIds]; returns how many
     * of [removeIds] existed. Everything is validated first; readers see all of it or none of it; a durable
     * store logs it as one record. An id may not be both put and removed (that is an [InvalidUserException]);
     * a batch that changes nothing logs nothing. This is what a replica applies per source transaction.
     *
     * @throws InvalidUserException if a user or id is invalid, or an id is both put and removed
     * @throws IllegalArgumentException if the batch's log record would pass 1 GiB
     */
    fun applyBatch(
        puts: Collection<User>,
        removeIds: LongArray,
    ): Int

    /** The user count, the memory the data takes and, for a durable store, its log's size and checkpoints. */
    fun stats(): StoreStats

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

    private companion object {
        /** Users per [scan] page of [exportJson] (streamed). */
        const val EXPORT_PAGE_USERS = 65_536
        val EMPTY_IDS = LongArray(0)
    }
}
