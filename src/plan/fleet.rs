//! Products and device groups: `DesiredState × LiveFleet → (ProductChange, GroupPlan)`, pure.
//!
//! A declared product is matched by its key when the document pins one, else by name in its
//! place. Only the name (when matched by key), the description and the tags change in place; any
//! other declared field that differs blocks the plan with what to do. A declared group is matched
//! by name; its description and tags change in place, its parent cannot. Membership is declared
//! on device entries: a group's wanted members are the devices naming it; missing ones are added,
//! and with the group's `prune: true` undeclared ones are removed. Undeclared products and groups
//! are deleted only with `--prune-products` / `--prune-groups`, never when protected by the tag
//! `iotplan.protect: "true"`, and a product never while it has devices.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{Change, TagChange, tag_change};
use crate::model::{
    DesiredState, FixedProductFields, GroupDecl, LiveFleet, LiveGroup, LiveProductInfo, MemberKey,
    PROTECT_TAG, Place, ProductDecl, Tags,
};

/// What changes for one declared (or, with prune, undeclared) product.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductChange {
    /// The name (the wanted one, when it changes).
    pub name: String,
    /// The ProductKey; absent while the product is to be created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_key: Option<String>,
    /// Region, as declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// IotInstanceId, as declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Create it (CreateProduct with `fixed`, the description, then the tags).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create: bool,
    /// Delete it (undeclared, empty, unprotected, `--prune-products`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete: bool,
    /// The fields CreateProduct sets, as declared.
    #[serde(default, skip_serializing_if = "is_default")]
    pub fixed: FixedProductFields,
    /// A new name (matched by key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rename: Option<Change<String>>,
    /// A new description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Change<String>>,
    /// Tag changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<TagChange>,
    /// Why apply will refuse this plan (a field fixed at creation differs), with what to do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<String>,
    /// Why prune keeps this undeclared product.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
    /// Devices it holds on the platform.
    #[serde(default)]
    pub live_devices: u64,
    /// SHA-256 of what the plan compared of the live product.
    pub live_fingerprint: String,
}

fn is_default<T: Default + PartialEq>(value: &T) -> bool {
    *value == T::default()
}

impl ProductChange {
    /// Whether apply changes anything.
    #[must_use]
    pub fn has_changes(&self) -> bool {
        self.create
            || self.delete
            || self.rename.is_some()
            || self.description.is_some()
            || self.tags.is_some()
    }

    /// Where it lives.
    #[must_use]
    pub fn place(&self) -> Place {
        Place {
            region: self.region.clone(),
            instance: self.instance.clone(),
        }
    }
}

/// Devices of one product, by name: members to add to or remove from a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberSet {
    /// The ProductKey; empty while the product is to be created.
    pub product_key: String,
    /// The declared product's name, while its key is not known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    /// The devices, by name.
    pub devices: Vec<String>,
}

impl MemberSet {
    /// The product as people read it.
    #[must_use]
    pub fn product_label(&self) -> String {
        crate::model::product_label(&self.product_key, self.product_name.as_deref())
    }
}

/// What changes for one declared (or, with prune, undeclared) device group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupPlan {
    /// The GroupName.
    pub name: String,
    /// The GroupId; absent while the group is to be created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_id: Option<String>,
    /// The parent group's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// Region, as declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// IotInstanceId, as declared.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    /// Create it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create: bool,
    /// Delete it (undeclared, unprotected, `--prune-groups`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete: bool,
    /// A new description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<Change<String>>,
    /// Tag changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<TagChange>,
    /// Why apply will refuse this plan, with what to do.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocked: Vec<String>,
    /// Why prune keeps this undeclared group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kept: Option<String>,
    /// Whether undeclared members are removed.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub prune: bool,
    /// Members on the platform when planned.
    #[serde(default)]
    pub live_members: usize,
    /// Members to add, per product.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<MemberSet>,
    /// Members to remove, per product.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<MemberSet>,
    /// SHA-256 of what the plan compared of the live group and its members.
    pub live_fingerprint: String,
}

impl GroupPlan {
    /// Whether apply changes anything.
    #[must_use]
    pub fn has_changes(&self) -> bool {
        self.create
            || self.delete
            || self.description.is_some()
            || self.tags.is_some()
            || !self.add.is_empty()
            || !self.remove.is_empty()
    }

    /// Where it lives.
    #[must_use]
    pub fn place(&self) -> Place {
        Place {
            region: self.region.clone(),
            instance: self.instance.clone(),
        }
    }

    /// Members added, over every product.
    #[must_use]
    pub fn adds(&self) -> usize {
        self.add.iter().map(|m| m.devices.len()).sum()
    }

    /// Members removed, over every product.
    #[must_use]
    pub fn removals(&self) -> usize {
        self.remove.iter().map(|m| m.devices.len()).sum()
    }
}

/// Which undeclared products and groups may be deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FleetPrune {
    /// `--prune-products`.
    #[serde(default)]
    pub products: bool,
    /// `--prune-groups`.
    #[serde(default)]
    pub groups: bool,
}

impl FleetPrune {
    /// Neither is on.
    #[must_use]
    pub fn is_off(&self) -> bool {
        !self.products && !self.groups
    }
}

/// Device names per product entry (ProductKey, and the name while the key is not known).
type MembersByProduct = BTreeMap<(String, Option<String>), Vec<String>>;

fn fingerprint(facts: &serde_json::Value) -> String {
    hex::encode(Sha256::digest(facts.to_string().as_bytes()))
}

fn managed(tags: &Tags) -> Tags {
    tags.iter()
        .filter(|(key, _)| !key.starts_with(crate::model::RESERVED_TAG_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

fn is_protected(tags: Option<&Tags>) -> bool {
    tags.and_then(|t| t.get(PROTECT_TAG))
        .is_some_and(|v| v == "true")
}

/// The differences in the fields fixed at creation: declared ones only.
fn fixed_conflicts(
    name: &str,
    declared: &FixedProductFields,
    live: &FixedProductFields,
) -> Vec<String> {
    let mut conflicts = Vec::new();
    let mut compare = |field: &str, want: Option<String>, have: Option<String>| {
        if let (Some(want), Some(have)) = (want, have)
            && want != have
        {
            conflicts.push(format!(
                "product {name}: {field} is {have} on the platform but {want} in the manifest, and it cannot change after creation; put {have} back in the manifest, or declare a new product under another name and move the devices to it"
            ));
        }
    };
    let node = |n: i32| if n == 1 { "gateway" } else { "device" }.to_owned();
    let format = |n: i32| if n == 0 { "custom" } else { "alink" }.to_owned();
    compare(
        "nodeType",
        declared.node_type.map(node),
        live.node_type.map(node),
    );
    compare(
        "authType",
        declared.auth_type.clone(),
        live.auth_type.clone(),
    );
    compare(
        "dataFormat",
        declared.data_format.map(format),
        live.data_format.map(format),
    );
    compare(
        "netType",
        declared.net_type.as_deref().map(str::to_lowercase),
        live.net_type.as_deref().map(str::to_lowercase),
    );
    compare(
        "protocolType",
        declared.protocol_type.clone(),
        live.protocol_type.clone(),
    );
    compare("edition", declared.edition.clone(), live.edition.clone());
    conflicts
}

fn product_facts(live: &LiveProductInfo, tags_compared: bool) -> serde_json::Value {
    serde_json::json!({
        "key": live.key,
        "name": live.name,
        "description": live.description,
        "fixed": live.fixed,
        "devices": live.device_count,
        "tags": tags_compared.then(|| live.tags.as_ref().map(managed)),
        "protected": is_protected(live.tags.as_ref()),
    })
}

fn declared_product(decl: &ProductDecl, live: Option<&LiveProductInfo>) -> ProductChange {
    let mut change = ProductChange {
        name: decl.name.clone(),
        product_key: live.map(|p| p.key.clone()),
        region: decl.place.region.clone(),
        instance: decl.place.instance.clone(),
        fixed: decl.fixed.clone(),
        live_devices: live.map_or(0, |p| p.device_count),
        live_fingerprint: fingerprint(&live.map_or(serde_json::Value::Null, |p| {
            product_facts(p, decl.tags.is_some())
        })),
        ..ProductChange::default()
    };
    let Some(live) = live else {
        if let Some(key) = &decl.product_key {
            change.blocked.push(format!(
                "product {}: no product has the key {key} there; fix the key, or remove `product:` to create the product by name",
                decl.name
            ));
            return change;
        }
        change.create = true;
        change.description = decl
            .description
            .clone()
            .filter(|d| !d.is_empty())
            .map(|to| Change {
                from: String::new(),
                to,
            });
        change.tags = decl
            .tags
            .as_ref()
            .and_then(|wanted| tag_change(wanted, &Tags::new()));
        return change;
    };
    if live.name != decl.name {
        change.rename = Some(Change {
            from: live.name.clone(),
            to: decl.name.clone(),
        });
    }
    change.description = decl
        .description
        .clone()
        .filter(|want| *want != live.description)
        .map(|to| Change {
            from: live.description.clone(),
            to,
        });
    change.tags = decl
        .tags
        .as_ref()
        .and_then(|wanted| tag_change(wanted, live.tags.as_ref().unwrap_or(&Tags::new())));
    change.blocked = fixed_conflicts(&decl.name, &decl.fixed, &live.fixed);
    change
}

/// Plans the declared products, and with `prune.products` the undeclared ones of their places.
/// `referenced` holds the ProductKeys DeviceSets name, which prune never deletes.
#[must_use]
pub fn products(
    desired: &DesiredState,
    live: &LiveFleet,
    referenced: &BTreeSet<String>,
    prune: FleetPrune,
) -> Vec<ProductChange> {
    let mut changes: Vec<ProductChange> = desired
        .declared_products
        .values()
        .map(|decl| declared_product(decl, live.product_for(decl)))
        .collect();
    if prune.products {
        let matched: BTreeSet<&str> = changes
            .iter()
            .filter_map(|c| c.product_key.as_deref())
            .collect();
        let places: BTreeSet<Place> = desired
            .declared_products
            .values()
            .map(|d| d.place.clone())
            .collect();
        let mut undeclared = Vec::new();
        for place in &places {
            for product in live.products.get(place).into_iter().flatten() {
                if matched.contains(product.key.as_str()) || referenced.contains(&product.key) {
                    continue;
                }
                let kept = if is_protected(product.tags.as_ref()) {
                    Some("protected by iotplan.protect".to_owned())
                } else if product.device_count > 0 {
                    Some(format!(
                        "it has {} devices: iotplan never deletes a product that has devices",
                        product.device_count
                    ))
                } else {
                    None
                };
                undeclared.push(ProductChange {
                    name: product.name.clone(),
                    product_key: Some(product.key.clone()),
                    region: place.region.clone(),
                    instance: place.instance.clone(),
                    delete: kept.is_none(),
                    kept,
                    live_devices: product.device_count,
                    live_fingerprint: fingerprint(&product_facts(product, false)),
                    ..ProductChange::default()
                });
            }
        }
        changes.extend(undeclared);
    }
    changes
}

/// The wanted members of every declared group: the devices whose entries name it, per product
/// entry (ProductKey, or empty with the name while the product is to be created).
fn wanted_members(desired: &DesiredState) -> BTreeMap<&str, MembersByProduct> {
    let mut wanted: BTreeMap<&str, MembersByProduct> = BTreeMap::new();
    for spec in desired.products.values() {
        for (device, device_spec) in &spec.devices {
            for group in device_spec.groups.iter().flat_map(|g| g.iter()) {
                if let Some((name, _)) = desired.groups.get_key_value(group) {
                    wanted
                        .entry(name.as_str())
                        .or_default()
                        .entry((spec.product_key.clone(), spec.product_name.clone()))
                        .or_default()
                        .push(device.clone());
                }
            }
        }
    }
    wanted
}

fn group_facts(live: &LiveGroup, tags_compared: bool) -> serde_json::Value {
    serde_json::json!({
        "id": live.id,
        "name": live.name,
        "description": live.description,
        "parent": live.parent,
        "tags": tags_compared.then(|| live.tags.as_ref().map(managed)),
        "protected": is_protected(live.tags.as_ref()),
        "members": live.members,
    })
}

fn member_sets(by_product: MembersByProduct) -> Vec<MemberSet> {
    by_product
        .into_iter()
        .filter(|(_, devices)| !devices.is_empty())
        .map(|((product_key, product_name), devices)| MemberSet {
            product_key,
            product_name,
            devices,
        })
        .collect()
}

fn declared_group(
    decl: &GroupDecl,
    live: Option<&LiveGroup>,
    wanted: Option<&MembersByProduct>,
) -> GroupPlan {
    let mut plan = GroupPlan {
        name: decl.name.clone(),
        group_id: live.map(|g| g.id.clone()),
        parent: decl.parent.clone(),
        region: decl.place.region.clone(),
        instance: decl.place.instance.clone(),
        prune: decl.prune,
        live_fingerprint: fingerprint(&live.map_or(serde_json::Value::Null, |g| {
            group_facts(g, decl.tags.is_some())
        })),
        ..GroupPlan::default()
    };
    let live_members = live.and_then(|g| g.members.clone()).unwrap_or_default();
    plan.live_members = live_members.len();
    let mut add = BTreeMap::new();
    let mut declared: BTreeSet<MemberKey> = BTreeSet::new();
    for ((key, name), devices) in wanted.into_iter().flatten() {
        let missing: Vec<String> = devices
            .iter()
            .filter(|device| {
                key.is_empty() || !live_members.contains(&(key.clone(), (*device).clone()))
            })
            .cloned()
            .collect();
        declared.extend(devices.iter().map(|d| (key.clone(), d.clone())));
        add.insert((key.clone(), name.clone()), missing);
    }
    plan.add = member_sets(add);
    if decl.prune {
        let mut remove: MembersByProduct = BTreeMap::new();
        for (key, device) in live_members.difference(&declared) {
            remove
                .entry((key.clone(), None))
                .or_default()
                .push(device.clone());
        }
        plan.remove = member_sets(remove);
    }
    let Some(live) = live else {
        plan.create = true;
        plan.description = decl
            .description
            .clone()
            .filter(|d| !d.is_empty())
            .map(|to| Change {
                from: String::new(),
                to,
            });
        plan.tags = decl
            .tags
            .as_ref()
            .and_then(|wanted| tag_change(wanted, &Tags::new()));
        return plan;
    };
    if live.parent != decl.parent {
        plan.blocked.push(format!(
            "group {}: its parent is {} on the platform but {} in the manifest, and a group's parent cannot change; put the parent back in the manifest, or rename the group so that apply creates a new one under the new parent",
            decl.name,
            live.parent.as_deref().unwrap_or("none (top level)"),
            decl.parent.as_deref().unwrap_or("none (top level)"),
        ));
    }
    plan.description = decl
        .description
        .clone()
        .filter(|want| *want != live.description)
        .map(|to| Change {
            from: live.description.clone(),
            to,
        });
    plan.tags = decl
        .tags
        .as_ref()
        .and_then(|wanted| tag_change(wanted, live.tags.as_ref().unwrap_or(&Tags::new())));
    plan
}

/// Plans the declared groups and their membership, and with `prune.groups` the undeclared groups
/// of their places.
#[must_use]
pub fn groups(desired: &DesiredState, live: &LiveFleet, prune: FleetPrune) -> Vec<GroupPlan> {
    let wanted = wanted_members(desired);
    let mut plans: Vec<GroupPlan> = desired
        .groups
        .values()
        .map(|decl| {
            let live_group = live
                .groups
                .get(&decl.place)
                .and_then(|groups| groups.get(&decl.name));
            declared_group(decl, live_group, wanted.get(decl.name.as_str()))
        })
        .collect();
    if prune.groups {
        let places: BTreeSet<Place> = desired.groups.values().map(|g| g.place.clone()).collect();
        for place in &places {
            let Some(groups) = live.groups.get(place) else {
                continue;
            };
            // Protection holds for the whole subtree: a protected group's parents stay too.
            let mut kept_for: BTreeMap<&str, String> = BTreeMap::new();
            for group in groups.values() {
                if desired.groups.contains_key(&group.name) || is_protected(group.tags.as_ref()) {
                    let reason = if desired.groups.contains_key(&group.name) {
                        format!("its sub-group {} is declared", group.name)
                    } else {
                        format!("its sub-group {} is protected", group.name)
                    };
                    let mut parent = group.parent.as_deref();
                    while let Some(name) = parent {
                        kept_for.entry(name).or_insert_with(|| reason.clone());
                        parent = groups.get(name).and_then(|g| g.parent.as_deref());
                    }
                }
            }
            for group in groups
                .values()
                .filter(|g| !desired.groups.contains_key(&g.name))
            {
                let kept = if is_protected(group.tags.as_ref()) {
                    Some("protected by iotplan.protect".to_owned())
                } else {
                    kept_for.get(group.name.as_str()).cloned()
                };
                plans.push(GroupPlan {
                    name: group.name.clone(),
                    group_id: Some(group.id.clone()),
                    parent: group.parent.clone(),
                    region: place.region.clone(),
                    instance: place.instance.clone(),
                    delete: kept.is_none(),
                    kept,
                    live_members: group.members.as_ref().map_or(0, BTreeSet::len),
                    live_fingerprint: fingerprint(&group_facts(group, false)),
                    ..GroupPlan::default()
                });
            }
        }
    }
    plans
}

/// The depth of a group in the plan's tree (a top-level group is 1), for creating parents first
/// and deleting children first.
#[must_use]
pub fn depth(groups: &[GroupPlan], group: &GroupPlan) -> usize {
    let mut depth = 1;
    let mut parent = group.parent.as_deref();
    while let Some(name) = parent {
        depth += 1;
        if depth > groups.len() + 1 {
            break;
        }
        parent = groups
            .iter()
            .find(|g| g.name == name && g.place() == group.place())
            .and_then(|g| g.parent.as_deref());
    }
    depth
}
