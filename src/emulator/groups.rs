//! Device group handlers: the group tree (at most 3 levels, 1,000 groups), its tags, and
//! membership (a device in at most 10 groups; 200 devices a relation call).

use std::collections::BTreeMap;

use super::Reject;
use super::handlers::{
    Answer, Context, answer, current_page, find_device, page_count, page_size, read,
};
use super::store::{Group, Store, random_alnum};
use crate::wire::codes;
use crate::wire::ops::{
    BatchAddDeviceGroupRelations, BatchAddDeviceGroupRelationsResponse,
    BatchDeleteDeviceGroupRelations, BatchDeleteDeviceGroupRelationsResponse, CreateDeviceGroup,
    CreateDeviceGroupResponse, DeleteDeviceGroup, DeviceRef, Empty, GroupDetail, GroupInfo,
    GroupInfoList, GroupTagInfo, GroupTagInfoList, Member, QueryDeviceGroupByDevice,
    QueryDeviceGroupByDeviceResponse, QueryDeviceGroupInfo, QueryDeviceGroupInfoResponse,
    QueryDeviceGroupList, QueryDeviceGroupListResponse, QueryDeviceGroupTagList,
    QueryDeviceGroupTagListResponse, QueryDeviceListByDeviceGroup,
    QueryDeviceListByDeviceGroupResponse, SetDeviceGroupTags, SimpleDeviceInfo,
    SimpleDeviceInfoList, UpdateDeviceGroup,
};
use crate::wire::params::Params;
use crate::wire::{self, Action};

/// The group type static groups carry.
const STATIC_GROUP: &str = "LINK_PLATFORM";

/// Largest QueryDeviceListByDeviceGroup page the emulator serves (the platform's is not
/// documented; iotplan asks for 50).
const MAX_MEMBER_PAGE_SIZE: u32 = 200;

/// Runs one group action.
pub(super) fn dispatch(
    action: Action,
    store: &mut Store,
    ctx: &Context<'_>,
    params: &Params,
) -> Result<Answer, Reject> {
    match action {
        Action::CreateDeviceGroup => create(store, ctx, read(params)?),
        Action::UpdateDeviceGroup => {
            let request: UpdateDeviceGroup = read(params)?;
            let description = checked_description(request.group_desc)?;
            let group = group_mut(store, ctx, &request.group_id)?;
            group.description = description;
            answer(&Empty {}, true)
        }
        Action::DeleteDeviceGroup => {
            let request: DeleteDeviceGroup = read(params)?;
            group(store, ctx, &request.group_id)?;
            if store
                .groups
                .values()
                .any(|g| g.parent.as_deref() == Some(request.group_id.as_str()))
            {
                return Err(Reject::business(
                    codes::GROUP_HAS_SUBGROUPS,
                    "The group has sub-groups: delete them first.",
                ));
            }
            store.groups.remove(&request.group_id);
            answer(&Empty {}, true)
        }
        Action::QueryDeviceGroupList => list(store, ctx, &read(params)?),
        Action::QueryDeviceGroupInfo => {
            let request: QueryDeviceGroupInfo = read(params)?;
            let group = group(store, ctx, &request.group_id)?;
            answer(
                &QueryDeviceGroupInfoResponse {
                    data: GroupDetail {
                        group_id: group.id.clone(),
                        group_name: group.name.clone(),
                        group_desc: group.description.clone(),
                        device_count: group.members.len() as u64,
                        device_active: 0,
                        device_online: 0,
                        utc_create: wire::time::utc(group.created_ms),
                    },
                },
                false,
            )
        }
        Action::QueryDeviceGroupTagList => {
            let request: QueryDeviceGroupTagList = read(params)?;
            let group = group(store, ctx, &request.group_id)?;
            let tags = group
                .tags
                .iter()
                .map(|(key, value)| GroupTagInfo {
                    tag_key: key.clone(),
                    tag_value: value.clone(),
                })
                .collect();
            answer(
                &QueryDeviceGroupTagListResponse {
                    data: GroupTagInfoList { tags },
                },
                false,
            )
        }
        Action::SetDeviceGroupTags => set_tags(store, ctx, read(params)?),
        Action::BatchAddDeviceGroupRelations => add_members(store, ctx, &read(params)?),
        Action::BatchDeleteDeviceGroupRelations => remove_members(store, ctx, &read(params)?),
        Action::QueryDeviceListByDeviceGroup => members(store, ctx, &read(params)?),
        Action::QueryDeviceGroupByDevice => groups_of_device(store, ctx, &read(params)?),
        other => Err(Reject::internal(&format!("{other} is not a group action"))),
    }
}

fn not_existed(id: &str) -> Reject {
    Reject::business(
        codes::GROUP_NOT_EXISTED,
        &format!("The group {id} does not exist."),
    )
}

fn group<'s>(store: &'s Store, ctx: &Context<'_>, id: &str) -> Result<&'s Group, Reject> {
    store
        .groups
        .get(id)
        .filter(|g| g.instance.as_deref() == ctx.instance)
        .ok_or_else(|| not_existed(id))
}

fn group_mut<'s>(
    store: &'s mut Store,
    ctx: &Context<'_>,
    id: &str,
) -> Result<&'s mut Group, Reject> {
    store
        .groups
        .get_mut(id)
        .filter(|g| g.instance.as_deref() == ctx.instance)
        .ok_or_else(|| not_existed(id))
}

fn checked_description(description: Option<String>) -> Result<String, Reject> {
    let description = description.unwrap_or_default();
    if description.chars().count() > wire::MAX_DESCRIPTION_CHARS {
        return Err(Reject::business(
            codes::GROUP_DESC_TOO_LONG,
            "The group description is longer than 100 characters.",
        ));
    }
    Ok(description)
}

fn info(group: &Group, with_type: bool) -> GroupInfo {
    GroupInfo {
        group_id: group.id.clone(),
        group_name: group.name.clone(),
        group_desc: group.description.clone(),
        group_type: with_type.then(|| STATIC_GROUP.to_owned()),
        utc_create: wire::time::utc(group.created_ms),
    }
}

fn create(
    store: &mut Store,
    ctx: &Context<'_>,
    request: CreateDeviceGroup,
) -> Result<Answer, Reject> {
    if !wire::is_valid_product_or_group_name(&request.group_name) {
        return Err(Reject::business(
            codes::INVALID_GROUP_NAME,
            "The group name must be 4-30 characters of letters, digits and _ (CJK counting 2).",
        ));
    }
    let description = checked_description(request.group_desc)?;
    if store.groups.values().any(|g| g.name == request.group_name) {
        return Err(Reject::business(
            codes::CHECK_INVALID_PARAMETER,
            &format!("The group name {} is already used.", request.group_name),
        ));
    }
    if store.groups.len() >= wire::MAX_GROUPS {
        return Err(Reject::business(
            codes::GROUP_COUNT_EXCEEDED,
            "The account holds 1000 groups already.",
        ));
    }
    if let Some(parent) = &request.super_group_id {
        group(store, ctx, parent)?;
        if store.group_level(parent) >= wire::MAX_GROUP_DEPTH {
            return Err(Reject::business(
                codes::GROUP_TOO_DEEP,
                "Groups nest at most 3 levels deep.",
            ));
        }
    }
    let seq = store.next_seq();
    let group = Group {
        id: random_alnum(16),
        name: request.group_name,
        description,
        parent: request.super_group_id,
        instance: ctx.instance.map(str::to_owned),
        tags: BTreeMap::new(),
        members: std::collections::BTreeSet::new(),
        created_ms: ctx.now_ms,
        seq,
    };
    let data = info(&group, false);
    store.groups.insert(group.id.clone(), group);
    answer(&CreateDeviceGroupResponse { data }, true)
}

fn list(
    store: &Store,
    ctx: &Context<'_>,
    request: &QueryDeviceGroupList,
) -> Result<Answer, Reject> {
    let size = page_size(request.page_size, 10, wire::MAX_GROUP_PAGE_SIZE)?;
    let page = current_page(request.current_page)?;
    if let Some(parent) = &request.super_group_id {
        group(store, ctx, parent)?;
    }
    let mut groups: Vec<&Group> = store
        .groups
        .values()
        .filter(|g| g.instance.as_deref() == ctx.instance)
        .filter(|g| g.parent == request.super_group_id)
        .filter(|g| {
            request
                .group_name
                .as_ref()
                .is_none_or(|name| g.name.contains(name.as_str()))
        })
        .collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.seq));
    let total = groups.len();
    let listed = groups
        .iter()
        .skip((page as usize - 1).saturating_mul(size as usize))
        .take(size as usize)
        .map(|g| info(g, true))
        .collect();
    answer(
        &QueryDeviceGroupListResponse {
            current_page: page,
            page_size: size,
            page_count: page_count(total, size),
            total: u32::try_from(total).unwrap_or(u32::MAX),
            data: GroupInfoList { groups: listed },
        },
        false,
    )
}

fn set_tags(
    store: &mut Store,
    ctx: &Context<'_>,
    request: SetDeviceGroupTags,
) -> Result<Answer, Reject> {
    if request.tags.len() > wire::MAX_GROUP_TAGS {
        return Err(Reject::business(
            codes::CHECK_INVALID_PARAMETER,
            "A group holds at most 100 tags.",
        ));
    }
    if let Some(bad) = request
        .tags
        .iter()
        .find(|t| !wire::is_valid_tag_key(&t.tag_key))
    {
        return Err(Reject::business(
            codes::CHECK_INVALID_PARAMETER,
            &format!("The tag key {} is not valid.", bad.tag_key),
        ));
    }
    let group = group_mut(store, ctx, &request.group_id)?;
    group.tags = request
        .tags
        .into_iter()
        .map(|t| (t.tag_key, t.tag_value))
        .collect();
    answer(&Empty {}, true)
}

/// Checks a relation call's size and that every device exists; returns the existing ones.
fn existing_members(
    store: &Store,
    ctx: &Context<'_>,
    devices: &[Member],
) -> Result<Vec<Member>, Reject> {
    if devices.len() > wire::MAX_GROUP_RELATIONS {
        return Err(Reject::business(
            codes::DEVICE_COUNT_EXCEEDED,
            "At most 200 devices per call.",
        ));
    }
    Ok(devices
        .iter()
        .filter(|m| {
            find_device(store, ctx, &DeviceRef::name(&m.product_key, &m.device_name)).is_ok()
        })
        .cloned()
        .collect())
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn add_members(
    store: &mut Store,
    ctx: &Context<'_>,
    request: &BatchAddDeviceGroupRelations,
) -> Result<Answer, Reject> {
    group(store, ctx, &request.group_id)?;
    let valid = existing_members(store, ctx, &request.devices)?;
    let (mut added, mut already, mut exceeded) = (0, 0, 0);
    for member in &valid {
        if store.groups[&request.group_id].members.contains(member) {
            already += 1;
        } else if store.groups_of(member) >= wire::MAX_GROUPS_PER_DEVICE {
            exceeded += 1;
        } else if let Some(group) = store.groups.get_mut(&request.group_id) {
            group.members.insert(member.clone());
            added += 1;
        }
    }
    answer(
        &BatchAddDeviceGroupRelationsResponse {
            valid_device_count: count(valid.len()),
            success_added_device_count: added,
            already_related_group_device_count: already,
            exceed_ten_group_device_count: exceeded,
        },
        added > 0,
    )
}

fn remove_members(
    store: &mut Store,
    ctx: &Context<'_>,
    request: &BatchDeleteDeviceGroupRelations,
) -> Result<Answer, Reject> {
    group(store, ctx, &request.group_id)?;
    let valid = existing_members(store, ctx, &request.devices)?;
    let group = group_mut(store, ctx, &request.group_id)?;
    let removed = valid.iter().filter(|m| group.members.remove(*m)).count();
    answer(
        &BatchDeleteDeviceGroupRelationsResponse {
            valid_device_count: count(valid.len()),
            success_device_count: count(removed),
            already_related_group_device_count: count(removed),
        },
        removed > 0,
    )
}

fn simple_info(store: &Store, member: &Member) -> SimpleDeviceInfo {
    let device = store
        .devices
        .get(&member.product_key)
        .and_then(|d| d.by_name.get(&member.device_name));
    SimpleDeviceInfo {
        product_key: member.product_key.clone(),
        product_name: store
            .products
            .get(&member.product_key)
            .map(|p| p.name.clone())
            .unwrap_or_default(),
        device_name: member.device_name.clone(),
        iot_id: device.map(|d| d.iot_id.clone()).unwrap_or_default(),
    }
}

fn members(
    store: &Store,
    ctx: &Context<'_>,
    request: &QueryDeviceListByDeviceGroup,
) -> Result<Answer, Reject> {
    let size = page_size(request.page_size, 10, MAX_MEMBER_PAGE_SIZE)?;
    let page = current_page(request.current_page)?;
    let group = group(store, ctx, &request.group_id)?;
    let total = group.members.len();
    let devices = group
        .members
        .iter()
        .skip((page as usize - 1).saturating_mul(size as usize))
        .take(size as usize)
        .map(|m| simple_info(store, m))
        .collect();
    answer(
        &QueryDeviceListByDeviceGroupResponse {
            page,
            page_size: size,
            page_count: page_count(total, size),
            total: count(total),
            data: SimpleDeviceInfoList { devices },
        },
        false,
    )
}

fn groups_of_device(
    store: &Store,
    ctx: &Context<'_>,
    request: &QueryDeviceGroupByDevice,
) -> Result<Answer, Reject> {
    let member = &request.device;
    find_device(
        store,
        ctx,
        &DeviceRef::name(&member.product_key, &member.device_name),
    )?;
    let mut groups: Vec<&Group> = store
        .groups
        .values()
        .filter(|g| g.members.contains(member))
        .collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.seq));
    answer(
        &QueryDeviceGroupByDeviceResponse {
            group_infos: GroupInfoList {
                groups: groups.into_iter().map(|g| info(g, true)).collect(),
            },
        },
        false,
    )
}
