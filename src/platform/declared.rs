//! With prune off, only the declared devices matter, and every source that can answer for them
//! runs at once, each paced by its own quota:
//!
//! - BatchGetDeviceState, 50 names a call at 50 QPS: existence, IotId and enabled, for entries
//!   that declare no nickname;
//! - BatchQueryDeviceDetail, 100 names a call at 5 QPS: the same plus the nickname, for entries
//!   that declare one (and for the names of a state call the platform refused whole for an
//!   unknown name: this call leaves unknown names out);
//! - the product's listing (QueryDevice, newest first), when at least 5,000 declared devices are
//!   nine tenths of the product or more: each page answers for the declared names on it.
//!
//! Name-based reads take names in name order, which for numbered fleets is creation order, from
//! the end the listing reaches last (its first page tells which end it starts from). A name answered by one source is
//! dropped by the others, and the read ends as soon as every declared name is answered (found,
//! or known not to exist). Tags are read afterwards for the entries that declare them.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use super::live::{BY_NAME_WITHOUT_ASKING, ProductError, live_device};
use super::paging::{self, device_page};
use super::{Client, Error};
use crate::model::{LiveDevice, LiveProduct, ProductSpec};
use crate::sync::lock;
use crate::wire::ops::{BatchGetDeviceState, BatchQueryDeviceDetail, DeviceInfo};
use crate::wire::{MAX_DETAIL_NAMES, MAX_STATE_NAMES, codes};

/// BatchGetDeviceState calls in flight: enough for its 50 QPS at a 500 ms round trip.
const STATE_READS_IN_FLIGHT: usize = 32;

/// BatchQueryDeviceDetail calls in flight: enough for its 5 QPS at a 1 s round trip; each answer
/// holds 100 devices' full details.
const DETAIL_READS_IN_FLIGHT: usize = 8;

/// The listing joins in when the declared devices are at least this share (in tenths) of the
/// product: it reads newest first, and every undeclared device it meets costs a fiftieth of a call.
const LISTING_DECLARED_TENTHS: usize = 9;

/// Nor does the listing join in below this many declared devices: BatchGetDeviceState alone then
/// takes under 2 s at its quota, and a second source would mostly add the calls in flight where
/// the two meet.
const LISTING_MIN_DECLARED: usize = 5_000;

/// Which source answered, for the read's summary.
#[derive(Default)]
struct Counts {
    state: AtomicUsize,
    detail: AtomicUsize,
    listing: AtomicUsize,
    missing: AtomicUsize,
}

/// The names still to answer, and what was found.
struct Work {
    pending: HashSet<String>,
    state: VecDeque<String>,
    detail: VecDeque<String>,
    found: HashMap<String, LiveDevice>,
}

struct Shared<'a> {
    client: &'a Client,
    /// Workers waiting for a quota slot, per source: no more wait than there are names to read.
    waiting_state: AtomicUsize,
    waiting_detail: AtomicUsize,
    spec: &'a ProductSpec,
    work: Mutex<Work>,
    state_workers_done: AtomicBool,
    counts: Counts,
    progress: &'a (dyn Fn(&str, usize, usize) + Sync),
}

impl Shared<'_> {
    fn report_progress(&self) {
        let total = self.spec.devices.len();
        let left = lock(&self.work).pending.len();
        (self.progress)(&self.spec.product_key, total - left, total);
    }

    /// Up to `size` names of a queue not answered yet, at a worker's quota slot.
    fn take(&self, detail: bool, size: usize) -> Vec<String> {
        let waiting = if detail {
            &self.waiting_detail
        } else {
            &self.waiting_state
        };
        waiting.fetch_sub(1, Ordering::SeqCst);
        let mut work = lock(&self.work);
        let Work {
            pending,
            state,
            detail: detail_queue,
            ..
        } = &mut *work;
        let queue = if detail { detail_queue } else { state };
        let mut chunk = Vec::with_capacity(size);
        while chunk.len() < size {
            let Some(name) = queue.pop_front() else { break };
            if pending.contains(&name) {
                chunk.push(name);
            }
        }
        chunk
    }

    /// Whether one more worker may wait for a quota slot: the queue holds more names than the
    /// workers already waiting will take. When it may, it is counted as waiting until
    /// [`Shared::take`] runs at its slot.
    fn may_wait(&self, detail: bool) -> bool {
        let (waiting, size) = if detail {
            (&self.waiting_detail, MAX_DETAIL_NAMES)
        } else {
            (&self.waiting_state, MAX_STATE_NAMES)
        };
        let work = lock(&self.work);
        let queued = if detail {
            work.detail.len()
        } else {
            work.state.len()
        };
        let ahead = waiting.load(Ordering::SeqCst);
        if queued > ahead * size && !work.pending.is_empty() {
            waiting.fetch_add(1, Ordering::SeqCst);
            true
        } else {
            false
        }
    }

    fn done(&self) -> bool {
        lock(&self.work).pending.is_empty()
    }

    /// Answers for `asked`: what `found` holds exists, the rest does not.
    fn answer(&self, asked: &[String], found: Vec<(String, LiveDevice)>, source: &AtomicUsize) {
        let mut work = lock(&self.work);
        let mut answered = 0;
        for (name, device) in found {
            if work.pending.remove(&name) {
                work.found.insert(name, device);
                answered += 1;
            }
        }
        let mut missing = 0;
        for name in asked {
            if work.pending.remove(name) {
                missing += 1;
            }
        }
        drop(work);
        source.fetch_add(answered, Ordering::Relaxed);
        self.counts.missing.fetch_add(missing, Ordering::Relaxed);
        self.report_progress();
    }

    /// A listing page answers for the declared names on it.
    fn listed(&self, devices: Vec<DeviceInfo>) {
        let found: Vec<(String, LiveDevice)> = devices
            .into_iter()
            .filter(|d| self.spec.devices.contains_key(&d.device_name))
            .map(|d| {
                let device = live_device(d.iot_id, d.nickname, &d.device_status, None);
                (d.device_name, device)
            })
            .collect();
        self.answer(&[], found, &self.counts.listing);
    }

    async fn state_worker(&self) -> Result<(), Error> {
        let key = &self.spec.product_key;
        loop {
            if !self.may_wait(false) {
                return Ok(());
            }
            let answer = self
                .client
                .call_when_ready(|| {
                    let chunk = self.take(false, MAX_STATE_NAMES);
                    (!chunk.is_empty()).then(|| BatchGetDeviceState {
                        product_key: Some(key.clone()),
                        device_names: chunk,
                        iot_ids: Vec::new(),
                    })
                })
                .await;
            let Some((request, answer)) = answer else {
                return Ok(());
            };
            match answer {
                Ok(response) => {
                    let found = response
                        .device_status_list
                        .states
                        .into_iter()
                        .map(|s| {
                            let device = live_device(s.iot_id, None, &s.status, None);
                            (s.device_name, device)
                        })
                        .collect();
                    self.answer(&request.device_names, found, &self.counts.state);
                }
                // Whether an unknown name fails the whole call is not documented: the names go
                // to BatchQueryDeviceDetail, which leaves unknown names out.
                Err(error) if error.code() == Some(codes::DEVICE_NOT_EXISTED) => {
                    lock(&self.work).detail.extend(request.device_names);
                }
                Err(error) => return Err(error),
            }
        }
    }

    async fn detail_worker(&self) -> Result<(), Error> {
        let key = &self.spec.product_key;
        loop {
            if !self.may_wait(true) {
                // State calls in flight may still hand names over.
                if self.state_workers_done.load(Ordering::SeqCst) || self.done() {
                    return Ok(());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
            let answer = self
                .client
                .call_when_ready(|| {
                    let chunk = self.take(true, MAX_DETAIL_NAMES);
                    (!chunk.is_empty()).then(|| BatchQueryDeviceDetail {
                        product_key: key.clone(),
                        device_names: chunk,
                    })
                })
                .await;
            let Some((request, answer)) = answer else {
                continue;
            };
            let found = paging::compacted(answer?.data.devices, |d| {
                let device = live_device(d.iot_id, d.nickname, &d.status, None);
                (d.device_name, device)
            });
            self.answer(&request.device_names, found, &self.counts.detail);
        }
    }

    async fn names(&self) -> Result<(), Error> {
        let state = async {
            let workers = (0..STATE_READS_IN_FLIGHT).map(|_| self.state_worker());
            let result = futures::future::try_join_all(workers).await;
            self.state_workers_done.store(true, Ordering::SeqCst);
            result
        };
        let detail = futures::future::try_join_all(
            (0..DETAIL_READS_IN_FLIGHT).map(|_| self.detail_worker()),
        );
        futures::future::try_join(state, detail).await?;
        Ok(())
    }

    /// The listing, from its first page on, until every declared name is answered. When it
    /// reaches its end, every name still pending does not exist.
    async fn listing(&self, first: &crate::wire::ops::QueryDeviceResponse) -> Result<(), Error> {
        let complete = paging::each_page(
            self.client,
            &self.spec.product_key,
            first,
            |_, devices| self.listed(devices),
            || self.done(),
        )
        .await?;
        if complete {
            let mut work = lock(&self.work);
            let missing = work.pending.len();
            work.pending.clear();
            drop(work);
            self.counts.missing.fetch_add(missing, Ordering::Relaxed);
        }
        Ok(())
    }
}

/// Reads the declared devices of `spec` through every source at once (see the module docs).
///
/// # Errors
/// The first read that fails after its retries.
pub(crate) async fn read_declared(
    client: &Client,
    spec: &ProductSpec,
    progress: &(dyn Fn(&str, usize, usize) + Sync),
) -> Result<LiveProduct, ProductError> {
    let key = &spec.product_key;
    let wrap = |source| ProductError {
        product_key: key.clone(),
        source,
    };
    let (state, detail): (VecDeque<String>, VecDeque<String>) = {
        let (with_nickname, without): (Vec<_>, Vec<_>) = spec
            .devices
            .iter()
            .partition(|(_, device)| device.nickname.is_some());
        (
            without.into_iter().map(|(name, _)| name.clone()).collect(),
            with_nickname
                .into_iter()
                .map(|(name, _)| name.clone())
                .collect(),
        )
    };
    let shared = Shared {
        client,
        waiting_state: AtomicUsize::new(0),
        waiting_detail: AtomicUsize::new(0),
        spec,
        work: Mutex::new(Work {
            pending: spec.devices.keys().cloned().collect(),
            state,
            detail,
            found: HashMap::with_capacity(spec.devices.len()),
        }),
        state_workers_done: AtomicBool::new(false),
        counts: Counts::default(),
        progress,
    };
    let declared = spec.devices.len();
    let first = if declared > BY_NAME_WITHOUT_ASKING {
        let first = device_page(client, key, 1, None).await.map_err(wrap)?;
        let listable = paging::listable(&first);
        let size = first.total as usize;
        // Name-based reads go the other way from the listing: where its first page falls among
        // the declared names (in name order) says which end it starts from.
        let order: Vec<&String> = spec.devices.keys().collect();
        let positions: Vec<usize> = first
            .data
            .devices
            .iter()
            .filter_map(|d| order.binary_search(&&d.device_name).ok())
            .collect();
        if !positions.is_empty() && positions.iter().sum::<usize>() / positions.len() < declared / 2
        {
            let mut work = lock(&shared.work);
            work.state.make_contiguous().reverse();
            work.detail.make_contiguous().reverse();
        }
        let whole = paging::is_last(&first, 1);
        shared.listed(first.data.devices.clone());
        if whole {
            // One page held the whole product (a new one, say): what it lacks does not exist.
            let mut work = lock(&shared.work);
            let missing = work.pending.len();
            work.pending.clear();
            drop(work);
            shared.counts.missing.fetch_add(missing, Ordering::Relaxed);
        }
        (!whole
            && listable
            && declared >= LISTING_MIN_DECLARED
            && declared * 10 >= size * LISTING_DECLARED_TENTHS)
            .then_some(first)
    } else {
        None
    };
    let listing = first.is_some();
    match first {
        Some(first) => {
            // Whichever ends first: the names (every one answered), or the listing (its end
            // answers for the rest).
            let names = std::pin::pin!(shared.names());
            let listed = std::pin::pin!(shared.listing(&first));
            match futures::future::select(names, listed).await {
                futures::future::Either::Left((result, _)) => result.map_err(wrap)?,
                futures::future::Either::Right((result, names)) => {
                    result.map_err(wrap)?;
                    names.await.map_err(wrap)?;
                }
            }
        }
        None => shared.names().await.map_err(wrap)?,
    }
    let counts = &shared.counts;
    tracing::debug!(
        product = %key,
        declared,
        listing,
        by_state = counts.state.load(Ordering::Relaxed),
        by_detail = counts.detail.load(Ordering::Relaxed),
        by_listing = counts.listing.load(Ordering::Relaxed),
        missing = counts.missing.load(Ordering::Relaxed),
        "declared devices read"
    );
    let work = shared
        .work
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Ok(LiveProduct {
        devices: work.found.into_iter().collect(),
        by_name: true,
    })
}
