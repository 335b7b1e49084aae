package dev.userstore.service

import io.ktor.http.HttpStatusCode
import io.ktor.server.application.ApplicationCall
import io.ktor.server.request.contentLength
import io.ktor.server.request.receiveChannel
import io.ktor.utils.io.readRemaining
import kotlinx.io.readByteArray
import kotlinx.serialization.Serializable
import kotlinx.serialization.SerializationException
import kotlinx.serialization.json.Json
import java.nio.ByteBuffer
import java.nio.charset.CharacterCodingException
import java.nio.charset.CodingErrorAction

/** The largest request body `serve` reads: 64 KiB. A larger one is answered 413 and not parsed. */
const val MAX_BODY_BYTES = 64 * 1024

/** A request the service refuses: answered with [status] and `{"error": message}`; nothing was changed. */
class HttpError(
    val status: HttpStatusCode,
    override val message: String,
) : RuntimeException(message)

/** The body of `PUT /users/{id}`. */
@Serializable
data class PutUserBody(
    val name: String,
)

/** One user as the service writes it (`GET /users?name=…`, `PUT`), the same shape as `UserStore.getJson`. */
@Serializable
data class UserBody(
    val id: Long,
    val name: String,
)

/** Every 4xx/5xx answer's body. */
@Serializable
data class ErrorBody(
    val error: String,
)

/**
 * The `{id}` path segment as a store id: decimal digits only (leading zeros allowed), at most `Long.MAX_VALUE`.
 *
 * @throws HttpError 400 for a missing, non-numeric, negative or overflowing id
 */
internal fun parseId(segment: String?): Long {
    if (segment.isNullOrEmpty()) throw HttpError(HttpStatusCode.BadRequest, "missing user id")
    if (segment.startsWith('-') && segment.length > 1 && segment.substring(1).all { it in '0'..'9' }) {
        throw HttpError(HttpStatusCode.BadRequest, "invalid id $segment: an id must be in 0..${Long.MAX_VALUE}")
    }
    if (!segment.all { it in '0'..'9' }) {
        throw HttpError(HttpStatusCode.BadRequest, "invalid id '${segment.take(40)}': an id is a decimal number")
    }
    return segment.toLongOrNull()
        ?: throw HttpError(HttpStatusCode.BadRequest, "invalid id ${segment.take(40)}: an id must be in 0..${Long.MAX_VALUE}")
}

/**
 * The request body, at most [MAX_BODY_BYTES]: a declared Content-Length over the limit is refused before
 * reading, and a body without one (chunked) is read only up to one byte past the limit.
 *
 * @throws HttpError 413 when the body is larger than [MAX_BODY_BYTES]
 */
internal suspend fun ApplicationCall.receiveBoundedBody(): ByteArray {
    val declared = request.contentLength()
    if (declared != null && declared > MAX_BODY_BYTES) throw tooLarge()
    val bytes = receiveChannel().readRemaining(MAX_BODY_BYTES + 1L).readByteArray()
    if (bytes.size > MAX_BODY_BYTES) throw tooLarge()
    return bytes
}

private fun tooLarge() = HttpError(HttpStatusCode.PayloadTooLarge, "request body larger than $MAX_BODY_BYTES bytes")

/**
 * The name in a `PUT` body `{"name":"…"}`. Only the JSON is checked here; the name's own rules (1..256
 * code points, no unpaired surrogate) are the store's, which throws IllegalArgumentException.
 *
 * @throws HttpError 400 when the body is not UTF-8, not JSON, or has no string `name`
 */
internal fun parsePutBody(body: ByteArray): String {
    val text =
        try {
            Charsets.UTF_8
                .newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT)
                .decode(ByteBuffer.wrap(body))
                .toString()
        } catch (e: CharacterCodingException) {
            throw HttpError(HttpStatusCode.BadRequest, "request body is not valid UTF-8")
        }
    if (text.isBlank()) throw HttpError(HttpStatusCode.BadRequest, "missing request body: expected {\"name\":\"…\"}")
    return try {
        // The default Json is strict: unknown keys, trailing commas and unquoted strings are errors.
        Json.decodeFromString(PutUserBody.serializer(), text).name
    } catch (e: SerializationException) {
        throw HttpError(HttpStatusCode.BadRequest, "invalid body, expected {\"name\":\"…\"}: ${firstLine(e.message)}")
    } catch (e: IllegalArgumentException) {
        throw HttpError(HttpStatusCode.BadRequest, "invalid body, expected {\"name\":\"…\"}: ${firstLine(e.message)}")
    }
}

private fun firstLine(message: String?): String = message?.lineSequence()?.firstOrNull()?.take(200) ?: "malformed JSON"
