//! Secrets as the Airbyte server treats them (`JsonSecretsProcessor`): a config field whose
//! schema in the connector's spec says `airbyte_secret: true` is sent out as `**********`,
//! and on update a `**********` is swapped back for the stored value only at the same key,
//! and only when that key is secret in the spec the source resolves to now. A mask anywhere
//! else is stored as it is: the literal string becomes the secret.

use serde_json::Value;

/// What the server sends in place of a secret.
pub const MASK: &str = "**********";

/// Whether `key` of an object that `schema` describes is a secret.
fn secret_properties(schema: &Value, key: &str) -> bool {
    property_schemas(schema, key)
        .iter()
        .any(|s| s.get("airbyte_secret").and_then(Value::as_bool) == Some(true))
}

/// The schemas `key` can have in an object that `schema` describes, through `oneOf`,
/// `anyOf` and `allOf` branches.
fn property_schemas<'a>(schema: &'a Value, key: &str) -> Vec<&'a Value> {
    let mut found: Vec<&Value> = schema
        .get("properties")
        .and_then(|p| p.get(key))
        .into_iter()
        .collect();
    for combinator in ["oneOf", "anyOf", "allOf"] {
        for branch in schema
            .get(combinator)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            found.extend(property_schemas(branch, key));
        }
    }
    found
}

/// The config with every secret masked.
pub fn mask(config: &Value, schema: &Value) -> Value {
    match config {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let masked = if secret_properties(schema, k) && !v.is_null() {
                        Value::String(MASK.into())
                    } else {
                        let sub: Vec<&Value> = property_schemas(schema, k);
                        sub.iter().fold(v.clone(), |v, s| mask(&v, s))
                    };
                    (k.clone(), masked)
                })
                .collect(),
        ),
        Value::Array(items) => match schema.get("items") {
            Some(item_schema) => Value::Array(items.iter().map(|i| mask(i, item_schema)).collect()),
            None => config.clone(),
        },
        _ => config.clone(),
    }
}

/// `incoming` with each mask replaced by the stored value at the same key, where that key is
/// secret in `schema` and the stored config has a value there.
pub fn copy_secrets(incoming: &Value, stored: &Value, schema: &Value) -> Value {
    match (incoming, stored) {
        (Value::Object(new), Value::Object(old)) => Value::Object(
            new.iter()
                .map(|(k, v)| {
                    let value = match (v, old.get(k)) {
                        (Value::String(s), Some(previous))
                            if s == MASK && secret_properties(schema, k) =>
                        {
                            previous.clone()
                        }
                        (_, Some(previous)) => property_schemas(schema, k)
                            .iter()
                            .fold(v.clone(), |v, s| copy_secrets(&v, previous, s)),
                        (_, None) => v.clone(),
                    };
                    (k.clone(), value)
                })
                .collect(),
        ),
        (Value::Array(new), Value::Array(old)) => match schema.get("items") {
            Some(item_schema) => Value::Array(
                new.iter()
                    .enumerate()
                    .map(|(i, v)| {
                        old.get(i)
                            .map_or_else(|| v.clone(), |o| copy_secrets(v, o, item_schema))
                    })
                    .collect(),
            ),
            None => incoming.clone(),
        },
        _ => incoming.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec() -> Value {
        json!({"type": "object", "properties": {
            "start_date": {"type": "string"},
            "credentials": {"oneOf": [
                {"type": "object", "properties": {"auth_method": {"const": "oauth2.0"}, "refresh_token": {"type": "string", "airbyte_secret": true}}},
                {"type": "object", "properties": {"auth_method": {"const": "token"}, "access_token": {"type": "string", "airbyte_secret": true}}}
            ]},
            "reports": {"type": "array", "items": {"type": "object", "properties": {"key": {"type": "string", "airbyte_secret": true}}}}
        }})
    }

    #[test]
    fn masks_secrets_through_branches_and_arrays() {
        let config = json!({"start_date": "2023-01-01", "credentials": {"auth_method": "oauth2.0", "refresh_token": "r"}, "reports": [{"key": "k"}]});
        assert_eq!(
            mask(&config, &spec()),
            json!({"start_date": "2023-01-01", "credentials": {"auth_method": "oauth2.0", "refresh_token": MASK}, "reports": [{"key": MASK}]})
        );
    }

    #[test]
    fn swaps_a_mask_back_only_at_the_same_secret_key() {
        let stored = json!({"credentials": {"auth_method": "oauth2.0", "refresh_token": "r"}, "start_date": "s"});
        let same = json!({"credentials": {"auth_method": "oauth2.0", "refresh_token": MASK}, "start_date": MASK});
        // The start date is not secret: its mask stays a literal string.
        assert_eq!(
            copy_secrets(&same, &stored, &spec()),
            json!({"credentials": {"auth_method": "oauth2.0", "refresh_token": "r"}, "start_date": MASK})
        );
        let moved = json!({"refresh_token": MASK, "credentials": {"auth_method": "oauth2.0"}});
        assert_eq!(
            copy_secrets(&moved, &stored, &spec()),
            moved,
            "a secret that moved keeps the literal mask"
        );
    }
}
