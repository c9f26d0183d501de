//! Listings hidden behind plain collections: callers ask for a product's devices and never see
//! page numbers or tokens.

use super::{Client, Error};
use crate::wire::MAX_PAGE_SIZE;
use crate::wire::ops::{ApplyDeviceInfo, DeviceInfo, QueryDevice, QueryPageByApplyId};

/// Every device of a product, newest first, reading 50 a page with CurrentPage and carrying the
/// NextToken forward (required past 10,000). `progress` is told how many were read so far.
///
/// # Errors
/// The first call that fails after its retries.
pub async fn list_devices(
    client: &Client,
    product_key: &str,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<DeviceInfo>, Error> {
    let mut devices = Vec::new();
    let mut next_token: Option<String> = None;
    for page in 1.. {
        let response = client
            .call(&QueryDevice {
                product_key: Some(product_key.to_owned()),
                page_size: Some(MAX_PAGE_SIZE),
                current_page: Some(page),
                next_token: next_token.take(),
            })
            .await?;
        let count = response.data.devices.len();
        devices.extend(response.data.devices);
        progress(devices.len(), response.total as usize);
        next_token = response.next_token.filter(|t| !t.is_empty());
        if next_token.is_none() || count < MAX_PAGE_SIZE as usize || page >= response.page_count {
            break;
        }
    }
    Ok(devices)
}

/// Every device an application registered, with its secret (QueryPageByApplyId, 50 a page).
///
/// # Errors
/// The first call that fails after its retries.
pub async fn registered_devices(
    client: &Client,
    apply_id: i64,
) -> Result<Vec<ApplyDeviceInfo>, Error> {
    let mut devices = Vec::new();
    for page in 1.. {
        let response = client
            .call(&QueryPageByApplyId {
                apply_id,
                page_size: Some(MAX_PAGE_SIZE),
                current_page: Some(page),
            })
            .await?;
        let count = response.apply_device_list.devices.len();
        devices.extend(response.apply_device_list.devices);
        if count < MAX_PAGE_SIZE as usize || page >= response.page_count {
            break;
        }
    }
    Ok(devices)
}
