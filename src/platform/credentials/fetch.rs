//! Fetching temporary credentials: STS AssumeRole (signed v1.0 like every RPC call) and
//! AssumeRoleWithOIDC (unsigned), the ECS instance metadata service (hardened mode, IMDSv1 as the
//! fallback), a credentials URI, and GitHub Actions' OIDC token. Every message here is safe to
//! print: requests carry their secrets in the body or headers, never in a URL, and transport
//! failures are described from the error's sources, not its URL.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;

use super::chain::{OidcToken, Provider, RoleRequest};
use super::{Credentials, OIDC_AUDIENCE};
use crate::secret::Secret;
use crate::wire::{codes, sign};

/// The STS API version.
pub(crate) const STS_VERSION: &str = "2015-04-01";

/// Timeouts of the instance metadata service: it answers at once on ECS, so iotplan fails fast
/// anywhere else.
const METADATA_TIMEOUT: Duration = Duration::from_secs(1);

/// The metadata session token's lifetime asked for.
const METADATA_TOKEN_TTL_SECONDS: u32 = 21_600;

/// Credentials and when they stop working.
#[derive(Debug, Clone)]
pub(crate) struct Lease {
    /// The credentials.
    pub credentials: Credentials,
    /// When they were obtained.
    pub obtained: jiff::Timestamp,
    /// When they expire (`None`: they do not).
    pub expiration: Option<jiff::Timestamp>,
}

/// The HTTP clients credential providers use.
pub(crate) struct Http {
    sts: reqwest::Client,
    metadata: reqwest::Client,
}

impl Http {
    pub(crate) fn new() -> Result<Self, String> {
        let build = |builder: reqwest::ClientBuilder| {
            builder
                .user_agent(concat!("iotplan/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("cannot set up the HTTP client: {e}"))
        };
        Ok(Self {
            sts: build(
                reqwest::Client::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .timeout(Duration::from_secs(20)),
            )?,
            metadata: build(
                reqwest::Client::builder()
                    .connect_timeout(METADATA_TIMEOUT)
                    .read_timeout(METADATA_TIMEOUT)
                    .no_proxy(),
            )?,
        })
    }
}

/// Obtains credentials from a provider.
pub(crate) async fn fetch(provider: &Provider, http: &Http) -> Result<Lease, String> {
    let obtained = jiff::Timestamp::now();
    match provider {
        Provider::Static(credentials) => Ok(Lease {
            credentials: credentials.clone(),
            obtained,
            expiration: None,
        }),
        Provider::AssumeRole { source, role, sts } => {
            let source = Box::pin(fetch(source, http))
                .await
                .map_err(|e| format!("the credentials that sign AssumeRole: {e}"))?;
            assume_role(http, sts, &source.credentials, role).await
        }
        Provider::Oidc {
            role,
            provider_arn,
            token,
            sts,
        } => {
            let token = oidc_token(http, token).await?;
            assume_role_with_oidc(http, sts, role, provider_arn, &token).await
        }
        Provider::EcsRole {
            role_name,
            endpoint,
            imdsv1_disabled,
        } => ecs_role(http, endpoint, role_name.as_deref(), *imdsv1_disabled).await,
        Provider::Uri(url) => credentials_uri(http, url).await,
    }
}

/// A transport failure, described without the URL (whose query may hold a token).
fn unreachable(what: &str, error: &reqwest::Error) -> String {
    let (cause, detail) = crate::platform::transport_cause(error);
    if detail.is_empty() {
        format!("{what}: {cause}")
    } else {
        format!("{what}: {cause} ({detail})")
    }
}

/// What a credentials answer carries (STS `Credentials`, metadata and URI bodies alike).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Issued {
    #[serde(default)]
    code: Option<String>,
    access_key_id: String,
    access_key_secret: Secret,
    security_token: Secret,
    expiration: String,
}

impl Issued {
    fn lease(self, obtained: jiff::Timestamp) -> Result<Lease, String> {
        let expiration = self.expiration.parse::<jiff::Timestamp>().map_err(|e| {
            format!(
                "the Expiration `{}` is not a UTC time: {e}",
                self.expiration
            )
        })?;
        Ok(Lease {
            credentials: Credentials {
                access_key_id: self.access_key_id,
                access_key_secret: self.access_key_secret,
                security_token: Some(self.security_token),
            },
            obtained,
            expiration: Some(expiration),
        })
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StsAnswer {
    credentials: Issued,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct StsError {
    code: String,
    message: String,
    request_id: String,
}

/// What to do about an STS error code.
fn sts_hint(code: &str) -> &'static str {
    match code {
        codes::STS_ROLE_NOT_FOUND => "check the role ARN (acs:ram::<account id>:role/<name>)",
        codes::STS_NO_PERMISSION => {
            "the signing identity may not assume this role: allow it sts:AssumeRole, and trust it in the role's trust policy"
        }
        codes::STS_OIDC_NO_PERMISSION => {
            "check the OIDC provider ARN, and that the role's trust policy trusts that provider"
        }
        codes::STS_OIDC_AUDIENCE => {
            "ask the CI system for a token with audience sts.aliyuncs.com (GitHub: the job asks it; GitLab: id_tokens: {NAME: {aud: sts.aliyuncs.com}})"
        }
        codes::STS_OIDC_EXPIRED => {
            "the OIDC token file holds an expired token: the CI system must write a fresh one"
        }
        codes::STS_OIDC_INVALID | codes::STS_OIDC_SIGNATURE => {
            "the OIDC token is not one the provider accepts: check the issuer, subject (the role's trust condition) and that the file holds the raw JWT"
        }
        codes::STS_INVALID_DURATION => {
            "expired_seconds must be 900 or more, and at most the role's maximum session duration"
        }
        codes::STS_INVALID_SESSION_NAME => {
            "the session name must be 2-64 of A-Z a-z 0-9 . @ _ -: set ram_session_name or ALIBABA_CLOUD_ROLE_SESSION_NAME"
        }
        _ => "check the role and the identity asking for it",
    }
}

async fn sts_call(
    http: &Http,
    sts: &str,
    action: &str,
    params: BTreeMap<String, String>,
) -> Result<Lease, String> {
    let obtained = jiff::Timestamp::now();
    let response = http
        .sts
        .post(format!("{sts}/"))
        .form(&params)
        .send()
        .await
        .map_err(|e| unreachable(&format!("STS {action} at {sts}"), &e))?;
    let status = response.status().as_u16();
    let body = response
        .bytes()
        .await
        .map_err(|e| unreachable(&format!("STS {action} at {sts}"), &e))?;
    if status == 200 {
        let answer: StsAnswer = serde_json::from_slice(&body)
            .map_err(|e| format!("STS {action}: the answer could not be read: {e}"))?;
        return answer.credentials.lease(obtained);
    }
    let error: StsError = serde_json::from_slice(&body).unwrap_or_default();
    let code = if error.code.is_empty() {
        "no error code"
    } else {
        &error.code
    };
    Err(format!(
        "STS {action} refused: {code}: {} (HTTP {status}{}); hint: {}",
        crate::platform::sanitize_message(&error.message),
        if error.request_id.is_empty() {
            String::new()
        } else {
            format!(", RequestId {}", error.request_id)
        },
        sts_hint(&error.code)
    ))
}

fn role_params(action: &str, role: &RoleRequest) -> BTreeMap<String, String> {
    let mut params: BTreeMap<String, String> = [
        ("Action", action.to_owned()),
        ("Version", STS_VERSION.to_owned()),
        ("Format", "JSON".to_owned()),
        ("Timestamp", crate::wire::time::request_timestamp_now()),
        ("RoleArn", role.arn.clone()),
        ("RoleSessionName", role.session_name.clone()),
        ("DurationSeconds", role.duration_seconds.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    if let Some(policy) = &role.policy {
        params.insert("Policy".into(), policy.clone());
    }
    params
}

/// STS AssumeRole, signed with `source`.
async fn assume_role(
    http: &Http,
    sts: &str,
    source: &Credentials,
    role: &RoleRequest,
) -> Result<Lease, String> {
    let mut params = role_params("AssumeRole", role);
    if let Some(external_id) = &role.external_id {
        params.insert("ExternalId".into(), external_id.clone());
    }
    params.insert("AccessKeyId".into(), source.access_key_id.clone());
    params.insert("SignatureMethod".into(), "HMAC-SHA1".into());
    params.insert("SignatureVersion".into(), "1.0".into());
    params.insert(
        "SignatureNonce".into(),
        uuid::Uuid::new_v4().simple().to_string(),
    );
    if let Some(token) = &source.security_token {
        params.insert("SecurityToken".into(), token.expose().to_owned());
    }
    let string_to_sign = sign::v1_string_to_sign("POST", &params);
    params.insert(
        "Signature".into(),
        sign::v1_signature(source.access_key_secret.expose(), &string_to_sign),
    );
    sts_call(http, sts, "AssumeRole", params).await
}

/// STS AssumeRoleWithOIDC: anonymous, the token is the proof.
async fn assume_role_with_oidc(
    http: &Http,
    sts: &str,
    role: &RoleRequest,
    provider_arn: &str,
    token: &Secret,
) -> Result<Lease, String> {
    let mut params = role_params("AssumeRoleWithOIDC", role);
    params.insert("OIDCProviderArn".into(), provider_arn.to_owned());
    params.insert("OIDCToken".into(), token.expose().to_owned());
    sts_call(http, sts, "AssumeRoleWithOIDC", params).await
}

/// The OIDC token, read again at every refresh.
async fn oidc_token(http: &Http, token: &OidcToken) -> Result<Secret, String> {
    match token {
        OidcToken::File(path) => {
            let text = tokio::fs::read_to_string(path)
                .await
                .map_err(|e| format!("cannot read the OIDC token file {}: {e}", path.display()))?;
            let text = text.trim();
            if text.is_empty() {
                return Err(format!("the OIDC token file {} is empty", path.display()));
            }
            Ok(Secret::new(text))
        }
        OidcToken::GitHub { url, bearer } => {
            #[derive(Deserialize)]
            struct Answer {
                value: Secret,
            }
            let what = "the GitHub Actions OIDC token request (ACTIONS_ID_TOKEN_REQUEST_URL)";
            let response = http
                .sts
                .get(url)
                .query(&[("audience", OIDC_AUDIENCE)])
                .bearer_auth(bearer.expose())
                .send()
                .await
                .map_err(|e| unreachable(what, &e))?;
            let status = response.status();
            if !status.is_success() {
                return Err(format!(
                    "{what} was answered HTTP {}; hint: give the job `permissions: id-token: write`",
                    status.as_u16()
                ));
            }
            let answer: Answer = response
                .json()
                .await
                .map_err(|e| format!("{what}: the answer could not be read: {e}"))?;
            Ok(answer.value)
        }
    }
}

/// The metadata service: token (hardened mode), role name, credentials.
async fn ecs_role(
    http: &Http,
    endpoint: &str,
    role_name: Option<&str>,
    imdsv1_disabled: bool,
) -> Result<Lease, String> {
    let obtained = jiff::Timestamp::now();
    let token = match http
        .metadata
        .put(format!("{endpoint}/latest/api/token"))
        .header(
            "X-aliyun-ecs-metadata-token-ttl-seconds",
            METADATA_TOKEN_TTL_SECONDS.to_string(),
        )
        .send()
        .await
    {
        Ok(response) if response.status().is_success() => {
            Some(Secret::new(response.text().await.map_err(|e| {
                unreachable("the metadata service's token", &e)
            })?))
        }
        Ok(response) if imdsv1_disabled => {
            return Err(format!(
                "the metadata service refused a session token (HTTP {}) and ALIBABA_CLOUD_IMDSV1_DISABLED=true forbids going on without one",
                response.status().as_u16()
            ));
        }
        Err(error) if imdsv1_disabled => {
            return Err(format!(
                "{}; ALIBABA_CLOUD_IMDSV1_DISABLED=true forbids going on without a session token",
                unreachable(&format!("the metadata service at {endpoint}"), &error)
            ));
        }
        Err(error) if crate::platform::transport_cause(&error).0.before_sending() => {
            // Nothing answers at all: not on ECS.
            return Err(format!(
                "{} (not an ECS instance?)",
                unreachable(&format!("the metadata service at {endpoint}"), &error)
            ));
        }
        _ => None,
    };
    let get = |path: String| {
        let mut request = http.metadata.get(format!("{endpoint}{path}"));
        if let Some(token) = &token {
            request = request.header("X-aliyun-ecs-metadata-token", token.expose());
        }
        request.send()
    };
    let base = "/latest/meta-data/ram/security-credentials/";
    let role = if let Some(role) = role_name {
        role.to_owned()
    } else {
        {
            let response = get(base.to_owned())
                .await
                .map_err(|e| unreachable("the metadata service", &e))?;
            if !response.status().is_success() {
                return Err(format!(
                    "the metadata service has no RAM role for this instance (HTTP {}); hint: attach a RAM role to the instance, or set ALIBABA_CLOUD_ECS_METADATA",
                    response.status().as_u16()
                ));
            }
            let text = response
                .text()
                .await
                .map_err(|e| unreachable("the metadata service", &e))?;
            let role = text.lines().next().unwrap_or_default().trim().to_owned();
            if role.is_empty() {
                return Err(
                    "the metadata service names no RAM role for this instance; hint: attach one"
                        .to_owned(),
                );
            }
            role
        }
    };
    let response = get(format!("{base}{role}"))
        .await
        .map_err(|e| unreachable("the metadata service", &e))?;
    if !response.status().is_success() {
        return Err(format!(
            "the metadata service has no credentials for the role `{role}` (HTTP {}); hint: check the role attached to the instance (ALIBABA_CLOUD_ECS_METADATA)",
            response.status().as_u16()
        ));
    }
    let issued: Issued = response
        .json()
        .await
        .map_err(|e| format!("the metadata service's credentials could not be read: {e}"))?;
    match issued.code.as_deref() {
        Some("Success") => issued.lease(obtained),
        other => Err(format!(
            "the metadata service answered Code {} for the role `{role}`",
            other.unwrap_or("(none)")
        )),
    }
}

/// A credentials URI.
async fn credentials_uri(http: &Http, url: &str) -> Result<Lease, String> {
    let obtained = jiff::Timestamp::now();
    // The URL is shown without its query, which may carry a token.
    let shown = url.split('?').next().unwrap_or_default();
    let response = http
        .sts
        .get(url)
        .send()
        .await
        .map_err(|e| unreachable(&format!("the credentials URI {shown}"), &e))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!(
            "the credentials URI {shown} answered HTTP {}",
            status.as_u16()
        ));
    }
    let issued: Issued = response.json().await.map_err(|e| {
        format!("the credentials URI {shown} answered what is not credentials: {e}")
    })?;
    match issued.code.as_deref() {
        Some("Success") => issued.lease(obtained),
        other => Err(format!(
            "the credentials URI {shown} answered Code {}",
            other.unwrap_or("(none)")
        )),
    }
}
