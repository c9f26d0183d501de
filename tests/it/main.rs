//! Integration tests: one binary, modules by capability.

mod catalogue;
mod cli;
mod export;
mod interrupts;
mod render;
mod support;
mod wire;
