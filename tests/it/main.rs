//! Integration tests: one binary, modules by capability.

mod catalogue;
mod cli;
mod docs;
mod drift;
mod edges;
mod export;
mod fleet;
mod hardening;
mod interrupts;
mod leaks;
mod render;
mod signin;
mod soak;
mod strategy;
mod support;
mod walkthrough;
mod wire;
