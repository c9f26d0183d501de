//! `iotplan secrets`: fetch the DeviceSecrets of existing devices into a secrets file (e.g. after
//! an interrupted apply), with the same file rules as `apply --secrets-out`.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::Args;
use futures::{StreamExt as _, TryStreamExt as _};

use super::apply::ReportFormat;
use crate::apply::{SecretEntry, SecretsFile};
use crate::exit::ExitStatus;
use crate::output::{Printer, sanitize};
use crate::platform::paging::list_devices;
use crate::wire::MAX_DETAIL_NAMES;
use crate::wire::ops::BatchQueryDeviceDetail;

/// The `secrets --format json` report's version.
const SECRETS_REPORT_FORMAT_VERSION: u32 = 1;

/// Options of `iotplan secrets`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  iotplan secrets --product a1BwAGV8aWs --devices meter-0001,meter-0002 --out secrets.json\n  iotplan secrets --product a1BwAGV8aWs --all --out secrets.json"
)]
pub struct SecretsArgs {
    /// The ProductKey.
    #[arg(long)]
    pub product: String,
    /// IotInstanceId of an enterprise instance.
    #[arg(long)]
    pub instance: Option<String>,
    /// The devices, comma-separated (or the option repeated).
    #[arg(
        long,
        value_delimiter = ',',
        required_unless_present = "all",
        conflicts_with = "all"
    )]
    pub devices: Vec<String>,
    /// Every device of the product.
    #[arg(long)]
    pub all: bool,
    /// The secrets file: JSON, mode 0600, written atomically, merged with what it holds.
    #[arg(long)]
    pub out: PathBuf,
    /// Report format: a status line, or one JSON document on stdout
    /// `{format_version, product_key, file, written, missing[]}` (never a secret).
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// Fetches the secrets and merges them into `--out`; exit 1 when a named device does not exist
/// (the others are still written).
///
/// # Errors
/// Credentials, region, any API failure, or an unwritable file.
pub(super) async fn run(
    args: SecretsArgs,
    global: &super::GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    super::ensure_parent(&args.out)?;
    let file = SecretsFile::open(&args.out)?;
    let client = global.client(None)?.with_instance(args.instance);
    let product = args.product.clone();
    let entries: Vec<SecretEntry> = if args.all {
        list_devices(&client, &product, |_, _| {})
            .await?
            .into_iter()
            .map(|device| SecretEntry {
                product_key: product.clone(),
                device_name: device.device_name,
                iot_id: device.iot_id,
                device_secret: device.device_secret,
            })
            .collect()
    } else {
        let mut names = args.devices.clone();
        names.sort();
        names.dedup();
        if let Some(bad) = names.iter().find(|n| !crate::wire::is_valid_device_name(n)) {
            bail!(
                "`{}` is not a DeviceName; nothing was fetched",
                sanitize(bad)
            );
        }
        futures::stream::iter(names.chunks(MAX_DETAIL_NAMES).map(|chunk| {
            let call = BatchQueryDeviceDetail {
                product_key: product.clone(),
                device_names: chunk.to_vec(),
            };
            let client = &client;
            async move { client.call(&call).await }
        }))
        .buffer_unordered(8)
        .map_ok(|response| {
            futures::stream::iter(response.data.devices.into_iter().map(|device| {
                Ok::<_, crate::platform::Error>(SecretEntry {
                    product_key: device.product_key,
                    device_name: device.device_name,
                    iot_id: device.iot_id,
                    device_secret: device.device_secret,
                })
            }))
        })
        .try_flatten()
        .try_collect()
        .await
        .context("fetching device details")?
    };
    let written = file.merge(entries.iter().cloned())?;
    printer.status(&format!(
        "{written} secret(s) of {product} written to {} (mode 0600)",
        args.out.display()
    ));
    let missing: Vec<&String> = args
        .devices
        .iter()
        .filter(|name| !entries.iter().any(|e| &e.device_name == *name))
        .collect();
    if args.format == ReportFormat::Json {
        let document = serde_json::json!({
            "format_version": SECRETS_REPORT_FORMAT_VERSION,
            "product_key": product,
            "file": args.out.display().to_string(),
            "written": written,
            "missing": missing,
        });
        printer.out(&format!("{}\n", serde_json::to_string_pretty(&document)?));
    }
    if missing.is_empty() {
        return Ok(ExitStatus::Success);
    }
    printer.err_line(&format!(
        "error: {} device(s) not found in {product}: {}\nhint: check the names with `iotplan devices --product {product}`",
        missing.len(),
        missing.iter().map(|n| sanitize(n)).collect::<Vec<_>>().join(", ")
    ));
    Ok(ExitStatus::Failure)
}
