//! The facade: the public [`Store`], the one type other programs use (the JVM boundary, the
//! server, tests, benchmarks, examples, fuzzers). It holds the memory store
//! ([`MemStore`](crate::core::store::MemStore): tables, name index, apply) and, for a durable
//! store, its log ([`Durable`](crate::core::durable::Durable): group commit, recovery,
//! checkpoints), and dispatches: it validates a call's input (the rules of `docs/RULES.md`),
//! then either applies it to the memory store or hands the log a closure that applies it and
//! encodes its record. Reads go straight to the memory store (thin `#[inline]` delegations).
//!
//! The top layer of the core (see [`core`](crate::core)): nothing in the core imports it.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::path::Path;

use crate::core::durable::{Durable, DurableOptions, LogStats};
use crate::core::error::StoreError;
use crate::core::hash::hash_id;
use crate::core::import::parse_records;
use crate::core::name::{check_id, check_name};
use crate::core::snapshot;
use crate::core::store::MemStore;
use crate::core::wal;

/// A thread-safe, in-memory user store: ids `0..=i64::MAX` mapped to names of 1 to 256 code
/// points, following `docs/RULES.md`; optionally durable ([`Store::open_durable`]).
///
/// All methods take `&self`. Users are split by id hash into shards; reads take no lock (see
/// `src/core/store.rs`), a write locks only its shard. Every method either succeeds or leaves
/// the store unchanged.
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
#[derive(Default)]
pub struct Store {
    /// The content: tables, name index, apply.
    mem: MemStore,
    /// The log of a store opened with [`Store::open_durable`]; `None` for a memory-only store,
    /// whose writes then cost one check of this field more, and no lock. Declared after `mem`,
    /// so it is dropped (its log closed) after the tables, as before the split.
    log: Option<Durable>,
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

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// The number of users stored.
    #[inline]
    pub fn len(&self) -> u64 {
        self.mem.len()
    }

    /// The bytes the store's tables hold: every shard's slots, name index and long-name arena,
    /// as allocated (free slots included; allocator overhead and retired arrays not yet freed
    /// excluded). For benchmarks and memory reports.
    pub fn table_bytes(&self) -> u64 {
        self.mem.table_bytes()
    }

    /// True if no user is stored.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.mem.is_empty()
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
        if let Some(log) = &self.log {
            return log.write(&self.mem, |buf| {
                self.mem.apply_put(id, name);
                wal::encode_put(buf, id, name);
            });
        }
        self.mem.apply_put(id, name);
        Ok(())
    }

    /// Calls `f` with the name of the user `id` and returns its result; `Ok(None)` if there is
    /// no such user (then `f` is not called).
    ///
    /// The name is read without a lock and copied into a stack buffer, validated, then `f` is
    /// called once with the copy, holding nothing: `f` may call this store.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    #[inline]
    pub fn get_with<R>(&self, id: i64, f: impl FnOnce(&str) -> R) -> Result<Option<R>, StoreError> {
        self.mem.get_with(id, f)
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
        self.mem.get_utf8_with(id, f)
    }

    /// The name of the user `id`, or `Ok(None)` if there is none.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    #[inline]
    pub fn get(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.mem.get(id)
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
    #[inline]
    pub fn get_many_with(
        &self,
        ids: &[i64],
        f: impl FnMut(usize, Option<&str>),
    ) -> Result<(), StoreError> {
        self.mem.get_many_with(ids, f)
    }

    /// As [`Store::get_many_with`], with each name as its UTF-8 bytes (not re-validated), and
    /// the ids from any cloneable iterator (a slice, or ids decoded on the fly from a caller's
    /// buffer): it is walked twice, once to validate every id and once to look them up, and
    /// nothing is collected, so this path allocates nothing.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] for the first negative id; `f` is then never called.
    #[inline]
    pub fn get_many_utf8_with<I>(
        &self,
        ids: I,
        f: impl FnMut(usize, Option<&[u8]>),
    ) -> Result<(), StoreError>
    where
        I: IntoIterator,
        I::Item: Borrow<i64>,
        I::IntoIter: Clone,
    {
        self.mem.get_many_utf8_with(ids, f)
    }

    /// Removes the user `id`; `Ok(true)` if there was one.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    pub fn remove(&self, id: i64) -> Result<bool, StoreError> {
        let id = check_id(id)?;
        if let Some(log) = &self.log {
            // A remove that finds no user changes nothing and logs nothing.
            return log.write(&self.mem, |buf| {
                let removed = self.mem.apply_remove(id);
                if removed {
                    wal::encode_remove(buf, id);
                }
                removed
            });
        }
        Ok(self.mem.apply_remove(id))
    }

    /// The ids of the users whose name equals `name_utf8` exactly (byte for byte, which is
    /// code point for code point), ascending.
    ///
    /// One consistent view of all shards, without locks: every shard's sequence number is read
    /// first, every name index searched, then every sequence number checked again (an import
    /// keeps every shard's number odd for its whole duration, so it is seen whole or not at
    /// all). After `OPTIMISTIC_TRIES` (8) failed attempts, every shard's mutex is taken in order.
    ///
    /// # Errors
    /// [`StoreError::InvalidName`] if `name_utf8` is not a valid name (as for [`Store::put`]).
    #[inline]
    pub fn find_by_name(&self, name_utf8: &[u8]) -> Result<Vec<u64>, StoreError> {
        self.mem.find_by_name(name_utf8)
    }

    /// Appends the user `id` to `out` as `{"id":<id>,"name":"<name>"}` (see
    /// [`write_json_string`](crate::core::write_json_string) for the escaping) and returns
    /// `Ok(true)`; returns `Ok(false)` and leaves `out` untouched if there is no such user.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    #[inline]
    pub fn write_json(&self, id: i64, out: &mut Vec<u8>) -> Result<bool, StoreError> {
        self.mem.write_json(id, out)
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
    #[inline]
    pub fn write_json_into(&self, id: i64, out: &mut [u8]) -> Result<Option<usize>, StoreError> {
        self.mem.write_json_into(id, out)
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
        if let Some(log) = &self.log {
            // An import of no record changes nothing and logs nothing.
            return log.write(&self.mem, |buf| {
                if count > 0 {
                    self.mem.apply_users(count, user);
                    wal::encode_import(buf, count, user);
                }
                count
            });
        }
        self.mem.apply_users(count, user);
        Ok(count)
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
    /// (`wal::MAX_PAYLOAD`), checked on every store, durable or not, so that a batch behaves
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
        match &self.log {
            Some(log) => log
                .write(&self.mem, |buf| {
                    self.mem.apply_batch(&users, &gone, |removed| {
                        fits(removed)?;
                        // A batch that changes nothing logs nothing.
                        if !users.is_empty() || !removed.is_empty() {
                            let puts = users.iter().map(|&(id, name, _)| (id, name));
                            wal::encode_batch(buf, puts, removed);
                        }
                        Ok(())
                    })
                })
                .and_then(|applied| applied),
            None => self.mem.apply_batch(&users, &gone, fits),
        }
    }

    /// The users with an id `>= from`, ascending, at most `limit` of them, as `(id, name)`: one
    /// page of a walk through the store (pass the last id + 1 as the next `from`). See
    /// [`Store::scan_utf8_with`].
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `from` is negative.
    #[inline]
    pub fn scan(&self, from: i64, limit: usize) -> Result<Vec<(u64, String)>, StoreError> {
        self.mem.scan(from, limit)
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
    #[inline]
    pub fn scan_utf8_with(
        &self,
        from: i64,
        limit: usize,
        f: impl FnMut(u64, &[u8]),
    ) -> Result<(), StoreError> {
        self.mem.scan_utf8_with(from, limit, f)
    }

    /// Every user as a JSON array sorted by id: `[` users joined by `,` `]` (each as written by
    /// [`Store::write_json`]); an empty store gives `[]`.
    pub fn export_json(&self) -> Vec<u8> {
        self.mem.export_json()
    }

    /// Calls `f` for every user in ascending id order, on one consistent view of the store:
    /// every shard's writer mutex is held (writers wait until it returns; readers do not).
    /// Snapshots are written from this.
    ///
    /// `f` runs while the mutexes are held: it must not call methods of this store that write.
    #[inline]
    pub fn for_each_sorted(&self, f: impl FnMut(u64, &str)) {
        self.mem.for_each_sorted(f)
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
        let fresh = self.mem.build(users)?;
        match &self.log {
            // Logged as a checkpoint whose snapshot holds the new content.
            Some(log) => log.replace_all(&self.mem, || self.mem.install(fresh)),
            None => {
                self.mem.install(fresh);
                Ok(())
            }
        }
    }

    /// Writes every user to `path` in the snapshot format, replacing the file atomically: the
    /// file holds either its previous content or the complete new snapshot, even if the process
    /// dies or the machine loses power meanwhile.
    ///
    /// # Errors
    /// [`StoreError::SnapshotIo`] naming `path` if anything fails (the directory does not exist,
    /// no permission, disk full, …); the target is then untouched and no temporary file remains.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<(), StoreError> {
        snapshot::save(path.as_ref(), &self.to_snapshot_bytes())
    }

    /// A new store holding the users of the snapshot at `path`.
    ///
    /// The whole file is read and checked (length, magic, version, checksum, then every record:
    /// ids ascending and at most `i64::MAX`, names valid as in `docs/RULES.md`) before the store
    /// is built.
    ///
    /// # Errors
    /// [`StoreError::SnapshotMissing`] if the file does not exist, [`StoreError::SnapshotCorrupt`]
    /// if it is not a valid snapshot, [`StoreError::SnapshotIo`] if it cannot be read.
    pub fn open(path: impl AsRef<Path>) -> Result<Store, StoreError> {
        let path = path.as_ref();
        let bytes = snapshot::read(path)?;
        let store = Store::from_snapshot_at(&bytes, path);
        // The file's bytes and the build's temporaries are freed: give their pages back.
        drop(bytes);
        crate::reclaim::trim_heap();
        store
    }

    /// A new store holding the users of a snapshot held in memory: exactly what [`Store::open`]
    /// does once it has read the file, with the same checks. It is public so the snapshot reader
    /// can be fuzzed (`fuzz/`) and tested without files.
    ///
    /// # Errors
    /// [`StoreError::SnapshotCorrupt`] (whose path is `<memory>`) if `bytes` is not a valid
    /// snapshot.
    pub fn from_snapshot_bytes(bytes: &[u8]) -> Result<Store, StoreError> {
        Store::from_snapshot_at(bytes, Path::new("<memory>"))
    }

    /// [`Store::from_snapshot_bytes`], naming `path` in the error.
    fn from_snapshot_at(bytes: &[u8], path: &Path) -> Result<Store, StoreError> {
        // The names stay borrowed from the file's bytes until the tables are built.
        let users = snapshot::users_of(bytes, path)?;
        let store = Store::new();
        store.replace_all(users)?;
        Ok(store)
    }

    /// The snapshot of the store as bytes (header, records sorted by id, CRC-32).
    pub fn to_snapshot_bytes(&self) -> Vec<u8> {
        self.mem.to_snapshot_bytes()
    }

    /// Opens (creating it if missing) the data directory `dir` as a durable store: locks it,
    /// loads its newest snapshot and replays the logs after it (`docs/DURABILITY.md`, "Opening
    /// a directory"). Every later write is logged as `options.sync` says.
    ///
    /// # Errors
    /// [`StoreError::Locked`] if another store has the directory open (in this process or
    /// another); [`StoreError::SnapshotCorrupt`] naming the file (and the offset, in a log) for
    /// a damaged snapshot or log, or a log missing from the chain, in which case nothing in the
    /// directory was changed; [`StoreError::SnapshotIo`] for any other I/O failure.
    pub fn open_durable(
        dir: impl AsRef<Path>,
        options: DurableOptions,
    ) -> Result<Store, StoreError> {
        let (mem, log) = Durable::open(dir.as_ref(), options)?;
        Ok(Store {
            mem,
            log: Some(log),
        })
    }

    /// Writes a snapshot of the content and truncates the log (`docs/DURABILITY.md`,
    /// "Checkpoints"); does nothing on a store that is not durable.
    ///
    /// # Errors
    /// [`StoreError::LogClosed`] after [`Store::close_log`]; [`StoreError::LogIo`] if the log
    /// cannot be synced (later writes are then refused); [`StoreError::SnapshotIo`] if a file
    /// cannot be created, written or deleted (the directory still opens to the same content).
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        match &self.log {
            Some(log) => log.checkpoint(&self.mem),
            None => Ok(()),
        }
    }

    /// Writes and syncs the buffered records, closes the log and releases the directory lock;
    /// waits for the writes in flight. Idempotent; later writes fail with
    /// [`StoreError::LogClosed`], reads go on. Does nothing on a store that is not durable.
    /// Dropping a durable store does this (ignoring errors).
    ///
    /// # Errors
    /// [`StoreError::LogIo`] if the last records could not be written or synced (or an earlier
    /// write had failed).
    pub fn close_log(&self) -> Result<(), StoreError> {
        match &self.log {
            Some(log) => log.close(),
            None => Ok(()),
        }
    }

    /// The log's counters; `None` if the store is not durable.
    pub fn log_stats(&self) -> Option<LogStats> {
        self.log.as_ref().map(Durable::stats)
    }

    /// True if the store was opened with [`Store::open_durable`].
    pub fn is_durable(&self) -> bool {
        self.log.is_some()
    }
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store").field("len", &self.len()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::table::Shard;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;

    /// Checks every shard's invariants and the user count.
    fn assert_consistent(store: &Store) {
        store.mem.check_consistent();
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
            let _guards: Vec<_> = poisoner.mem.shards().iter().map(Shard::lock).collect();
            panic!("poison the locks");
        })
        .join();
        assert!(result.is_err());
        assert!(store.mem.shards()[0].is_poisoned());
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
