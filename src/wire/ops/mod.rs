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

mod bulk;
mod groups;
mod mutating;
mod products;
mod reading;
mod registration;

pub use bulk::*;
pub use groups::*;
pub use mutating::*;
pub use products::*;
pub use reading::*;
pub use registration::*;

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
