//! `iotplan show`: render a saved plan without calling the platform, so an apply job can print
//! what it is about to apply.

use std::path::PathBuf;

use clap::Args;

use super::plan::PlanFormat;
use crate::exit::ExitStatus;
use crate::output::Printer;
use crate::plan::saved;
use crate::render;

/// Options of `iotplan show`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  iotplan show plan.json --format markdown")]
pub struct ShowArgs {
    /// A plan saved by `iotplan plan --out`.
    pub plan: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// List every device instead of compressing numbered runs.
    #[arg(long)]
    pub full: bool,
}

/// Reads the plan and prints it; offline.
///
/// # Errors
/// An unreadable file, one that is not a plan, or a plan of another format version.
pub(super) fn run(args: &ShowArgs, printer: &Printer) -> anyhow::Result<ExitStatus> {
    let plan = saved::read(&args.plan)?;
    printer.out(&match args.format {
        PlanFormat::Text => render::text(&plan, args.full, printer.color),
        PlanFormat::Json => render::json(&plan),
        PlanFormat::Markdown => render::markdown(&plan),
    });
    Ok(ExitStatus::Success)
}
