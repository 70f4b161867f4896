//! The plain Rust side of the `cutover:migration` contract, shared by the cutover host and
//! the `cutover-plugin` SDK.
//!
//! The WIT contract (`wit/`) is what crosses the sandbox; both sides of it work on plain
//! Rust types instead of the generated ones: what a plugin says about the breaking change
//! it migrates ([`Manifest`]), what the operator must still do afterwards ([`Action`]), why a
//! plugin refused a connection ([`MigrationError`]), the streams those name
//! ([`StreamDescriptor`]) and how much a log line matters ([`LogLevel`]). Defining them
//! once keeps the host and the SDK from drifting apart, and [`wit_conversions!`] writes
//! the conversions to and from each contract version's generated types, so a field added
//! here is converted everywhere or nowhere compiles.
//!
//! This crate knows nothing of wasmtime or wit-bindgen: it is serde data and the rules a
//! manifest must follow.
//!
//! ```
//! use cutover_contract::{Action, Manifest, StreamDescriptor};
//!
//! let manifest = Manifest {
//!     connector: "airbyte/source-example".into(),
//!     applies_to: ">=1.0.0, <2.0.0".into(),
//!     produces: "2.0.0".into(),
//!     ..Manifest::default()
//! };
//! assert_eq!(manifest.check().unwrap().produces.to_string(), "2.0.0");
//!
//! let action = Action::ClearStream {
//!     stream: StreamDescriptor::named("users"),
//!     reason: "its cursor changed".into(),
//! };
//! assert_eq!(action.to_string(), "clear stream users: its cursor changed");
//! ```

#![deny(missing_docs)]

mod action;
mod error;
mod log;
mod manifest;
mod stream;
mod wit;

pub use action::Action;
pub use error::MigrationError;
pub use log::LogLevel;
pub use manifest::{Checked, DeadlineAction, InvalidManifest, Manifest, Precondition};
pub use stream::{DISCOVERED_FIELDS, StreamDescriptor};
