//! The command line: clap definitions, one file per subcommand, and the only place `anyhow` is used.

mod apply;
mod demo;
mod devices;
mod docs;
mod drift;
mod emulator;
mod export;
mod plan;
mod planning;
mod secrets;
mod show;
mod validate;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use crate::exit::ExitStatus;
use crate::output::{ColorChoice, Printer};
use crate::platform::credentials::{self, CredentialSource, ENV_ENDPOINT, ENV_MAX_ATTEMPTS};
use crate::platform::{Client, ClientConfig};

/// The environment, as `iotplan --help` and the man page's ENVIRONMENT section list it.
pub const ENVIRONMENT: &[(&str, &str)] = &[
    (
        credentials::ENV_ACCESS_KEY_ID,
        "AccessKey ID (with the secret: the first credentials tried)",
    ),
    (
        credentials::ENV_ACCESS_KEY_SECRET,
        "AccessKey secret; never printed",
    ),
    (
        credentials::ENV_SECURITY_TOKEN,
        "STS security token for temporary credentials; never printed",
    ),
    (
        credentials::ENV_ROLE_ARN,
        "RAM role to assume with OIDC (with the next two; second in the chain)",
    ),
    (
        credentials::ENV_OIDC_PROVIDER_ARN,
        "OIDC provider ARN of that role's trust",
    ),
    (
        credentials::ENV_OIDC_TOKEN_FILE,
        "file holding the OIDC token (read again at every renewal)",
    ),
    (
        credentials::ENV_PROFILE,
        "aliyun CLI profile or credentials.ini section (as --profile, but in chain order)",
    ),
    (
        credentials::ENV_CLI_PROFILE_DISABLED,
        "true: skip ~/.aliyun/config.json",
    ),
    (
        credentials::ENV_CREDENTIALS_FILE,
        "credentials.ini path (default ~/.alibabacloud/credentials.ini)",
    ),
    (
        credentials::ENV_ECS_METADATA,
        "ECS instance RAM role name (else asked of the metadata service)",
    ),
    (
        credentials::ENV_ECS_METADATA_DISABLED,
        "true: skip the ECS instance metadata service",
    ),
    (
        credentials::ENV_IMDSV1_DISABLED,
        "true: never use the metadata service without its session token",
    ),
    (
        credentials::ENV_CREDENTIALS_URI,
        "URL answering temporary credentials (last in the chain)",
    ),
    (
        credentials::ENV_STS_ENDPOINT,
        "STS endpoint (default sts.aliyuncs.com; http:// only to this machine)",
    ),
    (
        credentials::ENV_ROLE_SESSION_NAME,
        "role session name when a profile names none",
    ),
    (
        credentials::ENV_REGION,
        "region, e.g. cn-shanghai (as --region)",
    ),
    (
        ENV_ENDPOINT,
        "API endpoint override, e.g. http://127.0.0.1:8080 (as --endpoint)",
    ),
    (
        credentials::ENV_ECS_METADATA_ENDPOINT,
        "metadata service address (default http://100.100.100.200; an emulator's in tests)",
    ),
    (
        ENV_MAX_ATTEMPTS,
        "most tries of one call (as --max-attempts)",
    ),
    ("NO_COLOR", "set and non-empty: no color (as --color never)"),
    (
        "RUST_LOG",
        "log filter, overriding -v/-vv (e.g. iotplan=debug)",
    ),
];

/// `iotplan --help`'s closing text: the environment, from [`ENVIRONMENT`], and the exit status.
fn environment_help() -> String {
    use std::fmt::Write as _;
    let width = ENVIRONMENT
        .iter()
        .map(|(name, _)| name.len())
        .max()
        .unwrap_or(0);
    let mut help = String::from("Environment:\n");
    for (name, meaning) in ENVIRONMENT {
        let _ = writeln!(help, "  {name:width$}  {meaning}");
    }
    help.push_str("\nExit status: 0 success (with --detailed-exitcode: no changes; drift: in sync), 1 error, 2 changes (--detailed-exitcode), drift found, or a refused command line, 130 apply stopped at once by a second Ctrl-C.");
    help
}

/// Declarative provisioning of Alibaba Cloud IoT Platform devices.
#[derive(Debug, Parser)]
#[command(name = "iotplan", version, about, propagate_version = true, after_long_help = environment_help())]
pub struct Cli {
    /// Options every command shares.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command shares: how to reach and sign in to the platform, and how to print.
#[derive(Debug, Args)]
#[command(next_help_heading = "Client options (every command)")]
pub struct GlobalArgs {
    /// Region, e.g. cn-shanghai (else ALIBABA_CLOUD_REGION_ID, the manifest, or the profile).
    #[arg(long, global = true, env = credentials::ENV_REGION, value_parser = parse_region)]
    pub region: Option<String>,
    /// Profile to sign in with: an aliyun CLI profile (~/.aliyun/config.json, any mode but
    /// CloudSSO, OAuth and External), else a credentials.ini section; overrides the chain.
    #[arg(long, global = true, env = credentials::ENV_PROFILE)]
    pub profile: Option<String>,
    /// API endpoint, e.g. http://127.0.0.1:8080 for a local emulator (default https://iot.REGION.aliyuncs.com).
    #[arg(long, global = true, env = ENV_ENDPOINT, value_parser = parse_endpoint)]
    pub endpoint: Option<String>,
    /// Most tries of one call (retries of throttling, server errors and lost connections; a
    /// refused connection gets at most 3, an unknown host or bad certificate 1).
    #[arg(long, global = true, env = ENV_MAX_ATTEMPTS, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub max_attempts: u32,
    /// Multiply every documented QPS quota by this (lower it to leave room for other tools).
    #[arg(long, global = true, default_value_t = 1.0)]
    pub qps_scale: f64,
    /// More logs on stderr, with timestamps (-v: each API call and read decision; -vv: also each
    /// request's parameter names, answer sizes and rate-limiter waits). RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// When to use color.
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Same as --color never.
    #[arg(long, global = true)]
    pub no_color: bool,
    /// The credentials every client of this run shares, settled on first use.
    #[arg(skip)]
    pub credentials: OnceLock<Arc<CredentialSource>>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a local emulator of the IoT Platform API.
    Emulator(emulator::EmulatorArgs),
    /// List a product's devices.
    Devices(devices::DevicesArgs),
    /// The main job against an embedded emulator: no credentials, no network.
    Demo(demo::DemoArgs),
    /// Check manifests offline (exit 0 valid, 1 not).
    Validate(validate::ValidateArgs),
    /// Show what apply would change (read-only).
    Plan(plan::PlanArgs),
    /// Carry out a plan: register, change and delete devices.
    Apply(apply::ApplyArgs),
    /// Report what changed on the platform outside the manifests (read-only; exit 2 on drift).
    Drift(drift::DriftArgs),
    /// Render a saved plan without calling the platform.
    Show(show::ShowArgs),
    /// Fetch DeviceSecrets of existing devices into a secrets file.
    Secrets(secrets::SecretsArgs),
    /// Write manifests of the devices a product has now.
    Export(export::ExportArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Print the man page (or write all pages with --out-dir).
    Man(docs::ManArgs),
}

impl Command {
    /// Whether the command was asked for JSON, so that stdout carries one document, an error too.
    #[must_use]
    pub fn wants_json(&self) -> bool {
        match self {
            Command::Plan(args) => args.format == plan::PlanFormat::Json,
            Command::Show(args) => args.format == plan::PlanFormat::Json,
            Command::Drift(args) => args.format == drift::DriftFormat::Json,
            Command::Apply(args) => args.format == apply::ReportFormat::Json,
            Command::Devices(args) => args.format == apply::ReportFormat::Json,
            Command::Secrets(args) => args.format == apply::ReportFormat::Json,
            Command::Export(args) => args.format == export::ExportFormat::Json,
            Command::Validate(args) => args.format == validate::ValidateFormat::Json,
            Command::Emulator(_) | Command::Demo(_) | Command::Completions(_) | Command::Man(_) => {
                false
            }
        }
    }
}

/// The error document's version (`format_version`).
pub const ERROR_FORMAT_VERSION: u32 = 1;

/// The JSON document a command asked for JSON prints on stdout when it fails:
/// `{format_version, error: {message, causes[], hint}}`, the same text stderr shows.
#[must_use]
pub fn error_document(error: &anyhow::Error, hint: Option<&str>) -> String {
    let document = serde_json::json!({
        "format_version": ERROR_FORMAT_VERSION,
        "error": {
            "message": error.to_string(),
            "causes": error.chain().skip(1).map(ToString::to_string).collect::<Vec<_>>(),
            "hint": hint,
        }
    });
    format!("{document:#}\n")
}

impl GlobalArgs {
    /// Builds a client from flags, environment or profile.
    ///
    /// # Errors
    /// Missing credentials or region, with what to set.
    pub fn client(&self, region_hint: Option<&str>) -> anyhow::Result<Client> {
        let resolved = credentials::resolve(
            &credentials::Request {
                profile: self.profile.clone(),
                region: self
                    .region
                    .clone()
                    .or_else(|| region_hint.map(str::to_owned)),
            },
            &|key| std::env::var(key).ok(),
            &credentials::Paths::in_home(),
        )?;
        let endpoint = match (&self.endpoint, &resolved.region) {
            (Some(endpoint), _) => endpoint.clone(),
            (None, Some(region)) => credentials::endpoint_for(region),
            (None, None) => return Err(credentials::ConfigError::MissingRegion.into()),
        };
        // One source for every client, so that temporary credentials are fetched once.
        let source = self
            .credentials
            .get_or_init(|| Arc::new(CredentialSource::new(resolved.chain)))
            .clone();
        let mut config = ClientConfig::with_source(endpoint, source);
        config.region = resolved.region;
        config.max_attempts = self.max_attempts;
        config.qps_scale = self.qps_scale;
        Ok(Client::new(config)?)
    }

    /// One client per region the manifests name; each place gets its region's client with its
    /// instance applied.
    ///
    /// # Errors
    /// Missing credentials or region.
    pub fn clients_for(
        &self,
        desired: &crate::model::DesiredState,
    ) -> anyhow::Result<impl Fn(&crate::model::Place) -> Client + Sync + use<>> {
        let mut by_region = std::collections::BTreeMap::new();
        for place in desired.places() {
            if !by_region.contains_key(&place.region) {
                by_region.insert(place.region.clone(), self.client(place.region.as_deref())?);
            }
        }
        let default = match by_region.values().next() {
            Some(client) => client.clone(),
            None => self.client(None)?,
        };
        Ok(move |place: &crate::model::Place| {
            // Every place of a plan comes from the manifests the clients were built for; the
            // default serves only a place they did not name.
            by_region
                .get(&place.region)
                .unwrap_or(&default)
                .with_instance(place.instance.clone())
        })
    }

    /// The color choice: `--no-color` is `--color never`.
    #[must_use]
    pub fn color_choice(&self) -> ColorChoice {
        if self.no_color {
            ColorChoice::Never
        } else {
            self.color
        }
    }

    /// The printer these options ask for.
    #[must_use]
    pub fn printer(&self) -> Printer {
        Printer::stdio(self.color_choice().enabled(), self.quiet)
    }
}

/// Runs a parsed command line.
///
/// # Errors
/// Whatever the command failed with, with context.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    let printer = cli.global.printer();
    match cli.command {
        Command::Emulator(args) => emulator::run(args, &printer).await,
        Command::Devices(args) => devices::run(args, &cli.global, &printer).await,
        Command::Secrets(args) => secrets::run(args, &cli.global, &printer).await,
        Command::Export(args) => export::run(args, &cli.global, &printer).await,
        Command::Completions(args) => Ok(docs::completions(&args, &printer)),
        Command::Man(args) => docs::man(&args, &printer),
        Command::Demo(args) => demo::run(args, &cli.global, &printer).await,
        Command::Validate(args) => validate::run(args, &printer).await,
        Command::Plan(args) => plan::run(args, &cli.global, &printer).await,
        Command::Apply(args) => apply::run(args, &cli.global, &printer).await,
        Command::Show(args) => show::run(&args, &printer),
        Command::Drift(args) => drift::run(args, &cli.global, &printer).await,
    }
}

/// A file path argument's parent must exist before anything is written there.
pub(crate) fn ensure_parent(path: &std::path::Path) -> anyhow::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the folder {}", parent.display()))?;
    }
    Ok(())
}

/// `--region`, checked as it is parsed.
fn parse_region(value: &str) -> Result<String, String> {
    credentials::check_region(value, "--region")
        .map(|()| value.to_owned())
        .map_err(|e| e.to_string())
}

/// `--endpoint`, checked as it is parsed.
fn parse_endpoint(value: &str) -> Result<String, String> {
    credentials::check_endpoint(value).map_err(|e| e.to_string())
}

/// Milliseconds as a `Duration` for flags.
pub(crate) fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}
