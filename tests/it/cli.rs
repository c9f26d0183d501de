//! The `iotplan` binary against an in-process emulator: validate, plan, apply, saved plans,
//! guards, resuming from the journal, secrets.

use iotplan::emulator::{Config, DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET};
use iotplan::wire::Action;
use iotplan::wire::ops::{BatchCheckDeviceNames, NameToCheck};

use crate::support::{TestEnv, iotplan, now_ms, repo, text};

const LIGHTS: &str = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1OfficeLite\nprune: true\ndevices:\n  - name: lobby-light-01\n    nickname: 大堂灯_1\n    tags: {site: hq}\n  - name: spare-light-01\n    enabled: false\n  - name: renamed-light\n    nickname: New_name\n";
const METERS: &str = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1MeterFleet\ndevices:\n  - name: meter-{n:04}\n    range: {from: 1, to: 120}\n    tags: {fleet: meters}\n";

async fn env_with_fleet() -> TestEnv {
    let env = TestEnv::start(Config {
        qps_scale: 0.0,
        ..Config::default()
    })
    .await
    .with_products(&["a1OfficeLite", "a1MeterFleet"]);
    env.running.emulator.with_store(|store| {
        let now = now_ms();
        store.create_device(
            "a1OfficeLite",
            "renamed-light",
            Some("Old_name".into()),
            now,
        );
        store.create_device("a1OfficeLite", "stale-light-9", None, now);
        store.create_device("a1OfficeLite", "kept-light-1", None, now);
        let kept = store
            .devices
            .get_mut("a1OfficeLite")
            .and_then(|d| d.by_name.get_mut("kept-light-1"))
            .expect("kept");
        kept.tags.insert("iotplan.protect".into(), "true".into());
    });
    env
}

fn writes(env: &TestEnv) -> Vec<String> {
    env.running
        .emulator
        .requests()
        .into_iter()
        .filter(|r| Action::from_name(&r.action).is_some_and(Action::is_write))
        .map(|r| r.action)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_reports_locations_and_exit_codes() {
    let env = TestEnv::fast().await;
    let good = repo(&[("m/lights.yaml", LIGHTS), ("m/meters.yml", METERS)]);
    let output = iotplan(&env, good.path(), &["validate", "m"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "valid: 2 product(s), 123 device(s) in 2 file(s)\n"
    );

    let bad = repo(&[(
        "bad.yaml",
        "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1OfficeLite\ndevices:\n  - name: x\n  - name: good-name\n    nickname: no spaces allowed\n",
    )]);
    let output = iotplan(&env, bad.path(), &["validate", "bad.yaml"]).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("bad.yaml:5:11: `x` is not a valid DeviceName"),
        "{stderr}"
    );
    assert!(
        stderr.contains("bad.yaml:7:15: `no spaces allowed` is not a valid nickname"),
        "{stderr}"
    );
    let output = iotplan(
        &env,
        bad.path(),
        &["validate", "bad.yaml", "--format", "json"],
    )
    .await;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["valid"], false);
    assert_eq!(report["errors"][0]["line"], 5);
    assert!(
        env.running.emulator.requests().is_empty(),
        "validate is offline"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_is_read_only_and_shows_every_kind_of_change() {
    let env = env_with_fleet().await;
    let dir = repo(&[("m/lights.yaml", LIGHTS), ("m/meters.yaml", METERS)]);
    let output = iotplan(&env, dir.path(), &["plan", "m", "--detailed-exitcode"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    for expected in [
        "  + meter-0001 … meter-0120  (120 devices)",
        "  + lobby-light-01  nickname \"大堂灯_1\"  tags {site=hq}",
        "  + spare-light-01  disabled",
        "  ~ renamed-light",
        "      nickname: \"Old_name\" → \"New_name\"   ([-Old-]{+New+}_name)",
        "  - stale-light-9  DELETE (permanent)",
        "  ! kept-light-1  not in any manifest, kept: protected by iotplan.protect",
        "Plan: 122 to register, 1 to change, 1 to delete. 1 device(s) will be DELETED permanently.",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in\n{stdout}"
        );
    }
    assert!(
        writes(&env).is_empty(),
        "plan sent writes: {:?}",
        writes(&env)
    );

    let output = iotplan(&env, dir.path(), &["plan", "m", "--format", "json"]).await;
    let plan: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(plan["format_version"], 1);
    assert_eq!(plan["products"][1]["delete"][0]["name"], "stale-light-9");

    let output = iotplan(&env, dir.path(), &["plan", "m", "--format", "markdown"]).await;
    let markdown = text(&output.stdout);
    assert!(
        markdown.starts_with("### iotplan: 122 to register, 1 to change, **1 to delete**"),
        "{markdown}"
    );
    assert!(markdown.contains("will be deleted permanently"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_then_apply_then_plan_shows_no_changes() {
    let env = env_with_fleet().await;
    let dir = repo(&[("m/lights.yaml", LIGHTS), ("m/meters.yaml", METERS)]);
    let output = iotplan(
        &env,
        dir.path(),
        &[
            "apply",
            "m",
            "--auto-approve",
            "--secrets-out",
            "out/secrets.json",
            "--max-delete",
            "1",
        ],
    )
    .await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}\n{}",
        text(&output.stderr)
    );
    assert!(stdout.contains("a1MeterFleet: 120 registered, 0 renamed, 0 enabled, 0 disabled, 120 tagged, 0 deleted, 0 failed"), "{stdout}");
    assert!(stdout.contains("a1OfficeLite: 2 registered, 1 renamed, 0 enabled, 1 disabled, 1 tagged, 1 deleted, 0 failed"), "{stdout}");

    let secrets_path = dir.path().join("out/secrets.json");
    let secrets: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&secrets_path).expect("secrets")).expect("json");
    assert_eq!(secrets["devices"].as_array().map(Vec::len), Some(122));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&secrets_path)
                .expect("meta")
                .permissions()
                .mode()
                & 0o777,
            0o600
        );
    }
    let secret = secrets["devices"][0]["device_secret"]
        .as_str()
        .expect("secret")
        .to_owned();
    assert!(
        !stdout.contains(&secret) && !text(&output.stderr).contains(&secret),
        "secrets stay out of output"
    );

    let output = iotplan(&env, dir.path(), &["plan", "m", "--detailed-exitcode"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    assert!(text(&output.stdout).contains("No changes."));

    // The batch flow, in order, per chunk.
    let flow: Vec<String> = env
        .running
        .emulator
        .requests()
        .into_iter()
        .filter(|r| {
            r.product_key.as_deref() == Some("a1MeterFleet") || r.action == "QueryPageByApplyId"
        })
        .map(|r| r.action)
        .filter(|a| a.contains("Batch") || a == "QueryPageByApplyId")
        .collect();
    let first = |name: &str| flow.iter().position(|a| a == name).expect(name);
    assert!(first("BatchCheckDeviceNames") < first("QueryBatchRegisterDeviceStatus"));
    assert!(first("QueryBatchRegisterDeviceStatus") < first("BatchRegisterDeviceWithApplyId"));
    assert!(first("BatchRegisterDeviceWithApplyId") < first("QueryPageByApplyId"));
    assert!(
        env.running
            .emulator
            .requests()
            .iter()
            .filter(|r| r.action == "BatchCheckDeviceNames")
            .all(|r| r.items <= 10_000)
    );
    let kept = env.running.emulator.with_store(|store| {
        store.devices["a1OfficeLite"]
            .by_name
            .contains_key("kept-light-1")
    });
    assert!(kept, "protected device survives prune");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_refuse_and_change_nothing() {
    let env = env_with_fleet().await;
    let dir = repo(&[("m/lights.yaml", LIGHTS)]);
    let output = iotplan(&env, dir.path(), &["apply", "m", "--max-delete", "100%"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("no terminal to ask on"),
        "{}",
        text(&output.stderr)
    );
    // --max-delete 0: no device may go.
    let output = iotplan(
        &env,
        dir.path(),
        &["apply", "m", "--auto-approve", "--max-delete", "0"],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("product a1OfficeLite: apply will refuse: 1 deletion of its 3 devices, limit 0; pass --max-delete 1 (or more) to allow it"),
        "{stderr}"
    );
    assert!(writes(&env).is_empty(), "{:?}", writes(&env));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_saved_plan_is_refused_and_a_fresh_one_applies() {
    let env = env_with_fleet().await;
    let dir = repo(&[("m/meters.yaml", METERS)]);
    let output = iotplan(&env, dir.path(), &["plan", "m", "--out", "plan.json"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    env.running
        .emulator
        .with_store(|store| store.create_device("a1MeterFleet", "meter-0005", None, now_ms()));
    let output = iotplan(&env, dir.path(), &["apply", "--plan", "plan.json"]).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("is stale; nothing was applied")
            && stderr.contains("product a1MeterFleet: the platform changed"),
        "{stderr}"
    );
    assert!(writes(&env).is_empty());

    let output = iotplan(&env, dir.path(), &["plan", "m", "--out", "plan.json"]).await;
    assert_eq!(output.status.code(), Some(0));
    std::fs::write(
        dir.path().join("m/meters.yaml"),
        METERS.replace("to: 120", "to: 121"),
    )
    .expect("edit");
    let output = iotplan(&env, dir.path(), &["apply", "--plan", "plan.json"]).await;
    assert!(
        text(&output.stderr).contains("the manifests changed"),
        "{}",
        text(&output.stderr)
    );
    std::fs::write(dir.path().join("m/meters.yaml"), METERS).expect("restore");
    let output = iotplan(&env, dir.path(), &["apply", "--plan", "plan.json"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("a1MeterFleet: 119 registered"),
        "{}",
        text(&output.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_plan_is_stale_after_any_change_behind_its_back() {
    type Change = fn(&mut iotplan::emulator::store::Store);
    let changes: [(&str, Change); 4] = [
        ("added", |store| {
            store.create_device("a1OfficeLite", "new-light-7", None, now_ms());
        }),
        ("deleted", |store| {
            let devices = store.devices.get_mut("a1OfficeLite").expect("product");
            devices.remove("stale-light-9").expect("device");
        }),
        ("re-nicknamed", |store| {
            let devices = store.devices.get_mut("a1OfficeLite").expect("product");
            // A declared nickname: the plan compares it (an undeclared device's is not compared).
            let device = devices.by_name.get_mut("renamed-light").expect("device");
            device.nickname = Some("Behind_back".into());
        }),
        ("disabled", |store| {
            let devices = store.devices.get_mut("a1OfficeLite").expect("product");
            let device = devices.by_name.get_mut("renamed-light").expect("device");
            device.disabled = true;
        }),
    ];
    for (what, change) in changes {
        let env = env_with_fleet().await;
        let dir = repo(&[("lights.yaml", LIGHTS)]);
        let output = iotplan(
            &env,
            dir.path(),
            &["plan", "lights.yaml", "--out", "plan.json"],
        )
        .await;
        assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
        env.running.emulator.with_store(change);
        let output = iotplan(&env, dir.path(), &["apply", "--plan", "plan.json"]).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{what}: {stderr}");
        assert!(
            stderr.contains("is stale; nothing was applied")
                && stderr.contains("product a1OfficeLite: the platform changed"),
            "{what}: {stderr}"
        );
        assert!(writes(&env).is_empty(), "{what}: {:?}", writes(&env));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_plan_files_are_refused_before_any_change() {
    let env = env_with_fleet().await;
    let dir = repo(&[("lights.yaml", LIGHTS)]);
    let output = iotplan(
        &env,
        dir.path(),
        &["plan", "lights.yaml", "--out", "plan.json"],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let good = std::fs::read_to_string(dir.path().join("plan.json")).expect("plan");
    let mut edited: serde_json::Value = serde_json::from_str(&good).expect("json");
    edited["products"][0]["delete"] = serde_json::json!([{"name": "kept-light-1", "iot_id": "x"}]);
    let mut moved: serde_json::Value = serde_json::from_str(&good).expect("json");
    moved["manifest_files"] = serde_json::json!(["gone.yaml"]);
    let cases: [(&str, String, &str); 7] = [
        (
            "empty",
            String::new(),
            "plan.json is not an iotplan plan file",
        ),
        (
            "not JSON",
            "apply everything please".into(),
            "expected value at line 1 column 1",
        ),
        (
            "truncated",
            good[..good.len() / 2].to_owned(),
            "EOF while parsing",
        ),
        (
            "manifest",
            LIGHTS.into(),
            "plan.json is not an iotplan plan file",
        ),
        (
            "future format",
            good.replacen("\"format_version\": 1", "\"format_version\": 9", 1),
            "has plan format 9, this iotplan reads 1",
        ),
        (
            "edited",
            edited.to_string(),
            "its actions differ from what the manifests and the platform give now",
        ),
        (
            "manifests gone",
            moved.to_string(),
            "gone.yaml does not exist",
        ),
    ];
    for (what, body, expected) in cases {
        std::fs::write(dir.path().join("plan.json"), body).expect("write");
        let output = iotplan(&env, dir.path(), &["apply", "--plan", "plan.json"]).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{what}: {stderr}");
        assert!(stderr.contains(expected), "{what}: {stderr}");
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
    }
    let missing = iotplan(&env, dir.path(), &["apply", "--plan", "nothing.json"]).await;
    assert!(text(&missing.stderr).contains("cannot read the plan nothing.json"));
    assert!(writes(&env).is_empty(), "{:?}", writes(&env));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rerun_resumes_an_open_application_from_the_journal() {
    let env = env_with_fleet().await;
    let dir = repo(&[("m/meters.yaml", METERS)]);
    // An earlier run checked the first 120 names, recorded the ApplyId, and was killed.
    let names: Vec<String> = (1..=120).map(|n| format!("meter-{n:04}")).collect();
    let check = env
        .client()
        .call(&BatchCheckDeviceNames {
            product_key: "a1MeterFleet".into(),
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
    let apply_id = check.data.apply_id.expect("id");
    let journal = serde_json::json!({"format_version": 1, "product_key": "a1MeterFleet", "open": [{"apply_id": apply_id, "names": names, "phase": "Check"}]});
    std::fs::create_dir_all(dir.path().join(".iotplan/journal")).expect("dir");
    std::fs::write(
        dir.path().join(".iotplan/journal/a1MeterFleet.json"),
        journal.to_string(),
    )
    .expect("journal");
    env.running.emulator.clear_requests();

    let output = iotplan(
        &env,
        dir.path(),
        &["apply", "m", "--auto-approve", "--secrets-out", "s.json"],
    )
    .await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let requests = env.running.emulator.requests();
    assert!(
        requests.iter().all(|r| r.action != "BatchCheckDeviceNames"),
        "names were not checked again"
    );
    assert!(
        requests
            .iter()
            .any(|r| r.action == "BatchRegisterDeviceWithApplyId" && r.apply_id == Some(apply_id))
    );
    assert!(
        !dir.path()
            .join(".iotplan/journal/a1MeterFleet.json")
            .exists(),
        "the journal is cleared once secrets are written"
    );
    let secrets: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).expect("secrets"))
            .expect("json");
    assert_eq!(secrets["devices"].as_array().map(Vec::len), Some(120));
    let output = iotplan(&env, dir.path(), &["plan", "m", "--detailed-exitcode"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_products_fail_before_anything_else_with_a_hint() {
    let env = TestEnv::fast().await;
    let dir = repo(&[("m.yaml", METERS)]);
    let output = iotplan(&env, dir.path(), &["plan", "m.yaml"]).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("product a1MeterFleet: QueryProduct failed: iot.prod.NotExistedProduct"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: check the product key"), "{stderr}");
    assert!(
        env.running
            .emulator
            .requests()
            .iter()
            .all(|r| r.action == "QueryProduct")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_output_or_logs() {
    let env = env_with_fleet().await;
    let dir = repo(&[("m/meters.yaml", METERS)]);
    let output = iotplan(
        &env,
        dir.path(),
        &[
            "-vv",
            "apply",
            "m",
            "--auto-approve",
            "--secrets-out",
            "s.json",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let logs = text(&output.stderr);
    assert!(
        logs.contains("request_id") && logs.contains("QueryDevice"),
        "each call is logged with its RequestId: {logs}"
    );
    let secrets: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).expect("secrets"))
            .expect("json");
    let all_output = format!("{}{logs}", text(&output.stdout));
    for device in secrets["devices"].as_array().expect("devices") {
        let secret = device["device_secret"].as_str().expect("secret");
        assert!(!all_output.contains(secret), "a DeviceSecret leaked");
    }
    assert!(
        !all_output.contains(DEMO_ACCESS_KEY_SECRET),
        "the AccessKey secret leaked"
    );

    // A wrong secret: the gateway's string to sign is withheld, and no secret shows.
    let output = tokio::task::spawn_blocking({
        let endpoint = env.running.endpoint();
        let dir = dir.path().to_owned();
        move || {
            assert_cmd::Command::cargo_bin("iotplan")
                .expect("binary")
                .current_dir(dir)
                .env("ALIBABA_CLOUD_ACCESS_KEY_ID", DEMO_ACCESS_KEY_ID)
                .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "wrong-secret-value")
                .env("ALIBABA_CLOUD_SECURITY_TOKEN", "token-value-123")
                .env("IOTPLAN_ENDPOINT", endpoint)
                .args(["-vv", "plan", "m"])
                .output()
                .expect("runs")
        }
    })
    .await
    .expect("joined");
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("SignatureDoesNotMatch")
            && stderr.contains("hint: check the AccessKey secret"),
        "{stderr}"
    );
    for secret in ["wrong-secret-value", "token-value-123"] {
        assert!(
            !stderr.contains(secret) && !text(&output.stdout).contains(secret),
            "{secret} leaked: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_past_ten_thousand_go_in_chunks_each_in_the_batch_order() {
    let env = TestEnv::fast().await.with_products(&["a1MeterFleet"]);
    let dir = repo(&[(
        "m.yaml",
        &METERS
            .replace("meter-{n:04}", "meter-{n:05}")
            .replace("to: 120", "to: 10050")
            .replace("    tags: {fleet: meters}\n", ""),
    )]);
    let output = iotplan(
        &env,
        dir.path(),
        &[
            "apply",
            "m.yaml",
            "--auto-approve",
            "--secrets-out",
            "s.json",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let log = env.running.emulator.requests();
    let mut checks: Vec<usize> = log
        .iter()
        .filter(|r| r.action == "BatchCheckDeviceNames")
        .map(|r| r.items)
        .collect();
    // The chunks run side by side: their order in the log is not fixed.
    checks.sort_unstable();
    assert_eq!(checks, [50, 10_000], "two chunks, none over 10,000");
    let mut apply_ids: Vec<i64> = log.iter().filter_map(|r| r.apply_id).collect();
    apply_ids.sort_unstable();
    apply_ids.dedup();
    assert_eq!(apply_ids.len(), 2);
    for apply_id in apply_ids {
        let flow: Vec<&str> = log
            .iter()
            .filter(|r| r.apply_id == Some(apply_id))
            .map(|r| r.action.as_str())
            .collect();
        let register = flow
            .iter()
            .position(|a| *a == "BatchRegisterDeviceWithApplyId")
            .expect("registered");
        let first_page = flow
            .iter()
            .position(|a| *a == "QueryPageByApplyId")
            .expect("paged");
        assert_eq!(flow[0], "QueryBatchRegisterDeviceStatus", "{flow:?}");
        assert!(
            flow[..register]
                .iter()
                .all(|a| *a == "QueryBatchRegisterDeviceStatus")
        );
        assert!(register < first_page);
        assert!(
            flow[register + 1..first_page].contains(&"QueryBatchRegisterDeviceStatus"),
            "waits for CREATE_SUCCESS before paging: {flow:?}"
        );
        assert!(
            flow[first_page..]
                .iter()
                .all(|a| *a == "QueryPageByApplyId")
        );
    }
    assert_eq!(
        writes(&env)
            .iter()
            .filter(|a| *a != "BatchCheckDeviceNames" && *a != "BatchRegisterDeviceWithApplyId")
            .count(),
        0,
        "no write outside the plan"
    );
    let secrets: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).expect("secrets"))
            .expect("json");
    assert_eq!(secrets["devices"].as_array().map(Vec::len), Some(10_050));
}
