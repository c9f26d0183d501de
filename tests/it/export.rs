//! `iotplan export` round trips: export, then plan the exported files: no changes, for products
//! of 0, 1 and 10,050 devices with nicknames, disabled devices and tags, and for a product with
//! its group tree and membership. Secrets never exported.

use std::path::Path;

use iotplan::wire::ops::{BatchAddDeviceGroupRelations, CreateDeviceGroup, Member};

use crate::support::{TestEnv, iotplan, now_ms, repo, text};

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
    assert!(
        !dir.path().join("manifests/groups.yaml").exists(),
        "no groups, no groups file"
    );

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

const FLEET: &str = "apiVersion: iotplan/v1\nkind: Product\nname: thermostat_v2\ndescription: Second generation\nnodeType: gateway\nnetType: ethernet\ndataFormat: alink\ntags: {team: hvac}\n---\napiVersion: iotplan/v1\nkind: DeviceGroup\nname: campus\ndescription: The campus\ntags: {site: hq}\n---\napiVersion: iotplan/v1\nkind: DeviceGroup\nname: building_a\nparent: campus\n---\napiVersion: iotplan/v1\nkind: DeviceGroup\nname: floor_3\nparent: building_a\n---\napiVersion: iotplan/v1\nkind: DeviceSet\nproductName: thermostat_v2\ndevices:\n  - name: t-{n:04}\n    range: {from: 1, to: 120}\n    groups: [campus, floor_3]\n  - name: t-{n:04}\n    range: {from: 121, to: 200}\n    groups: [building_a]\n  - name: t-{n:04}\n    range: {from: 201, to: 210}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn products_groups_and_membership_export_to_a_plan_with_no_changes() {
    let env = TestEnv::fast().await;
    let source = repo(&[("m/fleet.yaml", FLEET)]);
    let output = iotplan(&env, source.path(), &["apply", "m", "--auto-approve"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let key = env.running.emulator.with_store(|store| {
        store
            .products
            .values()
            .find(|p| p.name == "thermostat_v2")
            .map(|p| p.key.clone())
            .expect("created")
    });
    // A group made in the console, with a member, is exported too.
    let client = env.client();
    let console = client
        .call(&CreateDeviceGroup {
            group_name: "console_made".to_owned(),
            group_desc: Some("Made by hand".to_owned()),
            super_group_id: None,
        })
        .await
        .expect("group");
    client
        .call(&BatchAddDeviceGroupRelations {
            group_id: console.data.group_id,
            devices: vec![Member {
                product_key: key.clone(),
                device_name: "t-0205".to_owned(),
            }],
        })
        .await
        .expect("member");

    let dir = tempfile::tempdir().expect("tmp");
    let output = iotplan(
        &env,
        dir.path(),
        &[
            "export",
            "--product",
            &key,
            "--out",
            "exported",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["groups"]["groups"], 4, "{summary}");
    assert_eq!(
        summary["products"][0]["entries"], 5,
        "three ranges, t-0205 on its own, and the range after it: {summary}"
    );
    let product = std::fs::read_to_string(dir.path().join(format!("exported/{key}.yaml")))
        .expect("product file");
    for line in [
        "kind: Product",
        "name: thermostat_v2",
        &format!("product: {key}"),
        "description: Second generation",
        "nodeType: gateway",
        "netType: ethernet",
        "dataFormat: alink",
        "tags: {team: hvac}",
        "  range: {from: 1, to: 120}",
        "  groups: [campus, floor_3]",
        "  groups: [building_a]",
        "  groups: [console_made]",
    ] {
        assert!(
            product.lines().any(|l| l == line),
            "missing `{line}` in:\n{product}"
        );
    }
    let groups = std::fs::read_to_string(dir.path().join("exported/groups.yaml")).expect("groups");
    for line in [
        "name: console_made",
        "description: Made by hand",
        "parent: building_a",
        "tags: {site: hq}",
    ] {
        assert!(
            groups.lines().any(|l| l == line),
            "missing `{line}` in:\n{groups}"
        );
    }
    assert!(
        groups.find("name: campus") < groups.find("name: building_a")
            && groups.find("name: building_a") < groups.find("name: floor_3"),
        "parents come first:\n{groups}"
    );

    let output = iotplan(
        &env,
        dir.path(),
        &["plan", "exported", "--detailed-exitcode"],
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

    // To stdout, every document comes in one stream that validates as a whole.
    let output = iotplan(&env, dir.path(), &["export", "--product", &key]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    std::fs::write(dir.path().join("all.yaml"), &output.stdout).expect("write");
    let output = iotplan(
        &env,
        dir.path(),
        &["plan", "all.yaml", "--detailed-exitcode"],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));

    // `--no-groups` writes no group and no membership.
    let output = iotplan(
        &env,
        dir.path(),
        &["export", "--product", &key, "--no-groups", "--out", "bare"],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(!dir.path().join("bare/groups.yaml").exists());
    let bare = std::fs::read_to_string(dir.path().join(format!("bare/{key}.yaml"))).expect("file");
    assert!(!bare.contains("groups:"), "{bare}");
}
