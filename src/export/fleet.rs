//! Products and device groups as v1 `Product` and `DeviceGroup` documents, and each device's
//! groups for its entry. Only what the manifest can declare is written; the rest is reported as
//! unmanaged, so planning the export still shows no changes.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_saphyr::FlowMap;

use crate::model::{LiveGroup, LiveProductInfo, Tags};
use crate::wire;

use super::Target;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ProductDocument<'a> {
    api_version: &'static str,
    kind: &'static str,
    name: &'a str,
    product: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    node_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    auth_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_format: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    net_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    protocol_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    edition: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<FlowMap<&'a Tags>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GroupDocument<'a> {
    api_version: &'static str,
    kind: &'static str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tags: Option<FlowMap<&'a Tags>>,
}

/// The manifest word for an API value, if the manifest has one (the same words `validate` takes).
fn word<T: PartialEq>(value: Option<T>, words: &[(&'static str, T)]) -> Option<&'static str> {
    let value = value?;
    words
        .iter()
        .find(|(_, api)| *api == value)
        .map(|(word, _)| *word)
}

/// Tags the manifest can declare for a product or group holding at most `most`; `None` (and a
/// line in `unmanaged`) when they break a rule, or when there are none.
fn declarable_tags<'a>(
    tags: Option<&'a Tags>,
    most: usize,
    whose: &str,
    unmanaged: &mut Vec<String>,
) -> Option<&'a Tags> {
    let tags = tags.filter(|tags| !tags.is_empty())?;
    let ok = tags.len() <= most
        && tags.iter().all(|(key, value)| {
            wire::is_valid_tag_key(key) && value.chars().count() <= wire::MAX_TAG_VALUE_CHARS
        });
    if !ok {
        unmanaged.push(format!(
            "{whose}: its tags do not follow the tag rules, so they are left out (unmanaged)"
        ));
    }
    ok.then_some(tags)
}

fn declarable_description<'a>(
    description: &'a str,
    whose: &str,
    unmanaged: &mut Vec<String>,
) -> Option<&'a str> {
    if description.is_empty() {
        return None;
    }
    let ok = description.chars().count() <= wire::MAX_DESCRIPTION_CHARS;
    if !ok {
        unmanaged.push(format!(
            "{whose}: its description is longer than {} characters, so it is left out (unmanaged)",
            wire::MAX_DESCRIPTION_CHARS
        ));
    }
    ok.then_some(description)
}

/// A product's `Product` document, pinned to its ProductKey; `None` (and a line in `unmanaged`)
/// when its name is not one a manifest can declare.
///
/// # Errors
/// Only if the YAML cannot be written (a bug).
pub fn product_document(
    target: &Target,
    live: &LiveProductInfo,
    unmanaged: &mut Vec<String>,
) -> Result<Option<String>, serde_saphyr::ser::Error> {
    let whose = format!("product {}", live.key);
    if !wire::is_valid_product_or_group_name(&live.name) {
        unmanaged.push(format!(
            "{whose}: its name `{}` does not follow the name rules, so no Product document is written (the product stays unmanaged)",
            live.name
        ));
        return Ok(None);
    }
    let fixed = &live.fixed;
    let data_format = word(fixed.data_format, &[("custom", 0), ("alink", 1)]);
    let document = ProductDocument {
        api_version: "iotplan/v1",
        kind: "Product",
        name: &live.name,
        product: &live.key,
        region: target.region.as_deref(),
        instance: target.instance.as_deref(),
        description: declarable_description(&live.description, &whose, unmanaged),
        node_type: word(fixed.node_type, &[("device", 0), ("gateway", 1)]),
        auth_type: word(
            fixed.auth_type.as_deref(),
            &[("secret", "secret"), ("id2", "id2"), ("x509", "x509")],
        ),
        data_format,
        net_type: word(
            fixed.net_type.as_deref(),
            &[
                ("wifi", "WIFI"),
                ("cellular", "CELLULAR"),
                ("ethernet", "ETHERNET"),
                ("other", "OTHER"),
            ],
        ),
        protocol_type: word(
            fixed.protocol_type.as_deref(),
            &[
                ("modbus", "modbus"),
                ("opc-ua", "opc-ua"),
                ("customize", "customize"),
                ("ble", "ble"),
                ("zigbee", "zigbee"),
            ],
        ),
        // An iothub_senior product is declared with its data format; without one, leave the
        // edition out rather than write what validate refuses.
        edition: word(
            fixed.edition.as_deref(),
            &[("iothub", "iothub"), ("iothub_senior", "iothub_senior")],
        )
        .filter(|edition| *edition != "iothub_senior" || data_format.is_some()),
        tags: declarable_tags(
            live.tags.as_ref(),
            wire::MAX_PRODUCT_TAGS,
            &whose,
            unmanaged,
        )
        .map(FlowMap),
    };
    serde_saphyr::to_string(&document).map(Some)
}

/// A place's device groups as `DeviceGroup` documents.
#[derive(Debug, Clone, Default)]
pub struct ExportedGroups {
    /// The documents, parents before children, `---` between them; empty when there are none.
    pub text: String,
    /// The names written (a device entry may name only these).
    pub names: BTreeSet<String>,
    /// Groups (or their tags or descriptions) iotplan cannot declare, left unmanaged, with why.
    pub unmanaged: Vec<String>,
}

/// How deep `group` sits (1: top level); groups whose parent is missing count as top level.
fn depth_of(groups: &BTreeMap<String, LiveGroup>, group: &LiveGroup) -> usize {
    let mut depth = 1;
    let mut parent = group.parent.as_deref();
    while let Some(name) = parent {
        depth += 1;
        parent = groups.get(name).and_then(|g| g.parent.as_deref());
        if depth > wire::MAX_GROUP_DEPTH {
            break;
        }
    }
    depth
}

/// Writes every group that a manifest can declare, with its parent. A group whose name breaks
/// the name rules is left out with every group below it, since a child names its parent.
///
/// # Errors
/// Only if the YAML cannot be written (a bug).
pub fn groups_documents(
    region: Option<&str>,
    instance: Option<&str>,
    groups: &BTreeMap<String, LiveGroup>,
) -> Result<ExportedGroups, serde_saphyr::ser::Error> {
    let mut exported = ExportedGroups::default();
    let mut ordered: Vec<&LiveGroup> = groups.values().collect();
    ordered.sort_by_key(|g| (depth_of(groups, g), g.name.as_str()));
    for group in ordered {
        let whose = format!("group {}", group.name);
        let parent_written = group
            .parent
            .as_deref()
            .is_none_or(|parent| exported.names.contains(parent));
        if !wire::is_valid_product_or_group_name(&group.name) || !parent_written {
            exported.unmanaged.push(format!(
                "{whose}: {}, so no DeviceGroup document is written (the group and its members stay unmanaged)",
                if parent_written {
                    "its name does not follow the name rules"
                } else {
                    "its parent is not written"
                }
            ));
            continue;
        }
        let document = GroupDocument {
            api_version: "iotplan/v1",
            kind: "DeviceGroup",
            name: &group.name,
            parent: group.parent.as_deref(),
            region,
            instance,
            description: declarable_description(
                &group.description,
                &whose,
                &mut exported.unmanaged,
            ),
            tags: declarable_tags(
                group.tags.as_ref(),
                wire::MAX_GROUP_TAGS,
                &whose,
                &mut exported.unmanaged,
            )
            .map(FlowMap),
        };
        if !exported.text.is_empty() {
            exported.text.push_str("---\n");
        }
        exported.text.push_str(&serde_saphyr::to_string(&document)?);
        exported.names.insert(group.name.clone());
    }
    Ok(exported)
}

/// The groups each device of `product_key` belongs to, among the `written` ones, by name.
#[must_use]
pub fn memberships(
    product_key: &str,
    groups: &BTreeMap<String, LiveGroup>,
    written: &BTreeSet<String>,
) -> BTreeMap<String, Vec<String>> {
    let mut of_device: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for group in groups.values().filter(|g| written.contains(&g.name)) {
        for (key, device) in group.members.iter().flatten() {
            if key == product_key {
                of_device
                    .entry(device.clone())
                    .or_default()
                    .push(group.name.clone());
            }
        }
    }
    of_device
}
