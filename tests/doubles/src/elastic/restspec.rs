//! Elasticsearch's own REST API spec format (`rest-api-spec/api/<name>.json`): for each API,
//! its paths with their `{parts}`, methods, query parameters and their types, whether it
//! takes a body, and the content types it accepts. Every request the double serves is
//! matched to one API and checked against it, so a client that calls an endpoint the way
//! Elasticsearch would not take it fails the test.

use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::BTreeMap;

/// One API of the spec.
#[derive(Debug)]
pub struct Api {
    pub name: String,
    paths: Vec<(Vec<Segment>, Vec<String>)>,
    params: BTreeMap<String, Value>,
    /// `Some(true)`: a body is required; `Some(false)`: allowed; `None`: the API takes none.
    body: Option<bool>,
    content_types: Vec<String>,
}

#[derive(Debug, PartialEq)]
enum Segment {
    Literal(String),
    Part(String),
}

/// A request matched to its API, with the values of the path's parts and the query.
#[derive(Debug)]
pub struct Call<'a> {
    pub api: &'a Api,
    pub parts: BTreeMap<String, String>,
    pub query: BTreeMap<String, String>,
}

/// The APIs of a folder of spec files.
pub struct RestSpec {
    apis: Vec<Api>,
}

impl RestSpec {
    /// Reads the given spec files' text.
    pub fn load(files: &[&str]) -> Result<Self> {
        let mut apis = Vec::new();
        for text in files {
            let doc: Value = serde_json::from_str(text).context("a REST API spec is not JSON")?;
            let (name, api) = doc
                .as_object()
                .and_then(|o| o.iter().next())
                .context("a REST API spec names one API")?;
            let mut paths = Vec::new();
            for path in api["url"]["paths"].as_array().context("url.paths")? {
                let template = path["path"].as_str().context("path")?;
                let segments = template
                    .split('/')
                    .skip(1)
                    .map(
                        |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                            Some(part) => Segment::Part(part.to_owned()),
                            None => Segment::Literal(s.to_owned()),
                        },
                    )
                    .collect();
                let methods = path["methods"]
                    .as_array()
                    .context("methods")?
                    .iter()
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect();
                paths.push((segments, methods));
            }
            let params = api
                .get("params")
                .and_then(Value::as_object)
                .map(|p| p.clone().into_iter().collect())
                .unwrap_or_default();
            let body = api
                .get("body")
                .map(|b| b.get("required").and_then(Value::as_bool).unwrap_or(false));
            let content_types = api["headers"]["content_type"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|c| c.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            apis.push(Api {
                name: name.clone(),
                paths,
                params,
                body,
                content_types,
            });
        }
        Ok(Self { apis })
    }

    /// The API a request calls, checked against its spec: the error says what is wrong as
    /// Elasticsearch would refuse it.
    pub fn check<'a>(
        &'a self,
        method: &str,
        path: &str,
        query: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Call<'a>> {
        let segments: Vec<String> = path.split('/').skip(1).map(percent_decode).collect();
        // A literal segment beats a part (`/_connector/_sync_job` is not connector `_sync_job`).
        let mut best: Option<(usize, &Api, BTreeMap<String, String>, bool)> = None;
        for api in &self.apis {
            for (template, methods) in &api.paths {
                if template.len() != segments.len() {
                    continue;
                }
                let mut parts = BTreeMap::new();
                let mut literals = 0;
                let matched = template.iter().zip(&segments).all(|(t, s)| match t {
                    Segment::Literal(l) => {
                        literals += 1;
                        l == s
                    }
                    Segment::Part(p) => {
                        parts.insert(p.clone(), s.clone());
                        !s.is_empty()
                    }
                });
                let method_ok = methods.iter().any(|m| m == method);
                // More literal segments win; on a tie, the API that takes the method.
                if matched
                    && best.as_ref().is_none_or(|(n, _, _, ok)| {
                        literals > *n || (literals == *n && method_ok && !ok)
                    })
                {
                    best = Some((literals, api, parts, method_ok));
                }
            }
        }
        let Some((_, api, parts, method_ok)) = best else {
            bail!("no handler found for uri [{path}] and method [{method}]")
        };
        if !method_ok {
            bail!(
                "Incorrect HTTP method for uri [{path}] and method [{method}], allowed by {}",
                api.name
            );
        }
        let mut params = BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (key, value) = (percent_decode(key), percent_decode(value));
            let Some(spec) = self.param(api, &key) else {
                bail!(
                    "request [{path}] contains unrecognized parameter: [{key}] ({} takes {})",
                    api.name,
                    api.params.keys().cloned().collect::<Vec<_>>().join(", ")
                );
            };
            check_param(&key, &value, spec)?;
            params.insert(key, value);
        }
        match (api.body, body.is_empty()) {
            (Some(true), true) => bail!("request body is required by {}", api.name),
            (None, false) => bail!(
                "request [{path}] does not support having a body ({})",
                api.name
            ),
            _ => {}
        }
        if !body.is_empty() {
            let ct = content_type
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            if !api.content_types.contains(&ct) {
                bail!(
                    "Content-Type header [{ct}] is not supported by {} ({})",
                    api.name,
                    api.content_types.join(", ")
                );
            }
            serde_json::from_slice::<Value>(body)
                .map_err(|e| anyhow::anyhow!("the body of {} is not JSON: {e}", api.name))?;
        }
        Ok(Call {
            api,
            parts,
            query: params,
        })
    }

    fn param<'a>(&self, api: &'a Api, key: &str) -> Option<&'a Value> {
        api.params.get(key)
    }
}

fn check_param(key: &str, value: &str, spec: &Value) -> Result<()> {
    let ok = match spec["type"].as_str().unwrap_or("string") {
        "int" | "long" | "number" => value.parse::<i64>().is_ok(),
        "boolean" => matches!(value, "true" | "false" | ""),
        "enum" => spec["options"]
            .as_array()
            .is_some_and(|o| o.iter().any(|x| x == value)),
        _ => true,
    };
    if !ok {
        bail!(
            "parameter [{key}] of type {} cannot take [{value}]",
            spec["type"]
        );
    }
    Ok(())
}

/// `%2F` → `/`, `+` kept (Elasticsearch reads `+` in a path as itself).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> RestSpec {
        RestSpec::load(
            &super::super::SPECS
                .iter()
                .map(|(_, t)| *t)
                .collect::<Vec<_>>(),
        )
        .unwrap()
    }

    #[test]
    fn matches_paths_methods_parameters_and_bodies() {
        let s = spec();
        let call = s.check("GET", "/_connector/crm", "", None, b"").unwrap();
        assert_eq!(
            (call.api.name.as_str(), call.parts["connector_id"].as_str()),
            ("connector.get", "crm")
        );
        assert_eq!(
            s.check(
                "GET",
                "/_connector/_sync_job",
                "connector_id=crm&from=0&size=100",
                None,
                b""
            )
            .unwrap()
            .api
            .name,
            "connector.sync_job_list"
        );
        assert!(
            s.check("GET", "/_connector", "size=ten", None, b"")
                .unwrap_err()
                .to_string()
                .contains("size")
        );
        assert!(
            s.check("GET", "/_connector", "if_seq_no=3", None, b"")
                .unwrap_err()
                .to_string()
                .contains("unrecognized parameter")
        );
        assert!(
            s.check(
                "PUT",
                "/_connector/crm/_configuration",
                "",
                Some("application/json"),
                b""
            )
            .unwrap_err()
            .to_string()
            .contains("body is required")
        );
        assert!(
            s.check(
                "PUT",
                "/_connector/crm/_configuration",
                "",
                Some("text/plain"),
                b"{}"
            )
            .unwrap_err()
            .to_string()
            .contains("Content-Type")
        );
        assert!(
            s.check("POST", "/_connector/crm", "", None, b"")
                .unwrap_err()
                .to_string()
                .contains("Incorrect HTTP method")
        );
        assert!(
            s.check(
                "PUT",
                "/_connector/_sync_job/j1/_cancel",
                "",
                Some("application/json"),
                b"{}"
            )
            .unwrap_err()
            .to_string()
            .contains("does not support having a body")
        );
        assert_eq!(
            s.check("GET", "/.elastic-connectors/_doc/crm", "", None, b"")
                .unwrap()
                .parts["index"],
            ".elastic-connectors"
        );
        assert_eq!(
            s.check(
                "POST",
                "/_connector/_sync_job",
                "",
                Some("application/json"),
                b"{\"id\":\"crm\"}"
            )
            .unwrap()
            .api
            .name,
            "connector.sync_job_post"
        );
    }
}
