//! The platform client: credentials, a signed, paced and retrying transport, the classification
//! of every answer into done, retry or fail, the per-Action rate limiter, and the reads that turn
//! pages into live state.
//!
//! - [`error`]: what a failed call says, safe to print;
//! - [`classify`]: the retry policy as pure functions, with its table;
//! - [`transport`]: the [`Client`] that signs, sends and retries;
//! - [`limiter`], [`paging`], [`live`]: pacing, paging, and the plan's reads.

pub mod classify;
pub mod credentials;
mod declared;
pub mod error;
pub mod fleet;
pub mod limiter;
pub mod live;
pub mod paging;
pub mod transport;

pub use classify::sanitize_message;
pub use credentials::Credentials;
pub use error::{ApiError, Error, ErrorKind, TransportCause};
pub(crate) use transport::transport_cause;
pub use transport::{CallStats, Client, ClientConfig};
