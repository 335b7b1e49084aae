//! The store itself: users by id plus an index from name to ids, behind one `RwLock`.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::core::error::StoreError;
use crate::core::import::parse_records;
use crate::core::json::write_user;
use crate::core::name::{check_id, check_name};

/// A thread-safe, in-memory user store: ids `0..=i64::MAX` mapped to names of 1 to 256 code
/// points, following `docs/RULES.md`.
///
/// All methods take `&self`; one `RwLock` inside serialises writers and lets readers run in
/// parallel. Every method either succeeds or leaves the store unchanged.
///
/// A panic on another thread while it held the lock does not make the store unusable: the lock
/// is recovered (no method can leave the data inconsistent before it could panic, short of
/// running out of memory, which aborts).
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
    inner: RwLock<Inner>,
}

/// The data behind the lock. `by_name` holds exactly the ids of `users` grouped by name; no
/// set in it is empty.
#[derive(Default)]
struct Inner {
    users: HashMap<u64, Arc<str>>,
    by_name: HashMap<Arc<str>, BTreeSet<u64>>,
}

impl Inner {
    /// Inserts or replaces the user `id`, keeping the name index consistent.
    fn insert(&mut self, id: u64, name: Arc<str>) {
        if let Some(old) = self.users.get(&id) {
            if **old == *name {
                return;
            }
            let old = Arc::clone(old);
            self.unindex(id, &old);
        }
        match self.by_name.get_mut(&name) {
            Some(ids) => {
                ids.insert(id);
            }
            None => {
                self.by_name.insert(Arc::clone(&name), BTreeSet::from([id]));
            }
        }
        self.users.insert(id, name);
    }

    /// Removes the user `id`; true if there was one.
    fn remove(&mut self, id: u64) -> bool {
        match self.users.remove(&id) {
            Some(name) => {
                self.unindex(id, &name);
                true
            }
            None => false,
        }
    }

    /// Removes `id` from the index entry of `name`, dropping the entry once empty.
    fn unindex(&mut self, id: u64, name: &str) {
        if let Some(ids) = self.by_name.get_mut(name) {
            ids.remove(&id);
            if ids.is_empty() {
                self.by_name.remove(name);
            }
        }
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// The number of users stored.
    pub fn len(&self) -> u64 {
        self.read().users.len() as u64
    }

    /// True if no user is stored.
    pub fn is_empty(&self) -> bool {
        self.read().users.is_empty()
    }

    /// Inserts the user `id` with the name `name_utf8`, or replaces the name of an existing
    /// user.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative; [`StoreError::InvalidName`] if
    /// `name_utf8` is not UTF-8 or does not hold 1 to 256 code points.
    pub fn put(&self, id: i64, name_utf8: &[u8]) -> Result<(), StoreError> {
        let id = check_id(id)?;
        let name: Arc<str> = Arc::from(check_name(name_utf8)?);
        self.write().insert(id, name);
        Ok(())
    }

    /// Calls `f` with the name of the user `id`, under the read lock, and returns its result;
    /// `Ok(None)` if there is no such user (then `f` is not called).
    ///
    /// `f` must not call methods of this store that write, or it deadlocks.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    pub fn get_with<R>(&self, id: i64, f: impl FnOnce(&str) -> R) -> Result<Option<R>, StoreError> {
        let id = check_id(id)?;
        Ok(self.read().users.get(&id).map(|name| f(name)))
    }

    /// The name of the user `id`, or `Ok(None)` if there is none.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    pub fn get(&self, id: i64) -> Result<Option<String>, StoreError> {
        self.get_with(id, str::to_owned)
    }

    /// Removes the user `id`; `Ok(true)` if there was one.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    pub fn remove(&self, id: i64) -> Result<bool, StoreError> {
        let id = check_id(id)?;
        Ok(self.write().remove(id))
    }

    /// The ids of the users whose name equals `name_utf8` exactly (byte for byte, which is
    /// code point for code point), ascending.
    ///
    /// # Errors
    /// [`StoreError::InvalidName`] if `name_utf8` is not a valid name (as for [`Store::put`]).
    pub fn find_by_name(&self, name_utf8: &[u8]) -> Result<Vec<u64>, StoreError> {
        let name = check_name(name_utf8)?;
        Ok(self
            .read()
            .by_name
            .get(name)
            .map(|ids| ids.iter().copied().collect())
            .unwrap_or_default())
    }

    /// Appends the user `id` to `out` as `{"id":<id>,"name":"<name>"}` (see
    /// [`write_json_string`](crate::core::write_json_string) for the escaping) and returns
    /// `Ok(true)`; returns `Ok(false)` and leaves `out` untouched if there is no such user.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] if `id` is negative.
    pub fn write_json(&self, id: i64, out: &mut Vec<u8>) -> Result<bool, StoreError> {
        let id = check_id(id)?;
        match self.read().users.get(&id) {
            Some(name) => {
                write_user(out, id, name);
                Ok(true)
            }
            None => Ok(false),
        }
    }

    /// Imports a UTF-8 JSON array of `{"id":…,"name":…}` objects, all or nothing, following
    /// rules 1 to 8 of `docs/RULES.md`. Each record inserts a user or replaces the user with the
    /// same id; when an id occurs twice the later record wins. Returns the number of records in
    /// the array (duplicates included).
    ///
    /// The whole input is validated before the lock is taken; the records are then applied
    /// under one write lock, so readers see the store either before or after the import.
    ///
    /// # Errors
    /// [`StoreError::InvalidJson`] for any violation; the store is then unchanged.
    pub fn import_json(&self, json: &[u8]) -> Result<usize, StoreError> {
        let records = parse_records(json)?;
        let count = records.len();
        let mut inner = self.write();
        for record in records {
            inner.insert(record.id, record.name);
        }
        Ok(count)
    }

    /// Every user as a JSON array sorted by id: `[` users joined by `,` `]` (each as written by
    /// [`Store::write_json`]); an empty store gives `[]`.
    pub fn export_json(&self) -> Vec<u8> {
        let inner = self.read();
        let mut users: Vec<(u64, &str)> = inner
            .users
            .iter()
            .map(|(&id, name)| (id, &**name))
            .collect();
        users.sort_unstable_by_key(|&(id, _)| id);
        let size: usize = users.iter().map(|(_, name)| name.len() + 32).sum();
        let mut out = Vec::with_capacity(size + 2);
        out.push(b'[');
        for (i, (id, name)) in users.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_user(&mut out, id, name);
        }
        out.push(b']');
        out
    }

    /// Calls `f` for every user in ascending id order, on one consistent view of the store
    /// (writers wait until it returns). Snapshots are written from this.
    pub fn for_each_sorted(&self, mut f: impl FnMut(u64, &str)) {
        let inner = self.read();
        let mut users: Vec<(u64, &str)> = inner
            .users
            .iter()
            .map(|(&id, name)| (id, &**name))
            .collect();
        users.sort_unstable_by_key(|&(id, _)| id);
        for (id, name) in users {
            f(id, name);
        }
    }

    /// Replaces the whole content with `users` (already validated by the caller, e.g. read from
    /// a snapshot whose checksum matched). Readers see the old or the new content, never a mix.
    /// When an id occurs twice the later one wins.
    ///
    /// # Errors
    /// [`StoreError::InvalidId`] / [`StoreError::InvalidName`] if an entry breaks the rules; the
    /// store is then unchanged.
    pub fn replace_all(&self, users: Vec<(u64, String)>) -> Result<(), StoreError> {
        let mut fresh = Inner::default();
        for (id, name) in users {
            // An id above i64::MAX shows up as the negative i64 with the same bits.
            check_id(id as i64)?;
            let name = check_name(name.as_bytes())?;
            fresh.insert(id, Arc::from(name));
        }
        *self.write() = fresh;
        Ok(())
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
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

    /// Checks the invariant between `users` and `by_name`.
    fn assert_consistent(store: &Store) {
        let inner = store.read();
        let mut indexed = 0;
        for (name, ids) in &inner.by_name {
            assert!(!ids.is_empty(), "empty index entry for {name:?}");
            for id in ids {
                assert_eq!(inner.users.get(id).map(|n| &**n), Some(&**name));
            }
            indexed += ids.len();
        }
        assert_eq!(indexed, inner.users.len());
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
        assert_eq!(store.read().by_name.len(), 1);
        store
            .import_json(br#"[{"id":3,"name":"c"},{"id":4,"name":"c"},{"id":3,"name":"d"}]"#)
            .unwrap();
        assert_consistent(&store);
        assert_eq!(store.find_by_name(b"c").unwrap(), vec![4]);
        assert_eq!(store.find_by_name(b"d").unwrap(), vec![3]);
        assert_eq!(store.find_by_name(b"b").unwrap(), vec![1]);
    }

    #[test]
    fn survives_a_poisoned_lock() {
        let store = Arc::new(Store::new());
        store.put(1, b"a").unwrap();
        let poisoner = Arc::clone(&store);
        let result = std::thread::spawn(move || {
            let _guard = poisoner.inner.write().unwrap();
            panic!("poison the lock");
        })
        .join();
        assert!(result.is_err());
        assert!(store.inner.is_poisoned());
        store.put(2, b"b").unwrap();
        assert_eq!(store.len(), 2);
        assert_eq!(store.get(1).unwrap().as_deref(), Some("a"));
    }

    #[test]
    fn debug_shows_the_length() {
        let store = Store::new();
        store.put(1, b"a").unwrap();
        assert_eq!(format!("{store:?}"), "Store { len: 1 }");
    }
}
