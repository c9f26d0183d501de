//! Mutating devices: delete, enable, disable, nicknames, tags.

use serde::{Deserialize, Serialize};

use super::{DeviceRef, Empty, Operation};
use crate::wire::Action;
use crate::wire::params::{ParamError, Params, WireParams};

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
