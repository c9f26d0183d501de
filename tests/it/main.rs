//! Integration tests: one binary, modules by capability.

mod cli;
mod support;
mod wire;
