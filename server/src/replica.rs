//! `--db URL --db-mode replica`: the in-process core store kept equal to the `users` table by
//! logical replication (`pgoutput`, protocol 1), as userstore-postgres' `PostgresReplica` does for
//! the JVM stores (docs/POSTGRES.md); reads are answered from the store, writes go to PostgreSQL
//! and are answered once the store has applied their commit ([`ReplicaState::wait_applied`]).
//!
//! The replication protocol is carried by pgwire-replication, a maintained tokio crate (the
//! replication sub-protocol, `CopyBoth`, is not available in tokio-postgres releases). Its *gated*
//! session runs `CREATE_REPLICATION_SLOT ... TEMPORARY LOGICAL pgoutput EXPORT_SNAPSHOT` and then
//! `START_REPLICATION` on one connection, so the initial copy is read (on a pooled tokio-postgres
//! connection) inside the slot's exported snapshot: it ends exactly at the slot's consistent point,
//! where the stream starts. Nothing is lost, nothing applied twice.
//!
//! Per session:
//! 1. the table, its index and the publication `userstore_users` are created if missing (the same
//!    advisory lock and names as the Kotlin library, so both kinds of replica share a database);
//! 2. a temporary slot `userstore_rs_<random>` and the copy in its snapshot: into an empty store
//!    in batches; into a store that holds data (a reconnect) as ONE `apply_batch` of the difference,
//!    so readers go from the old state to the new one in one step;
//! 3. the stream: each transaction's changes collapsed per id to their final state
//!    ([`Transaction`]) and applied as ONE `Store::apply_batch` at its Commit; a reader never sees
//!    half of a source transaction.
//!
//! Rows that break the store's rules (docs/RULES.md) are reported (a warning naming the id and
//! the reason, `userstore_replica_rejected_rows_total`) and counted as absent: not applied, and an
//! earlier version of the row is removed. Any failure ends the session; the store keeps serving
//! its last state, `/health` says why it is not caught up, and a new session starts after a backoff
//! (100 ms doubling to 10 s, with jitter): a new temporary slot and a new copy (a diff).

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::TryStreamExt;
use metrics::Histogram;
use pgwire_replication::{Lsn, ReplicationClient, ReplicationConfig, ReplicationEvent, TlsConfig};
use tokio::sync::watch;
use userstore::{Store, StoreError};

use crate::app::AppState;
use crate::db::{check_user, Database, DbError, Written};
use crate::pgoutput::{self, Column, Message};

/// The publication the replicas read (the same name as userstore-postgres').
pub const PUBLICATION: &str = "userstore_users";

/// Creates the publication if missing, under the schema's advisory lock.
const CREATE_PUBLICATION: &str = "BEGIN;
SELECT pg_advisory_xact_lock(8463219666996981618);
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'userstore_users') THEN
    CREATE PUBLICATION userstore_users FOR TABLE users;
  END IF;
END $$;
COMMIT;";

/// How many applied transaction ids a write's wait can find (a write whose transaction is older
/// than that is covered by the applied position anyway).
const RECENT_XIDS: usize = 4096;

/// Rows per `apply_batch` when the copy fills an empty store.
const COPY_BATCH: usize = 10_000;

const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Microseconds from 1970-01-01 to 2000-01-01 (PostgreSQL's epoch).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// `X/Y`, PostgreSQL's spelling of a WAL position.
pub fn lsn_text(lsn: u64) -> String {
    format!("{:X}/{:X}", lsn >> 32, lsn & 0xFFFF_FFFF)
}

/// The file in a durable replica's `--data-dir` that holds its slot and applied position.
pub const POSITION_FILE: &str = "replica-position";

/// How often, at most, the position file is rewritten while transactions stream (a keepalive
/// between transactions writes it at once): each write costs two fsyncs, and a position that lags
/// only means a few transactions applied again after a restart.
const SAVE_INTERVAL: Duration = Duration::from_millis(20);

/// Checks a `--db-slot` name: PostgreSQL's rules for slot names (1 to 63 of `a-z`, `0-9`, `_`).
pub fn check_slot_name(name: &str) -> Result<(), String> {
    let valid = (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "--db-slot {name:?}: a slot name is 1 to 63 lower-case letters, digits or underscores"
        ))
    }
}

/// A durable replica: its named slot, and the position file in its data directory. The position
/// written there is always one whose transactions are all durable in the store (the store is
/// opened with `SyncMode::Always`: `apply_batch` returns after its log record is fdatasync'ed), and
/// it is the only position PostgreSQL is told (standby status updates): the slot keeps every
/// transaction after it.
pub struct Durable {
    slot: String,
    dir: PathBuf,
    /// The position in the file (0: none) and when it was written.
    saved: Mutex<(u64, Instant)>,
}

impl Durable {
    /// Reads `dir`'s position file; a file written for another slot counts as none (said on stderr).
    pub fn open(dir: &Path, slot: &str) -> Result<Durable, String> {
        check_slot_name(slot)?;
        let path = dir.join(POSITION_FILE);
        let saved = match std::fs::read_to_string(&path) {
            Ok(text) => match parse_position(&text) {
                Some((file_slot, lsn)) if file_slot == slot => lsn,
                Some((file_slot, _)) => {
                    tracing::warn!(
                        "replica: {} is for slot {file_slot}, not {slot}: the table will be copied",
                        path.display()
                    );
                    0
                }
                None => return Err(format!("{}: not a replica position file", path.display())),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        };
        Ok(Durable {
            slot: slot.to_owned(),
            dir: dir.to_owned(),
            saved: Mutex::new((saved, Instant::now())),
        })
    }

    /// The position in the file (0: none).
    pub fn saved(&self) -> u64 {
        self.saved.lock().unwrap_or_else(PoisonError::into_inner).0
    }

    /// Writes `lsn` to the position file if it moves forward and `now` (or [`SAVE_INTERVAL`] has
    /// passed since the last write); returns the position in the file.
    fn save(&self, lsn: u64, now: bool) -> Result<u64, DbError> {
        let mut saved = self.saved.lock().unwrap_or_else(PoisonError::into_inner);
        if lsn <= saved.0 || (!now && saved.1.elapsed() < SAVE_INTERVAL) {
            return Ok(saved.0);
        }
        self.write(Some(lsn))
            .map_err(|e| DbError(format!("cannot write the replica position: {e}")))?;
        *saved = (lsn, Instant::now());
        Ok(lsn)
    }

    /// Removes the position file (before a copy: a crash during the copy must not leave a position
    /// that a half-copied store would resume from).
    fn forget(&self) -> Result<(), DbError> {
        let mut saved = self.saved.lock().unwrap_or_else(PoisonError::into_inner);
        self.write(None)
            .map_err(|e| DbError(format!("cannot remove the replica position: {e}")))?;
        saved.0 = 0;
        Ok(())
    }

    /// The file replaced atomically (a temporary file written and fsync'ed, renamed over it, the
    /// directory fsync'ed), or removed (then the directory fsync'ed). Hand-written: a dozen lines
    /// of std; the crates that do it (atomicwrites, tempfile) add nothing here but a dependency.
    fn write(&self, lsn: Option<u64>) -> std::io::Result<()> {
        use std::io::Write;
        let path = self.dir.join(POSITION_FILE);
        match lsn {
            Some(lsn) => {
                let temp = self.dir.join(format!("{POSITION_FILE}.tmp"));
                let mut file = std::fs::File::create(&temp)?;
                file.write_all(format!("slot {} lsn {}\n", self.slot, lsn_text(lsn)).as_bytes())?;
                file.sync_all()?;
                drop(file);
                std::fs::rename(&temp, &path)?;
            }
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                _ => {}
            },
        }
        std::fs::File::open(&self.dir)?.sync_all()
    }
}

/// `slot NAME lsn X/Y` → (NAME, position).
fn parse_position(text: &str) -> Option<(&str, u64)> {
    let mut words = text.split_whitespace();
    let (Some("slot"), Some(slot), Some("lsn"), Some(lsn), None) = (
        words.next(),
        words.next(),
        words.next(),
        words.next(),
        words.next(),
    ) else {
        return None;
    };
    Some((slot, Lsn::parse(lsn).ok()?.as_u64()))
}

/// Where the replica is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Connecting,
    Copying,
    Streaming,
    Reconnecting,
}

impl Phase {
    pub fn label(self) -> &'static str {
        match self {
            Phase::Connecting => "connecting",
            Phase::Copying => "copying",
            Phase::Streaming => "streaming",
            Phase::Reconnecting => "reconnecting",
        }
    }
}

/// What the handlers read: the applied position (waited on by writes), the phase, the last error
/// and the counters.
pub struct ReplicaState {
    applied: watch::Sender<u64>,
    /// The ids of the last [`RECENT_XIDS`] transactions applied from the stream.
    recent_xids: Mutex<VecDeque<u32>>,
    status: Mutex<(Phase, Option<String>)>,
    pub rejected_rows: AtomicU64,
    pub reconnects: AtomicU64,
    pub copies: AtomicU64,
    /// Sessions that resumed a durable replica's slot from its stored position (no copy).
    pub resumes: AtomicU64,
    /// A durable replica's named slot and position file (`--data-dir`); `None`: a temporary slot.
    durable: Option<Durable>,
    /// Microseconds from the last applied transaction's commit on the server to its apply here.
    pub last_commit_delay_micros: AtomicU64,
}

impl Default for ReplicaState {
    fn default() -> Self {
        ReplicaState {
            applied: watch::Sender::new(0),
            recent_xids: Mutex::new(VecDeque::with_capacity(RECENT_XIDS)),
            status: Mutex::new((Phase::Connecting, None)),
            rejected_rows: AtomicU64::new(0),
            reconnects: AtomicU64::new(0),
            copies: AtomicU64::new(0),
            resumes: AtomicU64::new(0),
            durable: None,
            last_commit_delay_micros: AtomicU64::new(0),
        }
    }
}

impl ReplicaState {
    /// The state of a durable replica: its slot and position file.
    pub fn durable(durable: Durable) -> ReplicaState {
        ReplicaState {
            durable: Some(durable),
            ..ReplicaState::default()
        }
    }

    /// The WAL position up to which every transaction is in the store (0 before the first copy).
    pub fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    fn advance(&self, lsn: u64) {
        self.applied.send_if_modified(|applied| {
            if lsn > *applied {
                *applied = lsn;
                true
            } else {
                false
            }
        });
    }

    /// The phase and the reason it is not streaming (secrets already scrubbed).
    pub fn status(&self) -> (Phase, Option<String>) {
        self.status
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn set_status(&self, phase: Phase, reason: Option<String>) {
        *self.status.lock().unwrap_or_else(PoisonError::into_inner) = (phase, reason);
    }

    /// Waits until the applied position reaches `lsn`; false after `timeout`.
    pub async fn wait_applied(&self, lsn: u64, timeout: Duration) -> bool {
        self.wait_until(timeout, || self.applied() >= lsn).await
    }

    /// Waits until `written` is in the store: its transaction applied from the stream, or the
    /// applied position at or past its position (a copy made after it); false after `timeout`.
    pub async fn wait_written(&self, written: Written, timeout: Duration) -> bool {
        let Some(xid) = written.xid else {
            return true;
        };
        self.wait_until(timeout, || {
            self.applied() >= written.lsn
                || self
                    .recent_xids
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .contains(&xid)
        })
        .await
    }

    async fn wait_until(&self, timeout: Duration, done: impl Fn() -> bool) -> bool {
        let mut rx = self.applied.subscribe();
        let wait = async {
            loop {
                if done() {
                    return true;
                }
                if rx.changed().await.is_err() {
                    return false;
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }

    /// Records that transaction `xid` is applied (before the position moves past it).
    fn applied_xid(&self, xid: u32) {
        let mut recent = self
            .recent_xids
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if recent.len() == RECENT_XIDS {
            recent.pop_front();
        }
        recent.push_back(xid);
    }
}

/// One source transaction's changes, collapsed per id to the final state: `Some(name)` = put,
/// `None` = removed. `truncated`: the table was truncated first (every id not put afterwards goes).
#[derive(Debug, Default)]
pub struct Transaction {
    changes: HashMap<i64, Option<String>>,
    truncated: bool,
    /// The source transaction's id (from its Begin).
    pub xid: u32,
}

impl Transaction {
    pub fn put(&mut self, id: i64, name: String) {
        self.changes.insert(id, Some(name));
    }

    pub fn remove(&mut self, id: i64) {
        self.changes.insert(id, None);
    }

    pub fn truncate(&mut self) {
        self.changes.clear();
        self.truncated = true;
    }

    /// Adds the changes of `later`, a transaction committed after this one's (its truncate first,
    /// then its changes: each id's final state wins).
    fn absorb(&mut self, later: &Transaction) {
        if later.truncated {
            self.truncate();
        }
        for (id, change) in &later.changes {
            self.changes.insert(*id, change.clone());
        }
    }

    /// Whether it changes any row (puts, removes or a truncate).
    fn changes_rows(&self) -> bool {
        self.truncated || !self.changes.is_empty()
    }

    /// The name `id` has at this point of the transaction: its pending change, else the store's.
    fn current(&self, store: &Store, id: i64) -> Option<String> {
        match self.changes.get(&id) {
            Some(change) => change.clone(),
            None if self.truncated => None,
            None => store.get(id).ok().flatten(),
        }
    }

    /// The batch for `store`: puts and removes, disjoint (each id once).
    pub fn batch(self, store: &Store) -> (Vec<(i64, String)>, Vec<i64>) {
        let mut puts = Vec::new();
        let mut removes = Vec::new();
        for (id, change) in self.changes {
            match change {
                Some(name) => puts.push((id, name)),
                None => removes.push(id),
            }
        }
        if self.truncated {
            let kept: HashSet<i64> = puts.iter().map(|(id, _)| *id).collect();
            let already: HashSet<i64> = removes.iter().copied().collect();
            for id in all_ids(store) {
                if !kept.contains(&id) && !already.contains(&id) {
                    removes.push(id);
                }
            }
        }
        (puts, removes)
    }
}

/// Every id of the store, by pages.
fn all_ids(store: &Store) -> Vec<i64> {
    let mut ids = Vec::with_capacity(usize::try_from(store.len()).unwrap_or(0));
    let mut from = 0i64;
    loop {
        let mut last = None;
        let _ = store.scan_utf8_with(from, COPY_BATCH, |id, _| {
            ids.push(id as i64);
            last = Some(id as i64);
        });
        match last {
            Some(id) if id < i64::MAX => from = id + 1,
            _ => return ids,
        }
    }
}

/// Where `id` and `name` are in the `users` relation.
#[derive(Clone, Copy, Debug)]
struct Columns {
    id: usize,
    name: usize,
}

/// What one row of the stream or the copy means for the store: a valid user or an absent one.
/// A row that breaks the rules is reported here.
fn admit(state: &ReplicaState, id: i64, name: &str) -> Option<String> {
    match check_user(id, name) {
        Ok(()) => Some(name.to_owned()),
        Err(e) => {
            state.rejected_rows.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("replica: row id {id} not applied: {e}");
            None
        }
    }
}

fn text(column: Option<&Column>) -> Option<&[u8]> {
    match column {
        Some(Column::Text(bytes)) => Some(bytes),
        _ => None,
    }
}

fn parse_id(column: Option<&Column>) -> Result<i64, String> {
    let bytes = text(column).ok_or("a row without an id in text format")?;
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| "an id that is not a bigint".to_owned())
}

/// Applies one decoded change message to `txn`.
fn apply_change(
    state: &ReplicaState,
    store: &Store,
    relations: &HashMap<u32, Columns>,
    txn: &mut Transaction,
    message: Message,
) -> Result<(), String> {
    let columns = |oid: u32| {
        relations
            .get(&oid)
            .copied()
            .ok_or_else(|| format!("a change for relation {oid} before its Relation message"))
    };
    match message {
        Message::Insert { oid, new }
        | Message::Update {
            oid,
            new,
            old: None,
        } => {
            let c = columns(oid)?;
            let id = parse_id(new.get(c.id))?;
            let name = match new.get(c.name) {
                Some(Column::Unchanged) => txn.current(store, id),
                Some(Column::Text(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
                _ => return Err(format!("row id {id}: a name that is not text")),
            };
            match name.and_then(|name| admit(state, id, &name)) {
                Some(name) => txn.put(id, name),
                None => txn.remove(id),
            }
        }
        Message::Update {
            oid,
            new,
            old: Some(old),
        } => {
            let c = columns(oid)?;
            let old_id = parse_id(old.get(c.id))?;
            let id = parse_id(new.get(c.id))?;
            let name = match new.get(c.name) {
                Some(Column::Unchanged) => txn.current(store, old_id),
                Some(Column::Text(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
                _ => return Err(format!("row id {id}: a name that is not text")),
            };
            if old_id != id {
                txn.remove(old_id);
            }
            match name.and_then(|name| admit(state, id, &name)) {
                Some(name) => txn.put(id, name),
                None => txn.remove(id),
            }
        }
        Message::Delete { oid, old } => {
            let c = columns(oid)?;
            txn.remove(parse_id(old.get(c.id))?);
        }
        Message::Truncate { oids } if oids.iter().any(|oid| relations.contains_key(oid)) => {
            txn.truncate();
        }
        _ => {}
    }
    Ok(())
}

/// Runs the replica of `app` (its database, store and replica state) forever: sessions, and a
/// backoff between them.
pub async fn run(app: Arc<AppState>) {
    let (Some(db), Some(state)) = (app.database(), app.replica()) else {
        return;
    };
    let store = app.store();
    // Registered once: each applied transaction then costs one push into it.
    let delays = app.telemetry().replica_commit_delay();
    let mut backoff = MIN_BACKOFF;
    loop {
        let error = match session(db, store, state, &delays, &mut backoff).await {
            Ok(()) => "the replication stream ended".to_owned(),
            Err(e) => e.0,
        };
        state.reconnects.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(
            "replica: disconnected ({error}); the store keeps serving its last state; reconnecting in {} ms",
            backoff.as_millis()
        );
        state.set_status(Phase::Reconnecting, Some(error));
        let jitter =
            RandomState::new().build_hasher().finish() % (backoff.as_millis() as u64 / 2 + 1);
        tokio::time::sleep(backoff + Duration::from_millis(jitter)).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Microseconds from a commit at `commit_time_micros` (pgoutput's timestamp: from PostgreSQL's
/// epoch, 2000-01-01) to `now_micros` (from the Unix epoch); 0 when negative (the two clocks
/// disagree).
fn commit_delay_micros(commit_time_micros: i64, now_micros: i64) -> u64 {
    let delay = now_micros.saturating_sub(commit_time_micros.saturating_add(PG_EPOCH_MICROS));
    u64::try_from(delay).unwrap_or(0)
}

fn now_micros() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

async fn session(
    db: &Database,
    store: &Store,
    state: &ReplicaState,
    delays: &Histogram,
    backoff: &mut Duration,
) -> Result<(), DbError> {
    let (phase, _) = state.status();
    if phase != Phase::Reconnecting {
        state.set_status(Phase::Connecting, Some("connecting to the database".into()));
    }
    let client = db.client().await?;
    client
        .batch_execute(crate::db::SCHEMA)
        .await
        .map_err(|e| db.fail_error(&e))?;
    client
        .batch_execute(CREATE_PUBLICATION)
        .await
        .map_err(|e| db.fail_error(&e))?;

    let durable = state.durable.as_ref();
    let slot = match durable {
        Some(durable) => durable.slot.clone(),
        None => format!(
            "userstore_rs_{:016x}",
            RandomState::new().build_hasher().finish()
        ),
    };
    // A durable replica resumes its slot from the stored position when both are there.
    let resume = match durable {
        Some(durable) => check_slot(db, &client, durable).await?,
        None => None,
    };
    if let Some(position) = resume {
        let mut repl = ReplicationClient::connect_gated(
            replication_config(db, &slot)?.with_start_lsn(Lsn::from_u64(position)),
        )
        .await
        .map_err(|e| db.fail_error(&e))?;
        drop(client);
        repl.start().await.map_err(|e| db.fail_error(&e))?;
        repl.wait_started().await.map_err(|e| db.fail_error(&e))?;
        state.resumes.fetch_add(1, Ordering::Relaxed);
        state.advance(position);
        tracing::info!(
            "replica: resumed slot {slot} from {} (the stored position); no copy",
            lsn_text(position)
        );
        return stream(db, store, state, delays, repl, backoff).await;
    }
    if let Some(durable) = durable {
        durable.forget()?;
    }

    let mut repl = ReplicationClient::connect_gated(replication_config(db, &slot)?)
        .await
        .map_err(|e| db.fail_error(&e))?;
    let temporary = if durable.is_some() { "" } else { " TEMPORARY" };
    let rows = repl
        .simple_query(&format!(
            "CREATE_REPLICATION_SLOT {slot}{temporary} LOGICAL pgoutput EXPORT_SNAPSHOT"
        ))
        .await
        .map_err(|e| db.fail_error(&e))?;
    let field = |i: usize| -> Result<String, DbError> {
        rows.first()
            .and_then(|row| row.get(i))
            .and_then(|v| v.as_ref())
            .map(|v| String::from_utf8_lossy(v).into_owned())
            .ok_or_else(|| DbError("CREATE_REPLICATION_SLOT answered without a position".into()))
    };
    let consistent_point = Lsn::parse(&field(1)?)
        .map_err(|e| DbError(format!("CREATE_REPLICATION_SLOT: bad position: {e}")))?
        .as_u64();
    let snapshot = field(2)?;

    // The copy, inside the slot's snapshot (valid until the replication session's next command).
    state.set_status(Phase::Copying, Some("copying the table".into()));
    let started = std::time::Instant::now();
    client
        .batch_execute(&format!(
            "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET TRANSACTION SNAPSHOT '{snapshot}'"
        ))
        .await
        .map_err(|e| db.fail_error(&e))?;
    let copied = copy(db, &client, store, state).await;
    // The transaction only read; a failed COMMIT changes nothing.
    let _ = client.batch_execute("COMMIT").await;
    let copied = copied?;
    drop(client);
    state.copies.fetch_add(1, Ordering::Relaxed);
    state.advance(consistent_point);
    tracing::info!(
        "replica: copied {copied} rows in {} ms; streaming from {} (slot {slot})",
        started.elapsed().as_millis(),
        lsn_text(consistent_point)
    );

    if let Some(durable) = durable {
        // The copy is durable (each batch fdatasync'ed); from here a restart resumes.
        durable.save(consistent_point, true)?;
    }
    repl.start().await.map_err(|e| db.fail_error(&e))?;
    repl.wait_started().await.map_err(|e| db.fail_error(&e))?;
    repl.update_applied_lsn(Lsn::from_u64(consistent_point));
    stream(db, store, state, delays, repl, backoff).await
}

/// Is `durable`'s slot there and usable with its stored position: `Some(position)` to resume;
/// `None` to copy (no position, or the slot missing or invalidated: an invalidated slot or one
/// without a position is dropped, so that it can be created again with a snapshot). A slot of that
/// name for another database or plugin, or in use by another session, is an error.
async fn check_slot(
    db: &Database,
    client: &deadpool_postgres::Object,
    durable: &Durable,
) -> Result<Option<u64>, DbError> {
    let row = client
        .query_opt(
            "SELECT database = current_database() AND plugin = 'pgoutput' AND slot_type = 'logical', \
             active, coalesce(wal_status, ''), \
             (confirmed_flush_lsn - '0/0'::pg_lsn)::bigint \
             FROM pg_replication_slots WHERE slot_name = $1",
            &[&durable.slot],
        )
        .await
        .map_err(|e| db.fail_error(&e))?;
    let Some(row) = row else {
        if durable.saved() != 0 {
            tracing::warn!(
                "replica: slot {} is gone; the table will be copied again",
                durable.slot
            );
        }
        return Ok(None);
    };
    let ours: Option<bool> = row.try_get(0).map_err(|e| db.fail_error(&e))?;
    let active: bool = row.try_get(1).map_err(|e| db.fail_error(&e))?;
    let wal_status: String = row.try_get(2).map_err(|e| db.fail_error(&e))?;
    let confirmed: Option<i64> = row.try_get(3).map_err(|e| db.fail_error(&e))?;
    let confirmed = confirmed
        .and_then(|lsn| u64::try_from(lsn).ok())
        .unwrap_or(0);
    if ours != Some(true) {
        return Err(DbError(format!(
            "the replication slot {} belongs to another database or is not a pgoutput slot; \
             choose another --db-slot",
            durable.slot
        )));
    }
    if active {
        return Err(DbError(format!(
            "the replication slot {} is in use by another session (another replica on the same \
             --db-slot?)",
            durable.slot
        )));
    }
    let saved = durable.saved();
    // The slot never streams from before its confirmed position: a stored position behind it
    // (a data dir restored from an older copy, or the slot used by another replica) would skip
    // the transactions in between, so that store is copied again instead.
    if saved != 0 && wal_status != "lost" && confirmed <= saved {
        return Ok(Some(saved));
    }
    let why = if saved == 0 {
        "no stored position in the data dir".to_owned()
    } else if wal_status == "lost" {
        "invalidated: the WAL it needed is gone (max_slot_wal_keep_size)".to_owned()
    } else {
        format!(
            "it was confirmed up to {}, past the position stored in the data dir, {}: the \
             transactions in between cannot be streamed again",
            lsn_text(confirmed),
            lsn_text(saved)
        )
    };
    tracing::warn!(
        "replica: dropping slot {} ({why}) to create it again with a snapshot and copy the table",
        durable.slot
    );
    client
        .execute("SELECT pg_drop_replication_slot($1)", &[&durable.slot])
        .await
        .map_err(|e| db.fail_error(&e))?;
    Ok(None)
}

/// The stream: transactions applied at their Commit until the session ends.
async fn stream(
    db: &Database,
    store: &Store,
    state: &ReplicaState,
    delays: &Histogram,
    mut repl: ReplicationClient,
    backoff: &mut Duration,
) -> Result<(), DbError> {
    state.set_status(Phase::Streaming, None);
    *backoff = MIN_BACKOFF;

    let mut relations: HashMap<u32, Columns> = HashMap::new();
    let mut txn: Option<Transaction> = None;
    // Committed transactions not yet applied: applied together once nothing more has arrived
    // (group commit, see [`Committed`]).
    let mut group: Vec<Committed> = Vec::new();
    loop {
        let received = if group.is_empty() {
            repl.recv().await
        } else {
            // The channel's receive is cancel-safe; a zero timeout polls it once.
            match tokio::time::timeout(Duration::ZERO, repl.recv()).await {
                Ok(received) => received,
                Err(_) => {
                    commit_group(store, state, delays, &repl, &mut group)?;
                    continue;
                }
            }
        };
        let event = match received {
            Ok(Some(event)) => event,
            Ok(None) => {
                commit_group(store, state, delays, &repl, &mut group)?;
                return Ok(());
            }
            Err(e) => {
                commit_group(store, state, delays, &repl, &mut group)?;
                return Err(db.fail_error(&e));
            }
        };
        match event {
            ReplicationEvent::Begin { xid, .. } => {
                txn = Some(Transaction {
                    xid,
                    ..Transaction::default()
                })
            }
            ReplicationEvent::XLogData { data, .. } => {
                let message = pgoutput::decode(&data).map_err(|e| DbError(e.to_string()))?;
                match message {
                    Message::Relation {
                        oid, name, columns, ..
                    } => {
                        if name == "users" {
                            let find = |wanted: &str| columns.iter().position(|c| c.name == wanted);
                            let (Some(id), Some(name)) = (find("id"), find("name")) else {
                                return Err(DbError(
                                    "the users table has no id or no name column".into(),
                                ));
                            };
                            relations.insert(oid, Columns { id, name });
                        }
                    }
                    Message::Begin { xid, .. } => {
                        txn = Some(Transaction {
                            xid,
                            ..Transaction::default()
                        })
                    }
                    Message::Commit {
                        end_lsn,
                        commit_time_micros,
                        ..
                    } => {
                        group.push(Committed {
                            txn: txn.take(),
                            end_lsn,
                            commit_time_micros,
                        });
                        if group.len() >= GROUP_MAX {
                            commit_group(store, state, delays, &repl, &mut group)?;
                        }
                    }
                    change => {
                        let current = txn
                            .as_mut()
                            .ok_or_else(|| DbError("a change outside a transaction".into()))?;
                        apply_change(state, store, &relations, current, change).map_err(DbError)?;
                    }
                }
            }
            ReplicationEvent::Commit {
                end_lsn,
                commit_time_micros,
                ..
            } => {
                group.push(Committed {
                    txn: txn.take(),
                    end_lsn: end_lsn.as_u64(),
                    commit_time_micros,
                });
                if group.len() >= GROUP_MAX {
                    commit_group(store, state, delays, &repl, &mut group)?;
                }
            }
            ReplicationEvent::KeepAlive { wal_end, .. } => {
                // Between transactions, everything before the server's sent position has arrived:
                // WAL that holds nothing for the publication counts as applied.
                if txn.is_none() {
                    commit_group(store, state, delays, &repl, &mut group)?;
                    state.advance(wal_end.as_u64());
                    report(state, &repl, wal_end.as_u64(), true)?;
                }
            }
            ReplicationEvent::Message { .. } | ReplicationEvent::StoppedAt { .. } => {}
        }
    }
}

/// Applies a transaction as one batch, then moves the applied position to its end. A batch the
/// store refuses by its rules is skipped and reported; any other failure (the log's I/O) ends the
/// session, the position unmoved. The delay from the transaction's commit on the server to the
/// moment its batch is applied (durable write included) is the `lag_seconds` gauge, and one
/// observation of `delays` when the batch held at least one row change (a truncate counts when
/// it removed rows); a transaction with nothing for the store (none in the publication) is not
/// an observation.
/// A source transaction received up to its Commit, not yet applied.
///
/// Group commit: the stream applies committed transactions as soon as nothing more has arrived,
/// all those that have arrived by then as ONE batch (one log record: one `fdatasync` for a durable
/// replica, where one per transaction would cap a durable replica at its disk's sync rate, a few
/// hundred transactions per second on a virtual disk). Each source transaction stays whole: a
/// reader sees none of a group or all of it, so never part of one transaction; a write waiting
/// for its transaction is answered once its group is applied. At most [`GROUP_MAX`] per group.
struct Committed {
    txn: Option<Transaction>,
    end_lsn: u64,
    commit_time_micros: i64,
}

/// The most transactions applied as one batch (bounds a group's memory and its first
/// transaction's wait behind the others).
const GROUP_MAX: usize = 1024;

/// Applies the transactions of `group` (emptied) as one batch, then moves the applied position to
/// the last one's end. One transaction goes through [`commit`] as it is; should the store refuse
/// a merged batch, each transaction is applied on its own, so only one that is refused is skipped.
fn commit_group(
    store: &Store,
    state: &ReplicaState,
    delays: &Histogram,
    repl: &ReplicationClient,
    group: &mut Vec<Committed>,
) -> Result<(), DbError> {
    let one_by_one = |group: &mut Vec<Committed>| -> Result<(), DbError> {
        for one in group.drain(..) {
            commit(
                store,
                state,
                delays,
                repl,
                one.txn,
                one.end_lsn,
                one.commit_time_micros,
            )?;
        }
        Ok(())
    };
    if group.len() <= 1 {
        return one_by_one(group);
    }
    let mut merged = Transaction::default();
    for txn in group.iter().filter_map(|c| c.txn.as_ref()) {
        merged.absorb(txn);
    }
    let (puts, removes) = merged.batch(store);
    let result = if puts.is_empty() && removes.is_empty() {
        Ok(0)
    } else {
        store.apply_batch(&puts, &removes)
    };
    match result {
        Ok(_) => {
            let now = now_micros();
            let mut end = 0;
            for committed in group.drain(..) {
                if let Some(txn) = committed.txn {
                    let delay = commit_delay_micros(committed.commit_time_micros, now);
                    if txn.changes_rows() {
                        delays.record(delay as f64 / 1e6);
                    }
                    state.applied_xid(txn.xid);
                    state
                        .last_commit_delay_micros
                        .store(delay, Ordering::Relaxed);
                }
                end = committed.end_lsn;
            }
            state.advance(end);
            report(state, repl, end, false)
        }
        Err(
            StoreError::InvalidId(_) | StoreError::InvalidName(_) | StoreError::InvalidBatch(_),
        ) => one_by_one(group),
        Err(e) => Err(DbError(format!(
            "the store could not apply the {} transactions ending at {}: {e}",
            group.len(),
            lsn_text(group.last().map_or(0, |c| c.end_lsn))
        ))),
    }
}

fn commit(
    store: &Store,
    state: &ReplicaState,
    delays: &Histogram,
    repl: &ReplicationClient,
    txn: Option<Transaction>,
    end_lsn: u64,
    commit_time_micros: i64,
) -> Result<(), DbError> {
    if let Some(txn) = txn {
        let xid = txn.xid;
        let (puts, removes) = txn.batch(store);
        let mut applied = false;
        if !puts.is_empty() || !removes.is_empty() {
            match store.apply_batch(&puts, &removes) {
                Ok(_) => applied = true,
                Err(
                    e @ (StoreError::InvalidId(_)
                    | StoreError::InvalidName(_)
                    | StoreError::InvalidBatch(_)),
                ) => {
                    // Every row was checked by the rules first; should the store still refuse
                    // the batch, the transaction is skipped whole and reported.
                    state
                        .rejected_rows
                        .fetch_add((puts.len() + removes.len()) as u64, Ordering::Relaxed);
                    tracing::warn!(
                        "replica: the transaction ending at {} was not applied: {e}",
                        lsn_text(end_lsn)
                    );
                }
                Err(e) => {
                    return Err(DbError(format!(
                        "the store could not apply the transaction ending at {}: {e}",
                        lsn_text(end_lsn)
                    )))
                }
            }
        }
        let delay = commit_delay_micros(commit_time_micros, now_micros());
        if applied {
            delays.record(delay as f64 / 1e6);
        }
        state.applied_xid(xid);
        state
            .last_commit_delay_micros
            .store(delay, Ordering::Relaxed);
    }
    state.advance(end_lsn);
    report(state, repl, end_lsn, false)
}

/// Tells PostgreSQL (the next standby status update) that everything up to `lsn` is applied; a
/// durable replica first stores the position (at most every [`SAVE_INTERVAL`] unless `now`) and
/// tells only the stored one.
fn report(
    state: &ReplicaState,
    repl: &ReplicationClient,
    lsn: u64,
    now: bool,
) -> Result<(), DbError> {
    let told = match &state.durable {
        Some(durable) => durable.save(lsn, now)?,
        None => lsn,
    };
    if told != 0 {
        repl.update_applied_lsn(Lsn::from_u64(told));
    }
    Ok(())
}

/// Reads the table (in the open snapshot transaction) into the store; returns the rows read.
/// An empty store is filled in batches; a store with data gets the difference as one batch.
async fn copy(
    db: &Database,
    client: &deadpool_postgres::Object,
    store: &Store,
    state: &ReplicaState,
) -> Result<u64, DbError> {
    let rows = client
        .query_raw("SELECT id, name FROM users", std::iter::empty::<i64>())
        .await
        .map_err(|e| db.fail_error(&e))?;
    futures_util::pin_mut!(rows);
    let fill = store.is_empty();
    let mut count = 0u64;
    let mut batch: Vec<(i64, String)> = Vec::new();
    let mut table: HashSet<i64> = HashSet::new();
    while let Some(row) = rows.try_next().await.map_err(|e| db.fail_error(&e))? {
        count += 1;
        let id: i64 = row.try_get(0).map_err(|e| db.fail_error(&e))?;
        let name: String = row.try_get(1).map_err(|e| db.fail_error(&e))?;
        let Some(name) = admit(state, id, &name) else {
            continue;
        };
        if fill {
            batch.push((id, name));
            if batch.len() == COPY_BATCH {
                apply(store, &batch, &[])?;
                batch.clear();
            }
        } else {
            table.insert(id);
            if store.get(id).ok().flatten().as_deref() != Some(name.as_str()) {
                batch.push((id, name));
            }
        }
    }
    if fill {
        apply(store, &batch, &[])?;
    } else {
        let removes: Vec<i64> = all_ids(store)
            .into_iter()
            .filter(|id| !table.contains(id))
            .collect();
        apply(store, &batch, &removes)?;
    }
    Ok(count)
}

fn apply(store: &Store, puts: &[(i64, String)], removes: &[i64]) -> Result<(), DbError> {
    if puts.is_empty() && removes.is_empty() {
        return Ok(());
    }
    store
        .apply_batch(puts, removes)
        .map(|_| ())
        .map_err(|e| DbError(format!("the store refused the copy: {e}")))
}

/// The replication session's settings from the `--db` URL.
fn replication_config(db: &Database, slot: &str) -> Result<ReplicationConfig, DbError> {
    use tokio_postgres::config::Host;
    let config = db.config();
    let user = config
        .get_user()
        .ok_or_else(|| DbError("the --db URL names no user".into()))?
        .to_owned();
    let password = config
        .get_password()
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .unwrap_or_default();
    let database = config.get_dbname().unwrap_or(&user).to_owned();
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let replication = match config.get_hosts().first() {
        Some(Host::Tcp(host)) => {
            ReplicationConfig::new(host.clone(), user, password, database, slot, PUBLICATION)
                .with_port(port)
        }
        Some(Host::Unix(path)) => ReplicationConfig::unix(
            path.to_string_lossy().into_owned(),
            port,
            user,
            password,
            database,
            slot,
            PUBLICATION,
        ),
        None => ReplicationConfig::new("localhost", user, password, database, slot, PUBLICATION)
            .with_port(port),
    };
    Ok(replication
        .with_tls(TlsConfig::disabled())
        .with_start_lsn(Lsn::ZERO)
        // Standby status updates: the applied position reaches the server within this; the
        // walsender's keepalives (which advance an idle replica) answer them.
        .with_status_interval(Duration::from_millis(10))
        .with_wakeup_interval(Duration::from_secs(10))
        .with_application_name("userstore-server replica"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::pgoutput::tests::Writer;

    fn relations() -> HashMap<u32, Columns> {
        HashMap::from([(7, Columns { id: 0, name: 1 })])
    }

    fn feed(store: &Store, state: &ReplicaState, messages: Vec<Vec<u8>>) {
        let mut txn = Transaction::default();
        for bytes in messages {
            let message = pgoutput::decode(&bytes).unwrap();
            apply_change(state, store, &relations(), &mut txn, message).unwrap();
        }
        let (puts, removes) = txn.batch(store);
        store.apply_batch(&puts, &removes).unwrap();
    }

    fn insert(id: i64, name: &str) -> Vec<u8> {
        Writer::default()
            .u8(b'I')
            .u32(7)
            .row(b'N', id, Some(name))
            .0
    }

    fn sorted(store: &Store) -> Vec<(u64, String)> {
        store.scan(0, 1000).unwrap()
    }

    #[test]
    fn a_transaction_collapses_to_final_values_per_id() {
        let store = Store::new();
        store.put(9, b"old").unwrap();
        store.put(3, b"three").unwrap();
        let state = ReplicaState::default();
        let update_unchanged = Writer::default().u8(b'U').u32(7).row(b'N', 3, None).0;
        let id_change = Writer::default()
            .u8(b'U')
            .u32(7)
            .u8(b'K')
            .i16(2)
            .text("9")
            .u8(b'n')
            .row(b'N', 10, None)
            .0;
        let delete = Writer::default()
            .u8(b'D')
            .u32(7)
            .u8(b'K')
            .i16(2)
            .text("1")
            .u8(b'n')
            .0;
        feed(
            &store,
            &state,
            vec![
                insert(1, "a"),
                insert(2, "b"),
                insert(1, "a2"),
                delete,
                update_unchanged,
                id_change,
            ],
        );
        assert_eq!(
            sorted(&store),
            vec![
                (2, "b".to_owned()),
                (3, "three".to_owned()),
                (10, "old".to_owned())
            ]
        );
        assert_eq!(state.rejected_rows.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn truncate_removes_all_but_later_inserts() {
        let store = Store::new();
        for id in 0..50 {
            store.put(id, b"x").unwrap();
        }
        let state = ReplicaState::default();
        let truncate = Writer::default().u8(b'T').i32(1).u8(0).u32(7).0;
        feed(
            &store,
            &state,
            vec![insert(100, "before"), truncate, insert(5, "after")],
        );
        assert_eq!(sorted(&store), vec![(5, "after".to_owned())]);
    }

    /// A group merged in commit order gives what applying its transactions one by one gives.
    #[test]
    fn a_group_of_transactions_merges_to_the_same_state_as_one_by_one() {
        let start = |store: &Store| {
            for id in 0..5 {
                store.put(id, format!("s{id}").as_bytes()).unwrap();
            }
        };
        let mut first = Transaction::default();
        first.put(1, "one".into());
        first.remove(2);
        first.put(7, "seven".into());
        let mut second = Transaction::default();
        second.remove(7);
        second.put(2, "two again".into());
        let mut third = Transaction::default();
        third.put(8, "lost to the truncate".into());
        third.truncate();
        third.put(3, "three".into());
        let mut fourth = Transaction::default();
        fourth.put(9, "nine".into());
        fourth.remove(3);

        let one_by_one = Store::new();
        start(&one_by_one);
        let group = Store::new();
        start(&group);
        let mut merged = Transaction::default();
        for txn in [first, second, third, fourth] {
            merged.absorb(&txn);
            let (puts, removes) = txn.batch(&one_by_one);
            one_by_one.apply_batch(&puts, &removes).unwrap();
        }
        let (puts, removes) = merged.batch(&group);
        group.apply_batch(&puts, &removes).unwrap();
        assert_eq!(sorted(&group), sorted(&one_by_one));
        assert_eq!(sorted(&group), vec![(9, "nine".to_owned())]);
    }

    #[test]
    fn bad_rows_are_counted_and_absent() {
        let store = Store::new();
        store.put(4, b"was valid").unwrap();
        let state = ReplicaState::default();
        let long = "é".repeat(257);
        feed(
            &store,
            &state,
            vec![
                insert(1, ""),
                insert(2, &long),
                insert(3, "ok"),
                insert(4, ""),
            ],
        );
        assert_eq!(sorted(&store), vec![(3, "ok".to_owned())]);
        assert_eq!(state.rejected_rows.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn changes_of_unknown_relations_are_errors() {
        let store = Store::new();
        let state = ReplicaState::default();
        let message =
            pgoutput::decode(&Writer::default().u8(b'I').u32(99).row(b'N', 1, Some("a")).0)
                .unwrap();
        let mut txn = Transaction::default();
        assert!(apply_change(&state, &store, &relations(), &mut txn, message).is_err());
    }

    #[test]
    fn the_position_file_is_replaced_read_back_and_removed() {
        let dir = std::env::temp_dir().join(format!("userstore-position-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        assert!(Durable::open(&dir, "Bad").is_err());
        let durable = Durable::open(&dir, "s1").unwrap();
        assert_eq!(durable.saved(), 0);
        assert_eq!(durable.save(0x1_0000_00A0, true).unwrap(), 0x1_0000_00A0);
        // Backwards, or too soon after the last write: the file keeps its position.
        assert_eq!(durable.save(5, true).unwrap(), 0x1_0000_00A0);
        assert_eq!(durable.save(0x1_0000_00B0, false).unwrap(), 0x1_0000_00A0);
        assert_eq!(
            std::fs::read_to_string(dir.join(POSITION_FILE)).unwrap(),
            "slot s1 lsn 1/A0\n"
        );
        assert_eq!(Durable::open(&dir, "s1").unwrap().saved(), 0x1_0000_00A0);
        // A file for another slot counts as none.
        assert_eq!(Durable::open(&dir, "s2").unwrap().saved(), 0);
        durable.forget().unwrap();
        assert!(!dir.join(POSITION_FILE).exists());
        assert_eq!(Durable::open(&dir, "s1").unwrap().saved(), 0);
        std::fs::write(dir.join(POSITION_FILE), "garbage").unwrap();
        assert!(Durable::open(&dir, "s1").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_commit_delay_is_measured_from_postgres_epoch_and_never_negative() {
        let commit = 1_000_000; // 2000-01-01 00:00:01 UTC
        let unix = PG_EPOCH_MICROS + commit;
        assert_eq!(commit_delay_micros(commit, unix + 2_500), 2_500);
        assert_eq!(commit_delay_micros(commit, unix), 0);
        // The server's clock ahead of ours: 0, not a huge unsigned value.
        assert_eq!(commit_delay_micros(commit, unix - 1), 0);
        assert_eq!(commit_delay_micros(i64::MAX, 0), 0);
        assert_eq!(
            commit_delay_micros(i64::MIN, i64::MAX),
            u64::try_from(i64::MAX).unwrap()
        );
    }

    #[test]
    fn lsn_text_is_postgres_spelling() {
        assert_eq!(lsn_text(0x1_0000_00A0), "1/A0");
        assert_eq!(lsn_text(0), "0/0");
    }

    #[tokio::test]
    async fn wait_applied_returns_when_reached_or_times_out() {
        let state = Arc::new(ReplicaState::default());
        assert!(!state.wait_applied(10, Duration::from_millis(20)).await);
        let waiter = {
            let state = state.clone();
            tokio::spawn(async move { state.wait_applied(10, Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        state.advance(12);
        assert!(waiter.await.unwrap());
        assert_eq!(state.applied(), 12);
        state.advance(5);
        assert_eq!(state.applied(), 12);
    }

    #[tokio::test]
    async fn a_write_is_found_by_its_transaction_or_by_position() {
        let state = Arc::new(ReplicaState::default());
        let short = Duration::from_millis(20);
        // Nothing changed: nothing to wait for.
        let noop = Written {
            xid: None,
            lsn: 1000,
        };
        assert!(state.wait_written(noop, short).await);
        let written = Written {
            xid: Some(77),
            lsn: 1000,
        };
        assert!(!state.wait_written(written, short).await);
        // Its transaction applied (at a position before the one read after its commit).
        let waiter = {
            let state = state.clone();
            tokio::spawn(async move { state.wait_written(written, Duration::from_secs(5)).await })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        state.applied_xid(77);
        state.advance(900);
        assert!(waiter.await.unwrap());
        // Another transaction, covered by the position (a copy made after it).
        let other = Written {
            xid: Some(78),
            lsn: 950,
        };
        assert!(!state.wait_written(other, short).await);
        state.advance(950);
        assert!(state.wait_written(other, short).await);
    }
}
