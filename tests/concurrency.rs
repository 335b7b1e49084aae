//! A smoke test of the store under concurrent readers and writers: no deadlock, no torn
//! state, and an import is seen either entirely or not at all.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use userstore::Store;

/// Ids written by the importer; every import names all of them `gen<k>` for one `k`.
const IMPORT_BASE: u64 = 1_000_000;
const IMPORT_COUNT: u64 = 200;

fn import_json(generation: u64) -> Vec<u8> {
    let records: Vec<String> = (IMPORT_BASE..IMPORT_BASE + IMPORT_COUNT)
        .map(|id| format!(r#"{{"id":{id},"name":"gen{generation}"}}"#))
        .collect();
    format!("[{}]", records.join(",")).into_bytes()
}

#[test]
fn concurrent_readers_and_writers() {
    let store = Arc::new(Store::new());
    store.import_json(&import_json(0)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();

    // Writers: each owns ids `w * 1000 .. w * 1000 + 100`; names always say whose they are.
    for writer in 0..4i64 {
        let store = Arc::clone(&store);
        handles.push(thread::spawn(move || {
            for round in 0..300i64 {
                for k in 0..100 {
                    let id = writer * 1000 + k;
                    let name = format!("w{writer}-{}", round % 3);
                    store.put(id, name.as_bytes()).unwrap();
                    assert_eq!(store.get(id).unwrap().as_deref(), Some(name.as_str()));
                    if (k + round) % 7 == 0 {
                        assert!(store.remove(id).unwrap());
                        assert_eq!(store.get(id).unwrap(), None);
                    }
                }
            }
        }));
    }

    // The importer: whole generations at a time.
    {
        let store = Arc::clone(&store);
        handles.push(thread::spawn(move || {
            for generation in 1..=100 {
                let count = store.import_json(&import_json(generation)).unwrap();
                assert_eq!(count, IMPORT_COUNT as usize);
                // A rejected import in between changes nothing.
                assert!(store.import_json(b"[{\"id\":1,\"name\":\"\"}]").is_err());
            }
        }));
    }

    // Readers: every snapshot must be consistent.
    let mut readers = Vec::new();
    for _ in 0..4 {
        let store = Arc::clone(&store);
        let stop = Arc::clone(&stop);
        readers.push(thread::spawn(move || {
            let mut snapshots = 0u64;
            while !stop.load(Ordering::Relaxed) || snapshots == 0 {
                let export = store.export_json();
                let users: Vec<serde_json::Value> = serde_json::from_slice(&export).unwrap();
                let mut previous = None;
                let mut generation = None;
                let mut imported = 0;
                for user in &users {
                    let id = user["id"].as_u64().unwrap();
                    let name = user["name"].as_str().unwrap();
                    assert!(previous < Some(id), "export not sorted");
                    previous = Some(id);
                    if id >= IMPORT_BASE {
                        imported += 1;
                        match generation {
                            None => generation = Some(name.to_owned()),
                            Some(ref g) => assert_eq!(g, name, "torn import"),
                        }
                    } else {
                        assert!(
                            name.starts_with(&format!("w{}-", id / 1000)),
                            "{id}: {name}"
                        );
                    }
                }
                assert_eq!(imported, IMPORT_COUNT, "partial import visible");
                if let Some(generation) = generation {
                    let ids = store.find_by_name(generation.as_bytes()).unwrap();
                    // The importer may have moved on; if not, the index has them all.
                    assert!(ids.is_empty() || ids.len() == IMPORT_COUNT as usize);
                    assert!(ids.windows(2).all(|w| w[0] < w[1]));
                }
                let mut out = Vec::new();
                let _ = store.write_json(5, &mut out).unwrap();
                let _ = store.len();
                snapshots += 1;
            }
            snapshots
        }));
    }

    for handle in handles {
        handle.join().unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.join().unwrap() > 0);
    }
    assert_eq!(
        store.find_by_name(b"gen100").unwrap().len(),
        IMPORT_COUNT as usize
    );
}
