//! Seed files: products (and optionally devices) to preload into the emulator, in YAML or JSON.
//!
//! ```yaml
//! instances: [iot-06z00abc]          # enterprise instances that exist
//! products:
//!   - key: a1BwAGV8aWs
//!     name: Meters
//!     instance: iot-06z00abc          # optional
//!     devices:                        # optional
//!       - {name: meter-01, nickname: Lobby, enabled: false, tags: {site: hq}}
//!     generate: {prefix: meter-, count: 100000, width: 6}   # optional numbered devices
//! fail_create: [bad-device]           # names whose creation fails (fault injection)
//! fail_check: [taken-device]          # names the asynchronous check refuses as taken
//! ```
//!
//! A product's seeded devices are created a millisecond apart (generated ones first), the last
//! one a millisecond before the emulator starts, and the product just before its first device,
//! as a fleet registered over time would be.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use super::Error;
use super::store::{Product, Store, random_alnum};
use crate::secret::Secret;

/// A seed file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Seed {
    /// Enterprise instances that exist.
    #[serde(default)]
    pub instances: Vec<String>,
    /// Products to create.
    #[serde(default)]
    pub products: Vec<SeedProduct>,
    /// Names whose creation is forced to fail.
    #[serde(default)]
    pub fail_create: Vec<String>,
    /// Names the asynchronous check refuses as taken.
    #[serde(default)]
    pub fail_check: Vec<String>,
}

/// A product to preload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedProduct {
    /// The ProductKey.
    pub key: String,
    /// The name (defaults to the key).
    #[serde(default)]
    pub name: Option<String>,
    /// The instance.
    #[serde(default)]
    pub instance: Option<String>,
    /// Devices to preload.
    #[serde(default)]
    pub devices: Vec<SeedDevice>,
    /// Numbered devices to preload.
    #[serde(default)]
    pub generate: Option<Generate>,
}

/// A device to preload.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedDevice {
    /// The DeviceName.
    pub name: String,
    /// The nickname.
    #[serde(default)]
    pub nickname: Option<String>,
    /// Whether enabled (default true).
    #[serde(default = "yes")]
    pub enabled: bool,
    /// Tags.
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

fn yes() -> bool {
    true
}

/// Numbered devices `prefix` + zero-padded number, 1..=count.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Generate {
    /// Name prefix.
    pub prefix: String,
    /// How many.
    pub count: u32,
    /// Digits, zero-padded.
    #[serde(default)]
    pub width: usize,
}

impl Seed {
    /// Reads a seed file.
    ///
    /// # Errors
    /// `Error::Seed` when it cannot be read or parsed.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let seed_error = |reason: String| Error::Seed {
            path: path.to_owned(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|e| seed_error(e.to_string()))?;
        // JSON seeds (what generated fleets use) have no size limit; YAML seeds keep the YAML
        // parser's default budget.
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            serde_json::from_str(&text).map_err(|e| seed_error(e.to_string()))
        } else {
            serde_saphyr::from_str(&text).map_err(|e| seed_error(e.to_string()))
        }
    }

    /// Adds the seed's products and devices to a store (products already there are kept).
    pub fn apply(&self, store: &mut Store, now_ms: i64) {
        store.instances.extend(self.instances.iter().cloned());
        store.fail_create.extend(self.fail_create.iter().cloned());
        store.fail_check.extend(self.fail_check.iter().cloned());
        for seed in &self.products {
            let count = i64::from(seed.generate.as_ref().map_or(0, |g| g.count))
                + i64::try_from(seed.devices.len()).unwrap_or(0);
            let mut created = now_ms - count;
            if !store.products.contains_key(&seed.key) {
                store.add_product(new_product(
                    &seed.key,
                    seed.name.as_deref(),
                    seed.instance.clone(),
                    created - 1,
                ));
            }
            if let Some(generate) = &seed.generate {
                for n in 1..=generate.count {
                    let name = format!("{}{:0width$}", generate.prefix, n, width = generate.width);
                    store.create_device(&seed.key, &name, None, created);
                    created += 1;
                }
            }
            for device in &seed.devices {
                store.create_device(&seed.key, &device.name, device.nickname.clone(), created);
                created += 1;
                if let Some(created) = store
                    .devices
                    .get_mut(&seed.key)
                    .and_then(|d| d.by_name.get_mut(&device.name))
                {
                    created.disabled = !device.enabled;
                    created.tags.clone_from(&device.tags);
                }
            }
        }
    }
}

/// A product with the emulator's defaults.
#[must_use]
pub fn new_product(
    key: &str,
    name: Option<&str>,
    instance: Option<String>,
    now_ms: i64,
) -> Product {
    Product {
        key: key.to_owned(),
        name: name.unwrap_or(key).to_owned(),
        instance,
        secret: Secret::new(random_alnum(16)),
        auth_type: "secret".to_owned(),
        node_type: 0,
        commodity_code: "iothub".to_owned(),
        data_format: None,
        net_type: Some(3),
        description: String::new(),
        protocol_type: None,
        tags: BTreeMap::new(),
        created_ms: now_ms,
        seq: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A generated fleet past the YAML parser's budget loads from JSON, its devices created a
    /// millisecond apart before the emulator starts, the product just before them.
    #[test]
    fn large_json_seeds_load_with_spread_creation_times() {
        let devices: Vec<serde_json::Value> = (1..=60_000)
            .map(|n| serde_json::json!({"name": format!("unit-{n:06}"), "tags": {"fleet": "a"}}))
            .collect();
        let seed = serde_json::json!({"products": [
            {"key": "a1Seeded", "devices": devices, "generate": {"prefix": "gen-", "count": 5, "width": 2}}
        ]});
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("seed.json");
        std::fs::write(&path, seed.to_string()).expect("written");
        let mut store = Store::new();
        Seed::load(&path)
            .expect("loads")
            .apply(&mut store, 1_000_000);
        let devices = &store.devices["a1Seeded"].by_name;
        assert_eq!(devices.len(), 60_005);
        let mut times: Vec<i64> = devices.values().map(|d| d.created_ms).collect();
        times.sort_unstable();
        times.dedup();
        assert_eq!(times.len(), 60_005, "one millisecond each");
        assert_eq!((times[0], times[60_004]), (1_000_000 - 60_005, 999_999));
        assert_eq!(
            devices["gen-01"].created_ms, times[0],
            "generated devices first"
        );
        assert_eq!(store.products["a1Seeded"].created_ms, times[0] - 1);
    }
}
