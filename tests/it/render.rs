//! Snapshot tests of the three plan renderings for representative plans.

use std::collections::BTreeMap;

use iotplan::manifest;
use iotplan::model::{LiveDevice, LiveProduct};
use iotplan::plan::{self, Plan, ProductPlan};
use iotplan::render;

/// A device on the platform: name, nickname, enabled, tags.
type Row<'a> = (&'a str, Option<&'a str>, bool, &'a [(&'a str, &'a str)]);

fn live(devices: &[Row<'_>]) -> LiveProduct {
    LiveProduct {
        devices: devices
            .iter()
            .map(|(name, nickname, enabled, tags)| {
                (
                    (*name).to_owned(),
                    LiveDevice {
                        iot_id: format!("iot-{name}").into(),
                        nickname: nickname.map(Into::into),
                        enabled: *enabled,
                        tags: Some(std::sync::Arc::new(
                            tags.iter()
                                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                                .collect(),
                        )),
                    },
                )
            })
            .collect(),
        by_name: false,
    }
}

/// Plans a manifest text against live products, with fixed fingerprints for stable snapshots.
fn plan_of(manifest_text: &str, live_products: &BTreeMap<&str, LiveProduct>) -> Plan {
    let desired = manifest::load_str("devices.yaml", manifest_text).expect("manifest is valid");
    let products = desired
        .products
        .values()
        .map(|spec| {
            let empty = LiveProduct::default();
            let live = live_products
                .get(spec.product_key.as_str())
                .unwrap_or(&empty);
            ProductPlan {
                live_fingerprint: "f".repeat(64),
                ..plan::diff(spec, live)
            }
        })
        .collect();
    Plan {
        format_version: plan::FORMAT_VERSION,
        manifest_files: vec!["devices.yaml".to_owned()],
        manifest_fingerprint: "0".repeat(64),
        products,
        ..Plan::default()
    }
}

fn snapshot_all(name: &str, plan: &Plan) {
    insta::assert_snapshot!(format!("{name}.text"), render::text(plan, false, false));
    insta::assert_snapshot!(format!("{name}.json"), render::json(plan));
    insta::assert_snapshot!(format!("{name}.markdown"), render::markdown(plan));
}

const HEADER: &str = "apiVersion: iotplan/v1\nkind: DeviceSet\n";

#[test]
fn empty_plan() {
    let text =
        format!("{HEADER}product: a1Lights\ndevices:\n  - name: lamp-01\n    nickname: Lamp_1\n");
    let live = BTreeMap::from([("a1Lights", live(&[("lamp-01", Some("Lamp_1"), true, &[])]))]);
    snapshot_all("empty", &plan_of(&text, &live));
}

#[test]
fn only_registrations() {
    let text = format!(
        "{HEADER}product: a1Meters\ndevices:\n  - name: meter-{{n:04}}\n    range: {{from: 1, to: 120}}\n    nickname: Meter_{{n}}\n    tags: {{fleet: north}}\n  - name: gateway-main\n    enabled: false\n"
    );
    snapshot_all("registrations", &plan_of(&text, &BTreeMap::new()));
}

#[test]
fn mixed_changes_over_two_products() {
    let text = format!(
        "{HEADER}product: a1Lights\ndevices:\n  - name: lamp-01\n    nickname: Lobby_lamp_1\n    tags: {{site: hq, floor: \"2\"}}\n  - name: lamp-02\n    enabled: false\n  - name: lamp-03\n    nickname: \"\"\n  - name: lamp-04\n---\n{HEADER}product: a1Meters\ndevices:\n  - name: meter-0001\n    tags: {{fleet: north}}\n"
    );
    let live = BTreeMap::from([
        (
            "a1Lights",
            live(&[
                (
                    "lamp-01",
                    Some("Lobby_lamp"),
                    true,
                    &[("site", "hq"), ("floor", "1"), ("old", "x")],
                ),
                ("lamp-02", None, true, &[]),
                ("lamp-03", Some("Spare"), true, &[]),
            ]),
        ),
        (
            "a1Meters",
            live(&[("meter-0001", None, false, &[("fleet", "south")])]),
        ),
    ]);
    snapshot_all("mixed", &plan_of(&text, &live));
}

#[test]
fn prune_with_a_protected_device() {
    let text = format!("{HEADER}product: a1Lights\nprune: true\ndevices:\n  - name: lamp-01\n");
    let live = BTreeMap::from([(
        "a1Lights",
        live(&[
            ("lamp-01", None, true, &[]),
            ("lamp-07", None, true, &[]),
            ("lamp-08", None, true, &[]),
            ("lamp-09", None, true, &[]),
            ("hall-sensor", None, true, &[]),
            ("keep-me", None, true, &[("iotplan.protect", "true")]),
        ]),
    )]);
    snapshot_all("prune", &plan_of(&text, &live));
}

#[test]
fn twenty_thousand_devices() {
    // 15,000 new meters, 3,000 sensors to disable, 2,000 old devices pruned. (The worst case
    // for size, where nothing compresses, is a unit test of the markdown renderer.)
    let text = format!(
        "{HEADER}product: a1Fleet\nprune: true\ndevices:\n  - name: meter-{{n:05}}\n    range: {{from: 1, to: 15000}}\n  - name: sensor-{{n:05}}\n    range: {{from: 1, to: 6000}}\n    enabled: false\n"
    );
    let sensors: Vec<String> = (1..=6000).map(|n| format!("sensor-{n:05}")).collect();
    let olds: Vec<String> = (1..=2000).map(|n| format!("old-{n:05}")).collect();
    let mut product = LiveProduct::default();
    for (index, name) in sensors.iter().enumerate() {
        product.devices.insert(
            name.clone(),
            LiveDevice {
                iot_id: format!("iot-{name}").into(),
                nickname: None,
                enabled: index < 3000,
                tags: None,
            },
        );
    }
    for name in &olds {
        product.devices.insert(
            name.clone(),
            LiveDevice {
                iot_id: format!("iot-{name}").into(),
                nickname: None,
                enabled: true,
                tags: None,
            },
        );
    }
    let plan = plan_of(&text, &BTreeMap::from([("a1Fleet", product)]));
    let summary = plan.summary();
    assert_eq!(
        (summary.register, summary.update, summary.delete),
        (15_000, 3_000, 2_000)
    );
    let markdown = render::markdown(&plan);
    assert!(markdown.chars().count() <= 65_535);
    insta::assert_snapshot!("twenty-thousand.text", render::text(&plan, false, false));
    insta::assert_snapshot!("twenty-thousand.markdown", markdown);
}
