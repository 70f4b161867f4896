//! Names as the Airbyte Python CDK makes them, so a plugin can predict the stream names a
//! connector derives (from class names, from the names of reports a config defines).

use crate::{Error, Result};
use serde_json::Value;

/// The CDK's `casing.camel_to_snake`: `re.sub("(.)([A-Z][a-z]+)", r"\1_\2", s)`, then
/// `re.sub("([a-z0-9])([A-Z])", r"\1_\2", s)`, then `lower()`.
pub fn camel_to_snake(s: &str) -> String {
    let c: Vec<char> = s.chars().collect();
    let mut first = Vec::with_capacity(c.len() + 4);
    let mut i = 0;
    while i < c.len() {
        if c[i] != '\n'
            && i + 2 < c.len()
            && c[i + 1].is_ascii_uppercase()
            && c[i + 2].is_ascii_lowercase()
        {
            let mut j = i + 3;
            while j < c.len() && c[j].is_ascii_lowercase() {
                j += 1;
            }
            first.push(c[i]);
            first.push('_');
            first.extend_from_slice(&c[i + 1..j]);
            i = j;
        } else {
            first.push(c[i]);
            i += 1;
        }
    }
    let mut out = String::with_capacity(first.len() + 4);
    let mut i = 0;
    while i < first.len() {
        let a = first[i];
        if (a.is_ascii_lowercase() || a.is_ascii_digit())
            && i + 1 < first.len()
            && first[i + 1].is_ascii_uppercase()
        {
            out.push(a);
            out.push('_');
            out.push(first[i + 1]);
            i += 2;
        } else {
            out.push(a);
            i += 1;
        }
    }
    out.to_lowercase()
}

/// The stream names of the reports a config defines as a list under `key` (each with a
/// `name`), as a Python CDK connector derives them: `camel_to_snake(class_prefix + name)`.
/// source-facebook-marketing's custom insights are `("custom_insights", "Custom")`.
pub fn config_stream_names(config: &Value, key: &str, class_prefix: &str) -> Result<Vec<String>> {
    let Some(reports) = config.get(key) else {
        return Ok(Vec::new());
    };
    let Some(reports) = reports.as_array() else {
        return Err(Error::InvalidInput(format!("/{key} must be an array")));
    };
    reports
        .iter()
        .enumerate()
        .map(|(i, c)| match c.get("name").and_then(Value::as_str) {
            Some(name) => Ok(camel_to_snake(&format!("{class_prefix}{name}"))),
            None => Err(Error::InvalidInput(format!(
                "/{key}/{i}/name must be a string"
            ))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_like_the_cdk() {
        assert_eq!(camel_to_snake("Customasset_report"), "customasset_report");
        assert_eq!(camel_to_snake("CustomMyReport"), "custom_my_report");
        assert_eq!(camel_to_snake("CustomAbCDe"), "custom_ab_c_de");
        assert_eq!(camel_to_snake("CustomHTTPReport2x"), "custom_http_report2x");
        assert_eq!(camel_to_snake("Custom"), "custom");
        assert_eq!(camel_to_snake("CustomaBcDe"), "customa_bc_de");
        assert_eq!(camel_to_snake("Custom_Weird Name"), "custom__weird _name");
        assert_eq!(camel_to_snake("CustomAB"), "custom_ab");
    }

    #[test]
    fn names_the_reports_a_config_defines() {
        let config = serde_json::json!({"custom_insights": [{"name": "MyReport"}, {"name": "asset_report"}]});
        assert_eq!(
            config_stream_names(&config, "custom_insights", "Custom").unwrap(),
            vec!["custom_my_report", "customasset_report"]
        );
        assert!(
            config_stream_names(&serde_json::json!({}), "custom_insights", "Custom")
                .unwrap()
                .is_empty()
        );
        assert!(
            config_stream_names(
                &serde_json::json!({"custom_insights": [{}]}),
                "custom_insights",
                "Custom"
            )
            .is_err()
        );
    }
}
