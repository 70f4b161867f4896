//! One OCI registry, spoken to with oci-client and made blocking: the host is synchronous,
//! so each client owns a current-thread tokio runtime and waits on every request.
//!
//! TLS is always verified, against the system's roots plus the CA file an endpoint names
//! (for a private CA); there is no switch to turn verification off. Errors say which
//! registry and what to do: a registry that cannot be reached, credentials it refuses,
//! an artifact it does not have.

use super::artifact::{self, ComponentArtifact};
use anyhow::{Context, Result, anyhow, bail};
use oci_client::client::{Certificate, CertificateEncoding, ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use std::path::PathBuf;
use std::time::Duration;

/// Where plugins are published or found: `host[:port]/namespace`, with its credentials.
#[derive(Clone)]
pub struct Endpoint {
    /// What messages call it: a `[registry.<name>]` name, or the address.
    pub name: String,
    /// `host` or `host:port`.
    pub host: String,
    /// The path under which connectors' repositories are (may be empty).
    pub namespace: String,
    /// Basic credentials, if the registry needs them: (user, password).
    pub credentials: Option<(String, String)>,
    /// Where the credentials come from, for messages (`$CUTOVER_REGISTRY_PASSWORD`).
    pub credentials_from: String,
    /// PEM CA certificates to trust besides the system's, for a registry with a private CA.
    pub ca_file: Option<PathBuf>,
}

impl Endpoint {
    /// Parses `host[:port]/namespace` (a scheme, if given, must be https).
    pub fn parse(name: &str, address: &str) -> Result<Self> {
        let address = match address.split_once("://") {
            Some(("https", rest)) => rest,
            Some((scheme, _)) => bail!(
                "registry {name}: {address:?} uses {scheme}; registries are reached over https only"
            ),
            None => address,
        };
        let address = address.trim_end_matches('/');
        let (host, namespace) = address.split_once('/').unwrap_or((address, ""));
        if host.is_empty() || host.contains(char::is_whitespace) {
            bail!("registry {name}: {address:?} is not <host>[:port]/<namespace>");
        }
        Ok(Self {
            name: name.to_owned(),
            host: host.to_owned(),
            namespace: namespace.to_owned(),
            credentials: None,
            credentials_from: String::new(),
            ca_file: None,
        })
    }

    /// `host/namespace`, for messages.
    pub fn address(&self) -> String {
        if self.namespace.is_empty() {
            self.host.clone()
        } else {
            format!("{}/{}", self.host, self.namespace)
        }
    }
}

/// A connection to one registry.
pub struct RegistryClient {
    endpoint: Endpoint,
    auth: RegistryAuth,
    client: Client,
    runtime: tokio::runtime::Runtime,
}

/// How long a registry may take to accept a connection or answer a read.
const TIMEOUT: Duration = Duration::from_secs(30);

impl RegistryClient {
    pub fn new(endpoint: &Endpoint) -> Result<Self> {
        // reqwest's rustls is built without a crypto provider of its own: the host's ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut extra_root_certificates = Vec::new();
        if let Some(ca) = &endpoint.ca_file {
            let pem = std::fs::read(ca).with_context(|| {
                format!(
                    "registry {}: reading its CA file {}",
                    endpoint.name,
                    ca.display()
                )
            })?;
            extra_root_certificates.push(Certificate {
                encoding: CertificateEncoding::Pem,
                data: pem,
            });
        }
        let config = ClientConfig {
            protocol: ClientProtocol::Https,
            extra_root_certificates,
            connect_timeout: Some(TIMEOUT),
            read_timeout: Some(TIMEOUT),
            // A plugin is one small layer; one request at a time keeps errors in order.
            max_concurrent_download: 1,
            max_concurrent_upload: 1,
            platform_resolver: None,
            user_agent: concat!("cutover/", env!("CARGO_PKG_VERSION")),
            ..Default::default()
        };
        let client = Client::try_from(config)
            .map_err(|e| anyhow!("registry {}: setting up its client: {e}", endpoint.name))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the registry client's runtime")?;
        let auth = match &endpoint.credentials {
            Some((user, password)) => RegistryAuth::Basic(user.clone(), password.clone()),
            None => RegistryAuth::Anonymous,
        };
        Ok(Self {
            endpoint: endpoint.clone(),
            auth,
            client,
            runtime,
        })
    }

    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn reference(&self, repository: &str, tag: &str) -> Reference {
        Reference::with_tag(
            self.endpoint.host.clone(),
            repository.to_owned(),
            tag.to_owned(),
        )
    }

    fn by_digest(&self, repository: &str, digest: &str) -> Reference {
        Reference::with_digest(
            self.endpoint.host.clone(),
            repository.to_owned(),
            digest.to_owned(),
        )
    }

    /// Pushes an artifact under `repository:tag`; returns the descriptor of its manifest as
    /// the registry stored it (its digest and size), for a signature's `subject`.
    pub fn push(
        &self,
        repository: &str,
        tag: &str,
        artifact: ComponentArtifact,
    ) -> Result<OciDescriptor> {
        let reference = self.reference(repository, tag);
        let ComponentArtifact {
            config,
            layer,
            manifest,
        } = artifact;
        let (body, digest) = self
            .runtime
            .block_on(async {
                self.client
                    .push(
                        &reference,
                        std::slice::from_ref(&layer),
                        config,
                        &self.auth,
                        Some(manifest),
                    )
                    .await?;
                self.client
                    .pull_manifest_raw(&reference, &self.auth, &[artifact::MANIFEST_MEDIA_TYPE])
                    .await
            })
            .map_err(|e| self.explain(e, &format!("pushing {reference}")))?;
        Ok(OciDescriptor {
            media_type: artifact::MANIFEST_MEDIA_TYPE.to_owned(),
            digest,
            size: body.len() as i64,
            ..Default::default()
        })
    }

    /// The manifest of `repository:tag` and its digest, or `None` when the registry has no
    /// such tag.
    pub fn manifest(
        &self,
        repository: &str,
        tag: &str,
    ) -> Result<Option<(OciImageManifest, String)>> {
        let reference = self.reference(repository, tag);
        self.pull_manifest(&reference)
    }

    /// The descriptor of the manifest of `repository:tag` (its media type, digest and size),
    /// or `None` when the registry has no such tag.
    pub fn descriptor(&self, repository: &str, tag: &str) -> Result<Option<OciDescriptor>> {
        let reference = self.reference(repository, tag);
        Ok(self
            .pull_raw(&reference)?
            .map(|(body, digest)| OciDescriptor {
                media_type: artifact::MANIFEST_MEDIA_TYPE.to_owned(),
                digest,
                size: body.len() as i64,
                ..Default::default()
            }))
    }

    fn pull_raw(&self, reference: &Reference) -> Result<Option<(Vec<u8>, String)>> {
        let pulled = self.runtime.block_on(async {
            self.client
                .store_auth_if_needed(reference.resolve_registry(), &self.auth)
                .await;
            self.client
                .pull_manifest_raw(reference, &self.auth, &[artifact::MANIFEST_MEDIA_TYPE])
                .await
        });
        match pulled {
            Ok((body, digest)) => Ok(Some((body.to_vec(), digest))),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(self.explain(e, &format!("reading {reference}"))),
        }
    }

    fn pull_manifest(&self, reference: &Reference) -> Result<Option<(OciImageManifest, String)>> {
        let Some((body, digest)) = self.pull_raw(reference)? else {
            return Ok(None);
        };
        // The manifest's own media type decides what it is; an index or a Docker image
        // manifest is not a plugin.
        let value: serde_json::Value = serde_json::from_slice(&body)
            .with_context(|| format!("{reference}: its manifest is not JSON"))?;
        let media_type = value
            .get("mediaType")
            .and_then(|m| m.as_str())
            .unwrap_or(artifact::MANIFEST_MEDIA_TYPE);
        if media_type != artifact::MANIFEST_MEDIA_TYPE {
            bail!(
                "{reference}: its manifest has media type {media_type:?}, not an OCI image manifest ({})",
                artifact::MANIFEST_MEDIA_TYPE
            );
        }
        let manifest: OciImageManifest = serde_json::from_value(value)
            .with_context(|| format!("{reference}: its manifest is not an OCI image manifest"))?;
        Ok(Some((manifest, digest)))
    }

    /// The signature artifact of the component whose manifest has `digest`, if published.
    pub fn signature_manifest(
        &self,
        repository: &str,
        digest: &str,
    ) -> Result<Option<(OciImageManifest, String)>> {
        self.manifest(repository, &artifact::signature_tag(digest))
    }

    /// Downloads a blob, verified against its descriptor's digest and size: a short or
    /// altered download is an error, never returned.
    pub fn blob(&self, repository: &str, descriptor: &OciDescriptor) -> Result<Vec<u8>> {
        let reference = self.by_digest(repository, &descriptor.digest);
        let mut out = Vec::with_capacity(descriptor.size.max(0) as usize);
        self.runtime
            .block_on(self.client.pull_blob(&reference, descriptor, &mut out))
            .map_err(|e| self.explain(e, &format!("downloading {reference}")))?;
        if out.len() as i64 != descriptor.size {
            bail!(
                "downloading {reference}: got {} bytes, the manifest says {}; the download was cut short or the registry altered it",
                out.len(),
                descriptor.size
            );
        }
        Ok(out)
    }

    /// The tags of a repository (none when it does not exist).
    pub fn tags(&self, repository: &str) -> Result<Vec<String>> {
        let reference = self.reference(repository, "latest");
        match self
            .runtime
            .block_on(self.client.list_tags(&reference, &self.auth, None, None))
        {
            Ok(tags) => Ok(tags.tags),
            Err(e) if is_not_found(&e) => Ok(Vec::new()),
            Err(e) => Err(self.explain(
                e,
                &format!("listing the tags of {}/{repository}", self.endpoint.host),
            )),
        }
    }

    /// An oci-client error as the operator should read it.
    fn explain(&self, error: OciDistributionError, doing: &str) -> anyhow::Error {
        let name = &self.endpoint.name;
        let credentials = if self.endpoint.credentials.is_some() {
            format!(
                "check the credentials in {}",
                self.endpoint.credentials_from
            )
        } else if self.endpoint.credentials_from.is_empty() {
            "it needs credentials".to_owned()
        } else {
            format!(
                "it needs credentials: set {}",
                self.endpoint.credentials_from
            )
        };
        match &error {
            OciDistributionError::UnauthorizedError { .. }
            | OciDistributionError::AuthenticationFailure(_) => {
                anyhow!(
                    "registry {name} refused the credentials (401) while {doing}; {credentials}"
                )
            }
            OciDistributionError::ServerError { code: 401, .. } => {
                anyhow!(
                    "registry {name} refused the credentials (401) while {doing}; {credentials}"
                )
            }
            OciDistributionError::RegistryError { envelope, .. }
                if envelope.errors.iter().any(|e| {
                    matches!(e.code, OciErrorCode::Unauthorized | OciErrorCode::Denied)
                }) =>
            {
                anyhow!("registry {name} refused access while {doing}: {envelope}; {credentials}")
            }
            OciDistributionError::RequestError(e) if e.is_connect() || e.is_timeout() => {
                anyhow!(
                    "registry {name} ({}) cannot be reached while {doing}: {}; is it up, and is the address right?",
                    self.endpoint.host,
                    error_chain(e)
                )
            }
            OciDistributionError::RequestError(e) => {
                anyhow!("registry {name}: {doing} failed: {}", error_chain(e))
            }
            OciDistributionError::DigestError(_) => anyhow!(
                "registry {name}: {doing}: the bytes received do not match their digest ({error}); the download was cut short or altered"
            ),
            _ => anyhow!("registry {name}: {doing} failed: {error}"),
        }
    }
}

/// An error and its causes on one line (reqwest keeps the reason a connection failed in
/// its sources).
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn is_not_found(e: &OciDistributionError) -> bool {
    match e {
        OciDistributionError::ImageManifestNotFoundError(_) => true,
        OciDistributionError::ServerError { code: 404, .. } => true,
        OciDistributionError::RegistryError { envelope, .. } => envelope.errors.iter().any(|e| {
            matches!(
                e.code,
                OciErrorCode::ManifestUnknown
                    | OciErrorCode::NameUnknown
                    | OciErrorCode::NotFound
                    | OciErrorCode::BlobUnknown
            )
        }),
        _ => false,
    }
}
