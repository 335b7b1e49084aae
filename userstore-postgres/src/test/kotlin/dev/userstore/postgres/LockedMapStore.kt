package dev.userstore.postgres

import dev.userstore.InvalidUserException
import dev.userstore.StoreClosedException
import dev.userstore.StoreStats
import dev.userstore.User
import dev.userstore.UserStore
import org.junit.jupiter.api.Named
import org.junit.jupiter.params.provider.Arguments
import java.nio.file.Path
import java.util.TreeMap
import java.util.concurrent.locks.ReentrantReadWriteLock
import kotlin.concurrent.read
import kotlin.concurrent.write

/**
 * A test-only UserStore: a TreeMap behind a read-write lock, so every call (applyBatch, scan) is atomic. It
 * stands in for KotlinUserStore and NativeUserStore while their applyBatch and scan are being written; the
 * replica tests take their stores from [StoreFactories], where switching to the real stores is one line.
 * Validation follows docs/RULES.md (ids >= 0, names of 1 to 256 code points, no unpaired surrogate).
 */
class LockedMapStore : UserStore {
    private val lock = ReentrantReadWriteLock()
    private val map = TreeMap<Long, String>()
    private var closed = false

    private fun check() {
        if (closed) throw StoreClosedException()
    }

    private fun validate(
        id: Long,
        name: String?,
    ) {
        if (id < 0) throw InvalidUserException("negative id $id")
        if (name != null) RowRules.problem(id, name)?.let { throw InvalidUserException(it) }
    }

    override val size: Long get() = lock.read { map.size.toLong() }

    override fun put(user: User) {
        validate(user.id, user.name)
        lock.write {
            check()
            map[user.id] = user.name
        }
    }

    override fun get(id: Long): User? =
        lock.read {
            check()
            map[id]?.let { User(id, it) }
        }

    override fun getMany(ids: LongArray): List<User?> = lock.read { ids.map { id -> map[id]?.let { User(id, it) } } }

    override fun remove(id: Long): Boolean = lock.write { map.remove(id) != null }

    override fun findByName(name: String): List<User> = lock.read { map.filter { it.value == name }.map { User(it.key, it.value) } }

    override fun getJson(id: Long): ByteArray? = throw UnsupportedOperationException("test store")

    override fun importJson(json: ByteArray): Int = throw UnsupportedOperationException("test store")

    override fun exportJson(): ByteArray = throw UnsupportedOperationException("test store")

    override fun scan(
        fromId: Long,
        limit: Int,
    ): List<User> {
        validate(fromId, null)
        require(limit >= 0)
        return lock.read {
            check()
            map
                .tailMap(fromId, true)
                .entries
                .asSequence()
                .take(limit)
                .map { User(it.key, it.value) }
                .toList()
        }
    }

    override fun applyBatch(
        puts: Collection<User>,
        removeIds: LongArray,
    ): Int {
        puts.forEach { validate(it.id, it.name) }
        removeIds.forEach { validate(it, null) }
        val putIds = puts.mapTo(HashSet()) { it.id }
        removeIds.firstOrNull { it in putIds }?.let { throw InvalidUserException("id $it both put and removed") }
        return lock.write {
            check()
            puts.forEach { map[it.id] = it.name }
            removeIds.toSet().count { map.remove(it) != null }
        }
    }

    override fun stats(): StoreStats = StoreStats(size, 0, false, 0, 0)

    override fun save(path: Path) = throw UnsupportedOperationException("test store")

    override fun checkpoint() {}

    override suspend fun getUser(id: Long): User? = get(id)

    override fun close() = lock.write { closed = true }
}

/** The stores every replica test runs over. */
object StoreFactories {
    /** Named factories for @MethodSource. Add `KotlinUserStore()` / `NativeUserStore()` once their applyBatch lands. */
    @JvmStatic
    fun stores(): List<Arguments> =
        listOf<Pair<String, () -> UserStore>>(
            "LockedMapStore" to { LockedMapStore() },
            // "KotlinUserStore" to { dev.userstore.KotlinUserStore() },
            // "NativeUserStore" to { dev.userstore.NativeUserStore() },
        ).map { (name, factory) -> Arguments.of(Named.of(name, factory)) }
}
