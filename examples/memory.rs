//! Measures the resident memory the store uses per user: reads `VmRSS` from
//! `/proc/self/status` before and after putting N users, for short names (`user-<id>`, at most
//! 12 bytes for N up to 10M) and for 40-byte names.
//!
//! Run with `cargo run --release --example memory -- 10000000 [short|long|both|reopen]`.
//! The ids are `0..N` in a shuffled order (a multiplicative permutation), so the tables fill
//! the way random inserts fill them. Linux only (it reads `/proc`).
//!
//! `reopen`: builds a durable data directory of N short-named users (half in its snapshot, half
//! in its log, as a store that ran a while), closes it, then measures the growth of the process
//! over `Store::open_durable` of it, and again after N random `get`s.

use std::path::Path;
use std::time::Instant;

use userstore::{DurableOptions, Store, SyncMode};

/// The resident set size of this process in bytes, from `/proc/self/status`.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS value");
    kib * 1024
}

/// The k-th id of a permutation of `0..n`: `k * step mod n` with `step` coprime to `n`.
fn shuffled(k: u64, n: u64, step: u64) -> u64 {
    ((u128::from(k) * u128::from(step)) % u128::from(n)) as u64
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

fn measure(n: u64, label: &str, name: impl Fn(u64) -> String) {
    let mut step = (0x9E37_79B9_7F4A_7C15 % n.max(2)) | 1;
    while gcd(step, n) != 1 {
        step += 2;
    }
    let before = rss_bytes();
    let start = Instant::now();
    let store = Store::new();
    let mut name_bytes = 0u64;
    for k in 0..n {
        let id = shuffled(k, n, step);
        let name = name(id);
        name_bytes += name.len() as u64;
        store.put(id as i64, name.as_bytes()).expect("valid user");
    }
    let elapsed = start.elapsed();
    let after = rss_bytes();
    assert_eq!(store.len(), n);
    let used = after.saturating_sub(before);
    println!(
        "{label:>5} names: {n:>10} users, average name {:.1} bytes: RSS +{:.1} MiB = {:.1} bytes/user (loaded in {:.2?})",
        name_bytes as f64 / n as f64,
        used as f64 / (1024.0 * 1024.0),
        used as f64 / n as f64,
        elapsed,
    );
    drop(store);
}

/// Builds a durable data directory `dir` of `n` short-named users: half in its snapshot
/// (`replace_all` on a durable store is a checkpoint), half as `put`s in its log.
fn build_durable(dir: &Path, n: u64) {
    let options = DurableOptions {
        sync: SyncMode::None,
        checkpoint_log_bytes: u64::MAX,
    };
    let store = Store::open_durable(dir, options).expect("open for building");
    let half = n / 2;
    store
        .replace_all((0..half).map(|id| (id, format!("user-{id}"))).collect())
        .expect("the snapshot half");
    for id in half..n {
        store
            .put(id as i64, format!("user-{id}").as_bytes())
            .expect("the log half");
    }
}

/// The growth of the process over a reopen of a durable store of `n` users. The directory is
/// built by a child process (this example run as `memory N build-durable DIR`), so that nothing
/// the building left in this process's allocator hides or inflates the open's own growth.
fn reopen(n: u64) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let status = std::process::Command::new(std::env::current_exe().expect("this example"))
        .arg(n.to_string())
        .arg("build-durable")
        .arg(dir.path())
        .status()
        .expect("run the builder");
    assert!(status.success(), "the builder failed: {status}");
    let before = rss_bytes();
    let start = Instant::now();
    let store = Store::open_durable(dir.path(), DurableOptions::new(SyncMode::None)).expect("open");
    let elapsed = start.elapsed();
    assert_eq!(store.len(), n);
    let opened = rss_bytes();
    // xorshift64: random ids, no dependency.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut found = 0u64;
    for _ in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let id = (x % n) as i64;
        let hit = store.get_with(id, |name| name.len()).expect("valid id");
        found += u64::from(hit.is_some());
    }
    assert_eq!(found, n);
    let after_gets = rss_bytes();
    let per_user = |bytes: u64| bytes.saturating_sub(before) as f64 / n as f64;
    println!(
        "reopen: {n:>10} users (half snapshot, half log): RSS +{:.1} B/user after open_durable \
         ({elapsed:.2?}), +{:.1} B/user after {n} random gets; tables {:.1} B/user",
        per_user(opened),
        per_user(after_gets),
        store.table_bytes() as f64 / n as f64,
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .map(|a| a.replace('_', "").parse().expect("N must be a number"))
        .unwrap_or(1_000_000);
    let which = args.next().unwrap_or_else(|| "both".to_owned());
    if which == "short" || which == "both" {
        measure(n, "short", |id| format!("user-{id}"));
    }
    if which == "long" || which == "both" {
        measure(n, "long", |id| format!("user-{id:0>35}"));
    }
    if which == "reopen" {
        reopen(n);
    }
    if which == "build-durable" {
        let dir = args.next().expect("build-durable DIR");
        build_durable(Path::new(&dir), n);
    }
}
