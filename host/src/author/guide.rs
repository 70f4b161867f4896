//! The migration guide of a plugin, rendered from what the plugin itself says and does:
//! its manifest (the connector's breaking-change entry and the author's guide text) and, when
//! the crate has golden fixtures, the actions and notes the plugin really emits on them. The
//! guide is generated from the code, so the two cannot disagree.

use crate::manifest::{DeadlineAction, Manifest};
use crate::migration::Action;
use std::fmt::Write;

/// What the plugin did on one golden case.
pub struct Example {
    pub case: String,
    /// The streams the input connection syncs.
    pub streams: Vec<String>,
    pub outcome: Result<(Vec<Action>, Vec<String>), String>,
}

/// Renders the guide as markdown.
pub fn render(manifest: &Manifest, examples: &[Example]) -> String {
    let mut out = String::new();
    let m = manifest;
    let _ = writeln!(out, "# {} {}\n", m.connector, m.produces);
    for line in m.message.lines() {
        let _ = writeln!(out, "> {line}");
    }
    out.push('\n');
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| Migrates | `{}` → `{}` |", m.applies_to, m.produces);
    let deadline = match (&m.upgrade_deadline, m.deadline_action) {
        (None, _) => "none".to_owned(),
        (Some(d), None) => d.clone(),
        (Some(d), Some(DeadlineAction::Disable)) => {
            format!("{d}, then connections not upgraded are disabled")
        }
        (Some(d), Some(DeadlineAction::AutoUpgrade)) => {
            format!("{d}, then connections are upgraded automatically")
        }
    };
    let _ = writeln!(out, "| Upgrade deadline | {deadline} |");
    let scope = if m.scoped_streams.is_empty() {
        "every connection (no scopedImpact)".to_owned()
    } else {
        m.scoped_streams
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(out, "| Affected streams | {scope} |");
    let preconditions = if m.preconditions.is_empty() {
        "none".to_owned()
    } else {
        m.preconditions
            .iter()
            .map(|p| format!("{} `{}`", p.subject, p.requirement))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(out, "| Preconditions | {preconditions} |");
    let _ = writeln!(out, "| Connector's guide | {} |\n", m.documentation_url);
    let _ = writeln!(out, "## Before you start\n");
    let _ = writeln!(
        out,
        "Major upgrades run only for connections opted in (`cutover plan --opt-in <id>` or `--all`); pinned connections are left alone. `cutover apply` snapshots every connection before it writes, and `cutover rollback` restores them byte for byte.\n"
    );
    let guide = m.guide.trim();
    if !guide.is_empty() {
        let _ = writeln!(out, "## The migration\n\n{guide}\n");
    }
    if !examples.is_empty() {
        let _ = writeln!(out, "## What the plugin does, case by case\n");
        let _ = writeln!(
            out,
            "Each case is one of the plugin's golden fixtures, run through the sandbox when this guide was rendered.\n"
        );
    }
    for e in examples {
        let _ = writeln!(out, "### {}\n", e.case);
        let _ = writeln!(out, "A connection syncing {}.\n", list(&e.streams));
        match &e.outcome {
            Err(refusal) => {
                let _ = writeln!(out, "cutover refuses it: {refusal}\n");
            }
            Ok((actions, notes)) => {
                if actions.is_empty() {
                    let _ = writeln!(out, "Nothing is left to do after the upgrade.\n");
                } else {
                    let _ = writeln!(out, "Left to the operator after the upgrade:\n");
                    for a in actions {
                        let _ = writeln!(out, "- {a}");
                    }
                    out.push('\n');
                }
                if !notes.is_empty() {
                    let _ = writeln!(out, "Done by the plugin:\n");
                    for n in notes {
                        let _ = writeln!(out, "- {n}");
                    }
                    out.push('\n');
                }
            }
        }
    }
    out
}

fn list(streams: &[String]) -> String {
    match streams.len() {
        0 => "no streams".into(),
        n if n > 12 => format!(
            "{n} streams ({}, …)",
            streams[..12]
                .iter()
                .map(|s| format!("`{s}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        _ => streams
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", "),
    }
}
