//! The one table of what the Rust boundary and the JVM side must agree on: error codes, flags and
//! shared constants, for both bindings (the C ABI of `ffi.rs` that the FFM binding calls, and the
//! JNI natives of `jni.rs`).
//!
//! The JVM side holds a copy in `dev.userstore.internal.binding.NativeAbi` (Kotlin), which also turns a
//! code and its message into the exception, in one place, for both bindings: the FFM binding
//! receives the code as a return value, and the JNI binding calls `NativeAbi.exception` from
//! [`crate::jni`] to build the `Throwable` it throws. `NativeAbiTest` (userstore/src/test) reads
//! this file and fails on any constant that differs, is missing, or is extra on either side, so
//! this file is the source and the Kotlin object its checked copy. Only `pub const NAME: i32 =
//! VALUE;` lines (a decimal or `1 << n`) are read: keep every shared constant in that form.

use crate::core::{StoreError, SyncMode};

/// The version of the C ABI; the FFM binding refuses a library with another one.
pub const ABI_VERSION: i32 = 1;

/// A get (`userstore_get`, `getDirect0`, a getMany entry, a getJson): no such user. Not an error.
pub const MISSING: i32 = -1;
/// The store was closed, or its log was closed under a write: `StoreClosedException`.
pub const ERR_CLOSED: i32 = -2;
/// A bad id or name: `InvalidUserException`.
pub const ERR_INVALID_USER: i32 = -3;
/// A bad import: `InvalidJsonException`.
pub const ERR_INVALID_JSON: i32 = -4;
/// A snapshot that does not exist: `java.nio.file.NoSuchFileException` (the message is the path).
pub const ERR_NO_SUCH_FILE: i32 = -5;
/// A damaged snapshot or log: `CorruptSnapshotException`.
pub const ERR_CORRUPT_SNAPSHOT: i32 = -6;
/// Any other snapshot I/O failure: `java.io.IOException`.
pub const ERR_IO: i32 = -7;
/// A Rust panic: `NativeStoreException` ("Rust panic in userstore: ...").
pub const ERR_PANIC: i32 = -8;
/// A broken call (null pointer, negative length, result too large, a failed JNI call):
/// `NativeStoreException`.
pub const ERR_INTERNAL: i32 = -9;
/// A data directory another store has open: `StoreLockedException`.
pub const ERR_LOCKED: i32 = -10;
/// A log that could not be written or synced: `DurabilityException`.
pub const ERR_LOG_IO: i32 = -11;
/// An input too large to take (a batch whose log record would pass 1 GiB):
/// `IllegalArgumentException`.
pub const ERR_TOO_LARGE: i32 = -12;

/// Set in a name's length word when its bytes are Latin-1 (one byte per character) rather than
/// UTF-8; above every possible length (at most [`NAME_BUFFER_BYTES`]).
pub const LATIN1: i32 = 1 << 20;
/// The room a name may need: 256 code points of at most 4 UTF-8 bytes each.
pub const NAME_BUFFER_BYTES: i32 = 1024;

/// `Sync.ALWAYS` as the JVM passes it to `openDurable`.
pub const SYNC_ALWAYS: i32 = 0;
/// `Sync.BATCH`.
pub const SYNC_BATCH: i32 = 1;
/// `Sync.NONE`.
pub const SYNC_NONE: i32 = 2;

/// The number of `i64`s `logStats` writes: bytes appended, bytes durable, syncs, generation.
pub const LOG_STATS_FIELDS: i32 = 4;

/// The number of `i64`s `stats` writes: users, table bytes, durable (1 or 0), log bytes,
/// checkpoints (`StoreStats` in this order).
pub const STATS_FIELDS: i32 = 5;

/// The error code of a core error: the one mapping both bindings use.
pub(crate) fn code_of(err: &StoreError) -> i32 {
    match err {
        StoreError::InvalidId(_) | StoreError::InvalidName(_) | StoreError::InvalidBatch(_) => {
            ERR_INVALID_USER
        }
        StoreError::BatchTooLarge(_) => ERR_TOO_LARGE,
        StoreError::InvalidJson { .. } => ERR_INVALID_JSON,
        StoreError::SnapshotMissing { .. } => ERR_NO_SUCH_FILE,
        StoreError::SnapshotCorrupt { .. } => ERR_CORRUPT_SNAPSHOT,
        StoreError::SnapshotIo { .. } => ERR_IO,
        StoreError::Locked { .. } => ERR_LOCKED,
        StoreError::LogIo { .. } => ERR_LOG_IO,
        StoreError::LogClosed => ERR_CLOSED,
    }
}

/// The exception message of a core error: its text, except that a missing snapshot's message
/// is the file alone, as the JDK's own `NoSuchFileException`.
pub(crate) fn message_of(err: &StoreError) -> String {
    match err {
        StoreError::SnapshotMissing { path } => path.to_string_lossy().into_owned(),
        _ => err.to_string(),
    }
}

/// The sync mode of a code from the JVM, `None` for an unknown one.
pub(crate) fn sync_mode(code: i32) -> Option<SyncMode> {
    match code {
        SYNC_ALWAYS => Some(SyncMode::Always),
        SYNC_BATCH => Some(SyncMode::Batch),
        SYNC_NONE => Some(SyncMode::None),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn every_core_error_has_its_code() {
        let path = PathBuf::from("/x/users.snap");
        let cases = [
            (StoreError::InvalidId(-1), ERR_INVALID_USER),
            (StoreError::InvalidName("empty".into()), ERR_INVALID_USER),
            (StoreError::InvalidBatch("both".into()), ERR_INVALID_USER),
            (StoreError::BatchTooLarge(1 << 31), ERR_TOO_LARGE),
            (StoreError::LogClosed, ERR_CLOSED),
            (
                StoreError::SnapshotMissing { path: path.clone() },
                ERR_NO_SUCH_FILE,
            ),
        ];
        for (err, code) in cases {
            assert_eq!(code_of(&err), code, "{err:?}");
        }
        assert_eq!(
            message_of(&StoreError::SnapshotMissing { path }),
            "/x/users.snap"
        );
    }

    #[test]
    fn sync_codes_round_trip() {
        assert_eq!(sync_mode(SYNC_ALWAYS), Some(SyncMode::Always));
        assert_eq!(sync_mode(SYNC_BATCH), Some(SyncMode::Batch));
        assert_eq!(sync_mode(SYNC_NONE), Some(SyncMode::None));
        assert_eq!(sync_mode(3), None);
    }

    #[test]
    fn codes_are_distinct_and_negative() {
        let codes = [
            MISSING,
            ERR_CLOSED,
            ERR_INVALID_USER,
            ERR_INVALID_JSON,
            ERR_NO_SUCH_FILE,
            ERR_CORRUPT_SNAPSHOT,
            ERR_IO,
            ERR_PANIC,
            ERR_INTERNAL,
            ERR_LOCKED,
            ERR_LOG_IO,
            ERR_TOO_LARGE,
        ];
        let mut seen = std::collections::HashSet::new();
        for code in codes {
            assert!(code < 0 && seen.insert(code), "code {code}");
        }
    }
}
