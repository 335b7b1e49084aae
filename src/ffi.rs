//! The C ABI for the JVM's Foreign Function & Memory API (JDK 22+): the second binding, beside
//! the JNI one in `jni.rs`, over the same core [`Store`] and the same [`handle`](crate::handle)s.
//!
//! The FFM binding (`dev.userstore.internal.binding.FfmCalls`, Java compiled for JDK 22 into
//! `META-INF/versions/22` of the jar) binds each function below with a downcall handle. The short
//! reads that neither block for long nor call back (`userstore_get`, `userstore_get_many`,
//! `userstore_get_json`, `userstore_size`, `userstore_find_by_name`) are bound with
//! `Linker.Option.critical(true)`: no thread-state transition (so no fence on return) and the
//! Java arrays passed straight in, no copy. Writes, imports, exports and snapshots use ordinary
//! downcalls on off-heap copies, since they may wait for a lock or do I/O.
//!
//! # Conventions
//! - A handle is an `i64` from [`userstore_create`] / [`userstore_open`], as for JNI.
//! - Results are `i32`/`i64`; a negative value other than [`MISSING`] is an error code
//!   ([`ERR_CLOSED`] ..., the one table in [`crate::abi`]). The message of the last error on this
//!   thread is then copied out by [`userstore_last_error`], which the JVM side calls right
//!   after, on the same thread: `NativeAbi.exception` turns code and message into the
//!   exception, the same place the JNI binding's errors go through.
//! - Every function catches panics (`catch_unwind`); a panic is [`ERR_PANIC`] with its message.
//! - Pointers with lengths are checked for null and negative lengths; a violation is
//!   [`ERR_INTERNAL`], never a dereference.
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;

use crate::abi::{self, ABI_VERSION, ERR_CLOSED, ERR_INTERNAL, ERR_PANIC, MISSING};
use crate::core::{DurableOptions, Store, StoreError};
use crate::handle::{self, Closed, Handle};
use crate::wire::{read_puts, stats_of, write_entries, write_name, write_page, NAME_BUFFER_BYTES};

thread_local! {
    /// The message of this thread's last error; written only when a call fails.
    static LAST_ERROR: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Why a call failed.
enum Failure {
    Store(StoreError),
    Closed,
    Internal(String),
}

impl From<StoreError> for Failure {
    fn from(err: StoreError) -> Failure {
        Failure::Store(err)
    }
}

impl From<Closed> for Failure {
    fn from(_: Closed) -> Failure {
        Failure::Closed
    }
}

/// The one error policy of this binding, the same mapping as `jni.rs`'s `ThrowJava`: the code
/// names the exception class, the message is the same text.
fn fail(failure: Failure) -> i64 {
    let (code, message) = match failure {
        Failure::Closed => (ERR_CLOSED, "the store is closed".to_owned()),
        Failure::Internal(message) => (ERR_INTERNAL, message),
        Failure::Store(err) => (abi::code_of(&err), abi::message_of(&err)),
    };
    set_last_error(message.into_bytes());
    i64::from(code)
}

fn set_last_error(message: Vec<u8>) {
    LAST_ERROR.with(|last| *last.borrow_mut() = message);
}

/// Runs one export: catches a panic, maps a failure to its code (and message).
fn guarded(f: impl FnOnce() -> Result<i64, Failure>) -> i64 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(value)) => value,
        Ok(Err(failure)) => fail(failure),
        Err(payload) => {
            let text = if let Some(s) = payload.downcast_ref::<&'static str>() {
                (*s).to_owned()
            } else if let Some(s) = payload.downcast_ref::<String>() {
                s.clone()
            } else {
                "non-string panic payload".to_owned()
            };
            // Dropping a payload can itself panic; leak it instead, it is a rare, small object.
            std::mem::forget(payload);
            set_last_error(format!("Rust panic in userstore: {text}").into_bytes());
            i64::from(ERR_PANIC)
        }
    }
}

/// [`guarded`] for the exports that return an `i32`.
fn guarded32(f: impl FnOnce() -> Result<i32, Failure>) -> i32 {
    // Every value f returns is an i32 and every code is one: the cast keeps it.
    guarded(|| f().map(i64::from)) as i32
}

/// Runs `f` on the store behind `raw`.
///
/// # Safety
/// `raw` must be 0 or a live handle (see [`handle::from_raw`]) for the whole call.
unsafe fn with_store<R>(
    raw: i64,
    f: impl FnOnce(&Store) -> Result<R, Failure>,
) -> Result<R, Failure> {
    // SAFETY: passed on from this function's contract.
    let handle = unsafe { handle::from_raw(raw) }
        .ok_or_else(|| Failure::Internal("invalid native store handle".to_owned()))?;
    handle.with(f)?
}

/// `len` bytes at `ptr`, for reading.
///
/// # Safety
/// Unless `ptr` is null or `len` is 0 or negative, `ptr` must point at `len` initialised bytes
/// that nothing writes while the slice lives (`'a`, at most the rest of the call).
unsafe fn bytes<'a>(ptr: *const u8, len: i64) -> Result<&'a [u8], Failure> {
    let len =
        usize::try_from(len).map_err(|_| Failure::Internal(format!("negative length {len}")))?;
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Failure::Internal("null input".to_owned()));
    }
    // SAFETY: by this function's contract, ptr/len describe initialised bytes not written
    // meanwhile; an FFM segment is below isize::MAX bytes.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// `len` bytes at `ptr`, for writing.
///
/// # Safety
/// Unless `ptr` is null or `len` is 0 or negative, `ptr` must point at `len` initialised bytes
/// valid for writes that nothing else reads or writes while the slice lives (`'a`).
unsafe fn bytes_mut<'a>(ptr: *mut u8, len: i32) -> Result<&'a mut [u8], Failure> {
    let len =
        usize::try_from(len).map_err(|_| Failure::Internal(format!("negative length {len}")))?;
    if len == 0 {
        return Ok(&mut []);
    }
    if ptr.is_null() {
        return Err(Failure::Internal("null output".to_owned()));
    }
    // SAFETY: by this function's contract ptr/len describe initialised bytes valid for writes
    // that nothing else touches meanwhile.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, len) })
}

/// A path sent as UTF-8 bytes; anything else is an I/O error (as in `jni.rs`).
fn path(bytes: &[u8]) -> Result<PathBuf, Failure> {
    match std::str::from_utf8(bytes) {
        Ok(path) => Ok(PathBuf::from(path)),
        Err(_) => Err(Failure::Store(StoreError::SnapshotIo {
            path: PathBuf::from(String::from_utf8_lossy(bytes).into_owned()),
            reason: "the path is not valid UTF-8".to_owned(),
        })),
    }
}

/// The ABI version, [`ABI_VERSION`].
#[unsafe(no_mangle)]
pub extern "C" fn userstore_abi_version() -> i32 {
    ABI_VERSION
}

/// A new empty store's handle; 0 on failure (see [`userstore_last_error`]).
#[unsafe(no_mangle)]
pub extern "C" fn userstore_create() -> i64 {
    let handle = guarded(|| Ok(Handle::into_raw(Store::new()) as i64));
    handle.max(0)
}

/// A new store read from the snapshot at the UTF-8 path `path_utf8` (`len` bytes); its handle, or
/// 0 on failure with the error's code stored at `*code` and its message kept for
/// [`userstore_last_error`].
///
/// # Safety
/// `path_utf8` must point at `len` readable bytes; `code` must be valid for one `i32` write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_open(path_utf8: *const u8, len: i64, code: *mut i32) -> i64 {
    let result = guarded(|| {
        // SAFETY: the caller passes `len` readable bytes (an off-heap copy, held for the call).
        let path = path(unsafe { bytes(path_utf8, len) }?)?;
        let store = Store::open(&path)?;
        Ok(Handle::into_raw(store) as i64)
    });
    if result < 0 && !code.is_null() {
        // SAFETY: the caller passes a pointer valid for one i32 write, checked non-null.
        unsafe { code.write(result as i32) };
    }
    result.max(0)
}

/// A durable store on the data directory at the UTF-8 path `dir_utf8` (`len` bytes), created if
/// missing: `sync` 0 `ALWAYS`, 1 `BATCH`, 2 `NONE`; a checkpoint runs when the log reaches
/// `checkpoint_log_bytes` (at least 1). Its handle, or 0 on failure with the error's code stored
/// at `*code` ([`ERR_LOCKED`], [`ERR_CORRUPT_SNAPSHOT`], [`ERR_IO`], ...) and its message kept for
/// [`userstore_last_error`].
///
/// # Safety
/// `dir_utf8` must point at `len` readable bytes; `code` must be valid for one `i32` write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_open_durable(
    dir_utf8: *const u8,
    len: i64,
    sync: i32,
    checkpoint_log_bytes: i64,
    code: *mut i32,
) -> i64 {
    let result = guarded(|| {
        // SAFETY: the caller passes `len` readable bytes (an off-heap copy, held for the call).
        let dir = path(unsafe { bytes(dir_utf8, len) }?)?;
        let sync = abi::sync_mode(sync)
            .ok_or_else(|| Failure::Internal(format!("unknown sync mode {sync}")))?;
        let checkpoint_log_bytes = u64::try_from(checkpoint_log_bytes)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| {
                Failure::Internal(format!(
                    "checkpoint_log_bytes {checkpoint_log_bytes} is not at least 1"
                ))
            })?;
        let options = DurableOptions {
            sync,
            checkpoint_log_bytes,
        };
        let store = Store::open_durable(&dir, options)?;
        Ok(Handle::into_raw(store) as i64)
    });
    if result < 0 && !code.is_null() {
        // SAFETY: the caller passes a pointer valid for one i32 write, checked non-null.
        unsafe { code.write(result as i32) };
    }
    result.max(0)
}

/// Runs a checkpoint of a durable store (nothing for a memory-only one): 0, or an error code.
///
/// # Safety
/// `raw` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_checkpoint(raw: i64) -> i32 {
    guarded32(|| {
        // SAFETY: the Kotlin owner passes its own live handle for this call.
        unsafe { with_store(raw, |store| Ok(store.checkpoint()?)) }?;
        Ok(0)
    })
}

/// The log counters of a durable store: 1 with `out4[0..4]` = appended, durable, syncs,
/// generation; 0 (nothing written) for a memory-only store; or an error code.
///
/// # Safety
/// `raw` must be a live handle; `out4` must be valid for four `i64` writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_log_stats(raw: i64, out4: *mut i64) -> i32 {
    guarded32(|| {
        // SAFETY: the Kotlin owner passes its own live handle for this call.
        let stats = unsafe { with_store(raw, |store| Ok(store.log_stats())) }?;
        let Some(stats) = stats else {
            return Ok(0);
        };
        if out4.is_null() || !out4.is_aligned() {
            return Err(Failure::Internal("null or misaligned output".to_owned()));
        }
        // SAFETY: the JVM side passes room for four aligned i64s (checked non-null and aligned)
        // that only this call touches.
        let out = unsafe { std::slice::from_raw_parts_mut(out4, abi::LOG_STATS_FIELDS as usize) };
        let values = [stats.appended, stats.durable, stats.syncs, stats.generation];
        for (slot, value) in out.iter_mut().zip(values) {
            *slot = i64::try_from(value).unwrap_or(i64::MAX);
        }
        Ok(1)
    })
}

/// Closes the store: 1 if this call closed it, 0 if it was closed already. Never waits for calls
/// in flight to return: the store is freed once they have (see [`handle`](crate::handle)); a
/// durable store's log is flushed, synced and closed first, so its directory is unlocked when
/// this returns.
///
/// # Safety
/// `raw` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_close(raw: i64) -> i32 {
    guarded32(|| {
        // SAFETY: the Kotlin owner passes its own live handle.
        let handle = unsafe { handle::from_raw(raw) }
            .ok_or_else(|| Failure::Internal("invalid native store handle".to_owned()))?;
        Ok(i32::from(handle.close()))
    })
}

/// Closes the store if still open and frees the handle; the Kotlin `Cleaner` calls it once the
/// owner is unreachable.
///
/// # Safety
/// `raw` must be a live handle that no call uses now or later.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_destroy(raw: i64) {
    guarded(|| {
        // SAFETY: passed on from this function's contract.
        unsafe { handle::destroy(raw) };
        Ok(0)
    });
}

/// 1 once the closed store's memory has been freed, else 0 (a test hook).
///
/// # Safety
/// `raw` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_is_freed(raw: i64) -> i32 {
    // SAFETY: the Kotlin owner passes its own live handle.
    let handle = unsafe { handle::from_raw(raw) };
    handle.map_or(0, |h| i32::from(h.is_freed()))
}

/// The number of users, or an error code.
///
/// # Safety
/// `raw` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_size(raw: i64) -> i64 {
    guarded(|| {
        // SAFETY: the Kotlin owner passes its own live handle for this call.
        unsafe { with_store(raw, |store| Ok(store.len() as i64)) }
    })
}

/// Inserts or replaces the user `id` named by the UTF-8 bytes at `name` (`len` bytes): 0, or an
/// error code.
///
/// # Safety
/// `raw` must be a live handle; `name` must point at `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_put(raw: i64, id: i64, name: *const u8, len: i32) -> i32 {
    guarded32(|| {
        // SAFETY: the JVM side passes an off-heap copy of the name, held for this call.
        let name = unsafe { bytes(name, i64::from(len)) }?;
        // SAFETY: the Kotlin owner passes its own live handle for this call.
        unsafe { with_store(raw, |store| Ok(store.put(id, name)?)) }?;
        Ok(0)
    })
}

/// Removes the user `id`: 1 if there was one, 0 if not, or an error code.
///
/// # Safety
/// `raw` must be a live handle.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_remove(raw: i64, id: i64) -> i32 {
    guarded32(|| {
        // SAFETY: the Kotlin owner passes its own live handle for this call.
        unsafe { with_store(raw, |store| Ok(i32::from(store.remove(id)?))) }
    })
}

/// Writes the name of `id` into `out` (`cap` bytes) and returns its length word (as JNI's
/// `getDirect0`: byte count, plus `LATIN1` for Latin-1 bytes), [`MISSING`], or an error code.
/// When the name needs more than `cap` bytes nothing is written and the word says how many (the
/// caller retries with `NAME_BUFFER_BYTES`). A critical downcall: `out` may be a Java array.
///
/// # Safety
/// `raw` must be a live handle; `out` must be valid for `cap` bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_get(raw: i64, id: i64, out: *mut u8, cap: i32) -> i32 {
    guarded32(|| {
        // SAFETY: the JVM side passes an array of `cap` bytes that only this call touches.
        let out = unsafe { bytes_mut(out, cap) }?;
        // SAFETY: the Kotlin owner passes its own live handle for this call.
        let found = unsafe {
            with_store(raw, |store| {
                Ok(store.get_utf8_with(id, |name| {
                    if name.len() > out.len() {
                        // Room for the UTF-8 bytes; Latin-1 is never longer.
                        name.len() as i32
                    } else {
                        write_name(name, out)
                    }
                })?)
            })
        }?;
        Ok(found.unwrap_or(MISSING))
    })
}

/// Looks up `count` ids at `ids` and writes into `out` (`cap` bytes), per id in order, a
/// native-order `i32` length word (as [`userstore_get`]; -1 when missing) then the name's bytes.
/// Returns the bytes the entries need; more than `cap` means they are incomplete (retry with a
/// larger `out`). A critical downcall: `ids` and `out` may be Java arrays.
///
/// # Safety
/// `raw` must be a live handle; `ids` must hold `count` readable `i64`s; `out` must be valid for
/// `cap` bytes of writes; the two must not overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_get_many(
    raw: i64,
    ids: *const i64,
    count: i32,
    out: *mut u8,
    cap: i32,
) -> i32 {
    guarded32(|| {
        let count =
            usize::try_from(count).map_err(|_| Failure::Internal(format!("count {count}")))?;
        let ids: &[i64] = if count == 0 {
            &[]
        } else if ids.is_null() || !ids.is_aligned() {
            return Err(Failure::Internal("null or misaligned ids".to_owned()));
        } else {
            // SAFETY: the JVM side passes a long[] of at least `count` elements (aligned,
            // checked), which nothing writes during this call.
            unsafe { std::slice::from_raw_parts(ids, count) }
        };
        // SAFETY: the JVM side passes a byte[] of `cap` bytes that only this call touches.
        let out = unsafe { bytes_mut(out, cap) }?;
        // SAFETY: the Kotlin owner passes its own live handle for this call.
        let at = unsafe { with_store(raw, |store| Ok(write_entries(store, ids.iter(), out)?)) }?;
        i32::try_from(at).map_err(|_| Failure::Internal(format!("result of {at} bytes")))
    })
}

/// Writes `{"id":…,"name":…}` for `id` into `out` (`cap` bytes) and returns its length,
/// [`MISSING`], or an error code; a length above `cap` means nothing was written. Critical.
///
/// # Safety
/// `raw` must be a live handle; `out` must be valid for `cap` bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_get_json(raw: i64, id: i64, out: *mut u8, cap: i32) -> i32 {
    guarded32(|| {
        // SAFETY: the JVM side passes an array of `cap` bytes that only this call touches.
        let out = unsafe { bytes_mut(out, cap) }?;
        // SAFETY: the Kotlin owner passes its own live handle for this call.
        let written = unsafe { with_store(raw, |store| Ok(store.write_json_into(id, out)?)) }?;
        match written {
            None => Ok(MISSING),
            Some(len) => i32::try_from(len).map_err(|_| Failure::Internal(format!("{len} bytes"))),
        }
    })
}

/// Writes the ids (ascending) of the users named by the UTF-8 bytes at `name` into `out` (room
/// for `cap` ids) and returns how many there are (more than `cap`: retry larger), or an error
/// code. Critical.
///
/// # Safety
/// `raw` must be a live handle; `name` must point at `len` readable bytes; `out` must be valid
/// for `cap` `i64` writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_find_by_name(
    raw: i64,
    name: *const u8,
    len: i32,
    out: *mut i64,
    cap: i32,
) -> i64 {
    guarded(|| {
        // SAFETY: the JVM side passes a byte[] of `len` bytes, not written during the call.
        let name = unsafe { bytes(name, i64::from(len)) }?;
        let cap = usize::try_from(cap).map_err(|_| Failure::Internal(format!("cap {cap}")))?;
        // SAFETY: the Kotlin owner passes its own live handle for this call.
        let ids = unsafe { with_store(raw, |store| Ok(store.find_by_name(name)?)) }?;
        if ids.len() <= cap && !ids.is_empty() {
            if out.is_null() || !out.is_aligned() {
                return Err(Failure::Internal("null or misaligned output".to_owned()));
            }
            // SAFETY: the JVM side passes a long[] of `cap` >= ids.len() elements (aligned,
            // checked) that only this call touches.
            let out = unsafe { std::slice::from_raw_parts_mut(out, ids.len()) };
            for (slot, id) in out.iter_mut().zip(&ids) {
                *slot = *id as i64;
            }
        }
        Ok(ids.len() as i64)
    })
}

/// Imports a UTF-8 JSON array (`len` bytes at `json`), all or nothing: the record count, or an
/// error code.
///
/// # Safety
/// `raw` must be a live handle; `json` must point at `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_import_json(raw: i64, json: *const u8, len: i64) -> i64 {
    guarded(|| {
        // SAFETY: the JVM side passes an off-heap copy of `len` bytes, held for this call.
        let json = unsafe { bytes(json, len) }?;
        // SAFETY: the Kotlin owner passes its own live handle for this call.
        let count = unsafe { with_store(raw, |store| Ok(store.import_json(json)?)) }?;
        Ok(count as i64)
    })
}

/// Every user as a JSON array sorted by id, in memory this library owns: returns its address and
/// stores its length at `*len`; the caller copies it and frees it with [`userstore_free_bytes`].
/// 0 on failure, with the error code at `*len`.
///
/// # Safety
/// `raw` must be a live handle; `len` must be valid for one `i64` write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_export_json(raw: i64, len: *mut i64) -> *mut u8 {
    if len.is_null() {
        return std::ptr::null_mut();
    }
    let mut exported: Option<Box<[u8]>> = None;
    let result = guarded(|| {
        // SAFETY: the Kotlin owner passes its own live handle for this call.
        let json = unsafe { with_store(raw, |store| Ok(store.export_json())) }?;
        let n = json.len() as i64;
        exported = Some(json.into_boxed_slice());
        Ok(n)
    });
    // SAFETY: checked non-null above; the caller passes a pointer valid for one i64 write.
    unsafe { len.write(result) };
    match exported {
        Some(json) if result >= 0 => Box::into_raw(json).cast::<u8>(),
        _ => std::ptr::null_mut(),
    }
}

/// Frees what [`userstore_export_json`] returned (`len` its length).
///
/// # Safety
/// `ptr` and `len` must be exactly a pointer and length [`userstore_export_json`] returned, freed
/// only once.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_free_bytes(ptr: *mut u8, len: i64) {
    let Ok(len) = usize::try_from(len) else {
        return;
    };
    if ptr.is_null() {
        return;
    }
    // SAFETY: by this function's contract ptr/len are a boxed slice from userstore_export_json,
    // not freed yet: rebuilt and dropped once.
    drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, len)) });
}

/// Applies one batch, all or nothing ([`Store::apply_batch`]): the puts encoded at `puts`
/// (`puts_len` bytes, as [`read_puts`] reads them), then the `removes_count` ids at `removes`.
/// Returns how many distinct removed ids existed, or an error code ([`ERR_INVALID_USER`] for a
/// bad user or an id both put and removed, [`ERR_TOO_LARGE`] for a record past 1 GiB, ...).
///
/// # Safety
/// `raw` must be a live handle; `puts` must point at `puts_len` readable bytes and `removes` at
/// `removes_count` readable `i64`s (off-heap copies, held for this call).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_apply_batch(
    raw: i64,
    puts: *const u8,
    puts_len: i64,
    removes: *const i64,
    removes_count: i64,
) -> i64 {
    guarded(|| {
        // SAFETY: the JVM side passes an off-heap copy of `puts_len` bytes, held for this call.
        let wire = unsafe { bytes(puts, puts_len) }?;
        let puts = read_puts(wire).map_err(Failure::Internal)?;
        let count = usize::try_from(removes_count)
            .map_err(|_| Failure::Internal(format!("negative count {removes_count}")))?;
        let removes: &[i64] = if count == 0 {
            &[]
        } else if removes.is_null() || !removes.is_aligned() {
            return Err(Failure::Internal("null or misaligned removes".to_owned()));
        } else {
            // SAFETY: the JVM side passes an off-heap copy of `count` i64s (aligned, checked
            // non-null), which nothing writes during this call.
            unsafe { std::slice::from_raw_parts(removes, count) }
        };
        // SAFETY: the Kotlin owner passes its own live handle for this call.
        let removed = unsafe { with_store(raw, |store| Ok(store.apply_batch(&puts, removes)?)) }?;
        Ok(removed as i64)
    })
}

/// A page of [`Store::scan`]: at most `limit` users with an id `>= from`, ascending, encoded as
/// [`write_page`] does, in memory this library owns: returns its address and stores its length
/// at `*len` (0 bytes: a null address); the caller copies it and frees it with
/// [`userstore_free_bytes`]. On failure a null address with the error code at `*len`.
///
/// # Safety
/// `raw` must be a live handle; `len` must be valid for one `i64` write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_scan(raw: i64, from: i64, limit: i32, len: *mut i64) -> *mut u8 {
    if len.is_null() {
        return std::ptr::null_mut();
    }
    let mut page: Option<Box<[u8]>> = None;
    let result = guarded(|| {
        let limit = usize::try_from(limit)
            .map_err(|_| Failure::Internal(format!("negative limit {limit}")))?;
        // SAFETY: the Kotlin owner passes its own live handle for this call.
        let bytes = unsafe { with_store(raw, |store| Ok(write_page(store, from, limit)?)) }?;
        let n = bytes.len() as i64;
        page = Some(bytes.into_boxed_slice());
        Ok(n)
    });
    // SAFETY: checked non-null above; the caller passes a pointer valid for one i64 write.
    unsafe { len.write(result) };
    match page {
        Some(bytes) if result > 0 => Box::into_raw(bytes).cast::<u8>(),
        _ => std::ptr::null_mut(),
    }
}

/// The store's statistics: writes [`abi::STATS_FIELDS`] `i64`s to `out` (users, table bytes,
/// durable 1 or 0, log bytes, checkpoints) and returns 0, or an error code.
///
/// # Safety
/// `raw` must be a live handle; `out` must be valid for [`abi::STATS_FIELDS`] `i64` writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_stats(raw: i64, out: *mut i64) -> i32 {
    guarded32(|| {
        // SAFETY: the Kotlin owner passes its own live handle for this call.
        let values = unsafe { with_store(raw, |store| Ok(stats_of(store))) }?;
        if out.is_null() || !out.is_aligned() {
            return Err(Failure::Internal("null or misaligned output".to_owned()));
        }
        // SAFETY: the JVM side passes room for STATS_FIELDS aligned i64s (checked non-null and
        // aligned) that only this call touches.
        let out = unsafe { std::slice::from_raw_parts_mut(out, values.len()) };
        out.copy_from_slice(&values);
        Ok(0)
    })
}

/// Writes a snapshot to the UTF-8 path at `path_utf8` (`len` bytes): 0, or an error code.
///
/// # Safety
/// `raw` must be a live handle; `path_utf8` must point at `len` readable bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_save(raw: i64, path_utf8: *const u8, len: i64) -> i32 {
    guarded32(|| {
        // SAFETY: the JVM side passes an off-heap copy, held for this call.
        let path = path(unsafe { bytes(path_utf8, len) }?)?;
        // SAFETY: the Kotlin owner passes its own live handle for this call.
        unsafe { with_store(raw, |store| Ok(store.save(&path)?)) }?;
        Ok(0)
    })
}

/// Copies the message of this thread's last error into `out` (`cap` bytes) and returns its full
/// length in bytes (more than `cap`: retry larger).
///
/// # Safety
/// `out` must be valid for `cap` bytes of writes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_last_error(out: *mut u8, cap: i32) -> i32 {
    guarded32(|| {
        // SAFETY: the JVM side passes `cap` writable off-heap bytes, held for this call.
        let out = unsafe { bytes_mut(out, cap) }?;
        LAST_ERROR.with(|last| {
            let last = last.borrow();
            if last.len() <= out.len() {
                out[..last.len()].copy_from_slice(&last);
            }
            i32::try_from(last.len()).map_err(|_| Failure::Internal("message too long".to_owned()))
        })
    })
}

/// Retired memory not freed yet, process-wide ([`reclaim::pending`](crate::reclaim::pending));
/// a test hook.
#[unsafe(no_mangle)]
pub extern "C" fn userstore_pending_frees() -> i64 {
    crate::reclaim::pending() as i64
}

/// Returns `value`: the cost of one critical downcall (JMH's floor for the FFM binding).
#[unsafe(no_mangle)]
pub extern "C" fn userstore_noop(value: i64) -> i64 {
    value
}

/// 1 if this library was built with the `test-hooks` feature.
#[unsafe(no_mangle)]
pub extern "C" fn userstore_has_test_hooks() -> i32 {
    i32::from(cfg!(feature = "test-hooks"))
}

/// Panics on purpose with the UTF-8 message at `message` (test builds only): the tests prove the
/// panic becomes a `NativeStoreException` through FFM too.
///
/// # Safety
/// `message` must point at `len` readable bytes.
#[cfg(feature = "test-hooks")]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn userstore_panic_for_test(message: *const u8, len: i32) -> i32 {
    guarded32(|| {
        // SAFETY: the JVM side passes an off-heap copy, held for this call.
        let message = unsafe { bytes(message, i64::from(len)) }?;
        panic!("{}", String::from_utf8_lossy(message));
    })
}

/// The size of the buffer a name may need, for the JVM side's retry (`NAME_BUFFER_BYTES`).
#[unsafe(no_mangle)]
pub extern "C" fn userstore_name_buffer_bytes() -> i32 {
    NAME_BUFFER_BYTES as i32
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::abi::*;

    fn last_error() -> String {
        let mut out = vec![0u8; 256];
        // SAFETY: 256 writable bytes.
        let n = unsafe { userstore_last_error(out.as_mut_ptr(), 256) };
        String::from_utf8_lossy(&out[..n as usize]).into_owned()
    }

    #[test]
    fn a_round_trip_through_the_abi() {
        let h = userstore_create();
        assert!(h > 0);
        let name = "Zoë";
        // SAFETY: a live handle and valid buffers throughout; destroyed at the end.
        unsafe {
            assert_eq!(userstore_put(h, 5, name.as_ptr(), name.len() as i32), 0);
            assert_eq!(userstore_size(h), 1);
            let mut out = [0u8; 8];
            let word = userstore_get(h, 5, out.as_mut_ptr(), 8);
            assert_eq!(word, 3 | LATIN1);
            assert_eq!(&out[..3], &[b'Z', b'o', 0xEB]);
            assert_eq!(userstore_get(h, 6, out.as_mut_ptr(), 8), MISSING);
            let mut small = [0u8; 2];
            assert_eq!(
                userstore_get(h, 5, small.as_mut_ptr(), 2),
                4,
                "needs 4 UTF-8 bytes"
            );
            assert_eq!(userstore_get(h, -1, out.as_mut_ptr(), 8), ERR_INVALID_USER);
            assert!(
                last_error().starts_with("invalid id -1"),
                "{}",
                last_error()
            );
            let ids = [5i64, 9];
            let mut entries = [0u8; 64];
            let need = userstore_get_many(h, ids.as_ptr(), 2, entries.as_mut_ptr(), 64);
            assert_eq!(need, 4 + 3 + 4);
            let bad = "";
            assert_eq!(userstore_put(h, 1, bad.as_ptr(), 0), ERR_INVALID_USER);
            assert_eq!(last_error(), "invalid name: the name is empty");
            let mut found = [0i64; 4];
            let n =
                userstore_find_by_name(h, name.as_ptr(), name.len() as i32, found.as_mut_ptr(), 4);
            assert_eq!((n, found[0]), (1, 5));
            let json = br#"[{"id":1,"name":"a"}"#;
            assert_eq!(
                userstore_import_json(h, json.as_ptr(), json.len() as i64),
                i64::from(ERR_INVALID_JSON)
            );
            let mut len = 0i64;
            let ptr = userstore_export_json(h, &mut len);
            assert!(!ptr.is_null());
            let exported = std::slice::from_raw_parts(ptr, len as usize).to_vec();
            userstore_free_bytes(ptr, len);
            assert_eq!(exported, "[{\"id\":5,\"name\":\"Zoë\"}]".as_bytes());
            assert_eq!(userstore_close(h), 1);
            assert_eq!(userstore_close(h), 0);
            let cell = handle::from_raw(h).expect("live cell");
            assert!(handle::tests::freed_soon(cell));
            assert_eq!(userstore_is_freed(h), 1);
            assert_eq!(userstore_size(h), i64::from(ERR_CLOSED));
            assert_eq!(last_error(), "the store is closed");
            userstore_destroy(h);
        }
    }

    #[test]
    fn a_durable_round_trip_through_the_abi() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data");
        let path = path.to_str().unwrap();
        let mut code = 0;
        // SAFETY: valid buffers and live handles throughout; destroyed at the end.
        unsafe {
            let h = userstore_open_durable(path.as_ptr(), path.len() as i64, 0, 1 << 20, &mut code);
            assert!(h > 0, "{}", last_error());
            assert_eq!(userstore_put(h, 1, b"Ada".as_ptr(), 3), 0);
            let mut stats = [0i64; 4];
            assert_eq!(userstore_log_stats(h, stats.as_mut_ptr()), 1);
            assert_eq!((stats[0], stats[1], stats[3]), (26, 26, 1));
            let second =
                userstore_open_durable(path.as_ptr(), path.len() as i64, 0, 1 << 20, &mut code);
            assert_eq!((second, code), (0, ERR_LOCKED));
            assert!(
                last_error().contains("is locked by another store"),
                "{}",
                last_error()
            );
            assert_eq!(userstore_checkpoint(h), 0);
            assert_eq!(userstore_log_stats(h, stats.as_mut_ptr()), 1);
            assert_eq!(stats[3], 2);
            assert_eq!(userstore_close(h), 1);
            // Closed: the lock is free again at once.
            let again =
                userstore_open_durable(path.as_ptr(), path.len() as i64, 2, 1 << 20, &mut code);
            assert!(again > 0, "{}", last_error());
            assert_eq!(userstore_size(again), 1);
            assert_eq!(
                userstore_open_durable(path.as_ptr(), path.len() as i64, 7, 1, &mut code),
                0
            );
            assert_eq!(code, ERR_INTERNAL);
            userstore_destroy(again);
            userstore_destroy(h);
            let memory = userstore_create();
            assert_eq!(userstore_log_stats(memory, stats.as_mut_ptr()), 0);
            assert_eq!(userstore_checkpoint(memory), 0);
            userstore_destroy(memory);
        }
    }

    /// The batch wire of `puts` (as NativeWire.encodePuts writes it).
    fn wire(puts: &[(i64, &str)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (id, name) in puts {
            out.extend_from_slice(&id.to_le_bytes());
            out.extend_from_slice(&(name.len() as i32).to_le_bytes());
            out.extend_from_slice(name.as_bytes());
        }
        out
    }

    #[test]
    fn batches_pages_and_stats_through_the_abi() {
        let h = userstore_create();
        // SAFETY: a live handle and valid buffers throughout; destroyed at the end.
        unsafe {
            let puts = wire(&[(1, "Ada"), (2, "Zoë"), (3, "Cy")]);
            let none: [i64; 0] = [];
            let n = userstore_apply_batch(h, puts.as_ptr(), puts.len() as i64, none.as_ptr(), 0);
            assert_eq!(n, 0);
            let removes = [3i64, 9, 3];
            let n = userstore_apply_batch(h, std::ptr::null(), 0, removes.as_ptr(), 3);
            assert_eq!(n, 1);
            // An id both put and removed: refused, nothing changed.
            let both = wire(&[(4, "Di"), (1, "A2")]);
            let ids = [1i64];
            let n = userstore_apply_batch(h, both.as_ptr(), both.len() as i64, ids.as_ptr(), 1);
            assert_eq!(n, i64::from(ERR_INVALID_USER));
            assert_eq!(last_error(), "invalid batch: id 1 is both put and removed");
            let bad = wire(&[(4, "Di"), (5, "")]);
            let n = userstore_apply_batch(h, bad.as_ptr(), bad.len() as i64, none.as_ptr(), 0);
            assert_eq!(n, i64::from(ERR_INVALID_USER));
            // A malformed wire is a broken call.
            let n = userstore_apply_batch(h, puts.as_ptr(), 5, none.as_ptr(), 0);
            assert_eq!(n, i64::from(ERR_INTERNAL));
            assert_eq!(userstore_size(h), 2);
            let mut len = 0i64;
            let page = userstore_scan(h, 0, 10, &mut len);
            assert!(!page.is_null());
            let bytes = std::slice::from_raw_parts(page, len as usize).to_vec();
            userstore_free_bytes(page, len);
            assert_eq!(bytes.len(), 2 * 12 + 3 + 3);
            assert_eq!(&bytes[..8], &1i64.to_le_bytes());
            assert!(userstore_scan(h, 5, 10, &mut len).is_null());
            assert_eq!(len, 0);
            assert!(userstore_scan(h, -5, 10, &mut len).is_null());
            assert_eq!(len, i64::from(ERR_INVALID_USER));
            assert!(userstore_scan(h, 0, -1, &mut len).is_null());
            assert_eq!(len, i64::from(ERR_INTERNAL));
            let mut stats = [0i64; STATS_FIELDS as usize];
            assert_eq!(userstore_stats(h, stats.as_mut_ptr()), 0);
            assert_eq!((stats[0], stats[2], stats[3], stats[4]), (2, 0, 0, 0));
            assert!(stats[1] > 0);
            assert_eq!(userstore_close(h), 1);
            assert_eq!(
                userstore_stats(h, stats.as_mut_ptr()),
                ERR_CLOSED,
                "a closed store"
            );
            userstore_destroy(h);
        }
    }

    #[test]
    fn a_missing_snapshot_names_the_file() {
        let path = "/nonexistent/userstore.snap";
        let mut code = 0;
        // SAFETY: valid buffers.
        let h = unsafe { userstore_open(path.as_ptr(), path.len() as i64, &mut code) };
        assert_eq!((h, code), (0, ERR_NO_SUCH_FILE));
        assert_eq!(last_error(), path);
    }
}
