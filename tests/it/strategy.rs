//! The read strategy: with prune off, the declared devices are read through every source at once
//! (BatchGetDeviceState, BatchQueryDeviceDetail for declared nicknames, and the listing when they
//! are nearly the whole product), giving the same plan as a full listing whichever source answers;
//! with prune on the product is listed, the first 10,000 by parallel pages and the rest on the
//! NextToken chain. Tags come inline from QueryDeviceBySQL on an Enterprise Edition instance (in
//! creation-time windows past 10,000 devices), and prune finds protected candidates with one
//! QueryDeviceByTags search. Each checked by the calls the emulator saw.

use std::collections::BTreeMap;

use iotplan::manifest::load_str;
use iotplan::model::{DesiredState, LiveProduct};
use iotplan::plan::diff;
use iotplan::platform::Client;
use iotplan::platform::live;

use crate::support::{TestEnv, now_ms};

async fn env_with(devices: u64) -> TestEnv {
    env_with_config(devices, false).await
}

async fn env_with_config(devices: u64, state_omits_unknown: bool) -> TestEnv {
    env_paced(devices, state_omits_unknown, 0.0).await
}

/// `qps_scale` 1: the emulator refuses what exceeds the documented quotas, as the platform does.
async fn env_paced(devices: u64, state_omits_unknown: bool, qps_scale: f64) -> TestEnv {
    let env = TestEnv::start(iotplan::emulator::Config {
        qps_scale,
        state_omits_unknown,
        ..iotplan::emulator::Config::default()
    })
    .await
    .with_products(&["a1Fleet"]);
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

/// Plans' reads of a1Fleet: the product check (QueryProduct), then the chosen strategy.
async fn read(client: &Client, desired: &DesiredState) -> LiveProduct {
    let mut state = live::read(&|_| client.clone(), desired, &|_, _, _| {})
        .await
        .expect("read");
    state.products.remove("a1Fleet").expect("a1Fleet read")
}

async fn plan_counts(env: &TestEnv, text: &str) -> (usize, usize, bool) {
    let desired = load_str("m.yaml", text).expect("manifest");
    let spec = &desired.products["a1Fleet"];
    let live = read(&env.client(), &desired).await;
    let plan = diff(spec, &live);
    (plan.register.len(), plan.update.len(), plan.read_by_name)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_declared_devices_of_ten_thousand_are_read_in_one_call() {
    for omits_unknown in [false, true] {
        let env = env_with_config(10_000, omits_unknown).await;
        // 45 exist, 5 are new.
        let (register, update, by_name) = plan_counts(&env, &manifest(9_956, 10_005, false)).await;
        assert_eq!((register, update, by_name), (5, 0, true));
        let mut expected = BTreeMap::from([
            ("BatchGetDeviceState".to_owned(), 1),
            ("QueryProduct".to_owned(), 1),
        ]);
        if !omits_unknown {
            // The state call failed on the 5 unknown names: its names went to the detail read,
            // which leaves unknown names out.
            expected.insert("BatchQueryDeviceDetail".to_owned(), 1);
        }
        assert_eq!(calls(&env), expected, "omits unknown: {omits_unknown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_declared_devices_ask_the_product_size_first() {
    let env = env_with(10_000).await;
    // 600 declared of 10,000: 12 state calls, after one page that gives the size.
    let (register, _, by_name) = plan_counts(&env, &manifest(1, 600, false)).await;
    assert_eq!((register, by_name), (0, true));
    assert_eq!(
        calls(&env),
        BTreeMap::from([
            ("BatchGetDeviceState".to_owned(), 12),
            ("QueryDevice".to_owned(), 1),
            ("QueryProduct".to_owned(), 1),
        ])
    );
    // 6,000 of 10,000: the newest-first listing would read 4,000 undeclared devices before the
    // first declared one, so it stays out.
    env.running.emulator.clear_requests();
    let (register, _, by_name) = plan_counts(&env, &manifest(1, 6_000, false)).await;
    assert_eq!((register, by_name), (0, true));
    assert_eq!(
        calls(&env),
        BTreeMap::from([
            ("BatchGetDeviceState".to_owned(), 120),
            ("QueryDevice".to_owned(), 1),
            ("QueryProduct".to_owned(), 1),
        ])
    );
}

/// A fleet of 6,000 with drift of every kind: disabled, renamed, and (in the manifest) 100 new.
async fn drifted_env(omits_unknown: bool) -> TestEnv {
    let env = env_with_config(6_000, omits_unknown).await;
    env.running.emulator.with_store(|store| {
        let fleet = store.devices.get_mut("a1Fleet").expect("fleet");
        for n in (7..=6_000).step_by(97) {
            fleet
                .by_name
                .get_mut(&format!("unit-{n:06}"))
                .expect("device")
                .disabled = true;
        }
        for n in (10..=6_000).step_by(10) {
            fleet
                .by_name
                .get_mut(&format!("unit-{n:06}"))
                .expect("device")
                .nickname = Some(if n % 30 == 0 {
                format!("Other_{n}")
            } else {
                format!("Unit_{n}")
            });
        }
    });
    env.running.emulator.clear_requests();
    env
}

/// 6,100 declared (100 new); nicknames declared from 4,001 on.
const DRIFTED: &str = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1Fleet\ndevices:\n  - name: unit-{n:06}\n    range: {from: 1, to: 4000}\n  - name: unit-{n:06}\n    range: {from: 4001, to: 6100}\n    nickname: Unit_{n}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_source_and_any_mix_give_the_plan_a_full_listing_gives() {
    let desired = load_str("m.yaml", DRIFTED).expect("manifest");
    let spec = &desired.products["a1Fleet"];
    for omits_unknown in [false, true] {
        let env = drifted_env(omits_unknown).await;
        // The reference: the whole product listed.
        let listed = live::read_devices(&env.client(), "a1Fleet", &|_| false, &|_, _, _| {})
            .await
            .expect("listing");
        let reference = diff(spec, &listed);
        assert_eq!(reference.register.len(), 100);
        assert!(reference.update.len() > 100, "{}", reference.update.len());
        env.running.emulator.clear_requests();
        // The client at the documented quotas, as a real run: each source paced by its own.
        let mut config = env.client_config();
        config.qps_scale = 1.0;
        let client = iotplan::platform::Client::new(config).expect("client");
        let live = read(&client, &desired).await;
        let plan = diff(spec, &live);
        assert_eq!(
            plan.register, reference.register,
            "omits unknown: {omits_unknown}"
        );
        let differing: Vec<_> = plan
            .update
            .iter()
            .filter(|u| !reference.update.contains(u))
            .chain(reference.update.iter().filter(|u| !plan.update.contains(u)))
            .take(5)
            .collect();
        assert!(
            differing.is_empty(),
            "omits unknown: {omits_unknown}: {differing:?}"
        );
        // The saved plan's fingerprint does not depend on which source read a device.
        assert_eq!(plan.live_fingerprint, reference.live_fingerprint);
        let log = env.running.emulator.requests();
        let refused = log.iter().filter(|r| r.code.is_some()).count();
        assert_eq!(
            refused,
            0,
            "throttled or refused: {refused}: {:?}",
            log.iter()
                .filter(|r| r.code.is_some())
                .map(|r| r.action.as_str())
                .collect::<std::collections::BTreeSet<_>>()
        );
        let calls = calls(&env);
        // All three sources answered: nearly the whole product is declared, so it is listed too.
        for source in [
            "BatchGetDeviceState",
            "BatchQueryDeviceDetail",
            "QueryDevice",
        ] {
            assert!(
                calls.get(source).is_some_and(|n| *n > 0),
                "{source}: {calls:?}"
            );
        }
        // Within 1.1× the minimum: 6,100 names, 50 a call, and the in-flight calls at the end.
        let reads: usize = [
            "BatchGetDeviceState",
            "BatchQueryDeviceDetail",
            "QueryDevice",
        ]
        .iter()
        .map(|source| calls[*source])
        .sum();
        assert!(reads <= 122 * 11 / 10, "{reads} reads: {calls:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_lists_the_whole_product_past_ten_thousand_in_the_minimum_of_pages() {
    let env = env_with(12_345).await;
    let (register, update, by_name) = plan_counts(&env, &manifest(1, 12_345, true)).await;
    assert_eq!((register, update, by_name), (0, 0, false));
    // ceil(12,345 / 50) = 247 pages, each read once.
    assert_eq!(
        calls(&env),
        BTreeMap::from([
            ("QueryDevice".to_owned(), 247),
            ("QueryProduct".to_owned(), 1),
        ])
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

/// A tagged product on an Enterprise Edition instance, its devices created a millisecond apart
/// (or, with `spread` false, all in one millisecond).
async fn enterprise_env_with(devices: u64, spread: bool) -> TestEnv {
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
                if spread {
                    now + i64::try_from(n).expect("small")
                } else {
                    now
                },
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

async fn enterprise_env(devices: u64) -> TestEnv {
    enterprise_env_with(devices, true).await
}

async fn plan_tags(env: &TestEnv, devices: u64) -> (usize, Vec<String>) {
    let text = format!(
        "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1Fleet\ninstance: {INSTANCE}\nprune: true\ndevices:\n  - name: unit-{{n:06}}\n    range: {{from: 1, to: {devices}}}\n    tags: {{fleet: north}}\n"
    );
    let desired = load_str("m.yaml", &text).expect("manifest");
    let spec = &desired.products["a1Fleet"];
    let client = env.client().with_instance(Some(INSTANCE.to_owned()));
    let live = read(&client, &desired).await;
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
    // The check, one count and 60 pages of 50 rows; no QueryDevice, no QueryDeviceProp.
    assert_eq!(
        calls(&env),
        BTreeMap::from([
            ("QueryDeviceBySQL".to_owned(), 61),
            ("QueryProduct".to_owned(), 1),
        ])
    );
}

/// Past the 10,000 rows one statement pages through, the product is split into creation-time
/// windows of at most 10,000 devices: still no per-device read, and the windows' counts cost
/// little beside the pages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_ten_thousand_sql_reads_creation_time_windows() {
    let env = enterprise_env(25_050).await;
    let (updates, names) = plan_tags(&env, 25_050).await;
    assert_eq!((updates, names), (1, vec!["unit-000007".to_owned()]));
    let calls = calls(&env);
    assert_eq!(calls.get("QueryDevice"), None);
    assert_eq!(calls.get("QueryDeviceProp"), None);
    assert_eq!(
        calls.get("QueryProduct"),
        Some(&1),
        "the product check, whose creation time the windows start from"
    );
    let log = env.running.emulator.requests();
    let refused = log.iter().filter(|r| r.code.is_some()).count();
    assert_eq!(refused, 0, "no statement was refused (limits, offsets)");
    // The minimum is the count and 501 pages of 50; each window adds its count and at most one
    // part-filled page.
    let sql = calls["QueryDeviceBySQL"];
    assert!(
        (502..=502 + 80).contains(&sql),
        "{sql} QueryDeviceBySQL calls for 25,050 devices"
    );
}

/// When one millisecond holds more than 10,000 devices no window can be read whole: the product
/// is listed and its tags read per device instead, with the same plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_than_ten_thousand_in_one_millisecond_are_listed() {
    let env = enterprise_env_with(10_050, false).await;
    let (updates, names) = plan_tags(&env, 10_050).await;
    assert_eq!((updates, names), (1, vec!["unit-000007".to_owned()]));
    let calls = calls(&env);
    assert_eq!(calls.get("QueryDevice"), Some(&201));
    assert_eq!(calls.get("QueryDeviceProp"), Some(&10_050));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sql_is_not_tried_on_the_public_instance_and_refused_there() {
    let env = env_with(100).await;
    let text = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1Fleet\nprune: true\ndevices:\n  - name: unit-{n:06}\n    range: {from: 1, to: 100}\n    tags: {fleet: north}\n";
    let desired = load_str("m.yaml", text).expect("manifest");
    let live = read(&env.client(), &desired).await;
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

/// A product of 2,000 on the public instance, 1,000 of them declared with prune on; of the
/// undeclared, `unit-001500`, `unit-001501` and `unit-002000` carry `iotplan.protect: "true"`
/// and `unit-001502` carries it as "false". Another product of the instance has protected
/// devices too.
async fn prune_env() -> TestEnv {
    let env = env_with(2_000).await.with_products(&["a1Other"]);
    env.running.emulator.with_store(|store| {
        for n in 1..=60 {
            store.create_device("a1Other", &format!("other-{n:04}"), None, now_ms());
        }
        let mut protect = |product: &str, name: &str, value: &str| {
            let device = store
                .devices
                .get_mut(product)
                .and_then(|d| d.by_name.get_mut(name))
                .expect("seeded");
            device.tags.insert("iotplan.protect".into(), value.into());
        };
        for name in ["unit-001500", "unit-001501", "unit-002000", "unit-000010"] {
            protect("a1Fleet", name, "true");
        }
        protect("a1Fleet", "unit-001502", "false");
        for n in 1..=60 {
            protect("a1Other", &format!("other-{n:04}"), "true");
        }
    });
    env.running.emulator.clear_requests();
    env
}

async fn prune_plan(env: &TestEnv, declared_to: u64) -> (usize, Vec<String>) {
    let desired = load_str("m.yaml", &manifest(1, declared_to, true)).expect("manifest");
    let spec = &desired.products["a1Fleet"];
    let live = read(&env.client(), &desired).await;
    let plan = diff(spec, &live);
    (plan.delete.len(), plan.protected)
}

/// Prune needs to know which undeclared devices are protected: one QueryDeviceByTags search
/// (2 pages of 50 across the instance) instead of 1,000 QueryDeviceProp calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protected_devices_are_found_by_one_tag_search() {
    let env = prune_env().await;
    let (deleted, protected) = prune_plan(&env, 1_000).await;
    assert_eq!(
        protected,
        ["unit-001500", "unit-001501", "unit-002000"],
        "the declared unit-000010 is not a prune candidate; \"false\" does not protect"
    );
    assert_eq!(deleted, 997);
    let calls = calls(&env);
    assert_eq!(calls.get("QueryDeviceByTags"), Some(&2), "{calls:?}");
    assert_eq!(calls.get("QueryDeviceProp"), None, "{calls:?}");
}

/// With few undeclared devices, one QueryDeviceProp each is quicker than a search page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn few_prune_candidates_are_read_one_by_one() {
    let env = prune_env().await;
    let (deleted, protected) = prune_plan(&env, 1_995).await;
    assert_eq!(protected, ["unit-002000"]);
    assert_eq!(deleted, 4);
    let calls = calls(&env);
    assert_eq!(calls.get("QueryDeviceByTags"), None, "{calls:?}");
    assert_eq!(calls.get("QueryDeviceProp"), Some(&5), "{calls:?}");
}
