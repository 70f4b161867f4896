//! Secret values never leave cutover in clear, except in the documents themselves.
//!
//! A connection's config holds its credentials, and a plan shows what changes in it: its
//! text and JSON, the saved plan file, the history, the logs and every error could carry
//! a credential to a terminal, a CI log or a ticket. Which config fields are secret is
//! known from three places:
//!
//! - the connector's spec (`specs/<connector>/<version>.json` in the fleet): every
//!   property marked `airbyte_secret: true`, at any depth;
//! - Elastic connector documents, which mark each configuration entry themselves: an
//!   object with `"sensitive": true` has a secret `value`;
//! - the usual names, with or without a spec (passwords, tokens, client secrets, API and
//!   private keys, service account files): a spec can add to them, never remove.
//!
//! [`Secrets`] collects, for one connection, those names and the values found under them
//! in every version of its config (before and after each step). Then everything shown is
//! redacted two ways: a config value under a secret name is replaced by [`MASK`] wherever
//! it is (so a patch still shows that it changed, and where), and any occurrence of a
//! known secret value in any other text or value is replaced too, which catches a plugin
//! that moves a secret into a field with an innocent name, the state or a note, a log
//! line, or an error message that quotes it. Values shorter than [`MIN_SCRUBBED`] are
//! masked where they sit, but not searched for in free text, where they would erase
//! ordinary words.
//!
//! A plugin may also hand a secret back encoded: inside a Basic authorization header, a
//! URL's query or a token it builds. Values of [`MIN_ENCODED`] characters or more are also
//! searched for as they read in base64 (standard and URL-safe, at each of the three
//! places a value can start inside a longer encoded string) and percent-encoded
//! ([`encoded_forms`]). Other encodings (hex, a plugin's own ciphers) are not recognized:
//! the sandbox keeps a plugin from sending anything anywhere, so what it can do is show a
//! secret to whoever reads cutover's output, and that output is what is scrubbed.

use json_patch::{MoveOperation, Patch, PatchOperation};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::BTreeSet;

/// What a secret value is shown as (the mask Airbyte's own API uses).
pub const MASK: &str = "**********";

/// The shortest secret value searched for in free text.
pub const MIN_SCRUBBED: usize = 4;

/// The shortest secret value also searched for in its encoded forms: a shorter one encodes
/// to a few characters that would turn up by chance in any long encoded text.
pub const MIN_ENCODED: usize = 8;

/// How `secret` reads once a plugin encodes it, each form as text found wherever the
/// encoded secret is: percent-encoded (where that differs), and base64, standard and
/// URL-safe, at each of the three offsets it can have inside a longer encoded string
/// (`user:password` in a Basic header), without the characters at either end that its
/// neighbours change.
pub fn encoded_forms(secret: &str) -> Vec<String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let mut forms = Vec::new();
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3 {
            let mut bytes = vec![0u8; offset];
            bytes.extend_from_slice(secret.as_bytes());
            let text = engine.encode(&bytes);
            // Character i holds bits 6i..6i+6: it is the secret's alone from the first one
            // past the leading `offset` bytes to the last one before the secret's end.
            let (start, end) = ((offset * 8).div_ceil(6), bytes.len() * 8 / 6);
            forms.push(text[start..end].to_owned());
        }
    }
    let percent: String = secret
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    if percent != secret {
        forms.push(percent);
    }
    forms.sort();
    forms.dedup();
    forms
}

/// Whether a config key names a secret by the usual conventions, whatever the spec says.
pub fn is_secret_name(key: &str) -> bool {
    let key: String = key
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    const PARTS: &[&str] = &[
        "password",
        "passwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "accesskey",
        "privatekey",
        "secretkey",
        "sessionkey",
        "signingkey",
        "encryptionkey",
        "credentialsjson",
        "serviceaccountinfo",
        "serviceaccountjson",
    ];
    const NOT_SECRET_KEYS: &[&str] = &[
        "primarykey",
        "partitionkey",
        "sortkey",
        "cursorkey",
        "publickey",
        "keyid",
    ];
    PARTS.iter().any(|p| key.contains(p))
        || (key == "key"
            || (key.ends_with("key") && !NOT_SECRET_KEYS.iter().any(|k| key.ends_with(k))))
}

/// The names of the properties a connector spec marks `airbyte_secret`, at any depth
/// (inside `oneOf` choices, nested objects, arrays).
pub fn spec_secret_names(spec: &Value) -> BTreeSet<String> {
    fn walk(node: &Value, names: &mut BTreeSet<String>) {
        match node {
            Value::Object(map) => {
                if let Some(Value::Object(properties)) = map.get("properties") {
                    for (name, schema) in properties {
                        if schema.get("airbyte_secret").and_then(Value::as_bool) == Some(true) {
                            names.insert(name.clone());
                        }
                    }
                }
                map.values().for_each(|v| walk(v, names));
            }
            Value::Array(items) => items.iter().for_each(|v| walk(v, names)),
            _ => {}
        }
    }
    let mut names = BTreeSet::new();
    walk(spec, &mut names);
    names
}

/// What is secret in one connection: the secret field names and the values seen under them.
#[derive(Clone, Debug, Default)]
pub struct Secrets {
    names: BTreeSet<String>,
    /// Every secret string value seen, longest first (so a value containing another is
    /// replaced whole).
    values: Vec<String>,
    /// The encoded forms of the values long enough for them ([`encoded_forms`]), longest
    /// first.
    encoded: Vec<String>,
}

impl Secrets {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the names a spec marks secret.
    pub fn learn_names(&mut self, names: impl IntoIterator<Item = String>) {
        self.names.extend(names);
    }

    fn is_secret_key(&self, key: &str) -> bool {
        self.names.contains(key) || is_secret_name(key)
    }

    /// Whether a JSON Pointer into a config passes through a secret field.
    pub fn is_secret_pointer(&self, pointer: &str) -> bool {
        pointer
            .split('/')
            .skip(1)
            .any(|token| self.is_secret_key(&token.replace("~1", "/").replace("~0", "~")))
    }

    /// Collects the secret values of a config (any version of it).
    pub fn learn_config(&mut self, config: &Value) {
        let mut found = Vec::new();
        self.visit_secrets(config, &mut |v| collect_strings(v, &mut found));
        for value in found {
            if !value.is_empty() && !self.values.contains(&value) {
                if value.len() >= MIN_ENCODED {
                    self.encoded.extend(
                        encoded_forms(&value)
                            .into_iter()
                            .filter(|form| form.len() >= MIN_SCRUBBED),
                    );
                }
                self.values.push(value);
            }
        }
        let longest_first = |a: &String, b: &String| b.len().cmp(&a.len()).then_with(|| a.cmp(b));
        self.values.sort_by(longest_first);
        self.encoded.sort_by(longest_first);
        self.encoded.dedup();
    }

    /// Calls `f` on every value that is secret by its position in `config`.
    fn visit_secrets(&self, node: &Value, f: &mut dyn FnMut(&Value)) {
        match node {
            Value::Object(map) => {
                let sensitive = map.get("sensitive").and_then(Value::as_bool) == Some(true);
                for (key, value) in map {
                    if self.is_secret_key(key)
                        || (sensitive && (key == "value" || key == "default_value"))
                    {
                        f(value);
                    } else {
                        self.visit_secrets(value, f);
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| self.visit_secrets(v, f)),
            _ => {}
        }
    }

    /// A config with every secret value masked.
    pub fn mask_config(&self, config: &mut Value) {
        match config {
            Value::Object(map) => {
                let sensitive = map.get("sensitive").and_then(Value::as_bool) == Some(true);
                for (key, value) in map.iter_mut() {
                    if self.is_secret_key(key)
                        || (sensitive && (key == "value" || key == "default_value"))
                    {
                        if !value.is_null() {
                            *value = Value::String(MASK.into());
                        }
                    } else {
                        self.mask_config(value);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.mask_config(v)),
            _ => {}
        }
        self.scrub_value(config);
    }

    /// `text` with every known secret value (long enough to search for) replaced.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut out = Cow::Borrowed(text);
        for secret in self
            .values
            .iter()
            .filter(|v| v.len() >= MIN_SCRUBBED)
            .chain(&self.encoded)
        {
            if out.contains(secret.as_str()) {
                out = Cow::Owned(out.replace(secret.as_str(), MASK));
            }
        }
        out
    }

    /// Replaces in place every string of `value` that is, or contains, a known secret value.
    pub fn scrub_value(&self, value: &mut Value) {
        if self.values.is_empty() {
            return;
        }
        match value {
            Value::String(s) => {
                if self.values.iter().any(|v| v == s) {
                    *s = MASK.into();
                } else if let Cow::Owned(clean) = self.scrub(s) {
                    *s = clean;
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_value(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.scrub_value(v)),
            _ => {}
        }
    }

    pub fn scrub_string(&self, s: &mut String) {
        if let Cow::Owned(clean) = self.scrub(s) {
            *s = clean;
        }
    }

    /// A config patch as it may be shown: a secret's new value masked, and a secret that
    /// only moved shown as a move (`from` → `path`) besides what was added. `before` is
    /// the config the patch applies to.
    pub fn redact_config_patch(&self, patch: &mut Patch, before: &Value) {
        let mut moves = Vec::new();
        for op in &patch.0 {
            let PatchOperation::Remove(removed) = op else {
                continue;
            };
            let from = removed.path.to_string();
            let Some(old) = before
                .pointer(&from)
                .filter(|_| self.is_secret_pointer(&from))
            else {
                continue;
            };
            if let Some(to) = self.new_place(patch, old) {
                moves.push(PatchOperation::Move(MoveOperation {
                    from: removed.path.clone(),
                    path: to.parse().expect("a pointer made of a patch's pointers"),
                }));
            }
        }
        // A move says where the value went; the removal would only repeat where it was.
        let moved: BTreeSet<String> = moves
            .iter()
            .filter_map(|m| match m {
                PatchOperation::Move(m) => Some(m.from.to_string()),
                _ => None,
            })
            .collect();
        patch.0.retain(
            |op| !matches!(op, PatchOperation::Remove(r) if moved.contains(&r.path.to_string())),
        );
        patch.0.extend(moves);
        for op in patch.0.iter_mut() {
            match op {
                PatchOperation::Add(a) => self.mask_at(&a.path.to_string(), &mut a.value),
                PatchOperation::Replace(r) => self.mask_at(&r.path.to_string(), &mut r.value),
                PatchOperation::Test(t) => self.mask_at(&t.path.to_string(), &mut t.value),
                PatchOperation::Remove(_) | PatchOperation::Move(_) | PatchOperation::Copy(_) => {}
            }
        }
    }

    /// Where a removed secret value reappears among a patch's additions: a secret field
    /// holding exactly it (at an addition or inside an added object), else any addition
    /// of exactly it.
    fn new_place(&self, patch: &Patch, old: &Value) -> Option<String> {
        let added = || {
            patch.0.iter().filter_map(|op| match op {
                PatchOperation::Add(a) => Some((a.path.to_string(), &a.value)),
                _ => None,
            })
        };
        fn inside(value: &Value, wanted: &Value, at: String, secrets: &Secrets) -> Option<String> {
            if value == wanted && secrets.is_secret_pointer(&at) {
                return Some(at);
            }
            match value {
                Value::Object(map) => map.iter().find_map(|(k, v)| {
                    inside(
                        v,
                        wanted,
                        format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                        secrets,
                    )
                }),
                Value::Array(items) => items
                    .iter()
                    .enumerate()
                    .find_map(|(i, v)| inside(v, wanted, format!("{at}/{i}"), secrets)),
                _ => None,
            }
        }
        added()
            .find_map(|(path, value)| inside(value, old, path, self))
            .or_else(|| {
                added()
                    .find(|(_, value)| *value == old)
                    .map(|(path, _)| path)
            })
    }

    /// Masks a value set at `pointer` in a config: whole if the pointer is secret, else
    /// its secret fields and any secret value it contains.
    fn mask_at(&self, pointer: &str, value: &mut Value) {
        if self.is_secret_pointer(pointer) && !value.is_null() {
            *value = Value::String(MASK.into());
        } else {
            self.mask_config(value);
        }
    }

    /// A catalog or state patch as it may be shown: known secret values replaced.
    pub fn redact_patch(&self, patch: &mut Patch) {
        for op in patch.0.iter_mut() {
            match op {
                PatchOperation::Add(a) => self.scrub_value(&mut a.value),
                PatchOperation::Replace(r) => self.scrub_value(&mut r.value),
                PatchOperation::Test(t) => self.scrub_value(&mut t.value),
                PatchOperation::Remove(_) | PatchOperation::Move(_) | PatchOperation::Copy(_) => {}
            }
        }
    }
}

/// Whether a value shown is a masked secret.
pub fn is_mask(value: &Value) -> bool {
    value.as_str() == Some(MASK)
}

/// An Airbyte connection document (config, catalog, state) with its secrets masked, as a
/// plan's patches are: the config's secret fields (named by `spec_secret_names`, the spec of
/// the version it is planned from, and by the usual names), and every secret value
/// wherever else it appears in the catalog and state.
pub fn masked_document(mut document: Value, spec_secret_names: Vec<String>) -> Value {
    let mut secrets = Secrets::new();
    secrets.learn_names(spec_secret_names);
    if let Some(config) = document.get("config") {
        secrets.learn_config(config);
    }
    if let Some(config) = document.get_mut("config") {
        secrets.mask_config(config);
    }
    for part in ["catalog", "state"] {
        if let Some(value) = document.get_mut(part) {
            secrets.scrub_value(value);
        }
    }
    document
}

fn collect_strings(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Number(n) => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        Value::Bool(_) | Value::Null => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_mark_the_usual_secrets_and_leave_the_rest() {
        for secret in [
            "password",
            "client_secret",
            "refresh_token",
            "access_token",
            "api_key",
            "apiKey",
            "private_key",
            "credentials_json",
            "key",
            "aws_secret_access_key",
        ] {
            assert!(is_secret_name(secret), "{secret}");
        }
        for plain in [
            "client_id",
            "start_date",
            "auth_method",
            "account_ids",
            "primary_key",
            "host",
            "username",
        ] {
            assert!(!is_secret_name(plain), "{plain}");
        }
    }

    #[test]
    fn a_spec_marks_secrets_at_any_depth() {
        let spec = json!({"connectionSpecification": {"properties": {
            "credentials": {"oneOf": [{"properties": {"hidden_thing": {"type": "string", "airbyte_secret": true}, "client_id": {"type": "string"}}}]},
            "start_date": {"type": "string"}
        }}});
        assert_eq!(
            spec_secret_names(&spec),
            BTreeSet::from(["hidden_thing".to_owned()])
        );
    }

    fn secrets() -> Secrets {
        let mut s = Secrets::new();
        s.learn_names(["hidden_thing".to_owned()]);
        s.learn_config(&json!({
            "credentials": {"client_id": "id-1", "client_secret": "cs-very-secret", "hidden_thing": "ht-value"},
            "elastic": {"pw": {"value": "el-sensitive", "sensitive": true}, "host": {"value": "localhost", "sensitive": false}},
            "short_token": "abc"
        }));
        s
    }

    #[test]
    fn configs_are_masked_by_name_spec_and_sensitivity() {
        let mut config = json!({
            "credentials": {"client_id": "id-1", "client_secret": "cs-very-secret", "hidden_thing": "ht-value"},
            "elastic": {"pw": {"value": "el-sensitive", "sensitive": true}, "host": {"value": "localhost", "sensitive": false}},
            "short_token": "abc",
            "copied": "prefix cs-very-secret suffix"
        });
        secrets().mask_config(&mut config);
        assert_eq!(
            config["credentials"],
            json!({"client_id": "id-1", "client_secret": MASK, "hidden_thing": MASK})
        );
        assert_eq!(config["elastic"]["pw"]["value"], MASK);
        assert_eq!(config["elastic"]["host"]["value"], "localhost");
        assert_eq!(config["short_token"], MASK);
        assert_eq!(config["copied"], format!("prefix {MASK} suffix"));
    }

    #[test]
    fn free_text_loses_long_secrets_only() {
        let s = secrets();
        assert_eq!(
            s.scrub("token was cs-very-secret, abc stays"),
            format!("token was {MASK}, abc stays")
        );
        assert!(matches!(s.scrub("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn encoded_secrets_are_scrubbed_wherever_they_start() {
        use base64::Engine;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
        let mut s = Secrets::new();
        let secret = "p@ss/w0rd+Key=42";
        s.learn_config(&json!({"password": secret, "api_key": "short"}));
        // Inside longer encoded strings, at every offset, padded or not.
        for prefix in ["", "a", "ab", "svc:", "service-account:"] {
            for encoded in [
                STANDARD.encode(format!("{prefix}{secret}")),
                URL_SAFE_NO_PAD.encode(format!("{prefix}{secret}!")),
            ] {
                let text = format!("Authorization: Basic {encoded}");
                let clean = s.scrub(&text);
                assert!(clean.contains(MASK), "{prefix:?}: {text} → {clean}");
                // What is left of the encoded text no longer decodes to the secret.
                assert!(!clean.contains(&encoded), "{clean}");
            }
        }
        let url = "https://db.example/?password=p%40ss%2Fw0rd%2BKey%3D42&x=1";
        assert_eq!(
            s.scrub(url),
            format!("https://db.example/?password={MASK}&x=1")
        );
        // A short secret is not searched for in its encodings; plain text is left alone.
        assert_eq!(
            s.scrub(&STANDARD.encode("short and sweet")),
            STANDARD.encode("short and sweet")
        );
        assert!(matches!(
            s.scrub("an ordinary note about base64 and URLs"),
            Cow::Borrowed(_)
        ));
        assert!(encoded_forms("12345678").iter().all(|form| form.len() >= 8));
    }

    #[test]
    fn a_moved_secret_is_a_move_and_a_changed_one_is_masked() {
        let s = secrets();
        let before = json!({"credentials": {"client_secret": "cs-very-secret", "refresh_token": "old-token"}});
        let after = json!({"client_secret": "cs-very-secret", "credentials": {"refresh_token": "new-token-value"}});
        let mut patch = json_patch::diff(&before, &after);
        let mut s = s;
        s.learn_config(&after);
        s.redact_config_patch(&mut patch, &before);
        let text = serde_json::to_string(&patch).unwrap();
        assert!(
            !text.contains("cs-very-secret") && !text.contains("new-token-value"),
            "{text}"
        );
        assert!(patch.0.iter().any(|op| matches!(op, PatchOperation::Move(m) if m.from == "/credentials/client_secret" && m.path == "/client_secret")), "{text}");
        assert!(patch.0.iter().any(|op| matches!(op, PatchOperation::Replace(r) if r.path == "/credentials/refresh_token" && is_mask(&r.value))), "{text}");
    }
}
