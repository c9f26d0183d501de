//! The secrets file: DeviceSecrets of registered devices, JSON, mode 0600, written atomically and
//! merged with what the file already holds (entries are never dropped).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::Error;
use crate::secret::Secret;

/// One device's credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretEntry {
    /// The ProductKey.
    pub product_key: String,
    /// The DeviceName.
    pub device_name: String,
    /// The IotId.
    pub iot_id: String,
    /// The DeviceSecret.
    pub device_secret: Secret,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Contents {
    format_version: u32,
    devices: Vec<SecretEntry>,
}

/// A secrets file being written.
pub struct SecretsFile {
    path: PathBuf,
    entries: Mutex<BTreeMap<(String, String), SecretEntry>>,
}

impl SecretsFile {
    /// Opens a secrets file, reading what it already holds.
    ///
    /// # Errors
    /// `Error::Secrets` when it exists but cannot be read.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let error = |reason: String| Error::Secrets {
            path: path.to_owned(),
            reason,
        };
        let mut entries = BTreeMap::new();
        if path.exists() {
            let text = std::fs::read(path).map_err(|e| error(e.to_string()))?;
            let contents: Contents = serde_json::from_slice(&text).map_err(|e| {
                error(format!(
                    "not an iotplan secrets file ({e}); choose another path"
                ))
            })?;
            for entry in contents.devices {
                entries.insert(
                    (entry.product_key.clone(), entry.device_name.clone()),
                    entry,
                );
            }
        }
        Ok(Self {
            path: path.to_owned(),
            entries: Mutex::new(entries),
        })
    }

    /// Adds entries (replacing older ones of the same device) and rewrites the file. Returns how
    /// many were given.
    ///
    /// # Errors
    /// `Error::Secrets` when the file cannot be written.
    pub fn merge(&self, new: impl IntoIterator<Item = SecretEntry>) -> Result<usize, Error> {
        let mut entries = crate::sync::lock(&self.entries);
        let mut count = 0;
        for entry in new {
            entries.insert(
                (entry.product_key.clone(), entry.device_name.clone()),
                entry,
            );
            count += 1;
        }
        let contents = Contents {
            format_version: 1,
            devices: entries.values().cloned().collect(),
        };
        let text = serde_json::to_vec_pretty(&contents).map_err(|e| Error::Secrets {
            path: self.path.clone(),
            reason: e.to_string(),
        })?;
        crate::fsutil::write_atomically(&self.path, &text, Some(0o600)).map_err(|e| {
            Error::Secrets {
                path: self.path.clone(),
                reason: e.to_string(),
            }
        })?;
        Ok(count)
    }

    /// Every entry.
    #[must_use]
    pub fn entries(&self) -> Vec<SecretEntry> {
        crate::sync::lock(&self.entries).values().cloned().collect()
    }
}
