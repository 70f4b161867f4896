//! Elastic GitHub connectors, 8.9 → 8.10: GitHub Server support (elastic/connectors #1353).
//! By comparing `get_default_configuration()` of the two branches: `github_token` → `token`,
//! new `data_source` (default `github_server`) and `host`, `ssl_enabled`, `ssl_ca`. The 8.9
//! connector read only `https://api.github.com`, so its `data_source` is `github_cloud`.

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
}
