//! Measures the resident memory the store uses per user: reads `VmRSS` from
//! `/proc/self/status` before and after putting N users, for short names (`user-<id>`, at most
//! 12 bytes for N up to 10M) and for 40-byte names.
//!
//! Run with `cargo run --release --example memory -- 10000000 [short|long|both]`.
//! The ids are `0..N` in a shuffled order (a multiplicative permutation), so the tables fill
//! the way random inserts fill them. Linux only (it reads `/proc`).

use std::time::Instant;

use userstore::Store;

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
}
