//! Supply chain: plugins.lock, signatures, tampering. A refused plugin never runs and
//! nothing is written.

use cutover_tests::{Fleet, Run, SigningKey, hostile_connection, plugin};

fn cutover(fleet: &Fleet, args: &[&str]) -> Run {
    cutover_tests::cutover(env!("CARGO_BIN_EXE_cutover"), fleet.path(), args)
}

fn settings(extra: &str) -> String {
    format!("[connectors.\"test/source-hostile\"]\ntarget = \"2.0.0\"\n{extra}")
}

/// A fleet with one well-behaved hostile-plugin connection and no plugins yet.
fn fleet(extra: &str) -> Fleet {
    let fleet = Fleet::new(&settings(extra));
    fleet.write(&hostile_connection("c1", "none"));
    fleet
}

/// Plan and apply are both refused with `expected`, and nothing is written.
fn refused(fleet: &Fleet, expected: &str) {
    let before = fleet.documents();
    for args in [&["plan", "--all"][..], &["apply", "--all"][..]] {
        let err = cutover(fleet, args).expect(2).stderr;
        assert!(err.contains(expected), "{args:?}: {err}");
    }
    assert_eq!(fleet.documents(), before);
}

#[test]
fn plugins_add_pins_the_digest_and_tampering_is_caught() {
    let fleet = fleet("");
    let out = cutover(
        &fleet,
        &["plugins", "add", plugin("hostile-plugin").to_str().unwrap()],
    )
    .expect(0)
    .stdout;
    assert!(
        out.contains("Added hostile_plugin.wasm") && out.contains("unsigned"),
        "{out}"
    );
    let lock = std::fs::read_to_string(fleet.path().join("plugins/plugins.lock")).unwrap();
    assert!(
        lock.contains("file = \"hostile_plugin.wasm\"")
            && lock.contains(&cutover_tests::sha256(
                &std::fs::read(plugin("hostile-plugin")).unwrap()
            )),
        "{lock}"
    );
    cutover(&fleet, &["plan", "--all"]).expect(0);

    // One flipped byte in the middle of the component.
    let path = fleet.path().join("plugins/hostile_plugin.wasm");
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    refused(&fleet, "the file changed after it was added");

    // A plugin dropped in without `plugins add`.
    std::fs::write(&path, std::fs::read(plugin("hostile-plugin")).unwrap()).unwrap();
    cutover(&fleet, &["plan", "--all"]).expect(0);
    std::fs::copy(
        plugin("source-pinterest-v2"),
        fleet.path().join("plugins/source_pinterest_v2.wasm"),
    )
    .unwrap();
    refused(
        &fleet,
        "source_pinterest_v2.wasm refused: it is not in plugins.lock",
    );
}

#[test]
fn require_signed_refuses_unsigned_and_untrusted_plugins() {
    let author = SigningKey::generate();
    let stranger = SigningKey::generate();
    let fleet = fleet(&format!(
        "[trust]\nrequire_signed = true\n[trust.keys]\nacme = \"{}\"\n",
        author.public()
    ));
    fleet.add_plugin("hostile-plugin");
    refused(
        &fleet,
        "it is unsigned, and the fleet requires signed plugins",
    );

    let path = fleet.path().join("plugins/hostile_plugin.wasm");
    stranger.sign(&path);
    refused(
        &fleet,
        "signed by a key that is not among the fleet's trusted keys",
    );

    author.sign(&path);
    let list = cutover(&fleet, &["plugins", "list"]).expect(0).stdout;
    assert!(list.contains("signed by acme"), "{list}");
    cutover(&fleet, &["apply", "--all"]).expect(0);
    let history = cutover(&fleet, &["history", "--json"]).expect(0).json();
    assert_eq!(
        history[0]["changes"][0]["steps"][0]["plugin_signer"], "acme",
        "the ledger records the signer"
    );

    // Signed, then modified.
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"\0");
    std::fs::write(&path, bytes).unwrap();
    refused(&fleet, "its signature does not match its bytes");
}

#[test]
fn plugins_add_refuses_what_would_not_run() {
    let author = SigningKey::generate();
    let fleet = fleet(&format!(
        "[trust]\nrequire_signed = true\n[trust.keys]\nacme = \"{}\"\n",
        author.public()
    ));
    let err = cutover(
        &fleet,
        &["plugins", "add", plugin("hostile-plugin").to_str().unwrap()],
    )
    .expect(2)
    .stderr;
    assert!(
        err.contains("refused; nothing was added") && err.contains("unsigned"),
        "{err}"
    );
    // Signed by a trusted key, and still over-privileged.
    let staged = tempfile::tempdir().unwrap();
    let forbidden = staged.path().join("forbidden_plugin.wasm");
    std::fs::copy(plugin("forbidden-plugin"), &forbidden).unwrap();
    author.sign(&forbidden);
    let err = cutover(&fleet, &["plugins", "add", forbidden.to_str().unwrap()])
        .expect(2)
        .stderr;
    assert!(err.contains("wasi:filesystem/"), "{err}");
    assert!(!fleet.path().join("plugins/plugins.lock").exists());
    assert_eq!(
        std::fs::read_dir(fleet.path().join("plugins"))
            .unwrap()
            .count(),
        0
    );

    // Signed: added with its signature, the signer pinned in the lock.
    let copy = staged.path().join("hostile_plugin.wasm");
    std::fs::copy(plugin("hostile-plugin"), &copy).unwrap();
    author.sign(&copy);
    let out = cutover(&fleet, &["plugins", "add", copy.to_str().unwrap()])
        .expect(0)
        .stdout;
    assert!(out.contains("signed by acme"), "{out}");
    assert!(
        fleet
            .path()
            .join("plugins/hostile_plugin.wasm.minisig")
            .exists()
    );
    let lock = std::fs::read_to_string(fleet.path().join("plugins/plugins.lock")).unwrap();
    assert!(lock.contains("signer = \"acme\""), "{lock}");
}

#[test]
fn the_compile_cache_is_keyed_and_checked() {
    let fleet = fleet("");
    fleet.add_plugin("hostile-plugin");
    cutover(&fleet, &["plan", "--all"]).expect(0);
    let cache = fleet.path().join(".cutover/cache");
    let entries: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let code = entries
        .iter()
        .find(|p| p.extension().is_some_and(|e| e == "cwasm"))
        .expect("a cached component");
    let sha = cutover_tests::sha256(&std::fs::read(plugin("hostile-plugin")).unwrap());
    assert!(
        code.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(&sha),
        "keyed by the plugin digest: {code:?}"
    );

    // A corrupted entry is not loaded: it is recompiled, and the run is unaffected.
    let mut bytes = std::fs::read(code).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(code, &bytes).unwrap();
    cutover(&fleet, &["apply", "--all"]).expect(0);
    assert_eq!(fleet.read("c1")["config"]["migrated"], true);
    assert_ne!(
        std::fs::read(code).unwrap(),
        bytes,
        "the bad entry was replaced"
    );
}
