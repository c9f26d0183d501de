//! Registration: checking names, the ApplyId state, registering and paging the result.

use serde::{Deserialize, Serialize};

use super::{ApplyIdResponse, DeviceIdentity, NameList, Operation, read_product_key};
use crate::secret::Secret;
use crate::wire::Action;
use crate::wire::params::{ParamError, Params, WireParams};

/// One name to check, with an optional nickname.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NameToCheck {
    /// The DeviceName.
    pub name: String,
    /// The nickname to register it with.
    pub nickname: Option<String>,
}

/// BatchCheckDeviceNames: start an application for a list of names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchCheckDeviceNames {
    /// The product.
    pub product_key: String,
    /// The names, in order.
    pub devices: Vec<NameToCheck>,
}

/// One entry of `InvalidDetailList`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct InvalidDetail {
    /// The name.
    pub device_name: String,
    /// The nickname sent with it.
    #[serde(default)]
    pub nick_name: Option<String>,
    /// Why it failed; several reasons joined with `|`.
    #[serde(default)]
    pub error_msg: String,
}

/// BatchCheckDeviceNames' `Data`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct BatchCheckData {
    /// The application id (absent on a synchronous rejection).
    #[serde(default)]
    pub apply_id: Option<i64>,
    /// Malformed names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_device_name_list: Option<InvalidDeviceNames>,
    /// Malformed nicknames.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_device_nickname_list: Option<InvalidDeviceNicknames>,
    /// Names repeated within the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeated_device_name_list: Option<RepeatedDeviceNames>,
    /// Every invalid entry with its reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invalid_detail_list: Option<CheckInvalidDetails>,
}

/// `{"InvalidDeviceName": [...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct InvalidDeviceNames {
    /// The names.
    #[serde(rename = "InvalidDeviceName", default)]
    pub names: Vec<String>,
}

/// `{"InvalidDeviceNickname": [...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct InvalidDeviceNicknames {
    /// The nicknames.
    #[serde(rename = "InvalidDeviceNickname", default)]
    pub nicknames: Vec<String>,
}

/// `{"RepeatDevieNameList": [...]}` (the platform's spelling).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct RepeatedDeviceNames {
    /// The names.
    #[serde(rename = "RepeatDevieNameList", default)]
    pub names: Vec<String>,
}

/// `{"InvalidDetailList": [...]}` (BatchCheckDeviceNames' capitalisation).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct CheckInvalidDetails {
    /// The entries.
    #[serde(rename = "InvalidDetailList", default)]
    pub items: Vec<InvalidDetail>,
}

/// BatchCheckDeviceNames' success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct BatchCheckDeviceNamesResponse {
    /// The data.
    #[serde(default)]
    pub data: BatchCheckData,
}

impl Operation for BatchCheckDeviceNames {
    const ACTION: Action = Action::BatchCheckDeviceNames;
    type Response = BatchCheckDeviceNamesResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("ProductKey", &self.product_key);
        for (index, device) in self.devices.iter().enumerate() {
            let n = index + 1;
            params.body(format!("DeviceNameList.{n}.DeviceName"), &device.name);
            if let Some(nickname) = &device.nickname {
                params.body(format!("DeviceNameList.{n}.DeviceNickname"), nickname);
            }
        }
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        let product_key = read_product_key(params)?;
        let objects = params.object_list("DeviceNameList")?;
        let devices = if objects.is_empty() {
            params
                .list("DeviceName")?
                .into_iter()
                .map(|name| NameToCheck {
                    name,
                    nickname: None,
                })
                .collect()
        } else {
            objects
                .into_iter()
                .map(|fields| NameToCheck {
                    name: fields.get("DeviceName").cloned().unwrap_or_default(),
                    nickname: fields.get("DeviceNickname").cloned(),
                })
                .collect()
        };
        Ok(Self {
            product_key,
            devices,
        })
    }
}

/// QueryBatchRegisterDeviceStatus: where an application stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryBatchRegisterDeviceStatus {
    /// The product.
    pub product_key: String,
    /// The application.
    pub apply_id: i64,
}

/// An application's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApplyStatus {
    /// Names are being checked.
    Check,
    /// Every name passed; registration may start.
    CheckSuccess,
    /// Some names failed the check.
    CheckFailed,
    /// Devices are being created.
    Create,
    /// Every device was created.
    CreateSuccess,
    /// Some devices were not created.
    CreateFailed,
}

impl ApplyStatus {
    /// Whether the application is still being worked on.
    #[must_use]
    pub fn is_pending(self) -> bool {
        matches!(self, ApplyStatus::Check | ApplyStatus::Create)
    }
}

/// `{"invalidDetailList": [...]}` (QueryBatchRegisterDeviceStatus' lower-case key).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct StatusInvalidDetails {
    /// The entries.
    #[serde(rename = "invalidDetailList", default)]
    pub items: Vec<InvalidDetail>,
}

/// QueryBatchRegisterDeviceStatus' `Data`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterStatusData {
    /// The state.
    pub status: ApplyStatus,
    /// Names that passed or were created (in failed states).
    #[serde(default)]
    pub valid_list: NameList,
    /// Names that failed (in failed states).
    #[serde(default)]
    pub invalid_list: NameList,
    /// Each failure with its reason.
    #[serde(default)]
    pub invalid_detail_list: StatusInvalidDetails,
}

/// QueryBatchRegisterDeviceStatus' success body.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryBatchRegisterDeviceStatusResponse {
    /// The data.
    pub data: RegisterStatusData,
}

impl Operation for QueryBatchRegisterDeviceStatus {
    const ACTION: Action = Action::QueryBatchRegisterDeviceStatus;
    type Response = QueryBatchRegisterDeviceStatusResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("ProductKey", &self.product_key);
        params.query("ApplyId", &self.apply_id);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            product_key: read_product_key(params)?,
            apply_id: params.required_int("ApplyId")?,
        })
    }
}

/// BatchRegisterDeviceWithApplyId: create the devices of a checked application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRegisterDeviceWithApplyId {
    /// The product.
    pub product_key: String,
    /// The application, in `CHECK_SUCCESS`.
    pub apply_id: i64,
}

impl Operation for BatchRegisterDeviceWithApplyId {
    const ACTION: Action = Action::BatchRegisterDeviceWithApplyId;
    type Response = ApplyIdResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("ProductKey", &self.product_key);
        params.query("ApplyId", &self.apply_id);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            product_key: read_product_key(params)?,
            apply_id: params.required_int("ApplyId")?,
        })
    }
}

/// QueryPageByApplyId: the registered devices of an application, with their secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryPageByApplyId {
    /// The application.
    pub apply_id: i64,
    /// Page size, at most 50.
    pub page_size: Option<u32>,
    /// Page, from 1.
    pub current_page: Option<u32>,
}

/// A registered device with its secret.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ApplyDeviceInfo {
    /// The name.
    pub device_name: String,
    /// The secret.
    pub device_secret: Secret,
    /// The IotId.
    pub iot_id: String,
    /// Deprecated alias of the IotId.
    #[serde(default)]
    pub device_id: String,
}

/// `{"ApplyDeviceInfo": [...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ApplyDeviceList {
    /// The devices.
    #[serde(rename = "ApplyDeviceInfo", default)]
    pub devices: Vec<ApplyDeviceInfo>,
}

/// QueryPageByApplyId's success body (paging fields at the top level).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryPageByApplyIdResponse {
    /// The page.
    pub page: u32,
    /// The page size.
    pub page_size: u32,
    /// How many pages.
    pub page_count: u32,
    /// How many devices.
    pub total: u32,
    /// The devices.
    #[serde(default)]
    pub apply_device_list: ApplyDeviceList,
}

impl Operation for QueryPageByApplyId {
    const ACTION: Action = Action::QueryPageByApplyId;
    type Response = QueryPageByApplyIdResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("ApplyId", &self.apply_id);
        params.query_opt("PageSize", self.page_size);
        params.query_opt("CurrentPage", self.current_page);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            apply_id: params.required_int("ApplyId")?,
            page_size: params.int("PageSize")?,
            current_page: params.int("CurrentPage")?,
        })
    }
}

/// BatchRegisterDevice: register `count` devices with random names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRegisterDevice {
    /// The product.
    pub product_key: String,
    /// How many, 1–10,000.
    pub count: u32,
}

impl Operation for BatchRegisterDevice {
    const ACTION: Action = Action::BatchRegisterDevice;
    type Response = ApplyIdResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("ProductKey", &self.product_key);
        params.query("Count", &self.count);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            product_key: read_product_key(params)?,
            count: params.required_int("Count")?,
        })
    }
}

/// RegisterDevice: one device, named or (without a name) random.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterDevice {
    /// The product.
    pub product_key: String,
    /// The name; random when absent.
    pub device_name: Option<String>,
    /// The nickname.
    pub nickname: Option<String>,
}

/// RegisterDevice's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct RegisterDeviceResponse {
    /// The new device.
    pub data: DeviceIdentity,
}

impl Operation for RegisterDevice {
    const ACTION: Action = Action::RegisterDevice;
    type Response = RegisterDeviceResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("ProductKey", &self.product_key);
        params.query_opt("DeviceName", self.device_name.as_ref());
        params.query_opt("Nickname", self.nickname.as_ref());
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            product_key: read_product_key(params)?,
            device_name: params.optional("DeviceName").map(str::to_owned),
            nickname: params.optional("Nickname").map(str::to_owned),
        })
    }
}
