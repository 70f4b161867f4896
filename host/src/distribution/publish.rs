//! `cutover plugin publish`: a built plugin pushed to a registry as a Wasm component
//! artifact, with its minisign signature (the `.minisig` beside the component) as a second
//! artifact naming it. The plugin is loaded in a sandbox first, as a fleet would load it, so
//! that the annotations are read from the component's own manifest and nothing that would
//! be refused at install is published.

use super::artifact::{self, Description};
use super::client::RegistryClient;
use crate::registry::Registry;
use crate::sandbox::{Limits, Sandbox};
use crate::trust::{Trust, signature_path};
use anyhow::{Context, Result};
use serde::Serialize;
use std::path::Path;

/// What was published.
#[derive(Debug, Serialize)]
pub struct Published {
    /// `host/namespace/vendor/name:tag`.
    pub reference: String,
    pub digest: String,
    #[serde(flatten)]
    pub description: Description,
    /// The signature artifact's tag, when one was published.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// Publishes the component at `wasm` (and `wasm.minisig`, when present).
pub fn publish(client: &RegistryClient, wasm: &Path) -> Result<Published> {
    let bytes = std::fs::read(wasm).with_context(|| format!("reading {}", wasm.display()))?;
    // The signature is checked by the fleets that trust its key, not here (the publisher's
    // key is theirs to trust); the component is loaded from a copy without it.
    let scratch = tempfile::tempdir().context("making a folder to check the plugin in")?;
    let copy = scratch
        .path()
        .join(wasm.file_name().unwrap_or_else(|| "plugin.wasm".as_ref()));
    std::fs::write(&copy, &bytes).with_context(|| format!("writing {}", copy.display()))?;
    let sandbox = Sandbox::new(Limits::default())?;
    let plugin = Registry::load_one(&copy, &sandbox, &Trust::default(), None, None)
        .with_context(|| format!("plugin {} cannot be published", wasm.display()))?;
    let description = Description {
        connector: plugin.manifest.connector.clone(),
        applies_to: plugin.applies_to.clone(),
        produces: plugin.produces.clone(),
        contract: plugin.contract().as_str().to_owned(),
        sha256: plugin.sha256.clone(),
        message: Some(plugin.manifest.message.clone()).filter(|m| !m.is_empty()),
    };
    let endpoint = client.endpoint();
    let repository = artifact::repository(&endpoint.namespace, &description.connector);
    let tag = artifact::tag(&description.produces);
    let component = artifact::component(&bytes, &description, &plugin.file)
        .with_context(|| format!("plugin {}", wasm.display()))?;
    let pushed = client.push(&repository, &tag, component)?;
    let signature = match signature_path(wasm) {
        path if path.exists() => {
            let text =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            minisign_verify::Signature::decode(&String::from_utf8_lossy(&text)).map_err(|e| {
                anyhow::anyhow!("{} is not a minisign signature: {e}", path.display())
            })?;
            let signature_tag = artifact::signature_tag(&pushed.digest);
            client.push(
                &repository,
                &signature_tag,
                artifact::signature(&text, pushed.clone()),
            )?;
            Some(signature_tag)
        }
        _ => None,
    };
    Ok(Published {
        reference: format!("{}/{repository}:{tag}", endpoint.host),
        digest: pushed.digest,
        description,
        signature,
    })
}
