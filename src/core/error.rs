//! The error type of the core store.
//!
//! Every message is written for a human: it becomes the message of the Java exception the JNI
//! boundary throws (`InvalidUserException` for [`StoreError::InvalidId`] and
//! [`StoreError::InvalidName`], `InvalidJsonException` for [`StoreError::InvalidJson`]).
//! The snapshot errors become `java.io.IOException`s (see `docs/SNAPSHOT.md`); the durability
//! errors `StoreLockedException`, `DurabilityException` and `StoreClosedException` (see
//! `docs/DURABILITY.md`).

use std::fmt;
use std::path::{Path, PathBuf};

/// Why a call on [`Store`](crate::core::Store) was refused. The store is unchanged whenever one
/// of these is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A negative id; ids are `0..=i64::MAX`. Holds the id that was passed.
    #[error("invalid id {0}: an id must be in 0..=9223372036854775807")]
    InvalidId(i64),

    /// A name that is not valid UTF-8, is empty, or has more than 256 code points. Holds what
    /// is wrong, for example `"the name is too long: 257 code points (at most 256)"`.
    #[error("invalid name: {0}")]
    InvalidName(String),

    /// An `apply_batch` that breaks a rule of the batch as a whole (`docs/RULES.md`, "Batches,
    /// pages and statistics"): an id both put and removed. Holds what is wrong, for example
    /// `"id 5 is both put and removed"`. Becomes `InvalidUserException`.
    #[error("invalid batch: {0}")]
    InvalidBatch(String),

    /// An `apply_batch` on a durable store whose log record would pass 1 GiB (`docs/DURABILITY.md`:
    /// a batch is one record, so it is refused rather than split). Holds the payload bytes the
    /// record would need. Becomes `IllegalArgumentException`.
    #[error(
        "the batch is too large: its log record would take {0} bytes, more than 1073741824 (1 GiB)"
    )]
    BatchTooLarge(u64),

    /// An `import_json` input that breaks the rules in `docs/RULES.md`.
    ///
    /// Displays as `record <index>: <reason>` when the problem concerns one record (the
    /// zero-based index of the element in the top-level array), and as `invalid JSON: <reason>`
    /// otherwise.
    #[error("{}", JsonMessage::new(.index, .reason))]
    InvalidJson {
        /// The zero-based index of the offending record, when the problem concerns one record.
        index: Option<usize>,
        /// What is wrong, including the position in the input when known.
        reason: String,
    },

    /// A snapshot file that does not exist (`open`). Becomes `java.nio.file.NoSuchFileException`
    /// whose message is the path.
    #[error("snapshot {}: no such file", .path.display())]
    SnapshotMissing {
        /// The file that was asked for.
        path: PathBuf,
    },

    /// A snapshot file that is not a valid snapshot (`docs/SNAPSHOT.md`): wrong magic, version,
    /// length or checksum, or an invalid record; or a damaged log of a durable store's data
    /// directory (`docs/DURABILITY.md`), whose reason names the offset. Becomes
    /// `CorruptSnapshotException`. Displays as `snapshot <path> is corrupt: <reason>`, or
    /// `log <path> is corrupt: <reason>` for a `.wal` file.
    #[error("{} {} is corrupt: {reason}", file_kind(.path), .path.display())]
    SnapshotCorrupt {
        /// The file that was read.
        path: PathBuf,
        /// What is wrong, for example `checksum mismatch`.
        reason: String,
    },

    /// Any other I/O failure while saving or opening a snapshot. Becomes `java.io.IOException`.
    #[error("snapshot {}: {reason}", .path.display())]
    SnapshotIo {
        /// The snapshot file (the target, when saving).
        path: PathBuf,
        /// What failed, with the operating system's message.
        reason: String,
    },

    /// A durable store's data directory is open in another store, in this process or another
    /// (its `LOCK` file is locked). Becomes `StoreLockedException`.
    #[error(
        "data directory {} is locked by another store ({})",
        parent(.path).display(),
        .path.display()
    )]
    Locked {
        /// The directory's `LOCK` file.
        path: PathBuf,
    },

    /// The log of a durable store could not be written or synced during a write (or a
    /// checkpoint's sync). The store then refuses every later write with this error; reads go
    /// on. Becomes `DurabilityException`.
    #[error("log {}: {reason}", .path.display())]
    LogIo {
        /// The log file.
        path: PathBuf,
        /// What failed, with the operating system's message.
        reason: String,
    },

    /// A write on a durable store whose log was closed (`close_log`, or the store is being
    /// closed). Becomes `StoreClosedException`.
    #[error("the store is closed (its log is closed)")]
    LogClosed,
}

/// `log` for a `.wal` file, else `snapshot`: the word that starts a corruption message.
fn file_kind(path: &Path) -> &'static str {
    if path.extension().is_some_and(|e| e == "wal") {
        "log"
    } else {
        "snapshot"
    }
}

/// The directory holding `path` (the path itself if it has none).
fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => path,
    }
}

impl StoreError {
    /// An [`StoreError::InvalidJson`] about the record at `index` (if known).
    pub(crate) fn json_at(index: Option<usize>, reason: impl Into<String>) -> StoreError {
        StoreError::InvalidJson {
            index,
            reason: reason.into(),
        }
    }
}

/// Formats the message of [`StoreError::InvalidJson`].
struct JsonMessage<'a> {
    index: Option<usize>,
    reason: &'a str,
}

impl<'a> JsonMessage<'a> {
    fn new(index: &Option<usize>, reason: &'a str) -> JsonMessage<'a> {
        JsonMessage {
            index: *index,
            reason,
        }
    }
}

impl fmt::Display for JsonMessage<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.index {
            Some(index) => write!(f, "record {index}: {}", self.reason),
            None => write!(f, "invalid JSON: {}", self.reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_id_message_names_the_id() {
        let message = StoreError::InvalidId(-42).to_string();
        assert!(message.contains("-42"), "{message}");
    }

    #[test]
    fn invalid_name_message_says_what_is_wrong() {
        let message = StoreError::InvalidName("the name is empty".into()).to_string();
        assert_eq!(message, "invalid name: the name is empty");
    }

    #[test]
    fn invalid_json_message_names_the_record() {
        let message = StoreError::json_at(Some(3), "\"id\" must not be negative").to_string();
        assert_eq!(message, "record 3: \"id\" must not be negative");
        let message = StoreError::json_at(None, "trailing comma at line 1 column 4").to_string();
        assert_eq!(message, "invalid JSON: trailing comma at line 1 column 4");
    }

    #[test]
    fn batch_messages_say_what_is_wrong() {
        let message = StoreError::InvalidBatch("id 5 is both put and removed".into()).to_string();
        assert_eq!(message, "invalid batch: id 5 is both put and removed");
        let message = StoreError::BatchTooLarge(1 << 31).to_string();
        assert!(message.contains("2147483648 bytes"), "{message}");
    }

    #[test]
    fn durability_messages_name_the_file() {
        let locked = StoreError::Locked {
            path: "/x/LOCK".into(),
        };
        assert_eq!(
            locked.to_string(),
            "data directory /x is locked by another store (/x/LOCK)"
        );
        let corrupt = StoreError::SnapshotCorrupt {
            path: "/x/log-00000000000000000003.wal".into(),
            reason: "damaged record at offset 1234 (checksum mismatch)".into(),
        };
        assert_eq!(
            corrupt.to_string(),
            "log /x/log-00000000000000000003.wal is corrupt: damaged record at offset 1234 \
             (checksum mismatch)"
        );
        let snapshot = StoreError::SnapshotCorrupt {
            path: "/x/snapshot-00000000000000000003.snap".into(),
            reason: "checksum mismatch".into(),
        };
        assert_eq!(
            snapshot.to_string(),
            "snapshot /x/snapshot-00000000000000000003.snap is corrupt: checksum mismatch"
        );
    }
}
