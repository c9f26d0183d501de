//! `iotplan emulator`: serve the local emulator until Ctrl-C.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use crate::emulator::seed::{Seed, new_product};
use crate::emulator::sts::{OidcIssuer, StsConfig};
use crate::emulator::{
    self, AccessKey, Config, DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, Emulator,
};
use crate::exit::ExitStatus;
use crate::output::Printer;
use crate::platform::credentials::{ENV_ACCESS_KEY_ID, ENV_ACCESS_KEY_SECRET, ENV_SECURITY_TOKEN};
use crate::secret::Secret;

/// Options of `iotplan emulator`.
#[derive(Debug, Args)]
#[command(
    after_help = "Example:\n  iotplan emulator --listen 127.0.0.1:8080 --state .iotplan/emulator.json --product a1DemoProd1"
)]
pub struct EmulatorArgs {
    /// Address to listen on (loopback unless told otherwise).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Keep products and devices in this file across runs.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Preload products and devices from a YAML/JSON seed file.
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// Create a product with this ProductKey (repeatable; a shortcut for demos).
    #[arg(long = "product")]
    pub products: Vec<String>,
    /// Accepted AccessKey ID (else ALIBABA_CLOUD_ACCESS_KEY_ID, else the demo key `iotplan-demo`).
    #[arg(long)]
    pub access_key_id: Option<String>,
    /// Accepted AccessKey secret (else ALIBABA_CLOUD_ACCESS_KEY_SECRET, else the demo secret).
    #[arg(long)]
    pub access_key_secret: Option<String>,
    /// Added latency per request, in ms.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Fraction of requests answered 503 ServiceUnavailable before any change (0..1).
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Time each asynchronous ApplyId step (check, create) takes, in ms.
    #[arg(long, default_value_t = 500)]
    pub apply_delay_ms: u64,
    /// Multiplier on the per-Action QPS quotas (0 turns throttling off).
    #[arg(long, default_value_t = 1.0)]
    pub qps_scale: f64,
    /// A region this emulator serves (repeatable; default cn-shanghai): requests whose RegionId
    /// names another are refused with InvalidRegionId, as a wrong region would fail.
    #[arg(long = "serve-region", value_name = "REGION", value_parser = parse_served_region)]
    pub serve_regions: Vec<String>,
    /// How long a client may take to send a request's headers, then its body, in ms; slower
    /// connections are closed (headers) or answered 408 RequestTimeout (body).
    #[arg(long, default_value_t = emulator::DEFAULT_CLIENT_TIMEOUT.as_millis() as u64)]
    pub client_timeout_ms: u64,
    /// A RAM role STS lets callers assume (repeatable; default iotplan-deployer): its ARN is
    /// acs:ram::1234567890123456:role/NAME.
    #[arg(
        long = "sts-role",
        value_name = "NAME",
        help_heading = "Sign-in services"
    )]
    pub sts_roles: Vec<String>,
    /// Credentials STS, the metadata service and the credentials URI hand out live at most this
    /// many seconds, whatever was asked (to rehearse refresh and expiry).
    #[arg(long, value_name = "SECONDS", help_heading = "Sign-in services")]
    pub sts_max_lifetime: Option<u64>,
    /// The OIDC subjects the roles trust: exact, or a prefix ending in `*` (e.g. repo:org/fleet:*).
    #[arg(long, default_value = "*", help_heading = "Sign-in services")]
    pub oidc_subject: String,
    /// The emulated ECS instance's RAM role (served by the metadata service under /latest/).
    #[arg(long, default_value = "iotplan-ecs", help_heading = "Sign-in services")]
    pub instance_role: String,
    /// An AccessKey ID that may not assume any role (repeatable): STS answers it NoPermission.
    #[arg(
        long = "sts-deny-caller",
        value_name = "ACCESS_KEY_ID",
        help_heading = "Sign-in services"
    )]
    pub sts_denied_callers: Vec<String>,
    /// The metadata service refuses session tokens, as an instance without hardened mode does.
    #[arg(long, help_heading = "Sign-in services")]
    pub imdsv1_only: bool,
    /// BatchGetDeviceState leaves unknown names out instead of failing the call with
    /// iot.device.NotExistedDevice (the platform's behaviour is not documented).
    #[arg(long)]
    pub state_omits_unknown: bool,
}

fn parse_served_region(value: &str) -> Result<String, String> {
    crate::platform::credentials::check_region(value, "--serve-region")
        .map(|()| value.to_owned())
        .map_err(|e| e.to_string())
}

fn keys(args: &EmulatorArgs) -> Vec<AccessKey> {
    let id = args
        .access_key_id
        .clone()
        .or_else(|| std::env::var(ENV_ACCESS_KEY_ID).ok());
    let secret = args
        .access_key_secret
        .clone()
        .or_else(|| std::env::var(ENV_ACCESS_KEY_SECRET).ok());
    match (id, secret) {
        (Some(id), Some(secret)) => vec![AccessKey {
            id,
            secret: Secret::new(secret),
            security_token: std::env::var(ENV_SECURITY_TOKEN)
                .ok()
                .filter(|t| !t.is_empty())
                .map(Secret::new),
            expires_ms: None,
        }],
        _ => vec![AccessKey {
            id: DEMO_ACCESS_KEY_ID.to_owned(),
            secret: Secret::new(DEMO_ACCESS_KEY_SECRET),
            security_token: None,
            expires_ms: None,
        }],
    }
}

fn sts_config(args: &EmulatorArgs) -> StsConfig {
    let defaults = StsConfig::default();
    StsConfig {
        roles: if args.sts_roles.is_empty() {
            defaults.roles
        } else {
            args.sts_roles.clone()
        },
        max_lifetime: args.sts_max_lifetime.map(std::time::Duration::from_secs),
        oidc: OidcIssuer {
            subject: args.oidc_subject.clone(),
            ..defaults.oidc
        },
        instance_role: Some(args.instance_role.clone()),
        metadata_tokens: !args.imdsv1_only,
        denied_callers: args.sts_denied_callers.clone(),
    }
}

/// Runs the emulator until Ctrl-C.
///
/// # Errors
/// Bad flags, an unusable state or seed file, or an address that cannot be bound.
pub(super) async fn run(args: EmulatorArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.fail_rate),
        "--fail-rate must be between 0 and 1"
    );
    anyhow::ensure!(args.qps_scale >= 0.0, "--qps-scale must not be negative");
    anyhow::ensure!(
        args.client_timeout_ms > 0,
        "--client-timeout-ms must be at least 1"
    );
    if let Some(state) = &args.state {
        super::ensure_parent(state)?;
    }
    let keys = keys(&args);
    let config = Config {
        listen: args.listen,
        keys: keys.clone(),
        state_file: args.state.clone(),
        latency: super::millis(args.latency_ms),
        fail_rate: args.fail_rate,
        apply_delay: super::millis(args.apply_delay_ms),
        qps_scale: args.qps_scale,
        client_timeout: super::millis(args.client_timeout_ms),
        regions: if args.serve_regions.is_empty() {
            vec![emulator::DEFAULT_REGION.to_owned()]
        } else {
            args.serve_regions.clone()
        },
        sts: sts_config(&args),
        state_omits_unknown: args.state_omits_unknown,
    };
    let config_regions = config.regions.clone();
    let emulator_roles = config.sts.roles.clone();
    let provider_arn = config.sts.provider_arn();
    let emulator = Emulator::new(config)?;
    let now = jiff::Timestamp::now().as_millisecond();
    if let Some(path) = &args.seed {
        let seed = Seed::load(path)?;
        emulator.with_store(|store| seed.apply(store, now));
    }
    emulator.with_store(|store| {
        for key in &args.products {
            if !store.products.contains_key(key) {
                store.add_product(new_product(key, None, None, now));
            }
        }
    });
    let running = emulator::serve(emulator).await?;
    if !running.addr.ip().is_loopback() {
        printer.err_line(&format!(
            "warning: listening on {}, which is reachable from other machines",
            running.addr
        ));
    }
    printer.err_line(&format!(
        "iotplan emulator listening on {}",
        running.endpoint()
    ));
    printer.err_line(&format!(
        "  regions: {} (RegionId of any other is refused)",
        config_regions.join(", ")
    ));
    printer.err_line(&format!(
        "  AccessKey ID: {} (secret not shown)",
        keys[0].id
    ));
    if keys[0].id == DEMO_ACCESS_KEY_ID {
        printer.err_line(&format!("  demo credentials: {ENV_ACCESS_KEY_ID}={DEMO_ACCESS_KEY_ID} {ENV_ACCESS_KEY_SECRET}={DEMO_ACCESS_KEY_SECRET}"));
    }
    printer.err_line(&format!(
        "  point iotplan at it with --endpoint {} (or IOTPLAN_ENDPOINT)",
        running.endpoint()
    ));
    printer.err_line(&format!(
        "  sign-in services: STS (ALIBABA_CLOUD_STS_ENDPOINT={0}, roles {1}, OIDC provider {2}), instance metadata (IOTPLAN_ECS_METADATA_ENDPOINT={0}), credentials URI {0}/_emulator/credentials",
        running.endpoint(),
        emulator_roles.iter().map(|r| StsConfig::role_arn(r)).collect::<Vec<_>>().join(", "),
        provider_arn,
    ));
    tokio::signal::ctrl_c()
        .await
        .context("cannot wait for Ctrl-C")?;
    printer.err_line("stopping; state saved");
    running.stop().await?;
    Ok(ExitStatus::Success)
}
