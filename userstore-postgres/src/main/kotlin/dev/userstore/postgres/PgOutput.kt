package dev.userstore.postgres

import java.nio.ByteBuffer
import java.nio.charset.StandardCharsets

/**
 * The messages of PostgreSQL's `pgoutput` logical decoding plugin, protocol version 1 (PostgreSQL's
 * "Logical Replication Message Formats"). Hand-written because pgjdbc hands over each message's raw bytes
 * and no maintained JVM library decodes pgoutput on its own (Debezium's decoder is internal to its
 * connector and drags the whole connector in); the format is small and fixed.
 */
internal sealed interface PgMessage {
    /** 'B': a transaction starts; [finalLsn] is its commit record's LSN, [commitTimeMicros] since 2000-01-01. */
    data class Begin(
        val finalLsn: Long,
        val commitTimeMicros: Long,
        val xid: Int,
    ) : PgMessage

    /** 'C': the transaction ends; [endLsn] is the end of its commit record (the position to confirm). */
    data class Commit(
        val commitLsn: Long,
        val endLsn: Long,
        val commitTimeMicros: Long,
    ) : PgMessage

    /** 'R': a table's description; sent before the first change of it in a session, and after it changes. */
    data class Relation(
        val id: Int,
        val namespace: String,
        val name: String,
        val columns: List<String>,
    ) : PgMessage

    /** 'I'. */
    data class Insert(
        val relationId: Int,
        val tuple: List<Column>,
    ) : PgMessage

    /** 'U'; [oldKey] is the old key (or whole old row) when the key changed or REPLICA IDENTITY FULL. */
    data class Update(
        val relationId: Int,
        val oldKey: List<Column>?,
        val tuple: List<Column>,
    ) : PgMessage

    /** 'D'; [oldKey] holds the key columns (the others are null) or the whole old row. */
    data class Delete(
        val relationId: Int,
        val oldKey: List<Column>,
    ) : PgMessage

    /** 'T'. */
    class Truncate(
        val relationIds: IntArray,
    ) : PgMessage

    /** 'O' (origin), 'Y' (type), 'M' (message): nothing a replica of one table needs. */
    data class Ignored(
        val tag: Char,
    ) : PgMessage
}

/** One column of a tuple: SQL null, an unchanged TOASTed value (not sent), or its text form. */
internal sealed interface Column {
    data object Null : Column

    data object UnchangedToast : Column

    data class Text(
        val value: String,
    ) : Column
}

internal object PgOutput {
    /** Decodes one message; [IllegalStateException] on bytes that are not pgoutput version 1. */
    fun decode(buf: ByteBuffer): PgMessage {
        val tag = buf.get().toInt().toChar()
        return when (tag) {
            'B' -> {
                PgMessage.Begin(buf.long, buf.long, buf.int)
            }

            'C' -> {
                buf.get() // flags, unused
                PgMessage.Commit(buf.long, buf.long, buf.long)
            }

            'R' -> {
                val id = buf.int
                val ns = cstring(buf)
                val name = cstring(buf)
                buf.get() // replica identity setting
                val n = buf.short.toInt()
                val cols =
                    List(n) {
                        buf.get() // flags: 1 = part of the key
                        val col = cstring(buf)
                        buf.int // type oid
                        buf.int // type modifier
                        col
                    }
                PgMessage.Relation(id, ns, name, cols)
            }

            'I' -> {
                val rel = buf.int
                expect(buf.get(), 'N', tag)
                PgMessage.Insert(rel, tuple(buf))
            }

            'U' -> {
                val rel = buf.int
                var kind = buf.get().toInt().toChar()
                var old: List<Column>? = null
                if (kind == 'K' || kind == 'O') {
                    old = tuple(buf)
                    kind = buf.get().toInt().toChar()
                }
                check(kind == 'N') { "pgoutput: update without a new tuple ('$kind')" }
                PgMessage.Update(rel, old, tuple(buf))
            }

            'D' -> {
                val rel = buf.int
                val kind = buf.get().toInt().toChar()
                check(kind == 'K' || kind == 'O') { "pgoutput: delete without an old key ('$kind')" }
                PgMessage.Delete(rel, tuple(buf))
            }

            'T' -> {
                val n = buf.int
                buf.get() // options: CASCADE, RESTART IDENTITY
                PgMessage.Truncate(IntArray(n) { buf.int })
            }

            'O', 'Y', 'M' -> {
                PgMessage.Ignored(tag)
            }

            else -> {
                throw IllegalStateException("pgoutput: unknown message type '$tag' (protocol version 1 expected)")
            }
        }
    }

    private fun expect(
        b: Byte,
        c: Char,
        tag: Char,
    ) = check(b.toInt().toChar() == c) { "pgoutput: '$tag' message without '$c' tuple" }

    private fun tuple(buf: ByteBuffer): List<Column> {
        val n = buf.short.toInt()
        return List(n) {
            when (val kind = buf.get().toInt().toChar()) {
                'n' -> {
                    Column.Null
                }

                'u' -> {
                    Column.UnchangedToast
                }

                't' -> {
                    val len = buf.int
                    val bytes = ByteArray(len)
                    buf.get(bytes)
                    Column.Text(String(bytes, StandardCharsets.UTF_8))
                }

                else -> {
                    throw IllegalStateException("pgoutput: unknown tuple column kind '$kind'")
                }
            }
        }
    }

    private fun cstring(buf: ByteBuffer): String {
        val start = buf.position()
        var end = start
        while (buf.get(end) != 0.toByte()) end++
        val bytes = ByteArray(end - start)
        buf.get(bytes)
        buf.get() // the terminating zero
        return String(bytes, StandardCharsets.UTF_8)
    }
}
