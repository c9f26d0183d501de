//! Domain types both sides of the diff share: what the manifests want (`DesiredState`) and what
//! the platform has (`LiveState`), keyed by ProductKey and DeviceName in sorted order.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

/// Tag keys starting with this are iotplan's own and never removed unless declared.
pub const RESERVED_TAG_PREFIX: &str = "iotplan.";

/// The tag that protects a device from deletion by prune (value `true`).
pub const PROTECT_TAG: &str = "iotplan.protect";

/// Where something was declared: file, line, column (1-based).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// The manifest file.
    pub file: Arc<str>,
    /// Line.
    pub line: u32,
    /// Column.
    pub column: u32,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Line 0 is a problem of the whole file or folder (missing, unreadable): no position.
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}:{}", self.file, self.line, self.column)
        }
    }
}

/// A device's tags, by key.
pub type Tags = BTreeMap<String, String>;

/// One device as declared (its DeviceName is the key it is stored under). Kept small, boxed
/// where rarely present: a million of them are held at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceSpec {
    /// The nickname: `None` not managed, `Some("")` no nickname, else the nickname.
    pub nickname: Option<Box<str>>,
    /// Whether the device is enabled.
    pub enabled: bool,
    /// The tags: `None` not managed, else exactly these (besides reserved `iotplan.` keys).
    /// Shared between the devices of a range entry whose tags do not depend on `{n}`.
    pub tags: Option<Arc<Tags>>,
    /// The declared groups it belongs to (shared by the devices of one entry).
    pub groups: Option<Arc<GroupNames>>,
    /// Where it was declared.
    pub origin: Origin,
}

/// Where a product or group lives: a region and an instance (`None`: the flags', the
/// environment's or the profile's region; the public instance). One client serves each place.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Place {
    /// Region, if declared.
    pub region: Option<String>,
    /// IotInstanceId, if declared.
    pub instance: Option<String>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.region.as_deref().unwrap_or("the default region"))?;
        if let Some(instance) = &self.instance {
            write!(f, ", instance {instance}")?;
        }
        Ok(())
    }
}

/// A set of group names, shared by the devices of one entry.
pub type GroupNames = std::collections::BTreeSet<String>;

/// One product as a `Product` document declares it. Every field but the name is managed only
/// when declared (absent: the platform's default at creation, and not compared after).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductDecl {
    /// The ProductName: the product's identity, unless `product_key` pins it.
    pub name: String,
    /// The ProductKey of an existing product (then the name can change in place).
    pub product_key: Option<String>,
    /// Where it lives.
    pub place: Place,
    /// Description (changeable in place).
    pub description: Option<String>,
    /// The fields fixed at creation, as the API spells them.
    pub fixed: FixedProductFields,
    /// Product tags: `None` not managed, else exactly these.
    pub tags: Option<Tags>,
    /// Where it was declared.
    pub origin: Origin,
}

/// The product fields CreateProduct sets and nothing changes after; `None`: not declared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FixedProductFields {
    /// 0 device, 1 gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_type: Option<i32>,
    /// `secret`, `id2` or `x509`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_type: Option<String>,
    /// 0 custom, 1 Alink JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_format: Option<i32>,
    /// `WIFI`, `CELLULAR`, `ETHERNET` or `OTHER`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub net_type: Option<String>,
    /// Sub-device protocol: `modbus`, `opc-ua`, `customize`, `ble`, `zigbee`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol_type: Option<String>,
    /// `iothub` or `iothub_senior`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edition: Option<String>,
}

/// One device group as a `DeviceGroup` document declares it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDecl {
    /// The GroupName, unique in the account.
    pub name: String,
    /// The parent group's name (fixed at creation).
    pub parent: Option<String>,
    /// Where it lives.
    pub place: Place,
    /// Description: `None` not managed.
    pub description: Option<String>,
    /// Group tags: `None` not managed, else exactly these.
    pub tags: Option<Tags>,
    /// Remove members no device entry declares.
    pub prune: bool,
    /// Where it was declared.
    pub origin: Origin,
}

/// A product a DeviceSet names: by ProductKey, or by the name of a declared product.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ProductRef {
    /// An existing product's key.
    Key(String),
    /// A product declared by a `Product` document, by name (its key is known once it exists).
    Named(String),
}

/// One product as declared (possibly across files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSpec {
    /// The ProductKey; empty while the product is known by name only (see `product_name`).
    pub product_key: String,
    /// The declared product's name, when the DeviceSet names it so.
    pub product_name: Option<String>,
    /// Region, if given.
    pub region: Option<String>,
    /// IotInstanceId, if given.
    pub instance: Option<String>,
    /// Whether undeclared devices are deleted.
    pub prune: bool,
    /// Devices by name.
    pub devices: BTreeMap<String, DeviceSpec>,
}

impl ProductSpec {
    /// Where the product lives.
    #[must_use]
    pub fn place(&self) -> Place {
        Place {
            region: self.region.clone(),
            instance: self.instance.clone(),
        }
    }

    /// The product as people read it: its key, or `new product NAME`.
    #[must_use]
    pub fn label(&self) -> String {
        product_label(&self.product_key, self.product_name.as_deref())
    }
}

/// A product as people read it: its key, or `product NAME` while it has none.
#[must_use]
pub fn product_label(key: &str, name: Option<&str>) -> String {
    match name {
        Some(name) if key.is_empty() => format!("product {name}"),
        _ => key.to_owned(),
    }
}

/// Everything the manifests declare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredState {
    /// DeviceSets' products: by ProductKey, or by `@NAME` for a declared product named so.
    pub products: BTreeMap<String, ProductSpec>,
    /// `Product` documents, by name.
    pub declared_products: BTreeMap<String, ProductDecl>,
    /// `DeviceGroup` documents, by name.
    pub groups: BTreeMap<String, GroupDecl>,
}

impl DesiredState {
    /// The key `products` holds a DeviceSet under.
    #[must_use]
    pub fn product_entry(product: &ProductRef) -> String {
        match product {
            ProductRef::Key(key) => key.clone(),
            ProductRef::Named(name) => format!("@{name}"),
        }
    }

    /// Every place the manifests name, once.
    #[must_use]
    pub fn places(&self) -> std::collections::BTreeSet<Place> {
        self.products
            .values()
            .map(ProductSpec::place)
            .chain(self.declared_products.values().map(|p| p.place.clone()))
            .chain(self.groups.values().map(|g| g.place.clone()))
            .collect()
    }
}

/// One device as the platform has it (its DeviceName is the key it is stored under). Kept
/// small, boxed where rarely present: a million of them are held at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiveDevice {
    /// The IotId.
    pub iot_id: Box<str>,
    /// The nickname (`None` when it has none).
    pub nickname: Option<Box<str>>,
    /// Whether enabled (status is not `DISABLE`).
    pub enabled: bool,
    /// Tags, when they were read (equal maps shared, see [`SharedTags`]).
    pub tags: Option<Arc<Tags>>,
}

/// Equal tag maps held once: a fleet's devices mostly carry the same tags, and a map per device
/// is most of a large tagged plan's memory.
#[derive(Debug, Default)]
pub struct SharedTags(std::sync::Mutex<std::collections::HashSet<Arc<Tags>>>);

impl SharedTags {
    /// The shared copy of `tags`.
    pub fn share(&self, tags: Tags) -> Arc<Tags> {
        let mut held = crate::sync::lock(&self.0);
        if let Some(shared) = held.get(&tags) {
            return shared.clone();
        }
        let shared = Arc::new(tags);
        held.insert(shared.clone());
        shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_tags_are_held_once() {
        let shared = SharedTags::default();
        let one = shared.share(Tags::from([("fleet".to_owned(), "north".to_owned())]));
        let two = shared.share(Tags::from([("fleet".to_owned(), "north".to_owned())]));
        let other = shared.share(Tags::from([("fleet".to_owned(), "south".to_owned())]));
        assert!(Arc::ptr_eq(&one, &two));
        assert!(!Arc::ptr_eq(&one, &other));
    }
}

/// One product's devices as the platform has them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveProduct {
    /// Devices by name.
    pub devices: BTreeMap<String, LiveDevice>,
    /// Only the declared devices were read (by name), not the whole product: enough when prune
    /// is off.
    pub by_name: bool,
}

/// What the platform has, for the products the manifests name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveState {
    /// Products by key.
    pub products: BTreeMap<String, LiveProduct>,
}

/// A name split as prefix, number (with its digit count) and suffix: `meter-00042` →
/// (`meter-`, 42, 5, ``).
#[must_use]
pub fn numbered_name(name: &str) -> Option<(&str, u64, usize, &str)> {
    let end = name.rfind(|c: char| c.is_ascii_digit())? + 1;
    let start = name[..end]
        .rfind(|c: char| !c.is_ascii_digit())
        .map_or(0, |i| i + 1);
    let digits = &name[start..end];
    let number = digits.parse().ok()?;
    Some((&name[..start], number, digits.len(), &name[end..]))
}

/// A product as the platform has it (QueryProductList, QueryProduct, ListProductTags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveProductInfo {
    /// The ProductKey.
    pub key: String,
    /// The ProductName.
    pub name: String,
    /// The description.
    pub description: String,
    /// Devices in it.
    pub device_count: u64,
    /// The fields fixed at creation, as QueryProduct reports them (`None`: not reported).
    pub fixed: FixedProductFields,
    /// Product tags, when read.
    pub tags: Option<Tags>,
}

/// A device named by product and name, as groups hold it.
pub type MemberKey = (String, String);

/// A device group as the platform has it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveGroup {
    /// The GroupId.
    pub id: String,
    /// The name.
    pub name: String,
    /// The description.
    pub description: String,
    /// The parent's name.
    pub parent: Option<String>,
    /// Group tags, when read.
    pub tags: Option<Tags>,
    /// Members (ProductKey, DeviceName), when read.
    pub members: Option<std::collections::BTreeSet<MemberKey>>,
}

/// The products and groups of the places the manifests declare some in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LiveFleet {
    /// Products per place (every product there).
    pub products: BTreeMap<Place, Vec<LiveProductInfo>>,
    /// Groups per place, by name (every group there).
    pub groups: BTreeMap<Place, BTreeMap<String, LiveGroup>>,
}

impl LiveFleet {
    /// The live product a declaration stands for: by key when it pins one, else by name.
    #[must_use]
    pub fn product_for(&self, decl: &ProductDecl) -> Option<&LiveProductInfo> {
        let products = self.products.get(&decl.place)?;
        match &decl.product_key {
            Some(key) => products.iter().find(|p| &p.key == key),
            None => products.iter().find(|p| p.name == decl.name),
        }
    }
}
