//! `iotplan drift`: what changed on the platform outside the repo; read-only, for scheduled runs.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use crate::drift::{self, Rule, Skipped};
use crate::exit::ExitStatus;
use crate::model::{DesiredState, ProductSpec};
use crate::output::Printer;
use crate::output::progress::Progress;
use crate::platform::Error as PlatformError;
use crate::platform::live;

/// Drift report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DriftFormat {
    /// Findings per product, field by field.
    Text,
    /// The report document (`format_version` 1).
    Json,
    /// An issue body that starts with `<!-- iotplan-drift -->`, at most 60,000 characters.
    Markdown,
}

/// Options of `iotplan drift`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit status: 0 in sync, 2 drift found, 1 error or not everything could be read.\n\nIgnore rules (--ignore, or one per line in .iotplan-drift-ignore): comma-separated key=glob pairs,\nall of which must match; keys product, device, field (nickname, enabled, tags.KEY) and kind\n(changed, missing, unmanaged). Ignored findings are counted in the report.\n\nExamples:\n  iotplan drift manifests/\n  iotplan drift manifests/ --format markdown --ignore 'field=tags.last_seen' --ignore 'device=test-*,kind=unmanaged'"
)]
pub struct DriftArgs {
    /// Manifest files or folders (read recursively for *.yaml, *.yml).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DriftFormat::Text)]
    pub format: DriftFormat,
    /// A finding to ignore (repeatable), e.g. `field=tags.last_seen` or `device=lab-*,kind=unmanaged`.
    #[arg(long = "ignore", value_name = "RULE")]
    pub ignore: Vec<String>,
    /// A file of ignore rules (default: .iotplan-drift-ignore in the current folder, if any).
    #[arg(long, value_name = "FILE")]
    pub ignore_file: Option<PathBuf>,
    /// Check only this product of the manifests (repeatable).
    #[arg(long = "product", value_name = "KEY")]
    pub products: Vec<String>,
}

fn rules(args: &DriftArgs) -> anyhow::Result<Vec<Rule>> {
    let file = match &args.ignore_file {
        Some(path) => Some(path.clone()),
        None => Some(PathBuf::from(drift::DEFAULT_IGNORE_FILE)).filter(|p| p.exists()),
    };
    let mut rules = Vec::new();
    if let Some(path) = file {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the ignore file {}", path.display()))?;
        rules.extend(Rule::parse_file(&text, &path.display().to_string())?);
    }
    for rule in &args.ignore {
        rules.push(Rule::parse(rule, "--ignore")?);
    }
    Ok(rules)
}

fn one(spec: &ProductSpec, prune: bool) -> DesiredState {
    DesiredState {
        products: [(
            spec.product_key.clone(),
            ProductSpec {
                prune,
                ..spec.clone()
            },
        )]
        .into(),
        ..DesiredState::default()
    }
}

/// Reads every product whole (as prune would), classifies, prints.
///
/// # Errors
/// Invalid manifests or ignore rules, or credentials; a product that cannot be read is reported
/// as skipped, and the run exits 1.
pub(super) async fn run(
    args: DriftArgs,
    global: &super::GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let rules = rules(&args)?;
    let loaded =
        super::planning::only_products(crate::manifest::load(&args.paths)?, &args.products)?;
    let clients = global.clients_for(&loaded.desired)?;
    let progress = Progress::new(printer);
    let report_progress = |product: &str, read: usize, total: usize| {
        progress.update(&format!("{product} reading devices"), read, total);
    };
    // Products are read side by side, as plan reads them.
    let (clients, report_progress) = (&clients, &report_progress);
    let reads = loaded.desired.products.values().map(|spec| async move {
        // Every device is listed, whatever `prune` says, so that unmanaged devices are found.
        let mut caveat = None;
        let mut read = live::read(clients, &one(spec, true), report_progress).await;
        if let Err(errors) = &read
            && let [error] = errors.as_slice()
            && matches!(error.source, PlatformError::TooLargeToList { .. })
        {
            caveat = Some(error.source.to_string());
            read = live::read(clients, &one(spec, spec.prune), report_progress).await;
        }
        (spec, caveat, read)
    });
    let mut products = Vec::new();
    let mut skipped = Vec::new();
    for (spec, caveat, read) in futures::future::join_all(reads).await {
        match read {
            Ok(state) => {
                let live = state
                    .products
                    .get(&spec.product_key)
                    .cloned()
                    .unwrap_or_default();
                progress.finish(
                    &format!("{} reading devices", spec.product_key),
                    &format!("{} device(s) read", live.devices.len()),
                );
                let plan = crate::plan::diff(
                    &ProductSpec {
                        prune: caveat.is_none(),
                        ..spec.clone()
                    },
                    &live,
                );
                products.push(drift::product_drift(spec, &plan, caveat, &rules));
            }
            // Signing in is not a product's problem: nothing could be read.
            Err(errors)
                if errors
                    .iter()
                    .any(|e| matches!(e.source, PlatformError::Credentials(_))) =>
            {
                return Err(live::ReadErrors(errors).into());
            }
            Err(errors) => skipped.extend(errors.into_iter().map(|error| Skipped {
                product_key: error.product_key,
                reason: match error.source.hint() {
                    Some(hint) => format!("{}; hint: {hint}", error.source),
                    None => error.source.to_string(),
                },
            })),
        }
    }
    let mut report = drift::report(products, skipped, &rules);
    report.signed_in = loaded
        .desired
        .products
        .values()
        .next()
        .and_then(|spec| clients(&spec.place()).signed_in());
    printer.out(&match args.format {
        DriftFormat::Text => drift::text(&report),
        DriftFormat::Json => drift::json(&report),
        DriftFormat::Markdown => drift::markdown(&report),
    });
    // Unread products fail the run; a product whose unmanaged devices could not be listed is
    // never in sync either (exit 2), and its report says why.
    Ok(if !report.skipped.is_empty() {
        ExitStatus::Failure
    } else if report.in_sync {
        ExitStatus::Success
    } else {
        ExitStatus::Changes
    })
}
