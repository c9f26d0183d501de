//! Integration tests: one binary, modules by capability.

mod support;
mod wire;
