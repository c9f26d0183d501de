//! Where credentials, region and endpoint come from: flags, the `ALIBABA_CLOUD_*` environment, or an
//! aliyun CLI profile (`~/.aliyun/config.json`, AK and StsToken modes).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::secret::Secret;

/// Env var: AccessKey ID.
pub const ENV_ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
/// Env var: AccessKey secret.
pub const ENV_ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
/// Env var: STS security token.
pub const ENV_SECURITY_TOKEN: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";
/// Env var: region.
pub const ENV_REGION: &str = "ALIBABA_CLOUD_REGION_ID";
/// Env var: profile name.
pub const ENV_PROFILE: &str = "ALIBABA_CLOUD_PROFILE";
/// Env var: endpoint override.
pub const ENV_ENDPOINT: &str = "IOTPLAN_ENDPOINT";
/// Env var: most tries of one call.
pub const ENV_MAX_ATTEMPTS: &str = "IOTPLAN_MAX_ATTEMPTS";

/// An AccessKey pair, with a token for STS.
#[derive(Clone, Debug)]
pub struct Credentials {
    /// The AccessKey ID (not secret).
    pub access_key_id: String,
    /// The AccessKey secret.
    pub access_key_secret: Secret,
    /// The STS token.
    pub security_token: Option<Secret>,
}

/// Why credentials or region could not be settled.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No credentials anywhere.
    #[error(
        "no credentials: set {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET} (plus {ENV_SECURITY_TOKEN} for STS), or pass --profile NAME for an aliyun CLI profile"
    )]
    MissingCredentials,
    /// Only half of a key pair.
    #[error("{present} is set but {missing} is not: set both")]
    HalfCredentials {
        /// The variable that is set.
        present: &'static str,
        /// The one that is missing.
        missing: &'static str,
    },
    /// No region anywhere.
    #[error(
        "no region: pass --region, set {ENV_REGION}, set `region` in the manifest, or use a profile with region_id"
    )]
    MissingRegion,
    /// The profile file could not be read.
    #[error("cannot read the aliyun CLI profiles at {path}: {reason}")]
    ProfileFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The named profile is not in the file.
    #[error("profile `{name}` is not in {path} (profiles there: {available})")]
    ProfileNotFound {
        /// The profile asked for.
        name: String,
        /// The file.
        path: PathBuf,
        /// The names it has.
        available: String,
    },
    /// The profile uses a mode iotplan cannot use offline.
    #[error(
        "profile `{name}` uses mode {mode}, which iotplan does not support: use a profile in mode AK or StsToken, or the {ENV_ACCESS_KEY_ID}/{ENV_ACCESS_KEY_SECRET} variables"
    )]
    UnsupportedMode {
        /// The profile.
        name: String,
        /// Its mode.
        mode: String,
    },
    /// A region that cannot be one: it would make a host name that cannot exist.
    #[error(
        "`{region}` (from {from}) is not a region ID: region IDs are lowercase letters, digits and hyphens, e.g. cn-shanghai or ap-southeast-1"
    )]
    InvalidRegion {
        /// What was given.
        region: String,
        /// Where it came from.
        from: &'static str,
    },
    /// An endpoint that cannot be sent to.
    #[error("--endpoint `{endpoint}` cannot be used: {reason}")]
    InvalidEndpoint {
        /// What was given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The profile lacks a field its mode needs.
    #[error("profile `{name}` (mode {mode}) has no {field}")]
    ProfileField {
        /// The profile.
        name: String,
        /// Its mode.
        mode: String,
        /// The missing field.
        field: &'static str,
    },
}

#[derive(Deserialize)]
struct ProfileFile {
    #[serde(default)]
    current: String,
    #[serde(default)]
    profiles: Vec<Profile>,
}

#[derive(Deserialize)]
struct Profile {
    name: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    access_key_id: String,
    #[serde(default)]
    access_key_secret: String,
    #[serde(default)]
    sts_token: String,
    #[serde(default)]
    region_id: String,
}

/// What was asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// `--profile`.
    pub profile: Option<String>,
    /// `--region` (or a manifest's region).
    pub region: Option<String>,
}

/// Settled credentials and region.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The key pair.
    pub credentials: Credentials,
    /// The region, if any was found.
    pub region: Option<String>,
}

/// The default profile file, `~/.aliyun/config.json`.
#[must_use]
pub fn default_profile_path() -> Option<PathBuf> {
    dirs::home_dir().map(|home| home.join(".aliyun").join("config.json"))
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.is_empty())
}

/// Resolves credentials and region: an explicit profile wins, then the environment, then the
/// profile named by `ALIBABA_CLOUD_PROFILE` or the file's `current`.
///
/// # Errors
/// A `ConfigError` naming what to set.
pub fn resolve(
    request: &Request,
    env: &dyn Fn(&str) -> Option<String>,
    profile_path: Option<&Path>,
) -> Result<Resolved, ConfigError> {
    let resolved = resolve_unchecked(request, env, profile_path)?;
    if let Some(region) = &resolved.region {
        let from = if request.region.as_deref() == Some(region.as_str()) {
            "--region or the manifest"
        } else if non_empty(env(ENV_REGION)).as_deref() == Some(region.as_str()) {
            ENV_REGION
        } else {
            "the profile's region_id"
        };
        check_region(region, from)?;
    }
    Ok(resolved)
}

fn resolve_unchecked(
    request: &Request,
    env: &dyn Fn(&str) -> Option<String>,
    profile_path: Option<&Path>,
) -> Result<Resolved, ConfigError> {
    let env_region = non_empty(env(ENV_REGION));
    if let Some(name) = &request.profile {
        let (credentials, profile_region) = load_profile(profile_path, Some(name))?;
        return Ok(Resolved {
            credentials,
            region: request.region.clone().or(env_region).or(profile_region),
        });
    }
    let id = non_empty(env(ENV_ACCESS_KEY_ID));
    let secret = non_empty(env(ENV_ACCESS_KEY_SECRET));
    match (id, secret) {
        (Some(access_key_id), Some(secret)) => Ok(Resolved {
            credentials: Credentials {
                access_key_id,
                access_key_secret: Secret::new(secret),
                security_token: non_empty(env(ENV_SECURITY_TOKEN)).map(Secret::new),
            },
            region: request.region.clone().or(env_region),
        }),
        (Some(_), None) => Err(ConfigError::HalfCredentials {
            present: ENV_ACCESS_KEY_ID,
            missing: ENV_ACCESS_KEY_SECRET,
        }),
        (None, Some(_)) => Err(ConfigError::HalfCredentials {
            present: ENV_ACCESS_KEY_SECRET,
            missing: ENV_ACCESS_KEY_ID,
        }),
        (None, None) => {
            let named = non_empty(env(ENV_PROFILE));
            match profile_path.filter(|p| p.exists()) {
                Some(path) => {
                    let (credentials, profile_region) = load_profile(Some(path), named.as_deref())?;
                    Ok(Resolved {
                        credentials,
                        region: request.region.clone().or(env_region).or(profile_region),
                    })
                }
                None => Err(ConfigError::MissingCredentials),
            }
        }
    }
}

fn load_profile(
    path: Option<&Path>,
    name: Option<&str>,
) -> Result<(Credentials, Option<String>), ConfigError> {
    let path = path.ok_or_else(|| ConfigError::ProfileFile {
        path: PathBuf::from("~/.aliyun/config.json"),
        reason: "no home directory".to_owned(),
    })?;
    let file_error = |reason: String| ConfigError::ProfileFile {
        path: path.to_owned(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| file_error(e.to_string()))?;
    let file: ProfileFile = serde_json::from_str(&text).map_err(|e| file_error(e.to_string()))?;
    let name = name.map_or_else(|| file.current.clone(), str::to_owned);
    let profile = file
        .profiles
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| ConfigError::ProfileNotFound {
            name: name.clone(),
            path: path.to_owned(),
            available: file
                .profiles
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let field_error = |field| ConfigError::ProfileField {
        name: name.clone(),
        mode: profile.mode.clone(),
        field,
    };
    let token = match profile.mode.as_str() {
        "AK" => None,
        "StsToken" => Some(
            non_empty(Some(profile.sts_token.clone())).ok_or_else(|| field_error("sts_token"))?,
        ),
        other => {
            return Err(ConfigError::UnsupportedMode {
                name,
                mode: other.to_owned(),
            });
        }
    };
    if profile.access_key_id.is_empty() {
        return Err(field_error("access_key_id"));
    }
    if profile.access_key_secret.is_empty() {
        return Err(field_error("access_key_secret"));
    }
    Ok((
        Credentials {
            access_key_id: profile.access_key_id.clone(),
            access_key_secret: Secret::new(profile.access_key_secret.clone()),
            security_token: token.map(Secret::new),
        },
        non_empty(Some(profile.region_id.clone())),
    ))
}

/// Checks the form of a region ID (see [`crate::wire::is_valid_region_id`]).
///
/// # Errors
/// `ConfigError::InvalidRegion`, naming `from` (the flag, variable, manifest or profile).
pub fn check_region(region: &str, from: &'static str) -> Result<(), ConfigError> {
    if crate::wire::is_valid_region_id(region) {
        Ok(())
    } else {
        Err(ConfigError::InvalidRegion {
            region: region.to_owned(),
            from,
        })
    }
}

/// Checks an endpoint override: `http://` or `https://`, a host, an optional port, nothing else
/// (no user, query or fragment), and returns it without a trailing `/`.
///
/// # Errors
/// `ConfigError::InvalidEndpoint` saying what is wrong.
pub fn check_endpoint(endpoint: &str) -> Result<String, ConfigError> {
    let invalid = |reason: &str| ConfigError::InvalidEndpoint {
        endpoint: endpoint.to_owned(),
        reason: reason.to_owned(),
    };
    let url = reqwest::Url::parse(endpoint).map_err(|e| {
        invalid(&format!(
            "{e}; give a URL such as http://127.0.0.1:8080 or https://iot.cn-shanghai.aliyuncs.com"
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it names no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "it carries a user name or password; credentials come from the environment or a profile",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "it has a query or fragment; give only scheme, host and port",
        ));
    }
    if url.path() != "/" {
        return Err(invalid("it has a path; the API is served at /"));
    }
    Ok(endpoint.trim_end_matches('/').to_owned())
}

/// The endpoint for a region: `https://iot.{region}.aliyuncs.com`.
#[must_use]
pub fn endpoint_for(region: &str) -> String {
    format!("https://iot.{region}.aliyuncs.com")
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
        {"name":"role","mode":"RamRoleArn","access_key_id":"x","access_key_secret":"y"}]}"#;

    fn profile_file() -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), PROFILES).expect("write");
        file
    }

    #[test]
    fn environment_credentials_and_region() {
        let env = env_of(&[
            (ENV_ACCESS_KEY_ID, "id"),
            (ENV_ACCESS_KEY_SECRET, "sec"),
            (ENV_SECURITY_TOKEN, "tok"),
            (ENV_REGION, "cn-hangzhou"),
        ]);
        let resolved = resolve(&Request::default(), &env, None).expect("resolves");
        assert_eq!(resolved.credentials.access_key_id, "id");
        assert_eq!(
            resolved
                .credentials
                .security_token
                .as_ref()
                .map(Secret::expose),
            Some("tok")
        );
        assert_eq!(resolved.region.as_deref(), Some("cn-hangzhou"));
        let flagged = resolve(
            &Request {
                region: Some("ap-southeast-1".into()),
                ..Request::default()
            },
            &env,
            None,
        )
        .expect("resolves");
        assert_eq!(flagged.region.as_deref(), Some("ap-southeast-1"));
    }

    #[test]
    fn missing_or_half_credentials_name_the_variables() {
        let error = resolve(&Request::default(), &env_of(&[]), None).expect_err("no credentials");
        assert!(
            error.to_string().contains(ENV_ACCESS_KEY_ID)
                && error.to_string().contains("--profile")
        );
        let error = resolve(
            &Request::default(),
            &env_of(&[(ENV_ACCESS_KEY_ID, "id")]),
            None,
        )
        .expect_err("half");
        assert!(error.to_string().contains(ENV_ACCESS_KEY_SECRET));
    }

    #[test]
    fn profiles_in_ak_and_sts_modes() {
        let file = profile_file();
        let ak = resolve(
            &Request {
                profile: Some("default".into()),
                ..Request::default()
            },
            &env_of(&[]),
            Some(file.path()),
        )
        .expect("ak");
        assert_eq!(ak.credentials.access_key_id, "LTAIak");
        assert_eq!(ak.region.as_deref(), Some("cn-shanghai"));
        let sts = resolve(
            &Request {
                profile: Some("sts".into()),
                ..Request::default()
            },
            &env_of(&[]),
            Some(file.path()),
        )
        .expect("sts");
        assert_eq!(
            sts.credentials.security_token.as_ref().map(Secret::expose),
            Some("tok")
        );
        let current =
            resolve(&Request::default(), &env_of(&[]), Some(file.path())).expect("current");
        assert_eq!(current.credentials.access_key_id, "LTAIak");
    }

    #[test]
    fn unsupported_modes_and_unknown_profiles_are_clear() {
        let file = profile_file();
        let error = resolve(
            &Request {
                profile: Some("role".into()),
                ..Request::default()
            },
            &env_of(&[]),
            Some(file.path()),
        )
        .expect_err("mode");
        let text = error.to_string();
        assert!(
            text.contains("RamRoleArn") && text.contains("AK or StsToken"),
            "{text}"
        );
        let error = resolve(
            &Request {
                profile: Some("nope".into()),
                ..Request::default()
            },
            &env_of(&[]),
            Some(file.path()),
        )
        .expect_err("unknown");
        assert!(error.to_string().contains("default, sts, role"));
    }

    #[test]
    fn regions_and_endpoints_are_checked_before_any_call() {
        for good in [
            "cn-shanghai",
            "ap-southeast-1",
            "cn-atlantis-9",
            "us-east-1",
        ] {
            assert!(check_region(good, "--region").is_ok(), "{good}");
        }
        for bad in [
            "cn shanghai",
            "CN-SHANGHAI",
            "shanghai",
            "cn-",
            "-cn",
            "cn..x",
            "cn_shanghai",
            "",
        ] {
            let error = check_region(bad, "--region").expect_err(bad);
            assert!(error.to_string().contains("e.g. cn-shanghai"), "{error}");
        }
        let env = env_of(&[
            (ENV_ACCESS_KEY_ID, "id"),
            (ENV_ACCESS_KEY_SECRET, "sec"),
            (ENV_REGION, "cn shanghai"),
        ]);
        let error = resolve(&Request::default(), &env, None).expect_err("bad env region");
        assert!(error.to_string().contains(ENV_REGION), "{error}");
        assert_eq!(
            check_endpoint("http://127.0.0.1:8080/").expect("good"),
            "http://127.0.0.1:8080"
        );
        for (bad, says) in [
            ("127.0.0.1:8080", "scheme"),
            ("http//x", "URL"),
            ("ftp://host", "http or https"),
            ("http://user:pw@host", "password"),
            ("http://host/?Action=X", "query"),
            ("http://host/api", "path"),
        ] {
            let error = check_endpoint(bad).expect_err(bad);
            assert!(
                error.to_string().contains(says) || error.to_string().contains("URL"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn debug_output_hides_secrets() {
        let env = env_of(&[
            (ENV_ACCESS_KEY_ID, "id"),
            (ENV_ACCESS_KEY_SECRET, "very-secret-value"),
            (ENV_SECURITY_TOKEN, "token-value"),
        ]);
        let resolved = resolve(&Request::default(), &env, None).expect("resolves");
        let debug = format!("{resolved:?}");
        assert!(
            !debug.contains("very-secret-value") && !debug.contains("token-value"),
            "{debug}"
        );
    }
}
