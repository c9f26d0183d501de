//! Products, device groups and membership: the phases around the devices' own.
//!
//! Before the devices: products are created (CreateProduct, then their description and tags) and
//! changed (UpdateProduct, product tags); groups are created parents first and changed
//! (UpdateDeviceGroup, SetDeviceGroupTags). After the devices, so that new devices can join:
//! members are added and removed 200 a call, and every added chunk whose counts fall short is
//! checked device by device (QueryDeviceGroupByDevice) to name what the platform did not add; then
//! groups are deleted children first, and products last.
//!
//! CreateProduct and CreateDeviceGroup are not idempotent. Each creation is written to the
//! journal (`created.json` in the journal folder) before it is sent; after an unknown outcome the
//! name is looked up before anything is tried again, and a later plan finds a product or group
//! that was created by name, so a run killed at any point is finished by the next one.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use futures::StreamExt as _;
use serde::{Deserialize, Serialize};

use super::{Error, Failure, Run};
use crate::model::Place;
use crate::plan::fleet::{GroupPlan, MemberSet, ProductChange, depth};
use crate::plan::{Plan, TagChange};
use crate::platform::{Client, Error as PlatformError};
use crate::wire::MAX_GROUP_RELATIONS;
use crate::wire::ops::{
    BatchAddDeviceGroupRelations, BatchDeleteDeviceGroupRelations, CreateDeviceGroup,
    CreateProduct, CreateProductTags, DeleteDeviceGroup, DeleteProduct, DeleteProductTags,
    GroupTag, Member, ProductTag, QueryDeviceGroupByDevice, QueryDeviceGroupList, QueryProductList,
    SetDeviceGroupTags, UpdateDeviceGroup, UpdateProduct, UpdateProductTags,
};
use crate::wire::{MAX_GROUP_PAGE_SIZE, MAX_GROUPS_PER_DEVICE, MAX_PRODUCT_PAGE_SIZE};

/// What apply did to products, groups and membership.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FleetReport {
    /// Products created, by name, with their new ProductKey.
    pub products_created: BTreeMap<String, String>,
    /// Products changed in place.
    pub products_updated: usize,
    /// Products deleted.
    pub products_deleted: usize,
    /// Groups created, by name, with their new GroupId.
    pub groups_created: BTreeMap<String, String>,
    /// Groups changed in place.
    pub groups_updated: usize,
    /// Groups deleted.
    pub groups_deleted: usize,
    /// Members added.
    pub members_added: usize,
    /// Members removed.
    pub members_removed: usize,
    /// What failed, with reasons (members the platform did not add among them).
    pub failures: Vec<Failure>,
    /// Whether apply stopped early (Ctrl-C) with some of this left.
    pub interrupted: bool,
}

/// A creation sent but not known to have finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Creation {
    /// `product` or `group`.
    kind: String,
    name: String,
    place: Place,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct CreationFile {
    format_version: u32,
    open: Vec<Creation>,
}

/// The journal of creations in flight (`created.json`).
struct CreationJournal {
    path: PathBuf,
    state: std::sync::Mutex<CreationFile>,
}

impl CreationJournal {
    fn open(dir: &Path) -> Result<Self, Error> {
        let path = dir.join("created.json");
        let state = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Journal {
                path: path.clone(),
                reason: format!(
                    "{e}; the products and groups it names can be checked with `iotplan plan`"
                ),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => CreationFile {
                format_version: 1,
                open: Vec::new(),
            },
            Err(e) => {
                return Err(Error::Journal {
                    path,
                    reason: e.to_string(),
                });
            }
        };
        Ok(Self {
            path,
            state: std::sync::Mutex::new(state),
        })
    }

    fn update(&self, change: impl FnOnce(&mut Vec<Creation>)) -> Result<(), Error> {
        let mut state = crate::sync::lock(&self.state);
        change(&mut state.open);
        let error = |e: std::io::Error| Error::Journal {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        if state.open.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(error(e)),
                _ => Ok(()),
            };
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(error)?;
        }
        let text =
            serde_json::to_vec_pretty(&*state).map_err(|e| error(std::io::Error::other(e)))?;
        crate::fsutil::write_atomically(&self.path, &text, None).map_err(error)
    }

    fn record(&self, creation: &Creation) -> Result<(), Error> {
        self.update(|open| {
            open.retain(|c| c != creation);
            open.push(creation.clone());
        })
    }

    fn forget(&self, creation: &Creation) -> Result<(), Error> {
        self.update(|open| open.retain(|c| c != creation))
    }
}

/// The keys and ids known once products and groups exist: the plan's, and the new ones.
#[derive(Debug, Default)]
pub(super) struct Created {
    /// ProductKeys of products created by this run, by name.
    pub product_keys: BTreeMap<String, String>,
    /// GroupIds, by name (existing and new).
    group_ids: BTreeMap<String, String>,
}

fn product_tags(tags: impl IntoIterator<Item = (String, String)>) -> Vec<ProductTag> {
    tags.into_iter()
        .map(|(tag_key, tag_value)| ProductTag { tag_key, tag_value })
        .collect()
}

/// Looks a product up by name in its place (after a creation of unknown outcome).
async fn product_named(client: &Client, name: &str) -> Result<Option<String>, PlatformError> {
    let mut page = 1;
    loop {
        let answer = client
            .call(&QueryProductList {
                current_page: page,
                page_size: MAX_PRODUCT_PAGE_SIZE,
                aliyun_commodity_code: None,
            })
            .await?;
        if let Some(found) = answer
            .data
            .list
            .products
            .iter()
            .find(|p| p.product_name == name)
        {
            return Ok(Some(found.product_key.clone()));
        }
        if page >= answer.data.page_count {
            return Ok(None);
        }
        page += 1;
    }
}

/// Looks a group up by name under its parent.
async fn group_named(
    client: &Client,
    name: &str,
    parent_id: Option<&str>,
) -> Result<Option<String>, PlatformError> {
    let answer = client
        .call(&QueryDeviceGroupList {
            current_page: Some(1),
            page_size: Some(MAX_GROUP_PAGE_SIZE),
            group_name: Some(name.to_owned()),
            super_group_id: parent_id.map(str::to_owned),
        })
        .await?;
    Ok(answer
        .data
        .groups
        .into_iter()
        .find(|g| g.group_name == name)
        .map(|g| g.group_id))
}

impl Run<'_> {
    fn fleet_failure(
        &self,
        report: &mut FleetReport,
        what: String,
        step: &str,
        error: &PlatformError,
    ) {
        let failure = self.failure(what, step, error);
        report.failures.push(failure);
    }

    /// Products and groups before the devices: creations, then changes in place.
    pub(super) async fn fleet_before(
        &self,
        plan: &Plan,
        clients: &(dyn Fn(&Place) -> Client + Sync),
        report: &mut FleetReport,
    ) -> Result<Created, Error> {
        let journal = CreationJournal::open(&self.options.journal_dir)?;
        // What an earlier run left open was found by name when this plan was made.
        journal.update(Vec::clear)?;
        let mut created = Created::default();
        let products: Vec<&ProductChange> = plan
            .product_changes
            .iter()
            .filter(|p| !p.delete && p.has_changes())
            .collect();
        for (done, product) in products.iter().enumerate() {
            if self.stopped() {
                report.interrupted = true;
                return Ok(created);
            }
            (self.progress)("products", "creating and changing", done, products.len());
            self.declared_product(
                &clients(&product.place()),
                product,
                &journal,
                &mut created,
                report,
            )
            .await?;
        }
        for group in &plan.groups {
            if let Some(id) = &group.group_id {
                created.group_ids.insert(group.name.clone(), id.clone());
            }
        }
        let mut groups: Vec<&GroupPlan> = plan
            .groups
            .iter()
            .filter(|g| !g.delete && (g.create || g.description.is_some() || g.tags.is_some()))
            .collect();
        groups.sort_by_key(|g| depth(&plan.groups, g));
        for (done, group) in groups.iter().enumerate() {
            if self.stopped() {
                report.interrupted = true;
                return Ok(created);
            }
            (self.progress)("groups", "creating and changing", done, groups.len());
            self.declared_group(
                &clients(&group.place()),
                group,
                &journal,
                &mut created,
                report,
            )
            .await?;
        }
        Ok(created)
    }

    async fn declared_product(
        &self,
        client: &Client,
        product: &ProductChange,
        journal: &CreationJournal,
        created: &mut Created,
        report: &mut FleetReport,
    ) -> Result<(), Error> {
        let name = product.name.clone();
        let key = if product.create {
            let creation = Creation {
                kind: "product".to_owned(),
                name: name.clone(),
                place: product.place(),
            };
            journal.record(&creation)?;
            let fixed = &product.fixed;
            let request = CreateProduct {
                product_name: name.clone(),
                node_type: fixed.node_type.unwrap_or(0),
                aliyun_commodity_code: fixed.edition.clone(),
                data_format: fixed.data_format,
                description: product.description.as_ref().map(|d| d.to.clone()),
                auth_type: fixed.auth_type.clone(),
                net_type: fixed.net_type.clone(),
                protocol_type: fixed.protocol_type.clone(),
                publish_auto: None,
            };
            let key = match client.call(&request).await {
                Ok(answer) => answer.product_key,
                Err(error) if error.is_ambiguous() => match product_named(client, &name).await {
                    Ok(Some(key)) => key,
                    Ok(None) => match client.call(&request).await {
                        Ok(answer) => answer.product_key,
                        Err(error) => {
                            self.fleet_failure(
                                report,
                                format!("product {name}"),
                                "create the product",
                                &error,
                            );
                            return Ok(());
                        }
                    },
                    Err(error) => {
                        self.fleet_failure(
                            report,
                            format!("product {name}"),
                            "look the product up after an unknown outcome (run apply again)",
                            &error,
                        );
                        return Ok(());
                    }
                },
                Err(error) => {
                    self.fleet_failure(
                        report,
                        format!("product {name}"),
                        "create the product",
                        &error,
                    );
                    return Ok(());
                }
            };
            journal.forget(&creation)?;
            report.products_created.insert(name.clone(), key.clone());
            created.product_keys.insert(name.clone(), key.clone());
            key
        } else {
            let Some(key) = product.product_key.clone() else {
                return Ok(());
            };
            if product.rename.is_some() || product.description.is_some() {
                let request = UpdateProduct {
                    product_key: key.clone(),
                    product_name: name.clone(),
                    description: product.description.as_ref().map(|d| d.to.clone()),
                };
                if let Err(error) = client.call(&request).await {
                    self.fleet_failure(
                        report,
                        format!("product {name}"),
                        "change the name and description",
                        &error,
                    );
                    return Ok(());
                }
            }
            key
        };
        if let Some(tags) = &product.tags
            && let Err((step, error)) = write_product_tags(client, &key, tags).await
        {
            self.fleet_failure(report, format!("product {name}"), step, &error);
            return Ok(());
        }
        if !product.create {
            report.products_updated += 1;
        }
        Ok(())
    }

    async fn declared_group(
        &self,
        client: &Client,
        group: &GroupPlan,
        journal: &CreationJournal,
        created: &mut Created,
        report: &mut FleetReport,
    ) -> Result<(), Error> {
        let name = group.name.clone();
        let parent_id = group.parent.as_ref().map(|p| created.group_ids.get(p));
        if let (Some(parent), Some(None)) = (&group.parent, &parent_id) {
            report.failures.push(Failure {
                device: format!("group {name}"),
                step: "create the group".to_owned(),
                reason: format!("its parent {parent} was not created (see its failure)"),
            });
            return Ok(());
        }
        let parent_id = parent_id.flatten().cloned();
        let id = if group.create {
            let creation = Creation {
                kind: "group".to_owned(),
                name: name.clone(),
                place: group.place(),
            };
            journal.record(&creation)?;
            let request = CreateDeviceGroup {
                group_name: name.clone(),
                group_desc: group.description.as_ref().map(|d| d.to.clone()),
                super_group_id: parent_id.clone(),
            };
            let id = match client.call(&request).await {
                Ok(answer) => answer.data.group_id,
                // A retried creation that had gone through finds its name taken: the group is
                // there, under the parent asked for.
                Err(error) => match group_named(client, &name, parent_id.as_deref()).await {
                    Ok(Some(id)) => id,
                    Ok(None) => {
                        self.fleet_failure(
                            report,
                            format!("group {name}"),
                            "create the group",
                            &error,
                        );
                        return Ok(());
                    }
                    Err(lookup) => {
                        self.fleet_failure(
                            report,
                            format!("group {name}"),
                            "look the group up after a failed creation (run apply again)",
                            &lookup,
                        );
                        return Ok(());
                    }
                },
            };
            journal.forget(&creation)?;
            report.groups_created.insert(name.clone(), id.clone());
            created.group_ids.insert(name.clone(), id.clone());
            id
        } else {
            let Some(id) = group.group_id.clone() else {
                return Ok(());
            };
            if let Some(description) = &group.description {
                let request = UpdateDeviceGroup {
                    group_id: id.clone(),
                    group_desc: Some(description.to.clone()),
                };
                if let Err(error) = client.call(&request).await {
                    self.fleet_failure(
                        report,
                        format!("group {name}"),
                        "change the description",
                        &error,
                    );
                    return Ok(());
                }
            }
            id
        };
        if let Some(tags) = &group.tags {
            let request = SetDeviceGroupTags {
                group_id: id,
                tags: final_tags(tags)
                    .into_iter()
                    .map(|(tag_key, tag_value)| GroupTag { tag_key, tag_value })
                    .collect(),
            };
            if let Err(error) = client.call(&request).await {
                self.fleet_failure(report, format!("group {name}"), "set the tags", &error);
                return Ok(());
            }
        }
        if !group.create {
            report.groups_updated += 1;
        }
        Ok(())
    }

    /// Membership, then group and product deletions: after the devices.
    pub(super) async fn fleet_after(
        &self,
        plan: &Plan,
        clients: &(dyn Fn(&Place) -> Client + Sync),
        created: &Created,
        report: &mut FleetReport,
    ) {
        let with_members: Vec<&GroupPlan> = plan
            .groups
            .iter()
            .filter(|g| !g.add.is_empty() || !g.remove.is_empty())
            .collect();
        for group in with_members {
            let Some(id) = created.group_ids.get(&group.name) else {
                report.failures.push(Failure {
                    device: format!("group {}", group.name),
                    step: "change the members".to_owned(),
                    reason: "the group was not created (see its failure)".to_owned(),
                });
                continue;
            };
            let client = clients(&group.place());
            if !self
                .members(&client, group, id, &group.add, created, true, report)
                .await
                || !self
                    .members(&client, group, id, &group.remove, created, false, report)
                    .await
            {
                report.interrupted = true;
                return;
            }
        }
        let mut doomed: Vec<&GroupPlan> = plan.groups.iter().filter(|g| g.delete).collect();
        doomed.sort_by_key(|g| std::cmp::Reverse(depth(&plan.groups, g)));
        for group in doomed {
            if self.stopped() {
                report.interrupted = true;
                return;
            }
            let Some(id) = &group.group_id else { continue };
            let request = DeleteDeviceGroup {
                group_id: id.clone(),
            };
            match clients(&group.place()).call(&request).await {
                Ok(_) => report.groups_deleted += 1,
                Err(error) => self.fleet_failure(
                    report,
                    format!("group {}", group.name),
                    "delete the group",
                    &error,
                ),
            }
        }
        for product in plan.product_changes.iter().filter(|p| p.delete) {
            if self.stopped() {
                report.interrupted = true;
                return;
            }
            let Some(key) = &product.product_key else {
                continue;
            };
            let request = DeleteProduct {
                product_key: key.clone(),
            };
            match clients(&product.place()).call(&request).await {
                Ok(_) => report.products_deleted += 1,
                Err(error) => self.fleet_failure(
                    report,
                    format!("product {} ({key})", product.name),
                    "delete the product",
                    &error,
                ),
            }
        }
    }

    /// Adds or removes one group's members, 200 a call; false when a stop came first.
    #[allow(clippy::too_many_arguments)]
    async fn members(
        &self,
        client: &Client,
        group: &GroupPlan,
        group_id: &str,
        sets: &[MemberSet],
        created: &Created,
        add: bool,
        report: &mut FleetReport,
    ) -> bool {
        let mut members = Vec::new();
        for set in sets {
            let key = if set.product_key.is_empty() {
                let Some(key) = set
                    .product_name
                    .as_ref()
                    .and_then(|name| created.product_keys.get(name))
                else {
                    report.failures.push(Failure {
                        device: format!(
                            "group {}: {} device(s) of {}",
                            group.name,
                            set.devices.len(),
                            set.product_label()
                        ),
                        step: "add the members".to_owned(),
                        reason: "the product was not created (see its failure)".to_owned(),
                    });
                    continue;
                };
                key.clone()
            } else {
                set.product_key.clone()
            };
            members.extend(set.devices.iter().map(|device| Member {
                product_key: key.clone(),
                device_name: device.clone(),
            }));
        }
        if members.is_empty() {
            return true;
        }
        let label = if add {
            "adding members"
        } else {
            "removing members"
        };
        let chunks: Vec<&[Member]> = members.chunks(MAX_GROUP_RELATIONS).collect();
        let total = members.len();
        let outcomes: Vec<Option<(usize, Vec<Failure>)>> = futures::stream::iter(chunks)
            .map(|chunk| async move {
                if self.stopped() {
                    return None;
                }
                Some(self.member_chunk(client, group, group_id, chunk, add).await)
            })
            .buffered(4)
            .collect()
            .await;
        let mut done = 0;
        let mut complete = true;
        for outcome in outcomes {
            match outcome {
                Some((changed, failures)) => {
                    done += changed;
                    report.failures.extend(failures);
                }
                None => complete = false,
            }
        }
        (self.progress)(&group.name, label, total, total);
        if add {
            report.members_added += done;
        } else {
            report.members_removed += done;
        }
        complete
    }

    /// One call of members; gives how many changed, and what the platform did not add.
    async fn member_chunk(
        &self,
        client: &Client,
        group: &GroupPlan,
        group_id: &str,
        chunk: &[Member],
        add: bool,
    ) -> (usize, Vec<Failure>) {
        let label =
            |m: &Member| format!("group {}: {}/{}", group.name, m.product_key, m.device_name);
        let range = match (chunk.first(), chunk.last()) {
            (Some(first), Some(last)) if chunk.len() > 1 => format!(
                "{} … {} ({} devices)",
                label(first),
                last.device_name,
                chunk.len()
            ),
            (Some(first), _) => label(first),
            _ => return (0, Vec::new()),
        };
        if !add {
            let request = BatchDeleteDeviceGroupRelations {
                group_id: group_id.to_owned(),
                devices: chunk.to_vec(),
            };
            return match client.call(&request).await {
                Ok(answer) => (answer.success_device_count as usize, Vec::new()),
                Err(error) => (0, vec![self.failure(range, "remove the members", &error)]),
            };
        }
        let request = BatchAddDeviceGroupRelations {
            group_id: group_id.to_owned(),
            devices: chunk.to_vec(),
        };
        let answer = match client.call(&request).await {
            Ok(answer) => answer,
            Err(error) => return (0, vec![self.failure(range, "add the members", &error)]),
        };
        let joined = (answer.success_added_device_count + answer.already_related_group_device_count)
            as usize;
        if joined >= chunk.len() {
            return (answer.success_added_device_count as usize, Vec::new());
        }
        // The counts say some were not added, not which: ask each device of the chunk.
        let checks = chunk.iter().map(|member| async move {
            let request = QueryDeviceGroupByDevice {
                device: member.clone(),
            };
            match client.call(&request).await {
                Ok(answer) if answer.group_infos.groups.iter().any(|g| g.group_id == group_id) => None,
                Ok(answer) => Some(Failure {
                    device: label(member),
                    step: "add the member".to_owned(),
                    reason: if answer.group_infos.groups.len() >= MAX_GROUPS_PER_DEVICE {
                        format!("the platform did not add it: the device is already in {} groups, the most a device can be in; take it out of another group", answer.group_infos.groups.len())
                    } else {
                        "the platform did not add it (is the device registered?)".to_owned()
                    },
                }),
                Err(error) => Some(self.failure(label(member), "check the membership after an incomplete add", &error)),
            }
        });
        let failures: Vec<Failure> = futures::stream::iter(checks)
            .buffer_unordered(16)
            .filter_map(|f| async move { f })
            .collect()
            .await;
        (answer.success_added_device_count as usize, failures)
    }
}

/// A product's tag changes: updates of present keys, creations of new ones, removals.
async fn write_product_tags(
    client: &Client,
    key: &str,
    tags: &TagChange,
) -> Result<(), (&'static str, PlatformError)> {
    let (update, create): (Vec<_>, Vec<_>) = tags
        .set
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .partition(|(k, _)| tags.before.contains_key(k));
    if !update.is_empty() {
        client
            .call(&UpdateProductTags {
                product_key: key.to_owned(),
                tags: product_tags(update),
            })
            .await
            .map_err(|e| ("change the product tags", e))?;
    }
    if !create.is_empty() {
        client
            .call(&CreateProductTags {
                product_key: key.to_owned(),
                tags: product_tags(create),
            })
            .await
            .map_err(|e| ("add the product tags", e))?;
    }
    if !tags.remove.is_empty() {
        client
            .call(&DeleteProductTags {
                product_key: key.to_owned(),
                keys: tags.remove.clone(),
            })
            .await
            .map_err(|e| ("remove the product tags", e))?;
    }
    Ok(())
}

/// The whole tag set after a change (SetDeviceGroupTags replaces them all).
fn final_tags(change: &TagChange) -> BTreeMap<String, String> {
    let removed: BTreeSet<&String> = change.remove.iter().collect();
    let mut tags: BTreeMap<String, String> = change
        .before
        .iter()
        .filter(|(k, _)| !removed.contains(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    tags.extend(change.set.iter().map(|(k, v)| (k.clone(), v.clone())));
    tags
}
