//! Durable stores: a data directory with snapshots and a write-ahead log
//! (`docs/DURABILITY.md`). [`Durable::open`] (behind
//! [`Store::open_durable`](crate::core::Store::open_durable)) locks the directory, loads the
//! newest snapshot and replays the logs after it into a new
//! [`MemStore`](crate::core::store::MemStore); every later `put`, `remove`, `import_json` and
//! `apply_batch` is applied and appended to the log under one writer lock, then waits for
//! durability as its [`SyncMode`] says.
//!
//! The log sits above the memory store and is never called back by it: the facade hands
//! [`Durable::write`] the memory store (read by automatic checkpoints) and a closure that
//! applies the write to it and encodes its record.
//!
//! # Locks, in the only order they are taken
//! 1. `checkpoint`: serialises checkpoints (and `replace_all` on a durable store).
//! 2. `writer` (the one writer lock): the log buffer, the logical end of the log, the current
//!    generation. A write holds it while it changes the store (shard locks are taken inside it)
//!    and appends its record, so the log's order is the store's.
//! 3. `io`: the open log file. Whoever writes the buffer out takes it while still holding
//!    `writer`, swaps the buffer out, lets `writer` go and writes (and syncs) holding `io` only:
//!    other writers append to the next buffer meanwhile. A checkpoint that takes `io` under
//!    `writer` so waits for a write in flight before it switches files.
//! 4. `synced` (with its condvar): what is durable, the sync count, the group-commit leader
//!    flag and the sticky failure; a leaf.
//!
//! # Group commit (`SyncMode::Always`)
//! After appending (and releasing `writer`) a writer waits until `durable >= end` of its record.
//! If no thread is flushing, it becomes the leader: it takes the whole buffer (its own record and
//! every one appended since the last flush), writes it, `fdatasync`s once and wakes everyone.
//! Writers that appended while the leader synced are taken by the next leader, all together.
//!
//! `SyncMode::Batch` / `SyncMode::None`: a background thread (`userstore-wal-sync`) writes the
//! buffer every [`BATCH_INTERVAL`] (and syncs it for `Batch`); a writer whose buffer reaches
//! 1 MiB writes it out itself.

use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::core::bytes::{sync_dir, write_atomically};
use crate::core::error::StoreError;
use crate::core::snapshot::users_of;
use crate::core::store::MemStore;
use crate::core::wal::{self, Entry, HEADER_LEN};
use crate::dirlock::{self, DirLock};

/// When a write returns (see `docs/DURABILITY.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyncMode {
    /// After its record was written and `fdatasync`ed (group commit).
    Always,
    /// After its record was appended to the buffer; a background thread writes and syncs the
    /// buffer every [`BATCH_INTERVAL`].
    Batch,
    /// After its record was appended to the buffer; a background thread writes it to the OS
    /// every [`BATCH_INTERVAL`] and never syncs.
    None,
}

impl FromStr for SyncMode {
    type Err = String;

    /// `always`, `batch` or `none` (lower case), as the server's `--sync`.
    fn from_str(s: &str) -> Result<SyncMode, String> {
        match s {
            "always" => Ok(SyncMode::Always),
            "batch" => Ok(SyncMode::Batch),
            "none" => Ok(SyncMode::None),
            other => Err(format!(
                "unknown sync mode {other:?} (expected always, batch or none)"
            )),
        }
    }
}

/// A write that leaves the current log at this many bytes or more runs a checkpoint: 64 MiB.
pub const DEFAULT_CHECKPOINT_LOG_BYTES: u64 = 64 << 20;

/// How often the background thread writes (and, for [`SyncMode::Batch`], syncs) the buffer.
pub const BATCH_INTERVAL: Duration = Duration::from_millis(10);

/// A buffer this large is written out by the writer that filled it.
const SPILL_BYTES: usize = 1 << 20;

/// A spare buffer larger than this is not kept for reuse (after a huge import).
const SPARE_KEEP_BYTES: usize = 4 << 20;

/// How a durable store is opened.
#[derive(Clone, Debug)]
pub struct DurableOptions {
    /// When writes return.
    pub sync: SyncMode,
    /// The log size (bytes, header included, buffered records included) at which a write runs a
    /// checkpoint.
    pub checkpoint_log_bytes: u64,
}

impl DurableOptions {
    /// `sync` with the default checkpoint threshold, [`DEFAULT_CHECKPOINT_LOG_BYTES`].
    pub fn new(sync: SyncMode) -> DurableOptions {
        DurableOptions {
            sync,
            checkpoint_log_bytes: DEFAULT_CHECKPOINT_LOG_BYTES,
        }
    }
}

/// Counters of a durable store's log, since it was opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LogStats {
    /// Bytes of records appended since open (across checkpoints), buffered ones included.
    pub appended: u64,
    /// Of those, the bytes written and `fdatasync`ed.
    pub durable: u64,
    /// `fdatasync` calls on logs since open.
    pub syncs: u64,
    /// The current log's generation.
    pub generation: u64,
    /// The current log's size in bytes: its header, the records written and those still in the
    /// buffer (what the automatic checkpoint compares with its threshold).
    pub log_bytes: u64,
    /// Checkpoints completed since open (manual, automatic, and those of `replace_all`).
    pub checkpoints: u64,
}

/// A poisoned lock is recovered: every critical section below leaves its state consistent
/// before anything in it could panic.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// `DIR/snapshot-GGGGGGGGGGGGGGGGGGGG.snap`.
fn snapshot_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("snapshot-{generation:020}.snap"))
}

/// `DIR/log-GGGGGGGGGGGGGGGGGGGG.wal`.
fn log_path(dir: &Path, generation: u64) -> PathBuf {
    dir.join(format!("log-{generation:020}.wal"))
}

/// The generation in a file name `PREFIX<20 digits>SUFFIX`.
fn generation_of(name: &str, prefix: &str, suffix: &str) -> Option<u64> {
    let digits = name.strip_prefix(prefix)?.strip_suffix(suffix)?;
    if digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()
    } else {
        None
    }
}

/// A [`StoreError::SnapshotIo`] about `path`.
fn io_error(path: &Path, what: &str, e: io::Error) -> StoreError {
    StoreError::SnapshotIo {
        path: path.to_owned(),
        reason: format!("{what}: {e}"),
    }
}

/// The files of a data directory that matter.
#[derive(Default)]
struct Listing {
    snapshots: Vec<u64>,
    logs: Vec<u64>,
    temps: Vec<PathBuf>,
}

fn list(dir: &Path) -> Result<Listing, StoreError> {
    let mut listing = Listing::default();
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, "cannot list", e))?;
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, "cannot list", e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        if let Some(g) = generation_of(name, "snapshot-", ".snap") {
            listing.snapshots.push(g);
        } else if let Some(g) = generation_of(name, "log-", ".wal") {
            listing.logs.push(g);
        } else if name.starts_with('.') && name.ends_with(".tmp") && name.len() > 5 {
            listing.temps.push(entry.path());
        }
    }
    listing.snapshots.sort_unstable();
    listing.logs.sort_unstable();
    Ok(listing)
}

/// What the writer lock guards.
struct Writer {
    /// Records appended and not yet handed to the file.
    buf: Vec<u8>,
    /// Bytes of records appended since open (the logical end of the log).
    appended: u64,
    /// The size of the current log: header, written and buffered records.
    log_len: u64,
    /// The current log's generation.
    generation: u64,
    /// Set by `close`: later writes fail with [`StoreError::LogClosed`].
    closed: bool,
}

/// What the io lock guards: the open log.
struct Io {
    /// The current log, open for appending; `None` once closed.
    file: Option<File>,
    /// Its path.
    path: PathBuf,
    /// Bytes of records handed to the file since open.
    written: u64,
    /// Of those, the bytes synced.
    synced: u64,
    /// An empty buffer to swap in for the one being written (keeps its capacity).
    spare: Vec<u8>,
}

impl Io {
    /// Writes `bytes` at the end of the log.
    fn write(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        if bytes.is_empty() {
            return Ok(());
        }
        let Some(file) = self.file.as_mut() else {
            return Err(StoreError::LogClosed);
        };
        file.write_all(bytes).map_err(|e| StoreError::LogIo {
            path: self.path.clone(),
            reason: format!("cannot write: {e}"),
        })?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    /// `fdatasync`s the log if some written bytes are not synced; true if it synced.
    fn sync(&mut self) -> Result<bool, StoreError> {
        if self.synced >= self.written {
            return Ok(false);
        }
        let Some(file) = self.file.as_mut() else {
            return Err(StoreError::LogClosed);
        };
        file.sync_data().map_err(|e| StoreError::LogIo {
            path: self.path.clone(),
            reason: format!("cannot sync: {e}"),
        })?;
        self.synced = self.written;
        Ok(true)
    }
}

/// What the synced lock guards.
#[derive(Default)]
struct Synced {
    /// Bytes of records written and synced since open.
    durable: u64,
    /// `fdatasync` calls since open.
    syncs: u64,
    /// A thread is flushing for the group (`SyncMode::Always`).
    leader: bool,
    /// The first failed write or sync; sticky.
    failure: Option<StoreError>,
}

/// The state shared with the background thread.
struct Shared {
    dir: PathBuf,
    options: DurableOptions,
    checkpoint: Mutex<()>,
    writer: Mutex<Writer>,
    io: Mutex<Io>,
    synced: Mutex<Synced>,
    synced_changed: Condvar,
    /// Set with `synced.failure`: the writers' check without taking `synced`.
    failed: AtomicBool,
    /// Checkpoints completed since open.
    checkpoints: AtomicU64,
    /// The directory lock, released by `close`.
    dir_lock: Mutex<Option<DirLock>>,
    /// Tells the background thread to stop.
    stop: Mutex<bool>,
    stop_changed: Condvar,
}

impl Shared {
    /// The sticky failure, if any.
    fn failure(&self) -> Option<StoreError> {
        if self.failed.load(Ordering::Acquire) {
            lock(&self.synced).failure.clone()
        } else {
            None
        }
    }

    /// Records a failed write or sync (the first one sticks) and wakes the waiters.
    fn fail(&self, err: StoreError) -> StoreError {
        let mut synced = lock(&self.synced);
        let err = synced.failure.get_or_insert(err).clone();
        self.failed.store(true, Ordering::Release);
        self.synced_changed.notify_all();
        err
    }

    /// Refuses a write on a closed or failed log.
    fn check_writable(&self, w: &Writer) -> Result<(), StoreError> {
        if w.closed {
            return Err(StoreError::LogClosed);
        }
        self.failure().map_or(Ok(()), Err)
    }

    /// Publishes what `io` has synced and wakes the waiters.
    fn publish(&self, io: &Io, synced_now: bool) {
        let mut synced = lock(&self.synced);
        synced.durable = synced.durable.max(io.synced);
        if synced_now {
            synced.syncs += 1;
        }
        self.synced_changed.notify_all();
    }

    /// Writes the buffer out (and syncs if `sync`): takes `io` while holding `w`, swaps the
    /// buffer out, releases `w`, then writes holding `io` only. A failure is recorded.
    fn drain(&self, mut w: MutexGuard<'_, Writer>, sync: bool) -> Result<(), StoreError> {
        let mut io = lock(&self.io);
        let spare = std::mem::take(&mut io.spare);
        let mut bytes = std::mem::replace(&mut w.buf, spare);
        drop(w);
        let result = io
            .write(&bytes)
            .and_then(|()| if sync { io.sync() } else { Ok(false) });
        bytes.clear();
        if bytes.capacity() <= SPARE_KEEP_BYTES {
            io.spare = bytes;
        }
        match result {
            Ok(synced_now) => {
                if synced_now {
                    self.publish(&io, true);
                }
                Ok(())
            }
            Err(StoreError::LogClosed) => Err(StoreError::LogClosed),
            Err(err) => Err(self.fail(err)),
        }
    }

    /// Waits until the log is durable up to `end` (group commit: leads a flush when no other
    /// thread does).
    fn wait_durable(&self, end: u64) -> Result<(), StoreError> {
        loop {
            let mut synced = lock(&self.synced);
            loop {
                if synced.durable >= end {
                    return Ok(());
                }
                if let Some(err) = &synced.failure {
                    return Err(err.clone());
                }
                if !synced.leader {
                    break;
                }
                synced = self
                    .synced_changed
                    .wait(synced)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            synced.leader = true;
            drop(synced);
            let result = self.drain(lock(&self.writer), true);
            let mut synced = lock(&self.synced);
            synced.leader = false;
            self.synced_changed.notify_all();
            drop(synced);
            result?;
        }
    }

    /// The background thread of `Batch` and `None`: writes (and for `Batch` syncs) the buffer
    /// every [`BATCH_INTERVAL`] until the log is closed or fails.
    fn run_flusher(&self) {
        let sync = self.options.sync == SyncMode::Batch;
        loop {
            let stop = lock(&self.stop);
            let (stop, _) = self
                .stop_changed
                .wait_timeout_while(stop, BATCH_INTERVAL, |stop| !*stop)
                .unwrap_or_else(PoisonError::into_inner);
            if *stop {
                return;
            }
            drop(stop);
            let w = lock(&self.writer);
            if w.closed || self.failed.load(Ordering::Acquire) {
                return;
            }
            if self.drain(w, sync).is_err() {
                return;
            }
        }
    }
}

/// The log of a durable [`Store`](crate::core::Store): its data directory, group commit and
/// checkpoints.
pub(crate) struct Durable {
    shared: Arc<Shared>,
    flusher: Mutex<Option<JoinHandle<()>>>,
}

/// What a checkpoint does besides rotating the log and writing a snapshot.
enum Kind<'a> {
    /// `checkpoint()`.
    Manual,
    /// A write left the log at the threshold: skipped if another checkpoint got there first.
    Auto,
    /// `replace_all`: installs the new content with the writers held off until the snapshot
    /// holding it is written.
    Install(Box<dyn FnOnce() + 'a>),
}

impl Durable {
    /// Applies one write and appends its record(s) under the writer lock (`f` does both and
    /// returns the call's result), then waits for durability as the mode says and runs an
    /// automatic checkpoint if the log reached its threshold.
    pub(crate) fn write<R>(
        &self,
        mem: &MemStore,
        f: impl FnOnce(&mut Vec<u8>) -> R,
    ) -> Result<R, StoreError> {
        let shared = &*self.shared;
        let mut w = lock(&shared.writer);
        shared.check_writable(&w)?;
        let before = w.buf.len();
        let result = f(&mut w.buf);
        let added = (w.buf.len() - before) as u64;
        if added == 0 {
            return Ok(result);
        }
        w.appended += added;
        w.log_len += added;
        let end = w.appended;
        let log_len = w.log_len;
        if w.buf.len() >= SPILL_BYTES {
            shared.drain(w, false)?;
        } else {
            drop(w);
        }
        if shared.options.sync == SyncMode::Always {
            shared.wait_durable(end)?;
        }
        if log_len >= shared.options.checkpoint_log_bytes {
            self.run_checkpoint(mem, Kind::Auto)?;
        }
        Ok(result)
    }

    /// `replace_all` on a durable store: `install` runs as a checkpoint's content change.
    pub(crate) fn replace_all<'a>(
        &self,
        mem: &MemStore,
        install: impl FnOnce() + 'a,
    ) -> Result<(), StoreError> {
        self.run_checkpoint(mem, Kind::Install(Box::new(install)))
    }

    /// A manual checkpoint of the content of `mem`.
    pub(crate) fn checkpoint(&self, mem: &MemStore) -> Result<(), StoreError> {
        self.run_checkpoint(mem, Kind::Manual)
    }

    /// A checkpoint (`docs/DURABILITY.md`, "Checkpoints") of the content of `mem`.
    fn run_checkpoint(&self, mem: &MemStore, kind: Kind<'_>) -> Result<(), StoreError> {
        let shared = &*self.shared;
        let _one_at_a_time = lock(&shared.checkpoint);
        let mut w = lock(&shared.writer);
        shared.check_writable(&w)?;
        if matches!(kind, Kind::Auto) && w.log_len < shared.options.checkpoint_log_bytes {
            return Ok(());
        }
        // 1. Write out and sync log N.
        let mut io = lock(&shared.io);
        let bytes = std::mem::take(&mut w.buf);
        let flushed = io.write(&bytes).and_then(|()| io.sync());
        match flushed {
            Ok(synced_now) => shared.publish(&io, synced_now),
            Err(err) => return Err(shared.fail(err)),
        }
        let old = w.generation;
        let install = match kind {
            Kind::Install(install) => {
                install();
                true
            }
            Kind::Manual | Kind::Auto => false,
        };
        // An install that cannot be made durable leaves memory ahead of the disk: no more writes.
        let failed_install = |err: StoreError| {
            if install {
                shared.fail(StoreError::LogIo {
                    path: log_path(&shared.dir, old),
                    reason: format!("replace_all could not be made durable: {err}"),
                })
            } else {
                err
            }
        };
        // 2. Create log N+1 and send every later write there.
        let next = old + 1;
        let path = log_path(&shared.dir, next);
        let file = write_atomically(&path, &wal::header(next))
            .and_then(|()| OpenOptions::new().append(true).open(&path))
            .map_err(|e| {
                // Writes go on to log N, which must then stay the newest log (only the newest may
                // end in a torn record): remove log N+1 if it was created. Best effort.
                let _ = fs::remove_file(&path);
                failed_install(io_error(&path, "cannot create the log", e))
            })?;
        io.file = Some(file);
        io.path = path;
        drop(io);
        w.generation = next;
        w.log_len = HEADER_LEN as u64;
        // 3. The content, then the writers go on (after the snapshot for an install).
        let snapshot = mem.to_snapshot_bytes();
        let held = if install {
            Some(w)
        } else {
            drop(w);
            None
        };
        // 4. Snapshot N+1.
        let snap = snapshot_path(&shared.dir, next);
        write_atomically(&snap, &snapshot)
            .map_err(|e| failed_install(io_error(&snap, "cannot save", e)))?;
        drop(held);
        // 5. Delete generations up to N.
        delete_below(&shared.dir, next)?;
        shared.checkpoints.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Flushes, syncs and closes the log, releases the directory lock and stops the background
    /// thread. Idempotent; later writes fail with [`StoreError::LogClosed`].
    pub(crate) fn close(&self) -> Result<(), StoreError> {
        let shared = &*self.shared;
        let result = {
            let mut w = lock(&shared.writer);
            if w.closed {
                return Ok(());
            }
            w.closed = true;
            let mut io = lock(&shared.io);
            let result = match shared.failure() {
                Some(err) => Err(err),
                None => {
                    let bytes = std::mem::take(&mut w.buf);
                    match io.write(&bytes).and_then(|()| io.sync()) {
                        Ok(synced_now) => {
                            shared.publish(&io, synced_now);
                            Ok(())
                        }
                        Err(err) => Err(shared.fail(err)),
                    }
                }
            };
            io.file = None;
            drop(io);
            drop(w);
            *lock(&shared.dir_lock) = None;
            result
        };
        *lock(&shared.stop) = true;
        shared.stop_changed.notify_all();
        if let Some(flusher) = lock(&self.flusher).take() {
            // The thread only returns; a panic in it has nothing to report here.
            let _ = flusher.join();
        }
        shared.synced_changed.notify_all();
        result
    }

    /// The log's counters.
    pub(crate) fn stats(&self) -> LogStats {
        let shared = &*self.shared;
        // Durable first: it never passes what was appended before it was read.
        let (durable, syncs) = {
            let synced = lock(&shared.synced);
            (synced.durable, synced.syncs)
        };
        let w = lock(&shared.writer);
        LogStats {
            appended: w.appended,
            durable,
            syncs,
            generation: w.generation,
            log_bytes: w.log_len,
            checkpoints: shared.checkpoints.load(Ordering::Relaxed),
        }
    }
}

/// The content after replaying `entries` in order on the snapshot's `users` (ascending by id):
/// ascending by id, each user once.
///
/// Writes to different ids commute, so only the last write to each id counts: the entries
/// become (id, name or removed) in log order, sorted by id stably (log order kept among equal
/// ids), the last of each id kept, then merged with the snapshot's users. The store is then
/// built once by `replace_all` (presized tables, built in parallel) instead of one `put` per
/// record.
fn replayed<'a>(users: Vec<(u64, &'a str)>, entries: &[Entry<'a>]) -> Vec<(u64, &'a str)> {
    if entries.is_empty() {
        return users;
    }
    let mut changes: Vec<(u64, Option<&'a str>)> = Vec::with_capacity(entries.len());
    for entry in entries {
        match entry {
            Entry::Put(id, name) => changes.push((*id, Some(*name))),
            Entry::Remove(id) => changes.push((*id, None)),
            Entry::Import(batch) => {
                changes.extend(batch.iter().map(|&(id, name)| (id, Some(name))))
            }
            Entry::Batch { puts, removes } => {
                changes.extend(puts.iter().map(|&(id, name)| (id, Some(name))));
                changes.extend(removes.iter().map(|&id| (id, None)));
            }
        }
    }
    changes.sort_by_key(|&(id, _)| id);
    // The last change of each id.
    let mut last: Vec<(u64, Option<&'a str>)> = Vec::with_capacity(changes.len());
    for change in changes {
        match last.last_mut() {
            Some(previous) if previous.0 == change.0 => *previous = change,
            _ => last.push(change),
        }
    }
    let mut out = Vec::with_capacity(users.len() + last.len());
    let mut users = users.into_iter().peekable();
    let mut changes = last.into_iter().peekable();
    while let Some(&(changed, value)) = changes.peek() {
        // The snapshot's users before this id are unchanged.
        while let Some(user) = users.next_if(|&(id, _)| id < changed) {
            out.push(user);
        }
        // A user of the snapshot with this id gives way to the log's last word on it.
        users.next_if(|&(id, _)| id == changed);
        if let Some(name) = value {
            out.push((changed, name));
        }
        changes.next();
    }
    out.extend(users);
    out
}

/// Deletes the snapshots and logs of generations below `base` and syncs the directory.
fn delete_below(dir: &Path, base: u64) -> Result<(), StoreError> {
    let listing = list(dir)?;
    let mut deleted = false;
    for &g in listing.snapshots.iter().filter(|&&g| g < base) {
        let path = snapshot_path(dir, g);
        fs::remove_file(&path).map_err(|e| io_error(&path, "cannot delete", e))?;
        deleted = true;
    }
    for &g in listing.logs.iter().filter(|&&g| g < base) {
        let path = log_path(dir, g);
        fs::remove_file(&path).map_err(|e| io_error(&path, "cannot delete", e))?;
        deleted = true;
    }
    if deleted {
        sync_dir(dir).map_err(|e| io_error(dir, "cannot sync the directory", e))?;
    }
    Ok(())
}

impl Drop for Durable {
    fn drop(&mut self) {
        // Dropping the store closes its log; nobody is left to hear of a failure.
        let _ = self.close();
    }
}

impl fmt::Debug for Durable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Durable")
            .field("dir", &self.shared.dir)
            .field("options", &self.shared.options)
            .finish()
    }
}

impl Durable {
    /// Opens (creating it if missing) the data directory `dir`: locks it, loads its newest
    /// snapshot and replays the logs after it (`docs/DURABILITY.md`, "Opening a directory").
    /// Returns the content as a new memory store, and the log that every later write of the
    /// facade goes through, as `options.sync` says.
    ///
    /// # Errors
    /// [`StoreError::Locked`] if another store has the directory open (in this process or
    /// another); [`StoreError::SnapshotCorrupt`] naming the file (and the offset, in a log) for
    /// a damaged snapshot or log, or a log missing from the chain, in which case nothing in the
    /// directory was changed; [`StoreError::SnapshotIo`] for any other I/O failure.
    pub(crate) fn open(
        dir: &Path,
        options: DurableOptions,
    ) -> Result<(MemStore, Durable), StoreError> {
        let dir = dir.to_owned();
        // 1. The directory and its lock.
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, "cannot create the directory", e))?;
        let lock_path = dir.join("LOCK");
        let dir_lock = dirlock::try_lock(&lock_path)
            .map_err(|e| io_error(&lock_path, "cannot lock", e))?
            .ok_or_else(|| StoreError::Locked {
                path: lock_path.clone(),
            })?;
        // 2. The files (temporary ones are deleted in step 6, once everything was checked: an
        // open refused for damage changes nothing).
        let listing = list(&dir)?;
        // 3. The base snapshot, read and checked (the store is built once the logs are read).
        let base = listing.snapshots.last().copied();
        let snapshot_bytes = match base {
            Some(g) => {
                let path = snapshot_path(&dir, g);
                fs::read(&path).map_err(|e| io_error(&path, "cannot read", e))?
            }
            None => Vec::new(),
        };
        let snapshot_users = match base {
            Some(g) => users_of(&snapshot_bytes, &snapshot_path(&dir, g))?,
            None => Vec::new(),
        };
        let base = base.unwrap_or(1);
        // 4. The chain of logs from the base.
        let logs: Vec<u64> = listing
            .logs
            .iter()
            .copied()
            .filter(|&g| g >= base)
            .collect();
        for (i, &g) in logs.iter().enumerate() {
            let expected = base + i as u64;
            if g != expected {
                return Err(StoreError::SnapshotCorrupt {
                    path: log_path(&dir, expected),
                    reason: format!(
                        "missing: the logs after snapshot {base} must follow each other, \
                         found log {g}"
                    ),
                });
            }
        }
        let newest = match logs.last() {
            Some(&g) => g,
            None => {
                let path = log_path(&dir, base);
                write_atomically(&path, &wal::header(base))
                    .map_err(|e| io_error(&path, "cannot create the log", e))?;
                base
            }
        };
        // 5. Replay: every log is read and checked before anything is applied or cut.
        let contents = (base..=newest)
            .map(|g| {
                let path = log_path(&dir, g);
                fs::read(&path)
                    .map(|bytes| (g, path.clone(), bytes))
                    .map_err(|e| io_error(&path, "cannot read", e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut entries: Vec<Entry<'_>> = Vec::new();
        let mut newest_len = 0;
        let mut torn = false;
        for (g, path, bytes) in &contents {
            let scanned = wal::scan(bytes, *g, *g == newest, path, |e| entries.push(e))?;
            newest_len = scanned.valid_len;
            torn = scanned.torn;
        }
        let users = replayed(snapshot_users, &entries);
        drop(entries);
        let mem = MemStore::new();
        mem.replace_all(users)?;
        drop(contents);
        drop(snapshot_bytes);
        // The files' bytes and the replay's temporaries are freed: give their pages back (glibc
        // keeps freed heap pages resident otherwise: +16 B/user over a 1M-user reopen).
        crate::reclaim::trim_heap();
        let newest_path = log_path(&dir, newest);
        if torn {
            let file = OpenOptions::new()
                .write(true)
                .open(&newest_path)
                .map_err(|e| io_error(&newest_path, "cannot open", e))?;
            file.set_len(newest_len as u64)
                .and_then(|()| file.sync_all())
                .map_err(|e| io_error(&newest_path, "cannot cut the torn tail", e))?;
        }
        // 6. Temporary files and older generations go; appends go to the newest log.
        for temp in &listing.temps {
            fs::remove_file(temp).map_err(|e| io_error(temp, "cannot delete", e))?;
        }
        delete_below(&dir, base)?;
        let file = OpenOptions::new()
            .append(true)
            .open(&newest_path)
            .map_err(|e| io_error(&newest_path, "cannot open", e))?;
        let sync = options.sync;
        let shared = Arc::new(Shared {
            dir,
            options,
            checkpoint: Mutex::new(()),
            writer: Mutex::new(Writer {
                buf: Vec::new(),
                appended: 0,
                log_len: newest_len as u64,
                generation: newest,
                closed: false,
            }),
            io: Mutex::new(Io {
                file: Some(file),
                path: newest_path,
                written: 0,
                synced: 0,
                spare: Vec::new(),
            }),
            synced: Mutex::new(Synced::default()),
            synced_changed: Condvar::new(),
            failed: AtomicBool::new(false),
            checkpoints: AtomicU64::new(0),
            dir_lock: Mutex::new(Some(dir_lock)),
            stop: Mutex::new(false),
            stop_changed: Condvar::new(),
        });
        let flusher = if sync == SyncMode::Always {
            None
        } else {
            let background = Arc::clone(&shared);
            let thread = std::thread::Builder::new()
                .name("userstore-wal-sync".to_owned())
                .spawn(move || background.run_flusher())
                .map_err(|e| io_error(&shared.dir, "cannot start the log thread", e))?;
            Some(thread)
        };
        let log = Durable {
            shared,
            flusher: Mutex::new(flusher),
        };
        Ok((mem, log))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_keeps_the_last_write_of_each_id() {
        let users = vec![(1, "a"), (3, "c"), (5, "e"), (7, "g")];
        let entries = vec![
            Entry::Put(3, "c1"),
            Entry::Remove(5),
            Entry::Put(4, "d"),
            Entry::Import(vec![(9, "i"), (3, "c2"), (0, "z"), (9, "i2")]),
            Entry::Remove(4),
            Entry::Put(5, "e2"),
            Entry::Remove(7),
            Entry::Remove(8),
        ];
        assert_eq!(
            replayed(users.clone(), &entries),
            vec![(0, "z"), (1, "a"), (3, "c2"), (5, "e2"), (9, "i2")]
        );
        assert_eq!(replayed(users.clone(), &[]), users);
        assert_eq!(replayed(vec![], &entries[..1]), vec![(3, "c1")]);
    }

    #[test]
    fn replay_applies_a_batch_puts_first_then_removes() {
        let users = vec![(1, "a"), (2, "b"), (3, "c")];
        let entries = vec![
            Entry::Batch {
                puts: vec![(4, "d"), (1, "a1"), (4, "d2")],
                removes: vec![3, 2],
            },
            Entry::Put(2, "b2"),
            Entry::Batch {
                puts: vec![],
                removes: vec![4],
            },
        ];
        assert_eq!(
            replayed(users.clone(), &entries),
            vec![(1, "a1"), (2, "b2")]
        );
        assert_eq!(replayed(users, &entries[..1]), vec![(1, "a1"), (4, "d2")]);
    }

    #[test]
    fn sync_modes_parse() {
        assert_eq!("always".parse(), Ok(SyncMode::Always));
        assert_eq!("batch".parse(), Ok(SyncMode::Batch));
        assert_eq!("none".parse(), Ok(SyncMode::None));
        assert!("ALWAYS".parse::<SyncMode>().is_err());
    }

    #[test]
    fn file_names_have_20_digits() {
        assert_eq!(
            log_path(Path::new("/d"), 3),
            Path::new("/d/log-00000000000000000003.wal")
        );
        assert_eq!(
            generation_of("snapshot-00000000000000000012.snap", "snapshot-", ".snap"),
            Some(12)
        );
        assert_eq!(generation_of("log-12.wal", "log-", ".wal"), None);
        assert_eq!(
            generation_of("log-99999999999999999999.wal", "log-", ".wal"),
            None
        );
        assert_eq!(
            DurableOptions::new(SyncMode::Batch).checkpoint_log_bytes,
            64 << 20
        );
    }
}
