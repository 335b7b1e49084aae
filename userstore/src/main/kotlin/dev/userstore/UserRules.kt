package dev.userstore

import dev.userstore.internal.engine.StrictJson

/**
 * The id and name rules of docs/RULES.md, as both stores apply them to a Kotlin [User]: for code that checks a
 * user before it reaches a store (a service validating a request before writing it elsewhere, for instance).
 */
object UserRules {
    private const val MAX_NAME_CODE_POINTS = StrictJson.MAX_NAME_CODE_POINTS

    /** Throws [InvalidUserException] unless [id] is in `0..Long.MAX_VALUE`. */
    @JvmStatic
    fun checkId(id: Long) {
        if (id < 0) throw InvalidUserException("invalid id $id: an id must be in 0..=${Long.MAX_VALUE}")
    }

    /** Throws [InvalidUserException] unless [name] holds 1 to 256 code points and no unpaired surrogate. */
    @JvmStatic
    fun checkName(name: String) {
        if (name.isEmpty()) throw InvalidUserException("invalid name: the name is empty")
        var codePoints = 0
        var i = 0
        while (i < name.length) {
            val c = name[i]
            if (Character.isSurrogate(c)) {
                if (Character.isHighSurrogate(c) && i + 1 < name.length && Character.isLowSurrogate(name[i + 1])) {
                    i++
                } else {
                    throw InvalidUserException("invalid name: unpaired surrogate U+%04X at index %d".format(c.code, i))
                }
            }
            codePoints++
            i++
        }
        if (codePoints > MAX_NAME_CODE_POINTS) {
            throw InvalidUserException(
                "invalid name: the name is too long: $codePoints code points (at most $MAX_NAME_CODE_POINTS)",
            )
        }
    }
}
