//! Shared by plan, apply and demo: manifests → live state → plan, with progress on stderr.

use crate::manifest::Loaded;
use crate::model::ProductSpec;
use crate::output::Printer;
use crate::output::progress::Progress;
use crate::plan::guard::{self, MaxDelete};
use crate::plan::{FORMAT_VERSION, Plan, diff};
use crate::platform::Client;
use crate::platform::live::{self, ReadErrors};

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
    Ok(loaded)
}

/// Plans `loaded` against the live state read through `clients`.
pub(crate) async fn plan_loaded(
    loaded: Loaded,
    clients: &(dyn Fn(&ProductSpec) -> Client + Sync),
    max_delete: MaxDelete,
    printer: &Printer,
) -> anyhow::Result<Plan> {
    let progress = Progress::new(printer);
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
    };
    plan.delete_guard = guard::check(&plan, max_delete);
    Ok(plan)
}
