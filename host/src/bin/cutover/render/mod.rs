//! What the commands print for a person. The `--json` forms print the library's own
//! types; these read like `terraform plan`: what changes, what the operator must do.
//!
//! Here: a plan and the fleet's status. What runs did (applies, rollbacks, moves, history)
//! is in [`runs`], the fleet's plugins in [`plugins`].

use cutover::fleet::Fleet;
use cutover::plan::{ConnectionPlan, Plan, Status, StepPlan, Summary};
use cutover::redact;
use cutover::registry::Registry;
use cutover::terminal::line;
use serde_json::{Value, json};
use std::fmt::Write;

mod plugins;
mod runs;

pub use plugins::{plugin, plugin_json, plugins, plugins_json};
pub use runs::{applied, dry_run, history, live_runs, moved, rolled_back, run_over};

/// The mark in front of a connection: what happens to it.
fn mark(status: Status) -> char {
    match status {
        Status::Migrate => '~',
        Status::Upgrade => '+',
        Status::UpToDate => '=',
        Status::Pinned => '#',
        Status::NeedsOptIn => '?',
        Status::NeedsOperator => '!',
        Status::Blocked | Status::Invalid | Status::Failed => '!',
    }
}

fn version_span(c: &ConnectionPlan) -> String {
    match (&c.from, &c.to) {
        (Some(f), Some(t)) if f != t && c.status != Status::UpToDate => format!("{f} → {t}"),
        (Some(f), _) => f.to_string(),
        _ => "?".into(),
    }
}

fn title(c: &ConnectionPlan) -> String {
    match &c.name {
        Some(n) => format!("{} ({})", line(&c.id), line(n)),
        None => line(&c.id).into_owned(),
    }
}

pub fn status(plan: &Plan) -> String {
    let mut out = String::new();
    // An Airbyte connection's id is a UUID; its name is what an operator knows it by (the
    // id stays in `--json`). A directory's ids are names already.
    let by_name = plan.fleet.starts_with("airbyte ");
    let rows: Vec<[String; 5]> = plan
        .connections
        .iter()
        .map(|c| {
            [
                match (&c.name, by_name) {
                    (Some(name), true) if !name.is_empty() => line(name).into_owned(),
                    _ => line(&c.id).into_owned(),
                },
                c.connector
                    .as_deref()
                    .map(|s| line(s).into_owned())
                    .unwrap_or_else(|| "?".into()),
                c.from
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "?".into()),
                c.to.as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_else(|| "-".into()),
                next(c),
            ]
        })
        .collect();
    let header = ["CONNECTION", "CONNECTOR", "VERSION", "TARGET", "NEXT"];
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |out: &mut String, cells: [&str; 5]| {
        for i in 0..4 {
            let _ = write!(out, "{:<w$}  ", cells[i], w = widths[i]);
        }
        let _ = writeln!(out, "{}", cells[4]);
    };
    line(&mut out, header);
    for r in &rows {
        line(&mut out, [&r[0], &r[1], &r[2], &r[3], &r[4]]);
    }
    let _ = writeln!(
        out,
        "\n{}",
        summary_line(&plan.summary(), plan.connections.len())
    );
    out
}

fn next(c: &ConnectionPlan) -> String {
    let plugins: Vec<&str> = c
        .steps
        .iter()
        .filter_map(|s| s.plugin.as_ref().map(|p| p.file.as_str()))
        .collect();
    match c.status {
        Status::UpToDate => "up to date".into(),
        Status::Upgrade => "automatic upgrade (patch/minor)".into(),
        Status::Migrate | Status::NeedsOptIn => format!(
            "breaking upgrade via {} (needs opt-in)",
            line(&plugins.join(" → "))
        ),
        Status::Pinned => line(c.reason.as_deref().unwrap_or("pinned")).into_owned(),
        _ => format!(
            "{}: {}",
            c.status.as_str(),
            line(c.reason.as_deref().unwrap_or(""))
        ),
    }
}

pub fn status_json(plan: &Plan) -> Value {
    let connections: Vec<Value> = plan
        .connections
        .iter()
        .map(|c| {
            json!({
                "id": c.id, "name": c.name, "key": c.key, "connector": c.connector,
                "version": c.from, "target": c.to, "status": c.status,
                "breaking": c.steps.iter().any(|s| s.plugin.is_some()),
                "chain": c.steps.iter().map(|s| json!({"from": s.from, "to": s.to, "plugin": s.plugin})).collect::<Vec<_>>(),
                "reason": c.reason,
            })
        })
        .collect();
    json!({"fleet": plan.fleet, "connections": connections})
}

fn summary_line(s: &Summary, connections: usize) -> String {
    let mut parts = Vec::new();
    for (status, label) in [
        (Status::Migrate, "to migrate"),
        (Status::Upgrade, "to upgrade"),
        (Status::NeedsOptIn, "awaiting opt-in"),
        (Status::NeedsOperator, "need the operator"),
        (Status::Pinned, "pinned"),
        (Status::UpToDate, "up to date"),
        (Status::Blocked, "blocked"),
        (Status::Invalid, "invalid"),
        (Status::Failed, "failed"),
    ] {
        let n = s.get(status);
        if n > 0 || matches!(status, Status::Migrate | Status::Upgrade) {
            parts.push(format!("{n} {label}"));
        }
    }
    format!("{connections} connection(s): {}.", parts.join(", "))
}

/// A value, short enough for one line.
fn brief(v: &Value) -> String {
    let text = v.to_string();
    let text = if text.chars().count() > 120 {
        format!("{}…", text.chars().take(119).collect::<String>())
    } else {
        text
    };
    line(&text).into_owned()
}

/// Replaces array indices in a patch path with the names of what they index, so
/// `/streams/3/stream/json_schema` reads `/streams[boards]/stream/json_schema`.
fn readable_path(path: &str, doc: &Value, named: &dyn Fn(&Value) -> Option<String>) -> String {
    let mut out = String::new();
    let mut node = Some(doc);
    for token in path.split('/').skip(1) {
        let next = node.and_then(|n| match n {
            Value::Array(a) => token.parse::<usize>().ok().and_then(|i| a.get(i)),
            Value::Object(o) => o.get(&token.replace("~1", "/").replace("~0", "~")),
            _ => None,
        });
        match (node, next.and_then(named)) {
            (Some(Value::Array(_)), Some(name)) => {
                let _ = write!(out, "[{name}]");
            }
            _ => {
                let _ = write!(out, "/{token}");
            }
        }
        node = next;
    }
    out
}

/// The stream an array element is about: a configured stream (`stream.name`), a
/// `STREAM` state message (`stream.stream_descriptor.name`) or a global per-stream state
/// (`stream_descriptor.name`).
fn stream_label(v: &Value) -> Option<String> {
    let stream = v.get("stream");
    let name = stream
        .and_then(|s| s.get("stream_descriptor"))
        .or(v.get("stream_descriptor"))
        .or(stream)
        .and_then(|d| d.get("name"))?;
    name.as_str().map(str::to_owned)
}

fn render_patch(out: &mut String, label: &str, patch: &json_patch::Patch, before: &Value) {
    if patch.0.is_empty() {
        let _ = writeln!(out, "    {label}: no changes");
        return;
    }
    let _ = writeln!(out, "    {label}: {} change(s)", patch.0.len());
    for op in &patch.0 {
        use json_patch::PatchOperation as Op;
        let (sign, path, value) = match op {
            Op::Add(a) => ('+', a.path.to_string(), Some(&a.value)),
            Op::Remove(r) => ('-', r.path.to_string(), None),
            Op::Replace(r) => ('~', r.path.to_string(), Some(&r.value)),
            Op::Move(m) => ('>', format!("{} → {}", m.from, m.path), None),
            Op::Copy(c) => ('>', format!("{} ⇒ {}", c.from, c.path), None),
            Op::Test(t) => ('?', t.path.to_string(), Some(&t.value)),
        };
        // An added stream is named by itself: its index is in the new array, not the old.
        let added_stream = match (sign, value.and_then(stream_label), path.rsplit_once('/')) {
            ('+', Some(name), Some((parent, index))) if index.parse::<usize>().is_ok() => Some(
                format!("{}[{name}]", readable_path(parent, before, &stream_label)),
            ),
            _ => None,
        };
        let shown =
            line(&added_stream.unwrap_or_else(|| readable_path(&path, before, &stream_label)))
                .into_owned();
        let old = before.pointer(&path).filter(|_| sign != '+');
        match (old, value) {
            (_, Some(n)) if redact::is_mask(n) => {
                let change = if old.is_some() {
                    "secret, value changed"
                } else {
                    "secret"
                };
                let _ = writeln!(out, "      {sign} {shown}: ({change})");
            }
            (Some(o), None) if redact::is_mask(o) => {
                let _ = writeln!(out, "      {sign} {shown} (was a secret)");
            }
            (Some(o), Some(n)) => {
                let _ = writeln!(out, "      {sign} {shown}: {} → {}", brief(o), brief(n));
            }
            (None, Some(n)) => {
                let _ = writeln!(out, "      {sign} {shown}: {}", brief(n));
            }
            (Some(o), None) => {
                let _ = writeln!(out, "      {sign} {shown} (was {})", brief(o));
            }
            (None, None) => {
                let _ = writeln!(out, "      {sign} {shown}");
            }
        }
    }
}

fn render_step(out: &mut String, step: &StepPlan, today: &str) {
    match &step.plugin {
        None => {
            let _ = writeln!(
                out,
                "    step {} → {}: automatic (patch/minor, documents unchanged)",
                step.from, step.to
            );
        }
        Some(p) => {
            let _ = writeln!(
                out,
                "    step {} → {}: plugin {} (sha256 {})",
                step.from,
                step.to,
                line(&p.file),
                &p.sha256[..12]
            );
        }
    }
    if let Some(b) = &step.breaking {
        let _ = writeln!(out, "      ! {}", line(&b.message));
        let mut facts = Vec::new();
        if let Some(d) = &b.upgrade_deadline {
            let passed = if d.as_str() < today { " (passed)" } else { "" };
            facts.push(format!("deadline {d}{passed}"));
        }
        if let Some(a) = b.deadline_action {
            facts.push(format!(
                "then {}",
                serde_json::to_value(a)
                    .unwrap_or_default()
                    .as_str()
                    .unwrap_or("")
            ));
        }
        facts.push(format!("guide {}", line(&b.documentation_url)));
        let _ = writeln!(out, "      {}", facts.join(" · "));
        if !b.scoped_streams.is_empty() {
            let _ = writeln!(
                out,
                "      scoped to streams: {}{}",
                line(&b.scoped_streams.join(", ")),
                if b.affected {
                    ""
                } else {
                    " (this connection syncs none of them)"
                }
            );
        }
        if !b.unlisted_changes.is_empty() {
            let _ = writeln!(
                out,
                "      ! also changed in {}, though the connector's breaking change does not list them: {}",
                step.to,
                line(&b.unlisted_changes.join(", "))
            );
        }
    }
    for l in &step.log {
        let _ = writeln!(out, "      log {:?}: {}", l.level, line(&l.message));
    }
}

/// A connector document's changes, each configuration field's properties other than its
/// value (taken from the new version's defaults) counted on one line rather than listed.
fn render_document_patch(out: &mut String, patch: &json_patch::Patch, before: &Value) {
    use json_patch::PatchOperation as Op;
    let property_of = |op: &Op| -> Option<String> {
        let path = match op {
            Op::Add(a) => a.path.to_string(),
            Op::Replace(r) => r.path.to_string(),
            Op::Remove(r) => r.path.to_string(),
            _ => return None,
        };
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["", "configuration", key, property, ..] if *property != "value" => {
                Some((*key).to_owned())
            }
            _ => None,
        }
    };
    // A whole field added or removed shows as its value.
    let field_of = |path: String| -> Option<String> {
        let parts: Vec<&str> = path.split('/').collect();
        match parts.as_slice() {
            ["", "configuration", key] => Some((*key).to_owned()),
            _ => None,
        }
    };
    let mut counted: Vec<(String, usize)> = Vec::new();
    let mut shown = Vec::new();
    for op in &patch.0 {
        let op = match op {
            Op::Add(a) => match field_of(a.path.to_string()) {
                Some(key) => Op::Add(json_patch::AddOperation {
                    path: format!("/configuration/{key}/value")
                        .parse()
                        .expect("a JSON Pointer"),
                    value: a.value.get("value").cloned().unwrap_or(Value::Null),
                }),
                None => op.clone(),
            },
            _ => op.clone(),
        };
        let op = &op;
        match property_of(op) {
            Some(key) => match counted.iter_mut().find(|(k, _)| *k == key) {
                Some((_, n)) => *n += 1,
                None => counted.push((key, 1)),
            },
            None => shown.push(op.clone()),
        }
    }
    render_patch(out, "document", &json_patch::Patch(shown), before);
    if !counted.is_empty() {
        let fields: Vec<String> = counted.iter().map(|(k, n)| format!("{k} ({n})")).collect();
        let _ = writeln!(
            out,
            "      ~ properties other than the value, from the new version's defaults: {}",
            fields.join(", ")
        );
    }
}

fn is_elastic(c: &ConnectionPlan) -> bool {
    c.connector
        .as_deref()
        .is_some_and(cutover::platform::Platform::is_elastic)
}

/// The first line of a rendered plan.
pub fn plan_header(plan: &Plan, connections: usize, registry: &Registry) -> String {
    format!(
        "cutover plan for fleet {} ({} connection(s), {} plugin(s))\n\n",
        plan.fleet,
        connections,
        registry.all().len()
    )
}

/// One connection of a rendered plan: chain, breaking changes, diff, actions, notes.
pub fn plan_connection(c: &ConnectionPlan, fleet: &Fleet, today: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {}  {} {}  [{}]",
        mark(c.status),
        title(c),
        line(c.connector.as_deref().unwrap_or("?")),
        version_span(c),
        c.status.as_str()
    );
    if let Some(r) = &c.reason {
        let _ = writeln!(out, "    {}", line(r));
    }
    for s in &c.steps {
        render_step(&mut out, s, today);
    }
    if c.output_sha256.is_some() && !c.steps.is_empty() {
        // The documents as planned from, masked by the planner, to name what each patch
        // path points at.
        let before = c.shown_before.as_ref().unwrap_or(&Value::Null);
        if is_elastic(c) {
            render_document_patch(&mut out, &c.changes.document, before);
        } else {
            render_patch(&mut out, "config", &c.changes.config, &before["config"]);
            render_patch(&mut out, "catalog", &c.changes.catalog, &before["catalog"]);
            render_patch(
                &mut out,
                "state",
                &c.changes.state,
                before.get("state").unwrap_or(&Value::Null),
            );
        }
    }
    // What the store does itself as part of the write (an Airbyte clears streams), and what
    // is left to the operator.
    let (done, left): (Vec<_>, Vec<_>) = c
        .actions
        .iter()
        .partition(|a| fleet.documents().performs(a));
    for (title, actions) in [
        ("cutover does, as part of apply:", done),
        ("the operator must, after apply:", left),
    ] {
        if !actions.is_empty() {
            let _ = writeln!(out, "    {title}");
            for (i, a) in actions.iter().enumerate() {
                let _ = writeln!(out, "      {}. {}", i + 1, line(&a.to_string()));
            }
        }
    }
    if !c.notes.is_empty() {
        let _ = writeln!(out, "    notes:");
        for n in &c.notes {
            let _ = writeln!(out, "      - {}", line(n));
        }
    }
    out.push('\n');
    out
}

/// What cutover's snapshots cover for Elastic connectors, and what only an Elasticsearch
/// snapshot does: Elastic's upgrade guide begins with "take a snapshot".
pub const ELASTIC_SNAPSHOTS: &str = "Snapshots: before writing a connector, cutover keeps its whole document (configuration, pipeline, sync cursor, filtering, scheduling) in the ledger, and `cutover rollback` restores it byte for byte. An Elasticsearch snapshot taken first also covers what cutover does not hold: the content indices (search-*), the sync jobs index and the connector secrets (the ent_search feature state).";
/// What undoes a run: its snapshots, when it wrote anything. A run that wrote nothing has
/// nothing to roll back, and saying otherwise sends the operator to a command that refuses.
fn undo_hint(run: i64, written: i64) -> String {
    if written == 0 {
        " Nothing was written, so there is nothing to roll back.".to_owned()
    } else {
        format!(" Snapshots are in the ledger: `cutover rollback --run {run}` undoes it.")
    }
}

/// The end of a rendered plan: the summary, and who waits for an opt-in.
pub fn plan_footer(
    summary: &Summary,
    connections: usize,
    waiting: &[String],
    elastic: bool,
) -> String {
    let mut out = String::new();
    if elastic {
        let _ = writeln!(out, "{ELASTIC_SNAPSHOTS}");
    }
    let _ = writeln!(out, "Plan: {}", summary_line(summary, connections));
    if !waiting.is_empty() {
        let _ = writeln!(
            out,
            "Breaking upgrades wait for an opt-in: --opt-in {} (or --all).",
            line(&waiting.join(","))
        );
    }
    out
}
