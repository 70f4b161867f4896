//! Secrets never reach a plan: the values of configuration fields that hold one are masked in
//! a connector's diff and in the document a diff is read against. A field holds a secret when
//! either side marks it `sensitive` or, for documents older than that property (8.7), when its
//! name says so.

use serde_json::{Map, Value};

/// What a masked value shows.
pub const MASK: &str = "(secret)";

const SECRET_NAMES: &[&str] = &[
    "password",
    "secret",
    "token",
    "api_key",
    "private_key",
    "passphrase",
    "credentials",
];

/// Whether field `key` of a configuration holds a secret.
pub fn is_secret(key: &str, field: Option<&Value>) -> bool {
    field
        .and_then(|f| f.get("sensitive"))
        .and_then(Value::as_bool)
        .unwrap_or(false)
        || SECRET_NAMES
            .iter()
            .any(|s| key.to_ascii_lowercase().contains(s))
}

/// The document with the value of every secret field masked.
pub fn document(doc: &Value) -> Value {
    let mut out = doc.clone();
    if let Some(Value::Object(config)) = out.get_mut("configuration") {
        for (key, field) in config.iter_mut() {
            if is_secret(key, Some(field))
                && let Some(v) = field.get_mut("value")
                && !v.is_null()
            {
                *v = Value::String(MASK.into());
            }
        }
    }
    out
}

/// The patch from `before` to `after` with secret values masked, for showing only.
pub fn patch(
    patch: json_patch::Patch,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> json_patch::Patch {
    use json_patch::PatchOperation as Op;
    // The value of a secret field, or the whole field (whose value is masked inside).
    let secret = |path: &str| -> bool {
        let mut parts = path.split('/').skip(1);
        if parts.next() != Some("configuration") {
            return false;
        }
        let Some(key) = parts.next() else {
            return false;
        };
        if !matches!(parts.next(), None | Some("value")) {
            return false;
        }
        let field =
            |doc: &Map<String, Value>| doc.get("configuration").and_then(|c| c.get(key)).cloned();
        is_secret(key, field(before).as_ref()) || is_secret(key, field(after).as_ref())
    };
    let mask = |path: &str, value: &mut Value| {
        if secret(path) {
            *value = match value {
                Value::Object(_) => document(
                    &serde_json::json!({"configuration": {"_": value.clone()}}),
                )["configuration"]["_"]
                    .clone(),
                _ => Value::String(MASK.into()),
            };
        }
    };
    json_patch::Patch(
        patch
            .0
            .into_iter()
            .map(|mut op| {
                match &mut op {
                    Op::Add(a) => mask(&a.path.to_string(), &mut a.value),
                    Op::Replace(r) => mask(&r.path.to_string(), &mut r.value),
                    Op::Test(t) => mask(&t.path.to_string(), &mut t.value),
                    _ => {}
                }
                op
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn masks_secret_values_in_diffs_and_documents() {
        let before = json!({"configuration": {"client_secret": {"value": "hunter2"}, "host": {"value": "a"}, "pw": {"sensitive": true, "value": "x1"}}});
        let after = json!({"configuration": {"secret_value": {"sensitive": true, "value": "hunter2"}, "host": {"value": "b"}, "pw": {"sensitive": true, "value": "x2"}}});
        let (b, a) = (before.as_object().unwrap(), after.as_object().unwrap());
        let masked = patch(json_patch::diff(&before, &after), b, a);
        let text = serde_json::to_string(&masked).unwrap();
        assert!(!text.contains("hunter2") && !text.contains("x2"), "{text}");
        assert!(text.contains("\"b\""), "other values show: {text}");
        let props = patch(
            json_patch::diff(
                &json!({"configuration": {"pw": {"value": "x"}}}),
                &json!({"configuration": {"pw": {"value": "x", "order": 4}}}),
            ),
            b,
            a,
        );
        assert!(
            serde_json::to_string(&props)
                .unwrap()
                .contains("\"value\":4"),
            "a secret field's other properties show"
        );
        let doc = serde_json::to_string(&document(&before)).unwrap();
        assert!(
            !doc.contains("hunter2") && !doc.contains("x1") && doc.contains("\"a\""),
            "{doc}"
        );
    }
}
