//! The client against the emulator: every operation, every error class, throttling, faults, paging,
//! hostile input.

use std::collections::BTreeMap;
use std::time::Duration;

use iotplan::emulator::{Config, DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, Emulator};
use iotplan::platform::paging::{list_devices, registered_devices};
use iotplan::platform::{Client, ClientConfig, Credentials, Error, ErrorKind};
use iotplan::secret::Secret;
use iotplan::wire::Action;
use iotplan::wire::ops::*;

use crate::support::{TestEnv, common, demo_credentials, now_ms, now_stamp, post, signed_v1};

async fn wait_for(client: &Client, product_key: &str, apply_id: i64) -> RegisterStatusData {
    for _ in 0..400 {
        let status = client
            .call(&QueryBatchRegisterDeviceStatus {
                product_key: product_key.to_owned(),
                apply_id,
            })
            .await
            .expect("status");
        if !status.data.status.is_pending() {
            return status.data;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("application {apply_id} stayed pending");
}

async fn register(client: &Client, product_key: &str, names: &[String]) -> Vec<ApplyDeviceInfo> {
    let check = client
        .call(&BatchCheckDeviceNames {
            product_key: product_key.to_owned(),
            devices: names
                .iter()
                .map(|n| NameToCheck {
                    name: n.clone(),
                    nickname: None,
                })
                .collect(),
        })
        .await
        .expect("check");
    let apply_id = check.data.apply_id.expect("apply id");
    assert_eq!(
        wait_for(client, product_key, apply_id).await.status,
        ApplyStatus::CheckSuccess
    );
    client
        .call(&BatchRegisterDeviceWithApplyId {
            product_key: product_key.to_owned(),
            apply_id,
        })
        .await
        .expect("register");
    assert_eq!(
        wait_for(client, product_key, apply_id).await.status,
        ApplyStatus::CreateSuccess
    );
    registered_devices(client, apply_id).await.expect("pages")
}

fn names(prefix: &str, count: usize) -> Vec<String> {
    (1..=count).map(|i| format!("{prefix}{i:05}")).collect()
}

#[tokio::test]
async fn every_operation_round_trips() {
    let env = TestEnv::fast().await.with_products(&["a1Product01"]);
    let client = env.client();
    let pk = "a1Product01";

    let registered = register(&client, pk, &names("dev-", 60)).await;
    assert_eq!(registered.len(), 60);
    assert!(
        registered
            .iter()
            .all(|d| d.device_secret.expose().len() == 32 && !d.iot_id.is_empty())
    );

    let listed = list_devices(&client, pk, |_, _| {}).await.expect("list");
    assert_eq!(listed.len(), 60);
    assert_eq!(listed[0].device_name, "dev-00060", "newest first");

    client
        .call(&BatchUpdateDeviceNickname {
            updates: vec![
                NicknameUpdate {
                    device: DeviceRef::name(pk, "dev-00001"),
                    nickname: Some("智能灯_1".into()),
                },
                NicknameUpdate {
                    device: DeviceRef::IotId(registered[1].iot_id.clone()),
                    nickname: Some("Lobby".into()),
                },
            ],
        })
        .await
        .expect("nicknames");
    let details = client
        .call(&BatchQueryDeviceDetail {
            product_key: pk.into(),
            device_names: vec!["dev-00001".into(), "dev-00002".into(), "missing".into()],
        })
        .await
        .expect("details");
    let nicknames: BTreeMap<_, _> = details
        .data
        .devices
        .iter()
        .map(|d| (d.device_name.clone(), d.nickname.clone()))
        .collect();
    assert_eq!(nicknames["dev-00001"].as_deref(), Some("智能灯_1"));
    assert_eq!(nicknames["dev-00002"].as_deref(), Some("Lobby"));
    assert_eq!(nicknames.len(), 2, "unknown names are left out");

    client
        .call(&DisableThing {
            device: DeviceRef::name(pk, "dev-00003"),
        })
        .await
        .expect("disable");
    let states = client
        .call(&BatchGetDeviceState {
            product_key: Some(pk.into()),
            device_names: vec!["dev-00003".into(), "dev-00004".into()],
            iot_ids: vec![],
        })
        .await
        .expect("state");
    let statuses: Vec<_> = states
        .device_status_list
        .states
        .iter()
        .map(|s| s.status.as_str())
        .collect();
    assert_eq!(statuses, ["DISABLE", "UNACTIVE"]);
    client
        .call(&EnableThing {
            device: DeviceRef::name(pk, "dev-00003"),
        })
        .await
        .expect("enable");

    client
        .call(&SaveDeviceProp {
            device: DeviceRef::name(pk, "dev-00005"),
            props: r#"{"site":"hq","room":"101","abc":"dropped"}"#.into(),
        })
        .await
        .expect("save tags");
    client
        .call(&DeleteDeviceProp {
            device: DeviceRef::name(pk, "dev-00005"),
            prop_key: "room".into(),
        })
        .await
        .expect("delete tag");
    let props = client
        .call(&QueryDeviceProp {
            device: DeviceRef::name(pk, "dev-00005"),
        })
        .await
        .expect("props");
    assert_eq!(props.props, r#"{"site":"hq"}"#);

    client
        .call(&DeleteDevice {
            device: DeviceRef::name(pk, "dev-00006"),
        })
        .await
        .expect("delete");
    let again = client
        .call(&DeleteDevice {
            device: DeviceRef::name(pk, "dev-00006"),
        })
        .await
        .expect_err("gone");
    assert_eq!(again.code(), Some("iot.device.NotExistedDevice"));

    let product = client
        .call(&QueryProduct {
            product_key: pk.into(),
        })
        .await
        .expect("product");
    assert_eq!(product.data.device_count, 59);
    let created = client
        .call(&CreateProduct {
            product_name: "second_product".into(),
            node_type: 1,
            ..CreateProduct::default()
        })
        .await
        .expect("create product");
    let products = client
        .call(&QueryProductList {
            current_page: 1,
            page_size: 10,
            aliyun_commodity_code: None,
        })
        .await
        .expect("products");
    assert_eq!(products.data.total, 2);
    assert_eq!(
        products.data.list.products[0].product_key, created.product_key,
        "newest first"
    );
    let duplicate = client
        .call(&CreateProduct {
            product_name: "second_product".into(),
            node_type: 1,
            ..CreateProduct::default()
        })
        .await
        .expect_err("duplicate name");
    assert_eq!(duplicate.code(), Some("iot.prod.AlreadyExistedProductName"));

    let random = client
        .call(&BatchRegisterDevice {
            product_key: pk.into(),
            count: 3,
        })
        .await
        .expect("random");
    let apply_id = random.data.apply_id.expect("apply id");
    assert_eq!(
        wait_for(&client, pk, apply_id).await.status,
        ApplyStatus::CreateSuccess
    );
    assert_eq!(
        registered_devices(&client, apply_id)
            .await
            .expect("random devices")
            .len(),
        3
    );
}

#[tokio::test]
async fn check_failures_and_creation_failures_are_reported() {
    let env = TestEnv::fast().await.with_products(&["a1Product01"]);
    env.running.emulator.with_store(|store| {
        store.fail_create.insert("doomed-1".into());
    });
    let client = env.client();
    register(&client, "a1Product01", &["taken-1".to_owned()]).await;

    let invalid = client
        .call(&BatchCheckDeviceNames {
            product_key: "a1Product01".into(),
            devices: vec![
                NameToCheck {
                    name: "x".into(),
                    nickname: None,
                },
                NameToCheck {
                    name: "fine-1".into(),
                    nickname: Some("has space".into()),
                },
            ],
        })
        .await
        .expect_err("malformed");
    let Error::Api(api) = &invalid else {
        panic!("{invalid}")
    };
    assert_eq!(api.kind, ErrorKind::Business);
    assert_eq!(api.code, "iot.device.InvalidFormattedDeviceName");
    let data: BatchCheckData =
        serde_json::from_value(api.data.clone().expect("lists")).expect("parses");
    assert_eq!(data.invalid_device_name_list.expect("names").names, ["x"]);
    assert_eq!(
        data.invalid_device_nickname_list
            .expect("nicknames")
            .nicknames,
        ["has space"]
    );

    let check = client
        .call(&BatchCheckDeviceNames {
            product_key: "a1Product01".into(),
            devices: ["taken-1", "new-1"]
                .iter()
                .map(|n| NameToCheck {
                    name: (*n).into(),
                    nickname: None,
                })
                .collect(),
        })
        .await
        .expect("accepted");
    let status = wait_for(&client, "a1Product01", check.data.apply_id.expect("id")).await;
    assert_eq!(status.status, ApplyStatus::CheckFailed);
    assert_eq!(status.invalid_list.names, ["taken-1"]);
    assert_eq!(status.valid_list.names, ["new-1"]);
    let early = client
        .call(&BatchRegisterDeviceWithApplyId {
            product_key: "a1Product01".into(),
            apply_id: check.data.apply_id.expect("id"),
        })
        .await
        .expect_err("not checked");
    assert_eq!(early.code(), Some("iot.device.IncorrentDeviceApplyInfo"));

    let check = client
        .call(&BatchCheckDeviceNames {
            product_key: "a1Product01".into(),
            devices: ["doomed-1", "alive-1"]
                .iter()
                .map(|n| NameToCheck {
                    name: (*n).into(),
                    nickname: None,
                })
                .collect(),
        })
        .await
        .expect("accepted");
    let apply_id = check.data.apply_id.expect("id");
    wait_for(&client, "a1Product01", apply_id).await;
    client
        .call(&BatchRegisterDeviceWithApplyId {
            product_key: "a1Product01".into(),
            apply_id,
        })
        .await
        .expect("register");
    let status = wait_for(&client, "a1Product01", apply_id).await;
    assert_eq!(status.status, ApplyStatus::CreateFailed);
    assert_eq!(status.invalid_list.names, ["doomed-1"]);
    assert_eq!(status.valid_list.names, ["alive-1"]);
    assert_eq!(status.invalid_detail_list.items[0].device_name, "doomed-1");
}

#[tokio::test]
async fn paging_crosses_ten_thousand_with_next_token() {
    let env = TestEnv::fast().await;
    env.running.emulator.with_store(|store| {
        store.add_product(iotplan::emulator::seed::new_product(
            "a1BigFleet01",
            None,
            None,
            now_ms(),
        ));
        for i in 0..10_075 {
            store.create_device("a1BigFleet01", &format!("meter-{i:05}"), None, now_ms());
        }
    });
    let client = env.client();
    let devices = list_devices(&client, "a1BigFleet01", |_, _| {})
        .await
        .expect("all pages");
    assert_eq!(devices.len(), 10_075);
    let unique: std::collections::HashSet<_> =
        devices.iter().map(|d| d.device_name.as_str()).collect();
    assert_eq!(unique.len(), 10_075);
    assert_eq!(client.stats().of(Action::QueryDevice), 202);
    let deep = client
        .call(&QueryDevice {
            product_key: Some("a1BigFleet01".into()),
            page_size: Some(50),
            current_page: Some(202),
            next_token: None,
        })
        .await
        .expect_err("token required");
    assert_eq!(deep.code(), Some("iot.common.InvalidPageParams"));
}

#[tokio::test]
async fn throttling_slows_the_client_down_until_it_succeeds() {
    let env = TestEnv::start(Config {
        qps_scale: 4.0,
        ..Config::default()
    })
    .await
    .with_products(&["a1Product01"]);
    let mut config = env.client_config();
    config.qps_scale = 16.0;
    config.max_attempts = 10;
    let client = Client::new(config).expect("client");
    let calls = (0..60).map(|_| {
        let client = client.clone();
        async move {
            client
                .call(&BatchQueryDeviceDetail {
                    product_key: "a1Product01".into(),
                    device_names: vec!["nobody".into()],
                })
                .await
        }
    });
    let results = futures::future::join_all(calls).await;
    assert!(
        results.iter().all(Result::is_ok),
        "every call succeeds in the end"
    );
    let stats = client.stats();
    assert!(
        stats.throttled > 0,
        "the emulator's quota was hit: {stats:?}"
    );
    assert_eq!(stats.of(Action::BatchQueryDeviceDetail), 60 + stats.retries);
}

#[tokio::test]
async fn injected_faults_are_retried_without_duplicates() {
    let env = TestEnv::start(Config {
        qps_scale: 0.0,
        fail_rate: 0.3,
        ..Config::default()
    })
    .await
    .with_products(&["a1Product01"]);
    let mut config = env.client_config();
    config.max_attempts = 12;
    let client = Client::new(config).expect("client");
    let registered = register(&client, "a1Product01", &names("fault-", 300)).await;
    assert_eq!(registered.len(), 300);
    for name in names("fault-", 40) {
        client
            .call(&SaveDeviceProp {
                device: DeviceRef::name("a1Product01", &name),
                props: r#"{"site":"hq"}"#.into(),
            })
            .await
            .expect("tags");
    }
    let devices = list_devices(&client, "a1Product01", |_, _| {})
        .await
        .expect("list");
    assert_eq!(devices.len(), 300, "each device exactly once");
    assert!(
        client.stats().retries > 0,
        "faults were injected and retried"
    );
    let failures = env
        .running
        .emulator
        .requests()
        .iter()
        .filter(|r| r.code.as_deref() == Some("ServiceUnavailable"))
        .count();
    assert!(failures > 0);
}

#[tokio::test]
async fn gateway_errors_have_the_real_codes() {
    let env = TestEnv::fast().await.with_products(&["a1Product01"]);
    let mut params = common("QueryProduct", &now_stamp(), "nonce-1");
    params.insert("ProductKey".into(), "a1Product01".into());
    let query = signed_v1(params.clone(), DEMO_ACCESS_KEY_SECRET);
    assert_eq!(post(&env, &query, None).await.1["Success"], true);
    let (status, body) = post(&env, &query, None).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("SignatureNonceUsed"))
    );

    params.insert("SignatureNonce".into(), "nonce-2".into());
    let (status, body) = post(&env, &signed_v1(params.clone(), "wrong"), None).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("SignatureDoesNotMatch"))
    );
    assert!(
        body["Message"]
            .as_str()
            .unwrap_or_default()
            .contains("server string to sign is:POST&%2F&")
    );
    assert_eq!(
        body["HostId"].as_str().map(|h| h.starts_with("127.0.0.1")),
        Some(true)
    );

    let mut stale = common("QueryProduct", "2020-01-01T00:00:00Z", "nonce-3");
    stale.insert("ProductKey".into(), "a1Product01".into());
    let (status, body) = post(&env, &signed_v1(stale, DEMO_ACCESS_KEY_SECRET), None).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("InvalidTimeStamp.Expired"))
    );

    let mut malformed = common("QueryProduct", "yesterday", "nonce-4");
    malformed.insert("ProductKey".into(), "a1Product01".into());
    let (_, body) = post(&env, &signed_v1(malformed, DEMO_ACCESS_KEY_SECRET), None).await;
    assert_eq!(body["Code"], "InvalidTimeStamp.Format");

    let mut unknown_key = common("QueryProduct", &now_stamp(), "nonce-5");
    unknown_key.insert("AccessKeyId".into(), "who".into());
    let (status, body) = post(&env, &signed_v1(unknown_key, "x"), None).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (404, Some("InvalidAccessKeyId.NotFound"))
    );

    let mut missing = common("QueryProduct", &now_stamp(), "nonce-6");
    missing.remove("SignatureNonce");
    let (status, body) = post(&env, &signed_v1(missing, DEMO_ACCESS_KEY_SECRET), None).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("MissingSignatureNonce"))
    );

    let (status, body) = post(
        &env,
        &signed_v1(
            common("NoSuchAction", &now_stamp(), "nonce-7"),
            DEMO_ACCESS_KEY_SECRET,
        ),
        None,
    )
    .await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (404, Some("InvalidApi.NotFound"))
    );

    let mut version = common("QueryProduct", &now_stamp(), "nonce-8");
    version.insert("Version".into(), "2017-01-01".into());
    let (status, body) = post(&env, &signed_v1(version, DEMO_ACCESS_KEY_SECRET), None).await;
    assert_eq!(
        (status, body["Code"].as_str()),
        (400, Some("InvalidParameter"))
    );

    let mut xml = common("QueryProduct", &now_stamp(), "nonce-9");
    xml.insert("Format".into(), "XML".into());
    xml.insert("ProductKey".into(), "a1Product01".into());
    let response = reqwest::Client::new()
        .post(format!(
            "{}/?{}",
            env.running.endpoint(),
            signed_v1(xml, DEMO_ACCESS_KEY_SECRET)
        ))
        .send()
        .await
        .expect("answered");
    let text = response.text().await.expect("text");
    assert!(
        text.contains("<QueryProductResponse>")
            && text.contains("<ProductKey>a1Product01</ProductKey>"),
        "{text}"
    );

    // Tampering after signing is caught.
    let mut tampered = common("QueryProduct", &now_stamp(), "nonce-10");
    tampered.insert("ProductKey".into(), "a1Product01".into());
    let query = signed_v1(tampered, DEMO_ACCESS_KEY_SECRET).replace("a1Product01", "a1Product02");
    assert_eq!(
        post(&env, &query, None).await.1["Code"],
        "SignatureDoesNotMatch"
    );
}

#[tokio::test]
async fn the_client_reports_auth_errors_without_secrets() {
    let env = TestEnv::fast().await.with_products(&["a1Product01"]);
    let mut config = ClientConfig::new(
        env.running.endpoint(),
        Credentials {
            access_key_id: DEMO_ACCESS_KEY_ID.into(),
            access_key_secret: Secret::new("definitely-wrong-secret"),
            security_token: Some(Secret::new("token-that-must-not-leak")),
        },
    );
    config.max_attempts = 3;
    let client = Client::new(config).expect("client");
    let error = client
        .call(&QueryProduct {
            product_key: "a1Product01".into(),
        })
        .await
        .expect_err("refused");
    let text = format!("{error} {error:?} {client:?}");
    assert!(text.contains("SignatureDoesNotMatch"), "{text}");
    for secret in ["definitely-wrong-secret", "token-that-must-not-leak"] {
        assert!(!text.contains(secret), "{secret} leaked: {text}");
    }
    assert_eq!(
        client.stats().retries,
        0,
        "signature errors are not retried"
    );
    let Error::Api(api) = error else { panic!() };
    assert!(api.hint().is_some_and(|h| h.contains("secret")));
}

#[tokio::test]
async fn state_persists_and_a_corrupt_file_is_an_error() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state.json");
    {
        let env = TestEnv::start(Config {
            qps_scale: 0.0,
            state_file: Some(state.clone()),
            ..Config::default()
        })
        .await
        .with_products(&["a1Product01"]);
        register(&env.client(), "a1Product01", &names("kept-", 3)).await;
        env.running.stop().await.expect("saved");
    }
    let env = TestEnv::start(Config {
        qps_scale: 0.0,
        state_file: Some(state.clone()),
        ..Config::default()
    })
    .await;
    let devices = list_devices(&env.client(), "a1Product01", |_, _| {})
        .await
        .expect("reloaded");
    assert_eq!(devices.len(), 3);

    std::fs::write(&state, b"{not json").expect("corrupt");
    let error = Emulator::new(Config {
        state_file: Some(state.clone()),
        ..Config::default()
    })
    .err()
    .expect("refused");
    assert!(error.to_string().contains("corrupt"), "{error}");
    assert_eq!(
        std::fs::read(&state).expect("kept"),
        b"{not json",
        "never emptied"
    );
}

/// A hand-edited state file: a product with no devices entry loads (and is served) as a product
/// without devices; inconsistent ones are refused with where the problem is, and kept.
#[tokio::test]
async fn hand_edited_state_files_load_or_are_refused_never_panic() {
    let dir = tempfile::tempdir().expect("tmp");
    let state = dir.path().join("state.json");
    let saved = {
        let env = TestEnv::start(Config {
            qps_scale: 0.0,
            state_file: Some(state.clone()),
            ..Config::default()
        })
        .await
        .with_products(&["a1Product01"]);
        register(&env.client(), "a1Product01", &names("kept-", 2)).await;
        env.running.stop().await.expect("saved");
        let text = std::fs::read_to_string(&state).expect("state");
        serde_json::from_str::<serde_json::Value>(&text).expect("json")
    };
    let start = |document: &serde_json::Value| {
        std::fs::write(&state, serde_json::to_vec(document).expect("json")).expect("write");
        Emulator::new(Config {
            qps_scale: 0.0,
            state_file: Some(state.clone()),
            ..Config::default()
        })
    };
    let mut no_devices = saved.clone();
    no_devices["devices"] = serde_json::json!({});
    let emulator = start(&no_devices).expect("a product without a devices entry loads");
    let running = iotplan::emulator::serve(emulator).await.expect("serves");
    let env = TestEnv { running };
    let devices = list_devices(&env.client(), "a1Product01", |_, _| {})
        .await
        .expect("QueryDevice answers for it");
    assert!(devices.is_empty());
    env.running.stop().await.expect("stops");

    let mut orphan = saved.clone();
    orphan["devices"]["a1Ghost"] = saved["devices"]["a1Product01"].clone();
    let mut renamed = saved.clone();
    let by_name = renamed["devices"]["a1Product01"]["by_name"]
        .as_object_mut()
        .expect("by_name");
    let (name, device) = by_name
        .iter()
        .next()
        .map(|(k, v)| (k.clone(), v.clone()))
        .expect("one");
    by_name.remove(&name);
    by_name.insert("other-name".to_owned(), device);
    let mut seq = saved.clone();
    seq["last_seq"] = serde_json::json!(0);
    for (document, says) in [
        (
            orphan,
            "devices are listed under product a1Ghost, which is not in products",
        ),
        (renamed, "the device listed as other-name is named"),
        (seq, "which is repeated or above last_seq 0"),
    ] {
        let error = start(&document).err().expect("refused");
        assert!(error.to_string().contains(says), "{error}");
        assert!(
            error.to_string().contains("never emptied silently"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn sts_tokens_are_checked() {
    let env = TestEnv::start(Config {
        qps_scale: 0.0,
        keys: vec![iotplan::emulator::AccessKey {
            id: "STS.temp".into(),
            secret: Secret::new("sts-secret"),
            security_token: Some(Secret::new("the-token")),
            expires_ms: None,
        }],
        ..Config::default()
    })
    .await;
    let client_with = |token: Option<&str>| {
        let mut config = ClientConfig::new(
            env.running.endpoint(),
            Credentials {
                access_key_id: "STS.temp".into(),
                access_key_secret: Secret::new("sts-secret"),
                security_token: token.map(Secret::new),
            },
        );
        config.max_attempts = 1;
        Client::new(config).expect("client")
    };
    let list = QueryProductList {
        current_page: 1,
        page_size: 10,
        aliyun_commodity_code: None,
    };
    client_with(Some("the-token"))
        .call(&list)
        .await
        .expect("accepted");
    let wrong = client_with(Some("other"))
        .call(&list)
        .await
        .expect_err("wrong token");
    assert_eq!(
        wrong.code(),
        Some("InvalidSecurityToken.MismatchWithAccessKey")
    );
    let none = client_with(None).call(&list).await.expect_err("no token");
    assert_eq!(none.code(), Some("InvalidSecurityToken.Malformed"));
    let _ = demo_credentials();
}

/// The first lines the emulator prints, up to and including the one with its address.
fn emulator_banner(listen: &str) -> Vec<String> {
    use std::io::BufRead as _;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_iotplan"))
        .args(["emulator", "--listen", listen])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("emulator starts");
    let mut lines = Vec::new();
    for line in std::io::BufReader::new(child.stderr.take().expect("stderr")).lines() {
        let line = line.expect("line");
        let done = line.contains("listening on http");
        lines.push(line);
        if done {
            break;
        }
    }
    child.kill().expect("stopped");
    child.wait().expect("reaped");
    lines
}

#[test]
fn the_emulator_says_when_it_is_reachable_from_other_machines() {
    let loopback = emulator_banner("127.0.0.1:0");
    assert!(
        !loopback.iter().any(|l| l.contains("warning")),
        "{loopback:?}"
    );
    let open = emulator_banner("0.0.0.0:0");
    assert!(
        open[0].starts_with("warning: listening on 0.0.0.0:")
            && open[0].contains("reachable from other machines"),
        "{open:?}"
    );
}
