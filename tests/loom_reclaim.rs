//! A loom model of the pin/retire/scan protocol of `userstore::reclaim`: a reader that loads a
//! pointer under a guard must never see its value dropped (loom checks every access to the
//! value's cell against the drop's write, across all interleavings and weak-memory outcomes it
//! models), and every retired value is eventually dropped.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release --test loom_reclaim` (not part of the
//! default `cargo test`: without `cfg(loom)` this file is empty). Loom cannot model
//! `sys_membarrier`, so under loom the reader's light fence and the reclaimer's heavy fence are
//! both `fence(SeqCst)`, which is what the membarrier pair amounts to at run time.
#![cfg(loom)]

use loom::cell::UnsafeCell;
use loom::sync::Arc;
use loom::thread;
use userstore::reclaim::{self, Atomic};

/// A value whose drop writes its cell, so that loom flags any read not ordered before the drop.
struct Payload(UnsafeCell<u64>);

impl Payload {
    fn new(v: u64) -> Payload {
        Payload(UnsafeCell::new(v))
    }

    fn read(&self) -> u64 {
        // SAFETY: the only write is in `drop`; loom reports it if it races with this read.
        self.0.with(|p| unsafe { *p })
    }
}

impl Drop for Payload {
    fn drop(&mut self) {
        // SAFETY: `&mut self`: we own the value; loom checks the causality with readers.
        self.0.with_mut(|p| unsafe { *p = 0 });
    }
}

/// One reader, one writer replacing the value once.
#[test]
fn reader_never_sees_a_dropped_value() {
    loom::model(|| {
        let cell = Arc::new(Atomic::new(Payload::new(1)));
        let reader = {
            let cell = Arc::clone(&cell);
            thread::spawn(move || {
                let guard = reclaim::pin();
                let value = cell.load(&guard);
                let v = value.read();
                assert!(v == 1 || v == 2, "read a dropped value: {v}");
                drop(guard);
            })
        };
        cell.replace(Box::new(Payload::new(2)));
        reader.join().unwrap();
        // A later unpin (or retire) drops whatever was deferred.
        drop(reclaim::pin());
        assert_eq!(reclaim::pending(), 0);
    });
}

/// Two writers' retires in turn (the second retire collects the first when it is ready), a
/// reader with a nested pin.
#[test]
fn nested_pins_and_two_replacements() {
    loom::model(|| {
        let cell = Arc::new(Atomic::new(Payload::new(1)));
        let reader = {
            let cell = Arc::clone(&cell);
            thread::spawn(move || {
                let outer = reclaim::pin();
                let first = cell.load(&outer).read();
                {
                    let inner = reclaim::pin();
                    let second = cell.load(&inner).read();
                    assert!(second >= first && second <= 3);
                }
                // Still pinned by `outer`: the first value must still be readable.
                let again = cell.load(&outer).read();
                assert!((1..=3).contains(&again));
                drop(outer);
            })
        };
        cell.replace(Box::new(Payload::new(2)));
        cell.replace(Box::new(Payload::new(3)));
        reader.join().unwrap();
        drop(reclaim::pin());
        assert_eq!(reclaim::pending(), 0);
    });
}
