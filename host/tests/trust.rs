//! Supply chain: plugins.lock, signatures, tampering. A refused plugin never runs and
//! nothing is written.

use cutover::registry::Registry;
use cutover::sandbox::{CompileCache, Limits, Sandbox};
use cutover::trust::Trust;
use cutover_tests::{Fleet, Run, SigningKey, hostile_connection, plugin};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

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

/// The registry as `cutover plan` loads it: with the fleet's compile cache.
fn registry(fleet: &Fleet, sandbox: &Sandbox) -> anyhow::Result<Registry> {
    Registry::load(
        &fleet.path().join("plugins"),
        sandbox,
        &Trust::default(),
        Some(&CompileCache::new(fleet.path().join(".cutover/cache"))),
    )
}

/// The compile cache's files whose name ends with `suffix`.
fn cached(fleet: &Fleet, suffix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(fleet.path().join(".cutover/cache"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect()
}

/// Rewrites the hostile plugin in place with other bytes of the same size (its manifest
/// names another connector), and puts its modification time back: its path, size, time
/// and inode are all as they were, only its content differs.
fn swap_in_place(path: &Path) -> Vec<u8> {
    let before = std::fs::metadata(path).unwrap();
    let bytes = std::fs::read(path).unwrap();
    let (from, to) = (b"test/source-hostile", b"test/source-hostilx");
    let mut swapped = bytes.clone();
    let mut at = 0;
    while let Some(i) = swapped[at..].windows(from.len()).position(|w| w == from) {
        swapped[at + i..at + i + to.len()].copy_from_slice(to);
        at += i + to.len();
    }
    assert_ne!(swapped, bytes, "the plugin names its connector");
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    std::io::Write::write_all(&mut file, &swapped).unwrap();
    file.set_modified(before.modified().unwrap()).unwrap();
    drop(file);
    let after = std::fs::metadata(path).unwrap();
    assert_eq!(
        (after.len(), after.modified().unwrap(), after.ino()),
        (before.len(), before.modified().unwrap(), before.ino())
    );
    swapped
}

#[test]
fn a_described_plugin_is_compiled_only_when_a_connection_needs_it() {
    let fleet = fleet("");
    fleet.add_plugin("hostile-plugin");
    cutover(&fleet, &["plan", "--all"]).expect(0);
    assert_eq!(cached(&fleet, ".manifest.json").len(), 1, "described");
    for code in cached(&fleet, ".cwasm")
        .into_iter()
        .chain(cached(&fleet, ".sha256"))
    {
        std::fs::remove_file(code).unwrap();
    }

    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let registry = registry(&fleet, &sandbox).unwrap();
    let [plugin] = registry.all() else {
        panic!("one plugin")
    };
    assert_eq!(plugin.manifest.connector, "test/source-hostile");
    assert!(
        cached(&fleet, ".cwasm").is_empty(),
        "loading the registry compiled nothing"
    );
    plugin.code(&sandbox).unwrap();
    assert_eq!(
        cached(&fleet, ".cwasm").len(),
        1,
        "the first use compiled it"
    );
}

#[test]
fn a_plugin_rewritten_with_the_same_size_and_time_is_never_taken_for_its_old_entry() {
    // Without a lock, the new bytes are a new plugin, described by themselves.
    let loose = fleet("");
    let path = loose.add_plugin("hostile-plugin");
    cutover(&loose, &["plan", "--all"]).expect(0);
    let swapped = swap_in_place(&path);
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let registry = registry(&loose, &sandbox).unwrap();
    let [loaded] = registry.all() else {
        panic!("one plugin")
    };
    assert_eq!(loaded.sha256, cutover_tests::sha256(&swapped));
    assert_eq!(loaded.manifest.connector, "test/source-hostilx");
    assert!(registry.for_connector("test/source-hostile").is_empty());

    // With a lock, they are refused before anything of them runs.
    let locked = fleet("");
    cutover(
        &locked,
        &["plugins", "add", plugin("hostile-plugin").to_str().unwrap()],
    )
    .expect(0);
    cutover(&locked, &["plan", "--all"]).expect(0);
    swap_in_place(&locked.path().join("plugins/hostile_plugin.wasm"));
    refused(&locked, "hostile_plugin.wasm refused: its sha256 is");
    refused(&locked, "add it again with `cutover plugin add`");
}

#[test]
fn a_plugin_changed_after_the_registry_was_loaded_does_not_run() {
    let fleet = fleet("");
    let path = fleet.add_plugin("hostile-plugin");
    cutover(&fleet, &["plan", "--all"]).expect(0);
    for code in cached(&fleet, ".cwasm") {
        std::fs::remove_file(code).unwrap();
    }
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let registry = registry(&fleet, &sandbox).unwrap();
    swap_in_place(&path);
    let err = format!("{:#}", registry.all()[0].code(&sandbox).err().unwrap());
    assert!(
        err.contains("hostile_plugin.wasm changed after it was checked")
            && err.contains("nothing of it ran")
            && err.contains("Run the command again"),
        "{err}"
    );
    assert!(cached(&fleet, ".cwasm").is_empty(), "nothing was compiled");
}

#[test]
fn a_bad_description_in_the_cache_falls_back_to_the_full_load() {
    let fleet = fleet("");
    fleet.add_plugin("hostile-plugin");
    cutover(&fleet, &["plan", "--all"]).expect(0);
    let [description] = &cached(&fleet, ".manifest.json")[..] else {
        panic!("one description")
    };
    let good = std::fs::read(description).unwrap();

    std::fs::write(description, &good[..good.len() / 2]).unwrap();
    cutover(&fleet, &["apply", "--all"]).expect(0);
    assert_eq!(fleet.read("c1")["config"]["migrated"], true);
    assert_eq!(std::fs::read(description).unwrap(), good, "rewritten");

    // Unreadable, and not even writable: a warning, not an error.
    std::fs::remove_file(description).unwrap();
    std::fs::create_dir(description).unwrap();
    fleet.write(&hostile_connection("c2", "none"));
    cutover(&fleet, &["plan", "--all"]).expect(0);
}

#[cfg(unix)]
#[test]
fn the_compile_cache_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let fleet = fleet("");
    fleet.add_plugin("hostile-plugin");
    cutover(&fleet, &["plan", "--all"]).expect(0);
    let cache = fleet.path().join(".cutover/cache");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&cache), 0o700);
    let entries: Vec<PathBuf> = std::fs::read_dir(&cache)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        entries.len(),
        3,
        "code, its digest, description: {entries:?}"
    );
    for entry in entries {
        assert_eq!(mode(&entry), 0o600, "{}", entry.display());
    }
}
