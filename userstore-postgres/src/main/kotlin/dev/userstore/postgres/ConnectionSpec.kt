package dev.userstore.postgres

import org.postgresql.Driver
import java.net.URI
import java.net.URISyntaxException
import java.net.URLDecoder
import java.nio.charset.StandardCharsets
import java.util.Properties

/**
 * A parsed connection URL: a JDBC URL that never holds the password, and the password apart (given to the
 * driver in [Properties], so pgjdbc's own logging of the URL cannot show it). Accepts libpq's
 * `postgres://user[:password]@host[:port][/db][?param=value&...]` (also `postgresql://`) and pgjdbc's
 * `jdbc:postgresql://host[:port]/db[?user=...&password=...]`. Without a password in the URL, `PGPASSWORD`
 * is used when set.
 */
internal class ConnectionSpec private constructor(
    val jdbcUrl: String,
    val user: String?,
    private val password: String?,
    private val extra: Map<String, String>,
) {
    /** Masks this spec's password (and any `password=` or `user:password@` part) in [text]. */
    fun redact(text: String?): String = Redaction.redact(text, password)

    /** The URL as it may be logged: no password. */
    val displayUrl: String get() = redact(jdbcUrl)

    /** Driver properties for a regular connection, or a replication one with [replication]. */
    fun properties(replication: Boolean): Properties {
        val p = Properties()
        extra.forEach { (k, v) -> p.setProperty(k, v) }
        user?.let { p.setProperty("user", it) }
        password?.let { p.setProperty("password", it) }
        p.setProperty("ApplicationName", "userstore-replica")
        p.putIfAbsent("connectTimeout", "10")
        p.setProperty("tcpKeepAlive", "true")
        if (replication) {
            // The replication protocol takes simple queries only; "database" = logical replication.
            p.setProperty("replication", "database")
            p.setProperty("preferQueryMode", "simple")
            p.setProperty("assumeMinServerVersion", "10")
        }
        return p
    }

    companion object {
        fun parse(url: String): ConnectionSpec =
            when {
                url.startsWith("jdbc:postgresql:") -> parseJdbc(url)

                url.startsWith("postgres://") || url.startsWith("postgresql://") -> parseLibpq(url)

                else -> throw IllegalArgumentException(
                    "not a PostgreSQL URL (expected postgres://, postgresql:// or jdbc:postgresql://): " +
                        Redaction.redact(url, null),
                )
            }

        private fun parseLibpq(url: String): ConnectionSpec {
            // The credentials end at the LAST '@': a password someone forgot to percent-encode ('@', '/', '?',
            // ':' in it) is still split off whole, so no part of it lands in the host, path or messages.
            val rest = url.substringAfter("://")
            val at = rest.lastIndexOf('@')
            var user: String? = null
            var password: String? = null
            if (at >= 0) {
                val userInfo = rest.substring(0, at)
                val colon = userInfo.indexOf(':')
                user = decode(if (colon < 0) userInfo else userInfo.substring(0, colon))
                if (colon >= 0) password = decode(userInfo.substring(colon + 1))
            }
            val rawPassword = if (at >= 0) rest.substring(0, at).substringAfter(':', "") else ""

            fun bad(what: String): Nothing =
                throw IllegalArgumentException("$what: " + Redaction.redact(Redaction.redact(url, password), rawPassword.ifEmpty { null }))
            val uri =
                try {
                    URI("postgres://" + rest.substring(at + 1))
                } catch (e: URISyntaxException) {
                    bad("malformed PostgreSQL URL (${e.reason})")
                }
            val host = uri.host ?: bad("PostgreSQL URL without a host")
            val extra = LinkedHashMap<String, String>()
            uri.rawQuery?.split('&')?.filter { it.isNotEmpty() }?.forEach { kv ->
                val eq = kv.indexOf('=')
                val key = decode(if (eq < 0) kv else kv.substring(0, eq))
                val value = if (eq < 0) "" else decode(kv.substring(eq + 1))
                when (key) {
                    "user" -> {
                        user = value
                    }

                    "password" -> {
                        password = value
                    }

                    "application_name" -> {}

                    "connect_timeout" -> {
                        extra["connectTimeout"] = value
                    }

                    else -> {
                        extra[key] = value
                    } // sslmode, sslrootcert, ... have the same names in pgjdbc
                }
            }
            val db =
                uri.rawPath
                    ?.removePrefix("/")
                    ?.takeIf { it.isNotEmpty() }
                    ?.let(::decode) ?: user ?: "postgres"
            val port = if (uri.port > 0) uri.port else 5432
            val hostPart = if (host.contains(':') && !host.startsWith("[")) "[$host]" else host
            val jdbc = "jdbc:postgresql://$hostPart:$port/" + java.net.URLEncoder.encode(db, StandardCharsets.UTF_8)
            return ConnectionSpec(jdbc, user, password ?: System.getenv("PGPASSWORD"), extra)
        }

        private fun parseJdbc(url: String): ConnectionSpec {
            val props =
                Driver.parseURL(url, null)
                    ?: throw IllegalArgumentException("malformed PostgreSQL JDBC URL: ${Redaction.redact(url, null)}")
            val password = props.getProperty("password")
            val user = props.getProperty("user")
            // Keep the URL as given, minus its password parameter (that goes to the driver as a property).
            val stripped =
                url
                    .replace(Regex("([?&])password=[^&]*&?"), "$1")
                    .removeSuffix("&")
                    .removeSuffix("?")
            return ConnectionSpec(stripped, user, password ?: System.getenv("PGPASSWORD"), emptyMap())
        }

        /** Percent-decoding; a malformed escape leaves the text as written (URLDecoder's message would quote it). */
        private fun decode(s: String): String =
            try {
                URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8)
            } catch (e: IllegalArgumentException) {
                s
            }
    }
}

/** Masks credentials in text that may reach a log or an exception message. */
internal object Redaction {
    const val MASK = "***"
    private val userInfoPassword = Regex("(://[^/@:\\s]*):(\\S*)@")
    private val passwordParam = Regex("(?i)(password=)[^&\\s]*")

    fun redact(
        text: String?,
        password: String?,
    ): String {
        if (text == null) return "null"
        var s = userInfoPassword.replace(text) { m -> "${m.groupValues[1]}:$MASK@" }
        s = passwordParam.replace(s) { m -> "${m.groupValues[1]}$MASK" }
        if (!password.isNullOrEmpty()) {
            s = s.replace(password, MASK)
            // Also the forms a URL or a message may carry it in.
            val encoded = java.net.URLEncoder.encode(password, StandardCharsets.UTF_8)
            if (encoded != password) s = s.replace(encoded, MASK)
        }
        return s
    }
}
