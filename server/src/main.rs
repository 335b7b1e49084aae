//! `userstore-server`: the Kotlin service's HTTP API (`kotlin-demo serve`, docs/SERVICE.md) in Rust,
//! on axum and tokio, over the same core store the JVM reaches through JNI/FFM, without the JVM.
//!
//! Start: loads `--snapshot PATH` if the file exists, then makes sure users 0..N-1 of `--users N`
//! exist (named `user-<id>`; ids loaded from the snapshot keep their names), binds, and prints
//! `serve: native store, <N> users, listening on http://<host>:<port>` on stderr. Stop (SIGTERM or
//! SIGINT): no new connections, requests in flight finish (at most [`SHUTDOWN_TIMEOUT`]), the store
//! is saved to `--snapshot PATH` (if given), and the process exits with 128 + the signal number
//! (143 after SIGTERM, 130 after SIGINT), as the JVM does.
//!
//! With `--data-dir DIR` the store is durable instead (docs/DURABILITY.md): opened from that
//! directory with `Store::open_durable`, every PUT and DELETE answered only once its log record is
//! durable under `--sync` (default `always`); on SIGTERM or SIGINT the log is closed (flushed and
//! synced) after the requests in flight. `--data-dir` excludes `--snapshot` and `--users`.
//!
//! With `--db postgres://USER@HOST:PORT/DB --db-mode direct` every request goes to PostgreSQL
//! instead ([`db`], docs/SERVICE.md "Database modes"): the table is created if missing at start, and
//! the URL is shown with its password redacted. `--db` excludes `--users` and `--snapshot`;
//! `--db-mode` needs `--db`; `--data-dir` does not combine with direct mode.
//!
//! With `--db URL --db-mode replica` reads come from the in-process store, kept equal to the table
//! by logical replication ([`replica`]); writes go to PostgreSQL and are answered once the store has
//! applied their commit. With `--data-dir DIR --db-slot NAME` (and `--sync always`) it is a durable
//! replica: the store opened from DIR, a named slot, the applied position in `DIR/replica-position`,
//! and a restart resumes from it without copying the table.

mod app;
mod db;
mod pgoutput;
mod replica;
mod request;
mod telemetry;

use std::future::IntoFuture;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::serve::ListenerExt;
use axum::ServiceExt;
use clap::Parser;
use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use userstore::{DurableOptions, Store, SyncMode};

use crate::app::{App, AppState};
use crate::db::{Database, DbMode};

/// The longest shutdown waits for requests in flight.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(10);

/// The label of the store on the size gauge and in the start-up line: the core store is the one
/// the Kotlin service calls "native".
const STORE_LABEL: &str = "native";

/// Serves the store over HTTP (axum, tokio): GET/PUT/DELETE /users/{id}, GET /users?name=…,
/// /health, /metrics.
#[derive(Debug, Parser)]
#[command(name = "userstore-server", version, about)]
struct Options {
    /// Which store serves the requests (only `native`, the Rust core; accepted so scripts can pass
    /// the Kotlin service's flags unchanged)
    #[arg(long, default_value = "native", value_parser = ["native"])]
    store: String,

    /// TCP port (0: any free port)
    #[arg(long, default_value_t = 8080)]
    port: u16,

    /// Address to bind (loopback unless told otherwise)
    #[arg(long, default_value = "127.0.0.1")]
    host: String,

    /// Preloads users with ids 0..N-1 named user-<id>
    #[arg(long, value_name = "N", default_value_t = 0,
          value_parser = clap::value_parser!(u32).range(0..=i64::from(i32::MAX)))]
    users: u32,

    /// Snapshot file: loaded at start if present, saved on shutdown (SIGTERM, SIGINT)
    #[arg(long, value_name = "PATH")]
    snapshot: Option<PathBuf>,

    /// Durable store in this directory (write-ahead log and snapshots, docs/DURABILITY.md):
    /// created if missing, opened with its content; excludes --snapshot and --users
    #[arg(long, value_name = "DIR", conflicts_with_all = ["snapshot", "users"])]
    data_dir: Option<PathBuf>,

    /// When a PUT or DELETE on the --data-dir store is answered: always (its log record written
    /// and fdatasync'ed), batch (synced within 10 ms), none (written to the OS within 10 ms)
    #[arg(long, value_enum, default_value_t = SyncArg::Always, requires = "data_dir")]
    sync: SyncArg,

    /// PostgreSQL database, postgres://USER[:PASSWORD]@HOST:PORT/DB (or postgresql://; the
    /// password may come from PGPASSWORD instead); needs --db-mode; excludes --users and --snapshot
    #[arg(long, value_name = "URL", conflicts_with_all = ["users", "snapshot"], requires = "db_mode")]
    db: Option<String>,

    /// How --db is used: direct (every request goes to PostgreSQL) or replica (reads from the
    /// in-process store kept equal to the table by logical replication; writes to PostgreSQL)
    #[arg(long, value_enum, requires = "db")]
    db_mode: Option<DbMode>,

    /// Most connections the --db pool opens
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(1..=1000), requires = "db")]
    db_pool: u16,

    /// A durable replica's replication slot (--db-mode replica with --data-dir): created if missing,
    /// kept while the server is stopped, never dropped by it (SELECT pg_drop_replication_slot('NAME'));
    /// 1 to 63 of a-z, 0-9, _
    #[arg(long, value_name = "NAME", requires = "data_dir")]
    db_slot: Option<String>,
}

/// `--sync`: the core's [`SyncMode`] as a command-line value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum SyncArg {
    Always,
    Batch,
    None,
}

impl SyncArg {
    fn mode(self) -> SyncMode {
        match self {
            SyncArg::Always => SyncMode::Always,
            SyncArg::Batch => SyncMode::Batch,
            SyncArg::None => SyncMode::None,
        }
    }

    fn label(self) -> &'static str {
        match self {
            SyncArg::Always => "always",
            SyncArg::Batch => "batch",
            SyncArg::None => "none",
        }
    }
}

fn main() -> ExitCode {
    let options = Options::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .init();
    match run(&options) {
        Ok(code) => code,
        Err(message) => {
            // As the Kotlin service (clikt) prints a failed start: the message alone, status 1.
            eprintln!("{message}");
            ExitCode::FAILURE
        }
    }
}

/// One line of progress on stderr.
fn say(line: std::fmt::Arguments<'_>) {
    let mut err = std::io::stderr().lock();
    // Nothing useful can be done if stderr is gone.
    let _ = writeln!(err, "serve: {line}");
}

fn millis(since: Instant) -> u128 {
    since.elapsed().as_millis()
}

fn run(options: &Options) -> Result<ExitCode, String> {
    if let Some(url) = options.db.as_deref() {
        return run_direct(options, url);
    }
    let store = match options.data_dir.as_deref() {
        Some(dir) => open_durable(dir, options.sync)?,
        None => open_store(options.snapshot.as_deref())?,
    };
    preload(&store, options.users)?;
    let state = Arc::new(AppState::new(store, STORE_LABEL)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let label = format!("{STORE_LABEL} store, {} users", state.store().len());
    let signal_number = runtime.block_on(serve(options, state.clone(), &label))?;
    // Requests still running after the bounded wait are dropped with the runtime.
    runtime.shutdown_timeout(Duration::from_millis(100));
    match options.data_dir.as_deref() {
        Some(dir) => close_durable(&state, dir),
        None => save_and_close(&state, options.snapshot.as_deref()),
    }
    Ok(ExitCode::from(128 + signal_number))
}

/// `--db URL --db-mode direct`: the pool, the schema, then the same server over the database.
fn run_direct(options: &Options, url: &str) -> Result<ExitCode, String> {
    let mode = match options.db_mode {
        Some(mode) => mode,
        // clap requires --db-mode with --db; kept for a caller that builds Options by hand.
        None => return Err("--db needs --db-mode direct or replica".to_owned()),
    };
    let durable = match (mode, options.data_dir.as_deref()) {
        (DbMode::Direct, Some(_)) => {
            return Err(
                "--data-dir cannot be used with --db-mode direct: the data lives in PostgreSQL"
                    .to_owned(),
            )
        }
        (DbMode::Replica, Some(dir)) => Some(durable_replica(options, dir)?),
        (_, None) => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let start = Instant::now();
    let db = runtime.block_on(Database::connect(url, usize::from(options.db_pool)))?;
    say(format_args!(
        "connected to {} (pool of at most {}), table users ready in {} ms",
        db.shown_url(),
        options.db_pool,
        millis(start)
    ));
    let state = match mode {
        DbMode::Direct => Arc::new(AppState::direct(db)?),
        DbMode::Replica => {
            let state = Arc::new(match durable {
                Some((store, durable)) => {
                    AppState::replica_with(db, store, replica::ReplicaState::durable(durable))?
                }
                None => AppState::replica_of(db)?,
            });
            runtime.spawn(replica::run(state.clone()));
            state
        }
    };
    let label = match mode {
        DbMode::Direct => "direct",
        DbMode::Replica => "replica: reads from the native store",
    };
    let label = format!(
        "postgres ({label}, {})",
        state.database().map_or("", |db| db.shown_url())
    );
    let signal_number = runtime.block_on(serve(options, state.clone(), &label))?;
    runtime.shutdown_timeout(Duration::from_millis(100));
    if let Some(db) = state.database() {
        db.close();
    }
    say(format_args!("database pool closed"));
    if let Some(dir) = options.data_dir.as_deref() {
        close_durable(&state, dir);
    }
    Ok(ExitCode::from(128 + signal_number))
}

/// A durable replica's store (opened from `dir`) and slot with its stored position. Only with
/// `--sync always`: the position is stored once the transactions before it are durable, and with
/// `batch` or `none` `apply_batch` returns before that (the core offers no wait for it).
fn durable_replica(options: &Options, dir: &Path) -> Result<(Store, replica::Durable), String> {
    let Some(slot) = options.db_slot.as_deref() else {
        return Err(
            "--db-mode replica with --data-dir needs --db-slot NAME: the replication slot that \
             keeps the changes for this data directory while the server is stopped"
                .to_owned(),
        );
    };
    if options.sync != SyncArg::Always {
        return Err(format!(
            "--sync {} cannot be used with --db-mode replica: a durable replica tells PostgreSQL \
             a position only once the transactions before it are durable here, which needs \
             --sync always",
            options.sync.label()
        ));
    }
    replica::check_slot_name(slot)?;
    let store = open_durable(dir, options.sync)?;
    let durable = replica::Durable::open(dir, slot)?;
    say(format_args!(
        "durable replica: slot {slot}, stored position {}",
        match durable.saved() {
            0 => "none (the table will be copied)".to_owned(),
            lsn => replica::lsn_text(lsn),
        }
    ));
    Ok((store, durable))
}

/// The store from the snapshot at `path` if it exists; an empty store otherwise.
fn open_store(path: Option<&Path>) -> Result<Store, String> {
    let Some(path) = path else {
        return Ok(Store::new());
    };
    let absolute =
        std::path::absolute(path).map_err(|e| format!("--snapshot {}: {e}", path.display()))?;
    if let Some(parent) = absolute.parent() {
        if !parent.is_dir() {
            return Err(format!(
                "--snapshot {}: the folder {} does not exist",
                path.display(),
                parent.display()
            ));
        }
    }
    if path.is_dir() {
        return Err(format!("--snapshot {}: is a directory", path.display()));
    }
    if !path.exists() {
        say(format_args!(
            "no snapshot at {} yet; starting empty, will save there on shutdown",
            path.display()
        ));
        return Ok(Store::new());
    }
    let start = Instant::now();
    let store =
        Store::open(path).map_err(|e| format!("cannot load --snapshot {}: {e}", path.display()))?;
    say(format_args!(
        "loaded {} users from {} in {} ms",
        store.len(),
        path.display(),
        millis(start)
    ));
    Ok(store)
}

/// The durable store in `dir` (created if missing), with the log's content replayed.
fn open_durable(dir: &Path, sync: SyncArg) -> Result<Store, String> {
    let start = Instant::now();
    let store = Store::open_durable(dir, DurableOptions::new(sync.mode()))
        .map_err(|e| format!("cannot open --data-dir {}: {e}", dir.display()))?;
    say(format_args!(
        "loaded {} users from data dir {} (sync {}) in {} ms",
        store.len(),
        dir.display(),
        sync.label(),
        millis(start)
    ));
    Ok(store)
}

/// Makes sure users 0..users-1 exist, named `user-<id>`; users already there keep their names.
/// One thread per core, each taking every n-th id (the store's shards spread them), since a
/// preload of millions is most of the start-up time.
fn preload(store: &Store, users: u32) -> Result<(), String> {
    if users == 0 {
        return Ok(());
    }
    let start = Instant::now();
    let keep_existing = !store.is_empty();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 8)
        .min(usize::try_from(users / 10_000).unwrap_or(1).max(1));
    let stride = threads as i64;
    let fill = |first: i64| -> Result<(), String> {
        let mut name = Vec::with_capacity(16);
        let mut id = first;
        while id < i64::from(users) {
            if !(keep_existing && matches!(store.get_utf8_with(id, |_| ()), Ok(Some(())))) {
                name.clear();
                // Writing into a Vec cannot fail.
                let _ = write!(name, "user-{id}");
                store
                    .put(id, &name)
                    .map_err(|e| format!("cannot preload user {id}: {e}"))?;
            }
            id += stride;
        }
        Ok(())
    };
    std::thread::scope(|scope| {
        let helpers: Vec<_> = (1..stride)
            .map(|first| scope.spawn(move || fill(first)))
            .collect();
        let mut result = fill(0);
        for helper in helpers {
            let joined = helper
                .join()
                .unwrap_or_else(|_| Err("a preload thread panicked".to_owned()));
            result = result.and(joined);
        }
        result
    })?;
    say(format_args!(
        "preloaded users 0..{} in {} ms",
        users - 1,
        millis(start)
    ));
    Ok(())
}

/// Serves until SIGTERM or SIGINT, then stops gracefully; returns the signal's number.
/// `what` leads the start-up line (`<what>, listening on http://HOST:PORT`).
async fn serve(options: &Options, state: Arc<AppState>, what: &str) -> Result<u8, String> {
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|e| format!("cannot handle SIGTERM: {e}"))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|e| format!("cannot handle SIGINT: {e}"))?;
    let listener = TcpListener::bind((options.host.as_str(), options.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", options.host, options.port))?;
    let bound: SocketAddr = listener
        .local_addr()
        .map_err(|e| format!("cannot listen on {}:{}: {e}", options.host, options.port))?;

    let upkeep_state = state.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(telemetry::UPKEEP_INTERVAL);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            upkeep_state.telemetry().run_upkeep();
        }
    });

    let app = App::new(state);
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!("cannot set TCP_NODELAY: {e}");
        }
    });
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(listener, app.into_make_service()).with_graceful_shutdown(async {
        // A dropped sender stops the server too.
        let _ = stop_rx.await;
    });
    let server = tokio::spawn(server.into_future());
    say(format_args!(
        "{what}, listening on http://{}:{}",
        options.host,
        bound.port()
    ));

    let signal_number = tokio::select! {
        _ = terminate.recv() => 15,
        _ = interrupt.recv() => 2,
    };
    let _ = stop_tx.send(());
    match tokio::time::timeout(SHUTDOWN_TIMEOUT, server).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(e))) => tracing::error!("the server failed: {e}"),
        Ok(Err(e)) => tracing::error!("the server task failed: {e}"),
        Err(_) => tracing::warn!(
            "requests still running after {} s; stopping anyway",
            SHUTDOWN_TIMEOUT.as_secs()
        ),
    }
    Ok(signal_number)
}

/// Closes the durable store's log (writes and syncs what is buffered, releases the directory's
/// lock) and says so. No snapshot is written: every acknowledged write is in the log already, and
/// the automatic checkpoints keep the log (the replay at the next start) bounded.
fn close_durable(state: &AppState, dir: &Path) {
    match state.store().close_log() {
        Ok(()) => say(format_args!("store closed")),
        Err(e) => say(format_args!(
            "could not close the log in {}: {e}",
            dir.display()
        )),
    }
}

/// Saves the store to `path` (if given) and says so; then the store is closed (dropped).
fn save_and_close(state: &AppState, path: Option<&Path>) {
    if let Some(path) = path {
        let start = Instant::now();
        match state.store().save(path) {
            Ok(()) => say(format_args!(
                "saved {} users to {} in {} ms",
                state.store().len(),
                path.display(),
                millis(start)
            )),
            Err(e) => say(format_args!(
                "could not save the snapshot to {}: {e}",
                path.display()
            )),
        }
    }
    say(format_args!("store closed"));
}
