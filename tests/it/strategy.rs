//! The read strategy: with prune off, few declared devices of a large product are read by name;
//! otherwise the product is listed, the first 10,000 by parallel pages and the rest on the
//! NextToken chain. Each checked by the calls the emulator saw.

use std::collections::BTreeMap;

use iotplan::manifest::load_str;
use iotplan::plan::diff;
use iotplan::platform::live::read_product;

use crate::support::{TestEnv, now_ms};

async fn env_with(devices: u64) -> TestEnv {
    let env = TestEnv::fast().await.with_products(&["a1Fleet"]);
    env.running.emulator.with_store(|store| {
        let now = now_ms();
        for n in 1..=devices {
            store.create_device("a1Fleet", &format!("unit-{n:06}"), None, now);
        }
    });
    env.running.emulator.clear_requests();
    env
}

fn manifest(from: u64, to: u64, prune: bool) -> String {
    format!(
        "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1Fleet\nprune: {prune}\ndevices:\n  - name: unit-{{n:06}}\n    range: {{from: {from}, to: {to}}}\n"
    )
}

fn calls(env: &TestEnv) -> BTreeMap<String, usize> {
    let mut calls = BTreeMap::new();
    for request in env.running.emulator.requests() {
        *calls.entry(request.action).or_default() += 1;
    }
    calls
}

async fn plan_counts(env: &TestEnv, text: &str) -> (usize, usize, bool) {
    let desired = load_str("m.yaml", text).expect("manifest");
    let spec = &desired.products["a1Fleet"];
    let live = read_product(&env.client(), spec, &|_, _, _| {})
        .await
        .expect("read");
    let plan = diff(spec, &live);
    (plan.register.len(), plan.update.len(), plan.read_by_name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_declared_devices_of_ten_thousand_are_read_in_one_call() {
    let env = env_with(10_000).await;
    // 45 exist, 5 are new.
    let (register, update, by_name) = plan_counts(&env, &manifest(9_956, 10_005, false)).await;
    assert_eq!((register, update, by_name), (5, 0, true));
    assert_eq!(
        calls(&env),
        BTreeMap::from([("BatchQueryDeviceDetail".to_owned(), 1)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_declared_devices_ask_the_product_size_first() {
    let env = env_with(10_000).await;
    // 600 declared of 10,000: by name pays (6 calls against 200 pages).
    let (register, _, by_name) = plan_counts(&env, &manifest(1, 600, false)).await;
    assert_eq!((register, by_name), (0, true));
    assert_eq!(
        calls(&env),
        BTreeMap::from([
            ("BatchQueryDeviceDetail".to_owned(), 6),
            ("QueryDevice".to_owned(), 1),
        ])
    );
    // 6,000 declared of 10,000: listing pays.
    env.running.emulator.clear_requests();
    let (register, _, by_name) = plan_counts(&env, &manifest(1, 6_000, false)).await;
    assert_eq!((register, by_name), (0, false));
    assert_eq!(
        calls(&env),
        BTreeMap::from([("QueryDevice".to_owned(), 201)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_lists_the_whole_product_past_ten_thousand_in_the_minimum_of_pages() {
    let env = env_with(12_345).await;
    let (register, update, by_name) = plan_counts(&env, &manifest(1, 12_345, true)).await;
    assert_eq!((register, update, by_name), (0, 0, false));
    // ceil(12,345 / 50) = 247 pages, each read once.
    assert_eq!(
        calls(&env),
        BTreeMap::from([("QueryDevice".to_owned(), 247)])
    );
    let answered = env
        .running
        .emulator
        .requests()
        .iter()
        .filter(|r| r.action == "QueryDevice" && r.status == 200)
        .count();
    assert_eq!(answered, 247, "no page was refused");
}

const INSTANCE: &str = "iot-ent01";

async fn enterprise_env(devices: u64) -> TestEnv {
    let env = TestEnv::fast().await;
    env.running.emulator.with_store(|store| {
        let now = now_ms();
        store.instances.insert(INSTANCE.to_owned());
        store.add_product(iotplan::emulator::seed::new_product(
            "a1Fleet",
            None,
            Some(INSTANCE.to_owned()),
            now,
        ));
        for n in 1..=devices {
            store.create_device(
                "a1Fleet",
                &format!("unit-{n:06}"),
                None,
                now + i64::try_from(n).expect("small"),
            );
        }
        let fleet = store.devices.get_mut("a1Fleet").expect("fleet");
        for device in fleet.by_name.values_mut() {
            device.tags.insert("fleet".into(), "north".into());
        }
        if let Some(odd) = fleet.by_name.get_mut("unit-000007") {
            odd.tags.insert("fleet".into(), "south".into());
        }
    });
    env.running.emulator.clear_requests();
    env
}

async fn plan_tags(env: &TestEnv, devices: u64) -> (usize, Vec<String>) {
    let text = format!(
        "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1Fleet\ninstance: {INSTANCE}\nprune: true\ndevices:\n  - name: unit-{{n:06}}\n    range: {{from: 1, to: {devices}}}\n    tags: {{fleet: north}}\n"
    );
    let desired = load_str("m.yaml", &text).expect("manifest");
    let spec = &desired.products["a1Fleet"];
    let client = env.client().with_instance(Some(INSTANCE.to_owned()));
    let live = read_product(&client, spec, &|_, _, _| {})
        .await
        .expect("read");
    let plan = diff(spec, &live);
    (
        plan.update.len(),
        plan.update.iter().map(|u| u.name.clone()).collect(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_of_an_enterprise_product_come_inline_from_sql() {
    let env = enterprise_env(3_000).await;
    let (updates, names) = plan_tags(&env, 3_000).await;
    assert_eq!((updates, names), (1, vec!["unit-000007".to_owned()]));
    // One count and 60 pages of 50 rows; no QueryDevice, no QueryDeviceProp.
    assert_eq!(
        calls(&env),
        BTreeMap::from([("QueryDeviceBySQL".to_owned(), 61)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_what_one_statement_pages_through_the_product_is_listed() {
    let env = enterprise_env(10_050).await;
    let (updates, _) = plan_tags(&env, 10_050).await;
    assert_eq!(updates, 1);
    let calls = calls(&env);
    assert_eq!(calls.get("QueryDeviceBySQL"), Some(&1), "only the count");
    assert_eq!(calls.get("QueryDevice"), Some(&201));
    assert_eq!(calls.get("QueryDeviceProp"), Some(&10_050));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_is_not_tried_on_the_public_instance_and_refused_there() {
    let env = env_with(100).await;
    let text = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1Fleet\nprune: true\ndevices:\n  - name: unit-{n:06}\n    range: {from: 1, to: 100}\n    tags: {fleet: north}\n";
    let desired = load_str("m.yaml", text).expect("manifest");
    let live = read_product(&env.client(), &desired.products["a1Fleet"], &|_, _, _| {})
        .await
        .expect("read");
    assert_eq!(live.devices.len(), 100);
    assert_eq!(calls(&env).get("QueryDeviceBySQL"), None);
    let refused = env
        .client()
        .call(&iotplan::wire::ops::QueryDeviceBySql {
            sql: "SELECT count(*) FROM device WHERE product_key = 'a1Fleet'".into(),
        })
        .await
        .expect_err("public instance");
    assert!(
        refused
            .to_string()
            .contains("iot.common.APINotSupportedInInstance"),
        "{refused}"
    );
}
