//! The daemon's configuration, as a library of the `waggle` package so that the
//! binary, its tests and the fuzz targets load configuration files the same way.
//! It is the binary's own code, not an API: errors are `anyhow`, as in the binary.
//!
//! - [`config`]: the TOML file, its defaults and its checks.
//! - [`component`]: its `[component]` section, and starting the component it names.
//! - [`keyfile`]: the unattended key file `[storage] unattended_key` names.
//! - [`runtime`]: the async runtime `[server] threads` asks for.

pub mod component;
pub mod config;
pub mod keyfile;
pub mod runtime;
