//! The store itself: users sharded by id hash into [`SHARDS`] compact tables (see
//! [`table`](crate::core::table)), each with its own name index, each behind its own `RwLock`.
//!
//! # Locking
//! - A call about one id (`put`, `get_with`, `remove`, `write_json`) locks only the shard of
//!   that id: readers never wait for readers, and a writer stalls only its shard. Each lock sits
//!   on its own cache lines so readers of different shards do not share a written line.
//! - Calls that need several shards take their locks in ascending shard order, which rules out
//!   deadlocks between them: `find_by_name`, `get_many_with`, `for_each_sorted` and
//!   `export_json` hold the read locks of every shard they read;
//!   `import_json` and `replace_all` hold every write lock while they apply, so readers see the
//!   store before or after them, never half of it.
//! - The user count is an atomic updated while the shard lock is held (and once per import), so
//!   `len` takes no lock.
//! - A poisoned lock is recovered: no table operation can leave a table inconsistent before
//!   it could panic, short of running out of memory, which aborts.

use std::borrow::Borrow;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::core::error::StoreError;
use crate::core::hash::{hash_id, hash_name};
use crate::core::import::parse_records;
use crate::core::json::{write_user, write_user_into};
use crate::core::name::{check_id, check_name, check_name_str};
use crate::core::table::{shard_of, Table, EMPTY_ID, SHARDS};

/// One shard, alone on its cache lines (two 64-byte lines, as adjacent-line prefetchers pair
/// them) so that locking one shard does not slow readers of its neighbours.
#[repr(align(128))]
#[derive(Default)]
struct Shard(RwLock<Table>);

/// A thread-safe, in-memory user store: ids `0..=i64::MAX` mapped to names of 1 to 256 code
/// points, following `docs/RULES.md`.
///
/// All methods take `&self`. Users are split by id hash into shards, each behind its own
/// `RwLock` (see the module documentation): reads never block reads, and a write blocks only
/// the readers of its shard. Every method either succeeds or leaves the store unchanged.
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
}

impl Default for Store {
    fn default() -> Store {
        Store {
            shards: (0..SHARDS).map(|_| Shard::default()).collect(),
            len: AtomicU64::new(0),
        }
    }
}

/// Stored name bytes as `&str`: they were valid UTF-8 when stored (only `&str`s are stored).
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
        let hash = hash_id(id);
        let mut table = self.write(shard_of(hash));
        if table.insert(id, hash, name) {
            self.len.fetch_add(1, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Calls `f` with the name of the user `id`, under the read lock of its shard, and returns
    /// its result; `Ok(None)` if there is no such user (then `f` is not called).
    ///
    /// `f` must not call methods of this store, or it may deadlock.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    pub fn get_with<R>(&self, id: i64, f: impl FnOnce(&str) -> R) -> Result<Option<R>, StoreError> {
        self.get_utf8_with(id, |bytes| f(utf8(bytes)))
    }

    /// As [`Store::get_with`], with the name as its UTF-8 bytes (not re-validated: they were
    /// checked when stored). For callers that copy the bytes out, such as the JNI boundary.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    pub fn get_utf8_with<R>(
        &self,
        id: i64,
        f: impl FnOnce(&[u8]) -> R,
    ) -> Result<Option<R>, StoreError> {
        let id = check_id(id)?;
        let hash = hash_id(id);
        let table = self.read(shard_of(hash));
        Ok(table.find(id, hash).map(|pos| f(table.name_bytes(pos))))
    }

    /// The name of the user `id`, or `Ok(None)` if there is none.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    pub fn get(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.get_with(id, str::to_owned)
    }

    /// Looks up many users at once: validates every id first, then calls `f(index, name)` for
    /// each `ids[index]` in order, with `None` where there is no such user. All the lookups see
    /// one consistent view of the store.
    ///
    /// Faster per id than [`Store::get_with`]: each shard is locked once per batch, and the
    /// first memory access of every lookup is issued before any result is needed, so the
    /// cache misses overlap.
    ///
    /// `f` runs while read locks are held: it must not call methods of this store.
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
        // Validate every id first (f must not run for a batch with a bad id); note the shards.
        let mut touched = 0u64;
        for id in ids.clone() {
            touched |= 1 << shard_of(hash_id(check_id(*id.borrow())?));
        }
        // Ascending shard order, like every multi-shard call. No heap allocation on this path.
        let guards: [Option<RwLockReadGuard<'_, Table>>; SHARDS] =
            std::array::from_fn(|s| (touched & (1 << s) != 0).then(|| self.read(s)));
        let table = |hash: u64| guards[shard_of(hash)].as_deref();
        const CHUNK: usize = 32;
        let mut found = [None; CHUNK];
        let mut keys = [(0u64, 0u64); CHUNK];
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
                if let Some(t) = table(hash) {
                    std::hint::black_box(t.touch(hash));
                }
            }
            // Pass 2: the lookups proper, now mostly from cache.
            for (k, &(id, hash)) in keys.iter().enumerate() {
                found[k] = table(hash).and_then(|t| t.find(id, hash));
            }
            for (k, &(_, hash)) in keys.iter().enumerate() {
                let name = match (table(hash), found[k]) {
                    (Some(t), Some(pos)) => Some(t.name_bytes(pos)),
                    _ => None,
                };
                f(base + k, name);
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
        let hash = hash_id(id);
        let mut table = self.write(shard_of(hash));
        let removed = table.remove(id, hash);
        if removed {
            self.len.fetch_sub(1, Ordering::AcqRel);
        }
        Ok(removed)
    }

    /// The ids of the users whose name equals `name_utf8` exactly (byte for byte, which is
    /// code point for code point), ascending.
    ///
    /// Asks the name index of every shard, holding every shard's read lock (taken in order) so
    /// the answer comes from one consistent view.
    ///
    /// # Errors
    /// [`StoreError::InvalidName`] if `name_utf8` is not a valid name (as for [`Store::put`]).
    pub fn find_by_name(&self, name_utf8: &[u8]) -> Result<Vec<u64>, StoreError> {
        let name = check_name(name_utf8)?.as_bytes();
        let name_hash = hash_name(name);
        let mut ids = Vec::new();
        // Every read lock stays held until the end, so an import is seen whole or not at all.
        let guards: Vec<RwLockReadGuard<'_, Table>> = (0..SHARDS).map(|s| self.read(s)).collect();
        for table in &guards {
            table.find_name(name, name_hash, &mut ids);
        }
        drop(guards);
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
    /// while every shard's write lock is held, so readers see the store either before or after
    /// the import.
    ///
    /// # Errors
    /// [`StoreError::InvalidJson`] for any violation; the store is then unchanged.
    pub fn import_json(&self, json: &[u8]) -> Result<usize, StoreError> {
        let records = parse_records(json)?;
        let count = records.len();
        let hashes: Vec<u64> = records.iter().map(|r| hash_id(r.id)).collect();
        let mut guards = self.write_all();
        // Make room for the users that are not there yet, so no shard grows more than once.
        let mut new_per_shard = [0usize; SHARDS];
        for (record, &hash) in records.iter().zip(&hashes) {
            let s = shard_of(hash);
            if guards[s].find(record.id, hash).is_none() {
                new_per_shard[s] += 1;
            }
        }
        for (guard, &more) in guards.iter_mut().zip(&new_per_shard) {
            guard.reserve(more);
        }
        let mut added = 0u64;
        for (record, &hash) in records.iter().zip(&hashes) {
            if guards[shard_of(hash)].insert(record.id, hash, &record.name) {
                added += 1;
            }
        }
        self.len.fetch_add(added, Ordering::AcqRel);
        drop(guards);
        Ok(count)
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

    /// Calls `f` for every user in ascending id order, on one consistent view of the store
    /// (writers wait until it returns). Snapshots are written from this.
    ///
    /// `f` runs while read locks are held: it must not call methods of this store that write.
    pub fn for_each_sorted(&self, mut f: impl FnMut(u64, &str)) {
        let guards: Vec<RwLockReadGuard<'_, Table>> = (0..SHARDS).map(|s| self.read(s)).collect();
        let total: usize = guards.iter().map(|t| t.len()).sum();
        // (id, slot, shard): 16 bytes per user.
        let mut users: Vec<(u64, u32, u8)> = Vec::with_capacity(total);
        for (s, table) in guards.iter().enumerate() {
            table.for_each_slot(|pos, id| users.push((id, pos as u32, s as u8)));
        }
        users.sort_unstable_by_key(|&(id, _, _)| id);
        for (id, pos, s) in users {
            f(id, guards[usize::from(s)].name_at(pos as usize));
        }
    }

    /// Replaces the whole content with `users` (already validated by the caller, e.g. read from
    /// a snapshot whose checksum matched). Readers see the old or the new content, never a mix.
    /// When an id occurs twice the later one wins.
    ///
    /// The new shards are built without any lock (in parallel, one thread per core), presized
    /// so none grows; then every write lock is taken in order and the shards are swapped in.
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
            let mut table = Table::with_capacity(bucket.len());
            for &i in bucket {
                let (id, name) = &users[i];
                table.insert(*id, hashes[i], name.as_ref());
            }
            table
        };
        let threads = std::thread::available_parallelism()
            .map_or(1, usize::from)
            .min(SHARDS);
        let mut fresh: Vec<Table> = if threads <= 1 || users.len() < 100_000 {
            buckets.iter().map(|b| build(b)).collect()
        } else {
            let next = AtomicUsize::new(0);
            let mut built: Vec<(usize, Table)> = std::thread::scope(|scope| {
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
            built.into_iter().map(|(_, table)| table).collect()
        };
        let total: usize = fresh.iter().map(Table::len).sum();
        {
            let mut guards = self.write_all();
            for (guard, table) in guards.iter_mut().zip(fresh.iter_mut()) {
                std::mem::swap(&mut **guard, table);
            }
            self.len.store(total as u64, Ordering::Release);
        }
        // The old tables are freed here, after the locks are released.
        drop(fresh);
        Ok(())
    }

    fn read(&self, shard: usize) -> RwLockReadGuard<'_, Table> {
        self.shards[shard]
            .0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self, shard: usize) -> RwLockWriteGuard<'_, Table> {
        self.shards[shard]
            .0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Every shard's write lock, taken in ascending order.
    fn write_all(&self) -> Vec<RwLockWriteGuard<'_, Table>> {
        (0..SHARDS).map(|s| self.write(s)).collect()
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
        for s in 0..SHARDS {
            let table = store.read(s);
            table.check();
            total += table.len();
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
            let _guards: Vec<_> = poisoner
                .shards
                .iter()
                .map(|s| s.0.write().unwrap())
                .collect();
            panic!("poison the locks");
        })
        .join();
        assert!(result.is_err());
        assert!(store.shards[0].0.is_poisoned());
        store.put(2, b"b").unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.get(1).unwrap().as_deref(), Some("a"));
        assert_eq!(
            store.export_json(),
            br#"[{"id":1,"name":"a"},{"id":2,"name":"b"}]"#
        );
    }

    #[test]
    fn debug_shows_the_length() {
        let store = Store::new();
        store.put(1, b"a").unwrap();
        assert_eq!(format!("{store:?}"), "Store { len: 1 }");
    }
}
