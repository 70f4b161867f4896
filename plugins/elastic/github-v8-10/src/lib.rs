//! Elastic GitHub connectors, 8.9 → 8.10: GitHub Server support (elastic/connectors #1353).
//! By comparing `get_default_configuration()` of the two branches: `github_token` → `token`,
//! new `data_source` (default `github_server`) and `host`, `ssl_enabled`, `ssl_ca`. The 8.9
//! connector read only `https://api.github.com`, so its `data_source` is `github_cloud`.
//!
//! Sync rules (`connectors/sources/github.py` of both branches): 8.9 has no advanced rules
//! (no `advanced_rules_validators`, `get_docs` ignores them); 8.10's
//! `GitHubAdvancedRulesValidator` requires a list of `{"repository": "..", "filter": {"issue"
//! | "pr" | "branch": ".."}}` before each sync, and `get_docs` then syncs only what they select.
//! Rules 8.10 accepts are kept (the plan says they now apply), others refused. 8.10 builds
//! documents from GitHub's GraphQL API instead of REST, so most fields basic rules can name
//! changed (`html_url` → `url`, `created_at` → `createdAt`, `state` `open` → `OPEN`): every
//! basic rule but those on `_timestamp` is left for the operator to review.

use cutover_plugin::elastic::advanced_rules;
use cutover_plugin::elastic::filtering::{self, rule_field};
use cutover_plugin::elastic::{
    Connector, ConnectorMigration, ConnectorOutcome, Defaults, configuration, step,
};
use cutover_plugin::{Manifest, Result, Value};

/// The github data source's default configurations on both sides (tests/fixtures/elastic).
pub fn defaults() -> (Defaults, Defaults) {
    cutover_plugin::defaults!("../../../tests/fixtures/elastic", "github", "8.9.0" => "8.10.0")
}

/// The one service 8.9 connected to.
pub const CLOUD: &str = "github_cloud";

pub struct GithubV8_10;

impl ConnectorMigration for GithubV8_10 {
    fn manifest() -> Manifest {
        Manifest {
            message: "The GitHub connector supports GitHub Server: github_token is renamed token, and the new data_source field (default github_server) chooses between GitHub Cloud and a server at host.".into(),
            documentation_url: "https://www.elastic.co/guide/en/enterprise-search/8.10/connectors-github.html".into(),
            guide: include_str!("../GUIDE.md").into(),
            ..step("elastic/github", "8.9.0", "8.10.0")
        }
    }

    fn migrate(connector: Connector) -> Result<ConnectorOutcome> {
        let (old, new) = defaults();
        let mut out = connector.into_checked_outcome(&old)?;
        let config = out.configuration_mut();
        configuration::rename(config, "github_token", "token", &new)?;
        configuration::set(config, "data_source", Value::String(CLOUD.into()), &new)?;
        out.conform(&new)?;
        out.note("data_source = github_cloud: 8.9 read github.com only");
        filtering::adopt_advanced_rules(&mut out, "8.10", advanced_rules::github_8_10)?;
        filtering::review_basic_rules(
            &mut out,
            |rule| rule_field(rule) != "_timestamp",
            "8.10 builds GitHub documents from the GraphQL API, and most fields are renamed or hold other values (html_url is url, created_at createdAt, state OPEN instead of open)",
        );
        Ok(out)
    }
}

cutover_plugin::export_connector!(GithubV8_10);

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::elastic::testing;
    use cutover_plugin::json;

    #[test]
    fn keeps_the_token_and_stays_on_github_com() {
        let c = testing::connector(
            &defaults().0,
            &[
                ("github_token", json!("ghp_secret")),
                ("repositories", json!("elastic/connectors, elastic/kibana")),
            ],
        );
        let out = GithubV8_10::migrate(c).unwrap();
        let cfg = out.configuration();
        assert_eq!(
            cfg.keys().cloned().collect::<Vec<_>>(),
            defaults().1.fields.keys().cloned().collect::<Vec<_>>()
        );
        assert_eq!(cfg["token"]["value"], "ghp_secret");
        assert_eq!(cfg["data_source"]["value"], CLOUD);
        assert_eq!(
            cfg["repositories"]["value"], "elastic/connectors, elastic/kibana",
            "a list field keeps its value as written"
        );
        assert!(out.notes.iter().all(|n| !n.contains("ghp_secret")));
    }

    #[test]
    fn a_token_in_both_fields_needs_the_operator() {
        let mut c = testing::connector(&defaults().0, &[("github_token", json!("a"))]);
        c.document["configuration"]["token"] = json!({"value": "b"});
        assert!(
            GithubV8_10::migrate(c)
                .unwrap_err()
                .to_string()
                .contains("both github_token and token")
        );
    }

    fn with_rules(advanced: Value, rules: Value) -> Connector {
        let mut c = testing::connector(&defaults().0, &[("github_token", json!("a"))]);
        let filter = json!({"advanced_snippet": {"value": advanced}, "rules": rules, "validation": {"errors": [], "state": "valid"}});
        c.document.insert(
            "filtering".into(),
            json!([{"domain": "DEFAULT", "active": filter, "draft": filter}]),
        );
        c
    }

    #[test]
    fn advanced_rules_8_10_accepts_are_kept_and_others_refused() {
        let good = json!([{"repository": "elastic/connectors", "filter": {"issue": "is:open", "branch": "main"}}]);
        let out = GithubV8_10::migrate(with_rules(good.clone(), json!([]))).unwrap();
        assert_eq!(
            out.document["filtering"][0]["active"]["advanced_snippet"]["value"],
            good
        );
        assert!(
            out.notes
                .iter()
                .any(|n| n.contains("(active and draft) kept") && n.contains("8.10 validates")),
            "{:?}",
            out.notes
        );
        for (bad, want) in [
            (json!({"repos": ["a"]}), "not a list"),
            (
                json!([{"repository": "a", "filter": {"commit": "x"}}]),
                "issue, pr, branch",
            ),
            (
                json!([{"repository": "", "filter": {"pr": "x"}}]),
                "no repository",
            ),
        ] {
            let err = GithubV8_10::migrate(with_rules(bad.clone(), json!([])))
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(want) && err.contains("active and draft sync rules"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn basic_rules_on_renamed_fields_are_left_to_review() {
        let rules = json!([
            {"id": "r1", "field": "html_url", "policy": "exclude", "rule": "contains", "value": "/archive/", "order": 0},
            {"id": "r2", "field": "_timestamp", "policy": "include", "rule": ">", "value": "2023-01-01", "order": 1},
            {"id": "DEFAULT", "field": "_", "policy": "include", "rule": "regex", "value": ".*", "order": 2}
        ]);
        let out = GithubV8_10::migrate(with_rules(json!({}), rules.clone())).unwrap();
        assert_eq!(
            out.document["filtering"][0]["draft"]["rules"], rules,
            "kept"
        );
        let pointers: Vec<&str> = out
            .actions
            .iter()
            .filter_map(|a| match a {
                cutover_plugin::Action::ReviewField { pointer, reason } => {
                    assert!(
                        reason.contains("rule r1") && !reason.contains("rule r2"),
                        "{reason}"
                    );
                    Some(pointer.as_str())
                }
                _ => None,
            })
            .collect();
        assert_eq!(
            pointers,
            ["/filtering/0/active/rules", "/filtering/0/draft/rules"]
        );
    }
}
