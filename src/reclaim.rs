//! Safe memory reclamation for optimistic readers: one process-wide, fence-free quiescence
//! domain (an asymmetric-fence variant of epoch-based reclamation).
//!
//! # What it gives
//! [`pin`] returns a [`Guard`]; while it lives, nothing [`retire`]d after the pin is dropped.
//! The contract the rest of the crate (the core store and the JNI/FFM boundary) relies on:
//!
//! > A pointer loaded after [`pin()`] from a location that was cleared or replaced before
//! > [`retire()`] was called on its value stays valid until the guard drops.
//!
//! [`Atomic<T>`] packages the common case: a `Box<T>` behind an `AtomicPtr`, read with
//! [`Atomic::load`] under a guard, replaced by a writer (that holds its own exclusion) with
//! [`Atomic::replace`], which retires the old value.
//!
//! # The protocol
//! Every thread that pins owns a [`Record`] (its own 128-byte line, registered once per thread
//! in a global registry and released for reuse when the thread exits) holding a counter:
//! odd while the thread is pinned, even when it is not. The counter only ever grows.
//! - `pin` (outermost): the thread stores `counter + 1` into its own record (a plain store:
//!   Release ordering, a `mov` on x86), then the light fence, which on Linux is only a
//!   compiler fence. Nested pins only bump a depth counter in the same record.
//!   No atomic read-modify-write, no store to a line another thread writes, no hardware fence.
//! - unpin (outermost guard dropped): stores `counter + 1` (even again, Release, so every read
//!   made under the guard happens before anyone who sees the new value), then reads the shared
//!   pending count (a load: the line stays shared in every cache) and only if it is non-zero
//!   tries to drop deferred values.
//! - `retire(value)`: the value was already unlinked. the heavy fence (the
//!   `sys_membarrier` private-expedited call) makes every running thread of the process execute a
//!   full fence, which upgrades every reader's compiler fence to a real one. Then every record
//!   is read: a reader whose pin store is not seen here had not pinned before the heavy fence,
//!   so its later loads see the unlinked location's new content and can never reach `value`.
//!   If no record is odd, `value` is dropped at once. Otherwise it is deferred with a snapshot
//!   of the odd counters; it becomes free when each of those records holds a different value
//!   (that thread has unpinned at least once since). Deferred values are dropped by later
//!   `retire` calls or by an unpin that sees the pending count; both only `try_lock` the list,
//!   so nothing ever waits for a reader.
//!
//! The asymmetric pair light/heavy is the classic store-buffer pattern made cheap for the
//! reader (the same argument as liburcu's membarrier flavour and folly's asymmetric fences):
//! of "reader stores odd, then loads the pointer" and "writer unlinks, then reads the counter",
//! at least one sees the other's store. A loom model of the protocol is in
//! `tests/loom_reclaim.rs` (`RUSTFLAGS="--cfg loom" cargo test --release --test loom_reclaim`);
//! loom cannot model `sys_membarrier`, so under `cfg(loom)` light and heavy are both
//! `fence(SeqCst)`, which is what membarrier makes of them at run time.
//!
//! # Limits
//! A thread that leaks a guard (`mem::forget`) or exits while pinned keeps everything retired
//! afterwards alive. Records are never freed, only reused: their number is the largest number of
//! threads that pinned at the same time.
//!
//! This module and the JNI/FFM boundary are the only places with `unsafe`: here, turning the
//! `AtomicPtr` of an [`Atomic`] back into references and boxes.

use std::marker::PhantomData;

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicPtr, AtomicU64, AtomicUsize};
#[cfg(loom)]
use loom::sync::Mutex;
use std::sync::atomic::Ordering;
#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize};
#[cfg(not(loom))]
use std::sync::Mutex;

/// The reader's side of the asymmetric fence: a compiler fence where `sys_membarrier` works
/// (the heavy side then makes it a full fence), a `SeqCst` fence otherwise.
#[inline]
fn light() {
    #[cfg(not(loom))]
    {
        if MEMBARRIER.load(Ordering::Relaxed) {
            std::sync::atomic::compiler_fence(Ordering::SeqCst);
        } else {
            std::sync::atomic::fence(Ordering::SeqCst);
        }
    }
    #[cfg(loom)]
    fence(Ordering::SeqCst);
}

/// The reclaimer's side of the asymmetric fence: every running thread of the process executes
/// a full memory barrier (`MEMBARRIER_CMD_PRIVATE_EXPEDITED`); a `SeqCst` fence where that
/// system call is missing (and then [`light`] is a `SeqCst` fence too).
fn heavy() {
    #[cfg(not(loom))]
    {
        // A reader may use the compiler fence only once the process is registered, so the
        // decision comes first here too.
        decide_membarrier();
        if MEMBARRIER.load(Ordering::Relaxed) {
            sys::barrier();
        } else {
            std::sync::atomic::fence(Ordering::SeqCst);
        }
    }
    #[cfg(loom)]
    fence(Ordering::SeqCst);
}

/// True once the process is registered for private expedited membarriers. Decided by
/// [`decide_membarrier`] before any thread's first pin (in `register`) and never changed after.
#[cfg(not(loom))]
static MEMBARRIER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(not(loom))]
fn decide_membarrier() {
    static DECIDED: std::sync::Once = std::sync::Once::new();
    DECIDED.call_once(|| MEMBARRIER.store(sys::register(), Ordering::Relaxed));
}

#[cfg(all(not(loom), target_os = "linux"))]
mod sys {
    // From linux/membarrier.h.
    const CMD_QUERY: libc::c_long = 0;
    const CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    fn membarrier(cmd: libc::c_long) -> libc::c_long {
        // SAFETY: `membarrier(cmd, flags = 0)` takes two integers and touches no memory of ours;
        // an unsupported command just returns -1.
        unsafe { libc::syscall(libc::SYS_membarrier, cmd, 0 as libc::c_long) }
    }

    /// Registers the process for private expedited barriers; false if the kernel cannot.
    pub fn register() -> bool {
        let supported = membarrier(CMD_QUERY);
        supported >= 0
            && supported & CMD_PRIVATE_EXPEDITED != 0
            && supported & CMD_REGISTER_PRIVATE_EXPEDITED != 0
            && membarrier(CMD_REGISTER_PRIVATE_EXPEDITED) == 0
    }

    /// A full barrier on every CPU running a thread of this process.
    pub fn barrier() {
        // Registered in `register`, so this cannot fail; if it ever did, readers' compiler
        // fences would not be upgraded, so stop rather than free memory under them.
        assert_eq!(
            membarrier(CMD_PRIVATE_EXPEDITED),
            0,
            "sys_membarrier failed"
        );
    }
}

#[cfg(all(not(loom), not(target_os = "linux")))]
mod sys {
    /// No membarrier: both sides use `SeqCst` fences.
    pub fn register() -> bool {
        false
    }

    pub fn barrier() {}
}

/// One thread's pin state, alone on its cache lines: only its owner writes it.
#[repr(align(128))]
struct Record {
    /// Odd while pinned; grows by one on every outermost pin and unpin.
    state: AtomicU64,
    /// Guards alive on the owning thread (only the owner reads or writes it).
    depth: AtomicUsize,
    /// 1 while a thread owns this record, 0 once it is free for reuse.
    owned: AtomicUsize,
}

/// A retired value waiting for the readers that were pinned when it was retired.
struct Deferred {
    /// Held only to be dropped.
    _value: Box<dyn Send>,
    /// (record, its odd state at retire time).
    waits: Vec<(&'static Record, u64)>,
}

/// A reclamation domain. The process has one ([`pin`], [`retire`] use it; under loom, one per
/// execution of the model).
struct Domain {
    registry: Mutex<Vec<&'static Record>>,
    deferred: Mutex<Vec<Deferred>>,
    /// Deferred values not yet dropped; read by every unpin.
    pending: Padded,
}

#[repr(align(128))]
struct Padded(AtomicUsize);

impl Domain {
    /// An empty domain.
    #[cfg(not(loom))]
    const fn new() -> Domain {
        Domain {
            registry: Mutex::new(Vec::new()),
            deferred: Mutex::new(Vec::new()),
            pending: Padded(AtomicUsize::new(0)),
        }
    }

    /// An empty domain.
    #[cfg(loom)]
    fn new() -> Domain {
        Domain {
            registry: Mutex::new(Vec::new()),
            deferred: Mutex::new(Vec::new()),
            pending: Padded(AtomicUsize::new(0)),
        }
    }

    /// A record for the calling thread: a free one if any, else a new one (leaked: records are
    /// reused, never freed).
    fn register(&self) -> &'static Record {
        #[cfg(not(loom))]
        decide_membarrier();
        let mut registry = lock(&self.registry);
        for &record in registry.iter() {
            if record
                .owned
                .compare_exchange(0, 1, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
            {
                return record;
            }
        }
        let record: &'static Record = Box::leak(Box::new(Record {
            state: AtomicU64::new(0),
            depth: AtomicUsize::new(0),
            owned: AtomicUsize::new(1),
        }));
        registry.push(record);
        record
    }

    /// Pins `record`'s thread: see the module documentation. Only its owner may call this.
    #[inline]
    fn pin_record(&self, record: &'static Record) {
        let depth = record.depth.load(Ordering::Relaxed);
        record.depth.store(depth + 1, Ordering::Relaxed);
        if depth == 0 {
            let state = record.state.load(Ordering::Relaxed);
            record.state.store(state + 1, Ordering::Release);
            light();
        }
    }

    /// Undoes one [`Domain::pin_record`].
    #[inline]
    fn unpin_record(&self, record: &'static Record) {
        let depth = record.depth.load(Ordering::Relaxed);
        record.depth.store(depth - 1, Ordering::Relaxed);
        if depth == 1 {
            let state = record.state.load(Ordering::Relaxed);
            record.state.store(state + 1, Ordering::Release);
            if self.pending.0.load(Ordering::Relaxed) != 0 {
                self.collect();
            }
        }
    }

    /// Retires `value`: see [`retire`].
    fn retire_boxed(&self, value: Box<dyn Send>) {
        heavy();
        let waits: Vec<(&'static Record, u64)> = lock(&self.registry)
            .iter()
            .filter_map(|&record| {
                let state = record.state.load(Ordering::Acquire);
                (state & 1 == 1).then_some((record, state))
            })
            .collect();
        if waits.is_empty() {
            drop(value);
        } else {
            self.pending.0.fetch_add(1, Ordering::Relaxed);
            lock(&self.deferred).push(Deferred {
                _value: value,
                waits,
            });
        }
        self.collect();
    }

    /// Drops the deferred values whose readers have all unpinned since; skipped if another
    /// thread is doing it.
    fn collect(&self) {
        let ready: Vec<Deferred> = {
            let Some(mut deferred) = try_lock(&self.deferred) else {
                return;
            };
            let mut ready = Vec::new();
            let mut k = 0;
            while k < deferred.len() {
                let done = deferred[k]
                    .waits
                    .iter()
                    .all(|(record, state)| record.state.load(Ordering::Acquire) != *state);
                if done {
                    ready.push(deferred.swap_remove(k));
                } else {
                    k += 1;
                }
            }
            ready
        };
        if !ready.is_empty() {
            self.pending.0.fetch_sub(ready.len(), Ordering::Relaxed);
            // Dropped outside the lock: a value's drop may retire more.
            drop(ready);
        }
    }

    /// Retired values not yet dropped.
    fn pending(&self) -> usize {
        self.pending.0.load(Ordering::Relaxed)
    }
}

#[cfg(not(loom))]
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(not(loom))]
fn try_lock<T>(mutex: &Mutex<T>) -> Option<std::sync::MutexGuard<'_, T>> {
    match mutex.try_lock() {
        Ok(guard) => Some(guard),
        Err(std::sync::TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(std::sync::TryLockError::WouldBlock) => None,
    }
}

#[cfg(loom)]
fn lock<T>(mutex: &Mutex<T>) -> loom::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap()
}

#[cfg(loom)]
fn try_lock<T>(mutex: &Mutex<T>) -> Option<loom::sync::MutexGuard<'_, T>> {
    mutex.try_lock().ok()
}

#[cfg(not(loom))]
static GLOBAL: Domain = Domain::new();

// Under loom, statics and thread-locals are made anew for every execution of the model.
#[cfg(loom)]
loom::lazy_static! {
    static ref GLOBAL: Domain = Domain::new();
}

/// The process's domain.
#[inline]
fn domain() -> &'static Domain {
    &GLOBAL
}

/// The calling thread's record in the global domain, given back when the thread exits.
struct Local(&'static Record);

impl Drop for Local {
    fn drop(&mut self) {
        self.0.owned.store(0, Ordering::Release);
    }
}

#[cfg(not(loom))]
thread_local! {
    static LOCAL: Local = Local(domain().register());
}

#[cfg(loom)]
loom::thread_local! {
    static LOCAL: Local = Local(domain().register());
}

/// Pins the current thread until dropped (see the module documentation). `!Send` and `!Sync`:
/// it belongs to the thread that pinned. Guards nest.
#[must_use = "the thread is pinned only while the guard lives"]
pub struct Guard {
    record: &'static Record,
    /// The record was registered for this guard alone (thread exit) and is given back with it.
    borrowed: bool,
    /// `!Send + !Sync`.
    _thread: PhantomData<*const ()>,
}

/// Pins the current thread: until the returned guard drops, no value retired after this call
/// (from a location it cleared or replaced) is dropped. The fast path is two plain stores to
/// this thread's own record and a compiler fence.
#[inline]
pub fn pin() -> Guard {
    // During thread exit (another thread-local's destructor) this thread's record may be gone:
    // then a record is borrowed for this guard only.
    let (record, borrowed) = match LOCAL.try_with(|local| local.0) {
        Ok(record) => (record, false),
        Err(_) => (domain().register(), true),
    };
    domain().pin_record(record);
    Guard {
        record,
        borrowed,
        _thread: PhantomData,
    }
}

impl Drop for Guard {
    #[inline]
    fn drop(&mut self) {
        domain().unpin_record(self.record);
        if self.borrowed {
            self.record.owned.store(0, Ordering::Release);
        }
    }
}

/// Drops `value` once every thread pinned at the moment of the call has unpinned at least once;
/// at once if no thread is pinned. Never waits for a reader: a value that cannot be dropped yet
/// is kept and dropped by a later `retire` or by an unpin that sees it pending.
pub fn retire<T: Send + 'static>(value: Box<T>) {
    domain().retire_boxed(value);
}

/// Hands the allocator's free memory back to the operating system (glibc's `malloc_trim`; a
/// no-op elsewhere). The core calls it after dropping a large retired table: glibc raises its
/// mmap threshold as big blocks are freed, so later tables come from the heap, and the freed old
/// ones would otherwise stay resident (measured: 38.6 to 39.4 B/user at 4M users in a JVM, 32.7
/// to 32.9 with the threshold fixed; docs/BENCHMARKS.md).
pub fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu", not(loom)))]
    // SAFETY: malloc_trim takes no pointer: it only walks glibc's own free lists, under its
    // own arena locks, and may call madvise on free pages; any thread may call it at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Retired values not yet dropped (a test hook).
pub fn pending() -> usize {
    domain().pending()
}

/// An owned `Box<T>` behind an `AtomicPtr`: readers [`load`](Atomic::load) it under a guard,
/// one writer at a time (holding its own exclusion) [`replace`](Atomic::replace)s it.
pub struct Atomic<T: Send + 'static> {
    ptr: AtomicPtr<T>,
    _owns: PhantomData<Box<T>>,
}

impl<T: Send + 'static> Atomic<T> {
    /// Owns `value`.
    pub fn new(value: T) -> Self {
        Atomic {
            ptr: AtomicPtr::new(Box::into_raw(Box::new(value))),
            _owns: PhantomData,
        }
    }

    /// The current value (Acquire load), valid while `guard` lives.
    #[inline]
    pub fn load<'g>(&self, guard: &'g Guard) -> &'g T {
        let _ = guard;
        let ptr = self.ptr.load(Ordering::Acquire);
        // SAFETY: `ptr` came from `Box::into_raw` (in `new` or `replace`) and is never null. The
        // box is freed only through `retire` (by `replace`, or by `drop`, which retires the
        // current value too), and only after it was swapped out of `self.ptr`; we loaded it
        // after `guard` pinned this thread, so by the domain's contract it stays allocated until
        // `guard` drops, which outlives 'g. Nobody mutates a `T` through the pointer: the box is
        // only ever shared, then dropped.
        unsafe { &*ptr }
    }

    /// Installs `value` (Release swap) and retires the old value. The caller provides writer
    /// exclusion (readers need none).
    pub fn replace(&self, value: Box<T>) {
        let old = self.ptr.swap(Box::into_raw(value), Ordering::AcqRel);
        // SAFETY: `old` came from `Box::into_raw` and was just unlinked by the swap, so no
        // other owner can take it again; it is handed to `retire`, which drops it only after
        // every reader that could have loaded it has unpinned.
        retire(unsafe { Box::from_raw(old) });
    }
}

impl<T: Send + 'static> Drop for Atomic<T> {
    /// Retires the current value: a reader may still hold a reference loaded before the drop
    /// (`load` ties it to the guard, not to `self`). Freed at once when no thread is pinned.
    fn drop(&mut self) {
        let ptr = self.ptr.load(Ordering::Relaxed);
        // SAFETY: `ptr` came from `Box::into_raw` and `self` owned it; `self` is going away, so
        // this is the last owner, and `retire` keeps it until the readers pinned now unpin.
        retire(unsafe { Box::from_raw(ptr) });
    }
}

// SAFETY: `Atomic<T>` hands out `&T` to any thread (so `T: Sync` is needed for sharing) and
// moves `T` values across threads through `replace`/`retire` (so `T: Send`).
unsafe impl<T: Send + Sync + 'static> Sync for Atomic<T> {}
// SAFETY: owning an `Atomic<T>` is owning a `Box<T>`.
unsafe impl<T: Send + 'static> Send for Atomic<T> {}

impl<T: Send + 'static> std::fmt::Debug for Atomic<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Atomic").finish_non_exhaustive()
    }
}
