//! Elastic SharePoint connectors, 8.8 → 8.9: the one `sharepoint` data source (Server or
//! Online, chosen by its `data_source` field) becomes two service types,
//! `sharepoint_server` and `sharepoint_online`, each with its own configuration
//! (elastic/connectors #1065; the fields by comparing `get_default_configuration()` of the
//! 8.8 `sharepoint` and the 8.9 `sharepoint_server` and `sharepoint_online` data sources).
//!
//! Sync rules (`connectors/sources/sharepoint.py` 8.8, `sharepoint_server.py` and
//! `sharepoint_online.py` 8.9): 8.8 has no advanced rules (no validator; `get_docs` ignores
//! them), nor has 8.9's `sharepoint_server`, so a Server connector keeps them unused. 8.9's
//! `sharepoint_online` validates `{"skipExtractingDriveItemsOlderThan": <integer>}` and
//! nothing else before each sync, and then skips older drive items: rules it accepts are kept
//! (the plan says they now apply), others refused. Basic rules match document fields: Online
//! builds its documents from Microsoft Graph (`webUrl`, `lastModifiedDateTime`, `object_type`)
//! instead of 8.8's SharePoint REST fields, so every basic rule but those on `_timestamp` is
//! left to review; Server keeps its fields, but `author_id` now holds the author
//! (`AuthorId`, 8.8: `EditorId`, the last editor, which is now `editor_id`).

use cutover_plugin::elastic::advanced_rules;
use cutover_plugin::elastic::filtering::{self, rule_field};
use cutover_plugin::elastic::{
    Connector, ConnectorMigration, ConnectorOutcome, Defaults, configuration, step,
};
use cutover_plugin::{Action, Error, Manifest, Result};

pub const SERVER: &str = "sharepoint_server";
pub const ONLINE: &str = "sharepoint_online";

/// The 8.8 fields only SharePoint Server used, and only SharePoint Online.
const SERVER_FIELDS: &[&str] = &[
    "username",
    "password",
    "host_url",
    "ssl_enabled",
    "ssl_ca",
    "retry_count",
];
const ONLINE_FIELDS: &[&str] = &["client_id", "client_secret", "tenant", "tenant_id"];

/// The data sources' default configurations (tests/fixtures/elastic): 8.8's one, 8.9's two.
fn old() -> Defaults {
    cutover_plugin::defaults!("../../../tests/fixtures/elastic", "sharepoint", "8.8.0")
}

fn server() -> Defaults {
    cutover_plugin::defaults!(
        "../../../tests/fixtures/elastic",
        "sharepoint_server",
        "8.9.0"
    )
}

fn online() -> Defaults {
    cutover_plugin::defaults!(
        "../../../tests/fixtures/elastic",
        "sharepoint_online",
        "8.9.0"
    )
}

pub struct SharepointV8_9;

impl ConnectorMigration for SharepointV8_9 {
    fn manifest() -> Manifest {
        Manifest {
            message: "The SharePoint connector is split in two: SharePoint Server (service type sharepoint_server) and SharePoint Online (sharepoint_online), each with its own configuration. An existing sharepoint connector must move to the service type of its data source.".into(),
            documentation_url: "https://www.elastic.co/guide/en/enterprise-search/8.9/connectors-sharepoint.html".into(),
            guide: include_str!("../GUIDE.md").into(),
            ..step("elastic/sharepoint", "8.8.0", "8.9.0")
        }
    }

    fn migrate(connector: Connector) -> Result<ConnectorOutcome> {
        let old = old();
        connector.check_types(Some(&old))?;
        let source = match configuration::value(connector.configuration(), "data_source")
            .and_then(|v| v.as_str())
        {
            None | Some("") => SERVER,
            Some(SERVER) => SERVER,
            Some(ONLINE) => ONLINE,
            Some(other) => {
                return Err(Error::InvalidInput(format!(
                    "connector {}: configuration field data_source is {other:?}; 8.8 knows {SERVER} and {ONLINE}",
                    connector.id
                )));
            }
        };
        let mut out = connector.into_outcome();
        out.rename_service_type("sharepoint", source)?;
        configuration::remove(out.configuration_mut(), "data_source");
        let (unused, new) = if source == SERVER {
            (ONLINE_FIELDS, server())
        } else {
            let new = online();
            configuration::rename(out.configuration_mut(), "tenant", "tenant_name", &new)?;
            configuration::rename(
                out.configuration_mut(),
                "client_secret",
                "secret_value",
                &new,
            )?;
            (SERVER_FIELDS, new)
        };
        for key in unused {
            if let Some(value) = configuration::remove(out.configuration_mut(), key)
                && !configuration::is_empty(&value)
                && !(source == ONLINE
                    && old.field(key).and_then(|f| f.get("value")) == Some(&value))
            {
                out.note(format!("dropped {key}: a field of the other SharePoint data source, which a {source} connector does not use"));
            }
        }
        out.conform(&new)?;
        out.clear_sync_cursor("the cursor was written by the 8.8 sharepoint data source");
        if source == ONLINE {
            out.action(Action::RetestSource {
                reason: "8.9 reaches SharePoint Online through its own data source: check the app registration (tenant, client id, secret) connects".into(),
            });
            filtering::adopt_advanced_rules(
                &mut out,
                "8.9",
                advanced_rules::sharepoint_online_8_9,
            )?;
            filtering::review_basic_rules(
                &mut out,
                |rule| rule_field(rule) != "_timestamp",
                "8.9's sharepoint_online builds documents from Microsoft Graph, whose fields differ from 8.8's (webUrl, lastModifiedDateTime, object_type)",
            );
        } else {
            filtering::review_basic_rules(
                &mut out,
                |rule| rule_field(rule) == "author_id",
                "8.9's sharepoint_server fills author_id with the author (8.8: the last editor, now editor_id)",
            );
        }
        Ok(out)
    }
}

cutover_plugin::export_connector!(SharepointV8_9);

#[cfg(test)]
mod tests {
    use super::*;
    use cutover_plugin::elastic::testing;
    use cutover_plugin::{Value, json};

    fn migrate(values: &[(&str, Value)]) -> Result<ConnectorOutcome> {
        let mut c = testing::connector(&old(), values);
        c.document.insert(
            "sync_cursor".into(),
            json!({"site_drives": {"d1": "https://graph/delta?token=1"}}),
        );
        SharepointV8_9::migrate(c)
    }

    fn keys(out: &ConnectorOutcome) -> Vec<String> {
        out.configuration().keys().cloned().collect()
    }

    #[test]
    fn a_server_connector_becomes_sharepoint_server() {
        let out = migrate(&[
            ("data_source", json!("sharepoint_server")),
            ("host_url", json!("https://sp.corp")),
            ("password", json!("pw")),
        ])
        .unwrap();
        assert_eq!(out.service_type(), SERVER);
        assert_eq!(
            keys(&out),
            server().fields.keys().cloned().collect::<Vec<_>>()
        );
        assert_eq!(out.configuration()["host_url"]["value"], "https://sp.corp");
        assert_eq!(out.document["sync_cursor"], Value::Null);
        assert!(
            out.actions
                .iter()
                .any(|a| matches!(a, Action::FullSync { .. }))
        );
    }

    #[test]
    fn an_online_connector_becomes_sharepoint_online_with_its_values() {
        let out = migrate(&[
            ("data_source", json!("sharepoint_online")),
            ("tenant", json!("contoso")),
            ("client_secret", json!("shh")),
            ("tenant_id", json!("t-1")),
        ])
        .unwrap();
        assert_eq!(out.service_type(), ONLINE);
        assert_eq!(
            keys(&out),
            online().fields.keys().cloned().collect::<Vec<_>>()
        );
        assert_eq!(out.configuration()["tenant_name"]["value"], "contoso");
        assert_eq!(out.configuration()["secret_value"]["value"], "shh");
        assert_eq!(out.configuration()["tenant_id"]["value"], "t-1");
        assert!(out.notes.iter().all(|n| !n.contains("shh")));
    }

    #[test]
    fn an_unknown_data_source_is_refused() {
        assert!(
            migrate(&[("data_source", json!("sharepoint_cloud"))])
                .unwrap_err()
                .to_string()
                .contains("data_source")
        );
    }

    fn with_rules(data_source: &str, advanced: Value, rules: Value) -> Result<ConnectorOutcome> {
        let mut c = testing::connector(&old(), &[("data_source", json!(data_source))]);
        let filter = json!({"advanced_snippet": {"value": advanced}, "rules": rules, "validation": {"errors": [], "state": "valid"}});
        c.document.insert(
            "filtering".into(),
            json!([{"domain": "DEFAULT", "active": filter, "draft": filter}]),
        );
        SharepointV8_9::migrate(c)
    }

    #[test]
    fn advanced_rules_are_kept_where_8_9_reads_them_as_they_are() {
        let days = json!({"skipExtractingDriveItemsOlderThan": 30});
        for source in [SERVER, ONLINE] {
            let out = with_rules(source, days.clone(), json!([])).unwrap();
            assert_eq!(
                out.document["filtering"][0]["active"]["advanced_snippet"]["value"],
                days
            );
            assert_eq!(
                out.notes.iter().any(|n| n.contains("advanced sync rules")),
                source == ONLINE,
                "only Online starts applying them: {:?}",
                out.notes
            );
        }
        let err = with_rules(
            ONLINE,
            json!({"skipExtractingDriveItemsOlderThan": "30"}),
            json!([]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("not a whole number"), "{err}");
        assert!(
            with_rules(SERVER, json!({"anything": true}), json!([])).is_ok(),
            "unused, as in 8.8"
        );
        assert!(with_rules(ONLINE, json!({"anything": true}), json!([])).is_err());
    }

    #[test]
    fn basic_rules_on_fields_that_changed_are_left_to_review() {
        let rules = json!([
            {"id": "r1", "field": "author_id", "policy": "exclude", "rule": "equals", "value": "7", "order": 0},
            {"id": "r2", "field": "title", "policy": "exclude", "rule": "contains", "value": "draft", "order": 1},
            {"id": "DEFAULT", "field": "_", "policy": "include", "rule": "regex", "value": ".*", "order": 2}
        ]);
        let reasons = |source: &str| -> Vec<String> {
            with_rules(source, json!({}), rules.clone())
                .unwrap()
                .actions
                .into_iter()
                .filter_map(|a| match a {
                    Action::ReviewField { reason, .. } => Some(reason),
                    _ => None,
                })
                .collect()
        };
        let server = reasons(SERVER);
        assert_eq!(server.len(), 2, "active and draft: {server:?}");
        assert!(server[0].contains("rule r1") && !server[0].contains("rule r2"));
        let online = reasons(ONLINE);
        assert!(
            online[0].contains("rule r1") && online[0].contains("rule r2"),
            "{online:?}"
        );
    }
}
