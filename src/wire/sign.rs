//! Request signatures as pure functions: v1.0 (HMAC-SHA1, what iotplan sends) and V3
//! (ACS3-HMAC-SHA256, what the current official SDK sends by default).
//!
//! No clock, no randomness and no IO here: callers pass the timestamp and nonce in the parameters
//! or headers, so the official test vectors can be checked byte for byte.

use std::collections::BTreeMap;

use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// The V3 algorithm name, as it opens the `Authorization` header.
pub const V3_ALGORITHM: &str = "ACS3-HMAC-SHA256";

/// RFC 3986 unreserved characters are kept; every other UTF-8 byte becomes upper-case `%XX`.
const SIGNING_SET: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encodes a key or value the way the platform signs it (space is `%20`, `*` is `%2A`).
#[must_use]
pub fn percent_encode(value: &str) -> String {
    utf8_percent_encode(value, SIGNING_SET).to_string()
}

/// Builds the v1.0 canonical query string: pairs sorted by raw key, each side percent-encoded.
#[must_use]
pub fn v1_canonical_query(params: &BTreeMap<String, String>) -> String {
    params
        .iter()
        .filter(|(key, _)| key.as_str() != "Signature")
        .map(|(key, value)| format!("{}={}", percent_encode(key), percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The v1.0 string to sign: `METHOD&%2F&percentEncode(canonical query)`.
#[must_use]
pub fn v1_string_to_sign(method: &str, params: &BTreeMap<String, String>) -> String {
    format!(
        "{}&{}&{}",
        method.to_ascii_uppercase(),
        percent_encode("/"),
        percent_encode(&v1_canonical_query(params))
    )
}

fn sha1_mac(key: &[u8], data: &[u8]) -> Hmac<Sha1> {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac
}

fn sha256_mac(key: &[u8], data: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data);
    mac
}

/// The v1.0 signature: `Base64(HMAC-SHA1(secret + "&", string_to_sign))`.
#[must_use]
pub fn v1_signature(secret: &str, string_to_sign: &str) -> String {
    let key = format!("{secret}&");
    base64::engine::general_purpose::STANDARD.encode(
        sha1_mac(key.as_bytes(), string_to_sign.as_bytes())
            .finalize()
            .into_bytes(),
    )
}

/// Checks a v1.0 signature in constant time.
#[must_use]
pub fn v1_verify(secret: &str, string_to_sign: &str, signature_b64: &str) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(signature_b64) else {
        return false;
    };
    let key = format!("{secret}&");
    sha1_mac(key.as_bytes(), string_to_sign.as_bytes())
        .verify_slice(&given)
        .is_ok()
}

/// Lower-case hex SHA-256 of some bytes (the V3 payload hash).
#[must_use]
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// The V3 canonical query: parameters sorted by key, `key=enc(value)` joined by `&`.
#[must_use]
pub fn v3_canonical_query(query: &BTreeMap<String, String>) -> String {
    query
        .iter()
        .map(|(key, value)| format!("{key}={}", percent_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

/// The parts of a V3 canonical request.
#[derive(Debug, Clone, Copy)]
pub struct V3Request<'a> {
    /// HTTP method, upper case.
    pub method: &'a str,
    /// Path; empty becomes `/`.
    pub path: &'a str,
    /// Decoded query parameters.
    pub query: &'a BTreeMap<String, String>,
    /// Canonical header lines `(lower-case name, trimmed value)`, in signed-headers order.
    pub headers: &'a [(String, String)],
    /// The `SignedHeaders` text (names joined by `;`).
    pub signed_headers: &'a str,
    /// Lower-case hex SHA-256 of the body bytes.
    pub hashed_payload: &'a str,
}

/// Builds the V3 canonical request text.
#[must_use]
pub fn v3_canonical_request(request: &V3Request<'_>) -> String {
    let path = if request.path.is_empty() {
        "/"
    } else {
        request.path
    };
    let headers = request
        .headers
        .iter()
        .fold(String::new(), |mut text, (name, value)| {
            text.push_str(name);
            text.push(':');
            text.push_str(value);
            text.push('\n');
            text
        });
    format!(
        "{}\n{}\n{}\n{}\n{}\n{}",
        request.method,
        path,
        v3_canonical_query(request.query),
        headers,
        request.signed_headers,
        request.hashed_payload
    )
}

/// The V3 string to sign: algorithm name, newline, hex SHA-256 of the canonical request.
#[must_use]
pub fn v3_string_to_sign(canonical_request: &str) -> String {
    format!(
        "{V3_ALGORITHM}\n{}",
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The V3 signature: lower-case hex `HMAC-SHA256(secret, string_to_sign)` (nothing appended to the key).
#[must_use]
pub fn v3_signature(secret: &str, string_to_sign: &str) -> String {
    hex::encode(
        sha256_mac(secret.as_bytes(), string_to_sign.as_bytes())
            .finalize()
            .into_bytes(),
    )
}

/// Checks a V3 signature in constant time.
#[must_use]
pub fn v3_verify(secret: &str, string_to_sign: &str, signature_hex: &str) -> bool {
    let Ok(given) = hex::decode(signature_hex) else {
        return false;
    };
    sha256_mac(secret.as_bytes(), string_to_sign.as_bytes())
        .verify_slice(&given)
        .is_ok()
}

/// Groups raw header pairs into canonical V3 lines: lower-case names sorted, values trimmed, values of
/// one name sorted and joined with `,`.
#[must_use]
pub fn v3_canonical_headers<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Vec<(String, String)> {
    let mut grouped: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        grouped
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(value.trim().to_owned());
    }
    grouped
        .into_iter()
        .map(|(name, mut values)| {
            values.sort();
            (name, values.join(","))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The official vectors, kept in `tests/vectors/` (computed with the official SDK; see
    /// `tests/vectors/README.md`), compiled in so the tests read nothing at run time.
    fn load(text: &str) -> Value {
        serde_json::from_str(text).expect("vectors are JSON")
    }

    fn string_map(value: &Value) -> BTreeMap<String, String> {
        value
            .as_object()
            .map(|object| {
                object
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn every_v1_vector_matches() {
        let vectors = load(include_str!(
            "../../tests/vectors/platform-api-vectors.json"
        ));
        let cases = vectors["cases"].as_array().expect("cases");
        assert_eq!(cases.len(), 10);
        for case in cases {
            let name = case["name"].as_str().unwrap_or_default();
            let params = string_map(&case["params"]);
            let method = case["method"].as_str().expect("method");
            assert_eq!(
                v1_canonical_query(&params),
                case["canonical_query_string"].as_str().expect("canonical"),
                "{name}"
            );
            let to_sign = v1_string_to_sign(method, &params);
            assert_eq!(
                to_sign,
                case["string_to_sign"].as_str().expect("sts"),
                "{name}"
            );
            let secret = case["secret"].as_str().expect("secret");
            let signature = case["signature"].as_str().expect("signature");
            assert_eq!(v1_signature(secret, &to_sign), signature, "{name}");
            assert!(v1_verify(secret, &to_sign, signature), "{name}");
            assert!(!v1_verify("other", &to_sign, signature), "{name}");
        }
    }

    #[test]
    fn every_v3_vector_matches() {
        let vectors = load(include_str!(
            "../../tests/vectors/platform-api-vectors-v3.json"
        ));
        let cases = vectors["cases"].as_array().expect("cases");
        assert_eq!(cases.len(), 6);
        for case in cases {
            let name = case["name"].as_str().unwrap_or_default();
            let inputs = &case["inputs"];
            let body = inputs["body"].as_str().unwrap_or_default();
            let hashed = sha256_hex(body.as_bytes());
            assert_eq!(
                hashed,
                case["hashed_payload"].as_str().expect("hash"),
                "{name}"
            );
            let query = string_map(&inputs["query"]);
            let header_map = string_map(&inputs["headers_before_signing"]);
            let headers =
                v3_canonical_headers(header_map.iter().map(|(k, v)| (k.as_str(), v.as_str())));
            let signed: Vec<&str> = headers.iter().map(|(k, _)| k.as_str()).collect();
            let signed = signed.join(";");
            assert_eq!(
                signed,
                case["signed_headers"].as_str().expect("signed"),
                "{name}"
            );
            let canonical = v3_canonical_request(&V3Request {
                method: inputs["method"].as_str().expect("method"),
                path: inputs["path"].as_str().expect("path"),
                query: &query,
                headers: &headers,
                signed_headers: &signed,
                hashed_payload: &hashed,
            });
            assert_eq!(
                canonical,
                case["canonical_request"].as_str().expect("canonical"),
                "{name}"
            );
            let to_sign = v3_string_to_sign(&canonical);
            assert_eq!(
                to_sign,
                case["string_to_sign"].as_str().expect("sts"),
                "{name}"
            );
            let secret = inputs["access_key_secret"].as_str().expect("secret");
            let signature = v3_signature(secret, &to_sign);
            assert_eq!(
                signature,
                case["signature"].as_str().expect("signature"),
                "{name}"
            );
            assert!(v3_verify(secret, &to_sign, &signature), "{name}");
            assert!(!v3_verify("wrong", &to_sign, &signature), "{name}");
        }
    }

    #[test]
    fn encoding_follows_rfc3986() {
        assert_eq!(
            percent_encode("a b*c~d/e+f=g&h"),
            "a%20b%2Ac~d%2Fe%2Bf%3Dg%26h"
        );
        assert_eq!(percent_encode("智"), "%E6%99%BA");
        assert_eq!(percent_encode("😀"), "%F0%9F%98%80");
    }
}
