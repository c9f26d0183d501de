//! `iotplan export` round trips: export, then plan the exported files: no changes, for products
//! of 0, 1 and 10,050 devices with nicknames, disabled devices and tags. Secrets never exported.

use std::path::Path;

use crate::support::{TestEnv, iotplan, now_ms, text};

fn seed(env: &TestEnv) -> Vec<String> {
    env.running.emulator.with_store(|store| {
        let now = now_ms();
        store.create_device("a1One", "lobby-light", Some("大堂灯_1".into()), now);
        for n in 1..=10_050 {
            let nickname = (500..600).contains(&n).then(|| format!("Meter_{n}"));
            store.create_device("a1Big", &format!("meter-{n:05}"), nickname, now);
        }
        let one = store.devices.get_mut("a1One").expect("one");
        let lobby = one.by_name.get_mut("lobby-light").expect("lobby");
        lobby.disabled = true;
        lobby.tags.insert("floor".into(), "1".into());
        lobby.tags.insert("iotplan.protect".into(), "true".into());
        let big = store.devices.get_mut("a1Big").expect("big");
        for device in big.by_name.values_mut() {
            let n: u64 = device.name["meter-".len()..].parse().expect("number");
            device.disabled = n.is_multiple_of(1000);
            if n <= 3000 {
                device.tags.insert("fleet".into(), "north".into());
            }
        }
        store
            .devices
            .values()
            .flat_map(|d| d.by_name.values().map(|d| d.secret.expose().to_owned()))
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exported_manifests_plan_to_no_changes() {
    let env = TestEnv::fast()
        .await
        .with_products(&["a1Empty", "a1One", "a1Big"]);
    let secrets = seed(&env);
    let dir = tempfile::tempdir().expect("tmp");
    let output = iotplan(
        &env,
        dir.path(),
        &[
            "export",
            "--product",
            "a1Empty",
            "--product",
            "a1One",
            "--product",
            "a1Big",
            "--out",
            "manifests",
            "--format",
            "json",
            "--qps-scale",
            "100",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json summary");
    let devices: Vec<u64> = summary["products"]
        .as_array()
        .expect("products")
        .iter()
        .map(|p| p["devices"].as_u64().expect("devices"))
        .collect();
    assert_eq!(devices, [0, 1, 10_050]);
    let big_entries = summary["products"][2]["entries"].as_u64().expect("entries");
    assert!(
        big_entries < 40,
        "the fleet compresses into ranges: {big_entries} entries"
    );

    let output = iotplan(&env, dir.path(), &["validate", "manifests"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    env.running.emulator.clear_requests();
    let output = iotplan(
        &env,
        dir.path(),
        &[
            "plan",
            "manifests",
            "--detailed-exitcode",
            "--qps-scale",
            "100",
        ],
    )
    .await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    assert!(text(&output.stdout).contains("No changes."));

    let exported: String = ["a1Empty", "a1One", "a1Big"]
        .iter()
        .map(|key| {
            std::fs::read_to_string(dir.path().join(format!("manifests/{key}.yaml")))
                .expect("exported file")
        })
        .collect();
    assert!(exported.contains("nickname: 大堂灯_1"), "{exported}");
    assert!(exported.contains("iotplan.protect"), "{exported}");
    assert!(
        secrets
            .iter()
            .all(|secret| !exported.contains(secret.as_str())),
        "a DeviceSecret was exported"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_refuses_to_overwrite_and_names_unknown_products() {
    let env = TestEnv::fast().await.with_products(&["a1One"]);
    seed(&env);
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("one.yaml"), "keep me").expect("write");
    let output = iotplan(
        &env,
        dir.path(),
        &["export", "--product", "a1One", "--out", "one.yaml"],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("one.yaml exists; nothing was exported"));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("one.yaml")).expect("kept"),
        "keep me"
    );
    let output = iotplan(
        &env,
        dir.path(),
        &[
            "export",
            "--product",
            "a1One",
            "--out",
            "one.yaml",
            "--force",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    let output = iotplan(&env, Path::new("."), &["export", "--product", "a1Nope"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("The product a1Nope does not exist"),
        "{}",
        text(&output.stderr)
    );
}
