//! Times `Store::open` of a snapshot file against `import_json` of the same users, in Rust
//! alone (no JVM): `cargo run --release --example snapshot_open -- 10000000`.

use std::time::Instant;

use userstore::Store;

fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let store = Store::new();
    for id in 0..n {
        store
            .put(id as i64, format!("user-{id}").as_bytes())
            .expect("valid user");
    }
    let dir = std::env::temp_dir().join(format!("userstore-open-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("users.snap");
    let t = Instant::now();
    store.save(&path).expect("save");
    println!("save        {:>8.1} ms", t.elapsed().as_secs_f64() * 1e3);
    let json = store.export_json();
    drop(store);
    let t = Instant::now();
    let imported = Store::new();
    imported.import_json(&json).expect("import");
    let import = t.elapsed();
    println!("import_json {:>8.1} ms", import.as_secs_f64() * 1e3);
    drop(imported);
    let t = Instant::now();
    let opened = Store::open(&path).expect("open");
    let open = t.elapsed();
    println!(
        "open        {:>8.1} ms ({} users)",
        open.as_secs_f64() * 1e3,
        opened.len()
    );
    println!(
        "open vs import_json: {:.1}x faster",
        import.as_secs_f64() / open.as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
}
