//! The client's transport: signs each try (v1.0 HMAC-SHA1, fresh nonce and timestamp), paces it
//! through the per-Action rate limiter, sends it, and hands the answer to [`super::classify`];
//! retries follow its verdict with exponential backoff and jitter, each shown as it happens.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use backon::BackoffBuilder as _;

use super::classify::{self, Outcome};
use super::credentials::{CredentialSource, Credentials, SignedIn};
use super::error::{Error, TransportCause};
use super::limiter::RateLimiter;
use crate::wire::ops::Operation;
use crate::wire::params::WireParams;
use crate::wire::{API_VERSION, Action, codes, sign};

/// How the client connects and retries.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// `https://iot.{region}.aliyuncs.com` or an override.
    pub endpoint: String,
    /// The region, sent as `RegionId` (signed, as the official SDKs do) so that an endpoint that
    /// does not serve it can say so.
    pub region: Option<String>,
    /// Where credentials come from (refreshed before they expire).
    pub credentials: Arc<CredentialSource>,
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
        Self::with_source(endpoint, Arc::new(CredentialSource::fixed(credentials)))
    }

    /// The same defaults, with credentials from a source (a chain, refreshed).
    #[must_use]
    pub fn with_source(endpoint: impl Into<String>, credentials: Arc<CredentialSource>) -> Self {
        Self {
            endpoint: endpoint.into(),
            region: None,
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
                &self.inner.config.credentials.static_access_key_id(),
            )
            .field("instance", &self.instance)
            .finish_non_exhaustive()
    }
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

    /// Which credentials source won, once the first call fetched credentials.
    #[must_use]
    pub fn signed_in(&self) -> Option<SignedIn> {
        self.inner.config.credentials.signed_in()
    }

    /// Makes sure the credentials stay valid for `wanted` (at most half the life of short-lived
    /// ones), renewing them first if not, so that work that cannot stop half-way does not start
    /// on credentials about to expire.
    ///
    /// # Errors
    /// `Error::Credentials` when they cannot be had.
    pub async fn ensure_credentials_for(&self, wanted: Duration) -> Result<(), Error> {
        self.inner.config.credentials.lasting(wanted).await?;
        Ok(())
    }

    /// What was sent so far.
    #[must_use]
    pub fn stats(&self) -> CallStats {
        crate::sync::lock(&self.inner.stats).clone()
    }

    fn count(&self, f: impl FnOnce(&mut CallStats)) {
        f(&mut crate::sync::lock(&self.inner.stats));
    }

    /// Sends one operation, retrying what is safe to retry.
    ///
    /// # Errors
    /// The platform's error, a transport failure after the last try, or an unreadable answer.
    pub async fn call<O: Operation>(&self, request: &O) -> Result<O::Response, Error> {
        self.send_paced(request, false).await
    }

    /// Waits for a slot of `O::ACTION`'s quota first and only then asks `prepare` for the
    /// request, so that work several readers share is claimed when it can be sent, not while it
    /// waits its turn. `None` from `prepare`: nothing left to send (the slot goes unused);
    /// otherwise the request, with its answer or error (as [`Client::call`]).
    pub async fn call_when_ready<O: Operation>(
        &self,
        prepare: impl FnOnce() -> Option<O>,
    ) -> Option<(O, Result<O::Response, Error>)> {
        self.inner.limiter.acquire(O::ACTION, false).await;
        let request = prepare()?;
        let answer = self.send_paced(&request, true).await;
        Some((request, answer))
    }

    /// Sends with retries; `slot_held`: the first try's rate-limiter slot was taken already.
    async fn send_paced<O: Operation>(
        &self,
        request: &O,
        slot_held: bool,
    ) -> Result<O::Response, Error> {
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
        let mut renewed = false;
        let mut slot_held = slot_held && !deep;
        loop {
            let credentials = config.credentials.credentials().await?;
            let waiting = Instant::now();
            if !std::mem::take(&mut slot_held) {
                self.inner.limiter.acquire(action, deep).await;
            }
            tracing::trace!(%action, attempt, waited_ms = waiting.elapsed().as_millis(), "rate limiter");
            let started = Instant::now();
            let outcome = self.send(action, &wire, &credentials, attempt).await;
            let elapsed_ms = started.elapsed().as_millis();
            let (error, retry_after) = match outcome {
                Outcome::Done(body) => {
                    self.inner.limiter.succeeded(action, deep);
                    let request_id = body.get("RequestId").and_then(serde_json::Value::as_str);
                    tracing::debug!(%action, attempt, elapsed_ms, request_id = request_id.unwrap_or_default(), outcome = "ok", "call");
                    return serde_json::from_value::<O::Response>(body).map_err(|error| {
                        Error::Malformed {
                            action,
                            status: 200,
                            reason: error.to_string(),
                        }
                    });
                }
                Outcome::Fail(error)
                    if !renewed
                        && config.credentials.renewable()
                        && error.code().is_some_and(codes::is_security_token) =>
                {
                    // The gateway refused the token before the request was carried out (expired
                    // or revoked early): new credentials, and the same request once more.
                    tracing::info!(%action, cause = %error, "credentials refused; renewing them");
                    config.credentials.renew().await?;
                    renewed = true;
                    continue;
                }
                Outcome::Fail(error) => {
                    tracing::debug!(%action, attempt, elapsed_ms, outcome = %error, "call failed");
                    return Err(error);
                }
                Outcome::Retry { error, retry_after } => (error, retry_after),
            };
            let throttled = error.is_throttling();
            if throttled {
                self.count(|s| s.throttled += 1);
                self.inner.limiter.throttled(action, deep, retry_after);
            }
            let allowed = classify::attempts_allowed(&error, config.max_attempts);
            let Some(delay) = delays.next().filter(|_| attempt < allowed) else {
                tracing::debug!(%action, attempt, elapsed_ms, outcome = %error, "call failed, no tries left");
                return Err(error);
            };
            let delay = delay.max(retry_after.unwrap_or_default());
            if throttled {
                // Pacing absorbs throttling; the limiter has slowed down already.
                tracing::debug!(%action, attempt, elapsed_ms, cause = %error, delay_ms = delay.as_millis(), "retrying");
            } else {
                tracing::warn!(
                    "{error}; trying again in {:.1} s (attempt {} of {allowed})",
                    delay.as_secs_f64(),
                    attempt + 1
                );
            }
            self.count(|s| s.retries += 1);
            tokio::time::sleep(delay).await;
            attempt += 1;
        }
    }

    fn signed_query(
        &self,
        action: Action,
        wire: &WireParams,
        credentials: &Credentials,
    ) -> Vec<(String, String)> {
        let config = &self.inner.config;
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
            (
                "Timestamp".into(),
                crate::wire::time::request_timestamp_now(),
            ),
        ];
        if let Some(region) = &config.region {
            query.push(("RegionId".into(), region.clone()));
        }
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

    /// One try: sign, send, read the whole answer, classify it.
    async fn send(
        &self,
        action: Action,
        wire: &WireParams,
        credentials: &Credentials,
        attempt: u32,
    ) -> Outcome {
        let endpoint = self.inner.config.endpoint.as_str();
        let url = format!(
            "{}/?{}",
            endpoint.trim_end_matches('/'),
            form_encode(&self.signed_query(action, wire, credentials))
        );
        let mut request = self.inner.http.post(url);
        if !wire.body.is_empty() {
            request = request
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form_encode(&wire.body));
        }
        self.count(|s| *s.sent.entry(action.name().to_owned()).or_default() += 1);
        if tracing::enabled!(tracing::Level::TRACE) {
            // Names only (values include the STS token), repeat lists counted: `DeviceName×100`.
            tracing::trace!(%action, attempt, query = %param_names(&wire.query), body = %param_names(&wire.body), "sending");
        }
        let failed = |error: &reqwest::Error| {
            let (cause, detail) = transport_cause(error);
            classify::classify_transport(action, endpoint, cause, detail, attempt)
        };
        let response = match request.send().await {
            Ok(response) => response,
            Err(error) => return failed(&error),
        };
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        match response.bytes().await {
            Ok(body) => {
                tracing::trace!(%action, attempt, status, bytes = body.len(), "answer");
                classify::classify(action, status, &headers, &body, attempt)
            }
            Err(error) => failed(&error),
        }
    }
}

/// Parameter names of a flat list, each repeat list once with its length.
fn param_names(params: &[(String, String)]) -> String {
    let mut counted: Vec<(&str, usize)> = Vec::new();
    for (key, _) in params {
        let base = key.split('.').next().unwrap_or(key);
        match counted.iter_mut().find(|(name, _)| *name == base) {
            Some((_, count)) => *count += 1,
            None => counted.push((base, 1)),
        }
    }
    counted
        .iter()
        .map(|(name, count)| {
            if *count > 1 {
                format!("{name}×{count}")
            } else {
                (*name).to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// What a failed send means, and the lowest-level reason the network stack gave. The reason is
/// taken from the error's sources, never from the error itself, whose text holds the whole URL
/// with its signed query (the AccessKey ID, the STS token and the signature).
pub(crate) fn transport_cause(error: &reqwest::Error) -> (TransportCause, String) {
    let mut detail = String::new();
    let mut refused = false;
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            refused |= io.kind() == std::io::ErrorKind::ConnectionRefused;
        }
        detail = cause.to_string();
        source = cause.source();
    }
    let lower = detail.to_ascii_lowercase();
    let cause = if error.is_builder() {
        TransportCause::BadRequest
    } else if error.is_connect() {
        if refused {
            TransportCause::Refused
        } else if lower.contains("lookup") || lower.contains("dns") || lower.contains("resolve") {
            TransportCause::HostNotFound
        } else if lower.contains("certificate")
            || lower.contains("tls")
            || lower.contains("handshake")
        {
            TransportCause::Tls
        } else {
            TransportCause::Connect
        }
    } else if error.is_timeout() {
        TransportCause::Timeout
    } else {
        TransportCause::Interrupted
    };
    (cause, detail)
}
