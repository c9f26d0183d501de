//! Why a call did not succeed: the platform's answer ([`ApiError`]), a failure to reach it
//! ([`TransportCause`]), or an answer that could not be read. Every message here is safe to print:
//! none carries a request's URL, query or signature, so no STS token or AccessKey reaches output.

use std::fmt;

use serde_json::Value;

use crate::wire::{Action, codes};

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
    /// Error code, e.g. `iot.device.NotExistedDevice`; empty when the answer carried none.
    pub code: String,
    /// The platform's message (secrets removed).
    pub message: String,
    /// The request's id, for support.
    pub request_id: String,
    /// Detail attached to some business errors.
    pub data: Option<Value>,
    /// How many tries were made.
    pub attempts: u32,
    /// Whether the request may have been carried out although it failed: a server error with no
    /// error envelope, so nothing says the platform turned the request away.
    pub outcome_unknown: bool,
}

impl ApiError {
    /// What the user can do about it, where there is something to say.
    #[must_use]
    pub fn hint(&self) -> Option<&'static str> {
        Some(match self.code.as_str() {
            codes::SIGNATURE_DOES_NOT_MATCH => {
                "check the AccessKey secret (ALIBABA_CLOUD_ACCESS_KEY_SECRET or the profile)"
            }
            codes::ACCESS_KEY_NOT_FOUND | codes::ACCESS_KEY_INACTIVE => {
                "check the AccessKey ID (ALIBABA_CLOUD_ACCESS_KEY_ID or the profile)"
            }
            codes::TIMESTAMP_EXPIRED => {
                "this machine's clock is more than 15 minutes off: sync it (NTP) and retry"
            }
            codes::PRODUCT_NOT_EXISTED => {
                "check the product key, and that region and instance are where the product lives"
            }
            codes::INSTANCE_NOT_FOUND | codes::SRE_INSTANCE_NOT_FOUND => {
                "check the `instance` (IotInstanceId) in the manifest"
            }
            codes::INVALID_REGION => {
                "check --region (or ALIBABA_CLOUD_REGION_ID, the manifest's `region`, the profile's region_id): this endpoint does not serve it"
            }
            code if codes::is_throttling(code) => {
                "the account's QPS quota was exceeded even after retries: try again later or lower --qps-scale"
            }
            code if codes::is_security_token(code) => {
                "refresh the STS token (ALIBABA_CLOUD_SECURITY_TOKEN)"
            }
            code if codes::is_permission(code) => {
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
        let code = if self.code.is_empty() {
            "no error code"
        } else {
            &self.code
        };
        write!(
            f,
            "{} {kind}: {code}: {} (HTTP {}",
            self.action, self.message, self.http_status
        )?;
        if !self.request_id.is_empty() {
            write!(f, ", RequestId {}", self.request_id)?;
        }
        if self.attempts > 1 {
            write!(f, ", after {} attempts", self.attempts)?;
        }
        f.write_str(")")
    }
}

/// Why the platform could not be reached, or stopped answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportCause {
    /// Nothing listens at the endpoint's address and port.
    Refused,
    /// The endpoint's host name does not resolve.
    HostNotFound,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// Connecting failed for another reason (unreachable network, no route).
    Connect,
    /// No answer came within the timeout.
    Timeout,
    /// The connection broke after the request was sent (reset, closed mid-answer).
    Interrupted,
    /// The request could not be built (a malformed endpoint URL).
    BadRequest,
}

impl TransportCause {
    /// Whether the request cannot have reached the platform.
    #[must_use]
    pub fn before_sending(self) -> bool {
        !matches!(self, TransportCause::Timeout | TransportCause::Interrupted)
    }

    /// Whether trying again could change anything: a name that does not resolve, a certificate
    /// that does not verify or a URL that cannot be built stays so.
    #[must_use]
    pub fn may_pass_on_retry(self) -> bool {
        !matches!(
            self,
            TransportCause::HostNotFound | TransportCause::Tls | TransportCause::BadRequest
        )
    }

    /// What the user can check.
    #[must_use]
    pub fn hint(self) -> &'static str {
        match self {
            TransportCause::Refused => {
                "nothing listens there: is the emulator running (iotplan emulator), and are --endpoint's host and port right?"
            }
            TransportCause::HostNotFound => {
                "check the region (--region, ALIBABA_CLOUD_REGION_ID, the manifest's `region`): the endpoint is iot.REGION.aliyuncs.com, e.g. iot.cn-shanghai.aliyuncs.com; or check --endpoint and this machine's DNS"
            }
            TransportCause::Tls => {
                "check the endpoint's certificate, or use http:// for a local emulator"
            }
            TransportCause::Connect => {
                "check this machine's network and any proxy between it and the endpoint"
            }
            TransportCause::Timeout => {
                "the platform did not answer in time: check the network, or lower --qps-scale if other tools share the account"
            }
            TransportCause::Interrupted => {
                "the connection broke: check the network or proxy; running the command again is safe"
            }
            TransportCause::BadRequest => {
                "check --endpoint: it must be http://HOST[:PORT] or https://HOST[:PORT]"
            }
        }
    }
}

impl fmt::Display for TransportCause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TransportCause::Refused => "connection refused",
            TransportCause::HostNotFound => "host not found (DNS)",
            TransportCause::Tls => "TLS handshake failed",
            TransportCause::Connect => "cannot connect",
            TransportCause::Timeout => "timed out",
            TransportCause::Interrupted => "connection lost",
            TransportCause::BadRequest => "the request cannot be built",
        })
    }
}

/// Why a call did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The platform answered with an error.
    #[error("{0}")]
    Api(Box<ApiError>),
    /// The platform could not be reached, or did not answer in time.
    #[error("{action} to {endpoint} failed{}: {cause}{}{}",
        if *attempts > 1 { format!(" after {attempts} attempts") } else { String::new() },
        if detail.is_empty() || detail.to_ascii_lowercase().starts_with(&cause.to_string()) { String::new() } else { format!(" ({detail})") },
        if *ambiguous { "; the request may have been applied: the state will be re-read before any retry" } else { "" })]
    Transport {
        /// The operation.
        action: Action,
        /// Where it went (never with a query string).
        endpoint: String,
        /// Tries made.
        attempts: u32,
        /// What failed.
        cause: TransportCause,
        /// The lowest-level reason the network stack gave (no URL).
        detail: String,
        /// Whether a write may have been carried out: never said of a read.
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
    /// No credentials could be had, or they could not be renewed.
    #[error(transparent)]
    Credentials(#[from] crate::platform::credentials::CredentialError),
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

    /// Whether a write may have been carried out although it failed.
    #[must_use]
    pub fn is_ambiguous(&self) -> bool {
        match self {
            Error::Transport { ambiguous, .. } => *ambiguous,
            Error::Api(api) => api.outcome_unknown && api.action.is_write(),
            _ => false,
        }
    }

    /// Whether the call failed for want of working credentials: none could be had or renewed, or
    /// the platform refused the STS token. Nothing after it can succeed until that is fixed.
    #[must_use]
    pub fn is_credentials(&self) -> bool {
        matches!(self, Error::Credentials(_)) || self.code().is_some_and(codes::is_security_token)
    }

    /// Whether the answer was a throttling one.
    #[must_use]
    pub fn is_throttling(&self) -> bool {
        self.code().is_some_and(codes::is_throttling)
    }

    /// What the user can do about it, where there is something to say.
    #[must_use]
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            Error::Api(api) => api.hint(),
            Error::Transport { cause, .. } => Some(cause.hint()),
            Error::Credentials(error) => Some(error.hint()),
            _ => None,
        }
    }
}
