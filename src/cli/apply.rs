//! `iotplan apply`: plan (or take a saved plan), confirm, carry it out, report.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};

use super::planning::{Planned, plan_loaded};
use crate::apply::{self, Options, Report};
use crate::exit::ExitStatus;
use crate::manifest;
use crate::model::ProductSpec;
use crate::output::Printer;
use crate::output::progress::Progress;
use crate::plan::{FORMAT_VERSION, Plan};
use crate::platform::Client;
use crate::render;

/// Report formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    /// A line per product.
    Text,
    /// The report document (`format_version` 1).
    Json,
}

/// Options of `iotplan apply`.
#[derive(Debug, Args)]
#[command(
    after_help = "Examples:\n  iotplan apply manifests/ --secrets-out secrets.json\n  iotplan apply --plan plan.json --secrets-out secrets.json"
)]
pub struct ApplyArgs {
    /// Manifest files or folders (not with --plan).
    #[arg(required_unless_present = "plan", conflicts_with = "plan")]
    pub paths: Vec<PathBuf>,
    /// Apply a plan saved by `iotplan plan --out` (the saved plan is the approval).
    #[arg(long)]
    pub plan: Option<PathBuf>,
    /// Apply without asking.
    #[arg(long)]
    pub auto_approve: bool,
    /// Write DeviceSecrets of registered devices here (JSON, mode 0600, merged with its contents).
    #[arg(long)]
    pub secrets_out: Option<PathBuf>,
    /// Refuse when a product would lose more devices than this: a count (`20`) or a share of its
    /// devices (`10%`).
    #[arg(long, default_value = "10%")]
    pub max_delete: String,
    /// When some names of a chunk fail the platform's check, still register the valid ones.
    #[arg(long)]
    pub register_valid_names: bool,
    /// Folder of the journal of open applications.
    #[arg(long, default_value = ".iotplan/journal")]
    pub journal_dir: PathBuf,
    /// Longest wait for one asynchronous application, in seconds.
    #[arg(long, default_value_t = 600)]
    pub wait_timeout: u64,
    /// Report format.
    #[arg(long, value_enum, default_value_t = ReportFormat::Text)]
    pub format: ReportFormat,
}

/// A deletion limit.
#[derive(Debug, Clone, Copy, PartialEq)]
enum MaxDelete {
    Count(usize),
    Share(f64),
}

fn parse_max_delete(text: &str) -> anyhow::Result<MaxDelete> {
    let parsed = match text.strip_suffix('%') {
        Some(share) => share
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|s| (0.0..=100.0).contains(s))
            .map(MaxDelete::Share),
        None => text.trim().parse::<usize>().ok().map(MaxDelete::Count),
    };
    parsed.with_context(|| {
        format!("--max-delete `{text}` is neither a count (20) nor a percentage (10%)")
    })
}

/// Refuses plans that delete more than allowed.
fn check_prune_guard(plan: &Plan, limit: MaxDelete) -> anyhow::Result<()> {
    let mut refused = String::new();
    for product in plan.products.iter().filter(|p| !p.delete.is_empty()) {
        let allowed = match limit {
            MaxDelete::Count(count) => count,
            MaxDelete::Share(share) => {
                (product.live_devices as f64 * share / 100.0).floor() as usize
            }
        };
        if product.delete.len() > allowed {
            let _ = writeln!(
                refused,
                "  product {}: {} of its {} devices would be deleted; the limit is {allowed}",
                product.product_key,
                product.delete.len(),
                product.live_devices
            );
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        bail!(
            "refusing to delete this many devices; nothing was changed:\n{refused}hint: check that every manifest is included; to delete them anyway, raise --max-delete (e.g. --max-delete 100%); to keep a device whatever the manifests say, tag it iotplan.protect=true"
        )
    }
}

fn confirm(printer: &Printer, plan: &Plan) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!(
            "refusing to apply without confirmation: there is no terminal to ask on; nothing was changed\nhint: pass --auto-approve, or save the plan with `iotplan plan --out plan.json` and apply it with `iotplan apply --plan plan.json`"
        );
    }
    let deletions = plan.summary().delete;
    let warning = if deletions > 0 {
        format!(" {deletions} device(s) listed with `-` will be DELETED permanently.")
    } else {
        String::new()
    };
    printer.err_line(&format!(
        "Apply these changes?{warning} Only 'yes' is accepted:"
    ));
    let mut answer = String::new();
    std::io::stdin()
        .read_line(&mut answer)
        .context("cannot read the answer")?;
    if answer.trim() != "yes" {
        bail!("apply cancelled; nothing was changed");
    }
    Ok(())
}

/// Reads a saved plan file and the manifests it was made from.
fn read_saved_plan(path: &PathBuf) -> anyhow::Result<(Plan, manifest::Loaded)> {
    let text =
        std::fs::read(path).with_context(|| format!("cannot read the plan {}", path.display()))?;
    let saved: Plan = serde_json::from_slice(&text)
        .with_context(|| format!("{} is not an iotplan plan file", path.display()))?;
    if saved.format_version != FORMAT_VERSION {
        bail!(
            "{} has plan format {}, this iotplan reads {FORMAT_VERSION}: plan again with this version",
            path.display(),
            saved.format_version
        );
    }
    let files: Vec<PathBuf> = saved.manifest_files.iter().map(PathBuf::from).collect();
    let loaded =
        manifest::load(&files).context("the manifests the plan was made from no longer load")?;
    Ok((saved, loaded))
}

/// Refuses a saved plan when the manifests or the platform changed since it was made, or when
/// its actions are not what planning gives now.
fn refuse_stale(path: &Path, saved: &Plan, current: &Planned) -> anyhow::Result<()> {
    let mut reasons = Vec::new();
    if current.loaded.fingerprint != saved.manifest_fingerprint {
        reasons.push("the manifests changed since the plan was made".to_owned());
    }
    for old in &saved.products {
        match current.plan.products.iter().find(|p| p.product_key == old.product_key) {
            Some(now) if now.live_fingerprint != old.live_fingerprint => reasons.push(format!(
                "product {}: the platform changed since the plan was made (devices then {}, now {}; planning now gives {} to register, {} to change, {} to delete instead of {}, {}, {})",
                old.product_key,
                old.live_devices,
                now.live_devices,
                now.register.len(),
                now.update.len(),
                now.delete.len(),
                old.register.len(),
                old.update.len(),
                old.delete.len()
            )),
            Some(_) => {}
            None => reasons.push(format!("product {} is no longer in the manifests", old.product_key)),
        }
    }
    if reasons.is_empty() && current.plan.products != saved.products {
        reasons.push("its actions differ from what the manifests and the platform give now, though neither changed: was the file edited?".to_owned());
    }
    if !reasons.is_empty() {
        bail!(
            "the saved plan {} is stale; nothing was applied:\n  {}\nhint: run `iotplan plan --out` again and review the new plan",
            path.display(),
            reasons.join("\n  ")
        );
    }
    Ok(())
}

/// The text report.
#[must_use]
pub(crate) fn report_text(report: &Report, secrets_out: Option<&PathBuf>) -> String {
    let mut out = String::new();
    for product in &report.products {
        let _ = writeln!(
            out,
            "{}: {} registered, {} renamed, {} enabled, {} disabled, {} tagged, {} deleted, {} failed{}",
            product.product_key,
            product.registered,
            product.renamed,
            product.enabled,
            product.disabled,
            product.tagged,
            product.deleted,
            product.failures.len(),
            if product.interrupted {
                " (interrupted: run apply again to finish)"
            } else {
                ""
            }
        );
        for failure in &product.failures {
            let _ = writeln!(
                out,
                "  failed: {} ({}): {}",
                crate::output::sanitize(&failure.device),
                failure.step,
                crate::output::sanitize(&failure.reason)
            );
        }
    }
    let written: usize = report.products.iter().map(|p| p.secrets_written).sum();
    if let Some(path) = secrets_out {
        let _ = writeln!(
            out,
            "Secrets of {written} device(s) written to {} (mode 0600).",
            path.display()
        );
    } else if report.products.iter().any(|p| p.registered > 0) {
        out.push_str("DeviceSecrets were not saved (no --secrets-out); fetch them any time with `iotplan secrets`.\n");
    }
    out
}

/// Carries out `plan` with the given clients and prints the report.
pub(crate) async fn execute(
    plan: &Plan,
    clients: &(dyn Fn(&ProductSpec) -> Client + Sync),
    args: &ApplyArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let printer = printer.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::SeqCst);
                printer.err_line("stopping at the next safe point (open applications stay in the journal; run apply again to finish); press Ctrl-C again to stop at once…");
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                printer.err_line("stopped at once: open applications are in the journal; run apply again to finish, and `iotplan secrets` fetches any secret not yet written");
                std::process::exit(130);
            }
        })
    };
    let options = Options {
        secrets_out: args.secrets_out.clone(),
        register_valid_rest: args.register_valid_names,
        wait: apply::WaitConfig {
            deadline: Duration::from_secs(args.wait_timeout),
            ..apply::default_wait()
        },
        journal_dir: args.journal_dir.clone(),
    };
    if let Some(path) = &args.secrets_out {
        super::ensure_parent(path)?;
    }
    let progress = Progress::new(printer);
    let report_progress = move |product: &str, phase: &str, done: usize, total: usize| {
        progress.update(&format!("{product} {phase}"), done, total);
    };
    let product_clients = |product: &crate::plan::ProductPlan| {
        clients(&ProductSpec {
            product_key: product.product_key.clone(),
            region: product.region.clone(),
            instance: product.instance.clone(),
            prune: product.prune,
            devices: std::collections::BTreeMap::new(),
        })
    };
    let report = apply::execute(plan, &product_clients, &options, &stop, &report_progress).await?;
    watcher.abort();
    match args.format {
        ReportFormat::Text => printer.out(&report_text(&report, args.secrets_out.as_ref())),
        ReportFormat::Json => printer.out(&format!("{}\n", serde_json::to_string_pretty(&report)?)),
    }
    Ok(if report.failed() {
        ExitStatus::Failure
    } else {
        ExitStatus::Success
    })
}

/// Plans or loads, guards, confirms, applies.
///
/// # Errors
/// Invalid manifests, a stale plan, a refused guard or confirmation, or setup failures.
pub(super) async fn run(
    args: ApplyArgs,
    global: &super::GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let limit = parse_max_delete(&args.max_delete)?;
    let (saved, loaded) = match &args.plan {
        Some(path) => {
            let (saved, loaded) = read_saved_plan(path)?;
            (Some((path, saved)), loaded)
        }
        None => (None, manifest::load(&args.paths)?),
    };
    // One set of clients (and so one rate limiter per region) for planning and applying.
    let clients = global.clients_for(&loaded.desired)?;
    let planned = plan_loaded(loaded, &clients, printer).await?;
    let plan = match saved {
        Some((path, saved)) => {
            refuse_stale(path, &saved, &planned)?;
            saved
        }
        None => planned.plan,
    };
    if !plan.summary().has_changes() {
        printer.out("No changes. The platform matches the manifests.\n");
        return Ok(ExitStatus::Success);
    }
    check_prune_guard(&plan, limit)?;
    if args.plan.is_none() {
        printer.out(&render::text(&plan, false, printer.color));
        if !args.auto_approve {
            confirm(printer, &plan)?;
        }
    }
    execute(&plan, &clients, &args, printer).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_delete_takes_counts_and_shares() {
        assert_eq!(parse_max_delete("20").expect("count"), MaxDelete::Count(20));
        assert_eq!(
            parse_max_delete("10%").expect("share"),
            MaxDelete::Share(10.0)
        );
        assert!(parse_max_delete("lots").is_err());
        assert!(parse_max_delete("150%").is_err());
    }
}
