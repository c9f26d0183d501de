//! Integration tests: one binary, modules by capability.

mod catalogue;
mod cli;
mod render;
mod support;
mod wire;
