//! The built binary as a child process: `--port 0` and `--snapshot`, data changed over HTTP,
//! SIGTERM (exit status 143, the snapshot saved), then a restart that serves the saved data; and
//! `--data-dir`: data changed over HTTP, SIGKILL, a restart on the same directory serves it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{run_args, Server};

/// How long a start and `wait_for` wait for a line here.
const WAIT: Duration = Duration::from_secs(10);

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("userstore-server-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn snapshot_users(path: &Path) -> Vec<u8> {
    userstore::Store::open(path).unwrap().export_json()
}

#[test]
fn sigterm_saves_the_snapshot_and_a_restart_serves_it() {
    let dir = temp_dir("sigterm");
    let snapshot = dir.join("users.snap");
    let snapshot_arg = snapshot.to_str().unwrap();

    let mut server = Server::start_waiting(
        &[
            "--snapshot",
            snapshot_arg,
            "--users",
            "5",
            "--store",
            "native",
        ],
        WAIT,
    );
    server.wait_for("no snapshot at");
    assert!(server
        .seen
        .iter()
        .any(|l| l.starts_with("serve: preloaded users 0..4 in ")));
    let listening = server.wait_for("listening on");
    assert_eq!(
        listening,
        format!(
            "serve: native store, 5 users, listening on http://127.0.0.1:{}",
            server.port
        )
    );
    assert_eq!(
        server.request("PUT", "/users/2", r#"{"name":"Ada"}"#),
        (200, r#"{"id":2,"name":"Ada"}"#.into())
    );
    assert_eq!(
        server.request("PUT", "/users/42", r#"{"name":"é😀"}"#),
        (201, r#"{"id":42,"name":"é😀"}"#.into())
    );
    assert_eq!(server.request("DELETE", "/users/0", "").0, 204);
    assert_eq!(
        server.request("GET", "/health", ""),
        (200, r#"{"status":"ok"}"#.into())
    );

    let (code, lines) = server.stop_with("TERM");
    assert_eq!(code, 143, "{lines:?}");
    let saved = lines
        .iter()
        .position(|l| l.starts_with(&format!("serve: saved 5 users to {snapshot_arg} in ")));
    let closed = lines.iter().position(|l| l == "serve: store closed");
    assert!(saved.is_some() && closed > saved, "{lines:?}");
    let expected = r#"[{"id":1,"name":"user-1"},{"id":2,"name":"Ada"},{"id":3,"name":"user-3"},{"id":4,"name":"user-4"},{"id":42,"name":"é😀"}]"#;
    assert_eq!(
        String::from_utf8(snapshot_users(&snapshot)).unwrap(),
        expected
    );

    // Restart: the snapshot is loaded, then only the missing ids of --users are added.
    let mut server = Server::start_waiting(&["--snapshot", snapshot_arg, "--users", "3"], WAIT);
    let loaded = server.wait_for("loaded");
    assert!(
        loaded.starts_with(&format!("serve: loaded 5 users from {snapshot_arg} in ")),
        "{loaded}"
    );
    server.wait_for("native store, 6 users, listening on http://127.0.0.1:");
    assert_eq!(
        server.request("GET", "/users/2", ""),
        (200, r#"{"id":2,"name":"Ada"}"#.into())
    );
    assert_eq!(
        server.request("GET", "/users/42", ""),
        (200, r#"{"id":42,"name":"é😀"}"#.into())
    );
    assert_eq!(
        server.request("GET", "/users/0", ""),
        (200, r#"{"id":0,"name":"user-0"}"#.into())
    );
    let (code, lines) = server.stop_with("INT");
    assert_eq!(code, 130, "{lines:?}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("serve: saved 6 users to ")),
        "{lines:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn with_a_data_dir_acknowledged_writes_survive_sigkill() {
    let dir = temp_dir("durable");
    let data = dir.join("data");
    let data_arg = data.to_str().unwrap();

    let mut server = Server::start_waiting(&["--data-dir", data_arg, "--sync", "always"], WAIT);
    let opened = server.wait_for("from data dir");
    assert!(
        opened.starts_with(&format!(
            "serve: loaded 0 users from data dir {data_arg} (sync always) in "
        )),
        "{opened}"
    );
    let listening = server.wait_for("listening on");
    assert_eq!(
        listening,
        format!(
            "serve: native store, 0 users, listening on http://127.0.0.1:{}",
            server.port
        )
    );
    for id in 0..20 {
        let body = format!(r#"{{"name":"user-{id}"}}"#);
        assert_eq!(server.request("PUT", &format!("/users/{id}"), &body).0, 201);
    }
    assert_eq!(
        server.request("PUT", "/users/3", r#"{"name":"é😀"}"#),
        (200, r#"{"id":3,"name":"é😀"}"#.into())
    );
    assert_eq!(server.request("DELETE", "/users/7", "").0, 204);

    // The directory is locked while the server runs: a second one is refused.
    let (code, err) = run_args(&["--port", "0", "--data-dir", data_arg]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("cannot open --data-dir {data_arg}")) && err.contains("LOCK"),
        "{err}"
    );

    server.kill();
    let mut server = Server::start_waiting(&["--data-dir", data_arg], WAIT);
    let opened = server.wait_for("from data dir");
    assert!(
        opened.starts_with(&format!(
            "serve: loaded 19 users from data dir {data_arg} (sync always) in "
        )),
        "{opened}"
    );
    assert_eq!(
        server.request("GET", "/users/3", ""),
        (200, r#"{"id":3,"name":"é😀"}"#.into())
    );
    assert_eq!(server.request("GET", "/users/7", "").0, 404);
    assert_eq!(
        server.request("GET", "/users/19", ""),
        (200, r#"{"id":19,"name":"user-19"}"#.into())
    );
    assert_eq!(
        server.request("PUT", "/users/7", r#"{"name":"back"}"#).0,
        201
    );

    // SIGTERM: the log is closed (no snapshot file is written), the lock released.
    let (code, lines) = server.stop_with("TERM");
    assert_eq!(code, 143, "{lines:?}");
    assert!(
        lines.iter().any(|l| l == "serve: store closed"),
        "{lines:?}"
    );
    assert!(!lines.iter().any(|l| l.contains("saved")), "{lines:?}");
    let store = userstore::Store::open_durable(
        &data,
        userstore::DurableOptions::new(userstore::SyncMode::Always),
    )
    .unwrap();
    assert_eq!(store.len(), 20);
    let users = String::from_utf8(store.export_json()).unwrap();
    assert!(
        users.contains(r#"{"id":3,"name":"é😀"},{"id":4,"#),
        "{users}"
    );
    assert!(users.contains(r#"{"id":7,"name":"back"}"#), "{users}");
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_start_ups_fail_with_a_message() {
    let dir = temp_dir("bad");
    let run = run_args;
    let missing_folder = dir.join("nowhere").join("users.snap");
    let (code, err) = run(&[
        "--port",
        "0",
        "--snapshot",
        missing_folder.to_str().unwrap(),
    ]);
    assert_ne!(code, Some(0));
    assert!(err.contains("does not exist"), "{err}");

    let corrupt = dir.join("corrupt.snap");
    std::fs::write(&corrupt, b"not a snapshot").unwrap();
    let (code, err) = run(&["--port", "0", "--snapshot", corrupt.to_str().unwrap()]);
    assert_ne!(code, Some(0));
    assert!(err.contains("cannot load --snapshot"), "{err}");

    for args in [
        &["--port", "70000"][..],
        &["--users", "-1"],
        &["--store", "kotlin"],
        &["--bogus"],
    ] {
        let (code, err) = run(args);
        assert_ne!(code, Some(0), "{args:?}");
        assert!(err.contains("error"), "{args:?}: {err}");
    }

    // --data-dir excludes --snapshot and --users; --sync needs --data-dir: refused as a bad option.
    let data = dir.join("data");
    let data_arg = data.to_str().unwrap();
    let snapshot = dir.join("users.snap");
    for args in [
        &[
            "--data-dir",
            data_arg,
            "--snapshot",
            snapshot.to_str().unwrap(),
        ][..],
        &["--data-dir", data_arg, "--users", "10"],
        &["--users", "0", "--data-dir", data_arg],
        &["--sync", "batch"],
        &["--data-dir", data_arg, "--sync", "sometimes"],
    ] {
        let (code, err) = run(args);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains("error"), "{args:?}: {err}");
    }
    let (_, err) = run(&["--data-dir", data_arg, "--snapshot", "x.snap"]);
    assert!(
        err.contains("'--data-dir <DIR>' cannot be used with '--snapshot <PATH>'"),
        "{err}"
    );
    assert!(!data.exists(), "a refused start created {data_arg}");
    // A data dir that cannot be opened (a file, a damaged snapshot): the message and status 1.
    let (code, err) = run(&["--port", "0", "--data-dir", corrupt.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot open --data-dir"), "{err}");
    let damaged = dir.join("damaged");
    std::fs::create_dir_all(&damaged).unwrap();
    std::fs::write(
        damaged.join("snapshot-00000000000000000001.snap"),
        b"not a snapshot",
    )
    .unwrap();
    let (code, err) = run(&["--port", "0", "--data-dir", damaged.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("cannot open --data-dir"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
