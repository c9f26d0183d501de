//! Shared by plan, apply and demo: manifests → live state → plan, with progress on stderr.

use crate::manifest::Loaded;
use crate::model::Place;
use crate::output::Printer;
use crate::output::progress::Progress;
use crate::plan::fleet::{self, FleetPrune};
use crate::plan::guard::{self, MaxDelete};
use crate::plan::{FORMAT_VERSION, Plan, diff};
use crate::platform::live::{self, ReadErrors};
use crate::platform::{Client, fleet as live_fleet};

/// Keeps only the products `keys` names (all when empty), so that nothing of the others is read.
///
/// # Errors
/// A key no manifest declares, with the keys they do.
pub(crate) fn only_products(mut loaded: Loaded, keys: &[String]) -> anyhow::Result<Loaded> {
    if keys.is_empty() {
        return Ok(loaded);
    }
    if let Some(unknown) = keys
        .iter()
        .find(|k| !loaded.desired.products.contains_key(*k))
    {
        anyhow::bail!(
            "--product {unknown}: no manifest declares this product (they declare {})",
            loaded
                .desired
                .products
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    loaded.desired.products.retain(|key, _| keys.contains(key));
    // Membership spans products: planned from some of them it would read as removals.
    loaded.desired.declared_products.clear();
    loaded.desired.groups.clear();
    Ok(loaded)
}

/// `--prune-products` and `--prune-groups`.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct PruneArgs {
    /// Also delete the products no manifest declares, where the manifests declare products
    /// (never one that has devices or is tagged `iotplan.protect: "true"`).
    #[arg(long)]
    pub prune_products: bool,
    /// Also delete the device groups no manifest declares, where the manifests declare groups
    /// (never one tagged `iotplan.protect: "true"`, nor the parents of a kept one).
    #[arg(long)]
    pub prune_groups: bool,
}

impl From<PruneArgs> for FleetPrune {
    fn from(args: PruneArgs) -> Self {
        FleetPrune {
            products: args.prune_products,
            groups: args.prune_groups,
        }
    }
}

/// What a plan is made with besides the manifests.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PlanOptions {
    /// The deletion limit apply will use.
    pub max_delete: MaxDelete,
    /// Which undeclared products and groups may be deleted.
    pub prune: FleetPrune,
}

/// Names the declared products a DeviceSet names by name with their ProductKey, where the product
/// exists; the others keep an empty key (the product is created by apply).
fn resolve_named_products(
    desired: &mut crate::model::DesiredState,
    fleet: &crate::model::LiveFleet,
) -> anyhow::Result<()> {
    let named: Vec<String> = desired
        .products
        .iter()
        .filter(|(_, spec)| spec.product_key.is_empty())
        .map(|(entry, _)| entry.clone())
        .collect();
    for entry in named {
        let Some(mut spec) = desired.products.remove(&entry) else {
            continue;
        };
        let live = spec
            .product_name
            .as_ref()
            .and_then(|name| desired.declared_products.get(name))
            .and_then(|decl| fleet.product_for(decl));
        let Some(live) = live else {
            desired.products.insert(entry, spec);
            continue;
        };
        if desired.products.contains_key(&live.key) {
            anyhow::bail!(
                "product {} ({}) is named by its key in one DeviceSet and by its name in another; name it one way in every DeviceSet",
                spec.product_name.unwrap_or_default(),
                live.key
            );
        }
        spec.product_key.clone_from(&live.key);
        desired.products.insert(live.key.clone(), spec);
    }
    Ok(())
}

/// Plans `loaded` against the live state read through `clients`.
pub(crate) async fn plan_loaded(
    mut loaded: Loaded,
    clients: &(dyn Fn(&Place) -> Client + Sync),
    options: PlanOptions,
    printer: &Printer,
) -> anyhow::Result<Plan> {
    let progress = Progress::new(printer);
    let fleet_state =
        if loaded.desired.declared_products.is_empty() && loaded.desired.groups.is_empty() {
            crate::model::LiveFleet::default()
        } else {
            progress.update("reading products and device groups", 0, 1);
            let read = live_fleet::read(clients, &loaded.desired, options.prune)
                .await
                .map_err(live_fleet::FleetErrors)?;
            progress.finish(
                "reading products and device groups",
                "products and device groups read",
            );
            read
        };
    resolve_named_products(&mut loaded.desired, &fleet_state)?;
    let report = |product: &str, read: usize, total: usize| {
        progress.update(&format!("{product} reading devices"), read, total);
    };
    let live = live::read(clients, &loaded.desired, &report)
        .await
        .map_err(ReadErrors)?;
    for (key, product) in &live.products {
        progress.finish(
            &format!("{key} reading devices"),
            &format!("{} device(s) read", product.devices.len()),
        );
    }
    let referenced = loaded
        .desired
        .products
        .values()
        .map(|spec| spec.product_key.clone())
        .filter(|key| !key.is_empty())
        .collect();
    let products = loaded
        .desired
        .products
        .values()
        .map(|spec| {
            diff(
                spec,
                live.products
                    .get(&spec.product_key)
                    .unwrap_or(&crate::model::LiveProduct::default()),
            )
        })
        .collect();
    let mut plan = Plan {
        format_version: FORMAT_VERSION,
        manifest_files: loaded
            .files
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        manifest_fingerprint: loaded.fingerprint.clone(),
        products,
        delete_guard: Vec::new(),
        fleet_prune: options.prune,
        product_changes: fleet::products(&loaded.desired, &fleet_state, &referenced, options.prune),
        groups: fleet::groups(&loaded.desired, &fleet_state, options.prune),
    };
    plan.delete_guard = guard::check(&plan, options.max_delete);
    Ok(plan)
}
