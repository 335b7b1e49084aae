//! The HTTP API, as the Kotlin service's `userStoreModule` (`kotlin-service/.../UserStoreModule.kt`):
//!
//! - `GET /users/{id}`: 200 with the store's own JSON bytes, 404 when missing
//! - `PUT /users/{id}` with `{"name":"…"}`: 201 when created, 200 when replaced; the body echoes the user
//! - `DELETE /users/{id}`: 204 when removed, 404 when missing
//! - `GET /users?name=…`: 200 with a JSON array (find_by_name, sorted by id)
//! - `GET /health`: 200; `GET /metrics`: Prometheus text
//!
//! Bad requests get 4xx and `{"error":"…"}` and change nothing. [`App`] wraps the axum router with
//! what Ktor does around its routing: percent-decoding of the path (empty segments dropped, a broken
//! escape is a 400), the 400 for an undecodable query on a matched route, the latency histogram, and
//! a JSON body for every error answer that has none (404, 405, the timeout's 408).
//!
//! On a durable store (`--data-dir`) a PUT or DELETE blocks in the store until its log record is
//! durable (an `fdatasync` with `--sync always`), so that store call runs on tokio's blocking pool:
//! the runtime's workers stay free, and concurrent writes share one group-commit sync. On a
//! memory-only store it runs inline, as before. A failed log write is 503, as is a write refused
//! because the log was closed at shutdown.
//!
//! With `--db URL --db-mode direct` ([`AppState::direct`]) the same routes answer from PostgreSQL
//! ([`crate::db`]): same statuses and bodies, writes checked by the store's rules first; a failed
//! database call is 503 `{"error":"the database is unavailable"}` (its cause, password scrubbed,
//! goes to the log), and `/health` is 503 when the database does not answer through the pool.

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{RawPathParams, RawQuery, Request, State};
use axum::handler::Handler;
use axum::http::header::{CONNECTION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, MethodFilter, Router};
use http_body_util::BodyExt;
use tower::Service;
use tower_http::timeout::TimeoutLayer;
use userstore::core::write_json_string;
use userstore::{Store, StoreError};

use crate::db::{check_user, Database, DbError, Written};
use crate::replica::{lsn_text, Phase, ReplicaState};
use crate::request::{self, parse_id, parse_put_body, BodyError, MAX_BODY_BYTES};
use crate::telemetry::{Telemetry, NO_ROUTE};

/// Number of locks that make "did this id exist?" and the change that follows one step for clients.
const ID_LOCK_STRIPES: usize = 1024;

/// A refused (too large) body: at most this much of it is read and dropped before the 413 ...
const DISCARD_MAX_BYTES: usize = 16 * 1024 * 1024;
/// ... for at most this long ...
const DISCARD_MAX_TIME: Duration = Duration::from_secs(2);
/// ... and no longer than this after the client last sent something.
const DISCARD_IDLE: Duration = Duration::from_millis(200);

/// Replica mode: the longest a write waits for the replica to apply its commit; then 503.
pub const WRITE_APPLY_TIMEOUT: Duration = Duration::from_secs(5);

/// Replica mode: the longest `/health` waits for the replica to reach the server's position.
const HEALTH_CATCH_UP: Duration = Duration::from_secs(1);

/// The longest a `PUT` may take, reading its body included; then 408.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// Prometheus text exposition format, as the Kotlin service sends it.
const PROMETHEUS_TEXT: HeaderValue =
    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");

/// What every handler shares: the store, the id lock stripes and the metrics; and, in direct
/// mode, the database.
pub struct AppState {
    store: Store,
    /// `--db-mode direct`: every request goes here; the store stays empty and unused.
    /// `--db-mode replica`: writes go here; reads come from the store.
    db: Option<Database>,
    /// `--db-mode replica`: the replication's progress (the store is its replica of the table).
    replica: Option<ReplicaState>,
    /// The store logs its writes and waits for them ([`Store::is_durable`]).
    durable: bool,
    locks: Box<[Mutex<()>]>,
    telemetry: Telemetry,
}

impl AppState {
    /// The state over `store`, with the `store` label of the size gauge.
    pub fn new(store: Store, store_label: &'static str) -> Result<AppState, String> {
        Ok(AppState {
            durable: store.is_durable(),
            store,
            db: None,
            replica: None,
            locks: (0..ID_LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            telemetry: Telemetry::new(store_label)?,
        })
    }

    /// The state of direct mode: every request goes to `db`; the size gauge is labelled
    /// `postgres`.
    pub fn direct(db: Database) -> Result<AppState, String> {
        let mut state = AppState::new(Store::new(), "postgres")?;
        state.db = Some(db);
        Ok(state)
    }

    /// The state of replica mode: reads from an empty store that [`crate::replica::run`] keeps
    /// equal to the table; writes go to `db`.
    pub fn replica_of(db: Database) -> Result<AppState, String> {
        AppState::replica_with(db, Store::new(), ReplicaState::default())
    }

    /// The state of replica mode over `store` (a durable replica's store, opened from its data
    /// directory) and `replica` (its slot and position file).
    pub fn replica_with(
        db: Database,
        store: Store,
        replica: ReplicaState,
    ) -> Result<AppState, String> {
        let mut state = AppState::new(store, "native")?;
        state.db = Some(db);
        state.replica = Some(replica);
        Ok(state)
    }

    /// The database of direct or replica mode.
    pub fn database(&self) -> Option<&Database> {
        self.db.as_ref()
    }

    /// The replication state of replica mode.
    pub fn replica(&self) -> Option<&ReplicaState> {
        self.replica.as_ref()
    }

    /// The database when every request goes to it (direct mode).
    fn direct_db(&self) -> Option<&Database> {
        match self.replica {
            None => self.db.as_ref(),
            Some(_) => None,
        }
    }

    /// The database and replica of replica mode.
    fn replica_db(&self) -> Option<(&Database, &ReplicaState)> {
        Some((self.db.as_ref()?, self.replica.as_ref()?))
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The metrics (for the periodic upkeep).
    pub fn telemetry(&self) -> &Telemetry {
        &self.telemetry
    }

    fn lock_for(&self, id: i64) -> std::sync::MutexGuard<'_, ()> {
        let stripe = ((id ^ (id >> 32)) as usize) & (ID_LOCK_STRIPES - 1);
        // Nothing panics under these locks, and they guard no data: poisoning is harmless.
        self.locks[stripe]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

type Shared = Arc<AppState>;

/// Runs `call` on the state: inline on a memory-only store; on tokio's blocking pool on a durable
/// one, whose writes wait for the disk. `None` if the blocking task panicked.
async fn store_call<T: Send + 'static>(
    state: &Shared,
    call: impl FnOnce(&AppState) -> T + Send + 'static,
) -> Option<T> {
    if !state.durable {
        return Some(call(state.as_ref()));
    }
    let state = state.clone();
    match tokio::task::spawn_blocking(move || call(&state)).await {
        Ok(answer) => Some(answer),
        Err(e) => {
            tracing::error!("a store call failed: {e}");
            None
        }
    }
}

/// The answer when [`store_call`] lost its task.
fn call_failed() -> Response {
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internal error: the store call failed",
    )
}

/// The whole service: [`App::call`] takes any request.
#[derive(Clone)]
pub struct App {
    router: Router,
    state: Shared,
}

impl App {
    /// The service over `state`.
    pub fn new(state: Shared) -> App {
        let not_allowed = || async { error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed") };
        let no_endpoint = || async { error(StatusCode::NOT_FOUND, "no such endpoint") };
        // Ktor answers HEAD only where it is routed (nowhere here): 405 on the fixed paths, 404 on
        // /users/{id}, as for any other method those paths do not have.
        let fixed = |method_router: axum::routing::MethodRouter<Shared>| {
            method_router
                .on(MethodFilter::HEAD, not_allowed)
                .fallback(not_allowed)
        };
        let put = put_user.layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ));
        let router = Router::new()
            .route("/health", fixed(get(health)))
            .route("/metrics", fixed(get(metrics)))
            .route("/users", fixed(get(find_users)))
            .route(
                "/users/{id}",
                on(MethodFilter::GET, get_user)
                    .on(MethodFilter::PUT, put)
                    .on(MethodFilter::DELETE, delete_user)
                    .on(MethodFilter::HEAD, no_endpoint)
                    .fallback(no_endpoint),
            )
            .fallback(no_endpoint)
            .with_state(state.clone());
        App { router, state }
    }
}

impl Service<Request> for App {
    type Response = Response;
    type Error = Infallible;
    type Future = AppFuture;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The router is always ready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request) -> AppFuture {
        let start = Instant::now();
        let method = req.method().clone();
        let path = req.uri().path();
        if path.contains('%') || path.contains("//") {
            match normalize_path(path) {
                Ok(normal) => {
                    if !replace_path(&mut req, &normal) {
                        let response = error(StatusCode::BAD_REQUEST, "invalid request target");
                        return AppFuture::ready(self, start, method, NO_ROUTE, response);
                    }
                }
                Err(request::BadEscape) => {
                    let uri = req.uri();
                    let shown = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
                    let response = error(
                        StatusCode::BAD_REQUEST,
                        &format!("Url decode failed for {shown}"),
                    );
                    return AppFuture::ready(self, start, method, NO_ROUTE, response);
                }
            }
        }
        let route = route_of(req.uri().path(), &method);
        if route != NO_ROUTE && !request::query_is_decodable(req.uri().query()) {
            let response = error(StatusCode::BAD_REQUEST, request::BAD_QUERY);
            return AppFuture::ready(self, start, method, route, response);
        }
        AppFuture {
            state: self.state.clone(),
            start,
            method,
            route,
            inner: Inner::Routed(self.router.call(req)),
        }
    }
}

/// The answer of [`App`]: the router's, with a JSON body put on bare error statuses and its
/// latency recorded.
pub struct AppFuture {
    state: Shared,
    start: Instant,
    method: Method,
    route: usize,
    inner: Inner,
}

enum Inner {
    Ready(Option<Response>),
    Routed(axum::routing::future::RouteFuture<Infallible>),
}

impl AppFuture {
    fn ready(app: &App, start: Instant, method: Method, route: usize, response: Response) -> Self {
        AppFuture {
            state: app.state.clone(),
            start,
            method,
            route,
            inner: Inner::Ready(Some(response)),
        }
    }
}

impl Future for AppFuture {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let response = match &mut this.inner {
            Inner::Ready(response) => response.take().unwrap_or_else(|| {
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error: polled after completion",
                )
            }),
            Inner::Routed(future) => match Pin::new(future).poll(cx) {
                Poll::Ready(Ok(response)) => with_json_error(response),
                Poll::Ready(Err(never)) => match never {},
                Poll::Pending => return Poll::Pending,
            },
        };
        this.state.telemetry.record(
            this.route,
            &this.method,
            response.status(),
            this.start.elapsed(),
        );
        Poll::Ready(Ok(response))
    }
}

/// The path as Ktor's router sees it: each segment percent-decoded, empty segments dropped, a
/// trailing slash kept (it matches no route). Returned re-encoded, so axum's router matches the
/// decoded segments and hands `{id}` over decoded. An error for a broken escape.
fn normalize_path(path: &str) -> Result<String, request::BadEscape> {
    let mut out = String::with_capacity(path.len());
    for segment in path.split('/').filter(|s| !s.is_empty()) {
        out.push('/');
        encode_segment(&request::percent_decode(segment, false)?, &mut out);
    }
    if path.ends_with('/') {
        out.push('/');
    }
    Ok(out)
}

/// Appends `segment`, percent-encoding all but unreserved and sub-delimiter characters.
fn encode_segment(segment: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in segment.as_bytes() {
        let plain = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'@'
            );
        if plain {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0x0F)]));
        }
    }
}

/// Puts `path` in the place of the request's path; false if that makes no valid URI.
fn replace_path(req: &mut Request, path: &str) -> bool {
    let uri = req.uri();
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    let Ok(path_and_query) = path_and_query.parse() else {
        return false;
    };
    parts.path_and_query = Some(path_and_query);
    match Uri::from_parts(parts) {
        Ok(uri) => {
            *req.uri_mut() = uri;
            true
        }
        Err(_) => false,
    }
}

/// The index in [`ROUTES`](crate::telemetry::ROUTES) of the route that answers `method` on the (normalized) `path`, or
/// [`NO_ROUTE`] when none does (unknown path, or a method the path does not have).
fn route_of(path: &str, method: &Method) -> usize {
    let is_get = *method == Method::GET;
    match path {
        "/health" if is_get => 0,
        "/metrics" if is_get => 1,
        "/users" if is_get => 2,
        _ => match path.strip_prefix("/users/") {
            Some(id)
                if !id.is_empty()
                    && !id.contains('/')
                    && (is_get || *method == Method::PUT || *method == Method::DELETE) =>
            {
                3
            }
            _ => NO_ROUTE,
        },
    }
}

/// A response without a JSON body for an error status (axum's or a layer's) gets one, as Ktor's
/// StatusPages gives it.
fn with_json_error(response: Response) -> Response {
    let status = response.status();
    if status.as_u16() < 400 || response.headers().get(CONTENT_TYPE) == Some(&JSON) {
        return response;
    }
    let message = match status {
        StatusCode::NOT_FOUND => "no such endpoint",
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed",
        StatusCode::PAYLOAD_TOO_LARGE => request::TOO_LARGE,
        StatusCode::REQUEST_TIMEOUT => "request timeout",
        StatusCode::BAD_REQUEST => "bad request",
        _ => status.canonical_reason().unwrap_or("error"),
    };
    let mut json = error(status, message);
    if let Some(allow) = response.headers().get(axum::http::header::ALLOW) {
        json.headers_mut()
            .insert(axum::http::header::ALLOW, allow.clone());
    }
    json
}

/// `status` with `{"error": message}`.
pub fn error(status: StatusCode, message: &str) -> Response {
    let mut body = Vec::with_capacity(message.len() + 12);
    body.extend_from_slice(b"{\"error\":");
    write_json_string(&mut body, message);
    body.push(b'}');
    json(status, body)
}

fn json(status: StatusCode, body: impl Into<Body>) -> Response {
    let mut response = (status, body.into()).into_response();
    response.headers_mut().insert(CONTENT_TYPE, JSON);
    response
}

fn store_error(e: &StoreError) -> Response {
    match e {
        StoreError::InvalidId(_) | StoreError::InvalidName(_) | StoreError::InvalidJson { .. } => {
            error(StatusCode::BAD_REQUEST, &e.to_string())
        }
        StoreError::LogIo { .. } => {
            // Every later write is refused too, until the directory is opened again.
            tracing::error!("the store's log failed: {e}");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the store cannot write its log",
            )
        }
        StoreError::LogClosed => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        ),
        _ => {
            tracing::error!("unexpected store failure: {e}");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal error: StoreError",
            )
        }
    }
}

fn not_found(id: i64) -> Response {
    error(StatusCode::NOT_FOUND, &format!("no user with id {id}"))
}

/// The `{id}` parameter, parsed; the error is the 400 message.
fn id_param(params: &RawPathParams) -> Result<i64, String> {
    parse_id(params.iter().next().map_or("", |(_, value)| value))
}

async fn health(State(state): State<Shared>) -> Response {
    if let Some((db, replica)) = state.replica_db() {
        return replica_health(db, replica).await;
    }
    if let Some(db) = state.direct_db() {
        if let Err(e) = db.ping().await {
            tracing::error!("health check: the database does not answer: {e}");
            return json(
                StatusCode::SERVICE_UNAVAILABLE,
                Bytes::from_static(
                    b"{\"status\":\"unavailable\",\"error\":\"the database does not answer\"}",
                ),
            );
        }
    }
    json(StatusCode::OK, Bytes::from_static(b"{\"status\":\"ok\"}"))
}

/// `/health` in replica mode: 200 once every transaction committed before the call is in the store
/// (the applied position reaches the server's flush position read now, waited for up to
/// [`HEALTH_CATCH_UP`]); 503 while connecting, copying, reconnecting or behind, with the reason.
async fn replica_health(db: &Database, replica: &ReplicaState) -> Response {
    let (phase, reason) = replica.status();
    let applied = replica.applied();
    let body = |status: &str, phase: &str, error: Option<&str>| {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(b"{\"status\":");
        write_json_string(&mut out, status);
        out.extend_from_slice(b",\"replica\":");
        write_json_string(&mut out, phase);
        out.extend_from_slice(b",\"applied_lsn\":");
        write_json_string(&mut out, &lsn_text(applied));
        if let Some(error) = error {
            out.extend_from_slice(b",\"error\":");
            write_json_string(&mut out, error);
        }
        out.push(b'}');
        out
    };
    if phase != Phase::Streaming {
        let reason = reason.unwrap_or_else(|| phase.label().to_owned());
        return json(
            StatusCode::SERVICE_UNAVAILABLE,
            body("unavailable", phase.label(), Some(&reason)),
        );
    }
    let target = match db.flush_lsn().await {
        Ok(lsn) => lsn,
        Err(e) => {
            tracing::error!("health check: the database does not answer: {e}");
            return json(
                StatusCode::SERVICE_UNAVAILABLE,
                body(
                    "unavailable",
                    "streaming",
                    Some("the database does not answer"),
                ),
            );
        }
    };
    if replica.wait_applied(target, HEALTH_CATCH_UP).await {
        json(StatusCode::OK, body("ok", "streaming", None))
    } else {
        let behind = target.saturating_sub(replica.applied());
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            body(
                "unavailable",
                "behind",
                Some(&format!(
                    "the replica is {behind} WAL bytes behind the database"
                )),
            ),
        )
    }
}

/// The answer to a failed database call; its cause (secrets scrubbed) goes to the log.
fn db_error(e: &DbError) -> Response {
    tracing::error!("a database call failed: {e}");
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the database is unavailable",
    )
}

/// `{"id":…,"name":…}`, as the store writes a user.
fn user_json(id: i64, name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 40);
    write_user_json(&mut out, id, name);
    out
}

fn write_user_json(out: &mut Vec<u8>, id: i64, name: &str) {
    out.extend_from_slice(b"{\"id\":");
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{id}");
    out.extend_from_slice(b",\"name\":");
    write_json_string(out, name);
    out.push(b'}');
}

async fn metrics(State(state): State<Shared>) -> Response {
    if let Some((db, replica)) = state.replica_db() {
        let lag_bytes = match db.flush_lsn().await {
            Ok(flushed) => Some(flushed.saturating_sub(replica.applied())),
            Err(e) => {
                tracing::error!("metrics: cannot read the server's WAL position: {e}");
                None
            }
        };
        state.telemetry.set_replica(replica, lag_bytes);
    }
    let users = match state.direct_db() {
        None => Some(state.store.len()),
        Some(db) => match db.count().await {
            Ok(count) => Some(count),
            Err(e) => {
                tracing::error!("metrics: cannot count the users: {e}");
                None
            }
        },
    };
    let text = state.telemetry.render_users(users);
    let mut response = (StatusCode::OK, text).into_response();
    response.headers_mut().insert(CONTENT_TYPE, PROMETHEUS_TEXT);
    response
}

async fn get_user(State(state): State<Shared>, params: RawPathParams) -> Response {
    let id = match id_param(&params) {
        Ok(id) => id,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    if let Some(db) = state.direct_db() {
        return match db.get_name(id).await {
            Ok(Some(name)) => json(StatusCode::OK, user_json(id, &name)),
            Ok(None) => not_found(id),
            Err(e) => db_error(&e),
        };
    }
    // The store's own JSON bytes: no intermediate object.
    let mut body = Vec::with_capacity(64);
    match state.store.write_json(id, &mut body) {
        Ok(true) => json(StatusCode::OK, body),
        Ok(false) => not_found(id),
        Err(e) => store_error(&e),
    }
}

async fn put_user(State(state): State<Shared>, params: RawPathParams, req: Request) -> Response {
    let id = match id_param(&params) {
        Ok(id) => id,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    let body = match read_body(req).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let name = match parse_put_body(&body) {
        Ok(name) => name,
        Err(BodyError::Refused(message)) => return error(StatusCode::BAD_REQUEST, &message),
    };
    if let Some((db, replica)) = state.replica_db() {
        return put_replica(db, replica, id, name).await;
    }
    if let Some(db) = state.direct_db() {
        return put_direct(db, id, name).await;
    }
    // One lock stripe per id: a concurrent PUT or DELETE of the same id cannot make 201/200 wrong.
    let put = move |state: &AppState| {
        let _stripe = state.lock_for(id);
        let created = state
            .store
            .get_utf8_with(id, |_| ())
            .and_then(|found| state.store.put(id, &name).map(|()| found.is_none()));
        (created, name)
    };
    let (created, name) = match store_call(&state, put).await {
        Some((Ok(created), name)) => (created, name),
        Some((Err(e), _)) => return store_error(&e),
        None => return call_failed(),
    };
    let mut out = Vec::with_capacity(name.len() + 40);
    out.extend_from_slice(b"{\"id\":");
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{id}");
    out.extend_from_slice(b",\"name\":");
    // The store accepted the name, so it is UTF-8.
    write_json_string(&mut out, &String::from_utf8_lossy(&name));
    out.push(b'}');
    json(
        if created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        },
        out,
    )
}

/// PUT in direct mode: the store's rules checked here (nothing is sent when they fail), then one
/// upsert that says whether the row was created.
async fn put_direct(db: &Database, id: i64, name: Vec<u8>) -> Response {
    let Ok(name) = String::from_utf8(name) else {
        return error(StatusCode::BAD_REQUEST, request::NOT_UTF8);
    };
    if let Err(e) = check_user(id, &name) {
        return store_error(&e);
    }
    match db.put(id, &name).await {
        Ok(created) => json(
            if created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            },
            user_json(id, &name),
        ),
        Err(e) => db_error(&e),
    }
}

/// PUT in replica mode: checked as in direct mode, the upsert in PostgreSQL, then the answer once
/// the store has applied that commit (read-your-writes), or 503 after [`WRITE_APPLY_TIMEOUT`].
async fn put_replica(db: &Database, replica: &ReplicaState, id: i64, name: Vec<u8>) -> Response {
    let Ok(name) = String::from_utf8(name) else {
        return error(StatusCode::BAD_REQUEST, request::NOT_UTF8);
    };
    if let Err(e) = check_user(id, &name) {
        return store_error(&e);
    }
    match db.put_for_replica(id, &name).await {
        Ok((created, written)) => {
            if let Err(response) = await_applied(replica, written).await {
                return response;
            }
            json(
                if created {
                    StatusCode::CREATED
                } else {
                    StatusCode::OK
                },
                user_json(id, &name),
            )
        }
        Err(e) => db_error(&e),
    }
}

/// Waits until the replica has applied a committed write; the 503 otherwise.
async fn await_applied(replica: &ReplicaState, written: Written) -> Result<(), Response> {
    let lsn = written.lsn;
    if replica.wait_written(written, WRITE_APPLY_TIMEOUT).await {
        return Ok(());
    }
    let (phase, _) = replica.status();
    tracing::warn!(
        "a write committed at {} is not applied by the replica after {} s ({}, applied {})",
        lsn_text(lsn),
        WRITE_APPLY_TIMEOUT.as_secs(),
        phase.label(),
        lsn_text(replica.applied())
    );
    Err(error(
        StatusCode::SERVICE_UNAVAILABLE,
        "the write is committed in the database, but this instance's replica has not applied it in time",
    ))
}

/// The request body, at most [`MAX_BODY_BYTES`]: a declared Content-Length over the limit is
/// refused before anything is kept, and a body without one (chunked) is kept only up to the limit.
async fn read_body(req: Request) -> Result<Bytes, Response> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok());
    let mut body = req.into_body();
    if declared.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Err(refuse_too_large(body).await);
    }
    let mut kept = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            error(
                StatusCode::BAD_REQUEST,
                &format!("cannot read the request body: {e}"),
            )
        })?;
        if let Ok(data) = frame.into_data() {
            if kept.len() + data.len() > MAX_BODY_BYTES {
                return Err(refuse_too_large(body).await);
            }
            kept.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(kept))
}

/// Answers 413 to a body over the limit, after reading and dropping what the client still sends
/// (bounded by [`DISCARD_MAX_BYTES`], [`DISCARD_MAX_TIME`] and [`DISCARD_IDLE`]), and closes the
/// connection. Hand-written because hyper has no lingering close: a socket closed with unread
/// bytes in its receive buffer sends a reset, which can destroy the 413 before the client reads
/// it (the Kotlin service's Netty drains the same way).
async fn refuse_too_large(mut body: Body) -> Response {
    let deadline = Instant::now() + DISCARD_MAX_TIME;
    let mut dropped = 0usize;
    while dropped < DISCARD_MAX_BYTES && Instant::now() < deadline {
        match tokio::time::timeout(DISCARD_IDLE, body.frame()).await {
            Ok(Some(Ok(frame))) => {
                dropped += frame.data_ref().map_or(0, |data| data.len());
            }
            // The end of the body, a broken one, or a client that sends no more.
            _ => break,
        }
    }
    let mut response = error(StatusCode::PAYLOAD_TOO_LARGE, request::TOO_LARGE);
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

async fn delete_user(State(state): State<Shared>, params: RawPathParams) -> Response {
    let id = match id_param(&params) {
        Ok(id) => id,
        Err(message) => return error(StatusCode::BAD_REQUEST, &message),
    };
    if let Some((db, replica)) = state.replica_db() {
        return match db.remove_for_replica(id).await {
            Ok((removed, written)) => match await_applied(replica, written).await {
                Err(response) => response,
                Ok(()) if removed => StatusCode::NO_CONTENT.into_response(),
                Ok(()) => not_found(id),
            },
            Err(e) => db_error(&e),
        };
    }
    if let Some(db) = state.direct_db() {
        return match db.remove(id).await {
            Ok(true) => StatusCode::NO_CONTENT.into_response(),
            Ok(false) => not_found(id),
            Err(e) => db_error(&e),
        };
    }
    let remove = move |state: &AppState| {
        let _stripe = state.lock_for(id);
        state.store.remove(id)
    };
    match store_call(&state, remove).await {
        Some(Ok(true)) => StatusCode::NO_CONTENT.into_response(),
        Some(Ok(false)) => not_found(id),
        Some(Err(e)) => store_error(&e),
        None => call_failed(),
    }
}

async fn find_users(State(state): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let name = match request::query_name(query.as_deref()) {
        Ok(Some(name)) => name,
        Ok(None) => return error(StatusCode::BAD_REQUEST, request::MISSING_NAME_PARAMETER),
        Err(request::BadEscape) => return error(StatusCode::BAD_REQUEST, request::BAD_QUERY),
    };
    if let Some(db) = state.direct_db() {
        return match db.find_by_name(&name).await {
            Ok(users) => {
                let mut out = Vec::with_capacity(2 + users.len() * (name.len() + 32));
                out.push(b'[');
                for (i, (id, name)) in users.iter().enumerate() {
                    if i > 0 {
                        out.push(b',');
                    }
                    write_user_json(&mut out, *id, name);
                }
                out.push(b']');
                json(StatusCode::OK, out)
            }
            Err(e) => db_error(&e),
        };
    }
    let ids = match state.store.find_by_name(name.as_bytes()) {
        Ok(ids) => ids,
        Err(e) => return store_error(&e),
    };
    let mut out = Vec::with_capacity(2 + ids.len() * (name.len() + 32));
    out.push(b'[');
    for id in ids {
        let mark = out.len();
        if mark > 1 {
            out.push(b',');
        }
        // A user removed since the search is left out.
        match state.store.write_json(id as i64, &mut out) {
            Ok(true) => {}
            Ok(false) | Err(_) => out.truncate(mark),
        }
    }
    out.push(b']');
    json(StatusCode::OK, out)
}

#[cfg(test)]
mod tests;
