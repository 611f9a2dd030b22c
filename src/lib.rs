//! kubectl-rayha as a library: every subcommand's logic, for the binary and the tests.

pub mod apply;
pub mod cleanup;
pub mod cli;
pub mod cluster;
pub mod completion;
pub mod delete;
pub mod error;
pub mod failover;
pub mod flags;
pub mod generate;
pub mod lint;
pub mod list;
pub mod load;
pub mod params;
pub mod query;
pub mod rayservice;
pub mod redact;
pub mod render;
pub mod report;
pub mod selector;
pub mod serve_config;
pub mod status;
pub mod templates;
pub mod tls;
pub mod validate;
pub mod wait;
pub mod yaml;

pub use error::{Error, Outcome, Result};
