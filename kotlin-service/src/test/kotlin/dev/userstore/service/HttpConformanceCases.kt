package dev.userstore.service

import dev.userstore.service.HttpConformanceTest.Companion.user

/*
 * The request list of HttpConformanceTest: data, the same for every service, run in this order on services
 * preloaded with users 0..9 named user-<id>. Expected bodies are exact unless a case says otherwise.
 */

private const val LIMIT = 65_536
private const val ID_RANGE = "an id must be in 0..9223372036854775807"
private const val BODY_SHAPE = "expected {\"name\":\"…\"}"

/** The prefix of a malformed-JSON refusal; what follows is the JSON parser's own detail (see Expect.ErrorPrefix). */
private const val INVALID_BODY = "invalid body, $BODY_SHAPE: "
private const val MISSING_BODY = "missing request body: $BODY_SHAPE"
private const val NOT_UTF8 = "request body is not valid UTF-8"
private const val TOO_LARGE = "request body larger than 65536 bytes"
private const val MISSING_NAME_PARAMETER = "missing query parameter name: GET /users?name=…"
private const val NO_SUCH_ENDPOINT = "no such endpoint"
private const val METHOD_NOT_ALLOWED = "method not allowed"
private const val EMPTY_NAME = "invalid name: the name is empty"

private fun tooLong(codePoints: Int) = "invalid name: the name is too long: $codePoints code points (at most 256)"

private fun surrogate(
    unit: String,
    index: Int,
) = "invalid name: unpaired surrogate U+$unit at index $index"

private fun bytes(text: String) = text.toByteArray(Charsets.UTF_8)

private fun putBody(
    path: String,
    body: ByteArray,
    headers: List<Pair<String, String>> = listOf("Content-Type" to "application/json"),
    chunked: Boolean = false,
) = Request("PUT", path, body, headers, chunked)

private fun get(path: String) = Request("GET", path)

private val SMILE = "\uD83D\uDE00"

/** Every case, in order. */
internal fun conformanceCases(): List<Case> {
    val cases = mutableListOf<Case>()

    fun ok(
        title: String,
        request: Request,
        status: Int,
        body: String,
    ) {
        cases += Case(title, request, status, Expect.Exact(body))
    }

    fun refused(
        title: String,
        request: Request,
        status: Int,
        expect: Expect,
        vararg probes: String,
    ) {
        cases += Case(title, request, status, expect, probes.toList())
    }

    // ---- reads of the preloaded users; ids with leading zeros and percent-escaped digits are ids ----
    ok("GET an existing user", get("/users/7"), 200, user(7, "user-7"))
    ok("GET user 0", get("/users/0"), 200, user(0, "user-0"))
    ok("GET with leading zeros", get("/users/007"), 200, user(7, "user-7"))
    ok("GET with 30 leading zeros", get("/users/${"0".repeat(30)}7"), 200, user(7, "user-7"))
    ok("GET with percent-escaped digits", get("/users/%35"), 200, user(5, "user-5"))
    ok("GET with all digits percent-escaped", get("/users/%30%30%37"), 200, user(7, "user-7"))
    refused("GET a missing user", get("/users/12345"), 404, Expect.Error("no user with id 12345"))
    refused("GET the largest id, missing", get("/users/9223372036854775807"), 404, Expect.Error("no user with id 9223372036854775807"))
    refused("GET with leading zeros, missing", get("/users/00012345"), 404, Expect.Error("no user with id 12345"))

    // ---- writes ----
    ok("PUT creates", putBody("/users/10", bytes("""{"name":"dup"}""")), 201, user(10, "dup"))
    ok("PUT creates a second dup", putBody("/users/11", bytes("""{"name":"dup"}""")), 201, user(11, "dup"))
    ok("PUT replaces with the same name", putBody("/users/10", bytes("""{"name":"dup"}""")), 200, user(10, "dup"))
    ok("PUT replaces an existing name", putBody("/users/9", bytes("""{"name":"nine"}""")), 200, user(9, "nine"))
    ok("GET the replaced user", get("/users/9"), 200, user(9, "nine"))
    ok("PUT with leading zeros in the id", putBody("/users/0012", bytes("""{"name":"twelve"}""")), 201, user(12, "twelve"))
    ok("GET the user put with leading zeros", get("/users/12"), 200, user(12, "twelve"))
    ok("PUT the largest id", putBody("/users/9223372036854775807", bytes("""{"name":"max"}""")), 201, user(Long.MAX_VALUE, "max"))
    ok("GET the largest id", get("/users/9223372036854775807"), 200, user(Long.MAX_VALUE, "max"))
    cases += Case("DELETE the largest id", Request("DELETE", "/users/9223372036854775807"), 204, Expect.Empty)
    refused("GET the deleted largest id", get("/users/9223372036854775807"), 404, Expect.Error("no user with id 9223372036854775807"))
    cases += Case("DELETE removes", Request("DELETE", "/users/3"), 204, Expect.Empty)
    refused(
        "DELETE a missing user",
        Request("DELETE", "/users/3"),
        404,
        Expect.Error("no user with id 3"),
        "/users/3",
        "/users?name=user-3",
    )
    refused("GET a deleted user", get("/users/3"), 404, Expect.Error("no user with id 3"))
    ok("PUT brings it back", putBody("/users/3", bytes("""{"name":"user-3"}""")), 201, user(3, "user-3"))
    ok("PUT without Content-Type", putBody("/users/13", bytes("""{"name":"no type"}"""), headers = emptyList()), 201, user(13, "no type"))
    ok(
        "PUT with Content-Type text/plain",
        putBody("/users/13", bytes("""{"name":"plain"}"""), headers = listOf("Content-Type" to "text/plain")),
        200,
        user(13, "plain"),
    )
    ok("PUT with whitespace around the JSON", putBody("/users/14", bytes(" \n\t{ \"name\" : \"spaced\" } \r\n")), 201, user(14, "spaced"))
    // A repeated key: the last one counts (both JSON readers behave so; neither refuses it).
    ok("PUT with the name key twice", putBody("/users/16", bytes("""{"name":"first","name":"last"}""")), 201, user(16, "last"))
    ok("PUT chunked (no Content-Length)", putBody("/users/15", bytes("""{"name":"chunked"}"""), chunked = true), 201, user(15, "chunked"))

    // ---- names: non-ASCII, astral, NUL and control characters, escapes, the 256 code point limit ----
    ok("PUT a name with a space and &", putBody("/users/30", bytes("""{"name":"a b&c"}""")), 201, user(30, "a b&c"))
    ok("PUT a non-ASCII name as raw UTF-8", putBody("/users/31", bytes("""{"name":"é$SMILE x"}""")), 201, user(31, "é$SMILE x"))
    ok("GET a non-ASCII name", get("/users/31"), 200, user(31, "é$SMILE x"))
    ok(
        "PUT a name as JSON escapes (a surrogate pair)",
        putBody("/users/32", bytes("""{"name":"\u00e9\ud83d\ude00"}""")),
        201,
        user(32, "é$SMILE"),
    )
    ok("GET a name sent as escapes", get("/users/32"), 200, user(32, "é$SMILE"))
    ok("PUT a name with U+0000", putBody("/users/33", bytes("""{"name":"a\u0000b"}""")), 201, user(33, "a\u0000b"))
    ok("GET a name with U+0000", get("/users/33"), 200, user(33, "a\u0000b"))
    val controls = "q\"b\\s/\b\u000C\n\r\t\u0001\u001f\u007f\u0080\u2028 x"
    ok(
        "PUT a name with escaped quotes, backslash, controls, DEL, U+0080, U+2028",
        putBody("/users/34", bytes("""{"name":"q\"b\\s\/\b\f\n\r\t\u0001\u001f\u007f\u0080\u2028 x"}""")),
        201,
        user(34, controls),
    )
    ok("GET that name", get("/users/34"), 200, user(34, controls))
    ok("PUT 256 ASCII code points", putBody("/users/35", bytes("""{"name":"${"a".repeat(256)}"}""")), 201, user(35, "a".repeat(256)))
    ok("PUT 256 astral code points", putBody("/users/36", bytes("""{"name":"${SMILE.repeat(256)}"}""")), 201, user(36, SMILE.repeat(256)))
    ok("GET 256 astral code points", get("/users/36"), 200, user(36, SMILE.repeat(256)))
    ok(
        "PUT 256 astral code points as escapes",
        putBody("/users/37", bytes("""{"name":"${"\\ud83d\\ude00".repeat(256)}"}""")),
        201,
        user(37, SMILE.repeat(256)),
    )
    ok("PUT a one-character name", putBody("/users/38", bytes("""{"name":"x"}""")), 201, user(38, "x"))
    cases += Case("DELETE it again", Request("DELETE", "/users/38"), 204, Expect.Empty)

    // ---- findByName ----
    ok("findByName: two users, sorted by id", get("/users?name=dup"), 200, "[${user(10, "dup")},${user(11, "dup")}]")
    ok("findByName: one user", get("/users?name=user-4"), 200, "[${user(4, "user-4")}]")
    ok("findByName: nobody", get("/users?name=nobody"), 200, "[]")
    ok("findByName: percent-encoded ASCII", get("/users?name=user%2D4"), 200, "[${user(4, "user-4")}]")
    ok("findByName: percent-encoded space and &", get("/users?name=a%20b%26c"), 200, "[${user(30, "a b&c")}]")
    ok("findByName: + is a space in a query", get("/users?name=a+b%26c"), 200, "[${user(30, "a b&c")}]")
    ok("findByName: percent-encoded UTF-8", get("/users?name=%C3%A9%F0%9F%98%80%20x"), 200, "[${user(31, "é$SMILE x")}]")
    ok("findByName: percent-encoded NUL", get("/users?name=a%00b"), 200, "[${user(33, "a\u0000b")}]")
    ok("findByName: 256 code points", get("/users?name=${"a".repeat(256)}"), 200, "[${user(35, "a".repeat(256))}]")
    ok("findByName: another parameter too", get("/users?other=1&name=user-1"), 200, "[${user(1, "user-1")}]")
    ok("findByName: the name parameter twice (the first counts)", get("/users?name=user-1&name=user-2"), 200, "[${user(1, "user-1")}]")
    ok("findByName: percent-encoded bytes that are not UTF-8", get("/users?name=%FF"), 200, "[]")
    ok("findByName: a replaced name is gone", get("/users?name=user-9"), 200, "[]")
    refused("findByName without the parameter", get("/users"), 400, Expect.Error(MISSING_NAME_PARAMETER))
    refused("findByName with another parameter only", get("/users?nam=user-1"), 400, Expect.Error(MISSING_NAME_PARAMETER))
    refused("findByName with an empty name", get("/users?name="), 400, Expect.Error(EMPTY_NAME))
    refused("findByName with a name parameter and no =", get("/users?name"), 400, Expect.Error(EMPTY_NAME))
    refused("findByName with 257 code points", get("/users?name=${"a".repeat(257)}"), 400, Expect.Error(tooLong(257)))

    // ---- bad ids, on every id endpoint: 400 and nothing changed ----
    val nonNumeric = { segment: String -> "invalid id '${segment.take(40)}': an id is a decimal number" }
    val outOfRange = { segment: String -> "invalid id ${segment.take(40)}: $ID_RANGE" }
    // (path segment as sent, the message)
    val badIds =
        listOf(
            "abc" to nonNumeric("abc"),
            "-1" to outOfRange("-1"),
            "-0" to outOfRange("-0"),
            "-9223372036854775808" to outOfRange("-9223372036854775808"),
            "-" to nonNumeric("-"),
            "--1" to nonNumeric("--1"),
            "9223372036854775808" to outOfRange("9223372036854775808"),
            "99999999999999999999" to outOfRange("99999999999999999999"),
            "9".repeat(50) to outOfRange("9".repeat(50)),
            "x".repeat(50) to nonNumeric("x".repeat(50)),
            "1.5" to nonNumeric("1.5"),
            "0x10" to nonNumeric("0x10"),
            "+1" to nonNumeric("+1"),
            "1e3" to nonNumeric("1e3"),
            "1_000" to nonNumeric("1_000"),
            "%201" to nonNumeric(" 1"),
            "1%20" to nonNumeric("1 "),
            "%2B1" to nonNumeric("+1"),
            "%2D1" to outOfRange("-1"),
            "%E2%82%AC" to nonNumeric("€"),
            // FULLWIDTH DIGIT ONE: a digit to Character.isDigit, not a decimal ASCII digit.
            "%EF%BC%91" to nonNumeric("\uFF11"),
            // Not UTF-8 once decoded: read as U+FFFD.
            "%FF" to nonNumeric("\uFFFD"),
        )
    for ((segment, message) in badIds) {
        // Probed (the default probes): user 1, in case "-1", " 1" or "+1" were taken for 1, and the name x.
        refused("GET /users/$segment", get("/users/$segment"), 400, Expect.Error(message))
        refused("PUT /users/$segment", putBody("/users/$segment", bytes("""{"name":"x"}""")), 400, Expect.Error(message))
        refused("DELETE /users/$segment", Request("DELETE", "/users/$segment"), 400, Expect.Error(message))
    }
    // A bad id is refused before the body is looked at.
    refused("PUT with a bad id and a bad body", putBody("/users/-1", bytes("garbage")), 400, Expect.Error(outOfRange("-1")))
    // An escape that is not one: HttpClient will not send it (not a valid URI); the HTTP framework words the refusal.
    refused(
        "GET /users/% (a broken percent escape)",
        Request("GET", "/users/%", raw = "GET /users/% HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"),
        400,
        Expect.AnyError,
    )

    // ---- bad bodies, on an existing id (a replace) and a new one (a create): 400/413 and nothing changed ----
    // The message of a malformed body comes from each service's JSON parser; only its prefix compares.
    val malformed =
        listOf(
            "{",
            "}",
            "garbage",
            "[]",
            "null",
            "\"name\"",
            """{"name":"a",}""",
            """{"name":'a'}""",
            """{name:"a"}""",
            """{"name":"a"""",
            """{"name":"a\x"}""",
            """{"name":"\u12"}""",
            """{}""",
            """{"nam":"a"}""",
            """{"NAME":"a"}""",
            """{"name":null}""",
            """{"name":5}""",
            """{"name":true}""",
            """{"name":["a"]}""",
            """{"name":{"first":"a"}}""",
            """{"name":"a","extra":1}""",
            """{"extra":1,"name":"a"}""",
            """{"name":"a"} x""",
            """{"name":"a"}{}""",
            """{"name":"a"},""",
            "\uFEFF{\"name\":\"a\"}",
        )
    for (body in malformed) {
        for (id in listOf(5, 500)) {
            refused("PUT /users/$id with $body", putBody("/users/$id", bytes(body)), 400, Expect.ErrorPrefix(INVALID_BODY), "/users/$id")
        }
    }
    val invalidNames =
        listOf(
            """{"name":""}""" to EMPTY_NAME,
            """{"name":"${"a".repeat(257)}"}""" to tooLong(257),
            """{"name":"${SMILE.repeat(257)}"}""" to tooLong(257),
            """{"name":"${"\\ud83d\\ude00".repeat(257)}"}""" to tooLong(257),
            """{"name":"\ud800"}""" to surrogate("D800", 0),
            """{"name":"x\udc00"}""" to surrogate("DC00", 1),
            """{"name":"\ude00\ud83d"}""" to surrogate("DE00", 0),
        )
    for ((body, message) in invalidNames) {
        for (id in listOf(5, 500)) {
            refused("PUT /users/$id with ${body.take(60)}", putBody("/users/$id", bytes(body)), 400, Expect.Error(message), "/users/$id")
        }
    }
    val missing = listOf("", " ", "\r\n\t ")
    for (body in missing) {
        for (id in listOf(5, 500)) {
            refused(
                "PUT /users/$id with body '${body.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t")}'",
                putBody("/users/$id", bytes(body)),
                400,
                Expect.Error(MISSING_BODY),
                "/users/$id",
            )
        }
    }
    refused("PUT with no body at all", Request("PUT", "/users/500"), 400, Expect.Error(MISSING_BODY), "/users/500")
    // Not UTF-8: Latin-1 é, a lone continuation byte, an overlong '/', a UTF-8-encoded surrogate (CESU), a truncated sequence.
    val notUtf8 =
        listOf(
            byteArrayOf(0xE9.toByte()),
            byteArrayOf(0x80.toByte()),
            byteArrayOf(0xC0.toByte(), 0xAF.toByte()),
            byteArrayOf(0xED.toByte(), 0xA0.toByte(), 0x80.toByte()),
            byteArrayOf(0xF0.toByte(), 0x9F.toByte(), 0x98.toByte()),
            byteArrayOf(0xFF.toByte()),
        )
    for (bad in notUtf8) {
        val body = bytes("{\"name\":\"caf") + bad + bytes("\"}")
        val hex = bad.joinToString(" ") { "%02X".format(it) }
        for (id in listOf(5, 500)) {
            refused(
                "PUT /users/$id with a name containing bytes $hex",
                putBody("/users/$id", body),
                400,
                Expect.Error(NOT_UTF8),
                "/users/$id",
            )
        }
    }
    refused(
        "PUT with a non-UTF-8 body that is not JSON either",
        putBody("/users/500", byteArrayOf(0xFF.toByte(), 0xFE.toByte())),
        400,
        Expect.Error(NOT_UTF8),
        "/users/500",
    )

    // ---- the 64 KiB limit ----
    val over = bytes("""{"name":"${"a".repeat(LIMIT - 10)}"}""")
    check(over.size == LIMIT + 1)
    val atLimit = bytes("""{"name":"${"a".repeat(LIMIT - 11)}"}""")
    check(atLimit.size == LIMIT)
    for (id in listOf(5, 500)) {
        refused("PUT /users/$id, 64 KiB + 1 with Content-Length", putBody("/users/$id", over), 413, Expect.Error(TOO_LARGE), "/users/$id")
        refused(
            "PUT /users/$id, 64 KiB + 1 chunked",
            putBody("/users/$id", over, chunked = true),
            413,
            Expect.Error(TOO_LARGE),
            "/users/$id",
        )
        refused(
            "PUT /users/$id, 1 MB chunked",
            putBody(
                "/users/$id",
                ByteArray(1 shl 20) {
                    'a'.code.toByte()
                },
                chunked = true,
            ),
            413,
            Expect.Error(TOO_LARGE),
            "/users/$id",
        )
        // Exactly the limit is read, and refused for the name's length.
        refused(
            "PUT /users/$id, exactly 64 KiB with Content-Length",
            putBody("/users/$id", atLimit),
            400,
            Expect.Error(tooLong(LIMIT - 11)),
            "/users/$id",
        )
        refused(
            "PUT /users/$id, exactly 64 KiB chunked",
            putBody("/users/$id", atLimit, chunked = true),
            400,
            Expect.Error(
                tooLong(LIMIT - 11),
            ),
            "/users/$id",
        )
    }
    // A declared Content-Length over the limit is refused before the body is read: only 4 bytes of it are sent.
    refused(
        "PUT declaring Content-Length: 1000000 and sending 4 bytes",
        Request(
            "PUT",
            "/users/5",
            raw = "PUT /users/5 HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{\"na",
        ),
        413,
        Expect.Error(TOO_LARGE),
        "/users/5",
    )

    // ---- unknown paths and methods ----
    for (path in listOf("/", "/nothing/here", "/users/1/extra", "/users/", "/health/", "/metricsx", "/Users/1", "/users/1/")) {
        refused("GET $path", get(path), 404, Expect.Error(NO_SUCH_ENDPOINT))
    }
    refused("POST /users/1", Request("POST", "/users/1", bytes("""{"name":"x"}""")), 404, Expect.Error(NO_SUCH_ENDPOINT))
    refused("POST /users/500", Request("POST", "/users/500", bytes("""{"name":"x"}""")), 404, Expect.Error(NO_SUCH_ENDPOINT), "/users/500")
    refused("PATCH /users/1", Request("PATCH", "/users/1", bytes("""{"name":"x"}""")), 404, Expect.Error(NO_SUCH_ENDPOINT))
    refused("OPTIONS /users/1", Request("OPTIONS", "/users/1"), 404, Expect.Error(NO_SUCH_ENDPOINT))
    refused("BREW /users/1 (not a method at all)", Request("BREW", "/users/1"), 404, Expect.Error(NO_SUCH_ENDPOINT))
    // A known path with a method it does not take: 405 (not 404) on the fixed paths.
    refused("POST /users", Request("POST", "/users", bytes("""{"name":"x"}""")), 405, Expect.Error(METHOD_NOT_ALLOWED))
    refused("DELETE /users", Request("DELETE", "/users"), 405, Expect.Error(METHOD_NOT_ALLOWED))
    refused("PUT /health", Request("PUT", "/health", bytes("""{"name":"x"}""")), 405, Expect.Error(METHOD_NOT_ALLOWED))
    refused("POST /metrics", Request("POST", "/metrics"), 405, Expect.Error(METHOD_NOT_ALLOWED))

    // ---- health ----
    ok("GET /health", get("/health"), 200, """{"status":"ok"}""")

    // ---- the content at the end, read back ----
    ok("findByName dup at the end", get("/users?name=dup"), 200, "[${user(10, "dup")},${user(11, "dup")}]")
    ok("GET user 5 at the end", get("/users/5"), 200, user(5, "user-5"))
    refused("GET user 500 at the end", get("/users/500"), 404, Expect.Error("no user with id 500"))
    ok("findByName x at the end", get("/users?name=x"), 200, "[]")
    return cases
}
