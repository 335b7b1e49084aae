//! The store itself: users sharded by id hash into [`SHARDS`] compact tables (see
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
//! - A durable store ([`Store::open_durable`], see `src/core/durable.rs`) applies
//!   each write and appends its log record under its log's one writer lock, taken before any
//!   shard mutex, then waits for durability outside every lock. A memory-only store pays one
//!   check of an `Option` per write for this, and no lock.
//! - A poisoned mutex is recovered: no table operation can leave a table inconsistent before it
//!   could panic, short of running out of memory, which aborts.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::MutexGuard;

use crate::core::durable::Durable;
use crate::core::error::StoreError;
use crate::core::hash::{hash_id, hash_name};
use crate::core::import::parse_records;
use crate::core::json::{write_user, write_user_into};
use crate::core::name::{check_id, check_name, check_name_str};
use crate::core::table::{long_words, shard_of, Built, Counts, NameBuf, Shard, EMPTY_ID, SHARDS};
use crate::core::wal;
use crate::reclaim::{pin, Guard};

/// Optimistic attempts before a reader takes the shard's writer mutex.
const OPTIMISTIC_TRIES: usize = 8;

/// A thread-safe, in-memory user store: ids `0..=i64::MAX` mapped to names of 1 to 256 code
/// points, following `docs/RULES.md`.
///
/// All methods take `&self`. Users are split by id hash into shards; reads take no lock (see
/// the module documentation), a write locks only its shard. Every method either succeeds or
/// leaves the store unchanged.
///
/// A panic on another thread while it held a lock does not make the store unusable: the lock
/// is recovered.
///
/// ```
/// use userstore::Store;
///
/// let store = Store::new();
/// store.put(1, "Ada".as_bytes())?;
/// assert_eq!(store.get(1)?.as_deref(), Some("Ada"));
/// assert_eq!(store.find_by_name("Ada".as_bytes())?, vec![1]);
/// assert_eq!(store.export_json(), br#"[{"id":1,"name":"Ada"}]"#);
/// # Ok::<(), userstore::StoreError>(())
/// ```
pub struct Store {
    /// Exactly [`SHARDS`] shards; the user with id hash `h` lives in `shards[shard_of(h)]`.
    shards: Box<[Shard]>,
    /// The sum of the shards' lengths, as of the last completed write.
    len: AtomicU64,
    /// The log of a store opened with [`Store::open_durable`]; `None` for a memory-only store,
    /// whose writes then cost one check of this field more, and no lock.
    durable: Option<Durable>,
}

impl Default for Store {
    fn default() -> Store {
        Store {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            len: AtomicU64::new(0),
            durable: None,
        }
    }
}

#[cfg(test)]
thread_local! {
    /// The largest batch record the tests on this thread let through (default [`wal::MAX_PAYLOAD`]),
    /// so the refusal at the limit is tested without 1 GiB batches.
    static BATCH_LIMIT: std::cell::Cell<u64> = const { std::cell::Cell::new(wal::MAX_PAYLOAD as u64) };
}

/// The largest payload of a batch record: [`wal::MAX_PAYLOAD`] (tests may lower it).
fn batch_limit() -> u64 {
    #[cfg(test)]
    return BATCH_LIMIT.with(std::cell::Cell::get);
    #[cfg(not(test))]
    return wal::MAX_PAYLOAD as u64;
}

/// Stored name bytes as `&str`: they were valid UTF-8 when stored (only `&str`s are stored),
/// and a name is handed out only after its read was validated.
fn utf8(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).expect("stored names are valid UTF-8")
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// The number of users stored.
    pub fn len(&self) -> u64 {
        self.len.load(Ordering::Acquire)
    }

    /// The bytes the store's tables hold: every shard's slots, name index and long-name arena,
    /// as allocated (free slots included; allocator overhead and retired arrays not yet freed
    /// excluded). For benchmarks and memory reports.
    pub fn table_bytes(&self) -> u64 {
        let g = pin();
        self.shards.iter().map(|s| s.bytes(&g) as u64).sum()
    }

    /// True if no user is stored.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Inserts the user `id` with the name `name_utf8`, or replaces the name of an existing
    /// user.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative; [`StoreError::InvalidName`] if
    /// `name_utf8` is not UTF-8 or does not hold 1 to 256 code points.
    pub fn put(&self, id: i64, name_utf8: &[u8]) -> Result<(), StoreError> {
        let id = check_id(id)?;
        let name = check_name(name_utf8)?;
        if let Some(durable) = &self.durable {
            return durable.write(self, |log| {
                self.apply_put(id, name);
                wal::encode_put(log, id, name);
            });
        }
        self.apply_put(id, name);
        Ok(())
    }

    /// Inserts or replaces the valid user `id`, `name` (no log).
    #[inline]
    fn apply_put(&self, id: u64, name: &str) {
        let hash = hash_id(id);
        let g = pin();
        let shard = &self.shards[shard_of(hash)];
        let mut counts = shard.lock();
        if shard.insert(&g, &mut counts, id, hash, name) {
            self.len.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// Removes the valid id `id` (no log); true if there was such a user.
    #[inline]
    fn apply_remove(&self, id: u64) -> bool {
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

    /// The durable part, if the store is durable.
    pub(crate) fn durable(&self) -> Option<&Durable> {
        self.durable.as_ref()
    }

    /// Makes this store durable (once opened and replayed).
    pub(crate) fn set_durable(&mut self, durable: Durable) {
        self.durable = Some(durable);
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
    pub fn get_with<R>(&self, id: i64, f: impl FnOnce(&str) -> R) -> Result<Option<R>, StoreError> {
        self.get_utf8_with(id, |bytes| f(utf8(bytes)))
    }

    /// As [`Store::get_with`], with the name as its UTF-8 bytes (not re-validated: they were
    /// checked when stored). For callers that copy the bytes out, such as the JNI boundary.
    ///
    /// The name (at most 1024 bytes) is copied into a stack buffer by an optimistic read and
    /// validated before `f` is called, once, with that copy.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    #[inline]
    pub fn get_utf8_with<R>(
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
    pub fn get(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.get_with(id, str::to_owned)
    }

    /// Looks up many users at once: validates every id first, then calls `f(index, name)`
    /// exactly once for each `ids[index]`, in order, with `None` where there is no such user.
    ///
    /// Each id is validated on its own: each answer is a value current at some moment during
    /// the call, but the batch as a whole is not one snapshot (a write may land between two
    /// ids). Faster per id than [`Store::get_with`]: per chunk of 32 ids, the home slot of
    /// every id is loaded before any lookup needs it, so the cache misses overlap.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] for the first negative id; `f` is then never called.
    pub fn get_many_with(
        &self,
        ids: &[i64],
        mut f: impl FnMut(usize, Option<&str>),
    ) -> Result<(), StoreError> {
        self.get_many_utf8_with(ids, |k, bytes| f(k, bytes.map(utf8)))
    }

    /// As [`Store::get_many_with`], with each name as its UTF-8 bytes (not re-validated), and
    /// the ids from any cloneable iterator (a slice, or ids decoded on the fly from a caller's
    /// buffer): it is walked twice, once to validate every id and once to look them up, and
    /// nothing is collected, so this path allocates nothing.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] for the first negative id; `f` is then never called.
    pub fn get_many_utf8_with<I>(
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

    /// Removes the user `id`; `Ok(true)` if there was one.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    pub fn remove(&self, id: i64) -> Result<bool, StoreError> {
        let id = check_id(id)?;
        if let Some(durable) = &self.durable {
            // A remove that finds no user changes nothing and logs nothing.
            return durable.write(self, |log| {
                let removed = self.apply_remove(id);
                if removed {
                    wal::encode_remove(log, id);
                }
                removed
            });
        }
        Ok(self.apply_remove(id))
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
    /// [`StoreError::InvalidName`] if `name_utf8` is not a valid name (as for [`Store::put`]).
    pub fn find_by_name(&self, name_utf8: &[u8]) -> Result<Vec<u64>, StoreError> {
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
    pub fn write_json(&self, id: i64, out: &mut Vec<u8>) -> Result<bool, StoreError> {
        let found = self.get_with(id, |name| write_user(out, id as u64, name))?;
        Ok(found.is_some())
    }

    /// Writes the user `id` as [`Store::write_json`] does, but into the start of the caller's
    /// fixed buffer `out`, and returns `Ok(Some(len))`, the length of that JSON. The JSON is
    /// written only when `len <= out.len()`; otherwise `out` is left untouched and the caller
    /// may retry with at least `len` bytes. `Ok(None)` if there is no such user. Allocates
    /// nothing: the length is counted before anything is written.
    ///
    /// The name is read as by [`Store::get_utf8_with`]: an optimistic copy into a stack buffer,
    /// validated before any JSON is written.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    pub fn write_json_into(&self, id: i64, out: &mut [u8]) -> Result<Option<usize>, StoreError> {
        self.get_with(id, |name| write_user_into(out, id as u64, name))
    }

    /// Imports a UTF-8 JSON array of `{"id":…,"name":…}` objects, all or nothing, following
    /// rules 1 to 8 of `docs/RULES.md`. Each record inserts a user or replaces the user with the
    /// same id; when an id occurs twice the later record wins. Returns the number of records in
    /// the array (duplicates included).
    ///
    /// The whole input is validated before any lock is taken; the records are then applied
    /// while every shard's mutex is held and every shard's sequence number is odd, so readers
    /// see the store either before or after the import.
    ///
    /// # Errors
    /// [`StoreError::InvalidJson`] for any violation; the store is then unchanged.
    pub fn import_json(&self, json: &[u8]) -> Result<usize, StoreError> {
        let records = parse_records(json)?;
        let count = records.len();
        let user = |i: usize| (records[i].id, &*records[i].name);
        if let Some(durable) = &self.durable {
            // An import of no record changes nothing and logs nothing.
            return durable.write(self, |log| {
                if count > 0 {
                    self.apply_users(count, user);
                    wal::encode_import(log, count, user);
                }
                count
            });
        }
        self.apply_users(count, user);
        Ok(count)
    }

    /// Inserts or replaces the valid users `user(0) .. user(count - 1)` in order (the later
    /// wins), with every shard's mutex held and window open for the whole batch.
    fn apply_users<'a>(&self, count: usize, user: impl Fn(usize) -> (u64, &'a str)) {
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

    /// Applies one batch, all or nothing (`docs/RULES.md`, "Batches, pages and statistics"):
    /// inserts or replaces the users `puts` in order (a later user with the same id wins), then
    /// removes the users `removes`. Returns how many distinct ids of `removes` existed. An empty
    /// batch changes nothing.
    ///
    /// Everything is validated before any lock is taken. The batch is then applied with the
    /// mutexes of the shards it touches held (taken in ascending order) and their windows open
    /// for its whole duration, as `import_json` does for every shard, so readers see the store
    /// before or after all of it. On a durable store it is one log record of type 4 (puts in
    /// order, duplicates included; then the removed ids that existed, each once, in the order of
    /// their first mention), and a batch that changes nothing logs nothing.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] for the first negative id (puts first, then removes);
    /// [`StoreError::InvalidName`] for the first invalid name; [`StoreError::InvalidBatch`] for an
    /// id both put and removed; [`StoreError::BatchTooLarge`] if its log record would pass 1 GiB
    /// ([`wal::MAX_PAYLOAD`]), checked on every store, durable or not, so that a batch behaves
    /// the same on both. The store is then unchanged.
    pub fn apply_batch<N: AsRef<[u8]>>(
        &self,
        puts: &[(i64, N)],
        removes: &[i64],
    ) -> Result<usize, StoreError> {
        let mut users: Vec<(u64, &str, u64)> = Vec::with_capacity(puts.len());
        for (id, name) in puts {
            let id = check_id(*id)?;
            let name = check_name(name.as_ref())?;
            users.push((id, name, hash_id(id)));
        }
        let mut gone: Vec<(u64, u64)> = Vec::with_capacity(removes.len());
        for &id in removes {
            let id = check_id(id)?;
            gone.push((id, hash_id(id)));
        }
        if !users.is_empty() && !gone.is_empty() {
            let put_ids: HashSet<u64> = users.iter().map(|&(id, _, _)| id).collect();
            if let Some(&(id, _)) = gone.iter().find(|(id, _)| put_ids.contains(id)) {
                return Err(StoreError::InvalidBatch(format!(
                    "id {id} is both put and removed"
                )));
            }
        }
        // Each removed id once, in the order of its first mention.
        if gone.len() > 1 {
            let mut seen = HashSet::with_capacity(gone.len());
            gone.retain(|&(id, _)| seen.insert(id));
        }
        if users.is_empty() && gone.is_empty() {
            return Ok(0);
        }
        // The record this batch would be, checked on every store (so a batch that works on a
        // memory-only store works on a durable one): the puts alone first, before any lock.
        let name_bytes: usize = users.iter().map(|(_, name, _)| name.len()).sum();
        let least = wal::batch_payload_len(users.len(), name_bytes, 0);
        if least > batch_limit() {
            return Err(StoreError::BatchTooLarge(least));
        }
        // Then with the removed ids that exist, under the touched shards' mutexes.
        let fits = |removed: &[u64]| {
            let payload = wal::batch_payload_len(users.len(), name_bytes, removed.len());
            if payload > batch_limit() {
                Err(StoreError::BatchTooLarge(payload))
            } else {
                Ok(())
            }
        };
        match &self.durable {
            Some(durable) => durable
                .write(self, |log| {
                    self.apply_batch_locked(&users, &gone, |removed| {
                        fits(removed)?;
                        // A batch that changes nothing logs nothing.
                        if !users.is_empty() || !removed.is_empty() {
                            let puts = users.iter().map(|&(id, name, _)| (id, name));
                            wal::encode_batch(log, puts, removed);
                        }
                        Ok(())
                    })
                })
                .and_then(|applied| applied),
            None => self.apply_batch_locked(&users, &gone, fits),
        }
    }

    /// Applies the validated batch `users` (id, name, hash), then `gone` (id, hash; distinct, none
    /// of them put), with the touched shards' mutexes held and windows open. `before(removed)`
    /// runs first, under the mutexes, with the ids of `gone` that exist (in order): an error
    /// from it leaves the store unchanged and is returned. Returns how many of `gone` existed.
    fn apply_batch_locked(
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
    /// [`Store::scan_utf8_with`].
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `from` is negative.
    pub fn scan(&self, from: i64, limit: usize) -> Result<Vec<(u64, String)>, StoreError> {
        let mut page = Vec::new();
        self.scan_utf8_with(from, limit, |id, name| {
            page.push((id, utf8(name).to_owned()));
        })?;
        Ok(page)
    }

    /// Calls `f(id, name_utf8)` for the users with an id `>= from`, in ascending id order, at
    /// most `limit` of them, on one consistent view of the store: every shard's writer mutex is
    /// held meanwhile, as by [`Store::export_json`] (writers wait; readers do not). `limit` 0
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
    pub fn scan_utf8_with(
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
    /// [`Store::write_json`]); an empty store gives `[]`.
    pub fn export_json(&self) -> Vec<u8> {
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
    pub fn for_each_sorted(&self, mut f: impl FnMut(u64, &str)) {
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

    /// Replaces the whole content with `users` (already validated by the caller, e.g. read from
    /// a snapshot whose checksum matched). Readers see the old or the new content, never a mix.
    /// When an id occurs twice the later one wins.
    ///
    /// The new shards are built without any lock (in parallel, one thread per core), presized
    /// so none grows; then every mutex is taken in order and the shards are swapped in (the old
    /// ones are retired, freed once no reader can hold them).
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] / [`StoreError::InvalidName`] if an entry breaks the rules; the
    /// store is then unchanged.
    pub fn replace_all<S: AsRef<str> + Sync>(
        &self,
        users: Vec<(u64, S)>,
    ) -> Result<(), StoreError> {
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
        let install = || {
            let mut locks = self.lock_all();
            for shard in self.shards.iter() {
                shard.open();
            }
            for ((shard, current), built) in self.shards.iter().zip(locks.iter_mut()).zip(fresh) {
                shard.install(current, built);
            }
            self.len.store(total as u64, Ordering::Release);
            for shard in self.shards.iter() {
                shard.close();
            }
        };
        match &self.durable {
            // Logged as a checkpoint whose snapshot holds the new content.
            Some(durable) => durable.replace_all(self, install),
            None => {
                install();
                Ok(())
            }
        }
    }

    /// Every shard's writer mutex, taken in ascending order.
    fn lock_all(&self) -> Vec<MutexGuard<'_, Counts>> {
        self.shards.iter().map(Shard::lock).collect()
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("len", &self.len()).finish()
    }
}

// The empty-slot marker must not be a valid id.
const _: () = assert!(EMPTY_ID > i64::MAX as u64);

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Checks every shard's invariants and the user count.
    fn assert_consistent(store: &Store) {
        let mut total = 0;
        let g = pin();
        for shard in store.shards.iter() {
            let counts = shard.lock();
            shard.check(&g, &counts);
            total += counts.len;
        }
        assert_eq!(total as u64, store.len());
    }

    #[test]
    fn index_follows_put_replace_remove_import() {
        let store = Store::new();
        store.put(1, b"a").unwrap();
        store.put(2, b"a").unwrap();
        store.put(3, b"b").unwrap();
        assert_consistent(&store);
        store.put(1, b"b").unwrap();
        assert_consistent(&store);
        store.put(1, b"b").unwrap();
        assert_consistent(&store);
        assert!(store.remove(2).unwrap());
        assert_consistent(&store);
        assert!(store.find_by_name(b"a").unwrap().is_empty());
        store
            .import_json(br#"[{"id":3,"name":"c"},{"id":4,"name":"c"},{"id":3,"name":"d"}]"#)
            .unwrap();
        assert_consistent(&store);
        assert_eq!(store.find_by_name(b"c").unwrap(), vec![4]);
        assert_eq!(store.find_by_name(b"d").unwrap(), vec![3]);
        assert_eq!(store.find_by_name(b"b").unwrap(), vec![1]);
    }

    #[test]
    fn bulk_paths_keep_the_invariants() {
        let store = Store::new();
        let long = "a name well over fifteen bytes";
        let users: Vec<(u64, String)> = (0..200_000u64)
            .map(|id| {
                (
                    id * 7919,
                    if id % 4 == 0 {
                        long.to_owned()
                    } else {
                        format!("u{}", id % 100)
                    },
                )
            })
            .collect();
        store.replace_all(users).unwrap();
        assert_consistent(&store);
        assert_eq!(store.len(), 200_000);
        assert_eq!(store.find_by_name(long.as_bytes()).unwrap().len(), 50_000);
        for id in 0..150_000i64 {
            store.remove(id * 7919).unwrap();
        }
        assert_consistent(&store);
        assert_eq!(store.len(), 50_000);
    }

    #[test]
    fn get_many_with_validates_first_and_keeps_order() {
        let store = Store::new();
        store.put(5, b"five").unwrap();
        store.put(9, b"nine").unwrap();
        let mut seen = Vec::new();
        store
            .get_many_with(&[9, 1, 5, 9], |i, name| {
                seen.push((i, name.map(str::to_owned)))
            })
            .unwrap();
        assert_eq!(
            seen,
            vec![
                (0, Some("nine".to_owned())),
                (1, None),
                (2, Some("five".to_owned())),
                (3, Some("nine".to_owned())),
            ]
        );
        let mut called = false;
        let err = store.get_many_with(&[5, -3], |_, _| called = true);
        assert_eq!(err, Err(StoreError::InvalidId(-3)));
        assert!(!called);
    }

    #[test]
    fn get_many_utf8_with_takes_any_cloneable_iterator_across_chunks() {
        let store = Store::new();
        for id in (0..100).step_by(3) {
            store.put(id, format!("u{id}").as_bytes()).unwrap();
        }
        // 100 ids: three full chunks of 32 and a partial one, from an iterator, not a slice.
        let mut seen = Vec::new();
        store
            .get_many_utf8_with((0..100i64).rev(), |i, name| {
                seen.push((i, name.map(<[u8]>::to_vec)))
            })
            .unwrap();
        let expected: Vec<_> = (0..100i64)
            .rev()
            .enumerate()
            .map(|(i, id)| (i, (id % 3 == 0).then(|| format!("u{id}").into_bytes())))
            .collect();
        assert_eq!(seen, expected);
        let mut called = false;
        let ids = (0..40i64).map(|id| if id == 35 { -7 } else { id });
        assert_eq!(
            store.get_many_utf8_with(ids, |_, _| called = true),
            Err(StoreError::InvalidId(-7))
        );
        assert!(!called);
    }

    #[test]
    fn write_json_into_writes_whole_or_not_at_all() {
        let store = Store::new();
        store.put(7, "a\"b".as_bytes()).unwrap();
        let mut expected = Vec::new();
        assert!(store.write_json(7, &mut expected).unwrap());
        let mut small = vec![0u8; expected.len() - 1];
        assert_eq!(
            store.write_json_into(7, &mut small),
            Ok(Some(expected.len()))
        );
        assert!(small.iter().all(|&b| b == 0));
        let mut big = vec![0u8; 64];
        assert_eq!(store.write_json_into(7, &mut big), Ok(Some(expected.len())));
        assert_eq!(&big[..expected.len()], &expected[..]);
        assert_eq!(store.write_json_into(8, &mut big), Ok(None));
        assert_eq!(
            store.write_json_into(-1, &mut big),
            Err(StoreError::InvalidId(-1))
        );
    }

    #[test]
    fn survives_a_poisoned_lock() {
        let store = Arc::new(Store::new());
        store.put(1, b"a").unwrap();
        let poisoner = Arc::clone(&store);
        let result = std::thread::spawn(move || {
            let _guards: Vec<_> = poisoner.shards.iter().map(Shard::lock).collect();
            panic!("poison the locks");
        })
        .join();
        assert!(result.is_err());
        assert!(store.shards[0].is_poisoned());
        store.put(2, b"b").unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.get(1).unwrap().as_deref(), Some("a"));
        assert_eq!(
            store.export_json(),
            br#"[{"id":1,"name":"a"},{"id":2,"name":"b"}]"#
        );
    }

    /// Every user, via `for_each_sorted`.
    fn users(store: &Store) -> Vec<(u64, String)> {
        let mut out = Vec::new();
        store.for_each_sorted(|id, name| out.push((id, name.to_owned())));
        out
    }

    fn owned(users: &[(u64, &str)]) -> Vec<(u64, String)> {
        users.iter().map(|&(id, n)| (id, n.to_owned())).collect()
    }

    #[test]
    fn a_batch_puts_in_order_then_removes() {
        let store = Store::new();
        for id in 1..=4 {
            store.put(id, format!("u{id}").as_bytes()).unwrap();
        }
        let puts: [(i64, &[u8]); 4] = [(5, b"e"), (1, b"a1"), (5, b"e2"), (6, b"f")];
        // 2 and 3 exist (2 listed twice counts once), 9 does not.
        let removed = store.apply_batch(&puts, &[2, 9, 3, 2]).unwrap();
        assert_eq!(removed, 2);
        assert_eq!(
            users(&store),
            owned(&[(1, "a1"), (4, "u4"), (5, "e2"), (6, "f")])
        );
        assert_consistent(&store);
        assert_eq!(store.find_by_name(b"e").unwrap(), Vec::<u64>::new());
        assert_eq!(store.find_by_name(b"e2").unwrap(), vec![5]);
        // Puts only, removes only, and an empty batch (a no-op).
        assert_eq!(store.apply_batch(&[(7, "g")], &[]).unwrap(), 0);
        assert_eq!(store.apply_batch::<&[u8]>(&[], &[7, 8]).unwrap(), 1);
        assert_eq!(store.apply_batch::<&[u8]>(&[], &[]).unwrap(), 0);
        assert_eq!(store.len(), 4);
        assert_consistent(&store);
    }

    #[test]
    fn an_invalid_batch_changes_nothing() {
        let store = Store::new();
        store.put(1, b"a").unwrap();
        store.put(2, b"b").unwrap();
        let before = users(&store);
        let long = "x".repeat(257);
        type Case<'a> = (Vec<(i64, &'a [u8])>, Vec<i64>, StoreError);
        let cases: Vec<Case<'_>> = vec![
            (
                vec![(3, b"c"), (-4, b"d")],
                vec![],
                StoreError::InvalidId(-4),
            ),
            (vec![(3, b"c")], vec![1, -9], StoreError::InvalidId(-9)),
            (
                vec![(3, b"c"), (4, b"")],
                vec![1],
                StoreError::InvalidName("the name is empty".into()),
            ),
            (
                vec![(3, long.as_bytes())],
                vec![],
                StoreError::InvalidName(
                    "the name is too long: 257 code points (at most 256)".into(),
                ),
            ),
            (
                vec![(3, b"c"), (1, b"a2")],
                vec![2, 1],
                StoreError::InvalidBatch("id 1 is both put and removed".into()),
            ),
            (
                vec![(5, b"c")],
                vec![5],
                StoreError::InvalidBatch("id 5 is both put and removed".into()),
            ),
        ];
        for (puts, removes, err) in cases {
            assert_eq!(store.apply_batch(&puts, &removes), Err(err));
            assert_eq!(users(&store), before);
        }
        let bad_utf8: [(i64, &[u8]); 1] = [(3, &[0xff])];
        assert!(matches!(
            store.apply_batch(&bad_utf8, &[]),
            Err(StoreError::InvalidName(_))
        ));
        assert_eq!(users(&store), before);
        assert_consistent(&store);
    }

    /// Sets this thread's batch record limit for the life of the guard.
    struct Limit;
    impl Limit {
        fn set(bytes: u64) -> Limit {
            BATCH_LIMIT.with(|l| l.set(bytes));
            Limit
        }
    }
    impl Drop for Limit {
        fn drop(&mut self) {
            BATCH_LIMIT.with(|l| l.set(wal::MAX_PAYLOAD as u64));
        }
    }

    #[test]
    fn a_batch_over_the_record_limit_is_refused_before_anything_changes() {
        let dir = tempfile::tempdir().unwrap();
        let durable = Store::open_durable(
            dir.path(),
            crate::core::DurableOptions::new(crate::core::SyncMode::Always),
        )
        .unwrap();
        let memory = Store::new();
        for store in [&memory, &durable] {
            store.put(1, b"a").unwrap();
            store.put(2, b"b").unwrap();
        }
        let appended = durable.log_stats().unwrap().appended;
        // Two puts of 1-byte names: 9 + 2 * 11 = 31 bytes; each removed id that exists adds 8.
        let puts: [(i64, &[u8]); 2] = [(3, b"c"), (4, b"d")];
        let _limit = Limit::set(39);
        for store in [&memory, &durable] {
            // The puts alone pass the limit.
            let big: [(i64, &[u8]); 3] = [(3, b"c"), (4, b"d"), (5, b"e")];
            assert_eq!(
                store.apply_batch(&big, &[]),
                Err(StoreError::BatchTooLarge(42))
            );
            // Two existing removed ids pass it (47 > 39), absent ones do not count.
            assert_eq!(
                store.apply_batch(&puts, &[1, 2, 77]),
                Err(StoreError::BatchTooLarge(47))
            );
            assert_eq!(users(store), owned(&[(1, "a"), (2, "b")]));
            assert_consistent(store);
        }
        assert_eq!(durable.log_stats().unwrap().appended, appended);
        for store in [&memory, &durable] {
            // Exactly at the limit: one existing removed id, and 77 that does not exist.
            assert_eq!(store.apply_batch(&puts, &[1, 77]), Ok(1));
            assert_eq!(users(store), owned(&[(2, "b"), (3, "c"), (4, "d")]));
        }
        assert_eq!(durable.log_stats().unwrap().appended, appended + 12 + 39);
    }

    #[test]
    fn readers_never_see_half_a_batch() {
        // Two states of N users named "A": ids 0..N, or ids N..2N. Each batch moves from one to
        // the other (puts of the other half, removes of this one), across many shards.
        const N: i64 = 256;
        let store = Arc::new(Store::new());
        let low: Vec<(i64, &[u8])> = (0..N).map(|id| (id, &b"A"[..])).collect();
        let high: Vec<(i64, &[u8])> = (N..2 * N).map(|id| (id, &b"A"[..])).collect();
        let low_ids: Vec<i64> = (0..N).collect();
        let high_ids: Vec<i64> = (N..2 * N).collect();
        store.apply_batch(&low, &[]).unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let readers: Vec<_> = (0..2)
            .map(|r| {
                let store = Arc::clone(&store);
                let stop = Arc::clone(&stop);
                std::thread::spawn(move || {
                    let one_half = |ids: &[u64]| {
                        assert_eq!(ids.len(), N as usize, "a reader saw part of a batch");
                        let start = ids[0];
                        assert!(start == 0 || start == N as u64);
                        assert!(ids
                            .iter()
                            .enumerate()
                            .all(|(i, &id)| id == start + i as u64));
                    };
                    let mut checks = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        assert_eq!(store.len(), N as u64);
                        one_half(&store.find_by_name(b"A").unwrap());
                        if r == 0 {
                            let page = store.scan(0, usize::MAX).unwrap();
                            one_half(&page.iter().map(|&(id, _)| id).collect::<Vec<_>>());
                            let json = store.export_json();
                            let count = json.iter().filter(|&&c| c == b'{').count();
                            assert_eq!(count, N as usize);
                        }
                        checks += 1;
                    }
                    checks
                })
            })
            .collect();
        for _ in 0..300 {
            assert_eq!(store.apply_batch(&high, &low_ids).unwrap(), N as usize);
            assert_eq!(store.apply_batch(&low, &high_ids).unwrap(), N as usize);
        }
        stop.store(true, Ordering::Relaxed);
        for reader in readers {
            assert!(reader.join().unwrap() > 0);
        }
        assert_consistent(&store);
    }

    /// The model's answer: ids >= from, ascending, at most limit.
    fn model_page(all: &[(u64, String)], from: u64, limit: usize) -> Vec<(u64, String)> {
        all.iter()
            .filter(|(id, _)| *id >= from)
            .take(limit)
            .cloned()
            .collect()
    }

    #[test]
    fn scan_pages_match_the_sorted_content() {
        let store = Store::new();
        assert_eq!(store.scan(0, 10).unwrap(), vec![]);
        // Pseudo-random ids spread over the whole range, and 0 and i64::MAX.
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut ids = vec![0i64, i64::MAX];
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ids.push((x >> 1) as i64 % 1_000_000);
        }
        for &id in &ids {
            store.put(id, format!("n{id}").as_bytes()).unwrap();
        }
        let all = users(&store);
        for from in [0u64, 1, 17, 500_000, 999_999, i64::MAX as u64] {
            for limit in [0usize, 1, 2, 3, 10, 333, 1000, 4999, 10_000, usize::MAX] {
                let page = store.scan(from as i64, limit).unwrap();
                assert_eq!(
                    page,
                    model_page(&all, from, limit),
                    "from {from} limit {limit}"
                );
            }
        }
        // A walk in pages of 7 gives every user once, in order.
        let mut walked = Vec::new();
        let mut from = 0i64;
        loop {
            let page = store.scan(from, 7).unwrap();
            walked.extend(page.iter().cloned());
            match page.last() {
                Some(&(last, _)) if page.len() == 7 && last < i64::MAX as u64 => {
                    from = last as i64 + 1
                }
                _ => break,
            }
        }
        assert_eq!(walked, all);
        assert_eq!(store.scan(-1, 5), Err(StoreError::InvalidId(-1)));
        let mut called = false;
        assert_eq!(
            store.scan_utf8_with(-3, 5, |_, _| called = true),
            Err(StoreError::InvalidId(-3))
        );
        assert!(!called);
    }

    #[test]
    fn debug_shows_the_length() {
        let store = Store::new();
        store.put(1, b"a").unwrap();
        assert_eq!(format!("{store:?}"), "Store { len: 1 }");
    }
}
