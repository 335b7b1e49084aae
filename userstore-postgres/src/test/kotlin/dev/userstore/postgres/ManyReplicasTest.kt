package dev.userstore.postgres

import dev.userstore.UserStore
import dev.userstore.postgres.PgDatabase.Companion.assertReplicaEquals
import org.junit.jupiter.params.ParameterizedTest
import org.junit.jupiter.params.provider.MethodSource
import kotlin.random.Random
import kotlin.test.assertEquals

/** Three replicas on one database at once, started at different moments, all equal to the table. */
class ManyReplicasTest : PgDatabaseTest() {
    override val startState = emptyList<String>()

    @ParameterizedTest
    @MethodSource("dev.userstore.postgres.StoreFactories#stores")
    fun `three replicas on one database`(newStore: () -> UserStore) {
        db.sql("TRUNCATE users", "INSERT INTO users SELECT g, 'n' || g FROM generate_series(0, 499) g")
        val work = RandomWorkload(Random.nextLong())
        val stores = List(3) { newStore() }
        val replicas = ArrayList<PostgresReplica>()
        try {
            db.connect().use { c ->
                for (round in 0 until 30) {
                    if (round % 10 == 0) replicas += PostgresReplica.start(stores[replicas.size], db.url)
                    work.transaction(c)
                    replicas.forEachIndexed {
                        i,
                        r,
                        ->
                        assertReplicaEquals(db, r, stores[i], "replica $i, round $round (seed ${work.seed})")
                    }
                }
            }
            assertEquals(3, replicas.map { it.slotName }.toSet().size)
        } finally {
            replicas.forEach { it.close() }
            stores.forEach { it.close() }
        }
    }
}
