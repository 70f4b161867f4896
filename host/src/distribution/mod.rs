//! Plugins that travel: published to OCI registries as Wasm component artifacts, found
//! there by the connectors a fleet runs, and installed with the same checks and lock as a
//! plugin added from a file.
//!
//! - [`artifact`]: the layout (media types, annotations, the signature artifact) and the
//!   checks a pulled manifest must pass.
//! - [`client`]: one registry, over oci-client, blocking, TLS always verified.
//! - [`settings`]: `[registry.<name>]` in cutover.toml, credentials from the environment.
//! - [`publish`] (and [`sign`], with the author's minisign key), [`offers`] (search, and
//!   what a fleet's chains need), [`install`].
//! - [`admission`]: the one way a plugin enters a fleet, from a file or a registry.

pub mod admission;
pub mod artifact;
pub mod client;
pub mod install;
pub mod offers;
pub mod publish;
pub mod settings;
pub mod sign;
