//! A plugin for the state benchmark: the CDK's legacy → per-partition state migration of one
//! stream (`campaigns`, partitioned by ad account `id`, cursor `updated_time`), the shape of
//! source-pinterest's per-account states.
//!
//! With `"mode": "text"` in the config (the default) it uses the SDK's DOM-free
//! [`state::legacy_to_per_partition`]; with `"mode": "dom"` it does the same on
//! `serde_json::Value`s, the way a plugin written against the parsed [`Connection`] would.
//! The same crate runs natively in the benchmark, so the two sides run the same code.

use cutover_plugin::{
    Connection, Manifest, Migration, Outcome, RawConnection, RawOutcome, Result, StateOut, Value,
    json, state,
};

pub const STREAM: &str = "campaigns";

pub struct PartitionState;

impl Migration for PartitionState {
    fn manifest() -> Manifest {
        Manifest {
            connector: "test/source-partitioned".into(),
            applies_to: ">=1.0.0, <2.0.0".into(),
            produces: "2.0.0".into(),
            message: "Incremental streams keep one cursor per partition.".into(),
            documentation_url: "https://example.invalid/partitioned-migrations#2.0.0".into(),
            scoped_streams: vec![STREAM.into()],
            ..Default::default()
        }
    }

    fn migrate(connection: Connection) -> Result<Outcome> {
        let mut out = connection.into_outcome();
        let Some(old) = state::stream_state(&out.state, STREAM) else {
            return Ok(out);
        };
        let Some(partitions) = old.as_object().filter(|o| !o.contains_key("states")) else {
            return Ok(out);
        };
        let states: Vec<Value> = partitions
            .iter()
            .map(|(id, cursor)| json!({"partition": {"id": id, "parent_slice": {}}, "cursor": cursor}))
            .collect();
        state::replace_stream_state(&mut out.state, STREAM, json!({ "states": states }));
        Ok(out)
    }

    fn migrate_documents(connection: RawConnection, out: &mut StateOut<'_>) -> Result<RawOutcome> {
        let config: Value = serde_json::from_str(&connection.config).unwrap_or(Value::Null);
        if config["mode"] == "dom" {
            return RawOutcome::write(Self::migrate(connection.parse()?)?, out);
        }
        state::legacy_to_per_partition(&connection.state, STREAM, "id", "updated_time", out)?;
        Ok(RawOutcome {
            config: connection.config,
            catalog: connection.catalog,
            actions: Vec::new(),
            notes: Vec::new(),
        })
    }
}

cutover_plugin::export!(PartitionState);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_dom_give_the_same_state() {
        let state = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": STREAM},
            "stream_state": {"549755885175": {"updated_time": 1628867244}, "549755885176": {"updated_time": 1628867245}}}}]);
        let raw = |mode: &str| RawConnection {
            id: "c".into(),
            connector: "test/source-partitioned".into(),
            version: "1.0.0".into(),
            config: json!({"mode": mode}).to_string(),
            catalog: r#"{"streams":[]}"#.into(),
            state: state.to_string(),
        };
        let run = |mode: &str| -> Value {
            let mut out = StateOut::default();
            PartitionState::migrate_documents(raw(mode), &mut out).unwrap();
            serde_json::from_str(&out.into_string()).unwrap()
        };
        let (text, dom) = (run("text"), run("dom"));
        assert_eq!(text, dom);
        assert_eq!(
            text[0]["stream"]["stream_state"]["states"][1]["partition"]["id"],
            "549755885176"
        );
    }
}
