//! userstore: a user store in Rust, exposed to the JVM through JNI (JDK 17+) and through the
//! Foreign Function & Memory API (JDK 22+).
//!
//! - [`core`]: the store itself, a plain Rust library with no JNI, FFM or HTTP in it (tested in
//!   `tests/`, benchmarked in `benches/`); it forbids `unsafe`.
//! - [`reclaim`]: fence-free memory reclamation for the core's optimistic reads and for closing
//!   stores under running calls; with `dirlock` (the `fcntl` lock of a durable store's data
//!   directory) and the boundary, the only modules with `unsafe`.
//! - The boundary (private), the only modules with `extern` functions:
//!   - `jni`: the JNI binding. Its one exported symbol is `JNI_OnLoad`, which registers the
//!     native methods of `dev.userstore.internal.binding.NativeBridge` (`RegisterNatives`).
//!   - `ffi`: the C ABI (`userstore_*` symbols) that the FFM binding calls with downcall handles.
//!   - `handle`: the store handles both bindings hand to the JVM; `wire`: the name encoding
//!     both write into the caller's buffer; `vector_state`: the `vzeroupper` every call from
//!     the JVM takes on entry (Java's AVX state would otherwise slow our SSE code on Intel).
//!
//!   Each converts between JVM memory and the core API and turns errors and panics into the same
//!   Java exceptions, whichever binding is used.
//!
//!   The boundary is compiled only with the `jvm` feature (on by default); without it the crate
//!   is the core alone, for Rust programs such as `userstore-server`.
#[cfg(feature = "jvm")]
mod abi;
pub mod core;
mod dirlock;
#[cfg(feature = "jvm")]
mod ffi;
#[cfg(feature = "jvm")]
mod handle;
#[cfg(feature = "jvm")]
mod jni;
pub mod reclaim;
#[cfg(feature = "jvm")]
mod vector_state;
#[cfg(feature = "jvm")]
mod wire;

pub use crate::core::{
    DurableOptions, LogStats, Store, StoreError, SyncMode, BATCH_INTERVAL,
    DEFAULT_CHECKPOINT_LOG_BYTES,
};
