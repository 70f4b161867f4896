//! One module per version of the `cutover:migration` WIT package.
//!
//! Each module generates host bindings for its own copy of the contract (under
//! `wit/since_v*`) and converts them into the host's version-independent types. A plugin
//! built against an older contract keeps loading when the contract grows: the host picks
//! the module that matches the version the component imports.

pub mod since_v1_0_0;

use anyhow::{Result, bail};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The contract versions this host understands, newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContractVersion {
    V1_0_0,
}

impl ContractVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ContractVersion::V1_0_0 => "1.0.0",
        }
    }

    /// Reads the contract version from the interfaces the component imports
    /// (`cutover:migration/types@X.Y.Z`).
    pub fn of(engine: &Engine, component: &Component) -> Result<Self> {
        let ty = component.component_type();
        let mut seen = Vec::new();
        for (name, _) in ty.imports(engine) {
            if let Some(rest) = name.strip_prefix("cutover:migration/") {
                let version = rest.split_once('@').map(|(_, v)| v).unwrap_or("");
                match version {
                    "1.0.0" => return Ok(ContractVersion::V1_0_0),
                    other => seen.push(other.to_owned()),
                }
            }
        }
        if seen.is_empty() {
            bail!("it does not import the cutover:migration contract; build it with the cutover-plugin SDK")
        }
        bail!(
            "it was built against cutover:migration@{}, which this host does not know (it knows 1.0.0); upgrade cutover",
            seen[0]
        )
    }
}
