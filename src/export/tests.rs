use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::manifest::load_str;
use crate::plan::diff;

fn device(nickname: Option<&str>, enabled: bool, tags: &[(&str, &str)]) -> LiveDevice {
    LiveDevice {
        iot_id: "".into(),
        nickname: nickname.map(Into::into),
        enabled,
        tags: Some(std::sync::Arc::new(
            tags.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )),
    }
}

fn target() -> Target {
    Target {
        product_key: "a1Meters".into(),
        region: Some("cn-shanghai".into()),
        instance: None,
    }
}

/// The exported manifest loads, and planning it against the same live state changes nothing.
fn assert_round_trip(live: &LiveProduct) -> Exported {
    let exported = manifest(&target(), live).expect("exported");
    let desired = load_str("export.yaml", &exported.text)
        .unwrap_or_else(|e| panic!("{e}\n{}", exported.text));
    let spec = &desired.products["a1Meters"];
    assert_eq!(spec.devices.len(), live.devices.len(), "{}", exported.text);
    let plan = diff(spec, live);
    assert!(!plan.has_changes(), "{plan:#?}\n{}", exported.text);
    exported
}

#[test]
fn numbered_runs_compress_with_templated_nicknames() {
    let mut live = LiveProduct::default();
    for n in 1..=250 {
        let nickname = format!("Meter_{n}");
        live.devices.insert(
            format!("meter-{n:05}"),
            device(Some(&nickname), true, &[("fleet", "north"), ("floor", "1")]),
        );
    }
    live.devices
        .insert("meter-00251".into(), device(Some("Spare"), false, &[]));
    live.devices
        .insert("gateway".into(), device(None, true, &[]));
    let exported = assert_round_trip(&live);
    assert_eq!(exported.entries, 3);
    assert!(
        exported.text.contains("- name: meter-{n:5}\n  range: {from: 1, to: 250}\n  nickname: Meter_{n}\n  tags: {fleet: north, floor: \"1\"}\n"),
        "{}",
        exported.text
    );
    assert!(
        exported.text.contains("enabled: false"),
        "{}",
        exported.text
    );
}

#[test]
fn an_odd_device_breaks_a_run_and_short_runs_stay_plain() {
    let mut live = LiveProduct::default();
    for n in 1..=9 {
        live.devices
            .insert(format!("lamp-{n}"), device(None, n != 5, &[]));
    }
    let exported = assert_round_trip(&live);
    // 1–4 a range, 5 plain (disabled), 6–9 a range.
    assert_eq!(exported.entries, 3, "{}", exported.text);
}

#[test]
fn an_empty_product_exports_an_empty_list() {
    let exported = assert_round_trip(&LiveProduct::default());
    assert!(exported.text.contains("devices: []"), "{}", exported.text);
}

#[test]
fn undeclarable_settings_are_left_unmanaged_and_said() {
    let mut live = LiveProduct::default();
    live.devices.insert(
        "odd-device".into(),
        device(Some("has space"), true, &[("1bad", "x")]),
    );
    let exported = assert_round_trip(&live);
    assert_eq!(exported.unmanaged.len(), 2, "{:?}", exported.unmanaged);
    assert!(!exported.text.contains("has space"));
}

fn arbitrary_live() -> impl Strategy<Value = LiveProduct> {
    let name = prop_oneof![
        (1u64..40).prop_map(|n| format!("meter-{n:03}")),
        (1u64..40).prop_map(|n| format!("lamp-{n}")),
        (1u64..20).prop_map(|n| format!("x{n}-gw")),
        "[a-z]{4,8}",
    ];
    let nickname = prop_oneof![
        Just(None),
        Just(Some("Meter".to_owned())),
        Just(Some("Lamp_2".to_owned())),
        Just(Some("灯_12".to_owned())),
    ];
    let tags = prop_oneof![
        Just(BTreeMap::new()),
        Just(BTreeMap::from([("site".to_owned(), "hq".to_owned())])),
        Just(BTreeMap::from([("floor".to_owned(), "2".to_owned())])),
    ];
    proptest::collection::btree_map(
        name,
        (nickname, any::<bool>(), tags).prop_map(|(nickname, enabled, tags)| LiveDevice {
            iot_id: "".into(),
            nickname: nickname.map(Into::into),
            enabled,
            tags: Some(std::sync::Arc::new(tags)),
        }),
        0..60,
    )
    .prop_map(|devices| LiveProduct {
        devices,
        by_name: false,
    })
}

proptest! {
    #[test]
    fn any_live_state_exports_to_a_manifest_that_plans_no_changes(live in arbitrary_live()) {
        assert_round_trip(&live);
    }

    #[test]
    fn templated_nicknames_round_trip(count in 3u64..30, width in 1usize..5) {
        let mut live = LiveProduct::default();
        for n in 1..=count {
            let nickname = format!("Unit_{n:0width$}_x");
            live.devices.insert(format!("unit-{n:04}"), device(Some(&nickname), true, &[]));
        }
        let exported = assert_round_trip(&live);
        prop_assert_eq!(exported.entries, 1, "{}", exported.text);
    }
}
