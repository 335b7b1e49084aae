package dev.userstore

/** A user, id or name that breaks the rules in docs/RULES.md. The store is unchanged. */
open class InvalidUserException(
    message: String,
) : IllegalArgumentException(message)

/** An `importJson` input that breaks the rules in docs/RULES.md. The store is unchanged. */
class InvalidJsonException(
    message: String,
) : IllegalArgumentException(message)

/** A call on a store that has been closed. */
class StoreClosedException(
    message: String = "the store is closed",
) : IllegalStateException(message)

/** An internal failure of the native store (for example a Rust panic); the JVM and the store survive. */
class NativeStoreException(
    message: String,
) : RuntimeException(message)
