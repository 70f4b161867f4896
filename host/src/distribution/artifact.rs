//! A plugin as an OCI artifact, in the CNCF TAG Runtime's Wasm OCI artifact layout (the one
//! `wkg` and registries such as GHCR serve): an image manifest whose config has the media
//! type `application/vnd.wasm.config.v0+json` and whose one layer is the component itself,
//! `application/wasm`. The layer's digest is the plugin's sha256, the digest every plan
//! and ledger entry records.
//!
//! What cutover needs to choose a plugin without downloading it travels as manifest
//! annotations ([`Description`]): the connector, the versions it migrates from and to,
//! the contract it was built against and the sha256.
//!
//! The plugin's minisign signature is a second artifact in the same repository, tagged
//! after the component's manifest digest (`sha256-<hex>.minisig`) and naming that manifest
//! as its `subject`, so a registry with the referrers API lists it as a referrer too.

use anyhow::{Context, Result, bail};
use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use semver::{Version, VersionReq};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The config media type of a Wasm artifact.
pub const CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
/// The media type of the layer holding the component.
pub const LAYER_MEDIA_TYPE: &str = "application/wasm";
/// The artifact type of a plugin's signature.
pub const SIGNATURE_ARTIFACT_TYPE: &str = "application/vnd.cutover.plugin.signature.v1";
/// The media type of the layer holding a minisign signature (the `.minisig` text).
pub const SIGNATURE_MEDIA_TYPE: &str = "application/vnd.cutover.minisign.signature.v1";
/// The OCI empty descriptor's media type, the config of an artifact that has none.
pub const EMPTY_MEDIA_TYPE: &str = "application/vnd.oci.empty.v1+json";
/// The OCI image manifest media type.
pub const MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";

/// Annotation keys: the OCI standard ones, then cutover's.
pub mod keys {
    pub const TITLE: &str = "org.opencontainers.image.title";
    pub const VERSION: &str = "org.opencontainers.image.version";
    pub const DESCRIPTION: &str = "org.opencontainers.image.description";
    pub const CONNECTOR: &str = "dev.cutover.plugin.connector";
    pub const APPLIES_TO: &str = "dev.cutover.plugin.applies-to";
    pub const PRODUCES: &str = "dev.cutover.plugin.produces";
    pub const CONTRACT: &str = "dev.cutover.plugin.contract";
    pub const SHA256: &str = "dev.cutover.plugin.sha256";
}

/// A message as an annotation's one line: the manifest is written as OLPC canonical JSON
/// (oci-client), which escapes no control character, and a registry refuses a string with
/// a raw line break in it (a breaking change's message often has several paragraphs).
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control() || c.is_whitespace())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// What a plugin artifact says of itself, in its manifest's annotations: enough to pick it
/// for a chain (it is a policy candidate) before downloading it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Description {
    pub connector: String,
    pub applies_to: VersionReq,
    pub produces: Version,
    /// The `cutover:migration` contract version it was built against.
    pub contract: String,
    /// The sha256 of the component, lowercase hex.
    pub sha256: String,
    /// The manifest's one-line summary (its breaking change message), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Description {
    pub fn annotations(&self, title: &str) -> BTreeMap<String, String> {
        let mut map = BTreeMap::from([
            (keys::TITLE.to_owned(), title.to_owned()),
            (keys::VERSION.to_owned(), self.produces.to_string()),
            (keys::CONNECTOR.to_owned(), self.connector.clone()),
            (keys::APPLIES_TO.to_owned(), self.applies_to.to_string()),
            (keys::PRODUCES.to_owned(), self.produces.to_string()),
            (keys::CONTRACT.to_owned(), self.contract.clone()),
            (keys::SHA256.to_owned(), self.sha256.clone()),
        ]);
        if let Some(message) = &self.message {
            map.insert(keys::DESCRIPTION.to_owned(), one_line(message));
        }
        map
    }

    /// Reads the annotations of a pulled manifest; a missing or malformed one is an error
    /// naming it.
    pub fn from_annotations(map: &BTreeMap<String, String>) -> Result<Self> {
        let get = |key: &str| {
            map.get(key)
                .map(String::as_str)
                .with_context(|| format!("its manifest has no {key} annotation"))
        };
        let applies_to = get(keys::APPLIES_TO)?;
        let produces = get(keys::PRODUCES)?;
        let sha256 = get(keys::SHA256)?;
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            bail!(
                "its {} annotation is not a sha256 ({sha256:?})",
                keys::SHA256
            );
        }
        Ok(Self {
            connector: get(keys::CONNECTOR)?.to_owned(),
            applies_to: VersionReq::parse(applies_to).with_context(|| {
                format!(
                    "its {} annotation is not a version range ({applies_to:?})",
                    keys::APPLIES_TO
                )
            })?,
            produces: Version::parse(produces).with_context(|| {
                format!(
                    "its {} annotation is not a version ({produces:?})",
                    keys::PRODUCES
                )
            })?,
            contract: get(keys::CONTRACT)?.to_owned(),
            sha256: sha256.to_ascii_lowercase(),
            message: map.get(keys::DESCRIPTION).cloned(),
        })
    }
}

/// The config blob of a Wasm artifact, as the layout defines it.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WasmConfig {
    /// RFC 3339; the layout requires it. Kept at the epoch so that publishing the same
    /// component twice gives the same manifest digest.
    pub created: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    pub architecture: String,
    pub os: String,
    pub layer_digests: Vec<String>,
    pub component: ComponentInfo,
}

/// The component's imports and exports (interface names), which the layout requires for
/// `wasip2` artifacts.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ComponentInfo {
    pub imports: Vec<String>,
    pub exports: Vec<String>,
}

/// The names a component imports and exports at its top level.
pub fn component_info(wasm: &[u8]) -> Result<ComponentInfo> {
    use wasmparser::{Encoding, Parser, Payload};
    let mut info = ComponentInfo::default();
    // Nested modules and components report their own sections; only the outer ones count.
    let mut depth = 0usize;
    for payload in Parser::new(0).parse_all(wasm) {
        match payload.context("it is not a WebAssembly component")? {
            Payload::Version { encoding, .. } => {
                if depth == 0 && encoding != Encoding::Component {
                    bail!("it is a core WebAssembly module, not a component");
                }
                depth += 1;
            }
            Payload::End(_) => depth = depth.saturating_sub(1),
            Payload::ComponentImportSection(reader) if depth == 1 => {
                for import in reader {
                    info.imports.push(import?.name.0.to_owned());
                }
            }
            Payload::ComponentExportSection(reader) if depth == 1 => {
                for export in reader {
                    info.exports.push(export?.name.0.to_owned());
                }
            }
            _ => {}
        }
    }
    Ok(info)
}

/// The tag a plugin is published under: the version it produces (`+` is not allowed in a
/// tag, so build metadata is joined with `_`, as Helm does).
pub fn tag(produces: &Version) -> String {
    produces.to_string().replace('+', "_")
}

/// The repository of a connector's plugins under a namespace:
/// `<namespace>/<vendor>/<name>`; `elastic/*` (every Elastic connector) is `elastic/every-source`.
pub fn repository(namespace: &str, connector: &str) -> String {
    let connector = match connector.strip_suffix("/*") {
        Some(vendor) => format!("{vendor}/every-source"),
        None => connector.to_owned(),
    };
    let connector = connector.to_ascii_lowercase();
    if namespace.is_empty() {
        connector
    } else {
        format!("{}/{connector}", namespace.trim_matches('/'))
    }
}

/// The tag of the signature of the component whose manifest has `manifest_digest`.
pub fn signature_tag(manifest_digest: &str) -> String {
    format!("{}.minisig", manifest_digest.replace(':', "-"))
}

/// The pieces oci-client pushes for a component.
pub struct ComponentArtifact {
    pub config: Config,
    pub layer: ImageLayer,
    pub manifest: OciImageManifest,
}

/// Lays a component out as an artifact.
pub fn component(wasm: &[u8], description: &Description, title: &str) -> Result<ComponentArtifact> {
    let layer = ImageLayer::new(wasm.to_vec(), LAYER_MEDIA_TYPE.to_owned(), None);
    let config = WasmConfig {
        created: "1970-01-01T00:00:00Z".to_owned(),
        author: None,
        architecture: "wasm".to_owned(),
        os: "wasip2".to_owned(),
        layer_digests: vec![format!("sha256:{}", description.sha256)],
        component: component_info(wasm)?,
    };
    let config = Config::new(
        serde_json::to_vec(&config)?,
        CONFIG_MEDIA_TYPE.to_owned(),
        None,
    );
    let mut manifest = OciImageManifest::build(
        std::slice::from_ref(&layer),
        &config,
        Some(description.annotations(title)),
    );
    manifest.media_type = Some(MANIFEST_MEDIA_TYPE.to_owned());
    Ok(ComponentArtifact {
        config,
        layer,
        manifest,
    })
}

/// The pieces of a signature artifact: an empty config, the `.minisig` text as its layer,
/// the component's manifest as its subject.
pub fn signature(minisig: &[u8], subject: OciDescriptor) -> ComponentArtifact {
    let layer = ImageLayer::new(minisig.to_vec(), SIGNATURE_MEDIA_TYPE.to_owned(), None);
    let config = Config::new(b"{}".to_vec(), EMPTY_MEDIA_TYPE.to_owned(), None);
    let mut manifest = OciImageManifest::build(std::slice::from_ref(&layer), &config, None);
    manifest.media_type = Some(MANIFEST_MEDIA_TYPE.to_owned());
    manifest.artifact_type = Some(SIGNATURE_ARTIFACT_TYPE.to_owned());
    manifest.subject = Some(subject);
    ComponentArtifact {
        config,
        layer,
        manifest,
    }
}

/// Checks a pulled manifest is a plugin in the Wasm layout and returns what it says of
/// itself and the descriptor of its component layer. Refuses another config or layer
/// media type, more than one layer, and annotations whose sha256 is not the layer's.
pub fn check_component(manifest: &OciImageManifest) -> Result<(Description, OciDescriptor)> {
    if manifest.config.media_type != CONFIG_MEDIA_TYPE {
        bail!(
            "its config media type is {:?}, not {CONFIG_MEDIA_TYPE:?}: it is not a WebAssembly component artifact",
            manifest.config.media_type
        );
    }
    let [layer] = manifest.layers.as_slice() else {
        bail!(
            "it has {} layers; a plugin artifact has exactly one, the component",
            manifest.layers.len()
        );
    };
    if layer.media_type != LAYER_MEDIA_TYPE {
        bail!(
            "its layer's media type is {:?}, not {LAYER_MEDIA_TYPE:?}",
            layer.media_type
        );
    }
    let description = Description::from_annotations(
        manifest
            .annotations
            .as_ref()
            .context("its manifest has no annotations: it does not say what it migrates")?,
    )?;
    let layer_sha = layer
        .digest
        .strip_prefix("sha256:")
        .with_context(|| format!("its layer digest {} is not a sha256", layer.digest))?;
    if layer_sha != description.sha256 {
        bail!(
            "its annotations give sha256 {}, but its layer is {}",
            description.sha256,
            layer.digest
        );
    }
    Ok((description, layer.clone()))
}

/// Checks a pulled signature manifest and returns the descriptor of its `.minisig` layer.
pub fn check_signature(manifest: &OciImageManifest) -> Result<OciDescriptor> {
    let [layer] = manifest.layers.as_slice() else {
        bail!(
            "its signature artifact has {} layers, not one",
            manifest.layers.len()
        );
    };
    if layer.media_type != SIGNATURE_MEDIA_TYPE {
        bail!(
            "its signature artifact's layer has media type {:?}, not {SIGNATURE_MEDIA_TYPE:?}",
            layer.media_type
        );
    }
    if layer.size > 64 * 1024 {
        bail!(
            "its signature is {} bytes; a minisign signature is a few hundred",
            layer.size
        );
    }
    Ok(layer.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn description() -> Description {
        Description {
            connector: "airbyte/source-hubspot".into(),
            applies_to: VersionReq::parse(">=3.0.0, <4.0.0").unwrap(),
            produces: Version::new(4, 0, 0),
            contract: "1.2.0".into(),
            sha256: "ab".repeat(32),
            message: Some("Streams renamed".into()),
        }
    }

    #[test]
    fn a_message_of_several_lines_is_annotated_as_one() {
        let d = Description {
            message: Some("**Important:**\nfirst.\r\n\tsecond".into()),
            ..description()
        };
        let annotations = d.annotations("x.wasm");
        assert_eq!(
            annotations[keys::DESCRIPTION],
            "**Important:** first. second"
        );
    }

    #[test]
    fn annotations_read_back() {
        let d = description();
        assert_eq!(
            Description::from_annotations(&d.annotations("x.wasm")).unwrap(),
            d
        );
        let mut missing = d.annotations("x.wasm");
        missing.remove(keys::CONNECTOR);
        let e = Description::from_annotations(&missing).unwrap_err();
        assert!(e.to_string().contains(keys::CONNECTOR), "{e}");
    }

    #[test]
    fn names() {
        assert_eq!(
            repository("plugins", "airbyte/source-hubspot"),
            "plugins/airbyte/source-hubspot"
        );
        assert_eq!(repository("", "elastic/*"), "elastic/every-source");
        assert_eq!(tag(&Version::parse("2.0.0+b1").unwrap()), "2.0.0_b1");
        assert_eq!(signature_tag("sha256:ff00"), "sha256-ff00.minisig");
    }

    #[test]
    fn a_manifest_whose_layer_is_not_its_annotated_sha_is_refused() {
        let mut d = description();
        d.sha256 = "00".repeat(32);
        let artifact = component(b"\0asm\x0d\0\x01\0", &d, "x.wasm").unwrap();
        let e = check_component(&artifact.manifest).unwrap_err();
        assert!(e.to_string().contains("annotations give sha256"), "{e}");
    }
}
