//! Credentials as a client uses them: the chain's first candidate that answers wins, and its
//! temporary credentials are refreshed before they expire. One refresh runs at a time; callers
//! that need credentials meanwhile wait for it rather than start their own.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

use super::chain::Chain;
use super::fetch::{self, Http, Lease};
use super::{Credentials, listed};

/// Refresh when less than this part of the credentials' life remains (also at 3 minutes, or half
/// the life of short-lived ones, whichever comes first).
const REFRESH_SHARE: u32 = 10;

/// Credentials that would expire within this much are not used at all.
const EXPIRY_MARGIN: Duration = Duration::from_secs(5);

/// Why no credentials could be had. Never holds a secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CredentialError {
    /// Every candidate of the chain failed.
    #[error("no credentials: {}", listed(said))]
    NoneAnswered {
        /// What each source said, in chain order (those passed over first).
        said: Vec<(String, String)>,
    },
    /// The source that gave the credentials could not renew them.
    #[error("the credentials from {origin} could not be renewed: {reason}")]
    Renewal {
        /// Where they came from.
        origin: String,
        /// What went wrong.
        reason: String,
    },
}

impl CredentialError {
    /// What the user can do about it.
    #[must_use]
    pub fn hint(&self) -> &'static str {
        match self {
            CredentialError::NoneAnswered { .. } => {
                "set up one of the sources listed (README: Credentials); off ECS, ALIBABA_CLOUD_ECS_METADATA_DISABLED=true skips the metadata service"
            }
            CredentialError::Renewal { .. } => {
                "fix the credentials source and run the command again; an interrupted apply resumes from its journal"
            }
        }
    }
}

/// Which source won, for `-v` and reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SignedIn {
    /// Where the provider was configured.
    pub source: String,
    /// The provider's kind (AccessKey, AssumeRole ARN, …).
    pub provider: String,
    /// When the current credentials expire (RFC 3339), if they do.
    pub expires: Option<String>,
}

struct State {
    winner: Option<usize>,
    lease: Option<Lease>,
}

/// The credentials of one chain, fetched on first use and refreshed before they expire.
pub struct CredentialSource {
    chain: Chain,
    http: std::sync::OnceLock<Result<Http, String>>,
    state: tokio::sync::Mutex<State>,
    signed_in: Mutex<Option<SignedIn>>,
}

impl fmt::Debug for CredentialSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialSource")
            .field("chain", &self.chain)
            .finish_non_exhaustive()
    }
}

/// When to refresh credentials valid from `obtained` to `expiration`: with a tenth of their life
/// left, or 3 minutes (half the life of short-lived ones), whichever comes first.
fn refresh_window(obtained: jiff::Timestamp, expiration: jiff::Timestamp) -> Duration {
    let life = life(obtained, expiration);
    (life / REFRESH_SHARE).max(Duration::from_mins(3).min(life / 2))
}

fn life(obtained: jiff::Timestamp, expiration: jiff::Timestamp) -> Duration {
    Duration::from_millis(
        u64::try_from(expiration.as_millisecond() - obtained.as_millisecond()).unwrap_or(0),
    )
}

fn remaining(expiration: jiff::Timestamp) -> Duration {
    Duration::from_millis(
        u64::try_from(expiration.as_millisecond() - jiff::Timestamp::now().as_millisecond())
            .unwrap_or(0),
    )
}

impl CredentialSource {
    /// Credentials from `chain`.
    #[must_use]
    pub fn new(chain: Chain) -> Self {
        Self {
            chain,
            http: std::sync::OnceLock::new(),
            state: tokio::sync::Mutex::new(State {
                winner: None,
                lease: None,
            }),
            signed_in: Mutex::new(None),
        }
    }

    /// Fixed credentials.
    #[must_use]
    pub fn fixed(credentials: Credentials) -> Self {
        Self::new(Chain::fixed(credentials, "the given credentials"))
    }

    /// The AccessKey ID the chain's first candidate is known to use, for `Debug` of a client.
    #[must_use]
    pub fn static_access_key_id(&self) -> Option<&str> {
        match self.chain.candidates.first().map(|c| &c.provider) {
            Some(super::Provider::Static(credentials)) => Some(&credentials.access_key_id),
            _ => None,
        }
    }

    /// Whether the credentials can be renewed (they are temporary and fetched).
    #[must_use]
    pub fn renewable(&self) -> bool {
        self.chain
            .candidates
            .iter()
            .any(|c| c.provider.is_temporary())
    }

    /// Which source gave the current credentials, once they were fetched.
    #[must_use]
    pub fn signed_in(&self) -> Option<SignedIn> {
        crate::sync::lock(&self.signed_in).clone()
    }

    /// Credentials that are not due for refresh.
    ///
    /// # Errors
    /// When none can be had, with what each source said.
    pub async fn credentials(&self) -> Result<Credentials, CredentialError> {
        self.lasting(Duration::ZERO).await
    }

    /// Credentials that stay valid for at least `wanted` (capped at half the life of short-lived
    /// credentials), refreshing first if needed: work that cannot stop half-way starts on them.
    ///
    /// # Errors
    /// When none can be had.
    pub async fn lasting(&self, wanted: Duration) -> Result<Credentials, CredentialError> {
        let mut state = self.state.lock().await;
        if let Some(lease) = &state.lease {
            let fresh = lease.expiration.is_none_or(|expiration| {
                let half_life = life(lease.obtained, expiration) / 2;
                let need = refresh_window(lease.obtained, expiration).max(wanted.min(half_life));
                remaining(expiration) > need
            });
            if fresh {
                return Ok(lease.credentials.clone());
            }
        }
        self.refresh(&mut state, false).await
    }

    /// New credentials now, whatever the current ones' expiry: the platform refused them.
    ///
    /// # Errors
    /// When the source cannot give new ones.
    pub async fn renew(&self) -> Result<Credentials, CredentialError> {
        let mut state = self.state.lock().await;
        self.refresh(&mut state, true).await
    }

    fn http(&self) -> Result<&Http, String> {
        self.http
            .get_or_init(Http::new)
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Fetches again from the winning source (or tries the chain). When that fails, credentials
    /// that have not expired are used meanwhile, unless `refused`: the platform turned them away.
    async fn refresh(
        &self,
        state: &mut State,
        refused: bool,
    ) -> Result<Credentials, CredentialError> {
        let http = self.http().map_err(|reason| CredentialError::Renewal {
            origin: "iotplan".to_owned(),
            reason,
        })?;
        if let Some(index) = state.winner {
            let candidate = &self.chain.candidates[index];
            return match fetch::fetch(&candidate.provider, http).await {
                Ok(lease) => Ok(self.keep(state, index, lease)),
                Err(reason) => {
                    // Credentials that still work are used until they expire; the next call tries
                    // the refresh again.
                    if let Some(lease) = state.lease.as_ref().filter(|_| !refused)
                        && lease
                            .expiration
                            .is_some_and(|expiration| remaining(expiration) > EXPIRY_MARGIN)
                    {
                        tracing::warn!(
                            "the credentials from {} could not be renewed yet ({reason}); the current ones stay valid for {} s",
                            candidate.origin,
                            lease
                                .expiration
                                .map_or(0, |expiration| remaining(expiration).as_secs())
                        );
                        return Ok(lease.credentials.clone());
                    }
                    Err(CredentialError::Renewal {
                        origin: candidate.origin.clone(),
                        reason,
                    })
                }
            };
        }
        let mut said = self.chain.passed.clone();
        for (index, candidate) in self.chain.candidates.iter().enumerate() {
            match fetch::fetch(&candidate.provider, http).await {
                Ok(lease) => return Ok(self.keep(state, index, lease)),
                Err(reason) => said.push((candidate.origin.clone(), reason)),
            }
        }
        Err(CredentialError::NoneAnswered { said })
    }

    fn keep(&self, state: &mut State, index: usize, lease: Lease) -> Credentials {
        let candidate = &self.chain.candidates[index];
        let signed_in = SignedIn {
            source: candidate.origin.clone(),
            provider: candidate.provider.kind(),
            expires: lease.expiration.map(|e| e.to_string()),
        };
        if state.winner.is_none() {
            tracing::info!(
                source = %signed_in.source,
                provider = %signed_in.provider,
                expires = signed_in.expires.as_deref().unwrap_or("never"),
                "credentials"
            );
        } else {
            tracing::debug!(
                source = %signed_in.source,
                expires = signed_in.expires.as_deref().unwrap_or("never"),
                "credentials renewed"
            );
        }
        *crate::sync::lock(&self.signed_in) = Some(signed_in);
        state.winner = Some(index);
        let credentials = lease.credentials.clone();
        state.lease = Some(lease);
        credentials
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(seconds).expect("time")
    }

    #[test]
    fn refresh_windows_follow_the_life_of_the_credentials() {
        // An hour: a tenth of it (6 minutes) comes before 3 minutes.
        assert_eq!(refresh_window(at(0), at(3600)), Duration::from_mins(6));
        // 15 minutes: 3 minutes comes first.
        assert_eq!(refresh_window(at(0), at(900)), Duration::from_mins(3));
        // Short-lived ones (tests): half their life.
        assert_eq!(refresh_window(at(0), at(6)), Duration::from_secs(3));
        assert_eq!(refresh_window(at(10), at(0)), Duration::ZERO);
    }
}
