//! Products, device groups and membership through the binary: a new product with its devices in
//! one apply, a group tree, membership over a 10,000-device range, a device already in 10 groups,
//! a field fixed at creation changed, a saved plan gone stale after a membership change behind
//! its back, and `kill -9` at each new phase.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use iotplan::emulator::Config;
use iotplan::emulator::store::Store;
use iotplan::wire::ops::{
    BatchAddDeviceGroupRelations, BatchDeleteDeviceGroupRelations, CreateDeviceGroup, Member,
};

use crate::support::{TestEnv, demo_command, iotplan, repo, text};

const PRODUCT: &str = "apiVersion: iotplan/v1\nkind: Product\nname: thermostat_v2\ndescription: Second generation\nnodeType: device\nnetType: wifi\ndataFormat: alink\ntags: {team: hvac}\n";

const TREE: &str = "apiVersion: iotplan/v1\nkind: DeviceGroup\nname: campus\ndescription: The campus\n---\napiVersion: iotplan/v1\nkind: DeviceGroup\nname: building_a\nparent: campus\n---\napiVersion: iotplan/v1\nkind: DeviceGroup\nname: floor_3\nparent: building_a\nprune: true\ntags: {floor: \"3\"}\n";

fn devices(count: u32, groups: &str) -> String {
    format!(
        "apiVersion: iotplan/v1\nkind: DeviceSet\nproductName: thermostat_v2\ndevices:\n  - name: t-{{n:05}}\n    range: {{from: 1, to: {count}}}\n    groups: [{groups}]\n"
    )
}

fn product_key(store: &Store, name: &str) -> Vec<String> {
    store
        .products
        .values()
        .filter(|p| p.name == name)
        .map(|p| p.key.clone())
        .collect()
}

fn members(store: &Store, group: &str) -> BTreeSet<String> {
    store
        .groups
        .values()
        .find(|g| g.name == group)
        .map(|g| g.members.iter().map(|m| m.device_name.clone()).collect())
        .unwrap_or_default()
}

async fn assert_no_changes(env: &TestEnv, dir: &Path, case: &str) {
    let output = iotplan(env, dir, &["plan", "m", "--detailed-exitcode"]).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{case}: a plan after apply shows no changes:\n{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

async fn apply(env: &TestEnv, dir: &Path) -> std::process::Output {
    iotplan(env, dir, &["apply", "m", "--auto-approve"]).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_new_product_its_devices_and_a_group_tree_land_in_one_apply() {
    let env = TestEnv::fast().await;
    let dir = repo(&[
        ("m/product.yaml", PRODUCT),
        ("m/groups.yaml", TREE),
        ("m/devices.yaml", &devices(30, "floor_3, campus")),
    ]);
    let plan = iotplan(&env, dir.path(), &["plan", "m", "--detailed-exitcode"]).await;
    assert_eq!(plan.status.code(), Some(2), "{}", text(&plan.stderr));
    let shown = text(&plan.stdout);
    for line in [
        "  + product thermostat_v2 (default region)  CREATE",
        "      nodeType device, dataFormat alink, netType wifi",
        "  + group campus (default region)  CREATE",
        "  + group building_a under campus (default region)  CREATE",
        "  + group floor_3 under building_a (default region)  CREATE",
        "      + 30 member(s) of product thermostat_v2: t-00001 … t-00030 (30 devices)",
        "new product thermostat_v2 (default region), 0 device(s) on the platform",
        "  + t-00001 … t-00030  (30 devices)",
        "Plan: 30 to register, 0 to change, 0 to delete. Products and groups: 4 to create, 0 to change, 0 to delete. Group members: 60 to add, 0 to remove.",
    ] {
        assert!(
            shown.lines().any(|l| l == line),
            "missing `{line}` in:\n{shown}"
        );
    }
    assert!(
        env.running
            .emulator
            .with_store(|s| s.products.is_empty() && s.groups.is_empty()),
        "plan is read-only"
    );

    let output = apply(&env, dir.path()).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    env.running.emulator.with_store(|store| {
        let keys = product_key(store, "thermostat_v2");
        assert_eq!(keys.len(), 1, "one product created");
        let product = &store.products[&keys[0]];
        assert_eq!(product.description, "Second generation");
        assert_eq!(product.tags.get("team").map(String::as_str), Some("hvac"));
        assert_eq!(product.data_format, Some(1));
        assert_eq!(
            store.devices[&keys[0]].by_name.len(),
            30,
            "devices under the new key"
        );
        let id_of = |name: &str| {
            store
                .groups
                .values()
                .find(|g| g.name == name)
                .map(|g| g.id.clone())
        };
        let parent_of = |name: &str| {
            store
                .groups
                .values()
                .find(|g| g.name == name)
                .and_then(|g| g.parent.clone())
        };
        assert_eq!(parent_of("campus"), None);
        assert_eq!(parent_of("building_a"), id_of("campus"));
        assert_eq!(parent_of("floor_3"), id_of("building_a"));
        assert_eq!(members(store, "floor_3").len(), 30);
        assert_eq!(members(store, "campus").len(), 30);
        assert!(members(store, "building_a").is_empty());
    });
    let report = text(&output.stdout);
    assert!(
        report.contains("products: 1 created, 0 changed, 0 deleted; groups: 3 created, 0 changed, 0 deleted; members: 60 added, 0 removed; 0 failed"),
        "{report}"
    );
    assert_no_changes(&env, dir.path(), "after the first apply").await;

    // A member no entry declares leaves floor_3 (prune: true) but stays in campus.
    std::fs::write(
        dir.path().join("m/devices.yaml"),
        devices(29, "floor_3, campus"),
    )
    .expect("write");
    std::fs::write(
        dir.path().join("m/spare.yaml"),
        "apiVersion: iotplan/v1\nkind: DeviceSet\nproductName: thermostat_v2\ndevices:\n  - name: t-00030\n",
    )
    .expect("write");
    let plan = iotplan(&env, dir.path(), &["plan", "m"]).await;
    assert!(
        text(&plan.stdout)
            .lines()
            .any(|l| l.starts_with("      - 1 member(s) of ") && l.ends_with(": t-00030")),
        "{}",
        text(&plan.stdout)
    );
    let output = apply(&env, dir.path()).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    env.running.emulator.with_store(|store| {
        assert_eq!(members(store, "floor_3").len(), 29);
        assert_eq!(members(store, "campus").len(), 30, "campus does not prune");
    });
    assert_no_changes(&env, dir.path(), "after the removal").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn membership_over_a_10000_device_range_goes_200_a_call() {
    let env = TestEnv::fast().await;
    let dir = repo(&[
        ("m/product.yaml", PRODUCT),
        ("m/groups.yaml", TREE),
        ("m/devices.yaml", &devices(10_000, "floor_3")),
    ]);
    let output = apply(&env, dir.path()).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let adds = env
        .running
        .emulator
        .requests()
        .iter()
        .filter(|r| r.action == "BatchAddDeviceGroupRelations")
        .count();
    assert_eq!(adds, 50, "10,000 members at 200 a call");
    env.running
        .emulator
        .with_store(|store| assert_eq!(members(store, "floor_3").len(), 10_000));
    let before = env.running.emulator.requests().len();
    assert_no_changes(&env, dir.path(), "10,000 members").await;
    let reads = env.running.emulator.requests()[before..]
        .iter()
        .filter(|r| r.action == "QueryDeviceListByDeviceGroup")
        .count();
    assert_eq!(reads, 200, "the members are read 50 a page");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_device_already_in_ten_groups_is_reported_by_name() {
    let env = TestEnv::fast().await;
    let dir = repo(&[
        ("m/product.yaml", PRODUCT),
        ("m/devices.yaml", &devices(3, "")),
    ]);
    let output = apply(&env, dir.path()).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let key = env
        .running
        .emulator
        .with_store(|s| product_key(s, "thermostat_v2").remove(0));
    let client = env.client();
    for n in 0..10 {
        let group = client
            .call(&CreateDeviceGroup {
                group_name: format!("other_{n:02}"),
                group_desc: None,
                super_group_id: None,
            })
            .await
            .expect("group");
        client
            .call(&BatchAddDeviceGroupRelations {
                group_id: group.data.group_id,
                devices: vec![Member {
                    product_key: key.clone(),
                    device_name: "t-00002".to_owned(),
                }],
            })
            .await
            .expect("member");
    }
    std::fs::write(
        dir.path().join("m/groups.yaml"),
        "apiVersion: iotplan/v1\nkind: DeviceGroup\nname: eleventh\n",
    )
    .expect("write");
    std::fs::write(dir.path().join("m/devices.yaml"), devices(3, "eleventh")).expect("write");
    let output = apply(&env, dir.path()).await;
    assert_eq!(output.status.code(), Some(1), "the run reports a failure");
    let report = text(&output.stdout);
    assert!(
        report.contains("members: 2 added, 0 removed; 1 failed"),
        "{report}"
    );
    assert!(
        report.lines().any(|l| l.starts_with(&format!("  failed: group eleventh: {key}/t-00002 (add the member): the platform did not add it: the device is already in 10 groups"))),
        "{report}"
    );
    env.running.emulator.with_store(|store| {
        assert_eq!(
            members(store, "eleventh"),
            BTreeSet::from(["t-00001".to_owned(), "t-00003".to_owned()])
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_field_fixed_at_creation_blocks_the_plan_with_what_to_do() {
    let env = TestEnv::fast().await;
    let dir = repo(&[("m/product.yaml", PRODUCT)]);
    let output = apply(&env, dir.path()).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    std::fs::write(
        dir.path().join("m/product.yaml"),
        PRODUCT
            .replace("nodeType: device", "nodeType: gateway")
            .replace("Second generation", "Gen 2"),
    )
    .expect("write");
    let plan = iotplan(&env, dir.path(), &["plan", "m", "--detailed-exitcode"]).await;
    assert_eq!(plan.status.code(), Some(2));
    let shown = text(&plan.stdout);
    assert!(
        shown.contains("      description: \"Second generation\" → \"Gen 2\""),
        "{shown}"
    );
    assert!(
        shown.contains("  ! apply will refuse: product thermostat_v2: nodeType is device on the platform but gateway in the manifest, and it cannot change after creation; put device back in the manifest, or declare a new product under another name and move the devices to it"),
        "{shown}"
    );
    assert!(
        shown.contains("Apply will refuse this plan: 1 change(s) cannot be applied"),
        "{shown}"
    );
    let markdown = iotplan(&env, dir.path(), &["plan", "m", "--format", "markdown"]).await;
    assert!(
        text(&markdown.stdout)
            .contains("> - product thermostat_v2: nodeType is device on the platform but gateway"),
        "{}",
        text(&markdown.stdout)
    );
    let before = env.running.emulator.requests().len();
    let output = apply(&env, dir.path()).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr).contains("refusing to apply: the plan has 1 change(s) the platform cannot make; nothing was changed"),
        "{}",
        text(&output.stderr)
    );
    let writes = env.running.emulator.requests()[before..]
        .iter()
        .filter(|r| r.action.starts_with("Update") || r.action.starts_with("Create"))
        .count();
    assert_eq!(writes, 0, "nothing was changed, the description included");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_saved_plan_is_refused_after_a_membership_change_behind_its_back() {
    let env = TestEnv::fast().await;
    let dir = repo(&[
        ("m/product.yaml", PRODUCT),
        ("m/groups.yaml", TREE),
        ("m/devices.yaml", &devices(5, "floor_3")),
    ]);
    let output = apply(&env, dir.path()).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    std::fs::write(dir.path().join("m/devices.yaml"), devices(6, "floor_3")).expect("write");
    let saved = iotplan(&env, dir.path(), &["plan", "m", "--out", "plan.json"]).await;
    assert_eq!(saved.status.code(), Some(0), "{}", text(&saved.stderr));
    let (key, group_id) = env.running.emulator.with_store(|store| {
        let group = store
            .groups
            .values()
            .find(|g| g.name == "floor_3")
            .expect("group");
        (
            product_key(store, "thermostat_v2").remove(0),
            group.id.clone(),
        )
    });
    env.client()
        .call(&BatchDeleteDeviceGroupRelations {
            group_id,
            devices: vec![Member {
                product_key: key,
                device_name: "t-00001".to_owned(),
            }],
        })
        .await
        .expect("removed behind the plan's back");
    let output = iotplan(&env, dir.path(), &["apply", "--plan", "plan.json"]).await;
    assert_eq!(output.status.code(), Some(1));
    let error = text(&output.stderr);
    assert!(
        error.contains("group floor_3: the group or its members changed on the platform since the plan was made (members then 5, now 4; planning now adds 2 and removes 0 instead of 1 and 0)"),
        "{error}"
    );
    env.running
        .emulator
        .with_store(|store| assert_eq!(members(store, "floor_3").len(), 4, "nothing applied"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_at_each_new_phase_converges_with_nothing_doubled() {
    type Reached = fn(&[iotplan::emulator::LoggedRequest]) -> bool;
    let count = |log: &[iotplan::emulator::LoggedRequest], action: &str| {
        log.iter().filter(|r| r.action == action).count()
    };
    let phases: [(&str, Reached); 4] = [
        ("after the product creation", |log| {
            log.iter().any(|r| r.action == "CreateProduct")
        }),
        ("after the first group creation", |log| {
            log.iter().any(|r| r.action == "CreateDeviceGroup")
        }),
        ("while registering the new product's devices", |log| {
            log.iter().any(|r| r.action == "BatchCheckDeviceNames")
        }),
        ("while adding members", |log| {
            log.iter()
                .filter(|r| r.action == "BatchAddDeviceGroupRelations")
                .count()
                >= 2
        }),
    ];
    for (phase, reached) in phases {
        let env = TestEnv::start(Config {
            qps_scale: 0.0,
            latency: Duration::from_millis(15),
            apply_delay: Duration::from_millis(300),
            ..Config::default()
        })
        .await;
        let dir = repo(&[
            ("m/product.yaml", PRODUCT),
            ("m/groups.yaml", TREE),
            ("m/devices.yaml", &devices(1_000, "floor_3, campus")),
        ]);
        let mut child = demo_command(&env, dir.path())
            .args(["apply", "m", "--auto-approve"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawns");
        let mut seen = false;
        for _ in 0..20_000 {
            if reached(&env.running.emulator.requests()) {
                seen = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(seen, "apply never reached {phase}");
        child.kill().expect("kill -9");
        let _ = child.wait();
        let output = apply(&env, dir.path()).await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{phase}: {}\n{}",
            text(&output.stdout),
            text(&output.stderr)
        );
        let log = env.running.emulator.requests();
        assert_eq!(
            count(&log, "CreateProduct"),
            1,
            "{phase}: one product created"
        );
        env.running.emulator.with_store(|store| {
            let keys = product_key(store, "thermostat_v2");
            assert_eq!(keys.len(), 1, "{phase}: one product");
            assert_eq!(store.groups.len(), 3, "{phase}: each group once");
            assert_eq!(store.devices[&keys[0]].by_name.len(), 1_000, "{phase}");
            assert_eq!(members(store, "floor_3").len(), 1_000, "{phase}");
            assert_eq!(members(store, "campus").len(), 1_000, "{phase}");
        });
        assert!(
            !dir.path().join(".iotplan/journal/created.json").exists(),
            "{phase}: the creation journal is cleared"
        );
        assert_no_changes(&env, dir.path(), phase).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_counts_products_groups_and_memberships() {
    let env = TestEnv::fast().await;
    let dir = repo(&[
        ("m/product.yaml", PRODUCT),
        ("m/groups.yaml", TREE),
        ("m/devices.yaml", &devices(30, "floor_3, campus")),
    ]);
    let output = iotplan(&env, dir.path(), &["validate", "m"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_eq!(
        text(&output.stdout),
        "valid: 1 product(s), 30 device(s), 1 Product document(s), 3 device group(s), 60 membership(s) in 3 file(s)\n"
    );
    let output = iotplan(&env, dir.path(), &["validate", "m", "--format", "json"]).await;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(
        (
            &report["product_documents"],
            &report["groups"],
            &report["memberships"]
        ),
        (&1.into(), &3.into(), &60.into()),
        "{report}"
    );
}
