//! What registries offer: every plugin published for a connector, read from the
//! annotations of its manifests (no component is downloaded to list them), and which of
//! those a fleet's chains need.

use super::artifact::{self, Description};
use super::client::RegistryClient;
use crate::policy::{self, Candidate};
use anyhow::Result;
use semver::{Version, VersionReq};
use serde::Serialize;

/// One plugin a registry offers.
#[derive(Clone, Debug, Serialize)]
pub struct Offer {
    /// The registry's name (`[registry.<name>]`, or its address).
    pub registry: String,
    /// `host/namespace/vendor/name:tag`.
    pub reference: String,
    #[serde(skip)]
    pub repository: String,
    pub tag: String,
    /// The digest of its manifest.
    pub digest: String,
    #[serde(flatten)]
    pub description: Description,
    /// Whether a signature artifact was published beside it.
    pub signed: bool,
}

impl Candidate for Offer {
    fn applies_to(&self) -> &VersionReq {
        &self.description.applies_to
    }
    fn produces(&self) -> &Version {
        &self.description.produces
    }
}

/// An artifact in a connector's repository that is not a usable plugin, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub reference: String,
    pub reason: String,
}

/// The plugins one registry offers for `connector`, by the version they produce.
pub fn for_connector(
    client: &RegistryClient,
    connector: &str,
) -> Result<(Vec<Offer>, Vec<Skipped>)> {
    let endpoint = client.endpoint();
    let repository = artifact::repository(&endpoint.namespace, connector);
    let mut offers = Vec::new();
    let mut skipped = Vec::new();
    for tag in client.tags(&repository)? {
        // Signatures live beside the components, under tags of their own.
        if tag.ends_with(".minisig") || tag.starts_with("sha256-") {
            continue;
        }
        let reference = format!("{}/{repository}:{tag}", endpoint.host);
        let Some((manifest, digest)) = client.manifest(&repository, &tag)? else {
            continue;
        };
        let description = match artifact::check_component(&manifest) {
            Ok((description, _)) => description,
            Err(e) => {
                skipped.push(Skipped {
                    reference,
                    reason: format!("{e:#}"),
                });
                continue;
            }
        };
        if description.connector != connector {
            skipped.push(Skipped {
                reference,
                reason: format!(
                    "it is annotated as a plugin of {}, not {connector}",
                    description.connector
                ),
            });
            continue;
        }
        let signed = client.signature_manifest(&repository, &digest)?.is_some();
        offers.push(Offer {
            registry: endpoint.name.clone(),
            reference,
            repository: repository.clone(),
            tag,
            digest,
            description,
            signed,
        });
    }
    offers.sort_by(|a, b| a.description.produces.cmp(&b.description.produces));
    Ok((offers, skipped))
}

/// Where a connection is and where the fleet wants it: what a chain is worked out for.
#[derive(Clone, Debug)]
pub struct Need {
    pub connector: String,
    pub from: Version,
    /// The fleet's target; `None` when it names none (the newest version offered then).
    pub to: Option<Version>,
}

/// A candidate for a chain: a plugin the fleet has, or one a registry offers.
struct Either<'a> {
    applies_to: &'a VersionReq,
    produces: &'a Version,
    offer: Option<usize>,
}

impl Candidate for Either<'_> {
    fn applies_to(&self) -> &VersionReq {
        self.applies_to
    }
    fn produces(&self) -> &Version {
        self.produces
    }
}

/// The offers the chains of `needs` use, given the plugins the fleet already has
/// (`installed`: each plugin's connector, range and produced version): the plugins to
/// install so that every chain has its steps. A chain that no offer completes still
/// contributes the offers on its way (the rest is reported by `plan`).
pub fn needed<'a>(
    needs: &[Need],
    installed: &[(String, VersionReq, Version)],
    offers: &'a [Offer],
) -> Vec<&'a Offer> {
    let mut used = std::collections::BTreeSet::new();
    for need in needs {
        let mut candidates: Vec<Either> = installed
            .iter()
            .filter(|(c, _, _)| *c == need.connector)
            .map(|(_, applies_to, produces)| Either {
                applies_to,
                produces,
                offer: None,
            })
            .collect();
        // Where the fleet already has a plugin producing a version, it is used, not
        // replaced.
        for (i, offer) in offers.iter().enumerate() {
            if offer.description.connector == need.connector
                && !candidates.iter().any(|c| c.produces == offer.produces())
            {
                candidates.push(Either {
                    applies_to: offer.applies_to(),
                    produces: offer.produces(),
                    offer: Some(i),
                });
            }
        }
        let Some(target) = need
            .to
            .clone()
            .or_else(|| candidates.iter().map(|c| c.produces.clone()).max())
        else {
            continue;
        };
        let mut at = need.from.clone();
        while at < target {
            match policy::chain(&need.connector, &at, &target, &candidates) {
                Ok(steps) => {
                    used.extend(steps.iter().filter_map(|s| match s {
                        policy::Step::Plugin { plugin, .. } => candidates[*plugin].offer,
                        policy::Step::Automatic { .. } => None,
                    }));
                    break;
                }
                // No complete chain: keep the offers up to the gap, and look past it.
                Err(policy::NoChain::MissingPlugin { from, boundary, .. }) => {
                    if let Ok(steps) = policy::chain(&need.connector, &at, &from, &candidates) {
                        used.extend(steps.iter().filter_map(|s| match s {
                            policy::Step::Plugin { plugin, .. } => candidates[*plugin].offer,
                            policy::Step::Automatic { .. } => None,
                        }));
                    }
                    at = boundary;
                }
            }
        }
    }
    used.into_iter().map(|i| &offers[i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(connector: &str, applies_to: &str, produces: &str) -> Offer {
        Offer {
            registry: "r".into(),
            reference: format!("r/{connector}:{produces}"),
            repository: connector.into(),
            tag: produces.into(),
            digest: "sha256:00".into(),
            description: Description {
                connector: connector.into(),
                applies_to: VersionReq::parse(applies_to).unwrap(),
                produces: Version::parse(produces).unwrap(),
                contract: "1.2.0".into(),
                sha256: "00".repeat(32),
                message: None,
            },
            signed: true,
        }
    }

    fn need(connector: &str, from: &str, to: Option<&str>) -> Need {
        Need {
            connector: connector.into(),
            from: Version::parse(from).unwrap(),
            to: to.map(|t| Version::parse(t).unwrap()),
        }
    }

    fn tags(offers: Vec<&Offer>) -> Vec<String> {
        offers.iter().map(|o| o.reference.clone()).collect()
    }

    #[test]
    fn the_offers_a_chain_needs_and_no_more() {
        let offers = [
            offer("a/x", ">=0.0.0, <1.0.0", "1.0.0"),
            offer("a/x", ">=1.0.0, <2.0.0", "2.0.0"),
            offer("a/x", ">=2.0.0, <3.0.0", "3.0.0"),
            offer("a/y", ">=1.0.0, <2.0.0", "2.0.0"),
        ];
        // From 0.8.2 to the target 2.0.0: the 1.0.0 and 2.0.0 plugins, not 3.0.0, not y's.
        assert_eq!(
            tags(needed(&[need("a/x", "0.8.2", Some("2.0.0"))], &[], &offers)),
            ["r/a/x:1.0.0", "r/a/x:2.0.0"]
        );
        // A plugin the fleet has is not installed again.
        let installed = [(
            "a/x".to_owned(),
            VersionReq::parse(">=0.0.0, <1.0.0").unwrap(),
            Version::new(1, 0, 0),
        )];
        assert_eq!(
            tags(needed(
                &[need("a/x", "0.8.2", Some("2.0.0"))],
                &installed,
                &offers
            )),
            ["r/a/x:2.0.0"]
        );
        // No target: the newest offered.
        assert_eq!(
            tags(needed(&[need("a/x", "2.1.0", None)], &[], &offers)),
            ["r/a/x:3.0.0"]
        );
        // A gap (no 1.0.0 plugin for z) still installs what comes after it.
        let gap = [offer("a/z", ">=1.0.0, <2.0.0", "2.0.0")];
        assert_eq!(
            tags(needed(&[need("a/z", "0.5.0", Some("2.0.0"))], &[], &gap)),
            ["r/a/z:2.0.0"]
        );
    }
}
