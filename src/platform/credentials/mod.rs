//! Where credentials, region and endpoint come from. Credentials follow the official SDKs'
//! default chain ([`chain`]): the environment's AccessKey, OIDC from the environment, the aliyun
//! CLI profile (every mode that a tool other than the CLI can serve), `credentials.ini`, the ECS
//! instance metadata service and a credentials URI. Temporary credentials are fetched ([`fetch`])
//! and refreshed before they expire ([`source`]).

pub mod chain;
mod fetch;
mod files;
pub mod source;

use std::path::PathBuf;

use crate::secret::Secret;

pub use chain::{Chain, Paths, Provider, Request, Resolved, RoleRequest, resolve};
pub use source::{CredentialError, CredentialSource, SignedIn};

/// Env var: AccessKey ID.
pub const ENV_ACCESS_KEY_ID: &str = "ALIBABA_CLOUD_ACCESS_KEY_ID";
/// Env var: AccessKey secret.
pub const ENV_ACCESS_KEY_SECRET: &str = "ALIBABA_CLOUD_ACCESS_KEY_SECRET";
/// Env var: STS security token.
pub const ENV_SECURITY_TOKEN: &str = "ALIBABA_CLOUD_SECURITY_TOKEN";
/// Env var: region.
pub const ENV_REGION: &str = "ALIBABA_CLOUD_REGION_ID";
/// Env var: profile name (aliyun CLI profile, or `credentials.ini` section).
pub const ENV_PROFILE: &str = "ALIBABA_CLOUD_PROFILE";
/// Env var: the RAM role to assume (OIDC from the environment).
pub const ENV_ROLE_ARN: &str = "ALIBABA_CLOUD_ROLE_ARN";
/// Env var: the OIDC provider's ARN.
pub const ENV_OIDC_PROVIDER_ARN: &str = "ALIBABA_CLOUD_OIDC_PROVIDER_ARN";
/// Env var: the file holding the OIDC token (re-read at every refresh).
pub const ENV_OIDC_TOKEN_FILE: &str = "ALIBABA_CLOUD_OIDC_TOKEN_FILE";
/// Env var: the role session name, when a profile names none.
pub const ENV_ROLE_SESSION_NAME: &str = "ALIBABA_CLOUD_ROLE_SESSION_NAME";
/// Env var: the external ID of a role, when a profile names none.
pub const ENV_EXTERNAL_ID: &str = "ALIBABA_CLOUD_EXTERNAL_ID";
/// Env var: `true` skips the aliyun CLI profile file.
pub const ENV_CLI_PROFILE_DISABLED: &str = "ALIBABA_CLOUD_CLI_PROFILE_DISABLED";
/// Env var: the `credentials.ini` path.
pub const ENV_CREDENTIALS_FILE: &str = "ALIBABA_CLOUD_CREDENTIALS_FILE";
/// Env var: the ECS instance's RAM role name.
pub const ENV_ECS_METADATA: &str = "ALIBABA_CLOUD_ECS_METADATA";
/// Env var: `true` skips the ECS instance metadata service.
pub const ENV_ECS_METADATA_DISABLED: &str = "ALIBABA_CLOUD_ECS_METADATA_DISABLED";
/// Env var: `true` refuses the metadata service without its session token (IMDSv1).
pub const ENV_IMDSV1_DISABLED: &str = "ALIBABA_CLOUD_IMDSV1_DISABLED";
/// Env var: a URL that answers temporary credentials.
pub const ENV_CREDENTIALS_URI: &str = "ALIBABA_CLOUD_CREDENTIALS_URI";
/// Env var: the STS endpoint (host, or URL for a local emulator).
pub const ENV_STS_ENDPOINT: &str = "ALIBABA_CLOUD_STS_ENDPOINT";
/// Env var: the STS region (`sts.REGION.aliyuncs.com`).
pub const ENV_STS_REGION: &str = "ALIBABA_CLOUD_STS_REGION";
/// Env var: the instance metadata service's address (default `http://100.100.100.200`; an
/// emulator's address in tests).
pub const ENV_ECS_METADATA_ENDPOINT: &str = "IOTPLAN_ECS_METADATA_ENDPOINT";
/// Env var (GitHub Actions, `permissions: id-token: write`): where the job's OIDC token is asked for.
pub const ENV_GITHUB_TOKEN_URL: &str = "ACTIONS_ID_TOKEN_REQUEST_URL";
/// Env var (GitHub Actions): the bearer token of that request.
pub const ENV_GITHUB_TOKEN_BEARER: &str = "ACTIONS_ID_TOKEN_REQUEST_TOKEN";
/// Env var: endpoint override.
pub const ENV_ENDPOINT: &str = "IOTPLAN_ENDPOINT";
/// Env var: most tries of one call.
pub const ENV_MAX_ATTEMPTS: &str = "IOTPLAN_MAX_ATTEMPTS";

/// The audience iotplan asks a CI system's OIDC token for, and STS checks.
pub const OIDC_AUDIENCE: &str = "sts.aliyuncs.com";

/// What each source of the chain said, one `  - source: what` line each (each line begins with a
/// line break).
pub(crate) fn listed(said: &[(String, String)]) -> String {
    use std::fmt::Write as _;
    said.iter().fold(String::new(), |mut out, (source, what)| {
        let _ = write!(out, "\n  - {source}: {what}");
        out
    })
}

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

/// Why credentials or region could not be settled from the environment and files.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No source of credentials is configured.
    #[error(
        "no credentials: none of the sources iotplan looks at is set up:{}\nhint: set {ENV_ACCESS_KEY_ID} and {ENV_ACCESS_KEY_SECRET}, or {ENV_ROLE_ARN}, {ENV_OIDC_PROVIDER_ARN} and {ENV_OIDC_TOKEN_FILE} for OIDC, or pass --profile NAME",
        listed(said)
    )]
    MissingCredentials {
        /// What each source said, in chain order.
        said: Vec<(String, String)>,
    },
    /// Only half of a key pair.
    #[error("{present} is set but {missing} is not: set both")]
    HalfCredentials {
        /// The variable that is set.
        present: &'static str,
        /// The one that is missing.
        missing: &'static str,
    },
    /// Some of the OIDC variables are set, not all.
    #[error(
        "OIDC from the environment is half set up: {} set, {} not set\nhint: set all three (in GitHub Actions, the token may instead come from the job itself: give it `permissions: id-token: write`), or unset them to use another source",
        set.join(", "), missing.join(", ")
    )]
    PartialOidc {
        /// The variables that are set.
        set: Vec<&'static str>,
        /// The ones that are missing.
        missing: Vec<&'static str>,
    },
    /// No region anywhere.
    #[error(
        "no region: pass --region, set {ENV_REGION}, set `region` in the manifest, or use a profile with region_id"
    )]
    MissingRegion,
    /// A profile or credentials file could not be read.
    #[error("cannot read {path}: {reason}")]
    ProfileFile {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The named profile is not in the files.
    #[error("profile `{name}` is in neither {searched} (profiles there: {available})")]
    ProfileNotFound {
        /// The profile asked for.
        name: String,
        /// The files looked in.
        searched: String,
        /// The names they have.
        available: String,
    },
    /// The profile uses a mode iotplan cannot serve.
    #[error("profile `{name}` uses mode {mode}, which iotplan cannot use: {instead}")]
    UnsupportedMode {
        /// The profile.
        name: String,
        /// Its mode.
        mode: String,
        /// What to do instead.
        instead: &'static str,
    },
    /// A ChainableRamRoleArn profile leads back to itself.
    #[error("profile `{name}`: its source_profile chain comes back to itself ({cycle})")]
    ProfileCycle {
        /// The profile.
        name: String,
        /// The chain, `a → b → a`.
        cycle: String,
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
    #[error("{what} `{endpoint}` cannot be used: {reason}")]
    InvalidEndpoint {
        /// Which endpoint (`--endpoint`, the STS endpoint…).
        what: &'static str,
        /// What was given.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A profile or section lacks a field its mode needs.
    #[error("{source_name} (mode {mode}) has no {field}")]
    ProfileField {
        /// The profile or section, as shown (`profile `x``).
        source_name: String,
        /// Its mode or type.
        mode: String,
        /// The missing field.
        field: &'static str,
    },
    /// A field with a value that cannot be used.
    #[error("{source_name}: {field} {reason}")]
    ProfileValue {
        /// The profile or section, as shown.
        source_name: String,
        /// The field.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
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
        what: "--endpoint",
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
        let env = |key: &str| match key {
            ENV_ACCESS_KEY_ID | ENV_ACCESS_KEY_SECRET => Some("x".to_owned()),
            ENV_REGION => Some("cn shanghai".to_owned()),
            _ => None,
        };
        let error =
            resolve(&Request::default(), &env, &Paths::default()).expect_err("bad env region");
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
}
