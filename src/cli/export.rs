//! `iotplan export`: write v1 manifests of what the platform has now, to bring an existing fleet
//! under management. Planning the exported files shows no changes.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::exit::ExitStatus;
use crate::export::{self, Target};
use crate::output::Printer;
use crate::output::progress::Progress;
use crate::platform::live::read_devices;

/// Summary formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Status lines on stderr.
    Text,
    /// The export summary document (`format_version` 1) on stdout.
    Json,
}

/// Options of `iotplan export`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  iotplan export --product a1BwAGV8aWs --region cn-shanghai > manifests/meters.yaml\n  iotplan export --product a1BwAGV8aWs --product a1OfficeLite --out manifests/"
)]
pub struct ExportArgs {
    /// The ProductKey (repeat for several products).
    #[arg(long, required = true)]
    pub product: Vec<String>,
    /// IotInstanceId of an enterprise instance (written into the manifests).
    #[arg(long)]
    pub instance: Option<String>,
    /// A file (`.yaml`/`.yml`, one product) or a folder (one `<ProductKey>.yaml` each); without
    /// it the manifests go to stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Overwrite files that exist.
    #[arg(long)]
    pub force: bool,
    /// Leave tags out (faster: no tag read per device); exported devices then leave tags unmanaged.
    #[arg(long)]
    pub no_tags: bool,
    /// Summary format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Text)]
    pub format: ExportFormat,
}

/// One product's line of the summary.
#[derive(Debug, Serialize)]
struct ProductSummary {
    product_key: String,
    file: Option<String>,
    devices: usize,
    entries: usize,
    unmanaged: Vec<String>,
}

/// `--format json`.
#[derive(Debug, Serialize)]
struct Summary {
    format_version: u32,
    products: Vec<ProductSummary>,
}

/// Where each product's manifest goes: `None` for stdout.
fn destinations(args: &ExportArgs) -> anyhow::Result<Vec<Option<PathBuf>>> {
    let Some(out) = &args.out else {
        return Ok(vec![None; args.product.len()]);
    };
    let is_file = out.extension().is_some_and(|e| e == "yaml" || e == "yml") && !out.is_dir();
    if is_file && args.product.len() > 1 {
        bail!(
            "--out {} is one file but {} products were asked for\nhint: give a folder, e.g. --out manifests/",
            out.display(),
            args.product.len()
        );
    }
    let paths: Vec<PathBuf> = if is_file {
        vec![out.clone()]
    } else {
        args.product
            .iter()
            .map(|key| out.join(format!("{key}.yaml")))
            .collect()
    };
    if !args.force
        && let Some(existing) = paths.iter().find(|p| p.exists())
    {
        bail!(
            "{} exists; nothing was exported\nhint: pass --force to overwrite it, or choose another --out",
            existing.display()
        );
    }
    Ok(paths.into_iter().map(Some).collect())
}

fn header(key: &str, devices: usize) -> String {
    let mut text = String::new();
    let _ = writeln!(
        text,
        "# Exported by iotplan export from product {key} ({devices} device(s)); prune is off: review before turning it on."
    );
    text
}

/// Reads each product and writes its manifest.
///
/// # Errors
/// Credentials, region, an unknown product, any API failure, or an unwritable file.
pub(super) async fn run(
    args: ExportArgs,
    global: &super::GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    if args.format == ExportFormat::Json && args.out.is_none() {
        bail!(
            "--format json prints the summary on stdout, so the manifests need --out FILE or --out DIR"
        );
    }
    let destinations = destinations(&args)?;
    let client = global.client(None)?.with_instance(args.instance.clone());
    let progress = Progress::new(printer);
    let report = |product: &str, read: usize, total: usize| {
        progress.update(&format!("{product} reading devices"), read, total);
    };
    let mut summary = Summary {
        format_version: 1,
        products: Vec::new(),
    };
    let mut stdout = String::new();
    for (key, destination) in args.product.iter().zip(destinations) {
        let include_tags = !args.no_tags;
        let live = read_devices(&client, key, &|_| include_tags, &report)
            .await
            .map_err(|error| anyhow::anyhow!(crate::platform::live::ReadErrors(vec![error])))?;
        progress.finish(
            &format!("{key} reading devices"),
            &format!("{} device(s) read", live.devices.len()),
        );
        let target = Target {
            product_key: key.clone(),
            region: global.region.clone(),
            instance: args.instance.clone(),
        };
        let exported = export::manifest(&target, &live)
            .with_context(|| format!("cannot write the manifest of {key}"))?;
        // The manifest must load as written: a check against exporting what validate refuses.
        crate::manifest::load_str(key, &exported.text).map_err(|e| {
            anyhow::anyhow!(
                "the exported manifest of {key} does not validate; this is a bug in iotplan:\n{e}"
            )
        })?;
        if let Some(path) = &destination {
            super::ensure_parent(path)?;
            let text = header(key, exported.devices) + &exported.text;
            crate::fsutil::write_atomically(path, text.as_bytes(), Some(0o644))
                .with_context(|| format!("cannot write {}", path.display()))?;
            printer.status(&format!(
                "{key}: {} device(s) in {} entr{} written to {}",
                exported.devices,
                exported.entries,
                if exported.entries == 1 { "y" } else { "ies" },
                path.display()
            ));
        } else {
            if !stdout.is_empty() {
                stdout.push_str("---\n");
            }
            stdout.push_str(&header(key, exported.devices));
            stdout.push_str(&exported.text);
        }
        for line in &exported.unmanaged {
            printer.err_line(&format!("warning: {}", crate::output::sanitize(line)));
        }
        summary.products.push(ProductSummary {
            product_key: key.clone(),
            file: destination.map(|p| p.display().to_string()),
            devices: exported.devices,
            entries: exported.entries,
            unmanaged: exported.unmanaged,
        });
    }
    match args.format {
        ExportFormat::Text => printer.out(&stdout),
        ExportFormat::Json => {
            printer.out(&format!("{}\n", serde_json::to_string_pretty(&summary)?));
        }
    }
    Ok(ExitStatus::Success)
}
