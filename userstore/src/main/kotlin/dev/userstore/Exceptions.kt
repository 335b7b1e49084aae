package dev.userstore

import java.io.IOException
import java.io.UncheckedIOException

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

/**
 * A durable store's directory (docs/DURABILITY.md) is open in another store, in this process or another. The
 * message names the directory's `LOCK` file. Nothing was loaded and nothing in the directory was changed.
 */
class StoreLockedException(
    message: String,
) : IOException(message)

/**
 * A durable store could not write or sync its write-ahead log during a write (docs/DURABILITY.md); the message
 * names the log file. The store refuses every later write with this exception (reads go on): close it and open
 * the directory again, which replays the log from the disk.
 *
 * [cause]: in [KotlinUserStore], the [IOException] the log's write or sync threw (every later refusal carries
 * the same cause). In [NativeUserStore] the failure is a Rust `std::io::Error`, which has no JVM counterpart:
 * its text is in the message, and the cause is an [IOException] with that same message.
 */
class DurabilityException(
    message: String,
    cause: IOException,
) : UncheckedIOException(message, cause) {
    /** A failure known only by its message (the native store's): the cause is an [IOException] with that message. */
    constructor(message: String) : this(message, IOException(message))
}
