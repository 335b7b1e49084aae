//! userstore: a user store in Rust, exposed to the JVM through JNI (JDK 17+) and through the
//! Foreign Function & Memory API (JDK 22+).
//!
//! - [`core`]: the store itself, a plain Rust library with no JNI, FFM or HTTP in it (tested in
//!   `tests/`, benchmarked in `benches/`); it forbids `unsafe`.
//! - [`reclaim`]: fence-free memory reclamation for the core's optimistic reads and for closing
//!   stores under running calls; with the boundary, the only modules with `unsafe`.
//! - The boundary (private), the only modules with `extern` functions:
//!   - `jni`: the JNI binding. Its one exported symbol is `JNI_OnLoad`, which registers the
//!     native methods of `dev.userstore.NativeBridge` (`RegisterNatives`).
//!   - `ffi`: the C ABI (`userstore_*` symbols) that the FFM binding calls with downcall handles.
//!   - `handle`: the store handles both bindings hand to the JVM; `wire`: the name encoding
//!     both write into the caller's buffer.
//!
//!   Each converts between JVM memory and the core API and turns errors and panics into the same
//!   Java exceptions, whichever binding is used.
pub mod core;
mod ffi;
mod handle;
mod jni;
pub mod reclaim;
mod wire;

pub use crate::core::{Store, StoreError};
