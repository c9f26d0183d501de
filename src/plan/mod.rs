//! `DesiredState × LiveState → Plan`, pure. The plan is a data structure independent of any
//! rendering; it is also the saved-plan file (`--out`), with fingerprints of the manifests and of
//! the live state it was made from, so a stale plan can be told and refused.
//!
//! What is managed: a device's existence, `enabled` (always; default true), its nickname when the
//! manifest gives one (`""` means none), and its tags when the manifest gives `tags` — then exactly
//! those tags (exclusive), except keys starting `iotplan.`, which are left alone unless declared.
//! Deletion only with `prune: true`, and never of a device tagged `iotplan.protect: "true"`.

pub mod fleet;
pub mod guard;
pub mod saved;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::model::{
    DeviceSpec, LiveDevice, LiveProduct, PROTECT_TAG, ProductSpec, RESERVED_TAG_PREFIX, Tags,
};

/// The plan format's version (JSON `format_version`).
pub const FORMAT_VERSION: u32 = 1;

/// A device to register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// The DeviceName.
    pub name: String,
    /// Nickname to register with (sent with the check call).
    pub nickname: Option<String>,
    /// Whether enabled (a `false` disables it right after registration).
    pub enabled: bool,
    /// Tags to set after registration.
    pub tags: BTreeMap<String, String>,
}

/// A value before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change<T> {
    /// Now.
    pub from: T,
    /// Wanted.
    pub to: T,
}

/// Tag changes of one device.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagChange {
    /// Keys to set, with their new values.
    pub set: BTreeMap<String, String>,
    /// Keys to remove.
    pub remove: Vec<String>,
    /// The tags before (for display).
    pub before: BTreeMap<String, String>,
}

/// Changes to an existing device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Update {
    /// The DeviceName.
    pub name: String,
    /// The IotId.
    pub iot_id: String,
    /// Nickname change (`None` inside: no nickname).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<Change<Option<String>>>,
    /// Enable or disable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<Change<bool>>,
    /// Tag changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<TagChange>,
}

/// A device to delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deletion {
    /// The DeviceName.
    pub name: String,
    /// The IotId.
    pub iot_id: String,
}

/// What changes for one product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductPlan {
    /// The ProductKey; empty while the product is to be created (then `product_name` names it).
    pub product_key: String,
    /// The declared product's name, when the DeviceSet names it so and it does not exist yet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// Region, as declared.
    pub region: Option<String>,
    /// IotInstanceId, as declared.
    pub instance: Option<String>,
    /// Whether prune is on.
    pub prune: bool,
    /// Devices on the platform when planned (with `read_by_name`: the declared ones found).
    pub live_devices: usize,
    /// Only the declared devices were read, by name (prune off, few devices of a large product).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub read_by_name: bool,
    /// SHA-256 of the live state the plan was made from.
    pub live_fingerprint: String,
    /// Devices to register, by name.
    pub register: Vec<Registration>,
    /// Devices to change, by name.
    pub update: Vec<Update>,
    /// Devices to delete, by name.
    pub delete: Vec<Deletion>,
    /// Devices prune would delete but `iotplan.protect` keeps.
    #[serde(default)]
    pub protected: Vec<String>,
}

impl ProductPlan {
    /// Where the product lives.
    #[must_use]
    pub fn place(&self) -> crate::model::Place {
        crate::model::Place {
            region: self.region.clone(),
            instance: self.instance.clone(),
        }
    }

    /// The product as people read it: its key, or `product NAME` while it is to be created.
    #[must_use]
    pub fn label(&self) -> String {
        crate::model::product_label(&self.product_key, self.product_name.as_deref())
    }

    /// Whether anything changes.
    #[must_use]
    pub fn has_changes(&self) -> bool {
        !(self.register.is_empty() && self.update.is_empty() && self.delete.is_empty())
    }
}

/// A plan: every product's changes, plus what it was made from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Always [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The manifest files read.
    pub manifest_files: Vec<String>,
    /// SHA-256 of the manifests' contents.
    pub manifest_fingerprint: String,
    /// Per product, in ProductKey order.
    pub products: Vec<ProductPlan>,
    /// Products whose deletions the `--max-delete` given to plan refuses: apply with the same
    /// limit will refuse them too. Empty (and left out of the JSON) when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delete_guard: Vec<guard::Refusal>,
    /// Which undeclared products and groups the plan deletes (`--prune-products`,
    /// `--prune-groups`), so that a saved plan is checked as it was made.
    #[serde(default, skip_serializing_if = "fleet::FleetPrune::is_off")]
    pub fleet_prune: fleet::FleetPrune,
    /// Declared products (and, with `--prune-products`, undeclared ones): created before the
    /// devices, deleted after. Left out of the JSON when the manifests declare none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub product_changes: Vec<fleet::ProductChange>,
    /// Declared device groups and their membership (and, with `--prune-groups`, undeclared
    /// groups). Left out of the JSON when the manifests declare none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<fleet::GroupPlan>,
}

/// Totals over a plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Devices to register.
    pub register: usize,
    /// Devices to change.
    pub update: usize,
    /// Devices to delete.
    pub delete: usize,
    /// Products and groups to create.
    pub create_resources: usize,
    /// Products and groups to change.
    pub update_resources: usize,
    /// Products and groups to delete.
    pub delete_resources: usize,
    /// Group members to add.
    pub add_members: usize,
    /// Group members to remove.
    pub remove_members: usize,
}

impl Summary {
    /// Whether anything changes.
    #[must_use]
    pub fn has_changes(self) -> bool {
        self.register
            + self.update
            + self.delete
            + self.create_resources
            + self.update_resources
            + self.delete_resources
            + self.add_members
            + self.remove_members
            > 0
    }
}

impl Plan {
    /// Totals.
    #[must_use]
    pub fn summary(&self) -> Summary {
        let mut sum = Summary::default();
        for product in &self.products {
            sum.register += product.register.len();
            sum.update += product.update.len();
            sum.delete += product.delete.len();
        }
        let mut count = |create: bool, delete: bool, update: bool| {
            if create {
                sum.create_resources += 1;
            } else if delete {
                sum.delete_resources += 1;
            } else if update {
                sum.update_resources += 1;
            }
        };
        for product in &self.product_changes {
            count(
                product.create,
                product.delete,
                product.rename.is_some() || product.description.is_some() || product.tags.is_some(),
            );
        }
        for group in &self.groups {
            count(
                group.create,
                group.delete,
                group.description.is_some() || group.tags.is_some(),
            );
        }
        sum.add_members = self.groups.iter().map(fleet::GroupPlan::adds).sum();
        sum.remove_members = self.groups.iter().map(fleet::GroupPlan::removals).sum();
        sum
    }

    /// Why apply will refuse this plan: fields fixed at creation that differ, and the like.
    #[must_use]
    pub fn blocked(&self) -> Vec<&str> {
        self.product_changes
            .iter()
            .flat_map(|p| &p.blocked)
            .chain(self.groups.iter().flat_map(|g| &g.blocked))
            .map(String::as_str)
            .collect()
    }
}

/// SHA-256 over exactly what the plan compares of a product's live state, so that it does not
/// depend on which read answered for a device: of each declared device, whether it exists, its
/// IotId and enabled, its nickname if the manifest declares one, and its managed tags if the
/// manifest declares tags; with prune on, of each other device its name, IotId and protection.
#[must_use]
pub fn live_fingerprint(desired: &ProductSpec, live: &LiveProduct) -> String {
    let mut hasher = Sha256::new();
    for (name, device) in &live.devices {
        let declared = desired.devices.get(name);
        if declared.is_none() && !desired.prune {
            continue;
        }
        hasher.update(name.as_bytes());
        hasher.update([0]);
        hasher.update(device.iot_id.as_bytes());
        hasher.update([0]);
        match declared {
            Some(spec) => {
                hasher.update([u8::from(device.enabled)]);
                if spec.nickname.is_some() {
                    hasher.update(device.nickname.as_deref().unwrap_or("").as_bytes());
                }
                hasher.update([0]);
                if spec.tags.is_some()
                    && let Some(tags) = &device.tags
                {
                    for (key, value) in tags.iter().filter(|(key, _)| is_managed_tag(key)) {
                        hasher.update(key.as_bytes());
                        hasher.update([1]);
                        hasher.update(value.as_bytes());
                        hasher.update([2]);
                    }
                }
            }
            None => hasher.update([u8::from(is_protected(device))]),
        }
        hasher.update([3]);
    }
    hex::encode(hasher.finalize())
}

fn is_managed_tag(key: &str) -> bool {
    !key.starts_with(RESERVED_TAG_PREFIX)
}

/// Whether a device carries the protection tag.
#[must_use]
pub fn is_protected(device: &LiveDevice) -> bool {
    device
        .tags
        .as_ref()
        .and_then(|t| t.get(PROTECT_TAG))
        .is_some_and(|v| v == "true")
}

/// `None`: not managed; `Some(None)`: no nickname; `Some(Some(n))`: nickname `n`.
#[allow(clippy::option_option)]
fn wanted_nickname(spec: &DeviceSpec) -> Option<Option<&str>> {
    spec.nickname
        .as_deref()
        .map(|n| Some(n).filter(|n| !n.is_empty()))
}

fn tag_change(
    wanted: &BTreeMap<String, String>,
    live: &BTreeMap<String, String>,
) -> Option<TagChange> {
    let set: BTreeMap<String, String> = wanted
        .iter()
        .filter(|(key, value)| live.get(*key) != Some(value))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove: Vec<String> = live
        .keys()
        .filter(|key| is_managed_tag(key) && !wanted.contains_key(*key))
        .cloned()
        .collect();
    (!set.is_empty() || !remove.is_empty()).then(|| TagChange {
        set,
        remove,
        before: live.clone(),
    })
}

/// Plans one product.
#[must_use]
pub fn diff(desired: &ProductSpec, live: &LiveProduct) -> ProductPlan {
    let mut plan = ProductPlan {
        product_key: desired.product_key.clone(),
        product_name: desired
            .product_name
            .clone()
            .filter(|_| desired.product_key.is_empty()),
        region: desired.region.clone(),
        instance: desired.instance.clone(),
        prune: desired.prune,
        live_devices: live.devices.len(),
        read_by_name: live.by_name,
        live_fingerprint: live_fingerprint(desired, live),
        register: Vec::new(),
        update: Vec::new(),
        delete: Vec::new(),
        protected: Vec::new(),
    };
    for (name, spec) in &desired.devices {
        let Some(device) = live.devices.get(name) else {
            plan.register.push(Registration {
                name: name.clone(),
                nickname: wanted_nickname(spec).flatten().map(str::to_owned),
                enabled: spec.enabled,
                tags: spec.tags.as_deref().cloned().unwrap_or_default(),
            });
            continue;
        };
        let nickname = wanted_nickname(spec)
            .filter(|wanted| *wanted != device.nickname.as_deref())
            .map(|to| Change {
                from: device.nickname.as_deref().map(str::to_owned),
                to: to.map(str::to_owned),
            });
        let enabled = (spec.enabled != device.enabled).then_some(Change {
            from: device.enabled,
            to: spec.enabled,
        });
        let tags = spec
            .tags
            .as_ref()
            .and_then(|wanted| tag_change(wanted, device.tags.as_deref().unwrap_or(&Tags::new())));
        if nickname.is_some() || enabled.is_some() || tags.is_some() {
            plan.update.push(Update {
                name: name.clone(),
                iot_id: device.iot_id.to_string(),
                nickname,
                enabled,
                tags,
            });
        }
    }
    if desired.prune {
        for (name, device) in live
            .devices
            .iter()
            .filter(|(name, _)| !desired.devices.contains_key(*name))
        {
            if is_protected(device) {
                plan.protected.push(name.clone());
            } else {
                plan.delete.push(Deletion {
                    name: name.clone(),
                    iot_id: device.iot_id.to_string(),
                });
            }
        }
    }
    plan
}

/// What the live state becomes once a product plan is carried out (the model of apply the
/// property tests check plans against).
#[must_use]
pub fn applied(plan: &ProductPlan, live: &LiveProduct) -> LiveProduct {
    let mut after = live.clone();
    for registration in &plan.register {
        after.devices.insert(
            registration.name.clone(),
            LiveDevice {
                iot_id: format!("new-{}", registration.name).into(),
                nickname: registration.nickname.as_deref().map(Into::into),
                enabled: registration.enabled,
                tags: Some(std::sync::Arc::new(registration.tags.clone())),
            },
        );
    }
    for update in &plan.update {
        let Some(device) = after.devices.get_mut(&update.name) else {
            continue;
        };
        if let Some(change) = &update.nickname {
            device.nickname = change.to.as_deref().map(Into::into);
        }
        if let Some(change) = &update.enabled {
            device.enabled = change.to;
        }
        if let Some(change) = &update.tags {
            let tags = std::sync::Arc::make_mut(device.tags.get_or_insert_with(Default::default));
            for key in &change.remove {
                tags.remove(key);
            }
            tags.extend(change.set.clone());
        }
    }
    for deletion in &plan.delete {
        after.devices.remove(&deletion.name);
    }
    after
}

#[cfg(test)]
mod tests;
