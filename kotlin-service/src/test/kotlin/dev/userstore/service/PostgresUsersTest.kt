package dev.userstore.service

import dev.userstore.InvalidUserException
import dev.userstore.KotlinUserStore
import dev.userstore.User
import org.junit.jupiter.api.Test
import java.net.ServerSocket
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

/** Direct mode's pieces that need no database: URL redaction, the write checks, a connection error's message. */
class PostgresUsersTest {
    @Test
    fun `redactDatabaseUrl hides the password and keeps the rest`() {
        assertEquals("postgres://alice:***@db.example:5433/users", redactDatabaseUrl("postgres://alice:s3cret@db.example:5433/users"))
        assertEquals("postgresql://alice@127.0.0.1:5432/userstore", redactDatabaseUrl("postgresql://alice@127.0.0.1:5432/userstore"))
        assertEquals(
            "postgres://bob@h/db?sslmode=disable&password=***",
            redactDatabaseUrl("postgres://bob@h/db?sslmode=disable&password=hunter2"),
        )
        assertEquals("postgres://c:***@h:1/db", redactDatabaseUrl("postgres://c:p%40ss%3Aword@h:1/db"))
        // An @ inside the password (unencoded): the last @ ends the user info.
        assertFalse(redactDatabaseUrl("postgres://d:a@b@h/db").contains("a@b"))
        // A URL no parser accepts is still shown without its password.
        assertFalse(redactDatabaseUrl("postgres://e:topsecret@[bad").contains("topsecret"))
        assertFalse(redactDatabaseUrl("host=h password=abc").contains("abc"))
    }

    @Test
    fun `checkUser agrees with the store`() {
        val cases =
            listOf(
                0L to "a",
                Long.MAX_VALUE to "x",
                -1L to "a",
                1L to "",
                1L to "é".repeat(256),
                1L to "é".repeat(257),
                1L to "😀".repeat(256),
                1L to "😀".repeat(257),
                1L to "a\uD800b",
                1L to "\uDC00",
                Long.MIN_VALUE to "b",
            )
        KotlinUserStore().use { store ->
            for ((id, name) in cases) {
                val ours = runCatching { checkUser(id, name) }.exceptionOrNull()
                val storeSays = runCatching { store.put(User(id, name)) }.exceptionOrNull()
                assertEquals(storeSays?.javaClass, ours?.javaClass, "id $id, name of ${name.length} chars")
                assertEquals(storeSays?.message, ours?.message, "id $id, name of ${name.length} chars")
            }
        }
        // PostgreSQL's own limit, beyond the store's rules.
        val e = assertFailsWith<InvalidUserException> { checkUser(1, "a\u0000b") }
        assertTrue(e.message!!.contains("U+0000"))
    }

    @Test
    fun `a connection error does not show the password`() {
        val port = ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress()).use { it.localPort }
        val e =
            assertFailsWith<DatabaseUnavailableException> {
                PostgresUsers.connect("postgresql://me:S3cr3t-Zz@127.0.0.1:$port/userstore", 1)
            }
        val message = e.message!!
        assertFalse(message.contains("S3cr3t-Zz"), message)
        assertTrue(message.contains("me:***@127.0.0.1:$port"), message)
        assertTrue(e.cause == null, "no cause attached: a cause's message is not scrubbed")
    }

    @Test
    fun `a text that is not a postgres URL is refused without showing it`() {
        val e = assertFailsWith<IllegalArgumentException> { PostgresUsers.connect("host=h password=abc", 1) }
        assertFalse(e.message!!.contains("abc"), e.message)
        assertTrue(e.message!!.contains("expected a URL postgres://"), e.message)
    }
}
