//! The example fleet's connections, loaded into a double as a deployment would hold them:
//! source-pinterest defined with its real specs and breaking changes
//! (`tests/fixtures/source-pinterest`), its default at 2.0.0, and each connection's source
//! pinned where the platform pins it (its old version, origin `breaking_change`) or where
//! its owner did (`user`); source-github at the version its connection runs, as a
//! self-managed deployment holds it before its operator moves the default.

use super::{AirbyteDouble, BreakingChange, ConnectorSeed, seed_from_document};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The workspace root.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display())),
    )
    .expect("JSON")
}

/// One seeded connection.
#[derive(Clone, Debug)]
pub struct Seeded {
    /// The document it came from (`pinterest-ads-eu`).
    pub document_id: String,
    pub connection_id: String,
    pub source_id: String,
    /// The document, as the directory fleet holds it.
    pub document: Value,
}

/// The breaking changes of a connector's `metadata.yaml`.
pub fn breaking_changes(metadata: &Path) -> Vec<BreakingChange> {
    let yaml: Value =
        serde_yaml::from_str(&std::fs::read_to_string(metadata).expect("metadata.yaml"))
            .expect("YAML");
    let url = yaml
        .pointer("/data/documentationUrl")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut changes: Vec<BreakingChange> = yaml
        .pointer("/data/releases/breakingChanges")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(version, c)| BreakingChange {
            version: version.clone(),
            message: c["message"].as_str().unwrap_or_default().to_owned(),
            upgrade_deadline: c["upgradeDeadline"].as_str().unwrap_or_default().to_owned(),
            documentation_url: c
                .get("migrationDocumentationUrl")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .unwrap_or_else(|| format!("{url}-migrations#{version}")),
            deadline_action: c
                .get("deadlineAction")
                .and_then(Value::as_str)
                .map(str::to_owned),
            scoped_streams: c
                .get("scopedImpact")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .flat_map(|s| s["impactedScopes"].as_array().cloned().unwrap_or_default())
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect(),
        })
        .collect();
    changes.sort_by(|a, b| a.version.cmp(&b.version));
    changes
}

/// Defines source-pinterest in the double: the versions the example fleet's connections run
/// and the target, with real specs. 1.1.0 and 1.2.0 ship the very spec of 1.3.3 (their PyPI
/// packages' `spec.json` are identical); 0.8.2 was never published to PyPI, and a 0.x
/// `spec.json` from the connector's repository stands in for it (`0.x/extract.sh`).
pub fn define_pinterest(double: &AirbyteDouble) -> String {
    define_pinterest_at(double, "2.0.0")
}

/// [`define_pinterest`] with its default at another version: a self-managed deployment
/// before its operator moves the default.
pub fn define_pinterest_at(double: &AirbyteDouble, default_version: &str) -> String {
    let fixtures = root().join("tests/fixtures/source-pinterest");
    let v0 = json(&fixtures.join("0.x/spec.json"));
    let v1 = json(&fixtures.join("1.3.3/spec.json"));
    let v2 = json(&fixtures.join("2.0.0/spec.json"));
    double.define_connector(ConnectorSeed {
        repository: "airbyte/source-pinterest".into(),
        name: "Pinterest".into(),
        versions: vec![
            ("0.8.2".into(), v0),
            ("1.1.0".into(), v1.clone()),
            ("1.2.0".into(), v1.clone()),
            ("1.3.3".into(), v1),
            ("2.0.0".into(), v2),
        ],
        default_version: default_version.into(),
        breaking: breaking_changes(&fixtures.join("metadata.yaml")),
    })
}

/// Defines source-github in the double, its default at 1.5.7 (the example connection's
/// version) and 1.8.1 known, no breaking change between them (the first is 2.0.0). Neither
/// version was extracted; the 1.9.2 `spec.json` (`tests/fixtures/source-github`), a 1.x
/// spec that accepts the example's config, stands in for both.
pub fn define_github(double: &AirbyteDouble) -> String {
    let fixtures = root().join("tests/fixtures/source-github");
    let spec = json(&fixtures.join("1.9.2/spec.json"));
    double.define_connector(ConnectorSeed {
        repository: "airbyte/source-github".into(),
        name: "GitHub".into(),
        versions: vec![("1.5.7".into(), spec.clone()), ("1.8.1".into(), spec)],
        default_version: "1.5.7".into(),
        breaking: breaking_changes(&fixtures.join("metadata.yaml")),
    })
}

/// Loads every source-pinterest connection of `examples/fleet` into the double.
pub fn example_pinterest(double: &AirbyteDouble) -> Vec<Seeded> {
    let definition = define_pinterest(double);
    load(double, "airbyte/source-pinterest", &definition)
}

/// Loads every connection of `examples/fleet` (Pinterest and GitHub) into the double.
pub fn example_fleet(double: &AirbyteDouble) -> Vec<Seeded> {
    let mut seeded = example_pinterest(double);
    let github = define_github(double);
    seeded.extend(load(double, "airbyte/source-github", &github));
    seeded
}

/// Loads the example fleet's connections of one connector.
fn load(double: &AirbyteDouble, connector: &str, definition: &str) -> Vec<Seeded> {
    let dir = root().join("examples/fleet/connections");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("examples/fleet/connections")
        .map(|e| e.expect("an entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| json(&f))
        .filter(|doc| doc["connector"] == connector)
        .map(|document| {
            let (connection_id, source_id) =
                double.add_connection(seed_from_document(&document, definition));
            Seeded {
                document_id: document["id"].as_str().expect("an id").to_owned(),
                connection_id,
                source_id,
                document,
            }
        })
        .collect()
}
