//! userstore: a user store in Rust, exposed to the JVM through JNI.
//!
//! - [`core`]: the store itself, a plain Rust library with no JNI in it (tested in `tests/`,
//!   benchmarked in `benches/`).
//! - [`reclaim`]: fence-free epoch/quiescence reclamation (one global domain) for the core's
//!   optimistic reads; with the boundary, the only module with `unsafe`.
//! - `jni` (private): the JNI boundary, the only module with `extern "system"` functions and
//!   `unsafe` (the core forbids it); it converts between Java arrays and the core API and turns
//!   errors and panics into Java exceptions. Its one exported symbol is `JNI_OnLoad`, which
//!   registers the native methods of `dev.userstore.NativeBridge` (`RegisterNatives`).
pub mod core;
mod jni;
pub mod reclaim;

pub use crate::core::{Store, StoreError};
