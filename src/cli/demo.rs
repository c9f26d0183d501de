//! `iotplan demo`: the main job against an embedded emulator, with no credentials and no network:
//! plan the manifests, apply them, plan again.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::Args;

use super::apply::{ReportFormat, execute};
use super::planning::{PlanOptions, plan_loaded};
use crate::apply::{Options, WaitConfig, default_wait};
use crate::emulator::seed::new_product;
use crate::emulator::{self, Config, DEMO_ACCESS_KEY_ID, DEMO_ACCESS_KEY_SECRET, Emulator};
use crate::exit::ExitStatus;
use crate::manifest;
use crate::output::Printer;
use crate::plan::guard::MaxDelete;
use crate::platform::{Client, ClientConfig, Credentials};
use crate::render;
use crate::secret::Secret;

/// Options of `iotplan demo`.
#[derive(Debug, Args)]
#[command(after_help = "Example:\n  iotplan demo examples/")]
pub struct DemoArgs {
    /// Manifest files or folders (default: `examples/` here, else the bundled examples, written
    /// to `.iotplan/demo-manifests/` so the demo runs outside a clone too).
    pub paths: Vec<PathBuf>,
    /// Where the embedded emulator keeps its state between runs.
    #[arg(long, default_value = ".iotplan/demo-emulator.json")]
    pub state: PathBuf,
    /// Where the registered devices' secrets go.
    #[arg(long, default_value = ".iotplan/demo-secrets.json")]
    pub secrets_out: PathBuf,
}

/// The example manifests the binary carries, for a demo run outside a clone.
const BUNDLED_EXAMPLES: &[(&str, &str)] = &[
    (
        "lights.yaml",
        include_str!("../../examples/products/lights.yaml"),
    ),
    (
        "meters.yaml",
        include_str!("../../examples/products/meters.yaml"),
    ),
];

/// `examples/` when the working folder has it (a clone), else the bundled examples written to
/// `.iotplan/demo-manifests/`.
fn default_manifests(printer: &Printer) -> anyhow::Result<PathBuf> {
    let here = PathBuf::from("examples");
    if here.is_dir() {
        return Ok(here);
    }
    let dir = PathBuf::from(".iotplan/demo-manifests");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    for (name, text) in BUNDLED_EXAMPLES {
        let path = dir.join(name);
        std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    printer.status(&format!(
        "no examples/ here: the bundled example manifests are in {}",
        dir.display()
    ));
    Ok(dir)
}

/// Runs plan → apply → plan against an embedded emulator seeded with the manifests' products.
///
/// # Errors
/// Invalid manifests, or any failure of the emulator or the calls.
pub(super) async fn run(
    args: DemoArgs,
    _global: &super::GlobalArgs,
    printer: &Printer,
) -> anyhow::Result<ExitStatus> {
    let paths = if args.paths.is_empty() {
        vec![default_manifests(printer)?]
    } else {
        args.paths.clone()
    };
    let loaded = manifest::load(&paths)?;
    super::ensure_parent(&args.state)?;
    let emulator = Emulator::new(Config {
        state_file: Some(args.state.clone()),
        apply_delay: Duration::from_millis(300),
        ..Config::default()
    })?;
    let now = jiff::Timestamp::now().as_millisecond();
    emulator.with_store(|store| {
        for spec in loaded.desired.products.values() {
            if !store.products.contains_key(&spec.product_key) {
                store.add_product(new_product(
                    &spec.product_key,
                    None,
                    spec.instance.clone(),
                    now,
                ));
            }
        }
    });
    let running = emulator::serve(emulator).await?;
    printer.status(&format!(
        "embedded emulator on {} (state in {}; delete it to start over)",
        running.endpoint(),
        args.state.display()
    ));
    let client = Client::new(ClientConfig::new(
        running.endpoint(),
        Credentials {
            access_key_id: DEMO_ACCESS_KEY_ID.to_owned(),
            access_key_secret: Secret::new(DEMO_ACCESS_KEY_SECRET),
            security_token: None,
        },
    ))?;
    let clients = |place: &crate::model::Place| client.with_instance(place.instance.clone());
    // The demo's manifests are the whole fleet of its own emulator: nothing to guard.
    let plan_options = PlanOptions {
        max_delete: MaxDelete::Count(usize::MAX),
        prune: crate::plan::fleet::FleetPrune::default(),
    };

    printer.status("── plan ──");
    let planned = plan_loaded(loaded.clone(), &clients, plan_options, printer).await?;
    printer.out(&render::text(&planned, false, printer.color));

    printer.status("── apply ──");
    let options = Options {
        secrets_out: Some(args.secrets_out.clone()),
        register_valid_rest: false,
        wait: WaitConfig {
            deadline: Duration::from_mins(1),
            ..default_wait()
        },
        journal_dir: PathBuf::from(".iotplan/demo-journal"),
    };
    let status = execute(&planned, &clients, &options, ReportFormat::Text, printer).await?;

    printer.status("── plan again ──");
    let again = plan_loaded(loaded, &clients, plan_options, printer).await?;
    printer.out(&render::text(&again, false, printer.color));
    running.stop().await?;
    Ok(status)
}
