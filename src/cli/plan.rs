//! `iotplan plan`: show what apply would change; read-only.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, ValueEnum};

use crate::exit::ExitStatus;
use crate::output::Printer;
use crate::plan::guard::{self, MaxDelete};
use crate::render;

/// Plan output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PlanFormat {
    /// Terraform-like `+ ~ -` lines.
    Text,
    /// The plan document (`format_version` 1), as `--out` saves it.
    Json,
    /// A pull-request comment, at most 65,535 characters.
    Markdown,
}

/// Options of `iotplan plan`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  iotplan plan manifests/\n  iotplan plan manifests/ --format markdown --out plan.json --detailed-exitcode"
)]
pub struct PlanArgs {
    /// Manifest files or folders (read recursively for *.yaml, *.yml).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Save the plan (with fingerprints of the manifests and live state) for `apply --plan`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit 2 when there are changes, 0 when none, 1 on error.
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// List every device instead of compressing numbered runs.
    #[arg(long)]
    pub full: bool,
    /// The deletion limit apply will use (as `apply --max-delete`): the plan says when apply
    /// will refuse it.
    #[arg(long, default_value = guard::DEFAULT_MAX_DELETE, value_parser = super::apply::parse_max_delete)]
    pub max_delete: MaxDelete,
    /// Plan only this product of the manifests (repeatable); the others, and the manifests'
    /// products and groups, are not read.
    #[arg(long = "product", value_name = "KEY")]
    pub products: Vec<String>,
    /// Deleting undeclared products and groups.
    #[command(flatten)]
    pub prune: super::planning::PruneArgs,
}

/// Plans and prints.
///
/// # Errors
/// Invalid manifests, credentials, or any read failure.
pub(super) async fn run(
    args: PlanArgs,
    global: &super::GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let loaded =
        super::planning::only_products(crate::manifest::load(&args.paths)?, &args.products)?;
    let clients = global.clients_for(&loaded.desired)?;
    let options = super::planning::PlanOptions {
        max_delete: args.max_delete,
        prune: args.prune.into(),
    };
    let planned = super::planning::plan_loaded(loaded, &clients, options, printer).await?;
    let plan = &planned;
    let rendered = match args.format {
        PlanFormat::Text => render::text(plan, args.full, printer.color),
        PlanFormat::Json => render::json(plan),
        PlanFormat::Markdown => render::markdown(plan),
    };
    printer.out(&rendered);
    if let Some(out) = &args.out {
        super::ensure_parent(out)?;
        crate::fsutil::write_atomically(out, render::json(plan).as_bytes(), None)
            .with_context(|| format!("cannot save the plan to {}", out.display()))?;
        if plan.delete_guard.is_empty() {
            printer.status(&format!(
                "plan saved to {}; apply it with: iotplan apply --plan {}",
                out.display(),
                out.display()
            ));
        } else {
            printer.status(&format!(
                "plan saved to {}, but apply will refuse it: it deletes more than --max-delete allows (see `!`); plan again with fewer deletions, or apply with a higher --max-delete",
                out.display()
            ));
        }
    }
    Ok(if args.detailed_exitcode && plan.summary().has_changes() {
        ExitStatus::Changes
    } else {
        ExitStatus::Success
    })
}
