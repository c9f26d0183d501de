"""The official Python SDK drives the emulator's device groups, product maintenance and the
everyday single-device calls users' own scripts make; every response parses into the SDK's
models with the fields set. Each test runs with both signature schemes."""

import pytest
from alibabacloud_iot20180120 import models as m

from test_official_sdk import ALGORITHMS, create_product, make_client, wait_status


def register(client, pk, names):
    check = client.batch_check_device_names(m.BatchCheckDeviceNamesRequest(product_key=pk, device_name=names)).body
    assert check.success, check.error_message
    wait_status(client, pk, check.data.apply_id, "CHECK_SUCCESS")
    client.batch_register_device_with_apply_id(m.BatchRegisterDeviceWithApplyIdRequest(product_key=pk, apply_id=check.data.apply_id))
    wait_status(client, pk, check.data.apply_id, "CREATE_SUCCESS")


def create_group(client, name, parent=None, desc=None):
    body = client.create_device_group(m.CreateDeviceGroupRequest(group_name=name, super_group_id=parent, group_desc=desc)).body
    assert body.success, body.error_message
    assert body.data.group_name == name and body.data.group_id and body.data.utc_create
    return body.data.group_id


def member(pk, name):
    return m.BatchAddDeviceGroupRelationsRequestDevice(product_key=pk, device_name=name)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_group_tree_tags_and_limits(emulator, algorithm):
    client = make_client(emulator.host, algorithm)
    tag = algorithm.replace("-", "_")
    top = create_group(client, f"site_{tag}", desc="the site")
    floor = create_group(client, f"floor_{tag}", parent=top)
    room = create_group(client, f"room_{tag}", parent=floor)

    too_deep = client.create_device_group(m.CreateDeviceGroupRequest(group_name=f"desk_{tag}", super_group_id=room)).body
    assert not too_deep.success and too_deep.code == "iot.group.GroupLevelExceedMax"
    taken = client.create_device_group(m.CreateDeviceGroupRequest(group_name=f"site_{tag}")).body
    assert not taken.success and taken.code == "iot.check.InvalidFormattedParameter"
    short = client.create_device_group(m.CreateDeviceGroupRequest(group_name="ab")).body
    assert not short.success and short.code == "iot.group.InvalidFormattedGroupName"

    tops = client.query_device_group_list(m.QueryDeviceGroupListRequest(current_page=1, page_size=200, group_name=f"_{tag}")).body
    assert tops.success and tops.current_page == 1 and tops.page_size == 200
    assert [g.group_name for g in tops.data.group_info] == [f"site_{tag}"]
    assert tops.data.group_info[0].group_type == "LINK_PLATFORM" and tops.data.group_info[0].group_desc == "the site"
    children = client.query_device_group_list(m.QueryDeviceGroupListRequest(super_group_id=top)).body
    assert [g.group_id for g in children.data.group_info] == [floor] and children.total == 1

    assert client.update_device_group(m.UpdateDeviceGroupRequest(group_id=floor, group_desc="third floor")).body.success
    info = client.query_device_group_info(m.QueryDeviceGroupInfoRequest(group_id=floor)).body
    assert info.success and info.data.group_desc == "third floor" and info.data.device_count == 0

    tags = '[{"tagKey":"owner","tagValue":"facilities"},{"tagKey":"tier","tagValue":"gold"}]'
    assert client.set_device_group_tags(m.SetDeviceGroupTagsRequest(group_id=top, tag_string=tags)).body.success
    listed = client.query_device_group_tag_list(m.QueryDeviceGroupTagListRequest(group_id=top)).body
    assert {(t.tag_key, t.tag_value) for t in listed.data.group_tag_info} == {("owner", "facilities"), ("tier", "gold")}

    refused = client.delete_device_group(m.DeleteDeviceGroupRequest(group_id=floor)).body
    assert not refused.success and refused.code == "iot.group.SubGroupNotNull"
    for group in (room, floor, top):
        assert client.delete_device_group(m.DeleteDeviceGroupRequest(group_id=group)).body.success
    gone = client.query_device_group_info(m.QueryDeviceGroupInfoRequest(group_id=top)).body
    assert not gone.success and gone.code == "iot.group.NotExistedGroup"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_membership_counts_paging_and_the_ten_group_limit(emulator, algorithm):
    client = make_client(emulator.host, algorithm)
    tag = algorithm.replace("-", "_")
    pk = create_product(client, f"members_{tag}")
    names = [f"mem-{n:03}" for n in range(1, 121)]
    register(client, pk, names)
    group = create_group(client, f"hvac_{tag}")

    added = client.batch_add_device_group_relations(
        m.BatchAddDeviceGroupRelationsRequest(group_id=group, device=[member(pk, n) for n in names] + [member(pk, "nope-1")])
    ).body
    assert added.success, added.error_message
    assert (added.valid_device_count, added.success_added_device_count, added.already_related_group_device_count) == (120, 120, 0)
    again = client.batch_add_device_group_relations(m.BatchAddDeviceGroupRelationsRequest(group_id=group, device=[member(pk, names[0])])).body
    assert again.already_related_group_device_count == 1 and again.success_added_device_count == 0

    seen = []
    page = 1
    while True:
        body = client.query_device_list_by_device_group(m.QueryDeviceListByDeviceGroupRequest(group_id=group, current_page=page, page_size=50)).body
        assert body.success and body.total == 120 and body.page_count == 3 and body.page == page
        seen += [(d.product_key, d.device_name, bool(d.iot_id)) for d in body.data.simple_device_info]
        if page == body.page_count:
            break
        page += 1
    assert sorted(seen) == sorted((pk, n, True) for n in names)

    stats = client.query_device_statistics(m.QueryDeviceStatisticsRequest(group_id=group)).body
    assert stats.success and stats.data.device_count == 120

    extra = [create_group(client, f"extra_{n}_{tag}") for n in range(9)]
    for g in extra:
        client.batch_add_device_group_relations(m.BatchAddDeviceGroupRelationsRequest(group_id=g, device=[member(pk, names[0])]))
    eleventh = create_group(client, f"eleventh_{tag}")
    over = client.batch_add_device_group_relations(
        m.BatchAddDeviceGroupRelationsRequest(group_id=eleventh, device=[member(pk, names[0]), member(pk, names[1])])
    ).body
    assert over.success and over.exceed_ten_group_device_count == 1 and over.success_added_device_count == 1
    of_device = client.query_device_group_by_device(m.QueryDeviceGroupByDeviceRequest(product_key=pk, device_name=names[0])).body
    assert of_device.success and len(of_device.group_infos.group_info) == 10

    removed = client.batch_delete_device_group_relations(
        m.BatchDeleteDeviceGroupRelationsRequest(
            group_id=group, device=[m.BatchDeleteDeviceGroupRelationsRequestDevice(product_key=pk, device_name=n) for n in names[:30]]
        )
    ).body
    assert removed.success and removed.valid_device_count == 30 and removed.success_device_count == 30
    info = client.query_device_group_info(m.QueryDeviceGroupInfoRequest(group_id=group)).body
    assert info.data.device_count == 90

    too_many = client.batch_add_device_group_relations(
        m.BatchAddDeviceGroupRelationsRequest(group_id=group, device=[member(pk, f"x-{n:04}") for n in range(201)])
    ).body
    assert not too_many.success and too_many.code == "iot.device.DeviceCountExceeded"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_everyday_device_calls(emulator, algorithm):
    client = make_client(emulator.host, algorithm)
    tag = algorithm.replace("-", "_")
    pk = create_product(client, f"everyday_{tag}")
    made = client.register_device(m.RegisterDeviceRequest(product_key=pk, device_name="desk-lamp", nickname="Desk_lamp")).body
    assert made.success, made.error_message
    assert made.data.device_name == "desk-lamp" and made.data.iot_id and made.data.device_secret
    twice = client.register_device(m.RegisterDeviceRequest(product_key=pk, device_name="desk-lamp")).body
    assert not twice.success and twice.code == "iot.device.AlreadyExistedDeviceName"
    random = client.register_device(m.RegisterDeviceRequest(product_key=pk)).body
    assert random.success and len(random.data.device_name) >= 4

    detail = client.query_device_detail(m.QueryDeviceDetailRequest(iot_id=made.data.iot_id)).body
    assert detail.success, detail.error_message
    assert (detail.data.device_name, detail.data.nickname, detail.data.status, detail.data.product_key) == ("desk-lamp", "Desk_lamp", "UNACTIVE", pk)
    assert detail.data.utc_create and detail.data.region == "cn-shanghai" and detail.data.owner is True
    info = client.query_device_info(m.QueryDeviceInfoRequest(product_key=pk, device_name="desk-lamp")).body
    assert info.success and info.data.iot_id == made.data.iot_id and info.data.device_secret == made.data.device_secret
    client.disable_thing(m.DisableThingRequest(product_key=pk, device_name="desk-lamp"))
    status = client.get_device_status(m.GetDeviceStatusRequest(product_key=pk, device_name="desk-lamp")).body
    assert status.success and status.data.status == "DISABLE" and status.data.timestamp > 0
    stats = client.query_device_statistics(m.QueryDeviceStatisticsRequest(product_key=pk)).body
    assert stats.success and stats.data.device_count == 2
    missing = client.query_device_detail(m.QueryDeviceDetailRequest(product_key=pk, device_name="nope-1")).body
    assert not missing.success and missing.code == "iot.device.NotExistedDevice"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_product_update_tags_and_delete(emulator, algorithm):
    client = make_client(emulator.host, algorithm)
    tag = algorithm.replace("-", "_")
    pk = create_product(client, f"maint_{tag}")
    assert client.update_product(m.UpdateProductRequest(product_key=pk, product_name=f"renamed_{tag}", description="new words")).body.success
    product = client.query_product(m.QueryProductRequest(product_key=pk)).body
    assert product.data.product_name == f"renamed_{tag}" and product.data.description == "new words"

    tags = [m.CreateProductTagsRequestProductTag(tag_key="team", tag_value="lights"), m.CreateProductTagsRequestProductTag(tag_key="cost", tag_value="c1")]
    created = client.create_product_tags(m.CreateProductTagsRequest(product_key=pk, product_tag=tags)).body
    assert created.success and created.invalid_product_tags is None
    repeated = client.create_product_tags(m.CreateProductTagsRequest(product_key=pk, product_tag=tags[:1])).body
    assert repeated.success and [t.tag_key for t in repeated.invalid_product_tags.product_tag] == ["team"]
    assert client.update_product_tags(
        m.UpdateProductTagsRequest(product_key=pk, product_tag=[m.UpdateProductTagsRequestProductTag(tag_key="cost", tag_value="c2")])
    ).body.success
    assert client.delete_product_tags(m.DeleteProductTagsRequest(product_key=pk, product_tag_key=["team"])).body.success
    listed = client.list_product_tags(m.ListProductTagsRequest(product_key=pk)).body
    assert [(t.tag_key, t.tag_value) for t in listed.data.product_tag] == [("cost", "c2")]

    register(client, pk, ["keep-001"])
    refused = client.delete_product(m.DeleteProductRequest(product_key=pk)).body
    assert not refused.success and refused.code == "iot.prod.ProductHasDevices"
    assert client.delete_device(m.DeleteDeviceRequest(product_key=pk, device_name="keep-001")).body.success
    assert client.delete_product(m.DeleteProductRequest(product_key=pk)).body.success
    gone = client.query_product(m.QueryProductRequest(product_key=pk)).body
    assert not gone.success and gone.code == "iot.prod.NotExistedProduct"
