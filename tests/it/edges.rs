//! The edges a new user hits first, through the binary: an endpoint that cannot be reached, a
//! region that is wrong, flags that cannot work, and logs that must read well in a CI log.

use std::path::Path;
use std::process::Output;

use iotplan::emulator::{DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET};

use crate::support::{TestEnv, closed_port, hang_up_server, repo, text};

const TOKEN: &str = "EDGES-sts-token-5e4d3c2b1a";
const LAMP: &str =
    "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1EdgeLamps\ndevices:\n  - name: lamp-01\n";

/// Runs the binary in `dir` with the demo key, an STS token, and `env` on top.
async fn run(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let dir = dir.to_owned();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let mut command = assert_cmd::Command::cargo_bin("iotplan").expect("binary");
        command
            .current_dir(dir)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", DEMO_ACCESS_KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", DEMO_ACCESS_KEY_SECRET)
            .env("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)
            .env("ALIBABA_CLOUD_REGION_ID", "cn-shanghai")
            .env_remove("IOTPLAN_ENDPOINT")
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .env_remove("TERM");
        for (key, value) in env {
            command.env(key, value);
        }
        command.args(args).output().expect("runs")
    })
    .await
    .expect("joined")
}

/// Nothing a transport failure prints may carry the signed query: the token, the AccessKey ID as
/// a parameter, the signature.
fn assert_no_query(output: &Output) {
    let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
    for needle in [
        TOKEN,
        "SecurityToken",
        "Signature=",
        "SignatureNonce",
        "AccessKeyId=",
        "/?",
    ] {
        assert!(!all.contains(needle), "`{needle}` printed:\n{all}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_connection_says_so_retries_visibly_and_stops_soon() {
    let dir = repo(&[("m.yaml", LAMP)]);
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    let output = run(
        dir.path(),
        &[],
        &["plan", "m.yaml", "--endpoint", &endpoint],
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_no_query(&output);
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(
        stderr.contains("hint: nothing listens there: is the emulator running"),
        "{stderr}"
    );
    // One line per retry at the default verbosity, with its cause, and no more than 3 tries.
    let retries: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("trying again"))
        .collect();
    assert_eq!(retries.len(), 2, "{stderr}");
    assert!(retries[0].contains("connection refused") && retries[0].contains("attempt 2 of 3"));
    assert!(stderr.contains("failed after 3 attempts"), "{stderr}");
    assert!(!stderr.contains("may have been applied"), "{stderr}");
    // Plain lines off a terminal: no color escapes, no timestamps.
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_host_is_not_retried_and_points_at_the_region() {
    let dir = repo(&[("m.yaml", LAMP)]);
    let output = run(
        dir.path(),
        &[],
        &["plan", "m.yaml", "--region", "cn-atlantis-9"],
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_no_query(&output);
    assert!(
        stderr.contains("https://iot.cn-atlantis-9.aliyuncs.com failed: host not found (DNS)"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: check the region"), "{stderr}");
    assert!(!stderr.contains("trying again"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_connection_on_a_read_never_says_it_may_have_been_applied() {
    let dir = repo(&[("m.yaml", LAMP)]);
    let endpoint = hang_up_server().await;
    let output = run(
        dir.path(),
        &[],
        &[
            "devices",
            "--product",
            "a1EdgeLamps",
            "--endpoint",
            &endpoint,
            "--max-attempts",
            "2",
        ],
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_no_query(&output);
    assert!(stderr.contains("connection lost"), "{stderr}");
    assert!(stderr.contains("failed after 2 attempts"), "{stderr}");
    assert!(!stderr.contains("may have been applied"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flags_that_cannot_work_are_refused_as_they_are_parsed() {
    let dir = repo(&[("m.yaml", LAMP)]);
    for (args, says) in [
        (
            vec!["plan", "m.yaml", "--region", "cn shanghai"],
            "`cn shanghai` (from --region) is not a region ID",
        ),
        (
            vec!["plan", "m.yaml", "--endpoint", "http//127.0.0.1:8080"],
            "--endpoint `http//127.0.0.1:8080` cannot be used",
        ),
        (
            vec![
                "plan",
                "m.yaml",
                "--endpoint",
                "http://127.0.0.1:8080/?Action=X",
            ],
            "it has a query or fragment",
        ),
    ] {
        let output = run(dir.path(), &[], &args).await;
        let stderr = text(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert!(!stderr.contains("trying again"), "{stderr}");
    }
    // The same check for a region from the environment, which clap reads too.
    let output = run(
        dir.path(),
        &[("ALIBABA_CLOUD_REGION_ID", "cn shanghai")],
        &["plan", "m.yaml"],
    )
    .await;
    assert_eq!(output.status.code(), Some(2));
    assert!(text(&output.stderr).contains("is not a region ID"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_emulator_refuses_a_region_it_does_not_serve() {
    let env = TestEnv::fast().await.with_products(&["a1EdgeLamps"]);
    let dir = repo(&[("m.yaml", LAMP)]);
    let endpoint = env.running.endpoint();
    let output = run(
        dir.path(),
        &[],
        &[
            "plan",
            "m.yaml",
            "--endpoint",
            &endpoint,
            "--region",
            "cn-atlantis-9",
        ],
    )
    .await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("InvalidRegionId: The region cn-atlantis-9 is not served by this endpoint (it serves cn-shanghai)"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: check --region"), "{stderr}");
    assert!(!stderr.contains("trying again"), "{stderr}");
    let served = run(
        dir.path(),
        &[],
        &["plan", "m.yaml", "--endpoint", &endpoint],
    )
    .await;
    assert_eq!(served.status.code(), Some(0), "{}", text(&served.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_levels_differ_and_color_follows_one_decision() {
    let env = TestEnv::fast().await.with_products(&["a1EdgeLamps"]);
    let dir = repo(&[("m.yaml", LAMP)]);
    let endpoint = env.running.endpoint();
    let plan = |extra: &'static [&'static str]| {
        let mut args = vec!["plan", "m.yaml", "--endpoint", endpoint.as_str()];
        args.extend_from_slice(extra);
        args
    };
    let v = run(dir.path(), &[], &plan(&["-v"])).await;
    let v = text(&v.stderr);
    assert!(v.contains("QueryProduct") && v.contains("call"), "{v}");
    assert!(!v.contains('\u{1b}'), "-v into a pipe is plain: {v:?}");
    assert!(!v.contains("rate limiter"), "{v}");
    let vv = text(&run(dir.path(), &[], &plan(&["-vv"])).await.stderr);
    assert!(
        vv.contains("rate limiter") && vv.contains("sending"),
        "{vv}"
    );
    assert!(!vv.contains(TOKEN), "{vv}");
    let always = text(
        &run(dir.path(), &[], &plan(&["-v", "--color", "always"]))
            .await
            .stderr,
    );
    assert!(always.contains('\u{1b}'), "--color always colors logs too");
    let never = text(
        &run(
            dir.path(),
            &[],
            &plan(&["-v", "--color", "always", "--no-color"]),
        )
        .await
        .stderr,
    );
    assert!(!never.contains('\u{1b}'), "--no-color wins: {never:?}");
}

/// A manifest of `count` numbered lamps of `product`, with prune on.
fn lamps(product: &str, count: usize) -> String {
    format!(
        "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: {product}\nprune: true\ndevices:\n  - name: lamp-{{n:03}}\n    range: {{from: 1, to: {count}}}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_apply_prints_one_document_on_stdout() {
    let env = TestEnv::fast().await.with_products(&["a1EdgeLamps"]);
    let dir = repo(&[("m.yaml", LAMP)]);
    let endpoint = env.running.endpoint();
    let args = [
        "apply",
        "m.yaml",
        "--auto-approve",
        "--format",
        "json",
        "--endpoint",
        &endpoint,
    ];
    let output = run(dir.path(), &[], &args).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is one JSON document");
    assert_eq!(report["products"][0]["registered"], 1);
    assert!(
        text(&output.stderr).contains("+ lamp-01"),
        "the plan is shown on stderr"
    );
    let again = run(dir.path(), &[], &args).await;
    let report: serde_json::Value =
        serde_json::from_slice(&again.stdout).expect("no changes is a JSON document too");
    assert_eq!(
        report,
        serde_json::json!({"format_version": 1, "products": []})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_deletion_guard_lets_a_small_product_prune_and_shows_at_plan_time() {
    let env = TestEnv::fast()
        .await
        .with_products(&["a1SmallLamps", "a1LargeLamps"]);
    env.running.emulator.with_store(|store| {
        for n in 1..=5 {
            store.create_device(
                "a1SmallLamps",
                &format!("lamp-{n:03}"),
                None,
                crate::support::now_ms(),
            );
        }
        for n in 1..=610 {
            store.create_device(
                "a1LargeLamps",
                &format!("lamp-{n:03}"),
                None,
                crate::support::now_ms(),
            );
        }
    });
    let endpoint = env.running.endpoint();
    // A 5-device product losing one: the default limit (10 %, at least 5) allows it.
    let small = repo(&[("m.yaml", &lamps("a1SmallLamps", 4))]);
    let output = run(
        small.path(),
        &[],
        &["apply", "m.yaml", "--auto-approve", "--endpoint", &endpoint],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("1 deleted"),
        "{}",
        text(&output.stdout)
    );
    // 610 devices losing 110: plan says apply will refuse, in every format.
    let large = repo(&[("m.yaml", &lamps("a1LargeLamps", 500))]);
    let plan = run(
        large.path(),
        &[],
        &[
            "plan",
            "m.yaml",
            "--out",
            "plan.json",
            "--endpoint",
            &endpoint,
        ],
    )
    .await;
    let stdout = text(&plan.stdout);
    assert!(
        stdout.contains("  ! product a1LargeLamps: apply will refuse: 110 deletions of its 610 devices, limit 61; pass --max-delete 110 (or more) to allow them"),
        "{stdout}"
    );
    assert!(stdout.contains("Apply will refuse this plan"), "{stdout}");
    assert!(
        text(&plan.stderr).contains("but apply will refuse it"),
        "{}",
        text(&plan.stderr)
    );
    let json = run(
        large.path(),
        &[],
        &[
            "plan",
            "m.yaml",
            "--format",
            "json",
            "--endpoint",
            &endpoint,
        ],
    )
    .await;
    let document: serde_json::Value = serde_json::from_slice(&json.stdout).expect("json");
    assert_eq!(
        document["delete_guard"],
        serde_json::json!([{"product_key": "a1LargeLamps", "deletions": 110, "live_devices": 610, "limit": 61}])
    );
    let markdown = run(
        large.path(),
        &[],
        &[
            "plan",
            "m.yaml",
            "--format",
            "markdown",
            "--endpoint",
            &endpoint,
        ],
    )
    .await;
    assert!(text(&markdown.stdout).contains("> [!CAUTION]\n> **Apply will refuse this plan**"));
    // Apply refuses, naming the devices compressed, and changes nothing.
    let refused = run(
        large.path(),
        &[],
        &["apply", "--plan", "plan.json", "--endpoint", &endpoint],
    )
    .await;
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("would delete: lamp-501 … lamp-610 (110 devices)"),
        "{stderr}"
    );
    let left = env
        .running
        .emulator
        .with_store(|store| store.devices["a1LargeLamps"].by_name.len());
    assert_eq!(left, 610);
    // The same plan applies with the limit the message names.
    let allowed = run(
        large.path(),
        &[],
        &[
            "apply",
            "--plan",
            "plan.json",
            "--max-delete",
            "110",
            "--endpoint",
            &endpoint,
        ],
    )
    .await;
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed.stderr));
}

/// `validate --format json`'s errors as `file:line:column message` lines.
async fn validate_errors(dir: &Path, paths: &[&str]) -> (i32, Vec<String>) {
    let mut args = vec!["validate", "--format", "json"];
    args.extend_from_slice(paths);
    let output = run(dir, &[], &args).await;
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let errors = report["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| {
            format!(
                "{}:{}:{} {}",
                e["file"].as_str().unwrap_or_default(),
                e["line"],
                e["column"],
                e["message"].as_str().unwrap_or_default()
            )
        })
        .collect();
    (output.status.code().unwrap_or(-1), errors)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_structural_error_hides_no_other_and_suggests_the_key() {
    let three = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1X\nprun: true\ndevices:\n  - name: lamp-01\n    nicknam: Lamp_1\n    enabled: maybe\n  - name: l\n";
    let dir = repo(&[("three.yaml", three)]);
    let (code, errors) = validate_errors(dir.path(), &["three.yaml"]).await;
    assert_eq!(code, 1);
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert!(
        errors[0].starts_with("three.yaml:4:1 unknown field `prun`"),
        "{errors:#?}"
    );
    assert!(
        errors[1].starts_with("three.yaml:7:5 unknown field `nicknam`"),
        "{errors:#?}"
    );
    assert_eq!(errors[2], "three.yaml:8:14 invalid boolean");
    assert!(
        errors[3].starts_with("three.yaml:9:11 `l` is not a valid DeviceName"),
        "{errors:#?}"
    );
    let text_output = run(dir.path(), &[], &["validate", "three.yaml"]).await;
    let stderr = text(&text_output.stderr);
    assert!(stderr.contains("hint: did you mean `prune`?"), "{stderr}");
    assert!(
        stderr.contains("hint: did you mean `nickname`?"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_missing_paths_and_repeated_files() {
    let dir = repo(&[
        (
            "v2.yaml",
            "apiVersion: iotplan/v2\nkind: Fleet\nitems: []\n",
        ),
        ("m/a.yaml", LAMP),
    ]);
    let (_, errors) = validate_errors(dir.path(), &["v2.yaml"]).await;
    assert_eq!(
        errors,
        ["v2.yaml:1:13 unsupported apiVersion `iotplan/v2`: this iotplan reads iotplan/v1"]
    );
    let (_, errors) = validate_errors(dir.path(), &["missing.yaml"]).await;
    assert_eq!(errors, ["missing.yaml:0:0 missing.yaml does not exist"]);
    let text_output = run(dir.path(), &[], &["validate", "missing.yaml"]).await;
    assert!(
        text(&text_output.stderr).contains("\nmissing.yaml: missing.yaml does not exist"),
        "no `:0:0` position: {}",
        text(&text_output.stderr)
    );
    // The same file given twice, directly and through its folder, is read once.
    let twice = run(
        dir.path(),
        &[],
        &["validate", "m", "m/a.yaml", "m/../m/a.yaml"],
    )
    .await;
    assert_eq!(twice.status.code(), Some(0), "{}", text(&twice.stderr));
    assert!(text(&twice.stdout).contains("1 device(s) in 1 file(s)"));
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinked_manifests_are_followed_and_broken_links_refused() {
    use std::os::unix::fs::symlink;
    let dir = repo(&[
        ("common/lamps.yaml", LAMP),
        (
            "m/other.yaml",
            "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1EdgeOther\ndevices:\n  - name: other-01\n",
        ),
    ]);
    symlink("../common/lamps.yaml", dir.path().join("m/lamps.yaml")).expect("link");
    let output = run(dir.path(), &[], &["validate", "m"]).await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains("2 product(s), 2 device(s) in 2 file(s)"),
        "the linked manifest is read: {}",
        text(&output.stdout)
    );
    symlink("..", dir.path().join("m/loop")).expect("loop");
    symlink("gone.yaml", dir.path().join("m/dangling.yaml")).expect("dangling");
    let (code, errors) = validate_errors(dir.path(), &["m"]).await;
    assert_eq!(code, 1);
    assert_eq!(errors.len(), 2, "{errors:#?}");
    assert!(
        errors
            .iter()
            .any(|e| e.contains("m/dangling.yaml: No such file")),
        "{errors:#?}"
    );
    assert!(
        errors
            .iter()
            .any(|e| e.contains("m/loop is a symbolic link that loops")),
        "{errors:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn product_selection_show_and_json_on_every_reading_command() {
    let env = TestEnv::fast()
        .await
        .with_products(&["a1EdgeLamps", "a1EdgeOther"]);
    let other = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1EdgeOther\ndevices:\n  - name: other-01\n";
    let dir = repo(&[("m/lamps.yaml", LAMP), ("m/other.yaml", other)]);
    let endpoint = env.running.endpoint();
    env.running.emulator.clear_requests();
    let plan = run(
        dir.path(),
        &[],
        &[
            "plan",
            "m",
            "--product",
            "a1EdgeLamps",
            "--out",
            "plan.json",
            "--endpoint",
            &endpoint,
        ],
    )
    .await;
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stderr));
    assert!(text(&plan.stdout).contains("+ lamp-01"));
    assert!(
        !text(&plan.stdout).contains("a1EdgeOther"),
        "{}",
        text(&plan.stdout)
    );
    assert!(
        env.running
            .emulator
            .requests()
            .iter()
            .all(|r| r.product_key.as_deref() != Some("a1EdgeOther")),
        "the other product is not read"
    );
    let unknown = run(
        dir.path(),
        &[],
        &["plan", "m", "--product", "a1Nope", "--endpoint", &endpoint],
    )
    .await;
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        text(&unknown.stderr).contains("--product a1Nope: no manifest declares this product (they declare a1EdgeLamps, a1EdgeOther)"),
        "{}",
        text(&unknown.stderr)
    );
    // show renders the saved plan offline: no endpoint at all.
    let requests = env.running.emulator.requests().len();
    let shown = run(dir.path(), &[], &["show", "plan.json"]).await;
    assert_eq!(shown.status.code(), Some(0), "{}", text(&shown.stderr));
    assert_eq!(
        text(&shown.stdout),
        text(&plan.stdout),
        "show prints what plan printed"
    );
    let shown = run(
        dir.path(),
        &[],
        &["show", "plan.json", "--format", "markdown"],
    )
    .await;
    assert!(text(&shown.stdout).starts_with("### iotplan: 1 to register"));
    assert_eq!(
        env.running.emulator.requests().len(),
        requests,
        "show calls nothing"
    );
    let not_a_plan = run(dir.path(), &[], &["show", "m/lamps.yaml"]).await;
    assert_eq!(not_a_plan.status.code(), Some(1));
    assert!(text(&not_a_plan.stderr).contains("is not an iotplan plan file"));
    // The saved selection applies as it was planned.
    let applied = run(
        dir.path(),
        &[],
        &["apply", "--plan", "plan.json", "--endpoint", &endpoint],
    )
    .await;
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied.stderr));
    // devices and secrets: one JSON document each.
    let devices = run(
        dir.path(),
        &[],
        &[
            "devices",
            "--product",
            "a1EdgeLamps",
            "--format",
            "json",
            "--endpoint",
            &endpoint,
        ],
    )
    .await;
    let document: serde_json::Value = serde_json::from_slice(&devices.stdout).expect("json");
    assert_eq!(document["format_version"], 1);
    assert_eq!(document["devices"][0]["name"], "lamp-01");
    assert_eq!(document["devices"][0]["status"], "UNACTIVE");
    let secrets = run(
        dir.path(),
        &[],
        &[
            "secrets",
            "--product",
            "a1EdgeLamps",
            "--devices",
            "lamp-01,lamp-99",
            "--out",
            "s.json",
            "--format",
            "json",
            "--endpoint",
            &endpoint,
        ],
    )
    .await;
    assert_eq!(secrets.status.code(), Some(1), "lamp-99 does not exist");
    let document: serde_json::Value = serde_json::from_slice(&secrets.stdout).expect("json");
    assert_eq!(document["written"], 1);
    assert_eq!(document["missing"], serde_json::json!(["lamp-99"]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_command_asked_for_json_prints_one_error_document() {
    let dir = repo(&[("m.yaml", LAMP)]);
    let endpoint = format!("http://127.0.0.1:{}", closed_port());
    for args in [
        vec!["plan", "m.yaml", "--format", "json"],
        vec!["apply", "m.yaml", "--auto-approve", "--format", "json"],
        vec!["devices", "--product", "a1EdgeLamps", "--format", "json"],
        vec![
            "secrets",
            "--product",
            "a1EdgeLamps",
            "--all",
            "--out",
            "s.json",
            "--format",
            "json",
        ],
        vec![
            "export",
            "--product",
            "a1EdgeLamps",
            "--out",
            "exported/",
            "--format",
            "json",
        ],
    ] {
        let output = run(dir.path(), &[("IOTPLAN_ENDPOINT", &endpoint)], &args).await;
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        let document: serde_json::Value =
            serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
                panic!(
                    "{args:?}: stdout is not one JSON document ({e}): {}",
                    text(&output.stdout)
                )
            });
        assert_eq!(document["format_version"], 1, "{args:?}");
        let error = &document["error"];
        let said = format!("{} {}", error["message"], error["causes"]);
        assert!(said.contains("connection refused"), "{args:?}: {document}");
        // The hint is the document's own, or per product inside the message.
        let hinted = format!("{said} {}", error["hint"]);
        assert!(
            hinted.contains("is the emulator running"),
            "{args:?}: {document}"
        );
        assert_no_query(&output);
    }
    // Offline commands too: a saved plan that is not there.
    let output = run(
        dir.path(),
        &[],
        &["show", "missing.json", "--format", "json"],
    )
    .await;
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert!(
        document["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("cannot read the plan missing.json"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_outside_a_clone() {
    let dir = tempfile::tempdir().expect("an empty folder, no examples/ in it");
    let output = run(dir.path(), &[], &["demo"]).await;
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("the bundled example manifests are in .iotplan/demo-manifests"),
        "{stderr}"
    );
    assert!(text(&output.stdout).ends_with("No changes. The platform matches the manifests.\n"));
    assert!(
        dir.path()
            .join(".iotplan/demo-manifests/lights.yaml")
            .is_file()
    );
}
