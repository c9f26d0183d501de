//! The executor: turns a plan into platform calls, product by product in parallel, each paced by
//! the client's per-Action limiter.
//!
//! Registration follows the batch ApplyId flow in chunks of at most 10,000 names:
//! BatchCheckDeviceNames → wait for CHECK_SUCCESS → BatchRegisterDeviceWithApplyId → wait for
//! CREATE_SUCCESS → QueryPageByApplyId (all pages) → secrets file. Every open application is kept
//! in a journal (`.iotplan/journal/<ProductKey>.json`) from the moment it has an ApplyId until its
//! secrets are written, so a re-run after Ctrl-C, `kill -9` or a lost network resumes it instead of
//! checking the same names again. Every step is idempotent; failures are collected, never
//! swallowed, and reported per product.

mod fleet;
mod journal;
mod secrets;
mod wait;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::StreamExt as _;
use serde::Serialize;

pub use fleet::FleetReport;
pub use journal::{Journal, OpenApplication, Phase};
pub use secrets::{SecretEntry, SecretsFile};
pub use wait::WaitConfig;

use crate::model::Place;
use crate::plan::{Plan, ProductPlan, Registration};
use crate::platform::paging::registered_devices;
use crate::platform::{Client, Error as PlatformError};
use crate::wire::MAX_CHECK_NAMES;
use crate::wire::codes;
use crate::wire::ops::{
    ApplyStatus, BatchCheckData, BatchCheckDeviceNames, BatchRegisterDeviceWithApplyId,
    BatchUpdateDeviceNickname, DeleteDevice, DeleteDeviceProp, DeviceRef, DisableThing,
    EnableThing, NameToCheck, NicknameUpdate, QueryBatchRegisterDeviceStatus, SaveDeviceProp,
};

/// Most single-device calls in flight per product (the limiter still paces them).
const IN_FLIGHT: usize = 64;

/// Why apply could not run at all (failures of single changes are in the report instead).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The journal could not be read or written.
    #[error("the apply journal {path}: {reason}")]
    Journal {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The secrets file could not be read or written.
    #[error("the secrets file {path}: {reason}")]
    Secrets {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// How apply behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where DeviceSecrets of registered devices go (JSON, mode 0600, merged).
    pub secrets_out: Option<PathBuf>,
    /// Register the valid names of a chunk whose check failed for some names.
    pub register_valid_rest: bool,
    /// Waiting on asynchronous applications.
    pub wait: WaitConfig,
    /// The journal folder.
    pub journal_dir: PathBuf,
}

/// One thing that did not happen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The device (or a range of names for a whole chunk).
    pub device: String,
    /// What was being done.
    pub step: String,
    /// Why it failed.
    pub reason: String,
}

/// What happened to one product.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProductReport {
    /// The ProductKey.
    pub product_key: String,
    /// Devices registered.
    pub registered: usize,
    /// Nicknames changed.
    pub renamed: usize,
    /// Devices enabled.
    pub enabled: usize,
    /// Devices disabled.
    pub disabled: usize,
    /// Devices whose tags changed.
    pub tagged: usize,
    /// Devices deleted.
    pub deleted: usize,
    /// Secrets written to the secrets file.
    pub secrets_written: usize,
    /// What failed, with reasons.
    pub failures: Vec<Failure>,
    /// Whether apply stopped early (Ctrl-C).
    pub interrupted: bool,
}

/// What one change to an existing device did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    Enabled,
    Disabled,
    Tagged,
    /// Not started: a stop came first.
    NotStarted,
}

/// The apply report's format version (JSON `format_version`).
pub const REPORT_FORMAT_VERSION: u32 = 1;

/// What apply did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Report format version.
    pub format_version: u32,
    /// Per product.
    pub products: Vec<ProductReport>,
    /// Why apply stopped before the end by itself: the credentials stopped working. What was
    /// open is in the journal; the next run resumes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// Which credentials source signed the calls.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_in: Option<crate::platform::credentials::SignedIn>,
    /// Products, groups and membership, when the plan has any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fleet: Option<FleetReport>,
}

impl Report {
    /// Whether anything failed or was interrupted.
    #[must_use]
    pub fn failed(&self) -> bool {
        self.products
            .iter()
            .any(|p| !p.failures.is_empty() || p.interrupted)
            || self
                .fleet
                .as_ref()
                .is_some_and(|f| !f.failures.is_empty() || f.interrupted)
    }
}

/// Registration chunks of one product in flight at once.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Progress callback: (product, phase, done, total).
pub type ProgressFn = dyn Fn(&str, &str, usize, usize) + Send + Sync;

/// Shared state of one apply run.
struct Run<'a> {
    options: &'a Options,
    secrets: Option<Arc<SecretsFile>>,
    stop: &'a AtomicBool,
    progress: &'a ProgressFn,
    /// Why the run stopped by itself (credentials that no longer work).
    halted: Mutex<Option<String>>,
}

/// Carries out a plan.
///
/// # Errors
/// Only when the journal or secrets file cannot be used; everything else is in the report.
pub async fn execute(
    plan: &Plan,
    clients: &(dyn Fn(&Place) -> Client + Sync),
    options: &Options,
    stop: &AtomicBool,
    progress: &ProgressFn,
) -> Result<Report, Error> {
    let secrets = options
        .secrets_out
        .as_ref()
        .map(|path| SecretsFile::open(path).map(Arc::new))
        .transpose()?;
    let run = Run {
        options,
        secrets,
        stop,
        progress,
        halted: Mutex::new(None),
    };
    let has_fleet = !plan.product_changes.is_empty() || !plan.groups.is_empty();
    let mut fleet_report = FleetReport::default();
    let created = if has_fleet {
        run.fleet_before(plan, clients, &mut fleet_report).await?
    } else {
        fleet::Created::default()
    };
    // Devices of a product created just now are registered under its new key.
    let mut device_plans: Vec<std::borrow::Cow<'_, ProductPlan>> = Vec::new();
    for product in &plan.products {
        if !product.product_key.is_empty() {
            device_plans.push(std::borrow::Cow::Borrowed(product));
            continue;
        }
        let name = product.product_name.clone().unwrap_or_default();
        match created.product_keys.get(&name) {
            Some(key) => device_plans.push(std::borrow::Cow::Owned(ProductPlan {
                product_key: key.clone(),
                ..product.clone()
            })),
            None if fleet_report.interrupted => {}
            None => fleet_report.failures.push(Failure {
                device: format!("{} device(s) of product {name}", product.register.len()),
                step: "register the devices".to_owned(),
                reason: "the product was not created (see its failure)".to_owned(),
            }),
        }
    }
    let runs = device_plans.iter().map(|product| {
        let run = &run;
        async move { run.product(&clients(&product.place()), product).await }
    });
    let products = futures::future::join_all(runs)
        .await
        .into_iter()
        .collect::<Result<Vec<_>, Error>>()?;
    if has_fleet {
        if products.iter().any(|p| p.interrupted) || run.stopped() {
            fleet_report.interrupted = true;
        } else if !fleet_report.interrupted {
            run.fleet_after(plan, clients, &created, &mut fleet_report)
                .await;
        }
    }
    Ok(Report {
        format_version: REPORT_FORMAT_VERSION,
        products,
        fleet: has_fleet.then_some(fleet_report),
        stopped: run
            .halted
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner),
        signed_in: None,
    })
}

fn chunk_label(names: &[String]) -> String {
    match (names.first(), names.last()) {
        (Some(first), Some(last)) if names.len() > 1 => {
            format!("{first} … {last} ({} names)", names.len())
        }
        (Some(first), _) => first.clone(),
        _ => String::new(),
    }
}

impl Run<'_> {
    /// Whether to stop between calls: Ctrl-C, or credentials that stopped working.
    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst) || crate::sync::lock(&self.halted).is_some()
    }

    fn halt_on_credentials(&self, error: &PlatformError) {
        if error.is_credentials() {
            crate::sync::lock(&self.halted).get_or_insert_with(|| error.to_string());
        }
    }

    /// A failure to report. Failing credentials also stop the run: nothing after could succeed,
    /// and what is open stays in the journal for the next run.
    fn failure(&self, device: impl Into<String>, step: &str, error: &PlatformError) -> Failure {
        self.halt_on_credentials(error);
        Failure {
            device: device.into(),
            step: step.to_owned(),
            reason: error.to_string(),
        }
    }

    async fn product(&self, client: &Client, plan: &ProductPlan) -> Result<ProductReport, Error> {
        let key = &plan.product_key;
        let mut report = ProductReport {
            product_key: key.clone(),
            ..ProductReport::default()
        };
        let journal = Journal::open(&self.options.journal_dir, key)?;

        // First finish what an earlier run left open.
        let mut resumed_names = BTreeSet::new();
        for open in journal.open_applications() {
            resumed_names.extend(open.names.iter().cloned());
            let registrations: Vec<Registration> = plan
                .register
                .iter()
                .filter(|r| open.names.contains(&r.name))
                .cloned()
                .collect();
            (self.progress)(key, "resuming", 0, open.names.len());
            self.resume(client, key, &journal, open, &registrations, &mut report)
                .await?;
        }
        let pending: Vec<&Registration> = plan
            .register
            .iter()
            .filter(|r| !resumed_names.contains(&r.name))
            .collect();
        // Chunks run side by side, so one chunk's asynchronous waits overlap another's calls; the
        // limiter keeps every Action at its quota.
        let chunk_reports: Vec<Result<ProductReport, Error>> =
            futures::stream::iter(pending.chunks(MAX_CHECK_NAMES))
                .map(|chunk| {
                    let journal = &journal;
                    async move {
                        let mut part = ProductReport::default();
                        if self.stopped() {
                            part.interrupted = true;
                            return Ok(part);
                        }
                        let chunk: Vec<Registration> = chunk.iter().map(|r| (*r).clone()).collect();
                        self.register_chunk(client, key, journal, &chunk, &mut part)
                            .await?;
                        Ok(part)
                    }
                })
                .buffer_unordered(CHUNKS_IN_FLIGHT)
                .collect()
                .await;
        for part in chunk_reports {
            let part = part?;
            report.registered += part.registered;
            report.tagged += part.tagged;
            report.disabled += part.disabled;
            report.secrets_written += part.secrets_written;
            report.failures.extend(part.failures);
            report.interrupted |= part.interrupted;
        }
        if report.interrupted {
            return Ok(report);
        }
        if self.stopped() {
            report.interrupted = true;
            return Ok(report);
        }
        // A stop is honoured between calls: what was not started is counted, and only then is the
        // product reported as interrupted.
        let left = self.updates(client, plan, &mut report).await
            + self.deletions(client, plan, &mut report).await;
        report.interrupted = left > 0;
        Ok(report)
    }

    async fn register_chunk(
        &self,
        client: &Client,
        key: &str,
        journal: &Journal,
        chunk: &[Registration],
        report: &mut ProductReport,
    ) -> Result<(), Error> {
        let names: Vec<String> = chunk.iter().map(|r| r.name.clone()).collect();
        // A registration is a flow of calls that should not outlive its credentials.
        if let Err(error) = client
            .ensure_credentials_for(self.options.wait.deadline)
            .await
        {
            report
                .failures
                .push(self.failure(chunk_label(&names), "check names", &error));
            report.interrupted = true;
            return Ok(());
        }
        (self.progress)(key, "checking names", 0, names.len());
        let request = BatchCheckDeviceNames {
            product_key: key.to_owned(),
            devices: chunk
                .iter()
                .map(|r| NameToCheck {
                    name: r.name.clone(),
                    nickname: r.nickname.clone(),
                })
                .collect(),
        };
        let response = match client.call(&request).await {
            Ok(response) => response,
            Err(error) => {
                return self
                    .synchronous_check_failure(client, key, journal, chunk, &error, report)
                    .await;
            }
        };
        let Some(apply_id) = response.data.apply_id else {
            report.failures.push(Failure {
                device: chunk_label(&names),
                step: "check names".into(),
                reason: "the platform returned no ApplyId".into(),
            });
            return Ok(());
        };
        let open = OpenApplication {
            apply_id,
            names: names.clone(),
            phase: Phase::Check,
        };
        journal.record(&open)?;
        self.resume(client, key, journal, open, chunk, report).await
    }

    /// A check refused at once: report each bad name; register the rest only if asked.
    async fn synchronous_check_failure(
        &self,
        client: &Client,
        key: &str,
        journal: &Journal,
        chunk: &[Registration],
        error: &PlatformError,
        report: &mut ProductReport,
    ) -> Result<(), Error> {
        let data: Option<BatchCheckData> = match error {
            PlatformError::Api(api) => api
                .data
                .clone()
                .and_then(|d| serde_json::from_value(d).ok()),
            _ => None,
        };
        let Some(details) = data
            .and_then(|d| d.invalid_detail_list)
            .filter(|d| !d.items.is_empty())
        else {
            let names: Vec<String> = chunk.iter().map(|r| r.name.clone()).collect();
            report
                .failures
                .push(self.failure(chunk_label(&names), "check names", error));
            return Ok(());
        };
        let bad: BTreeSet<&str> = details
            .items
            .iter()
            .map(|d| d.device_name.as_str())
            .collect();
        for detail in &details.items {
            report.failures.push(Failure {
                device: detail.device_name.clone(),
                step: "check names".into(),
                reason: detail.error_msg.clone(),
            });
        }
        let rest: Vec<Registration> = chunk
            .iter()
            .filter(|r| !bad.contains(r.name.as_str()))
            .cloned()
            .collect();
        if self.options.register_valid_rest && !rest.is_empty() && rest.len() < chunk.len() {
            return Box::pin(self.register_chunk(client, key, journal, &rest, report)).await;
        }
        if !rest.is_empty() {
            report.failures.push(Failure {
                device: chunk_label(&rest.iter().map(|r| r.name.clone()).collect::<Vec<_>>()),
                step: "check names".into(),
                reason: "not registered because other names of the same chunk failed the check (use --register-valid-names to register the valid rest)".into(),
            });
        }
        Ok(())
    }

    /// Drives an application from whatever phase it is in to its end.
    async fn resume(
        &self,
        client: &Client,
        key: &str,
        journal: &Journal,
        mut open: OpenApplication,
        chunk: &[Registration],
        report: &mut ProductReport,
    ) -> Result<(), Error> {
        let status_request = QueryBatchRegisterDeviceStatus {
            product_key: key.to_owned(),
            apply_id: open.apply_id,
        };
        let label = chunk_label(&open.names);
        loop {
            if self.stopped() {
                report.interrupted = true;
                return Ok(());
            }
            let status = match wait::until_settled(
                client,
                &status_request,
                &self.options.wait,
                self.stop,
            )
            .await
            {
                Ok(Some(status)) => status,
                Ok(None) => {
                    report.interrupted = true;
                    return Ok(());
                }
                Err(wait::WaitError::NotFound) => {
                    report.failures.push(Failure { device: label, step: "resume".into(), reason: format!("application {} is unknown to the platform; plan again to see what exists", open.apply_id) });
                    journal.forget(open.apply_id)?;
                    return Ok(());
                }
                Err(error) => {
                    if let wait::WaitError::Platform(platform) = &error {
                        self.halt_on_credentials(platform);
                    }
                    report.failures.push(Failure {
                        device: label,
                        step: "wait for the platform".into(),
                        reason: format!(
                            "{error}; application {} stays in the journal and a re-run resumes it",
                            open.apply_id
                        ),
                    });
                    return Ok(());
                }
            };
            match status.status {
                ApplyStatus::CheckSuccess => {
                    match client
                        .call(&BatchRegisterDeviceWithApplyId {
                            product_key: key.to_owned(),
                            apply_id: open.apply_id,
                        })
                        .await
                    {
                        Ok(_) => {}
                        // A repeat after an unknown outcome: the status says where it stands.
                        Err(error)
                            if error.is_ambiguous()
                                || error.code() == Some(codes::APPLY_INFO_INCORRECT) =>
                        {
                            continue;
                        }
                        Err(error) => {
                            report
                                .failures
                                .push(self.failure(label, "register", &error));
                            journal.forget(open.apply_id)?;
                            return Ok(());
                        }
                    }
                    open.phase = Phase::Create;
                    journal.record(&open)?;
                    (self.progress)(key, "creating devices", 0, open.names.len());
                }
                ApplyStatus::CheckFailed => {
                    for detail in &status.invalid_detail_list.items {
                        report.failures.push(Failure {
                            device: detail.device_name.clone(),
                            step: "check names".into(),
                            reason: detail.error_msg.clone(),
                        });
                    }
                    journal.forget(open.apply_id)?;
                    let bad: BTreeSet<&str> = status
                        .invalid_list
                        .names
                        .iter()
                        .map(String::as_str)
                        .collect();
                    let rest: Vec<Registration> = chunk
                        .iter()
                        .filter(|r| !bad.contains(r.name.as_str()))
                        .cloned()
                        .collect();
                    if self.options.register_valid_rest
                        && !rest.is_empty()
                        && rest.len() < chunk.len()
                    {
                        return Box::pin(self.register_chunk(client, key, journal, &rest, report))
                            .await;
                    }
                    if !rest.is_empty() {
                        report.failures.push(Failure {
                            device: chunk_label(&rest.iter().map(|r| r.name.clone()).collect::<Vec<_>>()),
                            step: "check names".into(),
                            reason: "not registered because other names of the same chunk failed the check (use --register-valid-names to register the valid rest)".into(),
                        });
                    }
                    return Ok(());
                }
                ApplyStatus::CreateSuccess | ApplyStatus::CreateFailed => {
                    for detail in &status.invalid_detail_list.items {
                        report.failures.push(Failure {
                            device: detail.device_name.clone(),
                            step: "create".into(),
                            reason: detail.error_msg.clone(),
                        });
                    }
                    return self
                        .collect(client, key, journal, &open, chunk, report)
                        .await;
                }
                ApplyStatus::Check | ApplyStatus::Create => {}
            }
        }
    }

    /// Pages the registered devices' secrets, writes them, then applies disabled flags and tags.
    async fn collect(
        &self,
        client: &Client,
        key: &str,
        journal: &Journal,
        open: &OpenApplication,
        chunk: &[Registration],
        report: &mut ProductReport,
    ) -> Result<(), Error> {
        (self.progress)(key, "fetching secrets", 0, open.names.len());
        let devices = match registered_devices(client, open.apply_id).await {
            Ok(devices) => devices,
            Err(error) => {
                self.halt_on_credentials(&error);
                report.failures.push(Failure {
                    device: chunk_label(&open.names),
                    step: "fetch secrets".into(),
                    reason: format!("{error}; application {} stays in the journal and a re-run fetches them (or use `iotplan secrets`)", open.apply_id),
                });
                return Ok(());
            }
        };
        if let Some(secrets) = &self.secrets {
            let entries = devices.iter().map(|d| SecretEntry {
                product_key: key.to_owned(),
                device_name: d.device_name.clone(),
                iot_id: d.iot_id.clone(),
                device_secret: d.device_secret.clone(),
            });
            report.secrets_written += secrets.merge(entries)?;
        }
        journal.forget(open.apply_id)?;
        report.registered += devices.len();
        let sent: BTreeSet<&str> = open.names.iter().map(String::as_str).collect();
        let created: BTreeSet<&str> = devices.iter().map(|d| d.device_name.as_str()).collect();
        let reported: BTreeSet<String> = report.failures.iter().map(|f| f.device.clone()).collect();
        for missing in sent
            .iter()
            .filter(|n| !created.contains(*n) && !reported.contains(**n))
        {
            report.failures.push(Failure {
                device: (*missing).to_owned(),
                step: "create".into(),
                reason: "the platform did not register this name (dropped from the batch)".into(),
            });
        }
        let follow_ups: Vec<&Registration> = chunk
            .iter()
            .filter(|r| created.contains(r.name.as_str()) && (!r.enabled || !r.tags.is_empty()))
            .collect();
        // Ok(None): not started, a stop came first (the devices exist; a re-run plans their tags
        // and `enabled: false` as changes).
        let results: Vec<Result<Option<(bool, bool)>, Failure>> = futures::stream::iter(follow_ups)
            .map(|registration| async move {
                if self.stopped() {
                    return Ok(None);
                }
                let device = DeviceRef::name(key, &registration.name);
                if !registration.tags.is_empty() {
                    let props = serde_json::to_string(&registration.tags).unwrap_or_default();
                    client
                        .call(&SaveDeviceProp {
                            device: device.clone(),
                            props,
                        })
                        .await
                        .map_err(|e| self.failure(&registration.name, "set tags", &e))?;
                }
                if !registration.enabled {
                    client
                        .call(&DisableThing { device })
                        .await
                        .map_err(|e| self.failure(&registration.name, "disable", &e))?;
                }
                Ok(Some((!registration.tags.is_empty(), !registration.enabled)))
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for result in results {
            match result {
                Ok(Some((tagged, disabled))) => {
                    report.tagged += usize::from(tagged);
                    report.disabled += usize::from(disabled);
                }
                Ok(None) => report.interrupted = true,
                Err(failure) => report.failures.push(failure),
            }
        }
        Ok(())
    }

    /// Renames, enables, disables and tags; returns how many changes a stop left undone.
    async fn updates(
        &self,
        client: &Client,
        plan: &ProductPlan,
        report: &mut ProductReport,
    ) -> usize {
        let key = &plan.product_key;
        let renames: Vec<NicknameUpdate> = plan
            .update
            .iter()
            .filter_map(|u| {
                u.nickname.as_ref().map(|change| NicknameUpdate {
                    device: DeviceRef::name(key, &u.name),
                    nickname: change.to.clone(),
                })
            })
            .collect();
        let mut left = 0;
        for batch in renames.chunks(crate::wire::MAX_NICKNAME_UPDATES) {
            if self.stopped() {
                left += batch.len();
                continue;
            }
            (self.progress)(key, "renaming", report.renamed, renames.len());
            match client
                .call(&BatchUpdateDeviceNickname {
                    updates: batch.to_vec(),
                })
                .await
            {
                Ok(_) => report.renamed += batch.len(),
                Err(error) => {
                    for update in batch {
                        if let DeviceRef::Name { device_name, .. } = &update.device {
                            report.failures.push(self.failure(
                                device_name,
                                "change nickname",
                                &error,
                            ));
                        }
                    }
                }
            }
        }
        let results: Vec<Vec<Result<Change, Failure>>> = futures::stream::iter(&plan.update)
            .map(|update| async move {
                let device = DeviceRef::name(key, &update.name);
                let mut done = Vec::new();
                if self.stopped() && (update.enabled.is_some() || update.tags.is_some()) {
                    done.push(Ok(Change::NotStarted));
                    return done;
                }
                if let Some(change) = &update.enabled {
                    let result = if change.to {
                        client
                            .call(&EnableThing {
                                device: device.clone(),
                            })
                            .await
                            .map(|_| Change::Enabled)
                    } else {
                        client
                            .call(&DisableThing {
                                device: device.clone(),
                            })
                            .await
                            .map(|_| Change::Disabled)
                    };
                    done.push(result.map_err(|e| {
                        self.failure(
                            &update.name,
                            if change.to { "enable" } else { "disable" },
                            &e,
                        )
                    }));
                }
                if let Some(tags) = &update.tags {
                    let mut result = Ok(Change::Tagged);
                    if !tags.set.is_empty() {
                        let props = serde_json::to_string(&tags.set).unwrap_or_default();
                        if let Err(e) = client
                            .call(&SaveDeviceProp {
                                device: device.clone(),
                                props,
                            })
                            .await
                        {
                            result = Err(self.failure(&update.name, "set tags", &e));
                        }
                    }
                    for key in &tags.remove {
                        if let Err(e) = client
                            .call(&DeleteDeviceProp {
                                device: device.clone(),
                                prop_key: key.clone(),
                            })
                            .await
                        {
                            result =
                                Err(self.failure(&update.name, &format!("remove tag {key}"), &e));
                        }
                    }
                    done.push(result);
                }
                done
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for result in results.into_iter().flatten() {
            match result {
                Ok(Change::Enabled) => report.enabled += 1,
                Ok(Change::Disabled) => report.disabled += 1,
                Ok(Change::Tagged) => report.tagged += 1,
                Ok(Change::NotStarted) => left += 1,
                Err(failure) => report.failures.push(failure),
            }
        }
        left
    }

    /// Deletes; returns how many deletions a stop left undone.
    async fn deletions(
        &self,
        client: &Client,
        plan: &ProductPlan,
        report: &mut ProductReport,
    ) -> usize {
        let key = &plan.product_key;
        // Ok(true): deleted (or already gone); Ok(false): not started, a stop came first.
        let results: Vec<Result<bool, Failure>> = futures::stream::iter(&plan.delete)
            .map(|deletion| async move {
                if self.stopped() {
                    return Ok(false);
                }
                match client
                    .call(&DeleteDevice {
                        device: DeviceRef::name(key, &deletion.name),
                    })
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(error) if error.code() == Some(codes::DEVICE_NOT_EXISTED) => Ok(true),
                    Err(error) => Err(self.failure(&deletion.name, "delete", &error)),
                }
            })
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        let mut left = 0;
        for result in results {
            match result {
                Ok(true) => report.deleted += 1,
                Ok(false) => left += 1,
                Err(failure) => report.failures.push(failure),
            }
        }
        left
    }
}

/// The default poll settings: start at 200 ms, back off to 5 s, give up after 10 minutes.
#[must_use]
pub fn default_wait() -> WaitConfig {
    WaitConfig {
        first: Duration::from_millis(200),
        max: Duration::from_secs(5),
        deadline: Duration::from_mins(10),
    }
}
