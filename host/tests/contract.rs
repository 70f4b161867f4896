//! The contract's versions side by side: plugins built against 1.0.0 (the state as one
//! string) and 1.1.0 (the state streamed; a build of the Pinterest 2.0.0 plugin by the SDK of
//! that contract, kept in tests/fixtures/contracts) keep loading and migrating next to 1.2.0
//! plugins (Elastic connector documents); a plugin built against a later patch of a known
//! version loads with that version's bindings, one built against an unknown minor is refused;
//! and a 100 MB state migrates within a 256 MiB guest memory limit through the streams.

use cutover::migration::{ConnectorInput, Input};
use cutover::sandbox::wit::ContractVersion;
use cutover::sandbox::{Limits, Sandbox, SandboxError};
use cutover_tests::{Fleet, cutover, hostile_connection, plugin, root};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

/// The Pinterest 2.0.0 plugin as the SDK of contract 1.1.0 built it.
fn pinterest_v2_built_against_1_1_0() -> std::path::PathBuf {
    root().join("tests/fixtures/contracts/1.1.0/source_pinterest_v2.wasm")
}

#[test]
fn plugins_of_every_contract_version_load_and_migrate_in_one_fleet() {
    let fleet = Fleet::new(
        "[platform]\nplatform = \"0.63.14\"\n[connectors.\"test/source-hostile\"]\ntarget = \"2.0.0\"\n[connectors.\"airbyte/source-pinterest\"]\ntarget = \"2.0.0\"\n[elastic]\nconnectors_service = \"8.19.0\"\n[elastic.stack]\nelasticsearch = \"9.0.0\"\nkibana = \"9.0.0\"\n",
    );
    fleet.add_plugin("hostile-plugin"); // raw wit-bindgen against wit/since_v1.0.0
    std::fs::copy(
        pinterest_v2_built_against_1_1_0(),
        fleet.path().join("plugins/source_pinterest_v2.wasm"),
    )
    .unwrap();
    fleet.add_plugin("elastic-pipeline-v9"); // the SDK, against wit/since_v1.2.0
    fleet.write(&hostile_connection("old-contract", "none"));
    fleet.write(&cutover_tests::small_pinterest_connection(
        "new-contract",
        1714521600,
    ));
    let connector: serde_json::Value = serde_json::from_slice(
        &std::fs::read(
            root().join("plugins/elastic/pipeline-v9/fixtures/default-pipeline/input.json"),
        )
        .unwrap(),
    )
    .unwrap();
    fleet.write(&connector);
    let list = cutover(BIN, fleet.path(), &["plugin", "list", "--json"])
        .expect(0)
        .json();
    let contracts: Vec<(&str, &str)> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["file"].as_str().unwrap(), p["contract"].as_str().unwrap()))
        .collect();
    assert_eq!(
        contracts,
        vec![
            ("elastic_pipeline_v9.wasm", "1.2.0"),
            ("hostile_plugin.wasm", "1.0.0"),
            ("source_pinterest_v2.wasm", "1.1.0")
        ]
    );
    cutover(BIN, fleet.path(), &["apply", "--all"]).expect(0);
    assert_eq!(fleet.read("old-contract")["version"], "2.0.0");
    let migrated = fleet.read("new-contract");
    assert_eq!(migrated["version"], "2.0.0");
    // The state crossed the 1.1.0 streams both ways: campaigns' flat cursor became per-partition.
    let campaigns = migrated["state"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["stream"]["stream_descriptor"]["name"] == "campaigns")
        .unwrap();
    assert_eq!(
        campaigns["stream"]["stream_state"],
        serde_json::json!({"states": []})
    );
    assert_eq!(
        fleet.read("crm-mysql")["pipeline"]["name"],
        "search-default-ingestion"
    );
}

/// A component's bytes with every `cutover:migration…@<from>` it names (imports, types)
/// renamed `@<to>`, a version string of the same length: what building the same plugin
/// against another release of the contract changes.
fn built_against(wasm: &[u8], from: &str, to: &str) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let (needle, with) = (format!("@{from}"), format!("@{to}"));
    let mut out = wasm.to_vec();
    let mut replaced = 0;
    let mut i = 0;
    while let Some(at) = out[i..]
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .map(|p| p + i)
    {
        let start = at.saturating_sub(40);
        if out[start..at]
            .windows(17)
            .any(|w| w == b"cutover:migration")
        {
            out[at..at + with.len()].copy_from_slice(with.as_bytes());
            replaced += 1;
        }
        i = at + 1;
    }
    assert!(replaced > 0, "no cutover:migration@{from} in the component");
    out
}

#[test]
fn a_later_patch_loads_with_its_minors_bindings_and_an_unknown_minor_is_refused() {
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    // 1.2.1: an Elastic plugin.
    let pipeline = std::fs::read(plugin("elastic-pipeline-v9")).unwrap();
    let patched = sandbox
        .load(&built_against(&pipeline, "1.2.0", "1.2.1"), "patched", None)
        .expect("a later patch loads");
    assert_eq!(patched.contract(), ContractVersion::V1_2_0);
    let document = std::fs::read_to_string(
        root().join("plugins/elastic/pipeline-v9/fixtures/default-pipeline/input.json"),
    )
    .unwrap();
    let out = sandbox
        .migrate_connector(
            &patched,
            &ConnectorInput {
                id: "crm-mysql".into(),
                version: "8.19.0".into(),
                document,
            },
        )
        .expect("it migrates");
    assert!(out.value.document.contains("search-default-ingestion"));
    // 1.1.1: the archived 1.1.0 build, through the state streams.
    let old = std::fs::read(pinterest_v2_built_against_1_1_0()).unwrap();
    let patched = sandbox
        .load(&built_against(&old, "1.1.0", "1.1.1"), "patched-old", None)
        .expect("a later patch loads");
    assert_eq!(patched.contract(), ContractVersion::V1_1_0);
    let conn = cutover_tests::small_pinterest_connection("c", 1714521600);
    let input = Input::new(
        "c",
        "airbyte/source-pinterest",
        "1.3.3",
        &conn["config"],
        &conn["catalog"],
        &conn["state"],
    );
    assert!(
        sandbox
            .migrate(&patched, &input)
            .expect("it migrates")
            .value
            .state
            .contains("\"states\"")
    );
    // 1.3.0 may carry types this host has never seen.
    let err = sandbox
        .load(&built_against(&pipeline, "1.2.0", "1.3.0"), "unknown", None)
        .err()
        .expect("an unknown minor is refused");
    let err = format!("{err:#}");
    assert!(
        err.contains("cutover:migration@1.3.0")
            && err.contains("it knows 1.0.0, 1.1.0, 1.2.0")
            && err.contains("upgrade cutover"),
        "{err}"
    );
}

#[test]
fn an_airbyte_connection_never_reaches_an_elastic_plugin_nor_the_reverse() {
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let elastic = sandbox
        .load(
            &std::fs::read(plugin("elastic-pipeline-v9")).unwrap(),
            "e",
            None,
        )
        .unwrap();
    let conn = cutover_tests::small_pinterest_connection("c", 1);
    let input = Input::new(
        "c",
        "airbyte/source-pinterest",
        "1.3.3",
        &conn["config"],
        &conn["catalog"],
        &conn["state"],
    );
    match sandbox.migrate(&elastic, &input) {
        Err(SandboxError::Refused(e)) => assert!(
            e.to_string().contains("migrates an Elastic connector"),
            "{e}"
        ),
        other => panic!(
            "an Elastic plugin must refuse an Airbyte connection: {:?}",
            other.map(|c| c.value.config)
        ),
    }
    let airbyte = sandbox
        .load(
            &std::fs::read(plugin("source-pinterest-v2")).unwrap(),
            "a",
            None,
        )
        .unwrap();
    let connector = ConnectorInput {
        id: "x".into(),
        version: "8.8.0".into(),
        document: r#"{"id":"x","service_type":"mysql","configuration":{}}"#.into(),
    };
    match sandbox.migrate_connector(&airbyte, &connector) {
        Err(SandboxError::Refused(e)) => assert!(
            e.to_string().contains("migrates an Airbyte connection"),
            "{e}"
        ),
        other => panic!(
            "an Airbyte plugin must refuse an Elastic connector: {:?}",
            other.map(|c| c.value.document)
        ),
    }
    let hostile = sandbox
        .load(&std::fs::read(plugin("hostile-plugin")).unwrap(), "h", None)
        .unwrap();
    assert!(
        matches!(
            sandbox.migrate_connector(&hostile, &connector),
            Err(SandboxError::Refused(_))
        ),
        "1.0.0 cannot carry connectors"
    );
}

/// The legacy state of `n` partitions of the `campaigns` stream, as one state message.
fn partition_state(n: usize) -> String {
    let mut s = String::with_capacity(n * 44 + 100);
    s.push_str(
        r#"[{"type":"STREAM","stream":{"stream_descriptor":{"name":"campaigns"},"stream_state":{"#,
    );
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!(
            "\"{}\":{{\"updated_time\":{}}}",
            549755885175u64 + i as u64,
            1628867244u64 + i as u64
        ));
    }
    s.push_str("}}}]");
    s
}

#[test]
fn a_100_mb_state_migrates_within_256_mib_of_guest_memory() {
    let limits = Limits {
        memory_bytes: 256 << 20,
        output_bytes: 1 << 30,
        timeout_ms: 120_000,
        ..Limits::default()
    };
    let sandbox = Sandbox::new(limits).unwrap();
    let wasm = std::fs::read(plugin("partition-state-plugin")).unwrap();
    let loaded = sandbox.load(&wasm, "test", None).unwrap();
    assert_eq!(
        loaded.contract(),
        *cutover::sandbox::wit::KNOWN.last().unwrap(),
        "the SDK builds against the newest contract"
    );
    let n = 2_400_000;
    let state = partition_state(n);
    assert!(state.len() > 100_000_000, "{} bytes", state.len());
    let input = |mode: &str| Input {
        id: "big".into(),
        connector: "test/source-partitioned".into(),
        version: "1.9.0".into(),
        config: format!("{{\"mode\":\"{mode}\"}}"),
        catalog: r#"{"streams":[]}"#.into(),
        state: state.as_str().into(),
    };
    let out = sandbox
        .migrate(&loaded, &input("text"))
        .expect("the streamed migration fits")
        .value;
    assert!(
        out.state.len() > 2 * state.len(),
        "the per-partition state is larger: {} bytes",
        out.state.len()
    );
    assert!(out.state.starts_with(r#"[{"type":"STREAM","stream":{"stream_descriptor":{"name":"campaigns"},"stream_state":{"states":[{"partition":{"id":"549755885175","parent_slice":{}},"cursor":{"updated_time":1628867244}}"#));
    assert_eq!(out.state.matches("\"parent_slice\"").count(), n);
    // The same migration on a DOM of the state does not fit in the same memory.
    match sandbox.migrate(&loaded, &input("dom")) {
        Err(SandboxError::MemoryLimit { limit, .. }) => assert_eq!(limit, 256 << 20),
        other => panic!(
            "a DOM of a 100 MB state should exceed 256 MiB, got {:?}",
            other.map(|c| c.value.state.len())
        ),
    }
}
