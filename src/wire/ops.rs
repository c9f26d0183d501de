//! Typed requests and responses for every operation iotplan uses.
//!
//! Each request knows its `Action`, writes itself as flat wire parameters (query or form body, as
//! the official SDK places them) and reads itself back from merged parameters. Response structs
//! carry exactly the field names the SDK's models parse; `RequestId` and `Success` are added by
//! the envelope.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::Action;
use super::params::{ParamError, Params, WireParams};
use crate::secret::Secret;

/// A request of one operation.
pub trait Operation: Sized + Send + Sync + 'static {
    /// The operation's action.
    const ACTION: Action;
    /// The success body.
    type Response: Serialize + DeserializeOwned + Send + 'static;
    /// Writes the request's parameters.
    fn write(&self, params: &mut WireParams);
    /// Reads a request back from merged wire parameters.
    ///
    /// # Errors
    /// A missing or malformed parameter.
    fn read(params: &Params) -> Result<Self, ParamError>;

    /// The request as wire parameters.
    fn to_wire(&self) -> WireParams {
        let mut params = WireParams::default();
        self.write(&mut params);
        params
    }
}

/// How a single-device operation names its device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum DeviceRef {
    /// By IotId (wins when both are given).
    IotId(String),
    /// By ProductKey and DeviceName.
    Name {
        /// The product.
        product_key: String,
        /// The device.
        device_name: String,
    },
}

impl DeviceRef {
    /// A device by product and name.
    #[must_use]
    pub fn name(product_key: &str, device_name: &str) -> Self {
        DeviceRef::Name {
            product_key: product_key.to_owned(),
            device_name: device_name.to_owned(),
        }
    }

    fn write(&self, params: &mut WireParams, prefix: &str) {
        match self {
            DeviceRef::IotId(iot_id) => params.query(format!("{prefix}IotId"), iot_id),
            DeviceRef::Name {
                product_key,
                device_name,
            } => {
                params.query(format!("{prefix}ProductKey"), product_key);
                params.query(format!("{prefix}DeviceName"), device_name);
            }
        }
    }

    fn read_fields(
        iot_id: Option<&str>,
        product_key: Option<&str>,
        device_name: Option<&str>,
    ) -> Result<Self, ParamError> {
        let present = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
        if let Some(iot_id) = present(iot_id) {
            return Ok(DeviceRef::IotId(iot_id));
        }
        match (present(product_key), present(device_name)) {
            (Some(product_key), Some(device_name)) => Ok(DeviceRef::Name {
                product_key,
                device_name,
            }),
            (None, _) => Err(ParamError::Missing("ProductKey".to_owned())),
            (_, None) => Err(ParamError::Missing("DeviceName".to_owned())),
        }
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Self::read_fields(
            params.get("IotId"),
            params.get("ProductKey"),
            params.get("DeviceName"),
        )
    }
}

/// A response with no fields beyond `RequestId` and `Success`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Empty {}

/// A list of names wrapped as `{"Name": [...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct NameList {
    /// The names.
    #[serde(rename = "Name", default)]
    pub names: Vec<String>,
}

/// `Data: {"ApplyId": …}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ApplyIdData {
    /// The application id.
    pub apply_id: Option<i64>,
}

/// A response whose `Data` holds an ApplyId.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ApplyIdResponse {
    /// The data.
    #[serde(default)]
    pub data: ApplyIdData,
}

fn read_product_key(params: &Params) -> Result<String, ParamError> {
    params.required("ProductKey").map(str::to_owned)
}

// ---------------------------------------------------------------------------------------------
// Registration

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

// ---------------------------------------------------------------------------------------------
// Reading devices

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

// ---------------------------------------------------------------------------------------------
// Mutating devices

macro_rules! single_device_op {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name {
            /// The device.
            pub device: DeviceRef,
        }

        impl Operation for $name {
            const ACTION: Action = Action::$name;
            type Response = Empty;

            fn write(&self, params: &mut WireParams) {
                self.device.write(params, "");
            }

            fn read(params: &Params) -> Result<Self, ParamError> {
                Ok(Self { device: DeviceRef::read(params)? })
            }
        }
    };
}

single_device_op!(
    /// DeleteDevice: remove a device permanently.
    DeleteDevice
);
single_device_op!(
    /// EnableThing: let a disabled device connect again.
    EnableThing
);
single_device_op!(
    /// DisableThing: stop a device from connecting.
    DisableThing
);

/// One nickname change; `None` clears the nickname.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NicknameUpdate {
    /// The device.
    pub device: DeviceRef,
    /// The new nickname.
    pub nickname: Option<String>,
}

/// BatchUpdateDeviceNickname: set or clear nicknames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchUpdateDeviceNickname {
    /// The changes.
    pub updates: Vec<NicknameUpdate>,
}

impl Operation for BatchUpdateDeviceNickname {
    const ACTION: Action = Action::BatchUpdateDeviceNickname;
    type Response = Empty;

    fn write(&self, params: &mut WireParams) {
        for (index, update) in self.updates.iter().enumerate() {
            let prefix = format!("DeviceNicknameInfo.{}.", index + 1);
            update.device.write(params, &prefix);
            if let Some(nickname) = &update.nickname {
                params.query(format!("{prefix}Nickname"), nickname);
            }
        }
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        let updates = params
            .object_list("DeviceNicknameInfo")?
            .into_iter()
            .map(|fields| {
                let field = |name: &str| fields.get(name).map(String::as_str);
                Ok(NicknameUpdate {
                    device: DeviceRef::read_fields(
                        field("IotId"),
                        field("ProductKey"),
                        field("DeviceName"),
                    )?,
                    nickname: field("Nickname")
                        .filter(|n| !n.is_empty())
                        .map(str::to_owned),
                })
            })
            .collect::<Result<Vec<_>, ParamError>>()?;
        if updates.is_empty() {
            return Err(ParamError::Missing("DeviceNicknameInfo".to_owned()));
        }
        Ok(Self { updates })
    }
}

/// SaveDeviceProp: upsert tags (a JSON object text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaveDeviceProp {
    /// The device.
    pub device: DeviceRef,
    /// `{"key":"value",…}`.
    pub props: String,
}

impl Operation for SaveDeviceProp {
    const ACTION: Action = Action::SaveDeviceProp;
    type Response = Empty;

    fn write(&self, params: &mut WireParams) {
        self.device.write(params, "");
        params.query("Props", &self.props);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            device: DeviceRef::read(params)?,
            props: params.required("Props")?.to_owned(),
        })
    }
}

/// QueryDeviceProp: a device's tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryDeviceProp {
    /// The device.
    pub device: DeviceRef,
}

/// QueryDeviceProp's success body: `Props` is JSON text.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryDevicePropResponse {
    /// `{"key":"value",…}` as text.
    #[serde(default)]
    pub props: String,
}

impl Operation for QueryDeviceProp {
    const ACTION: Action = Action::QueryDeviceProp;
    type Response = QueryDevicePropResponse;

    fn write(&self, params: &mut WireParams) {
        self.device.write(params, "");
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            device: DeviceRef::read(params)?,
        })
    }
}

/// DeleteDeviceProp: remove one tag (absent keys are a no-op).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteDeviceProp {
    /// The device.
    pub device: DeviceRef,
    /// The tag key.
    pub prop_key: String,
}

impl Operation for DeleteDeviceProp {
    const ACTION: Action = Action::DeleteDeviceProp;
    type Response = Empty;

    fn write(&self, params: &mut WireParams) {
        self.device.write(params, "");
        params.query("PropKey", &self.prop_key);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            device: DeviceRef::read(params)?,
            prop_key: params.required("PropKey")?.to_owned(),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Products

/// QueryProduct: one product.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryProduct {
    /// The product.
    pub product_key: String,
}

/// A product as QueryProduct returns it (18 fields).
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ProductData {
    /// The key.
    pub product_key: String,
    /// The name.
    pub product_name: String,
    /// The product secret.
    #[serde(default)]
    pub product_secret: Secret,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// `iothub_senior` or `iothub`.
    #[serde(default)]
    pub aliyun_commodity_code: String,
    /// `secret`, `id2` or `x509`.
    #[serde(default)]
    pub auth_type: String,
    /// 0 device, 1 gateway.
    #[serde(default)]
    pub node_type: i32,
    /// 0 custom, 1 Alink JSON.
    #[serde(default)]
    pub data_format: Option<i32>,
    /// Network type code.
    #[serde(default)]
    pub net_type: Option<i32>,
    /// Verification type.
    #[serde(default)]
    pub validate_type: i32,
    /// Devices in the product.
    #[serde(default)]
    pub device_count: u64,
    /// Creation, epoch ms.
    #[serde(default)]
    pub gmt_create: i64,
    /// `DEVELOPMENT_STATUS` or `RELEASE_STATUS`.
    #[serde(default)]
    pub product_status: String,
    /// ID² authentication.
    #[serde(default)]
    pub id2: bool,
    /// Whether the caller owns it.
    #[serde(default)]
    pub owner: bool,
    /// Protocol type.
    #[serde(default)]
    pub protocol_type: Option<String>,
    /// Category key.
    #[serde(default)]
    pub category_key: Option<String>,
    /// Category name.
    #[serde(default)]
    pub category_name: Option<String>,
}

/// QueryProduct's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryProductResponse {
    /// The product.
    pub data: ProductData,
}

impl Operation for QueryProduct {
    const ACTION: Action = Action::QueryProduct;
    type Response = QueryProductResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("ProductKey", &self.product_key);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            product_key: read_product_key(params)?,
        })
    }
}

/// QueryProductList: a page of products, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryProductList {
    /// Page, from 1.
    pub current_page: u32,
    /// Page size, 1–200.
    pub page_size: u32,
    /// Filter by edition.
    pub aliyun_commodity_code: Option<String>,
}

/// A product in a list.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ProductInfo {
    /// The key.
    pub product_key: String,
    /// The name.
    pub product_name: String,
    /// `secret`, `id2` or `x509`.
    #[serde(default)]
    pub auth_type: String,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// 0 device, 1 gateway.
    #[serde(default)]
    pub node_type: i32,
    /// 0 custom, 1 Alink JSON.
    #[serde(default)]
    pub data_format: Option<i32>,
    /// Devices in the product.
    #[serde(default)]
    pub device_count: u64,
    /// Creation, epoch ms.
    #[serde(default)]
    pub gmt_create: i64,
}

/// `{"ProductInfo": [...]}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProductInfoList {
    /// The products.
    #[serde(rename = "ProductInfo", default)]
    pub products: Vec<ProductInfo>,
}

/// QueryProductList's `Data`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct ProductListData {
    /// The page.
    pub current_page: u32,
    /// The page size.
    pub page_size: u32,
    /// How many pages.
    pub page_count: u32,
    /// How many products.
    pub total: u32,
    /// The products.
    #[serde(default)]
    pub list: ProductInfoList,
}

/// QueryProductList's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct QueryProductListResponse {
    /// The data.
    pub data: ProductListData,
}

impl Operation for QueryProductList {
    const ACTION: Action = Action::QueryProductList;
    type Response = QueryProductListResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("CurrentPage", &self.current_page);
        params.query("PageSize", &self.page_size);
        params.query_opt("AliyunCommodityCode", self.aliyun_commodity_code.as_ref());
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        Ok(Self {
            current_page: params.required_int("CurrentPage")?,
            page_size: params.required_int("PageSize")?,
            aliyun_commodity_code: params.optional("AliyunCommodityCode").map(str::to_owned),
        })
    }
}

/// CreateProduct: a new product (not idempotent).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CreateProduct {
    /// The name, unique in the instance.
    pub product_name: String,
    /// 0 device, 1 gateway.
    pub node_type: i32,
    /// `iothub_senior` or `iothub` (default).
    pub aliyun_commodity_code: Option<String>,
    /// 0 custom, 1 Alink JSON (required with `iothub_senior`).
    pub data_format: Option<i32>,
    /// At most 100 characters.
    pub description: Option<String>,
    /// `secret` (default), `id2` or `x509`.
    pub auth_type: Option<String>,
    /// `WIFI`, `CELLULAR`, `ETHERNET` or `OTHER`.
    pub net_type: Option<String>,
    /// Gateway sub-device protocol.
    pub protocol_type: Option<String>,
    /// Publish the TSL model after creation.
    pub publish_auto: Option<bool>,
}

/// CreateProduct's `Data`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct CreatedProduct {
    /// The key.
    pub product_key: String,
    /// The name.
    pub product_name: String,
    /// The product secret.
    #[serde(default)]
    pub product_secret: Secret,
    /// Edition.
    #[serde(default)]
    pub aliyun_commodity_code: String,
    /// `secret`, `id2` or `x509`.
    #[serde(default)]
    pub auth_type: String,
    /// 0 custom, 1 Alink JSON.
    #[serde(default)]
    pub data_format: Option<i32>,
    /// 0 device, 1 gateway.
    #[serde(default)]
    pub node_type: i32,
    /// Description.
    #[serde(default)]
    pub description: String,
    /// ID² authentication.
    #[serde(default)]
    pub id2: bool,
    /// Protocol type.
    #[serde(default)]
    pub protocol_type: Option<String>,
}

/// CreateProduct's success body.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
pub struct CreateProductResponse {
    /// The new key (also in `Data`).
    pub product_key: String,
    /// The product.
    pub data: CreatedProduct,
}

impl Operation for CreateProduct {
    const ACTION: Action = Action::CreateProduct;
    type Response = CreateProductResponse;

    fn write(&self, params: &mut WireParams) {
        params.query("ProductName", &self.product_name);
        params.query("NodeType", &self.node_type);
        params.query_opt("AliyunCommodityCode", self.aliyun_commodity_code.as_ref());
        params.query_opt("DataFormat", self.data_format);
        params.query_opt("Description", self.description.as_ref());
        params.query_opt("AuthType", self.auth_type.as_ref());
        params.query_opt("NetType", self.net_type.as_ref());
        params.query_opt("ProtocolType", self.protocol_type.as_ref());
        params.query_opt("PublishAuto", self.publish_auto);
    }

    fn read(params: &Params) -> Result<Self, ParamError> {
        let text = |key: &str| params.optional(key).map(str::to_owned);
        Ok(Self {
            product_name: params.required("ProductName")?.to_owned(),
            node_type: params.required_int("NodeType")?,
            aliyun_commodity_code: text("AliyunCommodityCode"),
            data_format: params.int("DataFormat")?,
            description: text("Description"),
            auth_type: text("AuthType"),
            net_type: text("NetType"),
            protocol_type: text("ProtocolType"),
            publish_auto: params.bool("PublishAuto")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<O: Operation + std::fmt::Debug + PartialEq>(op: &O) {
        let wire = op.to_wire();
        let merged = Params(wire.query.into_iter().chain(wire.body).collect());
        assert_eq!(&O::read(&merged).expect("reads back"), op);
    }

    #[test]
    fn requests_round_trip_through_wire_params() {
        round_trip(&BatchCheckDeviceNames {
            product_key: "pk".into(),
            devices: (1..=12)
                .map(|i| NameToCheck {
                    name: format!("dev{i:03}"),
                    nickname: (i % 2 == 0).then(|| format!("灯_{i}")),
                })
                .collect(),
        });
        round_trip(&BatchUpdateDeviceNickname {
            updates: vec![
                NicknameUpdate {
                    device: DeviceRef::name("pk", "dev1"),
                    nickname: Some("nick_1".into()),
                },
                NicknameUpdate {
                    device: DeviceRef::IotId("iot".into()),
                    nickname: None,
                },
            ],
        });
        round_trip(&QueryDevice {
            product_key: Some("pk".into()),
            page_size: Some(50),
            current_page: Some(201),
            next_token: Some("tok".into()),
        });
        round_trip(&SaveDeviceProp {
            device: DeviceRef::name("pk", "dev1"),
            props: r#"{"a":"b"}"#.into(),
        });
    }

    #[test]
    fn check_names_go_in_the_body_and_product_in_the_query() {
        let wire = BatchCheckDeviceNames {
            product_key: "pk".into(),
            devices: vec![NameToCheck {
                name: "light1".into(),
                nickname: Some("智能灯1".into()),
            }],
        }
        .to_wire();
        assert_eq!(wire.query, [("ProductKey".to_owned(), "pk".to_owned())]);
        assert_eq!(
            wire.body,
            [
                (
                    "DeviceNameList.1.DeviceName".to_owned(),
                    "light1".to_owned()
                ),
                (
                    "DeviceNameList.1.DeviceNickname".to_owned(),
                    "智能灯1".to_owned()
                )
            ]
        );
    }

    #[test]
    fn status_parses_the_lower_case_detail_key() {
        let body = r#"{"Data":{"Status":"CREATE_FAILED","ValidList":{"Name":["a"]},"InvalidList":{"Name":["b"]},
            "InvalidDetailList":{"invalidDetailList":[{"DeviceName":"b","NickName":"x","ErrorMsg":"bad"}]}}}"#;
        let parsed: QueryBatchRegisterDeviceStatusResponse =
            serde_json::from_str(body).expect("parses");
        assert_eq!(parsed.data.status, ApplyStatus::CreateFailed);
        assert_eq!(parsed.data.invalid_detail_list.items[0].error_msg, "bad");
    }
}

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
