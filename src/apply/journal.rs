//! The journal of open applications: one small JSON file per product under the journal folder
//! (default `.iotplan/journal/`), rewritten atomically whenever an application opens, moves to
//! creation, or is finished. It holds ApplyIds and names only, never secrets.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::Error;

/// Where an open application stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// Names sent for checking.
    Check,
    /// Registration started.
    Create,
}

/// An application that has an ApplyId and whose secrets are not yet written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenApplication {
    /// The ApplyId.
    pub apply_id: i64,
    /// The names it registers.
    pub names: Vec<String>,
    /// Its phase when last recorded.
    pub phase: Phase,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct JournalFile {
    format_version: u32,
    product_key: String,
    open: Vec<OpenApplication>,
}

/// One product's journal.
pub struct Journal {
    path: PathBuf,
    state: Mutex<JournalFile>,
}

impl Journal {
    /// Opens (or starts) the journal of a product.
    ///
    /// # Errors
    /// `Error::Journal` when the file exists but cannot be read.
    pub fn open(dir: &Path, product_key: &str) -> Result<Self, Error> {
        let path = dir.join(format!("{product_key}.json"));
        let state = if path.exists() {
            let text = std::fs::read(&path).map_err(|e| Error::Journal {
                path: path.clone(),
                reason: e.to_string(),
            })?;
            serde_json::from_slice(&text).map_err(|e| Error::Journal {
                path: path.clone(),
                reason: format!(
                    "{e}; move it away only after checking its ApplyIds with `iotplan plan`"
                ),
            })?
        } else {
            JournalFile {
                format_version: 1,
                product_key: product_key.to_owned(),
                open: Vec::new(),
            }
        };
        Ok(Self {
            path,
            state: Mutex::new(state),
        })
    }

    /// Applications left open by earlier runs.
    #[must_use]
    pub fn open_applications(&self) -> Vec<OpenApplication> {
        crate::sync::lock(&self.state).open.clone()
    }

    /// Records an application (new or in a new phase).
    ///
    /// # Errors
    /// `Error::Journal` when it cannot be written.
    pub fn record(&self, application: &OpenApplication) -> Result<(), Error> {
        let mut state = crate::sync::lock(&self.state);
        state.open.retain(|a| a.apply_id != application.apply_id);
        state.open.push(application.clone());
        self.write(&state)
    }

    /// Drops a finished application.
    ///
    /// # Errors
    /// `Error::Journal` when it cannot be written.
    pub fn forget(&self, apply_id: i64) -> Result<(), Error> {
        let mut state = crate::sync::lock(&self.state);
        state.open.retain(|a| a.apply_id != apply_id);
        self.write(&state)
    }

    fn write(&self, state: &JournalFile) -> Result<(), Error> {
        let error = |e: std::io::Error| Error::Journal {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        if state.open.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(error(e)),
                _ => Ok(()),
            };
        }
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir).map_err(error)?;
        }
        let text = serde_json::to_vec_pretty(state).map_err(|e| error(std::io::Error::other(e)))?;
        crate::fsutil::write_atomically(&self.path, &text, None).map_err(error)
    }
}
