//! `[registry.<name>]` in cutover.toml: the registries a fleet installs plugins from.
//!
//! ```toml
//! [registry.airbyte]
//! url = "registry.example.com/cutover-plugins"    # <host>[:port]/<namespace>, https only
//! username_env = "CUTOVER_REGISTRY_USER"          # credentials come from the environment,
//! password_env = "CUTOVER_REGISTRY_PASSWORD"      # never from the file
//! ca_file = "certs/registry-ca.pem"               # a private CA (relative to the fleet)
//! ```

use super::client::Endpoint;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One registry of a fleet.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistrySettings {
    /// `<host>[:port]/<namespace>`.
    pub url: String,
    /// The environment variable holding the user name.
    pub username_env: Option<String>,
    /// The environment variable holding the password (or token).
    pub password_env: Option<String>,
    /// CA certificates (PEM) to verify the registry's TLS certificate against, besides the
    /// system's, relative to the fleet directory.
    pub ca_file: Option<PathBuf>,
}

/// The environment variables `cutover plugin publish` reads credentials and a CA from.
pub const PUBLISH_USERNAME_ENV: &str = "CUTOVER_REGISTRY_USERNAME";
pub const PUBLISH_PASSWORD_ENV: &str = "CUTOVER_REGISTRY_PASSWORD";

impl RegistrySettings {
    /// The endpoint, with its credentials read from the environment now.
    pub fn endpoint(&self, name: &str, fleet_root: &Path) -> Result<Endpoint> {
        let mut endpoint = Endpoint::parse(name, &self.url)?;
        endpoint.ca_file = self.ca_file.as_ref().map(|f| fleet_root.join(f));
        match (&self.username_env, &self.password_env) {
            (None, None) => {}
            (Some(user), Some(password)) => {
                endpoint.credentials = Some((env(name, user)?, env(name, password)?));
                endpoint.credentials_from = format!("${user} and ${password}");
            }
            _ => bail!(
                "[registry.{name}] names only one of username_env and password_env; give both, or neither for anonymous access"
            ),
        }
        Ok(endpoint)
    }
}

fn env(registry: &str, var: &str) -> Result<String> {
    std::env::var(var).with_context(|| {
        format!("[registry.{registry}] takes its credentials from ${var}, which is not set")
    })
}

/// Every registry of a fleet, in name order; an error when it has none.
pub fn endpoints(
    registries: &BTreeMap<String, RegistrySettings>,
    fleet_root: &Path,
) -> Result<Vec<Endpoint>> {
    if registries.is_empty() {
        bail!(
            "the fleet names no registry; add one to cutover.toml:\n\n[registry.plugins]\nurl = \"<host>/<namespace>\""
        );
    }
    registries
        .iter()
        .map(|(name, r)| r.endpoint(name, fleet_root))
        .collect()
}

/// The endpoint `cutover plugin publish` pushes to: `<host>[:port]/<namespace>`, credentials
/// from `$CUTOVER_REGISTRY_USERNAME` and `$CUTOVER_REGISTRY_PASSWORD` when set.
pub fn publish_endpoint(address: &str, ca_file: Option<&Path>) -> Result<Endpoint> {
    let mut endpoint = Endpoint::parse(address, address)?;
    endpoint.ca_file = ca_file.map(Path::to_owned);
    endpoint.credentials_from = format!("${PUBLISH_USERNAME_ENV} and ${PUBLISH_PASSWORD_ENV}");
    if let (Ok(user), Ok(password)) = (
        std::env::var(PUBLISH_USERNAME_ENV),
        std::env::var(PUBLISH_PASSWORD_ENV),
    ) {
        endpoint.credentials = Some((user, password));
    }
    Ok(endpoint)
}
