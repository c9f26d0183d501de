//! The everyday single-device calls users' own scripts make: QueryDeviceDetail, QueryDeviceInfo,
//! GetDeviceStatus, RegisterDevice and QueryDeviceStatistics.

use super::Reject;
use super::handlers::{Answer, Context, answer, find_device, product, read};
use super::store::{Store, random_alnum};
use crate::wire::codes;
use crate::wire::ops::{
    DeviceDetail, DeviceDetailData, DeviceIdentity, DeviceRef, DeviceStatistics, DeviceStatusData,
    GetDeviceStatus, GetDeviceStatusResponse, QueryDeviceDetail, QueryDeviceDetailResponse,
    QueryDeviceInfo, QueryDeviceInfoResponse, QueryDeviceStatistics, QueryDeviceStatisticsResponse,
    RegisterDevice, RegisterDeviceResponse,
};
use crate::wire::params::Params;
use crate::wire::{self, Action};

/// Runs one single-device action.
pub(super) fn dispatch(
    action: Action,
    store: &mut Store,
    ctx: &Context<'_>,
    params: &Params,
) -> Result<Answer, Reject> {
    match action {
        Action::QueryDeviceDetail => {
            let request: QueryDeviceDetail = read(params)?;
            let data = detail(store, ctx, &request.device)?;
            answer(&QueryDeviceDetailResponse { data }, false)
        }
        Action::QueryDeviceInfo => {
            let request: QueryDeviceInfo = read(params)?;
            let data = identity(store, ctx, &request.device)?;
            answer(&QueryDeviceInfoResponse { data }, false)
        }
        Action::GetDeviceStatus => {
            let request: GetDeviceStatus = read(params)?;
            let (key, name) = find_device(store, ctx, &request.device)?;
            let status = store.devices[&key].by_name[&name].status().to_owned();
            answer(
                &GetDeviceStatusResponse {
                    data: DeviceStatusData {
                        status,
                        timestamp: ctx.now_ms,
                    },
                },
                false,
            )
        }
        Action::RegisterDevice => register(store, ctx, read(params)?),
        Action::QueryDeviceStatistics => statistics(store, ctx, &read(params)?),
        other => Err(Reject::internal(&format!(
            "{other} is not a single-device action"
        ))),
    }
}

fn detail(
    store: &Store,
    ctx: &Context<'_>,
    device: &DeviceRef,
) -> Result<DeviceDetailData, Reject> {
    let (key, name) = find_device(store, ctx, device)?;
    let product = &store.products[&key];
    let device = &store.devices[&key].by_name[&name];
    Ok(DeviceDetailData {
        detail: DeviceDetail {
            product_key: key.clone(),
            product_name: product.name.clone(),
            device_name: device.name.clone(),
            nickname: device.nickname.clone(),
            iot_id: device.iot_id.clone(),
            device_secret: device.secret.clone(),
            status: device.status().to_owned(),
            node_type: product.node_type,
            firmware_version: String::new(),
            region: ctx.region.to_owned(),
            gmt_create: wire::time::gmt(device.created_ms),
            utc_create: wire::time::utc(device.created_ms),
            gmt_active: String::new(),
            utc_active: String::new(),
        },
        gmt_online: String::new(),
        utc_online: String::new(),
        ip_address: String::new(),
        owner: true,
    })
}

fn identity(
    store: &Store,
    ctx: &Context<'_>,
    device: &DeviceRef,
) -> Result<DeviceIdentity, Reject> {
    let (key, name) = find_device(store, ctx, device)?;
    let device = &store.devices[&key].by_name[&name];
    Ok(DeviceIdentity {
        product_key: key,
        device_name: device.name.clone(),
        iot_id: device.iot_id.clone(),
        device_secret: device.secret.clone(),
        nickname: device.nickname.clone(),
    })
}

fn register(
    store: &mut Store,
    ctx: &Context<'_>,
    request: RegisterDevice,
) -> Result<Answer, Reject> {
    product(store, ctx, &request.product_key)?;
    let name = request.device_name.unwrap_or_else(|| random_alnum(20));
    if !wire::is_valid_device_name(&name) {
        return Err(Reject::business(
            codes::INVALID_DEVICE_NAME,
            "The device name must be 4-32 characters of letters, digits and -_@.:",
        ));
    }
    let nickname = request.nickname.filter(|n| !n.is_empty());
    if let Some(nickname) = &nickname
        && !wire::is_valid_nickname(nickname, wire::MAX_CHECK_NICKNAME_WEIGHT)
    {
        return Err(Reject::business(
            codes::CHECK_INVALID_PARAMETER,
            "The nickname must be 4-64 characters of letters, digits, _ and CJK (counting 2).",
        ));
    }
    if store
        .devices
        .get(&request.product_key)
        .is_some_and(|d| d.by_name.contains_key(&name))
    {
        return Err(Reject::business(
            codes::DEVICE_NAME_EXISTS,
            &format!("The device {name} exists already."),
        ));
    }
    store.create_device(&request.product_key, &name, nickname, ctx.now_ms);
    let data = identity(store, ctx, &DeviceRef::name(&request.product_key, &name))?;
    answer(&RegisterDeviceResponse { data }, true)
}

fn statistics(
    store: &Store,
    ctx: &Context<'_>,
    request: &QueryDeviceStatistics,
) -> Result<Answer, Reject> {
    let device_count = if let Some(group_id) = &request.group_id {
        store
            .groups
            .get(group_id)
            .filter(|g| g.instance.as_deref() == ctx.instance)
            .ok_or_else(|| {
                Reject::business(
                    codes::GROUP_NOT_EXISTED,
                    &format!("The group {group_id} does not exist."),
                )
            })?
            .members
            .iter()
            .filter(|m| {
                request
                    .product_key
                    .as_ref()
                    .is_none_or(|k| *k == m.product_key)
            })
            .count()
    } else if let Some(key) = &request.product_key {
        product(store, ctx, key)?;
        store.devices.get(key).map_or(0, |d| d.by_name.len())
    } else {
        store
            .devices
            .iter()
            .filter(|(key, _)| store.product(key, ctx.instance).is_some())
            .map(|(_, d)| d.by_name.len())
            .sum()
    };
    answer(
        &QueryDeviceStatisticsResponse {
            data: DeviceStatistics {
                device_count: device_count as u64,
                active_count: 0,
                online_count: 0,
            },
        },
        false,
    )
}
