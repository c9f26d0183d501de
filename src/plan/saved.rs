//! Saved plans (`plan --out`, `apply --plan`, `show`): reading one back, and refusing it when it
//! is stale: the manifests or any product's live state changed since it was made, or its actions
//! are not what planning gives now.

use std::path::{Path, PathBuf};

use super::{FORMAT_VERSION, Plan};
use crate::manifest;

/// Why a saved plan cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file cannot be read.
    #[error("cannot read the plan {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not a plan.
    #[error("{} is not an iotplan plan file: {reason}", path.display())]
    NotAPlan {
        /// The file.
        path: PathBuf,
        /// What the JSON reader said.
        reason: String,
    },
    /// A plan of another format version.
    #[error("{} has plan format {found}, this iotplan reads {FORMAT_VERSION}: plan again with this version", path.display())]
    Version {
        /// The file.
        path: PathBuf,
        /// Its `format_version`.
        found: u32,
    },
    /// The manifests it names no longer load.
    #[error("the manifests the plan was made from no longer load")]
    Manifests(#[source] manifest::Error),
    /// The plan no longer matches the manifests or the platform.
    #[error("the saved plan {} is stale; nothing was applied:\n  {}\nhint: run `iotplan plan --out` again and review the new plan", path.display(), reasons.join("\n  "))]
    Stale {
        /// The file.
        path: PathBuf,
        /// Every difference found.
        reasons: Vec<String>,
    },
}

/// Reads a saved plan file.
///
/// # Errors
/// An unreadable file, one that is not a plan, or a plan of another format version.
pub fn read(path: &Path) -> Result<Plan, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    let plan: Plan = serde_json::from_slice(&bytes).map_err(|e| Error::NotAPlan {
        path: path.to_owned(),
        reason: e.to_string(),
    })?;
    if plan.format_version != FORMAT_VERSION {
        return Err(Error::Version {
            path: path.to_owned(),
            found: plan.format_version,
        });
    }
    Ok(plan)
}

/// Reads a saved plan and the manifests it was made from.
///
/// # Errors
/// As [`read`], or manifests that no longer load.
pub fn read_with_manifests(path: &Path) -> Result<(Plan, manifest::Loaded), Error> {
    let plan = read(path)?;
    let files: Vec<PathBuf> = plan.manifest_files.iter().map(PathBuf::from).collect();
    let loaded = manifest::load(&files).map_err(Error::Manifests)?;
    Ok((plan, loaded))
}

/// The products and groups whose live state changed since `saved` was made.
fn stale_fleet(saved: &Plan, current: &Plan, reasons: &mut Vec<String>) {
    for old in &saved.product_changes {
        let now = current.product_changes.iter().find(|p| {
            p.name == old.name && p.place() == old.place()
                || p.product_key.is_some() && p.product_key == old.product_key
        });
        match now {
            Some(now) if now.live_fingerprint != old.live_fingerprint => reasons.push(format!(
                "product {}: the platform changed since the plan was made",
                old.name
            )),
            Some(_) => {}
            None => reasons.push(format!("product {} is no longer in the plan", old.name)),
        }
    }
    for old in &saved.groups {
        match current.groups.iter().find(|g| g.name == old.name && g.place() == old.place()) {
            Some(now) if now.live_fingerprint != old.live_fingerprint => reasons.push(format!(
                "group {}: the group or its members changed on the platform since the plan was made (members then {}, now {}; planning now adds {} and removes {} instead of {} and {})",
                old.name,
                old.live_members,
                now.live_members,
                now.adds(),
                now.removals(),
                old.adds(),
                old.removals()
            )),
            Some(_) => {}
            None => reasons.push(format!("group {} is no longer in the plan", old.name)),
        }
    }
}

/// Refuses `saved` (read from `path`) when `current`, planned now from the same manifests, shows
/// the manifests or the platform changed since.
///
/// # Errors
/// `Error::Stale` with every difference found.
pub fn check_fresh(path: &Path, saved: &Plan, current: &Plan) -> Result<(), Error> {
    let mut reasons = Vec::new();
    if current.manifest_fingerprint != saved.manifest_fingerprint {
        reasons.push("the manifests changed since the plan was made".to_owned());
    }
    for old in &saved.products {
        match current.products.iter().find(|p| p.product_key == old.product_key) {
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
    stale_fleet(saved, current, &mut reasons);
    if reasons.is_empty()
        && (current.products != saved.products
            || current.product_changes != saved.product_changes
            || current.groups != saved.groups)
    {
        reasons.push("its actions differ from what the manifests and the platform give now, though neither changed: was the file edited?".to_owned());
    }
    if reasons.is_empty() {
        Ok(())
    } else {
        Err(Error::Stale {
            path: path.to_owned(),
            reasons,
        })
    }
}
