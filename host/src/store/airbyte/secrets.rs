//! Secrets through an API that never shows them.
//!
//! Airbyte sends every secret of a source's config as `**********`, and on update swaps a
//! `**********` back for the stored secret only at the same key, when that key is secret in
//! the spec of the version the source runs then. So a migrated config can be written with a
//! mask only where the secret was: a migration that moves a secret (`/client_secret` →
//! `/credentials/client_secret`), copies it, or changes it cannot be written as the plugin
//! returned it, and a mask sent anywhere else would be stored as the literal string.
//!
//! Such a connection needs the operator, who supplies the secret's value in an owner-only
//! JSON file named by `[airbyte] secrets` (`{"<connection id>": {"<JSON Pointer>": "value"}}`).
//! The value goes into the config only in the request that writes it: plans, documents, the
//! ledger and logs keep the mask.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// What Airbyte shows in place of a secret.
pub const MASK: &str = "**********";

/// Secret values the operator supplied, by connection id and JSON Pointer.
#[derive(Default)]
pub struct Supplied(BTreeMap<String, BTreeMap<String, String>>);

impl std::fmt::Debug for Supplied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<(&String, Vec<&String>)> = self
            .0
            .iter()
            .map(|(c, p)| (c, p.keys().collect()))
            .collect();
        write!(f, "Supplied({keys:?})")
    }
}

impl Supplied {
    /// Reads the operator's file, which only its owner may read.
    pub fn read(path: &Path) -> Result<Self> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(path)
                .with_context(|| format!("reading the secrets file {}", path.display()))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                bail!(
                    "the secrets file {} can be read by others (mode {:o}); make it owner-only: chmod 600 {}",
                    path.display(),
                    mode & 0o777,
                    path.display()
                );
            }
        }
        let text = std::fs::read(path)
            .with_context(|| format!("reading the secrets file {}", path.display()))?;
        let map: BTreeMap<String, BTreeMap<String, String>> = serde_json::from_slice(&text)
            .map_err(|e| anyhow::anyhow!("the secrets file {} is not {{\"<connection id>\": {{\"<JSON Pointer>\": \"value\"}}}} (line {}, column {})", path.display(), e.line(), e.column()))?;
        Ok(Self(map))
    }

    fn for_connection(&self, id: &str) -> Option<&BTreeMap<String, String>> {
        self.0.get(id)
    }

    /// `config` with the supplied secrets of `connection` in place of their masks.
    pub fn fill(&self, connection: &str, config: &Value) -> Value {
        let mut config = config.clone();
        for (pointer, value) in self.for_connection(connection).into_iter().flatten() {
            if let Some(slot) = config.pointer_mut(pointer)
                && slot.as_str() == Some(MASK)
            {
                *slot = Value::String(value.clone());
            }
        }
        config
    }
}

/// The JSON Pointer of every masked value in a config.
pub fn masked(config: &Value) -> Vec<String> {
    fn walk(value: &Value, at: &mut String, out: &mut Vec<String>) {
        match value {
            Value::String(s) if s == MASK => out.push(at.clone()),
            Value::Object(map) => {
                for (k, v) in map {
                    let len = at.len();
                    at.push('/');
                    at.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    walk(v, at, out);
                    at.truncate(len);
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let len = at.len();
                    at.push_str(&format!("/{i}"));
                    walk(v, at, out);
                    at.truncate(len);
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(config, &mut String::new(), &mut out);
    out
}

/// Why `after` cannot be written over `before` through the API, naming each field and what
/// the operator supplies; `None` when every mask stays where a secret was.
pub fn needs_operator(
    connection: &str,
    before: &Value,
    after: &Value,
    supplied: &Supplied,
) -> Option<String> {
    let was = masked(before);
    let now = masked(after);
    let given = supplied.for_connection(connection);
    let is_given = |p: &String| given.is_some_and(|g| g.contains_key(p));
    let moved: Vec<&String> = now
        .iter()
        .filter(|p| !was.contains(p) && !is_given(p))
        .collect();
    let changed: Vec<&String> = was
        .iter()
        .filter(|p| after.pointer(p).is_some_and(|v| v.as_str() != Some(MASK)) && !is_given(p))
        .collect();
    if moved.is_empty() && changed.is_empty() {
        return None;
    }
    let gone: Vec<&String> = was.iter().filter(|p| after.pointer(p).is_none()).collect();
    let mut problems = Vec::new();
    for p in &moved {
        problems.push(match gone.as_slice() {
            [] => format!("{p} holds a masked secret it did not hold before"),
            from => format!(
                "{p} holds a secret moved from {}",
                from.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        });
    }
    for p in &changed {
        problems.push(format!("{p} is a secret the migration changed"));
    }
    let fields: Vec<&str> = moved.iter().chain(&changed).map(|s| s.as_str()).collect();
    Some(format!(
        "the migration moves or changes secrets, which Airbyte's API shows only masked and keeps only at the same key, so cutover cannot write them ({}). \
         Supply each value in the file [airbyte] secrets names (owner-only JSON): {{\"{connection}\": {{{}}}}}, then plan again",
        problems.join("; "),
        fields
            .iter()
            .map(|f| format!("\"{f}\": \"…\""))
            .collect::<Vec<_>>()
            .join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_masks_by_pointer() {
        let config = json!({"a": MASK, "b": {"c/d": MASK, "e": "x"}, "f": [MASK]});
        assert_eq!(masked(&config), vec!["/a", "/b/c~1d", "/f/0"]);
    }

    #[test]
    fn a_secret_kept_in_place_is_writable_and_a_moved_one_is_not() {
        let before = json!({"client_id": "1", "client_secret": MASK});
        let kept = json!({"client_id": "1", "client_secret": MASK, "start_date": "2024-01-01"});
        assert_eq!(
            needs_operator("c", &before, &kept, &Supplied::default()),
            None
        );
        let moved = json!({"credentials": {"client_id": "1", "client_secret": MASK}});
        let why = needs_operator("c", &before, &moved, &Supplied::default()).unwrap();
        assert!(
            why.contains("/credentials/client_secret holds a secret moved from /client_secret"),
            "{why}"
        );
        assert!(
            why.contains("\"/credentials/client_secret\": \"…\""),
            "{why}"
        );
        let changed = json!({"client_secret": "**********-v2"});
        assert!(
            needs_operator("c", &before, &changed, &Supplied::default())
                .unwrap()
                .contains("/client_secret is a secret the migration changed")
        );
        let dropped = json!({"client_id": "1"});
        assert_eq!(
            needs_operator("c", &before, &dropped, &Supplied::default()),
            None,
            "removing a secret is a write like any other"
        );
    }

    #[test]
    fn a_supplied_secret_makes_the_write_possible_and_fills_only_that_request() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        std::fs::write(&path, r#"{"c": {"/credentials/client_secret": "s3cret"}}"#).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
            assert!(format!("{:#}", Supplied::read(&path).unwrap_err()).contains("chmod 600"));
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let supplied = Supplied::read(&path).unwrap();
        assert!(!format!("{supplied:?}").contains("s3cret"), "never shown");
        let before = json!({"client_secret": MASK});
        let moved = json!({"credentials": {"client_secret": MASK}});
        assert_eq!(needs_operator("c", &before, &moved, &supplied), None);
        assert_eq!(
            supplied.fill("c", &moved),
            json!({"credentials": {"client_secret": "s3cret"}})
        );
        assert_eq!(supplied.fill("other", &moved), moved);
    }
}
