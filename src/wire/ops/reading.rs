//! Reading devices: listing pages, details and states by name.

use serde::{Deserialize, Serialize};

use super::{DeviceRef, Operation, read_product_key};
use crate::secret::Secret;
use crate::wire::Action;
use crate::wire::params::{ParamError, Params, WireParams};

/// QueryDevice: one page of a product's devices, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDevice {
    /// The product.
    pub product_key: Option<String>,
    /// Page size, 1–50.
    pub page_size: Option<u32>,
    /// Page, from 1.
    pub current_page: Option<u32>,
    /// The token from the previous page (required past 10,000).
    pub next_token: Option<String>,
}

/// One device in a QueryDevice page.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceInfo {
    /// The IotId.
    pub iot_id: String,
    /// The product.
    pub product_key: String,
    /// The name.
    pub device_name: String,
    /// The nickname (empty or absent when none).
    #[serde(default)]
    pub nickname: Option<String>,
    /// The secret.
    #[serde(default)]
    pub device_secret: Secret,
    /// `ONLINE`, `OFFLINE`, `UNACTIVE` or `DISABLE`.
    #[serde(default)]
    pub device_status: String,
    /// Device type (unused).
    #[serde(default)]
    pub device_type: Option<String>,
    /// Deprecated alias of the IotId.
    #[serde(default)]
    pub device_id: String,
    /// Creation time, text.
    #[serde(default)]
    pub gmt_create: String,
    /// Modification time, text.
    #[serde(default)]
    pub gmt_modified: String,
    /// Creation time, ISO 8601 UTC.
    #[serde(default)]
    pub utc_create: String,
    /// Modification time, ISO 8601 UTC.
    #[serde(default)]
    pub utc_modified: String,
}

/// `{"DeviceInfo": [...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceInfoList {
    /// The devices.
    #[serde(rename = "DeviceInfo", default)]
    pub devices: Vec<DeviceInfo>,
}

/// QueryDevice's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryDeviceResponse {
    /// Devices in the product.
    pub total: u32,
    /// The page size.
    pub page_size: u32,
    /// How many pages.
    pub page_count: u32,
    /// The page.
    pub page: u32,
    /// Token for the next page; empty or absent at the end.
    #[serde(default)]
    pub next_token: Option<String>,
    /// The devices.
    #[serde(default)]
    pub data: DeviceInfoList,
}

impl Operation for QueryDevice {
    const ACTION: Action = Action::QueryDevice;
    type Response = QueryDeviceResponse;

    fn write(&self, params: &mut WireParams) {
        params.query_opt("ProductKey", self.product_key.as_ref());
        params.query_opt("PageSize", self.page_size);
        params.query_opt("CurrentPage", self.current_page);
        params.query_opt("NextToken", self.next_token.as_ref());
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            product_key: params.optional("ProductKey").map(str::to_owned),
            page_size: params.int("PageSize")?,
            current_page: params.int("CurrentPage")?,
            next_token: params.optional("NextToken").map(str::to_owned),
        })
    }
}

/// BatchQueryDeviceDetail: details of up to 100 named devices; unknown names are left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchQueryDeviceDetail {
    /// The product.
    pub product_key: String,
    /// The names.
    pub device_names: Vec<String>,
}

/// One device's details.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceDetail {
    /// The product.
    pub product_key: String,
    /// The product's name.
    #[serde(default)]
    pub product_name: String,
    /// The name.
    pub device_name: String,
    /// The nickname.
    #[serde(default)]
    pub nickname: Option<String>,
    /// The IotId.
    pub iot_id: String,
    /// The secret.
    #[serde(default)]
    pub device_secret: Secret,
    /// `ONLINE`, `OFFLINE`, `UNACTIVE` or `DISABLE`.
    #[serde(default)]
    pub status: String,
    /// 0 device, 1 gateway.
    #[serde(default)]
    pub node_type: i32,
    /// Firmware version.
    #[serde(default)]
    pub firmware_version: String,
    /// Region.
    #[serde(default)]
    pub region: String,
    /// Creation time, text.
    #[serde(default)]
    pub gmt_create: String,
    /// Creation time, ISO 8601 UTC.
    #[serde(default)]
    pub utc_create: String,
    /// Activation time, text.
    #[serde(default)]
    pub gmt_active: String,
    /// Activation time, ISO 8601 UTC.
    #[serde(default)]
    pub utc_active: String,
}

/// `{"Data": [...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceDetailList {
    /// The devices.
    #[serde(rename = "Data", default)]
    pub devices: Vec<DeviceDetail>,
}

/// BatchQueryDeviceDetail's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct BatchQueryDeviceDetailResponse {
    /// The data.
    #[serde(default)]
    pub data: DeviceDetailList,
}

impl Operation for BatchQueryDeviceDetail {
    const ACTION: Action = Action::BatchQueryDeviceDetail;
    type Response = BatchQueryDeviceDetailResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("ProductKey", &self.product_key);
        for (index, name) in self.device_names.iter().enumerate() {
            params.query(format!("DeviceName.{}", index + 1), name);
        }
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            product_key: read_product_key(params)?,
            device_names: params.list("DeviceName")?,
        })
    }
}

/// BatchGetDeviceState: connection state of up to 50 devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchGetDeviceState {
    /// The product, with `device_names`.
    pub product_key: Option<String>,
    /// Names in `product_key`.
    pub device_names: Vec<String>,
    /// Or IotIds across products.
    pub iot_ids: Vec<String>,
}

/// One device's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceState {
    /// The IotId.
    pub iot_id: String,
    /// The name.
    pub device_name: String,
    /// `ONLINE`, `OFFLINE`, `UNACTIVE` or `DISABLE`.
    pub status: String,
    /// Last address.
    #[serde(default)]
    pub as_address: String,
    /// Last online time, text.
    #[serde(default)]
    pub last_online_time: String,
    /// When the state was read, epoch ms.
    #[serde(default)]
    pub timestamp: i64,
    /// Deprecated alias of the IotId.
    #[serde(default)]
    pub device_id: String,
}

/// `{"DeviceStatus": [...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct DeviceStateList {
    /// The states.
    #[serde(rename = "DeviceStatus", default)]
    pub states: Vec<DeviceState>,
}

/// BatchGetDeviceState's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct BatchGetDeviceStateResponse {
    /// The states.
    #[serde(default)]
    pub device_status_list: DeviceStateList,
}

impl Operation for BatchGetDeviceState {
    const ACTION: Action = Action::BatchGetDeviceState;
    type Response = BatchGetDeviceStateResponse;

    fn write(&self, params: &mut WireParams) {
        params.query_opt("ProductKey", self.product_key.as_ref());
        for (index, name) in self.device_names.iter().enumerate() {
            params.query(format!("DeviceName.{}", index + 1), name);
        }
        for (index, iot_id) in self.iot_ids.iter().enumerate() {
            params.query(format!("IotId.{}", index + 1), iot_id);
        }
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            product_key: params.optional("ProductKey").map(str::to_owned),
            device_names: params.list("DeviceName")?,
            iot_ids: params.list("IotId")?,
        })
    }
}

/// QueryDeviceDetail: one device, by IotId or product and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDeviceDetail {
    /// The device.
    pub device: DeviceRef,
}

/// QueryDeviceDetail's `Data`: the detail fields, and where and when the device was last online.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceDetailData {
    /// The fields BatchQueryDeviceDetail also gives.
    #[serde(flatten)]
    pub detail: DeviceDetail,
    /// Last online, text.
    #[serde(default)]
    pub gmt_online: String,
    /// Last online, ISO 8601 UTC.
    #[serde(default)]
    pub utc_online: String,
    /// Last address.
    #[serde(default)]
    pub ip_address: String,
    /// Whether the caller owns the device.
    #[serde(default)]
    pub owner: bool,
}

/// QueryDeviceDetail's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryDeviceDetailResponse {
    /// The device.
    pub data: DeviceDetailData,
}

impl Operation for QueryDeviceDetail {
    const ACTION: Action = Action::QueryDeviceDetail;
    type Response = QueryDeviceDetailResponse;

    fn write(&self, params: &mut WireParams) {
        self.device.write(params, "");
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            device: DeviceRef::read(params)?,
        })
    }
}

/// QueryDeviceInfo: a device's identity and secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDeviceInfo {
    /// The device.
    pub device: DeviceRef,
}

/// QueryDeviceInfo's `Data` (RegisterDevice answers the same).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceIdentity {
    /// The product.
    pub product_key: String,
    /// The name.
    pub device_name: String,
    /// The IotId.
    pub iot_id: String,
    /// The secret.
    #[serde(default)]
    pub device_secret: Secret,
    /// The nickname.
    #[serde(default)]
    pub nickname: Option<String>,
}

/// QueryDeviceInfo's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryDeviceInfoResponse {
    /// The device.
    pub data: DeviceIdentity,
}

impl Operation for QueryDeviceInfo {
    const ACTION: Action = Action::QueryDeviceInfo;
    type Response = QueryDeviceInfoResponse;

    fn write(&self, params: &mut WireParams) {
        self.device.write(params, "");
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            device: DeviceRef::read(params)?,
        })
    }
}

/// GetDeviceStatus: one device's connection state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GetDeviceStatus {
    /// The device.
    pub device: DeviceRef,
}

/// GetDeviceStatus's `Data`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct DeviceStatusData {
    /// `ONLINE`, `OFFLINE`, `UNACTIVE` or `DISABLE`.
    pub status: String,
    /// When the state was read, epoch ms.
    #[serde(default)]
    pub timestamp: i64,
}

/// GetDeviceStatus's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct GetDeviceStatusResponse {
    /// The state.
    pub data: DeviceStatusData,
}

impl Operation for GetDeviceStatus {
    const ACTION: Action = Action::GetDeviceStatus;
    type Response = GetDeviceStatusResponse;

    fn write(&self, params: &mut WireParams) {
        self.device.write(params, "");
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            device: DeviceRef::read(params)?,
        })
    }
}

/// QueryDeviceStatistics: device counts of a product, a group, or the whole instance.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QueryDeviceStatistics {
    /// Count this product's devices.
    pub product_key: Option<String>,
    /// Count this group's members.
    pub group_id: Option<String>,
}

/// QueryDeviceStatistics's `Data` (lower camel case on the wire).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct DeviceStatistics {
    /// Devices.
    pub device_count: u64,
    /// Devices ever activated.
    pub active_count: u64,
    /// Devices online.
    pub online_count: u64,
}

/// QueryDeviceStatistics's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryDeviceStatisticsResponse {
    /// The counts.
    pub data: DeviceStatistics,
}

impl Operation for QueryDeviceStatistics {
    const ACTION: Action = Action::QueryDeviceStatistics;
    type Response = QueryDeviceStatisticsResponse;

    fn write(&self, params: &mut WireParams) {
        params.query_opt("ProductKey", self.product_key.as_ref());
        params.query_opt("GroupId", self.group_id.as_ref());
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            product_key: params.optional("ProductKey").map(str::to_owned),
            group_id: params.optional("GroupId").map(str::to_owned),
        })
    }
}
