//! The `Product` and `DeviceGroup` kinds, device entries' `groups`, and the checks that span
//! documents: every group and product a DeviceSet names is declared, in the same place, groups
//! nest at most 3 levels, and an account holds at most 1,000 of them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::schema::{At, ManifestDocument};
use super::{Builder, Diagnostic, Source};
use crate::model::{
    DesiredState, FixedProductFields, GroupDecl, GroupNames, Origin, Place, ProductDecl,
    ProductRef, Tags,
};
use crate::wire;

/// A group a device entry names, with where, and the product entry it belongs to.
pub(super) struct GroupRef {
    /// The group's name.
    pub name: String,
    /// Where the entry names it.
    pub origin: Origin,
    /// The key of the entry's product in `DesiredState::products`.
    pub product: String,
}

/// A present key of a document: its name, line and column.
type Present = (&'static str, u32, u32);

fn present(doc: &ManifestDocument) -> Vec<Present> {
    let mut keys = Vec::new();
    let mut push = |name: &'static str, at: Option<(u32, u32)>| {
        if let Some((line, column)) = at {
            keys.push((name, line, column));
        }
    };
    let pos = |at: &Option<At<String>>| at.as_ref().map(|a| (a.line, a.column));
    push("product", pos(&doc.product));
    push("productName", pos(&doc.product_name));
    push("name", pos(&doc.name));
    push("description", pos(&doc.description));
    push("nodeType", pos(&doc.node_type));
    push("authType", pos(&doc.auth_type));
    push("dataFormat", pos(&doc.data_format));
    push("netType", pos(&doc.net_type));
    push("protocolType", pos(&doc.protocol_type));
    push("edition", pos(&doc.edition));
    push("parent", pos(&doc.parent));
    push("tags", doc.tags.as_ref().map(|a| (a.line, a.column)));
    push("prune", doc.prune.as_ref().map(|a| (a.line, a.column)));
    push(
        "devices",
        doc.devices
            .first()
            .map(|d| (d.line, d.column.saturating_sub(2).max(1))),
    );
    keys
}

/// Reports every key of `doc` that its kind does not have.
fn refuse_keys(
    source: &Source,
    doc: &ManifestDocument,
    allowed: &[&str],
    diagnostics: &mut Vec<Diagnostic>,
) {
    for (key, line, column) in present(doc) {
        if !allowed.contains(&key) {
            diagnostics.push(source.diagnostic(
                line.into(),
                column.into(),
                format!("`{key}` is not a key of a {} document", doc.kind.value),
                Some(&format!(
                    "a {} document has {}; remove `{key}` or move it to the document it belongs to",
                    doc.kind.value,
                    allowed.join(", ")
                )),
            ));
        }
    }
}

const DEVICE_SET_KEYS: &[&str] = &["product", "productName", "prune", "devices"];
const PRODUCT_KEYS: &[&str] = &[
    "name",
    "product",
    "description",
    "nodeType",
    "authType",
    "dataFormat",
    "netType",
    "protocolType",
    "edition",
    "tags",
];
const GROUP_KEYS: &[&str] = &["name", "description", "parent", "tags", "prune"];

/// Reports the keys of a DeviceSet that belong to the other kinds.
pub(super) fn refuse_keys_of_other_kinds(
    source: &Source,
    doc: &ManifestDocument,
    diagnostics: &mut Vec<Diagnostic>,
) {
    refuse_keys(source, doc, DEVICE_SET_KEYS, diagnostics);
}

fn is_product_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= 64 && key.bytes().all(|b| b.is_ascii_alphanumeric())
}

const NAME_HINT: &str = "a product or group name has 4 to 30 characters of letters, digits and _ (each CJK character counting 2)";

/// The product a DeviceSet names: `product` (a ProductKey) or `productName`, exactly one.
pub(super) fn device_set_product(
    source: &Source,
    doc: &ManifestDocument,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<ProductRef> {
    match (&doc.product, &doc.product_name) {
        (Some(key), None) => {
            if is_product_key(&key.value) {
                Some(ProductRef::Key(key.value.clone()))
            } else {
                diagnostics.push(source.at(key, format!("`{}` is not a ProductKey", key.value), Some("use the product's ProductKey, letters and digits as the console shows it (e.g. a1BwAGV8aWs), or `productName` for a product a Product document declares")));
                None
            }
        }
        (None, Some(name)) => {
            if wire::is_valid_product_or_group_name(&name.value) {
                Some(ProductRef::Named(name.value.clone()))
            } else {
                diagnostics.push(source.at(
                    name,
                    format!("`{}` is not a product name", name.value),
                    Some(NAME_HINT),
                ));
                None
            }
        }
        (Some(key), Some(_)) => {
            diagnostics.push(source.at(
                key,
                "a DeviceSet names its product once: `product` or `productName`, not both",
                Some("keep `product: KEY` for an existing product, or `productName: NAME` for one a Product document declares"),
            ));
            None
        }
        (None, None) => {
            diagnostics.push(source.at(
                &doc.kind,
                "a DeviceSet needs `product` (a ProductKey) or `productName`",
                Some("add `product: a1BwAGV8aWs`, or `productName: NAME` of a product a Product document declares"),
            ));
            None
        }
    }
}

/// Checks a device entry's `groups` (at most 10 valid names, none twice).
pub(super) fn entry_groups(
    source: &Source,
    groups: &At<Vec<At<String>>>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Arc<GroupNames>> {
    let before = diagnostics.len();
    if groups.value.len() > wire::MAX_GROUPS_PER_DEVICE {
        diagnostics.push(source.at(
            groups,
            format!(
                "{} groups; a device is in at most {}",
                groups.value.len(),
                wire::MAX_GROUPS_PER_DEVICE
            ),
            Some("name at most 10 groups per device"),
        ));
    }
    let mut names = GroupNames::new();
    for group in &groups.value {
        if !wire::is_valid_product_or_group_name(&group.value) {
            diagnostics.push(source.at(
                group,
                format!("`{}` is not a group name", group.value),
                Some(NAME_HINT),
            ));
        } else if !names.insert(group.value.clone()) {
            diagnostics.push(source.at(
                group,
                format!("the group {} is named twice", group.value),
                Some("name each group once"),
            ));
        }
    }
    (diagnostics.len() == before).then(|| Arc::new(names))
}

fn tags_of(
    source: &Source,
    tags: Option<&At<BTreeMap<String, String>>>,
    most: usize,
    whose: &str,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Tags> {
    let tags = tags?;
    if tags.value.len() > most {
        diagnostics.push(source.at(
            tags,
            format!("{} tags; a {whose} holds at most {most}", tags.value.len()),
            Some("remove tags"),
        ));
    }
    for (key, value) in &tags.value {
        if !wire::is_valid_tag_key(key) {
            diagnostics.push(source.at(tags, format!("`{key}` is not a valid tag key"), Some("a tag key has 2 to 32 letters, digits, _ - or ., and does not start with a digit")));
        }
        if value.chars().count() > wire::MAX_TAG_VALUE_CHARS {
            diagnostics.push(source.at(
                tags,
                format!(
                    "the value of tag `{key}` is longer than {} characters",
                    wire::MAX_TAG_VALUE_CHARS
                ),
                Some("shorten it"),
            ));
        }
    }
    Some(tags.value.clone())
}

fn description_of(
    source: &Source,
    description: Option<&At<String>>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<String> {
    let description = description?;
    if description.value.chars().count() > wire::MAX_DESCRIPTION_CHARS {
        diagnostics.push(source.at(
            description,
            format!(
                "the description has {} characters, more than {}",
                description.value.chars().count(),
                wire::MAX_DESCRIPTION_CHARS
            ),
            Some("shorten it"),
        ));
    }
    Some(description.value.clone())
}

/// One of a fixed set of manifest words, mapped to what the API takes.
fn choice<T: Clone>(
    source: &Source,
    field: Option<&At<String>>,
    key: &str,
    words: &[(&str, T)],
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<T> {
    let field = field?;
    let found = words.iter().find(|(word, _)| *word == field.value);
    if found.is_none() {
        diagnostics.push(source.at(
            field,
            format!("`{}` is not a {key}", field.value),
            Some(&format!(
                "write one of {}",
                words
                    .iter()
                    .map(|(word, _)| *word)
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        ));
    }
    found.map(|(_, value)| value.clone())
}

fn place_of(doc: &ManifestDocument) -> Place {
    Place {
        region: doc.region.as_ref().map(|r| r.value.clone()),
        instance: doc.instance.as_ref().map(|i| i.value.clone()),
    }
}

fn named(
    source: &Source,
    doc: &ManifestDocument,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<String> {
    let Some(name) = &doc.name else {
        diagnostics.push(source.at(
            &doc.kind,
            format!("a {} document needs a `name`", doc.kind.value),
            Some(NAME_HINT),
        ));
        return None;
    };
    if !wire::is_valid_product_or_group_name(&name.value) {
        diagnostics.push(source.at(
            name,
            format!("`{}` is not a {} name", name.value, doc.kind.value),
            Some(NAME_HINT),
        ));
        return None;
    }
    Some(name.value.clone())
}

fn region_is_valid(source: &Source, doc: &ManifestDocument, diagnostics: &mut Vec<Diagnostic>) {
    if let Some(region) = doc
        .region
        .as_ref()
        .filter(|r| !wire::is_valid_region_id(&r.value))
    {
        diagnostics.push(source.at(
            region,
            format!("`{}` is not a region ID", region.value),
            Some("region IDs are lowercase letters, digits and hyphens, e.g. cn-shanghai or ap-southeast-1"),
        ));
    }
}

impl Builder {
    /// Adds a `Product` document.
    pub(super) fn add_product(
        &mut self,
        source: &Source,
        doc: &ManifestDocument,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let before = diagnostics.len();
        refuse_keys(source, doc, PRODUCT_KEYS, diagnostics);
        region_is_valid(source, doc, diagnostics);
        let name = named(source, doc, diagnostics);
        let product_key = doc.product.as_ref().and_then(|key| {
            if is_product_key(&key.value) {
                Some(key.value.clone())
            } else {
                diagnostics.push(source.at(
                    key,
                    format!("`{}` is not a ProductKey", key.value),
                    Some(
                        "leave `product` out to match the product by name, or give its ProductKey",
                    ),
                ));
                None
            }
        });
        let fixed = FixedProductFields {
            node_type: choice(
                source,
                doc.node_type.as_ref(),
                "node type",
                &[("device", 0), ("gateway", 1)],
                diagnostics,
            ),
            auth_type: choice(
                source,
                doc.auth_type.as_ref(),
                "auth type",
                &[("secret", "secret"), ("id2", "id2"), ("x509", "x509")],
                diagnostics,
            )
            .map(str::to_owned),
            data_format: choice(
                source,
                doc.data_format.as_ref(),
                "data format",
                &[("custom", 0), ("alink", 1)],
                diagnostics,
            ),
            net_type: choice(
                source,
                doc.net_type.as_ref(),
                "net type",
                &[
                    ("wifi", "WIFI"),
                    ("cellular", "CELLULAR"),
                    ("ethernet", "ETHERNET"),
                    ("other", "OTHER"),
                ],
                diagnostics,
            )
            .map(str::to_owned),
            protocol_type: choice(
                source,
                doc.protocol_type.as_ref(),
                "protocol type",
                &[
                    ("modbus", "modbus"),
                    ("opc-ua", "opc-ua"),
                    ("customize", "customize"),
                    ("ble", "ble"),
                    ("zigbee", "zigbee"),
                ],
                diagnostics,
            )
            .map(str::to_owned),
            edition: choice(
                source,
                doc.edition.as_ref(),
                "edition",
                &[("iothub", "iothub"), ("iothub_senior", "iothub_senior")],
                diagnostics,
            )
            .map(str::to_owned),
        };
        if fixed.edition.as_deref() == Some("iothub_senior")
            && fixed.data_format.is_none()
            && let Some(edition) = &doc.edition
        {
            diagnostics.push(source.at(
                edition,
                "an iothub_senior product needs a `dataFormat`",
                Some("add `dataFormat: alink` (Alink JSON) or `dataFormat: custom`"),
            ));
        }
        let description = description_of(source, doc.description.as_ref(), diagnostics);
        let tags = tags_of(
            source,
            doc.tags.as_ref(),
            wire::MAX_PRODUCT_TAGS,
            "product",
            diagnostics,
        );
        let (Some(name), Some(at)) = (name, &doc.name) else {
            return;
        };
        if diagnostics.len() > before {
            return;
        }
        let origin = source.origin_of(at);
        if let Some(first) = self.desired.declared_products.get(&name) {
            diagnostics.push(source.at(
                at,
                format!(
                    "product {name} is declared twice; first at {}",
                    first.origin
                ),
                Some("declare each product once across all manifests"),
            ));
            return;
        }
        self.desired.declared_products.insert(
            name.clone(),
            ProductDecl {
                name,
                product_key,
                place: place_of(doc),
                description,
                fixed,
                tags,
                origin,
            },
        );
    }

    /// Adds a `DeviceGroup` document.
    pub(super) fn add_group(
        &mut self,
        source: &Source,
        doc: &ManifestDocument,
        diagnostics: &mut Vec<Diagnostic>,
    ) {
        let before = diagnostics.len();
        refuse_keys(source, doc, GROUP_KEYS, diagnostics);
        region_is_valid(source, doc, diagnostics);
        let name = named(source, doc, diagnostics);
        let parent = doc.parent.as_ref().and_then(|parent| {
            if wire::is_valid_product_or_group_name(&parent.value) {
                Some(parent.value.clone())
            } else {
                diagnostics.push(source.at(
                    parent,
                    format!("`{}` is not a group name", parent.value),
                    Some(NAME_HINT),
                ));
                None
            }
        });
        let description = description_of(source, doc.description.as_ref(), diagnostics);
        let tags = tags_of(
            source,
            doc.tags.as_ref(),
            wire::MAX_GROUP_TAGS,
            "group",
            diagnostics,
        );
        let (Some(name), Some(at)) = (name, &doc.name) else {
            return;
        };
        if diagnostics.len() > before {
            return;
        }
        let origin = source.origin_of(at);
        if let Some(first) = self.desired.groups.get(&name) {
            diagnostics.push(source.at(
                at,
                format!("group {name} is declared twice; first at {}", first.origin),
                Some("declare each group once across all manifests"),
            ));
            return;
        }
        if parent.as_deref() == Some(name.as_str()) {
            diagnostics.push(source.at(
                at,
                format!("group {name} is its own parent"),
                Some("name another group as `parent`, or leave it out"),
            ));
            return;
        }
        self.desired.groups.insert(
            name.clone(),
            GroupDecl {
                name,
                parent,
                place: place_of(doc),
                description,
                tags,
                prune: doc.prune.as_ref().is_some_and(|p| p.value),
                origin,
            },
        );
    }

    /// The checks that span documents, once every file is read.
    pub(super) fn finish(&mut self, diagnostics: &mut Vec<Diagnostic>) {
        let problem = |origin: &Origin, message: String, hint: &str| Diagnostic {
            origin: origin.clone(),
            message,
            hint: Some(hint.to_owned()),
            snippet: None,
        };
        let renamed = self.resolve_named_products(diagnostics);
        for (name, origin) in std::mem::take(&mut self.product_refs) {
            if !self.desired.declared_products.contains_key(&name) {
                diagnostics.push(problem(
                    &origin,
                    format!("no Product document declares product {name}"),
                    "declare it (`kind: Product`, `name: ...`), or name an existing product by its key with `product:`",
                ));
            }
        }
        let groups = &self.desired.groups;
        let mut reported = BTreeSet::new();
        for group_ref in &self.group_refs {
            let Some(group) = groups.get(&group_ref.name) else {
                if reported.insert(group_ref.name.clone()) {
                    diagnostics.push(problem(
                        &group_ref.origin,
                        format!("no DeviceGroup document declares group {}", group_ref.name),
                        "declare it (`kind: DeviceGroup`, `name: ...`): iotplan manages the membership of declared groups only",
                    ));
                }
                continue;
            };
            let entry = renamed
                .get(&group_ref.product)
                .unwrap_or(&group_ref.product);
            let Some(spec) = self.desired.products.get(entry) else {
                continue;
            };
            let place = spec.place();
            if place != group.place && reported.insert(format!("{}\0{entry}", group.name)) {
                diagnostics.push(problem(
                    &group_ref.origin,
                    format!(
                        "group {} is in {}, but the devices of {} that name it are in {place}",
                        group.name,
                        group.place,
                        spec.label()
                    ),
                    "a device joins groups of its own region and instance: give the group and the DeviceSet the same region and instance",
                ));
            }
        }
        self.group_refs.clear();
        for group in groups.values() {
            let mut level = 1;
            let mut seen = BTreeSet::from([group.name.as_str()]);
            let mut at = group;
            while let Some(parent_name) = &at.parent {
                let Some(parent) = groups.get(parent_name) else {
                    diagnostics.push(problem(
                        &group.origin,
                        format!("the parent of group {}, {parent_name}, is not declared", group.name),
                        "declare the parent too (a DeviceGroup document): iotplan creates the tree from the top",
                    ));
                    break;
                };
                if !seen.insert(parent.name.as_str()) {
                    diagnostics.push(problem(
                        &group.origin,
                        format!(
                            "group {}'s parents loop back to {}",
                            group.name, parent.name
                        ),
                        "a group tree has a top: remove the `parent` that closes the loop",
                    ));
                    break;
                }
                if parent.place != group.place {
                    diagnostics.push(problem(
                        &group.origin,
                        format!(
                            "group {} is in {}, its parent {} in {}",
                            group.name, group.place, parent.name, parent.place
                        ),
                        "give a group and its parent the same region and instance",
                    ));
                    break;
                }
                level += 1;
                if level > wire::MAX_GROUP_DEPTH {
                    diagnostics.push(problem(
                        &group.origin,
                        format!(
                            "group {} is nested {} levels deep; groups nest at most {}",
                            group.name,
                            level,
                            wire::MAX_GROUP_DEPTH
                        ),
                        "attach it higher in the tree",
                    ));
                    break;
                }
                at = parent;
            }
        }
        if groups.len() > wire::MAX_GROUPS
            && let Some(last) = groups
                .values()
                .map(|g| &g.origin)
                .max_by_key(|o| (o.file.clone(), o.line))
        {
            diagnostics.push(problem(
                last,
                format!(
                    "{} groups are declared; an account holds at most {}",
                    groups.len(),
                    wire::MAX_GROUPS
                ),
                "declare fewer groups",
            ));
        }
    }

    /// A DeviceSet that names a declared product by name takes the product's region and
    /// instance (unless it gives its own, which must agree), and its key when the Product
    /// document pins one.
    /// Returns the entries that moved to their product's key.
    fn resolve_named_products(
        &mut self,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> BTreeMap<String, String> {
        let mut renamed = BTreeMap::new();
        let named: Vec<String> = self
            .desired
            .products
            .iter()
            .filter(|(_, spec)| spec.product_name.is_some())
            .map(|(key, _)| key.clone())
            .collect();
        for entry in named {
            let Some(mut spec) = self.desired.products.remove(&entry) else {
                continue;
            };
            let name = spec.product_name.clone().unwrap_or_default();
            let Some(decl) = self.desired.declared_products.get(&name) else {
                self.desired.products.insert(entry, spec);
                continue;
            };
            for (what, mine, theirs) in [
                ("region", &mut spec.region, &decl.place.region),
                ("instance", &mut spec.instance, &decl.place.instance),
            ] {
                match (&*mine, theirs) {
                    (None, _) => mine.clone_from(theirs),
                    (Some(a), Some(b)) if a != b => diagnostics.push(Diagnostic {
                        origin: decl.origin.clone(),
                        message: format!(
                            "product {name} has {what} {b} here, but a DeviceSet naming it has {a}"
                        ),
                        hint: Some(format!(
                            "give the DeviceSet the product's {what}, or leave it out there"
                        )),
                        snippet: None,
                    }),
                    _ => {}
                }
            }
            let entry = match &decl.product_key {
                Some(key) => {
                    spec.product_key.clone_from(key);
                    spec.product_name = None;
                    if self.desired.products.contains_key(key) {
                        diagnostics.push(Diagnostic {
                            origin: decl.origin.clone(),
                            message: format!(
                                "product {name} ({key}) has DeviceSets naming it by key and by name"
                            ),
                            hint: Some("name it one way in every DeviceSet".to_owned()),
                            snippet: None,
                        });
                        continue;
                    }
                    let moved = DesiredState::product_entry(&ProductRef::Key(key.clone()));
                    renamed.insert(entry, moved.clone());
                    moved
                }
                None => entry,
            };
            self.desired.products.insert(entry, spec);
        }
        renamed
    }
}
