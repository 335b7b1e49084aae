//! `--db URL --db-mode replica` against a real PostgreSQL (`USERSTORE_PG_URL`, as tests/direct.rs;
//! without it every test prints `skipped: USERSTORE_PG_URL unset` and returns): the initial copy,
//! multi-statement transactions (rollbacks, truncate, id changes) with the store compared to the
//! table after each, read-your-writes, bad rows, a killed replication session, and the password
//! kept out of logs, /health, /metrics and errors, and the commit delay histogram counting each
//! applied transaction. Each test has its own database `us_test_<...>`.
//! The server and database helpers are in tests/common (shared with tests/direct.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{PoisonError, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use common::{cluster_url, run_to_end, sql, try_sql, Server, TestDatabase};

/// Polls `/health` until 200 (bounded); the last body otherwise.
fn wait_healthy(server: &Server) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = server.request("GET", "/health", "");
        if status == 200 {
            return body;
        }
        assert!(
            Instant::now() < deadline,
            "the replica did not catch up: {body}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The value of a metric line `name value` in /metrics.
fn metric(server: &Server, name: &str) -> f64 {
    let (status, text) = server.request("GET", "/metrics", "");
    assert_eq!(status, 200);
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .parse()
        .unwrap()
}

/// The `le` bounds of `userstore_replica_commit_delay_seconds`: issue 21's list, which the Kotlin
/// service exposes too (the server's `COMMIT_DELAY_BUCKETS` as rendered, and `+Inf`).
const COMMIT_DELAY_BOUNDS: [&str; 29] = [
    "0.0001", "0.0002", "0.0003", "0.0005", "0.00075", "0.001", "0.0015", "0.002", "0.003",
    "0.005", "0.0075", "0.01", "0.015", "0.02", "0.03", "0.05", "0.075", "0.1", "0.15", "0.2",
    "0.3", "0.5", "0.75", "1", "2", "5", "10", "30", "+Inf",
];

/// The commit delay histogram in /metrics: its buckets `(le, cumulative count)` in order, its
/// `_count` and its `_sum`.
fn commit_delays(server: &Server) -> (Vec<(String, u64)>, u64, f64) {
    let (status, text) = server.request("GET", "/metrics", "");
    assert_eq!(status, 200);
    let buckets = text
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("userstore_replica_commit_delay_seconds_bucket{le=\"")?;
            let (le, count) = rest.split_once("\"} ")?;
            Some((le.to_owned(), count.parse().unwrap()))
        })
        .collect();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .unwrap_or_else(|| panic!("no {name} in {text}"))
            .parse()
            .unwrap()
    };
    let count = value("userstore_replica_commit_delay_seconds_count");
    let sum = value("userstore_replica_commit_delay_seconds_sum");
    (buckets, count as u64, sum)
}

/// The rows of the table that follow the store's rules, as `id -> name`.
fn valid_rows(db: &TestDatabase) -> BTreeMap<i64, String> {
    sql(&db.url, "SELECT id::text || ':' || name FROM users")
        .into_iter()
        .map(|row| {
            let row = row.unwrap();
            let (id, name) = row.split_once(':').unwrap();
            (id.parse().unwrap(), name.to_owned())
        })
        .filter(|(_, name)| !name.is_empty() && name.chars().count() <= 256)
        .collect()
}

/// Asserts that GET answers exactly `expected` for every id in `ids`.
fn assert_store_equals(
    server: &Server,
    expected: &BTreeMap<i64, String>,
    ids: std::ops::Range<i64>,
    context: &str,
) {
    for id in ids {
        let (status, body) = server.request("GET", &format!("/users/{id}"), "");
        match expected.get(&id) {
            Some(name) => assert_eq!(
                (status, body),
                (200, format!(r#"{{"id":{id},"name":"{name}"}}"#)),
                "{context}: id {id}"
            ),
            None => assert_eq!(status, 404, "{context}: id {id} should be absent: {body}"),
        }
    }
}

/// A small deterministic generator (xorshift64*): the same transactions on every run.
struct Random(u64);

impl Random {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }
}

const IDS: i64 = 120;

/// The restart test restarts the whole cluster: it holds this for writing, every other test of this
/// file for reading, so none of them runs while the cluster is down.
static CLUSTER: RwLock<()> = RwLock::new(());

fn shared_cluster() -> RwLockReadGuard<'static, ()> {
    CLUSTER.read().unwrap_or_else(PoisonError::into_inner)
}

#[test]
fn copy_then_transactions_rollbacks_and_bad_rows_keep_the_store_equal_to_the_table() {
    let Some(cluster) = cluster_url() else { return };
    let _cluster = shared_cluster();
    let db = TestDatabase::create_with_slots(&cluster);
    sql(
        &db.url,
        &format!(
            "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL); \
             INSERT INTO users SELECT g, 'copied' || g FROM generate_series(0, {}) g; \
             INSERT INTO users VALUES (1000, ''), (1001, repeat('x', 257)), (1002, repeat('é', 256))",
            IDS / 2
        ),
    );
    let server = Server::start(&["--db", &db.url, "--db-mode", "replica"]);
    let health = wait_healthy(&server);
    assert!(health.contains(r#""replica":"streaming""#), "{health}");
    // The copy: every valid row, the two bad ones reported and absent.
    let mut expected = valid_rows(&db);
    assert_eq!(expected.len() as i64, IDS / 2 + 2);
    assert_store_equals(&server, &expected, 0..IDS, "after the copy");
    assert_store_equals(&server, &expected, 1000..1003, "after the copy");
    assert_eq!(
        metric(&server, "userstore_replica_rejected_rows_total"),
        2.0
    );
    assert_eq!(metric(&server, "userstore_replica_copies_total"), 1.0);
    assert!(metric(&server, "userstore_replica_applied_lsn") > 0.0);

    // Random multi-statement transactions, some rolled back, one truncating.
    let mut random = Random(0x5EED_1234_ABCD_0001);
    for round in 0..24 {
        let mut statements = vec!["BEGIN".to_owned()];
        if round == 12 {
            statements.push("TRUNCATE users".to_owned());
        }
        for _ in 0..1 + random.next(6) {
            statements.push(random_statement(&mut random, &format!("r{round}")));
        }
        let rollback = random.next(5) == 0;
        statements.push(if rollback { "ROLLBACK" } else { "COMMIT" }.to_owned());
        sql(&db.url, &statements.join("; "));
        wait_healthy(&server);
        expected = valid_rows(&db);
        assert_store_equals(
            &server,
            &expected,
            0..IDS,
            &format!("round {round}: {statements:?}"),
        );
    }

    // Bad rows in a transaction: the good rows of it apply, the bad ones are counted and absent,
    // and a row that becomes bad disappears; one fixed appears.
    let rejected = metric(&server, "userstore_replica_rejected_rows_total");
    sql(
        &db.url,
        "BEGIN; INSERT INTO users VALUES (2000, 'good'), (2001, ''); \
         INSERT INTO users VALUES (2002, 'will break') ON CONFLICT DO NOTHING; COMMIT; \
         BEGIN; UPDATE users SET name = '' WHERE id = 2002; UPDATE users SET name = 'fixed' WHERE id = 2001; COMMIT",
    );
    wait_healthy(&server);
    expected = valid_rows(&db);
    assert_store_equals(&server, &expected, 2000..2003, "bad rows");
    assert_eq!(
        server.request("GET", "/users/2001", "").1,
        r#"{"id":2001,"name":"fixed"}"#
    );
    assert_eq!(server.request("GET", "/users/2002", "").0, 404);
    assert_eq!(
        metric(&server, "userstore_replica_rejected_rows_total"),
        rejected + 2.0
    );
}

#[test]
fn a_write_is_seen_by_the_next_read_and_the_replica_survives_a_killed_session() {
    let Some(cluster) = cluster_url() else { return };
    let _cluster = shared_cluster();
    let db = TestDatabase::create_with_slots(&cluster);
    // An empty database: the server creates the table and the publication.
    let server = Server::start(&["--db", &db.url, "--db-mode", "replica"]);
    wait_healthy(&server);
    for i in 0..150 {
        let id = i % 40;
        let name = format!("w{i}");
        let (status, body) = server.request(
            "PUT",
            &format!("/users/{id}"),
            &format!(r#"{{"name":"{name}"}}"#),
        );
        assert!(status == 201 || status == 200, "PUT {id}: {status} {body}");
        assert_eq!(
            server.request("GET", &format!("/users/{id}"), ""),
            (200, format!(r#"{{"id":{id},"name":"{name}"}}"#)),
            "read after write {i}"
        );
        if i % 3 == 0 {
            assert_eq!(server.request("DELETE", &format!("/users/{id}"), "").0, 204);
            assert_eq!(
                server.request("GET", &format!("/users/{id}"), "").0,
                404,
                "read after delete {i}"
            );
            let (status, body) = server.request("DELETE", &format!("/users/{id}"), "");
            assert_eq!(status, 404, "second DELETE {i}: {body}");
        }
    }
    // A bad write is refused before it reaches the database.
    assert_eq!(server.request("PUT", "/users/5", r#"{"name":""}"#).0, 400);

    // The replication session killed: /health says so, the store keeps serving, then catches up
    // (a new slot and a new copy) with what was written meanwhile.
    let before = valid_rows(&db);
    let killed = sql(
        &cluster,
        &format!(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = '{}'",
            db.name
        ),
    );
    assert_eq!(killed, vec![Some("t".to_owned())]);
    sql(
        &db.url,
        "INSERT INTO users VALUES (500, 'while away'); DELETE FROM users WHERE id = 1",
    );
    let mut saw_down = false;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = server.request("GET", "/health", "");
        if status == 503 {
            assert!(body.contains(r#""error":"#), "{body}");
            saw_down = true;
        } else if status == 200 && server.request("GET", "/users/500", "").0 == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no catch-up after the kill: {body}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let after = valid_rows(&db);
    assert_ne!(before, after);
    assert_store_equals(&server, &after, 0..41, "after the reconnect");
    assert_store_equals(&server, &after, 500..501, "after the reconnect");
    assert!(metric(&server, "userstore_replica_reconnects_total") >= 1.0);
    assert!(metric(&server, "userstore_replica_copies_total") >= 2.0);
    eprintln!("saw /health 503 during the reconnect: {saw_down}");
    // Writes work again at once.
    assert_eq!(
        server.request("PUT", "/users/600", r#"{"name":"back"}"#).0,
        201
    );
    assert_eq!(
        server.request("GET", "/users/600", "").1,
        r#"{"id":600,"name":"back"}"#
    );

    // SIGKILL: PostgreSQL drops the temporary slot with the session.
    let slots = format!(
        "SELECT count(*) FROM pg_replication_slots WHERE database = '{}'",
        db.name
    );
    assert_eq!(sql(&cluster, &slots), vec![Some("1".to_owned())]);
    drop(server);
    let deadline = Instant::now() + Duration::from_secs(20);
    while sql(&cluster, &slots) != vec![Some("0".to_owned())] {
        assert!(
            Instant::now() < deadline,
            "the killed instance's slot is still there"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn each_applied_transaction_is_one_observation_of_the_commit_delay_histogram() {
    let Some(cluster) = cluster_url() else { return };
    let _cluster = shared_cluster();
    let db = TestDatabase::create_with_slots(&cluster);
    sql(
        &db.url,
        "CREATE TABLE users (id bigint PRIMARY KEY, name text NOT NULL); \
         INSERT INTO users SELECT g, 'copied' || g FROM generate_series(1, 100) g",
    );
    let server = Server::start(&["--db", &db.url, "--db-mode", "replica"]);
    wait_healthy(&server);
    // The copy is not an observation: the histogram is there, empty.
    let (buckets, count, sum) = commit_delays(&server);
    assert_eq!((count, sum), (0, 0.0));
    assert_eq!(
        buckets
            .iter()
            .map(|(le, _)| le.as_str())
            .collect::<Vec<_>>(),
        COMMIT_DELAY_BOUNDS
    );
    assert!(buckets.iter().all(|(_, n)| *n == 0));

    // N committed single-row transactions (inserts, updates, deletes) in one round trip, each
    // with its own BEGIN/COMMIT; a rolled-back one and one that changes no row are not counted.
    const N: u64 = 60;
    let mut statements = Vec::new();
    for i in 0..N {
        let id = 1 + i as i64;
        statements.push(match i % 3 {
            0 => format!(
                "BEGIN; INSERT INTO users VALUES ({}, 'new{i}'); COMMIT",
                1000 + i
            ),
            1 => format!("BEGIN; UPDATE users SET name = 'up{i}' WHERE id = {id}; COMMIT"),
            _ => format!("BEGIN; DELETE FROM users WHERE id = {id}; COMMIT"),
        });
    }
    statements.push("BEGIN; INSERT INTO users VALUES (5000, 'never'); ROLLBACK".to_owned());
    statements.push("BEGIN; DELETE FROM users WHERE id = -1; COMMIT".to_owned());
    sql(&db.url, &statements.join("; "));
    // And single-row writes through the service (as the load test makes them).
    const PUTS: u64 = 10;
    for i in 0..PUTS {
        let (status, body) = server.request(
            "PUT",
            &format!("/users/{}", 2000 + i),
            &format!(r#"{{"name":"put{i}"}}"#),
        );
        assert_eq!(status, 201, "{body}");
    }
    wait_healthy(&server);
    assert_store_equals(&server, &valid_rows(&db), 0..120, "after the transactions");

    let (buckets, count, sum) = commit_delays(&server);
    assert_eq!(count, N + PUTS, "{buckets:?}");
    assert_eq!(
        buckets
            .iter()
            .map(|(le, _)| le.as_str())
            .collect::<Vec<_>>(),
        COMMIT_DELAY_BOUNDS
    );
    // Cumulative: never decreasing, +Inf is the count.
    assert!(
        buckets.windows(2).all(|pair| pair[0].1 <= pair[1].1),
        "{buckets:?}"
    );
    assert_eq!(buckets.last().map(|(_, n)| *n), Some(count));
    // The sum is that of observations of at least 0 and at most the bound of the first bucket
    // that holds them all.
    let all_within = buckets
        .iter()
        .find(|(_, n)| *n == count)
        .map(|(le, _)| le.parse::<f64>().unwrap_or(f64::INFINITY))
        .unwrap();
    assert!(sum >= 0.0 && sum <= all_within * count as f64, "{sum}");
    eprintln!("commit delays of {count} transactions: sum {sum} s, {buckets:?}");
    // The gauge is kept.
    assert!(metric(&server, "userstore_replica_lag_seconds") >= 0.0);

    // The next transactions add to the same series.
    sql(
        &db.url,
        "BEGIN; INSERT INTO users VALUES (3000, 'more'); COMMIT; \
         BEGIN; UPDATE users SET name = 'more2' WHERE id = 3000; COMMIT",
    );
    wait_healthy(&server);
    assert_eq!(commit_delays(&server).1, N + PUTS + 2);
}

#[test]
fn the_password_never_shows() {
    let Some(cluster) = cluster_url() else { return };
    let _cluster = shared_cluster();
    let db = TestDatabase::create_with_slots(&cluster);
    const PASSWORD: &str = "Pa55wordNeverShown";
    // The private cluster trusts loopback, so the password is accepted and ignored.
    let url = db.url_with_password(PASSWORD);
    let server = Server::start(&["--db", &url, "--db-mode", "replica"]);
    let health = wait_healthy(&server);
    server.request("PUT", "/users/1", r#"{"name":"a"}"#);
    sql(
        &cluster,
        &format!(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = '{}'",
            db.name
        ),
    );
    let mut shown = vec![health];
    for _ in 0..20 {
        shown.push(server.request("GET", "/health", "").1);
        std::thread::sleep(Duration::from_millis(10));
    }
    wait_healthy(&server);
    shown.push(server.request("GET", "/metrics", "").1);
    let (_, stderr) = server.stop();
    shown.extend(stderr);
    let all = shown.join("\n");
    assert!(!all.contains(PASSWORD), "{all}");
    assert!(
        all.contains(":***@"),
        "the start-up line shows the URL redacted: {all}"
    );

    // An unreachable server: the error names the URL without its password.
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let (status, stderr) = run_to_end(&[
        "--db",
        &format!("postgres://someone:{PASSWORD}@127.0.0.1:{port}/x"),
        "--db-mode",
        "replica",
    ]);
    assert_eq!(status, 1, "{stderr}");
    assert!(!stderr.contains(PASSWORD), "{stderr}");
    assert!(stderr.contains("someone:***@127.0.0.1"), "{stderr}");
}

/// PostgreSQL restarted under the replica (only with `USERSTORE_PG_RESTART`, a shell command that
/// restarts the cluster, as `.ci/run` sets): the store serves its last state meanwhile, then the
/// replica reconnects and catches up with writes made after the restart.
#[test]
fn a_postgres_restart_is_survived() {
    let Some(cluster) = cluster_url() else { return };
    let Some(restart) = std::env::var("USERSTORE_PG_RESTART")
        .ok()
        .filter(|command| !command.is_empty())
    else {
        eprintln!("skipped: USERSTORE_PG_RESTART unset");
        return;
    };
    let _cluster = CLUSTER.write().unwrap_or_else(PoisonError::into_inner);
    let db = TestDatabase::create_with_slots(&cluster);
    let server = Server::start(&["--db", &db.url, "--db-mode", "replica"]);
    wait_healthy(&server);
    assert_eq!(
        server.request("PUT", "/users/1", r#"{"name":"before"}"#).0,
        201
    );
    assert!(Command::new("sh")
        .args(["-c", &restart])
        .status()
        .unwrap()
        .success());
    // The store kept serving through the restart.
    assert_eq!(server.request("GET", "/users/1", "").0, 200);
    let deadline = Instant::now() + Duration::from_secs(30);
    while try_sql(&db.url, "INSERT INTO users VALUES (2, 'after')").is_err() {
        assert!(Instant::now() < deadline, "the cluster did not come back");
        std::thread::sleep(Duration::from_millis(100));
    }
    wait_healthy(&server);
    let expected = valid_rows(&db);
    assert_eq!(expected.len(), 2);
    assert_store_equals(&server, &expected, 0..3, "after the restart");
    assert!(metric(&server, "userstore_replica_reconnects_total") >= 1.0);
}

/// One random statement on ids below `IDS`: an upsert (named `<tag>n<k>`), a rename of a range, a
/// delete, or an id change.
fn random_statement(random: &mut Random, tag: &str) -> String {
    let id = random.next(IDS as u64);
    let other = random.next(IDS as u64);
    match random.next(5) {
        0 | 1 => format!(
            "INSERT INTO users VALUES ({id}, '{tag}n{}') ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name",
            random.next(1000)
        ),
        2 => format!("UPDATE users SET name = name || 'u' WHERE id BETWEEN {id} AND {id} + 5"),
        3 => format!("DELETE FROM users WHERE id = {id}"),
        _ => format!(
            "UPDATE users SET id = {other} WHERE id = {id} AND NOT EXISTS (SELECT 1 FROM users WHERE id = {other})"
        ),
    }
}

/// `count` random multi-statement transactions (inserts, updates, deletes, id changes).
fn random_transactions(db: &TestDatabase, random: &mut Random, count: u64) {
    for round in 0..count {
        let mut statements = vec!["BEGIN".to_owned()];
        for _ in 0..1 + random.next(5) {
            statements.push(random_statement(random, &format!("d{round}")));
        }
        statements.push("COMMIT".to_owned());
        sql(&db.url, &statements.join("; "));
    }
}

/// A durable replica (`--data-dir` with `--db-slot`) stopped by `signal` (TERM or KILL) while
/// transactions go on, restarted on the same directory and slot: it resumes from its stored
/// position (no copy) and is equal to the table; the slot stays listed while it is stopped.
/// A durable replica's data dir (new, empty: named after the database), slot name and arguments.
fn durable_replica(db: &TestDatabase, tag: &str) -> (std::path::PathBuf, String, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("{tag}-{}", db.name));
    let _ = std::fs::remove_dir_all(&dir);
    let slot = format!("slot_{}", db.name);
    let args = [
        "--db",
        &db.url,
        "--db-mode",
        "replica",
        "--data-dir",
        dir.to_str().unwrap(),
        "--db-slot",
        &slot,
    ]
    .map(str::to_owned)
    .to_vec();
    (dir, slot, args)
}

fn durable_replica_restarts_without_a_copy(signal: &str) {
    let Some(cluster) = cluster_url() else { return };
    let _cluster = shared_cluster();
    let db = TestDatabase::create_with_slots(&cluster);
    let (dir, slot, args) = durable_replica(&db, "userstore-rdurable");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut random = Random(0x5EED_D00A_B1E0_0002);
    let server = Server::start(&args);
    wait_healthy(&server);
    random_transactions(&db, &mut random, 30);
    wait_healthy(&server);
    assert_store_equals(&server, &valid_rows(&db), 0..IDS, "before the stop");
    assert_eq!(metric(&server, "userstore_replica_copies_total"), 1.0);
    assert_eq!(metric(&server, "userstore_replica_resumes_total"), 0.0);
    assert!(dir.join("replica-position").exists());

    match signal {
        "TERM" => assert_eq!(server.stop().0, 143),
        // Drop sends SIGKILL.
        _ => drop(server),
    }
    let listed = format!(
        "SELECT slot_name FROM pg_replication_slots WHERE slot_name = '{slot}' AND NOT temporary"
    );
    assert_eq!(
        sql(&db.url, &listed).len(),
        1,
        "the slot is kept while stopped"
    );
    random_transactions(&db, &mut random, 30);

    let mut server = Server::start(&args);
    wait_healthy(&server);
    assert_store_equals(&server, &valid_rows(&db), 0..IDS, "after the restart");
    assert_eq!(metric(&server, "userstore_replica_copies_total"), 0.0);
    assert_eq!(metric(&server, "userstore_replica_resumes_total"), 1.0);
    server.wait_for("resumed slot");
    // And it goes on streaming.
    random_transactions(&db, &mut random, 5);
    wait_healthy(&server);
    assert_store_equals(
        &server,
        &valid_rows(&db),
        0..IDS,
        "after the restart, streaming",
    );
    assert_eq!(server.stop().0, 143);
    assert_eq!(
        sql(&db.url, &listed).len(),
        1,
        "the server never drops its slot"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_durable_replica_stopped_by_sigterm_resumes_without_a_copy() {
    durable_replica_restarts_without_a_copy("TERM");
}

#[test]
fn a_durable_replica_killed_by_sigkill_resumes_without_a_copy() {
    durable_replica_restarts_without_a_copy("KILL");
}

/// A slot confirmed past the stored position (here advanced by hand while the replica is stopped,
/// as a data dir restored from an older copy would find it) cannot stream the transactions in
/// between again: the replica copies the table instead of resuming, and ends equal to it.
#[test]
fn a_durable_replica_whose_slot_moved_past_its_position_copies_again() {
    let Some(cluster) = cluster_url() else { return };
    let _cluster = shared_cluster();
    let db = TestDatabase::create_with_slots(&cluster);
    let (dir, slot, args) = durable_replica(&db, "userstore-rdurable-moved");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut random = Random(0x5EED_D00A_B1E0_0003);
    let server = Server::start(&args);
    wait_healthy(&server);
    random_transactions(&db, &mut random, 10);
    wait_healthy(&server);
    assert_eq!(server.stop().0, 143);

    random_transactions(&db, &mut random, 20);
    sql(
        &db.url,
        &format!("SELECT pg_replication_slot_advance('{slot}', pg_current_wal_lsn())"),
    );

    let mut server = Server::start(&args);
    wait_healthy(&server);
    assert_store_equals(&server, &valid_rows(&db), 0..IDS, "after the restart");
    assert_eq!(metric(&server, "userstore_replica_resumes_total"), 0.0);
    assert_eq!(metric(&server, "userstore_replica_copies_total"), 1.0);
    server.wait_for("past the position stored in the data dir");
    assert_eq!(server.stop().0, 143);
    sql(
        &db.url,
        &format!("SELECT pg_drop_replication_slot('{slot}')"),
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_durable_replica_needs_a_slot_and_sync_always() {
    let dir = std::env::temp_dir().join(format!("userstore-rdurable-args-{}", std::process::id()));
    let dir = dir.to_str().unwrap();
    let url = "postgres://nobody@127.0.0.1:1/none";
    let (status, stderr) = run_to_end(&["--db", url, "--db-mode", "replica", "--data-dir", dir]);
    assert_eq!(status, 1);
    assert!(stderr.contains("needs --db-slot NAME"), "{stderr}");
    let (status, stderr) = run_to_end(&[
        "--db",
        url,
        "--db-mode",
        "replica",
        "--data-dir",
        dir,
        "--db-slot",
        "s",
        "--sync",
        "batch",
    ]);
    assert_eq!(status, 1);
    assert!(stderr.contains("needs --sync always"), "{stderr}");
    let (status, stderr) = run_to_end(&[
        "--db",
        url,
        "--db-mode",
        "replica",
        "--data-dir",
        dir,
        "--db-slot",
        "Bad-Name",
    ]);
    assert_eq!(status, 1);
    assert!(stderr.contains("1 to 63"), "{stderr}");
}
