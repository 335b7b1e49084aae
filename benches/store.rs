//! Criterion benchmarks of the core store, the native floor under the JNI boundary.
//!
//! - `store_<N>`: lookups and writes against N users with random ids (N from the environment
//!   variable `USERSTORE_BENCH_USERS`, default 10 000 000) named `user-<k>`: `get`,
//!   `get_with_len`, `get_many_with` of 1024 ids against 1024 `get_with` calls on the same ids
//!   (both report time per id), `put_replace`, `remove_put`, `find_by_name`, `write_json`.
//! - `readers_<N>`: aggregate `get_with` throughput of 1 and of 2 reader threads while a writer
//!   thread puts continuously (time per get across all readers: 2 readers scaling perfectly
//!   halve it).
//! - `store_empty`: `put` of new users into a growing store.
//! - `bulk_100k`: `import_json` of 100k records, `replace_all` of the same users (the snapshot
//!   open path), `export_json`, `apply_batch` of the same users (replacing), a `scan` page of
//!   4096 users and one page of all of them (time per stored user).
//!
//! Run with `cargo bench --bench store` (about 3 to 4 minutes at 10M users on 2 cores);
//! `USERSTORE_BENCH_USERS=1000000 cargo bench --bench store` for a quicker run.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode, Throughput};
use userstore::Store;

mod common;
use common::{config, users, Rng};

/// Records in the bulk benchmarks.
const BULK_RECORDS: u64 = 100_000;
/// Ids per `get_many_with` batch.
const BATCH: usize = 1024;

/// The users: random ids in `0..=i64::MAX`, the k-th named `user-<k>`.
struct Fixture {
    store: Arc<Store>,
    ids: Arc<Vec<i64>>,
}

fn fixture() -> Fixture {
    let n = users(10_000_000);
    let mut rng = Rng(42);
    let ids: Vec<i64> = (0..n).map(|_| (rng.next() >> 1) as i64).collect();
    let store = Store::new();
    store
        .replace_all(
            ids.iter()
                .enumerate()
                .map(|(k, &id)| (id as u64, format!("user-{k}")))
                .collect(),
        )
        .unwrap();
    Fixture {
        store: Arc::new(store),
        ids: Arc::new(ids),
    }
}

fn lookups(c: &mut Criterion) {
    let Fixture { store, ids } = fixture();
    let n = ids.len();
    let mut group = c.benchmark_group(format!("store_{n}"));
    group.throughput(Throughput::Elements(1));

    let mut rng = Rng(1);
    group.bench_function("get", |b| {
        b.iter(|| store.get(black_box(ids[rng.below(n)])).unwrap())
    });

    let mut rng = Rng(2);
    group.bench_function("get_with_len", |b| {
        b.iter(|| {
            store
                .get_with(black_box(ids[rng.below(n)]), str::len)
                .unwrap()
        })
    });

    // The same batches for both: 1024 random ids, 1/8 of them absent.
    let mut rng = Rng(3);
    let batches: Vec<Vec<i64>> = (0..64)
        .map(|_| {
            (0..BATCH)
                .map(|k| {
                    if k % 8 == 7 {
                        (rng.next() >> 1) as i64
                    } else {
                        ids[rng.below(n)]
                    }
                })
                .collect()
        })
        .collect();
    group.throughput(Throughput::Elements(BATCH as u64));
    let mut i = 0;
    group.bench_function("get_many_with_1024", |b| {
        b.iter(|| {
            i = (i + 1) % batches.len();
            let mut total = 0usize;
            store
                .get_many_with(black_box(&batches[i]), |_, name| {
                    total += name.map_or(0, str::len)
                })
                .unwrap();
            total
        })
    });
    let mut i = 0;
    group.bench_function("get_with_x1024", |b| {
        b.iter(|| {
            i = (i + 1) % batches.len();
            let mut total = 0usize;
            for &id in black_box(&batches[i]) {
                total += store.get_with(id, str::len).unwrap().unwrap_or(0);
            }
            total
        })
    });
    group.throughput(Throughput::Elements(1));

    let mut rng = Rng(4);
    group.bench_function("put_replace", |b| {
        b.iter(|| {
            let k = rng.below(n);
            store
                .put(black_box(ids[k]), format!("user-{}", k ^ 1).as_bytes())
                .unwrap();
        })
    });

    let mut rng = Rng(5);
    group.bench_function("remove_put", |b| {
        b.iter(|| {
            let k = rng.below(n);
            assert!(store.remove(black_box(ids[k])).unwrap());
            store.put(ids[k], format!("user-{k}").as_bytes()).unwrap();
        })
    });

    let mut rng = Rng(6);
    group.bench_function("find_by_name", |b| {
        b.iter(|| {
            let query = format!("user-{}", rng.below(n));
            store.find_by_name(black_box(query.as_bytes())).unwrap()
        })
    });

    let mut rng = Rng(7);
    let mut out = Vec::with_capacity(256);
    group.bench_function("write_json", |b| {
        b.iter(|| {
            out.clear();
            store
                .write_json(black_box(ids[rng.below(n)]), &mut out)
                .unwrap()
        })
    });
    group.finish();

    reader_scaling(c, &store, &ids);
}

/// `readers` threads doing `iters` random `get_with` calls in total; returns the wall time.
fn run_readers(store: &Arc<Store>, ids: &Arc<Vec<i64>>, readers: u64, iters: u64) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..readers)
        .map(|r| {
            let store = Arc::clone(store);
            let ids = Arc::clone(ids);
            thread::spawn(move || {
                let mut rng = Rng(100 + r);
                let mut total = 0usize;
                for _ in 0..iters / readers {
                    let id = ids[rng.below(ids.len())];
                    total += store.get_with(id, str::len).unwrap().unwrap_or(0);
                }
                black_box(total)
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    start.elapsed()
}

fn reader_scaling(c: &mut Criterion, store: &Arc<Store>, ids: &Arc<Vec<i64>>) {
    let n = ids.len();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (store, ids, stop) = (Arc::clone(store), Arc::clone(ids), Arc::clone(&stop));
        thread::spawn(move || {
            let mut rng = Rng(99);
            let mut puts = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let k = rng.below(ids.len());
                store.put(ids[k], format!("user-{k}").as_bytes()).unwrap();
                puts += 1;
            }
            puts
        })
    };
    let mut group = c.benchmark_group(format!("readers_{n}"));
    group.throughput(Throughput::Elements(1));
    for readers in [1u64, 2] {
        group.bench_function(format!("get_with_{readers}_readers_1_writer"), |b| {
            b.iter_custom(|iters| run_readers(store, ids, readers, iters.max(readers * 1000)))
        });
    }
    group.finish();
    stop.store(true, Ordering::Relaxed);
    let puts = writer.join().unwrap();
    eprintln!("(the writer thread did {puts} puts meanwhile)");
}

fn insert_fresh(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_empty");
    group.throughput(Throughput::Elements(1));
    let store = Store::new();
    let mut next = 0i64;
    group.bench_function("put_new", |b| {
        b.iter(|| {
            next += 1;
            store
                .put(black_box(next), format!("user-{next}").as_bytes())
                .unwrap();
        })
    });
    group.finish();
}

fn bulk_users() -> Vec<(u64, String)> {
    (0..BULK_RECORDS)
        .map(|k| (k * 7, format!("user \"{k}\" 😀")))
        .collect()
}

fn import_input() -> Vec<u8> {
    let mut json = String::from("[");
    for (k, (id, _)) in bulk_users().iter().enumerate() {
        if k > 0 {
            json.push(',');
        }
        json.push_str(&format!(
            r#"{{"id":{id},"name":"user \"{k}\" 😀","active":true}}"#
        ));
    }
    json.push(']');
    json.into_bytes()
}

fn bulk(c: &mut Criterion) {
    let input = import_input();
    let mut group = c.benchmark_group("bulk_100k");
    // Milliseconds per iteration: sample flat over a longer window.
    group.sampling_mode(SamplingMode::Flat);
    group.measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Elements(BULK_RECORDS));
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
    // The snapshot open path: the users are already decoded; the clone is not measured.
    let users = bulk_users();
    group.bench_function("replace_all_into_empty", |b| {
        b.iter_batched(
            || (Store::new(), users.clone()),
            |(store, users)| {
                store.replace_all(black_box(users)).unwrap();
                store
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
    // The same users as one batch of puts (already decoded: no JSON to parse), replacing.
    let puts: Vec<(i64, &str)> = users
        .iter()
        .map(|(id, n)| (*id as i64, n.as_str()))
        .collect();
    group.bench_function("apply_batch_replacing", |b| {
        b.iter(|| store.apply_batch(black_box(&puts), &[]).unwrap())
    });
    // A page of scan: one pass over every slot plus the selection of the smallest ids, then the
    // names copied; reported per stored user, as export_json (which sorts every user).
    group.bench_function("scan_first_page_4096", |b| {
        b.iter(|| {
            store.scan_utf8_with(0, 4096, |id, name| {
                black_box((id, name));
            })
        })
    });
    group.bench_function("scan_all_in_one_page", |b| {
        b.iter(|| {
            store.scan_utf8_with(0, usize::MAX, |id, name| {
                black_box((id, name));
            })
        })
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = config();
    targets = lookups, insert_fresh, bulk
}
criterion_main!(benches);
