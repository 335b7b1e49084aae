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
//! - `put`: replace a user with a new name (one pass renames, the next restores, as JMH's put);
//! - `find_by_name`: the ids of one name.
//!
//! Run with `cargo bench --bench floor` (about a minute).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use userstore::Store;

mod common;
use common::{config, users, Rng};

/// 2^20 pre-drawn ids, as in JMH: more distinct keys than any cache holds.
const IDS: usize = 1 << 20;
/// Ids per getMany batch, as in JMH.
const BATCH: usize = 1024;

fn floor(c: &mut Criterion) {
    let n = users(1_000_000) as u64;
    let store = Store::new();
    store
        .replace_all((0..n).map(|id| (id, format!("user-{id}"))).collect())
        .unwrap();
    let mut rng = Rng(42);
    let ids: Vec<i64> = (0..IDS).map(|_| rng.below(n as usize) as i64).collect();
    let names: Vec<String> = ids.iter().map(|id| format!("user-{id}")).collect();
    let renames: Vec<String> = ids.iter().map(|id| format!("renamed-{id}")).collect();

    let mut group = c.benchmark_group(format!("floor_{n}"));
    group.throughput(Throughput::Elements(1));
    let mut buffer = [0u8; 1024];

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

    group.bench_function("find_by_name", |b| {
        b.iter(|| {
            next = (next + 1) & (IDS - 1);
            store
                .find_by_name(black_box(names[next].as_bytes()))
                .unwrap()
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = floor
}
criterion_main!(benches);
