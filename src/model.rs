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
    /// Where it was declared.
    pub origin: Origin,
}

/// One product as declared (possibly across files).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProductSpec {
    /// The ProductKey.
    pub product_key: String,
    /// Region, if given.
    pub region: Option<String>,
    /// IotInstanceId, if given.
    pub instance: Option<String>,
    /// Whether undeclared devices are deleted.
    pub prune: bool,
    /// Devices by name.
    pub devices: BTreeMap<String, DeviceSpec>,
}

/// Everything the manifests declare.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DesiredState {
    /// Products by key.
    pub products: BTreeMap<String, ProductSpec>,
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
