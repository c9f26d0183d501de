//! Reads the products and device groups a plan compares, in the places the manifests declare
//! some: every product there (QueryProductList), the fields fixed at creation of the declared ones
//! (QueryProduct), product tags where declared or needed for protection (ListProductTags); the
//! group tree as deep as the declared groups (or, with group prune, all of it) reach
//! (QueryDeviceGroupList by SuperGroupId), group tags likewise (QueryDeviceGroupTagList), and the
//! members of the declared groups whose membership the plan compares (QueryDeviceListByDeviceGroup,
//! its pages side by side at its quota).

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use futures::{StreamExt as _, TryStreamExt as _};

use super::{Client, Error};
use crate::model::{
    DesiredState, FixedProductFields, LiveFleet, LiveGroup, LiveProductInfo, MemberKey, Place,
    ProductDecl, Tags,
};
use crate::plan::fleet::FleetPrune;
use crate::wire::ops::{
    GroupInfo, ListProductTags, QueryDeviceGroupList, QueryDeviceGroupTagList,
    QueryDeviceListByDeviceGroup, QueryProduct, QueryProductList,
};
use crate::wire::{MAX_GROUP_DEPTH, MAX_GROUP_PAGE_SIZE, MAX_PRODUCT_PAGE_SIZE};

/// Members a QueryDeviceListByDeviceGroup page asks for (its maximum is not documented).
pub const MEMBER_PAGE_SIZE: u32 = 50;

/// Pages or per-item reads in flight at once (each quota's limiter still paces them).
const READS_IN_FLIGHT: usize = 16;

/// A read of products or groups that failed.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct FleetError {
    /// What was being read, and where.
    pub what: String,
    /// Why.
    #[source]
    pub source: Error,
}

/// Reads page 1, then the other pages side by side. `fetch(page)` gives the page count and the
/// page's items.
async fn every_page<T, F, Fut>(fetch: F) -> Result<Vec<T>, Error>
where
    F: Fn(u32) -> Fut,
    Fut: Future<Output = Result<(u32, Vec<T>), Error>>,
{
    let (page_count, mut items) = fetch(1).await?;
    let rest: Vec<Vec<T>> = futures::stream::iter(2..=page_count)
        .map(&fetch)
        .buffered(READS_IN_FLIGHT)
        .map_ok(|(_, page)| page)
        .try_collect()
        .await?;
    items.extend(rest.into_iter().flatten());
    Ok(items)
}

/// The API's net type number as the manifest spells it.
fn net_type_name(code: i32) -> String {
    match code {
        6 => "CELLULAR",
        7 => "ETHERNET",
        8 => "OTHER",
        _ => "WIFI",
    }
    .to_owned()
}

async fn product_tags(client: &Client, product_key: &str) -> Result<Tags, Error> {
    let answer = client
        .call(&ListProductTags {
            product_key: product_key.to_owned(),
        })
        .await?;
    Ok(answer
        .data
        .tags
        .into_iter()
        .map(|t| (t.tag_key, t.tag_value))
        .collect())
}

/// One product as QueryProduct reports it, fields fixed at creation included (tags not read).
async fn product_details(client: &Client, product_key: &str) -> Result<LiveProductInfo, Error> {
    let data = client
        .call(&QueryProduct {
            product_key: product_key.to_owned(),
        })
        .await?
        .data;
    Ok(LiveProductInfo {
        key: product_key.to_owned(),
        name: data.product_name,
        description: data.description,
        device_count: data.device_count,
        fixed: FixedProductFields {
            node_type: Some(data.node_type),
            auth_type: Some(data.auth_type),
            data_format: data.data_format,
            net_type: data.net_type.map(net_type_name),
            protocol_type: data.protocol_type,
            edition: Some(data.aliyun_commodity_code).filter(|e| !e.is_empty()),
        },
        tags: None,
    })
}

/// Every product of one place, with the fixed fields and tags of the ones `declared` names, and
/// with `prune`, the tags of the empty undeclared ones (for their protection).
async fn read_products(
    client: &Client,
    declared: &[&ProductDecl],
    prune: bool,
) -> Result<Vec<LiveProductInfo>, Error> {
    let listed = every_page(|page| async move {
        let answer = client
            .call(&QueryProductList {
                current_page: page,
                page_size: MAX_PRODUCT_PAGE_SIZE,
                aliyun_commodity_code: None,
            })
            .await?;
        Ok((answer.data.page_count, answer.data.list.products))
    })
    .await?;
    let details = listed.into_iter().map(|info| async move {
        let decl = declared.iter().find(|d| match &d.product_key {
            Some(key) => *key == info.product_key,
            None => d.name == info.product_name,
        });
        let mut live = LiveProductInfo {
            key: info.product_key,
            name: info.product_name,
            description: info.description,
            device_count: info.device_count,
            fixed: FixedProductFields::default(),
            tags: None,
        };
        if let Some(decl) = decl {
            live = product_details(client, &live.key).await?;
            if decl.tags.is_some() {
                live.tags = Some(product_tags(client, &live.key).await?);
            }
        } else if prune && live.device_count == 0 {
            live.tags = Some(product_tags(client, &live.key).await?);
        }
        Ok::<_, Error>(live)
    });
    futures::stream::iter(details)
        .buffered(READS_IN_FLIGHT)
        .try_collect()
        .await
}

async fn child_groups(client: &Client, parent: Option<&str>) -> Result<Vec<GroupInfo>, Error> {
    every_page(|page| async move {
        let answer = client
            .call(&QueryDeviceGroupList {
                current_page: Some(page),
                page_size: Some(MAX_GROUP_PAGE_SIZE),
                group_name: None,
                super_group_id: parent.map(str::to_owned),
            })
            .await?;
        Ok((answer.page_count, answer.data.groups))
    })
    .await
}

async fn group_tags(client: &Client, group_id: &str) -> Result<Tags, Error> {
    let answer = client
        .call(&QueryDeviceGroupTagList {
            group_id: group_id.to_owned(),
        })
        .await?;
    Ok(answer
        .data
        .tags
        .into_iter()
        .map(|t| (t.tag_key, t.tag_value))
        .collect())
}

/// A group's members, its pages side by side.
async fn group_members(client: &Client, group_id: &str) -> Result<BTreeSet<MemberKey>, Error> {
    let members = every_page(|page| async move {
        let answer = client
            .call(&QueryDeviceListByDeviceGroup {
                group_id: group_id.to_owned(),
                current_page: Some(page),
                page_size: Some(MEMBER_PAGE_SIZE),
            })
            .await?;
        Ok((answer.page_count, answer.data.devices))
    })
    .await?;
    Ok(members
        .into_iter()
        .map(|d| (d.product_key, d.device_name))
        .collect())
}

/// What to read of the groups of one place.
struct GroupReads<'a> {
    desired: &'a DesiredState,
    place: &'a Place,
    /// Read the whole tree (group prune, export), not only as deep as the declared groups.
    prune: bool,
    /// Read the tags of undeclared groups (for prune's protection, or export).
    undeclared_tags: bool,
    /// Groups whose members are read.
    members_of: MembersOf<'a>,
}

/// Which groups' members a group read reads.
enum MembersOf<'a> {
    /// The declared groups whose members the plan compares.
    Declared(BTreeSet<&'a str>),
    /// Every group (export).
    Every,
}

impl MembersOf<'_> {
    fn includes(&self, name: &str) -> bool {
        match self {
            MembersOf::Declared(names) => names.contains(name),
            MembersOf::Every => true,
        }
    }
}

impl GroupReads<'_> {
    /// Whether the tree below `name` must be read: it holds declared groups, or prune is on.
    fn descend(&self, name: &str) -> bool {
        self.prune
            || self
                .desired
                .groups
                .values()
                .any(|g| &g.place == self.place && g.parent.as_deref() == Some(name))
    }

    fn tags_needed(&self, name: &str) -> bool {
        match self.desired.groups.get(name) {
            Some(decl) if &decl.place == self.place => decl.tags.is_some(),
            _ => self.undeclared_tags,
        }
    }

    /// The group tree, level by level, as deep as needed, then tags and members where needed.
    async fn read(&self, client: &Client) -> Result<BTreeMap<String, LiveGroup>, Error> {
        let mut groups: BTreeMap<String, LiveGroup> = BTreeMap::new();
        let mut level: Vec<(Option<String>, GroupInfo)> = child_groups(client, None)
            .await?
            .into_iter()
            .map(|g| (None, g))
            .collect();
        for depth in 1..=MAX_GROUP_DEPTH {
            let parents: Vec<(String, String)> = level
                .iter()
                .filter(|(_, g)| depth < MAX_GROUP_DEPTH && self.descend(&g.group_name))
                .map(|(_, g)| (g.group_id.clone(), g.group_name.clone()))
                .collect();
            for (parent, info) in level.drain(..) {
                groups.insert(
                    info.group_name.clone(),
                    LiveGroup {
                        id: info.group_id,
                        name: info.group_name,
                        description: info.group_desc,
                        parent,
                        tags: None,
                        members: None,
                    },
                );
            }
            let children: Vec<Vec<(Option<String>, GroupInfo)>> = futures::stream::iter(parents)
                .map(|(id, name)| async move {
                    let found = child_groups(client, Some(&id)).await?;
                    Ok::<_, Error>(found.into_iter().map(|g| (Some(name.clone()), g)).collect())
                })
                .buffered(READS_IN_FLIGHT)
                .try_collect()
                .await?;
            level = children.into_iter().flatten().collect();
            if level.is_empty() {
                break;
            }
        }
        let extras = groups.values().map(|group| async move {
            let tags = if self.tags_needed(&group.name) {
                Some(group_tags(client, &group.id).await?)
            } else {
                None
            };
            let members = if self.members_of.includes(&group.name) {
                Some(group_members(client, &group.id).await?)
            } else {
                None
            };
            Ok::<_, Error>((group.name.clone(), tags, members))
        });
        let extras: Vec<_> = futures::stream::iter(extras)
            .buffered(READS_IN_FLIGHT)
            .try_collect()
            .await?;
        for (name, tags, members) in extras {
            if let Some(group) = groups.get_mut(&name) {
                group.tags = tags;
                group.members = members;
            }
        }
        Ok(groups)
    }
}

/// The declared groups whose members the plan compares: those some device names, and those that
/// prune their members.
fn groups_with_membership(desired: &DesiredState) -> BTreeSet<&str> {
    let mut named: BTreeSet<&str> = desired
        .groups
        .values()
        .filter(|g| g.prune)
        .map(|g| g.name.as_str())
        .collect();
    for spec in desired.products.values() {
        for device in spec.devices.values() {
            for group in device.groups.iter().flat_map(|g| g.iter()) {
                if let Some((name, _)) = desired.groups.get_key_value(group) {
                    named.insert(name.as_str());
                }
            }
        }
    }
    named
}

/// Reads the products and groups of every place the manifests declare some in; places without
/// declared products (groups) have no products (groups) read.
///
/// # Errors
/// Every read that failed after its retries, each with what it was reading.
pub async fn read(
    clients: &(dyn Fn(&Place) -> Client + Sync),
    desired: &DesiredState,
    prune: FleetPrune,
) -> Result<LiveFleet, Vec<FleetError>> {
    let product_places: BTreeSet<&Place> = desired
        .declared_products
        .values()
        .map(|d| &d.place)
        .collect();
    let group_places: BTreeSet<&Place> = desired.groups.values().map(|g| &g.place).collect();
    let members_of = groups_with_membership(desired);
    let product_reads = product_places.into_iter().map(|place| async move {
        let declared: Vec<&ProductDecl> = desired
            .declared_products
            .values()
            .filter(|d| &d.place == place)
            .collect();
        read_products(&clients(place), &declared, prune.products)
            .await
            .map(|products| (place.clone(), products))
            .map_err(|source| FleetError {
                what: format!("the products of {place}"),
                source,
            })
    });
    let group_reads = group_places.into_iter().map(|place| {
        let reads = GroupReads {
            desired,
            place,
            prune: prune.groups,
            undeclared_tags: prune.groups,
            members_of: MembersOf::Declared(members_of.clone()),
        };
        async move {
            reads
                .read(&clients(place))
                .await
                .map(|groups| (place.clone(), groups))
                .map_err(|source| FleetError {
                    what: format!("the device groups of {place}"),
                    source,
                })
        }
    });
    let (products, groups) = futures::future::join(
        futures::future::join_all(product_reads),
        futures::future::join_all(group_reads),
    )
    .await;
    let mut fleet = LiveFleet::default();
    let mut errors = Vec::new();
    for result in products {
        match result {
            Ok((place, products)) => {
                fleet.products.insert(place, products);
            }
            Err(error) => errors.push(error),
        }
    }
    for result in groups {
        match result {
            Ok((place, groups)) => {
                fleet.groups.insert(place, groups);
            }
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(fleet)
    } else {
        Err(errors)
    }
}

/// What `iotplan export` reads of one place: the products asked for and every device group.
#[derive(Debug, Clone, Default)]
pub struct ExportRead {
    /// The products, in the order asked for, with their tags unless left out.
    pub products: Vec<LiveProductInfo>,
    /// Every group there, by name, with its tags and members; empty when groups are left out.
    pub groups: BTreeMap<String, LiveGroup>,
}

/// Reads, for export, the products `product_keys` names (QueryProduct, and ListProductTags with
/// `tags`) and, with `groups`, the whole group tree of the client's place with every group's tags
/// and members.
///
/// # Errors
/// The first read that failed after its retries, with what it was reading.
pub async fn read_for_export(
    client: &Client,
    product_keys: &[String],
    tags: bool,
    groups: bool,
) -> Result<ExportRead, FleetError> {
    let products = futures::stream::iter(product_keys)
        .map(|key| async move {
            let mut live = product_details(client, key).await?;
            if tags {
                live.tags = Some(product_tags(client, key).await?);
            }
            Ok::<_, Error>(live)
        })
        .buffered(READS_IN_FLIGHT)
        .try_collect()
        .await
        .map_err(|source| FleetError {
            what: "the products to export".to_owned(),
            source,
        })?;
    let mut read = ExportRead {
        products,
        groups: BTreeMap::new(),
    };
    if groups {
        let nothing_declared = DesiredState::default();
        let place = Place::default();
        let reads = GroupReads {
            desired: &nothing_declared,
            place: &place,
            prune: true,
            undeclared_tags: tags,
            members_of: MembersOf::Every,
        };
        read.groups = reads.read(client).await.map_err(|source| FleetError {
            what: "the device groups to export".to_owned(),
            source,
        })?;
    }
    Ok(read)
}

/// Every product or group read that failed, one per line with what to do.
#[derive(Debug, thiserror::Error)]
pub struct FleetErrors(pub Vec<FleetError>);

impl std::fmt::Display for FleetErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "cannot read {} of the products and device groups:",
            self.0.len()
        )?;
        for error in &self.0 {
            write!(f, "  {error}")?;
            if let Some(hint) = error.source.hint() {
                write!(f, "\n    hint: {hint}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
