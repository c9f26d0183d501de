//! `iotplan apply`: plan (or take a saved plan), confirm, carry it out, report.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context as _, bail};
use clap::{Args, ValueEnum};

use super::planning::{PlanOptions, only_products, plan_loaded};
use crate::apply::{self, Options, Report};
use crate::exit::ExitStatus;
use crate::manifest;
use crate::output::Printer;
use crate::output::progress::Progress;
use crate::plan::guard::{self, MaxDelete};
use crate::plan::{Plan, saved};
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
    /// Refuse when a product would lose more devices than this: a count (`20`), a share of its
    /// devices rounded up (`10%`), or a share with a floor (`10%,5`: 10 %, at least 5).
    #[arg(long, default_value = guard::DEFAULT_MAX_DELETE, value_parser = parse_max_delete)]
    pub max_delete: MaxDelete,
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
    /// Apply only this product of the manifests (repeatable; not with --plan, whose products are
    /// fixed); the others, and the manifests' products and groups, are not read.
    #[arg(long = "product", value_name = "KEY", conflicts_with = "plan")]
    pub products: Vec<String>,
    /// Deleting undeclared products and groups (not with --plan, which keeps its own).
    #[command(flatten)]
    pub prune: super::planning::PruneArgs,
}

/// `--max-delete`, checked as it is parsed.
pub(crate) fn parse_max_delete(text: &str) -> Result<MaxDelete, String> {
    text.parse()
}

/// Refuses a plan whose deletions exceed the limit, naming the devices.
fn check_delete_guard(plan: &Plan, limit: MaxDelete) -> anyhow::Result<()> {
    let refusals = guard::check(plan, limit);
    if refusals.is_empty() {
        return Ok(());
    }
    let mut lines = String::new();
    for refusal in &refusals {
        let names: Vec<&str> = match &refusal.group {
            Some(group) => plan
                .groups
                .iter()
                .filter(|g| &g.name == group)
                .flat_map(|g| &g.remove)
                .flat_map(|set| set.devices.iter().map(String::as_str))
                .collect(),
            None => plan
                .products
                .iter()
                .find(|p| p.product_key == refusal.product_key)
                .map(|p| p.delete.iter().map(|d| d.name.as_str()).collect())
                .unwrap_or_default(),
        };
        let _ = writeln!(
            lines,
            "  {refusal}\n    would delete: {}",
            render::compressed_names(&names)
        );
    }
    bail!(
        "refusing to delete this many devices; nothing was changed:\n{lines}hint: check that every manifest is included; to delete them anyway, raise --max-delete; to keep a device whatever the manifests say, tag it iotplan.protect=true"
    )
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

/// The JSON report document.
fn report_json(report: &Report) -> anyhow::Result<String> {
    Ok(format!("{}\n", serde_json::to_string_pretty(report)?))
}

/// The text report.
#[must_use]
pub(crate) fn report_text(report: &Report, secrets_out: Option<&PathBuf>) -> String {
    let mut out = String::new();
    if let Some(fleet) = &report.fleet {
        fleet_report_text(fleet, &mut out);
    }
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
    if let Some(reason) = &report.stopped {
        let _ = writeln!(
            out,
            "Apply stopped: the credentials stopped working ({}).\nNothing is lost: registrations in flight are in the journal. Fix the credentials, then run the same apply again to finish.",
            crate::output::sanitize(reason)
        );
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

/// The products, groups and membership part of the report.
fn fleet_report_text(fleet: &apply::FleetReport, out: &mut String) {
    let _ = writeln!(
        out,
        "products: {} created, {} changed, {} deleted; groups: {} created, {} changed, {} deleted; members: {} added, {} removed; {} failed{}",
        fleet.products_created.len(),
        fleet.products_updated,
        fleet.products_deleted,
        fleet.groups_created.len(),
        fleet.groups_updated,
        fleet.groups_deleted,
        fleet.members_added,
        fleet.members_removed,
        fleet.failures.len(),
        if fleet.interrupted {
            " (interrupted: run apply again to finish)"
        } else {
            ""
        }
    );
    for (name, key) in &fleet.products_created {
        let _ = writeln!(
            out,
            "  created product {}: ProductKey {key}",
            crate::output::sanitize(name)
        );
    }
    for failure in &fleet.failures {
        let _ = writeln!(
            out,
            "  failed: {} ({}): {}",
            crate::output::sanitize(&failure.device),
            failure.step,
            crate::output::sanitize(&failure.reason)
        );
    }
}

/// Refuses a plan with changes the platform cannot make (fields fixed at creation, a moved
/// group), each with what to do.
fn check_blocked(plan: &Plan) -> anyhow::Result<()> {
    let blocked = plan.blocked();
    if blocked.is_empty() {
        return Ok(());
    }
    bail!(
        "refusing to apply: the plan has {} change(s) the platform cannot make; nothing was changed:\n  {}\nhint: change the manifests as each line says, then plan again",
        blocked.len(),
        blocked.join("\n  ")
    )
}

impl ApplyArgs {
    /// What the executor needs of these options.
    fn options(&self) -> Options {
        Options {
            secrets_out: self.secrets_out.clone(),
            register_valid_rest: self.register_valid_names,
            wait: apply::WaitConfig {
                deadline: Duration::from_secs(self.wait_timeout),
                ..apply::default_wait()
            },
            journal_dir: self.journal_dir.clone(),
        }
    }
}

/// Carries out `plan` with the given clients and prints the report.
pub(crate) async fn execute(
    plan: &Plan,
    clients: &(dyn Fn(&crate::model::Place) -> Client + Sync),
    options: &Options,
    format: ReportFormat,
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
    if let Some(path) = &options.secrets_out {
        super::ensure_parent(path)?;
    }
    let progress = Progress::new(printer);
    let report_progress = move |product: &str, phase: &str, done: usize, total: usize| {
        progress.update(&format!("{product} {phase}"), done, total);
    };
    let mut report = apply::execute(plan, clients, options, &stop, &report_progress).await?;
    watcher.abort();
    report.signed_in = plan
        .products
        .first()
        .and_then(|product| clients(&product.place()).signed_in());
    match format {
        ReportFormat::Text => printer.out(&report_text(&report, options.secrets_out.as_ref())),
        ReportFormat::Json => printer.out(&report_json(&report)?),
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
    let mut options = PlanOptions {
        max_delete: args.max_delete,
        prune: args.prune.into(),
    };
    let limit = args.max_delete;
    let (saved, loaded) = match &args.plan {
        Some(path) => {
            let (saved, mut loaded) = saved::read_with_manifests(path)?;
            // A plan made with --product covers its products only: so is the check against now
            // (a product gone from the manifests is then reported as such by the staleness check).
            loaded.desired.products.retain(|key, _| {
                key.starts_with('@') || saved.products.iter().any(|p| &p.product_key == key)
            });
            options.prune = saved.fleet_prune;
            (Some((path, saved)), loaded)
        }
        None => (
            None,
            only_products(manifest::load(&args.paths)?, &args.products)?,
        ),
    };
    // One set of clients (and so one rate limiter per region) for planning and applying.
    let clients = global.clients_for(&loaded.desired)?;
    let planned = plan_loaded(loaded, &clients, options, printer).await?;
    let plan = match saved {
        Some((path, saved)) => {
            saved::check_fresh(path, &saved, &planned)?;
            saved
        }
        None => planned,
    };
    // Registrations an earlier run left open are finished (their secrets fetched) even when the
    // plan shows nothing to change: the devices may exist by now.
    let journal_open = plan.products.iter().any(|product| {
        apply::Journal::open(&args.journal_dir, &product.product_key)
            .is_ok_and(|journal| !journal.open_applications().is_empty())
    });
    if !plan.summary().has_changes() && !journal_open {
        match args.format {
            ReportFormat::Text => printer.out("No changes. The platform matches the manifests.\n"),
            ReportFormat::Json => printer.out(&report_json(&Report {
                format_version: apply::REPORT_FORMAT_VERSION,
                products: Vec::new(),
                stopped: None,
                signed_in: None,
                fleet: None,
            })?),
        }
        return Ok(ExitStatus::Success);
    }
    check_blocked(&plan)?;
    check_delete_guard(&plan, limit)?;
    if args.plan.is_none() {
        match args.format {
            ReportFormat::Text => printer.out(&render::text(&plan, false, printer.color)),
            // stdout carries the report document alone; the plan is shown on stderr.
            ReportFormat::Json => {
                for line in render::text(&plan, false, false).lines() {
                    printer.status(line);
                }
            }
        }
        // Finishing what the journal holds open changes nothing the plan did not show.
        if !args.auto_approve && plan.summary().has_changes() {
            confirm(printer, &plan)?;
        }
    }
    execute(&plan, &clients, &args.options(), args.format, printer).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_delete_is_parsed_by_the_guard() {
        assert_eq!(parse_max_delete("20"), Ok(MaxDelete::Count(20)));
        let error = parse_max_delete("lots").expect_err("not a limit");
        assert!(error.contains("neither a count"), "{error}");
    }
}
