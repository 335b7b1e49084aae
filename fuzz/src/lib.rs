//! The checks the fuzz targets run on every input. They are plain functions so the same checks
//! replay the committed corpus as an ordinary `cargo test` (`tests/fuzz_corpus.rs` includes this
//! file), which keeps them in `./gradlew check`.
//!
//! Each check panics (which the fuzzer reports as a crash) when the store misbehaves: a panic
//! inside the store, an error of the wrong kind, a rejected input that changed the store, or an
//! accepted input whose result disagrees with an independent reading of the same bytes.

use std::collections::BTreeMap;

use userstore::{Store, StoreError};

/// The user every import check starts from, so "unchanged on rejection" is observable.
const SEED_ID: i64 = 7;
const SEED_NAME: &str = "seed";

/// `import_json` on `data`.
///
/// - Rejected: the error is `InvalidJson` with a message, and the store is unchanged.
/// - Accepted: the input is valid UTF-8; where serde_json can read it (its own depth limit is
///   lower than the store's), the records it reads are exactly what the store now holds, on top
///   of the seed user; the export, read back into a new store, gives the same export; `len` and
///   `find_by_name` of every stored name agree with the export.
pub fn check_import(data: &[u8]) {
    let store = Store::new();
    store
        .put(SEED_ID, SEED_NAME.as_bytes())
        .expect("the seed user is valid");
    let before = store.export_json();
    match store.import_json(data) {
        Err(error) => {
            assert!(
                matches!(error, StoreError::InvalidJson { .. }),
                "import_json failed with a non-JSON error: {error:?}"
            );
            assert!(!error.to_string().is_empty(), "an empty error message");
            assert_eq!(
                store.export_json(),
                before,
                "a rejected import changed the store"
            );
            assert_eq!(store.len(), 1, "a rejected import changed the size");
        }
        Ok(count) => {
            assert!(std::str::from_utf8(data).is_ok(), "accepted invalid UTF-8");
            let mut expected = BTreeMap::from([(SEED_ID as u64, SEED_NAME.to_owned())]);
            if let Ok(serde_json::Value::Array(records)) =
                serde_json::from_slice::<serde_json::Value>(data)
            {
                assert_eq!(records.len(), count, "the record count");
                for record in &records {
                    let id = record["id"].as_u64().expect("an accepted id is a u64");
                    assert!(id <= i64::MAX as u64, "accepted id {id}");
                    let name = record["name"]
                        .as_str()
                        .expect("an accepted name is a string");
                    expected.insert(id, name.to_owned());
                }
                assert_eq!(read_export(&store.export_json()), expected, "the content");
            }
            check_consistent(&store);
        }
    }
}

/// `Store::from_snapshot_bytes` on `data` as given, then on `data` with the header's magic,
/// version, flags, total length and trailing CRC-32 repaired, so the fuzzer reaches the record
/// reader without having to guess a checksum.
///
/// - Rejected: the error is `SnapshotCorrupt`.
/// - Accepted: the snapshot format is canonical (ids ascending, no slack), so writing the loaded
///   store gives back exactly the input bytes; and the store is consistent.
pub fn check_snapshot(data: &[u8]) {
    check_snapshot_bytes(data);
    if let Some(repaired) = repair_snapshot(data) {
        check_snapshot_bytes(&repaired);
    }
}

fn check_snapshot_bytes(bytes: &[u8]) {
    match Store::from_snapshot_bytes(bytes) {
        Err(error) => assert!(
            matches!(error, StoreError::SnapshotCorrupt { .. }),
            "from_snapshot_bytes failed with a non-corruption error: {error:?}"
        ),
        Ok(store) => {
            assert_eq!(
                store.to_snapshot_bytes(),
                bytes,
                "an accepted snapshot does not write back to the same bytes"
            );
            check_consistent(&store);
        }
    }
}

/// `data` with a valid header and CRC-32 around its bytes from offset 32 on (the header is 32
/// bytes: magic, version, flags, total length, user count; the CRC-32 follows the records).
/// None when `data` is too short to hold a header.
pub fn repair_snapshot(data: &[u8]) -> Option<Vec<u8>> {
    if data.len() < 36 {
        return None;
    }
    let mut bytes = data[..data.len() - 4].to_vec();
    bytes[..8].copy_from_slice(&userstore::core::SNAPSHOT_MAGIC);
    bytes[8..12].copy_from_slice(&userstore::core::SNAPSHOT_VERSION.to_le_bytes());
    bytes[12..16].copy_from_slice(&0u32.to_le_bytes());
    bytes[16..24].copy_from_slice(&(data.len() as u64).to_le_bytes());
    let crc = crc32(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    Some(bytes)
}

/// CRC-32 (IEEE, reflected, as zlib and the snapshot format compute it), bit by bit: an
/// independent implementation, so the fuzz checks do not trust the store's own.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// The export read with serde_json, as an id → name map (ids must be strictly ascending).
fn read_export(json: &[u8]) -> BTreeMap<u64, String> {
    let value: serde_json::Value = serde_json::from_slice(json).expect("the export is JSON");
    let mut users = BTreeMap::new();
    let mut previous = None;
    for user in value.as_array().expect("the export is an array") {
        let id = user["id"].as_u64().expect("an exported id");
        let name = user["name"].as_str().expect("an exported name").to_owned();
        assert!(previous < Some(id), "the export is not sorted by id");
        previous = Some(id);
        users.insert(id, name);
    }
    users
}

/// The export, `len`, `get`, `find_by_name` and a re-import of the export all agree.
fn check_consistent(store: &Store) {
    let export = store.export_json();
    let users = read_export(&export);
    assert_eq!(
        store.len(),
        users.len() as u64,
        "len and the export disagree"
    );
    let mut by_name: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for (&id, name) in &users {
        by_name.entry(name).or_default().push(id);
        assert_eq!(
            store
                .get(id as i64)
                .expect("a stored id is valid")
                .as_deref(),
            Some(name.as_str()),
            "get({id})"
        );
    }
    for (name, ids) in by_name {
        assert_eq!(
            store
                .find_by_name(name.as_bytes())
                .expect("a stored name is valid"),
            ids,
            "find_by_name({name:?})"
        );
    }
    let again = Store::new();
    again
        .import_json(&export)
        .expect("the export imports again");
    assert_eq!(again.export_json(), export, "export → import → export");
}
