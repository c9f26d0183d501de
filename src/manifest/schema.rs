//! The manifest's document types, as parsed (with locations) and as published in
//! `schemas/iotplan-v1.schema.json` (generated from these types by schemars).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer};

/// A value and where it stands in its file (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct At<T> {
    /// The value.
    pub value: T,
    /// Line of the value's first character.
    pub line: u32,
    /// Column of the value's first character.
    pub column: u32,
}

/// serde-saphyr fills the location: its `Spanned` is what carries it through serde.
impl<'de, T: Deserialize<'de>> Deserialize<'de> for At<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = serde_saphyr::Spanned::<T>::deserialize(deserializer)?;
        Ok(Self {
            value: spanned.value,
            line: u32::try_from(spanned.referenced.line()).unwrap_or(u32::MAX),
            column: u32::try_from(spanned.referenced.column()).unwrap_or(u32::MAX),
        })
    }
}

/// `apiVersion`, for the schema.
#[derive(JsonSchema)]
enum ApiVersion {
    #[serde(rename = "iotplan/v1")]
    #[allow(dead_code)]
    V1,
}

/// `kind`, for the schema.
#[derive(JsonSchema)]
#[allow(dead_code)]
enum Kind {
    /// The devices one product should have.
    DeviceSet,
    /// A product.
    Product,
    /// A device group.
    DeviceGroup,
}

/// One YAML document of a manifest: a `DeviceSet` (the devices one product should have), a
/// `Product` or a `DeviceGroup`. Each key says the kinds it belongs to; iotplan refuses a key in
/// a kind it does not belong to.
#[derive(Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[schemars(title = "iotplan manifest document (v1)")]
pub struct ManifestDocument {
    /// Always `iotplan/v1`.
    #[schemars(with = "ApiVersion")]
    pub api_version: At<String>,
    /// `DeviceSet`, `Product` or `DeviceGroup`.
    #[schemars(with = "Kind")]
    pub kind: At<String>,
    /// DeviceSet: the ProductKey (or give `productName`). Product: the key of an existing product,
    /// to match it by key (then `name` can change in place).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub product: Option<At<String>>,
    /// DeviceSet: the name of a product a `Product` document declares (instead of `product`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub product_name: Option<At<String>>,
    /// Product, DeviceGroup: the name, 4-30 of letters, digits and `_` (CJK counting 2).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub name: Option<At<String>>,
    /// Product, DeviceGroup: the description, at most 100 characters. Absent: not managed.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub description: Option<At<String>>,
    /// Product: `device` (default) or `gateway`. Fixed at creation.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub node_type: Option<At<String>>,
    /// Product: `secret` (default), `id2` or `x509`. Fixed at creation.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub auth_type: Option<At<String>>,
    /// Product: `alink` (Alink JSON) or `custom` (pass-through). Fixed at creation.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub data_format: Option<At<String>>,
    /// Product: `wifi` (default), `cellular`, `ethernet` or `other`. Fixed at creation.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub net_type: Option<At<String>>,
    /// Product: how sub-devices reach a gateway: `modbus`, `opc-ua`, `customize`, `ble` or
    /// `zigbee`. Fixed at creation.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub protocol_type: Option<At<String>>,
    /// Product: `iothub` (Basic, default) or `iothub_senior` (with a TSL model). Fixed at creation.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub edition: Option<At<String>>,
    /// DeviceGroup: the parent group's name (at most 3 levels). Fixed at creation.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub parent: Option<At<String>>,
    /// Product, DeviceGroup: tags, exactly these. Absent: not managed.
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub tags: Option<At<BTreeMap<String, String>>>,
    /// Region, e.g. cn-shanghai (else --region, ALIBABA_CLOUD_REGION_ID or the profile).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub region: Option<At<String>>,
    /// IotInstanceId of an enterprise instance.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub instance: Option<At<String>>,
    /// DeviceSet: delete devices of this product that no manifest declares. DeviceGroup: remove
    /// members no device entry declares. Default false.
    #[serde(default)]
    #[schemars(with = "Option<bool>")]
    pub prune: Option<At<bool>>,
    /// DeviceSet: the devices.
    #[serde(default)]
    #[schemars(with = "Vec<DeviceEntry>")]
    pub devices: Vec<At<DeviceEntry>>,
}

/// A device, or a numbered run of devices when `range` is given.
#[derive(Debug, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceEntry {
    /// DeviceName: 4-32 of letters, digits and `-_@.:`. With `range`, holds `{n}` or `{n:WIDTH}`
    /// (zero-padded), e.g. `meter-{n:05}`.
    #[schemars(with = "String")]
    pub name: At<String>,
    /// Expands the entry to one device per number from `from` to `to` inclusive; `{n}` in name,
    /// nickname and tag values is replaced by the number.
    #[serde(default)]
    #[schemars(with = "Option<Range>")]
    pub range: Option<At<Range>>,
    /// Nickname: letters, digits, `_` and CJK (counting 2), 4-32 long. Absent: not managed.
    /// `""`: no nickname.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub nickname: Option<At<String>>,
    /// Whether the device may connect (default true).
    #[serde(default)]
    pub enabled: Option<bool>,
    /// Tags. Absent: not managed. Present: exactly these (keys starting `iotplan.` excepted).
    #[serde(default)]
    #[schemars(with = "Option<BTreeMap<String, String>>")]
    pub tags: Option<At<BTreeMap<String, String>>>,
    /// The declared device groups (by name) it belongs to, at most 10.
    #[serde(default)]
    #[schemars(with = "Option<Vec<String>>")]
    pub groups: Option<At<Vec<At<String>>>>,
}

/// An inclusive range of numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// First number.
    pub from: u64,
    /// Last number.
    pub to: u64,
}

/// The JSON Schema of a manifest document, as committed in `schemas/iotplan-v1.schema.json`.
#[must_use]
pub fn json_schema() -> String {
    let schema = schemars::schema_for!(ManifestDocument);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_schema_matches_the_types() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/schemas/iotplan-v1.schema.json"
        );
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        if std::env::var_os("IOTPLAN_UPDATE_SCHEMA").is_some() {
            std::fs::write(path, super::json_schema()).expect("schema written");
            return;
        }
        assert_eq!(
            committed,
            super::json_schema(),
            "schemas/iotplan-v1.schema.json drifted: run `IOTPLAN_UPDATE_SCHEMA=1 cargo test schema` and commit it"
        );
    }
}
