//! The pure-Rust core of userstore: the store, its validation and its JSON reading and
//! writing, with no knowledge of the JVM (the JNI boundary lives elsewhere).
//!
//! `docs/RULES.md` is the contract: the same rules are implemented in Kotlin and a
//! differential test compares the two.
//!
//! No `unsafe` here, ever (forbidden, so no inner `allow` can undo it): every `unsafe` block of
//! the crate lives in the JNI boundary, in `reclaim` or in `dirlock` (the data directory's
//! `fcntl` lock, which `durable` takes), where its contract is documented.
//!
//! # Layers
//!
//! Data flows down, errors flow up. From the bottom up, a module imports (`use
//! crate::core::...`) only modules of its own layer or of the layers below it, and no two
//! modules import each other, directly or through others. `tests/layers.rs` reads every
//! module's imports, and this list, and fails on a cycle or on an import against this order:
//!
//! 0. `bytes`, `error`, `hash`: little-endian readers and the atomic replacement of a file;
//!    the error type; the id and name hashes.
//! 1. `name`, `json`, `import`: the rules of a valid id and name; JSON writing; the JSON
//!    import parser.
//! 2. `snapshot`, `wal`: the snapshot and write-ahead-log formats; bytes in, bytes out, and
//!    whole files read or replaced; they never see a store.
//! 3. `table`, `store`: the memory store (`MemStore`): sharded tables, name index, optimistic
//!    reads, and the `apply_*` methods of put, remove, import and batch. It knows nothing of
//!    the log.
//! 4. `durable`: the log (`Durable`): the data directory, recovery, group commit,
//!    checkpoints. It opens into a new `MemStore` and is handed the `MemStore` on each write
//!    (with a closure from the facade that applies the write and encodes its record); the
//!    memory store never calls it.
//! 5. `facade`: the public [`Store`]: validates each call, then dispatches to the memory store
//!    alone or through the log. Every public method of the core is here.
//!
//! The core is a module, not a crate of its own: it uses `crate::reclaim` (the reclamation
//! domain its lock-free reads pin) and `crate::dirlock`, which hold `unsafe`, so a core crate
//! would have to take them (and their `unsafe`) along or depend on a third crate.
#![forbid(unsafe_code)]

mod bytes;
mod durable;
mod error;
mod facade;
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
pub use self::facade::Store;
pub use self::json::write_json_string;
pub use self::name::MAX_NAME_CODE_POINTS;
pub use self::snapshot::{SNAPSHOT_MAGIC, SNAPSHOT_VERSION};
pub use self::wal::{WAL_MAGIC, WAL_VERSION};
