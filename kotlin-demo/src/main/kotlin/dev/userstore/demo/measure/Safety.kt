package dev.userstore.demo.measure

import dev.userstore.InvalidJsonException
import dev.userstore.InvalidUserException
import dev.userstore.StoreClosedException
import dev.userstore.User
import dev.userstore.UserStore
import kotlin.reflect.KClass

/** Users the safety check puts before its hostile calls. */
private const val SAFETY_USERS = 100L

/** One hostile call and the exception the rules (docs/RULES.md) say it must throw. */
private class HostileCall(
    val name: String,
    val expected: KClass<out Throwable>,
    val call: (UserStore) -> Any?,
)

/** What one hostile call did: [outcome] is `clean` or what happened instead. */
internal class HostileOutcome(
    val name: String,
    val clean: Boolean,
    val outcome: String,
)

/** How one store took the hostile calls. */
internal class SafetyResult(
    val kind: StoreKind,
    val outcomes: List<HostileOutcome>,
    /** The store's content (exportJson) and size were the same after the calls as before. */
    val unchanged: Boolean,
) {
    val calls: Int get() = outcomes.size
    val clean: Int get() = outcomes.count { it.clean }
    val allClean: Boolean get() = clean == calls && unchanged
}

private val BAD_UTF8 = byteArrayOf(0x5b, 0xff.toByte(), 0x5d)

/** Calls on an open store, each of which must throw and leave the store as it was. */
private val OPEN_CALLS =
    listOf(
        HostileCall("put negative id", InvalidUserException::class) { it.put(User(-1, "x")) },
        HostileCall("put Long.MIN_VALUE id", InvalidUserException::class) { it.put(User(Long.MIN_VALUE, "x")) },
        HostileCall("put empty name", InvalidUserException::class) { it.put(User(1, "")) },
        HostileCall("put 257-code-point name", InvalidUserException::class) { it.put(User(1, "a".repeat(257))) },
        HostileCall("put lone high surrogate", InvalidUserException::class) { it.put(User(1, "a\uD800")) },
        HostileCall("put lone low surrogate", InvalidUserException::class) { it.put(User(1, "\uDC00b")) },
        HostileCall("put reversed surrogate pair", InvalidUserException::class) { it.put(User(1, "\uDE00\uD83D")) },
        HostileCall("get negative id", InvalidUserException::class) { it.get(-1) },
        HostileCall("getJson negative id", InvalidUserException::class) { it.getJson(-5) },
        HostileCall("getMany with a negative id", InvalidUserException::class) { it.getMany(longArrayOf(1, -1, 2)) },
        HostileCall("remove negative id", InvalidUserException::class) { it.remove(Long.MIN_VALUE) },
        HostileCall("findByName lone surrogate", InvalidUserException::class) { it.findByName("\uD800") },
        HostileCall("findByName empty", InvalidUserException::class) { it.findByName("") },
        HostileCall("importJson not JSON", InvalidJsonException::class) { it.importJson("not json".toByteArray()) },
        HostileCall("importJson invalid UTF-8", InvalidJsonException::class) { it.importJson(BAD_UTF8) },
        HostileCall("importJson truncated", InvalidJsonException::class) { it.importJson("[{\"id\":1,\"name\":\"a\"".toByteArray()) },
        HostileCall("importJson lone surrogate escape", InvalidJsonException::class) {
            it.importJson("[{\"id\":1,\"name\":\"\\ud800\"}]".toByteArray())
        },
        HostileCall("importJson good record then bad one", InvalidJsonException::class) {
            it.importJson("[{\"id\":1,\"name\":\"replaced\"},{\"id\":-1,\"name\":\"x\"}]".toByteArray())
        },
        HostileCall("importJson id beyond i64", InvalidJsonException::class) {
            it.importJson("[{\"id\":18446744073709551615,\"name\":\"x\"}]".toByteArray())
        },
        HostileCall("importJson 200 nested arrays", InvalidJsonException::class) {
            it.importJson(("[".repeat(200) + "]".repeat(200)).toByteArray())
        },
        HostileCall("importJson duplicate key", InvalidJsonException::class) {
            it.importJson("[{\"id\":1,\"name\":\"a\",\"name\":\"b\"}]".toByteArray())
        },
    )

/** Calls on a closed store: each must throw [StoreClosedException]. */
private val CLOSED_CALLS =
    listOf(
        HostileCall("get after close", StoreClosedException::class) { it.get(1) },
        HostileCall("put after close", StoreClosedException::class) { it.put(User(1, "x")) },
        HostileCall("size after close", StoreClosedException::class) { it.size },
        HostileCall("getMany after close", StoreClosedException::class) { it.getMany(longArrayOf(1)) },
        HostileCall("exportJson after close", StoreClosedException::class) { it.exportJson() },
        HostileCall("importJson after close", StoreClosedException::class) { it.importJson("[]".toByteArray()) },
    )

/** Number of hostile calls [checkSafety] makes per store. */
internal val HOSTILE_CALLS: Int get() = OPEN_CALLS.size + CLOSED_CALLS.size

/**
 * Feeds the fixed set of hostile calls to a fresh store of [kind] holding 100 users: invalid ids
 * and names, lone surrogates, malformed JSON, and calls after close. A call is clean when it throws
 * the exception the rules name (a subclass counts); returning normally, another exception, or an
 * error is not. The store's export must be byte-identical afterwards.
 */
internal fun checkSafety(kind: StoreKind): SafetyResult {
    val store = kind.create()
    val outcomes = mutableListOf<HostileOutcome>()
    val unchanged: Boolean
    try {
        for (id in 0 until SAFETY_USERS) store.put(User(id, nameFor(id)))
        val before = store.exportJson()
        val sizeBefore = store.size
        OPEN_CALLS.forEach { outcomes += attempt(it, store) }
        unchanged = store.size == sizeBefore && store.exportJson().contentEquals(before)
    } finally {
        store.close()
    }
    CLOSED_CALLS.forEach { outcomes += attempt(it, store) }
    return SafetyResult(kind, outcomes, unchanged)
}

private fun attempt(
    call: HostileCall,
    store: UserStore,
): HostileOutcome =
    try {
        val value = call.call(store)
        HostileOutcome(call.name, false, "returned $value")
    } catch (e: Throwable) {
        if (call.expected.isInstance(e)) {
            HostileOutcome(call.name, true, "clean")
        } else {
            HostileOutcome(call.name, false, "threw ${e.javaClass.name} instead of ${call.expected.simpleName}")
        }
    }
