//! The SDK for writing cutover migration plugins in Rust.
//!
//! A plugin is one connector's migration guide for one breaking version, compiled to a
//! WebAssembly component (`cargo build --target wasm32-wasip2`). This crate hides the WIT
//! bindings: a plugin implements [`Migration`] on plain Rust types and calls [`export!`];
//! the transforms real guides need (rename a stream in catalog *and* state, mark date-time
//! fields, move a config field, reset a stream's state) are typed helpers in [`catalog`],
//! [`state`], [`schema`] and [`config`].
//!
//! An Elastic connector is one document, not three: its migration implements
//! [`elastic::ConnectorMigration`] and is exported with [`export_connector!`]; the helpers
//! that keep a configuration consistent with a version's defaults are in [`elastic`].
//!
//! Everything except the component glue also builds natively, so a plugin's logic is unit
//! tested with plain `cargo test` and then again through the real sandbox by the host's tests.
//!
//! A whole plugin: source-example 2.0.0 renamed its `users` stream to `members`, in the
//! catalog and in the state, and asks for the schema to be refreshed.
//!
//! ```
//! use cutover_plugin::{Action, Connection, Manifest, Migration, Outcome, Result, catalog, json, state};
//!
//! struct ExampleV2;
//!
//! impl Migration for ExampleV2 {
//!     fn manifest() -> Manifest {
//!         Manifest {
//!             connector: "airbyte/source-example".into(),
//!             applies_to: ">=1.0.0, <2.0.0".into(),
//!             produces: "2.0.0".into(),
//!             message: "The users stream is now called members.".into(),
//!             scoped_streams: vec!["users".into()],
//!             ..Manifest::default()
//!         }
//!     }
//!
//!     fn migrate(connection: Connection) -> Result<Outcome> {
//!         let mut out = connection.into_outcome();
//!         if catalog::rename_stream(&mut out.catalog, "users", "members") {
//!             state::rename_stream(&mut out.state, "users", "members");
//!             out.action(Action::RefreshSchema { reason: "users is now members".into() });
//!         }
//!         Ok(out)
//!     }
//! }
//!
//! cutover_plugin::export!(ExampleV2);
//!
//! // Natively, the same code runs in a plain test:
//! # fn main() -> Result<()> {
//! assert!(ExampleV2::manifest().check().is_ok());
//! let connection = Connection::parse(
//!     "c".into(),
//!     "airbyte/source-example".into(),
//!     "1.4.0".into(),
//!     r#"{"api_key": "k"}"#,
//!     r#"{"streams": [{"stream": {"name": "users", "json_schema": {}}, "sync_mode": "full_refresh", "destination_sync_mode": "overwrite"}]}"#,
//!     r#"[{"type": "STREAM", "stream": {"stream_descriptor": {"name": "users"}, "stream_state": {"updated_at": "2024-01-01"}}}]"#,
//! )?;
//! let out = ExampleV2::migrate(connection)?;
//! assert!(catalog::find(&out.catalog, "members").is_some());
//! assert_eq!(state::stream_state(&out.state, "members"), Some(&json!({"updated_at": "2024-01-01"})));
//! # Ok(())
//! # }
//! ```

#![deny(missing_docs)]

pub mod breaking;
pub mod catalog;
pub mod cdc;
pub mod config;
pub mod discovered;
pub mod elastic;
mod log;
pub mod naming;
pub mod schema;
pub mod state;
// Only where a plugin's unit tests run (natively): never in a plugin's component, and no
// feature to enable, so a workspace's tests build the SDK as its plugins' builds do.
#[cfg(not(target_family = "wasm"))]
pub mod testing;
mod types;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod guest;

pub use log::{debug, info, warn};

/// This SDK's version, which follows the `cutover:migration` contract it builds against:
/// what `cutover plugin new` writes into a new plugin's dependencies.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub use serde_json::{self, Value, json};
pub use types::*;

/// A migration for one breaking version of one connector.
pub trait Migration {
    /// Describes the breaking change. Called whenever the host loads the plugin.
    fn manifest() -> Manifest;
    /// Migrates one connection. Must be deterministic: same input, same bytes out.
    fn migrate(connection: Connection) -> Result<Outcome>;

    /// The real discovered catalog of the version the plugin produces, if it carries one:
    /// the migrated catalog is then conformed to it after [`migrate`](Self::migrate)
    /// ([`Outcome::conform_to`]), so every stream that version knows leaves with its schema,
    /// sync modes, cursor and key, whether the guide's list of changes names it or not.
    const TARGET_CATALOG: Option<&'static discovered::Discovered> = None;

    /// [`migrate`](Self::migrate), then the conforming to [`TARGET_CATALOG`](Self::TARGET_CATALOG).
    fn migrate_and_conform(connection: Connection) -> Result<Outcome> {
        let mut out = Self::migrate(connection)?;
        if let Some(target) = Self::TARGET_CATALOG {
            out.conform_to(target)?;
        }
        Ok(out)
    }

    /// Migrates one connection given as JSON text. The default parses the documents and
    /// calls [`migrate`](Self::migrate). A plugin whose states can be very large (per-partition
    /// cursors with millions of partitions) overrides it and transforms the state text
    /// without a DOM, as [`state::legacy_to_per_partition`] does: a DOM of such a state
    /// costs several times its size in guest memory and most of the time.
    ///
    /// The new state goes to `state` (the host streams it out of the sandbox as it is
    /// written); config and catalog come back in the [`RawOutcome`]. An override conforms
    /// the catalog itself, if it has a [`TARGET_CATALOG`](Self::TARGET_CATALOG).
    fn migrate_documents(
        connection: RawConnection,
        state: &mut StateOut<'_>,
    ) -> Result<RawOutcome> {
        RawOutcome::write(Self::migrate_and_conform(connection.parse()?)?, state)
    }
}

/// Exports a [`Migration`] (an Airbyte connector's) as the plugin's component interface.
///
/// Natively this expands to nothing, so the same crate also builds and tests on the host.
#[macro_export]
macro_rules! export {
    ($migration:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub fn __cutover_plugin_manifest() -> $crate::Manifest {
            <$migration as $crate::Migration>::manifest()
        }

        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub fn __cutover_plugin_migrate(
            connection: $crate::RawConnection,
            state: &mut $crate::StateOut<'_>,
        ) -> $crate::Result<$crate::RawOutcome> {
            <$migration as $crate::Migration>::migrate_documents(connection, state)
        }

        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub fn __cutover_plugin_migrate_connector(
            connector: $crate::elastic::Connector,
        ) -> $crate::Result<$crate::elastic::ConnectorOutcome> {
            $crate::__not_this_platform(
                &connector.id,
                "an Airbyte connection, not an Elastic connector",
            )
        }
    };
}

/// Exports a [`elastic::ConnectorMigration`] (an Elastic connector's) as the plugin's
/// component interface.
///
/// Natively this expands to nothing, so the same crate also builds and tests on the host.
#[macro_export]
macro_rules! export_connector {
    ($migration:ty) => {
        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub fn __cutover_plugin_manifest() -> $crate::Manifest {
            <$migration as $crate::elastic::ConnectorMigration>::manifest()
        }

        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub fn __cutover_plugin_migrate(
            connection: $crate::RawConnection,
            _state: &mut $crate::StateOut<'_>,
        ) -> $crate::Result<$crate::RawOutcome> {
            $crate::__not_this_platform(
                &connection.id,
                "an Elastic connector, not an Airbyte connection",
            )
        }

        #[cfg(target_arch = "wasm32")]
        #[unsafe(no_mangle)]
        #[doc(hidden)]
        pub fn __cutover_plugin_migrate_connector(
            connector: $crate::elastic::Connector,
        ) -> $crate::Result<$crate::elastic::ConnectorOutcome> {
            <$migration as $crate::elastic::ConnectorMigration>::migrate(connector)
        }
    };
}

/// The refusal a plugin gives when called for the other platform's documents.
#[doc(hidden)]
pub fn __not_this_platform<T>(id: &str, what: &str) -> Result<T> {
    Err(Error::UnsupportedShape(format!(
        "{id}: this plugin migrates {what}"
    )))
}
