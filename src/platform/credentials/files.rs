//! The two credentials files: the aliyun CLI's `~/.aliyun/config.json` (every mode a tool other
//! than the CLI can serve) and `~/.alibabacloud/credentials.ini`. Both are only read, never written.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;

use super::chain::{Env, OidcToken, Provider, RoleRequest, ecs_role, session_name, sts_endpoint};
use super::{ConfigError, Credentials, ENV_EXTERNAL_ID};
use crate::secret::Secret;

/// `~/.aliyun/config.json`.
#[derive(Debug, Deserialize)]
pub(super) struct ConfigFile {
    #[serde(default)]
    pub(super) current: String,
    #[serde(default)]
    profiles: Vec<Profile>,
}

impl ConfigFile {
    pub(super) fn has(&self, name: &str) -> bool {
        self.profiles.iter().any(|p| p.name == name)
    }
}

/// One profile; unknown keys are ignored, as the CLI adds some of its own. Field names are the
/// CLI's.
#[allow(clippy::struct_field_names)]
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Profile {
    name: String,
    mode: String,
    access_key_id: String,
    access_key_secret: Secret,
    sts_token: Secret,
    region_id: String,
    ram_role_arn: String,
    ram_session_name: String,
    expired_seconds: Option<u32>,
    sts_region: String,
    sts_endpoint: String,
    external_id: String,
    policy: String,
    source_profile: String,
    ram_role_name: String,
    oidc_provider_arn: String,
    oidc_token_file: String,
    credentials_uri: String,
}

fn file_error(path: &Path, reason: &impl ToString) -> ConfigError {
    ConfigError::ProfileFile {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

pub(super) fn load_config(path: &Path) -> Result<ConfigFile, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|e| file_error(path, &e))?;
    serde_json::from_str(&text).map_err(|e| file_error(path, &e))
}

pub(super) fn load_ini(path: &Path) -> Result<ini::Ini, ConfigError> {
    ini::Ini::load_from_file(path).map_err(|e| file_error(path, &e))
}

/// The profile names of both files, for "profiles there: …".
pub(super) fn available(config: Option<&Path>, ini_path: Option<&Path>) -> String {
    let mut names: Vec<String> = config
        .filter(|p| p.exists())
        .and_then(|p| load_config(p).ok())
        .map(|f| f.profiles.into_iter().map(|p| p.name).collect())
        .unwrap_or_default();
    if let Some(file) = ini_path
        .filter(|p| p.exists())
        .and_then(|p| load_ini(p).ok())
    {
        names.extend(file.sections().flatten().map(|s| format!("[{s}]")));
    }
    if names.is_empty() {
        "none".to_owned()
    } else {
        names.join(", ")
    }
}

fn text(value: &str) -> Option<String> {
    Some(value.to_owned()).filter(|v| !v.is_empty())
}

/// The provider of profile `name` of the CLI file, and its region.
pub(super) fn config_provider(
    file: &ConfigFile,
    path: &Path,
    name: &str,
    env: Env<'_>,
) -> Result<(Provider, Option<String>), ConfigError> {
    let mut visited = Vec::new();
    profile_provider(file, path, name, env, &mut visited)
}

fn profile_provider(
    file: &ConfigFile,
    path: &Path,
    name: &str,
    env: Env<'_>,
    visited: &mut Vec<String>,
) -> Result<(Provider, Option<String>), ConfigError> {
    if visited.iter().any(|v| v == name) {
        visited.push(name.to_owned());
        return Err(ConfigError::ProfileCycle {
            name: visited[0].clone(),
            cycle: visited.join(" → "),
        });
    }
    visited.push(name.to_owned());
    let profile = file
        .profiles
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| ConfigError::ProfileNotFound {
            name: name.to_owned(),
            searched: path.display().to_string(),
            available: file
                .profiles
                .iter()
                .map(|p| p.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    let shown = format!("profile `{name}`");
    let missing = |field| ConfigError::ProfileField {
        source_name: shown.clone(),
        mode: profile.mode.clone(),
        field,
    };
    let access_key = || -> Result<Credentials, ConfigError> {
        let access_key_id = text(&profile.access_key_id).ok_or_else(|| missing("access_key_id"))?;
        if profile.access_key_secret.is_empty() {
            return Err(missing("access_key_secret"));
        }
        Ok(Credentials {
            access_key_id,
            access_key_secret: profile.access_key_secret.clone(),
            security_token: Some(profile.sts_token.clone()).filter(|t| !t.is_empty()),
        })
    };
    let role = || -> Result<RoleRequest, ConfigError> {
        Ok(RoleRequest {
            arn: text(&profile.ram_role_arn).ok_or_else(|| missing("ram_role_arn"))?,
            session_name: session_name(text(&profile.ram_session_name), env),
            duration_seconds: profile.expired_seconds.unwrap_or(3600),
            policy: text(&profile.policy),
            external_id: text(&profile.external_id).or_else(|| text(&env(ENV_EXTERNAL_ID)?)),
        })
    };
    let sts = || sts_endpoint(text(&profile.sts_endpoint), text(&profile.sts_region), env);
    let provider = match profile.mode.as_str() {
        "AK" => {
            let mut credentials = access_key()?;
            credentials.security_token = None;
            Provider::Static(credentials)
        }
        "StsToken" => {
            if profile.sts_token.is_empty() {
                return Err(missing("sts_token"));
            }
            Provider::Static(access_key()?)
        }
        "RamRoleArn" => Provider::AssumeRole {
            source: Box::new(Provider::Static(access_key()?)),
            role: role()?,
            sts: sts()?,
        },
        "ChainableRamRoleArn" => {
            let source = text(&profile.source_profile).ok_or_else(|| missing("source_profile"))?;
            let (source, _) = profile_provider(file, path, &source, env, visited)?;
            Provider::AssumeRole {
                source: Box::new(source),
                role: role()?,
                sts: sts()?,
            }
        }
        "EcsRamRole" => ecs_role(text(&profile.ram_role_name), env),
        "OIDC" => Provider::Oidc {
            role: role()?,
            provider_arn: text(&profile.oidc_provider_arn)
                .ok_or_else(|| missing("oidc_provider_arn"))?,
            token: OidcToken::File(
                text(&profile.oidc_token_file)
                    .ok_or_else(|| missing("oidc_token_file"))?
                    .into(),
            ),
            sts: sts()?,
        },
        "CredentialsURI" => {
            Provider::Uri(text(&profile.credentials_uri).ok_or_else(|| missing("credentials_uri"))?)
        }
        mode => {
            return Err(ConfigError::UnsupportedMode {
                name: name.to_owned(),
                mode: if mode.is_empty() { "(none)" } else { mode }.to_owned(),
                instead: unsupported_instead(mode),
            });
        }
    };
    Ok((provider, text(&profile.region_id)))
}

fn unsupported_instead(mode: &str) -> &'static str {
    match mode {
        "CloudSSO" | "OAuth" => {
            "its tokens are kept and refreshed by the aliyun CLI itself; use a profile in mode RamRoleArn, OIDC or StsToken, or export temporary credentials into ALIBABA_CLOUD_ACCESS_KEY_ID, _SECRET and _SECURITY_TOKEN"
        }
        "External" => {
            "iotplan does not run credential programs; serve the program's credentials through a profile in mode CredentialsURI (or ALIBABA_CLOUD_CREDENTIALS_URI), or export them into ALIBABA_CLOUD_ACCESS_KEY_ID, _SECRET and _SECURITY_TOKEN"
        }
        _ => {
            "the modes iotplan reads are AK, StsToken, RamRoleArn, ChainableRamRoleArn, EcsRamRole, OIDC and CredentialsURI"
        }
    }
}

/// The provider of section `name` of `credentials.ini`, if the file has that section.
pub(super) fn ini_provider(
    file: &ini::Ini,
    path: &Path,
    name: &str,
    env: Env<'_>,
) -> Result<Option<Provider>, ConfigError> {
    let Some(section) = file.section(Some(name)) else {
        return Ok(None);
    };
    let shown = format!("section [{name}] of {}", path.display());
    let kind = section.get("type").unwrap_or_default();
    let field = |key: &'static str| -> Result<String, ConfigError> {
        section
            .get(key)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| ConfigError::ProfileField {
                source_name: shown.clone(),
                mode: kind.to_owned(),
                field: key,
            })
    };
    let optional = |key: &str| section.get(key).and_then(text);
    let access_key = || -> Result<Credentials, ConfigError> {
        Ok(Credentials {
            access_key_id: field("access_key_id")?,
            access_key_secret: Secret::new(field("access_key_secret")?),
            security_token: None,
        })
    };
    let role = || -> Result<RoleRequest, ConfigError> {
        Ok(RoleRequest {
            arn: field("role_arn")?,
            session_name: session_name(optional("role_session_name"), env),
            duration_seconds: 3600,
            policy: optional("policy"),
            external_id: None,
        })
    };
    let sts = || sts_endpoint(None, None, env);
    let provider = match kind {
        "access_key" => Provider::Static(access_key()?),
        "ram_role_arn" => Provider::AssumeRole {
            source: Box::new(Provider::Static(access_key()?)),
            role: role()?,
            sts: sts()?,
        },
        "ecs_ram_role" => ecs_role(optional("role_name"), env),
        "oidc_role_arn" => Provider::Oidc {
            role: role()?,
            provider_arn: field("oidc_provider_arn")?,
            token: OidcToken::File(field("oidc_token_file_path")?.into()),
            sts: sts()?,
        },
        other => {
            let known: BTreeSet<&str> = [
                "access_key",
                "ram_role_arn",
                "ecs_ram_role",
                "oidc_role_arn",
            ]
            .into();
            return Err(ConfigError::ProfileValue {
                source_name: shown,
                field: "type",
                reason: format!(
                    "is `{other}`; iotplan reads the types {}",
                    known.into_iter().collect::<Vec<_>>().join(", ")
                ),
            });
        }
    };
    Ok(Some(provider))
}
