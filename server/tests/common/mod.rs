//! Helpers shared by the integration tests that run the built binary (tests/direct.rs,
//! tests/replica.rs, tests/process.rs; each declares `mod common;`): a running [`Server`] with its
//! stderr lines, requests over a raw TCP connection, [`run_to_end`], and for the database suites the
//! cluster URL from `USERSTORE_PG_URL`, [`sql`] and a [`TestDatabase`] of each test's own.
// Each test file is its own crate and uses only part of this module (process.rs no database
// helper, direct.rs no `kill` or `stop_with`): what one of them leaves unused is not dead code.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio_postgres::NoTls;

pub const BINARY: &str = env!("CARGO_BIN_EXE_userstore-server");

/// How long [`Server::start`] and [`Server::wait_for`] wait for a line, unless started with
/// [`Server::start_waiting`].
pub const LINE_WAIT: Duration = Duration::from_secs(20);

/// The cluster's URL, or `None` after printing why the test is skipped.
pub fn cluster_url() -> Option<String> {
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
pub fn sql(url: &str, sql: &str) -> Vec<Option<String>> {
    try_sql(url, sql).unwrap()
}

pub fn try_sql(url: &str, sql: &str) -> Result<Vec<Option<String>>, tokio_postgres::Error> {
    runtime().block_on(async {
        let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
        let driver = tokio::spawn(connection);
        let mut out = Vec::new();
        let result = client.simple_query(sql).await;
        for message in result? {
            if let tokio_postgres::SimpleQueryMessage::Row(row) = message {
                out.push(row.get(0).map(str::to_owned));
            }
        }
        drop(client);
        let _ = driver.await;
        Ok(out)
    })
}

/// A fresh database on the cluster, dropped (with its sessions) when this goes out of scope.
pub struct TestDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
    /// Made by [`TestDatabase::create_with_slots`]: the drop ends replication slots first.
    slots: bool,
}

impl TestDatabase {
    /// A database the drop of which is a plain `DROP DATABASE ... WITH (FORCE)`.
    pub fn create(cluster: &str) -> TestDatabase {
        Self::make(cluster, false)
    }

    /// A database that may hold replication slots: the drop ends their sessions, drops the slots
    /// left, and retries for a while (a database with a slot cannot be dropped).
    pub fn create_with_slots(cluster: &str) -> TestDatabase {
        Self::make(cluster, true)
    }

    fn make(cluster: &str, slots: bool) -> TestDatabase {
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
            slots,
        }
    }

    /// This database's URL with `password` put in its user info.
    pub fn url_with_password(&self, password: &str) -> String {
        let mut url = url::Url::parse(&self.url).unwrap();
        url.set_password(Some(password)).unwrap();
        url.to_string()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let drop_database = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if !self.slots {
            sql(&self.admin_url, &drop_database);
            return;
        }
        // A database with a replication slot cannot be dropped: the slots' sessions are ended
        // (a temporary slot goes with its session) and any slot left is dropped, then the drop is
        // retried for a while.
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let _ = try_sql(
                &self.admin_url,
                &format!(
                    "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots \
                     WHERE database = '{0}' AND active_pid IS NOT NULL; \
                     SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots \
                     WHERE database = '{0}' AND NOT active",
                    self.name
                ),
            );
            let dropped = try_sql(&self.admin_url, &drop_database);
            if dropped.is_ok() || Instant::now() > deadline {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// A running server, the port it printed, and every stderr line so far. Dropping it kills the
/// process (SIGKILL).
pub struct Server {
    child: Child,
    pub port: u16,
    lines: mpsc::Receiver<String>,
    pub seen: Vec<String>,
    /// How long [`Server::wait_for`] waits.
    wait: Duration,
}

impl Server {
    /// Starts the binary with `--port 0` and `args`; waits up to [`LINE_WAIT`] for its
    /// "listening on http://" line.
    pub fn start(args: &[&str]) -> Server {
        Self::start_waiting(args, LINE_WAIT)
    }

    /// As [`Server::start`], with `wait` as the bound of this and every later [`Server::wait_for`].
    pub fn start_waiting(args: &[&str], wait: Duration) -> Server {
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
            wait,
        };
        let line = server.wait_for("listening on http://");
        server.port = line.rsplit(':').next().unwrap().parse().unwrap();
        server
    }

    /// The first stderr line (seen so far or coming) that contains `needle`.
    pub fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + self.wait;
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
    pub fn request(&self, method: &str, path: &str, body: &str) -> (u16, String) {
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

    /// SIGKILL: no shutdown code runs.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// SIGTERM; returns the exit status and all of stderr.
    pub fn stop(self) -> (i32, Vec<String>) {
        self.stop_with("TERM")
    }

    /// Sends `signal` and waits for the exit status; returns it and all of stderr.
    pub fn stop_with(mut self, signal: &str) -> (i32, Vec<String>) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill")
            .args(["-s", signal, &pid])
            .status()
            .unwrap()
            .success());
        let status = self.child.wait().unwrap();
        while let Ok(line) = self.lines.recv_timeout(Duration::from_secs(5)) {
            self.seen.push(line);
        }
        (
            status.code().expect("an exit status, not a signal"),
            std::mem::take(&mut self.seen),
        )
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines of `stderr`, read on a thread of their own.
pub fn forward(stderr: ChildStderr) -> mpsc::Receiver<String> {
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

/// Runs the binary with `--port 0` and `args` to completion: (exit status, stderr).
pub fn run_to_end(args: &[&str]) -> (i32, String) {
    let (code, stderr) = run_args(&[&["--port", "0"][..], args].concat());
    (code.unwrap(), stderr)
}

/// Runs the binary with exactly `args` to its end: (exit code, none if a signal ended it; stderr).
pub fn run_args(args: &[&str]) -> (Option<i32>, String) {
    let output = Command::new(BINARY)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}
