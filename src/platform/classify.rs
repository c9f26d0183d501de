//! What one try's result means: done, retry, or fail. Pure functions of the Action, the HTTP
//! status, the headers and the body (or the transport failure), so the retry policy is tested as a
//! table without a server.
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
//! operation retries them. A failure before the request left (refused, DNS, TLS, a URL that cannot
//! be built) changed nothing; of those, only a refused or failed connection is tried again, at most
//! [`REFUSED_ATTEMPTS`] times, since nothing else passes on a second try.

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde_json::Value;

use super::error::{ApiError, Error, ErrorKind, TransportCause};
use crate::wire::{Action, codes};

/// What to do after one try.
#[derive(Debug)]
pub enum Outcome {
    /// A success envelope, to be read as the operation's response.
    Done(Value),
    /// Worth another try, after at least `retry_after` if the platform said so.
    Retry {
        /// What went wrong this time.
        error: Error,
        /// The platform's `x-acs-retry-after`.
        retry_after: Option<Duration>,
    },
    /// Final.
    Fail(Error),
}

/// Most tries at an endpoint that refuses connections or cannot be connected to: an emulator
/// starting up is there within a second; a wrong port never is.
pub const REFUSED_ATTEMPTS: u32 = 3;

/// Whether repeating this Action after an unknown outcome could do something twice.
#[must_use]
pub fn repeat_is_unsafe(action: Action) -> bool {
    matches!(
        action,
        Action::BatchRegisterDeviceWithApplyId
            | Action::BatchRegisterDevice
            | Action::CreateProduct
    )
}

/// How many tries an error allows, of the `configured` most.
#[must_use]
pub fn attempts_allowed(error: &Error, configured: u32) -> u32 {
    match error {
        Error::Transport {
            cause: TransportCause::Refused | TransportCause::Connect,
            ..
        } => configured.min(REFUSED_ATTEMPTS),
        _ => configured,
    }
}

/// Removes what a message must not carry: the gateway's echo of the string to sign holds every
/// signed parameter, the STS token among them.
#[must_use]
pub fn sanitize_message(message: &str) -> String {
    match message.find("string to sign is:") {
        Some(at) => format!("{}(string to sign withheld)", &message[..at]),
        None => message.to_owned(),
    }
}

/// Classifies an answer that arrived.
#[must_use]
pub fn classify(
    action: Action,
    status: u16,
    headers: &HeaderMap,
    body: &[u8],
    attempt: u32,
) -> Outcome {
    let retry_after = headers
        .get("x-acs-retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .filter(|ms| *ms > 0)
        .map(Duration::from_millis);
    let envelope: Option<Value> = serde_json::from_slice(body).ok();
    let text = |envelope: Option<&Value>, key: &str| {
        envelope
            .and_then(|b| b.get(key))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    if status >= 400 {
        let has_envelope = envelope.is_some();
        let code = text(envelope.as_ref(), "Code");
        let outcome_unknown = status >= 500 && !has_envelope;
        let message = if has_envelope {
            text(envelope.as_ref(), "Message")
        } else {
            String::from_utf8_lossy(body).chars().take(200).collect()
        };
        let error = api_error(action, ErrorKind::Gateway, status, code, &message, attempt);
        let error = Error::Api(Box::new(ApiError {
            request_id: text(envelope.as_ref(), "RequestId"),
            outcome_unknown,
            ..error
        }));
        let transient =
            status >= 500 || status == 429 || error.code().is_some_and(codes::is_transient);
        return if transient && !(outcome_unknown && repeat_is_unsafe(action)) {
            Outcome::Retry { error, retry_after }
        } else {
            Outcome::Fail(error)
        };
    }
    let Some(envelope) = envelope else {
        return Outcome::Fail(Error::Malformed {
            action,
            status,
            reason: "the body is not JSON".to_owned(),
        });
    };
    if envelope.get("Success").and_then(Value::as_bool) == Some(true) {
        return Outcome::Done(envelope);
    }
    let code = text(Some(&envelope), "Code");
    let retry = codes::is_transient(&code)
        && !(repeat_is_unsafe(action) && code == codes::SYSTEM_EXCEPTION);
    let error = ApiError {
        request_id: text(Some(&envelope), "RequestId"),
        data: envelope.get("Data").filter(|d| !d.is_null()).cloned(),
        ..api_error(
            action,
            ErrorKind::Business,
            status,
            code,
            &text(Some(&envelope), "ErrorMessage"),
            attempt,
        )
    };
    let error = Error::Api(Box::new(error));
    if retry {
        Outcome::Retry { error, retry_after }
    } else {
        Outcome::Fail(error)
    }
}

fn api_error(
    action: Action,
    kind: ErrorKind,
    http_status: u16,
    code: String,
    message: &str,
    attempts: u32,
) -> ApiError {
    ApiError {
        action,
        kind,
        http_status,
        code,
        message: sanitize_message(message),
        request_id: String::new(),
        data: None,
        attempts,
        outcome_unknown: false,
    }
}

/// Classifies a try that got no answer.
#[must_use]
pub fn classify_transport(
    action: Action,
    endpoint: &str,
    cause: TransportCause,
    detail: String,
    attempt: u32,
) -> Outcome {
    let ambiguous = !cause.before_sending() && action.is_write();
    let error = Error::Transport {
        action,
        endpoint: endpoint.to_owned(),
        attempts: attempt,
        cause,
        detail,
        ambiguous,
    };
    let retry = if cause.before_sending() {
        cause.may_pass_on_retry()
    } else {
        !repeat_is_unsafe(action)
    };
    if retry {
        Outcome::Retry {
            error,
            retry_after: None,
        }
    } else {
        Outcome::Fail(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a row expects.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Expect {
        Done,
        Retry,
        Fail,
    }

    fn verdict(outcome: &Outcome) -> (Expect, bool) {
        match outcome {
            Outcome::Done(_) => (Expect::Done, false),
            Outcome::Retry { error, .. } => (Expect::Retry, error.is_ambiguous()),
            Outcome::Fail(error) => (Expect::Fail, error.is_ambiguous()),
        }
    }

    const READ: Action = Action::QueryDevice;
    const SAFE_WRITE: Action = Action::SaveDeviceProp;
    const UNSAFE_WRITE: Action = Action::BatchRegisterDeviceWithApplyId;

    fn gateway(code: &str) -> Vec<u8> {
        format!(r#"{{"RequestId":"r1","HostId":"iot","Code":"{code}","Message":"m"}}"#).into_bytes()
    }

    fn business(code: &str) -> Vec<u8> {
        format!(r#"{{"RequestId":"r1","Success":false,"Code":"{code}","ErrorMessage":"m"}}"#)
            .into_bytes()
    }

    /// Every status × envelope × retry-safety row of the table in the module doc: the verdict,
    /// and whether the error says the request may have been applied.
    #[test]
    fn every_answer_row() {
        let ok = br#"{"RequestId":"r1","Success":true,"Data":{}}"#.to_vec();
        let rows: Vec<(u16, Vec<u8>, Action, Expect, bool)> = vec![
            // Success envelope.
            (200, ok.clone(), READ, Expect::Done, false),
            (200, ok.clone(), UNSAFE_WRITE, Expect::Done, false),
            // Business errors: a permanent one fails, a transient one retries...
            (
                200,
                business(codes::DEVICE_NOT_EXISTED),
                READ,
                Expect::Fail,
                false,
            ),
            (
                200,
                business(codes::DEVICE_NOT_EXISTED),
                SAFE_WRITE,
                Expect::Fail,
                false,
            ),
            (
                200,
                business(codes::SYSTEM_EXCEPTION),
                READ,
                Expect::Retry,
                false,
            ),
            (
                200,
                business(codes::SYSTEM_EXCEPTION),
                SAFE_WRITE,
                Expect::Retry,
                false,
            ),
            // ...except SystemException on a write that must not run twice.
            (
                200,
                business(codes::SYSTEM_EXCEPTION),
                UNSAFE_WRITE,
                Expect::Fail,
                false,
            ),
            (
                200,
                business(codes::CREATE_TASK_RUNNING),
                UNSAFE_WRITE,
                Expect::Retry,
                false,
            ),
            (
                200,
                business(codes::THROTTLING),
                UNSAFE_WRITE,
                Expect::Retry,
                false,
            ),
            // A 200 that is not JSON.
            (200, b"<html>".to_vec(), READ, Expect::Fail, false),
            // Gateway refusals with an envelope: nothing was done, so transient ones retry.
            (
                400,
                gateway(codes::INVALID_PARAMETER),
                READ,
                Expect::Fail,
                false,
            ),
            (
                400,
                gateway(codes::SIGNATURE_DOES_NOT_MATCH),
                UNSAFE_WRITE,
                Expect::Fail,
                false,
            ),
            (
                404,
                gateway(codes::INVALID_REGION),
                READ,
                Expect::Fail,
                false,
            ),
            (
                403,
                gateway(codes::FORBIDDEN),
                SAFE_WRITE,
                Expect::Fail,
                false,
            ),
            (
                400,
                gateway(codes::THROTTLING_USER),
                READ,
                Expect::Retry,
                false,
            ),
            (
                400,
                gateway(codes::THROTTLING_USER),
                UNSAFE_WRITE,
                Expect::Retry,
                false,
            ),
            (
                429,
                gateway(codes::THROTTLING),
                UNSAFE_WRITE,
                Expect::Retry,
                false,
            ),
            (
                503,
                gateway(codes::SERVICE_UNAVAILABLE),
                READ,
                Expect::Retry,
                false,
            ),
            (
                503,
                gateway(codes::SERVICE_UNAVAILABLE),
                UNSAFE_WRITE,
                Expect::Retry,
                false,
            ),
            (
                500,
                gateway(codes::INTERNAL_ERROR),
                SAFE_WRITE,
                Expect::Retry,
                false,
            ),
            // A 5xx without an envelope: the outcome is unknown.
            (502, b"Bad Gateway".to_vec(), READ, Expect::Retry, false),
            (
                502,
                b"Bad Gateway".to_vec(),
                SAFE_WRITE,
                Expect::Retry,
                true,
            ),
            (502, Vec::new(), UNSAFE_WRITE, Expect::Fail, true),
            (504, Vec::new(), Action::CreateProduct, Expect::Fail, true),
            // A 4xx without an envelope is a refusal, not an unknown outcome.
            (404, b"not found".to_vec(), READ, Expect::Fail, false),
            (429, Vec::new(), UNSAFE_WRITE, Expect::Retry, false),
        ];
        for (status, body, action, expect, ambiguous) in rows {
            let outcome = classify(action, status, &HeaderMap::new(), &body, 1);
            assert_eq!(
                verdict(&outcome),
                (expect, ambiguous),
                "HTTP {status} {} for {action}",
                String::from_utf8_lossy(&body)
            );
        }
    }

    /// Every transport cause × retry-safety row.
    #[test]
    fn every_transport_row() {
        use TransportCause::{
            BadRequest, Connect, HostNotFound, Interrupted, Refused, Timeout, Tls,
        };
        let rows = [
            (Refused, READ, Expect::Retry, false),
            (Refused, UNSAFE_WRITE, Expect::Retry, false),
            (Connect, SAFE_WRITE, Expect::Retry, false),
            (HostNotFound, READ, Expect::Fail, false),
            (HostNotFound, UNSAFE_WRITE, Expect::Fail, false),
            (Tls, READ, Expect::Fail, false),
            (BadRequest, SAFE_WRITE, Expect::Fail, false),
            // After sending: a read is never "may have been applied".
            (Timeout, READ, Expect::Retry, false),
            (Interrupted, READ, Expect::Retry, false),
            (Timeout, SAFE_WRITE, Expect::Retry, true),
            (Timeout, UNSAFE_WRITE, Expect::Fail, true),
            (Interrupted, UNSAFE_WRITE, Expect::Fail, true),
        ];
        for (cause, action, expect, ambiguous) in rows {
            let outcome = classify_transport(action, "http://h", cause, String::new(), 1);
            assert_eq!(
                verdict(&outcome),
                (expect, ambiguous),
                "{cause} for {action}"
            );
        }
    }

    #[test]
    fn retry_after_is_read_from_the_header() {
        let mut headers = HeaderMap::new();
        headers.insert("x-acs-retry-after", "1500".parse().expect("header"));
        let outcome = classify(READ, 400, &headers, &gateway(codes::THROTTLING), 1);
        let Outcome::Retry { retry_after, .. } = outcome else {
            panic!("throttling retries: {outcome:?}");
        };
        assert_eq!(retry_after, Some(Duration::from_millis(1500)));
    }

    #[test]
    fn a_refused_connection_gets_a_few_tries_not_all() {
        let Outcome::Retry { error, .. } =
            classify_transport(READ, "http://h", TransportCause::Refused, String::new(), 1)
        else {
            panic!("refused retries");
        };
        assert_eq!(attempts_allowed(&error, 8), REFUSED_ATTEMPTS);
        let throttled = classify(READ, 400, &HeaderMap::new(), &gateway(codes::THROTTLING), 1);
        let Outcome::Retry { error, .. } = throttled else {
            panic!("throttling retries");
        };
        assert_eq!(attempts_allowed(&error, 8), 8);
    }

    #[test]
    fn no_code_is_invented_for_an_answer_without_one() {
        let Outcome::Fail(error) = classify(UNSAFE_WRITE, 502, &HeaderMap::new(), b"", 1) else {
            panic!("fails");
        };
        assert_eq!(error.code(), Some(""));
        assert!(error.is_ambiguous());
        assert!(error.to_string().contains("no error code"), "{error}");
    }

    #[test]
    fn signature_mismatch_messages_lose_the_string_to_sign() {
        let message = "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&SecurityToken%3Dsecret";
        let clean = sanitize_message(message);
        assert!(!clean.contains("secret"), "{clean}");
        assert!(clean.starts_with("Specified signature is not matched"));
    }
}
