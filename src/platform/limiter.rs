//! A client-side pacer per Action (and per deep-page quota), shared by every task of one client:
//! requests start evenly spaced at the documented QPS, and a throttling answer widens the spacing
//! for everyone until successes bring it back.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use crate::wire::Action;

struct Lane {
    base: Duration,
    interval: Duration,
    next_free: Instant,
}

/// Per-Action pacing.
pub struct RateLimiter {
    lanes: Mutex<HashMap<(Action, bool), Lane>>,
    rates: HashMap<Action, f64>,
}

/// The slowest a throttled lane gets, as a multiple of its base interval.
const MAX_SLOWDOWN: u32 = 8;

impl RateLimiter {
    /// Paces each Action at its documented QPS times `scale`, except where `overrides` gives a QPS.
    #[must_use]
    pub fn new(scale: f64, overrides: &HashMap<Action, f64>) -> Self {
        let rates = Action::ALL
            .iter()
            .map(|action| {
                (
                    *action,
                    overrides
                        .get(action)
                        .copied()
                        .unwrap_or(f64::from(action.qps()) * scale),
                )
            })
            .collect();
        Self {
            lanes: Mutex::new(HashMap::new()),
            rates,
        }
    }

    fn rate(&self, action: Action, deep: bool) -> f64 {
        let rate = self
            .rates
            .get(&action)
            .copied()
            .unwrap_or(f64::from(action.qps()));
        match action.deep_page_qps() {
            Some(deep_qps) if deep => {
                rate.min(f64::from(deep_qps) * rate / f64::from(action.qps()))
            }
            _ => rate,
        }
    }

    fn with_lane<R>(&self, action: Action, deep: bool, f: impl FnOnce(&mut Lane) -> R) -> R {
        let rate = self.rate(action, deep);
        let mut lanes = crate::sync::lock(&self.lanes);
        let lane = lanes.entry((action, deep)).or_insert_with(|| {
            let base = if rate > 0.0 {
                Duration::from_secs_f64(1.0 / rate)
            } else {
                Duration::ZERO
            };
            Lane {
                base,
                interval: base,
                next_free: Instant::now(),
            }
        });
        f(lane)
    }

    /// Waits for this Action's next slot.
    pub async fn acquire(&self, action: Action, deep: bool) {
        let start = self.with_lane(action, deep, |lane| {
            let now = Instant::now();
            let start = lane.next_free.max(now);
            lane.next_free = start + lane.interval;
            start
        });
        tokio::time::sleep_until(start).await;
    }

    /// A throttling answer came: slow this Action down and push its next slot past `retry_after`.
    pub fn throttled(&self, action: Action, deep: bool, retry_after: Option<Duration>) {
        self.with_lane(action, deep, |lane| {
            lane.interval = (lane.interval * 2)
                .min(lane.base * MAX_SLOWDOWN)
                .max(Duration::from_millis(1));
            if let Some(wait) = retry_after {
                lane.next_free = lane.next_free.max(Instant::now() + wait);
            }
        });
    }

    /// A call succeeded: recover a little of the pace lost to throttling.
    pub fn succeeded(&self, action: Action, deep: bool) {
        self.with_lane(action, deep, |lane| {
            if lane.interval > lane.base {
                lane.interval = (lane.interval.mul_f64(0.9)).max(lane.base);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn paces_at_the_quota_and_slows_after_throttling() {
        let limiter = RateLimiter::new(1.0, &HashMap::new());
        let start = Instant::now();
        for _ in 0..11 {
            limiter.acquire(Action::BatchCheckDeviceNames, false).await;
        }
        // Ten intervals of 100 ms at 10 QPS.
        assert_eq!(start.elapsed(), Duration::from_secs(1));

        limiter.throttled(
            Action::BatchCheckDeviceNames,
            false,
            Some(Duration::from_millis(500)),
        );
        let before = Instant::now();
        limiter.acquire(Action::BatchCheckDeviceNames, false).await;
        limiter.acquire(Action::BatchCheckDeviceNames, false).await;
        assert!(
            before.elapsed() >= Duration::from_millis(700),
            "{:?}",
            before.elapsed()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn deep_pages_use_their_own_slower_lane() {
        let limiter = RateLimiter::new(1.0, &HashMap::new());
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire(Action::QueryDevice, true).await;
        }
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }
}
