//! The native floor of the JMH benchmarks: the same operations as `StoreBenchmark` (kotlin-demo's
//! `src/jmh`), on the same data, in Rust alone, so that JMH's native time minus this one is what the
//! JNI boundary and the Kotlin wrapper cost.
//!
//! Same set-up as JMH: `users` users with ids `0..users` named `user-<id>` (default 1 000 000;
//! `USERSTORE_BENCH_USERS` overrides), 2^20 pre-drawn pseudo-random ids, getMany batches of 1024.
//! Each operation does what the native side of the JNI call does, minus the boundary:
//! - `get`: the name copied out into a 1024-byte buffer (as `getDirect0` fills the direct buffer);
//! - `get_cached`: the same over 256 ids only, which stay in cache;
//! - `get_many_1024`: one batch, its ids read from native-order bytes (as `getManyDirect0` reads
//!   them from the direct buffer), every name copied out after a length word (reported per id);
//! - `get_json`: `{"id":…,"name":…}` written straight into a fixed 256-byte buffer (as
//!   `getJsonDirect0` fills the direct buffer);
//! - `put`: replace a user with a new name (one pass renames, the next restores, as JMH's put;
//!   run last, so the lookups above all see the names `user-<id>`);
//! - `find_by_name`: the ids of one name (a unique name, `user-<id>` of a random id);
//! - `get_miss`: `get` of random ids that are not in the store (`users..i64::MAX`).
//!
//! And, in the same run, the machine's floor for these lookups:
//! - `floor`: one dependent random 8-byte load from an array as large as the store's tables
//!   (`Store::table_bytes`, about 28 MiB at 1M users): the array holds a random cyclic
//!   permutation (Sattolo's algorithm) and each iteration loads `next = array[next]`, so no two
//!   loads overlap and each one costs a cache (and mostly a TLB) miss, as a lookup's first load
//!   does.
//!
//! At the end, every case's time (Criterion's slope estimate, the `time` it prints; per id for
//! `get_many_1024`) is printed as a ratio to the floor's, read back from Criterion's
//! `estimates.json` of this run (a case whose file is older than the run, e.g. filtered out on
//! the command line, is shown as not run).
//!
//! Run with `cargo bench --bench floor` (about a minute and a half).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::SystemTime;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use userstore::Store;

mod common;
use common::{config, users, Rng};

/// 2^20 pre-drawn ids, as in JMH: more distinct keys than any cache holds.
const IDS: usize = 1 << 20;
/// Ids per getMany batch, as in JMH.
const BATCH: usize = 1024;

/// A random cyclic permutation of `0..len` (Sattolo's algorithm): following `next = a[next]`
/// from any start visits every index once before it comes back.
fn cycle(len: usize, rng: &mut Rng) -> Vec<u64> {
    let mut a: Vec<u64> = (0..len as u64).collect();
    for i in (1..len).rev() {
        let j = rng.below(i);
        a.swap(i, j);
    }
    a
}

fn floor(c: &mut Criterion) {
    let started = SystemTime::now();
    let n = users(1_000_000) as u64;
    let store = Store::new();
    store
        .replace_all((0..n).map(|id| (id, format!("user-{id}"))).collect())
        .unwrap();
    let mut rng = Rng(42);
    let ids: Vec<i64> = (0..IDS).map(|_| rng.below(n as usize) as i64).collect();
    let absent: Vec<i64> = (0..IDS)
        .map(|_| n as i64 + rng.below(i64::MAX as usize - n as usize) as i64)
        .collect();
    let names: Vec<String> = ids.iter().map(|id| format!("user-{id}")).collect();
    let renames: Vec<String> = ids.iter().map(|id| format!("renamed-{id}")).collect();

    let group_name = format!("floor_{n}");
    let mut group = c.benchmark_group(&group_name);
    group.throughput(Throughput::Elements(1));
    let mut buffer = [0u8; 1024];

    let table_bytes = store.table_bytes() as usize;
    let chain = cycle((table_bytes / 8).max(1), &mut rng);
    println!(
        "floor: pointer chase over {} MiB ({} words), the store's tables: {} MiB for {n} users",
        (chain.len() * 8) >> 20,
        chain.len(),
        table_bytes >> 20
    );
    let mut at = 0u64;
    group.bench_function("floor", |b| {
        b.iter(|| {
            at = chain[at as usize];
            at
        })
    });
    drop(chain);

    let mut next = 0usize;
    group.bench_function("get", |b| {
        b.iter(|| {
            next = (next + 1) & (IDS - 1);
            store
                .get_with(black_box(ids[next]), |name| {
                    buffer[..name.len()].copy_from_slice(name.as_bytes());
                    name.len()
                })
                .unwrap()
        })
    });
    group.bench_function("get_cached", |b| {
        b.iter(|| {
            next = (next + 1) & 255;
            store
                .get_with(black_box(ids[next]), |name| {
                    buffer[..name.len()].copy_from_slice(name.as_bytes());
                    name.len()
                })
                .unwrap()
        })
    });

    group.bench_function("get_miss", |b| {
        b.iter(|| {
            next = (next + 1) & (IDS - 1);
            store
                .get_with(black_box(absent[next]), |name| name.len())
                .unwrap()
        })
    });

    group.throughput(Throughput::Elements(BATCH as u64));
    let mut out = vec![0u8; BATCH * 1028];
    let id_bytes: Vec<u8> = ids.iter().flat_map(|id| id.to_ne_bytes()).collect();
    let mut batch = 0usize;
    group.bench_function("get_many_1024", |b| {
        b.iter(|| {
            batch = (batch + 1) % (IDS / BATCH);
            let batch_ids = black_box(&id_bytes[batch * BATCH * 8..][..BATCH * 8])
                .chunks_exact(8)
                .map(|b| i64::from_ne_bytes(b.try_into().unwrap()));
            let mut at = 0;
            store
                .get_many_utf8_with(batch_ids, |_, name| {
                    let name = name.unwrap_or_default();
                    out[at..at + 4].copy_from_slice(&(name.len() as i32).to_ne_bytes());
                    out[at + 4..at + 4 + name.len()].copy_from_slice(name);
                    at += 4 + name.len();
                })
                .unwrap();
            at
        })
    });
    group.throughput(Throughput::Elements(1));

    let mut json = [0u8; 256];
    group.bench_function("get_json", |b| {
        b.iter(|| {
            next = (next + 1) & (IDS - 1);
            store
                .write_json_into(black_box(ids[next]), &mut json)
                .unwrap()
        })
    });

    group.bench_function("find_by_name", |b| {
        b.iter(|| {
            next = (next + 1) & (IDS - 1);
            store
                .find_by_name(black_box(names[next].as_bytes()))
                .unwrap()
        })
    });

    // As JMH: one pass over the ids renames, the next pass restores the original names.
    let mut i = 0usize;
    group.bench_function("put", |b| {
        b.iter(|| {
            i += 1;
            let k = i & (IDS - 1);
            let name = if (i >> 20) & 1 == 0 {
                &renames[k]
            } else {
                &names[k]
            };
            store.put(black_box(ids[k]), name.as_bytes()).unwrap()
        })
    });
    group.finish();
    summary(&group_name, started);
}

/// Criterion's output directory: `CRITERION_HOME`, else `<target dir>/criterion`.
fn criterion_dir() -> PathBuf {
    if let Some(home) = std::env::var_os("CRITERION_HOME") {
        return PathBuf::from(home);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    target.join("criterion")
}

/// The time per iteration (ns) of `case` in this run, from Criterion's estimates.
fn mean_ns(group: &str, case: &str, started: SystemTime) -> Option<f64> {
    let path = criterion_dir()
        .join(group)
        .join(case)
        .join("new")
        .join("estimates.json");
    let modified = std::fs::metadata(&path).ok()?.modified().ok()?;
    if modified < started {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    // The slope (the figure Criterion prints as `time` for its linear sampling), else the mean.
    json["slope"]["point_estimate"]
        .as_f64()
        .or_else(|| json["mean"]["point_estimate"].as_f64())
}

/// Prints every case as a ratio to the floor measured in the same run.
fn summary(group: &str, started: SystemTime) {
    let cases = [
        ("get", 1.0),
        ("get_miss", 1.0),
        ("get_cached", 1.0),
        ("get_many_1024", BATCH as f64),
        ("find_by_name", 1.0),
        ("get_json", 1.0),
        ("put", 1.0),
    ];
    println!("\nsummary ({group}): time per operation (per id for get_many_1024) / floor");
    let Some(floor) = mean_ns(group, "floor", started) else {
        println!("  floor: not run in this run, no ratios");
        return;
    };
    println!("  {:<16} {floor:>9.1} ns   1.00 floor", "floor");
    for (case, per) in cases {
        match mean_ns(group, case, started) {
            Some(ns) => {
                let ns = ns / per;
                println!("  {case:<16} {ns:>9.1} ns  {:>5.2} floor", ns / floor);
            }
            None => println!("  {case:<16} not run"),
        }
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = floor
}
criterion_main!(benches);
