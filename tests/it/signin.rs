//! Signing in as production pipelines do, through the binary against the emulator's STS, test
//! OIDC issuer, instance metadata service and credentials URI: every provider and profile mode,
//! the chain's order, broken set-ups with their messages, refresh during a long apply, and
//! credentials lost mid-apply (stopped, resumed, nothing lost or doubled).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use iotplan::emulator::sts::{self, StsConfig};
use iotplan::emulator::{Config, DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, LoggedRequest};

use crate::support::{TestEnv, closed_port, now_ms, repo, text};

const PRODUCT: &str = "a1SignInFleet";
const MANIFEST: &str = "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: a1SignInFleet\ndevices:\n  - name: door-01\n";

fn role() -> String {
    StsConfig::role_arn("iotplan-deployer")
}

/// A folder with the manifest and an empty home.
fn workspace() -> tempfile::TempDir {
    let dir = repo(&[("m/fleet.yaml", MANIFEST)]);
    std::fs::create_dir_all(dir.path().join("home")).expect("home");
    dir
}

fn home(dir: &Path) -> PathBuf {
    dir.join("home")
}

/// A token of the emulator's test issuer in `dir/token`.
fn token_file(
    env: &TestEnv,
    dir: &Path,
    subject: &str,
    lifetime: Duration,
    age_ms: i64,
) -> PathBuf {
    let token = sts::issue_token(
        &env.running.emulator.config().sts.oidc,
        subject,
        "sts.aliyuncs.com",
        lifetime,
        now_ms() - age_ms,
    )
    .expect("token");
    let path = dir.join("token");
    std::fs::write(&path, token).expect("write token");
    path
}

/// The binary with nothing of this machine's environment: HOME is `dir/home`, the metadata
/// service is off unless `vars` turn it on, and STS is the emulator.
fn command(
    endpoint: &str,
    dir: &Path,
    vars: &[(&str, String)],
    args: &[&str],
) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_iotplan"));
    command
        .env_clear()
        .current_dir(dir)
        .env("HOME", home(dir))
        .env("NO_COLOR", "1")
        .env("ALIBABA_CLOUD_REGION_ID", "cn-shanghai")
        .env("IOTPLAN_ENDPOINT", endpoint)
        .env("ALIBABA_CLOUD_STS_ENDPOINT", endpoint)
        .env("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
        .stdin(std::process::Stdio::null())
        .args(args);
    for (key, value) in vars {
        command.env(key, value);
    }
    command
}

/// Runs [`command`] to its end.
async fn signin(env: &TestEnv, dir: &Path, vars: &[(&str, String)], args: &[&str]) -> Output {
    let mut command = command(&env.running.endpoint(), dir, vars, args);
    tokio::task::spawn_blocking(move || command.output().expect("runs"))
        .await
        .expect("joined")
}

fn count(log: &[LoggedRequest], action: &str) -> usize {
    log.iter().filter(|r| r.action == action).count()
}

async fn fleet_env(config: Config) -> TestEnv {
    TestEnv::start(config).await.with_products(&[PRODUCT])
}

fn fast() -> Config {
    Config {
        qps_scale: 0.0,
        ..Config::default()
    }
}

fn write_profiles(dir: &Path, profiles: &str) {
    let folder = home(dir).join(".aliyun");
    std::fs::create_dir_all(&folder).expect("dir");
    std::fs::write(folder.join("config.json"), profiles).expect("write");
}

fn write_ini(dir: &Path, ini: &str) {
    let folder = home(dir).join(".alibabacloud");
    std::fs::create_dir_all(&folder).expect("dir");
    std::fs::write(folder.join("credentials.ini"), ini).expect("write");
}

/// A plan that worked, signed in through `source` with temporary credentials of the emulator.
fn assert_signed_in(output: &Output, source: &str, env: &TestEnv, sign_in_action: &str) {
    let stderr = text(&output.stderr);
    assert!(
        output.status.success(),
        "{source}: {stderr}{}",
        text(&output.stdout)
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("credentials") && l.contains("source="))
        .unwrap_or_else(|| panic!("{source}: no credentials line in\n{stderr}"));
    assert!(line.contains(source), "{source}: {line}");
    assert!(line.contains("expires=\"20"), "{source}: {line}");
    let log = env.running.emulator.requests();
    assert!(count(&log, sign_in_action) >= 1, "{source}: {log:?}");
    // Only BatchGetDeviceState's refusal of a name that does not exist yet (door-01) is expected.
    assert!(
        log.iter()
            .all(|r| r.code.is_none() || r.action == "BatchGetDeviceState"),
        "{source}: refused calls {log:?}"
    );
    env.running.emulator.clear_requests();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_provider_and_profile_mode_signs_in() {
    let env = fleet_env(fast()).await;
    let endpoint = env.running.endpoint();
    let dir = workspace();
    let token = token_file(
        &env,
        dir.path(),
        "repo:org/fleet:ref:main",
        Duration::from_mins(10),
        0,
    );
    let token = token.display().to_string();
    let plan = ["plan", "m", "-v"];

    // OIDC from the environment.
    let oidc_vars = [
        ("ALIBABA_CLOUD_ROLE_ARN", role()),
        (
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
            env.running.emulator.config().sts.provider_arn(),
        ),
        ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", token.clone()),
    ];
    let output = signin(&env, dir.path(), &oidc_vars, &plan).await;
    assert_signed_in(
        &output,
        "OIDC from the environment",
        &env,
        "AssumeRoleWithOIDC",
    );

    // GitHub Actions: the job's own token request, no token file.
    let github = [
        ("ALIBABA_CLOUD_ROLE_ARN", role()),
        (
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
            env.running.emulator.config().sts.provider_arn(),
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{endpoint}/_emulator/oidc/token?ttl=300"),
        ),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", "job-bearer".to_owned()),
    ];
    let output = signin(&env, dir.path(), &github, &plan).await;
    assert!(
        text(&output.stderr).contains("GitHub Actions job"),
        "{}",
        text(&output.stderr)
    );
    assert_signed_in(&output, "OIDC from the environment", &env, "OidcToken");

    // Every aliyun CLI profile mode that fetches credentials.
    write_profiles(
        dir.path(),
        &serde_json::json!({"current": "role", "profiles": [
            {"name": "role", "mode": "RamRoleArn", "access_key_id": DEMO_ACCESS_KEY_ID,
             "access_key_secret": DEMO_ACCESS_KEY_SECRET, "ram_role_arn": role(),
             "ram_session_name": "laptop", "expired_seconds": 900, "region_id": "cn-shanghai"},
            {"name": "chained", "mode": "ChainableRamRoleArn", "source_profile": "role",
             "ram_role_arn": role()},
            {"name": "ecs", "mode": "EcsRamRole", "ram_role_name": "iotplan-ecs"},
            {"name": "oidc", "mode": "OIDC", "ram_role_arn": role(),
             "oidc_provider_arn": env.running.emulator.config().sts.provider_arn(), "oidc_token_file": token},
            {"name": "uri", "mode": "CredentialsURI", "credentials_uri": format!("{endpoint}/_emulator/credentials")}
        ]})
        .to_string(),
    );
    let metadata = ("IOTPLAN_ECS_METADATA_ENDPOINT", endpoint.clone());
    for (profile, action) in [
        ("role", "AssumeRole"),
        ("chained", "AssumeRole"),
        ("ecs", "MetadataCredentials"),
        ("oidc", "AssumeRoleWithOIDC"),
        ("uri", "CredentialsUri"),
    ] {
        let output = signin(
            &env,
            dir.path(),
            std::slice::from_ref(&metadata),
            &["plan", "m", "-v", "--profile", profile],
        )
        .await;
        assert_signed_in(
            &output,
            &format!("aliyun CLI profile `{profile}`"),
            &env,
            action,
        );
    }
    // The chained profile assumed a role with the role's own credentials: two AssumeRole calls.
    let output = signin(
        &env,
        dir.path(),
        &[],
        &["plan", "m", "--profile", "chained"],
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(count(&env.running.emulator.requests(), "AssumeRole"), 2);
    env.running.emulator.clear_requests();
    // The file's `current` is used in the chain.
    let output = signin(&env, dir.path(), &[], &plan).await;
    assert_signed_in(&output, "aliyun CLI profile `role`", &env, "AssumeRole");

    // credentials.ini, once the CLI file is out of the way.
    std::fs::remove_dir_all(home(dir.path()).join(".aliyun")).expect("remove");
    write_ini(
        dir.path(),
        &format!(
            "[default]\ntype = ram_role_arn\naccess_key_id = {DEMO_ACCESS_KEY_ID}\naccess_key_secret = {DEMO_ACCESS_KEY_SECRET}\nrole_arn = {}\n\n[box]\ntype = ecs_ram_role\nrole_name = iotplan-ecs\n",
            role()
        ),
    );
    let output = signin(&env, dir.path(), &[], &plan).await;
    assert_signed_in(&output, "section [default]", &env, "AssumeRole");
    let output = signin(
        &env,
        dir.path(),
        &[
            metadata.clone(),
            ("ALIBABA_CLOUD_PROFILE", "box".to_owned()),
        ],
        &plan,
    )
    .await;
    assert_signed_in(&output, "section [box]", &env, "MetadataCredentials");
    std::fs::remove_dir_all(home(dir.path()).join(".alibabacloud")).expect("remove");

    // Nothing configured: the metadata service (hardened: a session token first), then the URI.
    let ecs_on = [
        metadata.clone(),
        ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "false".to_owned()),
    ];
    let output = signin(&env, dir.path(), &ecs_on, &plan).await;
    assert_eq!(count(&env.running.emulator.requests(), "MetadataToken"), 1);
    assert_signed_in(
        &output,
        "the ECS instance metadata service",
        &env,
        "MetadataCredentials",
    );
    let uri = [(
        "ALIBABA_CLOUD_CREDENTIALS_URI",
        format!("{endpoint}/_emulator/credentials"),
    )];
    let output = signin(&env, dir.path(), &uri, &plan).await;
    assert_signed_in(&output, "the credentials URI", &env, "CredentialsUri");
    // Off ECS (nothing answers at the metadata address), the URI is next in the chain.
    let off_ecs = [
        (
            "IOTPLAN_ECS_METADATA_ENDPOINT",
            format!("http://127.0.0.1:{}", closed_port()),
        ),
        ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "false".to_owned()),
        uri[0].clone(),
    ];
    let output = signin(&env, dir.path(), &off_ecs, &plan).await;
    assert_signed_in(&output, "the credentials URI", &env, "CredentialsUri");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_source_of_the_chain_wins() {
    let env = fleet_env(fast()).await;
    let dir = workspace();
    let token = token_file(
        &env,
        dir.path(),
        "repo:org/fleet:ref:main",
        Duration::from_mins(10),
        0,
    );
    write_profiles(
        dir.path(),
        &serde_json::json!({"current": "role", "profiles": [
            {"name": "role", "mode": "RamRoleArn", "access_key_id": DEMO_ACCESS_KEY_ID,
             "access_key_secret": DEMO_ACCESS_KEY_SECRET, "ram_role_arn": role()}]})
        .to_string(),
    );
    let access_key = [
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", DEMO_ACCESS_KEY_ID.to_owned()),
        (
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
            DEMO_ACCESS_KEY_SECRET.to_owned(),
        ),
    ];
    let oidc = [
        ("ALIBABA_CLOUD_ROLE_ARN", role()),
        (
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
            env.running.emulator.config().sts.provider_arn(),
        ),
        ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", token.display().to_string()),
    ];
    let both: Vec<_> = access_key.iter().chain(oidc.iter()).cloned().collect();
    let output = signin(&env, dir.path(), &both, &["plan", "m", "-v"]).await;
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stderr).contains("source=the environment"),
        "{}",
        text(&output.stderr)
    );
    let log = env.running.emulator.requests();
    assert_eq!(
        count(&log, "AssumeRoleWithOIDC") + count(&log, "AssumeRole"),
        0
    );
    env.running.emulator.clear_requests();
    // OIDC comes before the profile file.
    let output = signin(&env, dir.path(), &oidc, &["plan", "m", "-v"]).await;
    assert_signed_in(
        &output,
        "OIDC from the environment",
        &env,
        "AssumeRoleWithOIDC",
    );
    // --profile picks a profile over the environment.
    let output = signin(
        &env,
        dir.path(),
        &both,
        &["plan", "m", "-v", "--profile", "role"],
    )
    .await;
    assert_signed_in(&output, "aliyun CLI profile `role`", &env, "AssumeRole");
}

/// A broken set-up: its name, its environment, and what the error must say.
type Case<'a> = (&'a str, Vec<(&'a str, String)>, Vec<&'a str>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_setups_say_what_to_fix() {
    let env = fleet_env(Config {
        sts: StsConfig {
            metadata_tokens: false,
            ..StsConfig::default()
        },
        ..fast()
    })
    .await;
    let endpoint = env.running.endpoint();
    let dir = workspace();
    let provider = env.running.emulator.config().sts.provider_arn();
    let fresh = token_file(
        &env,
        dir.path(),
        "repo:org/fleet:ref:main",
        Duration::from_mins(10),
        0,
    )
    .display()
    .to_string();
    let plan = ["plan", "m"];
    let cases: Vec<Case<'_>> = vec![
        (
            "partial OIDC",
            vec![("ALIBABA_CLOUD_ROLE_ARN", role())],
            vec!["ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE not set"],
        ),
        (
            "unknown role",
            vec![
                ("ALIBABA_CLOUD_ROLE_ARN", StsConfig::role_arn("nobody")),
                ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", provider.clone()),
                ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", fresh.clone()),
            ],
            vec!["EntityNotExist.Role", "check the role ARN"],
        ),
        (
            "wrong provider",
            vec![
                ("ALIBABA_CLOUD_ROLE_ARN", role()),
                (
                    "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
                    "acs:ram::1:oidc-provider/other".to_owned(),
                ),
                ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", fresh.clone()),
            ],
            vec!["AuthenticationFail.NoPermission", "OIDC provider ARN"],
        ),
        (
            "missing token file",
            vec![
                ("ALIBABA_CLOUD_ROLE_ARN", role()),
                ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", provider.clone()),
                (
                    "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
                    "/nonexistent/token".to_owned(),
                ),
            ],
            vec!["cannot read the OIDC token file /nonexistent/token"],
        ),
        (
            "session name",
            vec![
                ("ALIBABA_CLOUD_ROLE_ARN", role()),
                ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", provider.clone()),
                ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", fresh.clone()),
                (
                    "ALIBABA_CLOUD_ROLE_SESSION_NAME",
                    "no spaces allowed".to_owned(),
                ),
            ],
            vec![
                "InvalidParameter.RoleSessionName",
                "ALIBABA_CLOUD_ROLE_SESSION_NAME",
            ],
        ),
        (
            "insecure STS",
            vec![
                ("ALIBABA_CLOUD_ROLE_ARN", role()),
                ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", provider.clone()),
                ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", fresh.clone()),
                (
                    "ALIBABA_CLOUD_STS_ENDPOINT",
                    "http://sts.example.com".to_owned(),
                ),
            ],
            vec!["plain HTTP is allowed only to this machine"],
        ),
        (
            "IMDSv1 refused",
            vec![
                ("IOTPLAN_ECS_METADATA_ENDPOINT", endpoint.clone()),
                ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "false".to_owned()),
                ("ALIBABA_CLOUD_IMDSV1_DISABLED", "true".to_owned()),
            ],
            vec![
                "refused a session token (HTTP 403)",
                "ALIBABA_CLOUD_IMDSV1_DISABLED=true",
            ],
        ),
        (
            "nothing anywhere",
            vec![
                (
                    "IOTPLAN_ECS_METADATA_ENDPOINT",
                    format!("http://127.0.0.1:{}", closed_port()),
                ),
                ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "false".to_owned()),
            ],
            vec![
                "ALIBABA_CLOUD_ACCESS_KEY_ID is not set",
                "ALIBABA_CLOUD_ROLE_ARN is not set",
                "config.json does not exist",
                "credentials.ini does not exist",
                "connection refused",
                "not an ECS instance?",
                "ALIBABA_CLOUD_CREDENTIALS_URI is not set",
            ],
        ),
    ];
    for (case, vars, says) in cases {
        let output = signin(&env, dir.path(), &vars, &plan).await;
        assert_eq!(output.status.code(), Some(1), "{case}");
        let stderr = text(&output.stderr);
        for needle in says {
            assert!(
                stderr.contains(needle),
                "{case}: `{needle}` not in\n{stderr}"
            );
        }
        assert!(!stderr.contains("panicked"), "{case}: {stderr}");
    }
    // An expired OIDC token.
    let stale = token_file(
        &env,
        dir.path(),
        "repo:org/fleet:x",
        Duration::from_mins(1),
        3_600_000,
    );
    let output = signin(
        &env,
        dir.path(),
        &[
            ("ALIBABA_CLOUD_ROLE_ARN", role()),
            ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", provider.clone()),
            ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", stale.display().to_string()),
        ],
        &plan,
    )
    .await;
    assert!(
        text(&output.stderr).contains("AuthenticationFail.OIDCToken.Expired"),
        "{}",
        text(&output.stderr)
    );
    // Without hardened mode, IMDSv1 is the fallback.
    env.running.emulator.clear_requests();
    let output = signin(
        &env,
        dir.path(),
        &[
            ("IOTPLAN_ECS_METADATA_ENDPOINT", endpoint.clone()),
            ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "false".to_owned()),
        ],
        &["plan", "m", "-v"],
    )
    .await;
    assert_signed_in(
        &output,
        "the ECS instance metadata service",
        &env,
        "MetadataCredentials",
    );
    // Profile modes iotplan cannot serve say what to do instead, and the file is left alone.
    let profiles =
        serde_json::json!({"current": "sso", "profiles": [{"name": "sso", "mode": "CloudSSO"}]})
            .to_string();
    write_profiles(dir.path(), &profiles);
    let output = signin(&env, dir.path(), &[], &plan).await;
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("mode CloudSSO") && stderr.contains("RamRoleArn, OIDC or StsToken"),
        "{stderr}"
    );
    let kept = std::fs::read_to_string(home(dir.path()).join(".aliyun/config.json")).expect("read");
    assert_eq!(kept, profiles);
}

/// A fleet big enough for an apply that outlives several short-lived credentials.
fn big_fleet(devices: usize) -> String {
    format!(
        "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: {PRODUCT}\ndevices:\n  - name: unit-{{n:04}}\n    range: {{from: 1, to: {devices}}}\n"
    )
}

fn short_lived(seconds: u64) -> Config {
    Config {
        qps_scale: 0.0,
        apply_delay: Duration::from_millis(1500),
        sts: StsConfig {
            max_lifetime: Some(Duration::from_secs(seconds)),
            ..StsConfig::default()
        },
        ..Config::default()
    }
}

fn oidc_env(env: &TestEnv, token: &Path) -> Vec<(&'static str, String)> {
    vec![
        ("ALIBABA_CLOUD_ROLE_ARN", role()),
        (
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
            env.running.emulator.config().sts.provider_arn(),
        ),
        ("ALIBABA_CLOUD_OIDC_TOKEN_FILE", token.display().to_string()),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_lived_credentials_are_renewed_during_a_long_apply() {
    let env = fleet_env(short_lived(4)).await;
    let dir = workspace();
    std::fs::write(dir.path().join("m/fleet.yaml"), big_fleet(1600)).expect("write");
    let token = token_file(
        &env,
        dir.path(),
        "repo:org/fleet:ref:main",
        Duration::from_hours(1),
        0,
    );
    let started = std::time::Instant::now();
    let output = signin(
        &env,
        dir.path(),
        &oidc_env(&env, &token),
        &[
            "apply",
            "m",
            "--auto-approve",
            "--format",
            "json",
            "--journal-dir",
            "journal",
        ],
    )
    .await;
    let elapsed = started.elapsed();
    assert!(
        output.status.success(),
        "{}{}",
        text(&output.stderr),
        text(&output.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(report["products"][0]["registered"], 1600);
    assert_eq!(
        report["signed_in"]["source"],
        "OIDC from the environment (ALIBABA_CLOUD_ROLE_ARN)"
    );
    assert!(
        report["signed_in"]["expires"]
            .as_str()
            .is_some_and(|e| e.starts_with("20"))
    );
    let log = env.running.emulator.requests();
    // The apply outlived several 4-second credentials and was never refused.
    assert!(elapsed > Duration::from_secs(6), "{elapsed:?}");
    assert!(
        count(&log, "AssumeRoleWithOIDC") >= 3,
        "{}",
        count(&log, "AssumeRoleWithOIDC")
    );
    assert!(
        log.iter().all(|r| r.code.is_none()),
        "{:?}",
        log.iter().filter(|r| r.code.is_some()).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_lost_mid_apply_stop_it_and_the_next_run_finishes_it() {
    let env = fleet_env(short_lived(3)).await;
    let dir = workspace();
    std::fs::write(dir.path().join("m/fleet.yaml"), big_fleet(1600)).expect("write");
    let token = token_file(
        &env,
        dir.path(),
        "repo:org/fleet:ref:main",
        Duration::from_hours(1),
        0,
    );
    let vars = oidc_env(&env, &token);
    let apply = [
        "apply",
        "m",
        "--auto-approve",
        "--journal-dir",
        "journal",
        "--secrets-out",
        "secrets.json",
    ];
    let mut apply_command = command(&env.running.endpoint(), dir.path(), &vars, &apply);
    let running = std::thread::spawn(move || apply_command.output().expect("runs"));
    // Once registrations are under way, the CI system stops providing tokens.
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    while count(
        &env.running.emulator.requests(),
        "BatchRegisterDeviceWithApplyId",
    ) == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "no registration started"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    std::fs::remove_file(&token).expect("remove token");
    let output = running.join().expect("joined");
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}{}",
        text(&output.stderr)
    );
    assert!(
        stdout.contains("Apply stopped: the credentials stopped working"),
        "{stdout}"
    );
    assert!(
        stdout.contains("cannot read the OIDC token file"),
        "{stdout}"
    );
    assert!(stdout.contains("run the same apply again"), "{stdout}");
    let registered_first = env
        .running
        .emulator
        .with_store(|s| s.devices.get(PRODUCT).map_or(0, |d| d.by_name.len()));
    assert!(
        registered_first < 1600,
        "the stop came too late to test anything: {registered_first}"
    );

    // Tokens again: the next run resumes the journal and registers the rest, once each.
    token_file(
        &env,
        dir.path(),
        "repo:org/fleet:ref:main",
        Duration::from_hours(1),
        0,
    );
    let output = signin(&env, dir.path(), &vars, &apply).await;
    assert!(
        output.status.success(),
        "{}{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    let devices = env
        .running
        .emulator
        .with_store(|s| s.devices.get(PRODUCT).map_or(0, |d| d.by_name.len()));
    assert_eq!(devices, 1600, "0 lost, 0 doubled");
    let secrets = crate::support::written_secrets(&dir.path().join("secrets.json"));
    assert_eq!(
        secrets.len(),
        1600,
        "every secret written once: {}",
        text(&output.stdout)
    );
    let output = signin(
        &env,
        dir.path(),
        &vars,
        &["plan", "m", "--detailed-exitcode"],
    )
    .await;
    assert_eq!(output.status.code(), Some(0), "{}", text(&output.stdout));
}

/// The bearer token a GitHub job would hold.
const GITHUB_BEARER: &str = "github-bearer-secret-77";

/// One run: its environment and its arguments.
type Run<'a> = (Vec<(&'a str, String)>, Vec<&'a str>);

/// Every file under `dir`, as text.
fn files_under(dir: &Path) -> String {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.path()).unwrap_or_default()).into_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_sign_in_secret_reaches_output_logs_or_files() {
    let env = fleet_env(short_lived(2)).await;
    let endpoint = env.running.endpoint();
    let dir = workspace();
    std::fs::write(dir.path().join("m/fleet.yaml"), big_fleet(300)).expect("write");
    let token = token_file(
        &env,
        dir.path(),
        "repo:org/fleet:ref:main",
        Duration::from_hours(1),
        0,
    );
    let jwt = std::fs::read_to_string(&token).expect("read");
    write_profiles(
        dir.path(),
        &serde_json::json!({"current": "role", "profiles": [
            {"name": "role", "mode": "RamRoleArn", "access_key_id": DEMO_ACCESS_KEY_ID,
             "access_key_secret": DEMO_ACCESS_KEY_SECRET, "ram_role_arn": role()},
            {"name": "bad-role", "mode": "RamRoleArn", "access_key_id": DEMO_ACCESS_KEY_ID,
             "access_key_secret": DEMO_ACCESS_KEY_SECRET, "ram_role_arn": StsConfig::role_arn("nobody")}]})
        .to_string(),
    );
    let metadata = [
        ("IOTPLAN_ECS_METADATA_ENDPOINT", endpoint.clone()),
        ("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "false".to_owned()),
        ("ALIBABA_CLOUD_CLI_PROFILE_DISABLED", "true".to_owned()),
    ];
    let github = vec![
        ("ALIBABA_CLOUD_ROLE_ARN", role()),
        (
            "ALIBABA_CLOUD_OIDC_PROVIDER_ARN",
            env.running.emulator.config().sts.provider_arn(),
        ),
        (
            "ACTIONS_ID_TOKEN_REQUEST_URL",
            format!("{endpoint}/_emulator/oidc/token"),
        ),
        ("ACTIONS_ID_TOKEN_REQUEST_TOKEN", GITHUB_BEARER.to_owned()),
    ];
    let closed = format!("http://127.0.0.1:{}", closed_port());
    let runs: Vec<Run<'_>> = vec![
        (
            oidc_env(&env, &token),
            vec!["plan", "m", "-vv", "--out", "plan.json"],
        ),
        (
            oidc_env(&env, &token),
            vec![
                "apply",
                "--plan",
                "plan.json",
                "-vv",
                "--format",
                "json",
                "--journal-dir",
                "journal",
                "--secrets-out",
                "out/secrets.json",
            ],
        ),
        (Vec::new(), vec!["plan", "m", "-vv", "--profile", "role"]),
        (
            Vec::new(),
            vec!["plan", "m", "-vv", "--profile", "bad-role"],
        ),
        (
            metadata.to_vec(),
            vec!["plan", "m", "-vv", "--format", "json"],
        ),
        (github.clone(), vec!["plan", "m", "-vv"]),
        (github, vec!["plan", "m", "-vv", "--endpoint", &closed]),
    ];
    let mut printed = String::new();
    for (vars, args) in &runs {
        let output = signin(&env, dir.path(), vars, args).await;
        printed.push_str(&text(&output.stdout));
        printed.push_str(&text(&output.stderr));
    }
    assert!(
        printed.contains("credentials renewed") || printed.contains("AssumeRoleWithOIDC"),
        "the runs signed in: {printed}"
    );
    // Files iotplan wrote, except the DeviceSecrets file (its purpose) and the inputs.
    let written = files_under(&dir.path().join("journal"))
        + &std::fs::read_to_string(dir.path().join("plan.json")).expect("plan");
    let issued = env.running.emulator.issued_secrets();
    assert!(issued.len() > 6, "{}", issued.len());
    for secret in issued.iter().map(|s| s.expose().to_owned()).chain([
        jwt.trim().to_owned(),
        GITHUB_BEARER.to_owned(),
        DEMO_ACCESS_KEY_SECRET.to_owned(),
    ]) {
        assert!(!printed.contains(&secret), "a secret was printed: {secret}");
        assert!(!written.contains(&secret), "a secret was written: {secret}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_refused_early_are_renewed_once_and_the_call_repeated() {
    use iotplan::platform::credentials::{Chain, CredentialSource, Paths, Request, resolve};
    use iotplan::platform::{Client, ClientConfig};
    use iotplan::wire::ops::QueryProduct;
    let env = fleet_env(fast()).await;
    let dir = workspace();
    let token = token_file(
        &env,
        dir.path(),
        "repo:org/fleet:ref:main",
        Duration::from_hours(1),
        0,
    );
    let endpoint = env.running.endpoint();
    let vars = oidc_env(&env, &token);
    let lookup = |key: &str| {
        vars.iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.clone())
            .or_else(|| (key == "ALIBABA_CLOUD_STS_ENDPOINT").then(|| endpoint.clone()))
    };
    let chain: Chain = resolve(&Request::default(), &lookup, &Paths::default())
        .expect("resolves")
        .chain;
    let source = std::sync::Arc::new(CredentialSource::new(chain));
    let client = Client::new(ClientConfig::with_source(&endpoint, source)).expect("client");
    let query = QueryProduct {
        product_key: PRODUCT.to_owned(),
    };
    client.call(&query).await.expect("first call");
    let first = client.signed_in().expect("signed in");
    assert!(
        first.source.starts_with("OIDC from the environment"),
        "{first:?}"
    );
    // The keys are revoked behind the client's back, long before their expiry.
    env.running.emulator.revoke_credentials();
    client.call(&query).await.expect("renewed and repeated");
    let log = env.running.emulator.requests();
    let codes: Vec<(&str, Option<&str>)> = log
        .iter()
        .map(|r| (r.action.as_str(), r.code.as_deref()))
        .collect();
    assert_eq!(
        codes,
        vec![
            ("AssumeRoleWithOIDC", None),
            ("QueryProduct", None),
            ("QueryProduct", Some("InvalidSecurityToken.Expired")),
            ("AssumeRoleWithOIDC", None),
            ("QueryProduct", None),
        ]
    );
    // With the token file gone, the refusal cannot be cured: the error says why, once.
    env.running.emulator.revoke_credentials();
    std::fs::remove_file(&token).expect("remove");
    let error = client.call(&query).await.expect_err("no renewal");
    let text = error.to_string();
    assert!(error.is_credentials(), "{text}");
    assert!(text.contains("cannot read the OIDC token file"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_caller_the_role_does_not_trust_is_told_what_to_allow() {
    let env = fleet_env(Config {
        sts: StsConfig {
            denied_callers: vec![DEMO_ACCESS_KEY_ID.to_owned()],
            ..StsConfig::default()
        },
        ..fast()
    })
    .await;
    let dir = workspace();
    write_profiles(
        dir.path(),
        &serde_json::json!({"current": "role", "profiles": [
            {"name": "role", "mode": "RamRoleArn", "access_key_id": DEMO_ACCESS_KEY_ID,
             "access_key_secret": DEMO_ACCESS_KEY_SECRET, "ram_role_arn": role()}]})
        .to_string(),
    );
    let output = signin(&env, dir.path(), &[], &["plan", "m"]).await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains("STS AssumeRole refused: NoPermission")
            && stderr.contains("allow it sts:AssumeRole"),
        "{stderr}"
    );
}
