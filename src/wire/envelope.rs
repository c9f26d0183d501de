//! Response envelopes: success (fields beside `RequestId` and `Success`), business errors (HTTP 200,
//! `Success: false`, `Code` and `ErrorMessage`) and gateway errors (HTTP 4xx/5xx, `Code` and `Message`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A gateway (POP) error body, sent with a 4xx or 5xx status before any business logic runs.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct GatewayError {
    /// The request's id.
    pub request_id: String,
    /// The host that answered.
    #[serde(default)]
    pub host_id: String,
    /// The error code, e.g. `SignatureDoesNotMatch`.
    pub code: String,
    /// The message.
    #[serde(default)]
    pub message: String,
    /// A troubleshooting link.
    #[serde(default)]
    pub recommend: String,
}

/// A business error body: HTTP 200 with `Success: false`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "PascalCase")]
pub struct BusinessError {
    /// The request's id.
    pub request_id: String,
    /// Always false.
    pub success: bool,
    /// The error code, e.g. `iot.device.NotExistedDevice`.
    pub code: String,
    /// The message (never parsed: it may be localised).
    pub error_message: String,
    /// Detail some operations attach (BatchCheckDeviceNames' invalid-name lists).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
}

/// Wraps an operation's response fields with `RequestId` and `Success: true`.
#[must_use]
pub fn success_body(request_id: &str, fields: Value) -> Value {
    let mut object = match fields {
        Value::Object(object) => object,
        _ => serde_json::Map::new(),
    };
    object.insert("RequestId".to_owned(), Value::String(request_id.to_owned()));
    object.insert("Success".to_owned(), Value::Bool(true));
    Value::Object(object)
}
