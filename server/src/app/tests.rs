//! The API driven in process (`tower::ServiceExt::oneshot`): every endpoint, every kind of bad
//! request (each checked to leave the store unchanged), the error bodies and the metrics.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;
use userstore::{DurableOptions, Store, StoreError, SyncMode};

use super::{store_error, App, AppState};

const RANGE: &str = "an id must be in 0..9223372036854775807";

/// A store with users 0..9 named user-<id>, and the app over it.
fn app() -> (App, Arc<AppState>) {
    let store = Store::new();
    for id in 0..10 {
        store.put(id, format!("user-{id}").as_bytes()).unwrap();
    }
    let state = Arc::new(AppState::new(store, "native").unwrap());
    (App::new(state.clone()), state)
}

struct Answer {
    status: StatusCode,
    content_type: String,
    body: Vec<u8>,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

async fn send_request(app: &App, request: Request<Body>) -> Answer {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = response
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    Answer {
        status,
        content_type,
        body,
    }
}

async fn send(app: &App, method: &str, uri: &str, body: impl Into<Vec<u8>>) -> Answer {
    let body = body.into();
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-length", body.len())
        .body(Body::from(body))
        .unwrap();
    send_request(app, request).await
}

/// A body sent in pieces without a Content-Length (as a chunked request arrives).
async fn send_chunked(app: &App, uri: &str, body: Vec<u8>) -> Answer {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    let request = Request::builder()
        .method("PUT")
        .uri(uri)
        .body(Body::new(chunked_body(chunks)))
        .unwrap();
    send_request(app, request).await
}

/// A body of these chunks with no size hint.
fn chunked_body(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl axum::body::HttpBody<Data = axum::body::Bytes, Error = std::io::Error> + Send + 'static {
    struct Chunks(std::collections::VecDeque<Result<Vec<u8>, std::io::Error>>);
    impl axum::body::HttpBody for Chunks {
        type Data = axum::body::Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
            std::task::Poll::Ready(
                self.0
                    .pop_front()
                    .map(|c| c.map(|v| http_body::Frame::data(axum::body::Bytes::from(v)))),
            )
        }
    }
    Chunks(chunks.into())
}

fn error_json(message: &str) -> String {
    let mut out = Vec::new();
    out.extend_from_slice(b"{\"error\":");
    userstore::core::write_json_string(&mut out, message);
    out.push(b'}');
    String::from_utf8(out).unwrap()
}

/// Sends the request and checks the answer is `status` with `{"error": message}` and that the
/// store did not change.
async fn refused(
    app: &App,
    state: &AppState,
    method: &str,
    uri: &str,
    body: &[u8],
    status: u16,
    message: &str,
) {
    let before = state.store().export_json();
    let answer = send(app, method, uri, body.to_vec()).await;
    assert_eq!(
        answer.status.as_u16(),
        status,
        "{method} {uri}: {}",
        answer.text()
    );
    assert_eq!(answer.content_type, "application/json", "{method} {uri}");
    assert_eq!(answer.text(), error_json(message), "{method} {uri}");
    assert_eq!(
        state.store().export_json(),
        before,
        "{method} {uri} changed the store"
    );
}

/// As [`refused`], checking only the message's prefix.
async fn refused_prefix(app: &App, state: &AppState, uri: &str, body: &[u8], prefix: &str) {
    let before = state.store().export_json();
    let answer = send(app, "PUT", uri, body.to_vec()).await;
    assert_eq!(
        answer.status,
        StatusCode::BAD_REQUEST,
        "{uri} {body:?}: {}",
        answer.text()
    );
    assert_eq!(answer.content_type, "application/json");
    let text = answer.text();
    assert!(
        text.starts_with(&error_json(prefix)[..error_json(prefix).len() - 2]),
        "{body:?}: {text}"
    );
    assert_eq!(
        state.store().export_json(),
        before,
        "{body:?} changed the store"
    );
}

#[tokio::test]
async fn reads() {
    let (app, _) = app();
    for uri in [
        "/users/7",
        "/users/007",
        "/users/%37",
        "/users/%30%30%37",
        "//users//7",
        "/%75sers/7",
        "/users/7?x=1",
    ] {
        let answer = send(&app, "GET", uri, "").await;
        assert_eq!(answer.status, StatusCode::OK, "{uri}");
        assert_eq!(answer.content_type, "application/json");
        assert_eq!(answer.text(), r#"{"id":7,"name":"user-7"}"#, "{uri}");
    }
    let answer = send(&app, "GET", "/health", "").await;
    assert_eq!(
        (answer.status, answer.text()),
        (StatusCode::OK, r#"{"status":"ok"}"#.to_owned())
    );
    assert_eq!(answer.content_type, "application/json");
}

#[tokio::test]
async fn writes() {
    let (app, state) = app();
    let put = send(&app, "PUT", "/users/10", r#"{"name":"dup"}"#).await;
    assert_eq!(
        (put.status, put.text()),
        (StatusCode::CREATED, r#"{"id":10,"name":"dup"}"#.to_owned())
    );
    assert_eq!(put.content_type, "application/json");
    let put = send(&app, "PUT", "/users/0010", r#"{"name":"dup"}"#).await;
    assert_eq!(
        (put.status, put.text()),
        (StatusCode::OK, r#"{"id":10,"name":"dup"}"#.to_owned())
    );
    let put = send(&app, "PUT", "/users/11", r#"{"name":"dup"}"#).await;
    assert_eq!(put.status, StatusCode::CREATED);
    let found = send(&app, "GET", "/users?name=dup", "").await;
    assert_eq!(
        (found.status, found.text()),
        (
            StatusCode::OK,
            r#"[{"id":10,"name":"dup"},{"id":11,"name":"dup"}]"#.to_owned()
        )
    );
    let put = send(
        &app,
        "PUT",
        "/users/9223372036854775807",
        r#"{"name":"max"}"#,
    )
    .await;
    assert_eq!(put.text(), r#"{"id":9223372036854775807,"name":"max"}"#);

    let deleted = send(&app, "DELETE", "/users/3", "").await;
    assert_eq!(
        (deleted.status, deleted.body.len()),
        (StatusCode::NO_CONTENT, 0)
    );
    refused(
        &app,
        &state,
        "DELETE",
        "/users/3",
        b"",
        404,
        "no user with id 3",
    )
    .await;
    refused(
        &app,
        &state,
        "GET",
        "/users/3",
        b"",
        404,
        "no user with id 3",
    )
    .await;

    // Names as kotlinx.serialization writes them back: controls escaped, the rest as is.
    let body =
        r#"{"name":"q\"b\\s\/\b\f\n\r\t\u0001\u001f\u007f\u0080\u2028 é😀\ud83d\ude00\u0000"}"#;
    let echo = "{\"id\":34,\"name\":\"q\\\"b\\\\s/\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}\u{80}\u{2028} é😀😀\\u0000\"}";
    let put = send(&app, "PUT", "/users/34", body).await;
    assert_eq!(
        (put.status, put.text()),
        (StatusCode::CREATED, echo.to_owned())
    );
    assert_eq!(send(&app, "GET", "/users/34", "").await.text(), echo);
    // Raw control characters in the string are accepted, as kotlinx does.
    let put = send(
        &app,
        "PUT",
        "/users/35",
        b"{\"name\":\"a\tb\x01\"}".to_vec(),
    )
    .await;
    assert_eq!(put.text(), r#"{"id":35,"name":"a\tb\u0001"}"#);

    let chunked = send_chunked(&app, "/users/15", br#"{"name":"chunked"}"#.to_vec()).await;
    assert_eq!(
        (chunked.status, chunked.text()),
        (
            StatusCode::CREATED,
            r#"{"id":15,"name":"chunked"}"#.to_owned()
        )
    );
    assert_eq!(state.store().get(15).unwrap().as_deref(), Some("chunked"));
}

#[tokio::test]
async fn find_by_name() {
    let (app, state) = app();
    send(&app, "PUT", "/users/30", r#"{"name":"a b&c"}"#).await;
    for uri in [
        "/users?name=a+b%26c",
        "/users?name=a%20b%26c",
        "/users?x=%41&name=a+b%26c&name=user-1",
    ] {
        assert_eq!(
            send(&app, "GET", uri, "").await.text(),
            r#"[{"id":30,"name":"a b&c"}]"#,
            "{uri}"
        );
    }
    assert_eq!(
        send(&app, "GET", "/users?name=nobody", "").await.text(),
        "[]"
    );
    let missing = "missing query parameter name: GET /users?name=…";
    refused(&app, &state, "GET", "/users", b"", 400, missing).await;
    refused(&app, &state, "GET", "/users?nam=user-1", b"", 400, missing).await;
    refused(
        &app,
        &state,
        "GET",
        "/users?name=",
        b"",
        400,
        "invalid name: the name is empty",
    )
    .await;
    refused(
        &app,
        &state,
        "GET",
        "/users?name",
        b"",
        400,
        "invalid name: the name is empty",
    )
    .await;
    let long = format!("/users?name={}", "a".repeat(257));
    refused(
        &app,
        &state,
        "GET",
        &long,
        b"",
        400,
        "invalid name: the name is too long: 257 code points (at most 256)",
    )
    .await;
    refused(
        &app,
        &state,
        "GET",
        "/users?name=%zz",
        b"",
        400,
        "Unable to decode query parameters",
    )
    .await;
}

#[tokio::test]
async fn bad_ids() {
    let (app, state) = app();
    let non_numeric = |s: &str| format!("invalid id '{s}': an id is a decimal number");
    let out_of_range = |s: &str| format!("invalid id {s}: {RANGE}");
    let cases = [
        ("abc", non_numeric("abc")),
        ("-1", out_of_range("-1")),
        ("-0", out_of_range("-0")),
        ("-", non_numeric("-")),
        ("+1", non_numeric("+1")),
        ("9223372036854775808", out_of_range("9223372036854775808")),
        (&"9".repeat(50), out_of_range(&"9".repeat(40))),
        (&"x".repeat(50), non_numeric(&"x".repeat(40))),
        ("%201", non_numeric(" 1")),
        ("%2D1", out_of_range("-1")),
        ("%2F1", non_numeric("/1")),
        ("%E2%82%AC", non_numeric("€")),
        ("%ED%A0%80", non_numeric("\u{FFFD}")),
        ("%00", non_numeric("\u{0}")),
    ];
    for (segment, message) in &cases {
        let uri = format!("/users/{segment}");
        refused(&app, &state, "GET", &uri, b"", 400, message).await;
        refused(&app, &state, "PUT", &uri, br#"{"name":"x"}"#, 400, message).await;
        refused(&app, &state, "DELETE", &uri, b"", 400, message).await;
    }
    // The id is checked before the body.
    refused(
        &app,
        &state,
        "PUT",
        "/users/-1",
        b"garbage",
        400,
        &out_of_range("-1"),
    )
    .await;
    refused(
        &app,
        &state,
        "GET",
        "/users/%zz",
        b"",
        400,
        "Url decode failed for /users/%zz",
    )
    .await;
    refused(
        &app,
        &state,
        "GET",
        "/users/%?x=1",
        b"",
        400,
        "Url decode failed for /users/%?x=1",
    )
    .await;
    refused(
        &app,
        &state,
        "GET",
        "/nothing/%zz",
        b"",
        400,
        "Url decode failed for /nothing/%zz",
    )
    .await;
    refused(
        &app,
        &state,
        "PUT",
        "/users/1?x=%zz",
        br#"{"name":"x"}"#,
        400,
        "Unable to decode query parameters",
    )
    .await;
    refused(
        &app,
        &state,
        "GET",
        "/health?x=%zz",
        b"",
        400,
        "Unable to decode query parameters",
    )
    .await;
}

#[tokio::test]
async fn bad_bodies() {
    let (app, state) = app();
    let prefix = "invalid body, expected {\"name\":\"…\"}: ";
    for body in [
        "{",
        "garbage",
        "[]",
        "null",
        r#"{"name":"a",}"#,
        r#"{name:"a"}"#,
        r#"{"name":"a\x"}"#,
        "{}",
        r#"{"nam":"a"}"#,
        r#"{"name":null}"#,
        r#"{"name":5}"#,
        r#"{"name":["a"]}"#,
        r#"{"name":"a","extra":1}"#,
        r#"{"name":"a"} x"#,
        "\u{FEFF}{\"name\":\"a\"}",
    ] {
        for id in [5, 500] {
            refused_prefix(
                &app,
                &state,
                &format!("/users/{id}"),
                body.as_bytes(),
                prefix,
            )
            .await;
        }
    }
    let surrogate = |unit: &str, index: usize| {
        format!("invalid name: unpaired surrogate U+{unit} at index {index}")
    };
    let invalid = [
        (
            r#"{"name":""}"#.to_owned(),
            "invalid name: the name is empty".to_owned(),
        ),
        (
            format!(r#"{{"name":"{}"}}"#, "a".repeat(257)),
            "invalid name: the name is too long: 257 code points (at most 256)".to_owned(),
        ),
        (
            format!(r#"{{"name":"{}"}}"#, "😀".repeat(257)),
            "invalid name: the name is too long: 257 code points (at most 256)".to_owned(),
        ),
        (r#"{"name":"\ud800"}"#.to_owned(), surrogate("D800", 0)),
        (r#"{"name":"x\udc00"}"#.to_owned(), surrogate("DC00", 1)),
        (
            r#"{"name":"\ude00\ud83d"}"#.to_owned(),
            surrogate("DE00", 0),
        ),
    ];
    for (body, message) in &invalid {
        for id in [5, 500] {
            refused(
                &app,
                &state,
                "PUT",
                &format!("/users/{id}"),
                body.as_bytes(),
                400,
                message,
            )
            .await;
        }
    }
    let missing = "missing request body: expected {\"name\":\"…\"}";
    for body in ["", " ", "\r\n\t ", "\u{A0}"] {
        refused(
            &app,
            &state,
            "PUT",
            "/users/5",
            body.as_bytes(),
            400,
            missing,
        )
        .await;
    }
    for bad in [
        &[0xE9][..],
        &[0x80],
        &[0xC0, 0xAF],
        &[0xED, 0xA0, 0x80],
        &[0xF0, 0x9F, 0x98],
        &[0xFF],
    ] {
        let body = [&b"{\"name\":\"caf"[..], bad, b"\"}"].concat();
        refused(
            &app,
            &state,
            "PUT",
            "/users/5",
            &body,
            400,
            "request body is not valid UTF-8",
        )
        .await;
    }
}

#[tokio::test]
async fn body_limit() {
    let (app, state) = app();
    let too_large = "request body larger than 65536 bytes";
    let over = format!(r#"{{"name":"{}"}}"#, "a".repeat(65_536 - 10)).into_bytes();
    assert_eq!(over.len(), 65_537);
    let at_limit = format!(r#"{{"name":"{}"}}"#, "a".repeat(65_536 - 11)).into_bytes();
    let long = "invalid name: the name is too long: 65525 code points (at most 256)";
    let before = state.store().export_json();
    refused(&app, &state, "PUT", "/users/5", &over, 413, too_large).await;
    refused(&app, &state, "PUT", "/users/5", &at_limit, 400, long).await;
    for (body, status) in [
        (over.clone(), 413),
        (vec![b'a'; 1 << 20], 413),
        (at_limit.clone(), 400),
    ] {
        let answer = send_chunked(&app, "/users/5", body).await;
        assert_eq!(answer.status.as_u16(), status);
        assert_eq!(answer.content_type, "application/json");
    }
    // A declared length over the limit is refused without reading: the body here is short.
    let request = Request::builder()
        .method("PUT")
        .uri("/users/5")
        .header("content-length", "1000000")
        .body(Body::from("{\"na"))
        .unwrap();
    let answer = send_request(&app, request).await;
    assert_eq!(
        (answer.status.as_u16(), answer.text()),
        (413, error_json(too_large))
    );
    // A bad id wins over a large body; a GET ignores its body.
    refused(
        &app,
        &state,
        "PUT",
        "/users/abc",
        &over,
        400,
        "invalid id 'abc': an id is a decimal number",
    )
    .await;
    assert_eq!(
        send(&app, "GET", "/users/1", vec![b'x'; 100_000])
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(state.store().export_json(), before);
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    let (app, state) = app();
    for path in [
        "/",
        "/nothing/here",
        "/users/1/extra",
        "/users/",
        "/health/",
        "/metricsx",
        "/Users/1",
        "/users/1/",
        "/users//",
        "//",
        "/users/./1",
        "/users%2F1",
    ] {
        refused(&app, &state, "GET", path, b"", 404, "no such endpoint").await;
    }
    for method in ["POST", "PATCH", "OPTIONS", "BREW", "HEAD"] {
        refused_or_empty(&app, &state, method, "/users/1", 404, "no such endpoint").await;
    }
    for (method, path) in [
        ("POST", "/users"),
        ("DELETE", "/users"),
        ("PUT", "/health"),
        ("POST", "/metrics"),
        ("HEAD", "/health"),
        ("OPTIONS", "/health"),
    ] {
        refused_or_empty(&app, &state, method, path, 405, "method not allowed").await;
    }
    // An undecodable query does not matter where no route answers.
    refused(
        &app,
        &state,
        "GET",
        "/nothing?x=%zz",
        b"",
        404,
        "no such endpoint",
    )
    .await;
    refused(
        &app,
        &state,
        "POST",
        "/health?x=%zz",
        b"",
        405,
        "method not allowed",
    )
    .await;
}

/// [`refused`], except that a HEAD answer has the JSON content type but no body.
async fn refused_or_empty(
    app: &App,
    state: &AppState,
    method: &str,
    uri: &str,
    status: u16,
    message: &str,
) {
    if method == "HEAD" {
        let answer = send(app, method, uri, "").await;
        assert_eq!(answer.status.as_u16(), status, "{method} {uri}");
        assert_eq!(answer.content_type, "application/json");
    } else {
        refused(app, state, method, uri, br#"{"name":"x"}"#, status, message).await;
    }
}

#[tokio::test]
async fn metrics() {
    let (app, _) = app();
    send(&app, "GET", "/users/1", "").await;
    send(&app, "GET", "/users/1", "").await;
    send(&app, "GET", "/users/99", "").await;
    send(&app, "PUT", "/users/20", r#"{"name":"x"}"#).await;
    send(&app, "GET", "/nothing", "").await;
    send(&app, "POST", "/health", "").await;
    let answer = send(&app, "GET", "/metrics", "").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.content_type,
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = answer.text();
    for line in [
        "# TYPE http_server_requests_seconds histogram",
        r#"http_server_requests_seconds_count{method="GET",route="/users/{id}",status="200"} 2"#,
        r#"http_server_requests_seconds_count{method="GET",route="/users/{id}",status="404"} 1"#,
        r#"http_server_requests_seconds_count{method="PUT",route="/users/{id}",status="201"} 1"#,
        r#"http_server_requests_seconds_count{method="GET",route="n/a",status="404"} 1"#,
        r#"http_server_requests_seconds_count{method="POST",route="n/a",status="405"} 1"#,
        r#"http_server_requests_seconds_bucket{method="GET",route="/users/{id}",status="200",le="10"} 2"#,
        "# TYPE userstore_users gauge",
        r#"userstore_users{store="native"} 11"#,
    ] {
        assert!(text.lines().any(|l| l == line), "no line {line} in\n{text}");
    }
}

#[tokio::test]
async fn concurrent_puts_of_one_id_create_it_once() {
    let (app, state) = app();
    for round in 0..20 {
        let id = 1000 + round;
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let app = app.clone();
                tokio::spawn(async move {
                    send(
                        &app,
                        "PUT",
                        &format!("/users/{id}"),
                        format!(r#"{{"name":"n{i}"}}"#),
                    )
                    .await
                    .status
                })
            })
            .collect();
        let mut created = 0;
        for task in tasks {
            if task.await.unwrap() == StatusCode::CREATED {
                created += 1;
            }
        }
        assert_eq!(created, 1, "id {id}");
    }
    assert_eq!(state.store().len(), 30);
}

/// A fresh, empty temporary directory for a durable store.
fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "userstore-server-app-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_store_answers_writes_once_they_are_in_its_directory() {
    let dir = temp_dir("durable");
    let options = || DurableOptions::new(SyncMode::Always);
    let state =
        Arc::new(AppState::new(Store::open_durable(&dir, options()).unwrap(), "native").unwrap());
    let app = App::new(state.clone());
    let put = send(&app, "PUT", "/users/1", r#"{"name":"Ada"}"#).await;
    assert_eq!(
        (put.status, put.text()),
        (StatusCode::CREATED, r#"{"id":1,"name":"Ada"}"#.to_owned())
    );
    assert_eq!(
        send(&app, "PUT", "/users/2", r#"{"name":"Bob"}"#)
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        send(&app, "PUT", "/users/1", r#"{"name":"Ada L"}"#)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, "DELETE", "/users/2", "").await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        send(&app, "DELETE", "/users/3", "").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&app, "PUT", "/users/4", r#"{"name":""}"#).await.status,
        StatusCode::BAD_REQUEST
    );
    // Concurrent writes (on the blocking pool): every one answered, every one in the log.
    let tasks: Vec<_> = (100..132)
        .map(|id| {
            let app = app.clone();
            tokio::spawn(async move {
                send(
                    &app,
                    "PUT",
                    &format!("/users/{id}"),
                    format!(r#"{{"name":"n{id}"}}"#),
                )
                .await
                .status
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::CREATED);
    }
    let stats = state.store().log_stats().unwrap();
    assert_eq!(stats.durable, stats.appended, "{stats:?}");
    assert!(stats.syncs >= 1, "{stats:?}");

    // After close_log (shutdown), writes are refused with 503; reads go on.
    state.store().close_log().unwrap();
    let refused = send(&app, "PUT", "/users/5", r#"{"name":"late"}"#).await;
    assert_eq!(
        (refused.status, refused.text()),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"error":"the server is shutting down"}"#.to_owned()
        )
    );
    assert_eq!(
        send(&app, "DELETE", "/users/1", "").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        send(&app, "GET", "/users/1", "").await.status,
        StatusCode::OK
    );
    drop(app);
    drop(state);

    let reopened = Store::open_durable(&dir, options()).unwrap();
    let mut expected = String::from(r#"[{"id":1,"name":"Ada L"}"#);
    for id in 100..132 {
        expected.push_str(&format!(r#",{{"id":{id},"name":"n{id}"}}"#));
    }
    expected.push(']');
    assert_eq!(String::from_utf8(reopened.export_json()).unwrap(), expected);
    drop(reopened);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_log_is_503_with_a_json_error() {
    let e = StoreError::LogIo {
        path: "/data/log-00000000000000000001.wal".into(),
        reason: "No space left on device".into(),
    };
    let response = store_error(&e);
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json"
    );
}
