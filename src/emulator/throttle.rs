//! Per-AccessKey, per-Action QPS quotas as token buckets, answered with the gateway's throttling
//! error and an `x-acs-retry-after` hint.

use std::collections::HashMap;
use std::time::Instant;

use axum::http::StatusCode;

use super::Reject;
use crate::wire::Action;
use crate::wire::codes;

struct Bucket {
    tokens: f64,
    rate: f64,
    last: Instant,
}

/// Token buckets keyed by AccessKeyId, Action and whether the deep-page quota applies.
pub(crate) struct Throttle {
    scale: f64,
    buckets: HashMap<(String, Action, bool), Bucket>,
}

impl Throttle {
    /// Quotas scaled by `scale`; 0 admits everything.
    pub(crate) fn new(scale: f64) -> Self {
        Self {
            scale,
            buckets: HashMap::new(),
        }
    }

    /// Takes a token for one request, or answers `Throttling.User`.
    pub(crate) fn admit(&mut self, key: &str, action: Action, deep: bool) -> Result<(), Reject> {
        if self.scale <= 0.0 {
            return Ok(());
        }
        let qps = if deep {
            action.deep_page_qps().unwrap_or(action.qps())
        } else {
            action.qps()
        };
        let rate = f64::from(qps) * self.scale;
        let now = Instant::now();
        let bucket = self
            .buckets
            .entry((key.to_owned(), action, deep))
            .or_insert_with(|| Bucket {
                tokens: rate.max(1.0),
                rate,
                last: now,
            });
        let capacity = bucket.rate.max(1.0);
        bucket.tokens = (bucket.tokens
            + now.duration_since(bucket.last).as_secs_f64() * bucket.rate)
            .min(capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Ok(());
        }
        let wait_ms = ((1.0 - bucket.tokens) / bucket.rate * 1000.0).ceil();
        Err(Reject::Gateway {
            status: StatusCode::BAD_REQUEST,
            code: codes::THROTTLING_USER.to_owned(),
            message: format!(
                "Request was denied due to user flow control ({action} allows {qps} per second)."
            ),
            retry_after_ms: Some(wait_ms.max(1.0) as u64),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_past_the_quota_are_refused_with_a_hint() {
        let mut throttle = Throttle::new(1.0);
        let admitted = (0..20)
            .filter(|_| {
                throttle
                    .admit("k", Action::BatchCheckDeviceNames, false)
                    .is_ok()
            })
            .count();
        assert_eq!(admitted, 10);
        match throttle.admit("k", Action::BatchCheckDeviceNames, false) {
            Err(Reject::Gateway {
                code,
                retry_after_ms,
                ..
            }) => {
                assert_eq!(code, codes::THROTTLING_USER);
                assert!(retry_after_ms.is_some_and(|ms| ms > 0 && ms <= 100));
            }
            other => panic!("expected throttling, got {other:?}"),
        }
        assert!(
            throttle
                .admit("other-key", Action::BatchCheckDeviceNames, false)
                .is_ok()
        );
        assert!(
            Throttle::new(0.0)
                .admit("k", Action::BatchQueryDeviceDetail, false)
                .is_ok()
        );
    }
}
