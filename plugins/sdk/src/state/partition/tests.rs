use super::*;
use proptest::prelude::*;

// The generated states, also run through the Python SDK's version by the parity tests.
#[path = "../../../tests/support/generated_states.rs"]
mod generated;
use generated::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

fn legacy(n: u64) -> String {
    let mut state = serde_json::Map::new();
    for i in 0..n {
        state.insert(
            (549755885175 + i).to_string(),
            json!({"updated_time": 1628867244 + i}),
        );
    }
    json!([
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": "boards"}, "stream_state": {"updated_time": 5}}},
        {"type": "STREAM", "stream": {"stream_descriptor": {"name": "campaigns"}, "stream_state": state}}
    ])
    .to_string()
}

/// The state as written, if it was migrated.
fn migrate(state: &str, stream: &str, cursor: &str) -> crate::Result<Option<String>> {
    let mut out = Vec::new();
    let moved = legacy_to_per_partition(state, stream, "id", cursor, &mut out)?;
    let out = String::from_utf8(out).unwrap();
    if !moved {
        assert_eq!(out, state, "an unmigrated state is written as it was");
    }
    Ok(moved.then_some(out))
}

/// How both versions took a state.
#[derive(Debug, PartialEq)]
enum Outcome {
    Migrated,
    Unchanged,
    Refused,
}

/// Runs this version and the serde_json one on `state`; panics unless they wrote the same
/// bytes and said the same, or both refused it as invalid input before writing anything.
fn same_as_reference(state: &str, partition_field: &str, cursor_field: &str) -> Outcome {
    let (mut new_out, mut old_out) = (Vec::new(), Vec::new());
    let new = legacy_to_per_partition(
        state,
        "campaigns",
        partition_field,
        cursor_field,
        &mut new_out,
    );
    let old = reference::legacy_to_per_partition(
        state,
        "campaigns",
        partition_field,
        cursor_field,
        &mut old_out,
    );
    match (new, old) {
        (Ok(new), Ok(old)) if new == old => {
            assert_eq!(
                String::from_utf8_lossy(&new_out),
                String::from_utf8_lossy(&old_out),
                "the output of {state:?}"
            );
            if new {
                Outcome::Migrated
            } else {
                Outcome::Unchanged
            }
        }
        (Err(Error::InvalidInput(_)), Err(Error::InvalidInput(_)))
            if new_out.is_empty() && old_out.is_empty() =>
        {
            Outcome::Refused
        }
        (new, old) => panic!(
            "{state:?} (partition field {partition_field:?}, cursor {cursor_field:?}): scanner {new:?}, serde_json {old:?}"
        ),
    }
}

fn same(state: &str) -> Outcome {
    same_as_reference(state, "id", "updated_time")
}

#[test]
fn migrates_every_partition_in_order_and_copies_other_messages() {
    let input = legacy(3);
    let out = migrate(&input, "campaigns", "updated_time")
        .unwrap()
        .unwrap();
    let out: Value = serde_json::from_str(&out).unwrap();
    let input: Value = serde_json::from_str(&input).unwrap();
    assert_eq!(out[0], input[0], "the other stream's message is untouched");
    let states = out[1]["stream"]["stream_state"]["states"]
        .as_array()
        .unwrap();
    assert_eq!(states.len(), 3);
    assert_eq!(
        states[0],
        json!({"partition": {"id": "549755885175", "parent_slice": {}}, "cursor": {"updated_time": 1628867244}})
    );
    assert_eq!(states[2]["partition"]["id"], "549755885177");
    assert_eq!(
        out[1]["stream"]["stream_descriptor"],
        json!({"name": "campaigns"})
    );
    assert_eq!(same(&legacy(3)), Outcome::Migrated);
}

#[test]
fn leaves_states_that_are_not_legacy() {
    let per_partition = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "campaigns"}, "stream_state": {"states": []}}}]).to_string();
    assert_eq!(
        migrate(&per_partition, "campaigns", "updated_time").unwrap(),
        None
    );
    let global_cursor = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "campaigns"}, "stream_state": {"updated_time": 7}}}]).to_string();
    assert_eq!(
        migrate(&global_cursor, "campaigns", "updated_time").unwrap(),
        None
    );
    let other_cursor = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "campaigns"}, "stream_state": {"1": {"DATE": "x"}}}}]).to_string();
    assert_eq!(
        migrate(&other_cursor, "campaigns", "updated_time").unwrap(),
        None
    );
    assert_eq!(migrate(&legacy(2), "ads", "updated_time").unwrap(), None);
    assert!(
        legacy_to_per_partition("{", "campaigns", "id", "updated_time", &mut Vec::new()).is_err()
    );
}

#[test]
fn escapes_partition_ids() {
    let input = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "s"}, "stream_state": {"a\"b\\n": {"c": 1}}}}]).to_string();
    let out = migrate(&input, "s", "c").unwrap().unwrap();
    let out: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        out[0]["stream"]["stream_state"]["states"][0]["partition"]["id"],
        "a\"b\\n"
    );
}

/// Each of these could tell the scanner and serde_json apart.
#[test]
fn matches_serde_json_on_the_odd_cases() {
    let message = |state: &str| {
        format!(
            r#"{{"type":"STREAM","stream":{{"stream_descriptor":{{"name":"campaigns"}},"stream_state":{state}}}}}"#
        )
    };
    let stream = |state: &str| format!("[{}]", message(state));
    let one = r#"{"1":{"updated_time":1}}"#;
    let cases = [
        // Whitespace between messages is dropped when the state moves, kept when it does not.
        (format!(" [ {} ,\n {{\"type\":\"GLOBAL\"}} ] ", message(one)), Outcome::Migrated),
        (format!(" [ {} ,\n {{\"type\":\"GLOBAL\"}} ] ", message("{}")), Outcome::Unchanged),
        (stream(r#" { "1" : { "updated_time" : [ 1 , { } ] } } "#), Outcome::Migrated),
        (stream(r#"{"1":{"updated_time":1},"1":{"updated_time":2}}"#), Outcome::Migrated),
        // Entries too long for the recorded layout are read again.
        (stream(&format!(r#"{{"{}":{{"updated_time":1}},"2":{{"updated_time":"{}"}},"3":{{"updated_time":-1.5e3}}}}"#, "1".repeat(300), "a".repeat(300))), Outcome::Migrated),
        (stream(r#"{"1":{"updated_time":1},"2" :{"updated_time":1},"3":{"updated_time":"x"},"4":{"updated_time":true}}"#), Outcome::Migrated),
        (stream(r#"{"\u00e9\ud83d\ude00\u0000\/\u001F":{"updated_time":1}}"#), Outcome::Migrated),
        (stream(r#"{"1":{"updat\u0065d_time":1}}"#), Outcome::Migrated),
        (stream(r#"{"stat\u0065s":{"updated_time":1}}"#), Outcome::Unchanged),
        (stream(r#"{"1":{"updated_time":1,"updated_time":1}}"#), Outcome::Unchanged),
        (stream("{}"), Outcome::Unchanged),
        (stream("[]"), Outcome::Unchanged),
        (stream("[ ]"), Outcome::Unchanged),
        (stream(r#""x""#), Outcome::Unchanged),
        (stream("1e308"), Outcome::Unchanged),
        (stream("true"), Outcome::Unchanged),
        // serde_json refused these as the stream's state (not as another's): a non-empty array, a scalar it cannot
        // read, a key of the state that does not decode (a cursor object's key that does not is not the cursor).
        (stream("[1]"), Outcome::Refused),
        (stream(r#""\ud800""#), Outcome::Refused),
        (stream("-1e309"), Outcome::Refused),
        (format!("[{},{}]", message(r#""\ud800""#).replace("campaigns", "ads"), message("1e309").replace("campaigns", "ads")), Outcome::Unchanged),
        (stream(r#"{"1":{"updated_time":1},"\ud800":{"updated_time":1}}"#), Outcome::Refused),
        (stream(r#"{"1":5,"\ud800":{"updated_time":1}}"#), Outcome::Refused),
        (stream(r#"{"1":{"\udc00":1}}"#), Outcome::Unchanged),
        (format!("[{},{}]", message(r#"{"\ud800":1}"#), message(r#"{"\ud800":1}"#).replace("campaigns", "ads")), Outcome::Refused),
        (format!("[{},{}]", message(r#"{"\ud800":1}"#).replace("campaigns", "ads"), message(one)), Outcome::Migrated),
        (stream(r#"{"\ud800\u0041":{"updated_time":1}}"#), Outcome::Refused),
        (stream(r#"{"1":{"updated_time":1},"2":{"updated_time":01}}"#), Outcome::Refused),
        // A null state is no state: the search goes on to the next message for the stream.
        (format!("[{},{}]", message("null"), message(one)), Outcome::Migrated),
        // serde reads a struct from an array of its fields in order, too.
        (r#"[["STREAM",[{"name":"campaigns"},{"1":{"updated_time":1}}]]]"#.into(), Outcome::Migrated),
        (r#"[["STREAM",[["campaigns"],{"1":{"updated_time":1}}]]]"#.into(), Outcome::Migrated),
        (r#"[[],["STREAM"],[null,null]]"#.into(), Outcome::Unchanged),
        (r#"[["STREAM",[{"name":"campaigns"}],1]]"#.into(), Outcome::Refused),
        (r#"[["STREAM",[]]]"#.into(), Outcome::Refused),
        // Fields of the messages up to the stream's are checked; a message after it is only JSON.
        (r#"[{"type":"GLOBAL","stream":{}}]"#.into(), Outcome::Refused),
        (r#"[{"type":"GLOBAL","stream":{"stream_descriptor":1}}]"#.into(), Outcome::Unchanged),
        (r#"[{"type":"STREAM","stream":{"stream_descriptor":1}}]"#.into(), Outcome::Refused),
        (r#"[{"type":"STREAM","stream":{"stream_descriptor":{"name":null}}}]"#.into(), Outcome::Refused),
        (r#"[{"type":"STREAM","type":"STREAM"}]"#.into(), Outcome::Refused),
        (r#"[{"type":5}]"#.into(), Outcome::Refused),
        (r#"[{"type":null,"stream":null,"x":[1,{"y":"\ud800"}]}]"#.into(), Outcome::Unchanged),
        (r#"[{"typ\u0065":"STR\u0045AM","str\u0065am":{"stream_descriptor":{"name":"c\u0061mpaigns","namespace":5},"stream_state":{"1":{"updated_time":1}}},"sourceStats":{}}]"#.into(), Outcome::Migrated),
        (format!("[{},5,{{\"type\":5}}]", message(one)), Outcome::Migrated),
        (format!("[{},{{\"type\":5}}]", message("{}")), Outcome::Unchanged),
        (r#"[{"\ud800":1}]"#.into(), Outcome::Refused),
        (r#"[5]"#.into(), Outcome::Refused),
        (" [ ] ".into(), Outcome::Unchanged),
        ("[]x".into(), Outcome::Refused),
        ("[1,]".into(), Outcome::Refused),
        ("".into(), Outcome::Refused),
        ("{}".into(), Outcome::Refused),
        (r#"[{"a":"\x"}]"#.into(), Outcome::Refused),
        (r#"[{"a":"\u12g4"}]"#.into(), Outcome::Refused),
        ("[{\"a\":\"\u{1}\"}]".into(), Outcome::Refused),
        (r#"[{"a":-}]"#.into(), Outcome::Refused),
        (r#"[{"a":1.}]"#.into(), Outcome::Refused),
        (r#"[{"a":1e+}]"#.into(), Outcome::Refused),
        (r#"[{"a":-0.5E-7,"b":[true,false,null]}]"#.into(), Outcome::Unchanged),
        (r#"[{"a":nul}]"#.into(), Outcome::Refused),
    ];
    for (state, expected) in cases {
        assert_eq!(same(&state), expected, "{state}");
    }
}

#[test]
fn takes_any_depth_without_recursion() {
    let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
    let state = format!(
        r#"[{{"x":{d}}},{{"type":"STREAM","stream":{{"stream_descriptor":{{"name":"campaigns"}},"stream_state":{{"1":{{"updated_time":{d}}}}}}}}}]"#,
        d = deep(100_000)
    );
    assert_eq!(same(&state), Outcome::Migrated);
    let unclosed = format!(r#"[{{"x":{}}}]"#, "[".repeat(100_000));
    assert_eq!(same(&unclosed), Outcome::Refused);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn writes_what_serde_json_wrote(state in states(), seed: u64, spaces in 0..4u64, escapes in 0..3u64, (partition, cursor) in arguments()) {
        same_as_reference(&Render::state(&state, seed, spaces, escapes), partition, cursor);
    }

    #[test]
    fn refuses_what_serde_json_refused(state in states(), seed: u64, spaces in 0..3u64, at: usize, how: u8) {
        let broken = mutate(&Render::state(&state, seed, spaces, 1), at, how);
        same_as_reference(&broken, "id", "updated_time");
    }
}

/// The generated states must reach every outcome often, or the comparison proves little.
#[test]
fn generated_states_reach_every_outcome() {
    let mut runner = TestRunner::deterministic();
    let (mut migrated, mut unchanged, mut refused) = (0, 0, 0);
    for i in 0..2000 {
        let state = states().new_tree(&mut runner).unwrap().current();
        match same(&Render::state(&state, i, i % 3, i % 2)) {
            Outcome::Migrated => migrated += 1,
            Outcome::Unchanged => unchanged += 1,
            Outcome::Refused => refused += 1,
        }
    }
    assert!(
        migrated > 300 && unchanged > 300 && refused > 100,
        "migrated {migrated}, unchanged {unchanged}, refused {refused}"
    );
}
