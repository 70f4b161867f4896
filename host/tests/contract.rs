//! The contract's versions side by side: a plugin built against 1.0.0 (the state as one
//! string) keeps loading and migrating next to 1.1.0 plugins (the state streamed), and a
//! 100 MB state migrates within a 256 MiB guest memory limit through the 1.1.0 streams.

use cutover::migration::Input;
use cutover::sandbox::{Limits, Sandbox, SandboxError};
use cutover::sandbox::wit::ContractVersion;
use cutover_tests::{Fleet, cutover, hostile_connection, plugin};

const BIN: &str = env!("CARGO_BIN_EXE_cutover");

#[test]
fn plugins_of_both_contract_versions_load_and_migrate_in_one_fleet() {
    let fleet = Fleet::new(
        "[platform]\nplatform = \"0.63.14\"\n[connectors.\"test/source-hostile\"]\ntarget = \"2.0.0\"\n[connectors.\"airbyte/source-pinterest\"]\ntarget = \"2.0.0\"\n",
    );
    fleet.add_plugin("hostile-plugin"); // raw wit-bindgen against wit/since_v1.0.0
    fleet.add_plugin("source-pinterest-v2"); // the SDK, against wit/since_v1.1.0
    fleet.write(&hostile_connection("old-contract", "none"));
    fleet.write(&cutover_tests::small_pinterest_connection("new-contract", 1714521600));
    let list = cutover(BIN, fleet.path(), &["plugin", "list", "--json"]).expect(0).json();
    let contracts: Vec<(&str, &str)> =
        list.as_array().unwrap().iter().map(|p| (p["file"].as_str().unwrap(), p["contract"].as_str().unwrap())).collect();
    assert_eq!(contracts, vec![("hostile_plugin.wasm", "1.0.0"), ("source_pinterest_v2.wasm", "1.1.0")]);
    cutover(BIN, fleet.path(), &["apply", "--all"]).expect(0);
    assert_eq!(fleet.read("old-contract")["version"], "2.0.0");
    let migrated = fleet.read("new-contract");
    assert_eq!(migrated["version"], "2.0.0");
    // The state crossed the 1.1.0 streams both ways: campaigns' flat cursor became per-partition.
    let campaigns = migrated["state"].as_array().unwrap().iter().find(|m| m["stream"]["stream_descriptor"]["name"] == "campaigns").unwrap();
    assert_eq!(campaigns["stream"]["stream_state"], serde_json::json!({"states": []}));
}

/// The legacy state of `n` partitions of the `campaigns` stream, as one state message.
fn partition_state(n: usize) -> String {
    let mut s = String::with_capacity(n * 44 + 100);
    s.push_str(r#"[{"type":"STREAM","stream":{"stream_descriptor":{"name":"campaigns"},"stream_state":{"#);
    for i in 0..n {
        if i > 0 {
            s.push(',');
        }
        s.push_str(&format!("\"{}\":{{\"updated_time\":{}}}", 549755885175u64 + i as u64, 1628867244u64 + i as u64));
    }
    s.push_str("}}}]");
    s
}

#[test]
fn a_100_mb_state_migrates_within_256_mib_of_guest_memory() {
    let limits = Limits { memory_bytes: 256 << 20, output_bytes: 1 << 30, timeout_ms: 120_000, ..Limits::default() };
    let sandbox = Sandbox::new(limits).unwrap();
    let wasm = std::fs::read(plugin("partition-state-plugin")).unwrap();
    let loaded = sandbox.load(&wasm, "test", None).unwrap();
    assert_eq!(loaded.contract(), ContractVersion::V1_1_0);
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
    let out = sandbox.migrate(&loaded, &input("text")).expect("the streamed migration fits").value;
    assert!(out.state.len() > 2 * state.len(), "the per-partition state is larger: {} bytes", out.state.len());
    assert!(out.state.starts_with(r#"[{"type":"STREAM","stream":{"stream_descriptor":{"name":"campaigns"},"stream_state":{"states":[{"partition":{"id":"549755885175","parent_slice":{}},"cursor":{"updated_time":1628867244}}"#));
    assert_eq!(out.state.matches("\"parent_slice\"").count(), n);
    // The same migration on a DOM of the state does not fit in the same memory.
    match sandbox.migrate(&loaded, &input("dom")) {
        Err(SandboxError::MemoryLimit { limit, .. }) => assert_eq!(limit, 256 << 20),
        other => panic!("a DOM of a 100 MB state should exceed 256 MiB, got {:?}", other.map(|c| c.value.state.len())),
    }
}
