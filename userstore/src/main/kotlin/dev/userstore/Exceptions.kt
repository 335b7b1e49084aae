package dev.userstore

import java.io.IOException

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

/**
 * A snapshot file that is not a valid snapshot (docs/SNAPSHOT.md): wrong magic bytes, version, length or
 * checksum, or an invalid record. The message names the file and the problem. Nothing was loaded.
 */
class CorruptSnapshotException(
    message: String,
) : IOException(message)
