//! The plan's diffs of a connection's catalog and state, stream by stream.
//!
//! A positional diff of two arrays of streams pairs each stream with whatever now stands at
//! its index: one stream removed or split away in the middle of a catalog turns every later
//! stream into a "replace" of its neighbour's name and schema, and the plan says nothing
//! true. These diffs pair array elements by the stream they are about (a configured
//! stream's `stream.name` and `namespace`, a state message's `stream_descriptor`) and stay
//! valid RFC 6902 patches: first each kept stream's own changes, at its old index; then the
//! streams that went, from the last down; then the new ones, at their new indexes. Between
//! two kept streams, a stream that went and one that came are paired in order, so that a
//! stream renamed in place reads as a change of its name. A
//! reader resolves every path but an addition's against the old document, as the renderer
//! does. Where the kept streams changed order, or an element names no stream, the diff is
//! the positional one.

use json_patch::jsonptr::PointerBuf;
use json_patch::{AddOperation, Patch, PatchOperation, RemoveOperation};
use serde_json::Value;
use std::collections::HashMap;

/// The diff of two catalogs, pairing `streams` by stream.
pub fn catalog(old: &Value, new: &Value) -> Patch {
    match (old.get("streams"), new.get("streams")) {
        (Some(Value::Array(a)), Some(Value::Array(b)))
            if old.as_object().map(|o| o.len()) == Some(1)
                && new.as_object().map(|o| o.len()) == Some(1) =>
        {
            by_stream(a, b, "/streams").unwrap_or_else(|| json_patch::diff(old, new))
        }
        _ => json_patch::diff(old, new),
    }
}

/// The diff of two states (arrays of state messages), pairing messages by stream.
pub fn state(old: &Value, new: &Value) -> Patch {
    match (old, new) {
        (Value::Array(a), Value::Array(b)) => {
            by_stream(a, b, "").unwrap_or_else(|| json_patch::diff(old, new))
        }
        _ => json_patch::diff(old, new),
    }
}

/// The stream an element is about: a configured stream, a `STREAM` state message, or a
/// per-stream entry of a global state.
fn stream_key(v: &Value) -> Option<StreamKey<'_>> {
    let stream = v.get("stream");
    let descriptor = stream
        .and_then(|s| s.get("stream_descriptor"))
        .or(v.get("stream_descriptor"))
        .or(stream)?;
    Some((
        descriptor.get("namespace").and_then(Value::as_str),
        descriptor.get("name")?.as_str()?,
    ))
}

type StreamKey<'a> = (Option<&'a str>, &'a str);

fn keys(items: &[Value]) -> Option<Vec<StreamKey<'_>>> {
    items.iter().map(stream_key).collect()
}

/// Each stream's index; `None` if a stream is there twice.
fn positions<'a>(keys: &[StreamKey<'a>]) -> Option<HashMap<StreamKey<'a>, usize>> {
    let map: HashMap<_, _> = keys.iter().enumerate().map(|(i, k)| (*k, i)).collect();
    (map.len() == keys.len()).then_some(map)
}

/// The patch from `old` to `new` (arrays at `at`), pairing elements by stream; `None`
/// when that cannot be done (an element about no stream, a stream twice, kept streams
/// reordered).
fn by_stream(old: &[Value], new: &[Value], at: &str) -> Option<Patch> {
    let (old_keys, new_keys) = (keys(old)?, keys(new)?);
    // A stream twice in either cannot be paired.
    positions(&old_keys)?;
    let new_at = positions(&new_keys)?;
    // The kept streams, in old order, must be in new order too.
    let kept: Vec<usize> = old_keys
        .iter()
        .filter_map(|k| new_at.get(k).copied())
        .collect();
    if kept.windows(2).any(|w| w[0] > w[1]) {
        return None;
    }
    // Between two kept streams (and before the first, after the last), the streams that
    // went and the streams that came are paired in order: one renamed in place reads as
    // its name changed; what is left over was removed or added.
    let mut pairs: Vec<(usize, usize)> = Vec::new();
    let mut removed = Vec::new();
    let mut added = Vec::new();
    let (mut i, mut j) = (0, 0);
    loop {
        let anchor = (i..old.len()).find(|&k| new_at.contains_key(&old_keys[k]));
        let (old_end, new_end) = match anchor {
            Some(k) => (k, new_at[&old_keys[k]]),
            None => (old.len(), new.len()),
        };
        let (gone, came) = (old_end - i, new_end - j);
        let paired = gone.min(came);
        pairs.extend((0..paired).map(|n| (i + n, j + n)));
        removed.extend(i + paired..old_end);
        added.extend(j + paired..new_end);
        match anchor {
            Some(k) => {
                pairs.push((k, new_end));
                (i, j) = (k + 1, new_end + 1);
            }
            None => break,
        }
    }
    let mut ops = Vec::new();
    for (i, j) in pairs {
        for mut op in json_patch::diff(&old[i], &new[j]).0 {
            prefix(&mut op, &format!("{at}/{i}"));
            ops.push(op);
        }
    }
    for i in removed.into_iter().rev() {
        ops.push(PatchOperation::Remove(RemoveOperation {
            path: pointer(&format!("{at}/{i}")),
        }));
    }
    for j in added {
        ops.push(PatchOperation::Add(AddOperation {
            path: pointer(&format!("{at}/{j}")),
            value: new[j].clone(),
        }));
    }
    Some(Patch(ops))
}

fn pointer(text: &str) -> PointerBuf {
    PointerBuf::parse(text).expect("a pointer made of array indexes")
}

/// Moves an element's operation under the element's own path.
fn prefix(op: &mut PatchOperation, at: &str) {
    let path = match op {
        PatchOperation::Add(o) => &mut o.path,
        PatchOperation::Remove(o) => &mut o.path,
        PatchOperation::Replace(o) => &mut o.path,
        PatchOperation::Move(o) => &mut o.path,
        PatchOperation::Copy(o) => &mut o.path,
        PatchOperation::Test(o) => &mut o.path,
    };
    *path = pointer(&format!("{at}{path}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn configured(name: &str, cursor: &str) -> Value {
        json!({"stream": {"name": name, "json_schema": {}}, "cursor_field": [cursor]})
    }

    #[test]
    fn a_stream_removed_in_the_middle_leaves_the_others_unchanged() {
        let old =
            json!({"streams": [configured("a", "x"), configured("b", "x"), configured("c", "x")]});
        let new =
            json!({"streams": [configured("a", "x"), configured("c", "y"), configured("d", "x")]});
        let patch = catalog(&old, &new);
        let text = serde_json::to_value(&patch).unwrap();
        assert_eq!(
            text,
            json!([
                {"op": "replace", "path": "/streams/2/cursor_field/0", "value": "y"},
                {"op": "remove", "path": "/streams/1"},
                {"op": "add", "path": "/streams/2", "value": configured("d", "x")},
            ]),
            "c's own change at its old index, b removed, d added: not b replaced by c"
        );
        let mut applied = old.clone();
        json_patch::patch(&mut applied, &patch).unwrap();
        assert_eq!(applied, new, "still a valid patch");
    }

    #[test]
    fn a_stream_renamed_in_place_reads_as_its_name_changed() {
        let old = json!({"streams": [configured("a", "x"), configured("advertizer", "x"), configured("c", "x")]});
        let new = json!({"streams": [configured("a", "x"), configured("advertiser", "x"), configured("c", "x")]});
        assert_eq!(
            serde_json::to_value(catalog(&old, &new)).unwrap(),
            json!([{"op": "replace", "path": "/streams/1/stream/name", "value": "advertiser"}])
        );
        // Split in two where it stood, and the last stream dropped.
        let new = json!({"streams": [configured("a", "x"), configured("b1", "x"), configured("b2", "x")]});
        let old = json!({"streams": [configured("a", "x"), configured("b", "x")]});
        let patch = catalog(&old, &new);
        let mut applied = old.clone();
        json_patch::patch(&mut applied, &patch).unwrap();
        assert_eq!(applied, new);
    }

    #[test]
    fn reordered_or_unnamed_elements_fall_back_to_the_positional_diff() {
        let old = json!([{"type": "STREAM", "stream": {"stream_descriptor": {"name": "a"}}},
                         {"type": "STREAM", "stream": {"stream_descriptor": {"name": "b"}}}]);
        let swapped = json!([old[1].clone(), old[0].clone()]);
        assert_eq!(state(&old, &swapped), json_patch::diff(&old, &swapped));
        let legacy = json!([{"type": "LEGACY", "data": {}}]);
        assert_eq!(state(&old, &legacy), json_patch::diff(&old, &legacy));
        let mut applied = old.clone();
        json_patch::patch(&mut applied, &state(&old, &swapped)).unwrap();
        assert_eq!(applied, swapped);
    }
}
