//! The memory store, [`MemStore`]: users sharded by id hash into [`SHARDS`] compact tables (see
//! [`table`](crate::core::table)), each with its own name index, sequence number and writer
//! mutex.
//!
//! # Reads: optimistic, lock-free, no shared store
//! `get`, `get_many`, `write_json_into` and `find_by_name` take no lock and execute no atomic
//! read-modify-write and no store to a cache line another thread reads: they pin the thread in
//! the [`reclaim`](crate::reclaim) domain (a store to the thread's own record and a compiler
//! fence) and read the shard as a seqlock reader: its sequence number (Acquire), the data
//! (`Relaxed` atomic loads: plain loads on x86), `fence(Acquire)`, the sequence number again.
//! Equal and even: the copy is a state the shard really had. Otherwise retry. After
//! `OPTIMISTIC_TRIES` failed attempts (a writer keeps the shard busy) a reader takes the
//! shard's writer mutex once, which guarantees progress. Why no read-modify-write: an RMW (as
//! in an `RwLock`'s reader count) makes every reader of a shard write its lock's cache line,
//! which then bounces between cores on every read, the cost this design removes.
//! The name is copied into a stack buffer inside the optimistic section, validated, and only
//! then handed to the caller's closure, so a closure never sees a torn name.
//! Memory: tables and arenas that writers replace are retired through `reclaim`, so a reader
//! that loaded them before the swap reads valid memory until it unpins.
//!
//! # Writes
//! - A call about one id (`put`, `remove`) locks only the mutex of that id's shard; the
//!   table opens a write window (odd sequence number) only around the actual change; growth
//!   builds the new arrays before opening it.
//! - Calls that need several shards lock them in ascending shard order (no deadlock):
//!   `import_json` holds every mutex and keeps every shard's window open for its whole duration,
//!   so readers (who then fall back to the mutex) see the store before or after it;
//!   `replace_all` builds new tables without locks, then installs them under every mutex;
//!   `for_each_sorted`, `export_json` and snapshots hold every mutex while they read.
//! - The user count is an atomic updated while the shard mutex is held (and once per import),
//!   so `len` takes no lock.
//! - This layer knows nothing of the log. The `apply_*` methods take input the caller has
//!   validated; the facade ([`Store`](crate::core::Store)) validates, and on a durable store
//!   hands the log a closure that applies the write and encodes its record, which the log runs
//!   under its one writer lock, taken before any shard mutex (`src/core/durable.rs`).
//! - A poisoned mutex is recovered: no table operation can leave a table inconsistent before it
//!   could panic, short of running out of memory, which aborts.

use std::borrow::Borrow;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::MutexGuard;

use crate::core::error::StoreError;
use crate::core::hash::{hash_id, hash_name};
use crate::core::json::{write_user, write_user_into};
use crate::core::name::{check_id, check_name, check_name_str};
use crate::core::snapshot;
use crate::core::table::{long_words, shard_of, Built, Counts, NameBuf, Shard, EMPTY_ID, SHARDS};
use crate::reclaim::{pin, Guard};

/// Optimistic attempts before a reader takes the shard's writer mutex.
const OPTIMISTIC_TRIES: usize = 8;

/// The memory store: the tables and name indexes of a [`Store`](crate::core::Store), with its
/// reads and the `apply_*` methods its writes run (on input already validated). It knows
/// nothing of the log.
///
/// All methods take `&self`. Users are split by id hash into shards; reads take no lock (see
/// the module documentation), a write locks only its shard.
pub(crate) struct MemStore {
    /// Exactly [`SHARDS`] shards; the user with id hash `h` lives in `shards[shard_of(h)]`.
    shards: Box<[Shard]>,
    /// The sum of the shards' lengths, as of the last completed write.
    len: AtomicU64,
}

impl Default for MemStore {
    fn default() -> MemStore {
        MemStore {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            len: AtomicU64::new(0),
        }
    }
}

/// New tables built by [`MemStore::build`], to be swapped in by [`MemStore::install`].
pub(crate) struct Fresh {
    /// One per shard, in shard order.
    tables: Vec<Built>,
    /// The users in them.
    total: usize,
}

/// Stored name bytes as `&str`: they were valid UTF-8 when stored (only `&str`s are stored),
/// and a name is handed out only after its read was validated.
fn utf8(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("stored names are valid UTF-8")
}

impl MemStore {
    /// An empty store.
    pub(crate) fn new() -> MemStore {
        MemStore::default()
    }

    /// The number of users stored.
    pub(crate) fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    /// The bytes the store's tables hold: every shard's slots, name index and long-name arena,
    /// as allocated (free slots included; allocator overhead and retired arrays not yet freed
    /// excluded). For benchmarks and memory reports.
    pub(crate) fn table_bytes(&self) -> u64 {
        let g = pin();
        self.shards.iter().map(|s| s.bytes(&g) as u64).sum()
    }

    /// True if no user is stored.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inserts or replaces the valid user `id`, `name`.
    #[inline]
    pub(crate) fn apply_put(&self, id: u64, name: &str) {
        let hash = hash_id(id);
        let g = pin();
        let shard = &self.shards[shard_of(hash)];
        let mut counts = shard.lock();
        if shard.insert(&g, &mut counts, id, hash, name) {
            self.len.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Removes the valid id `id`; true if there was such a user.
    #[inline]
    pub(crate) fn apply_remove(&self, id: u64) -> bool {
        let hash = hash_id(id);
        let g = pin();
        let shard = &self.shards[shard_of(hash)];
        let mut counts = shard.lock();
        let removed = shard.remove(&g, &mut counts, id, hash);
        if removed {
            self.len.fetch_sub(1, Ordering::AcqRel);
        }
        removed
    }

    /// Copies the name of `id` (hash `hash`) into `buf`; true if there is such a user. Lock-free
    /// optimistic reads, then the shard's mutex after [`OPTIMISTIC_TRIES`] failures.
    #[inline]
    fn read_name(&self, g: &Guard, id: u64, hash: u64, buf: &mut NameBuf) -> bool {
        let shard = &self.shards[shard_of(hash)];
        for _ in 0..OPTIMISTIC_TRIES {
            if let Some(seq) = shard.begin() {
                let read = shard.read(g, id, hash, buf);
                if shard.validate(seq) {
                    if let Ok(found) = read {
                        return found;
                    }
                }
            }
            std::hint::spin_loop();
        }
        let _counts = shard.lock();
        shard
            .read(g, id, hash, buf)
            .expect("a consistent table under the writer mutex")
    }

    /// Calls `f` with the name of the user `id` and returns its result; `Ok(None)` if there is
    /// no such user (then `f` is not called).
    ///
    /// The name is read without a lock and copied into a stack buffer, validated, then `f` is
    /// called once with the copy, holding nothing: `f` may call this store.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    pub(crate) fn get_with<R>(
        &self,
        id: i64,
        f: impl FnOnce(&str) -> R,
    ) -> Result<Option<R>, StoreError> {
        self.get_utf8_with(id, |bytes| f(utf8(bytes)))
    }

    /// As [`MemStore::get_with`], with the name as its UTF-8 bytes (not re-validated: they were
    /// checked when stored). For callers that copy the bytes out, such as the JNI boundary.
    ///
    /// The name (at most 1024 bytes) is copied into a stack buffer by an optimistic read and
    /// validated before `f` is called, once, with that copy.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    #[inline]
    pub(crate) fn get_utf8_with<R>(
        &self,
        id: i64,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, StoreError> {
        let id = check_id(id)?;
        let hash = hash_id(id);
        let g = pin();
        let mut buf = NameBuf::default();
        if self.read_name(&g, id, hash, &mut buf) {
            drop(g);
            Ok(Some(f(buf.bytes())))
        } else {
            Ok(None)
        }
    }

    /// The name of the user `id`, or `Ok(None)` if there is none.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    pub(crate) fn get(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.get_with(id, str::to_owned)
    }

    /// Looks up many users at once: validates every id first, then calls `f(index, name)`
    /// exactly once for each `ids[index]`, in order, with `None` where there is no such user.
    ///
    /// Each id is validated on its own: each answer is a value current at some moment during
    /// the call, but the batch as a whole is not one snapshot (a write may land between two
    /// ids). Faster per id than [`MemStore::get_with`]: per chunk of 32 ids, the home slot of
    /// every id is loaded before any lookup needs it, so the cache misses overlap.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] for the first negative id; `f` is then never called.
    pub(crate) fn get_many_with(
        &self,
        ids: &[i64],
        mut f: impl FnMut(usize, Option<&str>),
    ) -> Result<(), StoreError> {
        self.get_many_utf8_with(ids, |k, bytes| f(k, bytes.map(utf8)))
    }

    /// As [`MemStore::get_many_with`], with each name as its UTF-8 bytes (not re-validated), and
    /// the ids from any cloneable iterator (a slice, or ids decoded on the fly from a caller's
    /// buffer): it is walked twice, once to validate every id and once to look them up, and
    /// nothing is collected, so this path allocates nothing.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] for the first negative id; `f` is then never called.
    pub(crate) fn get_many_utf8_with<I>(
        &self,
        ids: I,
        mut f: impl FnMut(usize, Option<&[u8]>),
    ) -> Result<(), StoreError>
    where
        I: IntoIterator,
        I::Item: Borrow<i64>,
        I::IntoIter: Clone,
    {
        let ids = ids.into_iter();
        // Validate every id first (f must not run for a batch with a bad id).
        for id in ids.clone() {
            check_id(*id.borrow())?;
        }
        let g = pin();
        const CHUNK: usize = 32;
        let mut keys = [(0u64, 0u64); CHUNK];
        let mut buf = NameBuf::default();
        let mut ids = ids;
        let mut base = 0;
        loop {
            // The next chunk of at most CHUNK ids (zip asks `keys` first, so no id is skipped).
            let mut n = 0;
            for (key, id) in keys.iter_mut().zip(ids.by_ref()) {
                // Every id was checked above, so the cast keeps its value.
                let id = *id.borrow() as u64;
                *key = (id, hash_id(id));
                n += 1;
            }
            if n == 0 {
                break;
            }
            let keys = &keys[..n];
            // Pass 1: independent loads of every home slot, so the misses overlap.
            for &(_, hash) in keys {
                let shard = &self.shards[shard_of(hash)];
                std::hint::black_box(shard.touch(&g, hash));
            }
            // Pass 2: the validated lookups, now mostly from cache.
            for (k, &(id, hash)) in keys.iter().enumerate() {
                let found = self.read_name(&g, id, hash, &mut buf);
                f(base + k, found.then(|| buf.bytes()));
            }
            base += n;
        }
        Ok(())
    }

    /// The ids of the users whose name equals `name_utf8` exactly (byte for byte, which is
    /// code point for code point), ascending.
    ///
    /// One consistent view of all shards, without locks: every shard's sequence number is read
    /// first, every name index searched, then every sequence number checked again (an import
    /// keeps every shard's number odd for its whole duration, so it is seen whole or not at
    /// all). After [`OPTIMISTIC_TRIES`] failed attempts, every shard's mutex is taken in order.
    ///
    /// # Errors
    /// [`StoreError::InvalidName`] if `name_utf8` is not a valid name (as for [`Store::put`](crate::core::Store::put)).
    pub(crate) fn find_by_name(&self, name_utf8: &[u8]) -> Result<Vec<u64>, StoreError> {
        let name = check_name(name_utf8)?.as_bytes();
        let name_hash = hash_name(name);
        let mut ids = Vec::new();
        let g = pin();
        let mut seqs = [0u64; SHARDS];
        'attempt: for _ in 0..OPTIMISTIC_TRIES {
            ids.clear();
            for (seq, shard) in seqs.iter_mut().zip(self.shards.iter()) {
                match shard.begin() {
                    Some(s) => *seq = s,
                    None => {
                        std::hint::spin_loop();
                        continue 'attempt;
                    }
                }
            }
            for shard in self.shards.iter() {
                if shard.find_name(&g, name, name_hash, &mut ids).is_err() {
                    continue 'attempt;
                }
            }
            if seqs
                .iter()
                .zip(self.shards.iter())
                .all(|(&s, shard)| shard.validate(s))
            {
                ids.sort_unstable();
                return Ok(ids);
            }
        }
        ids.clear();
        let locks = self.lock_all();
        for shard in self.shards.iter() {
            shard
                .find_name(&g, name, name_hash, &mut ids)
                .expect("a consistent table under the writer mutex");
        }
        drop(locks);
        ids.sort_unstable();
        Ok(ids)
    }

    /// Appends the user `id` to `out` as `{"id":<id>,"name":"<name>"}` (see
    /// [`write_json_string`](crate::core::write_json_string) for the escaping) and returns
    /// `Ok(true)`; returns `Ok(false)` and leaves `out` untouched if there is no such user.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    pub(crate) fn write_json(&self, id: i64, out: &mut Vec<u8>) -> Result<bool, StoreError> {
        let found = self.get_with(id, |name| write_user(out, id as u64, name))?;
        Ok(found.is_some())
    }

    /// Writes the user `id` as [`MemStore::write_json`] does, but into the start of the caller's
    /// fixed buffer `out`, and returns `Ok(Some(len))`, the length of that JSON. The JSON is
    /// written only when `len <= out.len()`; otherwise `out` is left untouched and the caller
    /// may retry with at least `len` bytes. `Ok(None)` if there is no such user. Allocates
    /// nothing: the length is counted before anything is written.
    ///
    /// The name is read as by [`MemStore::get_utf8_with`]: an optimistic copy into a stack buffer,
    /// validated before any JSON is written.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    pub(crate) fn write_json_into(
        &self,
        id: i64,
        out: &mut [u8],
    ) -> Result<Option<usize>, StoreError> {
        self.get_with(id, |name| write_user_into(out, id as u64, name))
    }

    /// Inserts or replaces the valid users `user(0) .. user(count - 1)` in order (the later
    /// wins), with every shard's mutex held and window open for the whole batch.
    pub(crate) fn apply_users<'a>(&self, count: usize, user: impl Fn(usize) -> (u64, &'a str)) {
        let hashes: Vec<u64> = (0..count).map(|i| hash_id(user(i).0)).collect();
        let g = pin();
        let mut locks = self.lock_all();
        for shard in self.shards.iter() {
            shard.open();
        }
        // Make room for the users that are not there yet, so no shard grows more than once.
        let mut new_per_shard = [0usize; SHARDS];
        let mut buf = NameBuf::default();
        for (i, &hash) in hashes.iter().enumerate() {
            let s = shard_of(hash);
            let known = self.shards[s]
                .read(&g, user(i).0, hash, &mut buf)
                .expect("a consistent table under the writer mutex");
            if !known {
                new_per_shard[s] += 1;
            }
        }
        for ((shard, counts), &more) in self.shards.iter().zip(locks.iter_mut()).zip(&new_per_shard)
        {
            shard.reserve(&g, counts, more);
        }
        let mut added = 0u64;
        for (i, &hash) in hashes.iter().enumerate() {
            let s = shard_of(hash);
            let shard = &self.shards[s];
            let (id, name) = user(i);
            if shard.insert(&g, &mut locks[s], id, hash, name) {
                added += 1;
            }
        }
        self.len.fetch_add(added, Ordering::AcqRel);
        for shard in self.shards.iter() {
            shard.close();
        }
        drop(locks);
    }

    /// Applies the validated batch `users` (id, name, hash), then `gone` (id, hash; distinct, none
    /// of them put), with the touched shards' mutexes held and windows open. `before(removed)`
    /// runs first, under the mutexes, with the ids of `gone` that exist (in order): an error
    /// from it leaves the store unchanged and is returned. Returns how many of `gone` existed.
    pub(crate) fn apply_batch(
        &self,
        users: &[(u64, &str, u64)],
        gone: &[(u64, u64)],
        before: impl FnOnce(&[u64]) -> Result<(), StoreError>,
    ) -> Result<usize, StoreError> {
        let mut touched = [false; SHARDS];
        for &(_, _, hash) in users {
            touched[shard_of(hash)] = true;
        }
        for &(_, hash) in gone {
            touched[shard_of(hash)] = true;
        }
        let g = pin();
        // The touched shards' mutexes, in ascending shard order (no deadlock with lock_all).
        let mut locks: Vec<Option<MutexGuard<'_, Counts>>> = self
            .shards
            .iter()
            .zip(touched)
            .map(|(shard, t)| t.then(|| shard.lock()))
            .collect();
        let mut buf = NameBuf::default();
        let removed: Vec<u64> = gone
            .iter()
            .filter(|&&(id, hash)| {
                self.shards[shard_of(hash)]
                    .read(&g, id, hash, &mut buf)
                    .expect("a consistent table under the writer mutex")
            })
            .map(|&(id, _)| id)
            .collect();
        before(&removed)?;
        let open = || self.shards.iter().zip(touched).filter(|&(_, t)| t);
        for (shard, _) in open() {
            shard.open();
        }
        // Make room for the users that are not there yet, so no shard grows more than once.
        let mut new_per_shard = [0usize; SHARDS];
        for &(id, _, hash) in users {
            let s = shard_of(hash);
            let known = self.shards[s]
                .read(&g, id, hash, &mut buf)
                .expect("a consistent table under the writer mutex");
            if !known {
                new_per_shard[s] += 1;
            }
        }
        for ((shard, counts), &more) in self.shards.iter().zip(locks.iter_mut()).zip(&new_per_shard)
        {
            if let Some(counts) = counts {
                shard.reserve(&g, counts, more);
            }
        }
        let (mut added, mut dropped) = (0u64, 0u64);
        for &(id, name, hash) in users {
            let s = shard_of(hash);
            let counts = locks[s].as_mut().expect("a touched shard is locked");
            if self.shards[s].insert(&g, counts, id, hash, name) {
                added += 1;
            }
        }
        for &(id, hash) in gone {
            let s = shard_of(hash);
            let counts = locks[s].as_mut().expect("a touched shard is locked");
            if self.shards[s].remove(&g, counts, id, hash) {
                dropped += 1;
            }
        }
        debug_assert_eq!(dropped, removed.len() as u64);
        // One step for `len` (a wrapping add of a negative change is a subtraction).
        self.len
            .fetch_add(added.wrapping_sub(dropped), Ordering::AcqRel);
        for (shard, _) in open() {
            shard.close();
        }
        drop(locks);
        Ok(removed.len())
    }

    /// The users with an id `>= from`, ascending, at most `limit` of them, as `(id, name)`: one
    /// page of a walk through the store (pass the last id + 1 as the next `from`). See
    /// [`MemStore::scan_utf8_with`].
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `from` is negative.
    pub(crate) fn scan(&self, from: i64, limit: usize) -> Result<Vec<(u64, String)>, StoreError> {
        let mut page = Vec::new();
        self.scan_utf8_with(from, limit, |id, name| {
            page.push((id, utf8(name).to_owned()));
        })?;
        Ok(page)
    }

    /// Calls `f(id, name_utf8)` for the users with an id `>= from`, in ascending id order, at
    /// most `limit` of them, on one consistent view of the store: every shard's writer mutex is
    /// held meanwhile, as by [`MemStore::export_json`] (writers wait; readers do not). `limit` 0
    /// calls nothing.
    ///
    /// Cost: one pass over every shard's slots (the tables are hashed, not ordered) keeping the
    /// smallest candidates in a buffer of at most `2 * limit` entries (16 bytes each): when it
    /// fills, a selection (`select_nth_unstable`, linear) keeps the `limit` smallest and ids
    /// above the largest of those are skipped from then on; then the page is sorted. So
    /// O(users + limit log limit) time and O(min(limit, users)) memory per page.
    ///
    /// `f` runs while the mutexes are held: it must not call methods of this store that write.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `from` is negative; `f` is then never called.
    pub(crate) fn scan_utf8_with(
        &self,
        from: i64,
        limit: usize,
        mut f: impl FnMut(u64, &[u8]),
    ) -> Result<(), StoreError> {
        let from = check_id(from)?;
        if limit == 0 {
            return Ok(());
        }
        let g = pin();
        let locks = self.lock_all();
        let total: usize = locks.iter().map(|c| c.len).sum();
        let keep = limit.min(total);
        if keep == 0 {
            return Ok(());
        }
        let room = keep.saturating_mul(2).min(total);
        // (id, slot, shard), as in for_each_sorted.
        let mut page: Vec<(u64, u32, u8)> = Vec::with_capacity(room);
        // Once `page` was cut to the `keep` smallest, only ids below the largest of them count.
        let mut below = u64::MAX;
        for (s, shard) in self.shards.iter().enumerate() {
            shard.for_each_slot(&g, |pos, id| {
                if id >= from && id < below {
                    page.push((id, pos as u32, s as u8));
                    if page.len() == room && room > keep {
                        page.select_nth_unstable_by_key(keep - 1, |&(id, _, _)| id);
                        page.truncate(keep);
                        below = page[keep - 1].0;
                    }
                }
            });
        }
        if page.len() > keep {
            page.select_nth_unstable_by_key(keep - 1, |&(id, _, _)| id);
            page.truncate(keep);
        }
        page.sort_unstable_by_key(|&(id, _, _)| id);
        let mut buf = NameBuf::default();
        for (id, pos, s) in page {
            self.shards[usize::from(s)].name_at(&g, pos as usize, &mut buf);
            f(id, buf.bytes());
        }
        drop(locks);
        Ok(())
    }

    /// Every user as a JSON array sorted by id: `[` users joined by `,` `]` (each as written by
    /// [`MemStore::write_json`]); an empty store gives `[]`.
    pub(crate) fn export_json(&self) -> Vec<u8> {
        let mut out = Vec::new();
        out.push(b'[');
        let mut first = true;
        self.for_each_sorted(|id, name| {
            if !first {
                out.push(b',');
            }
            first = false;
            write_user(&mut out, id, name);
        });
        out.push(b']');
        out
    }

    /// Calls `f` for every user in ascending id order, on one consistent view of the store:
    /// every shard's writer mutex is held (writers wait until it returns; readers do not).
    /// Snapshots are written from this.
    ///
    /// `f` runs while the mutexes are held: it must not call methods of this store that write.
    pub(crate) fn for_each_sorted(&self, mut f: impl FnMut(u64, &str)) {
        let g = pin();
        let locks = self.lock_all();
        let total: usize = locks.iter().map(|c| c.len).sum();
        // (id, slot, shard): 16 bytes per user.
        let mut users: Vec<(u64, u32, u8)> = Vec::with_capacity(total);
        for (s, shard) in self.shards.iter().enumerate() {
            shard.for_each_slot(&g, |pos, id| users.push((id, pos as u32, s as u8)));
        }
        users.sort_unstable_by_key(|&(id, _, _)| id);
        let mut buf = NameBuf::default();
        for (id, pos, s) in users {
            self.shards[usize::from(s)].name_at(&g, pos as usize, &mut buf);
            f(id, utf8(buf.bytes()));
        }
        drop(locks);
    }

    /// Builds, without any lock, new tables holding `users` (validated again here: an entry
    /// that breaks the rules is refused), for [`MemStore::install`]. When an id occurs twice
    /// the later one wins.
    ///
    /// The new shards are built in parallel (one thread per core) and presized so none grows.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] / [`StoreError::InvalidName`] if an entry breaks the rules;
    /// nothing is changed.
    pub(crate) fn build<S: AsRef<str> + Sync>(
        &self,
        users: Vec<(u64, S)>,
    ) -> Result<Fresh, StoreError> {
        // Validate everything first, and bucket the users by shard (positions, 4 or 8 bytes each).
        let mut buckets: Vec<Vec<usize>> = vec![Vec::new(); SHARDS];
        let mut counts = [0usize; SHARDS];
        let mut hashes = Vec::with_capacity(users.len());
        for (id, name) in &users {
            // An id above i64::MAX shows up as the negative i64 with the same bits.
            check_id(*id as i64)?;
            check_name_str(name.as_ref())?;
            let hash = hash_id(*id);
            counts[shard_of(hash)] += 1;
            hashes.push(hash);
        }
        for (bucket, &count) in buckets.iter_mut().zip(&counts) {
            bucket.reserve_exact(count);
        }
        for (i, &hash) in hashes.iter().enumerate() {
            buckets[shard_of(hash)].push(i);
        }
        let build = |bucket: &[usize]| {
            let long: usize = bucket
                .iter()
                .map(|&i| long_words(users[i].1.as_ref()))
                .sum();
            let mut built = Built::with_capacity(bucket.len(), long);
            for &i in bucket {
                let (id, name) = &users[i];
                built.insert(*id, hashes[i], name.as_ref());
            }
            built
        };
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(SHARDS);
        let fresh: Vec<Built> = if threads <= 1 || users.len() < 100_000 {
            buckets.iter().map(|b| build(b)).collect()
        } else {
            let next = AtomicUsize::new(0);
            let mut built: Vec<(usize, Built)> = std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut mine = Vec::new();
                            loop {
                                let s = next.fetch_add(1, Ordering::Relaxed);
                                if s >= SHARDS {
                                    break mine;
                                }
                                mine.push((s, build(&buckets[s])));
                            }
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .flat_map(|w| match w.join() {
                        Ok(tables) => tables,
                        Err(panic) => std::panic::resume_unwind(panic),
                    })
                    .collect()
            });
            built.sort_unstable_by_key(|&(s, _)| s);
            built.into_iter().map(|(_, built)| built).collect()
        };
        let total: usize = fresh.iter().map(Built::len).sum();
        Ok(Fresh {
            tables: fresh,
            total,
        })
    }

    /// Swaps in the tables of `fresh` (built by [`MemStore::build`]) under every mutex, all
    /// shards' windows open: readers see the old or the new content, never a mix. The old
    /// tables are retired, freed once no reader can hold them.
    pub(crate) fn install(&self, fresh: Fresh) {
        let mut locks = self.lock_all();
        for shard in self.shards.iter() {
            shard.open();
        }
        for ((shard, current), built) in self.shards.iter().zip(locks.iter_mut()).zip(fresh.tables)
        {
            shard.install(current, built);
        }
        self.len.store(fresh.total as u64, Ordering::Release);
        for shard in self.shards.iter() {
            shard.close();
        }
    }

    /// [`MemStore::build`] then [`MemStore::install`].
    pub(crate) fn replace_all<S: AsRef<str> + Sync>(
        &self,
        users: Vec<(u64, S)>,
    ) -> Result<(), StoreError> {
        let fresh = self.build(users)?;
        self.install(fresh);
        Ok(())
    }

    /// The snapshot of the content as bytes (`docs/SNAPSHOT.md`), from one consistent view.
    pub(crate) fn to_snapshot_bytes(&self) -> Vec<u8> {
        let mut encoder = snapshot::Encoder::new();
        self.for_each_sorted(|id, name| encoder.push(id, name));
        encoder.finish()
    }

    /// Every shard's writer mutex, taken in ascending order.
    fn lock_all(&self) -> Vec<MutexGuard<'_, Counts>> {
        self.shards.iter().map(Shard::lock).collect()
    }
}

impl fmt::Debug for MemStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemStore")
            .field("len", &self.len())
            .finish()
    }
}

// The empty-slot marker must not be a valid id.
const _: () = assert!(EMPTY_ID > i64::MAX as u64);

#[cfg(test)]
impl MemStore {
    /// The shards (for tests of the facade).
    pub(crate) fn shards(&self) -> &[Shard] {
        &self.shards
    }

    /// Checks every shard's invariants and the user count.
    pub(crate) fn check_consistent(&self) {
        let mut total = 0;
        let g = pin();
        for shard in self.shards.iter() {
            let counts = shard.lock();
            shard.check(&g, &counts);
            total += counts.len;
        }
        assert_eq!(total as u64, self.len());
    }
}
