"""The official credentials library (alibabacloud-credentials) obtains temporary credentials from
the emulator's STS (AssumeRole, AssumeRoleWithOIDC), its instance metadata service and its
credentials URI; the official IoT SDK then calls the emulator with them, with either signature.
Credentials past their expiry are refused as the platform refuses them."""

import json
import time
import urllib.request

import pytest
from alibabacloud_credentials.exceptions import CredentialException
from alibabacloud_credentials.provider import (
    EcsRamRoleCredentialsProvider,
    OIDCRoleArnCredentialsProvider,
    RamRoleArnCredentialsProvider,
    URLCredentialsProvider,
)
from alibabacloud_iot20180120 import models as m
from alibabacloud_iot20180120.client import Client
from alibabacloud_tea_openapi import models as open_api_models
from alibabacloud_tea_openapi.exceptions import ClientException

from conftest import KEY_ID, KEY_SECRET, Emulator

ACCOUNT = "1234567890123456"
ROLE = f"acs:ram::{ACCOUNT}:role/iotplan-deployer"
PROVIDER = f"acs:ram::{ACCOUNT}:oidc-provider/iotplan-emulator"
ALGORITHMS = ["v3-default", "v2"]


def iot_client(host, credentials, algorithm):
    config = open_api_models.Config(
        access_key_id=credentials.get_access_key_id(),
        access_key_secret=credentials.get_access_key_secret(),
        security_token=credentials.get_security_token(),
        endpoint=host,
        protocol="http",
        region_id="cn-shanghai",
    )
    if algorithm == "v2":
        config.signature_algorithm = "v2"
    return Client(config)


def assert_iot_works(host, credentials, algorithm):
    assert credentials.get_access_key_id().startswith("STS.")
    assert credentials.get_security_token()
    body = iot_client(host, credentials, algorithm).query_product(
        m.QueryProductRequest(product_key="a1BigFleet01")
    ).body
    assert body.success, body.error_message
    assert body.data.product_key == "a1BigFleet01"


def oidc_token_file(host, tmp_path, **query):
    url = f"http://{host}/_emulator/oidc/token?" + "&".join(f"{k}={v}" for k, v in query.items())
    request = urllib.request.Request(url, headers={"Authorization": "Bearer job-token"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        token = json.load(answer)["value"]
    path = tmp_path / "token"
    path.write_text(token)
    return str(path)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_assume_role(emulator, algorithm):
    provider = RamRoleArnCredentialsProvider(
        access_key_id=KEY_ID,
        access_key_secret=KEY_SECRET,
        role_arn=ROLE,
        role_session_name="conformance",
        sts_endpoint=f"http://{emulator.host}",
    )
    assert_iot_works(emulator.host, provider.get_credentials(), algorithm)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_assume_role_with_oidc(emulator, algorithm, tmp_path):
    provider = OIDCRoleArnCredentialsProvider(
        role_arn=ROLE,
        oidc_provider_arn=PROVIDER,
        oidc_token_file_path=oidc_token_file(emulator.host, tmp_path),
        role_session_name="conformance",
        sts_endpoint=f"http://{emulator.host}",
    )
    assert_iot_works(emulator.host, provider.get_credentials(), algorithm)


def test_sts_errors_reach_the_library(emulator, tmp_path):
    unknown = RamRoleArnCredentialsProvider(
        access_key_id=KEY_ID,
        access_key_secret=KEY_SECRET,
        role_arn=f"acs:ram::{ACCOUNT}:role/nobody",
        role_session_name="conformance",
        sts_endpoint=f"http://{emulator.host}",
    )
    with pytest.raises(CredentialException, match="EntityNotExist.Role"):
        unknown.get_credentials()
    wrong_key = RamRoleArnCredentialsProvider(
        access_key_id=KEY_ID,
        access_key_secret="not-the-secret",
        role_arn=ROLE,
        role_session_name="conformance",
        sts_endpoint=f"http://{emulator.host}",
    )
    with pytest.raises(CredentialException, match="SignatureDoesNotMatch"):
        wrong_key.get_credentials()
    audience = OIDCRoleArnCredentialsProvider(
        role_arn=ROLE,
        oidc_provider_arn=PROVIDER,
        oidc_token_file_path=oidc_token_file(emulator.host, tmp_path, audience="someone-else"),
        role_session_name="conformance",
        sts_endpoint=f"http://{emulator.host}",
    )
    with pytest.raises(CredentialException, match="AuthenticationFail.OIDCToken.AudienceNotMatch"):
        audience.get_credentials()


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_credentials_uri(emulator, algorithm):
    provider = URLCredentialsProvider(uri=f"http://{emulator.host}/_emulator/credentials")
    assert_iot_works(emulator.host, provider.get_credentials(), algorithm)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_ecs_instance_metadata(emulator, algorithm):
    provider = EcsRamRoleCredentialsProvider(async_update_enabled=False)
    # The library's metadata address is fixed at 100.100.100.200; the emulator stands in for it.
    provider._EcsRamRoleCredentialsProvider__metadata_service_host = f"http://{emulator.host}"
    assert_iot_works(emulator.host, provider.get_credentials(), algorithm)


@pytest.fixture(scope="module")
def short_lived_emulator(tmp_path_factory):
    emu = Emulator(tmp_path_factory.mktemp("emu-sts"), "--qps-scale", "0", "--sts-max-lifetime", "2")
    yield emu
    emu.stop()


def test_expired_credentials_are_refused(short_lived_emulator):
    host = short_lived_emulator.host
    provider = URLCredentialsProvider(uri=f"http://{host}/_emulator/credentials")
    credentials = provider.get_credentials()
    assert_iot_works(host, credentials, "v3-default")
    time.sleep(2.5)
    with pytest.raises(ClientException) as refused:
        iot_client(host, credentials, "v2").query_product(m.QueryProductRequest(product_key="a1BigFleet01"))
    assert refused.value.code == "InvalidSecurityToken.Expired"
