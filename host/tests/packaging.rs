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

/// `cargo package` of the SDK, unpacked into `into`; returns the unpacked crate's folder.
fn packaged_rust_sdk(into: &Path) -> PathBuf {
    let target = tempfile::tempdir().unwrap();
    run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(cutover_tests::root())
            .args([
                "package",
                "-p",
                "cutover-plugin",
                "--no-verify",
                "--allow-dirty",
                "--target-dir",
            ])
            .arg(target.path())
            .env_remove("CARGO_TARGET_DIR"),
    );
    let package = target.path().join("package");
    let krate = std::fs::read_dir(&package)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "crate"))
        .expect("cargo package wrote a .crate");
    run(Command::new("tar")
        .arg("xzf")
        .arg(&krate)
        .arg("-C")
        .arg(into));
    let name = krate.file_stem().unwrap().to_string_lossy().into_owned();
    let unpacked = into.join(&name);
    // The contract travels inside the crate, as a file (not a link into the repository).
    let wit = unpacked.join("wit/migration.wit");
    assert!(
        wit.is_file() && !wit.symlink_metadata().unwrap().file_type().is_symlink(),
        "{name} does not carry its WIT"
    );
    assert!(
        name.starts_with("cutover-plugin-1.2."),
        "{name}: the SDK's version follows contract 1.2.0"
    );
    unpacked
}

/// Copies a folder, following links (the SDK's `wit` is a link into the repository's).
fn copy_resolved(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            if path.file_name().unwrap() != "__pycache__" {
                copy_resolved(&path, &target);
            }
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The Python SDK built as an sdist and a wheel (from the sdist, as `python -m build`
/// does), installed into a new virtual environment; returns that environment's `bin`.
fn installed_python_sdk(work: &Path) -> PathBuf {
    let source = work.join("sdk-source");
    copy_resolved(&cutover_tests::root().join("plugins/python/sdk"), &source);
    let venv = work.join("venv");
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
    let bin = venv.join("bin");
    run(Command::new(bin.join("pip")).args(["install", "--quiet", "build"]));
    let dist = work.join("dist");
    run(Command::new(bin.join("python"))
        .args(["-m", "build", "--outdir"])
        .arg(&dist)
        .arg(&source));
    let files: Vec<String> = std::fs::read_dir(&dist)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let wheel = files.iter().find(|f| f.ends_with(".whl")).expect("a wheel");
    assert!(
        files.iter().any(|f| f.ends_with(".tar.gz")),
        "no sdist in {files:?}"
    );
    let (name, version) = cutover::author::scaffold::python_sdk();
    assert!(
        wheel.starts_with(&format!("{}-{version}-", name.replace('-', "_"))),
        "{wheel}"
    );
    run(Command::new(bin.join("pip"))
        .args(["install", "--quiet"])
        .arg(dist.join(wheel)));
    bin
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
    let sdk = packaged_rust_sdk(outside.path());
    let python = installed_python_sdk(outside.path());
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
    std::fs::write(
        crate_dir.join("Cargo.toml"),
        format!(
            "{manifest}\n[patch.crates-io]\ncutover-plugin = {{ path = {:?} }}\n",
            sdk.display().to_string()
        ),
    )
    .unwrap();
    let test = cutover(&author, &["plugin", "test", "source-example-v2"], no_env).expect(0);
    assert!(
        test.stdout.contains("1 passed, 0 failed"),
        "{}",
        test.stdout
    );
    let lock = std::fs::read_to_string(crate_dir.join("Cargo.lock")).unwrap();
    assert!(
        lock.contains("name = \"cutover-plugin\"") && !lock.contains(&root.display().to_string()),
        "the scaffold built against the checkout:\n{lock}"
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
