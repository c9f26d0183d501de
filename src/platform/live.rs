//! Reads the live state the plan needs: for each declared product, every device (QueryDevice
//! paging), and tags only where the plan needs them (devices whose manifest declares tags, and
//! prune candidates, whose protection tag must be seen: of those, only that tag is read).

use std::collections::{BTreeMap, HashSet};

use futures::{StreamExt as _, TryStreamExt as _};

use super::paging::{compacted, list_devices_into};
use super::{Client, Error};
use crate::model::{
    DesiredState, LiveDevice, LiveProduct, LiveState, PROTECT_TAG, Place, ProductSpec, SharedTags,
    Tags,
};
use crate::wire::codes;
use crate::wire::ops::{
    DeviceRef, QueryDevice, QueryDeviceBySql, QueryDeviceByTags, QueryDeviceByTagsResponse,
    QueryDeviceProp, QueryProduct, SqlDevice, TagFilter,
};
use crate::wire::{MAX_PAGE_SIZE, MAX_SQL_OFFSET, MAX_SQL_ROWS};

/// How many tag reads run at once (the limiter still paces them at the quota).
const TAG_READS_IN_FLIGHT: usize = 64;

/// With prune off, manifests naming at most this many devices of a product are read by name
/// without asking how big the product is.
pub(crate) const BY_NAME_WITHOUT_ASKING: usize = 500;

/// With prune off and more declared devices, reading by name wins when the product holds more
/// than this many times as many devices: 100 names a call at 5 QPS against 50 a page at 50 QPS.
const BY_NAME_SIZE_RATIO: usize = 5;

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

/// Checks every declared product exists (QueryProduct) before anything else is read, and returns
/// each product's creation time (ms since the epoch).
///
/// # Errors
/// Every product that failed, each with its cause.
pub async fn check_products(
    clients: &dyn Fn(&Place) -> Client,
    desired: &DesiredState,
) -> Result<BTreeMap<String, i64>, Vec<ProductError>> {
    let existing = desired
        .products
        .values()
        .filter(|s| !s.product_key.is_empty());
    let checks = existing.map(|spec| async move {
        let client = clients(&spec.place());
        client
            .call(&QueryProduct {
                product_key: spec.product_key.clone(),
            })
            .await
            .map(|answer| (spec.product_key.clone(), answer.data.gmt_create))
            .map_err(|source| ProductError {
                product_key: spec.product_key.clone(),
                source,
            })
    });
    let mut created = BTreeMap::new();
    let mut errors = Vec::new();
    for result in futures::future::join_all(checks).await {
        match result {
            Ok((product_key, at)) => {
                created.insert(product_key, at);
            }
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(created)
    } else {
        Err(errors)
    }
}

/// A device as the plan sees it, from any read's fields: an empty nickname is none, and only
/// `DISABLE` is disabled.
pub(crate) fn live_device(
    iot_id: String,
    nickname: Option<String>,
    status: &str,
    tags: Option<std::sync::Arc<Tags>>,
) -> LiveDevice {
    LiveDevice {
        iot_id: iot_id.into(),
        nickname: nickname.filter(|n| !n.is_empty()).map(Into::into),
        enabled: status != "DISABLE",
        tags,
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

/// Reads one declared product's live state, with tags where the plan needs them. With prune off,
/// only the declared devices matter: they are read through every source at once
/// ([`super::declared`]), except that on an Enterprise Edition instance whose product is mostly
/// declared and whose devices declare tags, QueryDeviceBySQL (tags inline) reads the whole
/// product. With prune on, the whole product is read (SQL on an Enterprise Edition instance, else
/// the listing), and of each undeclared device only whether it carries `iotplan.protect: "true"`.
///
/// # Errors
/// The first read that fails after its retries.
pub async fn read_product(
    client: &Client,
    spec: &ProductSpec,
    created: i64,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<LiveProduct, ProductError> {
    let declared_tags = |name: &str| spec.devices.get(name).is_some_and(|d| d.tags.is_some());
    let tags_needed = spec.prune || spec.devices.values().any(|d| d.tags.is_some());
    // With prune off, the declared devices are read through every source at once; only tags of
    // an Enterprise Edition product most of which is declared come faster inline from SQL.
    let whole_product = spec.prune
        || tags_needed && spec.instance.is_some() && !read_by_name_pays(client, spec).await?;
    if !whole_product {
        let mut live = super::declared::read_declared(client, spec, progress).await?;
        read_tags(client, &spec.product_key, &mut live, &declared_tags).await?;
        return Ok(live);
    }
    if tags_needed && spec.instance.is_some() {
        match read_by_sql(client, &spec.product_key, created, progress).await {
            Ok(Some(live)) => return Ok(live),
            Ok(None) => {}
            Err(source) => {
                return Err(ProductError {
                    product_key: spec.product_key.clone(),
                    source,
                });
            }
        }
    }
    let mut live = read_devices(client, &spec.product_key, &declared_tags, progress).await?;
    if spec.prune {
        // Of an undeclared device, prune only needs to know whether it is protected.
        let undeclared = |name: &str| !spec.devices.contains_key(name);
        let count = live.devices.keys().filter(|name| undeclared(name)).count();
        let protected = protected_by_tags(client, &spec.product_key, count)
            .await
            .map_err(|source| ProductError {
                product_key: spec.product_key.clone(),
                source,
            })?;
        match protected {
            Some(names) => {
                for name in names.iter().filter(|name| undeclared(name)) {
                    if let Some(device) = live.devices.get_mut(name) {
                        device.tags = Some(std::sync::Arc::new(Tags::from([(
                            PROTECT_TAG.to_owned(),
                            "true".to_owned(),
                        )])));
                    }
                }
            }
            None => read_tags(client, &spec.product_key, &mut live, &undeclared).await?,
        }
    }
    Ok(live)
}

/// One QueryDeviceByTags page costs as much time as this many QueryDeviceProp calls (5 QPS
/// against 50).
const SEARCH_PAGE_COST: usize = 10;

/// The names of a product's devices tagged `iotplan.protect: "true"`, found with one
/// QueryDeviceByTags search across the instance (50 a page at 5 QPS), when that is quicker than
/// one QueryDeviceProp for each of the `undeclared` devices. `None` when it is not, when the
/// instance refuses the search, or when the pages do not add up (devices tagged meanwhile): then
/// the caller reads the undeclared devices' tags one by one.
async fn protected_by_tags(
    client: &Client,
    product_key: &str,
    undeclared: usize,
) -> Result<Option<HashSet<String>>, Error> {
    if undeclared < SEARCH_PAGE_COST {
        return Ok(None);
    }
    let search = |page: u32| QueryDeviceByTags {
        tags: vec![TagFilter {
            key: PROTECT_TAG.to_owned(),
            value: Some("true".to_owned()),
        }],
        current_page: Some(page),
        page_size: Some(MAX_PAGE_SIZE),
    };
    let first = match client.call(&search(1)).await {
        Ok(first) => first,
        Err(error) if operation_unavailable(&error) => return Ok(None),
        Err(error) => return Err(error),
    };
    if first.page_count as usize * SEARCH_PAGE_COST > undeclared {
        return Ok(None);
    }
    let total = first.total;
    let rest: Vec<QueryDeviceByTagsResponse> = futures::stream::iter(2..=first.page_count)
        .map(|page| {
            let request = search(page);
            async move { client.call(&request).await }
        })
        .buffer_unordered(TAG_READS_IN_FLIGHT)
        .try_collect()
        .await?;
    let mut seen = HashSet::new();
    let mut names = HashSet::new();
    for page in std::iter::once(first).chain(rest) {
        if page.total != total {
            return Ok(None);
        }
        for device in page.data.devices {
            seen.insert(device.iot_id);
            if device.product_key == product_key {
                names.insert(device.device_name);
            }
        }
    }
    Ok((seen.len() == total as usize).then_some(names))
}

/// Whether an error means QueryDeviceBySQL is not there to use (not Enterprise Edition, not
/// this region, or a statement form it does not take): then the other reads are used.
fn operation_unavailable(error: &Error) -> bool {
    matches!(error, Error::Api(api) if api.kind == super::ErrorKind::Business
        && !api.code.contains(codes::THROTTLING)
        && !api.code.contains("SystemException"))
}

/// A creation-time window of QueryDeviceBySQL, both ends exclusive (only `>` and `<` exist), in
/// epoch milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    after: i64,
    before: i64,
}

impl Window {
    /// The window's conditions, to follow the product's.
    fn conditions(self) -> String {
        format!(
            " AND gmt_create > '{}' AND gmt_create < '{}'",
            crate::wire::sql_time(self.after),
            crate::wire::sql_time(self.before)
        )
    }

    /// The two halves, each holding at least one instant, or `None` when the window holds a
    /// single instant (or none).
    fn halves(self) -> Option<(Window, Window)> {
        let (first, last) = (self.after + 1, self.before - 1);
        let instants = last - first + 1;
        if instants < 2 {
            return None;
        }
        // The later half starts at `split`.
        let split = first + instants / 2;
        Some((
            Window {
                after: self.after,
                before: split,
            },
            Window {
                after: split - 1,
                before: self.before,
            },
        ))
    }
}

/// A day, in milliseconds: the margin around a product's possible creation times.
const DAY_MS: i64 = 24 * 60 * 60 * 1000;

async fn sql_count(client: &Client, conditions: &str) -> Result<u64, Error> {
    let answer = client
        .call(&QueryDeviceBySql {
            sql: format!("SELECT count(*) FROM device WHERE {conditions}"),
        })
        .await?;
    Ok(answer.total_count.unwrap_or(0))
}

/// Splits a product too large for one statement into creation-time windows of at most 10,000
/// devices each, halving windows (one `count(*)` each) from the product's creation to now, a day
/// of margin either side. `None` when one millisecond holds more than 10,000 devices, or the
/// windows do not add up to `total` (devices changed meanwhile).
async fn sql_windows(
    client: &Client,
    product_key: &str,
    created: i64,
    total: u64,
) -> Result<Option<Vec<(Window, u64)>>, Error> {
    let whole = Window {
        after: created - DAY_MS,
        before: jiff::Timestamp::now().as_millisecond() + DAY_MS,
    };
    let mut pending: Vec<Window> = whole
        .halves()
        .into_iter()
        .flat_map(<[_; 2]>::from)
        .collect();
    let mut windows = Vec::new();
    while !pending.is_empty() {
        let counted: Vec<(Window, u64)> = futures::stream::iter(pending.drain(..))
            .map(|window| async move {
                let conditions = format!("product_key = '{product_key}'{}", window.conditions());
                Ok::<_, Error>((window, sql_count(client, &conditions).await?))
            })
            .buffer_unordered(TAG_READS_IN_FLIGHT)
            .try_collect()
            .await?;
        for (window, count) in counted {
            if count <= MAX_SQL_OFFSET {
                if count > 0 {
                    windows.push((window, count));
                }
                continue;
            }
            let Some((early, late)) = window.halves() else {
                tracing::debug!(
                    product_key,
                    count,
                    "one millisecond holds over 10,000 devices"
                );
                return Ok(None);
            };
            pending.extend([early, late]);
        }
    }
    Ok((windows.iter().map(|(_, count)| count).sum::<u64>() == total).then_some(windows))
}

/// Reads a product with its tags inline through QueryDeviceBySQL, 50 rows a call at its quota:
/// one `count(*)`, then the rows in creation order. A product over the 10,000 rows one statement
/// pages through is split into creation-time windows first ([`sql_windows`]). `None` when the
/// instance does not offer the operation, when the product cannot be split so, or when the rows
/// do not add up to the count (devices changed while reading); the caller then lists instead.
///
/// # Errors
/// A failure other than the operation being unavailable.
async fn read_by_sql(
    client: &Client,
    product_key: &str,
    created: i64,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<Option<LiveProduct>, Error> {
    let total = match sql_count(client, &format!("product_key = '{product_key}'")).await {
        Ok(total) => total,
        Err(error) if operation_unavailable(&error) => return Ok(None),
        Err(error) => return Err(error),
    };
    // Shown while the windows are counted, before the first rows arrive.
    progress(product_key, 0, total as usize);
    let windows: Vec<(Option<Window>, u64)> = if total <= MAX_SQL_OFFSET {
        vec![(None, total)]
    } else {
        match sql_windows(client, product_key, created, total).await? {
            Some(windows) => windows.into_iter().map(|(w, n)| (Some(w), n)).collect(),
            None => return Ok(None),
        }
    };
    let read = std::sync::atomic::AtomicUsize::new(0);
    let shared = SharedTags::default();
    let shared = &shared;
    let statements = windows.iter().flat_map(|(window, count)| {
        let conditions = window.map(Window::conditions).unwrap_or_default();
        (0..*count).step_by(MAX_SQL_ROWS as usize).map(move |offset| {
            format!(
                "SELECT * FROM device WHERE product_key = '{product_key}'{conditions} ORDER BY gmt_create LIMIT {offset},{MAX_SQL_ROWS}"
            )
        })
    });
    let pages: Vec<Vec<(String, LiveDevice)>> = futures::stream::iter(statements)
        .map(|sql| {
            let read = &read;
            async move {
                let page = client.call(&QueryDeviceBySql { sql }).await?;
                let done = read.fetch_add(page.data.len(), std::sync::atomic::Ordering::Relaxed)
                    + page.data.len();
                progress(product_key, done, total as usize);
                let mut rows = page.data;
                rows.retain(|row| row.product_key == product_key);
                Ok::<_, Error>(compacted(rows, |row| sql_device(row, shared)))
            }
        })
        .buffer_unordered(TAG_READS_IN_FLIGHT)
        .try_collect()
        .await?;
    let live = LiveProduct {
        devices: pages.into_iter().flatten().collect(),
        by_name: false,
    };
    if live.devices.len() as u64 != total {
        tracing::debug!(
            product_key,
            total,
            read = live.devices.len(),
            "SQL rows do not add up: listing instead"
        );
        return Ok(None);
    }
    Ok(Some(live))
}

/// A QueryDeviceBySQL row as the plan sees it, with its tags (equal ones shared).
fn sql_device(row: SqlDevice, shared: &SharedTags) -> (String, LiveDevice) {
    let tags = row
        .tags
        .into_iter()
        .map(|tag| (tag.tag_name, tag.tag_value))
        .collect();
    let device = live_device(
        row.iot_id,
        row.nickname,
        &row.status,
        Some(shared.share(tags)),
    );
    (row.device_name, device)
}

/// Whether reading the declared devices by name costs less than listing the product.
async fn read_by_name_pays(client: &Client, spec: &ProductSpec) -> Result<bool, ProductError> {
    let declared = spec.devices.len();
    if declared <= BY_NAME_WITHOUT_ASKING {
        return Ok(true);
    }
    let size = client
        .call(&QueryDevice {
            product_key: Some(spec.product_key.clone()),
            page_size: Some(1),
            current_page: Some(1),
            next_token: None,
        })
        .await
        .map_err(|source| ProductError {
            product_key: spec.product_key.clone(),
            source,
        })?
        .total as usize;
    // Past what QueryDevice can list, reading by name is the only way.
    let listable = (size as u64).div_ceil(u64::from(crate::wire::MAX_PAGE_SIZE))
        * u64::from(crate::wire::MAX_PAGE_SIZE)
        < crate::wire::MAX_LIST_OFFSET;
    Ok(size > declared * BY_NAME_SIZE_RATIO || !listable)
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
    let listed = list_devices_into(
        client,
        product_key,
        |read, total| progress(product_key, read, total),
        |device| {
            (
                device.device_name,
                live_device(device.iot_id, device.nickname, &device.device_status, None),
            )
        },
    )
    .await
    .map_err(wrap)?;
    let mut live = LiveProduct {
        devices: listed.into_iter().collect(),
        by_name: false,
    };
    read_tags(client, product_key, &mut live, needs_tags).await?;
    Ok(live)
}

/// Reads the tags of the devices `needs_tags` picks (QueryDeviceProp, one a call, paced).
async fn read_tags(
    client: &Client,
    product_key: &str,
    live: &mut LiveProduct,
    needs_tags: &(dyn Fn(&str) -> bool + Sync),
) -> Result<(), ProductError> {
    let wanted: Vec<String> = live
        .devices
        .keys()
        .filter(|name| needs_tags(name))
        .cloned()
        .collect();
    let shared = SharedTags::default();
    let shared = &shared;
    let tags: Vec<(String, std::sync::Arc<Tags>)> = futures::stream::iter(wanted)
        .map(|name| async move {
            let response = client
                .call(&QueryDeviceProp {
                    device: DeviceRef::name(product_key, &name),
                })
                .await?;
            Ok::<_, Error>((name, shared.share(parse_props(&response.props))))
        })
        .buffer_unordered(TAG_READS_IN_FLIGHT)
        .try_collect()
        .await
        .map_err(|source| ProductError {
            product_key: product_key.to_owned(),
            source,
        })?;
    for (name, device_tags) in tags {
        if let Some(device) = live.devices.get_mut(&name) {
            device.tags = Some(device_tags);
        }
    }
    Ok(())
}

/// Reads every declared product's live state, products side by side.
///
/// # Errors
/// Every product whose read failed.
pub async fn read(
    clients: &dyn Fn(&Place) -> Client,
    desired: &DesiredState,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<LiveState, Vec<ProductError>> {
    let created = check_products(clients, desired).await?;
    let created = &created;
    // A product still to be created has no devices to read.
    let existing = desired
        .products
        .values()
        .filter(|s| !s.product_key.is_empty());
    let reads = existing.map(|spec| async move {
        let client = clients(&spec.place());
        let created = created.get(&spec.product_key).copied().unwrap_or_default();
        read_product(&client, spec, created, progress)
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
            if let Some(hint) = error.source.hint() {
                write!(f, "\n    hint: {hint}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::Window;

    /// Halving splits a window into two non-empty, disjoint windows covering it, and stops at a
    /// single instant.
    #[test]
    fn halves_cover_the_window_and_always_shrink() {
        let instants = |w: Window| (w.after + 1..w.before).collect::<Vec<_>>();
        for width in 0..40 {
            let window = Window {
                after: 1_000,
                before: 1_000 + width,
            };
            match window.halves() {
                None => assert!(instants(window).len() < 2, "{window:?} was not split"),
                Some((early, late)) => {
                    let (a, b) = (instants(early), instants(late));
                    assert!(
                        !a.is_empty() && !b.is_empty(),
                        "{window:?} → {early:?} {late:?}"
                    );
                    assert_eq!([a, b].concat(), instants(window));
                }
            }
        }
    }
}
