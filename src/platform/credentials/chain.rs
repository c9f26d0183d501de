//! The credential chain, in the official SDKs' order, first match wins:
//!
//! 1. the environment's AccessKey (`ALIBABA_CLOUD_ACCESS_KEY_ID`/`_SECRET`, optional
//!    `_SECURITY_TOKEN`);
//! 2. OIDC from the environment (`ALIBABA_CLOUD_ROLE_ARN`, `_OIDC_PROVIDER_ARN`,
//!    `_OIDC_TOKEN_FILE`; in GitHub Actions the token may come from the job itself);
//! 3. the aliyun CLI profile (`~/.aliyun/config.json`: `ALIBABA_CLOUD_PROFILE`, else `current`);
//! 4. `~/.alibabacloud/credentials.ini` (`ALIBABA_CLOUD_CREDENTIALS_FILE`; section
//!    `ALIBABA_CLOUD_PROFILE`, else `default`);
//! 5. the ECS instance metadata service (unless `ALIBABA_CLOUD_ECS_METADATA_DISABLED=true`);
//! 6. `ALIBABA_CLOUD_CREDENTIALS_URI`.
//!
//! Steps 1–4 are settled here, from the environment and files, without the network. A source that
//! is set up but broken (half an AccessKey, part of the OIDC variables, a profile in a mode iotplan
//! cannot serve, a profile name found nowhere) is an error, never a silent fall-through to the next
//! identity. Steps 5 and 6 can only be told apart by asking, so they stay candidates that
//! [`super::CredentialSource`] tries in order.

use std::path::{Path, PathBuf};

use super::files;
use super::{
    ConfigError, Credentials, ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET, ENV_CLI_PROFILE_DISABLED,
    ENV_CREDENTIALS_FILE, ENV_CREDENTIALS_URI, ENV_ECS_METADATA, ENV_ECS_METADATA_DISABLED,
    ENV_ECS_METADATA_ENDPOINT, ENV_GITHUB_TOKEN_BEARER, ENV_GITHUB_TOKEN_URL, ENV_IMDSV1_DISABLED,
    ENV_OIDC_PROVIDER_ARN, ENV_OIDC_TOKEN_FILE, ENV_PROFILE, ENV_REGION, ENV_ROLE_ARN,
    ENV_ROLE_SESSION_NAME, ENV_SECURITY_TOKEN, ENV_STS_ENDPOINT, ENV_STS_REGION,
};
use crate::secret::Secret;

/// The instance metadata service's address on ECS.
pub const DEFAULT_METADATA_ENDPOINT: &str = "http://100.100.100.200";

/// A role to assume through STS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRequest {
    /// `acs:ram::<uid>:role/<name>`.
    pub arn: String,
    /// The session name (2–64 of `[A-Za-z0-9.@_-]`).
    pub session_name: String,
    /// The credentials' lifetime asked for.
    pub duration_seconds: u32,
    /// A policy narrowing the role's permissions.
    pub policy: Option<String>,
    /// The role's external ID.
    pub external_id: Option<String>,
}

/// Where an OIDC token is read, again at every refresh.
#[derive(Debug, Clone)]
pub enum OidcToken {
    /// A file (GitLab `id_tokens` written out, Kubernetes projected tokens, …).
    File(PathBuf),
    /// GitHub Actions' token request URL, asked with its bearer token for audience
    /// `sts.aliyuncs.com`.
    GitHub {
        /// `ACTIONS_ID_TOKEN_REQUEST_URL`.
        url: String,
        /// `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
        bearer: Secret,
    },
}

/// How credentials are obtained.
#[derive(Debug, Clone)]
pub enum Provider {
    /// Fixed credentials (an AccessKey, or an STS token given as is).
    Static(Credentials),
    /// STS AssumeRole, signed with the credentials of `source`.
    AssumeRole {
        /// Whose credentials sign the call.
        source: Box<Provider>,
        /// The role.
        role: RoleRequest,
        /// STS endpoint URL.
        sts: String,
    },
    /// STS AssumeRoleWithOIDC (an unsigned call).
    Oidc {
        /// The role.
        role: RoleRequest,
        /// `acs:ram::<uid>:oidc-provider/<name>`.
        provider_arn: String,
        /// Where the token comes from.
        token: OidcToken,
        /// STS endpoint URL.
        sts: String,
    },
    /// The ECS instance's RAM role, from the metadata service.
    EcsRole {
        /// The role name; asked of the service when not given.
        role_name: Option<String>,
        /// The service's address.
        endpoint: String,
        /// Refuse to go on without the metadata session token.
        imdsv1_disabled: bool,
    },
    /// A URL answering `{Code: "Success", AccessKeyId, AccessKeySecret, SecurityToken, Expiration}`.
    Uri(String),
}

impl Provider {
    /// Whether the credentials it gives expire and are fetched again.
    #[must_use]
    pub fn is_temporary(&self) -> bool {
        !matches!(self, Provider::Static(_))
    }

    /// The provider's kind, as `-v` and reports name it.
    #[must_use]
    pub fn kind(&self) -> String {
        match self {
            Provider::Static(credentials) if credentials.security_token.is_some() => {
                "STS token".to_owned()
            }
            Provider::Static(_) => "AccessKey".to_owned(),
            Provider::AssumeRole { role, .. } => format!("AssumeRole {}", role.arn),
            Provider::Oidc { role, token, .. } => format!(
                "AssumeRoleWithOIDC {} (token from {})",
                role.arn,
                match token {
                    OidcToken::File(path) => path.display().to_string(),
                    OidcToken::GitHub { .. } => "the GitHub Actions job".to_owned(),
                }
            ),
            Provider::EcsRole { role_name, .. } => format!(
                "ECS instance RAM role {}",
                role_name.as_deref().unwrap_or("(discovered)")
            ),
            Provider::Uri(_) => "credentials URI".to_owned(),
        }
    }
}

/// A provider and where it was found.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// How credentials are obtained.
    pub provider: Provider,
    /// Where it was configured, e.g. "aliyun CLI profile `ci` (~/.aliyun/config.json)".
    pub origin: String,
}

/// The candidates, in order, and what each earlier source of the chain said.
#[derive(Debug, Clone)]
pub struct Chain {
    /// Tried in order until one gives credentials.
    pub candidates: Vec<Candidate>,
    /// Sources passed over before them, with why.
    pub passed: Vec<(String, String)>,
}

impl Chain {
    /// A chain of one fixed set of credentials.
    #[must_use]
    pub fn fixed(credentials: Credentials, origin: &str) -> Self {
        Self {
            candidates: vec![Candidate {
                provider: Provider::Static(credentials),
                origin: origin.to_owned(),
            }],
            passed: Vec::new(),
        }
    }
}

/// Where the chain's files are.
#[derive(Debug, Clone, Default)]
pub struct Paths {
    /// `~/.aliyun/config.json`.
    pub aliyun_config: Option<PathBuf>,
    /// `~/.alibabacloud/credentials.ini` (the environment may name another).
    pub credentials_ini: Option<PathBuf>,
}

impl Paths {
    /// The files under the home directory.
    #[must_use]
    pub fn in_home() -> Self {
        let home = dirs::home_dir();
        Self {
            aliyun_config: home.as_ref().map(|h| h.join(".aliyun").join("config.json")),
            credentials_ini: home.map(|h| h.join(".alibabacloud").join("credentials.ini")),
        }
    }
}

/// What was asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `--profile`: only that profile (aliyun CLI file, then `credentials.ini`).
    pub profile: Option<String>,
    /// `--region` (or a manifest's region).
    pub region: Option<String>,
}

/// The chain and the region.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// Where credentials come from.
    pub chain: Chain,
    /// The region, if any was found.
    pub region: Option<String>,
}

/// Reads the environment, for the chain and the profile files.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

pub(super) fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

pub(super) fn is_true(env: Env<'_>, key: &str) -> bool {
    env(key).is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The role session name when none is configured: `ALIBABA_CLOUD_ROLE_SESSION_NAME`, else
/// `iotplan-<unix seconds>`.
pub(super) fn session_name(configured: Option<String>, env: Env<'_>) -> String {
    non_empty(configured)
        .or_else(|| non_empty(env(ENV_ROLE_SESSION_NAME)))
        .unwrap_or_else(|| format!("iotplan-{}", jiff::Timestamp::now().as_second()))
}

/// The STS endpoint URL: `ALIBABA_CLOUD_STS_ENDPOINT`, else the profile's `sts_endpoint`, else
/// `sts.<sts_region>.aliyuncs.com` (the profile's, else `ALIBABA_CLOUD_STS_REGION`), else
/// `sts.aliyuncs.com`. A host without a scheme is HTTPS; plain HTTP only to this machine.
pub(super) fn sts_endpoint(
    configured: Option<String>,
    region: Option<String>,
    env: Env<'_>,
) -> Result<String, ConfigError> {
    let host = non_empty(env(ENV_STS_ENDPOINT))
        .or(non_empty(configured))
        .or_else(|| {
            non_empty(region)
                .or_else(|| non_empty(env(ENV_STS_REGION)))
                .map(|r| format!("sts.{r}.aliyuncs.com"))
        })
        .unwrap_or_else(|| "sts.aliyuncs.com".to_owned());
    let url = if host.starts_with("http://") || host.starts_with("https://") {
        host.trim_end_matches('/').to_owned()
    } else {
        format!("https://{}", host.trim_end_matches('/'))
    };
    let invalid = |reason: &str| ConfigError::InvalidEndpoint {
        what: "the STS endpoint",
        endpoint: url.clone(),
        reason: reason.to_owned(),
    };
    let parsed = reqwest::Url::parse(&url).map_err(|e| invalid(&e.to_string()))?;
    let host = parsed.host_str().unwrap_or_default();
    if parsed.scheme() == "http" && !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        return Err(invalid(
            "plain HTTP is allowed only to this machine (an emulator); use https://",
        ));
    }
    Ok(url)
}

/// Settles the chain and the region from the request, the environment and the files.
///
/// # Errors
/// A `ConfigError` naming what to set or fix.
pub fn resolve(request: &Request, env: Env<'_>, paths: &Paths) -> Result<Resolved, ConfigError> {
    let (chain, profile_region) = settle(request, env, paths)?;
    let region = request
        .region
        .clone()
        .or_else(|| non_empty(env(ENV_REGION)))
        .or(profile_region);
    if let Some(region) = &region {
        let from = if request.region.as_deref() == Some(region.as_str()) {
            "--region or the manifest"
        } else if non_empty(env(ENV_REGION)).as_deref() == Some(region.as_str()) {
            ENV_REGION
        } else {
            "the profile's region_id"
        };
        super::check_region(region, from)?;
    }
    Ok(Resolved { chain, region })
}

fn one(provider: Provider, origin: String, passed: Vec<(String, String)>) -> Chain {
    Chain {
        candidates: vec![Candidate { provider, origin }],
        passed,
    }
}

fn ini_path(env: Env<'_>, paths: &Paths) -> Option<PathBuf> {
    non_empty(env(ENV_CREDENTIALS_FILE))
        .map(PathBuf::from)
        .or_else(|| paths.credentials_ini.clone())
}

fn shown(path: Option<&Path>) -> String {
    path.map_or_else(
        || "(no home directory)".to_owned(),
        |p| p.display().to_string(),
    )
}

fn settle(
    request: &Request,
    env: Env<'_>,
    paths: &Paths,
) -> Result<(Chain, Option<String>), ConfigError> {
    let config_path = paths.aliyun_config.as_deref();
    let ini = ini_path(env, paths);
    if let Some(name) = &request.profile {
        return named_profile(name, env, config_path, ini.as_deref());
    }
    let mut passed = Vec::new();

    // 1. The environment's AccessKey.
    let id = non_empty(env(ENV_ACCESS_KEY_ID));
    let secret = non_empty(env(ENV_ACCESS_KEY_SECRET));
    match (id, secret) {
        (Some(access_key_id), Some(secret)) => {
            let credentials = Credentials {
                access_key_id,
                access_key_secret: Secret::new(secret),
                security_token: non_empty(env(ENV_SECURITY_TOKEN)).map(Secret::new),
            };
            let origin = format!("the environment ({ENV_ACCESS_KEY_ID})");
            return Ok((one(Provider::Static(credentials), origin, passed), None));
        }
        (Some(_), None) => {
            return Err(ConfigError::HalfCredentials {
                present: ENV_ACCESS_KEY_ID,
                missing: ENV_ACCESS_KEY_SECRET,
            });
        }
        (None, Some(_)) => {
            return Err(ConfigError::HalfCredentials {
                present: ENV_ACCESS_KEY_SECRET,
                missing: ENV_ACCESS_KEY_ID,
            });
        }
        (None, None) => passed.push((
            "the environment".to_owned(),
            format!("{ENV_ACCESS_KEY_ID} is not set"),
        )),
    }

    // 2. OIDC from the environment.
    if let Some(provider) = oidc_from_env(env)? {
        let origin = format!("OIDC from the environment ({ENV_ROLE_ARN})");
        return Ok((one(provider, origin, passed), None));
    }
    passed.push((
        "OIDC from the environment".to_owned(),
        format!("{ENV_ROLE_ARN} is not set"),
    ));

    // 3. The aliyun CLI profile.
    let named = non_empty(env(ENV_PROFILE));
    let cli_source = "the aliyun CLI profile".to_owned();
    if is_true(env, ENV_CLI_PROFILE_DISABLED) {
        passed.push((cli_source, format!("{ENV_CLI_PROFILE_DISABLED} is true")));
    } else if let Some(path) = config_path.filter(|p| p.exists()) {
        let file = files::load_config(path)?;
        let name = named.clone().unwrap_or_else(|| file.current.clone());
        if file.has(&name) {
            let (provider, region) = files::config_provider(&file, path, &name, env)?;
            let origin = format!("aliyun CLI profile `{name}` ({})", path.display());
            return Ok((one(provider, origin, passed), region));
        }
        passed.push((
            cli_source,
            format!("{} has no profile `{name}`", path.display()),
        ));
    } else {
        passed.push((cli_source, format!("{} does not exist", shown(config_path))));
    }

    // 4. credentials.ini.
    let section = named.clone().unwrap_or_else(|| "default".to_owned());
    let ini_source = "the credentials file".to_owned();
    match ini.as_deref() {
        Some(path) if path.exists() => {
            let file = files::load_ini(path)?;
            if let Some(provider) = files::ini_provider(&file, path, &section, env)? {
                let origin = format!("section [{section}] of {}", path.display());
                return Ok((one(provider, origin, passed), None));
            }
            passed.push((
                ini_source,
                format!("{} has no section [{section}]", path.display()),
            ));
        }
        Some(path) if non_empty(env(ENV_CREDENTIALS_FILE)).is_some() => {
            return Err(ConfigError::ProfileFile {
                path: path.to_owned(),
                reason: format!("the file {ENV_CREDENTIALS_FILE} names does not exist"),
            });
        }
        other => passed.push((ini_source, format!("{} does not exist", shown(other)))),
    }
    if let Some(name) = named {
        // A profile asked for by name and found nowhere is an error, not another identity.
        return Err(ConfigError::ProfileNotFound {
            name,
            searched: format!("{} nor {}", shown(config_path), shown(ini.as_deref())),
            available: files::available(config_path, ini.as_deref()),
        });
    }

    // 5. and 6. Only asking tells whether they answer.
    let mut candidates = Vec::new();
    if is_true(env, ENV_ECS_METADATA_DISABLED) {
        passed.push((
            "the ECS instance metadata service".to_owned(),
            format!("{ENV_ECS_METADATA_DISABLED} is true"),
        ));
    } else {
        candidates.push(Candidate {
            provider: ecs_role(non_empty(env(ENV_ECS_METADATA)), env),
            origin: "the ECS instance metadata service".to_owned(),
        });
    }
    match non_empty(env(ENV_CREDENTIALS_URI)) {
        Some(url) => candidates.push(Candidate {
            provider: Provider::Uri(url),
            origin: format!("the credentials URI ({ENV_CREDENTIALS_URI})"),
        }),
        None => passed.push((
            "the credentials URI".to_owned(),
            format!("{ENV_CREDENTIALS_URI} is not set"),
        )),
    }
    if candidates.is_empty() {
        return Err(ConfigError::MissingCredentials { said: passed });
    }
    Ok((Chain { candidates, passed }, None))
}

pub(super) fn ecs_role(role_name: Option<String>, env: Env<'_>) -> Provider {
    Provider::EcsRole {
        role_name,
        endpoint: non_empty(env(ENV_ECS_METADATA_ENDPOINT))
            .unwrap_or_else(|| DEFAULT_METADATA_ENDPOINT.to_owned())
            .trim_end_matches('/')
            .to_owned(),
        imdsv1_disabled: is_true(env, ENV_IMDSV1_DISABLED),
    }
}

/// `--profile NAME`: the aliyun CLI profile of that name, else the `credentials.ini` section.
fn named_profile(
    name: &str,
    env: Env<'_>,
    config_path: Option<&Path>,
    ini: Option<&Path>,
) -> Result<(Chain, Option<String>), ConfigError> {
    if let Some(path) = config_path.filter(|p| p.exists()) {
        let file = files::load_config(path)?;
        if file.has(name) {
            let (provider, region) = files::config_provider(&file, path, name, env)?;
            let origin = format!("aliyun CLI profile `{name}` ({})", path.display());
            return Ok((one(provider, origin, Vec::new()), region));
        }
    }
    if let Some(path) = ini.filter(|p| p.exists()) {
        let file = files::load_ini(path)?;
        if let Some(provider) = files::ini_provider(&file, path, name, env)? {
            let origin = format!("section [{name}] of {}", path.display());
            return Ok((one(provider, origin, Vec::new()), None));
        }
    }
    Err(ConfigError::ProfileNotFound {
        name: name.to_owned(),
        searched: format!("{} nor {}", shown(config_path), shown(ini)),
        available: files::available(config_path, ini),
    })
}

/// Step 2: all three variables, or the role and provider with GitHub Actions' token request;
/// part of them is an error naming the rest.
fn oidc_from_env(env: Env<'_>) -> Result<Option<Provider>, ConfigError> {
    let role_arn = non_empty(env(ENV_ROLE_ARN));
    let provider_arn = non_empty(env(ENV_OIDC_PROVIDER_ARN));
    let token_file = non_empty(env(ENV_OIDC_TOKEN_FILE));
    let github = non_empty(env(ENV_GITHUB_TOKEN_URL)).zip(non_empty(env(ENV_GITHUB_TOKEN_BEARER)));
    let token = match (token_file, github) {
        (Some(file), _) => Some(OidcToken::File(PathBuf::from(file))),
        (None, Some((url, bearer))) => Some(OidcToken::GitHub {
            url,
            bearer: Secret::new(bearer),
        }),
        (None, None) => None,
    };
    let parts = [
        (ENV_ROLE_ARN, role_arn.is_some()),
        (ENV_OIDC_PROVIDER_ARN, provider_arn.is_some()),
        (ENV_OIDC_TOKEN_FILE, token.is_some()),
    ];
    match (role_arn, provider_arn, token) {
        (Some(arn), Some(provider_arn), Some(token)) => Ok(Some(Provider::Oidc {
            role: RoleRequest {
                arn,
                session_name: session_name(None, env),
                duration_seconds: 3600,
                policy: None,
                external_id: None,
            },
            provider_arn,
            token,
            sts: sts_endpoint(None, None, env)?,
        })),
        // The GitHub variables alone are any GitHub job's: they set nothing up by themselves.
        (None, None, None | Some(OidcToken::GitHub { .. })) => Ok(None),
        _ => Err(ConfigError::PartialOidc {
            set: parts.iter().filter(|(_, s)| *s).map(|(n, _)| *n).collect(),
            missing: parts.iter().filter(|(_, s)| !*s).map(|(n, _)| *n).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |key| map.get(key).cloned()
    }

    const PROFILES: &str = r#"{"current":"default","profiles":[
        {"name":"default","mode":"AK","access_key_id":"LTAIak","access_key_secret":"ak-secret","region_id":"cn-shanghai","extra":1},
        {"name":"sts","mode":"StsToken","access_key_id":"STS.id","access_key_secret":"sts-secret","sts_token":"tok","region_id":"cn-beijing"},
        {"name":"role","mode":"RamRoleArn","access_key_id":"x","access_key_secret":"y","ram_role_arn":"acs:ram::1:role/admin","ram_session_name":"laptop","expired_seconds":900,"sts_region":"cn-hangzhou","external_id":"ext-1","policy":"{}"},
        {"name":"chained","mode":"ChainableRamRoleArn","source_profile":"role","ram_role_arn":"acs:ram::2:role/deploy"},
        {"name":"loop-a","mode":"ChainableRamRoleArn","source_profile":"loop-b","ram_role_arn":"acs:ram::2:role/a"},
        {"name":"loop-b","mode":"ChainableRamRoleArn","source_profile":"loop-a","ram_role_arn":"acs:ram::2:role/b"},
        {"name":"ecs","mode":"EcsRamRole","ram_role_name":"iot-role"},
        {"name":"oidc","mode":"OIDC","ram_role_arn":"acs:ram::1:role/ci","oidc_provider_arn":"acs:ram::1:oidc-provider/gh","oidc_token_file":"/tmp/token"},
        {"name":"uri","mode":"CredentialsURI","credentials_uri":"http://127.0.0.1:9/creds"},
        {"name":"sso","mode":"CloudSSO"},
        {"name":"ext","mode":"External","process_command":"print-creds"},
        {"name":"broken","mode":"RamRoleArn","access_key_id":"x","access_key_secret":"y"}]}"#;

    const INI: &str = "[default]\ntype = access_key\naccess_key_id = ini-id\naccess_key_secret = ini-secret\n\n[role]\ntype = ram_role_arn\naccess_key_id = a\naccess_key_secret = b\nrole_arn = acs:ram::3:role/r\n\n[ecs]\ntype = ecs_ram_role\nrole_name = box-role\n\n[oidc]\ntype = oidc_role_arn\nrole_arn = acs:ram::3:role/o\noidc_provider_arn = acs:ram::3:oidc-provider/p\noidc_token_file_path = /tmp/t\n\n[odd]\ntype = rsa_key_pair\n";

    struct Files {
        _dir: tempfile::TempDir,
        paths: Paths,
    }

    fn files(config: Option<&str>, ini: Option<&str>) -> Files {
        let dir = tempfile::tempdir().expect("temp dir");
        let config_path = dir.path().join("config.json");
        let ini_path = dir.path().join("credentials.ini");
        if let Some(text) = config {
            std::fs::write(&config_path, text).expect("write");
        }
        if let Some(text) = ini {
            std::fs::write(&ini_path, text).expect("write");
        }
        Files {
            _dir: dir,
            paths: Paths {
                aliyun_config: Some(config_path),
                credentials_ini: Some(ini_path),
            },
        }
    }

    fn profile(name: &str) -> Request {
        Request {
            profile: Some(name.to_owned()),
            region: None,
        }
    }

    fn only(resolved: &Resolved) -> &Provider {
        assert_eq!(resolved.chain.candidates.len(), 1, "{resolved:?}");
        &resolved.chain.candidates[0].provider
    }

    #[test]
    fn environment_credentials_and_region() {
        let env = env_of(&[
            (ENV_ACCESS_KEY_ID, "id"),
            (ENV_ACCESS_KEY_SECRET, "sec"),
            (ENV_SECURITY_TOKEN, "tok"),
            (ENV_REGION, "cn-hangzhou"),
        ]);
        let resolved = resolve(&Request::default(), &env, &Paths::default()).expect("resolves");
        let Provider::Static(credentials) = only(&resolved) else {
            panic!("static expected");
        };
        assert_eq!(credentials.access_key_id, "id");
        assert_eq!(
            credentials.security_token.as_ref().map(Secret::expose),
            Some("tok")
        );
        assert_eq!(resolved.region.as_deref(), Some("cn-hangzhou"));
        let flagged = resolve(
            &Request {
                region: Some("ap-southeast-1".into()),
                ..Request::default()
            },
            &env,
            &Paths::default(),
        )
        .expect("resolves");
        assert_eq!(flagged.region.as_deref(), Some("ap-southeast-1"));
    }

    #[test]
    fn the_environment_wins_over_oidc_and_profiles() {
        let files = files(Some(PROFILES), Some(INI));
        let env = env_of(&[
            (ENV_ACCESS_KEY_ID, "env-id"),
            (ENV_ACCESS_KEY_SECRET, "sec"),
            (ENV_ROLE_ARN, "acs:ram::1:role/ci"),
            (ENV_OIDC_PROVIDER_ARN, "acs:ram::1:oidc-provider/gh"),
            (ENV_OIDC_TOKEN_FILE, "/tmp/token"),
        ]);
        let resolved = resolve(&Request::default(), &env, &files.paths).expect("resolves");
        assert!(matches!(only(&resolved), Provider::Static(c) if c.access_key_id == "env-id"));
        // Without the AccessKey, OIDC comes next, before the profile file.
        let env = env_of(&[
            (ENV_ROLE_ARN, "acs:ram::1:role/ci"),
            (ENV_OIDC_PROVIDER_ARN, "acs:ram::1:oidc-provider/gh"),
            (ENV_OIDC_TOKEN_FILE, "/tmp/token"),
        ]);
        let resolved = resolve(&Request::default(), &env, &files.paths).expect("resolves");
        assert!(
            matches!(only(&resolved), Provider::Oidc { provider_arn, sts, .. } if provider_arn.ends_with("/gh") && sts == "https://sts.aliyuncs.com")
        );
        // Then the profile file's `current`, then credentials.ini's [default].
        let resolved = resolve(&Request::default(), &env_of(&[]), &files.paths).expect("cli");
        assert!(matches!(only(&resolved), Provider::Static(c) if c.access_key_id == "LTAIak"));
        assert_eq!(resolved.region.as_deref(), Some("cn-shanghai"));
        let env = env_of(&[(ENV_CLI_PROFILE_DISABLED, "true")]);
        let resolved = resolve(&Request::default(), &env, &files.paths).expect("ini");
        assert!(matches!(only(&resolved), Provider::Static(c) if c.access_key_id == "ini-id"));
        assert!(
            resolved
                .chain
                .passed
                .iter()
                .any(|(_, said)| said.contains("true"))
        );
    }

    #[test]
    fn with_no_files_the_metadata_service_and_uri_are_candidates() {
        let files = files(None, None);
        let env = env_of(&[
            (ENV_CREDENTIALS_URI, "http://127.0.0.1:1/c"),
            (ENV_ECS_METADATA, "box"),
            (ENV_ECS_METADATA_ENDPOINT, "http://127.0.0.1:2/"),
        ]);
        let resolved = resolve(&Request::default(), &env, &files.paths).expect("resolves");
        let kinds: Vec<_> = resolved
            .chain
            .candidates
            .iter()
            .map(|c| c.provider.clone())
            .collect();
        assert!(
            matches!(&kinds[..], [Provider::EcsRole { role_name: Some(r), endpoint, imdsv1_disabled: false }, Provider::Uri(u)] if r == "box" && endpoint == "http://127.0.0.1:2" && u.ends_with("/c")),
            "{kinds:?}"
        );
        assert_eq!(
            resolved.chain.passed.len(),
            4,
            "{:?}",
            resolved.chain.passed
        );
        let env = env_of(&[(ENV_ECS_METADATA_DISABLED, "true")]);
        let error = resolve(&Request::default(), &env, &files.paths).expect_err("nothing");
        let text = error.to_string();
        for says in [
            ENV_ACCESS_KEY_ID,
            ENV_ROLE_ARN,
            "config.json does not exist",
            "credentials.ini does not exist",
            ENV_ECS_METADATA_DISABLED,
            ENV_CREDENTIALS_URI,
        ] {
            assert!(text.contains(says), "{says}: {text}");
        }
    }

    #[test]
    fn half_configurations_are_errors_naming_what_is_missing() {
        let error = resolve(
            &Request::default(),
            &env_of(&[(ENV_ACCESS_KEY_ID, "id")]),
            &Paths::default(),
        )
        .expect_err("half");
        assert!(error.to_string().contains(ENV_ACCESS_KEY_SECRET));
        let error = resolve(
            &Request::default(),
            &env_of(&[(ENV_ROLE_ARN, "acs:ram::1:role/ci")]),
            &Paths::default(),
        )
        .expect_err("partial OIDC");
        let text = error.to_string();
        assert!(
            text.contains(&format!("{ENV_ROLE_ARN} set"))
                && text.contains(&format!(
                    "{ENV_OIDC_PROVIDER_ARN}, {ENV_OIDC_TOKEN_FILE} not set"
                )),
            "{text}"
        );
        // In a GitHub job, the token may come from the job: role and provider are enough.
        let env = env_of(&[
            (ENV_ROLE_ARN, "acs:ram::1:role/ci"),
            (ENV_OIDC_PROVIDER_ARN, "acs:ram::1:oidc-provider/gh"),
            (ENV_GITHUB_TOKEN_URL, "http://127.0.0.1:1/token?x=1"),
            (ENV_GITHUB_TOKEN_BEARER, "bearer"),
            (ENV_STS_ENDPOINT, "http://127.0.0.1:3"),
        ]);
        let resolved = resolve(&Request::default(), &env, &Paths::default()).expect("github");
        assert!(matches!(
            only(&resolved),
            Provider::Oidc { token: OidcToken::GitHub { .. }, sts, .. } if sts == "http://127.0.0.1:3"
        ));
        // The GitHub variables alone set nothing up.
        let env = env_of(&[
            (ENV_GITHUB_TOKEN_URL, "http://127.0.0.1:1/token"),
            (ENV_GITHUB_TOKEN_BEARER, "bearer"),
            (ENV_ECS_METADATA_DISABLED, "true"),
        ]);
        let error = resolve(&Request::default(), &env, &files(None, None).paths)
            .expect_err("no credentials");
        assert!(matches!(error, ConfigError::MissingCredentials { .. }));
    }

    #[test]
    fn every_profile_mode() {
        let files = files(Some(PROFILES), Some(INI));
        let env = env_of(&[]);
        let get = |name: &str| resolve(&profile(name), &env, &files.paths);
        let sts = get("sts").expect("sts");
        assert!(
            matches!(only(&sts), Provider::Static(c) if c.security_token.as_ref().map(Secret::expose) == Some("tok"))
        );
        assert_eq!(sts.region.as_deref(), Some("cn-beijing"));
        let role = get("role").expect("role");
        let Provider::AssumeRole { source, role, sts } = only(&role) else {
            panic!("AssumeRole expected");
        };
        assert!(matches!(&**source, Provider::Static(c) if c.access_key_id == "x"));
        assert_eq!(
            role,
            &RoleRequest {
                arn: "acs:ram::1:role/admin".into(),
                session_name: "laptop".into(),
                duration_seconds: 900,
                policy: Some("{}".into()),
                external_id: Some("ext-1".into()),
            }
        );
        assert_eq!(sts, "https://sts.cn-hangzhou.aliyuncs.com");
        let chained = get("chained").expect("chained");
        let Provider::AssumeRole { source, role, .. } = only(&chained) else {
            panic!("AssumeRole expected");
        };
        assert_eq!(role.arn, "acs:ram::2:role/deploy");
        assert_eq!(role.duration_seconds, 3600);
        assert!(
            matches!(&**source, Provider::AssumeRole { role, .. } if role.arn == "acs:ram::1:role/admin")
        );
        let error = get("loop-a").expect_err("cycle");
        assert!(
            error.to_string().contains("loop-a → loop-b → loop-a"),
            "{error}"
        );
        assert!(matches!(
            only(&get("ecs").expect("ecs")),
            Provider::EcsRole { role_name: Some(r), .. } if r == "iot-role"
        ));
        assert!(matches!(
            only(&get("oidc").expect("oidc")),
            Provider::Oidc { token: OidcToken::File(f), .. } if f.ends_with("token")
        ));
        assert!(
            matches!(only(&get("uri").expect("uri")), Provider::Uri(u) if u.ends_with("/creds"))
        );
        for (name, says) in [
            ("sso", "aliyun CLI"),
            ("ext", "CredentialsURI"),
            ("broken", "ram_role_arn"),
        ] {
            let error = get(name).expect_err(name);
            assert!(error.to_string().contains(says), "{name}: {error}");
        }
        let error = get("nope").expect_err("unknown");
        let text = error.to_string();
        assert!(
            text.contains("default, sts, role") && text.contains("[oidc]"),
            "{text}"
        );
    }

    #[test]
    fn every_credentials_ini_type() {
        let files = files(None, Some(INI));
        let env = env_of(&[]);
        let get = |name: &str| resolve(&profile(name), &env, &files.paths);
        assert!(
            matches!(only(&get("default").expect("ak")), Provider::Static(c) if c.access_key_id == "ini-id")
        );
        assert!(matches!(
            only(&get("role").expect("role")),
            Provider::AssumeRole { role, .. } if role.arn == "acs:ram::3:role/r"
        ));
        assert!(matches!(
            only(&get("ecs").expect("ecs")),
            Provider::EcsRole { role_name: Some(r), .. } if r == "box-role"
        ));
        assert!(matches!(
            only(&get("oidc").expect("oidc")),
            Provider::Oidc { provider_arn, .. } if provider_arn.ends_with("/p")
        ));
        let error = get("odd").expect_err("type");
        assert!(error.to_string().contains("rsa_key_pair"), "{error}");
        // ALIBABA_CLOUD_PROFILE picks the section in the chain; one found nowhere is an error.
        let env = env_of(&[(ENV_PROFILE, "ecs")]);
        let resolved = resolve(&Request::default(), &env, &files.paths).expect("section");
        assert!(matches!(only(&resolved), Provider::EcsRole { .. }));
        let env = env_of(&[(ENV_PROFILE, "missing")]);
        let error = resolve(&Request::default(), &env, &files.paths).expect_err("missing");
        assert!(
            matches!(error, ConfigError::ProfileNotFound { .. }),
            "{error}"
        );
    }

    #[test]
    fn sts_endpoints_are_https_except_to_this_machine() {
        let env = env_of(&[]);
        assert_eq!(
            sts_endpoint(Some("sts-vpc.cn-shanghai.aliyuncs.com".into()), None, &env).expect("ok"),
            "https://sts-vpc.cn-shanghai.aliyuncs.com"
        );
        assert!(sts_endpoint(Some("http://127.0.0.1:8080/".into()), None, &env).is_ok());
        let error =
            sts_endpoint(Some("http://sts.example.com".into()), None, &env).expect_err("http");
        assert!(error.to_string().contains("https://"), "{error}");
        let env = env_of(&[(ENV_STS_ENDPOINT, "http://localhost:1")]);
        assert_eq!(
            sts_endpoint(Some("ignored".into()), None, &env).expect("env wins"),
            "http://localhost:1"
        );
    }

    #[test]
    fn debug_output_hides_secrets() {
        let env = env_of(&[
            (ENV_ACCESS_KEY_ID, "id"),
            (ENV_ACCESS_KEY_SECRET, "very-secret-value"),
            (ENV_SECURITY_TOKEN, "token-value"),
        ]);
        let resolved = resolve(&Request::default(), &env, &Paths::default()).expect("resolves");
        let debug = format!("{resolved:?}");
        assert!(
            !debug.contains("very-secret-value") && !debug.contains("token-value"),
            "{debug}"
        );
    }
}
