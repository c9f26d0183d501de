use std::collections::BTreeMap;
use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::model::{DeviceSpec, LiveDevice, LiveProduct, Origin, ProductSpec};

fn origin() -> Origin {
    Origin {
        file: Arc::from("m.yaml"),
        line: 1,
        column: 1,
    }
}

fn names() -> impl Strategy<Value = String> {
    (0..16u32).prop_map(|n| format!("dev-{n:03}"))
}

fn tags() -> impl Strategy<Value = BTreeMap<String, String>> {
    prop::collection::btree_map(
        prop::sample::select(vec![
            "site",
            "room",
            "floor",
            "iotplan.protect",
            "iotplan.owner",
        ])
        .prop_map(str::to_owned),
        prop::sample::select(vec!["a", "b", "true"]).prop_map(str::to_owned),
        0..4,
    )
}

fn nickname() -> impl Strategy<Value = Option<String>> {
    prop::option::of(
        prop::sample::select(vec!["", "Lobby", "Hall_1", "智能灯1"]).prop_map(str::to_owned),
    )
}

fn desired() -> impl Strategy<Value = ProductSpec> {
    (
        prop::collection::btree_map(
            names(),
            (nickname(), any::<bool>(), prop::option::of(tags())),
            0..12,
        ),
        any::<bool>(),
    )
        .prop_map(|(devices, prune)| ProductSpec {
            product_key: "a1Product01".into(),
            product_name: None,
            region: None,
            instance: None,
            prune,
            devices: devices
                .into_iter()
                .map(|(name, (nickname, enabled, tags))| {
                    let tags =
                        tags.map(|t: BTreeMap<String, String>| -> BTreeMap<String, String> {
                            t.into_iter()
                                .filter(|(k, _)| !k.starts_with("iotplan."))
                                .collect()
                        });
                    (
                        name.clone(),
                        DeviceSpec {
                            nickname: nickname.map(Into::into),
                            enabled,
                            tags: tags.map(std::sync::Arc::new),
                            groups: None,
                            origin: origin(),
                        },
                    )
                })
                .collect(),
        })
}

fn live() -> impl Strategy<Value = LiveProduct> {
    prop::collection::btree_map(
        names(),
        (
            prop::option::of(
                prop::sample::select(vec!["Lobby", "Old_1", "智能灯1"]).prop_map(str::to_owned),
            ),
            any::<bool>(),
            tags(),
        ),
        0..12,
    )
    .prop_map(|devices| LiveProduct {
        devices: devices
            .into_iter()
            .map(|(name, (nickname, enabled, tags))| {
                (
                    name.clone(),
                    LiveDevice {
                        iot_id: format!("iot-{name}").into(),
                        nickname: nickname.map(Into::into),
                        enabled,
                        tags: Some(std::sync::Arc::new(tags)),
                    },
                )
            })
            .collect(),
        by_name: false,
    })
}

proptest! {
    #[test]
    fn applying_a_plan_reaches_the_desired_state(desired in desired(), live in live()) {
        let plan = diff(&desired, &live);
        let after = applied(&plan, &live);
        let again = diff(&desired, &after);
        prop_assert!(!again.has_changes(), "planning again after applying: {:?}", again);
        for (name, spec) in &desired.devices {
            let device = after.devices.get(name).expect("every declared device exists");
            prop_assert_eq!(device.enabled, spec.enabled);
            if let Some(nickname) = &spec.nickname {
                prop_assert_eq!(device.nickname.as_deref().unwrap_or(""), &**nickname);
            }
            if let Some(tags) = &spec.tags {
                let managed: BTreeMap<_, _> = device.tags.as_deref().cloned().unwrap_or_default().into_iter().filter(|(k, _)| !k.starts_with("iotplan.")).collect();
                prop_assert_eq!(&managed, &**tags);
            }
        }
        for (name, device) in &after.devices {
            if !desired.devices.contains_key(name) {
                prop_assert!(!desired.prune || is_protected(device), "{} should have been pruned", name);
                prop_assert_eq!(Some(device), live.devices.get(name), "undeclared devices are left alone");
            }
        }
    }

    #[test]
    fn the_same_state_plans_nothing(desired in desired()) {
        let live = applied(&diff(&desired, &LiveProduct::default()), &LiveProduct::default());
        prop_assert!(!diff(&desired, &live).has_changes());
    }
}

#[test]
fn prune_spares_protected_devices_and_is_off_by_default() {
    let mut live = LiveProduct::default();
    for (name, protect) in [("old-0001", false), ("keep-0001", true)] {
        let tags = if protect {
            BTreeMap::from([(PROTECT_TAG.to_owned(), "true".to_owned())])
        } else {
            BTreeMap::new()
        };
        live.devices.insert(
            name.into(),
            LiveDevice {
                iot_id: format!("iot-{name}").into(),
                nickname: None,
                enabled: true,
                tags: Some(std::sync::Arc::new(tags)),
            },
        );
    }
    let mut desired = ProductSpec {
        product_key: "pk".into(),
        product_name: None,
        region: None,
        instance: None,
        prune: false,
        devices: BTreeMap::new(),
    };
    assert!(!diff(&desired, &live).has_changes());
    desired.prune = true;
    let plan = diff(&desired, &live);
    assert_eq!(
        plan.delete,
        [Deletion {
            name: "old-0001".into(),
            iot_id: "iot-old-0001".into()
        }]
    );
    assert_eq!(plan.protected, ["keep-0001"]);
}

#[test]
fn fingerprints_change_with_what_the_plan_compares_only() {
    let spec = |nickname: Option<&str>| ProductSpec {
        product_key: "a1Print".into(),
        product_name: None,
        region: None,
        instance: None,
        prune: false,
        devices: BTreeMap::from([(
            "a-0001".to_owned(),
            DeviceSpec {
                nickname: nickname.map(Into::into),
                enabled: true,
                tags: None,
                groups: None,
                origin: crate::model::Origin {
                    file: "m.yaml".into(),
                    line: 1,
                    column: 1,
                },
            },
        )]),
    };
    let mut live = LiveProduct::default();
    live.devices.insert(
        "a-0001".into(),
        LiveDevice {
            iot_id: "i".into(),
            nickname: None,
            enabled: true,
            tags: None,
        },
    );
    let managed = spec(Some("Lamp"));
    let unmanaged = spec(None);
    let before = (
        live_fingerprint(&managed, &live),
        live_fingerprint(&unmanaged, &live),
    );
    live.devices.get_mut("a-0001").expect("device").nickname = Some("Renamed".into());
    // A nickname the manifest does not manage is not compared (a read that gives no nicknames
    // makes the same fingerprint), one it manages is.
    assert_ne!(before.0, live_fingerprint(&managed, &live));
    assert_eq!(before.1, live_fingerprint(&unmanaged, &live));
    // An undeclared device counts only with prune on.
    live.devices.insert(
        "stray-1".into(),
        LiveDevice {
            iot_id: "j".into(),
            nickname: None,
            enabled: true,
            tags: None,
        },
    );
    assert_eq!(before.1, live_fingerprint(&unmanaged, &live));
    let pruned = ProductSpec {
        prune: true,
        ..unmanaged
    };
    assert_ne!(before.1, live_fingerprint(&pruned, &live));
}
