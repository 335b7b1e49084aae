package dev.userstore.postgres

import java.sql.Connection
import kotlin.random.Random

/**
 * Random multi-statement transactions on `users`: inserts (single and multi-row, upserts), updates of
 * names, updates that change the primary key, deletes, the odd TRUNCATE, and rollbacks. Every name it
 * writes keeps the store's rules (bad rows have their own test).
 */
class RandomWorkload(
    val seed: Long,
    private val idRange: Long = 300,
) {
    private val rnd = Random(seed)
    var commits = 0
        private set
    var rollbacks = 0
        private set

    private val alphabet = listOf("a", "b", "Z", "é", "ß", "日本", "😀", " ", "'", "\\", "x\u0001")

    fun name(): String = (1..rnd.nextInt(1, 12)).joinToString("") { alphabet[rnd.nextInt(alphabet.size)] }

    private fun id() = rnd.nextLong(idRange)

    /** Runs one transaction on [c] (autocommit off); returns true if it committed. */
    fun transaction(c: Connection): Boolean {
        c.autoCommit = false
        val statements = rnd.nextInt(1, 7)
        repeat(statements) {
            when (rnd.nextInt(100)) {
                in 0..34 -> {
                    upsert(c, id(), name())
                }

                in 35..44 -> {
                    val n = rnd.nextInt(2, 20)
                    val ids = (1..n).map { id() }.distinct()
                    c
                        .prepareStatement(
                            "INSERT INTO users (id, name) SELECT * FROM unnest(?::bigint[], ?::text[]) " +
                                "ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                        ).use {
                            it.setArray(1, c.createArrayOf("bigint", ids.toTypedArray()))
                            it.setArray(2, c.createArrayOf("text", ids.map { name() }.toTypedArray()))
                            it.executeUpdate()
                        }
                }

                in 45..64 -> {
                    c.prepareStatement("UPDATE users SET name = ? WHERE id = ?").use {
                        it.setString(1, name())
                        it.setLong(2, id())
                        it.executeUpdate()
                    }
                }

                in 65..72 -> {
                    val from = id()
                    val to = id()
                    c.prepareStatement("UPDATE users SET id = ? WHERE id = ? AND NOT EXISTS (SELECT 1 FROM users WHERE id = ?)").use {
                        it.setLong(1, to)
                        it.setLong(2, from)
                        it.setLong(3, to)
                        it.executeUpdate()
                    }
                }

                in 73..90 -> {
                    c.prepareStatement("DELETE FROM users WHERE id = ?").use {
                        it.setLong(1, id())
                        it.executeUpdate()
                    }
                }

                in 91..97 -> {
                    c.prepareStatement("DELETE FROM users WHERE id BETWEEN ? AND ?").use {
                        val a = id()
                        it.setLong(1, a)
                        it.setLong(2, a + rnd.nextLong(10))
                        it.executeUpdate()
                    }
                }

                else -> {
                    c.createStatement().use { it.execute("TRUNCATE users") }
                }
            }
        }
        return if (rnd.nextInt(100) < 15) {
            c.rollback()
            rollbacks++
            false
        } else {
            c.commit()
            commits++
            true
        }
    }

    fun upsert(
        c: Connection,
        id: Long,
        name: String,
    ) {
        c.prepareStatement("INSERT INTO users (id, name) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name").use {
            it.setLong(1, id)
            it.setString(2, name)
            it.executeUpdate()
        }
    }
}
