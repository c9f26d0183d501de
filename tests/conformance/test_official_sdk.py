"""The official Python SDK (alibabacloud-iot20180120) drives the emulator through every operation
iotplan uses; every response must parse into the SDK's models with the fields set.

Each test runs twice: with the SDK's default V3 signature (ACS3-HMAC-SHA256) and with
signature_algorithm='v2' (the v1.0 HMAC-SHA1 scheme iotplan itself sends)."""

import time

import pytest
from alibabacloud_iot20180120 import models as m
from alibabacloud_iot20180120.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.utils import Utils

from conftest import KEY_ID, KEY_SECRET

ALGORITHMS = ["v3-default", "v2"]


def make_client(host, algorithm, secret=KEY_SECRET):
    config = open_api_models.Config(
        access_key_id=KEY_ID,
        access_key_secret=secret,
        endpoint=host,
        protocol="http",
        region_id="cn-shanghai",
    )
    if algorithm == "v2":
        config.signature_algorithm = "v2"
    return Client(config)


def wait_status(client, pk, apply_id, wanted):
    deadline = time.time() + 20
    while time.time() < deadline:
        body = client.query_batch_register_device_status(
            m.QueryBatchRegisterDeviceStatusRequest(product_key=pk, apply_id=apply_id)
        ).body
        assert body.success, body.error_message
        if body.data.status not in ("CHECK", "CREATE"):
            assert body.data.status == wanted, body.data.status
            return body
        time.sleep(0.1)
    raise AssertionError(f"application {apply_id} never left its pending state")


def create_product(client, name):
    body = client.create_product(m.CreateProductRequest(product_name=name, node_type=0, publish_auto=False)).body
    assert body.success, body.error_message
    assert body.product_key and body.data.product_key == body.product_key
    assert body.data.product_name == name
    assert body.data.product_secret
    return body.product_key


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_batch_registration_flow(emulator, algorithm):
    client = make_client(emulator.host, algorithm)
    pk = create_product(client, f"flow_{algorithm.replace('-', '_')}")

    check = client.batch_check_device_names(
        m.BatchCheckDeviceNamesRequest(
            product_key=pk,
            device_name_list=[
                m.BatchCheckDeviceNamesRequestDeviceNameList(device_name="light1", device_nickname="智能灯1"),
                m.BatchCheckDeviceNamesRequestDeviceNameList(device_name="light2", device_nickname="客厅_灯2"),
                m.BatchCheckDeviceNamesRequestDeviceNameList(device_name="light3"),
            ],
        )
    ).body
    assert check.success, check.error_message
    apply_id = check.data.apply_id
    assert isinstance(apply_id, int)

    status = wait_status(client, pk, apply_id, "CHECK_SUCCESS")
    assert status.data.valid_list.name == [] and status.data.invalid_list.name == []

    reg = client.batch_register_device_with_apply_id(
        m.BatchRegisterDeviceWithApplyIdRequest(product_key=pk, apply_id=apply_id)
    ).body
    assert reg.success and reg.data.apply_id == apply_id
    wait_status(client, pk, apply_id, "CREATE_SUCCESS")

    page = client.query_page_by_apply_id(m.QueryPageByApplyIdRequest(apply_id=apply_id, page_size=2, current_page=1)).body
    assert page.success and page.total == 3 and page.page_count == 2 and page.page == 1
    infos = page.apply_device_list.apply_device_info
    assert [i.device_name for i in infos] == ["light1", "light2"]
    assert all(len(i.device_secret) == 32 and i.iot_id and i.device_id == i.iot_id for i in infos)

    # Names that already exist are accepted, then reported as CHECK_FAILED with details.
    again = client.batch_check_device_names(
        m.BatchCheckDeviceNamesRequest(product_key=pk, device_name=["light1", "light9"])
    ).body
    failed = wait_status(client, pk, again.data.apply_id, "CHECK_FAILED")
    assert failed.data.invalid_list.name == ["light1"]
    assert failed.data.valid_list.name == ["light9"]
    detail = failed.data.invalid_detail_list.invalid_detail_list[0]
    assert detail.device_name == "light1" and detail.error_msg

    # Malformed and repeated names are refused at once, with the lists filled in.
    bad = client.batch_check_device_names(
        m.BatchCheckDeviceNamesRequest(product_key=pk, device_name=["ab", "okname", "okname"])
    ).body
    assert not bad.success and bad.code == "iot.device.InvalidFormattedDeviceName"
    assert bad.data.invalid_device_name_list.invalid_device_name == ["ab"]
    assert bad.data.repeated_device_name_list.repeat_devie_name_list == ["okname"]

    # BatchRegisterDevice (random names) goes straight to creation.
    rnd = client.batch_register_device(m.BatchRegisterDeviceRequest(product_key=pk, count=2)).body
    assert rnd.success
    wait_status(client, pk, rnd.data.apply_id, "CREATE_SUCCESS")


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_query_device_paging_past_ten_thousand(emulator, algorithm):
    client = make_client(emulator.host, algorithm)
    seen, token, page = [], None, 1
    while True:
        body = client.query_device(
            m.QueryDeviceRequest(product_key="a1BigFleet01", page_size=50, current_page=page, next_token=token)
        ).body
        assert body.success, body.error_message
        assert body.total == 10120 and body.page_size == 50 and body.page == page
        infos = body.data.device_info
        assert all(d.device_secret and d.iot_id and d.device_status == "UNACTIVE" for d in infos)
        seen.extend(d.device_name for d in infos)
        token = body.next_token
        if not token:
            break
        page += 1
    assert page == 203
    assert len(seen) == 10120 and len(set(seen)) == 10120
    assert seen[0] == "meter-10120"  # newest first

    deep = client.query_device(m.QueryDeviceRequest(product_key="a1BigFleet01", page_size=50, current_page=202)).body
    assert not deep.success and deep.code == "iot.common.InvalidPageParams"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_device_mutations(emulator, algorithm):
    client = make_client(emulator.host, algorithm)
    pk = create_product(client, f"mut_{algorithm.replace('-', '_')}")
    check = client.batch_check_device_names(m.BatchCheckDeviceNamesRequest(product_key=pk, device_name=["dev-a", "dev-b"])).body
    wait_status(client, pk, check.data.apply_id, "CHECK_SUCCESS")
    client.batch_register_device_with_apply_id(m.BatchRegisterDeviceWithApplyIdRequest(product_key=pk, apply_id=check.data.apply_id))
    wait_status(client, pk, check.data.apply_id, "CREATE_SUCCESS")

    nick = client.batch_update_device_nickname(
        m.BatchUpdateDeviceNicknameRequest(
            device_nickname_info=[m.BatchUpdateDeviceNicknameRequestDeviceNicknameInfo(product_key=pk, device_name="dev-a", nickname="Lobby_sensor")]
        )
    ).body
    assert nick.success, nick.error_message

    details = client.batch_query_device_detail(m.BatchQueryDeviceDetailRequest(product_key=pk, device_name=["dev-a", "dev-b", "nope"])).body
    assert details.success
    by_name = {d.device_name: d for d in details.data.data}
    assert set(by_name) == {"dev-a", "dev-b"}
    assert by_name["dev-a"].nickname == "Lobby_sensor" and by_name["dev-a"].product_key == pk

    assert client.disable_thing(m.DisableThingRequest(product_key=pk, device_name="dev-b")).body.success
    state = client.batch_get_device_state(m.BatchGetDeviceStateRequest(product_key=pk, device_name=["dev-a", "dev-b"])).body
    statuses = {s.device_name: s.status for s in state.device_status_list.device_status}
    assert statuses == {"dev-a": "UNACTIVE", "dev-b": "DISABLE"}
    assert client.enable_thing(m.EnableThingRequest(product_key=pk, device_name="dev-b")).body.success

    props = '{"site":"hq","floor":"3"}'
    assert client.save_device_prop(m.SaveDevicePropRequest(product_key=pk, device_name="dev-a", props=props)).body.success
    assert client.delete_device_prop(m.DeleteDevicePropRequest(product_key=pk, device_name="dev-a", prop_key="floor")).body.success
    got = client.query_device_prop(m.QueryDevicePropRequest(product_key=pk, device_name="dev-a")).body
    assert got.success and got.props == '{"site":"hq"}'

    assert client.delete_device(m.DeleteDeviceRequest(product_key=pk, device_name="dev-b")).body.success
    gone = client.delete_device(m.DeleteDeviceRequest(product_key=pk, device_name="dev-b")).body
    assert not gone.success and gone.code == "iot.device.NotExistedDevice"

    product = client.query_product(m.QueryProductRequest(product_key=pk)).body
    assert product.success and product.data.device_count == 1 and product.data.product_status == "DEVELOPMENT_STATUS"
    listing = client.query_product_list(m.QueryProductListRequest(current_page=1, page_size=200)).body
    assert listing.success and pk in [p.product_key for p in listing.data.list.product_info]

    unknown = client.query_device(m.QueryDeviceRequest(product_key="a1NoSuchProd", page_size=10)).body
    assert not unknown.success and unknown.code == "iot.prod.NotExistedProduct"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_wrong_secret_is_refused(emulator, algorithm):
    client = make_client(emulator.host, algorithm, secret="not-the-secret")
    with pytest.raises(ClientException) as raised:
        client.query_product_list(m.QueryProductListRequest(current_page=1, page_size=10))
    assert raised.value.code in ("SignatureDoesNotMatch", "InvalidAccessKeySecret")
    assert raised.value.status_code == 400


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_replayed_nonce_is_refused(emulator, algorithm, monkeypatch):
    client = make_client(emulator.host, algorithm)
    nonce = f"fixed-nonce-{algorithm}-{time.time_ns()}"
    monkeypatch.setattr(Utils, "get_nonce", staticmethod(lambda: nonce))
    assert client.query_product_list(m.QueryProductListRequest(current_page=1, page_size=10)).body.success
    with pytest.raises(ClientException) as raised:
        client.query_product_list(m.QueryProductListRequest(current_page=1, page_size=10))
    assert raised.value.code == "SignatureNonceUsed"


def test_throttling_answers_carry_retry_after(throttled_emulator):
    client = make_client(throttled_emulator.host, "v3-default")
    codes = []
    for _ in range(12):
        try:
            client.batch_query_device_detail(m.BatchQueryDeviceDetailRequest(product_key="a1BigFleet01", device_name=["meter-00001"]))
            codes.append("ok")
        except Exception as error:  # the SDK raises ThrottlingException when x-acs-retry-after is present
            codes.append(getattr(error, "code", type(error).__name__))
            assert getattr(error, "retry_after", None), "throttling answers carry x-acs-retry-after"
    assert codes[:5] == ["ok"] * 5
    assert "Throttling.User" in codes


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_query_device_by_sql_counts_pages_and_returns_tags(emulator, algorithm):
    client = make_client(emulator.host, algorithm)
    count = client.query_device_by_sql(m.QueryDeviceBySQLRequest(
        iot_instance_id="iot-conform01",
        sql="SELECT count(*) FROM device WHERE product_key = 'a1SqlFleet01'",
    )).body
    assert count.success, count.error_message
    assert count.total_count == 120 and count.data == []

    rows, offset = [], 0
    while True:
        body = client.query_device_by_sql(m.QueryDeviceBySQLRequest(
            iot_instance_id="iot-conform01",
            sql=f"SELECT * FROM device WHERE product_key = 'a1SqlFleet01' ORDER BY gmt_create LIMIT {offset},50",
        )).body
        assert body.success, body.error_message
        rows.extend(body.data)
        if len(body.data) < 50:
            break
        offset += 50
    assert len(rows) == 120 and len({r.iot_id for r in rows}) == 120
    first = rows[0]
    assert first.device_name == "sql-dev-001" and first.nickname == "Room_1" and first.status == "UNACTIVE"
    assert {(t.tag_name, t.tag_value) for t in first.tags} == {("room", "101"), ("floor", "3")}
    assert first.gmt_create

    tagged = client.query_device_by_sql(m.QueryDeviceBySQLRequest(
        iot_instance_id="iot-conform01",
        sql='SELECT * FROM device WHERE tag.tag_name = "room" AND tag.tag_value = "117" LIMIT 10',
    )).body
    assert [r.device_name for r in tagged.data] == ["sql-dev-017"]

    for sql, code in [
        ("SELECT * FROM device WHERE name LIKE '%dev' LIMIT 10", "iot.common.InvalidFormattedParameter"),
        ("SELECT * FROM device WHERE product_key = 'a1SqlFleet01' LIMIT 9990,20", "iot.common.InvalidPageParams"),
    ]:
        refused = client.query_device_by_sql(m.QueryDeviceBySQLRequest(iot_instance_id="iot-conform01", sql=sql)).body
        assert not refused.success and refused.code == code, sql
    public = client.query_device_by_sql(m.QueryDeviceBySQLRequest(
        sql="SELECT count(*) FROM device WHERE product_key = 'a1BigFleet01'")).body
    assert not public.success and public.code == "iot.common.APINotSupportedInInstance"


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_query_device_by_tags_matches_every_tag_and_pages(emulator, algorithm):
    client = make_client(emulator.host, algorithm)
    tag = m.QueryDeviceByTagsRequestTag

    def search(tags, page=1, size=50, instance="iot-conform01"):
        return client.query_device_by_tags(m.QueryDeviceByTagsRequest(
            iot_instance_id=instance, tag=tags, current_page=page, page_size=size)).body

    first = search([tag(tag_key="floor", tag_value="3")])
    assert first.success, first.error_message
    assert (first.total, first.page_count, first.page, first.page_size) == (120, 3, 1, 50)
    names = [d.device_name for d in first.data.simple_device_info]
    for page in (2, 3):
        names += [d.device_name for d in search([tag(tag_key="floor", tag_value="3")], page=page).data.simple_device_info]
    assert len(names) == len(set(names)) == 120
    assert names[0] == "sql-dev-120", "newest first"
    device = first.data.simple_device_info[0]
    assert device.product_key == "a1SqlFleet01" and device.iot_id and device.product_name

    both = search([tag(tag_key="room", tag_value="117"), tag(tag_key="floor", tag_value="3")])
    assert [d.device_name for d in both.data.simple_device_info] == ["sql-dev-017"]
    assert search([tag(tag_key="room", tag_value="117"), tag(tag_key="floor", tag_value="4")]).total == 0
    assert search([tag(tag_key="room")]).total == 120, "a key alone matches any value"
    assert search([tag(tag_key="floor", tag_value="3")], instance=None).total == 0, "another instance's devices"

    for tags, size, code in [
        ([tag(tag_key=f"k{n}", tag_value="v") for n in range(11)], 50, "iot.common.InvalidFormattedParameter"),
        ([tag(tag_key="floor", tag_value="3")], 51, "iot.common.InvalidPageParams"),
    ]:
        refused = search(tags, size=size)
        assert not refused.success and refused.code == code
