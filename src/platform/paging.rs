//! Listings hidden behind plain collections: callers ask for a product's devices and never see
//! page numbers or tokens.

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::{StreamExt as _, TryStreamExt as _};

use super::{Client, Error};
use crate::wire::ops::{
    ApplyDeviceInfo, DeviceInfo, QueryDevice, QueryDeviceResponse, QueryPageByApplyId,
};
use crate::wire::{MAX_LIST_OFFSET, MAX_PAGE_SIZE, NEXT_TOKEN_OFFSET};

/// Pages of the shallow part read at once (the limiter still paces them at the quota).
const PAGES_IN_FLIGHT: usize = 16;

pub(crate) async fn device_page(
    client: &Client,
    product_key: &str,
    page: u32,
    next_token: Option<String>,
) -> Result<QueryDeviceResponse, Error> {
    client
        .call(&QueryDevice {
            product_key: Some(product_key.to_owned()),
            page_size: Some(MAX_PAGE_SIZE),
            current_page: Some(page),
            next_token,
        })
        .await
}

pub(crate) fn is_last(response: &QueryDeviceResponse, page: u32) -> bool {
    response.next_token.as_deref().is_none_or(str::is_empty)
        || response.data.devices.len() < MAX_PAGE_SIZE as usize
        || page >= response.page_count
}

/// `items` turned by `keep` into a new, exactly sized vector. (`into_iter().map().collect()`
/// would reuse the answer's allocation, sized for the full records, and keep it alive as long
/// as the small ones: several times the memory on a large product.)
pub(crate) fn compacted<S, T>(items: Vec<S>, keep: impl FnMut(S) -> T) -> Vec<T> {
    let mut kept = Vec::with_capacity(items.len());
    kept.extend(items.into_iter().map(keep));
    kept
}

/// Every device of a product, newest first, 50 a page; see [`list_devices_into`].
///
/// # Errors
/// The first call that fails after its retries.
pub async fn list_devices(
    client: &Client,
    product_key: &str,
    progress: impl Fn(usize, usize) + Sync,
) -> Result<Vec<DeviceInfo>, Error> {
    let devices = list_devices_into(client, product_key, progress, |device| device).await?;
    // A device created or deleted while listing can shift a page boundary: keep each name once.
    let mut seen = HashSet::with_capacity(devices.len());
    Ok(devices
        .into_iter()
        .filter(|device| seen.insert(device.device_name.clone()))
        .collect())
}

/// Every device of a product, newest first, 50 a page, each turned by `keep` into what the
/// caller holds as soon as its page arrives (so a large product is never held twice). Page 1
/// gives the count; then two paths run side by side: the rest of the first 10,000 devices by
/// CurrentPage, pages in parallel at the quota, and from the last of those pages on the
/// NextToken chain (required past 10,000), one page per round trip. `progress` is told how many
/// were read so far, of how many. A device moved across a page boundary while listing can appear
/// twice; callers keep each name once.
///
/// # Errors
/// The first call that fails after its retries.
pub async fn list_devices_into<T: Send>(
    client: &Client,
    product_key: &str,
    progress: impl Fn(usize, usize) + Sync,
    keep: impl Fn(DeviceInfo) -> T + Sync,
) -> Result<Vec<T>, Error> {
    let first = device_page(client, product_key, 1, None).await?;
    let total = first.total as usize;
    let read = AtomicUsize::new(first.data.devices.len());
    progress(read.load(Ordering::Relaxed), total);
    if !listable(&first) {
        return Err(Error::TooLargeToList {
            product_key: product_key.to_owned(),
            devices: u64::from(first.total),
        });
    }
    // Pages arrive out of order (the chain runs beside the shallow pages): kept by number, and
    // put back in listing order, newest first, at the end.
    let pages: std::sync::Mutex<Vec<(u32, Vec<T>)>> = std::sync::Mutex::new(Vec::new());
    each_page(
        client,
        product_key,
        &first,
        |page, devices| {
            let done = read.fetch_add(devices.len(), Ordering::Relaxed) + devices.len();
            progress(done, total);
            let devices = compacted(devices, &keep);
            crate::sync::lock(&pages).push((page, devices));
        },
        || false,
    )
    .await?;
    let mut pages = pages
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    pages.sort_unstable_by_key(|(page, _)| *page);
    let mut kept = Vec::with_capacity(total);
    kept.extend(first.data.devices.into_iter().map(&keep));
    for (_, devices) in pages {
        kept.extend(devices);
    }
    Ok(kept)
}

/// Whether QueryDevice can list the whole product whose first page this is.
pub(crate) fn listable(first: &QueryDeviceResponse) -> bool {
    u64::from(first.page_count) * u64::from(MAX_PAGE_SIZE) < MAX_LIST_OFFSET
}

/// The pages after `first` (page 1) of a product's listing, each handed to `on_page` as it
/// arrives: the rest of the first 10,000 devices by CurrentPage, pages in parallel at the quota,
/// and the NextToken chain beside them. Stops asking for pages once `stop` says so. Returns
/// whether the listing reached its end.
///
/// # Errors
/// The first call that fails after its retries.
pub(crate) async fn each_page(
    client: &Client,
    product_key: &str,
    first: &QueryDeviceResponse,
    on_page: impl Fn(u32, Vec<DeviceInfo>) + Sync,
    stop: impl Fn() -> bool + Sync,
) -> Result<bool, Error> {
    if is_last(first, 1) {
        return Ok(true);
    }
    let page_count = first.page_count;
    let shallow_pages = (NEXT_TOKEN_OFFSET / u64::from(MAX_PAGE_SIZE)) as u32;
    let chain_start = (page_count > shallow_pages).then_some(shallow_pages);
    let parallel_last = chain_start.map_or(page_count, |start| start - 1);
    let cut = std::sync::atomic::AtomicBool::new(false);
    let (stop, cut) = (&stop, &cut);
    // Each page asks `stop` once its slot of the quota comes, not when it is queued.
    let parallel = futures::stream::iter(2..=parallel_last)
        .map(|page| async move {
            let asked = client
                .call_when_ready(|| {
                    (!stop()).then(|| QueryDevice {
                        product_key: Some(product_key.to_owned()),
                        page_size: Some(MAX_PAGE_SIZE),
                        current_page: Some(page),
                        next_token: None,
                    })
                })
                .await;
            if let Some((_, answer)) = asked {
                answer.map(|response| Some((page, response)))
            } else {
                cut.store(true, Ordering::Relaxed);
                Ok(None)
            }
        })
        .buffered(PAGES_IN_FLIGHT)
        .try_for_each(|response| {
            if let Some((page, response)) = response {
                on_page(page, response.data.devices);
            }
            futures::future::ready(Ok(()))
        });
    let chain = async {
        let Some(mut page) = chain_start else {
            return Ok::<_, Error>(true);
        };
        let mut token = None;
        loop {
            if stop() {
                return Ok(false);
            }
            let response = device_page(client, product_key, page, token.take()).await?;
            let last = is_last(&response, page);
            token = response.next_token;
            on_page(page, response.data.devices);
            if last {
                return Ok(true);
            }
            page += 1;
        }
    };
    let ((), chain_complete) = futures::future::try_join(parallel, chain).await?;
    Ok(chain_complete && !cut.load(Ordering::Relaxed))
}

/// Every device an application registered, with its secret (QueryPageByApplyId, 50 a page):
/// page 1 gives the page count, then the other pages run side by side, paced by the limiter.
///
/// # Errors
/// The first call that fails after its retries.
pub async fn registered_devices(
    client: &Client,
    apply_id: i64,
) -> Result<Vec<ApplyDeviceInfo>, Error> {
    let page = |page: u32| QueryPageByApplyId {
        apply_id,
        page_size: Some(MAX_PAGE_SIZE),
        current_page: Some(page),
    };
    let first = client.call(&page(1)).await?;
    let mut devices = first.apply_device_list.devices;
    if devices.len() < MAX_PAGE_SIZE as usize {
        return Ok(devices);
    }
    let rest: Vec<Vec<ApplyDeviceInfo>> = futures::stream::iter(2..=first.page_count)
        .map(|number| {
            let request = page(number);
            async move {
                let response = client.call(&request).await?;
                Ok::<_, Error>(response.apply_device_list.devices)
            }
        })
        .buffered(PAGES_IN_FLIGHT)
        .try_collect()
        .await?;
    devices.extend(rest.into_iter().flatten());
    Ok(devices)
}
