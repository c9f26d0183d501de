//! `iotplan validate`: check manifests offline; exit 0 when valid, 1 otherwise.

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
    /// `{"format_version":1,"valid":…,"products":…,"devices":…,"errors":[{file,line,column,message,hint}]}`.
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
    errors: Vec<JsonError>,
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
                "valid: {products} product(s), {devices} device(s) in {} file(s)\n",
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
