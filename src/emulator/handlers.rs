//! One handler per Action: reads the typed request, applies the platform's rules to the store, and
//! answers with the typed response body or the platform's error.

use std::collections::{BTreeMap, HashSet};

use serde::Serialize;
use serde_json::Value;

use super::store::{self, ApplyKind, Product, Store, random_alnum};
use super::{Reject, sql};
use crate::secret::Secret;
use crate::wire::codes;
use crate::wire::ops::{
    ApplyDeviceInfo, ApplyDeviceList, ApplyIdData, ApplyIdResponse, ApplyStatus, BatchCheckData,
    BatchCheckDeviceNames, BatchCheckDeviceNamesResponse, BatchGetDeviceState,
    BatchGetDeviceStateResponse, BatchQueryDeviceDetail, BatchQueryDeviceDetailResponse,
    BatchRegisterDevice, BatchRegisterDeviceWithApplyId, BatchUpdateDeviceNickname,
    CheckInvalidDetails, CreateProduct, CreateProductResponse, CreatedProduct, DeleteDevice,
    DeleteDeviceProp, DeviceDetail, DeviceDetailList, DeviceInfo, DeviceInfoList, DeviceRef,
    DeviceState, DeviceStateList, DisableThing, Empty, EnableThing, InvalidDetail,
    InvalidDeviceNames, InvalidDeviceNicknames, NameList, Operation, ProductData, ProductInfo,
    ProductInfoList, ProductListData, QueryBatchRegisterDeviceStatus,
    QueryBatchRegisterDeviceStatusResponse, QueryDevice, QueryDeviceBySql,
    QueryDeviceBySqlResponse, QueryDeviceByTags, QueryDeviceByTagsResponse, QueryDeviceProp,
    QueryDevicePropResponse, QueryDeviceResponse, QueryPageByApplyId, QueryPageByApplyIdResponse,
    QueryProduct, QueryProductList, QueryProductListResponse, QueryProductResponse,
    RegisterStatusData, RepeatedDeviceNames, SaveDeviceProp, SimpleDeviceInfo,
    SimpleDeviceInfoList, SqlDevice, SqlTag, StatusInvalidDetails,
};
use crate::wire::params::Params;
use crate::wire::{self, Action};

/// What a handler needs besides the store.
pub(super) struct Context<'a> {
    /// Now, epoch ms.
    pub now_ms: i64,
    /// The request's IotInstanceId.
    pub instance: Option<&'a str>,
    /// How long each asynchronous ApplyId step takes.
    pub apply_delay_ms: i64,
    /// The region this emulator answers for.
    pub region: &'a str,
    /// BatchGetDeviceState leaves unknown names out instead of failing the call.
    pub state_omits_unknown: bool,
}

/// Whether a handler changed the store (so the state file must be written).
pub(super) struct Answer {
    /// The success body fields.
    pub body: Value,
    /// Whether state changed.
    pub changed: bool,
}

pub(super) fn answer<T: Serialize>(body: &T, changed: bool) -> Result<Answer, Reject> {
    let body = serde_json::to_value(body).map_err(|e| Reject::internal(&e.to_string()))?;
    Ok(Answer { body, changed })
}

pub(super) fn read<O: Operation>(params: &Params) -> Result<O, Reject> {
    O::read(params).map_err(Reject::from)
}

/// Runs one action against the store.
pub(crate) fn dispatch(
    action: Action,
    store: &mut Store,
    ctx: &Context<'_>,
    params: &Params,
) -> Result<Answer, Reject> {
    match action {
        Action::BatchCheckDeviceNames => batch_check_device_names(store, ctx, &read(params)?),
        Action::QueryBatchRegisterDeviceStatus => {
            query_batch_register_device_status(store, ctx, &read(params)?)
        }
        Action::BatchRegisterDeviceWithApplyId => {
            batch_register_device_with_apply_id(store, ctx, &read(params)?)
        }
        Action::QueryPageByApplyId => query_page_by_apply_id(store, ctx, &read(params)?),
        Action::BatchRegisterDevice => batch_register_device(store, ctx, &read(params)?),
        Action::QueryDevice => query_device(store, ctx, &read(params)?),
        Action::QueryDeviceBySQL => query_device_by_sql(store, ctx, &read(params)?),
        Action::QueryDeviceByTags => query_device_by_tags(store, ctx, &read(params)?),
        Action::BatchQueryDeviceDetail => batch_query_device_detail(store, ctx, &read(params)?),
        Action::BatchGetDeviceState => batch_get_device_state(store, ctx, &read(params)?),
        Action::DeleteDevice => {
            let request: DeleteDevice = read(params)?;
            let (product_key, name) = find_device(store, ctx, &request.device)?;
            store.delete_device(&product_key, &name);
            answer(&Empty {}, true)
        }
        Action::EnableThing => {
            let request: EnableThing = read(params)?;
            set_disabled(store, ctx, &request.device, false)
        }
        Action::DisableThing => {
            let request: DisableThing = read(params)?;
            set_disabled(store, ctx, &request.device, true)
        }
        Action::BatchUpdateDeviceNickname => {
            batch_update_device_nickname(store, ctx, &read(params)?)
        }
        Action::SaveDeviceProp => save_device_prop(store, ctx, &read(params)?),
        Action::QueryDeviceProp => {
            let request: QueryDeviceProp = read(params)?;
            let (product_key, name) = find_device(store, ctx, &request.device)?;
            let tags = &store.devices[&product_key].by_name[&name].tags;
            let props =
                serde_json::to_string(tags).map_err(|e| Reject::internal(&e.to_string()))?;
            answer(&QueryDevicePropResponse { props }, false)
        }
        Action::DeleteDeviceProp => {
            let request: DeleteDeviceProp = read(params)?;
            let (product_key, name) = find_device(store, ctx, &request.device)?;
            let device = device_mut(store, &product_key, &name);
            let changed = device.tags.remove(&request.prop_key).is_some();
            if changed {
                device.modified_ms = ctx.now_ms;
            }
            answer(&Empty {}, changed)
        }
        Action::QueryProduct => {
            let request: QueryProduct = read(params)?;
            let product = product(store, ctx, &request.product_key)?;
            let count = store
                .devices
                .get(&product.key)
                .map_or(0, |d| d.by_name.len());
            answer(
                &QueryProductResponse {
                    data: product_data(product, count),
                },
                false,
            )
        }
        Action::QueryProductList => query_product_list(store, ctx, &read(params)?),
        Action::CreateProduct => create_product(store, ctx, read(params)?),
        Action::UpdateProduct
        | Action::DeleteProduct
        | Action::CreateProductTags
        | Action::UpdateProductTags
        | Action::DeleteProductTags
        | Action::ListProductTags => super::products::dispatch(action, store, ctx, params),
        Action::QueryDeviceDetail
        | Action::QueryDeviceInfo
        | Action::GetDeviceStatus
        | Action::RegisterDevice
        | Action::QueryDeviceStatistics => super::devices::dispatch(action, store, ctx, params),
        Action::CreateDeviceGroup
        | Action::UpdateDeviceGroup
        | Action::DeleteDeviceGroup
        | Action::QueryDeviceGroupList
        | Action::QueryDeviceGroupInfo
        | Action::QueryDeviceGroupTagList
        | Action::SetDeviceGroupTags
        | Action::BatchAddDeviceGroupRelations
        | Action::BatchDeleteDeviceGroupRelations
        | Action::QueryDeviceListByDeviceGroup
        | Action::QueryDeviceGroupByDevice => super::groups::dispatch(action, store, ctx, params),
    }
}

pub(super) fn product<'s>(
    store: &'s Store,
    ctx: &Context<'_>,
    key: &str,
) -> Result<&'s Product, Reject> {
    store.product(key, ctx.instance).ok_or_else(|| {
        Reject::business(
            codes::PRODUCT_NOT_EXISTED,
            &format!("The product {key} does not exist."),
        )
    })
}

pub(super) fn not_found(what: &str) -> Reject {
    Reject::business(
        codes::DEVICE_NOT_EXISTED,
        &format!("The device {what} does not exist."),
    )
}

/// Resolves a device reference to (product key, name) in the request's instance.
pub(super) fn find_device(
    store: &Store,
    ctx: &Context<'_>,
    device: &DeviceRef,
) -> Result<(String, String), Reject> {
    match device {
        DeviceRef::Name {
            product_key,
            device_name,
        } => {
            product(store, ctx, product_key)?;
            store
                .devices
                .get(product_key)
                .filter(|devices| devices.by_name.contains_key(device_name))
                .map(|_| (product_key.clone(), device_name.clone()))
                .ok_or_else(|| not_found(device_name))
        }
        DeviceRef::IotId(iot_id) => store
            .devices
            .iter()
            .filter(|(key, _)| store.product(key, ctx.instance).is_some())
            .find_map(|(key, devices)| {
                devices
                    .by_name
                    .values()
                    .find(|d| &d.iot_id == iot_id)
                    .map(|d| (key.clone(), d.name.clone()))
            })
            .ok_or_else(|| not_found(iot_id)),
    }
}

pub(super) fn device_mut<'s>(
    store: &'s mut Store,
    product_key: &str,
    name: &str,
) -> &'s mut super::store::Device {
    store
        .devices
        .get_mut(product_key)
        .and_then(|devices| devices.by_name.get_mut(name))
        .expect("find_device returned an existing device")
}

fn set_disabled(
    store: &mut Store,
    ctx: &Context<'_>,
    device: &DeviceRef,
    disabled: bool,
) -> Result<Answer, Reject> {
    let (product_key, name) = find_device(store, ctx, device)?;
    let device = device_mut(store, &product_key, &name);
    let changed = device.disabled != disabled;
    device.disabled = disabled;
    device.modified_ms = ctx.now_ms;
    answer(&Empty {}, changed)
}

fn batch_check_device_names(
    store: &mut Store,
    ctx: &Context<'_>,
    request: &BatchCheckDeviceNames,
) -> Result<Answer, Reject> {
    product(store, ctx, &request.product_key)?;
    if request.devices.is_empty() {
        return Err(Reject::business(
            codes::NO_DEVICE_NAME,
            "The device name list is empty.",
        ));
    }
    // The platform silently drops names past the limit.
    let devices = &request.devices[..request.devices.len().min(wire::MAX_CHECK_NAMES)];
    let mut seen = HashSet::new();
    let mut data = BatchCheckData::default();
    let mut details = Vec::new();
    let (mut bad_names, mut bad_nicknames, mut repeated) = (Vec::new(), Vec::new(), Vec::new());
    for device in devices {
        let mut reasons = Vec::new();
        if !wire::is_valid_device_name(&device.name) {
            bad_names.push(device.name.clone());
            reasons.push("The device name is illegal.");
        }
        if let Some(nickname) = &device.nickname
            && !wire::is_valid_nickname(nickname, wire::MAX_CHECK_NICKNAME_WEIGHT)
        {
            bad_nicknames.push(nickname.clone());
            reasons.push("The nick name is illegal.");
        }
        if !seen.insert(device.name.as_str()) {
            repeated.push(device.name.clone());
            reasons.push("The device name is repeated.");
        }
        if !reasons.is_empty() {
            details.push(InvalidDetail {
                device_name: device.name.clone(),
                nick_name: device.nickname.clone(),
                error_msg: reasons.join("|"),
            });
        }
    }
    if !details.is_empty() {
        data.invalid_device_name_list = Some(InvalidDeviceNames { names: bad_names });
        data.invalid_device_nickname_list = Some(InvalidDeviceNicknames {
            nicknames: bad_nicknames,
        });
        data.repeated_device_name_list = Some(RepeatedDeviceNames { names: repeated });
        data.invalid_detail_list = Some(CheckInvalidDetails { items: details });
        let detail = serde_json::to_value(&data).map_err(|e| Reject::internal(&e.to_string()))?;
        return Err(Reject::business_with_data(
            codes::INVALID_DEVICE_NAME,
            "Some device names or nicknames are invalid.",
            detail,
        ));
    }
    let apply_id = store.start_application(
        &request.product_key,
        ApplyKind::Names(devices.to_vec()),
        ctx.now_ms + ctx.apply_delay_ms,
    );
    data.apply_id = Some(apply_id);
    answer(&BatchCheckDeviceNamesResponse { data }, true)
}

fn application<'s>(
    store: &'s Store,
    ctx: &Context<'_>,
    product_key: Option<&str>,
    apply_id: i64,
) -> Result<&'s super::store::Application, Reject> {
    store
        .applications
        .get(&apply_id)
        .filter(|a| product_key.is_none_or(|key| key == a.product_key))
        .filter(|a| store.product(&a.product_key, ctx.instance).is_some())
        .ok_or_else(|| {
            Reject::business(
                codes::APPLY_NOT_FOUND,
                &format!("The application {apply_id} does not exist."),
            )
        })
}

fn query_batch_register_device_status(
    store: &mut Store,
    ctx: &Context<'_>,
    request: &QueryBatchRegisterDeviceStatus,
) -> Result<Answer, Reject> {
    product(store, ctx, &request.product_key)?;
    let application = application(store, ctx, Some(&request.product_key), request.apply_id)?;
    let failed = matches!(
        application.status,
        ApplyStatus::CheckFailed | ApplyStatus::CreateFailed
    );
    let data = RegisterStatusData {
        status: application.status,
        valid_list: NameList {
            names: if failed {
                application.valid.clone()
            } else {
                Vec::new()
            },
        },
        invalid_list: NameList {
            names: application
                .invalid
                .iter()
                .map(|d| d.device_name.clone())
                .collect(),
        },
        invalid_detail_list: StatusInvalidDetails {
            items: application.invalid.clone(),
        },
    };
    answer(&QueryBatchRegisterDeviceStatusResponse { data }, false)
}

fn batch_register_device_with_apply_id(
    store: &mut Store,
    ctx: &Context<'_>,
    request: &BatchRegisterDeviceWithApplyId,
) -> Result<Answer, Reject> {
    product(store, ctx, &request.product_key)?;
    let status = application(store, ctx, Some(&request.product_key), request.apply_id)?.status;
    if status != ApplyStatus::CheckSuccess {
        return Err(Reject::business(
            codes::APPLY_INFO_INCORRECT,
            &format!(
                "The application {} is in {status:?}, not CHECK_SUCCESS.",
                request.apply_id
            ),
        ));
    }
    store.begin_create(request.apply_id, ctx.now_ms + ctx.apply_delay_ms);
    answer(
        &ApplyIdResponse {
            data: ApplyIdData {
                apply_id: Some(request.apply_id),
            },
        },
        true,
    )
}

pub(super) fn invalid_page(message: &str) -> Reject {
    Reject::business(codes::INVALID_PAGE, message)
}

pub(super) fn page_size(value: Option<u32>, default: u32, max: u32) -> Result<u32, Reject> {
    let size = value.unwrap_or(default);
    if (1..=max).contains(&size) {
        Ok(size)
    } else {
        Err(invalid_page(&format!(
            "PageSize must be between 1 and {max}."
        )))
    }
}

pub(super) fn current_page(value: Option<u32>) -> Result<u32, Reject> {
    match value.unwrap_or(1) {
        0 => Err(invalid_page("CurrentPage must be at least 1.")),
        page => Ok(page),
    }
}

pub(super) fn page_count(total: usize, size: u32) -> u32 {
    u32::try_from(total.div_ceil(size as usize)).unwrap_or(u32::MAX)
}

fn query_page_by_apply_id(
    store: &mut Store,
    ctx: &Context<'_>,
    request: &QueryPageByApplyId,
) -> Result<Answer, Reject> {
    let application = application(store, ctx, None, request.apply_id)?;
    if application.status.is_pending() {
        return Err(Reject::business(
            codes::CREATE_TASK_RUNNING,
            "The batch creation task is still in progress.",
        ));
    }
    let size = page_size(request.page_size, 10, wire::MAX_PAGE_SIZE)?;
    let page = current_page(request.current_page)?;
    let devices = store.devices.get(&application.product_key);
    let created: Vec<_> = application
        .created
        .iter()
        .filter_map(|name| devices.and_then(|d| d.by_name.get(name)))
        .collect();
    let list = created
        .iter()
        .skip((page as usize - 1).saturating_mul(size as usize))
        .take(size as usize)
        .map(|device| ApplyDeviceInfo {
            device_name: device.name.clone(),
            device_secret: device.secret.clone(),
            iot_id: device.iot_id.clone(),
            device_id: device.iot_id.clone(),
        })
        .collect();
    answer(
        &QueryPageByApplyIdResponse {
            page,
            page_size: size,
            page_count: page_count(created.len(), size),
            total: u32::try_from(created.len()).unwrap_or(u32::MAX),
            apply_device_list: ApplyDeviceList { devices: list },
        },
        false,
    )
}

fn batch_register_device(
    store: &mut Store,
    ctx: &Context<'_>,
    request: &BatchRegisterDevice,
) -> Result<Answer, Reject> {
    product(store, ctx, &request.product_key)?;
    if !(1..=wire::MAX_REGISTER_COUNT).contains(&request.count) {
        return Err(Reject::business(
            codes::DEVICE_COUNT_EXCEEDED,
            "Count must be between 1 and 10000.",
        ));
    }
    let apply_id = store.start_application(
        &request.product_key,
        ApplyKind::Random(request.count),
        ctx.now_ms + ctx.apply_delay_ms,
    );
    answer(
        &ApplyIdResponse {
            data: ApplyIdData {
                apply_id: Some(apply_id),
            },
        },
        true,
    )
}

/// A QueryDevice NextToken: the creation sequence to continue below, and the page it leads to.
fn encode_token(seq: u64, next_page: u32) -> String {
    format!("{seq:x}-{next_page:x}")
}

fn decode_token(token: &str) -> Option<(u64, u32)> {
    let (seq, page) = token.split_once('-')?;
    Some((
        u64::from_str_radix(seq, 16).ok()?,
        u32::from_str_radix(page, 16).ok()?,
    ))
}

fn query_device(
    store: &mut Store,
    ctx: &Context<'_>,
    request: &QueryDevice,
) -> Result<Answer, Reject> {
    let Some(product_key) = &request.product_key else {
        return Err(Reject::business(
            codes::NULL_PRODUCT_KEY,
            "ProductKey is required.",
        ));
    };
    product(store, ctx, product_key)?;
    let size = page_size(request.page_size, 10, wire::MAX_PAGE_SIZE)?;
    let page = current_page(request.current_page)?;
    let offset = u64::from(page) * u64::from(size);
    if offset >= wire::MAX_LIST_OFFSET {
        return Err(invalid_page(
            "CurrentPage × PageSize must stay below 1,000,000.",
        ));
    }
    let devices = &store.devices[product_key];
    let newest_first = devices.by_seq.iter().rev();
    let selected: Vec<u64> = match request.next_token.as_deref() {
        Some(token) => {
            let (below, _) =
                decode_token(token).ok_or_else(|| invalid_page("The NextToken is invalid."))?;
            devices
                .by_seq
                .range(..below)
                .rev()
                .take(size as usize)
                .map(|(seq, _)| *seq)
                .collect()
        }
        None if offset > wire::NEXT_TOKEN_OFFSET => {
            return Err(invalid_page(
                "A NextToken is required when CurrentPage × PageSize exceeds 10,000.",
            ));
        }
        None => newest_first
            .skip((page as usize - 1) * size as usize)
            .take(size as usize)
            .map(|(seq, _)| *seq)
            .collect(),
    };
    let more = selected
        .last()
        .is_some_and(|last| devices.by_seq.range(..*last).next_back().is_some());
    let next_token = match selected.last() {
        Some(last) if more => encode_token(*last, page + 1),
        _ => String::new(),
    };
    let list = selected
        .iter()
        .map(|seq| {
            let device = &devices.by_name[&devices.by_seq[seq]];
            DeviceInfo {
                iot_id: device.iot_id.clone(),
                product_key: product_key.clone(),
                device_name: device.name.clone(),
                nickname: device.nickname.clone(),
                device_secret: device.secret.clone(),
                device_status: device.status().to_owned(),
                device_type: None,
                device_id: device.iot_id.clone(),
                gmt_create: wire::time::gmt(device.created_ms),
                gmt_modified: wire::time::gmt(device.modified_ms),
                utc_create: wire::time::utc(device.created_ms),
                utc_modified: wire::time::utc(device.modified_ms),
            }
        })
        .collect();
    let total = devices.by_name.len();
    answer(
        &QueryDeviceResponse {
            total: u32::try_from(total).unwrap_or(u32::MAX),
            page_size: size,
            page_count: page_count(total, size),
            page,
            next_token: Some(next_token),
            data: DeviceInfoList { devices: list },
        },
        false,
    )
}

/// QueryDeviceBySQL over the devices of the request's (Enterprise Edition) instance.
/// Every device of every product on `instance` (`None`: the public instance), with its product.
fn instance_devices<'s>(
    store: &'s Store,
    instance: Option<&'s str>,
) -> impl Iterator<Item = (&'s Product, &'s store::Device)> {
    store
        .products
        .values()
        .filter(move |product| product.instance.as_deref() == instance)
        .filter_map(|product| store.devices.get(&product.key).map(|d| (product, d)))
        .flat_map(|(product, devices)| devices.by_name.values().map(move |d| (product, d)))
}

/// Devices of the request's instance (the public one without `IotInstanceId`) carrying every
/// tag asked for (a key alone matches any value), newest first.
fn query_device_by_tags(
    store: &mut Store,
    ctx: &Context<'_>,
    request: &QueryDeviceByTags,
) -> Result<Answer, Reject> {
    if request.tags.is_empty()
        || request.tags.len() > wire::MAX_TAG_FILTERS
        || request.tags.iter().any(|tag| tag.key.is_empty())
    {
        return Err(Reject::business(
            codes::COMMON_INVALID_PARAMETER,
            "Give 1 to 10 tags, each with a TagKey.",
        ));
    }
    let size = page_size(request.page_size, 10, wire::MAX_PAGE_SIZE)?;
    let page = current_page(request.current_page)?;
    let mut matching: Vec<(&Product, &store::Device)> = instance_devices(store, ctx.instance)
        .filter(|(_, device)| {
            request.tags.iter().all(|tag| {
                device
                    .tags
                    .get(&tag.key)
                    .is_some_and(|value| tag.value.as_ref().is_none_or(|wanted| wanted == value))
            })
        })
        .collect();
    matching.sort_by_key(|(_, device)| std::cmp::Reverse(device.seq));
    let total = matching.len();
    let devices = matching
        .into_iter()
        .skip((page as usize - 1).saturating_mul(size as usize))
        .take(size as usize)
        .map(|(product, device)| SimpleDeviceInfo {
            product_key: product.key.clone(),
            product_name: product.name.clone(),
            device_name: device.name.clone(),
            iot_id: device.iot_id.clone(),
        })
        .collect();
    answer(
        &QueryDeviceByTagsResponse {
            page,
            page_size: size,
            page_count: page_count(total, size),
            total: u32::try_from(total).unwrap_or(u32::MAX),
            data: SimpleDeviceInfoList { devices },
        },
        false,
    )
}

fn query_device_by_sql(
    store: &mut Store,
    ctx: &Context<'_>,
    request: &QueryDeviceBySql,
) -> Result<Answer, Reject> {
    let Some(instance) = ctx.instance else {
        return Err(Reject::business(
            codes::NOT_SUPPORTED_IN_INSTANCE,
            "QueryDeviceBySQL is available on Enterprise Edition instances only.",
        ));
    };
    let query = sql::parse(&request.sql).map_err(|error| match error {
        sql::SqlError::Format(message) => {
            Reject::business(codes::COMMON_INVALID_PARAMETER, &message)
        }
        sql::SqlError::Page(message) => Reject::business(codes::INVALID_PAGE, &message),
    })?;
    let mut rows: Vec<(&str, &store::Device)> = instance_devices(store, Some(instance))
        .map(|(product, device)| (product.key.as_str(), device))
        .filter(|(key, device)| query.matches(key, device))
        .collect();
    if query.count {
        return answer(
            &QueryDeviceBySqlResponse {
                data: Vec::new(),
                total_count: Some(rows.len() as u64),
            },
            false,
        );
    }
    match query.order_by_create {
        Some(true) => rows.sort_by_key(|(_, d)| (d.created_ms, d.seq)),
        Some(false) => rows.sort_by_key(|(_, d)| (d.modified_ms, d.seq)),
        None => rows.sort_by_key(|(key, d)| (std::cmp::Reverse(d.seq), *key)),
    }
    let data = rows
        .into_iter()
        .skip(query.offset as usize)
        .take(query.limit as usize)
        .map(|(key, device)| SqlDevice {
            product_key: key.to_owned(),
            device_name: device.name.clone(),
            iot_id: device.iot_id.clone(),
            nickname: device.nickname.clone(),
            status: device.status().to_owned(),
            gmt_create: crate::wire::sql_time(device.created_ms),
            gmt_modified: crate::wire::sql_time(device.modified_ms),
            tags: device
                .tags
                .iter()
                .map(|(name, value)| SqlTag {
                    tag_name: name.clone(),
                    tag_value: value.clone(),
                })
                .collect(),
        })
        .collect();
    answer(
        &QueryDeviceBySqlResponse {
            data,
            total_count: None,
        },
        false,
    )
}

fn batch_query_device_detail(
    store: &mut Store,
    ctx: &Context<'_>,
    request: &BatchQueryDeviceDetail,
) -> Result<Answer, Reject> {
    let product = product(store, ctx, &request.product_key)?;
    if request.device_names.is_empty() {
        return Err(Reject::business(
            codes::NO_DEVICE_NAME,
            "The device name list is empty.",
        ));
    }
    if request.device_names.len() > wire::MAX_DETAIL_NAMES {
        return Err(Reject::business(
            codes::DEVICE_COUNT_EXCEEDED,
            "At most 100 device names per call.",
        ));
    }
    let devices = &store.devices[&request.product_key];
    let list = request
        .device_names
        .iter()
        .filter_map(|name| devices.by_name.get(name))
        .map(|device| DeviceDetail {
            product_key: product.key.clone(),
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
        })
        .collect();
    answer(
        &BatchQueryDeviceDetailResponse {
            data: DeviceDetailList { devices: list },
        },
        false,
    )
}

fn batch_get_device_state(
    store: &mut Store,
    ctx: &Context<'_>,
    request: &BatchGetDeviceState,
) -> Result<Answer, Reject> {
    let refs: Vec<DeviceRef> = if request.iot_ids.is_empty() {
        let product_key = request.product_key.as_deref().ok_or_else(|| {
            Reject::business(
                codes::NULL_PRODUCT_KEY,
                "ProductKey is required with DeviceName.N.",
            )
        })?;
        request
            .device_names
            .iter()
            .map(|name| DeviceRef::name(product_key, name))
            .collect()
    } else {
        request
            .iot_ids
            .iter()
            .cloned()
            .map(DeviceRef::IotId)
            .collect()
    };
    if refs.is_empty() {
        return Err(Reject::business(
            codes::NO_DEVICE_NAME,
            "No devices were named.",
        ));
    }
    if refs.len() > wire::MAX_STATE_NAMES {
        return Err(Reject::business(
            codes::DEVICE_COUNT_EXCEEDED,
            "At most 50 devices per call.",
        ));
    }
    let mut states = Vec::new();
    for device in &refs {
        let (product_key, name) = match find_device(store, ctx, device) {
            Ok(found) => found,
            Err(_) if ctx.state_omits_unknown => continue,
            Err(error) => return Err(error),
        };
        let device = &store.devices[&product_key].by_name[&name];
        states.push(DeviceState {
            iot_id: device.iot_id.clone(),
            device_name: device.name.clone(),
            status: device.status().to_owned(),
            as_address: String::new(),
            last_online_time: String::new(),
            timestamp: ctx.now_ms,
            device_id: device.iot_id.clone(),
        });
    }
    answer(
        &BatchGetDeviceStateResponse {
            device_status_list: DeviceStateList { states },
        },
        false,
    )
}

fn batch_update_device_nickname(
    store: &mut Store,
    ctx: &Context<'_>,
    request: &BatchUpdateDeviceNickname,
) -> Result<Answer, Reject> {
    if request.updates.len() > wire::MAX_NICKNAME_UPDATES {
        return Err(Reject::business(
            codes::DEVICE_COUNT_EXCEEDED,
            "At most 100 nickname entries per call.",
        ));
    }
    let mut resolved = Vec::new();
    for update in &request.updates {
        if let Some(nickname) = &update.nickname
            && !wire::is_valid_nickname(nickname, wire::MAX_UPDATE_NICKNAME_WEIGHT)
        {
            return Err(Reject::business(
                codes::CHECK_INVALID_PARAMETER,
                "A nickname must be 4-32 characters of letters, digits, _ and CJK (each CJK character counts 2).",
            ));
        }
        resolved.push((
            find_device(store, ctx, &update.device)?,
            update.nickname.clone(),
        ));
    }
    for ((product_key, name), nickname) in resolved {
        let device = device_mut(store, &product_key, &name);
        device.nickname = nickname;
        device.modified_ms = ctx.now_ms;
    }
    answer(&Empty {}, true)
}

fn save_device_prop(
    store: &mut Store,
    ctx: &Context<'_>,
    request: &SaveDeviceProp,
) -> Result<Answer, Reject> {
    let (product_key, name) = find_device(store, ctx, &request.device)?;
    if request.props.len() > wire::MAX_PROPS_BYTES {
        return Err(Reject::business(
            codes::PROPS_TOO_LONG,
            "Props must be at most 5 KB.",
        ));
    }
    let parsed: BTreeMap<String, Value> = serde_json::from_str(&request.props)
        .map_err(|_| Reject::business(codes::PROPS_MALFORMED, "Props must be a JSON object."))?;
    if parsed.is_empty() {
        return Err(Reject::business(
            codes::NO_PROPS,
            "Props has no properties.",
        ));
    }
    if parsed.len() > wire::MAX_TAGS {
        return Err(Reject::business(
            codes::TOO_MANY_PROPS,
            "At most 100 properties per call.",
        ));
    }
    let mut tags = BTreeMap::new();
    for (key, value) in parsed {
        if !wire::is_valid_tag_key(&key) {
            return Err(Reject::business(
                codes::INVALID_PROP_KEY,
                &format!("The property key {key} is invalid."),
            ));
        }
        let Value::String(value) = value else {
            return Err(Reject::business(
                codes::PROPS_MALFORMED,
                &format!("The value of {key} must be a string."),
            ));
        };
        if value.chars().count() > wire::MAX_TAG_VALUE_CHARS {
            return Err(Reject::business(
                codes::CHECK_INVALID_PARAMETER,
                &format!("The value of {key} is too long."),
            ));
        }
        if key != wire::RESERVED_TAG_KEY {
            tags.insert(key, value);
        }
    }
    let device = device_mut(store, &product_key, &name);
    let total = device
        .tags
        .keys()
        .chain(tags.keys())
        .collect::<HashSet<_>>()
        .len();
    if total > wire::MAX_TAGS {
        return Err(Reject::business(
            codes::TOO_MANY_PROPS,
            "A device holds at most 100 properties.",
        ));
    }
    device.tags.extend(tags);
    device.modified_ms = ctx.now_ms;
    answer(&Empty {}, true)
}

pub(super) fn product_data(product: &Product, device_count: usize) -> ProductData {
    ProductData {
        product_key: product.key.clone(),
        product_name: product.name.clone(),
        product_secret: product.secret.clone(),
        description: product.description.clone(),
        aliyun_commodity_code: product.commodity_code.clone(),
        auth_type: product.auth_type.clone(),
        node_type: product.node_type,
        data_format: product.data_format,
        net_type: product.net_type,
        validate_type: 1,
        device_count: device_count as u64,
        gmt_create: product.created_ms,
        product_status: "DEVELOPMENT_STATUS".to_owned(),
        id2: false,
        owner: true,
        protocol_type: product.protocol_type.clone(),
        category_key: None,
        category_name: None,
    }
}

fn query_product_list(
    store: &mut Store,
    ctx: &Context<'_>,
    request: &QueryProductList,
) -> Result<Answer, Reject> {
    let size = page_size(Some(request.page_size), 10, 200)?;
    let page = current_page(Some(request.current_page))?;
    let mut products: Vec<&Product> = store
        .products
        .values()
        .filter(|p| p.instance.as_deref() == ctx.instance)
        .filter(|p| {
            request
                .aliyun_commodity_code
                .as_ref()
                .is_none_or(|code| code == &p.commodity_code)
        })
        .collect();
    products.sort_by_key(|p| std::cmp::Reverse(p.seq));
    let total = products.len();
    let list = products
        .iter()
        .skip((page as usize - 1).saturating_mul(size as usize))
        .take(size as usize)
        .map(|p| ProductInfo {
            product_key: p.key.clone(),
            product_name: p.name.clone(),
            auth_type: p.auth_type.clone(),
            description: p.description.clone(),
            node_type: p.node_type,
            data_format: p.data_format,
            device_count: store.devices.get(&p.key).map_or(0, |d| d.by_name.len()) as u64,
            gmt_create: p.created_ms,
        })
        .collect();
    answer(
        &QueryProductListResponse {
            data: ProductListData {
                current_page: page,
                page_size: size,
                page_count: page_count(total, size),
                total: u32::try_from(total).unwrap_or(u32::MAX),
                list: ProductInfoList { products: list },
            },
        },
        false,
    )
}

fn create_product(
    store: &mut Store,
    ctx: &Context<'_>,
    request: CreateProduct,
) -> Result<Answer, Reject> {
    if !wire::is_valid_product_or_group_name(&request.product_name) {
        return Err(Reject::business(
            codes::INVALID_PRODUCT_NAME,
            "A product name is 4-30 characters of letters, digits, _ and CJK (each CJK character counts 2).",
        ));
    }
    if !matches!(request.node_type, 0 | 1) {
        return Err(Reject::business(
            codes::INVALID_NODE_TYPE,
            "NodeType must be 0 or 1.",
        ));
    }
    if request
        .description
        .as_ref()
        .is_some_and(|d| d.chars().count() > 100)
    {
        return Err(Reject::business(
            codes::PRODUCT_DESC_TOO_LONG,
            "The description is longer than 100 characters.",
        ));
    }
    let commodity_code = request
        .aliyun_commodity_code
        .unwrap_or_else(|| "iothub".to_owned());
    if !matches!(commodity_code.as_str(), "iothub" | "iothub_senior") {
        return Err(Reject::business(
            codes::INVALID_COMMODITY_CODE,
            "AliyunCommodityCode must be iothub or iothub_senior.",
        ));
    }
    if store
        .products
        .values()
        .any(|p| p.instance.as_deref() == ctx.instance && p.name == request.product_name)
    {
        return Err(Reject::business(
            codes::PRODUCT_NAME_EXISTS,
            "The product name is already used.",
        ));
    }
    let net_type = request.net_type.as_deref().map(|net| match net {
        "CELLULAR" => 6,
        "ETHERNET" => 7,
        "OTHER" => 8,
        _ => 3,
    });
    let product = Product {
        key: random_alnum(11),
        name: request.product_name,
        instance: ctx.instance.map(str::to_owned),
        secret: Secret::new(random_alnum(16)),
        auth_type: request.auth_type.unwrap_or_else(|| "secret".to_owned()),
        node_type: request.node_type,
        commodity_code,
        data_format: request.data_format,
        net_type: net_type.or(Some(3)),
        description: request.description.unwrap_or_default(),
        protocol_type: request.protocol_type,
        tags: BTreeMap::new(),
        created_ms: ctx.now_ms,
        seq: 0,
    };
    let response = CreateProductResponse {
        product_key: product.key.clone(),
        data: CreatedProduct {
            product_key: product.key.clone(),
            product_name: product.name.clone(),
            product_secret: product.secret.clone(),
            aliyun_commodity_code: product.commodity_code.clone(),
            auth_type: product.auth_type.clone(),
            data_format: product.data_format,
            node_type: product.node_type,
            description: product.description.clone(),
            id2: false,
            protocol_type: product.protocol_type.clone(),
        },
    };
    store.add_product(product);
    answer(&response, true)
}
