//! `--db URL --db-mode direct` against a real PostgreSQL: the URL of a running server in
//! `USERSTORE_PG_URL` (`scripts/postgres.sh start` prints one; CI exports it). Without it the
//! database tests print `skipped: USERSTORE_PG_URL unset` and return. Each test works in a database
//! of its own (`us_test_<random>`, created here and dropped at the end), so tests, and other suites
//! on the same cluster, do not collide. The refusals of flag combinations need no database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_postgres::NoTls;

const BINARY: &str = env!("CARGO_BIN_EXE_userstore-server");

/// The cluster's URL, or `None` after printing why the test is skipped.
fn cluster_url() -> Option<String> {
    match std::env::var("USERSTORE_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipped: USERSTORE_PG_URL unset (scripts/postgres.sh start prints one)");
            None
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs `sql` (simple query protocol) on the database at `url`; returns the rows' first columns.
fn sql(url: &str, sql: &str) -> Vec<Option<String>> {
    runtime().block_on(async {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
        let driver = tokio::spawn(connection);
        let mut out = Vec::new();
        for message in client.simple_query(sql).await.unwrap() {
            if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
                out.push(row.get(0).map(str::to_owned));
            }
        }
        drop(client);
        let _ = driver.await;
        out
    })
}

/// A fresh database on the cluster, dropped (with its sessions) when this goes out of scope.
struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    fn create(cluster: &str) -> TestDatabase {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        // The process, a counter and the clock: unique across the tests of this run and other runs.
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("us_test_{}_{n}_{nanos}", std::process::id());
        sql(cluster, &format!("CREATE DATABASE {name}"));
        let mut url = url::Url::parse(cluster).unwrap();
        url.set_path(&name);
        TestDatabase {
            admin_url: cluster.to_owned(),
            name,
            url: url.to_string(),
        }
    }

    /// This database's URL with `password` put in its user info.
    fn url_with_password(&self, password: &str) -> String {
        let mut url = url::Url::parse(&self.url).unwrap();
        url.set_password(Some(password)).unwrap();
        url.to_string()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        sql(
            &self.admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// A running server, the port it printed, and every stderr line so far.
struct Server {
    child: Child,
    port: u16,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    fn start(args: &[&str]) -> Server {
        let mut child = Command::new(BINARY)
            .args(["--port", "0"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = forward(child.stderr.take().unwrap());
        let mut server = Server {
            child,
            port: 0,
            lines,
            seen: Vec::new(),
        };
        let line = server.wait_for("listening on http://");
        server.port = line.rsplit(':').next().unwrap().parse().unwrap();
        server
    }

    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(line) = self.seen.iter().find(|l| l.contains(needle)) {
                return line.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(_) => panic!("no line with {needle:?}; stderr so far: {:?}", self.seen),
            }
        }
    }

    /// One request on a fresh connection: (status, body).
    fn request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, body.to_owned())
    }

    /// SIGTERM; returns the exit status and all of stderr.
    fn stop(mut self) -> (i32, Vec<String>) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-s", "TERM", &pid])
            .status()
            .unwrap()
            .success());
        let status = self.child.wait().unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        (status.code().unwrap(), std::mem::take(&mut self.seen))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn forward(stderr: ChildStderr) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Runs the binary to completion: (exit status, stderr).
fn run_to_end(args: &[&str]) -> (i32, String) {
    let output = Command::new(BINARY)
        .args(["--port", "0"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code().unwrap(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn count_rows(db: &TestDatabase) -> String {
    sql(&db.url, "SELECT count(*) FROM users")[0]
        .clone()
        .unwrap()
}

#[test]
fn an_empty_database_gets_the_schema_and_serves_put_get_find_delete() {
    let Some(cluster) = cluster_url() else { return };
    let db = TestDatabase::create(&cluster);
    assert_eq!(
        sql(&db.url, "SELECT to_regclass('users')::text"),
        vec![None],
        "a fresh database has no table"
    );
    let server = Server::start(&["--db", &db.url, "--db-mode", "direct"]);
    assert_eq!(
        sql(&db.url, "SELECT indexdef FROM pg_indexes WHERE tablename = 'users' AND indexname = 'users_name_idx'"),
        vec![Some("CREATE INDEX users_name_idx ON public.users USING btree (name)".to_owned())]
    );

    assert_eq!(server.request("GET", "/users/7", "").0, 404);
    assert_eq!(
        server.request("PUT", "/users/7", r#"{"name":"alice"}"#),
        (201, r#"{"id":7,"name":"alice"}"#.to_owned())
    );
    assert_eq!(
        server.request("GET", "/users/7", ""),
        (200, r#"{"id":7,"name":"alice"}"#.to_owned())
    );
    assert_eq!(
        server.request("PUT", "/users/7", r#"{"name":"Zoë \"z\" 😀"}"#),
        (200, r#"{"id":7,"name":"Zoë \"z\" 😀"}"#.to_owned())
    );
    // The row is in the table, as the service said.
    assert_eq!(
        sql(&db.url, "SELECT name FROM users WHERE id = 7"),
        vec![Some("Zoë \"z\" 😀".to_owned())]
    );
    assert_eq!(
        server.request("PUT", "/users/3", r#"{"name":"bob"}"#).0,
        201
    );
    assert_eq!(
        server
            .request("PUT", "/users/9223372036854775807", r#"{"name":"bob"}"#)
            .0,
        201
    );
    assert_eq!(
        server.request("GET", "/users?name=bob", ""),
        (
            200,
            r#"[{"id":3,"name":"bob"},{"id":9223372036854775807,"name":"bob"}]"#.to_owned()
        )
    );
    assert_eq!(
        server.request("GET", "/users?name=nobody", ""),
        (200, "[]".to_owned())
    );
    assert_eq!(server.request("DELETE", "/users/3", "").0, 204);
    assert_eq!(server.request("DELETE", "/users/3", "").0, 404);
    assert_eq!(server.request("GET", "/users/3", "").0, 404);
    assert_eq!(count_rows(&db), "2");

    let (status, body) = server.request("GET", "/health", "");
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, metrics) = server.request("GET", "/metrics", "");
    assert_eq!(status, 200);
    assert!(
        metrics.contains("userstore_users{store=\"postgres\"} 2"),
        "{metrics}"
    );
    let (status, lines) = server.stop();
    assert_eq!(status, 143, "{lines:?}");
    // The data stays in the database: a second start serves it (the schema step is idempotent).
    let again = Server::start(&["--db", &db.url, "--db-mode", "direct"]);
    assert_eq!(
        again.request("GET", "/users/7", ""),
        (200, r#"{"id":7,"name":"Zoë \"z\" 😀"}"#.to_owned())
    );
}

#[test]
fn bad_writes_are_refused_with_400_and_nothing_is_written() {
    let Some(cluster) = cluster_url() else { return };
    let db = TestDatabase::create(&cluster);
    let server = Server::start(&["--db", &db.url, "--db-mode", "direct"]);
    let too_long = format!(r#"{{"name":"{}"}}"#, "é".repeat(257));
    let longest = format!(r#"{{"name":"{}"}}"#, "é".repeat(256));
    for (path, body, message) in [
        ("/users/1", r#"{"name":""}"#, "the name is empty"),
        ("/users/1", too_long.as_str(), "too long: 257 code points"),
        ("/users/1", r#"{"name":"a\u0000b"}"#, "U+0000"),
        ("/users/1", r#"{"nam":"x"}"#, "expected {"),
        ("/users/-1", r#"{"name":"x"}"#, "invalid id -1"),
        ("/users/x", r#"{"name":"x"}"#, "invalid id"),
    ] {
        let (status, answer) = server.request("PUT", path, body);
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert!(answer.starts_with(r#"{"error":"#), "{answer}");
        assert!(answer.contains(message), "{path} {body}: {answer}");
    }
    assert_eq!(count_rows(&db), "0");
    assert_eq!(server.request("PUT", "/users/1", &longest).0, 201);
    assert_eq!(count_rows(&db), "1");
}

#[test]
fn two_services_starting_at_once_on_an_empty_database_both_start() {
    let Some(cluster) = cluster_url() else { return };
    let db = TestDatabase::create(&cluster);
    let url = db.url.clone();
    let other = std::thread::spawn(move || {
        let server = Server::start(&["--db", &url, "--db-mode", "direct"]);
        server.request("PUT", "/users/1", r#"{"name":"one"}"#).0
    });
    let server = Server::start(&["--db", &db.url, "--db-mode", "direct"]);
    assert_eq!(other.join().unwrap(), 201);
    assert_eq!(
        server.request("GET", "/users/1", ""),
        (200, r#"{"id":1,"name":"one"}"#.to_owned())
    );
}

#[test]
fn the_password_is_never_shown() {
    let Some(cluster) = cluster_url() else { return };
    let db = TestDatabase::create(&cluster);
    // The project's cluster trusts loopback, so the password is accepted and not checked: what is
    // tested is that the service never shows it.
    let secret = "Pw-9f3b1c7e";
    let url = db.url_with_password(secret);
    let server = Server::start(&["--db", &url, "--db-mode", "direct"]);
    assert_eq!(server.request("PUT", "/users/5", r#"{"name":"e"}"#).0, 201);
    for path in ["/health", "/metrics", "/users/5", "/users/404"] {
        let (_, body) = server.request("GET", path, "");
        assert!(!body.contains(secret), "{path}: {body}");
    }
    let (_, lines) = server.stop();
    let all = lines.join("\n");
    assert!(!all.contains(secret), "{all}");
    assert!(
        all.contains(":***@127.0.0.1"),
        "the URL is shown redacted: {all}"
    );

    // A database that does not exist: the error names the URL, without the password.
    let mut missing = url::Url::parse(&url).unwrap();
    missing.set_path("us_test_no_such_database");
    let (status, stderr) = run_to_end(&["--db", missing.as_str(), "--db-mode", "direct"]);
    assert_eq!(status, 1, "{stderr}");
    assert!(!stderr.contains(secret), "{stderr}");
    assert!(stderr.contains("us_test_no_such_database"), "{stderr}");
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn a_connection_error_does_not_show_the_password() {
    // Needs no database: nothing listens on the port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("postgresql://me:S3cr3t-Zz@127.0.0.1:{port}/userstore");
    let (status, stderr) = run_to_end(&["--db", &url, "--db-mode", "direct"]);
    assert_eq!(status, 1, "{stderr}");
    assert!(!stderr.contains("S3cr3t-Zz"), "{stderr}");
    assert!(stderr.contains("me:***@127.0.0.1"), "{stderr}");
}

#[test]
fn flag_combinations_that_do_not_fit_are_refused() {
    let url = "postgres://u@127.0.0.1:1/db";
    for (args, message) in [
        (
            vec!["--db", url, "--db-mode", "direct", "--users", "5"],
            "cannot be used with",
        ),
        (
            vec![
                "--db",
                url,
                "--db-mode",
                "direct",
                "--snapshot",
                "/tmp/x.snap",
            ],
            "cannot be used with",
        ),
        (vec!["--db-mode", "direct"], "--db <URL>"),
        (vec!["--db", url], "--db-mode <DB_MODE>"),
        (
            vec![
                "--db",
                url,
                "--db-mode",
                "direct",
                "--data-dir",
                "/tmp/nowhere",
            ],
            "--data-dir cannot be used with --db-mode direct",
        ),
        (
            vec![
                "--db",
                url,
                "--db-mode",
                "replica",
                "--data-dir",
                "/tmp/nowhere",
            ],
            "--db-mode replica with --data-dir needs --db-slot NAME",
        ),
        (
            vec!["--db", url, "--db-mode", "replica", "--users", "5"],
            "cannot be used with",
        ),
    ] {
        let (status, stderr) = run_to_end(&args);
        assert_ne!(status, 0, "{args:?} was accepted");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
    }
}
