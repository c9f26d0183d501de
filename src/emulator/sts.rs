//! What the emulator serves besides the IoT API, so that every way of signing in can be rehearsed
//! offline: STS (AssumeRole, signed; AssumeRoleWithOIDC, anonymous, against a test OIDC issuer),
//! the ECS instance metadata service (hardened mode and IMDSv1), a credentials URI, and a token
//! endpoint shaped like GitHub Actions' (`{"value": <jwt>}`) that issues the test issuer's tokens.
//!
//! Every credential handed out is a short-lived STS key that the IoT endpoints accept until it
//! expires, and refuse with `InvalidSecurityToken.Expired` after.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{AccessKey, Reject};
use crate::secret::Secret;
use crate::wire::codes;

/// The account the emulator plays (its role and OIDC provider ARNs carry it).
pub const ACCOUNT_ID: &str = "1234567890123456";

/// The STS API version.
pub const STS_VERSION: &str = "2015-04-01";

/// The longest session a role allows (the platform's default MaxSessionDuration).
const MAX_SESSION_SECONDS: u64 = 3600;

/// The emulator's test OIDC issuer: tokens are HS256 JWTs signed with `key`.
#[derive(Debug, Clone)]
pub struct OidcIssuer {
    /// The provider's name: its ARN is `acs:ram::<account>:oidc-provider/<name>`.
    pub provider: String,
    /// The `iss` claim required.
    pub issuer: String,
    /// The `aud` claim required.
    pub audience: String,
    /// The `sub` claims the roles trust: exact, or a prefix ending in `*`.
    pub subject: String,
    /// The signing key.
    pub key: Secret,
}

/// How the emulator's STS and metadata service behave.
#[derive(Debug, Clone)]
pub struct StsConfig {
    /// Roles that can be assumed, by name (`acs:ram::<account>:role/<name>`).
    pub roles: Vec<String>,
    /// Credentials live at most this long, whatever was asked (so tests can watch them expire).
    pub max_lifetime: Option<Duration>,
    /// The test OIDC issuer.
    pub oidc: OidcIssuer,
    /// The RAM role of the emulated ECS instance; `None`: the instance has no role.
    pub instance_role: Option<String>,
    /// Whether the metadata service hands out session tokens (hardened mode); without, only
    /// IMDSv1 works.
    pub metadata_tokens: bool,
    /// AccessKeyIds that may not assume any role (answered `NoPermission`).
    pub denied_callers: Vec<String>,
}

impl Default for StsConfig {
    fn default() -> Self {
        Self {
            roles: vec!["iotplan-deployer".to_owned()],
            max_lifetime: None,
            oidc: OidcIssuer {
                provider: "iotplan-emulator".to_owned(),
                issuer: "https://oidc.iotplan.invalid".to_owned(),
                audience: crate::platform::credentials::OIDC_AUDIENCE.to_owned(),
                subject: "*".to_owned(),
                key: Secret::new("iotplan-emulator-oidc-signing-key"),
            },
            instance_role: Some("iotplan-ecs".to_owned()),
            metadata_tokens: true,
            denied_callers: Vec::new(),
        }
    }
}

impl StsConfig {
    /// A role's ARN.
    #[must_use]
    pub fn role_arn(name: &str) -> String {
        format!("acs:ram::{ACCOUNT_ID}:role/{name}")
    }

    /// The test OIDC provider's ARN.
    #[must_use]
    pub fn provider_arn(&self) -> String {
        format!("acs:ram::{ACCOUNT_ID}:oidc-provider/{}", self.oidc.provider)
    }

    fn role_of(&self, arn: &str) -> Option<&str> {
        let name = arn.strip_prefix(&format!("acs:ram::{ACCOUNT_ID}:role/"))?;
        self.roles
            .iter()
            .chain(self.instance_role.iter())
            .find(|r| r.eq_ignore_ascii_case(name))
            .map(String::as_str)
    }

    fn lifetime(&self, asked: Duration) -> Duration {
        self.max_lifetime.map_or(asked, |cap| cap.min(asked))
    }
}

/// The claims of a test issuer's token.
#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject.
    pub sub: String,
    /// Audience.
    pub aud: String,
    /// Issued at (s).
    pub iat: i64,
    /// Expiry (s).
    pub exp: i64,
}

/// Issues a token of the test issuer.
///
/// # Errors
/// When the token cannot be encoded (never with a valid key).
pub fn issue_token(
    issuer: &OidcIssuer,
    subject: &str,
    audience: &str,
    lifetime: Duration,
    now_ms: i64,
) -> Result<String, String> {
    let now = now_ms / 1000;
    let claims = Claims {
        iss: issuer.issuer.clone(),
        sub: subject.to_owned(),
        aud: audience.to_owned(),
        iat: now,
        exp: now + i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX / 2),
    };
    let key = jsonwebtoken::EncodingKey::from_secret(issuer.key.expose().as_bytes())
        .map_err(|e| e.to_string())?;
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &key,
    )
    .map_err(|e| e.to_string())
}

/// STS keys handed out, and metadata session tokens.
#[derive(Default)]
pub(crate) struct Issued {
    keys: HashMap<String, AccessKey>,
    metadata_tokens: HashMap<String, i64>,
}

impl Issued {
    pub(crate) fn key(&self, id: &str) -> Option<AccessKey> {
        self.keys.get(id).cloned()
    }

    /// Every secret handed out: key secrets, security tokens, metadata session tokens.
    pub(crate) fn secrets(&self) -> Vec<Secret> {
        let mut all: Vec<Secret> = self
            .keys
            .values()
            .flat_map(|key| [Some(key.secret.clone()), key.security_token.clone()])
            .flatten()
            .collect();
        all.extend(self.metadata_tokens.keys().map(|t| Secret::new(t.as_str())));
        all
    }

    /// Ends every issued key now: their next use is refused with `InvalidSecurityToken.Expired`.
    pub(crate) fn revoke_all(&mut self, now_ms: i64) {
        for key in self.keys.values_mut() {
            key.expires_ms = Some(now_ms);
        }
    }

    fn issue(&mut self, lifetime: Duration, now_ms: i64) -> (AccessKey, String) {
        let id = format!("STS.{}", uuid::Uuid::new_v4().simple());
        let expires_ms = now_ms + i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX / 2);
        let key = AccessKey {
            id: id.clone(),
            secret: Secret::new(uuid::Uuid::new_v4().simple().to_string()),
            security_token: Some(Secret::new(format!(
                "CAIS{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            ))),
            expires_ms: Some(expires_ms),
        };
        self.keys.insert(id, key.clone());
        (key, crate::wire::time::request_timestamp(expires_ms))
    }
}

fn credentials_json(key: &AccessKey, expiration: &str) -> Value {
    json!({
        "AccessKeyId": key.id,
        "AccessKeySecret": key.secret.expose(),
        "SecurityToken": key.security_token.as_ref().map(Secret::expose),
        "Expiration": expiration,
    })
}

fn bad(code: &str, message: &str) -> Reject {
    Reject::gateway(StatusCode::BAD_REQUEST, code, message)
}

fn refused(code: &str, message: &str) -> Reject {
    Reject::gateway(StatusCode::UNAUTHORIZED, code, message)
}

/// Checks what both AssumeRole calls share and returns the role and the lifetime granted.
fn check_role_request<'c>(
    config: &'c StsConfig,
    params: &BTreeMap<String, String>,
) -> Result<(&'c str, String, Duration), Reject> {
    let get = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    let arn = get("RoleArn");
    if arn.is_empty() {
        return Err(bad(
            "MissingRoleArn",
            "RoleArn is mandatory for this action.",
        ));
    }
    let role = config.role_of(arn).ok_or_else(|| {
        Reject::gateway(
            StatusCode::NOT_FOUND,
            codes::STS_ROLE_NOT_FOUND,
            &format!("The role not exists: {arn}."),
        )
    })?;
    let session = get("RoleSessionName");
    if !(2..=64).contains(&session.len())
        || !session
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '@' | '_' | '-'))
    {
        return Err(bad(
            codes::STS_INVALID_SESSION_NAME,
            "RoleSessionName must be 2-64 characters of [A-Za-z0-9.@_-].",
        ));
    }
    let duration = match get("DurationSeconds") {
        "" => 3600,
        text => text.parse::<u64>().unwrap_or(0),
    };
    if !(900..=MAX_SESSION_SECONDS).contains(&duration) {
        return Err(bad(
            codes::STS_INVALID_DURATION,
            &format!("DurationSeconds must be between 900 and {MAX_SESSION_SECONDS}."),
        ));
    }
    if get("Policy").len() > 2048 {
        return Err(bad(
            codes::INVALID_PARAMETER,
            "Policy is longer than 2048 characters.",
        ));
    }
    Ok((
        role,
        session.to_owned(),
        config.lifetime(Duration::from_secs(duration)),
    ))
}

fn assumed_user(role: &str, session: &str) -> Value {
    json!({
        "Arn": format!("{}/{session}", StsConfig::role_arn(role)),
        "AssumedRoleId": format!("{ACCOUNT_ID}:{session}"),
    })
}

/// AssumeRole, once the gateway verified the caller's signature.
pub(crate) fn assume_role(
    config: &StsConfig,
    issued: &mut Issued,
    caller: &str,
    params: &BTreeMap<String, String>,
    now_ms: i64,
) -> Result<Value, Reject> {
    let (role, session, lifetime) = check_role_request(config, params)?;
    if config.denied_callers.iter().any(|denied| denied == caller) {
        return Err(Reject::gateway(
            StatusCode::FORBIDDEN,
            codes::STS_NO_PERMISSION,
            "You are not authorized to do this action. You should be authorized by RAM.",
        ));
    }
    if let Some(external) = params.get("ExternalId")
        && !(2..=1224).contains(&external.len())
    {
        return Err(bad(
            codes::INVALID_PARAMETER,
            "ExternalId must be 2-1224 characters.",
        ));
    }
    let (key, expiration) = issued.issue(lifetime, now_ms);
    Ok(json!({
        "AssumedRoleUser": assumed_user(role, &session),
        "Credentials": credentials_json(&key, &expiration),
    }))
}

fn subject_trusted(pattern: &str, subject: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => subject.starts_with(prefix),
        None => pattern == subject,
    }
}

/// AssumeRoleWithOIDC: anonymous; the token is checked against the test issuer.
pub(crate) fn assume_role_with_oidc(
    config: &StsConfig,
    issued: &mut Issued,
    params: &BTreeMap<String, String>,
    now_ms: i64,
) -> Result<Value, Reject> {
    let get = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
    let (role, session, lifetime) = check_role_request(config, params)?;
    if get("OIDCProviderArn") != config.provider_arn() {
        return Err(refused(
            codes::STS_OIDC_NO_PERMISSION,
            &format!(
                "No such OIDC provider, or the role does not trust it: {}.",
                get("OIDCProviderArn")
            ),
        ));
    }
    let token = get("OIDCToken");
    if !(4..=20_000).contains(&token.len()) {
        return Err(refused(
            codes::STS_OIDC_INVALID,
            "OIDCToken must be a JWT of 4-20000 characters.",
        ));
    }
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
    validation.leeway = 0;
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let key = jsonwebtoken::DecodingKey::from_secret(config.oidc.key.expose().as_bytes())
        .map_err(|_| Reject::internal("the test issuer's key cannot be used"))?;
    let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
        .map_err(|error| match error.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature => refused(
                codes::STS_OIDC_SIGNATURE,
                "The OIDC token's signature does not verify with the provider's keys.",
            ),
            _ => refused(codes::STS_OIDC_INVALID, "The OIDC token is malformed."),
        })?
        .claims;
    if claims.iss != config.oidc.issuer {
        return Err(refused(
            codes::STS_OIDC_INVALID,
            &format!(
                "The OIDC token's issuer {} is not the provider's.",
                claims.iss
            ),
        ));
    }
    if claims.exp * 1000 <= now_ms {
        return Err(refused(
            codes::STS_OIDC_EXPIRED,
            "The OIDC token has expired.",
        ));
    }
    if claims.aud != config.oidc.audience {
        return Err(refused(
            codes::STS_OIDC_AUDIENCE,
            &format!(
                "The OIDC token's audience {} is not the provider's client ID {}.",
                claims.aud, config.oidc.audience
            ),
        ));
    }
    if !subject_trusted(&config.oidc.subject, &claims.sub) {
        return Err(refused(
            codes::STS_OIDC_NO_PERMISSION,
            &format!("The role does not trust the subject {}.", claims.sub),
        ));
    }
    let (key, expiration) = issued.issue(lifetime, now_ms);
    Ok(json!({
        "AssumedRoleUser": assumed_user(role, &session),
        "Credentials": credentials_json(&key, &expiration),
        "OIDCTokenInfo": {
            "Subject": claims.sub,
            "Issuer": claims.iss,
            "ClientIds": claims.aud,
            "IssuanceTime": crate::wire::time::request_timestamp(claims.iat * 1000),
            "ExpirationTime": crate::wire::time::request_timestamp(claims.exp * 1000),
            "VerificationInfo": "Success",
        },
    }))
}

/// What the metadata service answers: a status and a body.
pub(crate) type Answer = (StatusCode, String);

/// `PUT /latest/api/token`.
pub(crate) fn metadata_token(
    config: &StsConfig,
    issued: &mut Issued,
    ttl: Option<&str>,
    now_ms: i64,
) -> Answer {
    if !config.metadata_tokens {
        return (StatusCode::FORBIDDEN, "hardened mode is off".to_owned());
    }
    let Some(ttl) = ttl
        .and_then(|t| t.parse::<i64>().ok())
        .filter(|t| (1..=21_600).contains(t))
    else {
        return (
            StatusCode::BAD_REQUEST,
            "X-aliyun-ecs-metadata-token-ttl-seconds must be 1-21600".to_owned(),
        );
    };
    let token = uuid::Uuid::new_v4().simple().to_string();
    issued
        .metadata_tokens
        .insert(token.clone(), now_ms + ttl * 1000);
    (StatusCode::OK, token)
}

/// `GET /latest/meta-data/ram/security-credentials/[role]`.
pub(crate) fn metadata_credentials(
    config: &StsConfig,
    issued: &mut Issued,
    role: &str,
    token: Option<&str>,
    now_ms: i64,
) -> Answer {
    if let Some(token) = token
        && issued
            .metadata_tokens
            .get(token)
            .is_none_or(|e| *e <= now_ms)
    {
        return (
            StatusCode::UNAUTHORIZED,
            "invalid metadata token".to_owned(),
        );
    }
    let Some(instance_role) = &config.instance_role else {
        return (StatusCode::NOT_FOUND, "no RAM role is attached".to_owned());
    };
    if role.is_empty() {
        return (StatusCode::OK, instance_role.clone());
    }
    if role != instance_role {
        return (
            StatusCode::NOT_FOUND,
            format!("no role {role} on this instance"),
        );
    }
    (StatusCode::OK, issued_document(config, issued, now_ms))
}

/// The credentials URI's answer.
pub(crate) fn uri_credentials(config: &StsConfig, issued: &mut Issued, now_ms: i64) -> Answer {
    (StatusCode::OK, issued_document(config, issued, now_ms))
}

fn issued_document(config: &StsConfig, issued: &mut Issued, now_ms: i64) -> String {
    let (key, expiration) = issued.issue(
        config.lifetime(Duration::from_secs(MAX_SESSION_SECONDS)),
        now_ms,
    );
    let mut document = credentials_json(&key, &expiration);
    document["Code"] = json!("Success");
    document["LastUpdated"] = json!(crate::wire::time::request_timestamp(now_ms));
    document.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, String)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn code(result: Result<Value, Reject>) -> String {
        match result {
            Err(Reject::Gateway { code, .. }) => code,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn oidc_tokens_are_checked_claim_by_claim() {
        let config = StsConfig {
            oidc: OidcIssuer {
                subject: "repo:org/fleet:*".to_owned(),
                ..StsConfig::default().oidc
            },
            ..StsConfig::default()
        };
        let now = 1_800_000_000_000;
        let mut issued = Issued::default();
        let call = |token: String, issued: &mut Issued| {
            assume_role_with_oidc(
                &config,
                issued,
                &params(&[
                    ("RoleArn", StsConfig::role_arn("iotplan-deployer")),
                    ("OIDCProviderArn", config.provider_arn()),
                    ("OIDCToken", token),
                    ("RoleSessionName", "ci".to_owned()),
                ]),
                now,
            )
        };
        let hour = Duration::from_hours(1);
        let good = issue_token(
            &config.oidc,
            "repo:org/fleet:ref:main",
            "sts.aliyuncs.com",
            hour,
            now,
        )
        .expect("token");
        let answer = call(good, &mut issued).expect("accepted");
        let id = answer["Credentials"]["AccessKeyId"].as_str().expect("id");
        assert!(issued.key(id).is_some());
        assert_eq!(
            answer["OIDCTokenInfo"]["Subject"],
            "repo:org/fleet:ref:main"
        );
        let expired = issue_token(
            &config.oidc,
            "repo:org/fleet:x",
            "sts.aliyuncs.com",
            hour,
            now - 7_200_000,
        )
        .expect("token");
        assert_eq!(code(call(expired, &mut issued)), codes::STS_OIDC_EXPIRED);
        let audience =
            issue_token(&config.oidc, "repo:org/fleet:x", "other", hour, now).expect("token");
        assert_eq!(code(call(audience, &mut issued)), codes::STS_OIDC_AUDIENCE);
        let subject = issue_token(
            &config.oidc,
            "repo:evil/fork:x",
            "sts.aliyuncs.com",
            hour,
            now,
        )
        .expect("token");
        assert_eq!(
            code(call(subject, &mut issued)),
            codes::STS_OIDC_NO_PERMISSION
        );
        let other_key = OidcIssuer {
            key: Secret::new("another key"),
            ..config.oidc.clone()
        };
        let forged = issue_token(
            &other_key,
            "repo:org/fleet:x",
            "sts.aliyuncs.com",
            hour,
            now,
        )
        .expect("token");
        assert_eq!(code(call(forged, &mut issued)), codes::STS_OIDC_SIGNATURE);
        assert_eq!(
            code(call("not-a-jwt".into(), &mut issued)),
            codes::STS_OIDC_INVALID
        );
    }

    #[test]
    fn role_requests_are_checked_and_lifetimes_capped() {
        let config = StsConfig {
            max_lifetime: Some(Duration::from_secs(4)),
            ..StsConfig::default()
        };
        let mut issued = Issued::default();
        let now = 1_800_000_000_000;
        let ask = |arn: String, session: &str, duration: &str, issued: &mut Issued| {
            assume_role(
                &config,
                issued,
                "caller",
                &params(&[
                    ("RoleArn", arn),
                    ("RoleSessionName", session.to_owned()),
                    ("DurationSeconds", duration.to_owned()),
                ]),
                now,
            )
        };
        let arn = StsConfig::role_arn("iotplan-deployer");
        let answer = ask(arn.clone(), "laptop", "900", &mut issued).expect("granted");
        assert_eq!(
            answer["Credentials"]["Expiration"],
            crate::wire::time::request_timestamp(now + 4000)
        );
        assert_eq!(
            code(ask(
                StsConfig::role_arn("nobody"),
                "laptop",
                "900",
                &mut issued
            )),
            codes::STS_ROLE_NOT_FOUND
        );
        assert_eq!(
            code(ask(arn.clone(), "x", "900", &mut issued)),
            codes::STS_INVALID_SESSION_NAME
        );
        assert_eq!(
            code(ask(arn.clone(), "laptop", "60", &mut issued)),
            codes::STS_INVALID_DURATION
        );
        let denied = StsConfig {
            denied_callers: vec!["caller".to_owned()],
            ..config.clone()
        };
        let refused = assume_role(
            &denied,
            &mut issued,
            "caller",
            &params(&[("RoleArn", arn), ("RoleSessionName", "laptop".to_owned())]),
            now,
        );
        assert_eq!(code(refused), codes::STS_NO_PERMISSION);
    }
}
