//! Recovery time of a durable store: builds a data directory holding a snapshot of 5,000,000
//! users plus a log of 1,000,000 put records, then times `Store::open_durable` on it (median of
//! 3 opens, each followed by a drop). The goal: at most 3 s.
//!
//! `cargo run --release --example recovery [-- DIR [USERS [LOG_RECORDS]]]`: DIR (default: a
//! fresh temporary directory, removed at the end) must be empty or missing. The last line is one
//! JSON object with every figure.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use userstore::{DurableOptions, Store, SyncMode};

fn size_of(dir: &Path, prefix: &str) -> u64 {
    std::fs::read_dir(dir)
        .expect("list")
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// This process's CPU time (user + system) so far, from /proc (0 where there is none): on a
/// shared machine the wall time of an open depends on the other load, its CPU time much less.
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name (which is in parentheses): utime and stime are the
    // 12th and 13th of them, in clock ticks (100 per second on Linux).
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<u64> = after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

/// The median of three timings of `f` (wall, CPU), each result dropped after its timing.
fn median3<T>(label: &str, mut f: impl FnMut() -> T) -> ((Duration, Duration), Vec<Duration>) {
    let mut runs = Vec::new();
    for run in 1..=3 {
        let (t, c) = (Instant::now(), cpu());
        let result = f();
        let (wall, cpu) = (t.elapsed(), cpu() - c);
        drop(result);
        println!(
            "{label} {run}: {:.1} ms wall, {:.0} ms CPU",
            ms(wall),
            ms(cpu)
        );
        runs.push((wall, cpu));
    }
    let walls: Vec<Duration> = runs.iter().map(|r| r.0).collect();
    runs.sort();
    (runs[1], walls)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let temp = tempfile::tempdir().expect("temp dir");
    let dir: PathBuf = args
        .first()
        .map_or_else(|| temp.path().join("data"), PathBuf::from);
    let users: u64 = args
        .get(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000_000);
    let records: u64 = args
        .get(2)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);

    // Build: a snapshot of `users` users (replace_all on a durable store is a checkpoint), then
    // `records` puts in the log, half replacing users of the snapshot, half adding new ones.
    let build = Instant::now();
    let options = DurableOptions {
        sync: SyncMode::None,
        checkpoint_log_bytes: u64::MAX,
    };
    let store = Store::open_durable(&dir, options).expect("open for building");
    let all: Vec<(u64, String)> = (0..users).map(|id| (id, format!("user-{id}"))).collect();
    store.replace_all(all).expect("snapshot");
    for k in 0..records {
        let id = if k % 2 == 0 {
            k * 3 % users.max(1)
        } else {
            users + k
        };
        store
            .put(id as i64, format!("renamed-{k}").as_bytes())
            .expect("put");
    }
    let expected = store.len();
    store.close_log().expect("close");
    drop(store);
    let build = build.elapsed();
    let snapshot_bytes = size_of(&dir, "snapshot-");
    let log_bytes = size_of(&dir, "log-");
    println!(
        "built {} in {:.1} s: {users} users in the snapshot ({:.1} MB), {records} put records \
         in the log ({:.1} MB), {expected} users after replay",
        dir.display(),
        build.as_secs_f64(),
        snapshot_bytes as f64 / 1e6,
        log_bytes as f64 / 1e6,
    );

    // The baseline on the same machine at the same moment: opening the snapshot alone.
    let snapshot_file = std::fs::read_dir(&dir)
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|e| e == "snap"))
        .expect("a snapshot");
    let ((snap_wall, snap_cpu), _) = median3("Store::open of the snapshot alone", || {
        Store::open(&snapshot_file).expect("open the snapshot")
    });
    let ((median, median_cpu), opens) = median3("Store::open_durable", || {
        let store = Store::open_durable(&dir, DurableOptions::new(SyncMode::Always)).expect("open");
        assert_eq!(store.len(), expected);
        store
    });
    println!(
        "median open_durable: {:.1} ms wall, {:.0} ms CPU (goal <= 3000 ms: {}); the snapshot \
         alone: {:.1} ms wall, {:.0} ms CPU; load average: {}",
        ms(median),
        ms(median_cpu),
        if median <= Duration::from_secs(3) {
            "met"
        } else {
            "missed"
        },
        ms(snap_wall),
        ms(snap_cpu),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim(),
    );
    let opens_ms: Vec<String> = opens.iter().map(|d| format!("{:.1}", ms(*d))).collect();
    println!(
        "{{\"example\":\"recovery\",\"snapshot_users\":{users},\"log_records\":{records},\
         \"users_after_replay\":{expected},\"snapshot_bytes\":{snapshot_bytes},\
         \"log_bytes\":{log_bytes},\"build_s\":{:.2},\"open_ms\":[{}],\"open_median_ms\":{:.1},\
         \"open_median_cpu_ms\":{:.0},\"snapshot_only_open_median_ms\":{:.1},\
         \"snapshot_only_open_median_cpu_ms\":{:.0},\"goal_ms\":3000}}",
        build.as_secs_f64(),
        opens_ms.join(","),
        ms(median),
        ms(median_cpu),
        ms(snap_wall),
        ms(snap_cpu),
    );
}
