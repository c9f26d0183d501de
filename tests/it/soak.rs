//! Model-based soak: rounds of a random manifest change (add, remove, re-nickname,
//! enable/disable, tags, prune on/off) → plan → apply against the emulator with faults on
//! (failures, throttling, latency), sometimes killed mid-apply and re-run. After every round the
//! platform equals the model, no device was registered twice, and every registered device's
//! secret is in the secrets file.
//!
//! `IOTPLAN_SOAK_ROUNDS` (default 10) and `IOTPLAN_SOAK_SEED` (default fixed) set the run; CI runs
//! the default, README records a long run.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use iotplan::emulator::Config;

use crate::support::{TestEnv, demo_command, iotplan, text, written_secrets};

const PRODUCT: &str = "a1SoakFleet";

/// What a device should be, as the model holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Wanted {
    nickname: Option<String>,
    enabled: bool,
    /// `None`: tags not declared (left as they are); `Some`: exactly these.
    tags: Option<BTreeMap<String, String>>,
}

fn manifest(model: &BTreeMap<String, Wanted>, prune: bool) -> String {
    let mut text = format!(
        "apiVersion: iotplan/v1\nkind: DeviceSet\nproduct: {PRODUCT}\nprune: {prune}\ndevices:\n"
    );
    if model.is_empty() {
        return text.replace("devices:\n", "devices: []\n");
    }
    for (name, wanted) in model {
        let _ = write!(
            text,
            "  - name: {name}\n    nickname: \"{}\"\n    enabled: {}\n",
            wanted.nickname.as_deref().unwrap_or(""),
            wanted.enabled,
        );
        if let Some(tags) = &wanted.tags {
            let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}: \"{v}\"")).collect();
            let _ = writeln!(text, "    tags: {{{}}}", tags.join(", "));
        }
    }
    text
}

/// One random change to the model.
fn mutate(rng: &mut fastrand::Rng, model: &mut BTreeMap<String, Wanted>, next: &mut u32) -> String {
    let names: Vec<String> = model.keys().cloned().collect();
    let pick = |rng: &mut fastrand::Rng| names.get(rng.usize(..names.len().max(1))).cloned();
    match rng.u8(..6) {
        0 | 1 => {
            let count = rng.u32(20..150);
            for _ in 0..count {
                *next += 1;
                model.insert(
                    format!("soak-{:05}", *next),
                    Wanted {
                        nickname: rng.bool().then(|| format!("Soak_{}", *next)),
                        enabled: rng.u8(..5) > 0,
                        // Tags on a few devices only: each declared set costs a tag read per plan.
                        tags: (rng.u8(..5) == 0).then(|| {
                            BTreeMap::from([("site".to_owned(), format!("s{}", rng.u8(..3)))])
                        }),
                    },
                );
            }
            format!("add {count}")
        }
        2 => {
            let mut removed = 0;
            for _ in 0..rng.usize(1..4) {
                if let Some(name) = pick(rng) {
                    removed += usize::from(model.remove(&name).is_some());
                }
            }
            format!("remove {removed}")
        }
        3 => {
            let Some(name) = pick(rng) else {
                return "nothing".into();
            };
            let wanted = model.get_mut(&name).expect("picked");
            wanted.nickname = if rng.bool() {
                Some(format!("Renamed_{}", rng.u16(..1000)))
            } else {
                None
            };
            format!("re-nickname {name}")
        }
        4 => {
            let Some(name) = pick(rng) else {
                return "nothing".into();
            };
            let wanted = model.get_mut(&name).expect("picked");
            wanted.enabled = !wanted.enabled;
            format!("toggle {name}")
        }
        _ => {
            let Some(name) = pick(rng) else {
                return "nothing".into();
            };
            let wanted = model.get_mut(&name).expect("picked");
            let tags = wanted.tags.get_or_insert_with(BTreeMap::new);
            if tags.is_empty() || rng.bool() {
                tags.insert(format!("k{}", rng.u8(..4)), format!("v{}", rng.u8(..9)));
            } else {
                tags.clear();
            }
            format!("retag {name}")
        }
    }
}

fn apply_args() -> Vec<&'static str> {
    vec![
        "apply",
        "m.yaml",
        "--auto-approve",
        "--max-delete",
        "100%",
        "--secrets-out",
        "s.json",
    ]
}

/// Starts apply and kills it with SIGKILL after `after_ms`.
fn killed_apply(env: &TestEnv, dir: &Path, after_ms: u64) {
    let mut child = demo_command(env, dir)
        .args(apply_args())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawns");
    std::thread::sleep(Duration::from_millis(after_ms));
    let _ = child.kill();
    let _ = child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn rounds_of_changes_faults_and_kills_converge_with_nothing_lost() {
    let rounds: u32 = std::env::var("IOTPLAN_SOAK_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    let seed: u64 = std::env::var("IOTPLAN_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_261_128);
    let env = TestEnv::start(Config {
        fail_rate: 0.15,
        qps_scale: 0.5,
        latency: Duration::from_millis(3),
        apply_delay: Duration::from_millis(150),
        ..Config::default()
    })
    .await
    .with_products(&[PRODUCT]);
    let dir = tempfile::tempdir().expect("tmp");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut model: BTreeMap<String, Wanted> = BTreeMap::new();
    let mut next = 0;
    let (mut kills, mut reruns) = (0, 0);
    for round in 1..=rounds {
        let change = mutate(&mut rng, &mut model, &mut next);
        // Prune is on in most rounds, so removals are carried out; off, they stay on the platform.
        let prune = rng.u8(..4) > 0;
        std::fs::write(dir.path().join("m.yaml"), manifest(&model, prune)).expect("manifest");
        let case = format!("seed {seed} round {round} ({change}, prune {prune})");
        let plan = iotplan(&env, dir.path(), &["plan", "m.yaml", "--detailed-exitcode"]).await;
        assert!(
            matches!(plan.status.code(), Some(0 | 2)),
            "{case}: {}",
            text(&plan.stderr)
        );
        if rng.u8(..3) == 0 {
            let env_ref = &env;
            let dir_ref = dir.path();
            let after = rng.u64(50..600);
            tokio::task::block_in_place(|| killed_apply(env_ref, dir_ref, after));
            kills += 1;
        }
        let mut attempts = 0;
        loop {
            attempts += 1;
            let output = iotplan(&env, dir.path(), &apply_args()).await;
            if output.status.code() == Some(0) {
                break;
            }
            reruns += 1;
            assert!(
                attempts < 4,
                "{case}: no convergence: {}",
                text(&output.stdout)
            );
        }
        // Check against the model with faults paused.
        env.running.emulator.set_fail_rate(0.0);
        let platform: BTreeMap<String, (Wanted, String)> =
            env.running.emulator.with_store(|store| {
                store.devices[PRODUCT]
                    .by_name
                    .values()
                    .map(|d| {
                        let tags: BTreeMap<String, String> = d
                            .tags
                            .iter()
                            .filter(|(k, _)| !k.starts_with("iotplan."))
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect();
                        (
                            d.name.clone(),
                            (
                                Wanted {
                                    nickname: d.nickname.clone(),
                                    enabled: !d.disabled,
                                    tags: Some(tags),
                                },
                                d.secret.expose().to_owned(),
                            ),
                        )
                    })
                    .collect()
            });
        for (name, wanted) in &model {
            let (actual, _) = platform
                .get(name)
                .unwrap_or_else(|| panic!("{case}: {name} lost"));
            assert_eq!(actual.nickname, wanted.nickname, "{case}: {name}");
            assert_eq!(actual.enabled, wanted.enabled, "{case}: {name}");
            // Undeclared tags are left as they are; declared ones are exactly what was declared.
            if wanted.tags.is_some() {
                assert_eq!(actual.tags, wanted.tags, "{case}: {name}");
            }
        }
        if prune {
            assert_eq!(
                platform.len(),
                model.len(),
                "{case}: undeclared devices remain"
            );
        }
        let written = written_secrets(&dir.path().join("s.json"));
        for (name, (_, secret)) in &platform {
            assert_eq!(
                written.get(name),
                Some(secret),
                "{case}: the secret of {name}"
            );
        }
        env.running.emulator.set_fail_rate(0.15);
    }
    let faults = env
        .running
        .emulator
        .requests()
        .iter()
        .filter(|r| {
            r.status >= 500
                || r.code
                    .as_deref()
                    .is_some_and(|c| c.starts_with("Throttling"))
        })
        .count();
    // The summary is the run's record (README quotes a long run); `--nocapture` shows it.
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "soak: seed {seed}, {rounds} rounds, {} devices in the model, {faults} faults injected, {kills} kills, {reruns} re-runs, 0 lost",
            model.len()
        );
    }
}
