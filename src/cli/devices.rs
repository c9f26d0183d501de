//! `iotplan devices`: list a product's devices as the platform has them.

use std::fmt::Write as _;

use clap::Args;

use super::apply::ReportFormat;
use crate::exit::ExitStatus;
use crate::output::{Printer, sanitize};
use crate::platform::paging::list_devices;

/// The `devices --format json` document's version.
const DEVICES_FORMAT_VERSION: u32 = 1;

/// Options of `iotplan devices`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  iotplan devices --product a1BwAGV8aWs --region cn-shanghai")]
pub struct DevicesArgs {
    /// The ProductKey.
    #[arg(long)]
    pub product: String,
    /// IotInstanceId of an enterprise instance.
    #[arg(long)]
    pub instance: Option<String>,
    /// Output format: tab-separated lines, or one JSON document
    /// `{format_version, product_key, devices[] {name, iot_id, status, nickname}}`.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// One device in `devices --format json`.
#[derive(serde::Serialize)]
struct Listed<'a> {
    name: &'a str,
    iot_id: &'a str,
    status: &'a str,
    nickname: Option<&'a str>,
}

/// Lists devices: one line each, `name  status  nickname`.
///
/// # Errors
/// Credentials, region or any API failure.
pub(super) async fn run(
    args: DevicesArgs,
    global: &super::GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let client = global.client(None)?.with_instance(args.instance);
    let devices = list_devices(&client, &args.product, |_, _| {}).await?;
    if args.format == ReportFormat::Json {
        let listed: Vec<Listed<'_>> = devices
            .iter()
            .map(|d| Listed {
                name: &d.device_name,
                iot_id: &d.iot_id,
                status: &d.device_status,
                nickname: d.nickname.as_deref(),
            })
            .collect();
        let document = serde_json::json!({
            "format_version": DEVICES_FORMAT_VERSION,
            "product_key": args.product,
            "devices": listed,
        });
        printer.out(&format!("{}\n", serde_json::to_string_pretty(&document)?));
        return Ok(ExitStatus::Success);
    }
    let mut text = String::new();
    for device in &devices {
        let _ = writeln!(
            text,
            "{}\t{}\t{}",
            sanitize(&device.device_name),
            device.device_status,
            sanitize(device.nickname.as_deref().unwrap_or("")),
        );
    }
    printer.out(&text);
    printer.status(&format!("{} device(s) in {}", devices.len(), args.product));
    Ok(ExitStatus::Success)
}
