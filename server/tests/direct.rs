//! `--db URL --db-mode direct` against a real PostgreSQL: the URL of a running server in
//! `USERSTORE_PG_URL` (`scripts/postgres.sh start` prints one; CI exports it). Without it the
//! database tests print `skipped: USERSTORE_PG_URL unset` and return. Each test works in a database
//! of its own (`us_test_<random>`, created here and dropped at the end), so tests, and other suites
//! on the same cluster, do not collide. The refusals of flag combinations need no database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{cluster_url, run_to_end, sql, Server, TestDatabase};

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
