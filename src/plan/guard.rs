//! The deletion guard (`--max-delete`): how many of a product's devices one apply may delete, so
//! that an empty or partial manifest set cannot wipe a product. Plan evaluates it as apply will,
//! so a plan that apply would refuse says so where it is reviewed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::Plan;

/// The default limit: a tenth of a product's devices, but never fewer than 5, so a large product
/// is protected and a small one can still lose a device or two.
pub const DEFAULT_MAX_DELETE: &str = "10%,5";

/// A deletion limit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxDelete {
    /// At most this many devices.
    Count(usize),
    /// At most this share of the product's devices, rounded up, and never fewer than `at_least`.
    Share {
        /// Percent, 0–100.
        percent: f64,
        /// The floor, in devices.
        at_least: usize,
    },
}

impl MaxDelete {
    /// How many of `live` devices may be deleted.
    #[must_use]
    pub fn allowed(self, live: usize) -> usize {
        match self {
            MaxDelete::Count(count) => count,
            MaxDelete::Share { percent, at_least } => {
                ((live as f64 * percent / 100.0).ceil() as usize).max(at_least)
            }
        }
    }
}

impl FromStr for MaxDelete {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let share = |share: &str| {
            share
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| (0.0..=100.0).contains(s))
        };
        let parsed = match text.split_once(',') {
            Some((percent, floor)) => percent
                .trim()
                .strip_suffix('%')
                .and_then(share)
                .zip(floor.trim().parse::<usize>().ok())
                .map(|(percent, at_least)| MaxDelete::Share { percent, at_least }),
            None => match text.trim().strip_suffix('%') {
                Some(percent) => share(percent).map(|percent| MaxDelete::Share {
                    percent,
                    at_least: 0,
                }),
                None => text.trim().parse::<usize>().ok().map(MaxDelete::Count),
            },
        };
        parsed.ok_or_else(|| {
            format!(
                "`{text}` is neither a count (20), a percentage (10%) nor a percentage with a floor (10%,5)"
            )
        })
    }
}

/// A product whose deletions, or a group whose member removals, exceed the limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The ProductKey (empty for a group).
    pub product_key: String,
    /// The group whose members are removed; the limit then counts its members.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Deletions planned.
    pub deletions: usize,
    /// Devices on the platform.
    pub live_devices: usize,
    /// Deletions allowed.
    pub limit: usize,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(group) = &self.group {
            return write!(
                f,
                "group {group}: apply will refuse: {} member removal(s) of its {} members, limit {}; pass --max-delete {} (or more) to allow them",
                self.deletions, self.live_devices, self.limit, self.deletions
            );
        }
        write!(
            f,
            "product {}: apply will refuse: {} deletion{} of its {} devices, limit {}; pass --max-delete {} (or more) to allow {}",
            self.product_key,
            self.deletions,
            if self.deletions == 1 { "" } else { "s" },
            self.live_devices,
            self.limit,
            self.deletions,
            if self.deletions == 1 { "it" } else { "them" }
        )
    }
}

/// Every product of `plan` whose deletions `limit` refuses, and every group whose member
/// removals it refuses (counted against the group's members, as devices against a product's).
#[must_use]
pub fn check(plan: &Plan, limit: MaxDelete) -> Vec<Refusal> {
    let products = plan
        .products
        .iter()
        .filter(|p| p.delete.len() > limit.allowed(p.live_devices))
        .map(|p| Refusal {
            product_key: p.product_key.clone(),
            group: None,
            deletions: p.delete.len(),
            live_devices: p.live_devices,
            limit: limit.allowed(p.live_devices),
        });
    let groups = plan
        .groups
        .iter()
        .filter(|g| g.removals() > limit.allowed(g.live_members))
        .map(|g| Refusal {
            product_key: String::new(),
            group: Some(g.name.clone()),
            deletions: g.removals(),
            live_devices: g.live_members,
            limit: limit.allowed(g.live_members),
        });
    products.chain(groups).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_shares_and_floors() {
        let parse = |text: &str| text.parse::<MaxDelete>().expect(text);
        assert_eq!(parse("20"), MaxDelete::Count(20));
        assert_eq!(
            parse("10%"),
            MaxDelete::Share {
                percent: 10.0,
                at_least: 0
            }
        );
        assert_eq!(
            parse(DEFAULT_MAX_DELETE),
            MaxDelete::Share {
                percent: 10.0,
                at_least: 5
            }
        );
        for bad in ["lots", "150%", "10%,x", "-1", "10,5"] {
            assert!(bad.parse::<MaxDelete>().is_err(), "{bad}");
        }
    }

    #[test]
    fn shares_round_up_and_the_default_never_blocks_a_small_product() {
        let default = parse_default();
        assert_eq!(default.allowed(5), 5, "a 5-device product can lose any");
        assert_eq!(default.allowed(49), 5);
        assert_eq!(default.allowed(610), 61);
        assert_eq!(default.allowed(100_000), 10_000);
        let share: MaxDelete = "10%".parse().expect("share");
        assert_eq!(
            share.allowed(5),
            1,
            "10% of 5 rounds up to one device, not down to none"
        );
        assert_eq!(share.allowed(0), 0);
        let none: MaxDelete = "0".parse().expect("count");
        assert_eq!(none.allowed(1_000), 0);
    }

    fn parse_default() -> MaxDelete {
        DEFAULT_MAX_DELETE.parse().expect("default")
    }
}
