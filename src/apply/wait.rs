//! One wait helper for asynchronous platform work: poll with backoff until the application leaves
//! its pending state, or the deadline passes (the error carries the last status seen).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::platform::{Client, Error};
use crate::wire::codes;
use crate::wire::ops::{ApplyStatus, QueryBatchRegisterDeviceStatus, RegisterStatusData};

/// Poll timing.
#[derive(Debug, Clone, Copy)]
pub struct WaitConfig {
    /// First pause.
    pub first: Duration,
    /// Longest pause.
    pub max: Duration,
    /// Total time before giving up.
    pub deadline: Duration,
}

/// Why waiting ended without a settled status.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WaitError {
    /// The platform does not know the application.
    #[error("the application is unknown to the platform")]
    NotFound,
    /// A status call failed.
    #[error("{0}")]
    Platform(#[from] Error),
    /// Still pending at the deadline.
    #[error("still {last:?} after {waited:?}")]
    Deadline {
        /// Last status.
        last: ApplyStatus,
        /// How long.
        waited: Duration,
    },
}

/// Polls until the application is no longer pending; `None` when stopped by Ctrl-C.
pub(crate) async fn until_settled(
    client: &Client,
    request: &QueryBatchRegisterDeviceStatus,
    config: &WaitConfig,
    stop: &AtomicBool,
) -> Result<Option<RegisterStatusData>, WaitError> {
    let started = tokio::time::Instant::now();
    let mut pause = config.first;
    loop {
        let status = match client.call(request).await {
            Ok(response) => response.data,
            Err(error) if error.code() == Some(codes::APPLY_NOT_FOUND) => {
                return Err(WaitError::NotFound);
            }
            Err(error) => return Err(error.into()),
        };
        if !status.status.is_pending() {
            return Ok(Some(status));
        }
        if started.elapsed() >= config.deadline {
            return Err(WaitError::Deadline {
                last: status.status,
                waited: started.elapsed(),
            });
        }
        if stop.load(Ordering::SeqCst) {
            return Ok(None);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(config.max);
    }
}
