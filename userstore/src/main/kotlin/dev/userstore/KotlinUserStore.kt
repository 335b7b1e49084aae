package dev.userstore

import dev.userstore.internal.engine.DataDirectory
import dev.userstore.internal.engine.Snapshot
import dev.userstore.internal.engine.StrictJson
import dev.userstore.internal.engine.Wal
import dev.userstore.internal.engine.WalFormat
import java.io.IOException
import java.lang.invoke.VarHandle
import java.nio.file.Path
import java.util.PriorityQueue
import java.util.concurrent.ConcurrentHashMap
import java.util.concurrent.ConcurrentSkipListSet
import java.util.concurrent.locks.StampedLock

/**
 * The pure-Kotlin [UserStore]: the same rules as [NativeUserStore] (docs/RULES.md, "Concurrency" included), with
 * no native code.
 *
 * Data: users live in a [ConcurrentHashMap] keyed by id, and a name index maps each name to the sorted set of ids
 * holding it. Every change of one id (put, replace, remove) runs inside `ConcurrentHashMap.compute` for that id,
 * and updates the index there, so changes of the same id are serialised and the index never disagrees with the map
 * once a change is done. Index sets are changed only inside `compute` for their name, so a set is never dropped
 * while another id is being added to it. Locks are always taken id first, then name, so they cannot deadlock.
 *
 * Two store-wide [StampedLock]s make the whole-store operations atomic, the Kotlin counterpart of the Rust core's
 * shard mutexes and seqlock windows (src/core/store.rs):
 * - `gate` orders the writers. A write of one id ([put], [remove]) holds it shared; [importJson], [applyBatch],
 *   [exportJson], [scan], [save] and [close] hold it exclusively, so they never run while a write of one id is
 *   half done, and those writes wait while they run.
 * - `view` guards the readers against imports, with `readState`, a seqlock word beside it. Only [importJson]
 *   and [applyBatch] take `view`, exclusively, while they apply their changes, and mark `readState` odd
 *   meanwhile (+4 in all).
 *   Every read ([get], [getMany], [getJson], [findByName], [size]) is optimistic: it loads `readState` (one
 *   volatile load), looks up the maps, fences (an acquire fence, free on x86) and loads `readState` again. Equal,
 *   and neither importing nor closed: done. Otherwise it reads again holding `view` shared, so it waits for the
 *   import to finish and sees it whole. A read that overlaps no import writes nothing, takes no lock and executes
 *   no read-modify-write: the hot read path stays a [ConcurrentHashMap] lookup between the same two volatile
 *   loads it had before imports were atomic (`StampedLock.tryOptimisticRead`/`validate` alone would add two loads
 *   to those of the closed flag; `readState` carries the closed flag too, which is why it is written here).
 * So a reader sees an import or a batch before or after, never part of it; [exportJson], [scan] and [save] copy a
 * state the store really had between two writes (readers go on meanwhile: they do not take `gate`). Both locks
 * park, never pin a virtual thread, and neither is held while a caller's code runs.
 *
 * Closing: [close] takes `gate` exclusively, sets a volatile flag and empties both maps, so no write is half done
 * when it empties them, and a write that takes `gate` after it throws [StoreClosedException]. It also sets the
 * closed bit of `readState` before emptying the maps, so a read that starts after it, or overlaps the emptying,
 * fails its check, reads again under `view` and throws [StoreClosedException]: a read racing with [close] either
 * returns what it would have returned before the close or throws, never a result damaged by the emptying.
 *
 * Durable stores ([openDurable], docs/DURABILITY.md) add a write-ahead log: every write applies its change and
 * appends its record under the log's one writer lock (a `ReentrantLock`, so virtual threads do not pin), so the
 * log's order is the order of the changes, then waits for durability as its [Sync] mode says after releasing
 * every lock. Lock order, always: `gate`, then the log's writer lock, then `view`; a checkpoint takes only the
 * log's locks (every change happens under the writer lock, so its copy is consistent), so nothing can deadlock.
 * A store that is not durable has no log lock.
 */
class KotlinUserStore private constructor(
    expectedUsers: Int,
    private val wal: Wal?,
) : UserStore {
    /** A new, empty store. */
    constructor() : this(DEFAULT_CAPACITY, null)

    private val users = ConcurrentHashMap<Long, User>(expectedUsers)
    private val idsByName = ConcurrentHashMap<String, ConcurrentSkipListSet<Long>>(expectedUsers)

    /** Shared: a write of one id. Exclusive: an import, an export, a save, a close. See the class documentation. */
    private val gate = StampedLock()

    /** Exclusive while an import applies its records; readers validate against it. See the class documentation. */
    private val view = StampedLock()

    /** The readers' seqlock word (see the class documentation): [IMPORTING], [CLOSED], and +4 per import. */
    @Volatile
    private var readState = 0L

    @Volatile
    private var closed = false

    override val size: Long
        get() {
            return read { users.mappingCount() }
        }

    override fun put(user: User) {
        checkOpen()
        checkId(user.id)
        checkName(user.name)
        val wal = wal
        if (wal == null) {
            write { store(user) }
            return
        }
        val name = user.name.toByteArray(Charsets.UTF_8)
        val ticket =
            write {
                wal.lock.lock()
                try {
                    wal.checkWritable()
                    store(user)
                    wal.appendPut(user.id, name)
                } finally {
                    wal.lock.unlock()
                }
            }
        wal.commit(ticket)
    }

    override fun get(id: Long): User? {
        checkReadId(id)
        return read { users[id] }
    }

    /** All ids are looked up at one point with respect to imports (see docs/RULES.md, "Concurrency"). */
    override fun getMany(ids: LongArray): List<User?> {
        for (id in ids) checkReadId(id)
        val result = ArrayList<User?>(ids.size)
        read {
            result.clear()
            for (id in ids) result.add(users[id])
        }
        return result
    }

    override fun remove(id: Long): Boolean {
        checkOpen()
        checkId(id)
        val wal = wal ?: return write { removeUser(id) }
        val ticket =
            write {
                wal.lock.lock()
                try {
                    wal.checkWritable()
                    // A remove that finds no user changes nothing and logs nothing.
                    if (removeUser(id)) wal.appendRemove(id) else -1L
                } finally {
                    wal.lock.unlock()
                }
            }
        if (ticket < 0) return false
        wal.commit(ticket)
        return true
    }

    private fun removeUser(id: Long): Boolean {
        var removed = false
        users.computeIfPresent(id) { _, old ->
            unindex(old)
            removed = true
            null
        }
        return removed
    }

    override fun findByName(name: String): List<User> {
        try {
            checkName(name)
        } catch (e: InvalidUserException) {
            checkOpen()
            throw e
        }
        return read {
            val ids = idsByName[name]
            if (ids == null) {
                emptyList()
            } else {
                val found = ArrayList<User>(ids.size)
                // The set iterates in ascending id order; an id may have moved on to another name meanwhile.
                for (id in ids) {
                    val user = users[id]
                    if (user != null && user.name == name) found.add(user)
                }
                found
            }
        }
    }

    override fun getJson(id: Long): ByteArray? {
        checkReadId(id)
        val user = read { users[id] } ?: return null
        return StrictJson.userJson(user)
    }

    /**
     * Validates the whole input first (an invalid input throws [InvalidJsonException] and changes nothing), then
     * applies the records in input order (the later of two records with one id wins) as one change: readers see
     * the store before or after it, never part of it (see the class documentation).
     */
    override fun importJson(json: ByteArray): Int {
        checkOpen()
        val records = StrictJson.parseRecords(json)
        // An import of no records changes nothing and logs nothing.
        if (records.isEmpty()) return finish(0)
        val wal = wal
        if (wal == null) {
            exclusive { applyAll(records) }
            return records.size
        }
        val encoded = WalFormat.importRecords(records, records.map { it.name.toByteArray(Charsets.UTF_8) })
        val ticket =
            exclusive {
                wal.lock.lock()
                try {
                    wal.checkWritable()
                    applyAll(records)
                    wal.appendRecords(encoded)
                } finally {
                    wal.lock.unlock()
                }
            }
        wal.commit(ticket)
        return records.size
    }

    /**
     * Under `gate` held exclusively: stores [records] (valid) in order while holding `view` exclusively, so that no
     * reader sees some of them and not the others. The one place a batch of writes becomes visible.
     */
    private fun applyAll(records: List<User>) {
        applyVisible { for (user in records) store(user) }
    }

    /**
     * Under `gate` held exclusively: runs [changes] (several writes: an import's records, a batch) while holding
     * `view` exclusively with `readState` odd, so that no reader sees some of them and not the others.
     */
    private inline fun <T> applyVisible(changes: () -> T): T {
        val stamp = view.writeLock()
        try {
            readState += IMPORTING
            // The odd word is visible before any of the changes (CHM's writes are volatile too; this says it).
            VarHandle.releaseFence()
            try {
                return changes()
            } finally {
                // Odd to even, and 4 more than before the import: every read that overlapped it reads again.
                readState += 3
            }
        } finally {
            view.unlockWrite(stamp)
        }
    }

    /** One consistent copy of the store: writers wait while the users are copied, readers do not. */
    override fun exportJson(): ByteArray {
        checkOpen()
        val snapshot = exclusive { sortedUsers() }
        return finish(StrictJson.arrayJson(snapshot))
    }

    /**
     * Writes a snapshot of the users (copied and sorted by id, as [exportJson] does: one consistent state) to
     * [path] atomically; see [UserStore.save] and docs/SNAPSHOT.md. The file is written after the copy, holding
     * no lock.
     */
    @Throws(IOException::class)
    override fun save(path: Path) {
        checkOpen()
        val snapshot = exclusive { sortedUsers() }
        checkOpen()
        Snapshot.save(path, snapshot)
    }

    /**
     * The users, copied and sorted by id. Consistent when no write runs: under `gate` held exclusively, or under
     * the log's writer lock of a durable store (checkpoints).
     */
    private fun sortedUsers(): List<User> {
        val snapshot = ArrayList<User>(users.size)
        snapshot.addAll(users.values)
        snapshot.sortBy { it.id }
        return snapshot
    }

    /**
     * A checkpoint of a durable store (docs/DURABILITY.md, "Checkpoints"): the writers are held off while the log
     * is synced and rotated and the content copied (sorted by id, as [save] does); the snapshot is written after.
     * Does nothing on a store that is not durable.
     *
     * @throws IOException naming the file if the new log or the snapshot cannot be written
     * @throws DurabilityException if the current log cannot be written or synced
     * @throws StoreClosedException if the store is closed
     */
    @Throws(IOException::class)
    override fun checkpoint() {
        checkOpen()
        wal?.checkpoint()
    }

    /** `{appended, durable, syncs, generation}` of the log (docs/DURABILITY.md), or null if not durable (tests). */
    internal fun logStats(): LongArray? {
        checkOpen()
        return wal?.stats()
    }

    /**
     * One page (see [UserStore.scan]): holding `gate` exclusively, as [exportJson] does, so the page is one state of
     * the store (writers wait, readers do not), one pass over the map keeps the [limit] smallest ids >= [fromId]
     * in a bounded max-heap (O(size × log limit), memory O(limit)), which is then sorted.
     */
    override fun scan(
        fromId: Long,
        limit: Int,
    ): List<User> {
        checkOpen()
        checkId(fromId)
        require(limit >= 0) { "limit must not be negative, not $limit" }
        if (limit == 0) return finish(emptyList())
        val page = exclusive { smallestFrom(fromId, limit) }
        page.sortBy { it.id }
        return page
    }

    /** The users with an id >= [fromId], at most [limit] of them (the smallest ids), in no order. */
    private fun smallestFrom(
        fromId: Long,
        limit: Int,
    ): ArrayList<User> {
        // A max-heap on id: its head is the largest id kept, the first to go when a smaller one comes.
        val heap = PriorityQueue<User>(minOf(limit, maxOf(users.size, 1)), BY_ID_DESCENDING)
        for (user in users.values) {
            if (user.id < fromId) continue
            if (heap.size < limit) {
                heap.add(user)
            } else if (user.id < heap.peek().id) {
                heap.poll()
                heap.add(user)
            }
        }
        return ArrayList(heap)
    }

    /**
     * One atomic write (see [UserStore.applyBatch]): validated whole before anything changes, then applied holding
     * `gate` exclusively and `view` exclusively, as [importJson] applies its records, so readers see none or all of
     * it. A durable store logs it as one batch record (docs/DURABILITY.md, type 4) under the same locks, holding
     * its puts and the removed ids that existed (each once). On every store, durable or not, a batch whose record
     * would pass 1 GiB is refused ([IllegalArgumentException]) before anything changes.
     */
    override fun applyBatch(
        puts: Collection<User>,
        removeIds: LongArray,
    ): Int {
        checkOpen()
        // Copies: the caller's collection and array may change while this runs; the copies are what is checked.
        val putList = puts.toList()
        val removes = removeIds.copyOf()
        for (user in putList) {
            checkId(user.id)
            checkName(user.name)
        }
        for (id in removes) checkId(id)
        if (putList.isNotEmpty() && removes.isNotEmpty()) {
            val putIds = putList.mapTo(HashSet(putList.size * 2)) { it.id }
            for (id in removes) {
                if (id in putIds) throw InvalidUserException("invalid batch: id $id is both put and removed")
            }
        }
        // An empty batch changes nothing and logs nothing.
        if (putList.isEmpty() && removes.isEmpty()) return finish(0)
        // The record this batch would be must fit, on every store (a batch that works on a memory-only store works on
        // a durable one, as in the native store): the puts alone first, before any lock (and before the names are
        // encoded); then, if the removes could make it too large, with the removed ids that exist, under the gate.
        var nameBytes = 0L
        for (user in putList) nameBytes += Snapshot.utf8Length(user.name)
        checkBatchPayload(WalFormat.batchPayload(putList.size, nameBytes, 0))
        val mayNotFit = WalFormat.batchPayload(putList.size, nameBytes, removes.size) > WalFormat.MAX_PAYLOAD
        val wal =
            wal ?: return exclusive {
                if (mayNotFit) checkBatchPayload(WalFormat.batchPayload(putList.size, nameBytes, distinctExisting(removes)))
                applyVisible { applyBatchLocked(putList, removes).size }
            }
        val names = putList.map { it.name.toByteArray(Charsets.UTF_8) }
        var removedCount = 0
        val ticket =
            exclusive {
                wal.lock.lock()
                try {
                    wal.checkWritable()
                    // No id is both put and removed, so the puts do not change which of the removes exist.
                    if (mayNotFit) checkBatchPayload(WalFormat.batchPayload(putList.size, nameBytes, distinctExisting(removes)))
                    val removed = applyVisible { applyBatchLocked(putList, removes) }
                    removedCount = removed.size
                    // Puts are always logged; removes only when they removed something.
                    if (putList.isEmpty() && removed.isEmpty()) {
                        -1L
                    } else {
                        wal.appendRecords(listOf(WalFormat.batchRecord(putList, names, removed)))
                    }
                } finally {
                    wal.lock.unlock()
                }
            }
        if (ticket >= 0) wal.commit(ticket)
        return removedCount
    }

    /** How many distinct ids of [ids] are in the store. Under `gate` held exclusively. */
    private fun distinctExisting(ids: LongArray): Int {
        val seen = HashSet<Long>()
        var n = 0
        for (id in ids) if (users.containsKey(id) && seen.add(id)) n++
        return n
    }

    /** Refuses a batch whose record's payload would pass 1 GiB (docs/DURABILITY.md). */
    private fun checkBatchPayload(payload: Long) {
        require(payload <= WalFormat.MAX_PAYLOAD) {
            "the batch is too large: its log record would take $payload bytes, more than ${WalFormat.MAX_PAYLOAD} (1 GiB); " +
                "split it"
        }
    }

    /**
     * Stores [puts] in order, then removes [removes] (all valid; under `gate` held exclusively, inside
     * [applyVisible]); returns the ids that were removed, in order, each once.
     */
    private fun applyBatchLocked(
        puts: List<User>,
        removes: LongArray,
    ): LongArray {
        for (user in puts) store(user)
        val removed = LongArray(removes.size)
        var n = 0
        // An id listed twice is removed by its first occurrence; the second finds nothing.
        for (id in removes) if (removeUser(id)) removed[n++] = id
        return removed.copyOf(n)
    }

    /**
     * The user count, an estimate of the heap the store's data takes, and for a durable store its current log's size
     * (header and every record appended to it, buffered ones included) and the checkpoints completed since open.
     *
     * `bytes` is an estimate, computed in one pass over the users (O(size); it holds no lock, so under concurrent
     * writes it is the size of no exact state): per user, the map's entry, boxed key and table slot, the [User]
     * object, its name [String] and the string's array (1 byte per char when every char is below U+0100, else 2,
     * rounded up to 8 bytes), and the name index's skip-list entry with its boxed key and index levels; per distinct
     * name, the index map's entry and its skip-list set. Object sizes are those of a 64-bit HotSpot JVM with
     * compressed references and 8-byte alignment (the default below a 32 GiB heap); the [User] objects handed out
     * to callers are the stored ones, so nothing is counted twice. It is an estimate of the data, not a measure of
     * the heap: it does not see what the collector keeps alive or frees later.
     */
    override fun stats(): StoreStats {
        checkOpen()
        val count = size
        var bytes = 0L
        for (user in users.values) bytes += PER_USER_BYTES + stringBytes(user.name)
        bytes += idsByName.mappingCount() * PER_NAME_BYTES
        val wal = wal
        return finish(
            StoreStats(
                users = count,
                bytes = bytes,
                durable = wal != null,
                logBytes = wal?.logBytes() ?: 0L,
                checkpoints = wal?.checkpoints() ?: 0L,
            ),
        )
    }

    /** Same as [get]: the map lookup never blocks, so no dispatcher switch is needed. */
    override suspend fun getUser(id: Long): User? = get(id)

    /**
     * Marks the store closed and frees its contents; closing again does nothing. Waits for a write, import, export
     * or save in progress (they hold `gate`). A durable store first writes and syncs its buffered records and
     * releases its directory ([DurabilityException] if that write fails; the directory is released all the same).
     */
    override fun close() {
        if (closed) return
        val stamp = gate.writeLock()
        try {
            if (closed) return
            closed = true
            // Before the maps are emptied: every read from now on, or overlapping the emptying, checks the flag.
            readState = readState or CLOSED
            try {
                wal?.close()
            } finally {
                clearAll()
            }
        } finally {
            gate.unlockWrite(stamp)
        }
    }

    /**
     * [block] as a read: optimistic (no lock, no write to shared memory) unless an import runs meanwhile, then
     * again holding `view` shared, after the import. [block] only reads the maps and may run twice.
     */
    private inline fun <T> read(block: () -> T): T {
        val state = readState
        if (state and (IMPORTING or CLOSED) == 0L) {
            val result = block()
            // The loads of block() happen before the second load of readState.
            VarHandle.acquireFence()
            if (readState == state) return result
        }
        val locked = view.readLock()
        try {
            checkOpen()
            return block()
        } finally {
            view.unlockRead(locked)
        }
    }

    /** [checkId] for a read: a closed store throws [StoreClosedException] first, as the writes do. */
    private fun checkReadId(id: Long) {
        if (id < 0) {
            checkOpen()
            checkId(id)
        }
    }

    /** [block], a write of one id, holding `gate` shared; refuses to start on a closed store. */
    private inline fun <T> write(block: () -> T): T {
        val stamp = gate.readLock()
        try {
            checkOpen()
            return block()
        } finally {
            gate.unlockRead(stamp)
        }
    }

    /** [block], a whole-store operation, holding `gate` exclusively; refuses to start on a closed store. */
    private inline fun <T> exclusive(block: () -> T): T {
        val stamp = gate.writeLock()
        try {
            checkOpen()
            return block()
        } finally {
            gate.unlockWrite(stamp)
        }
    }

    /** Inserts or replaces [user] (already validated), keeping the name index in step. */
    private fun store(user: User) {
        users.compute(user.id) { _, old ->
            if (old == null || old.name != user.name) {
                if (old != null) unindex(old)
                idsByName.compute(user.name) { _, ids ->
                    (ids ?: ConcurrentSkipListSet()).apply { add(user.id) }
                }
            }
            user
        }
    }

    /** Removes [user]'s id from its name's set, dropping the set once empty. Called inside `compute` for the id. */
    private fun unindex(user: User) {
        idsByName.computeIfPresent(user.name) { _, ids ->
            ids.remove(user.id)
            if (ids.isEmpty()) null else ids
        }
    }

    private fun checkOpen() {
        if (closed) throw StoreClosedException()
    }

    /** Returns [result] unless the store was closed while the call ran (then the result may be damaged). */
    private fun <T> finish(result: T): T {
        checkOpen()
        return result
    }

    private fun clearAll() {
        users.clear()
        idsByName.clear()
    }

    /** Opening snapshots; see [open]. */
    companion object {
        private const val MAX_NAME_CODE_POINTS = StrictJson.MAX_NAME_CODE_POINTS
        private const val DEFAULT_CAPACITY = 16

        /** In `readState`: an import is applying its records. */
        private const val IMPORTING = 1L

        /** In `readState`: the store is closed. */
        private const val CLOSED = 2L

        private val BY_ID_DESCENDING = Comparator<User> { a, b -> b.id.compareTo(a.id) }

        /**
         * [stats]: the heap of one user besides its name's characters (64-bit HotSpot, compressed references):
         * the users map's node (32), boxed key (16) and table slot (about 8: 4 bytes per slot, the table at most
         * 3/4 full and doubled when it grows), the [User] (24), its [String] (24) and the string's array header (16);
         * the name index's skip-list node (24), its boxed key (16) and index levels (`ConcurrentSkipListMap` gives a
         * quarter of its nodes indexes, two 24-byte ones on average: 12).
         */
        private const val PER_USER_BYTES = 32L + 16 + 8 + 24 + 24 + 16 + 24 + 16 + 12

        /**
         * [stats]: the heap of one distinct name in the index: the map's node (32) and table slot (8), the
         * `ConcurrentSkipListSet` (16), its `ConcurrentSkipListMap` (48) with its head node and index (24 + 32).
         */
        private const val PER_NAME_BYTES = 32L + 8 + 16 + 48 + 24 + 32

        /** The bytes of [name]'s character array, rounded up to 8: Latin-1 when it can be, else UTF-16. */
        private fun stringBytes(name: String): Long {
            var latin1 = true
            for (c in name) {
                if (c.code > 0xFF) {
                    latin1 = false
                    break
                }
            }
            val raw = if (latin1) name.length.toLong() else 2L * name.length
            return (raw + 7) and 7L.inv()
        }

        /**
         * A new store holding the users of the snapshot at [path] (docs/SNAPSHOT.md), written by either
         * implementation. The whole file is checked (length, magic, version, CRC-32, every record) before the
         * store is built, so a damaged file loads nothing.
         *
         * @throws java.nio.file.NoSuchFileException (its message is [path]) if the file does not exist
         * @throws CorruptSnapshotException if the file is not a valid snapshot
         * @throws IOException naming [path] if it cannot be read
         */
        @JvmStatic
        @Throws(IOException::class)
        fun open(path: Path): KotlinUserStore {
            val users = Snapshot.read(path)
            val store = KotlinUserStore(maxOf(DEFAULT_CAPACITY, users.size), null)
            for (user in users) store.store(user)
            return store
        }

        /**
         * A durable store on the data directory [dir] (docs/DURABILITY.md), created with its parents if missing:
         * the newest snapshot is loaded and the logs after it replayed (a torn tail of the newest log is cut),
         * and every write from then on returns only once its record is durable as [sync] says. A write that
         * leaves the log at [checkpointLogBytes] bytes or more runs a [checkpoint] before it returns. The
         * directory stays locked until [close]. The same directory opens with [NativeUserStore.openDurable].
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
        ): KotlinUserStore {
            require(checkpointLogBytes >= 1) { "checkpointLogBytes must be at least 1, not $checkpointLogBytes" }
            val opened = DataDirectory.open(dir, sync, checkpointLogBytes)
            try {
                val store = KotlinUserStore(maxOf(DEFAULT_CAPACITY, opened.users.size), opened.wal)
                for (user in opened.users) store.store(user)
                opened.wal.start(store::sortedUsers)
                return store
            } catch (t: Throwable) {
                try {
                    opened.wal.close()
                } catch (suppressed: Throwable) {
                    t.addSuppressed(suppressed)
                }
                throw t
            }
        }

        private fun checkId(id: Long) = UserRules.checkId(id)

        private fun checkName(name: String) = UserRules.checkName(name)
    }
}
