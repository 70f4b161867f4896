//! Plugins through a real OCI registry (the Distribution registry, over TLS with a CA of
//! the test's own and basic auth): publish, search, install with digest and signature
//! checked against the fleet's `[trust]`, then plan, apply and rollback with what was
//! installed; and every way an artifact or a registry can be wrong refused with exit 2,
//! a reason, and nothing written to the plugins directory.

use cutover::distribution::artifact::{self, Description};
use cutover::distribution::client::{Endpoint, RegistryClient};
use cutover_tests::registry::{self, Registry, USER};
use cutover_tests::{Fleet, Run, SigningKey, plugin};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");
const NAMESPACE: &str = "cutover-plugins";

/// Starts a registry, or says why the test cannot run.
fn registry() -> Option<Registry> {
    registry::available().then(Registry::start)
}

/// The environment `cutover plugin publish` (and the fleets below) take credentials and
/// the CA from.
fn env(registry: &Registry) -> Vec<(&'static str, String)> {
    vec![
        ("CUTOVER_REGISTRY_USERNAME", USER.0.to_owned()),
        ("CUTOVER_REGISTRY_PASSWORD", USER.1.to_owned()),
        (
            "CUTOVER_REGISTRY_CA_FILE",
            registry.ca_file().display().to_string(),
        ),
        ("TEST_REGISTRY_USER", USER.0.to_owned()),
        ("TEST_REGISTRY_PASSWORD", USER.1.to_owned()),
    ]
}

fn run(fleet: &Path, args: &[&str], env: &[(&str, String)]) -> Run {
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    cutover_tests::cutover_with_env(BIN, fleet, args, &env)
}

/// Copies a built plugin into `dir` (signed with `key`, when given), as its author has it.
fn authored(dir: &Path, package: &str, key: Option<&SigningKey>) -> PathBuf {
    let built = plugin(package);
    let to = dir.join(built.file_name().unwrap());
    std::fs::copy(&built, &to).unwrap();
    if let Some(key) = key {
        key.sign(&to);
    }
    to
}

fn publish(registry: &Registry, files: &[&Path]) -> Run {
    let address = format!("{}/{NAMESPACE}", registry.host());
    let mut args = vec!["plugin", "publish"];
    args.extend(files.iter().map(|f| f.to_str().unwrap()));
    args.push(&address);
    run(Path::new("."), &args, &env(registry)).expect(0)
}

/// The `[registry]` and `[trust]` settings of a fleet that installs from `registry`.
fn registry_settings(address: &str, ca: &Path, trust: &str) -> String {
    format!(
        "[registry.test]\nurl = \"{address}/{NAMESPACE}\"\nusername_env = \"TEST_REGISTRY_USER\"\npassword_env = \"TEST_REGISTRY_PASSWORD\"\nca_file = \"{}\"\n\n[trust]\n{trust}\n",
        ca.display()
    )
}

/// The example fleet (six connections, two connectors) with no plugins, installing from
/// `registry` and trusting `key`.
fn example_fleet(registry: &Registry, key: &SigningKey, require_signed: bool) -> Fleet {
    let fleet = Fleet::example();
    for entry in std::fs::read_dir(fleet.path().join("plugins")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let settings = std::fs::read_to_string(fleet.path().join("cutover.toml")).unwrap();
    let trust = format!(
        "require_signed = {require_signed}\n[trust.keys]\npublisher = \"{}\"",
        key.public()
    );
    std::fs::write(
        fleet.path().join("cutover.toml"),
        format!(
            "{settings}\n{}",
            registry_settings(&registry.host(), &registry.ca_file(), &trust)
        ),
    )
    .unwrap();
    fleet
}

/// The files in a fleet's plugins directory, with their bytes.
fn plugins_dir(fleet: &Fleet) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(fleet.path().join("plugins"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// `args` exits 2 with `expected` in its error, and the plugins directory is as it was.
fn refused(fleet: &Fleet, args: &[&str], env: &[(&str, String)], expected: &str) -> String {
    let before = plugins_dir(fleet);
    let err = run(fleet.path(), args, env).expect(2).stderr;
    assert!(
        err.contains(expected),
        "{args:?}: expected {expected:?} in:\n{err}"
    );
    assert_eq!(
        plugins_dir(fleet),
        before,
        "{args:?} wrote to the plugins directory"
    );
    err
}

#[test]
fn the_catalogue_is_published_and_a_fleet_installs_what_its_chains_need_then_plans_applies_and_rolls_back()
 {
    let Some(registry) = registry() else { return };
    let key = SigningKey::generate();
    let author = tempfile::tempdir().unwrap();
    // Every plugin of the catalogue (the Rust and Elastic crates), in one command.
    let packages: Vec<String> = cutover_tests::plugin_crates()
        .iter()
        .chain(&cutover_tests::elastic_plugin_crates())
        .map(|dir| {
            let text = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
            let doc: toml::Table = text.parse().unwrap();
            doc["package"]["name"].as_str().unwrap().to_owned()
        })
        .collect();
    let files: Vec<PathBuf> = packages
        .iter()
        .map(|p| authored(author.path(), p, Some(&key)))
        .collect();
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let out = publish(&registry, &refs).stdout;
    assert_eq!(
        out.lines().filter(|l| l.starts_with("Published ")).count(),
        files.len(),
        "{out}"
    );
    assert!(!out.contains("unsigned"), "{out}");

    // Each is in the registry in the Wasm layout, its layer the component's own bytes.
    let mut endpoint =
        Endpoint::parse("test", &format!("{}/{NAMESPACE}", registry.host())).unwrap();
    endpoint.credentials = Some((USER.0.into(), USER.1.into()));
    endpoint.ca_file = Some(registry.ca_file());
    let client = RegistryClient::new(&endpoint).unwrap();
    let pinterest_v2 = std::fs::read(plugin("source-pinterest-v2")).unwrap();
    let (manifest, digest) = client
        .manifest(&format!("{NAMESPACE}/airbyte/source-pinterest"), "2.0.0")
        .unwrap()
        .expect("source-pinterest 2.0.0 is published");
    assert_eq!(manifest.config.media_type, artifact::CONFIG_MEDIA_TYPE);
    assert_eq!(manifest.layers.len(), 1);
    assert_eq!(manifest.layers[0].media_type, artifact::LAYER_MEDIA_TYPE);
    let sha = cutover_tests::sha256(&pinterest_v2);
    assert_eq!(manifest.layers[0].digest, format!("sha256:{sha}"));
    let annotations = manifest.annotations.clone().unwrap();
    assert_eq!(
        annotations[artifact::keys::CONNECTOR],
        "airbyte/source-pinterest"
    );
    assert_eq!(annotations[artifact::keys::PRODUCES], "2.0.0");
    assert_eq!(annotations[artifact::keys::SHA256], sha);
    assert!(annotations.contains_key(artifact::keys::CONTRACT));
    let (signature, _) = client
        .signature_manifest(&format!("{NAMESPACE}/airbyte/source-pinterest"), &digest)
        .unwrap()
        .expect("its signature is published beside it");
    assert_eq!(signature.subject.unwrap().digest, digest);

    // The operator: search, install what the chains need, plan, apply, roll back.
    let fleet = example_fleet(&registry, &key, true);
    let env = env(&registry);
    let before = fleet.documents();
    let status = run(fleet.path(), &["status"], &env).expect(0).stdout;
    assert!(
        status.contains("cutover plugin install airbyte/source-pinterest@2.0.0")
            && status.contains("from registry test"),
        "{status}"
    );
    let plan = run(fleet.path(), &["plan", "--all"], &env).stdout;
    assert!(
        plan.contains("cutover plugin install airbyte/source-pinterest@1.0.0")
            && plan.contains("cutover plugin install airbyte/source-pinterest@2.0.0"),
        "{plan}"
    );
    let search = run(fleet.path(), &["plugin", "search"], &env)
        .expect(0)
        .stdout;
    assert!(
        search.contains("airbyte/source-pinterest:")
            && search.contains("(needed by the fleet)")
            && search.contains("signed"),
        "{search}"
    );
    let out = run(fleet.path(), &["plugin", "install", "--all-needed"], &env)
        .expect(0)
        .stdout;
    let installed: BTreeSet<String> = plugins_dir(&fleet)
        .into_iter()
        .map(|(f, _)| f)
        .filter(|f| f.ends_with(".wasm"))
        .collect();
    assert_eq!(
        installed,
        BTreeSet::from([
            "source_pinterest_v1.wasm".to_owned(),
            "source_pinterest_v2.wasm".to_owned()
        ]),
        "{out}"
    );
    assert!(out.contains("signed by publisher"), "{out}");
    let lock = std::fs::read_to_string(fleet.path().join("plugins/plugins.lock")).unwrap();
    assert!(lock.contains(&sha), "{lock}");
    assert_eq!(
        std::fs::read(fleet.path().join("plugins/source_pinterest_v2.wasm")).unwrap(),
        pinterest_v2
    );
    // Installing again needs nothing more.
    let again = run(fleet.path(), &["plugin", "install", "--all-needed"], &env)
        .expect(0)
        .stdout;
    assert!(again.contains("need no plugin"), "{again}");

    run(fleet.path(), &["plan", "--all"], &env).expect(0);
    run(fleet.path(), &["apply", "--all"], &env).expect(0);
    assert_ne!(fleet.documents(), before, "apply changed nothing");
    let legacy = fleet.read("pinterest-legacy-us");
    assert_eq!(legacy["version"], "2.0.0");
    run(fleet.path(), &["rollback"], &env).expect(0);
    assert_eq!(fleet.documents(), before, "rollback restores every byte");
}

/// A registry with source-pinterest 2.0.0 published (signed by `key` when given), and a
/// fleet of one connection that needs it.
struct Published {
    registry: Registry,
    fleet: Fleet,
    key: SigningKey,
    client: RegistryClient,
    repository: String,
}

fn published(sign: bool, require_signed: bool) -> Option<Published> {
    let registry = registry()?;
    let key = SigningKey::generate();
    let author = tempfile::tempdir().unwrap();
    let file = authored(author.path(), "source-pinterest-v2", None);
    if sign {
        // The author signs as they publish, with their minisign secret key.
        let secret = key.write_secret(author.path());
        let address = format!("{}/{NAMESPACE}", registry.host());
        let args = [
            "plugin",
            "publish",
            file.to_str().unwrap(),
            &address,
            "--key",
            secret.to_str().unwrap(),
        ];
        let out = run(Path::new("."), &args, &env(&registry)).expect(0).stdout;
        assert!(out.contains("signature as sha256-"), "{out}");
    } else {
        publish(&registry, &[&file]);
    }
    let fleet = example_fleet(&registry, &key, require_signed);
    let mut endpoint =
        Endpoint::parse("test", &format!("{}/{NAMESPACE}", registry.host())).unwrap();
    endpoint.credentials = Some((USER.0.into(), USER.1.into()));
    endpoint.ca_file = Some(registry.ca_file());
    let client = RegistryClient::new(&endpoint).unwrap();
    Some(Published {
        registry,
        fleet,
        key,
        client,
        repository: format!("{NAMESPACE}/airbyte/source-pinterest"),
    })
}

const INSTALL: &[&str] = &["plugin", "install", "airbyte/source-pinterest@2.0.0"];

#[test]
fn a_layer_whose_bytes_are_not_its_digest_is_refused() {
    let Some(p) = published(true, true) else {
        return;
    };
    let (manifest, _) = p.client.manifest(&p.repository, "2.0.0").unwrap().unwrap();
    let blob = p.registry.blob_file(&manifest.layers[0].digest);
    let mut bytes = std::fs::read(&blob).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&blob, &bytes).unwrap();
    refused(
        &p.fleet,
        INSTALL,
        &env(&p.registry),
        "do not match their digest",
    );
}

#[test]
fn a_partially_downloaded_layer_is_refused() {
    let Some(p) = published(true, true) else {
        return;
    };
    let (manifest, _) = p.client.manifest(&p.repository, "2.0.0").unwrap().unwrap();
    let blob = p.registry.blob_file(&manifest.layers[0].digest);
    let bytes = std::fs::read(&blob).unwrap();
    std::fs::write(&blob, &bytes[..bytes.len() / 3]).unwrap();
    let err = refused(&p.fleet, INSTALL, &env(&p.registry), "nothing was written");
    assert!(
        err.contains("cut short") || err.contains("do not match their digest"),
        "{err}"
    );
}

#[test]
fn an_unsigned_plugin_is_refused_when_the_fleet_requires_signatures() {
    let Some(p) = published(false, true) else {
        return;
    };
    refused(
        &p.fleet,
        INSTALL,
        &env(&p.registry),
        "the registry has no signature for it",
    );
}

#[test]
fn a_plugin_signed_by_an_untrusted_key_is_refused() {
    let Some(registry) = registry() else { return };
    let author = tempfile::tempdir().unwrap();
    let stranger = SigningKey::generate();
    let file = authored(author.path(), "source-pinterest-v2", Some(&stranger));
    publish(&registry, &[&file]);
    let fleet = example_fleet(&registry, &SigningKey::generate(), true);
    refused(
        &fleet,
        INSTALL,
        &env(&registry),
        "not among the fleet's trusted keys",
    );
}

#[test]
fn a_signature_of_other_bytes_is_refused() {
    let Some(p) = published(true, true) else {
        return;
    };
    // The signature artifact of v2 replaced by a signature of v1's bytes, same key.
    let author = tempfile::tempdir().unwrap();
    let other = authored(author.path(), "source-pinterest-v1", Some(&p.key));
    let minisig = std::fs::read(other.with_file_name("source_pinterest_v1.wasm.minisig")).unwrap();
    let subject = p
        .client
        .descriptor(&p.repository, "2.0.0")
        .unwrap()
        .unwrap();
    p.client
        .push(
            &p.repository,
            &artifact::signature_tag(&subject.digest),
            artifact::signature(&minisig, subject),
        )
        .unwrap();
    refused(
        &p.fleet,
        INSTALL,
        &env(&p.registry),
        "signature does not match its bytes",
    );
}

/// The description cutover would publish for source-pinterest 2.0.0.
fn pinterest_v2_description(wasm: &[u8]) -> Description {
    Description {
        connector: "airbyte/source-pinterest".into(),
        applies_to: semver::VersionReq::parse(">=1.0.0, <2.0.0").unwrap(),
        produces: semver::Version::new(2, 0, 0),
        contract: "1.2.0".into(),
        sha256: cutover_tests::sha256(wasm),
        message: None,
    }
}

#[test]
fn an_artifact_of_another_media_type_is_refused() {
    let Some(p) = published(false, false) else {
        return;
    };
    let wasm = std::fs::read(plugin("source-pinterest-v2")).unwrap();
    let mut bad = artifact::component(&wasm, &pinterest_v2_description(&wasm), "x.wasm").unwrap();
    // The component as a container image layer.
    bad.layer.media_type = "application/vnd.oci.image.layer.v1.tar".into();
    bad.manifest.layers[0].media_type = bad.layer.media_type.clone();
    p.client.push(&p.repository, "2.0.0", bad).unwrap();
    // Search lists it as skipped, with the reason; install refuses it.
    let search = run(p.fleet.path(), &["plugin", "search"], &env(&p.registry))
        .expect(0)
        .stdout;
    assert!(
        search.contains("skipped") && search.contains("media type"),
        "{search}"
    );
    let err = refused(
        &p.fleet,
        INSTALL,
        &env(&p.registry),
        "its layer's media type is \"application/vnd.oci.image.layer.v1.tar\", not \"application/wasm\"",
    );
    assert!(err.contains("source-pinterest:2.0.0 was refused"), "{err}");
}

#[test]
fn an_artifact_whose_component_migrates_another_connector_than_its_annotation_is_refused() {
    let Some(p) = published(false, false) else {
        return;
    };
    // source-pinterest 2.0.0's component, published as source-hubspot's.
    let wasm = std::fs::read(plugin("source-pinterest-v2")).unwrap();
    let mut description = pinterest_v2_description(&wasm);
    description.connector = "airbyte/source-hubspot".into();
    let lie = artifact::component(&wasm, &description, "x.wasm").unwrap();
    p.client
        .push(&format!("{NAMESPACE}/airbyte/source-hubspot"), "2.0.0", lie)
        .unwrap();
    refused(
        &p.fleet,
        &["plugin", "install", "airbyte/source-hubspot@2.0.0"],
        &env(&p.registry),
        "annotated as a plugin of airbyte/source-hubspot, but the component's manifest migrates airbyte/source-pinterest",
    );
}

#[test]
fn a_registry_that_is_down_or_refuses_the_credentials_is_refused() {
    let Some(p) = published(false, false) else {
        return;
    };
    // Down: nothing listens where the fleet says the registry is.
    let settings = std::fs::read_to_string(p.fleet.path().join("cutover.toml")).unwrap();
    let down = settings.replace(&p.registry.host(), &registry::down());
    std::fs::write(p.fleet.path().join("cutover.toml"), &down).unwrap();
    refused(&p.fleet, INSTALL, &env(&p.registry), "cannot be reached");
    // 401: the registry is up, the password is wrong.
    std::fs::write(p.fleet.path().join("cutover.toml"), &settings).unwrap();
    let mut wrong = env(&p.registry);
    wrong.retain(|(k, _)| *k != "TEST_REGISTRY_PASSWORD");
    wrong.push(("TEST_REGISTRY_PASSWORD", "wrong".into()));
    refused(&p.fleet, INSTALL, &wrong, "refused the credentials (401)");
    // And a publisher without credentials.
    let author = tempfile::tempdir().unwrap();
    let file = authored(author.path(), "source-pinterest-v1", None);
    let address = format!("{}/{NAMESPACE}", p.registry.host());
    let err = run(
        Path::new("."),
        &["plugin", "publish", file.to_str().unwrap(), &address],
        &[(
            "CUTOVER_REGISTRY_CA_FILE",
            p.registry.ca_file().display().to_string(),
        )],
    )
    .expect(2)
    .stderr;
    assert!(err.contains("401"), "{err}");
}

#[test]
fn a_registry_whose_certificate_is_not_from_a_trusted_ca_is_refused() {
    let Some(p) = published(false, false) else {
        return;
    };
    let settings = std::fs::read_to_string(p.fleet.path().join("cutover.toml")).unwrap();
    let without_ca: String = settings
        .lines()
        .filter(|l| !l.starts_with("ca_file"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::write(p.fleet.path().join("cutover.toml"), without_ca).unwrap();
    let err = refused(&p.fleet, INSTALL, &env(&p.registry), "registry test");
    assert!(err.to_lowercase().contains("certificate"), "{err}");
}
