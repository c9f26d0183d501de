//! `iotplan drift` through the binary: each category, field by field; the denominator; the
//! ignore rules (flag and file); partial reads, never in sync; the three formats.

use crate::support::{TestEnv, iotplan, now_ms, repo, text};

const DOORS: &str = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1DriftDoors\ndevices:\n  - name: door-01\n    nickname: Front\n    tags: {fw: \"1.2\"}\n  - name: door-02\n  - name: door-03\n  - name: door-04\n";

fn json(output: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", text(&output.stdout), text(&output.stderr)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drift_made_behind_the_repos_back_is_reported_by_category() {
    let env = TestEnv::fast().await.with_products(&["a1DriftDoors"]);
    let dir = repo(&[("m/doors.yaml", DOORS)]);
    let applied = iotplan(&env, dir.path(), &["apply", "m", "--auto-approve"]).await;
    assert!(applied.status.success(), "{}", text(&applied.stderr));

    let synced = iotplan(&env, dir.path(), &["drift", "m"]).await;
    assert_eq!(synced.status.code(), Some(0), "{}", text(&synced.stdout));
    assert!(text(&synced.stdout).contains("In sync"));

    env.running.emulator.clear_requests();
    // Console clicks and scripts: a rename, a tag, a disable, a deletion, a stray device.
    env.running.emulator.with_store(|store| {
        let doors = store.devices.get_mut("a1DriftDoors").expect("product");
        let first = doors.by_name.get_mut("door-01").expect("door-01");
        first.nickname = Some("Front door".into());
        first.tags.insert("fw".into(), "1.3".into());
        first.tags.insert("owner".into(), "bob".into());
        doors.by_name.get_mut("door-02").expect("door-02").disabled = true;
        doors.remove("door-03");
    });
    env.running.emulator.with_store(|store| {
        store.create_device("a1DriftDoors", "lab-7", None, now_ms());
    });

    let output = iotplan(&env, dir.path(), &["drift", "m"]).await;
    assert_eq!(output.status.code(), Some(2), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    for says in [
        "product a1DriftDoors (prune off): 2 changed, 1 missing, 1 unmanaged",
        "~ door-01: nickname declared \"Front\", observed \"Front door\"; tags.fw declared \"1.2\", observed \"1.3\"; tags.owner declared (none), observed \"bob\"",
        "~ door-02: enabled declared \"true\", observed \"false\"",
        "- missing (declared, not on the platform: deleted outside the repo, or not applied yet): door-03",
        "? unmanaged (declared by no manifest): lab-7",
        "Checked 1 product(s): 4 declared device(s), 4 on the platform.",
        "Drift: 4 finding(s)",
    ] {
        assert!(stdout.contains(says), "`{says}` not in\n{stdout}");
    }
    // The drift command changed nothing.
    let log = env.running.emulator.requests();
    assert!(
        log.iter().all(|r| r.action.starts_with("Query")
            || r.action.starts_with("Batch") && r.action.contains("Get")
            || r.action == "BatchQueryDeviceDetail"),
        "drift wrote: {:?}",
        log.iter()
            .map(|r| r.action.as_str())
            .collect::<std::collections::BTreeSet<_>>()
    );

    let output = iotplan(&env, dir.path(), &["drift", "m", "--format", "json"]).await;
    assert_eq!(output.status.code(), Some(2));
    let report = json(&output);
    assert_eq!(report["format_version"], 1);
    assert_eq!(report["in_sync"], false);
    assert_eq!(report["complete"], true);
    assert_eq!(report["checked"]["products"], 1);
    assert_eq!(report["checked"]["declared_devices"], 4);
    assert_eq!(
        report["signed_in"]["source"],
        "the environment (ALIBABA_CLOUD_ACCESS_KEY_ID)"
    );
    let product = &report["products"][0];
    assert_eq!(product["changed"][0]["fields"][0]["field"], "nickname");
    assert_eq!(product["changed"][0]["fields"][0]["declared"], "Front");
    assert_eq!(product["changed"][0]["fields"][0]["observed"], "Front door");
    assert_eq!(product["missing"], serde_json::json!(["door-03"]));
    assert_eq!(product["unmanaged"][0]["device"], "lab-7");

    let output = iotplan(&env, dir.path(), &["drift", "m", "--format", "markdown"]).await;
    let md = text(&output.stdout);
    assert!(
        md.starts_with("<!-- iotplan-drift -->\n### iotplan drift: drift found"),
        "{md}"
    );
    assert!(md.contains("| ~ changed | `door-01` |"), "{md}");

    // Ignore rules: tags and strays are meant to drift here; the rest still counts.
    std::fs::write(
        dir.path().join(".iotplan-drift-ignore"),
        "# tags are set by the field team\nfield=tags.*\ndevice=lab-*,kind=unmanaged\n",
    )
    .expect("write");
    let output = iotplan(
        &env,
        dir.path(),
        &[
            "drift",
            "m",
            "--format",
            "json",
            "--ignore",
            "device=door-02",
        ],
    )
    .await;
    let report = json(&output);
    assert_eq!(report["ignored"], 4, "{report:#}");
    assert_eq!(report["rules"].as_array().map(Vec::len), Some(3));
    assert_eq!(
        report["products"][0]["changed"][0]["fields"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    assert_eq!(output.status.code(), Some(2));
    let output = iotplan(
        &env,
        dir.path(),
        &["drift", "m", "--ignore", "device=door-0*"],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
    assert!(
        text(&output.stdout).contains("In sync")
            && text(&output.stdout).contains("ignored by 3 rule(s)")
    );
    std::fs::write(
        dir.path().join(".iotplan-drift-ignore"),
        "field=tags.*\ncolour=red\n",
    )
    .expect("write");
    let output = iotplan(&env, dir.path(), &["drift", "m"]).await;
    assert_eq!(output.status.code(), Some(1));
    assert!(
        text(&output.stderr)
            .contains(".iotplan-drift-ignore:2: ignore rule `colour=red`: unknown key `colour`"),
        "{}",
        text(&output.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_cannot_read_everything_is_never_in_sync() {
    let env = TestEnv::fast().await.with_products(&["a1DriftDoors"]);
    let gone = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1NotThere\ndevices:\n  - name: x-0001\n";
    let dir = repo(&[("m/doors.yaml", DOORS), ("m/gone.yaml", gone)]);
    let applied = iotplan(
        &env,
        dir.path(),
        &["apply", "m/doors.yaml", "--auto-approve"],
    )
    .await;
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    let output = iotplan(&env, dir.path(), &["drift", "m", "--format", "json"]).await;
    assert_eq!(output.status.code(), Some(1), "{}", text(&output.stderr));
    let report = json(&output);
    assert_eq!(report["in_sync"], false, "{report:#}");
    assert_eq!(report["complete"], false);
    assert_eq!(report["checked"]["products"], 1);
    assert_eq!(report["skipped"][0]["product_key"], "a1NotThere");
    assert!(
        report["skipped"][0]["reason"]
            .as_str()
            .is_some_and(|r| r.contains("iot.prod.NotExistedProduct")),
        "{report:#}"
    );
    let output = iotplan(&env, dir.path(), &["drift", "m"]).await;
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("skipped a1NotThere") && stdout.contains("Incomplete"),
        "{stdout}"
    );
}
