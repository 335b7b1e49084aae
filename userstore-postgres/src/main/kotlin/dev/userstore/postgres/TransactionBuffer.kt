package dev.userstore.postgres

import dev.userstore.User
import dev.userstore.UserStore

/**
 * One source transaction's changes to `users`, collapsed per id to the final state (the last change of an
 * id wins), so its puts and removes are disjoint, as [UserStore.applyBatch] requires. A row that breaks the
 * store's rules counts as absent: it is reported, and it removes any earlier version of that id (the store
 * never serves a name the table no longer has).
 */
internal class TransactionBuffer(
    val commitTimeMicros: Long,
    /** The source transaction's xid (unsigned). */
    val xid: Long = 0,
) {
    /** id -> name, or null for "absent at commit". Insertion-ordered for deterministic batches. */
    private val finalState = LinkedHashMap<Long, String?>()

    /** A TRUNCATE of `users` happened: every id not put afterwards is removed at commit. */
    var truncated = false
        private set

    /** The rows of this transaction that broke the rules (id and reason), reported after the commit. */
    val rejected = ArrayList<String>()

    fun put(
        id: Long,
        name: String,
    ) {
        val problem = RowRules.problem(id, name)
        if (problem != null) {
            rejected += "id $id: $problem"
            if (id >= 0) finalState[id] = null
            return
        }
        finalState[id] = name
    }

    fun remove(id: Long) {
        if (id >= 0) finalState[id] = null // a negative id was never applied
    }

    /** The name this transaction has given [id] so far: known (non-null), removed (null), or not touched. */
    fun pending(id: Long): Pending = if (!finalState.containsKey(id)) Pending.Untouched else Pending.Known(finalState[id])

    fun truncate() {
        finalState.clear()
        truncated = true
    }

    sealed interface Pending {
        data object Untouched : Pending

        data class Known(
            val name: String?,
        ) : Pending
    }

    /** The batch to apply: (puts, removes); after a truncate, [storeIds] supplies every id the store holds. */
    fun toBatch(storeIds: () -> LongArray): Pair<List<User>, LongArray> {
        val puts = ArrayList<User>()
        val removes = LongArrayBuilder()
        for ((id, name) in finalState) if (name != null) puts += User(id, name) else removes += id
        if (truncated) {
            for (id in storeIds()) if (!finalState.containsKey(id)) removes += id
        }
        return puts to removes.toArray()
    }

    val isEmpty: Boolean get() = finalState.isEmpty() && !truncated

    /** Rows this transaction puts, and ids it removes (without a truncate's: those need the store). */
    val putCount: Int get() = finalState.values.count { it != null }
    val removeCount: Int get() = finalState.values.count { it == null }

    /** Adds the changes of [later], a transaction committed after this one's: its truncate first, then its rows. */
    fun absorb(later: TransactionBuffer) {
        if (later.truncated) truncate()
        finalState.putAll(later.finalState)
    }
}

/**
 * The store's rules for a row (docs/RULES.md): id in 0..Long.MAX_VALUE, a name of 1 to 256 code points
 * with no unpaired surrogate. Checked here, before the batch, so a bad row is dropped and the rest of its
 * transaction still applies; the store checks again (all or nothing) when the batch is applied.
 */
internal object RowRules {
    const val MAX_NAME_CODE_POINTS = 256

    fun problem(
        id: Long,
        name: String,
    ): String? {
        if (id < 0) return "negative id"
        if (name.isEmpty()) return "empty name"
        var i = 0
        var count = 0
        while (i < name.length) {
            val c = name[i]
            if (Character.isHighSurrogate(c)) {
                if (i + 1 >= name.length || !Character.isLowSurrogate(name[i + 1])) return "unpaired surrogate in name"
                i += 2
            } else {
                if (Character.isLowSurrogate(c)) return "unpaired surrogate in name"
                i++
            }
            count++
            if (count > MAX_NAME_CODE_POINTS) return "name longer than $MAX_NAME_CODE_POINTS code points"
        }
        return null
    }
}

/** A growable LongArray (no boxing for a million ids). */
internal class LongArrayBuilder(
    capacity: Int = 16,
) {
    private var a = LongArray(maxOf(capacity, 1))
    var size = 0
        private set

    operator fun plusAssign(v: Long) {
        if (size == a.size) a = a.copyOf(a.size * 2)
        a[size++] = v
    }

    fun toArray(): LongArray = a.copyOf(size)
}
