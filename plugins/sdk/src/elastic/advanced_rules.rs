//! The shapes data sources' advanced sync rules must have, as their validators' JSON schemas
//! check them (elastic/connectors, `connectors/sources/<data source>.py`, the
//! `…AdvancedRulesValidator.SCHEMA_DEFINITION` of the branch named). Each check answers why a
//! value fails, in words for the plan; the remote half of a validator (do the tables or
//! repositories exist) needs the data source and is left to the connectors service.
//!
//! Only non-empty values are checked: the service validates advanced rules only when
//! `Filter.has_advanced_rules()` ([`super::filtering::has_advanced_rules`]).

use serde_json::{Map, Value};

/// A list's entries that are objects, numbered from 0.
type Entries<'a> = Vec<(usize, &'a Map<String, Value>)>;

/// A check of advanced rules: `Err` says why the validator rejects them.
pub type Check = fn(&Value) -> Result<(), String>;

/// The check the connectors service of `version` makes of `service_type`'s advanced rules,
/// for the data sources cutover migrates; `None` where that version has no advanced rules
/// (the value is neither validated nor used), or `version` is not a version.
pub fn check(service_type: &str, version: &str) -> Option<Check> {
    let version = semver::Version::parse(version).ok()?;
    let at_least = |major, minor| version >= semver::Version::new(major, minor, 0);
    match service_type {
        "mysql" if at_least(9, 0) => Some(mysql_9_0),
        "mysql" if at_least(8, 8) => Some(mysql_8_8),
        "github" if at_least(9, 0) => Some(github_9_0),
        "github" if at_least(8, 10) => Some(github_8_10),
        "sharepoint_online" if at_least(8, 9) => Some(sharepoint_online_8_9),
        _ => None,
    }
}

/// MySQL from 8.8: a list of `{"tables": [..] (at least one), "query": ".." (not empty)}`
/// and nothing else (`MySQLAdvancedRulesValidator`, 8.8 to 8.15).
pub fn mysql_8_8(value: &Value) -> Result<(), String> {
    mysql(value, &["tables", "query"])
}

/// MySQL 9.0: 8.8's shape, and each entry may name its `id_columns` (a list of at least one).
pub fn mysql_9_0(value: &Value) -> Result<(), String> {
    mysql(value, &["tables", "query", "id_columns"])
}

fn mysql(value: &Value, allowed: &[&str]) -> Result<(), String> {
    for (i, entry) in entries(value)? {
        only(i, entry, allowed)?;
        if entry
            .get("tables")
            .and_then(Value::as_array)
            .is_none_or(|t| t.is_empty())
        {
            return Err(format!("entry {i} has no list of tables"));
        }
        if !non_empty_text(entry.get("query")) {
            return Err(format!("entry {i} has no query"));
        }
        if let Some(columns) = entry.get("id_columns")
            && columns.as_array().is_none_or(|c| c.is_empty())
        {
            return Err(format!("entry {i}'s id_columns is not a list of columns"));
        }
    }
    Ok(())
}

/// GitHub 8.10 to 8.15: a list of `{"repository": "..", "filter": {..}}`, the filter holding
/// at least one of `issue`, `pr`, `branch` (GitHub search queries) and nothing else
/// (`GitHubAdvancedRulesValidator`).
pub fn github_8_10(value: &Value) -> Result<(), String> {
    github(value, &["issue", "pr", "branch"])
}

/// GitHub 9.0: 8.10's shape, and a filter may also hold a `path`.
pub fn github_9_0(value: &Value) -> Result<(), String> {
    github(value, &["issue", "pr", "branch", "path"])
}

fn github(value: &Value, filters: &[&str]) -> Result<(), String> {
    for (i, entry) in entries(value)? {
        only(i, entry, &["repository", "filter"])?;
        if !non_empty_text(entry.get("repository")) {
            return Err(format!("entry {i} has no repository"));
        }
        let Some(filter) = entry.get("filter").and_then(Value::as_object) else {
            return Err(format!("entry {i} has no filter object"));
        };
        if filter.is_empty()
            || filter
                .iter()
                .any(|(k, v)| !filters.contains(&k.as_str()) || !non_empty_text(Some(v)))
        {
            return Err(format!(
                "the filter of entry {i} must hold {} queries, and nothing else",
                filters.join(", ")
            ));
        }
    }
    Ok(())
}

/// SharePoint Online from 8.9: an object whose only property is
/// `skipExtractingDriveItemsOlderThan`, a whole number of days
/// (`SharepointOnlineAdvancedRulesValidator`, unchanged to 9.0).
pub fn sharepoint_online_8_9(value: &Value) -> Result<(), String> {
    let Some(rules) = value.as_object() else {
        return Err("they are not an object".into());
    };
    for (key, v) in rules {
        if key != "skipExtractingDriveItemsOlderThan" {
            return Err(format!("they hold {key:?}, which is not allowed"));
        }
        if !(v.is_i64() || v.is_u64()) {
            return Err("skipExtractingDriveItemsOlderThan is not a whole number of days".into());
        }
    }
    Ok(())
}

/// The entries of a list of objects, numbered from 0.
fn entries(value: &Value) -> Result<Entries<'_>, String> {
    let Value::Array(items) = value else {
        return Err(format!("they are {}, not a list", kind(value)));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            item.as_object()
                .map(|o| (i, o))
                .ok_or_else(|| format!("entry {i} is {}, not an object", kind(item)))
        })
        .collect()
}

fn only(i: usize, entry: &Map<String, Value>, allowed: &[&str]) -> Result<(), String> {
    match entry.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(key) => Err(format!("entry {i} has {key:?}, which is not allowed")),
        None => Ok(()),
    }
}

fn non_empty_text(value: Option<&Value>) -> bool {
    value.and_then(Value::as_str).is_some_and(|s| !s.is_empty())
}

/// A value's kind for messages, without its content.
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_version_checks_its_own_shape() {
        let mysql = json!([{"tables": ["orders"], "query": "SELECT * FROM orders"}]);
        let with_ids = json!([{"tables": ["orders"], "query": "q", "id_columns": ["id"]}]);
        assert!(
            check("mysql", "8.7.0").is_none(),
            "8.7 has its own validator, by database"
        );
        assert!(check("mysql", "8.8.0").unwrap()(&mysql).is_ok());
        assert!(check("mysql", "8.15.0").unwrap()(&with_ids).is_err());
        assert!(check("mysql", "9.0.0").unwrap()(&with_ids).is_ok());
        let old = json!({"crm": {"orders": "SELECT 1"}});
        assert!(
            mysql_8_8(&old)
                .unwrap_err()
                .contains("an object, not a list")
        );
        assert!(mysql_8_8(&json!([{"tables": [], "query": "q"}])).is_err());
        assert!(mysql_8_8(&json!([{"tables": ["t"], "query": ""}])).is_err());

        let github = json!([{"repository": "elastic/connectors", "filter": {"pr": "is:open"}}]);
        let path = json!([{"repository": "a/b", "filter": {"path": "docs/*"}}]);
        assert!(check("github", "8.9.0").is_none());
        assert!(github_8_10(&github).is_ok());
        assert!(github_8_10(&path).is_err());
        assert!(check("github", "9.0.0").unwrap()(&path).is_ok());

        assert!(check("sharepoint_server", "9.0.0").is_none());
        assert!(check("oracle", "9.0.0").is_none());
        let days = json!({"skipExtractingDriveItemsOlderThan": 30});
        assert!(check("sharepoint_online", "8.9.0").unwrap()(&days).is_ok());
        assert!(sharepoint_online_8_9(&json!({"skipExtractingDriveItemsOlderThan": 1.5})).is_err());
        assert!(sharepoint_online_8_9(&json!({"other": 1})).is_err());
    }
}
