package dev.userstore

/**
 * When a write to a durable store (`openDurable`, docs/DURABILITY.md) returns, relative to its record in the
 * write-ahead log.
 */
enum class Sync {
    /**
     * A write returns once its record is written to the log file and `fdatasync`ed; concurrent writers share
     * one `fdatasync` (group commit). Nothing acknowledged is lost, even on a machine crash.
     */
    ALWAYS,

    /**
     * A write returns once its record is in the log's buffer; a background thread writes the buffer and
     * `fdatasync`s it every [BATCH_INTERVAL_MILLIS] ms. A crash loses at most the writes of that interval.
     */
    BATCH,

    /**
     * A write returns once its record is in the log's buffer; a background thread writes the buffer to the
     * operating system every [BATCH_INTERVAL_MILLIS] ms and never syncs. A process crash loses at most the
     * writes of that interval, a machine crash whatever the OS had not written back.
     */
    NONE,
    ;

    /** The constants of durable stores. */
    companion object {
        /** How often the background thread of [BATCH] and [NONE] writes (and for [BATCH] syncs) the log: 10 ms. */
        const val BATCH_INTERVAL_MILLIS: Long = 10

        /** The log size at which a write runs a checkpoint, unless `openDurable` is given another: 64 MiB. */
        const val DEFAULT_CHECKPOINT_LOG_BYTES: Long = 64L shl 20
    }
}
