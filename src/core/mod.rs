//! The pure-Rust core of userstore: the store, its validation and its JSON reading and
//! writing, with no knowledge of the JVM (the JNI boundary lives elsewhere).
//!
//! `docs/RULES.md` is the contract: the same rules are implemented in Kotlin and a
//! differential test compares the two.
//!
//! No `unsafe` here, ever (forbidden, so no inner `allow` can undo it): every `unsafe` block of
//! the crate lives in the JNI boundary, in `reclaim` or in `dirlock` (the data directory's
//! `fcntl` lock, which `durable` takes), where its contract is documented.
#![forbid(unsafe_code)]

mod bytes;
mod durable;
mod error;
mod hash;
mod import;
mod json;
mod name;
mod snapshot;
mod store;
mod table;
mod wal;

pub use self::durable::{
    DurableOptions, LogStats, SyncMode, BATCH_INTERVAL, DEFAULT_CHECKPOINT_LOG_BYTES,
};
pub use self::error::StoreError;
pub use self::json::write_json_string;
pub use self::name::MAX_NAME_CODE_POINTS;
pub use self::snapshot::{SNAPSHOT_MAGIC, SNAPSHOT_VERSION};
pub use self::store::Store;
pub use self::wal::{WAL_MAGIC, WAL_VERSION};
