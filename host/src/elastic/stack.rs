//! The upgrade order as preconditions: Elastic's guide has Elasticsearch, then Enterprise
//! Search, then Kibana upgraded before the connectors service, since a connectors service
//! ahead of the stack "can lead to unexplained behavior, and may result in data
//! corruption". A plugin states what its step needs (`elasticsearch >=8.8.0`); the fleet
//! declares what runs (`[elastic.stack]`). Every step of a connector's chain is checked
//! before anything runs, and a refusal names each component to upgrade, in that order.

use super::settings::{Component, Stack};
use crate::manifest::Precondition;
use semver::{Version, VersionReq};
use std::collections::BTreeMap;

/// The components of the stack, in the order the guide upgrades them.
pub const ORDER: [(&str, &str); 3] = [
    ("elasticsearch", "Elasticsearch"),
    ("enterprise_search", "Enterprise Search"),
    ("kibana", "Kibana"),
];

/// Enterprise Search is gone from 9.0 on: a stack at 9 or later meets any requirement on it.
const WITHOUT_ENTERPRISE_SEARCH: u64 = 9;

impl Stack {
    fn get(&self, subject: &str) -> Option<&Component> {
        match subject {
            "elasticsearch" => self.elasticsearch.as_ref(),
            "kibana" => self.kibana.as_ref(),
            "enterprise_search" => self.enterprise_search.as_ref(),
            _ => None,
        }
    }
}

/// One unmet precondition: what it needs, what the fleet declares, which step asked.
struct Unmet {
    subject: String,
    requirement: String,
    declared: Option<String>,
    step: String,
}

/// Checks every precondition of a chain: `steps` are (step label, the plugin's
/// preconditions). Stack subjects are looked up in `[elastic.stack]`, any other in
/// `[platform]`. The error names what to upgrade first.
pub fn check<'a>(
    stack: &Stack,
    platform: &BTreeMap<String, Version>,
    steps: impl IntoIterator<Item = (String, &'a [Precondition])>,
) -> Result<(), String> {
    let mut unmet = Vec::new();
    for (step, preconditions) in steps {
        for p in preconditions {
            let req = VersionReq::parse(&p.requirement).map_err(|e| {
                format!(
                    "{step}: precondition {} {:?}: {e}",
                    p.subject, p.requirement
                )
            })?;
            let is_stack = ORDER.iter().any(|(s, _)| *s == p.subject);
            let declared = if is_stack {
                stack.get(&p.subject).cloned()
            } else {
                platform.get(&p.subject).cloned().map(Component::Version)
            };
            let holds = match &declared {
                Some(Component::Version(v)) => req.matches(v),
                Some(Component::Absent) => p.subject == "enterprise_search",
                None => {
                    p.subject == "enterprise_search"
                        && matches!(&stack.elasticsearch, Some(Component::Version(es)) if es.major >= WITHOUT_ENTERPRISE_SEARCH)
                }
            };
            if !holds {
                unmet.push(Unmet {
                    subject: p.subject.clone(),
                    requirement: p.requirement.clone(),
                    declared: declared.map(|d| d.to_string()),
                    step: step.clone(),
                });
            }
        }
    }
    if unmet.is_empty() {
        return Ok(());
    }
    let mut components: Vec<String> = Vec::new();
    let mut steps: Vec<&str> = Vec::new();
    for (subject, name) in ORDER.iter().map(|(s, n)| (*s, *n)).chain(
        unmet
            .iter()
            .filter(|u| !ORDER.iter().any(|(s, _)| *s == u.subject))
            .map(|u| (u.subject.as_str(), u.subject.as_str())),
    ) {
        // The last step's requirement on a component is the one that covers the others.
        let Some(last) = unmet.iter().rfind(|u| u.subject == subject) else {
            continue;
        };
        let line = match &last.declared {
            Some(d) => format!("{name} {d} → {}", last.requirement),
            None => format!(
                "{name} (cutover.toml does not say which version runs) → {}",
                last.requirement
            ),
        };
        if !components.contains(&line) {
            components.push(line);
        }
        for u in unmet.iter().filter(|u| u.subject == subject) {
            if !steps.contains(&u.step.as_str()) {
                steps.push(&u.step);
            }
        }
    }
    Err(format!(
        "upgrade the stack first, in this order: {} (needed by {}); then declare what runs in [elastic.stack] in cutover.toml. The connectors service is upgraded last",
        components.join(", then "),
        steps.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(es: &str, kibana: &str, ent: Option<&str>) -> Stack {
        let c = |s: &str| {
            if s == "none" {
                Component::Absent
            } else {
                Component::Version(Version::parse(s).unwrap())
            }
        };
        Stack {
            elasticsearch: Some(c(es)),
            kibana: Some(c(kibana)),
            enterprise_search: ent.map(c),
        }
    }

    fn needs(version: &str) -> Vec<Precondition> {
        ["elasticsearch", "kibana", "enterprise_search"]
            .iter()
            .map(|s| Precondition {
                subject: (*s).into(),
                requirement: format!(">={version}"),
            })
            .collect()
    }

    #[test]
    fn names_each_component_to_upgrade_in_the_guides_order() {
        let pre = needs("8.8.0");
        let err = check(
            &stack("8.7.0", "8.7.0", Some("8.7.0")),
            &BTreeMap::new(),
            [("step 8.7.0 → 8.8.0".to_owned(), &pre[..])],
        )
        .unwrap_err();
        let es = err.find("Elasticsearch 8.7.0 → >=8.8.0").expect(&err);
        let ent = err.find("Enterprise Search").unwrap();
        let kibana = err.find("Kibana").unwrap();
        assert!(es < ent && ent < kibana, "{err}");
        assert!(
            check(
                &stack("8.8.0", "8.8.1", Some("8.8.0")),
                &BTreeMap::new(),
                [("s".to_owned(), &pre[..])]
            )
            .is_ok()
        );
    }

    #[test]
    fn enterprise_search_is_not_needed_where_it_is_gone() {
        let pre = needs("8.8.0");
        assert!(
            check(
                &stack("9.0.0", "9.0.0", None),
                &BTreeMap::new(),
                [("s".to_owned(), &pre[..])]
            )
            .is_ok()
        );
        assert!(
            check(
                &stack("8.9.0", "8.9.0", Some("none")),
                &BTreeMap::new(),
                [("s".to_owned(), &pre[..])]
            )
            .is_ok()
        );
        let err = check(
            &stack("8.9.0", "8.9.0", None),
            &BTreeMap::new(),
            [("s".to_owned(), &pre[..])],
        )
        .unwrap_err();
        assert!(
            err.contains(
                "Enterprise Search (cutover.toml does not say which version runs) → >=8.8.0"
            ),
            "{err}"
        );
    }
}
