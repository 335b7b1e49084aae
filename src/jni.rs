//! The JNI boundary: every `extern "system"` function and every `unsafe` block of the crate.
//!
//! The boundary converts; it does not decide. Each export takes primitives and Java arrays, hands
//! them to the core [`Store`] and turns the result back into primitives and arrays. Every export
//! runs through [`run`], which
//! - upgrades the raw JNI environment through jni-rs's `with_env` (which catches panics),
//! - maps a core error to the specific Java exception (bad input → `InvalidUserException` /
//!   `InvalidJsonException`, both `IllegalArgumentException`s) and a panic to
//!   `NativeStoreException` carrying the panic message, through the one [`ThrowJava`] policy,
//! - and returns a default value (0, false, null) to Java whenever an exception is pending, so no JNI
//!   call is ever made with an exception pending.
//!
//! Snapshot errors become `java.nio.file.NoSuchFileException` (missing file, the message is the
//! path), `CorruptSnapshotException` (a file that fails its checks) or `java.io.IOException`.
//!
//! Handles: `create0` (or `open0`) boxes a [`Store`] and returns the pointer as a `jlong`; `destroy0` frees it.
//! The Kotlin class `NativeUserStore` owns the handle: it never passes 0 or a freed handle, and its
//! call counter guarantees that `destroy0` runs once, after every call in flight has returned.
//! The boundary still refuses a 0 handle instead of dereferencing it.
//!
//! The Kotlin side is `dev.userstore.NativeBridge`, an `object` whose `@JvmStatic external`
//! functions give the simple symbol names below.
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::any::Any;
use std::ffi::c_void;
use std::path::PathBuf;

use jni::errors::{Error as JniError, ErrorPolicy};
use jni::objects::{Global, JByteArray, JByteBuffer, JClass, JLongArray};
use jni::strings::JNIString;
use jni::sys::{jboolean, jint, jlong, JNI_VERSION_1_8};
use jni::{jni_str, Env, EnvUnowned, JavaVM};
use once_cell::sync::OnceCell;

use crate::core::{Store, StoreError};

/// Exception classes, looked up once in `JNI_OnLoad` (not on the hot path).
struct ExceptionClasses {
    invalid_user: Global<JClass<'static>>,
    invalid_json: Global<JClass<'static>>,
    native_store: Global<JClass<'static>>,
    /// `java.nio.file.NoSuchFileException`: a snapshot that does not exist.
    no_such_file: Global<JClass<'static>>,
    /// `dev.userstore.CorruptSnapshotException`: a snapshot that fails its checks.
    corrupt_snapshot: Global<JClass<'static>>,
    /// `java.io.IOException`: any other snapshot I/O failure.
    io: Global<JClass<'static>>,
}

static CLASSES: OnceCell<ExceptionClasses> = OnceCell::new();

/// Everything that can go wrong inside an export.
#[derive(Debug, thiserror::Error)]
enum BoundaryError {
    /// The core refused the input or failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A JNI call failed (for example an out-of-memory while allocating the result array).
    #[error("JNI call failed: {0}")]
    Jni(#[from] JniError),
    /// A handle of 0: the Kotlin side never sends one, so this is a bug, reported, not followed.
    #[error("invalid native store handle")]
    NullHandle,
    /// A Java array too large for one call.
    #[error("result of {0} bytes is too large for a Java array")]
    TooLarge(usize),
    /// A direct buffer with no address or a negative capacity, or too small for its ids.
    #[error("invalid direct buffer")]
    BadBuffer,
}

type Result<T> = std::result::Result<T, BoundaryError>;

/// The one error policy: core errors and panics become specific Java exceptions.
struct ThrowJava;

impl<T: Default> ErrorPolicy<T, BoundaryError> for ThrowJava {
    type Captures<'unowned_env_local: 'native_method, 'native_method> = ();

    fn on_error<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        err: BoundaryError,
    ) -> jni::errors::Result<T> {
        if env.exception_check() {
            // A Java exception is already pending (for example from a failed allocation): it wins.
            return Ok(T::default());
        }
        let message = match &err {
            // NoSuchFileException's message is the file, as the JDK's own.
            BoundaryError::Store(StoreError::SnapshotMissing { path }) => {
                JNIString::new(path.to_string_lossy())
            }
            _ => JNIString::new(err.to_string()),
        };
        let thrown = match (&err, CLASSES.get()) {
            (BoundaryError::Store(StoreError::InvalidJson { .. }), Some(c)) => {
                env.throw_new(&c.invalid_json, &message)
            }
            (BoundaryError::Store(StoreError::SnapshotMissing { .. }), Some(c)) => {
                env.throw_new(&c.no_such_file, &message)
            }
            (BoundaryError::Store(StoreError::SnapshotCorrupt { .. }), Some(c)) => {
                env.throw_new(&c.corrupt_snapshot, &message)
            }
            (BoundaryError::Store(StoreError::SnapshotIo { .. }), Some(c)) => {
                env.throw_new(&c.io, &message)
            }
            (BoundaryError::Store(_), Some(c)) => env.throw_new(&c.invalid_user, &message),
            (_, Some(c)) => env.throw_new(&c.native_store, &message),
            (_, None) => env.throw_new(jni_str!("java/lang/IllegalStateException"), &message),
        };
        // throw_new reports the now pending exception as Err(JavaException): that is the goal here.
        match thrown {
            Ok(()) | Err(JniError::JavaException) => Ok(T::default()),
            Err(other) => Err(other),
        }
    }

    fn on_panic<'unowned_env_local: 'native_method, 'native_method>(
        env: &mut Env<'unowned_env_local>,
        _cap: &mut Self::Captures<'unowned_env_local, 'native_method>,
        payload: Box<dyn Any + Send + 'static>,
    ) -> jni::errors::Result<T> {
        let text = panic_text(payload.as_ref());
        // Dropping a payload can itself panic; leak it instead, it is a rare, small object.
        std::mem::forget(payload);
        if env.exception_check() {
            env.exception_clear();
        }
        let message = JNIString::new(format!("Rust panic in userstore: {text}"));
        let thrown = match CLASSES.get() {
            Some(c) => env.throw_new(&c.native_store, &message),
            None => env.throw_new(jni_str!("java/lang/RuntimeException"), &message),
        };
        match thrown {
            Ok(()) | Err(JniError::JavaException) => Ok(T::default()),
            Err(other) => Err(other),
        }
    }
}

/// The text of a panic payload (`panic!("literal")` gives `&str`, `panic!("{x}")` a `String`).
fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

/// Runs one export: upgrade the environment, catch panics, map errors, return a default on failure.
fn run<'local, T: Default>(
    mut unowned: EnvUnowned<'local>,
    f: impl FnOnce(&mut Env<'local>) -> Result<T>,
) -> T {
    unowned.with_env(f).resolve::<ThrowJava>()
}

/// Runs a hot export whose success path makes no JNI call (it reads and writes only primitives
/// and the caller's direct buffer): no jni-rs environment is built unless something goes wrong.
/// A panic is caught here; an error or a panic is then handed to [`run`], so both take the one
/// [`ThrowJava`] policy, exactly as in every other export.
fn run_lean<'local, T: Default>(unowned: EnvUnowned<'local>, f: impl FnOnce() -> Result<T>) -> T {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(Ok(value)) => value,
        Ok(Err(err)) => run(unowned, |_| Err(err)),
        Err(payload) => run(unowned, |_| std::panic::resume_unwind(payload)),
    }
}

/// The store behind a handle.
fn store<'a>(handle: jlong) -> Result<&'a Store> {
    let ptr = handle as *const Store;
    if ptr.is_null() {
        return Err(BoundaryError::NullHandle);
    }
    // SAFETY: a non-zero handle is a pointer made by `Box::into_raw` in `create0`. NativeUserStore
    // passes it only between create0 and destroy0, and its call counter makes destroy0 wait until
    // every call in flight has returned, so the Store is alive for the whole of this call. Store is
    // Sync, so a shared reference from several threads at once is fine.
    Ok(unsafe { &*ptr })
}

/// The caller's direct buffer: `capacity` bytes at `address`.
///
/// `NativeUserStore` passes the address of a direct `ByteBuffer` it keeps for the calling thread
/// only (from [`Java_dev_userstore_NativeBridge_bufferAddress0`]) and its capacity, and keeps the
/// buffer reachable until the call returns; no other thread touches that buffer meanwhile.
fn direct_buffer<'a>(address: jlong, capacity: jint) -> Result<&'a mut [u8]> {
    let capacity = usize::try_from(capacity).map_err(|_| BoundaryError::BadBuffer)?;
    let ptr = address as *mut u8;
    if ptr.is_null() {
        return Err(BoundaryError::BadBuffer);
    }
    // SAFETY: the address and capacity describe one live direct ByteBuffer (allocated by the JVM,
    // never moved, freed only after the buffer object is unreachable), which the caller keeps
    // reachable for this call and uses from this thread only, so nothing else reads or writes
    // these bytes while the returned slice lives (it lives only within this call).
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, capacity) })
}

/// Marks a name written in Latin-1 (one byte per character) rather than UTF-8, in the length word
/// of `getDirect0` / `getManyDirect0`. Above every possible length (at most 1024).
const LATIN1: i32 = 1 << 20;

/// Writes the stored name `utf8` at the start of `out` and returns its length word: the byte
/// count, with [`LATIN1`] set when every character is at most U+00FF and the bytes written are
/// Latin-1 (so the JVM builds the String with a plain copy, no UTF-8 decoding). `out` must hold
/// `utf8.len()` bytes.
fn write_name(utf8: &[u8], out: &mut [u8]) -> i32 {
    if utf8.is_ascii() {
        out[..utf8.len()].copy_from_slice(utf8);
        return utf8.len() as i32 | LATIN1;
    }
    match std::str::from_utf8(utf8) {
        // Every char below U+0100: each two-byte sequence becomes one byte, ASCII stays.
        Ok(name) if name.chars().all(|c| (c as u32) < 0x100) => {
            let mut n = 0;
            for c in name.chars() {
                out[n] = c as u32 as u8;
                n += 1;
            }
            n as i32 | LATIN1
        }
        _ => {
            out[..utf8.len()].copy_from_slice(utf8);
            utf8.len() as i32
        }
    }
}

thread_local! {
    /// Scratch for the read path, reused by every call on this thread: after the first calls
    /// the read exports allocate nothing.
    static SCRATCH: std::cell::RefCell<(Vec<i64>, Vec<u8>)> =
        const { std::cell::RefCell::new((Vec::new(), Vec::new())) };
}

/// A Java byte array holding `bytes`.
fn byte_array<'local>(env: &mut Env<'local>, bytes: &[u8]) -> Result<JByteArray<'local>> {
    if bytes.len() > i32::MAX as usize {
        return Err(BoundaryError::TooLarge(bytes.len()));
    }
    Ok(env.byte_array_from_slice(bytes)?)
}

/// The contents of a Java byte array (a copy: the JVM may move the array).
fn read_bytes(env: &Env<'_>, array: &JByteArray<'_>) -> Result<Vec<u8>> {
    Ok(env.convert_byte_array(array)?)
}

/// Caches the exception classes and reports the JNI version this library needs.
///
/// # Safety
/// Called by the JVM with a valid `JavaVM` pointer when `System.load` loads this library.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn JNI_OnLoad(
    vm: *mut jni::sys::JavaVM,
    _reserved: *mut c_void,
) -> jint {
    if vm.is_null() {
        return jni::sys::JNI_ERR;
    }
    // SAFETY: the JVM passes a valid, non-null JavaVM pointer that lives as long as the process.
    let vm = unsafe { JavaVM::from_raw(vm) };
    let cached = vm.attach_current_thread(|env| -> jni::errors::Result<ExceptionClasses> {
        let invalid_user = env.find_class(jni_str!("dev/userstore/InvalidUserException"))?;
        let invalid_json = env.find_class(jni_str!("dev/userstore/InvalidJsonException"))?;
        let native_store = env.find_class(jni_str!("dev/userstore/NativeStoreException"))?;
        let no_such_file = env.find_class(jni_str!("java/nio/file/NoSuchFileException"))?;
        let corrupt_snapshot =
            env.find_class(jni_str!("dev/userstore/CorruptSnapshotException"))?;
        let io = env.find_class(jni_str!("java/io/IOException"))?;
        Ok(ExceptionClasses {
            invalid_user: env.new_global_ref(invalid_user)?,
            invalid_json: env.new_global_ref(invalid_json)?,
            native_store: env.new_global_ref(native_store)?,
            no_such_file: env.new_global_ref(no_such_file)?,
            corrupt_snapshot: env.new_global_ref(corrupt_snapshot)?,
            io: env.new_global_ref(io)?,
        })
    });
    match cached {
        Ok(classes) => {
            // A second load in the same process keeps the first set: both are valid globals.
            let _ = CLASSES.set(classes);
            JNI_VERSION_1_8
        }
        Err(_) => jni::sys::JNI_ERR,
    }
}

/// `NativeBridge.create0(): Long` — a new empty store.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_create0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> jlong {
    run(env, |_| Ok(Box::into_raw(Box::new(Store::new())) as jlong))
}

/// `NativeBridge.destroy0(handle)` — frees the store; NativeUserStore calls it exactly once.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_destroy0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) {
    run(env, |_| {
        let ptr = handle as *mut Store;
        if ptr.is_null() {
            return Err(BoundaryError::NullHandle);
        }
        // SAFETY: the handle came from Box::into_raw in create0; NativeUserStore calls destroy0
        // once, after its call counter shows no call in flight, and never uses the handle again.
        drop(unsafe { Box::from_raw(ptr) });
        Ok(())
    })
}

/// `NativeBridge.size0(handle): Long`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_size0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> jlong {
    run(env, |_| Ok(store(handle)?.len() as jlong))
}

/// `NativeBridge.put0(handle, id, nameUtf8)` — the name as UTF-8 bytes, validated by the core.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_put0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    id: jlong,
    name: JByteArray<'local>,
) {
    run(env, |env| {
        let store = store(handle)?;
        let name = read_bytes(env, &name)?;
        Ok(store.put(id, &name)?)
    })
}

/// `NativeBridge.bufferAddress0(buffer): Long` — the address of a direct `ByteBuffer`, for the
/// read exports below. Called once per buffer, not per call.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_bufferAddress0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    buffer: JByteBuffer<'local>,
) -> jlong {
    run(env, |env| {
        let address = env.get_direct_buffer_address(&buffer)?;
        Ok(address as jlong)
    })
}

/// `NativeBridge.getDirect0(handle, id, address): Int` — writes the name of `id` at `address`
/// (a direct buffer of at least [`NAME_BUFFER_BYTES`]) and returns its length word (see
/// [`write_name`]), or -1 when there is no such user. Makes no JNI call and allocates nothing.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_getDirect0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    id: jlong,
    address: jlong,
) -> jint {
    run_lean(env, || {
        let store = store(handle)?;
        let out = direct_buffer(address, NAME_BUFFER_BYTES as jint)?;
        // A stored name is at most 256 code points, so at most NAME_BUFFER_BYTES bytes.
        let found = store.get_utf8_with(id, |name| {
            if name.len() > out.len() {
                Err(BoundaryError::TooLarge(name.len()))
            } else {
                Ok(write_name(name, out))
            }
        })?;
        found.unwrap_or(Ok(-1))
    })
}

/// The size of the buffer `getDirect0` needs: 256 code points of at most 4 UTF-8 bytes each.
const NAME_BUFFER_BYTES: usize = 1024;

/// `NativeBridge.getManyDirect0(handle, address, capacity, count): Int` — looks up the `count`
/// ids stored (native byte order) at the start of the direct buffer and writes, after them, one
/// entry per id in order: a native-order i32 length word (see [`write_name`]; -1 when missing)
/// followed by the name's bytes. Returns the number of bytes the entries take; when that exceeds
/// the room after the ids, the entries are incomplete and the caller retries with a larger
/// buffer. One batched lookup (the core overlaps the cache misses of the batch); no JNI call, no
/// allocation once this thread's scratch has grown.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_getManyDirect0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    address: jlong,
    capacity: jint,
    count: jint,
) -> jint {
    run_lean(env, || {
        let store = store(handle)?;
        let buffer = direct_buffer(address, capacity)?;
        let count = usize::try_from(count).map_err(|_| BoundaryError::BadBuffer)?;
        let ids_len = count.checked_mul(8).filter(|&n| n <= buffer.len());
        let (id_bytes, out) = buffer.split_at_mut(ids_len.ok_or(BoundaryError::BadBuffer)?);
        SCRATCH.with_borrow_mut(|(ids, _)| {
            ids.clear();
            ids.extend(
                id_bytes
                    .chunks_exact(8)
                    .map(|b| i64::from_ne_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])),
            );
            let (mut at, mut fits) = (0usize, true);
            store.get_many_utf8_with(ids, |_, name| {
                let need = 4 + name.map_or(0, <[u8]>::len);
                if fits && at + need <= out.len() {
                    let word = name.map_or(-1, |n| write_name(n, &mut out[at + 4..]));
                    out[at..at + 4].copy_from_slice(&word.to_ne_bytes());
                    // Latin-1 may be shorter than the UTF-8 room reserved for it.
                    at += 4 + name.map_or(0, |_| (word & (LATIN1 - 1)) as usize);
                } else {
                    // Out of room: count what the whole answer needs (UTF-8 sizes, an upper bound).
                    fits = false;
                    at = at.saturating_add(need);
                }
            })?;
            let at = if fits { at } else { at.max(out.len() + 1) };
            i32::try_from(at).map_err(|_| BoundaryError::TooLarge(at))
        })
    })
}

/// `NativeBridge.remove0(handle, id): Boolean`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_remove0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    id: jlong,
) -> jboolean {
    run(env, |_| Ok(store(handle)?.remove(id)?))
}

/// `NativeBridge.findByName0(handle, nameUtf8): LongArray` — ids, ascending.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_findByName0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    name: JByteArray<'local>,
) -> JLongArray<'local> {
    run(env, |env| {
        let store = store(handle)?;
        let name = read_bytes(env, &name)?;
        let ids: Vec<jlong> = store
            .find_by_name(&name)?
            .into_iter()
            .map(|id| id as jlong)
            .collect();
        let array = JLongArray::new(env, ids.len())?;
        array.set_region(env, 0, &ids)?;
        Ok(array)
    })
}

/// `NativeBridge.getJsonDirect0(handle, id, address, capacity): Int` — writes
/// `{"id":…,"name":…}` at `address` and returns its length, or -1 when there is no such user.
/// When the length exceeds `capacity` nothing useful was written and the caller retries with a
/// larger buffer. No JNI call; serialised into this thread's reused scratch, then copied once.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_getJsonDirect0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    id: jlong,
    address: jlong,
    capacity: jint,
) -> jint {
    run_lean(env, || {
        let store = store(handle)?;
        let out = direct_buffer(address, capacity)?;
        SCRATCH.with_borrow_mut(|(_, json)| {
            json.clear();
            if !store.write_json(id, json)? {
                return Ok(-1);
            }
            if let Some(dest) = out.get_mut(..json.len()) {
                dest.copy_from_slice(json);
            }
            i32::try_from(json.len()).map_err(|_| BoundaryError::TooLarge(json.len()))
        })
    })
}

/// `NativeBridge.importJson0(handle, json): Int` — all or nothing; the record count.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_importJson0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    json: JByteArray<'local>,
) -> jint {
    run(env, |env| {
        let store = store(handle)?;
        let json = read_bytes(env, &json)?;
        let count = store.import_json(&json)?;
        // A Java byte[] holds < 2^31 bytes and a record takes more than one, so this always fits.
        Ok(jint::try_from(count).unwrap_or(jint::MAX))
    })
}

/// `NativeBridge.exportJson0(handle): ByteArray` — all users, sorted by id.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_exportJson0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JByteArray<'local> {
    run(env, |env| {
        let json = store(handle)?.export_json();
        byte_array(env, &json)
    })
}

/// The path Kotlin sent as UTF-8 bytes (`Path.toString()`); anything else is an I/O error.
fn read_path(env: &Env<'_>, path: &JByteArray<'_>) -> Result<PathBuf> {
    let bytes = read_bytes(env, path)?;
    match String::from_utf8(bytes) {
        Ok(path) => Ok(PathBuf::from(path)),
        Err(e) => Err(StoreError::SnapshotIo {
            path: PathBuf::from(String::from_utf8_lossy(e.as_bytes()).into_owned()),
            reason: "the path is not valid UTF-8".to_owned(),
        }
        .into()),
    }
}

/// `NativeBridge.save0(handle, pathUtf8)` — writes a snapshot, replacing the file atomically.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_save0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    path: JByteArray<'local>,
) {
    run(env, |env| {
        let store = store(handle)?;
        let path = read_path(env, &path)?;
        Ok(store.save(&path)?)
    })
}

/// `NativeBridge.open0(pathUtf8): Long` — a new store read from a snapshot; its handle, as from
/// `create0`.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_open0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    path: JByteArray<'local>,
) -> jlong {
    run(env, |env| {
        let path = read_path(env, &path)?;
        let store = Store::open(&path)?;
        Ok(Box::into_raw(Box::new(store)) as jlong)
    })
}

/// `NativeBridge.noop0(value): Long` — returns its argument; does nothing else. The JMH floor: the
/// cost of one call through the JVM's JNI transition and [`run_lean`], the wrapper of the read path.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_noop0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    value: jlong,
) -> jlong {
    run_lean(env, || Ok(value))
}

/// `NativeBridge.noopWithEnv0(value): Long` — the same through [`run`], which builds jni-rs's
/// environment (attach guard, panic catching, error policy) on every call: JMH compares the two.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_noopWithEnv0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    value: jlong,
) -> jlong {
    run(env, |_| Ok(value))
}

/// `NativeBridge.panicForTest0(message)` — panics on purpose (test builds only), so the tests can
/// prove that a panic becomes a `NativeStoreException` and the JVM survives.
#[cfg(feature = "test-hooks")]
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_panicForTest0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    message: JByteArray<'local>,
) {
    run(env, |env| -> Result<()> {
        let message = read_bytes(env, &message)?;
        panic!("{}", String::from_utf8_lossy(&message));
    })
}

/// `NativeBridge.hasTestHooks0(): Boolean` — whether this build has the test-only entries.
#[unsafe(no_mangle)]
pub extern "system" fn Java_dev_userstore_NativeBridge_hasTestHooks0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
) -> jboolean {
    run(env, |_| Ok(cfg!(feature = "test-hooks")))
}

#[cfg(test)]
mod tests {
    use super::{write_name, LATIN1};

    fn written(name: &str) -> (i32, Vec<u8>) {
        let mut out = [0u8; 64];
        let word = write_name(name.as_bytes(), &mut out);
        (word, out[..(word & (LATIN1 - 1)) as usize].to_vec())
    }

    #[test]
    fn ascii_names_are_latin1_as_they_are() {
        assert_eq!(written("Ada\0"), (4 | LATIN1, b"Ada\0".to_vec()));
    }

    #[test]
    fn names_below_u0100_become_one_byte_per_char() {
        assert_eq!(
            written("Zoë ÿ"),
            (5 | LATIN1, vec![b'Z', b'o', 0xEB, b' ', 0xFF])
        );
    }

    #[test]
    fn other_names_stay_utf8() {
        for name in ["ĀB", "日本", "a😀", "é😀"] {
            assert_eq!(written(name), (name.len() as i32, name.as_bytes().to_vec()));
        }
    }
}
