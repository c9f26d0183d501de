//! The secret-leak scan: every command, in every output format, at the highest verbosity (`-vv`
//! and `RUST_LOG=trace`), with a known AccessKey secret, STS token and the DeviceSecrets the
//! emulator holds. None may appear in stdout, stderr, logs, plan files, journals or exported
//! manifests; secrets files (whose purpose is to hold DeviceSecrets) are mode 0600.

use std::path::Path;
use std::process::Output;

use iotplan::emulator::{AccessKey, Config};
use iotplan::secret::Secret;

use crate::support::{TestEnv, closed_port, hang_up_server, now_ms, repo, text};

const KEY_ID: &str = "LEAKSCAN-ID";
const KEY_SECRET: &str = "LEAKSCAN-secret-9f8e7d6c5b4a";
const STS_TOKEN: &str = "LEAKSCAN-sts-token-1a2b3c4d5e6f";
const LIGHTS: &str = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1LeakLights\nprune: true\ndevices:\n  - name: lamp-{n:03}\n    range: {from: 1, to: 30}\n    nickname: Lamp_{n}\n    tags: {site: hq}\n  - name: spare-lamp\n    enabled: false\n";

async fn run(env: &TestEnv, dir: &Path, verbosity: &str, args: &[&str]) -> Output {
    let endpoint = env.running.endpoint();
    let dir = dir.to_owned();
    let mut full: Vec<String> = Vec::new();
    let rust_log = if verbosity == "trace" {
        Some("trace")
    } else {
        full.push(verbosity.to_owned());
        None
    };
    full.extend(args.iter().map(|a| (*a).to_owned()));
    tokio::task::spawn_blocking(move || {
        let mut command = assert_cmd::Command::cargo_bin("iotplan").expect("binary");
        command
            .current_dir(dir)
            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", KEY_SECRET)
            .env("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)
            .env("ALIBABA_CLOUD_REGION_ID", "cn-shanghai")
            .env("IOTPLAN_ENDPOINT", endpoint)
            .env_remove("RUST_LOG")
            .args(full);
        if let Some(level) = rust_log {
            command.env("RUST_LOG", level);
        }
        command.output().expect("runs")
    })
    .await
    .expect("joined")
}

fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            (
                e.path().display().to_string(),
                std::fs::read(e.path()).expect("readable"),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_reaches_output_logs_or_files() {
    let env = TestEnv::start(Config {
        qps_scale: 0.0,
        keys: vec![AccessKey {
            id: KEY_ID.to_owned(),
            secret: Secret::new(KEY_SECRET),
            security_token: Some(Secret::new(STS_TOKEN)),
            expires_ms: None,
        }],
        ..Config::default()
    })
    .await
    .with_products(&["a1LeakLights"]);
    env.running.emulator.with_store(|store| {
        store.create_device("a1LeakLights", "old-lamp-99", None, now_ms());
    });
    let dir = repo(&[("m/lights.yaml", LIGHTS)]);
    let mut transcript = String::new();
    let mut commands = 0;
    for verbosity in ["-vv", "trace"] {
        let scenario: Vec<Vec<&str>> = vec![
            vec!["validate", "m", "--format", "json"],
            vec!["plan", "m", "--format", "text", "--full"],
            vec!["plan", "m", "--format", "json"],
            vec!["plan", "m", "--format", "markdown", "--out", "plan.json"],
            vec![
                "apply",
                "--plan",
                "plan.json",
                "--max-delete",
                "100%",
                "--secrets-out",
                "out/s.json",
                "--format",
                "json",
            ],
            vec!["plan", "m", "--detailed-exitcode"],
            vec![
                "apply",
                "m",
                "--auto-approve",
                "--format",
                "text",
                "--secrets-out",
                "out/s.json",
            ],
            vec![
                "secrets",
                "--product",
                "a1LeakLights",
                "--all",
                "--out",
                "out/all.json",
            ],
            vec![
                "secrets",
                "--product",
                "a1LeakLights",
                "--devices",
                "lamp-001,lamp-002",
                "--out",
                "out/two.json",
            ],
            vec!["devices", "--product", "a1LeakLights"],
            vec!["export", "--product", "a1LeakLights", "--format", "text"],
            vec![
                "export",
                "--product",
                "a1LeakLights",
                "--out",
                "exported/",
                "--format",
                "json",
                "--force",
            ],
        ];
        for args in scenario {
            let output = run(&env, dir.path(), verbosity, &args).await;
            assert!(
                output.status.code().is_some_and(|c| c == 0 || c == 2),
                "{verbosity} {args:?}: {}",
                text(&output.stderr)
            );
            transcript.push_str(&text(&output.stdout));
            transcript.push_str(&text(&output.stderr));
            commands += 1;
        }
        // The same tree after a re-plan with a changed manifest, so a plan file with changes and
        // the apply journal are on disk too.
        std::fs::write(
            dir.path().join("m/lights.yaml"),
            LIGHTS.replace("to: 30", "to: 31"),
        )
        .expect("edit");
        let output = run(
            &env,
            dir.path(),
            verbosity,
            &["plan", "m", "--out", "plan.json"],
        )
        .await;
        transcript.push_str(&text(&output.stderr));
        std::fs::write(dir.path().join("m/lights.yaml"), LIGHTS).expect("restore");
    }
    // A refused call (wrong secret) at full verbosity.
    let wrong = tokio::task::spawn_blocking({
        let endpoint = env.running.endpoint();
        let dir = dir.path().to_owned();
        move || {
            assert_cmd::Command::cargo_bin("iotplan")
                .expect("binary")
                .current_dir(dir)
                .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
                .env(
                    "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                    "LEAKSCAN-wrong-secret-0000",
                )
                .env("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)
                .env("ALIBABA_CLOUD_REGION_ID", "cn-shanghai")
                .env("IOTPLAN_ENDPOINT", endpoint)
                .env("RUST_LOG", "trace")
                .args(["plan", "m"])
                .output()
                .expect("runs")
        }
    })
    .await
    .expect("joined");
    assert_eq!(wrong.status.code(), Some(1));
    transcript.push_str(&text(&wrong.stderr));
    assert!(commands >= 24);
    // The scan is not vacuous: iotplan's call log and the HTTP stack's trace are in it.
    assert!(transcript.contains("request_id") && transcript.contains("connected to"));

    let device_secrets: Vec<String> = env.running.emulator.with_store(|store| {
        store.devices["a1LeakLights"]
            .by_name
            .values()
            .map(|d| d.secret.expose().to_owned())
            .collect()
    });
    assert_eq!(device_secrets.len(), 31, "30 lamps and the spare");
    let mut forbidden: Vec<&str> = vec![KEY_SECRET, STS_TOKEN, "LEAKSCAN-wrong-secret-0000"];
    forbidden.extend(device_secrets.iter().map(String::as_str));
    for secret in &forbidden {
        assert!(
            !transcript.contains(secret),
            "a secret ({}…) is in the output",
            &secret[..8]
        );
    }
    for (path, bytes) in files_under(dir.path()) {
        let content = String::from_utf8_lossy(&bytes);
        let is_secrets_file = path.contains("/out/");
        for secret in [KEY_SECRET, STS_TOKEN] {
            assert!(!content.contains(secret), "{path} holds a credential");
        }
        if is_secrets_file {
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt as _;
                let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
                assert_eq!(mode & 0o777, 0o600, "{path}");
            }
        } else {
            for secret in &device_secrets {
                assert!(
                    !content.contains(secret.as_str()),
                    "{path} holds a DeviceSecret"
                );
            }
        }
    }
    assert!(
        dir.path().join("out/all.json").exists()
            && dir.path().join("exported/a1LeakLights.yaml").exists()
    );
}

/// Calls that never reach a server: every command that calls the platform, at full verbosity,
/// against a port nothing listens on, a host that does not resolve, and a server that hangs up.
/// The errors must say why, and carry no part of the signed query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transport_failures_print_no_credential() {
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let hang_up = hang_up_server().await;
    let dir = repo(&[("m/lights.yaml", LIGHTS)]);
    let mut transcript = String::new();
    let mut causes = 0;
    for (endpoint, cause) in [
        (closed.as_str(), "connection refused"),
        ("http://iotplan-leakscan.invalid", "host not found (DNS)"),
        (hang_up.as_str(), "connection lost"),
    ] {
        for args in [
            vec!["plan", "m", "--format", "json"],
            vec!["apply", "m", "--auto-approve", "--format", "json"],
            vec!["devices", "--product", "a1LeakLights"],
            vec![
                "secrets",
                "--product",
                "a1LeakLights",
                "--all",
                "--out",
                "s.json",
            ],
            vec!["export", "--product", "a1LeakLights"],
        ] {
            for verbosity in ["-vv", "trace"] {
                let output = tokio::task::spawn_blocking({
                    let dir = dir.path().to_owned();
                    let args = args
                        .clone()
                        .into_iter()
                        .map(str::to_owned)
                        .collect::<Vec<_>>();
                    let endpoint = endpoint.to_owned();
                    let verbosity = verbosity.to_owned();
                    move || {
                        let mut command =
                            assert_cmd::Command::cargo_bin("iotplan").expect("binary");
                        command
                            .current_dir(dir)
                            .env("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
                            .env("ALIBABA_CLOUD_ACCESS_KEY_SECRET", KEY_SECRET)
                            .env("ALIBABA_CLOUD_SECURITY_TOKEN", STS_TOKEN)
                            .env("ALIBABA_CLOUD_REGION_ID", "cn-shanghai")
                            .env("IOTPLAN_ENDPOINT", endpoint)
                            .env("IOTPLAN_MAX_ATTEMPTS", "2")
                            .env_remove("RUST_LOG")
                            .args(args);
                        if verbosity == "trace" {
                            command.env("RUST_LOG", "trace");
                        } else {
                            command.arg(verbosity);
                        }
                        command.output().expect("runs")
                    }
                })
                .await
                .expect("joined");
                let all = format!("{}{}", text(&output.stdout), text(&output.stderr));
                assert_eq!(
                    output.status.code(),
                    Some(1),
                    "{args:?} at {endpoint}: {all}"
                );
                assert!(
                    all.contains(cause),
                    "{args:?} at {endpoint} says why: {all}"
                );
                causes += 1;
                transcript.push_str(&all);
            }
        }
    }
    assert_eq!(causes, 30);
    for needle in [
        KEY_SECRET,
        STS_TOKEN,
        "SecurityToken=",
        "Signature=",
        "AccessKeyId=",
    ] {
        assert!(
            !transcript.contains(needle),
            "`{}…` is in the output",
            &needle[..8]
        );
    }
}
