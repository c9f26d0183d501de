//! Device groups: the group tree, membership, and group tags.

use serde::{Deserialize, Serialize};

use super::{Empty, Operation, SimpleDeviceInfoList};
use crate::wire::Action;
use crate::wire::params::{ParamError, Params, WireParams};

/// A group as lists and CreateDeviceGroup describe it.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct GroupInfo {
    /// The GroupId.
    pub group_id: String,
    /// The name.
    pub group_name: String,
    /// The description.
    #[serde(default)]
    pub group_desc: String,
    /// `LINK_PLATFORM` (static group) or `LINK_PLATFORM_DYNAMIC`; absent in CreateDeviceGroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_type: Option<String>,
    /// Creation, ISO 8601 UTC.
    #[serde(default)]
    pub utc_create: String,
}

/// CreateDeviceGroup: a new group, top-level or under `super_group_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateDeviceGroup {
    /// 4–30 of letters, digits and `_` (CJK counting 2), unique in the account.
    pub group_name: String,
    /// Description.
    pub group_desc: Option<String>,
    /// The parent group.
    pub super_group_id: Option<String>,
}

/// CreateDeviceGroup's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct CreateDeviceGroupResponse {
    /// The new group.
    pub data: GroupInfo,
}

impl Operation for CreateDeviceGroup {
    const ACTION: Action = Action::CreateDeviceGroup;
    type Response = CreateDeviceGroupResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("GroupName", &self.group_name);
        params.query_opt("GroupDesc", self.group_desc.as_ref());
        params.query_opt("SuperGroupId", self.super_group_id.as_ref());
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            group_name: params.required("GroupName")?.to_owned(),
            group_desc: params.optional("GroupDesc").map(str::to_owned),
            super_group_id: params.optional("SuperGroupId").map(str::to_owned),
        })
    }
}

/// QueryDeviceGroupList: a page of groups, newest first; top-level ones unless `super_group_id`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryDeviceGroupList {
    /// Page, from 1 (default 1).
    pub current_page: Option<u32>,
    /// Page size, at most 200 (default 10).
    pub page_size: Option<u32>,
    /// Names containing this.
    pub group_name: Option<String>,
    /// Children of this group.
    pub super_group_id: Option<String>,
}

/// `{"GroupInfo": [...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupInfoList {
    /// The groups.
    #[serde(rename = "GroupInfo", default)]
    pub groups: Vec<GroupInfo>,
}

/// QueryDeviceGroupList's success body (the page fields are at the top level).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryDeviceGroupListResponse {
    /// The page.
    pub current_page: u32,
    /// The page size.
    pub page_size: u32,
    /// How many pages.
    pub page_count: u32,
    /// How many groups match.
    pub total: u32,
    /// The groups.
    #[serde(default)]
    pub data: GroupInfoList,
}

impl Operation for QueryDeviceGroupList {
    const ACTION: Action = Action::QueryDeviceGroupList;
    type Response = QueryDeviceGroupListResponse;

    fn write(&self, params: &mut WireParams) {
        params.query_opt("CurrentPage", self.current_page);
        params.query_opt("PageSize", self.page_size);
        params.query_opt("GroupName", self.group_name.as_ref());
        params.query_opt("SuperGroupId", self.super_group_id.as_ref());
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            current_page: params.int("CurrentPage")?,
            page_size: params.int("PageSize")?,
            group_name: params.optional("GroupName").map(str::to_owned),
            super_group_id: params.optional("SuperGroupId").map(str::to_owned),
        })
    }
}

/// UpdateDeviceGroup: a new description (the name and parent are fixed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateDeviceGroup {
    /// The group.
    pub group_id: String,
    /// The description.
    pub group_desc: Option<String>,
}

impl Operation for UpdateDeviceGroup {
    const ACTION: Action = Action::UpdateDeviceGroup;
    type Response = Empty;

    fn write(&self, params: &mut WireParams) {
        params.query("GroupId", &self.group_id);
        params.query_opt("GroupDesc", self.group_desc.as_ref());
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            group_id: params.required("GroupId")?.to_owned(),
            group_desc: params.optional("GroupDesc").map(str::to_owned),
        })
    }
}

macro_rules! group_op {
    ($(#[$doc:meta])* $name:ident => $response:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// The group.
            pub group_id: String,
        }

        impl Operation for $name {
            const ACTION: Action = Action::$name;
            type Response = $response;

            fn write(&self, params: &mut WireParams) {
                params.query("GroupId", &self.group_id);
            }

            fn read(params: &Params) -> Result<Self, ParamError> {
                Ok(Self { group_id: params.required("GroupId")?.to_owned() })
            }
        }
    };
}

group_op!(
    /// DeleteDeviceGroup: remove a group (refused while it has sub-groups).
    DeleteDeviceGroup => Empty
);
group_op!(
    /// QueryDeviceGroupInfo: one group, with its device counts.
    QueryDeviceGroupInfo => QueryDeviceGroupInfoResponse
);
group_op!(
    /// QueryDeviceGroupTagList: a group's tags.
    QueryDeviceGroupTagList => QueryDeviceGroupTagListResponse
);

/// QueryDeviceGroupInfo's `Data`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct GroupDetail {
    /// The GroupId.
    pub group_id: String,
    /// The name.
    pub group_name: String,
    /// The description.
    #[serde(default)]
    pub group_desc: String,
    /// Members.
    #[serde(default)]
    pub device_count: u64,
    /// Members ever activated.
    #[serde(default)]
    pub device_active: u64,
    /// Members online.
    #[serde(default)]
    pub device_online: u64,
    /// Creation, ISO 8601 UTC.
    #[serde(default)]
    pub utc_create: String,
}

/// QueryDeviceGroupInfo's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryDeviceGroupInfoResponse {
    /// The group.
    pub data: GroupDetail,
}

/// One group tag.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct GroupTagInfo {
    /// The key.
    pub tag_key: String,
    /// The value.
    #[serde(default)]
    pub tag_value: String,
}

/// `{"GroupTagInfo": [...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct GroupTagInfoList {
    /// The tags.
    #[serde(rename = "GroupTagInfo", default)]
    pub tags: Vec<GroupTagInfo>,
}

/// QueryDeviceGroupTagList's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryDeviceGroupTagListResponse {
    /// The tags.
    #[serde(default)]
    pub data: GroupTagInfoList,
}

/// One tag in SetDeviceGroupTags's `TagString` (lower camel case on the wire).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GroupTag {
    /// The key.
    pub tag_key: String,
    /// The value.
    pub tag_value: String,
}

/// SetDeviceGroupTags: replace all of a group's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetDeviceGroupTags {
    /// The group.
    pub group_id: String,
    /// The tags, all of them.
    pub tags: Vec<GroupTag>,
}

impl Operation for SetDeviceGroupTags {
    const ACTION: Action = Action::SetDeviceGroupTags;
    type Response = Empty;

    fn write(&self, params: &mut WireParams) {
        params.query("GroupId", &self.group_id);
        let text = serde_json::to_string(&self.tags).unwrap_or_else(|_| "[]".to_owned());
        params.query("TagString", &text);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        let text = params.required("TagString")?;
        let tags = serde_json::from_str(text).map_err(|e| ParamError::Invalid {
            name: "TagString".to_owned(),
            reason: e.to_string(),
        })?;
        Ok(Self {
            group_id: params.required("GroupId")?.to_owned(),
            tags,
        })
    }
}

/// A device named by product and name, as membership calls take it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Member {
    /// The product.
    pub product_key: String,
    /// The device.
    pub device_name: String,
}

fn write_members(members: &[Member], params: &mut WireParams) {
    for (index, member) in members.iter().enumerate() {
        params.query(
            format!("Device.{}.ProductKey", index + 1),
            &member.product_key,
        );
        params.query(
            format!("Device.{}.DeviceName", index + 1),
            &member.device_name,
        );
    }
}

fn read_members(params: &Params) -> Result<Vec<Member>, ParamError> {
    let members = params
        .object_list("Device")?
        .into_iter()
        .map(|mut fields| {
            let mut take = |key: &str| {
                fields
                    .remove(key)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| ParamError::Missing(format!("Device.N.{key}")))
            };
            Ok(Member {
                product_key: take("ProductKey")?,
                device_name: take("DeviceName")?,
            })
        })
        .collect::<Result<Vec<_>, ParamError>>()?;
    if members.is_empty() {
        return Err(ParamError::Missing("Device".to_owned()));
    }
    Ok(members)
}

/// BatchAddDeviceGroupRelations: add up to 200 devices to a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchAddDeviceGroupRelations {
    /// The group.
    pub group_id: String,
    /// The devices.
    pub devices: Vec<Member>,
}

/// BatchAddDeviceGroupRelations's success body: counts only.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct BatchAddDeviceGroupRelationsResponse {
    /// Devices that exist.
    #[serde(default)]
    pub valid_device_count: u32,
    /// Devices added now.
    #[serde(default)]
    pub success_added_device_count: u32,
    /// Devices that were members already.
    #[serde(default)]
    pub already_related_group_device_count: u32,
    /// Devices not added: already in 10 groups.
    #[serde(default)]
    pub exceed_ten_group_device_count: u32,
}

impl Operation for BatchAddDeviceGroupRelations {
    const ACTION: Action = Action::BatchAddDeviceGroupRelations;
    type Response = BatchAddDeviceGroupRelationsResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("GroupId", &self.group_id);
        write_members(&self.devices, params);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            group_id: params.required("GroupId")?.to_owned(),
            devices: read_members(params)?,
        })
    }
}

/// BatchDeleteDeviceGroupRelations: remove up to 200 devices from a group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchDeleteDeviceGroupRelations {
    /// The group.
    pub group_id: String,
    /// The devices.
    pub devices: Vec<Member>,
}

/// BatchDeleteDeviceGroupRelations's success body: counts only.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct BatchDeleteDeviceGroupRelationsResponse {
    /// Devices that exist.
    #[serde(default)]
    pub valid_device_count: u32,
    /// Devices removed now.
    #[serde(default)]
    pub success_device_count: u32,
    /// Devices that were members.
    #[serde(default)]
    pub already_related_group_device_count: u32,
}

impl Operation for BatchDeleteDeviceGroupRelations {
    const ACTION: Action = Action::BatchDeleteDeviceGroupRelations;
    type Response = BatchDeleteDeviceGroupRelationsResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("GroupId", &self.group_id);
        write_members(&self.devices, params);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            group_id: params.required("GroupId")?.to_owned(),
            devices: read_members(params)?,
        })
    }
}

/// QueryDeviceListByDeviceGroup: a page of a group's members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDeviceListByDeviceGroup {
    /// The group.
    pub group_id: String,
    /// Page, from 1.
    pub current_page: Option<u32>,
    /// Page size.
    pub page_size: Option<u32>,
}

/// QueryDeviceListByDeviceGroup's success body (the page fields are at the top level).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryDeviceListByDeviceGroupResponse {
    /// The page.
    pub page: u32,
    /// The page size.
    pub page_size: u32,
    /// How many pages.
    pub page_count: u32,
    /// How many members.
    pub total: u32,
    /// The members.
    #[serde(default)]
    pub data: SimpleDeviceInfoList,
}

impl Operation for QueryDeviceListByDeviceGroup {
    const ACTION: Action = Action::QueryDeviceListByDeviceGroup;
    type Response = QueryDeviceListByDeviceGroupResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("GroupId", &self.group_id);
        params.query_opt("CurrentPage", self.current_page);
        params.query_opt("PageSize", self.page_size);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            group_id: params.required("GroupId")?.to_owned(),
            current_page: params.int("CurrentPage")?,
            page_size: params.int("PageSize")?,
        })
    }
}

/// QueryDeviceGroupByDevice: the groups one device is in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDeviceGroupByDevice {
    /// The device.
    pub device: Member,
}

/// QueryDeviceGroupByDevice's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryDeviceGroupByDeviceResponse {
    /// The groups.
    #[serde(default)]
    pub group_infos: GroupInfoList,
}

impl Operation for QueryDeviceGroupByDevice {
    const ACTION: Action = Action::QueryDeviceGroupByDevice;
    type Response = QueryDeviceGroupByDeviceResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("ProductKey", &self.device.product_key);
        params.query("DeviceName", &self.device.device_name);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            device: Member {
                product_key: params.required("ProductKey")?.to_owned(),
                device_name: params.required("DeviceName")?.to_owned(),
            },
        })
    }
}
