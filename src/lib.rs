//! iotplan provisions Alibaba Cloud IoT Platform devices declaratively.
//!
//! The data path, top to bottom:
//! - [`wire`]: the platform protocol, no IO (actions, parameters, responses, signatures);
//! - [`platform`]: the client (credentials, signing, pacing, retries, paging);
//! - [`emulator`]: a local emulator of the platform, a peer of the client on the same `wire`;
//! - [`cli`]: the command line.

pub mod apply;
pub mod cli;
pub mod drift;
pub mod emulator;
pub mod exit;
pub mod export;
pub mod fsutil;
pub mod manifest;
pub mod model;
pub mod output;
pub mod plan;
pub mod platform;
pub mod render;
pub mod secret;
pub mod sync;
pub mod wire;
