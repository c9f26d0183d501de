//! Bulk reads: QueryDeviceByTags and QueryDeviceBySQL.

use serde::{Deserialize, Serialize};

use super::Operation;
use crate::wire::Action;
use crate::wire::params::{ParamError, Params, WireParams};

/// A tag QueryDeviceByTags matches: the key, and the value unless any value will do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    /// The key.
    pub key: String,
    /// The value; `None` matches any.
    pub value: Option<String>,
}

/// QueryDeviceByTags: the devices of the instance (every product) carrying all the given tags,
/// newest first, 50 a page at most. The answer names devices; it holds no tag values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDeviceByTags {
    /// The tags, at most 10.
    pub tags: Vec<TagFilter>,
    /// Page, from 1.
    pub current_page: Option<u32>,
    /// Page size, 1–50.
    pub page_size: Option<u32>,
}

/// One device in a QueryDeviceByTags page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct SimpleDeviceInfo {
    /// The product.
    pub product_key: String,
    /// The product's name.
    #[serde(default)]
    pub product_name: String,
    /// The name.
    pub device_name: String,
    /// The IotId.
    pub iot_id: String,
}

/// `{"SimpleDeviceInfo": [...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct SimpleDeviceInfoList {
    /// The devices.
    #[serde(rename = "SimpleDeviceInfo", default)]
    pub devices: Vec<SimpleDeviceInfo>,
}

/// QueryDeviceByTags's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryDeviceByTagsResponse {
    /// The page.
    pub page: u32,
    /// The page size.
    pub page_size: u32,
    /// How many pages.
    pub page_count: u32,
    /// Devices matching.
    pub total: u32,
    /// The devices.
    #[serde(default)]
    pub data: SimpleDeviceInfoList,
}

impl Operation for QueryDeviceByTags {
    const ACTION: Action = Action::QueryDeviceByTags;
    type Response = QueryDeviceByTagsResponse;

    fn write(&self, params: &mut WireParams) {
        for (index, tag) in self.tags.iter().enumerate() {
            params.query(format!("Tag.{}.TagKey", index + 1), &tag.key);
            params.query_opt(&format!("Tag.{}.TagValue", index + 1), tag.value.as_ref());
        }
        params.query_opt("CurrentPage", self.current_page);
        params.query_opt("PageSize", self.page_size);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            tags: params
                .object_list("Tag")?
                .into_iter()
                .map(|mut fields| TagFilter {
                    key: fields.remove("TagKey").unwrap_or_default(),
                    value: fields.remove("TagValue").filter(|v| !v.is_empty()),
                })
                .collect(),
            current_page: params.int("CurrentPage")?,
            page_size: params.int("PageSize")?,
        })
    }
}

/// QueryDeviceBySQL: a SQL-like search over an Enterprise Edition instance's devices, tags inline.
/// The statement is `SELECT <*|count(*)> FROM device WHERE … [ORDER BY …] [LIMIT n,k]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDeviceBySql {
    /// The statement (at most 400 characters).
    pub sql: String,
}

/// A tag as QueryDeviceBySQL returns it (`TagName`, not `TagKey`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct SqlTag {
    /// The key.
    pub tag_name: String,
    /// The value.
    #[serde(default)]
    pub tag_value: String,
}

/// One QueryDeviceBySQL row.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct SqlDevice {
    /// The product.
    pub product_key: String,
    /// The name.
    pub device_name: String,
    /// The IotId.
    pub iot_id: String,
    /// The nickname.
    #[serde(default)]
    pub nickname: Option<String>,
    /// `ONLINE`, `OFFLINE`, `UNACTIVE` or `DISABLE`.
    #[serde(default)]
    pub status: String,
    /// Creation time (opaque text).
    #[serde(default)]
    pub gmt_create: String,
    /// Last change (opaque text).
    #[serde(default)]
    pub gmt_modified: String,
    /// The tags.
    #[serde(default)]
    pub tags: Vec<SqlTag>,
}

/// QueryDeviceBySQL's success body: `Data` is a bare array; `TotalCount` only for `count(*)`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryDeviceBySqlResponse {
    /// The rows.
    #[serde(default)]
    pub data: Vec<SqlDevice>,
    /// The count of a `count(*)` statement.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<u64>,
}

impl Operation for QueryDeviceBySql {
    const ACTION: Action = Action::QueryDeviceBySQL;
    type Response = QueryDeviceBySqlResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("SQL", &self.sql);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            sql: params.required("SQL")?.to_owned(),
        })
    }
}
