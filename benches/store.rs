//! Criterion benchmarks of the core store, the native floor under the JNI boundary: `get` by
//! random id among 1M users, `put`, `remove` + `put`, `find_by_name`, `write_json` and
//! `import_json` of 100k records.
//!
//! Run with `cargo bench --bench store`; the settings keep a full run to a few minutes.

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use userstore::Store;

/// Users in the store the lookups run against.
const USERS: i64 = 1_000_000;
/// Distinct names, so each name is shared by `USERS / NAMES` users.
const NAMES: i64 = 100_000;
/// Records in the import benchmark.
const IMPORT_RECORDS: i64 = 100_000;

/// SplitMix64: a small, deterministic pseudo-random generator (no extra dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// An id in `0..USERS`.
    fn id(&mut self) -> i64 {
        (self.next() % USERS as u64) as i64
    }
}

fn name(id: i64) -> String {
    format!("user-{}-Zoë", id % NAMES)
}

fn filled_store() -> Store {
    let store = Store::new();
    for id in 0..USERS {
        store.put(id, name(id).as_bytes()).unwrap();
    }
    store
}

fn import_input() -> Vec<u8> {
    let mut json = String::from("[");
    for id in 0..IMPORT_RECORDS {
        if id > 0 {
            json.push(',');
        }
        json.push_str(&format!(
            r#"{{"id":{},"name":"user \"{}\" 😀","active":true}}"#,
            id * 7,
            id
        ));
    }
    json.push(']');
    json.into_bytes()
}

fn lookups(c: &mut Criterion) {
    let store = filled_store();
    let mut group = c.benchmark_group("store_1M");
    group.throughput(Throughput::Elements(1));

    let mut rng = Rng(1);
    group.bench_function("get", |b| {
        b.iter(|| store.get(black_box(rng.id())).unwrap())
    });

    let mut rng = Rng(2);
    group.bench_function("get_with_len", |b| {
        b.iter(|| store.get_with(black_box(rng.id()), str::len).unwrap())
    });

    let mut rng = Rng(3);
    group.bench_function("put_replace", |b| {
        b.iter(|| {
            let id = rng.id();
            store.put(black_box(id), name(id + 1).as_bytes()).unwrap();
        })
    });

    let mut rng = Rng(4);
    group.bench_function("remove_put", |b| {
        b.iter(|| {
            let id = rng.id();
            assert!(store.remove(black_box(id)).unwrap());
            store.put(id, name(id).as_bytes()).unwrap();
        })
    });

    let mut rng = Rng(5);
    group.bench_function("find_by_name", |b| {
        b.iter(|| {
            let query = name(rng.id());
            store.find_by_name(black_box(query.as_bytes())).unwrap()
        })
    });

    let mut rng = Rng(6);
    let mut out = Vec::with_capacity(256);
    group.bench_function("write_json", |b| {
        b.iter(|| {
            out.clear();
            store.write_json(black_box(rng.id()), &mut out).unwrap()
        })
    });
    group.finish();
}

fn insert_fresh(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_empty");
    group.throughput(Throughput::Elements(1));
    let store = Store::new();
    let mut next = 0i64;
    group.bench_function("put_new", |b| {
        b.iter(|| {
            next += 1;
            store.put(black_box(next), name(next).as_bytes()).unwrap();
        })
    });
    group.finish();
}

fn import(c: &mut Criterion) {
    let input = import_input();
    let mut group = c.benchmark_group("import_100k");
    // Tens of milliseconds per iteration: sample flat over a longer window.
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(6));
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.bench_function("import_json_into_empty", |b| {
        b.iter_batched(
            Store::new,
            |store| {
                let count = store.import_json(black_box(&input)).unwrap();
                (store, count)
            },
            BatchSize::PerIteration,
        )
    });
    let store = Store::new();
    store.import_json(&input).unwrap();
    group.bench_function("import_json_replacing", |b| {
        b.iter(|| store.import_json(black_box(&input)).unwrap())
    });
    group.bench_function("export_json", |b| b.iter(|| store.export_json()));
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = lookups, insert_fresh, import
}
criterion_main!(benches);
