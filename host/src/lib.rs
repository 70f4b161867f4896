//! cutover: runs connector migration guides as sandboxed WebAssembly components over a
//! fleet of connections.
//!
//! A connector's breaking version ships as a plugin (a component implementing the
//! `cutover:migration` WIT contract). For every connection of a fleet, cutover works out the
//! chain of versions from where the connection is to where the fleet wants it
//! ([`policy`]), runs each step's plugin in a sandbox that grants nothing ([`sandbox`]),
//! shows the result as a plan ([`plan`]), and applies it with a snapshot first and an
//! atomic write per connection, every step in a ledger ([`mod@write`], [`ledger`]), so that it
//! can be rolled back byte for byte ([`write::rollback`]). Where the documents live (a
//! directory, a PostgreSQL database shared by several hosts) is the [`store`]'s business.
//!
//! A document is an Airbyte connection or an Elastic connector ([`document`]); Elastic's
//! versions, upgrade order and sync jobs are in [`elastic`].
//! What a plugin hands back is untrusted: its output is lifted under per-call limits
//! ([`sandbox`]), checked against the rules of a catalog and state and the target
//! version's real catalog before it is believed ([`conformance`], [`catalogs`]), shown
//! with every secret value redacted ([`redact`]) and with its text made inert for a
//! terminal ([`terminal`]).
//!
//! Plugin authors get their toolkit in [`author`]: scaffolding, golden fixtures run
//! through the real sandbox, guides rendered from the plugin, and manifests read from a
//! connector's metadata.
//!
//! The `cutover` binary is a thin command line over this library.
//!
//! # Layers
//!
//! Each module uses only its own layer and those below it (`.ci/module-graph` declares them
//! and checks it), bottom to top:
//!
//! - **ground** ([`ground`], [`private_files`], [`cores`], [`terminal`]): digests, atomic
//!   files, failpoints, the clock and actor, worker counts, inert text.
//! - **contract** ([`migration`], [`manifest`], [`document`], [`connection`], [`elastic`],
//!   [`platform`], [`per_version`], [`specs`], [`catalogs`], [`redact`], [`trust`]): what a
//!   plugin and a document are.
//! - **ledger** ([`ledger`]); **sandbox** ([`sandbox`], [`registry`], [`policy`],
//!   [`conformance`]); **store** ([`store`], each backend with its settings).
//! - **settings** ([`settings`]) and **fleet** ([`fleet`]): a fleet opened.
//! - **plan** ([`plan`]): a good place to start following what cutover does; then **write**
//!   ([`mod@write`], [`transfer`]).
//! - **author** ([`author`]) and **distribution** ([`distribution`]) on top.

pub mod author;
pub mod catalogs;
pub mod conformance;
pub mod connection;
pub mod cores;
pub mod distribution;
pub mod document;
pub mod elastic;
pub mod fleet;
pub mod ground;
pub mod ledger;
pub mod manifest;
pub mod migration;
pub mod per_version;
pub mod plan;
pub mod platform;
pub mod policy;
pub mod private_files;
pub mod redact;
pub mod registry;
pub mod sandbox;
pub mod settings;
pub mod specs;
pub mod store;
pub mod terminal;
pub mod transfer;
pub mod trust;
pub mod write;
