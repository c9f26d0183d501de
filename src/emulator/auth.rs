//! The gateway's security checks: v1.0 and V3 signatures (constant-time), known AccessKeys, STS
//! tokens, timestamp skew and the shape of the common parameters. Nonce reuse is checked by the
//! caller, which owns the nonce store.

use std::collections::BTreeMap;

use axum::http::{HeaderMap, StatusCode};

use super::Reject;
use crate::secret::Secret;
use crate::wire::codes;
use crate::wire::sign;

/// How far a request's timestamp may be from the emulator's clock.
pub(crate) const MAX_SKEW_MS: i64 = 15 * 60 * 1000;

/// An AccessKey the emulator accepts.
#[derive(Debug, Clone)]
pub struct AccessKey {
    /// The AccessKeyId.
    pub id: String,
    /// The secret.
    pub secret: Secret,
    /// For `STS.` keys, the token that must come with them.
    pub security_token: Option<Secret>,
    /// When an STS key stops working (ms since the epoch); `None` for AccessKeys.
    pub expires_ms: Option<i64>,
}

/// Finds an AccessKey by its ID.
pub(crate) type KeyLookup<'a> = &'a dyn Fn(&str) -> Option<AccessKey>;

/// What a verified request says about itself.
#[derive(Debug)]
pub(crate) struct Verified {
    /// The AccessKeyId.
    pub access_key_id: String,
    /// The Action.
    pub action: String,
    /// The Version.
    pub version: String,
    /// The SignatureNonce.
    pub nonce: String,
}

/// A request as received, decoded.
pub(crate) struct Incoming<'a> {
    /// HTTP method.
    pub method: &'a str,
    /// Path.
    pub path: &'a str,
    /// Decoded query parameters.
    pub query: &'a BTreeMap<String, String>,
    /// Decoded form-body parameters.
    pub body: &'a BTreeMap<String, String>,
    /// The body bytes as received.
    pub raw_body: &'a [u8],
    /// Headers.
    pub headers: &'a HeaderMap,
}

fn bad_request(code: &str, message: &str) -> Reject {
    Reject::gateway(StatusCode::BAD_REQUEST, code, message)
}

fn unknown_key(id: &str) -> Reject {
    Reject::gateway(
        StatusCode::NOT_FOUND,
        codes::ACCESS_KEY_NOT_FOUND,
        &format!("Specified access key is not found: {id}"),
    )
}

fn mismatch(string_to_sign: &str) -> Reject {
    bad_request(
        codes::SIGNATURE_DOES_NOT_MATCH,
        &format!(
            "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
        ),
    )
}

fn check_time(text: &str, now_ms: i64) -> Result<(), Reject> {
    let well_formed =
        text.len() == 20 && text.ends_with('Z') && text.as_bytes().get(10) == Some(&b'T');
    let parsed = text
        .parse::<jiff::Timestamp>()
        .ok()
        .filter(|_| well_formed)
        .ok_or_else(|| {
            bad_request(
                codes::TIMESTAMP_FORMAT,
                "The timestamp must be in the form YYYY-MM-DDThh:mm:ssZ (UTC).",
            )
        })?;
    if (parsed.as_millisecond() - now_ms).abs() > MAX_SKEW_MS {
        return Err(bad_request(
            codes::TIMESTAMP_EXPIRED,
            "The timestamp is more than 15 minutes from the server time.",
        ));
    }
    Ok(())
}

fn find_key(keys: KeyLookup<'_>, id: &str) -> Result<AccessKey, Reject> {
    keys(id).ok_or_else(|| unknown_key(id))
}

fn check_expiry(key: &AccessKey, now_ms: i64) -> Result<(), Reject> {
    match key.expires_ms {
        Some(expires) if expires <= now_ms => Err(bad_request(
            codes::SECURITY_TOKEN_EXPIRED,
            "The security token you provided has expired.",
        )),
        _ => Ok(()),
    }
}

fn check_token(key: &AccessKey, token: Option<&str>) -> Result<(), Reject> {
    match (&key.security_token, token) {
        (None, _) => Ok(()),
        (Some(_), None | Some("")) => Err(bad_request(
            codes::SECURITY_TOKEN_MALFORMED,
            "A security token is required with this AccessKeyId.",
        )),
        (Some(expected), Some(token)) if expected.expose() == token => Ok(()),
        (Some(_), Some(_)) => Err(bad_request(
            codes::SECURITY_TOKEN_MISMATCH,
            "The security token does not belong to this AccessKeyId.",
        )),
    }
}

/// Verifies a request signed with either scheme.
pub(crate) fn verify(
    keys: KeyLookup<'_>,
    incoming: &Incoming<'_>,
    now_ms: i64,
) -> Result<Verified, Reject> {
    let authorization = incoming
        .headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    if authorization.starts_with("ACS3-") {
        verify_v3(keys, incoming, authorization, now_ms)
    } else {
        verify_v1(keys, incoming, now_ms)
    }
}

fn verify_v1(
    keys: KeyLookup<'_>,
    incoming: &Incoming<'_>,
    now_ms: i64,
) -> Result<Verified, Reject> {
    let mut merged = incoming.query.clone();
    merged.extend(incoming.body.iter().map(|(k, v)| (k.clone(), v.clone())));
    for name in [
        "Action",
        "Version",
        "AccessKeyId",
        "SignatureMethod",
        "SignatureVersion",
        "SignatureNonce",
        "Timestamp",
        "Signature",
    ] {
        if merged.get(name).is_none_or(String::is_empty) {
            return Err(bad_request(
                &format!("Missing{name}"),
                &format!(
                    "The input parameter \"{name}\" that is mandatory for processing this request is not supplied."
                ),
            ));
        }
    }
    let key = find_key(keys, &merged["AccessKeyId"])?;
    if merged["SignatureMethod"] != "HMAC-SHA1" {
        return Err(bad_request(
            codes::SIGNATURE_METHOD,
            "Specified signature method is not supported; use HMAC-SHA1.",
        ));
    }
    if merged["SignatureVersion"] != "1.0" {
        return Err(bad_request(
            codes::SIGNATURE_VERSION,
            "Specified signature version is not supported; use 1.0.",
        ));
    }
    check_time(&merged["Timestamp"], now_ms)?;
    let signature = merged.remove("Signature").unwrap_or_default();
    let string_to_sign = sign::v1_string_to_sign(incoming.method, &merged);
    if !sign::v1_verify(key.secret.expose(), &string_to_sign, &signature) {
        return Err(mismatch(&string_to_sign));
    }
    check_token(&key, merged.get("SecurityToken").map(String::as_str))?;
    check_expiry(&key, now_ms)?;
    Ok(Verified {
        access_key_id: key.id.clone(),
        action: merged["Action"].clone(),
        version: merged["Version"].clone(),
        nonce: merged["SignatureNonce"].clone(),
    })
}

struct Authorization<'a> {
    credential: &'a str,
    signed_headers: &'a str,
    signature: &'a str,
}

fn parse_authorization(value: &str) -> Result<Authorization<'_>, Reject> {
    let incomplete = || {
        bad_request(
            codes::INCOMPLETE_SIGNATURE,
            "The Authorization header is malformed.",
        )
    };
    let (algorithm, rest) = value.split_once(' ').ok_or_else(incomplete)?;
    if algorithm != sign::V3_ALGORITHM {
        return Err(bad_request(
            codes::SIGNATURE_METHOD,
            "Specified signature algorithm is not supported; use ACS3-HMAC-SHA256.",
        ));
    }
    let mut parts: BTreeMap<&str, &str> = BTreeMap::new();
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=').ok_or_else(incomplete)?;
        if parts.insert(name, value).is_some() {
            return Err(incomplete());
        }
    }
    let part = |name: &str| {
        parts
            .get(name)
            .copied()
            .filter(|v| !v.is_empty())
            .ok_or_else(incomplete)
    };
    Ok(Authorization {
        credential: part("Credential")?,
        signed_headers: part("SignedHeaders")?,
        signature: part("Signature")?,
    })
}

fn header_values<'h>(headers: &'h HeaderMap, name: &str) -> Result<Vec<&'h str>, Reject> {
    headers
        .get_all(name)
        .iter()
        .map(|value| {
            value.to_str().map_err(|_| {
                bad_request(
                    codes::INCOMPLETE_SIGNATURE,
                    &format!("The header {name} is not valid text."),
                )
            })
        })
        .collect()
}

fn verify_v3(
    keys: KeyLookup<'_>,
    incoming: &Incoming<'_>,
    authorization: &str,
    now_ms: i64,
) -> Result<Verified, Reject> {
    let auth = parse_authorization(authorization)?;
    let signed: Vec<&str> = auth.signed_headers.split(';').collect();
    if signed
        .iter()
        .any(|name| name.is_empty() || *name != name.to_ascii_lowercase())
    {
        return Err(bad_request(
            codes::INCOMPLETE_SIGNATURE,
            "SignedHeaders must list lower-case header names.",
        ));
    }
    let mut must_sign: Vec<String> = [
        "host",
        "x-acs-action",
        "x-acs-version",
        "x-acs-date",
        "x-acs-signature-nonce",
        "x-acs-content-sha256",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    must_sign.extend(
        incoming
            .headers
            .keys()
            .map(|name| name.as_str().to_owned())
            .filter(|name| name.starts_with("x-acs-") || name == "content-type"),
    );
    if let Some(missing) = must_sign
        .iter()
        .find(|name| !signed.contains(&name.as_str()))
    {
        return Err(bad_request(
            codes::INCOMPLETE_SIGNATURE,
            &format!("The header {missing} must be present and signed."),
        ));
    }
    let key = find_key(keys, auth.credential)?;
    let single = |name: &str| -> Result<String, Reject> {
        Ok(header_values(incoming.headers, name)?
            .first()
            .map(|v| v.trim().to_owned())
            .unwrap_or_default())
    };
    let hashed = sign::sha256_hex(incoming.raw_body);
    let mut lines = Vec::with_capacity(signed.len());
    for name in &signed {
        let mut values = header_values(incoming.headers, name)?;
        if values.is_empty() {
            return Err(bad_request(
                codes::INCOMPLETE_SIGNATURE,
                &format!("The signed header {name} is missing."),
            ));
        }
        values.sort_unstable();
        let value = values
            .iter()
            .map(|v| v.trim())
            .collect::<Vec<_>>()
            .join(",");
        lines.push(((*name).to_owned(), value));
    }
    let canonical = sign::v3_canonical_request(&sign::V3Request {
        method: incoming.method,
        path: incoming.path,
        query: incoming.query,
        headers: &lines,
        signed_headers: auth.signed_headers,
        hashed_payload: &hashed,
    });
    let string_to_sign = sign::v3_string_to_sign(&canonical);
    if single("x-acs-content-sha256")? != hashed {
        return Err(mismatch(&string_to_sign));
    }
    if !sign::v3_verify(key.secret.expose(), &string_to_sign, auth.signature) {
        return Err(mismatch(&string_to_sign));
    }
    let token = single("x-acs-security-token")?;
    check_token(&key, Some(token.as_str()))?;
    check_expiry(&key, now_ms)?;
    let declared_id = single("x-acs-accesskey-id")?;
    if !declared_id.is_empty() && declared_id != key.id {
        return Err(bad_request(
            codes::SECURITY_TOKEN_MISMATCH,
            "x-acs-accesskey-id does not match the Credential.",
        ));
    }
    check_time(&single("x-acs-date")?, now_ms)?;
    Ok(Verified {
        access_key_id: key.id.clone(),
        action: single("x-acs-action")?,
        version: single("x-acs-version")?,
        nonce: single("x-acs-signature-nonce")?,
    })
}
