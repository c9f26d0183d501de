//! A local emulator of the IoT Platform API: same wire, same signatures, same envelopes, the
//! asynchronous ApplyId state machine, paging rules, per-Action QPS quotas and fault injection.
//!
//! The pipeline for each request is gateway first (decode, verify the signature, time and nonce,
//! Action and Version, throttle, injected faults), then the business handler under one lock on the
//! store. It never panics on input: every malformed request gets an error envelope.

mod auth;
mod devices;
mod groups;
mod handlers;
mod products;
pub mod seed;
mod sql;
pub mod store;
pub mod sts;
mod throttle;
mod xml;

use crate::sync::lock;
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

pub use auth::AccessKey;
use store::Store;
use throttle::Throttle;

use crate::secret::Secret;
use crate::wire::codes;
use crate::wire::envelope::{BusinessError, GatewayError, success_body};
use crate::wire::params::{ParamError, Params};
use crate::wire::{API_VERSION, Action};

/// The AccessKeyId the emulator accepts when none is configured.
pub const DEMO_ACCESS_KEY_ID: &str = "iotplan-demo";
/// The matching demo secret (documented in README; for local use only).
pub const DEMO_ACCESS_KEY_SECRET: &str = "iotplan-demo-secret";
/// The largest request body the emulator reads.
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// The longest query string the emulator reads.
pub const MAX_QUERY_BYTES: usize = 48 * 1024;

/// Why the emulator could not start or keep its state.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
    /// The state file exists but could not be read or parsed.
    #[error(
        "the state file {path} is unreadable or corrupt ({reason}); fix or move it away — it is never emptied silently"
    )]
    CorruptState {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The state file could not be written.
    #[error("cannot write the state file {path}: {source}")]
    WriteState {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A seed file could not be used.
    #[error("the seed file {path} is invalid: {reason}")]
    Seed {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// How the emulator behaves.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// AccessKeys accepted.
    pub keys: Vec<AccessKey>,
    /// State file, loaded at start and written after changes.
    pub state_file: Option<PathBuf>,
    /// Added latency per request.
    pub latency: Duration,
    /// Probability that a request fails with 503 ServiceUnavailable before any state change.
    pub fail_rate: f64,
    /// How long each asynchronous ApplyId step takes.
    pub apply_delay: Duration,
    /// Multiplier on the per-Action QPS quotas; 0 turns throttling off.
    pub qps_scale: f64,
    /// The regions the emulator serves: a request whose `RegionId` names another is refused with
    /// `InvalidRegionId`. The first is reported in device details.
    pub regions: Vec<String>,
    /// How long a client may take to send a request's headers, and then its body; a slower
    /// client's connection is closed (headers) or answered 408 RequestTimeout (body). An idle
    /// keep-alive connection is closed after the same time.
    pub client_timeout: Duration,
    /// STS, the test OIDC issuer and the instance metadata service.
    pub sts: sts::StsConfig,
    /// BatchGetDeviceState leaves unknown names out of its answer instead of failing the whole
    /// call with `iot.device.NotExistedDevice` (which of the two the platform does is not
    /// documented; iotplan must plan the same under either).
    pub state_omits_unknown: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            keys: vec![AccessKey {
                id: DEMO_ACCESS_KEY_ID.to_owned(),
                secret: Secret::new(DEMO_ACCESS_KEY_SECRET),
                security_token: None,
                expires_ms: None,
            }],
            state_file: None,
            latency: Duration::ZERO,
            fail_rate: 0.0,
            apply_delay: Duration::ZERO,
            qps_scale: 1.0,
            regions: vec![DEFAULT_REGION.to_owned()],
            client_timeout: DEFAULT_CLIENT_TIMEOUT,
            sts: sts::StsConfig::default(),
            state_omits_unknown: false,
        }
    }
}

/// The region an emulator serves when told none.
pub const DEFAULT_REGION: &str = "cn-shanghai";

/// How long a client may take to send a request's headers, and then its body, by default.
pub const DEFAULT_CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// At most this many connections are served at once; further ones wait to be accepted.
pub const MAX_CONNECTIONS: usize = 1024;

/// The request log keeps at most this many requests (the oldest tenth goes when it is full).
pub const REQUEST_LOG_LIMIT: usize = 500_000;

/// One request as the emulator saw it (for tests and benchmarks).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct LoggedRequest {
    /// The Action, as sent.
    pub action: String,
    /// HTTP status of the answer.
    pub status: u16,
    /// Error code, if any.
    pub code: Option<String>,
    /// The ProductKey parameter, if any.
    pub product_key: Option<String>,
    /// The ApplyId parameter, if any.
    pub apply_id: Option<i64>,
    /// How many list entries the request carried (names, nickname entries, …).
    pub items: usize,
}

/// A rejection: a gateway error (4xx/5xx) or a business error (200, `Success: false`).
#[derive(Debug)]
pub(crate) enum Reject {
    Gateway {
        status: StatusCode,
        code: String,
        message: String,
        retry_after_ms: Option<u64>,
    },
    Business {
        code: String,
        message: String,
        data: Option<Value>,
    },
}

impl Reject {
    pub(crate) fn gateway(status: StatusCode, code: &str, message: &str) -> Self {
        Reject::Gateway {
            status,
            code: code.to_owned(),
            message: message.to_owned(),
            retry_after_ms: None,
        }
    }

    pub(crate) fn business(code: &str, message: &str) -> Self {
        Reject::Business {
            code: code.to_owned(),
            message: message.to_owned(),
            data: None,
        }
    }

    pub(crate) fn business_with_data(code: &str, message: &str, data: Value) -> Self {
        Reject::Business {
            code: code.to_owned(),
            message: message.to_owned(),
            data: Some(data),
        }
    }

    pub(crate) fn internal(message: &str) -> Self {
        Reject::gateway(
            StatusCode::INTERNAL_SERVER_ERROR,
            codes::INTERNAL_ERROR,
            message,
        )
    }
}

impl From<ParamError> for Reject {
    fn from(error: ParamError) -> Self {
        match &error {
            ParamError::Missing(name) => Reject::gateway(
                StatusCode::BAD_REQUEST,
                &format!("Missing{name}"),
                &error.to_string(),
            ),
            ParamError::Invalid { name, .. } => Reject::gateway(
                StatusCode::BAD_REQUEST,
                &format!("Invalid{}", name.split('.').next().unwrap_or(name)),
                &error.to_string(),
            ),
        }
    }
}

/// The emulator's shared state.
pub struct Emulator {
    config: Config,
    store: Mutex<Store>,
    nonces: Mutex<HashMap<String, i64>>,
    throttle: Mutex<Throttle>,
    log: Mutex<Vec<LoggedRequest>>,
    dirty: watch::Sender<u64>,
    /// The injected failure probability (`f64` bits), changeable while serving.
    fail_rate: AtomicU64,
    /// STS keys and metadata tokens handed out.
    issued: Mutex<sts::Issued>,
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl Emulator {
    /// Builds an emulator, loading the state file if there is one.
    ///
    /// # Errors
    /// `Error::CorruptState` when the state file exists but cannot be used.
    pub fn new(config: Config) -> Result<Arc<Self>, Error> {
        let mut store = match &config.state_file {
            Some(path) if path.exists() => load_state(path)?,
            _ => Store::new(),
        };
        store.reindex();
        let (dirty, _) = watch::channel(0);
        Ok(Arc::new(Self {
            throttle: Mutex::new(Throttle::new(config.qps_scale)),
            fail_rate: AtomicU64::new(config.fail_rate.to_bits()),
            config,
            store: Mutex::new(store),
            nonces: Mutex::new(HashMap::new()),
            log: Mutex::new(Vec::new()),
            dirty,
            issued: Mutex::new(sts::Issued::default()),
        }))
    }

    /// Runs `f` on the store (seeding, tests).
    pub fn with_store<R>(&self, f: impl FnOnce(&mut Store) -> R) -> R {
        let result = f(&mut lock(&self.store));
        self.dirty.send_modify(|n| *n += 1);
        result
    }

    /// Every request answered so far.
    #[must_use]
    pub fn requests(&self) -> Vec<LoggedRequest> {
        lock(&self.log).clone()
    }

    /// Changes the injected failure probability (e.g. to end a fault phase of a test).
    pub fn set_fail_rate(&self, rate: f64) {
        self.fail_rate.store(rate.to_bits(), Ordering::Relaxed);
    }

    /// Revokes every STS key handed out so far: their next use is refused as expired.
    pub fn revoke_credentials(&self) {
        lock(&self.issued).revoke_all(now_ms());
    }

    /// Every secret its sign-in services handed out so far (for leak scans).
    #[must_use]
    pub fn issued_secrets(&self) -> Vec<Secret> {
        lock(&self.issued).secrets()
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn find_key(&self, id: &str) -> Option<AccessKey> {
        self.config
            .keys
            .iter()
            .find(|key| key.id == id)
            .cloned()
            .or_else(|| lock(&self.issued).key(id))
    }

    fn log_side_request(&self, action: &str, status: StatusCode) {
        lock(&self.log).push(LoggedRequest {
            action: action.to_owned(),
            status: status.as_u16(),
            code: None,
            product_key: None,
            apply_id: None,
            items: 0,
        });
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        lock(&self.log).clear();
    }

    /// Writes the state file now, if there is one.
    ///
    /// # Errors
    /// `Error::WriteState` when it cannot be written.
    pub fn save(&self) -> Result<(), Error> {
        let Some(path) = &self.config.state_file else {
            return Ok(());
        };
        let text = serde_json::to_vec(&*lock(&self.store)).map_err(|e| Error::WriteState {
            path: path.clone(),
            source: std::io::Error::other(e),
        })?;
        crate::fsutil::write_atomically(path, &text, None).map_err(|source| Error::WriteState {
            path: path.clone(),
            source,
        })
    }

    fn check_nonce(&self, nonce: &str, now: i64) -> Result<(), Reject> {
        let mut nonces = lock(&self.nonces);
        if nonces.len() > 100_000 {
            nonces.retain(|_, seen| now - *seen <= auth::MAX_SKEW_MS);
        }
        if nonces
            .get(nonce)
            .is_some_and(|seen| now - *seen <= auth::MAX_SKEW_MS)
        {
            return Err(Reject::gateway(
                StatusCode::BAD_REQUEST,
                codes::SIGNATURE_NONCE_USED,
                "Specified signature nonce was used already.",
            ));
        }
        nonces.insert(nonce.to_owned(), now);
        Ok(())
    }
}

fn load_state(path: &std::path::Path) -> Result<Store, Error> {
    let corrupt = |reason: String| Error::CorruptState {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read(path).map_err(|e| corrupt(e.to_string()))?;
    let mut store: Store = serde_json::from_slice(&text).map_err(|e| corrupt(e.to_string()))?;
    if store.version != store::STATE_VERSION {
        return Err(corrupt(format!(
            "format version {} is not {}",
            store.version,
            store::STATE_VERSION
        )));
    }
    store.check_invariants().map_err(corrupt)?;
    Ok(store)
}

/// The emulator's HTTP routes: the IoT API and STS on `/`; the request log on
/// `/_emulator/requests` (GET reads it, DELETE clears it); the instance metadata service under
/// `/latest/`; a credentials URI at `/_emulator/credentials`; the test OIDC issuer's token
/// endpoint at `/_emulator/oidc/token` (shaped like GitHub Actions'); DELETE `/_emulator/sts`
/// revokes every STS key handed out.
pub fn router(emulator: Arc<Emulator>) -> Router {
    use axum::routing::{delete, get, put};
    Router::new()
        .route(
            "/_emulator/requests",
            get(request_log).delete(clear_request_log),
        )
        .route("/_emulator/sts", delete(revoke))
        .route("/_emulator/credentials", get(credentials_uri))
        .route("/_emulator/oidc/token", get(oidc_token))
        .route("/latest/api/token", put(metadata_token))
        .route(
            "/latest/meta-data/ram/security-credentials/",
            get(metadata_role),
        )
        .route(
            "/latest/meta-data/ram/security-credentials/{role}",
            get(metadata_credentials),
        )
        .fallback(handle)
        .with_state(emulator)
}

async fn revoke(State(emulator): State<Arc<Emulator>>) -> StatusCode {
    emulator.revoke_credentials();
    StatusCode::NO_CONTENT
}

fn side_answer(emulator: &Emulator, action: &str, (status, body): sts::Answer) -> Response {
    emulator.log_side_request(action, status);
    (status, body).into_response()
}

async fn credentials_uri(State(emulator): State<Arc<Emulator>>) -> Response {
    let answer = sts::uri_credentials(&emulator.config.sts, &mut lock(&emulator.issued), now_ms());
    side_answer(&emulator, "CredentialsUri", answer)
}

async fn metadata_token(State(emulator): State<Arc<Emulator>>, headers: HeaderMap) -> Response {
    let ttl = headers
        .get("x-aliyun-ecs-metadata-token-ttl-seconds")
        .and_then(|v| v.to_str().ok());
    let answer = sts::metadata_token(
        &emulator.config.sts,
        &mut lock(&emulator.issued),
        ttl,
        now_ms(),
    );
    side_answer(&emulator, "MetadataToken", answer)
}

fn metadata_answer(emulator: &Emulator, role: &str, headers: &HeaderMap) -> Response {
    let token = headers
        .get("x-aliyun-ecs-metadata-token")
        .and_then(|v| v.to_str().ok());
    let answer = sts::metadata_credentials(
        &emulator.config.sts,
        &mut lock(&emulator.issued),
        role,
        token,
        now_ms(),
    );
    side_answer(emulator, "MetadataCredentials", answer)
}

async fn metadata_role(State(emulator): State<Arc<Emulator>>, headers: HeaderMap) -> Response {
    metadata_answer(&emulator, "", &headers)
}

async fn metadata_credentials(
    State(emulator): State<Arc<Emulator>>,
    axum::extract::Path(role): axum::extract::Path<String>,
    headers: HeaderMap,
) -> Response {
    metadata_answer(&emulator, &role, &headers)
}

/// The test issuer's token endpoint, as GitHub Actions answers `ACTIONS_ID_TOKEN_REQUEST_URL`:
/// `?audience=` (default the STS audience), `&subject=` (default `repo:iotplan/fleet:ref:refs/heads/main`),
/// `&ttl=` seconds (default 300); a bearer token is required.
async fn oidc_token(
    State(emulator): State<Arc<Emulator>>,
    headers: HeaderMap,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
) -> Response {
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > "Bearer ".len() && v.starts_with("Bearer "));
    if !bearer {
        return side_answer(
            &emulator,
            "OidcToken",
            (
                StatusCode::UNAUTHORIZED,
                "a bearer token is required".to_owned(),
            ),
        );
    }
    let issuer = &emulator.config.sts.oidc;
    let ttl = query
        .get("ttl")
        .and_then(|t| t.parse().ok())
        .map_or(Duration::from_mins(5), Duration::from_secs);
    let token = sts::issue_token(
        issuer,
        query
            .get("subject")
            .map_or("repo:iotplan/fleet:ref:refs/heads/main", String::as_str),
        query.get("audience").unwrap_or(&issuer.audience),
        ttl,
        now_ms(),
    );
    let answer = match token {
        Ok(token) => (
            StatusCode::OK,
            serde_json::json!({ "value": token }).to_string(),
        ),
        Err(reason) => (StatusCode::INTERNAL_SERVER_ERROR, reason),
    };
    side_answer(&emulator, "OidcToken", answer)
}

async fn request_log(State(emulator): State<Arc<Emulator>>) -> Response {
    axum::Json(emulator.requests()).into_response()
}

async fn clear_request_log(State(emulator): State<Arc<Emulator>>) -> StatusCode {
    emulator.clear_requests();
    StatusCode::NO_CONTENT
}

/// Decodes `application/x-www-form-urlencoded` text strictly: UTF-8 only, no repeated names.
fn decode_form(raw: &[u8], place: &str) -> Result<BTreeMap<String, String>, Reject> {
    let invalid = |message: String| {
        Reject::gateway(StatusCode::BAD_REQUEST, codes::INVALID_PARAMETER, &message)
    };
    let mut out = BTreeMap::new();
    for pair in raw.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let mut halves = pair.splitn(2, |b| *b == b'=');
        let decode = |part: &[u8]| -> Result<String, Reject> {
            let spaced: Vec<u8> = part
                .iter()
                .map(|b| if *b == b'+' { b' ' } else { *b })
                .collect();
            percent_encoding::percent_decode(&spaced)
                .decode_utf8()
                .map(std::borrow::Cow::into_owned)
                .map_err(|_| invalid(format!("The {place} is not valid UTF-8 once decoded.")))
        };
        let key = decode(halves.next().unwrap_or_default())?;
        let value = decode(halves.next().unwrap_or_default())?;
        if key.is_empty() {
            continue;
        }
        if out.insert(key.clone(), value).is_some() {
            return Err(invalid(format!(
                "The parameter {key} appears more than once in the {place}."
            )));
        }
    }
    Ok(out)
}

fn items_of(params: &Params) -> usize {
    params
        .0
        .keys()
        .filter(|key| {
            key.ends_with(".DeviceName") && key.starts_with("DeviceNameList.")
                || key.starts_with("DeviceName.")
                || key.starts_with("IotId.")
                || key.starts_with("DeviceNicknameInfo.")
                    && (key.ends_with(".DeviceName") || key.ends_with(".IotId"))
        })
        .count()
}

struct Answered {
    action: String,
    params: Params,
    format_xml: bool,
    /// An STS answer: no `Success` field.
    sts: bool,
    result: Result<Value, Reject>,
}

async fn handle(
    State(emulator): State<Arc<Emulator>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost")
        .to_owned();
    let request_id = uuid::Uuid::new_v4().to_string().to_uppercase();
    let answered = process(&emulator, &method, &uri, &headers, body).await;
    if !emulator.config.latency.is_zero() {
        tokio::time::sleep(emulator.config.latency).await;
    }
    let (status, code) = match &answered.result {
        Ok(_) => (StatusCode::OK, None),
        Err(Reject::Gateway { status, code, .. }) => (*status, Some(code.clone())),
        Err(Reject::Business { code, .. }) => (StatusCode::OK, Some(code.clone())),
    };
    let mut log = lock(&emulator.log);
    if log.len() >= REQUEST_LOG_LIMIT {
        // A long-running emulator keeps the newest requests, not all of them.
        log.drain(..REQUEST_LOG_LIMIT / 10);
    }
    log.push(LoggedRequest {
        action: answered.action.clone(),
        status: status.as_u16(),
        code,
        product_key: answered.params.get("ProductKey").map(str::to_owned),
        apply_id: answered
            .params
            .get("ApplyId")
            .and_then(|id| id.parse().ok()),
        items: items_of(&answered.params),
    });
    drop(log);
    render(answered, &request_id, &host)
}

fn render(answered: Answered, request_id: &str, host: &str) -> Response {
    let root = format!("{}Response", answered.action);
    let (status, body, retry_after) = match answered.result {
        Ok(mut fields) if answered.sts => {
            fields["RequestId"] = Value::String(request_id.to_owned());
            (StatusCode::OK, fields, None)
        }
        Ok(fields) => (StatusCode::OK, success_body(request_id, fields), None),
        Err(Reject::Business {
            code,
            message,
            data,
        }) => {
            let body = BusinessError {
                request_id: request_id.to_owned(),
                success: false,
                code,
                error_message: message,
                data,
            };
            (
                StatusCode::OK,
                serde_json::to_value(body).unwrap_or_default(),
                None,
            )
        }
        Err(Reject::Gateway {
            status,
            code,
            message,
            retry_after_ms,
        }) => {
            let body = GatewayError {
                request_id: request_id.to_owned(),
                host_id: host.to_owned(),
                recommend: format!(
                    "https://api.aliyun.com/troubleshoot?q={code}&product=Iot&requestId={request_id}"
                ),
                code,
                message,
            };
            (
                status,
                serde_json::to_value(body).unwrap_or_default(),
                retry_after_ms,
            )
        }
    };
    let mut response = if answered.format_xml {
        let root = if status.is_success() {
            root.as_str()
        } else {
            "Error"
        };
        (
            status,
            [("content-type", "text/xml;charset=utf-8")],
            xml::to_xml(root, &body),
        )
            .into_response()
    } else {
        (status, axum::Json(body)).into_response()
    };
    if let Some(ms) = retry_after
        && let Ok(value) = HeaderValue::from_str(&ms.to_string())
    {
        response.headers_mut().insert("x-acs-retry-after", value);
    }
    response
}

async fn process(
    emulator: &Emulator,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
) -> Answered {
    let mut answered = Answered {
        action: headers
            .get("x-acs-action")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        params: Params::default(),
        format_xml: false,
        sts: false,
        result: Ok(Value::Null),
    };
    answered.result = gateway(emulator, method, uri, headers, body, &mut answered).await;
    answered
}

async fn gateway(
    emulator: &Emulator,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Body,
    answered: &mut Answered,
) -> Result<Value, Reject> {
    if method != Method::GET && method != Method::POST {
        return Err(Reject::gateway(
            StatusCode::BAD_REQUEST,
            codes::UNSUPPORTED_HTTP_METHOD,
            "Use GET or POST.",
        ));
    }
    if uri.path() != "/" {
        return Err(Reject::gateway(
            StatusCode::NOT_FOUND,
            codes::API_NOT_FOUND,
            "Every call goes to the path /.",
        ));
    }
    let raw_query = uri.query().unwrap_or_default();
    if raw_query.len() > MAX_QUERY_BYTES {
        return Err(Reject::gateway(
            StatusCode::URI_TOO_LONG,
            codes::INVALID_PARAMETER,
            "The query string is too long.",
        ));
    }
    let raw_body = tokio::time::timeout(
        emulator.config.client_timeout,
        axum::body::to_bytes(body, MAX_BODY_BYTES),
    )
    .await
    .map_err(|_| {
        Reject::gateway(
            StatusCode::REQUEST_TIMEOUT,
            codes::REQUEST_TIMEOUT,
            &format!(
                "The request body did not arrive within {} ms.",
                emulator.config.client_timeout.as_millis()
            ),
        )
    })?
    .map_err(|_| {
        Reject::gateway(
            StatusCode::PAYLOAD_TOO_LARGE,
            codes::INVALID_PARAMETER,
            "The request body is larger than 8 MiB.",
        )
    })?;
    let query = decode_form(raw_query.as_bytes(), "query")?;
    let is_form = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    let form = if is_form {
        decode_form(&raw_body, "body")?
    } else {
        BTreeMap::new()
    };
    if let Some(key) = form.keys().find(|key| query.contains_key(*key)) {
        return Err(Reject::gateway(
            StatusCode::BAD_REQUEST,
            codes::INVALID_PARAMETER,
            &format!("The parameter {key} appears in both the query and the body."),
        ));
    }
    let mut merged = query.clone();
    merged.extend(form.iter().map(|(k, v)| (k.clone(), v.clone())));
    answered.format_xml = merged
        .get("Format")
        .is_some_and(|f| f.eq_ignore_ascii_case("xml"));
    if answered.action.is_empty() {
        answered.action = merged.get("Action").cloned().unwrap_or_default();
    }
    answered.params = Params(merged);

    let now = now_ms();
    let declared_version = headers
        .get("x-acs-version")
        .and_then(|v| v.to_str().ok())
        .or_else(|| answered.params.get("Version"));
    let incoming = auth::Incoming {
        method: method.as_str(),
        path: uri.path(),
        query: &query,
        body: &form,
        raw_body: &raw_body,
        headers,
    };
    if declared_version == Some(sts::STS_VERSION) {
        answered.sts = true;
        return sts_gateway(emulator, &incoming, answered, now);
    }
    let verified = auth::verify(&|id| emulator.find_key(id), &incoming, now)?;
    answered.action.clone_from(&verified.action);
    emulator.check_nonce(&verified.nonce, now)?;
    if verified.version != API_VERSION {
        return Err(Reject::gateway(
            StatusCode::BAD_REQUEST,
            codes::INVALID_PARAMETER,
            &format!("Version must be {API_VERSION}."),
        ));
    }
    let action = Action::from_name(&verified.action).ok_or_else(|| {
        Reject::gateway(
            StatusCode::NOT_FOUND,
            codes::API_NOT_FOUND,
            &format!("Specified api is not found: {}", verified.action),
        )
    })?;
    let params = &answered.params;
    if let Some(region) = params.optional("RegionId")
        && !emulator.config.regions.iter().any(|r| r == region)
    {
        return Err(Reject::gateway(
            StatusCode::BAD_REQUEST,
            codes::INVALID_REGION,
            &format!(
                "The region {region} is not served by this endpoint (it serves {}).",
                emulator.config.regions.join(", ")
            ),
        ));
    }
    let deep = crate::wire::is_deep_page(action, |key| params.get(key));
    lock(&emulator.throttle).admit(&verified.access_key_id, action, deep)?;
    let fail_rate = f64::from_bits(emulator.fail_rate.load(Ordering::Relaxed));
    if fail_rate > 0.0 && fastrand::f64() < fail_rate {
        return Err(Reject::gateway(
            StatusCode::SERVICE_UNAVAILABLE,
            codes::SERVICE_UNAVAILABLE,
            "The request has failed due to a temporary failure of the server.",
        ));
    }
    let instance = params.optional("IotInstanceId");
    let answer = {
        let mut store = lock(&emulator.store);
        let advanced = store.advance(now);
        if let Some(instance) = instance
            && !store.instances.contains(instance)
        {
            return Err(Reject::business(
                codes::INSTANCE_NOT_FOUND,
                &format!("The instance {instance} does not exist."),
            ));
        }
        let ctx = handlers::Context {
            now_ms: now,
            instance,
            apply_delay_ms: i64::try_from(emulator.config.apply_delay.as_millis())
                .unwrap_or(i64::MAX),
            region: emulator
                .config
                .regions
                .first()
                .map_or(DEFAULT_REGION, String::as_str),
            state_omits_unknown: emulator.config.state_omits_unknown,
        };
        let result = handlers::dispatch(action, &mut store, &ctx, params);
        if advanced || result.as_ref().is_ok_and(|a| a.changed) {
            emulator.dirty.send_modify(|n| *n += 1);
        }
        result?
    };
    Ok(answer.body)
}

/// The STS endpoint: AssumeRoleWithOIDC is anonymous; AssumeRole is verified like every call.
fn sts_gateway(
    emulator: &Emulator,
    incoming: &auth::Incoming<'_>,
    answered: &Answered,
    now: i64,
) -> Result<Value, Reject> {
    let params = &answered.params.0;
    if answered.action == "AssumeRoleWithOIDC" {
        return sts::assume_role_with_oidc(
            &emulator.config.sts,
            &mut lock(&emulator.issued),
            params,
            now,
        );
    }
    let verified = auth::verify(&|id| emulator.find_key(id), incoming, now)?;
    emulator.check_nonce(&verified.nonce, now)?;
    match verified.action.as_str() {
        "AssumeRole" => sts::assume_role(
            &emulator.config.sts,
            &mut lock(&emulator.issued),
            &verified.access_key_id,
            params,
            now,
        ),
        other => Err(Reject::gateway(
            StatusCode::NOT_FOUND,
            codes::API_NOT_FOUND,
            &format!(
                "Specified api is not found: {other} (this STS serves AssumeRole and AssumeRoleWithOIDC)"
            ),
        )),
    }
}

/// A running emulator.
pub struct Running {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its state, for seeding and inspection.
    pub emulator: Arc<Emulator>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    /// The endpoint URL clients use.
    #[must_use]
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving and writes the state file.
    ///
    /// # Errors
    /// `Error::WriteState` when the final write fails.
    pub async fn stop(mut self) -> Result<(), Error> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        let _ = (&mut self.task).await;
        self.emulator.save()
    }
}

/// Starts serving `emulator` on its configured address.
///
/// # Errors
/// `Error::Bind` when the address cannot be bound.
pub async fn serve(emulator: Arc<Emulator>) -> Result<Running, Error> {
    let addr = emulator.config.listen;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|source| Error::Bind { addr, source })?;
    let addr = listener
        .local_addr()
        .map_err(|source| Error::Bind { addr, source })?;
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    let app = router(emulator.clone());
    let flusher = emulator.clone();
    let client_timeout = emulator.config.client_timeout;
    let task = tokio::spawn(async move {
        let mut changes = flusher.dirty.subscribe();
        let persist = async move {
            while changes.changed().await.is_ok() {
                tokio::time::sleep(Duration::from_millis(200)).await;
                changes.mark_unchanged();
                if let Err(error) = flusher.save() {
                    tracing::error!(%error, "emulator state not saved");
                }
            }
        };
        tokio::select! {
            () = accept_until(listener, app, client_timeout, stopped) => {},
            () = persist => {},
        }
    });
    Ok(Running {
        addr,
        emulator,
        shutdown: Some(shutdown),
        task,
    })
}

/// Serves connections until `stopped` fires, then lets the open ones finish (for at most
/// `client_timeout`). Each connection must send its headers within `client_timeout` (hyper closes
/// it otherwise), so slow or idle clients cannot hold connections, and at most
/// [`MAX_CONNECTIONS`] are open at once.
async fn accept_until(
    listener: tokio::net::TcpListener,
    app: Router,
    client_timeout: Duration,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) {
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(client_timeout);
    loop {
        let accepted = tokio::select! {
            accepted = async {
                let slot = slots.clone().acquire_owned().await;
                (slot, listener.accept().await)
            } => accepted,
            _ = &mut stopped => break,
        };
        let (Ok(slot), result) = accepted else { break };
        let stream = match result {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors and the like: wait a little rather than spin.
                tracing::warn!(%error, "emulator cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let connection = http.serve_connection(
            hyper_util::rt::TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(app.clone()),
        );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "emulator connection ended");
            }
            drop(slot);
        });
    }
    let _ = tokio::time::timeout(client_timeout, graceful.shutdown()).await;
}
