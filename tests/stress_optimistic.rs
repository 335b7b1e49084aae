//! Stress test of the optimistic read path: writers keep renaming, inserting, removing and
//! importing while readers check every name they get (through `get`, `get_many`,
//! `write_json_into` and `find_by_name`) against what a writer could have written for that id.
//! A torn or mixed read would show up as a name that is not of the form below.
//!
//! Every name written for `id` at version `v` is `"{id}:{v}:"` followed by one character repeated
//! a number of times that depends on `v`, crossing the 15-byte inline limit both ways (so names
//! move between the slot and the arena). Churn ids are inserted and removed in blocks so that
//! tables grow and shrink under the readers, and long names are replaced often enough for the
//! arena to be compacted. At the end, every retired table and arena must have been freed.
//!
//! Half of the stable reads go to a few hot ids that the writers rename in a tight loop, so
//! reads do overlap writes. (A window is only a few stores long, so on 2 cores this test is a
//! smoke test of the protocol more than a detector of every bug: with the validation switched off
//! it still passed here in 3 s; the loom model and the `Torn` unit tests cover the rest.)
//!
//! Runs for about 3 seconds (`cargo test --release --test stress_optimistic`).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use userstore::{reclaim, Store};

/// Ids that always exist (each owned by one writer).
const STABLE: u64 = 4_000;
/// The stable ids renamed most often, and read most often, so reads do race writes.
const HOT: u64 = 16;
/// Ids inserted and removed in blocks by the churn writer.
const CHURN_BASE: u64 = 1_000_000;
const CHURN: u64 = 30_000;
const RUN: Duration = Duration::from_secs(3);

/// The name written for `id` at version `v`.
fn name(id: u64, v: u64) -> String {
    let c = char::from(b'a' + (v % 26) as u8);
    let len = 1 + (v * 7 + id) as usize % 40;
    format!("{id}:{v}:{}", c.to_string().repeat(len))
}

/// Panics unless `got` is a name some writer wrote for `id`.
fn check(id: u64, got: &str) {
    let mut parts = got.splitn(3, ':');
    let (Some(gid), Some(v), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
        panic!("id {id}: malformed name {got:?}");
    };
    assert_eq!(
        gid,
        id.to_string(),
        "id {id}: a name of another id: {got:?}"
    );
    let v: u64 = v
        .parse()
        .unwrap_or_else(|_| panic!("id {id}: bad version in {got:?}"));
    assert_eq!(got, name(id, v), "id {id}: torn or mixed name");
}

#[test]
fn readers_never_see_torn_or_mixed_names() {
    let store = Arc::new(Store::new());
    for id in 0..STABLE {
        store.put(id as i64, name(id, 0).as_bytes()).unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let reads = Arc::new(AtomicU64::new(0));
    let mut writers = Vec::new();

    // Two writers rename their half of the stable ids, version after version.
    for w in 0..2u64 {
        let store = Arc::clone(&store);
        let stop = Arc::clone(&stop);
        writers.push(thread::spawn(move || {
            let mut v = 1;
            while !stop.load(Ordering::Relaxed) {
                let ids = if v % 64 == 0 { STABLE } else { HOT };
                for id in (w..ids).step_by(2) {
                    store.put(id as i64, name(id, v).as_bytes()).unwrap();
                }
                v += 1;
            }
            v
        }));
    }
    // The churn writer: fills a block of ids (tables grow), renames them (arena garbage,
    // compaction), imports them, removes them (tables shrink).
    {
        let store = Arc::clone(&store);
        let stop = Arc::clone(&stop);
        writers.push(thread::spawn(move || {
            let mut v = 0;
            while !stop.load(Ordering::Relaxed) {
                for id in CHURN_BASE..CHURN_BASE + CHURN {
                    store.put(id as i64, name(id, v).as_bytes()).unwrap();
                }
                for id in (CHURN_BASE..CHURN_BASE + CHURN).step_by(3) {
                    store.put(id as i64, name(id, v + 1).as_bytes()).unwrap();
                }
                let records: Vec<String> = (CHURN_BASE..CHURN_BASE + 2_000)
                    .map(|id| format!(r#"{{"id":{id},"name":"{}"}}"#, name(id, v + 2)))
                    .collect();
                store
                    .import_json(format!("[{}]", records.join(",")).as_bytes())
                    .unwrap();
                for id in CHURN_BASE..CHURN_BASE + CHURN {
                    store.remove(id as i64).unwrap();
                }
                v += 3;
            }
            v
        }));
    }

    let mut readers = Vec::new();
    for r in 0..3u64 {
        let store = Arc::clone(&store);
        let stop = Arc::clone(&stop);
        let reads = Arc::clone(&reads);
        readers.push(thread::spawn(move || {
            let mut x = 0x9E37_79B9_7F4A_7C15u64 ^ r;
            let mut next = move |n: u64| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Stable ids: the hot ones half of the time.
                if n == STABLE && x & 1 == 0 {
                    (x >> 1) % HOT
                } else {
                    x % n
                }
            };
            let mut json = [0u8; 2048];
            let mut done = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // get, on a stable id (always present) and a churn id (maybe).
                let id = next(STABLE);
                let got = store.get(id as i64).unwrap().expect("stable ids stay");
                check(id, &got);
                let id = CHURN_BASE + next(CHURN);
                if let Some(got) = store.get(id as i64).unwrap() {
                    check(id, &got);
                }
                // get_many over a mixed batch.
                let ids: Vec<i64> = (0..40)
                    .map(|k| {
                        if k % 2 == 0 {
                            next(STABLE) as i64
                        } else {
                            (CHURN_BASE + next(CHURN)) as i64
                        }
                    })
                    .collect();
                let mut seen = 0;
                store
                    .get_many_with(&ids, |k, got| {
                        assert_eq!(k, seen, "get_many out of order");
                        seen += 1;
                        let id = ids[k] as u64;
                        match got {
                            Some(got) => check(id, got),
                            None => assert!(id >= CHURN_BASE, "stable id {id} missing"),
                        }
                    })
                    .unwrap();
                assert_eq!(seen, ids.len());
                // write_json_into.
                let id = next(STABLE);
                let len = store
                    .write_json_into(id as i64, &mut json)
                    .unwrap()
                    .unwrap();
                let user: serde_json::Value = serde_json::from_slice(&json[..len]).unwrap();
                assert_eq!(user["id"].as_u64(), Some(id));
                check(id, user["name"].as_str().unwrap());
                // find_by_name: a name this id may hold now; only this id can have it.
                if done % 16 == 0 {
                    let id = next(STABLE);
                    if let Some(current) = store.get(id as i64).unwrap() {
                        let found = store.find_by_name(current.as_bytes()).unwrap();
                        assert!(
                            found.is_empty() || found == vec![id],
                            "{current}: {found:?}"
                        );
                    }
                }
                done += 1;
            }
            reads.fetch_add(done, Ordering::Relaxed);
        }));
    }

    let start = Instant::now();
    while start.elapsed() < RUN {
        thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.join().unwrap();
    }
    let versions: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    assert!(reads.load(Ordering::Relaxed) > 1_000, "readers hardly ran");
    assert!(
        versions.iter().all(|&v| v > 1),
        "writers hardly ran: {versions:?}"
    );
    assert_eq!(store.len(), STABLE);
    for id in 0..STABLE {
        check(id, &store.get(id as i64).unwrap().unwrap());
    }

    // Every retired table and arena is freed once no reader is pinned: an unpin that sees
    // pending work collects it.
    drop(store);
    let deadline = Instant::now() + Duration::from_secs(10);
    while reclaim::pending() != 0 {
        assert!(
            Instant::now() < deadline,
            "{} retired values never freed",
            reclaim::pending()
        );
        drop(reclaim::pin());
        thread::sleep(Duration::from_millis(1));
    }
}
