//! Write throughput and latency of durable stores per sync mode, against the memory-only store:
//! 1, 2 and 8 threads doing `put`s for a fixed time each, latency per acknowledged `put` in an
//! HdrHistogram (p50 / p99 / p99.9). Then the floor of `Sync::Always`: one 40-byte append plus
//! `fdatasync` on a plain file, in a loop.
//!
//! `cargo run --release --example durable_writes [-- SECONDS_PER_RUN [MODE...]]` (default 2 s,
//! modes `memory always batch none`). The data
//! directories are fresh temporary ones on the temporary directory's file system (set TMPDIR to
//! measure another disk). One JSON line per run, and one for the floor.

use std::fs::OpenOptions;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use userstore::{DurableOptions, Store, SyncMode};

/// Ids are drawn from this many, so most puts replace a user (the store stays small).
const ID_SPACE: u64 = 1_000_000;

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000_000, 3).expect("valid bounds")
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1e3
}

struct Run {
    mode: &'static str,
    threads: usize,
    puts: u64,
    per_second: f64,
    latency: Histogram<u64>,
    syncs: u64,
    checkpoints: u64,
}

fn run(mode: &'static str, threads: usize, seconds: f64) -> Run {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Arc::new(
        match mode {
            "memory" => Ok(Store::new()),
            "always" => Store::open_durable(dir.path(), DurableOptions::new(SyncMode::Always)),
            "batch" => Store::open_durable(dir.path(), DurableOptions::new(SyncMode::Batch)),
            _ => Store::open_durable(dir.path(), DurableOptions::new(SyncMode::None)),
        }
        .unwrap_or_else(|e| panic!("open: {e}")),
    );
    let names: Arc<Vec<String>> = Arc::new((0..1024).map(|k| format!("user-{k:07}")).collect());
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let store = Arc::clone(&store);
            let names = Arc::clone(&names);
            std::thread::spawn(move || {
                let mut latency = histogram();
                let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ (t as u64 + 1);
                let mut puts = 0u64;
                loop {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    let id = (x % ID_SPACE) as i64;
                    let name = &names[(x >> 40) as usize % names.len()];
                    let t0 = Instant::now();
                    store.put(id, name.as_bytes()).expect("put");
                    let now = Instant::now();
                    latency.saturating_record((now - t0).as_nanos() as u64);
                    puts += 1;
                    if now >= deadline {
                        break (puts, latency);
                    }
                }
            })
        })
        .collect();
    let mut latency = histogram();
    let mut puts = 0;
    for worker in workers {
        let (n, h) = worker.join().expect("worker");
        puts += n;
        latency.add(h).expect("same bounds");
    }
    let elapsed = start.elapsed().as_secs_f64();
    let stats = store.log_stats();
    let run = Run {
        mode,
        threads,
        puts,
        per_second: puts as f64 / elapsed,
        latency,
        syncs: stats.map_or(0, |s| s.syncs),
        checkpoints: stats.map_or(0, |s| s.generation - 1),
    };
    drop(store);
    run
}

/// One 40-byte append and `fdatasync` per iteration on a plain file: the floor of one
/// acknowledged `Sync::Always` write from one thread.
fn floor(iterations: usize) -> Histogram<u64> {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.path().join("floor.bin"))
        .expect("file");
    let record = [0x5au8; 40];
    let mut latency = histogram();
    for _ in 0..iterations {
        let t0 = Instant::now();
        file.write_all(&record).expect("write");
        file.sync_data().expect("fdatasync");
        latency.saturating_record(t0.elapsed().as_nanos() as u64);
    }
    latency
}

/// `Sync::Always` puts from one thread against the floor, interleaved in rounds of 200 of each so
/// both see the same disk (on a shared machine its fdatasync time drifts from second to second).
fn interleaved(rounds: usize) -> (Histogram<u64>, Histogram<u64>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open_durable(
        dir.path().join("data"),
        DurableOptions::new(SyncMode::Always),
    )
    .expect("open");
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.path().join("floor.bin"))
        .expect("file");
    let record = [0x5au8; 40];
    let (mut puts, mut raw) = (histogram(), histogram());
    for round in 0..rounds {
        for k in 0..200 {
            let t0 = Instant::now();
            store
                .put((round * 200 + k) as i64, b"user-0000001")
                .expect("put");
            puts.saturating_record(t0.elapsed().as_nanos() as u64);
        }
        for _ in 0..200 {
            let t0 = Instant::now();
            file.write_all(&record).expect("write");
            file.sync_data().expect("fdatasync");
            raw.saturating_record(t0.elapsed().as_nanos() as u64);
        }
    }
    (puts, raw)
}

fn main() {
    let seconds: f64 = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    println!(
        "{:>7} {:>7} {:>12} {:>10} {:>10} {:>10} {:>9} {:>11}",
        "mode", "threads", "puts/s", "p50 us", "p99 us", "p99.9 us", "syncs", "checkpoints"
    );
    // Optional further arguments: the modes to run (default all four).
    let chosen: Vec<String> = std::env::args().skip(2).collect();
    let mut runs = Vec::new();
    for mode in ["memory", "always", "batch", "none"] {
        if !chosen.is_empty() && !chosen.iter().any(|c| c == mode) {
            continue;
        }
        for threads in [1, 2, 8] {
            let r = run(mode, threads, seconds);
            println!(
                "{:>7} {:>7} {:>12.0} {:>10.1} {:>10.1} {:>10.1} {:>9} {:>11}",
                r.mode,
                r.threads,
                r.per_second,
                us(r.latency.value_at_quantile(0.5)),
                us(r.latency.value_at_quantile(0.99)),
                us(r.latency.value_at_quantile(0.999)),
                r.syncs,
                r.checkpoints
            );
            runs.push(r);
        }
    }
    let floor = floor(3_000);
    println!(
        "floor: write(40 B) + fdatasync: p50 {:.1} us, p99 {:.1} us ({:.0} per second from one \
         thread)",
        us(floor.value_at_quantile(0.5)),
        us(floor.value_at_quantile(0.99)),
        1e9 / floor.mean()
    );
    let (puts, raw) = interleaved(5);
    println!(
        "interleaved, 1 thread: ALWAYS put p50 {:.1} us p99 {:.1} us ({:.0}/s); write(40 B) + \
         fdatasync \
         p50 {:.1} us p99 {:.1} us ({:.0}/s)",
        us(puts.value_at_quantile(0.5)),
        us(puts.value_at_quantile(0.99)),
        1e9 / puts.mean(),
        us(raw.value_at_quantile(0.5)),
        us(raw.value_at_quantile(0.99)),
        1e9 / raw.mean()
    );
    let rate = |mode: &str, threads: usize| {
        runs.iter()
            .find(|r| r.mode == mode && r.threads == threads)
            .map_or(0.0, |r| r.per_second)
    };
    let always1 = rate("always", 1);
    let always8 = rate("always", 8);
    println!(
        "goals: ALWAYS 1 thread {:.0}/s (>= 5000: {}); ALWAYS 8 threads {:.1}x of 1 thread \
         (>= 4x: {}); \
         BATCH vs memory, 1 thread {:.2}x, 8 threads {:.2}x (>= 0.5x: {})",
        always1,
        if always1 >= 5000.0 { "met" } else { "missed" },
        always8 / always1,
        if always8 >= 4.0 * always1 {
            "met"
        } else {
            "missed"
        },
        rate("batch", 1) / rate("memory", 1),
        rate("batch", 8) / rate("memory", 8),
        if rate("batch", 1) >= 0.5 * rate("memory", 1) {
            "met"
        } else {
            "missed"
        },
    );
    for r in &runs {
        println!(
            "{{\"example\":\"durable_writes\",\"mode\":\"{}\",\"threads\":{},\"seconds\":{seconds},\
             \"puts\":{},\"puts_per_s\":{:.0},\"p50_us\":{:.1},\"p99_us\":{:.1},\"p999_us\":{:.1},\
             \"syncs\":{},\"checkpoints\":{}}}",
            r.mode,
            r.threads,
            r.puts,
            r.per_second,
            us(r.latency.value_at_quantile(0.5)),
            us(r.latency.value_at_quantile(0.99)),
            us(r.latency.value_at_quantile(0.999)),
            r.syncs,
            r.checkpoints
        );
    }
    println!(
        "{{\"example\":\"durable_writes\",\"floor\":\"write40+fdatasync\",\"p50_us\":{:.1},\
         \"p99_us\":{:.1},\"interleaved_always_put_p50_us\":{:.1},\
         \"interleaved_floor_p50_us\":{:.1},\"load_average\":\"{}\"}}",
        us(floor.value_at_quantile(0.5)),
        us(floor.value_at_quantile(0.99)),
        us(puts.value_at_quantile(0.5)),
        us(raw.value_at_quantile(0.5)),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
    );
}
