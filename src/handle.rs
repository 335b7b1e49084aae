//! Store handles, shared by both bindings (JNI in `jni.rs`, the C ABI for FFM in `ffi.rs`).
//!
//! A handle is the address of a [`Handle`] cell that points at the [`Store`]. The cell lives as
//! long as the Kotlin `NativeUserStore` that owns it; the store inside it lives until `close`.
//!
//! # Why a cell, and how a close never frees under a call
//! Every call pins the thread ([`reclaim::pin`]: a store to this thread's own record and a
//! compiler fence, no atomic read-modify-write and no store to a line another thread writes),
//! then loads the store pointer from the cell. A null pointer means the store is closed: the call
//! fails with [`Closed`] (Kotlin's `StoreClosedException`). `close` swaps null into the cell and
//! hands the store to [`reclaim::retire`], which frees it only after every thread that was pinned
//! at that moment has left its call: at once when no call runs, else by the last call out. So
//! `close` never waits, and no call ever runs on freed memory; nothing is written to a shared
//! cache line on the call path (the JVM side's call counter of issue 10 is gone).
//!
//! The cell itself is freed by [`destroy`], which the Kotlin side calls from its `Cleaner` once
//! the `NativeUserStore` is unreachable, when no call can be running on it.

use std::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use std::sync::Arc;

use crate::core::Store;
use crate::reclaim;
use crate::vector_state;

/// The store behind a handle was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Closed;

/// The cell a handle points at.
pub(crate) struct Handle {
    /// The open store, or null once closed.
    store: AtomicPtr<Store>,
    /// Set when the closed store's memory has been dropped (a test hook: `isFreed`).
    freed: Arc<AtomicBool>,
}

/// A closed store waiting in the reclamation domain; dropping it frees the store and says so.
struct Retired {
    store: Option<Box<Store>>,
    freed: Arc<AtomicBool>,
}

impl Drop for Retired {
    fn drop(&mut self) {
        drop(self.store.take());
        self.freed.store(true, Ordering::Release);
    }
}

impl Handle {
    /// A new cell owning `store`, as the raw address a binding hands to the JVM.
    pub(crate) fn into_raw(store: Store) -> *mut Handle {
        let handle = Handle {
            store: AtomicPtr::new(Box::into_raw(Box::new(store))),
            freed: Arc::new(AtomicBool::new(false)),
        };
        Box::into_raw(Box::new(handle))
    }

    /// Runs `f` on the store, pinned for the whole call; [`Closed`] if the store was closed.
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&Store) -> R) -> Result<R, Closed> {
        // Every call from the JVM into the store comes through here: leave Java's AVX state
        // behind before any SSE code of ours runs (see `vector_state`).
        vector_state::clear_upper();
        let _guard = reclaim::pin();
        let ptr = self.store.load(Ordering::Acquire);
        if ptr.is_null() {
            return Err(Closed);
        }
        // SAFETY: the pointer came from Box::into_raw (into_raw) and was loaded after pin(). It is
        // freed only through reclaim::retire in close(), which clears the cell before retiring,
        // and reclaim's contract is that such a pointer stays valid until the guard drops, which
        // is after `f` returns. Store is Sync: shared references from many threads are fine.
        let store = unsafe { &*ptr };
        Ok(f(store))
    }

    /// Closes the store: later calls fail with [`Closed`]; its memory is freed once the calls
    /// running now have returned. True if this call closed it, false if it was closed already.
    ///
    /// A durable store's log is closed first ([`Store::close_log`]: buffered records written and
    /// synced, the directory lock released), so the directory can be opened again as soon as
    /// this returns. That waits for the writes holding the log's lock and for one sync; a write
    /// still running on the retired store then fails with `StoreError::LogClosed`.
    pub(crate) fn close(&self) -> bool {
        let ptr = self.store.swap(std::ptr::null_mut(), Ordering::AcqRel);
        if ptr.is_null() {
            return false;
        }
        // SAFETY: a non-null pointer in the cell came from Box::into_raw; the swap took it out, so
        // this thread alone owns it now (a second close finds null). Calls that loaded it before
        // the swap are protected by their guards until reclaim drops the box.
        let store = unsafe { Box::from_raw(ptr) };
        // The store is going away: a failure of its last sync has nobody left to hear it.
        let _ = store.close_log();
        reclaim::retire(Box::new(Retired {
            store: Some(store),
            freed: Arc::clone(&self.freed),
        }));
        true
    }

    /// Whether the closed store's memory has been freed.
    pub(crate) fn is_freed(&self) -> bool {
        self.freed.load(Ordering::Acquire)
    }
}

/// The cell behind a raw handle; `None` for 0.
///
/// # Safety
/// `raw` must be 0 or an address returned by [`Handle::into_raw`] that [`destroy`] has not freed,
/// and [`destroy`] must not free it while the returned reference lives (`'a`).
pub(crate) unsafe fn from_raw<'a>(raw: i64) -> Option<&'a Handle> {
    let ptr = raw as *const Handle;
    // SAFETY: by this function's contract a non-null `ptr` came from Box::into_raw and stays
    // allocated for 'a. Handle is Sync (atomics only), so shared references are fine.
    unsafe { ptr.as_ref() }
}

/// Closes the store (if still open) and frees the cell.
///
/// # Safety
/// `raw` must be an address returned by [`Handle::into_raw`], not yet destroyed, that no call is
/// using now and that no call will use afterwards (the owner is unreachable).
pub(crate) unsafe fn destroy(raw: i64) {
    let ptr = raw as *mut Handle;
    if ptr.is_null() {
        return;
    }
    // SAFETY: by this function's contract the cell came from Box::into_raw, is not freed yet and
    // nothing uses it now or later: the Box is rebuilt and dropped once.
    let handle = unsafe { Box::from_raw(ptr) };
    handle.close();
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Whether the closed store behind `handle` gets freed within a few seconds. Not at once in
    /// every case: other tests run in parallel threads of this process, and a close while any
    /// thread is pinned defers the free to the last of those threads out (or to this loop's
    /// unpins, which also drop what is due).
    pub(crate) fn freed_soon(handle: &Handle) -> bool {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while !handle.is_freed() && std::time::Instant::now() < deadline {
            drop(reclaim::pin());
            std::thread::yield_now();
        }
        handle.is_freed()
    }

    #[test]
    fn close_frees_at_once_without_calls_and_is_idempotent() {
        let raw = Handle::into_raw(Store::new()) as i64;
        // SAFETY: a live cell, destroyed below.
        let handle = unsafe { from_raw(raw) }.expect("non-null");
        assert_eq!(handle.with(|s| s.put(1, b"a")), Ok(Ok(())));
        assert!(!handle.is_freed());
        assert!(handle.close());
        assert!(freed_soon(handle));
        assert!(!handle.close());
        assert_eq!(handle.with(|s| s.len()), Err(Closed));
        // SAFETY: the cell is not used after this.
        unsafe { destroy(raw) };
    }

    #[test]
    fn a_close_during_a_call_frees_after_it() {
        let raw = Handle::into_raw(Store::new()) as i64;
        // SAFETY: a live cell, destroyed below.
        let handle = unsafe { from_raw(raw) }.expect("non-null");
        let during = handle.with(|store| {
            // Close from another thread while this call holds the store.
            let closed = std::thread::scope(|s| s.spawn(|| handle.close()).join());
            assert_eq!(closed.ok(), Some(true));
            let freed_during = handle.is_freed();
            store.put(7, b"still here").map(|()| freed_during)
        });
        assert_eq!(during, Ok(Ok(false)), "freed under a running call");
        assert!(freed_soon(handle), "the last call out frees");
        // SAFETY: the cell is not used after this.
        unsafe { destroy(raw) };
    }
}
