//! The fleet's plugins: what each migrates, who signed it, what it needs.

use cutover::registry::{Plugin, Registry};
use cutover::terminal::{block, line};
use serde_json::{Value, json};
use std::fmt::Write;

pub fn plugins(registry: &Registry) -> String {
    let mut out = String::new();
    if registry.all().is_empty() {
        let _ = writeln!(out, "No plugins in {}.", registry.dir().display());
    }
    for p in registry.all() {
        let m = &p.manifest;
        let _ = writeln!(
            out,
            "{}  {}  {} {} → {}  deadline {}  contract {}  {}",
            line(&p.file),
            &p.sha256[..12],
            line(&m.connector),
            line(&m.applies_to),
            m.produces,
            line(m.upgrade_deadline.as_deref().unwrap_or("-")),
            p.contract().as_str(),
            p.signer
                .as_deref()
                .map(|k| format!("signed by {k}"))
                .unwrap_or_else(|| "unsigned".into())
        );
    }
    out
}

pub fn plugin_json(p: &Plugin) -> Value {
    json!({
        "file": p.file, "sha256": p.sha256, "size": p.size, "signer": p.signer,
        "contract": p.contract().as_str(), "manifest": p.manifest,
    })
}

pub fn plugins_json(registry: &Registry) -> Value {
    Value::Array(registry.all().iter().map(plugin_json).collect())
}

pub fn plugin(p: &Plugin) -> String {
    let m = &p.manifest;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} (sha256 {}, {} bytes, contract cutover:migration@{})",
        line(&p.file),
        p.sha256,
        p.size,
        p.contract().as_str()
    );
    let _ = writeln!(out, "connector:     {}", line(&m.connector));
    let _ = writeln!(
        out,
        "migrates:      {} → {}",
        line(&m.applies_to),
        m.produces
    );
    let _ = writeln!(
        out,
        "deadline:      {}",
        line(m.upgrade_deadline.as_deref().unwrap_or("-"))
    );
    if let Some(a) = m.deadline_action {
        let _ = writeln!(
            out,
            "at deadline:   {}",
            serde_json::to_value(a)
                .unwrap_or_default()
                .as_str()
                .unwrap_or("")
        );
    }
    let _ = writeln!(out, "guide:         {}", line(&m.documentation_url));
    let scoped = if m.scoped_streams.is_empty() {
        "the whole connector".into()
    } else {
        m.scoped_streams.join(", ")
    };
    let _ = writeln!(out, "scoped to:     {}", line(&scoped));
    for pc in &m.preconditions {
        let _ = writeln!(
            out,
            "precondition:  {} {}",
            line(&pc.subject),
            line(&pc.requirement)
        );
    }
    let _ = writeln!(
        out,
        "\n{}\n\n{}",
        line(&m.message),
        block(m.guide.trim_end())
    );
    out
}
