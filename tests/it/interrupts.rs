//! Apply under interruption and faults, through the binary: `kill -9` at every phase of the batch
//! flow, Ctrl-C, a 20 % fault rate with tight quotas, CHECK_FAILED and CREATE_FAILED. After each,
//! the platform converges to the manifests with no device lost or registered twice, and every
//! registered device's secret is in the secrets file.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use iotplan::emulator::{Config, LoggedRequest};

use crate::support::{TestEnv, demo_command, iotplan, repo, text, written_secrets};

const FLEET: &str = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1KillFleet\ndevices:\n  - name: unit-{n:05}\n    range: {from: 1, to: 1300}\n  - name: tagged-{n:04}\n    range: {from: 1, to: 100}\n    enabled: false\n    tags: {fleet: tagged}\n";
const FLEET_SIZE: usize = 1400;

fn spawn_apply(env: &TestEnv, dir: &Path) -> Child {
    demo_command(env, dir)
        .args(["apply", "m", "--auto-approve", "--secrets-out", "s.json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns")
}

/// Waits until the emulator's request log satisfies `reached`.
async fn wait_for(env: &TestEnv, what: &str, reached: impl Fn(&[LoggedRequest]) -> bool) {
    for _ in 0..20_000 {
        if reached(&env.running.emulator.requests()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("apply never reached {what}");
}

fn after_register(log: &[LoggedRequest]) -> &[LoggedRequest] {
    log.iter()
        .position(|r| r.action == "BatchRegisterDeviceWithApplyId")
        .map_or(&[], |at| &log[at + 1..])
}

fn count(log: &[LoggedRequest], action: &str) -> usize {
    log.iter().filter(|r| r.action == action).count()
}

/// The platform holds exactly the fleet, every device's secret is in `s.json`, the journal is
/// empty, and a plan shows no changes.
async fn assert_converged(env: &TestEnv, dir: &Path, expected: usize, case: &str) {
    let platform: BTreeMap<String, String> = env.running.emulator.with_store(|store| {
        store
            .devices
            .get("a1KillFleet")
            .map(|devices| {
                devices
                    .by_name
                    .values()
                    .map(|d| (d.name.clone(), d.secret.expose().to_owned()))
                    .collect()
            })
            .unwrap_or_default()
    });
    assert_eq!(platform.len(), expected, "{case}: devices on the platform");
    let written = written_secrets(&dir.join("s.json"));
    assert_eq!(written, platform, "{case}: every secret written, and right");
    let journal = dir.join(".iotplan/journal/a1KillFleet.json");
    assert!(!journal.exists(), "{case}: the journal is cleared");
    let output = iotplan(env, dir, &["plan", "m", "--detailed-exitcode"]).await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{case}: {}\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
}

type Phase = fn(&[LoggedRequest]) -> bool;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_at_every_phase_converges_with_nothing_lost_or_doubled() {
    let phases: [(&str, Phase); 6] = [
        ("after the check call", |log| {
            count(log, "BatchCheckDeviceNames") > 0
        }),
        ("while polling the check", |log| {
            count(log, "QueryBatchRegisterDeviceStatus") > 0
                && count(log, "BatchRegisterDeviceWithApplyId") == 0
        }),
        ("after the register call", |log| {
            count(log, "BatchRegisterDeviceWithApplyId") > 0
        }),
        ("while polling the creation", |log| {
            count(after_register(log), "QueryBatchRegisterDeviceStatus") > 0
        }),
        ("while paging the secrets", |log| {
            count(log, "QueryPageByApplyId") >= 3
        }),
        ("while tagging the new devices", |log| {
            count(log, "SaveDeviceProp") >= 5
        }),
    ];
    for (index, (phase, reached)) in phases.into_iter().enumerate() {
        let env = TestEnv::start(Config {
            qps_scale: 0.0,
            latency: Duration::from_millis(15),
            apply_delay: Duration::from_millis(600),
            ..Config::default()
        })
        .await
        .with_products(&["a1KillFleet"]);
        let dir = repo(&[("m/fleet.yaml", FLEET)]);
        let mut child = spawn_apply(&env, dir.path());
        wait_for(&env, phase, reached).await;
        child.kill().expect("kill -9");
        let killed = child.wait_with_output().expect("reaped");
        assert!(
            !killed.status.success(),
            "{phase}: the run finished before the kill"
        );
        let before_rerun = env.running.emulator.requests().len();

        let output = iotplan(
            &env,
            dir.path(),
            &["apply", "m", "--auto-approve", "--secrets-out", "s.json"],
        )
        .await;
        assert_eq!(
            output.status.code(),
            Some(0),
            "{phase}: {}\n{}",
            text(&output.stdout),
            text(&output.stderr)
        );
        let rerun = &env.running.emulator.requests()[before_rerun..];
        if index > 0 {
            // The ApplyId was journaled before its first status poll: the names are not checked
            // again, the open application is resumed.
            assert_eq!(
                count(rerun, "BatchCheckDeviceNames"),
                0,
                "{phase}: checked again"
            );
        }
        assert_converged(&env, dir.path(), FLEET_SIZE, phase).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ctrl_c_stops_at_a_safe_point_and_a_rerun_finishes() {
    let env = TestEnv::start(Config {
        qps_scale: 0.0,
        latency: Duration::from_millis(5),
        apply_delay: Duration::from_millis(800),
        ..Config::default()
    })
    .await
    .with_products(&["a1KillFleet"]);
    let dir = repo(&[("m/fleet.yaml", FLEET)]);
    let child = spawn_apply(&env, dir.path());
    wait_for(&env, "the creation", |log| {
        count(log, "BatchRegisterDeviceWithApplyId") > 0
    })
    .await;
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(interrupted.success());
    let output = child.wait_with_output().expect("reaped");
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stderr.contains("stopping at the next safe point"),
        "{stderr}"
    );
    assert!(
        stdout.contains("a1KillFleet: 0 registered")
            && stdout.contains("(interrupted: run apply again to finish)"),
        "{stdout}"
    );
    assert!(
        dir.path()
            .join(".iotplan/journal/a1KillFleet.json")
            .exists()
    );

    let output = iotplan(
        &env,
        dir.path(),
        &["apply", "m", "--auto-approve", "--secrets-out", "s.json"],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains(&format!("a1KillFleet: {FLEET_SIZE} registered")),
        "{}",
        text(&output.stdout)
    );
    assert_converged(&env, dir.path(), FLEET_SIZE, "ctrl-c").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registrations_survive_a_fifth_of_calls_failing_and_tight_quotas() {
    let env = TestEnv::start(Config {
        fail_rate: 0.2,
        // A fifth of the documented quotas: the client's pacer meets throttling answers too.
        qps_scale: 0.2,
        apply_delay: Duration::from_millis(200),
        ..Config::default()
    })
    .await
    .with_products(&["a1KillFleet"]);
    let manifest = FLEET
        .replace("to: 1300", "to: 2460")
        .replace("to: 100", "to: 40")
        .replace("    enabled: false\n", "");
    let dir = repo(&[("m/fleet.yaml", &manifest)]);
    let output = iotplan(
        &env,
        dir.path(),
        &["apply", "m", "--auto-approve", "--secrets-out", "s.json"],
    )
    .await;
    let log = env.running.emulator.requests();
    let failed = log.iter().filter(|r| r.status == 503).count();
    assert!(
        failed > 10,
        "only {failed} injected failures of {}: {}",
        log.len(),
        text(&output.stderr)
    );
    // A call that failed all its tries leaves work undone and is reported (exit 1); re-runs under
    // the same faults finish it, nothing doubled.
    let mut code = output.status.code();
    let mut reruns = 0;
    while code != Some(0) {
        reruns += 1;
        assert!(
            reruns <= 3,
            "no convergence after 3 re-runs: {}",
            text(&output.stdout)
        );
        let rerun = iotplan(
            &env,
            dir.path(),
            &["apply", "m", "--auto-approve", "--secrets-out", "s.json"],
        )
        .await;
        code = rerun.status.code();
    }
    // Faults end before the check, so that it reads what is there.
    env.running.emulator.set_fail_rate(0.0);
    assert_converged(&env, dir.path(), 2_500, "20 % faults").await;
}

async fn taken_names_env(check: &[&str], create: &[&str]) -> TestEnv {
    let env = TestEnv::fast().await.with_products(&["a1KillFleet"]);
    env.running.emulator.with_store(|store| {
        store
            .fail_check
            .extend(check.iter().map(|n| (*n).to_owned()));
        store
            .fail_create
            .extend(create.iter().map(|n| (*n).to_owned()));
    });
    env
}

const SMALL: &str = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1KillFleet\ndevices:\n  - name: unit-{n:05}\n    range: {from: 1, to: 20}\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_failed_names_every_refused_device_and_registers_nothing_unless_asked() {
    let env = taken_names_env(&["unit-00003", "unit-00017"], &[]).await;
    let dir = repo(&[("m/fleet.yaml", SMALL)]);
    let output = iotplan(
        &env,
        dir.path(),
        &["apply", "m", "--auto-approve", "--secrets-out", "s.json"],
    )
    .await;
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    for name in ["unit-00003", "unit-00017"] {
        assert!(
            stdout.contains(&format!(
                "failed: {name} (check names): device name already exists"
            )),
            "{stdout}"
        );
    }
    assert!(stdout.contains("a1KillFleet: 0 registered"), "{stdout}");
    assert!(
        stdout.contains("--register-valid-names"),
        "the report says how to register the rest: {stdout}"
    );
    let on_platform = env
        .running
        .emulator
        .with_store(|s| s.devices.get("a1KillFleet").map_or(0, |d| d.by_name.len()));
    assert_eq!(on_platform, 0, "nothing of the chunk was registered");

    let output = iotplan(
        &env,
        dir.path(),
        &[
            "apply",
            "m",
            "--auto-approve",
            "--secrets-out",
            "s.json",
            "--register-valid-names",
        ],
    )
    .await;
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "the refused names still fail: {stdout}"
    );
    assert!(stdout.contains("a1KillFleet: 18 registered"), "{stdout}");
    let on_platform = env
        .running
        .emulator
        .with_store(|s| s.devices.get("a1KillFleet").map_or(0, |d| d.by_name.len()));
    assert_eq!(on_platform, 18);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_failed_reports_what_was_and_was_not_created() {
    let env = taken_names_env(&[], &["unit-00005"]).await;
    let dir = repo(&[("m/fleet.yaml", SMALL)]);
    let output = iotplan(
        &env,
        dir.path(),
        &["apply", "m", "--auto-approve", "--secrets-out", "s.json"],
    )
    .await;
    let stdout = text(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("a1KillFleet: 19 registered"), "{stdout}");
    assert!(stdout.contains("failed: unit-00005 (create)"), "{stdout}");
    let secrets: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("s.json")).expect("secrets"))
            .expect("json");
    assert_eq!(secrets["devices"].as_array().map(Vec::len), Some(19));
    // Once the platform lets it through, a re-run registers just that one.
    env.running.emulator.with_store(|s| s.fail_create.clear());
    let output = iotplan(
        &env,
        dir.path(),
        &["apply", "m", "--auto-approve", "--secrets-out", "s.json"],
    )
    .await;
    assert!(
        text(&output.stdout).contains("a1KillFleet: 1 registered"),
        "{}",
        text(&output.stdout)
    );
    assert_converged(&env, dir.path(), 20, "create failed").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_of_existing_devices_are_fetched_into_the_file() {
    let env = TestEnv::fast().await.with_products(&["a1KillFleet"]);
    let dir = repo(&[("m/fleet.yaml", SMALL)]);
    let output = iotplan(&env, dir.path(), &["apply", "m", "--auto-approve"]).await;
    assert!(text(&output.stdout).contains("fetch them any time with `iotplan secrets`"));

    let output = iotplan(
        &env,
        dir.path(),
        &[
            "secrets",
            "--product",
            "a1KillFleet",
            "--devices",
            "unit-00001,unit-00002",
            "--out",
            "s.json",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    let read = |dir: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(dir.join("s.json")).expect("secrets")).expect("json")
    };
    assert_eq!(
        read(dir.path())["devices"].as_array().map(Vec::len),
        Some(2)
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.path().join("s.json"))
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let output = iotplan(
        &env,
        dir.path(),
        &[
            "secrets",
            "--product",
            "a1KillFleet",
            "--devices",
            "unit-00003,no-such-device",
            "--out",
            "s.json",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(1));
    assert!(text(&output.stderr).contains("1 device(s) not found in a1KillFleet: no-such-device"));
    assert_eq!(
        read(dir.path())["devices"].as_array().map(Vec::len),
        Some(3),
        "merged, not replaced"
    );

    let output = iotplan(
        &env,
        dir.path(),
        &[
            "secrets",
            "--product",
            "a1KillFleet",
            "--all",
            "--out",
            "s.json",
        ],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert!(
        !text(&output.stderr).contains(
            &read(dir.path())["devices"][0]["device_secret"]
                .as_str()
                .expect("s")
                .to_owned()
        )
    );
    assert_converged(&env, dir.path(), 20, "secrets --all").await;
}

/// Ctrl-C while a chunk's new devices are being tagged stops between calls, not after every
/// tag: the report says interrupted, and a re-run plans and applies the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_tagging_stops_between_calls() {
    let env = TestEnv::start(Config {
        qps_scale: 0.0,
        latency: Duration::from_millis(20),
        apply_delay: Duration::from_millis(100),
        ..Config::default()
    })
    .await
    .with_products(&["a1KillFleet"]);
    let dir = repo(&[("m/fleet.yaml", FLEET)]);
    let child = spawn_apply(&env, dir.path());
    wait_for(&env, "the tagging", |log| count(log, "SaveDeviceProp") > 0).await;
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(interrupted.success());
    let output = child.wait_with_output().expect("reaped");
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("(interrupted: run apply again to finish)"),
        "{stdout}"
    );
    let tagged = count(&env.running.emulator.requests(), "SaveDeviceProp");
    assert!(
        tagged < 100,
        "the stop came between calls: {tagged} of 100 tagged"
    );
    let output = iotplan(
        &env,
        dir.path(),
        &["apply", "m", "--auto-approve", "--secrets-out", "s.json"],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stderr));
    assert_converged(&env, dir.path(), FLEET_SIZE, "ctrl-c during tagging").await;
}
