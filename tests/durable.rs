//! Integration tests of durable stores (`docs/DURABILITY.md`): round trips, replay order, the
//! torn-tail rules and damage, the directory lock, checkpoints (also cut short at every step),
//! group commit and the background flush, and the golden bytes shared with the Kotlin tests.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use userstore::{DurableOptions, Store, StoreError, SyncMode};

const HEADER: usize = 28;

fn always() -> DurableOptions {
    DurableOptions::new(SyncMode::Always)
}

fn open(dir: &Path) -> Store {
    Store::open_durable(dir, always()).expect("open_durable")
}

fn log(dir: &Path, g: u64) -> PathBuf {
    dir.join(format!("log-{g:020}.wal"))
}

fn snapshot(dir: &Path, g: u64) -> PathBuf {
    dir.join(format!("snapshot-{g:020}.snap"))
}

/// The file names in `dir`, sorted.
fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every file of `dir` with its bytes.
fn contents(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    files(dir)
        .into_iter()
        .map(|name| {
            let bytes = fs::read(dir.join(&name)).unwrap();
            (name, bytes)
        })
        .collect()
}

fn json(users: &[(i64, &str)]) -> Vec<u8> {
    let items: Vec<String> = users
        .iter()
        .map(|(id, name)| format!(r#"{{"id":{id},"name":"{name}"}}"#))
        .collect();
    format!("[{}]", items.join(",")).into_bytes()
}

/// The record bytes of a put, as the doc lays them out (for offsets in the tests).
fn put_record_len(name: &str) -> usize {
    12 + 1 + 8 + 2 + name.len()
}

/// The golden sequence of the contract.
fn golden_ops(store: &Store) {
    store.put(1, b"Ada").unwrap();
    store.put(2, b"Bob").unwrap();
    assert!(store.remove(1).unwrap());
    assert_eq!(
        store.import_json(&json(&[(3, "Cy"), (2, "Bo")])).unwrap(),
        2
    );
    assert!(!store.remove(99).unwrap());
    // One batch record: the puts in order, then the removed ids that existed, each once, in the
    // order of their first mention (3, then 2; 98 is absent).
    let puts = [(4, "Di"), (5, "Eve"), (4, "Dee")];
    assert_eq!(store.apply_batch(&puts, &[3, 98, 2, 3]).unwrap(), 2);
    // A batch that changes nothing logs nothing.
    assert_eq!(store.apply_batch::<&str>(&[], &[98]).unwrap(), 0);
}

fn hex_decode(text: &str) -> Vec<u8> {
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

/// The golden log, built by hand from the doc, independently of the implementation.
fn golden_by_hand() -> Vec<u8> {
    fn record(payload: &[u8]) -> Vec<u8> {
        let len = payload.len() as u32;
        let mut out = Vec::new();
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
        out.extend_from_slice(payload);
        out
    }
    fn user(id: u64, name: &str) -> Vec<u8> {
        let mut out = id.to_le_bytes().to_vec();
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out
    }
    let mut bytes = vec![0x89, 0x55, 0x53, 0x57, 0x41, 0x4C, 0x0D, 0x0A];
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&0u32.to_le_bytes());
    bytes.extend_from_slice(&1u64.to_le_bytes());
    let crc = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&crc.to_le_bytes());
    bytes.extend(record(&[&[1u8][..], &user(1, "Ada")].concat()));
    bytes.extend(record(&[&[1u8][..], &user(2, "Bob")].concat()));
    bytes.extend(record(&[&[2u8][..], &1u64.to_le_bytes()].concat()));
    let mut import = vec![3u8];
    import.extend_from_slice(&2u32.to_le_bytes());
    import.extend(user(3, "Cy"));
    import.extend(user(2, "Bo"));
    bytes.extend(record(&import));
    let mut batch = vec![4u8];
    batch.extend_from_slice(&3u32.to_le_bytes());
    batch.extend(user(4, "Di"));
    batch.extend(user(5, "Eve"));
    batch.extend(user(4, "Dee"));
    batch.extend_from_slice(&2u32.to_le_bytes());
    batch.extend_from_slice(&3u64.to_le_bytes());
    batch.extend_from_slice(&2u64.to_le_bytes());
    bytes.extend(record(&batch));
    bytes
}

#[test]
fn golden_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    golden_ops(&store);
    store.close_log().unwrap();
    let written = fs::read(log(dir.path(), 1)).unwrap();
    assert_eq!(written, golden_by_hand());
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("spec/durable-golden.wal.hex");
    let text = fs::read_to_string(file).unwrap();
    assert_eq!(text.trim(), text, "one line, no newline");
    assert_eq!(written, hex_decode(&text));
    assert_eq!(
        files(dir.path()),
        vec!["LOCK", "log-00000000000000000001.wal"]
    );
}

#[test]
fn round_trip_and_reopen_after_drop() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert!(store.is_durable());
    golden_ops(&store);
    let exported = store.export_json();
    assert_eq!(
        exported,
        br#"[{"id":4,"name":"Dee"},{"id":5,"name":"Eve"}]"#
    );
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.export_json(), exported);
    store.put(6, b"Fay").unwrap();
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.len(), 3);
    assert_eq!(store.get(6).unwrap().as_deref(), Some("Fay"));
}

#[test]
fn a_memory_store_is_not_durable() {
    let store = Store::new();
    assert!(!store.is_durable());
    assert_eq!(store.log_stats(), None);
    store.checkpoint().unwrap();
    store.close_log().unwrap();
    store.put(1, b"a").unwrap();
}

/// A small deterministic generator (no dependency).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn replay_order_matches_a_memory_model() {
    for sync in [SyncMode::Always, SyncMode::Batch, SyncMode::None] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_durable(dir.path(), DurableOptions::new(sync)).unwrap();
        let model = Store::new();
        let mut rng = Lcg(7);
        for step in 0..2_000 {
            let id = (rng.next() % 50) as i64;
            match rng.next() % 10 {
                0..=4 => {
                    let name = format!("n{}", rng.next() % 7);
                    store.put(id, name.as_bytes()).unwrap();
                    model.put(id, name.as_bytes()).unwrap();
                }
                5..=6 => {
                    assert_eq!(store.remove(id).unwrap(), model.remove(id).unwrap());
                }
                7 => {
                    // A batch: puts and removes of distinct ids (an id in both is refused).
                    let puts: Vec<(i64, String)> = (0..rng.next() % 4)
                        .map(|k| ((rng.next() % 50) as i64, format!("b{step}-{k}")))
                        .collect();
                    let removes: Vec<i64> = (0..rng.next() % 4)
                        .map(|_| (rng.next() % 50) as i64)
                        .filter(|id| puts.iter().all(|(p, _)| p != id))
                        .collect();
                    assert_eq!(
                        store.apply_batch(&puts, &removes).unwrap(),
                        model.apply_batch(&puts, &removes).unwrap()
                    );
                }
                _ => {
                    let users: Vec<(i64, String)> = (0..rng.next() % 4)
                        .map(|k| ((rng.next() % 50) as i64, format!("i{step}-{k}")))
                        .collect();
                    let refs: Vec<(i64, &str)> =
                        users.iter().map(|(i, n)| (*i, n.as_str())).collect();
                    let input = json(&refs);
                    assert_eq!(
                        store.import_json(&input).unwrap(),
                        model.import_json(&input).unwrap()
                    );
                }
            }
        }
        assert_eq!(store.export_json(), model.export_json());
        drop(store);
        let reopened = Store::open_durable(dir.path(), DurableOptions::new(sync)).unwrap();
        assert_eq!(reopened.export_json(), model.export_json(), "{sync:?}");
    }
}

#[test]
fn invalid_input_logs_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert!(store.put(-1, b"a").is_err());
    assert!(store.put(1, b"").is_err());
    assert!(store.import_json(b"[{").is_err());
    assert_eq!(store.import_json(b"[]").unwrap(), 0);
    assert!(!store.remove(5).unwrap());
    assert!(store.apply_batch(&[(1, "a")], &[1]).is_err());
    assert!(store.apply_batch(&[(1, "a")], &[-1]).is_err());
    assert_eq!(store.apply_batch::<&str>(&[], &[]).unwrap(), 0);
    // Removes of absent users only: the batch changes nothing and logs nothing.
    assert_eq!(store.apply_batch::<&str>(&[], &[5, 6]).unwrap(), 0);
    assert_eq!(store.log_stats().unwrap().appended, 0);
    assert_eq!(
        fs::metadata(log(dir.path(), 1)).unwrap().len(),
        HEADER as u64
    );
}

#[test]
fn a_batch_is_one_record_replayed_on_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.put(1, b"Ada").unwrap();
    store.put(2, b"Bob").unwrap();
    let before = store.log_stats().unwrap();
    let puts = [(3, "Cy"), (1, "Al"), (3, "Cyd")];
    // 2 exists, 7 does not, 2 is listed twice: one removed id is logged.
    assert_eq!(store.apply_batch(&puts, &[2, 7, 2]).unwrap(), 1);
    let after = store.log_stats().unwrap();
    // One record: 12 + type 1 + p 4 + 3 users (10 + name) + r 4 + one id 8.
    let record = 12 + 1 + 4 + (12 + 12 + 13) + 4 + 8;
    assert_eq!(after.appended - before.appended, record);
    assert_eq!(
        after.durable, after.appended,
        "ALWAYS: synced before it returned"
    );
    assert!(after.syncs > before.syncs);
    assert_eq!(after.log_bytes, HEADER as u64 + after.appended);
    let exported = store.export_json();
    assert_eq!(
        exported,
        br#"[{"id":1,"name":"Al"},{"id":3,"name":"Cyd"}]"#.to_vec()
    );
    drop(store);
    let bytes = fs::read(log(dir.path(), 1)).unwrap();
    assert_eq!(bytes.len() as u64, after.log_bytes);
    let store = open(dir.path());
    assert_eq!(store.export_json(), exported);
    drop(store);
    // Cut anywhere inside the batch record: the open cuts it and the batch is wholly gone.
    let batch_at = bytes.len() - record as usize;
    for cut in batch_at + 1..bytes.len() {
        let copy = tempfile::tempdir().unwrap();
        fs::write(log(copy.path(), 1), &bytes[..cut]).unwrap();
        let store = open(copy.path());
        assert_eq!(
            store.export_json(),
            br#"[{"id":1,"name":"Ada"},{"id":2,"name":"Bob"}]"#.to_vec(),
            "cut at {cut}"
        );
        drop(store);
        assert_eq!(
            fs::metadata(log(copy.path(), 1)).unwrap().len(),
            batch_at as u64
        );
    }
}

#[test]
fn stats_count_checkpoints_and_the_log_size() {
    let dir = tempfile::tempdir().unwrap();
    let options = DurableOptions {
        sync: SyncMode::None,
        checkpoint_log_bytes: 4096,
    };
    let store = Store::open_durable(dir.path(), options.clone()).unwrap();
    let stats = store.log_stats().unwrap();
    assert_eq!((stats.checkpoints, stats.log_bytes), (0, HEADER as u64));
    store.put(1, b"Ada").unwrap();
    assert_eq!(
        store.log_stats().unwrap().log_bytes,
        (HEADER + put_record_len("Ada")) as u64
    );
    store.checkpoint().unwrap();
    let stats = store.log_stats().unwrap();
    assert_eq!((stats.checkpoints, stats.log_bytes), (1, HEADER as u64));
    // Automatic checkpoints count too: 4096 bytes of log take about 150 puts of this size.
    for id in 0..400 {
        store.put(id, b"a name of some length").unwrap();
    }
    let stats = store.log_stats().unwrap();
    assert!(stats.checkpoints >= 3, "{stats:?}");
    assert_eq!(stats.checkpoints + 1, stats.generation);
    drop(store);
    // Since open: a reopened store starts from 0.
    let store = Store::open_durable(dir.path(), options).unwrap();
    assert_eq!(store.log_stats().unwrap().checkpoints, 0);
}

#[test]
fn a_batch_whose_record_would_pass_1_gib_is_refused_before_anything_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.put(1, b"Ada").unwrap();
    let appended = store.log_stats().unwrap().appended;
    // 256 four-byte code points: the longest name, 1024 bytes, shared by every put.
    let name = "\u{1F600}".repeat(256);
    let count = (1usize << 30) / (10 + name.len()) + 1;
    let puts: Vec<(i64, &str)> = (0..count as i64)
        .map(|id| (id + 2, name.as_str()))
        .collect();
    let payload = 9 + count as u64 * (10 + 1024);
    assert_eq!(
        store.apply_batch(&puts, &[1]),
        Err(StoreError::BatchTooLarge(payload))
    );
    assert_eq!(
        StoreError::BatchTooLarge(payload).to_string(),
        format!(
            "the batch is too large: its log record would take {payload} bytes, more than \
             1073741824 (1 GiB)"
        )
    );
    assert_eq!(store.len(), 1);
    assert_eq!(store.log_stats().unwrap().appended, appended);
    // The same on a memory-only store: a batch behaves alike on both.
    let memory = Store::new();
    assert_eq!(
        memory.apply_batch(&puts, &[]),
        Err(StoreError::BatchTooLarge(payload))
    );
    assert!(memory.is_empty());
}

/// A directory with a log of three puts; returns the log's bytes and where its records start.
fn three_puts(dir: &Path) -> (Vec<u8>, [usize; 3]) {
    let store = open(dir);
    store.put(1, b"Ada").unwrap();
    store.put(2, b"Bob").unwrap();
    store.put(3, b"Cyd").unwrap();
    drop(store);
    let bytes = fs::read(log(dir, 1)).unwrap();
    let r = put_record_len("Ada");
    assert_eq!(bytes.len(), HEADER + 3 * r);
    (bytes, [HEADER, HEADER + r, HEADER + 2 * r])
}

#[test]
fn a_torn_last_record_is_cut_at_every_length() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, starts) = three_puts(dir.path());
    for cut in starts[2]..bytes.len() {
        fs::write(log(dir.path(), 1), &bytes[..cut]).unwrap();
        let store = open(dir.path());
        assert_eq!(
            store.export_json(),
            br#"[{"id":1,"name":"Ada"},{"id":2,"name":"Bob"}]"#,
            "cut at {cut}"
        );
        drop(store);
        assert_eq!(
            fs::metadata(log(dir.path(), 1)).unwrap().len(),
            starts[2] as u64,
            "the tail is cut"
        );
    }
}

#[test]
fn a_damaged_last_record_is_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, starts) = three_puts(dir.path());
    for at in starts[2] + 12..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x40;
        fs::write(log(dir.path(), 1), &damaged).unwrap();
        let store = open(dir.path());
        assert_eq!(store.len(), 2, "flip at {at}");
    }
}

#[test]
fn a_zeroed_tail_is_cut() {
    let dir = tempfile::tempdir().unwrap();
    let (mut bytes, starts) = three_puts(dir.path());
    bytes.extend_from_slice(&[0; 4096]);
    fs::write(log(dir.path(), 1), &bytes).unwrap();
    let store = open(dir.path());
    assert_eq!(store.len(), 3);
    drop(store);
    assert_eq!(
        fs::metadata(log(dir.path(), 1)).unwrap().len(),
        (starts[2] + put_record_len("Cyd")) as u64
    );
    // Zeroes over the whole last record too.
    let (mut bytes, starts) = three_puts(tempfile::tempdir().unwrap().path());
    for b in &mut bytes[starts[2]..] {
        *b = 0;
    }
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("LOCK"), b"").unwrap();
    fs::write(log(dir.path(), 1), &bytes).unwrap();
    assert_eq!(open(dir.path()).len(), 2);
}

#[test]
fn a_flipped_byte_in_an_earlier_record_is_corruption() {
    let dir = tempfile::tempdir().unwrap();
    let (bytes, starts) = three_puts(dir.path());
    for at in HEADER..starts[2] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x01;
        fs::write(log(dir.path(), 1), &damaged).unwrap();
        let before = contents(dir.path());
        let err = Store::open_durable(dir.path(), always()).unwrap_err();
        let record = if at < starts[1] { starts[0] } else { starts[1] };
        match &err {
            StoreError::SnapshotCorrupt { path, reason } => {
                assert_eq!(path, &log(dir.path(), 1));
                assert!(
                    reason.starts_with(&format!("damaged record at offset {record} (")),
                    "flip at {at}: {reason}"
                );
            }
            other => panic!("flip at {at}: {other:?}"),
        }
        let message = err.to_string();
        assert!(
            message.starts_with(&format!(
                "log {} is corrupt: ",
                log(dir.path(), 1).display()
            )),
            "{message}"
        );
        assert_eq!(contents(dir.path()), before, "the directory is unchanged");
    }
    // The header too.
    for at in 0..HEADER {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x01;
        fs::write(log(dir.path(), 1), &damaged).unwrap();
        assert!(matches!(
            Store::open_durable(dir.path(), always()),
            Err(StoreError::SnapshotCorrupt { .. })
        ));
    }
}

#[test]
fn a_damaged_or_cut_snapshot_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.put(1, b"Ada").unwrap();
    store.checkpoint().unwrap();
    drop(store);
    let path = snapshot(dir.path(), 2);
    let bytes = fs::read(&path).unwrap();
    fs::write(&path, &bytes[..bytes.len() - 1]).unwrap();
    let err = Store::open_durable(dir.path(), always()).unwrap_err();
    assert!(
        matches!(&err, StoreError::SnapshotCorrupt { path: p, .. } if *p == path),
        "{err:?}"
    );
    let mut flipped = bytes.clone();
    flipped[40] ^= 1;
    fs::write(&path, &flipped).unwrap();
    assert!(matches!(
        Store::open_durable(dir.path(), always()),
        Err(StoreError::SnapshotCorrupt { .. })
    ));
    fs::write(&path, &bytes).unwrap();
    assert_eq!(open(dir.path()).len(), 1);
}

#[test]
fn a_missing_log_in_the_chain_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.put(1, b"Ada").unwrap();
    drop(store);
    // Logs 1 and 3 without 2.
    fs::copy(log(dir.path(), 1), log(dir.path(), 3)).unwrap();
    let err = Store::open_durable(dir.path(), always()).unwrap_err();
    match err {
        StoreError::SnapshotCorrupt { path, .. } => assert_eq!(path, log(dir.path(), 2)),
        other => panic!("{other:?}"),
    }
    // A snapshot 2 whose log 2 is missing, with log 3 present.
    fs::remove_file(log(dir.path(), 1)).unwrap();
    fs::write(snapshot(dir.path(), 2), Store::new().to_snapshot_bytes()).unwrap();
    let err = Store::open_durable(dir.path(), always()).unwrap_err();
    assert!(matches!(err, StoreError::SnapshotCorrupt { path, .. } if path == log(dir.path(), 2)));
}

#[test]
fn the_directory_is_locked_while_open() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let err = Store::open_durable(dir.path(), always()).unwrap_err();
    assert_eq!(
        err,
        StoreError::Locked {
            path: dir.path().join("LOCK")
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "data directory {} is locked by another store ({})",
            dir.path().display(),
            dir.path().join("LOCK").display()
        )
    );
    store.close_log().unwrap();
    store.close_log().unwrap();
    assert_eq!(store.put(1, b"a"), Err(StoreError::LogClosed));
    assert_eq!(store.remove(1), Err(StoreError::LogClosed));
    assert_eq!(store.checkpoint(), Err(StoreError::LogClosed));
    let second = open(dir.path());
    drop(second);
    drop(store);
    let third = open(dir.path());
    drop(third);
    assert!(dir.path().join("LOCK").exists(), "LOCK is never deleted");
}

#[test]
fn checkpoint_leaves_one_snapshot_and_one_log() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    golden_ops(&store);
    let exported = store.export_json();
    store.checkpoint().unwrap();
    assert_eq!(store.log_stats().unwrap().generation, 2);
    assert_eq!(
        files(dir.path()),
        vec![
            "LOCK",
            "log-00000000000000000002.wal",
            "snapshot-00000000000000000002.snap"
        ]
    );
    assert_eq!(
        fs::read(snapshot(dir.path(), 2)).unwrap(),
        store.to_snapshot_bytes()
    );
    assert_eq!(
        fs::metadata(log(dir.path(), 2)).unwrap().len(),
        HEADER as u64
    );
    store.put(9, b"Nine").unwrap();
    store.checkpoint().unwrap();
    store.put(10, b"Ten").unwrap();
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.len(), 4);
    assert_eq!(store.log_stats().unwrap().generation, 3);
    assert!(store
        .export_json()
        .starts_with(&exported[..exported.len() - 1]));
}

/// The directory states a checkpoint from generation 1 to 2 passes through, built by hand.
#[test]
fn a_checkpoint_cut_short_at_any_step_opens_to_the_same_content() {
    // Generation 1: a snapshot-less log with two users; the state after a checkpoint is 2.
    let source = tempfile::tempdir().unwrap();
    let store = open(source.path());
    store.put(1, b"Ada").unwrap();
    store.put(2, b"Bob").unwrap();
    let expected = store.export_json();
    let snap2 = store.to_snapshot_bytes();
    drop(store);
    let log1 = fs::read(log(source.path(), 1)).unwrap();
    let mut log2 = log1[..HEADER].to_vec();
    log2[16] = 2;
    let crc = crc32fast::hash(&log2[..24]);
    log2[24..28].copy_from_slice(&crc.to_le_bytes());

    /// A label and the files of a directory state (name, bytes).
    type Case<'a> = (&'a str, Vec<(String, Vec<u8>)>);
    let cases: Vec<Case<'_>> = vec![
        ("before step 2", vec![(name_log(1), log1.clone())]),
        (
            "after step 2: log 2 without snapshot 2",
            vec![(name_log(1), log1.clone()), (name_log(2), log2.clone())],
        ),
        (
            "during step 4: a temporary snapshot",
            vec![
                (name_log(1), log1.clone()),
                (name_log(2), log2.clone()),
                (
                    ".snapshot-00000000000000000002.snap.1-2-3.tmp".to_owned(),
                    snap2[..10].to_vec(),
                ),
            ],
        ),
        (
            "after step 4: snapshot 2 and the old log",
            vec![
                (name_log(1), log1.clone()),
                (name_log(2), log2.clone()),
                (name_snap(2), snap2.clone()),
            ],
        ),
        (
            "during step 5: old log deleted, old snapshot kept",
            vec![
                (name_snap(1), Store::new().to_snapshot_bytes()),
                (name_log(2), log2.clone()),
                (name_snap(2), snap2.clone()),
            ],
        ),
        (
            "after step 5",
            vec![(name_log(2), log2.clone()), (name_snap(2), snap2.clone())],
        ),
    ];
    for (label, state) in cases {
        let dir = tempfile::tempdir().unwrap();
        for (name, bytes) in &state {
            fs::write(dir.path().join(name), bytes).unwrap();
        }
        let store = open(dir.path());
        assert_eq!(store.export_json(), expected, "{label}");
        store.put(3, b"Cyd").unwrap();
        drop(store);
        let store = open(dir.path());
        assert_eq!(store.len(), 3, "{label}");
        let names = files(dir.path());
        assert!(
            !names.iter().any(|n| n.ends_with(".tmp")),
            "{label}: {names:?}"
        );
        if state.iter().any(|(n, _)| *n == name_snap(2)) {
            assert_eq!(
                names,
                vec!["LOCK".to_owned(), name_log(2), name_snap(2)],
                "{label}: older generations deleted"
            );
        }
    }
}

fn name_log(g: u64) -> String {
    format!("log-{g:020}.wal")
}

fn name_snap(g: u64) -> String {
    format!("snapshot-{g:020}.snap")
}

#[test]
fn auto_checkpoint_keeps_the_log_small() {
    let dir = tempfile::tempdir().unwrap();
    let options = DurableOptions {
        sync: SyncMode::Always,
        checkpoint_log_bytes: 200,
    };
    let store = Store::open_durable(dir.path(), options.clone()).unwrap();
    for id in 0..100 {
        store.put(id, format!("user-{id}").as_bytes()).unwrap();
        assert!(
            fs::metadata(log(dir.path(), store.log_stats().unwrap().generation))
                .unwrap()
                .len()
                < 200
        );
    }
    let generation = store.log_stats().unwrap().generation;
    assert!(generation > 10, "{generation}");
    assert_eq!(files(dir.path()).len(), 3, "{:?}", files(dir.path()));
    let exported = store.export_json();
    drop(store);
    let store = Store::open_durable(dir.path(), options).unwrap();
    assert_eq!(store.export_json(), exported);
}

#[test]
fn always_is_durable_when_put_returns() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for id in 0..50 {
        store.put(id, b"x").unwrap();
        let stats = store.log_stats().unwrap();
        assert_eq!(stats.durable, stats.appended);
        assert_eq!(stats.syncs, id as u64 + 1);
    }
}

#[test]
fn group_commit_shares_syncs() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    let threads = 8;
    let per_thread = 200;
    std::thread::scope(|s| {
        for t in 0..threads {
            let store = Arc::clone(&store);
            s.spawn(move || {
                for k in 0..per_thread {
                    store.put(t * 1_000 + k, b"concurrent").unwrap();
                }
            });
        }
    });
    let stats = store.log_stats().unwrap();
    let puts = (threads * per_thread) as u64;
    assert_eq!(stats.durable, stats.appended);
    // Group commit: 8 writers whose puts overlap share syncs, so there are fewer syncs than puts
    // (one sync per put would mean none was shared).
    assert!(
        stats.syncs < puts,
        "{} syncs for {puts} puts: no sync was shared",
        stats.syncs
    );
    println!(
        "group commit: {puts} puts, {} syncs, {:.2} puts per sync",
        stats.syncs,
        puts as f64 / stats.syncs as f64
    );
    drop(store);
    assert_eq!(open(dir.path()).len(), puts);
}

#[test]
fn batch_catches_up_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_durable(dir.path(), DurableOptions::new(SyncMode::Batch)).unwrap();
    for id in 0..100 {
        store.put(id, b"batch").unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        std::thread::sleep(Duration::from_millis(20));
        let stats = store.log_stats().unwrap();
        if stats.durable == stats.appended {
            assert!(stats.syncs >= 1);
            break;
        }
        assert!(Instant::now() < deadline, "{stats:?}");
    }
    // NONE writes in the background but syncs only at close.
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_durable(dir.path(), DurableOptions::new(SyncMode::None)).unwrap();
    store.put(1, b"none").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        fs::metadata(log(dir.path(), 1)).unwrap().len(),
        (HEADER + put_record_len("none")) as u64,
        "written by the background thread"
    );
    assert_eq!(store.log_stats().unwrap().durable, 0);
    store.close_log().unwrap();
    let stats = store.log_stats().unwrap();
    assert_eq!((stats.durable, stats.syncs), (stats.appended, 1));
}

#[test]
fn a_large_buffer_is_written_by_its_writer() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_durable(dir.path(), DurableOptions::new(SyncMode::None)).unwrap();
    // One import record of > 1 MiB.
    let users: Vec<(i64, String)> = (0..60_000)
        .map(|id| (id, format!("name-{id:08}")))
        .collect();
    let refs: Vec<(i64, &str)> = users.iter().map(|(i, n)| (*i, n.as_str())).collect();
    store.import_json(&json(&refs)).unwrap();
    let appended = store.log_stats().unwrap().appended;
    assert!(appended > 1 << 20);
    assert_eq!(
        fs::metadata(log(dir.path(), 1)).unwrap().len(),
        HEADER as u64 + appended,
        "written before the call returned"
    );
    drop(store);
    assert_eq!(open(dir.path()).len(), 60_000);
}

#[test]
fn replace_all_on_a_durable_store_is_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.put(1, b"old").unwrap();
    store
        .replace_all(vec![(5u64, "five".to_owned()), (6, "six".to_owned())])
        .unwrap();
    store.put(7, b"seven").unwrap();
    let exported = store.export_json();
    drop(store);
    assert_eq!(open(dir.path()).export_json(), exported);
}

#[test]
fn other_files_are_left_alone_and_temporaries_removed() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), b"keep").unwrap();
    fs::write(
        dir.path().join(".log-00000000000000000001.wal.9-9-9.tmp"),
        b"x",
    )
    .unwrap();
    fs::write(dir.path().join("log-1.wal"), b"not ours").unwrap();
    let store = open(dir.path());
    store.put(1, b"a").unwrap();
    drop(store);
    assert_eq!(
        files(dir.path()),
        vec![
            "LOCK",
            "log-00000000000000000001.wal",
            "log-1.wal",
            "notes.txt"
        ]
    );
}

#[test]
fn a_new_nested_directory_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let nested = dir.path().join("a/b/c");
    let store = open(&nested);
    store.put(1, b"a").unwrap();
    assert_eq!(files(&nested), vec!["LOCK", "log-00000000000000000001.wal"]);
}

#[test]
fn concurrent_writers_and_checkpoints_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let options = DurableOptions {
        sync: SyncMode::Batch,
        checkpoint_log_bytes: 4_000,
    };
    let store = Arc::new(Store::open_durable(dir.path(), options.clone()).unwrap());
    std::thread::scope(|s| {
        for t in 0..4i64 {
            let store = Arc::clone(&store);
            s.spawn(move || {
                for k in 0..500 {
                    let id = t * 10_000 + k;
                    store.put(id, format!("v{k}").as_bytes()).unwrap();
                    if k % 3 == 0 {
                        store.remove(id).unwrap();
                    }
                    if k % 100 == 0 {
                        store.checkpoint().unwrap();
                    }
                }
            });
        }
    });
    let exported = store.export_json();
    drop(store);
    let store = Store::open_durable(dir.path(), options).unwrap();
    assert_eq!(store.export_json(), exported);
}

#[test]
fn a_write_racing_with_close_is_durable_or_refused() {
    for sync in [SyncMode::Always, SyncMode::Batch] {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open_durable(dir.path(), DurableOptions::new(sync)).unwrap());
        let acknowledged: Vec<Vec<i64>> = std::thread::scope(|s| {
            let writers: Vec<_> = (0..4i64)
                .map(|t| {
                    let store = Arc::clone(&store);
                    s.spawn(move || {
                        let mut done = Vec::new();
                        for k in 0..1_000_000 {
                            let id = t * 1_000_000 + k;
                            match store.put(id, b"racing") {
                                Ok(()) => done.push(id),
                                Err(StoreError::LogClosed) => break,
                                Err(other) => panic!("{other:?}"),
                            }
                        }
                        done
                    })
                })
                .collect();
            std::thread::sleep(Duration::from_millis(30));
            store.close_log().unwrap();
            writers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let stats = store.log_stats().unwrap();
        assert_eq!(
            stats.durable, stats.appended,
            "{sync:?}: close syncs everything"
        );
        drop(store);
        let reopened = open(dir.path());
        let total: usize = acknowledged.iter().map(Vec::len).sum();
        assert_eq!(reopened.len(), total as u64, "{sync:?}");
        for id in acknowledged.iter().flatten() {
            assert!(reopened.get(*id).unwrap().is_some(), "{sync:?}: {id} lost");
        }
    }
}
