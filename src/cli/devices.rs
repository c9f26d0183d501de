//! `iotplan devices`: list a product's devices as the platform has them.

use std::fmt::Write as _;

use clap::Args;

use crate::exit::ExitStatus;
use crate::output::{Printer, sanitize};
use crate::platform::paging::list_devices;

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
