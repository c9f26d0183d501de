use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::manifest::load_str;
use crate::model::{LiveGroup, LiveProductInfo, Tags};
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
    let exported = manifest(&target(), live, &BTreeMap::new()).expect("exported");
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

fn group(name: &str, parent: Option<&str>, members: &[&str]) -> (String, LiveGroup) {
    (
        name.to_owned(),
        LiveGroup {
            id: format!("id-{name}"),
            name: name.to_owned(),
            description: format!("The {name}"),
            parent: parent.map(str::to_owned),
            tags: Some(Tags::from([("site".to_owned(), "hq".to_owned())])),
            members: Some(
                members
                    .iter()
                    .map(|d| ("a1Meters".to_owned(), (*d).to_owned()))
                    .chain([("a1Other".to_owned(), "elsewhere".to_owned())])
                    .collect(),
            ),
        },
    )
}

/// A product, a three-level group tree and membership over a range export to documents that
/// load together and plan no product, group, member or device change; a group whose name breaks
/// the rules is left out with its children and said.
#[test]
fn products_groups_and_membership_export_to_no_changes() {
    let mut live = LiveProduct::default();
    let mut in_floor = Vec::new();
    for n in 1..=40 {
        let name = format!("meter-{n:05}");
        live.devices.insert(name.clone(), device(None, true, &[]));
        if n <= 30 {
            in_floor.push(name);
        }
    }
    let in_floor: Vec<&str> = in_floor.iter().map(String::as_str).collect();
    let groups: BTreeMap<String, LiveGroup> = [
        group("campus", None, &in_floor),
        group("building_a", Some("campus"), &[]),
        group("floor_3", Some("building_a"), &in_floor[..10]),
        group("no", None, &["meter-00040"]),
        group("under_no", Some("no"), &[]),
    ]
    .into_iter()
    .collect();
    let product = LiveProductInfo {
        key: "a1Meters".into(),
        name: "meters_v1".into(),
        description: "Meters".into(),
        device_count: 40,
        fixed: crate::model::FixedProductFields {
            node_type: Some(1),
            auth_type: Some("secret".into()),
            data_format: Some(1),
            net_type: Some("ETHERNET".into()),
            protocol_type: None,
            edition: Some("iothub_senior".into()),
        },
        tags: Some(Tags::from([("team".to_owned(), "grid".to_owned())])),
    };
    let mut unmanaged = Vec::new();
    let product_text = product_document(&target(), &product, &mut unmanaged)
        .expect("yaml")
        .expect("a product document");
    let written = groups_documents(Some("cn-shanghai"), None, &groups).expect("yaml");
    assert_eq!(
        written.names.iter().map(String::as_str).collect::<Vec<_>>(),
        ["building_a", "campus", "floor_3"]
    );
    assert_eq!(written.unmanaged.len(), 2, "{:?}", written.unmanaged);
    let of_device = memberships("a1Meters", &groups, &written.names);
    let exported = manifest(&target(), &live, &of_device).expect("yaml");
    assert_eq!(exported.entries, 3, "{}", exported.text);
    let text = format!("{product_text}---\n{}---\n{}", written.text, exported.text);
    assert!(
        text.contains("groups: [campus, floor_3]"),
        "membership fits the range form:\n{text}"
    );
    let desired = load_str("export.yaml", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let place = crate::model::Place {
        region: Some("cn-shanghai".into()),
        instance: None,
    };
    let fleet = crate::model::LiveFleet {
        products: BTreeMap::from([(place.clone(), vec![product])]),
        groups: BTreeMap::from([(place, groups)]),
    };
    let prune = crate::plan::fleet::FleetPrune::default();
    let referenced = std::collections::BTreeSet::from(["a1Meters".to_owned()]);
    let products = crate::plan::fleet::products(&desired, &fleet, &referenced, prune);
    assert!(
        products.iter().all(|p| !p.has_changes()),
        "{products:#?}\n{text}"
    );
    let group_plans = crate::plan::fleet::groups(&desired, &fleet, prune);
    assert_eq!(group_plans.len(), 3);
    assert!(
        group_plans.iter().all(|g| !g.has_changes()),
        "{group_plans:#?}\n{text}"
    );
    assert!(!diff(&desired.products["a1Meters"], &live).has_changes());
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
