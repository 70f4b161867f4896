//! What runs did: an apply, a shared run that was over, live runs, history, a dry run, a
//! move between stores, a rollback.

use super::undo_hint;
use cutover::fleet::Fleet;
use cutover::ledger::{Run, RunStatus};
use cutover::terminal::line;
use cutover::write::apply::Applied;
use std::fmt::Write;

pub fn applied(applied: &Applied) -> String {
    let mut out = String::new();
    if applied.recovered > 0 {
        let _ = writeln!(
            out,
            "Settled {} write(s) of an interrupted run first.",
            applied.recovered
        );
    }
    match applied.run {
        None => {
            let _ = writeln!(
                out,
                "No changes: every connection is up to date, pinned or awaiting opt-in ({} left alone).",
                applied.unchanged
            );
        }
        Some(run) if applied.shared.is_some() => {
            let end = applied.shared.as_ref().expect("a shared run");
            let _ = writeln!(
                out,
                "Worked on shared run {run}: this worker wrote {} connection(s), {} failed.",
                applied.written.len(),
                applied.failed.len()
            );
            let _ = writeln!(
                out,
                "Run {run} {}: {} of {} connection(s) written, {} failed, by {} worker(s).{}",
                if end.ended || end.status != RunStatus::Running.as_str() {
                    format!("is {}", end.status)
                } else {
                    "goes on with the other workers".to_owned()
                },
                end.written,
                end.connections,
                end.failed,
                end.workers,
                undo_hint(run, end.written)
            );
            for f in &applied.failed {
                let _ = writeln!(out, "  failed {}: {}", f.id, f.error);
            }
        }
        Some(run) => {
            let _ = writeln!(
                out,
                "Applied run {run}: {} connection(s) written, {} failed, {} left alone.{}",
                applied.written.len(),
                applied.failed.len(),
                applied.unchanged,
                undo_hint(run, applied.written.len() as i64)
            );
            for f in &applied.failed {
                let _ = writeln!(out, "  failed {}: {}", line(&f.id), line(&f.error));
            }
        }
    }
    if applied.done_by_store > 0 {
        let _ = writeln!(
            out,
            "Done as part of the writes: {} operator action(s) the store performs (such as clearing streams).",
            applied.done_by_store
        );
    }
    if !applied.todo.is_empty() {
        let _ = writeln!(out, "\nStill to do by the operator:");
        for t in &applied.todo {
            let more = t.connections - t.examples.len();
            let _ = writeln!(
                out,
                "  {}: {}{}",
                line(&t.examples.join(", ")),
                line(&t.action.to_string()),
                if more > 0 {
                    format!(" (and {more} more connection(s))")
                } else {
                    String::new()
                }
            );
        }
    }
    out
}

/// What a worker says when the run of its plan (or the run it was to join) is over.
pub fn run_over(over: &cutover::write::shared::Finished) -> String {
    let on = over.finished_at.as_deref().unwrap_or("an unknown date");
    if over.status == RunStatus::Completed.as_str() {
        format!(
            "Run {} applied this plan on {on}; nothing to do ({} connection(s) written).\n",
            over.run, over.written
        )
    } else {
        format!(
            "Run {} applied this plan on {on} and ended {}: {} connection(s) written, {} failed (`cutover history` says why); nothing more to do with this plan: plan again for the failed ones.\n",
            over.run, over.status, over.written, over.failed
        )
    }
}

/// The runs still going (a shared run's workers, leases and progress), for `status`.
pub fn live_runs(runs: &[Run]) -> String {
    let mut out = String::new();
    for r in runs
        .iter()
        .filter(|r| r.status == RunStatus::Running.as_str())
    {
        let _ = writeln!(
            out,
            "\nRun {} ({}) is going, started by {} at {}.",
            r.id, r.kind, r.actor, r.started_at
        );
        live(&mut out, r);
    }
    out
}

/// A shared run's progress and workers, from its `live` detail.
fn live(out: &mut String, r: &Run) {
    let Some(live) = r.detail.get("live") else {
        return;
    };
    let _ = writeln!(
        out,
        "  {} of {} connection(s) written, {} failed; batches: {}",
        live["written"], live["connections"], live["failed"], live["batches"]
    );
    for w in live["workers"].as_array().into_iter().flatten() {
        let state = match w["state"].as_str().unwrap_or("?") {
            "gone" => format!(
                "gone (silent for longer than its {} s lease: killed or cut off; its batches are taken over)",
                w["lease_seconds"]
            ),
            state => state.to_owned(),
        };
        let _ = writeln!(
            out,
            "  worker {} · {} · wrote {}, failed {} · last seen {} · holds batches {}",
            w["worker"].as_str().unwrap_or("?"),
            state,
            w["written"],
            w["failed"],
            w["heartbeat_at"].as_str().unwrap_or("?"),
            w["leases"]
        );
    }
}

pub fn history(runs: &[Run]) -> String {
    let mut out = String::new();
    if runs.is_empty() {
        let _ = writeln!(out, "No runs yet.");
    }
    for r in runs {
        let _ = writeln!(
            out,
            "run {} · {} · {} · {} · by {}",
            r.id, r.kind, r.status, r.started_at, r.actor
        );
        live(&mut out, r);
        for c in &r.changes {
            let versions = match (&c.from_version, &c.to_version) {
                (Some(f), Some(t)) if f != t => format!("{f} → {t}"),
                (Some(f), _) => f.clone(),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "  {} {} {} [{}] {} → {}",
                line(&c.connection_id),
                line(&c.key),
                versions,
                c.state,
                &c.before_sha256[..12],
                c.after_sha256.as_deref().map(|s| &s[..12]).unwrap_or("-")
            );
            for (seq, s) in c.steps.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "    step {} {} → {} {}",
                    seq + 1,
                    s.from_version,
                    s.to_version,
                    match (&s.plugin_file, &s.plugin_sha256) {
                        (Some(f), Some(h)) => format!(
                            "via {f} (sha256 {}{})",
                            &h[..12],
                            s.plugin_signer
                                .as_deref()
                                .map(|k| format!(", signed by {k}"))
                                .unwrap_or_default()
                        ),
                        _ => "automatic".into(),
                    }
                );
            }
            if let Some(e) = &c.error {
                let _ = writeln!(out, "    error: {}", line(e));
            }
        }
    }
    out
}

/// `apply --dry-run`: what each connection's write would send.
pub fn dry_run(previews: &[cutover::write::apply::Preview], fleet: &Fleet) -> String {
    let mut out = format!(
        "Dry run on {}: nothing is written.\n\n",
        fleet.documents().summary()
    );
    for p in previews {
        let _ = writeln!(out, "~ {}", line(&fleet.documents().display_key(&p.id)));
        match &p.requests {
            Ok(requests) => {
                for r in requests {
                    let _ = writeln!(out, "    {}", line(r));
                }
            }
            Err(e) => {
                let _ = writeln!(out, "    ! {}", line(e));
            }
        }
    }
    let _ = writeln!(
        out,
        "\n{} connection(s) would be written.",
        previews.iter().filter(|p| p.requests.is_ok()).count()
    );
    out
}

/// What `fleet export` or `fleet import` carried, from where to where.
pub fn moved(moved: &cutover::transfer::Moved, from: &str, to: &str) -> String {
    format!(
        "{} {} document(s){} from {from} {} {to}{}.",
        if moved.exported {
            "Exported"
        } else {
            "Imported"
        },
        moved.documents,
        if moved.with_ledger {
            format!(" and {} run(s) of history", moved.runs)
        } else {
            String::new()
        },
        if moved.exported { "to" } else { "into" },
        if moved.unchanged > 0 {
            format!(" ({} already there with the same bytes)", moved.unchanged)
        } else {
            String::new()
        }
    )
}

/// What a rollback did: byte for byte, or all but what could not come back (each said).
pub fn rolled_back(done: &cutover::write::rollback::RolledBack) -> String {
    let mut out = String::new();
    let how = if done.notes.is_empty() {
        "byte for byte"
    } else {
        "as they were, save what could not come back"
    };
    let _ = writeln!(
        out,
        "Rolled back run {}: restored {} connection(s) {how} ({}). Recorded as run {}.",
        done.of_run,
        done.restored.len(),
        done.restored.join(", "),
        done.run
    );
    for note in &done.notes {
        let _ = writeln!(out, "  {note}");
    }
    out
}
