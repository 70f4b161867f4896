//! The SDKs as packages, used from outside this repository: `cutover-plugin` packaged with
//! `cargo package` and the Python SDK built as an sdist and a wheel, a plugin scaffolded by
//! `cutover plugin new` in a folder outside the checkout, built and tested against those
//! packages (the unpacked `.crate` through `[patch.crates-io]`, the wheel through `pip
//! install`), signed, published to a real registry, and installed into a fleet elsewhere
//! that plans, applies and rolls back with it.

use cutover_tests::registry::{self, Registry, USER};
use cutover_tests::{Run, SigningKey};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_cutover");
const NAMESPACE: &str = "authors";

/// Runs `cutover` from `cwd` as an author or operator outside the checkout: plugin builds
/// share the test kit's target directory (only for speed: nothing in it is the SDK), and
/// none of the outer build's settings leak in.
fn cutover(cwd: &Path, args: &[&str], env: &[(&str, String)]) -> Run {
    let target = cutover_tests::plugin_target_dir()
        .parent()
        .unwrap()
        .to_owned();
    let out = Command::new(BIN)
        .current_dir(cwd)
        .args(args)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUST_LOG")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_MAKEFLAGS")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("running cutover");
    Run::from(out)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The packaged SDK carries its contract as a file, and its version follows the contract.
fn check_packaged_rust_sdk(sdk: &Path) {
    let wit = sdk.join("wit/migration.wit");
    assert!(
        wit.is_file() && !wit.symlink_metadata().unwrap().file_type().is_symlink(),
        "{} does not carry its WIT",
        sdk.display()
    );
    let name = sdk.file_name().unwrap().to_string_lossy();
    assert!(
        name.starts_with("cutover-plugin-1.2."),
        "{name}: the SDK's version follows contract 1.2.0"
    );
}

/// The Python SDK was built as an sdist and a wheel of its own version, which carries the
/// contract.
fn check_python_sdk(built: &[PathBuf]) {
    let (name, version) = cutover::author::scaffold::python_sdk();
    let stem = format!("{}-{version}", name.replace('-', "_"));
    let names: Vec<String> = built
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&format!("{stem}.tar.gz"))
            && names
                .iter()
                .any(|n| n.starts_with(&stem) && n.ends_with(".whl")),
        "{names:?}"
    );
    let wheel = built
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "whl"))
        .unwrap();
    let listing = run(Command::new("python3")
        .args(["-m", "zipfile", "-l"])
        .arg(wheel));
    assert!(
        listing.contains("cutover_plugin/wit/migration.wit"),
        "{listing}"
    );
}

/// A fleet directory of its own: one connection per scaffolded plugin (its golden input),
/// installing from `registry` and trusting only `key`'s signatures.
fn operator_fleet(dir: &Path, registry: &Registry, key: &SigningKey, plugins: &[&Path]) {
    std::fs::create_dir_all(dir.join("connections")).unwrap();
    let mut settings = String::new();
    for (i, plugin) in plugins.iter().enumerate() {
        let input: serde_json::Value = serde_json::from_slice(
            &std::fs::read(plugin.join("fixtures/basic/input.json")).unwrap(),
        )
        .unwrap();
        let mut connection = input.clone();
        connection["id"] = format!("connection-{i}").into();
        std::fs::write(
            dir.join("connections").join(format!("connection-{i}.json")),
            serde_json::to_vec_pretty(&connection).unwrap(),
        )
        .unwrap();
        settings.push_str(&format!(
            "[connectors.\"{}\"]\ntarget = \"2.0.0\"\n\n",
            input["connector"].as_str().unwrap()
        ));
    }
    settings.push_str(&format!(
        "[registry.authors]\nurl = \"{}/{NAMESPACE}\"\nusername_env = \"AUTHORS_USER\"\npassword_env = \"AUTHORS_PASSWORD\"\nca_file = \"{}\"\n\n[trust]\nrequire_signed = true\n[trust.keys]\nauthor = \"{}\"\n",
        registry.host(),
        registry.ca_file().display(),
        key.public()
    ));
    std::fs::write(dir.join("cutover.toml"), settings).unwrap();
}

#[test]
fn plugins_scaffolded_outside_the_checkout_build_against_the_packaged_sdks_and_travel_through_a_registry()
 {
    if !registry::available() {
        return;
    }
    let registry = Registry::start();
    let outside = tempfile::tempdir().unwrap();
    let root = cutover_tests::root();
    assert!(!outside.path().starts_with(&root));
    check_packaged_rust_sdk(&cutover_tests::packaged_sdk());
    let (python, built) = cutover_tests::installed_python_sdk();
    check_python_sdk(&built);
    let author = outside.path().join("author");
    std::fs::create_dir_all(&author).unwrap();
    let no_env: &[(&str, String)] = &[];

    // Rust: the scaffold depends on the SDK by version; the packaged crate stands in for
    // the registry's.
    cutover(
        &author,
        &[
            "plugin",
            "new",
            "airbyte/source-example",
            "2.0.0",
            "--dir",
            ".",
        ],
        no_env,
    )
    .expect(0);
    let crate_dir = author.join("source-example-v2");
    let manifest = std::fs::read_to_string(crate_dir.join("Cargo.toml")).unwrap();
    assert!(
        manifest.contains(&format!(
            "cutover-plugin = \"^{}\"",
            cutover_plugin::VERSION
        )) && !manifest.contains("path"),
        "{manifest}"
    );
    cutover_tests::use_packaged_sdk(&crate_dir);
    let test = cutover(&author, &["plugin", "test", "source-example-v2"], no_env).expect(0);
    assert!(
        test.stdout.contains("1 passed, 0 failed"),
        "{}",
        test.stdout
    );
    // The SDK it was built with is the packaged one, not this repository's plugins/sdk.
    let metadata: serde_json::Value = serde_json::from_str(&run(Command::new(
        std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()),
    )
    .args(["metadata", "--format-version", "1", "--manifest-path"])
    .arg(crate_dir.join("Cargo.toml"))))
    .unwrap();
    let sdk_manifest = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "cutover-plugin")
        .expect("the scaffold depends on cutover-plugin")["manifest_path"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        Path::new(&sdk_manifest).starts_with(cutover_tests::packaged_sdk())
            && !Path::new(&sdk_manifest).starts_with(root.join("plugins")),
        "{sdk_manifest}"
    );

    // Python: the scaffold depends on the SDK by version and imports the installed wheel.
    let path = format!(
        "{}:{}",
        python.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let with_venv = [("PATH", path.clone())];
    cutover(
        &author,
        &[
            "plugin",
            "new",
            "airbyte/source-sample",
            "2.0.0",
            "--dir",
            ".",
            "--lang",
            "python",
        ],
        &with_venv,
    )
    .expect(0);
    let project = author.join("source-sample-v2");
    let pyproject = std::fs::read_to_string(project.join("pyproject.toml")).unwrap();
    let (sdk_name, sdk_version) = cutover::author::scaffold::python_sdk();
    assert!(
        pyproject.contains(&format!("dependencies = [\"{sdk_name}>={sdk_version},<")),
        "{pyproject}"
    );
    let unit = std::fs::read_to_string(project.join("tests/test_source_sample_v2.py")).unwrap();
    assert!(!unit.contains(&root.display().to_string()), "{unit}");
    run(Command::new(python.join("python"))
        .current_dir(&project)
        .args(["-m", "unittest", "discover", "-s", "tests"]));
    let test = cutover(&author, &["plugin", "test", "source-sample-v2"], &with_venv).expect(0);
    assert!(
        test.stdout.contains("1 passed, 0 failed"),
        "{}",
        test.stdout
    );

    // Build, sign, publish.
    let dist = author.join("dist");
    cutover(
        &author,
        &[
            "plugin",
            "build",
            "source-example-v2",
            "source-sample-v2",
            "--out",
            "dist",
        ],
        &with_venv,
    )
    .expect(0);
    let key = SigningKey::generate();
    let built: Vec<PathBuf> = ["source_example_v2.wasm", "source_sample_v2.wasm"]
        .iter()
        .map(|f| dist.join(f))
        .collect();
    for wasm in &built {
        key.sign(wasm);
    }
    let address = format!("{}/{NAMESPACE}", registry.host());
    let publisher = [
        ("CUTOVER_REGISTRY_USERNAME", USER.0.to_owned()),
        ("CUTOVER_REGISTRY_PASSWORD", USER.1.to_owned()),
        (
            "CUTOVER_REGISTRY_CA_FILE",
            registry.ca_file().display().to_string(),
        ),
    ];
    let mut args = vec!["plugin", "publish"];
    args.extend(built.iter().map(|p| p.to_str().unwrap()));
    args.push(&address);
    let out = cutover(&author, &args, &publisher).expect(0).stdout;
    assert_eq!(out.matches("signature as sha256-").count(), 2, "{out}");

    // Another directory: an operator's fleet installs them, plans, applies, rolls back.
    let fleet = outside.path().join("fleet");
    operator_fleet(&fleet, &registry, &key, &[&crate_dir, &project]);
    let operator = [
        ("AUTHORS_USER", USER.0.to_owned()),
        ("AUTHORS_PASSWORD", USER.1.to_owned()),
    ];
    let fleet_arg = fleet.to_str().unwrap();
    let before: Vec<Vec<u8>> = (0..2)
        .map(|i| std::fs::read(fleet.join(format!("connections/connection-{i}.json"))).unwrap())
        .collect();
    let installed = cutover(
        &fleet,
        &[
            "--fleet",
            fleet_arg,
            "plugin",
            "install",
            "airbyte/source-example",
            "airbyte/source-sample",
        ],
        &operator,
    )
    .expect(0)
    .stdout;
    assert_eq!(
        installed.matches("signed by author").count(),
        2,
        "{installed}"
    );
    for wasm in &built {
        assert_eq!(
            std::fs::read(fleet.join("plugins").join(wasm.file_name().unwrap())).unwrap(),
            std::fs::read(wasm).unwrap()
        );
    }
    let plan = cutover(&fleet, &["--fleet", fleet_arg, "plan", "--all"], &operator)
        .expect(0)
        .stdout;
    assert!(
        plan.contains("source_example_v2.wasm") || plan.contains("2.0.0"),
        "{plan}"
    );
    cutover(&fleet, &["--fleet", fleet_arg, "apply", "--all"], &operator).expect(0);
    for i in 0..2 {
        let doc: serde_json::Value = serde_json::from_slice(
            &std::fs::read(fleet.join(format!("connections/connection-{i}.json"))).unwrap(),
        )
        .unwrap();
        assert_eq!(doc["version"], "2.0.0");
    }
    cutover(&fleet, &["--fleet", fleet_arg, "rollback"], &operator).expect(0);
    for (i, bytes) in before.iter().enumerate() {
        assert_eq!(
            &std::fs::read(fleet.join(format!("connections/connection-{i}.json"))).unwrap(),
            bytes
        );
    }
}
