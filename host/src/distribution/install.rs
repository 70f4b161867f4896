//! `cutover plugin install`: a plugin pulled from a registry enters the fleet the way a
//! file does with `plugin add` ([`super::admission`]), after the registry's side has been
//! checked: the manifest is a Wasm component artifact, the layer's bytes are the digest
//! the manifest and its annotations name, the signature (when published, and required
//! under `require_signed`) verifies against `[trust]`, and the component's own manifest
//! migrates what the artifact's annotations say. The download is staged in the fleet's
//! state directory; nothing reaches the plugins directory unless every check passed.

use super::admission::{Admission, Admitted};
use super::artifact::{self, Description};
use super::client::RegistryClient;
use super::offers::Offer;
use crate::fleet::Fleet;
use crate::trust::signature_path;
use anyhow::{Context, Result, bail};

/// Pulls each offer from its registry and admits them all into `fleet`, or none: every
/// plugin is downloaded and checked before the first is written.
pub fn install(fleet: &Fleet, offers: &[(&RegistryClient, &Offer)]) -> Result<Vec<Admitted>> {
    let nothing_written = || format!("nothing was written to {}", fleet.plugins_dir().display());
    let staging = tempfile::Builder::new()
        .prefix("install-")
        .tempdir_in(fleet.state_dir()?)
        .context("making a folder to check the downloads in")?;
    let mut admission = Admission::open(fleet, "plugin install").with_context(nothing_written)?;
    for (client, offer) in offers {
        stage_and_check(fleet, client, offer, staging.path(), &mut admission)
            .with_context(|| format!("plugin {} refused", offer.reference))
            .with_context(nothing_written)?;
    }
    admission.commit()
}

/// Downloads one offer into `staging`, verifies it, and checks it into `admission`.
fn stage_and_check(
    fleet: &Fleet,
    client: &RegistryClient,
    offer: &Offer,
    staging: &std::path::Path,
    admission: &mut Admission,
) -> Result<()> {
    let repository = &offer.repository;
    let (manifest, digest) = client
        .manifest(repository, &offer.tag)?
        .with_context(|| format!("{} is no longer in the registry", offer.reference))?;
    if digest != offer.digest {
        bail!(
            "its manifest changed while it was being installed (was {}, now {digest}); run the command again",
            offer.digest
        );
    }
    let (description, layer) = artifact::check_component(&manifest)?;
    let wasm = client.blob(repository, &layer)?;
    let sha256 = crate::ground::sha256_hex(&wasm);
    if sha256 != description.sha256 {
        bail!(
            "its component's sha256 is {sha256}, but its manifest names {}: the registry served other bytes",
            description.sha256
        );
    }
    let signature = match client.signature_manifest(repository, &digest)? {
        Some((signature, _)) => {
            let layer = artifact::check_signature(&signature)?;
            Some(client.blob(repository, &layer)?)
        }
        None if fleet.settings.trust.require_signed => bail!(
            "the registry has no signature for it (no {} artifact), and the fleet requires signed plugins ([trust] require_signed); ask its author to publish it with its .minisig",
            artifact::signature_tag(&digest)
        ),
        None => None,
    };
    let name = crate::author::scaffold::crate_name(&description.connector, &description.produces)
        .replace('-', "_");
    let path = staging.join(format!("{name}.wasm"));
    std::fs::write(&path, &wasm).with_context(|| format!("writing {}", path.display()))?;
    if let Some(signature) = &signature {
        std::fs::write(signature_path(&path), signature)?;
    }
    let plugin = admission.check(&path, &fleet.settings.trust)?;
    check_matches(plugin, &description)
}

/// Refuses a component whose own manifest says other than its artifact's annotations,
/// which is what `search` showed and the chain was worked out from.
fn check_matches(plugin: &crate::registry::Plugin, description: &Description) -> Result<()> {
    if plugin.manifest.connector != description.connector {
        bail!(
            "its artifact is annotated as a plugin of {}, but the component's manifest migrates {}",
            description.connector,
            plugin.manifest.connector
        );
    }
    if plugin.produces != description.produces || plugin.applies_to != description.applies_to {
        bail!(
            "its artifact is annotated as migrating {} to {}, but the component's manifest migrates {} to {}",
            description.applies_to,
            description.produces,
            plugin.applies_to,
            plugin.produces
        );
    }
    if plugin.contract().as_str() != description.contract {
        bail!(
            "its artifact is annotated as built against contract {}, but the component was built against {}",
            description.contract,
            plugin.contract().as_str()
        );
    }
    Ok(())
}
