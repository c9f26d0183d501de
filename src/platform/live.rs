//! Reads the live state the plan needs: for each declared product, every device (QueryDevice
//! paging), and tags only where the plan needs them (devices whose manifest declares tags, and
//! prune candidates, whose protection tag must be seen).

use std::collections::BTreeMap;

use futures::{StreamExt as _, TryStreamExt as _};

use super::paging::list_devices;
use super::{Client, Error};
use crate::model::{DesiredState, LiveDevice, LiveProduct, LiveState, ProductSpec};
use crate::wire::ops::{DeviceRef, QueryDeviceProp, QueryProduct};

/// How many tag reads run at once (the limiter still paces them at the quota).
const TAG_READS_IN_FLIGHT: usize = 64;

/// A product the platform does not know, or that could not be checked.
#[derive(Debug, thiserror::Error)]
#[error("product {product_key}: {source}")]
pub struct ProductError {
    /// The product.
    pub product_key: String,
    /// Why.
    #[source]
    pub source: Error,
}

/// Checks every declared product exists (QueryProduct) before anything else is read.
///
/// # Errors
/// Every product that failed, each with its cause.
pub async fn check_products(
    clients: &dyn Fn(&ProductSpec) -> Client,
    desired: &DesiredState,
) -> Result<(), Vec<ProductError>> {
    let checks = desired.products.values().map(|spec| async move {
        let client = clients(spec);
        client
            .call(&QueryProduct {
                product_key: spec.product_key.clone(),
            })
            .await
            .map_err(|source| ProductError {
                product_key: spec.product_key.clone(),
                source,
            })
    });
    let errors: Vec<ProductError> = futures::future::join_all(checks)
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Parses QueryDeviceProp's JSON text into string tags.
fn parse_props(text: &str) -> BTreeMap<String, String> {
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    value
        .as_object()
        .map(|object| {
            object
                .iter()
                .map(|(k, v)| {
                    (
                        k.clone(),
                        v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Reads one declared product's live state, with tags where the plan needs them.
///
/// # Errors
/// The first read that fails after its retries.
pub async fn read_product(
    client: &Client,
    spec: &ProductSpec,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<LiveProduct, ProductError> {
    let needs_tags = |name: &str| match spec.devices.get(name) {
        Some(declared) => declared.tags.is_some(),
        None => spec.prune,
    };
    read_devices(client, &spec.product_key, &needs_tags, progress).await
}

/// Reads every device of a product (QueryDevice paging) and the tags of those `needs_tags`
/// picks (QueryDeviceProp, paced by the limiter).
///
/// # Errors
/// The first read that fails after its retries.
pub async fn read_devices(
    client: &Client,
    product_key: &str,
    needs_tags: &(dyn Fn(&str) -> bool + Sync),
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<LiveProduct, ProductError> {
    let wrap = |source| ProductError {
        product_key: product_key.to_owned(),
        source,
    };
    let listed = list_devices(client, product_key, |read, total| {
        progress(product_key, read, total);
    })
    .await
    .map_err(wrap)?;
    let mut live = LiveProduct::default();
    for device in listed {
        live.devices.insert(
            device.device_name,
            LiveDevice {
                iot_id: device.iot_id,
                nickname: device.nickname.filter(|n| !n.is_empty()),
                enabled: device.device_status != "DISABLE",
                tags: None,
            },
        );
    }
    let wanted: Vec<String> = live
        .devices
        .keys()
        .filter(|name| needs_tags(name))
        .cloned()
        .collect();
    let tags: Vec<(String, BTreeMap<String, String>)> = futures::stream::iter(wanted)
        .map(|name| async move {
            let response = client
                .call(&QueryDeviceProp {
                    device: DeviceRef::name(product_key, &name),
                })
                .await?;
            Ok::<_, Error>((name, parse_props(&response.props)))
        })
        .buffer_unordered(TAG_READS_IN_FLIGHT)
        .try_collect()
        .await
        .map_err(wrap)?;
    for (name, device_tags) in tags {
        if let Some(device) = live.devices.get_mut(&name) {
            device.tags = Some(device_tags);
        }
    }
    Ok(live)
}

/// Reads every declared product's live state, products side by side.
///
/// # Errors
/// Every product whose read failed.
pub async fn read(
    clients: &dyn Fn(&ProductSpec) -> Client,
    desired: &DesiredState,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<LiveState, Vec<ProductError>> {
    check_products(clients, desired).await?;
    let reads = desired.products.values().map(|spec| async move {
        let client = clients(spec);
        read_product(&client, spec, progress)
            .await
            .map(|live| (spec.product_key.clone(), live))
    });
    let mut state = LiveState::default();
    let mut errors = Vec::new();
    for result in futures::future::join_all(reads).await {
        match result {
            Ok((key, live)) => {
                state.products.insert(key, live);
            }
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(state)
    } else {
        Err(errors)
    }
}

/// Every product that could not be read, shown one per line with what to do.
#[derive(Debug, thiserror::Error)]
pub struct ReadErrors(pub Vec<ProductError>);

impl std::fmt::Display for ReadErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "cannot read the live state of {} product(s):",
            self.0.len()
        )?;
        for error in &self.0 {
            write!(f, "  {error}")?;
            if let Error::Api(api) = &error.source
                && let Some(hint) = api.hint()
            {
                write!(f, "\n    hint: {hint}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}
