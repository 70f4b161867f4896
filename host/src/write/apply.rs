//! Apply: write what a plan says, connection by connection, with a snapshot first.
//!
//! A saved plan is only applied to the inputs it was made from: every plugin digest and
//! every input document hash must still match, and each migration is run again and must
//! give the very bytes the plan promised. Anything else refuses the whole apply before
//! one byte is written. A plugin failing for one connection fails only that connection.

use super::Writer;
use crate::cores;
use crate::fleet::{Entry, Fleet};
use crate::ground::BATCH;
use crate::ledger::{NewChange, NewFailure, RunKind, RunStatus, Step};
use crate::plan::{ConnectionPlan, PluginRef, Status};
use crate::plan::{PlanSource, Survey};
use anyhow::{Result, bail};
use serde::Serialize;

/// What an apply did.
#[derive(Debug, Default, Serialize)]
pub struct Applied {
    /// The ledger run, if anything was written or failed.
    pub run: Option<i64>,
    pub written: Vec<String>,
    pub failed: Vec<Failure>,
    /// Connections the plan leaves alone (up to date, pinned, not opted in).
    pub unchanged: usize,
    pub recovered: usize,
    /// For a run shared by several workers: how the run stands as this worker leaves it
    /// (`written` and `failed` above are this worker's share).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<crate::write::shared::RunEnd>,
    /// What the operator must still do for the connections written, each action once with
    /// the connections it concerns (as many as a fleet has, without growing with it).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub todo: Vec<ToDo>,
    /// Operator actions the store did itself as part of the writes (an Airbyte clears
    /// streams, see [`crate::store::Documents::performs`]).
    #[serde(skip_serializing_if = "is_zero")]
    pub done_by_store: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// An operator action the migrations of some written connections ask for.
#[derive(Debug, Serialize)]
pub struct ToDo {
    pub action: crate::migration::Action,
    /// How many written connections need it.
    pub connections: usize,
    /// The first few of them, by id.
    pub examples: Vec<String>,
}

/// How many connection ids a to-do names before it only counts.
const TODO_EXAMPLES: usize = 5;

impl Applied {
    /// Records a written connection, and the actions its migration left to the operator
    /// (those the store did not do itself).
    fn wrote(&mut self, c: &ConnectionPlan, performed: impl Fn(&crate::migration::Action) -> bool) {
        self.written.push(c.id.clone());
        for action in &c.actions {
            if performed(action) {
                self.done_by_store += 1;
                continue;
            }
            match self.todo.iter_mut().find(|t| t.action == *action) {
                Some(t) => {
                    t.connections += 1;
                    if t.examples.len() < TODO_EXAMPLES {
                        t.examples.push(c.id.clone());
                    }
                }
                None => self.todo.push(ToDo {
                    action: action.clone(),
                    connections: 1,
                    examples: vec![c.id.clone()],
                }),
            }
        }
    }
}

/// A connection an apply could not migrate, and why.
#[derive(Debug, Serialize)]
pub struct Failure {
    pub id: String,
    pub error: String,
}

/// Why an apply refused to start.
pub fn refusal(survey: &Survey) -> Option<String> {
    let errors = &survey.unplannable;
    if errors.is_empty() {
        None
    } else {
        Some(format!(
            "{} connection(s) cannot be planned; fix them (or leave them out with --only) and apply again. Nothing was written.\n{}",
            errors.len(),
            errors.join("\n")
        ))
    }
}

/// Checks a saved plan against the fleet as it is now: every connection it writes (or
/// records as failed) is planned again, from its document as read now (`migrate`), and must
/// give what the plan says. The plan is gone through a slice at a time, so a plan read from
/// its file ([`crate::plan::SavedPlan`]) is never held whole.
pub fn check_saved(
    plan: &dyn PlanSource,
    fleet: &Fleet,
    plugins: &[PluginRef],
    migrate: impl Fn(&Entry) -> ConnectionPlan + Sync,
) -> Result<()> {
    let header = plan.header();
    if header.fleet != fleet.identity() {
        bail!(
            "the plan was made for fleet {}, not {}; plan again",
            header.fleet,
            fleet.identity()
        );
    }
    if header.plugins != plugins {
        bail!(
            "the fleet's plugins changed since the plan was made (added, removed or rebuilt); plan again. Nothing was written."
        );
    }
    let mut stale = Vec::new();
    let mut slice = Vec::with_capacity(4 * BATCH);
    plan.each(&mut |c| {
        if c.status.writes() || c.status == Status::Failed {
            slice.push(c.clone());
        }
        if slice.len() == 4 * BATCH {
            check_slice(&std::mem::take(&mut slice), fleet, &migrate, &mut stale)?;
        }
        Ok(())
    })?;
    check_slice(&slice, fleet, &migrate, &mut stale)?;
    if !stale.is_empty() {
        bail!(
            "the plan is stale; plan again. Nothing was written.\n{}",
            stale.join("\n")
        );
    }
    Ok(())
}

/// Checks a slice of a saved plan's connections, read together and planned on every core;
/// apply migrates again when it writes, so nothing of the new plans is kept.
fn check_slice(
    slice: &[ConnectionPlan],
    fleet: &Fleet,
    migrate: &(impl Fn(&Entry) -> ConnectionPlan + Sync),
    stale: &mut Vec<String>,
) -> Result<()> {
    let keys: Vec<&str> = slice.iter().map(|c| c.key.as_str()).collect();
    let read: Vec<(&str, Result<Vec<u8>>)> = keys
        .iter()
        .copied()
        .zip(fleet.documents().read_many(&keys))
        .collect();
    let now = cores::map_owned(read, |(key, bytes)| {
        bytes.map(|bytes| migrate(&Entry::new(key, bytes)).slim())
    });
    for (planned, now) in slice.iter().zip(now) {
        let now = now?;
        if now.input_sha256 != planned.input_sha256 {
            stale.push(format!(
                "  {}: its document changed since the plan",
                planned.id
            ));
        } else if now.status != planned.status || now.output_sha256 != planned.output_sha256 {
            stale.push(format!(
                "  {}: the migration no longer gives what the plan showed (was {}, now {}){}",
                planned.id,
                planned.status.as_str(),
                now.status.as_str(),
                if now.status == planned.status {
                    "; is a plugin non-deterministic?"
                } else {
                    ""
                }
            ));
        }
    }
    Ok(())
}

/// Writes every connection the plan migrates or upgrades, and records the failures.
///
/// Plans keep hashes, not documents, and the plan is gone through a batch at a time
/// ([`PlanSource`]), so that a plan of any size is applied in the same memory. For each
/// batch, `migrate` plans each connection again (with its output document) and the
/// result is written only if it is exactly what was planned (same input, status and
/// output hashes). A connection whose document changed since, or whose plugin no longer
/// gives the planned output, fails alone and is left as it is.
pub fn apply(
    fleet: &Fleet,
    plan: &dyn PlanSource,
    writer: &mut dyn Writer,
    migrate: impl Fn(&Entry) -> ConnectionPlan + Sync,
    mut progress: impl FnMut(&ConnectionPlan),
) -> Result<Applied> {
    let survey = plan.survey()?;
    let summary = &survey.summary;
    let mut applied = Applied {
        recovered: writer.settled(),
        unchanged: summary
            .0
            .iter()
            .filter(|(s, _)| !s.writes() && **s != Status::Failed)
            .map(|(_, n)| n)
            .sum(),
        ..Default::default()
    };
    if !survey.does_anything() {
        return Ok(applied);
    }
    let options = &plan.header().options;
    let detail = serde_json::json!({"options": options, "summary": summary});
    let run = writer.begin(RunKind::Apply, &detail)?;
    applied.run = Some(run);
    let migrate = &migrate;
    // The plan is gone through once, a batch at a time, never held whole. The next batch
    // is migrated (on every core) while this one is written (mostly waiting on the disk):
    // the two overlap, and a batch is written only once it is migrated.
    std::thread::scope(|scope| -> Result<()> {
        type Migrating<'s> = std::thread::ScopedJoinHandle<
            's,
            (Vec<ConnectionPlan>, Vec<Result<(ConnectionPlan, Vec<u8>)>>),
        >;
        let write = |migrating: Option<Migrating>,
                     writer: &mut dyn Writer,
                     applied: &mut Applied,
                     progress: &mut dyn FnMut(&ConnectionPlan)|
         -> Result<()> {
            let Some(migrating) = migrating else {
                return Ok(());
            };
            let (batch, migrated) = migrating.join().expect("a migrating worker panicked");
            write_migrated(fleet, writer, run, &batch, migrated, applied, progress)
        };
        let mut pending: Option<Migrating> = None;
        let mut batch = Vec::with_capacity(BATCH);
        plan.each(&mut |c| {
            if c.status == Status::Failed {
                let reason = c.reason.clone().unwrap_or_default();
                writer.record_failure(
                    run,
                    &NewFailure {
                        connection_id: &c.id,
                        key: &c.key,
                        before_sha256: &c.input_sha256,
                        error: &reason,
                    },
                )?;
                tracing::warn!(connection = %c.id, error = %reason, "connection failed");
                applied.failed.push(Failure {
                    id: c.id.clone(),
                    error: reason,
                });
            } else if c.status.writes() {
                batch.push(c.clone());
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    let previous =
                        pending.replace(scope.spawn(move || migrate_owned(fleet, full, migrate)));
                    write(previous, &mut *writer, &mut applied, &mut progress)?;
                }
            }
            Ok(())
        })?;
        let previous = pending.take();
        if !batch.is_empty() {
            pending = Some(scope.spawn(move || migrate_owned(fleet, batch, migrate)));
        }
        write(previous, &mut *writer, &mut applied, &mut progress)?;
        write(pending, &mut *writer, &mut applied, &mut progress)
    })?;
    let status = RunStatus::ended(applied.written.len(), applied.failed.len());
    let detail = serde_json::json!({
        "options": options,
        "summary": summary,
        "written": applied.written.len(),
        "failed": applied.failed.len(),
    });
    writer.finish(run, status, &detail)?;
    Ok(applied)
}

/// Migrates a batch again, handing the batch back with what each connection gives now.
fn migrate_owned(
    fleet: &Fleet,
    batch: Vec<ConnectionPlan>,
    migrate: &(impl Fn(&Entry) -> ConnectionPlan + Sync),
) -> (Vec<ConnectionPlan>, Vec<Result<(ConnectionPlan, Vec<u8>)>>) {
    let migrated = migrate_again(fleet, &batch.iter().collect::<Vec<_>>(), migrate);
    (batch, migrated)
}

/// Writes a migrated batch in one go, recording the connections that failed to migrate.
fn write_migrated(
    fleet: &Fleet,
    writer: &mut dyn Writer,
    run: i64,
    batch: &[ConnectionPlan],
    migrated: Vec<Result<(ConnectionPlan, Vec<u8>)>>,
    applied: &mut Applied,
    progress: &mut dyn FnMut(&ConnectionPlan),
) -> Result<()> {
    let mut ready = Vec::with_capacity(batch.len());
    for (planned, migrated) in batch.iter().zip(migrated) {
        match migrated {
            Ok(now) => ready.push(now),
            Err(e) => {
                let error = format!("{e:#}");
                writer.record_failure(
                    run,
                    &NewFailure {
                        connection_id: &planned.id,
                        key: &planned.key,
                        before_sha256: &planned.input_sha256,
                        error: &error,
                    },
                )?;
                tracing::error!(connection = %planned.id, %error, "not written");
                applied.failed.push(Failure {
                    id: planned.id.clone(),
                    error,
                });
                progress(planned);
            }
        }
    }
    let changes: Vec<NewChange> = ready
        .iter()
        .map(|(c, before)| new_change(c, before))
        .collect();
    for ((c, _), result) in ready.iter().zip(writer.write_batch(run, &changes)?) {
        match result {
            Ok(_) => {
                tracing::info!(connection = %c.id, from = ?c.from, to = ?c.to, "written");
                applied.wrote(c, |a| fleet.documents().performs(a));
            }
            Err(e) => {
                tracing::error!(connection = %c.id, error = %format!("{e:#}"), "write failed");
                applied.failed.push(Failure {
                    id: c.id.clone(),
                    error: format!("{e:#}"),
                });
            }
        }
        progress(c);
    }
    Ok(())
}

/// What one connection's write would send, for `apply --dry-run`.
#[derive(Debug, Serialize)]
pub struct Preview {
    pub id: String,
    /// The requests (or file operations) of the write, in order; or why it could not be
    /// previewed.
    pub requests: Result<Vec<String>, String>,
}

/// What applying `connections` would write, read from the store as it is now: each is
/// migrated again as apply would, and the store says what its write would send. Nothing is
/// written, and no run is recorded.
pub fn dry_run(
    fleet: &Fleet,
    connections: &[ConnectionPlan],
    migrate: impl Fn(&Entry) -> ConnectionPlan + Sync,
) -> Vec<Preview> {
    let writing: Vec<&ConnectionPlan> = connections.iter().filter(|c| c.status.writes()).collect();
    let mut previews = Vec::with_capacity(writing.len());
    for batch in writing.chunks(BATCH) {
        for (planned, migrated) in batch.iter().zip(migrate_again(fleet, batch, &migrate)) {
            let requests = migrated.and_then(|(now, before)| {
                let after = now
                    .output
                    .as_deref()
                    .expect("a writing plan carries its output");
                fleet.documents().preview(&crate::store::Write {
                    key: &now.key,
                    before: &before,
                    after,
                    actions: &now.actions,
                })
            });
            previews.push(Preview {
                id: planned.id.clone(),
                requests: requests.map_err(|e| format!("{e:#}")),
            });
        }
    }
    previews
}

/// Reads a batch's documents (together) and plans each again, with its output, on every
/// core; refuses a connection unless both its document and its migration are exactly
/// what was planned. One result per connection: its plan and the document it replaces.
fn migrate_again(
    fleet: &Fleet,
    batch: &[&ConnectionPlan],
    migrate: &(impl Fn(&Entry) -> ConnectionPlan + Sync),
) -> Vec<Result<(ConnectionPlan, Vec<u8>)>> {
    let keys: Vec<&str> = batch.iter().map(|c| c.key.as_str()).collect();
    let read: Vec<(&ConnectionPlan, Result<Vec<u8>>)> = batch
        .iter()
        .copied()
        .zip(fleet.documents().read_many(&keys))
        .collect();
    cores::map_owned(read, |(planned, bytes)| {
        let entry = Entry::new(&planned.key, bytes?);
        if entry.sha256 != planned.input_sha256 {
            bail!("its document changed since it was planned; plan again");
        }
        let now = migrate(&entry);
        if now.status != planned.status
            || now.output_sha256 != planned.output_sha256
            || now.output.is_none()
        {
            bail!(
                "its migration no longer gives the planned output (is a plugin non-deterministic?); plan again"
            );
        }
        Ok((now, entry.bytes))
    })
}

/// The journal entry of one planned write.
fn new_change<'a>(c: &'a ConnectionPlan, before: &'a [u8]) -> NewChange<'a> {
    NewChange {
        connection_id: &c.id,
        key: &c.key,
        from_version: c.from.as_ref().map(ToString::to_string),
        to_version: c.to.as_ref().map(ToString::to_string),
        before,
        after: c
            .output
            .as_deref()
            .expect("a writing plan carries its output"),
        actions: &c.actions,
        steps: c
            .steps
            .iter()
            .map(|s| Step {
                from_version: s.from.to_string(),
                to_version: s.to.to_string(),
                plugin_file: s.plugin.as_ref().map(|p| p.file.clone()),
                plugin_sha256: s.plugin.as_ref().map(|p| p.sha256.clone()),
                plugin_signer: s.plugin.as_ref().and_then(|p| p.signer.clone()),
                input_sha256: s.input_sha256.clone(),
                output_sha256: s.output_sha256.clone(),
            })
            .collect(),
    }
}

/// Works on a run shared by every worker that starts on the same plan (or joins the run),
/// on any host: a leased batch at a time, until every batch of the run is done
/// ([`crate::write::shared`]). Each connection is migrated again and written only
/// if it gives exactly what was planned, as in [`apply`]. While one batch commits, the
/// next is leased and migrated (on every core), as [`apply`] overlaps its batches.
pub fn apply_shared(
    fleet: &Fleet,
    mut worker: crate::write::shared::Worker<'_>,
    migrate: impl Fn(&Entry) -> ConnectionPlan + Sync,
    mut progress: impl FnMut(&ConnectionPlan),
) -> Result<Applied> {
    use crate::write::shared::{Lease, Next};
    let mut applied = Applied {
        run: Some(worker.run()),
        ..Default::default()
    };
    let migrate = &migrate;
    std::thread::scope(|scope| -> Result<()> {
        type Migrating<'s> =
            std::thread::ScopedJoinHandle<'s, Vec<Result<(ConnectionPlan, Vec<u8>)>>>;
        let mut current: Option<(Lease, Migrating)> = None;
        loop {
            let holding: Vec<i32> = current.iter().map(|(lease, _)| lease.batch).collect();
            let next = worker.next(&holding)?;
            let (lease, migrating) = match next {
                Next::Lease(lease) => {
                    let items = lease.items.clone();
                    let next = (
                        lease,
                        scope.spawn(move || {
                            migrate_again(fleet, &items.iter().collect::<Vec<_>>(), migrate)
                        }),
                    );
                    match current.replace(next) {
                        Some(previous) => previous,
                        None => continue,
                    }
                }
                Next::Wait | Next::Done if current.is_some() => {
                    current.take().expect("a batch in hand")
                }
                Next::Wait => {
                    // Other workers hold the rest: wait for them to finish or their leases to expire.
                    std::thread::sleep(std::time::Duration::from_millis(200));
                    continue;
                }
                Next::Done => return Ok(()),
            };
            let migrated = migrating.join().expect("a migrating worker panicked");
            commit_leased(&mut worker, &lease, migrated, &mut applied, &mut progress)?;
        }
    })?;
    applied.shared = Some(worker.finish()?);
    Ok(applied)
}

/// Commits one leased batch of a shared run, and counts what it did.
fn commit_leased(
    worker: &mut crate::write::shared::Worker<'_>,
    lease: &crate::write::shared::Lease,
    migrated: Vec<Result<(ConnectionPlan, Vec<u8>)>>,
    applied: &mut Applied,
    progress: &mut impl FnMut(&ConnectionPlan),
) -> Result<()> {
    use crate::write::shared::Committed;
    let mut ready = Vec::with_capacity(migrated.len());
    let mut errors = Vec::new();
    for (planned, migrated) in lease.items.iter().zip(migrated) {
        match migrated {
            Ok(now) => ready.push(now),
            Err(e) => errors.push((planned, format!("{e:#}"))),
        }
    }
    let failures: Vec<NewFailure> = errors
        .iter()
        .map(|(c, error)| NewFailure {
            connection_id: &c.id,
            key: &c.key,
            before_sha256: &c.input_sha256,
            error,
        })
        .collect();
    let changes: Vec<NewChange> = ready
        .iter()
        .map(|(c, before)| new_change(c, before))
        .collect();
    match worker.commit(lease, &changes, &failures)? {
        Committed::LeaseLost => {}
        Committed::Done(results) => {
            for (planned, error) in errors {
                tracing::error!(connection = %planned.id, %error, "not written");
                applied.failed.push(Failure {
                    id: planned.id.clone(),
                    error,
                });
                progress(planned);
            }
            for ((c, _), result) in ready.iter().zip(results) {
                match result {
                    Ok(_) => applied.wrote(c, |_| false),
                    Err(e) => applied.failed.push(Failure {
                        id: c.id.clone(),
                        error: format!("{e:#}"),
                    }),
                }
                progress(c);
            }
        }
    }
    Ok(())
}
