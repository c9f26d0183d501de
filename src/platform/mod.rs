//! The platform client: signs each request (v1.0 HMAC-SHA1, fresh nonce and timestamp per try),
//! paces it through the per-Action rate limiter, sends it, reads both error envelopes, and retries
//! what is safe to retry with exponential backoff and jitter.
//!
//! How a retry stays safe for each write operation whose first outcome is unknown (a timeout after
//! sending, a reset, a 5xx with no body):
//!
//! | Operation | On an unknown outcome |
//! |---|---|
//! | BatchCheckDeviceNames | retried: a second call only opens another ApplyId; the first is left unused and creates nothing |
//! | BatchRegisterDeviceWithApplyId | not retried: returned as ambiguous; the caller re-reads QueryBatchRegisterDeviceStatus (a repeat would answer `IncorrentDeviceApplyInfo`) |
//! | BatchRegisterDevice, CreateProduct | not retried: returned as ambiguous; the caller re-reads before trying again |
//! | BatchUpdateDeviceNickname, EnableThing, DisableThing, SaveDeviceProp, DeleteDeviceProp | retried: each sets a value, so repeating it gives the same state |
//! | DeleteDevice | retried: a repeat of a delete that landed answers `iot.device.NotExistedDevice`, which callers treat as done |
//!
//! Throttling and `ServiceUnavailable` answers are rejected before any state changes, so every
//! operation retries them.

pub mod credentials;
pub mod limiter;
pub mod live;
pub mod paging;

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::BackoffBuilder as _;
use serde_json::Value;

use crate::wire::ops::Operation;
use crate::wire::{API_VERSION, Action, sign};
pub use credentials::Credentials;
use limiter::RateLimiter;

/// Where an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The API gateway refused the request (HTTP 4xx/5xx) before the IoT service saw it.
    Gateway,
    /// The IoT service answered `Success: false` (HTTP 200).
    Business,
}

/// An error answer from the platform.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// The operation.
    pub action: Action,
    /// Gateway or business.
    pub kind: ErrorKind,
    /// HTTP status.
    pub http_status: u16,
    /// Error code, e.g. `iot.device.NotExistedDevice`.
    pub code: String,
    /// The platform's message (secrets removed).
    pub message: String,
    /// The request's id, for support.
    pub request_id: String,
    /// Detail attached to some business errors.
    pub data: Option<Value>,
    /// How many tries were made.
    pub attempts: u32,
}

impl ApiError {
    /// What the user can do about it, where there is something to say.
    #[must_use]
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self.code.as_str() {
            "SignatureDoesNotMatch" => {
                "check the AccessKey secret (ALIBABA_CLOUD_ACCESS_KEY_SECRET or the profile)"
            }
            "InvalidAccessKeyId.NotFound" | "InvalidAccessKeyId.Inactive" => {
                "check the AccessKey ID (ALIBABA_CLOUD_ACCESS_KEY_ID or the profile)"
            }
            "InvalidTimeStamp.Expired" => {
                "this machine's clock is more than 15 minutes off: sync it (NTP) and retry"
            }
            "iot.prod.NotExistedProduct" => {
                "check the product key, and that region and instance are where the product lives"
            }
            "iot.system.InstanceNotFound" | "iot.Sre.IotInstanceNotFound" => {
                "check the `instance` (IotInstanceId) in the manifest"
            }
            code if code.starts_with("Throttling") => {
                "the account's QPS quota was exceeded even after retries: try again later or lower --qps-scale"
            }
            code if code.starts_with("InvalidSecurityToken") => {
                "refresh the STS token (ALIBABA_CLOUD_SECURITY_TOKEN)"
            }
            code if code.starts_with("Forbidden") || code.ends_with("PermissionDeny") => {
                "grant the RAM user the AliyunIOTFullAccess policy or the needed iot: actions"
            }
            _ => return None,
        })
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            ErrorKind::Gateway => "refused by the API gateway",
            ErrorKind::Business => "failed",
        };
        write!(
            f,
            "{} {kind}: {}: {} (HTTP {}, RequestId {}",
            self.action, self.code, self.message, self.http_status, self.request_id
        )?;
        if self.attempts > 1 {
            write!(f, ", after {} attempts", self.attempts)?;
        }
        f.write_str(")")
    }
}

/// Why a call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The platform answered with an error.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The platform could not be reached, or did not answer in time.
    #[error("{action} to {endpoint} failed after {attempts} attempt(s): {reason}{}", if *ambiguous { " (the request may have been applied: the state will be re-read before any retry)" } else { "" })]
    Transport {
        /// The operation.
        action: Action,
        /// Where it went.
        endpoint: String,
        /// Tries made.
        attempts: u32,
        /// The last failure.
        reason: String,
        /// Whether the request may have reached the platform.
        ambiguous: bool,
    },
    /// The answer was not what the operation returns.
    #[error("{action}: the response could not be read: {reason} (HTTP {status})")]
    Malformed {
        /// The operation.
        action: Action,
        /// HTTP status.
        status: u16,
        /// What was wrong.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
    /// A product holds more devices than QueryDevice can list.
    #[error(
        "product {product_key} holds {devices} devices, more than QueryDevice can list (CurrentPage × PageSize stays below 1,000,000); prune needs every device listed, so turn prune off for it (its declared devices are then read by name) or split the fleet across products"
    )]
    TooLargeToList {
        /// The product.
        product_key: String,
        /// How many devices it holds.
        devices: u64,
    },
}

impl Error {
    /// The platform's error code, if the platform answered.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        match self {
            Error::Api(api) => Some(&api.code),
            _ => None,
        }
    }

    /// Whether the request may have been applied although it failed.
    #[must_use]
    pub fn is_ambiguous(&self) -> bool {
        match self {
            Error::Transport { ambiguous, .. } => *ambiguous,
            Error::Api(api) => api.http_status >= 500 && api.code.starts_with("HTTP"),
            _ => false,
        }
    }
}

/// How the client connects and retries.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://iot.{region}.aliyuncs.com` or an override.
    pub endpoint: String,
    /// Credentials.
    pub credentials: Credentials,
    /// Timeout of one try.
    pub timeout: Duration,
    /// Most tries per call.
    pub max_attempts: u32,
    /// First backoff delay.
    pub min_backoff: Duration,
    /// Longest backoff delay.
    pub max_backoff: Duration,
    /// Multiplier on every documented QPS quota.
    pub qps_scale: f64,
    /// QPS per Action, overriding the documented quota.
    pub qps_overrides: HashMap<Action, f64>,
}

impl ClientConfig {
    /// Defaults: 30 s per try, 8 tries, backoff 200 ms to 20 s, documented quotas.
    #[must_use]
    pub fn new(endpoint: impl Into<String>, credentials: Credentials) -> Self {
        Self {
            endpoint: endpoint.into(),
            credentials,
            timeout: Duration::from_secs(30),
            max_attempts: 8,
            min_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(20),
            qps_scale: 1.0,
            qps_overrides: HashMap::new(),
        }
    }
}

/// Counters of what the client sent, per Action.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct CallStats {
    /// Requests sent (every try).
    pub sent: BTreeMap<String, u64>,
    /// Throttling answers received.
    pub throttled: u64,
    /// Tries that were retries.
    pub retries: u64,
}

impl CallStats {
    /// Requests sent, all Actions.
    #[must_use]
    pub fn total(&self) -> u64 {
        self.sent.values().sum()
    }

    /// Requests sent of one Action.
    #[must_use]
    pub fn of(&self, action: Action) -> u64 {
        self.sent.get(action.name()).copied().unwrap_or(0)
    }
}

struct Inner {
    http: reqwest::Client,
    config: ClientConfig,
    limiter: RateLimiter,
    stats: Mutex<CallStats>,
}

/// A signed, paced, retrying client. Cheap to clone; clones share the rate limiter.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
    instance: Option<String>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.config.endpoint)
            .field(
                "access_key_id",
                &self.inner.config.credentials.access_key_id,
            )
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
}

enum Outcome<T> {
    Done(T),
    Retry {
        error: Error,
        retry_after: Option<Duration>,
    },
    Fail(Error),
}

/// Whether repeating this Action after an unknown outcome could do something twice.
fn repeat_is_unsafe(action: Action) -> bool {
    matches!(
        action,
        Action::BatchRegisterDeviceWithApplyId
            | Action::BatchRegisterDevice
            | Action::CreateProduct
    )
}

fn is_retryable_code(code: &str) -> bool {
    code.starts_with("Throttling")
        || matches!(
            code,
            "ServiceUnavailable"
                | "InternalError"
                | "UnknownError"
                | "iot.system.SystemException"
                | "iot.device.CreateDeviceTaskIsRunning"
        )
}

fn sanitize_message(message: &str) -> String {
    match message.find("string to sign is:") {
        Some(at) => format!("{}(string to sign withheld)", &message[..at]),
        None => message.to_owned(),
    }
}

fn timestamp_now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

fn form_encode(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", sign::percent_encode(k), sign::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

impl Client {
    /// Builds a client.
    ///
    /// # Errors
    /// `Error::Setup` when the HTTP stack cannot start.
    pub fn new(config: ClientConfig) -> Result<Self, Error> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            // Servers close idle connections (the emulator after 10 s); reusing one as it closes
            // costs a retry, so idle connections are dropped first.
            .pool_idle_timeout(Duration::from_secs(5))
            .user_agent(concat!("iotplan/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| Error::Setup(e.to_string()))?;
        let limiter = RateLimiter::new(config.qps_scale, &config.qps_overrides);
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                config,
                limiter,
                stats: Mutex::new(CallStats::default()),
            }),
            instance: None,
        })
    }

    /// The same client, sending `IotInstanceId` (enterprise instances) on every call.
    #[must_use]
    pub fn with_instance(&self, instance: Option<String>) -> Self {
        Self {
            inner: self.inner.clone(),
            instance,
        }
    }

    /// The endpoint.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.inner.config.endpoint
    }

    /// What was sent so far.
    #[must_use]
    pub fn stats(&self) -> CallStats {
        self.inner
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn count(&self, f: impl FnOnce(&mut CallStats)) {
        f(&mut self
            .inner
            .stats
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// Sends one operation, retrying what is safe to retry.
    ///
    /// # Errors
    /// The platform's error, a transport failure after the last try, or an unreadable answer.
    pub async fn call<O: Operation>(&self, request: &O) -> Result<O::Response, Error> {
        let action = O::ACTION;
        let wire = request.to_wire();
        let deep = crate::wire::is_deep_page(action, |key| {
            wire.query
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        });
        let config = &self.inner.config;
        let mut delays = backon::ExponentialBuilder::default()
            .with_min_delay(config.min_backoff)
            .with_max_delay(config.max_backoff)
            .with_max_times(config.max_attempts.saturating_sub(1) as usize)
            .with_jitter()
            .build();
        let mut attempt = 1;
        loop {
            self.inner.limiter.acquire(action, deep).await;
            let started = Instant::now();
            let outcome = self.try_once::<O>(&wire, attempt).await;
            let elapsed_ms = started.elapsed().as_millis();
            match outcome {
                Outcome::Done(response) => {
                    self.inner.limiter.succeeded(action, deep);
                    tracing::debug!(%action, attempt, elapsed_ms, outcome = "ok", "call");
                    return Ok(response);
                }
                Outcome::Fail(error) => {
                    tracing::debug!(%action, attempt, elapsed_ms, outcome = %error, "call failed");
                    return Err(error);
                }
                Outcome::Retry { error, retry_after } => {
                    let throttled = error.code().is_some_and(|c| c.starts_with("Throttling"));
                    if throttled {
                        self.count(|s| s.throttled += 1);
                        self.inner.limiter.throttled(action, deep, retry_after);
                    }
                    let Some(delay) = delays.next() else {
                        tracing::debug!(%action, attempt, elapsed_ms, outcome = %error, "call failed, no tries left");
                        return Err(error);
                    };
                    let delay = delay.max(retry_after.unwrap_or_default());
                    tracing::debug!(%action, attempt, elapsed_ms, cause = %error, delay_ms = delay.as_millis(), "retrying");
                    self.count(|s| s.retries += 1);
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
            }
        }
    }

    fn signed_query(
        &self,
        action: Action,
        wire: &crate::wire::params::WireParams,
    ) -> Vec<(String, String)> {
        let credentials = &self.inner.config.credentials;
        let mut query: Vec<(String, String)> = vec![
            ("Action".into(), action.name().into()),
            ("Version".into(), API_VERSION.into()),
            ("Format".into(), "JSON".into()),
            ("AccessKeyId".into(), credentials.access_key_id.clone()),
            ("SignatureMethod".into(), "HMAC-SHA1".into()),
            ("SignatureVersion".into(), "1.0".into()),
            (
                "SignatureNonce".into(),
                uuid::Uuid::new_v4().simple().to_string(),
            ),
            ("Timestamp".into(), timestamp_now()),
        ];
        if let Some(token) = &credentials.security_token {
            query.push(("SecurityToken".into(), token.expose().to_owned()));
        }
        if let Some(instance) = &self.instance {
            query.push(("IotInstanceId".into(), instance.clone()));
        }
        query.extend(wire.query.iter().cloned());
        let signed: BTreeMap<String, String> =
            query.iter().chain(wire.body.iter()).cloned().collect();
        let string_to_sign = sign::v1_string_to_sign("POST", &signed);
        query.push((
            "Signature".into(),
            sign::v1_signature(credentials.access_key_secret.expose(), &string_to_sign),
        ));
        query
    }

    async fn try_once<O: Operation>(
        &self,
        wire: &crate::wire::params::WireParams,
        attempt: u32,
    ) -> Outcome<O::Response> {
        let action = O::ACTION;
        let config = &self.inner.config;
        let url = format!(
            "{}/?{}",
            config.endpoint.trim_end_matches('/'),
            form_encode(&self.signed_query(action, wire))
        );
        let mut request = self.inner.http.post(url);
        if !wire.body.is_empty() {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form_encode(&wire.body));
        }
        self.count(|s| *s.sent.entry(action.name().to_owned()).or_default() += 1);
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => {
                let not_sent = error.is_connect();
                let error = Error::Transport {
                    action,
                    endpoint: config.endpoint.clone(),
                    attempts: attempt,
                    reason: error.to_string(),
                    ambiguous: !not_sent,
                };
                return if not_sent || !repeat_is_unsafe(action) {
                    Outcome::Retry {
                        error,
                        retry_after: None,
                    }
                } else {
                    Outcome::Fail(error)
                };
            }
        };
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get("x-acs-retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        let bytes = match response.bytes().await {
            Ok(bytes) => bytes,
            Err(error) => {
                let error = Error::Transport {
                    action,
                    endpoint: config.endpoint.clone(),
                    attempts: attempt,
                    reason: format!("reading the answer: {error}"),
                    ambiguous: true,
                };
                return if repeat_is_unsafe(action) {
                    Outcome::Fail(error)
                } else {
                    Outcome::Retry {
                        error,
                        retry_after: None,
                    }
                };
            }
        };
        let body: Option<Value> = serde_json::from_slice(&bytes).ok();
        let text = |key: &str| {
            body.as_ref()
                .and_then(|b| b.get(key))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        if status >= 400 {
            let has_body = body.is_some();
            let code = if has_body {
                text("Code")
            } else {
                format!("HTTP{status}")
            };
            let error = Error::Api(Box::new(ApiError {
                action,
                kind: ErrorKind::Gateway,
                http_status: status,
                message: sanitize_message(&if has_body {
                    text("Message")
                } else {
                    String::from_utf8_lossy(&bytes).chars().take(200).collect()
                }),
                code: code.clone(),
                request_id: text("RequestId"),
                data: None,
                attempts: attempt,
            }));
            let transient = status >= 500 || status == 429 || is_retryable_code(&code);
            let unknown_outcome = status >= 500 && !has_body;
            return if transient && !(unknown_outcome && repeat_is_unsafe(action)) {
                Outcome::Retry { error, retry_after }
            } else {
                Outcome::Fail(error)
            };
        }
        let request_id = text("RequestId");
        let Some(body) = body else {
            return Outcome::Fail(Error::Malformed {
                action,
                status,
                reason: "the body is not JSON".to_owned(),
            });
        };
        if body.get("Success").and_then(Value::as_bool) != Some(true) {
            let code = body
                .get("Code")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let error = Error::Api(Box::new(ApiError {
                action,
                kind: ErrorKind::Business,
                http_status: status,
                message: sanitize_message(
                    body.get("ErrorMessage")
                        .and_then(Value::as_str)
                        .unwrap_or_default(),
                ),
                request_id,
                data: body.get("Data").filter(|d| !d.is_null()).cloned(),
                attempts: attempt,
                code: code.clone(),
            }));
            return if is_retryable_code(&code)
                && !(repeat_is_unsafe(action) && code == "iot.system.SystemException")
            {
                Outcome::Retry { error, retry_after }
            } else {
                Outcome::Fail(error)
            };
        }
        tracing::debug!(%action, attempt, request_id = %request_id, "answered");
        match serde_json::from_value::<O::Response>(body) {
            Ok(response) => Outcome::Done(response),
            Err(error) => Outcome::Fail(Error::Malformed {
                action,
                status,
                reason: error.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_mismatch_messages_lose_the_string_to_sign() {
        let message = "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&SecurityToken%3Dsecret";
        let clean = sanitize_message(message);
        assert!(!clean.contains("secret"), "{clean}");
        assert!(clean.starts_with("Specified signature is not matched"));
    }

    #[test]
    fn only_transient_codes_retry() {
        for code in [
            "Throttling",
            "Throttling.User",
            "ServiceUnavailable",
            "iot.system.SystemException",
        ] {
            assert!(is_retryable_code(code), "{code}");
        }
        for code in [
            "SignatureDoesNotMatch",
            "iot.device.NotExistedDevice",
            "InvalidParameter",
            "iot.common.InvalidPageParams",
        ] {
            assert!(!is_retryable_code(code), "{code}");
        }
    }
}
