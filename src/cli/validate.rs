//! `iotplan validate`: check manifests offline; exit 0 when valid, 1 otherwise.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::exit::ExitStatus;
use crate::manifest;
use crate::output::Printer;

/// Validate output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ValidateFormat {
    /// Human-readable.
    Text,
    /// `{"format_version":1,"valid":…,"products":…,"devices":…,"errors":[{file,line,column,message,hint}]}`,
    /// with `product_documents`, `groups` and `memberships` when the manifests declare some.
    Json,
}

/// Options of `iotplan validate`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  iotplan validate manifests/")]
pub struct ValidateArgs {
    /// Manifest files or folders.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ValidateFormat::Text)]
    pub format: ValidateFormat,
}

#[derive(Serialize)]
struct JsonError {
    file: String,
    line: u32,
    column: u32,
    message: String,
    hint: Option<String>,
}

#[derive(Serialize)]
struct JsonReport {
    format_version: u32,
    valid: bool,
    products: usize,
    devices: usize,
    #[serde(flatten)]
    fleet: FleetCounts,
    errors: Vec<JsonError>,
}

/// What the manifests declare besides devices; each left out of the JSON when zero.
#[derive(Serialize, Default)]
struct FleetCounts {
    /// `Product` documents.
    #[serde(skip_serializing_if = "is_zero")]
    product_documents: usize,
    /// `DeviceGroup` documents.
    #[serde(skip_serializing_if = "is_zero")]
    groups: usize,
    /// Device-to-group memberships declared on device entries.
    #[serde(skip_serializing_if = "is_zero")]
    memberships: usize,
}

#[allow(clippy::trivially_copy_pass_by_ref)] // serde's skip_serializing_if passes a reference
fn is_zero(count: &usize) -> bool {
    *count == 0
}

impl FleetCounts {
    fn of(desired: &crate::model::DesiredState) -> Self {
        FleetCounts {
            product_documents: desired.declared_products.len(),
            groups: desired.groups.len(),
            memberships: desired
                .products
                .values()
                .flat_map(|p| p.devices.values())
                .map(|d| d.groups.as_ref().map_or(0, |g| g.len()))
                .sum(),
        }
    }

    /// `, 2 Product document(s), 3 device group(s), 40 membership(s)`, the zero ones left out.
    fn text(&self) -> String {
        let mut text = String::new();
        for (count, what) in [
            (self.product_documents, "Product document(s)"),
            (self.groups, "device group(s)"),
            (self.memberships, "membership(s)"),
        ] {
            if count > 0 {
                let _ = write!(text, ", {count} {what}");
            }
        }
        text
    }
}

/// Validates and reports.
///
/// # Errors
/// None of its own: invalid manifests are reported and give exit 1.
#[allow(clippy::unused_async)]
pub(super) async fn run(args: ValidateArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let result = manifest::load(&args.paths);
    let (products, devices) = result.as_ref().map_or((0, 0), |loaded| {
        (
            loaded.desired.products.len(),
            loaded
                .desired
                .products
                .values()
                .map(|p| p.devices.len())
                .sum(),
        )
    });
    let fleet = result.as_ref().map_or_else(
        |_| FleetCounts::default(),
        |loaded| FleetCounts::of(&loaded.desired),
    );
    match args.format {
        ValidateFormat::Json => {
            let errors = result
                .as_ref()
                .err()
                .map(|e| e.diagnostics.clone())
                .unwrap_or_default();
            let report = JsonReport {
                format_version: 1,
                valid: result.is_ok(),
                products,
                devices,
                fleet,
                errors: errors
                    .into_iter()
                    .map(|d| JsonError {
                        file: d.origin.file.to_string(),
                        line: d.origin.line,
                        column: d.origin.column,
                        message: d.message,
                        hint: d.hint,
                    })
                    .collect(),
            };
            printer.out(&format!("{}\n", serde_json::to_string_pretty(&report)?));
        }
        ValidateFormat::Text => match &result {
            Ok(loaded) => printer.out(&format!(
                "valid: {products} product(s), {devices} device(s){} in {} file(s)\n",
                fleet.text(),
                loaded.files.len()
            )),
            Err(error) => printer.err_line(&format!("error: {error}")),
        },
    }
    Ok(if result.is_ok() {
        ExitStatus::Success
    } else {
        ExitStatus::Failure
    })
}
