package dev.userstore.postgres

import dev.userstore.KotlinUserStore
import dev.userstore.User
import java.io.ByteArrayOutputStream
import java.io.DataOutputStream
import java.nio.ByteBuffer
import java.time.Duration
import java.util.logging.Handler
import java.util.logging.LogRecord
import java.util.logging.Logger
import kotlin.test.Test
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** Parts that need no server: URLs and redaction, the pgoutput decoder, the per-transaction collapse. */
class UnitTest {
    private val secret = "s3cr&t:p@ss/w0rd"
    private val encodedSecret = java.net.URLEncoder.encode(secret, Charsets.UTF_8)

    @Test
    fun `postgres URLs become JDBC URLs without the password`() {
        val spec = ConnectionSpec.parse("postgres://app:$encodedSecret@db.example:6543/appdb?sslmode=require")
        assertEquals("jdbc:postgresql://db.example:6543/appdb", spec.jdbcUrl)
        assertEquals("app", spec.user)
        val props = spec.properties(replication = true)
        assertEquals(secret, props.getProperty("password"))
        assertEquals("require", props.getProperty("sslmode"))
        assertEquals("database", props.getProperty("replication"))
        assertFalse(spec.displayUrl.contains("s3cr"))
        val defaults = ConnectionSpec.parse("postgresql://bob@localhost")
        assertEquals("jdbc:postgresql://localhost:5432/bob", defaults.jdbcUrl)
    }

    @Test
    fun `JDBC URLs keep their parameters and lose the password`() {
        val spec = ConnectionSpec.parse("jdbc:postgresql://h:5/db?user=u&password=$encodedSecret&ssl=false")
        assertEquals("jdbc:postgresql://h:5/db?user=u&ssl=false", spec.jdbcUrl)
        assertEquals(secret, spec.properties(false).getProperty("password"))
        assertEquals("jdbc:postgresql://h:5/db", ConnectionSpec.parse("jdbc:postgresql://h:5/db?password=x").jdbcUrl)
    }

    @Test
    fun `redaction masks passwords in every form`() {
        val spec = ConnectionSpec.parse("postgres://app:$encodedSecret@h:5/db")
        val text = "failed for postgres://app:$encodedSecret@h:5/db (password=$encodedSecret) raw $secret"
        val r = spec.redact(text)
        assertFalse(r.contains("s3cr"), r)
        assertTrue(r.contains("postgres://app:***@h:5/db"), r)
        assertEquals("postgres://u:***@h/db?password=***&x=1", Redaction.redact("postgres://u:p@h/db?password=p&x=1", null))
    }

    @Test
    fun `bad URLs are refused without echoing the password`() {
        for (url in listOf("mysql://u:$secret@h/db", "postgres://u:$secret@/db", "postgres://u:pa ss@h:x/db", "postgres://u:100%@h:x/db")) {
            val e = assertFailsWith<IllegalArgumentException> { PostgresReplica.start(KotlinUserStore(), url) }
            assertFalse(e.message!!.contains("s3cr") || e.message!!.contains("pa ss") || e.message!!.contains("100%"), e.message)
        }
        // Not percent-encoded: still split off whole at the last '@'.
        val spec = ConnectionSpec.parse("postgres://u:$secret@h:7/db")
        assertEquals("jdbc:postgresql://h:7/db", spec.jdbcUrl)
        assertEquals(secret, spec.properties(false).getProperty("password"))
    }

    @Test
    fun `an unreachable server is retried and its errors carry no password`() {
        val records = ArrayList<LogRecord>()
        val handler =
            object : Handler() {
                override fun publish(record: LogRecord) {
                    synchronized(records) { records += record }
                }

                override fun flush() {}

                override fun close() {}
            }
        val logger = Logger.getLogger(PostgresReplica::class.java.name)
        logger.addHandler(handler)
        try {
            val store = KotlinUserStore()
            store.put(User(1, "kept"))
            val options = ReplicaOptions(minBackoff = Duration.ofMillis(20), maxBackoff = Duration.ofMillis(40))
            PostgresReplica.start(store, "postgres://app:$encodedSecret@127.0.0.1:1/db", options).use { replica ->
                assertFalse(replica.awaitCaughtUp(Duration.ofMillis(500)))
                assertFalse(replica.isConnected)
                val error = assertNotNull(replica.lastError)
                assertTrue(error.contains("127.0.0.1:1"), error)
                assertFalse(error.contains("s3cr"), error)
                val deadline = System.nanoTime() + 10_000_000_000
                while (replica.reconnects < 2 && System.nanoTime() < deadline) Thread.sleep(10)
                assertTrue(replica.reconnects >= 2, "retried: ${replica.reconnects}")
                assertNull(replica.lag().bytes)
                assertEquals("kept", store.get(1)?.name, "the store keeps serving")
            }
            val logged = synchronized(records) { records.map { it.message + " " + (it.parameters?.joinToString() ?: "") } }
            assertTrue(logged.isNotEmpty())
            logged.forEach { assertFalse(it.contains("s3cr"), it) }
        } finally {
            logger.removeHandler(handler)
        }
    }

    @Test
    fun `options are validated`() {
        assertFailsWith<IllegalArgumentException> { ReplicaOptions(slotName = "Bad-Name") }
        assertFailsWith<IllegalArgumentException> { ReplicaOptions(publication = "x; DROP TABLE users") }
        assertFailsWith<IllegalArgumentException> { ReplicaOptions(minBackoff = Duration.ZERO) }
        assertFailsWith<IllegalArgumentException> { ReplicaOptions(minBackoff = Duration.ofSeconds(5), maxBackoff = Duration.ofSeconds(1)) }
        assertEquals("a_1", ReplicaOptions().withSlotName("a_1").slotName)
    }

    // ---- pgoutput ----

    private fun msg(build: DataOutputStream.() -> Unit): ByteBuffer {
        val bytes = ByteArrayOutputStream()
        DataOutputStream(bytes).build()
        return ByteBuffer.wrap(bytes.toByteArray())
    }

    private fun DataOutputStream.cstring(s: String) {
        write(s.toByteArray())
        write(0)
    }

    private fun DataOutputStream.tuple(vararg cols: String?) {
        writeShort(cols.size)
        for (c in cols) {
            when (c) {
                null -> {
                    writeByte('n'.code)
                }

                "\u0000toast" -> {
                    writeByte('u'.code)
                }

                else -> {
                    writeByte('t'.code)
                    val b = c.toByteArray()
                    writeInt(b.size)
                    write(b)
                }
            }
        }
    }

    @Test
    fun `pgoutput version 1 messages decode`() {
        assertEquals(
            PgMessage.Begin(0x1234, 99, 7),
            PgOutput.decode(
                msg {
                    writeByte('B'.code)
                    writeLong(0x1234)
                    writeLong(99)
                    writeInt(7)
                },
            ),
        )
        assertEquals(
            PgMessage.Commit(10, 20, 30),
            PgOutput.decode(
                msg {
                    writeByte('C'.code)
                    writeByte(0)
                    writeLong(10)
                    writeLong(20)
                    writeLong(30)
                },
            ),
        )
        assertEquals(
            PgMessage.Relation(16384, "public", "users", listOf("id", "name")),
            PgOutput.decode(
                msg {
                    writeByte('R'.code)
                    writeInt(16384)
                    cstring("public")
                    cstring("users")
                    writeByte('d'.code)
                    writeShort(2)
                    writeByte(1)
                    cstring("id")
                    writeInt(20)
                    writeInt(-1)
                    writeByte(0)
                    cstring("name")
                    writeInt(25)
                    writeInt(-1)
                },
            ),
        )
        assertEquals(
            PgMessage.Insert(5, listOf(Column.Text("1"), Column.Text("Zoë 😀"))),
            PgOutput.decode(
                msg {
                    writeByte('I'.code)
                    writeInt(5)
                    writeByte('N'.code)
                    tuple("1", "Zoë 😀")
                },
            ),
        )
        val update =
            PgOutput.decode(
                msg {
                    writeByte('U'.code)
                    writeInt(5)
                    writeByte('K'.code)
                    tuple("1", null)
                    writeByte('N'.code)
                    tuple("2", "\u0000toast")
                },
            )
        assertEquals(PgMessage.Update(5, listOf(Column.Text("1"), Column.Null), listOf(Column.Text("2"), Column.UnchangedToast)), update)
        assertEquals(
            PgMessage.Delete(5, listOf(Column.Text("3"), Column.Null)),
            PgOutput.decode(
                msg {
                    writeByte('D'.code)
                    writeInt(5)
                    writeByte('K'.code)
                    tuple("3", null)
                },
            ),
        )
        val truncate =
            PgOutput.decode(
                msg {
                    writeByte('T'.code)
                    writeInt(2)
                    writeByte(0)
                    writeInt(5)
                    writeInt(6)
                },
            )
        assertContentEquals(intArrayOf(5, 6), assertIs<PgMessage.Truncate>(truncate).relationIds)
        assertFailsWith<IllegalStateException> { PgOutput.decode(msg { writeByte('Q'.code) }) }
    }

    // ---- one transaction's collapse ----

    @Test
    fun `a transaction collapses to the final state per id`() {
        val t = TransactionBuffer(0)
        t.put(1, "a")
        t.put(1, "b")
        t.put(2, "x")
        t.remove(2)
        t.remove(3)
        t.put(3, "c")
        t.put(4, "")
        t.put(-5, "neg")
        t.remove(-6)
        val (puts, removes) = t.toBatch { error("no truncate") }
        assertEquals(listOf(User(1, "b"), User(3, "c")), puts)
        assertContentEquals(longArrayOf(2, 4), removes)
        assertEquals(2, t.rejected.size)
    }

    @Test
    fun `a truncate removes every id not put after it`() {
        val t = TransactionBuffer(0)
        t.put(1, "gone")
        t.truncate()
        t.put(7, "seven")
        t.remove(8)
        val (puts, removes) = t.toBatch { longArrayOf(1, 2, 7, 9) }
        assertEquals(listOf(User(7, "seven")), puts)
        assertEquals(setOf(8L, 1, 2, 9), removes.toSet())
    }

    @Test
    fun `a group of transactions merges to the state they give one by one`() {
        fun start() = KotlinUserStore().apply { putAll((0L until 5).map { User(it, "s$it") }) }
        val first =
            TransactionBuffer(0).apply {
                put(1, "one")
                remove(2)
                put(7, "seven")
            }
        val second =
            TransactionBuffer(0).apply {
                remove(7)
                put(2, "two again")
                put(3, "")
            }
        val third =
            TransactionBuffer(0).apply {
                put(9, "nine")
                remove(4)
            }
        val oneByOne = start()
        val grouped = start()
        val merged = TransactionBuffer(0)
        for (t in listOf(first, second, third)) {
            merged.absorb(t)
            val (puts, removes) = t.toBatch { error("no truncate") }
            oneByOne.applyBatch(puts, removes)
        }
        val (puts, removes) = merged.toBatch { error("no truncate") }
        grouped.applyBatch(puts, removes)
        assertEquals(oneByOne.scan(0, 100), grouped.scan(0, 100))
        assertEquals(
            listOf(User(0, "s0"), User(1, "one"), User(2, "two again"), User(9, "nine")),
            grouped.scan(0, 100),
        )
        assertEquals(listOf(2, 1, 1), listOf(first, second, third).map { it.putCount })
        assertEquals(listOf(1, 2, 1), listOf(first, second, third).map { it.removeCount })
    }

    @Test
    fun `row rules follow docs RULES md`() {
        assertNull(RowRules.problem(0, "a"))
        assertNull(RowRules.problem(Long.MAX_VALUE, "😀".repeat(256)))
        assertNull(RowRules.problem(1, "\u0000"))
        assertNotNull(RowRules.problem(1, "😀".repeat(257)))
        assertNotNull(RowRules.problem(1, ""))
        assertNotNull(RowRules.problem(-1, "a"))
        assertNotNull(RowRules.problem(1, "\uD800"))
        assertNotNull(RowRules.problem(1, "a\uDC00"))
    }
}
