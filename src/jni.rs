//! The JNI boundary: every native method, every `extern "system"` function and every `unsafe`
//! block of the crate.
//!
//! The boundary converts; it does not decide. Each native takes primitives and Java arrays, hands
//! them to the core [`Store`] and turns the result back into primitives and arrays. Every native
//! runs through [`run`] (or [`run_lean`], which hands every failure to [`run`]), which
//! - upgrades the raw JNI environment through jni-rs's `with_env` (which catches panics),
//! - maps a core error to the specific Java exception (bad input → `InvalidUserException` /
//!   `InvalidJsonException`, both `IllegalArgumentException`s) and a panic to
//!   `NativeStoreException` carrying the panic message, through the one [`ThrowJava`] policy,
//! - and returns a default value (0, false, null) to Java whenever an exception is pending, so no JNI
//!   call is ever made with an exception pending.
//!
//! Snapshot errors become `java.nio.file.NoSuchFileException` (missing file, the message is the
//! path), `CorruptSnapshotException` (a file that fails its checks) or `java.io.IOException`.
//! Durable stores add `StoreLockedException` (a data directory another store has open),
//! `DurabilityException` (a log that cannot be written or synced) and `StoreClosedException`
//! (a write after the log was closed); a damaged log is a `CorruptSnapshotException` too.
//!
//! Handles: `create0` (or `open0`) returns the address of a [`Handle`] cell holding the store
//! (see [`handle`](crate::handle), shared with the FFM binding); `close0` closes the store (never
//! waits: the last call out frees it, through [`reclaim`](crate::reclaim)); `destroy0` frees the
//! cell, from the Kotlin `Cleaner` once the `NativeUserStore` is unreachable. A call on a closed
//! store throws `StoreClosedException`. The boundary refuses a 0 handle instead of dereferencing
//! it. Turning a handle or a buffer address into a reference is `unsafe` ([`with_store`],
//! [`cell`], [`direct_buffer`]): each call site says why the contract holds.
//!
//! Linking: the Kotlin side is `dev.userstore.internal.binding.NativeBridge`, an `object` whose `@JvmStatic
//! external` functions are static natives of that class. `JNI_OnLoad`, the library's one exported
//! symbol, registers them all with `RegisterNatives` from [`NATIVE_METHODS`], each with its exact
//! JNI signature, which `jni::native_method!` checks against the Rust function's types at
//! compile time. A name or signature that no longer matches makes `System.load` fail with an
//! `UnsatisfiedLinkError` naming it, at load time rather than at the first call.
#![deny(clippy::unwrap_used, clippy::expect_used)]

use std::any::Any;
use std::ffi::c_void;
use std::path::PathBuf;

use jni::errors::{Error as JniError, ErrorPolicy};
use jni::objects::{Global, JByteArray, JByteBuffer, JClass, JLongArray, JThrowable, JValue};
use jni::strings::{JNIStr, JNIString};
use jni::sys::{jboolean, jint, jlong, JNI_ERR, JNI_VERSION_1_8};
use jni::{
    jni_sig, jni_str, native_method, AttachConfig, AttachmentExceptionPolicy, Env, EnvUnowned,
    JavaVM, NativeMethod, DEFAULT_LOCAL_FRAME_CAPACITY,
};
use once_cell::sync::OnceCell;

use crate::abi;
use crate::core::{DurableOptions, Store, StoreError};
use crate::handle::{self, Closed, Handle};
use crate::wire::{read_puts, stats_of, write_entries, write_name, write_page, NAME_BUFFER_BYTES};

/// `dev.userstore.internal.binding.NativeAbi`, looked up once in `JNI_OnLoad` (not on the hot path): its
/// static `exception(code, message)` builds the exception of an error code for both bindings.
struct ExceptionClasses {
    native_abi: Global<JClass<'static>>,
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
    /// The store was closed (`close0`): `StoreClosedException`.
    #[error("the store is closed")]
    Closed,
    /// A Java array too large for one call.
    #[error("result of {0} bytes is too large for a Java array")]
    TooLarge(usize),
    /// A direct buffer with no address or a negative capacity, or too small for its ids.
    #[error("invalid direct buffer")]
    BadBuffer,
    /// An argument the Kotlin side should have refused (a bug there, reported).
    #[error("{0}")]
    BadArgument(String),
}

type Result<T> = std::result::Result<T, BoundaryError>;

impl From<Closed> for BoundaryError {
    fn from(_: Closed) -> BoundaryError {
        BoundaryError::Closed
    }
}

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
        let (code, message) = match &err {
            BoundaryError::Store(store) => (abi::code_of(store), abi::message_of(store)),
            BoundaryError::Closed => (abi::ERR_CLOSED, err.to_string()),
            _ => (abi::ERR_INTERNAL, err.to_string()),
        };
        throw_code(env, code, &message)
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
        throw_code(
            env,
            abi::ERR_PANIC,
            &format!("Rust panic in userstore: {text}"),
        )
    }
}

/// Throws the exception of error `code` with `message`, as `NativeAbi.exception` builds it (the
/// one place, shared with the FFM binding, that maps codes to exception classes). Without the
/// class (never after a successful `JNI_OnLoad`), an `IllegalStateException`. A Java exception
/// raised while building it (an out-of-memory, say) is left pending instead: it wins.
fn throw_code<T: Default>(env: &mut Env<'_>, code: i32, message: &str) -> jni::errors::Result<T> {
    let thrown = match CLASSES.get() {
        Some(c) => env
            .new_string(message)
            .and_then(|text| {
                env.call_static_method(
                    &c.native_abi,
                    jni_str!("exception"),
                    jni_sig!("(ILjava/lang/String;)Ljava/lang/Throwable;"),
                    &[JValue::Int(code), JValue::Object(&text)],
                )
            })
            .and_then(|value| value.l())
            .and_then(|object| env.cast_local::<JThrowable>(object))
            .and_then(|throwable| env.throw(throwable)),
        None => env.throw_new(
            jni_str!("java/lang/IllegalStateException"),
            JNIString::new(message),
        ),
    };
    // Throwing reports the now pending exception as Err(JavaException): that is the goal here.
    match thrown {
        Ok(()) | Err(JniError::JavaException) => Ok(T::default()),
        Err(other) => Err(other),
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

/// Runs `f` on the store behind `raw`, pinned for the whole call (see [`handle`](crate::handle));
/// [`BoundaryError::Closed`] once the store is closed.
///
/// # Safety
/// `raw` must be 0 or a handle from `create0` / `open0` that `destroy0` has not freed, and
/// `destroy0` must not free it during the call.
unsafe fn with_store<R>(raw: jlong, f: impl FnOnce(&Store) -> Result<R>) -> Result<R> {
    // SAFETY: passed on from this function's contract.
    let handle = unsafe { handle::from_raw(raw) }.ok_or(BoundaryError::NullHandle)?;
    handle.with(f)?
}

/// The handle cell behind `raw`.
///
/// # Safety
/// As [`with_store`], for as long as the returned reference lives (`'a`).
unsafe fn cell<'a>(raw: jlong) -> Result<&'a Handle> {
    // SAFETY: passed on from this function's contract.
    unsafe { handle::from_raw(raw) }.ok_or(BoundaryError::NullHandle)
}

/// The caller's direct buffer: `capacity` bytes at `address`.
///
/// # Safety
/// Unless `address` is 0, `address` and `capacity` must describe `capacity` initialised bytes
/// that are valid for reads and writes and that nothing else reads or writes while the returned
/// slice lives (`'a`, at most the rest of the calling native method): a live direct `ByteBuffer`
/// (its address from [`buffer_address0`]) and its capacity, which the caller holds for this call
/// only, keeping it reachable and touching it from nowhere else until the call returns.
unsafe fn direct_buffer<'a>(address: jlong, capacity: jint) -> Result<&'a mut [u8]> {
    let capacity = usize::try_from(capacity).map_err(|_| BoundaryError::BadBuffer)?;
    let ptr = address as *mut u8;
    if ptr.is_null() {
        return Err(BoundaryError::BadBuffer);
    }
    // SAFETY: by this function's contract the bytes are initialised (allocateDirect zeroes
    // them), valid for reads and writes (the JVM never moves a direct buffer's memory and frees
    // it only once the buffer is unreachable) and used by nothing else while the slice lives.
    // A jint capacity is far below isize::MAX.
    Ok(unsafe { std::slice::from_raw_parts_mut(ptr, capacity) })
}

/// The native-order `i64` in an 8-byte chunk of a direct buffer (no alignment needed).
fn native_i64(chunk: &[u8]) -> i64 {
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(chunk);
    i64::from_ne_bytes(bytes)
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

/// The class whose native methods this library implements.
const BRIDGE_CLASS: &JNIStr = jni_str!("dev/userstore/internal/binding/NativeBridge");

/// Every native method of `dev.userstore.internal.binding.NativeBridge` (all static: `@JvmStatic` on an `object`)
/// but the test hooks, as registered by `JNI_OnLoad`. `native_method!` derives each JNI signature
/// from the written one and checks the Rust function against it at compile time; `raw` because
/// each function catches its own panics and maps its own errors ([`run`], [`run_lean`]).
const NATIVE_METHODS: &[NativeMethod<'static>] = &[
    native_method! { static raw fn create0() -> jlong, name = "create0" },
    native_method! { static raw fn destroy0(handle: jlong), name = "destroy0" },
    native_method! { static raw fn close0(handle: jlong) -> jboolean, name = "close0" },
    native_method! { static raw fn is_freed0(handle: jlong) -> jboolean, name = "isFreed0" },
    native_method! { static raw fn pending_frees0() -> jlong, name = "pendingFrees0" },
    native_method! { static raw fn size0(handle: jlong) -> jlong, name = "size0" },
    native_method! {
        static raw fn put0(handle: jlong, id: jlong, name: jbyte[]), name = "put0"
    },
    native_method! {
        static raw fn buffer_address0(buffer: JByteBuffer) -> jlong, name = "bufferAddress0"
    },
    native_method! {
        static raw fn get_direct0(handle: jlong, id: jlong, address: jlong) -> jint,
        name = "getDirect0"
    },
    native_method! {
        static raw fn get_many_direct0(handle: jlong, address: jlong, capacity: jint, count: jint)
            -> jint,
        name = "getManyDirect0"
    },
    native_method! {
        static raw fn remove0(handle: jlong, id: jlong) -> jboolean, name = "remove0"
    },
    native_method! {
        static raw fn find_by_name0(handle: jlong, name: jbyte[]) -> jlong[],
        name = "findByName0"
    },
    native_method! {
        static raw fn get_json_direct0(handle: jlong, id: jlong, address: jlong, capacity: jint)
            -> jint,
        name = "getJsonDirect0"
    },
    native_method! {
        static raw fn import_json0(handle: jlong, json: jbyte[]) -> jint, name = "importJson0"
    },
    native_method! {
        static raw fn export_json0(handle: jlong) -> jbyte[], name = "exportJson0"
    },
    native_method! { static raw fn save0(handle: jlong, path: jbyte[]), name = "save0" },
    native_method! { static raw fn open0(path: jbyte[]) -> jlong, name = "open0" },
    native_method! {
        static raw fn open_durable0(dir: jbyte[], sync: jint, checkpoint_log_bytes: jlong) -> jlong,
        name = "openDurable0"
    },
    native_method! { static raw fn checkpoint0(handle: jlong), name = "checkpoint0" },
    native_method! {
        static raw fn log_stats0(handle: jlong, out: jlong[]) -> jboolean, name = "logStats0"
    },
    native_method! {
        static raw fn apply_batch0(handle: jlong, puts: jbyte[], removes: jlong[]) -> jint,
        name = "applyBatch0"
    },
    native_method! {
        static raw fn scan0(handle: jlong, from: jlong, limit: jint) -> jbyte[], name = "scan0"
    },
    native_method! { static raw fn stats0(handle: jlong, out: jlong[]), name = "stats0" },
    native_method! { static raw fn noop0(value: jlong) -> jlong, name = "noop0" },
    native_method! {
        static raw fn noop_with_env0(value: jlong) -> jlong, name = "noopWithEnv0"
    },
    native_method! {
        static raw fn has_test_hooks0() -> jboolean, name = "hasTestHooks0"
    },
];

/// The test-only natives, registered in `test-hooks` builds only. Kotlin declares
/// `panicForTest0` in every build; without this feature a call to it throws
/// `UnsatisfiedLinkError`.
#[cfg(feature = "test-hooks")]
const TEST_HOOK_METHODS: &[NativeMethod<'static>] = &[native_method! {
    static raw fn panic_for_test0(message: jbyte[]), name = "panicForTest0"
}];
#[cfg(not(feature = "test-hooks"))]
const TEST_HOOK_METHODS: &[NativeMethod<'static>] = &[];

/// Binds every native of [`BRIDGE_CLASS`], or none: after a failure it unbinds what it bound,
/// because the JVM unloads a library whose `JNI_OnLoad` failed and no method may keep pointing
/// into it.
fn register_natives(env: &mut Env<'_>) -> jni::errors::Result<()> {
    let class = env.find_class(BRIDGE_CLASS)?;
    let mut registered = Ok(());
    for methods in [NATIVE_METHODS, TEST_HOOK_METHODS] {
        if methods.is_empty() {
            continue;
        }
        // SAFETY: native_method! made every entry: its function pointer is an extern "system"
        // wrapper whose parameter and return types the macro checked against the entry's JNI
        // signature. Every entry is `static`, so the wrapper takes the class (a JClass) as its
        // second parameter, and every one of these methods is static in Kotlin (@JvmStatic on an
        // object). A name or signature with no matching native method fails here, reported.
        registered = unsafe { env.register_native_methods(&class, methods) };
        if registered.is_err() {
            break;
        }
    }
    if registered.is_err() {
        // Best effort: the UnsatisfiedLinkError thrown by the caller reports the first failure.
        let _ = env.unregister_native_methods(&class);
    }
    registered
}

/// Looks up `NativeAbi`, whose `exception` builds what [`ThrowJava`] throws.
fn exception_classes(env: &mut Env<'_>) -> jni::errors::Result<ExceptionClasses> {
    let native_abi = env.find_class(jni_str!("dev/userstore/internal/binding/NativeAbi"))?;
    Ok(ExceptionClasses {
        native_abi: env.new_global_ref(native_abi)?,
    })
}

/// Caches the exception classes, registers every native method of `dev.userstore.internal.binding.NativeBridge`
/// and reports the JNI version this library needs.
///
/// On any failure it returns `JNI_ERR` with an `UnsatisfiedLinkError` pending that says what
/// failed (for example a native method whose name or signature has no match in the class);
/// `System.load` throws that error and unloads the library.
///
/// # Safety
/// Called by the JVM, on a thread attached to it, with a valid `JavaVM` pointer when
/// `System.load` loads this library.
#[unsafe(no_mangle)]
pub unsafe extern "system" fn JNI_OnLoad(
    vm: *mut jni::sys::JavaVM,
    _reserved: *mut c_void,
) -> jint {
    if vm.is_null() {
        return JNI_ERR;
    }
    // SAFETY: the JVM passes a valid, non-null JavaVM pointer that lives as long as the process.
    let vm = unsafe { JavaVM::from_raw(vm) };
    let loaded = vm.attach_current_thread_with_config(
        // Ignore: jni-rs must leave the UnsatisfiedLinkError thrown below pending, for
        // System.load to throw. (jni-rs's calls in here catch and clear what they raise.)
        || AttachConfig::new().exceptions_policy(AttachmentExceptionPolicy::Ignore),
        Some(DEFAULT_LOCAL_FRAME_CAPACITY),
        |env| -> jni::errors::Result<ExceptionClasses> {
            let loaded = exception_classes(env).and_then(|classes| {
                register_natives(env)?;
                Ok(classes)
            });
            if let Err(err) = &loaded {
                if !env.exception_check() {
                    let message = JNIString::new(format!("userstore: JNI_OnLoad failed: {err}"));
                    // Pending exception or not, the library fails to load: JNI_ERR below.
                    let _ = env.throw_new(jni_str!("java/lang/UnsatisfiedLinkError"), &message);
                }
            }
            loaded
        },
    );
    match loaded {
        Ok(classes) => {
            // A second load in the same process keeps the first set: both are valid globals.
            let _ = CLASSES.set(classes);
            JNI_VERSION_1_8
        }
        Err(_) => JNI_ERR,
    }
}

// The native methods, in the order of NativeBridge.kt. None is exported: JNI_OnLoad registers
// them (see NATIVE_METHODS), through the extern "system" wrappers native_method! generates.
//
// Every `with_store(handle, ..)` below relies on the same fact: NativeUserStore passes only its
// own handle, whose cell lives from create0/open0 until destroy0, which its Cleaner runs only once
// the NativeUserStore is unreachable; the store inside is pinned for the call (see handle.rs).

/// `NativeBridge.create0(): Long` — a new empty store.
fn create0<'local>(env: EnvUnowned<'local>, _class: JClass<'local>) -> jlong {
    run(env, |_| Ok(Handle::into_raw(Store::new()) as jlong))
}

/// `NativeBridge.destroy0(handle)` — closes the store if still open and frees the handle cell;
/// NativeUserStore's Cleaner calls it exactly once, when the NativeUserStore is unreachable.
fn destroy0<'local>(env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong) {
    run(env, |_| {
        // SAFETY: NativeUserStore's Cleaner action calls destroy0 once (an AtomicBoolean), with its
        // own handle, once the NativeUserStore is unreachable: every call fences the
        // NativeUserStore, so none is running and none can start; the handle is never passed again.
        unsafe { handle::destroy(handle) };
        Ok(())
    })
}

/// `NativeBridge.close0(handle): Boolean` — closes the store: later calls throw
/// `StoreClosedException`; its memory is freed once the calls running now have returned (by the
/// last one out). Never waits. True if this call closed it.
fn close0<'local>(env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong) -> jboolean {
    run(env, |_| {
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        let cell = unsafe { cell(handle) }?;
        Ok(cell.close())
    })
}

/// `NativeBridge.isFreed0(handle): Boolean` — whether the closed store's memory is freed (tests).
fn is_freed0<'local>(env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong) -> jboolean {
    run(env, |_| {
        // SAFETY: as in close0.
        let cell = unsafe { cell(handle) }?;
        Ok(cell.is_freed())
    })
}

/// `NativeBridge.pendingFrees0(): Long` — retired memory not freed yet, process-wide (tests).
fn pending_frees0<'local>(env: EnvUnowned<'local>, _class: JClass<'local>) -> jlong {
    run(env, |_| Ok(crate::reclaim::pending() as jlong))
}

/// `NativeBridge.size0(handle): Long`.
fn size0<'local>(env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong) -> jlong {
    run(env, |_| {
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        unsafe { with_store(handle, |store| Ok(store.len() as jlong)) }
    })
}

/// `NativeBridge.put0(handle, id, nameUtf8)` — the name as UTF-8 bytes, validated by the core.
fn put0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    id: jlong,
    name: JByteArray<'local>,
) {
    run(env, |env| {
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        unsafe {
            with_store(handle, |store| {
                let name = read_bytes(env, &name)?;
                Ok(store.put(id, &name)?)
            })
        }
    })
}

/// `NativeBridge.bufferAddress0(buffer): Long` — the address of a direct `ByteBuffer`, for the
/// read natives below. Called once per buffer, not per call.
fn buffer_address0<'local>(
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
fn get_direct0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    id: jlong,
    address: jlong,
) -> jint {
    run_lean(env, || {
        // SAFETY: NativeUserStore passes the address of a live direct buffer of at least
        // NAME_BUFFER_BYTES that it holds for this call only: reachable until the call returns
        // (reachabilityFence) and read or written by nothing else meanwhile.
        let out = unsafe { direct_buffer(address, NAME_BUFFER_BYTES as jint) }?;
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        unsafe {
            with_store(handle, |store| {
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
    })
}

/// `NativeBridge.getManyDirect0(handle, address, capacity, count): Int` — looks up the `count`
/// ids stored (native byte order) at the start of the direct buffer and writes, after them, one
/// entry per id in order: a native-order i32 length word (see [`write_name`]; -1 when missing)
/// followed by the name's bytes. Returns the number of bytes the entries take; when that exceeds
/// the room after the ids, the entries are incomplete and the caller retries with a larger
/// buffer. One batched lookup (the core overlaps the cache misses of the batch) reading the ids
/// straight from the buffer; no JNI call, no allocation.
fn get_many_direct0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    address: jlong,
    capacity: jint,
    count: jint,
) -> jint {
    run_lean(env, || {
        // SAFETY: NativeUserStore passes the address and capacity of a live direct buffer that
        // it holds for this call only: reachable until the call returns (reachabilityFence) and
        // read or written by nothing else meanwhile.
        let buffer = unsafe { direct_buffer(address, capacity) }?;
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        unsafe {
            with_store(handle, |store| {
                let count = usize::try_from(count).map_err(|_| BoundaryError::BadBuffer)?;
                let ids_len = count.checked_mul(8).filter(|&n| n <= buffer.len());
                let (id_bytes, out) = buffer.split_at_mut(ids_len.ok_or(BoundaryError::BadBuffer)?);
                let ids = id_bytes.chunks_exact(8).map(native_i64);
                let at = write_entries(store, ids, out)?;
                i32::try_from(at).map_err(|_| BoundaryError::TooLarge(at))
            })
        }
    })
}

/// `NativeBridge.remove0(handle, id): Boolean`.
fn remove0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    id: jlong,
) -> jboolean {
    run(env, |_| {
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        unsafe { with_store(handle, |store| Ok(store.remove(id)?)) }
    })
}

/// `NativeBridge.findByName0(handle, nameUtf8): LongArray` — ids, ascending.
fn find_by_name0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    name: JByteArray<'local>,
) -> JLongArray<'local> {
    run(env, |env| {
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        unsafe {
            with_store(handle, |store| {
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
    })
}

/// `NativeBridge.getJsonDirect0(handle, id, address, capacity): Int` — writes
/// `{"id":…,"name":…}` at `address` and returns its length, or -1 when there is no such user.
/// When the length exceeds `capacity` nothing was written and the caller retries with a larger
/// buffer. No JNI call, no allocation: the core counts the length, then writes straight into
/// the caller's buffer if it fits ([`Store::write_json_into`]).
fn get_json_direct0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    id: jlong,
    address: jlong,
    capacity: jint,
) -> jint {
    run_lean(env, || {
        // SAFETY: NativeUserStore passes the address and capacity of a live direct buffer that
        // it holds for this call only: reachable until the call returns (reachabilityFence) and
        // read or written by nothing else meanwhile.
        let out = unsafe { direct_buffer(address, capacity) }?;
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        unsafe {
            with_store(handle, |store| match store.write_json_into(id, out)? {
                None => Ok(-1),
                Some(len) => i32::try_from(len).map_err(|_| BoundaryError::TooLarge(len)),
            })
        }
    })
}

/// `NativeBridge.importJson0(handle, json): Int` — all or nothing; the record count.
fn import_json0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    json: JByteArray<'local>,
) -> jint {
    run(env, |env| {
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        unsafe {
            with_store(handle, |store| {
                let json = read_bytes(env, &json)?;
                let count = store.import_json(&json)?;
                // A Java byte[] holds < 2^31 bytes and a record takes more than one, so this always fits.
                Ok(jint::try_from(count).unwrap_or(jint::MAX))
            })
        }
    })
}

/// `NativeBridge.exportJson0(handle): ByteArray` — all users, sorted by id.
fn export_json0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
) -> JByteArray<'local> {
    run(env, |env| {
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        unsafe {
            with_store(handle, |store| {
                let json = store.export_json();
                byte_array(env, &json)
            })
        }
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
fn save0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    path: JByteArray<'local>,
) {
    run(env, |env| {
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        unsafe {
            with_store(handle, |store| {
                let path = read_path(env, &path)?;
                Ok(store.save(&path)?)
            })
        }
    })
}

/// `NativeBridge.open0(pathUtf8): Long` — a new store read from a snapshot; its handle, as from
/// `create0`.
fn open0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    path: JByteArray<'local>,
) -> jlong {
    run(env, |env| {
        let path = read_path(env, &path)?;
        let store = Store::open(&path)?;
        Ok(Handle::into_raw(store) as jlong)
    })
}

/// `NativeBridge.openDurable0(dirUtf8, sync, checkpointLogBytes): Long` — a durable store on the
/// data directory (created if missing), `sync` 0 `ALWAYS`, 1 `BATCH`, 2 `NONE`; its handle, as
/// from `create0`. Kotlin checks `checkpointLogBytes >= 1` and the mode; anything else is a bug,
/// reported as `NativeStoreException`.
fn open_durable0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    dir: JByteArray<'local>,
    sync: jint,
    checkpoint_log_bytes: jlong,
) -> jlong {
    run(env, |env| {
        let dir = read_path(env, &dir)?;
        let sync = abi::sync_mode(sync)
            .ok_or_else(|| BoundaryError::BadArgument(format!("unknown sync mode {sync}")))?;
        let checkpoint_log_bytes = u64::try_from(checkpoint_log_bytes)
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| {
                BoundaryError::BadArgument(format!(
                    "checkpointLogBytes {checkpoint_log_bytes} is not at least 1"
                ))
            })?;
        let options = DurableOptions {
            sync,
            checkpoint_log_bytes,
        };
        let store = Store::open_durable(&dir, options)?;
        Ok(Handle::into_raw(store) as jlong)
    })
}

/// `NativeBridge.checkpoint0(handle)` — a checkpoint; nothing on a store that is not durable.
fn checkpoint0<'local>(env: EnvUnowned<'local>, _class: JClass<'local>, handle: jlong) {
    run(env, |_| {
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        unsafe { with_store(handle, |store| Ok(store.checkpoint()?)) }
    })
}

/// `NativeBridge.logStats0(handle, out): Boolean` — for a durable store writes appended,
/// durable, syncs and generation into `out[0..4]` and returns true; false (nothing written) for
/// a store that is not durable.
fn log_stats0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    out: JLongArray<'local>,
) -> jboolean {
    run(env, |env| {
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        let stats = unsafe { with_store(handle, |store| Ok(store.log_stats())) }?;
        let Some(stats) = stats else {
            return Ok(false);
        };
        let values = [stats.appended, stats.durable, stats.syncs, stats.generation]
            .map(|v| jlong::try_from(v).unwrap_or(jlong::MAX));
        out.set_region(env, 0, &values)?;
        Ok(true)
    })
}

/// `NativeBridge.applyBatch0(handle, puts, removes): Int` — one batch, all or nothing
/// ([`Store::apply_batch`]): `puts` encoded as [`read_puts`] reads them, then the ids `removes`;
/// the number of distinct removed ids that existed. Bad input is `InvalidUserException`, a
/// record past 1 GiB `IllegalArgumentException`; a malformed `puts` (a bug of the JVM side)
/// `NativeStoreException`.
fn apply_batch0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    puts: JByteArray<'local>,
    removes: JLongArray<'local>,
) -> jint {
    run(env, |env| {
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        unsafe {
            with_store(handle, |store| {
                let wire = read_bytes(env, &puts)?;
                let puts = read_puts(&wire).map_err(BoundaryError::BadArgument)?;
                let mut ids = vec![0; removes.len(env)?];
                removes.get_region(env, 0, &mut ids)?;
                let removed = store.apply_batch(&puts, &ids)?;
                // At most the length of a Java array.
                Ok(jint::try_from(removed).unwrap_or(jint::MAX))
            })
        }
    })
}

/// `NativeBridge.scan0(handle, fromId, limit): ByteArray` — one page of [`Store::scan`]: at
/// most `limit` users with an id `>= fromId`, ascending, encoded as [`write_page`] does. A
/// negative `fromId` is `InvalidUserException`; Kotlin refuses a negative `limit` first.
fn scan0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    from: jlong,
    limit: jint,
) -> JByteArray<'local> {
    run(env, |env| {
        let limit = usize::try_from(limit)
            .map_err(|_| BoundaryError::BadArgument(format!("negative limit {limit}")))?;
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        unsafe {
            with_store(handle, |store| {
                let page = write_page(store, from, limit)?;
                byte_array(env, &page)
            })
        }
    })
}

/// `NativeBridge.stats0(handle, out)` — writes users, table bytes, durable (1 or 0), log bytes
/// and checkpoints into `out[0..5]` ([`abi::STATS_FIELDS`]).
fn stats0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    handle: jlong,
    out: JLongArray<'local>,
) {
    run(env, |env| {
        // SAFETY: NativeUserStore passes its own handle, whose cell lives until its Cleaner runs
        // destroy0, which cannot happen during a call (each call fences its NativeUserStore).
        let values = unsafe { with_store(handle, |store| Ok(stats_of(store))) }?;
        out.set_region(env, 0, &values)?;
        Ok(())
    })
}

/// `NativeBridge.noop0(value): Long` — returns its argument; does nothing else. The JMH floor: the
/// cost of one call through the JVM's JNI transition and [`run_lean`], the wrapper of the read path.
fn noop0<'local>(env: EnvUnowned<'local>, _class: JClass<'local>, value: jlong) -> jlong {
    run_lean(env, || Ok(value))
}

/// `NativeBridge.noopWithEnv0(value): Long` — the same through [`run`], which builds jni-rs's
/// environment (attach guard, panic catching, error policy) on every call: JMH compares the two.
fn noop_with_env0<'local>(env: EnvUnowned<'local>, _class: JClass<'local>, value: jlong) -> jlong {
    run(env, |_| Ok(value))
}

/// `NativeBridge.hasTestHooks0(): Boolean` — whether this build has the test-only entries.
fn has_test_hooks0<'local>(env: EnvUnowned<'local>, _class: JClass<'local>) -> jboolean {
    run(env, |_| Ok(cfg!(feature = "test-hooks")))
}

/// `NativeBridge.panicForTest0(message)` — panics on purpose (test builds only), so the tests can
/// prove that a panic becomes a `NativeStoreException` and the JVM survives.
#[cfg(feature = "test-hooks")]
fn panic_for_test0<'local>(
    env: EnvUnowned<'local>,
    _class: JClass<'local>,
    message: JByteArray<'local>,
) {
    run(env, |env| -> Result<()> {
        let message = read_bytes(env, &message)?;
        panic!("{}", String::from_utf8_lossy(&message));
    })
}

#[cfg(test)]
mod registration_tests {
    //! The table `JNI_OnLoad` registers, checked against itself and against the Kotlin
    //! declarations, so a mismatch shows up in `cargo test` before any JVM loads the library.

    use std::collections::HashSet;
    use std::ffi::CStr;
    use std::path::Path;

    use super::{NativeMethod, NATIVE_METHODS, TEST_HOOK_METHODS};

    /// (name, JNI signature) of every registered method, in table order.
    fn registered() -> Vec<(String, String)> {
        NATIVE_METHODS
            .iter()
            .chain(TEST_HOOK_METHODS)
            .map(|method| {
                let raw = (method as *const NativeMethod<'_>).cast::<jni::sys::JNINativeMethod>();
                // SAFETY: NativeMethod is documented as a #[repr(transparent)] wrapper of
                // jni::sys::JNINativeMethod, so the pointer is valid for reads of one, for as
                // long as `method` lives (the whole test: it is in a const table).
                let raw = unsafe { &*raw };
                // SAFETY: native_method! points name and signature at NUL-terminated 'static
                // C string literals.
                let (name, sig) =
                    unsafe { (CStr::from_ptr(raw.name), CStr::from_ptr(raw.signature)) };
                let text = |s: &CStr| s.to_str().map(str::to_owned);
                match (text(name), text(sig)) {
                    (Ok(name), Ok(sig)) => (name, sig),
                    other => panic!("not UTF-8: {other:?}"),
                }
            })
            .collect()
    }

    /// The JNI descriptor of a Kotlin parameter or return type used by NativeBridge.kt.
    fn descriptor(kotlin: &str) -> &'static str {
        match kotlin {
            "Unit" => "V",
            "Boolean" => "Z",
            "Int" => "I",
            "Long" => "J",
            "ByteArray" => "[B",
            "LongArray" => "[J",
            "ByteBuffer" | "java.nio.ByteBuffer" => "Ljava/nio/ByteBuffer;",
            other => panic!("no JNI descriptor known for the Kotlin type {other}"),
        }
    }

    /// (name, JNI signature) of every `external fun` in NativeBridge.kt, each checked to be
    /// `@JvmStatic` (a static native of dev.userstore.internal.binding.NativeBridge).
    fn kotlin_natives() -> Vec<(String, String)> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let candidates =
            ["userstore/src/main/kotlin/dev/userstore/internal/binding/NativeBridge.kt"];
        let text = candidates
            .iter()
            .find_map(|c| std::fs::read_to_string(root.join(c)).ok())
            .unwrap_or_else(|| panic!("NativeBridge.kt not found; tried {candidates:?}"));
        let mut natives = Vec::new();
        for (at, keyword) in text.match_indices("external fun ") {
            let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
            let prefix = text[line_start..at].trim();
            if prefix.starts_with('*') || prefix.starts_with("//") {
                continue; // in a comment
            }
            let rest = &text[at + keyword.len()..];
            let (open, close) = match (rest.find('('), rest.find(')')) {
                (Some(open), Some(close)) if open < close => (open, close),
                _ => panic!("unparsed declaration: {}", &rest[..rest.len().min(80)]),
            };
            let name = rest[..open].trim().to_owned();
            assert!(
                prefix.contains("@JvmStatic"),
                "{name} is not @JvmStatic, so not a static native"
            );
            let mut sig = String::from("(");
            for param in rest[open + 1..close].split(',').map(str::trim) {
                if param.is_empty() {
                    continue; // a trailing comma
                }
                let ty = param.split_once(':').map_or("", |(_, ty)| ty.trim());
                sig.push_str(descriptor(ty));
            }
            sig.push(')');
            let ret = rest[close + 1..]
                .trim_start()
                .strip_prefix(':')
                .and_then(|r| r.split_whitespace().next())
                .unwrap_or("Unit");
            sig.push_str(descriptor(ret));
            natives.push((name, sig));
        }
        natives
    }

    #[test]
    fn registered_names_are_unique() {
        let names = registered();
        let unique: HashSet<&str> = names.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(unique.len(), names.len(), "duplicate names in {names:?}");
    }

    #[test]
    fn registered_signatures_are_exactly_these() {
        let mut expected = vec![
            ("create0", "()J"),
            ("destroy0", "(J)V"),
            ("close0", "(J)Z"),
            ("isFreed0", "(J)Z"),
            ("pendingFrees0", "()J"),
            ("size0", "(J)J"),
            ("put0", "(JJ[B)V"),
            ("bufferAddress0", "(Ljava/nio/ByteBuffer;)J"),
            ("getDirect0", "(JJJ)I"),
            ("getManyDirect0", "(JJII)I"),
            ("remove0", "(JJ)Z"),
            ("findByName0", "(J[B)[J"),
            ("getJsonDirect0", "(JJJI)I"),
            ("importJson0", "(J[B)I"),
            ("exportJson0", "(J)[B"),
            ("save0", "(J[B)V"),
            ("open0", "([B)J"),
            ("openDurable0", "([BIJ)J"),
            ("checkpoint0", "(J)V"),
            ("logStats0", "(J[J)Z"),
            ("applyBatch0", "(J[B[J)I"),
            ("scan0", "(JJI)[B"),
            ("stats0", "(J[J)V"),
            ("noop0", "(J)J"),
            ("noopWithEnv0", "(J)J"),
            ("hasTestHooks0", "()Z"),
        ];
        if cfg!(feature = "test-hooks") {
            expected.push(("panicForTest0", "([B)V"));
        }
        let registered = registered();
        let registered: Vec<(&str, &str)> = registered
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_str()))
            .collect();
        assert_eq!(registered, expected);
    }

    #[test]
    fn registered_natives_are_the_kotlin_declarations() {
        let mut declared = kotlin_natives();
        // Declared in every build, registered only with the test hooks.
        let hook = ("panicForTest0".to_owned(), "([B)V".to_owned());
        assert!(
            declared.contains(&hook),
            "NativeBridge.kt lost panicForTest0"
        );
        if !cfg!(feature = "test-hooks") {
            declared.retain(|native| *native != hook);
        }
        let mut registered = registered();
        declared.sort();
        registered.sort();
        assert_eq!(registered, declared);
    }
}
