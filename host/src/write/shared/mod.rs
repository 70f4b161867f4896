//! Shared apply runs: one plan, carried out by any number of workers on any hosts.
//!
//! A run's connections are rows (`run_items`), grouped in batches (`batches`). A worker
//! leases the next batch with `SELECT … FOR UPDATE SKIP LOCKED` (so two workers never wait
//! on each other, let alone take the same batch), migrates it, and commits its documents,
//! snapshots and ledger rows in one transaction that also marks the batch done, only while
//! the worker still holds the lease. A thread renews the worker's leases and heartbeat while
//! it works; a worker that dies stops renewing, its lease expires, and another worker takes
//! the batch over, from the start, since nothing of it was committed. So every connection is
//! written at most once per run (the database's unique index on a run's writes says so too),
//! and the run ends, recorded by whichever worker commits its last batch, when every batch
//! is done.
//!
//! A lost connection (a database restart) fails only the request in flight: the worker
//! reconnects, finds out whether its last commit made it, and goes on.

mod worker;

pub use worker::Worker;
use worker::renew;

use super::transaction::{WRITER_LOCK, begin_run, worker_name};
use crate::ground::failpoint;
use crate::ledger::{NewFailure, RunKind, RunStatus};
use crate::plan::PlanSource;
use crate::plan::{ConnectionPlan, Options, PluginRef, Status};
use crate::store::postgres::PgFleet;
use crate::store::postgres::connect::{RECONNECT_FOR, is_connection_lost};
use anyhow::{Context, Result, bail};
use postgres::Client;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

/// Names the creation of shared runs among advisory locks, so two hosts starting the same
/// plan at once make one run.
const CREATE_LOCK: i64 = 0x6375_746f_7665_7203;

/// Names the check of a saved plan among advisory locks (of two keys: this one, and a
/// number taken from the plan's digest), so that workers started together on a plan check it
/// once.
const CHECK_LOCK: i32 = 0x6375_7404;

/// How many of a plan's connections one statement records when a run starts.
const ITEMS_PER_INSERT: usize = 8192;

/// What a worker works on: the run of a plan, or a run by its id.
pub enum Start<'a> {
    /// The live run of the plan (an interrupted one is resumed), or a new one. Only a plan
    /// `checked` against the fleet as it is now may start a new run: one that is not is
    /// trusted only as far as a run of it was started by a worker that checked it.
    Plan {
        plan: &'a dyn PlanSource,
        checked: bool,
    },
    /// Run `id`, to help finish it.
    Join(i64),
}

/// How a worker's start went.
pub enum Started<'f> {
    /// Working on a run.
    Working(Box<Worker<'f>>),
    /// The plan's run, or the run to join, is over: there is nothing to do.
    Over(Finished),
    /// No run of the plan is going or over, and the plan was not checked: check it, then
    /// start again with `checked`.
    Unchecked,
}

/// A shared run that is over, as a worker that came after its end is told.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finished {
    pub run: i64,
    /// `completed`, `partial` or `failed`.
    pub status: String,
    pub finished_at: Option<String>,
    pub written: i64,
    pub failed: i64,
}

/// The plan a shared run carries out, as a worker that joins it needs it.
pub struct RunPlan {
    pub run: i64,
    pub options: Options,
    pub plugins: Vec<PluginRef>,
}

/// A batch this worker holds, with the plan of each of its connections.
pub struct Lease {
    pub batch: i32,
    pub items: Vec<ConnectionPlan>,
    /// Whether another worker held it before and died.
    pub taken_over: bool,
}

/// What [`Worker::next`] found.
pub enum Next {
    /// A batch to work on.
    Lease(Lease),
    /// None free now: other workers hold the rest.
    Wait,
    /// Every batch but the ones held is done.
    Done,
}

/// How a commit went.
pub enum Committed {
    /// The batch is done: one result per change (its ledger id, or why it was not written).
    Done(Vec<Result<i64>>),
    /// The lease expired and another worker took the batch over; nothing was written.
    LeaseLost,
}

/// How the run stands when this worker leaves it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct RunEnd {
    pub run: i64,
    /// Whether this worker recorded the end of the run (it committed the last batch, or
    /// found the run over).
    pub ended: bool,
    pub status: String,
    pub connections: i64,
    pub written: i64,
    pub failed: i64,
    pub workers: i64,
}

/// What `--join` of a run finds.
pub enum Joining {
    /// A run going (or interrupted), and its plan.
    Run(RunPlan),
    /// A run that is over.
    Over(Finished),
}

impl PgFleet {
    /// The plan of shared run `run`, for a worker joining it; or how it ended.
    pub fn run_plan(&self, run: i64) -> Result<Joining> {
        self.with_new("looking up the run to join", |client| {
            let Some(row) = client.query_opt(
                "SELECT kind, status, options, plugins FROM cutover.runs WHERE id = $1",
                &[&run],
            )?
            else {
                bail!(
                    "there is no run {run} in {}; `cutover history` lists runs",
                    self.summary_text()
                );
            };
            let (kind, status): (String, String) = (row.get(0), row.get(1));
            let (Some(options), Some(plugins)) = (
                row.get::<_, Option<serde_json::Value>>(2),
                row.get::<_, Option<serde_json::Value>>(3),
            ) else {
                bail!("run {run} is a {kind} run, not a shared apply that workers can join");
            };
            if !matches!(
                status.parse(),
                Ok(RunStatus::Running | RunStatus::Interrupted)
            ) {
                return match finished(client, run)? {
                    Some(over) => Ok(Joining::Over(over)),
                    None => bail!("run {run} is {status}: there is nothing left to join"),
                };
            }
            Ok(Joining::Run(RunPlan {
                run,
                options: serde_json::from_value(options).context("reading the run's options")?,
                plugins: serde_json::from_value(plugins).context("reading the run's plugins")?,
            }))
        })
    }

    /// Starts a worker: on the run of a plan (the live one, an interrupted one resumed, or
    /// a new one if the plan was checked), or on run `id`. Says so instead when that run
    /// is over, and refuses while another plan's run is being applied, naming it and its
    /// workers.
    pub fn worker(&self, start: Start<'_>) -> Result<Started<'_>> {
        let id = format!(
            "{} #{:x}",
            worker_name(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .subsec_nanos()
        );
        // Each step is safe to repeat on a new connection if the database goes away
        // midway: a run made whose answer was lost is found again by its plan, and a
        // worker row already made is kept.
        let deadline = Instant::now() + RECONNECT_FOR;
        let mut wait = Duration::from_millis(200);
        let (client, run) = loop {
            let started = (|| -> Result<(Client, Found)> {
                let mut client = self.connect_new()?;
                failpoint("worker-starting");
                take_shared_lock(&mut client, self.summary_text())?;
                let found = match &start {
                    Start::Join(run) => join(&mut client, *run)?,
                    Start::Plan { plan, checked } => create_or_join(
                        &mut client,
                        *plan,
                        *checked,
                        self.summary_text(),
                        self.batch_size(),
                    )?,
                };
                if let Found::Run(run) = found {
                    let lease_seconds = i32::try_from(self.lease_seconds()).unwrap_or(i32::MAX);
                    client.execute(
                        "INSERT INTO cutover.workers (id, run_id, actor, pid, lease_seconds) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (id) DO NOTHING",
                        &[&id, &run, &crate::ground::actor(), &(std::process::id() as i32), &lease_seconds],
                    )?;
                }
                Ok((client, found))
            })();
            match started {
                Err(e) if is_connection_lost(&e) && Instant::now() < deadline => {
                    self.target().lost();
                    tracing::warn!(
                        "starting work on the run: lost the database ({e:#}); trying again"
                    );
                    std::thread::sleep(wait);
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
                Err(e) => return Err(e),
                Ok((client, Found::Run(run))) => break (client, run),
                Ok((_, Found::Over(over))) => return Ok(Started::Over(over)),
                Ok((_, Found::Unchecked)) => return Ok(Started::Unchecked),
            }
        };
        let stop = Arc::new(AtomicBool::new(false));
        let renewer = std::thread::spawn({
            let (stop, target, id, seconds) = (
                stop.clone(),
                self.target().clone(),
                id.clone(),
                self.lease_seconds(),
            );
            move || renew(&stop, &target, &id, seconds)
        });
        failpoint("worker-started");
        Ok(Started::Working(Box::new(Worker {
            fleet: self,
            client,
            id,
            run,
            stop,
            renewer: Some(renewer),
        })))
    }
}

/// Who checks a saved plan that has no run yet.
enum Checking {
    /// This worker: it holds the plan's check lock, on a connection of its own, until the
    /// lock is dropped (once its run is made, or the check failed).
    Mine(Box<CheckLock>),
    /// Another worker was checking it and is done (it made the run, or found the plan
    /// stale): look for the run again.
    Waited,
}

/// The check lock of a plan, held while its session lasts.
struct CheckLock {
    _session: Client,
}

impl PgFleet {
    /// Starts a worker on the run of `plan`: the live one, an interrupted one resumed, or
    /// a new one, made only once `check` has checked the plan against the fleet as it is now
    /// (unless it is `checked` already, made just now); or says that the plan's run is over.
    ///
    /// Workers started together on a plan check it once: the first takes the plan's check
    /// lock and checks it; the others wait for that lock, then find the run it made and join
    /// it without checking (the check runs every plugin on every connection again, which
    /// several workers on the same cores would otherwise all do at the same time).
    pub fn worker_on_plan(
        &self,
        plan: &dyn PlanSource,
        checked: bool,
        check: impl FnOnce() -> Result<()>,
    ) -> Result<Started<'_>> {
        let mut check = Some(check);
        let mut holding = None;
        loop {
            let checked = checked || holding.is_some();
            match self.worker(Start::Plan { plan, checked })? {
                Started::Unchecked => match self.check_alone(plan)? {
                    Checking::Mine(lock) => {
                        failpoint("plan-checking");
                        check.take().expect("a plan is checked once")()?;
                        holding = Some(lock);
                    }
                    Checking::Waited => {}
                },
                // The lock goes once the run is made (or found over), with `holding`.
                started => return Ok(started),
            }
        }
    }

    /// Takes the check lock of `plan`, or waits while another worker holds it.
    fn check_alone(&self, plan: &dyn PlanSource) -> Result<Checking> {
        let sha = plan.survey()?.sha256;
        let key = i32::from_str_radix(sha.get(..7).unwrap_or("0"), 16).unwrap_or(0);
        let mut session = self.connect_new()?;
        let mine: bool = session
            .query_one("SELECT pg_try_advisory_lock($1, $2)", &[&CHECK_LOCK, &key])?
            .get(0);
        if mine {
            return Ok(Checking::Mine(Box::new(CheckLock { _session: session })));
        }
        tracing::info!("another worker is checking this plan; waiting for it to start the run");
        match session.execute("SELECT pg_advisory_lock($1, $2)", &[&CHECK_LOCK, &key]) {
            Ok(_) => Ok(Checking::Waited),
            Err(e) => {
                let e = anyhow::Error::from(e);
                // A restart frees the lock too: look again.
                if is_connection_lost(&e) {
                    Ok(Checking::Waited)
                } else {
                    Err(e)
                }
            }
        }
    }
}

/// What a worker's start found in the database.
enum Found {
    /// The run to work on.
    Run(i64),
    /// The run is over.
    Over(Finished),
    /// The plan has no run, and must be checked before one is made.
    Unchecked,
}

/// Run `run` to join: going, or interrupted (resumed now), or over.
fn join(client: &mut Client, run: i64) -> Result<Found> {
    let mut tx = client.transaction()?;
    let status: Option<String> = tx
        .query_opt(
            "SELECT status FROM cutover.runs WHERE id = $1 FOR UPDATE",
            &[&run],
        )?
        .map(|r| r.get(0));
    let found = match status.as_deref().map(str::parse) {
        Some(Ok(RunStatus::Interrupted)) => {
            tx.execute(
                "UPDATE cutover.runs SET status = 'running', finished_at = NULL WHERE id = $1",
                &[&run],
            )?;
            Found::Run(run)
        }
        Some(Ok(RunStatus::Running)) | None => Found::Run(run),
        Some(_) => match finished(&mut tx, run)? {
            Some(over) => Found::Over(over),
            None => Found::Run(run),
        },
    };
    tx.commit()?;
    Ok(found)
}

/// How run `run` ended, if it did: its status, when, and what it wrote and failed.
fn finished(client: &mut impl postgres::GenericClient, run: i64) -> Result<Option<Finished>> {
    let row = client.query_opt(
        "SELECT r.status, r.finished_at,
                count(c.id) FILTER (WHERE c.state IN ('written', 'rolled-back')),
                count(c.id) FILTER (WHERE c.state = 'failed')
         FROM cutover.runs r LEFT JOIN cutover.changes c ON c.run_id = r.id
         WHERE r.id = $1 AND r.status IN ('completed', 'partial', 'failed')
         GROUP BY r.id",
        &[&run],
    )?;
    Ok(row.map(|r| Finished {
        run,
        status: r.get(0),
        finished_at: r.get(1),
        written: r.get(2),
        failed: r.get(3),
    }))
}

/// Finds the run of `plan`: the live one, or the last one, resumed if it was interrupted
/// and told of if it is over (one rolled back does not count: the plan may be applied
/// again). Else creates a new run of it, if it was checked. The plan's connections are
/// recorded a slice at a time as they are gone through, so a plan read from its file is
/// never held whole.
///
/// All under one lock: a worker that saw the plan's run live and so did not check the
/// plan finds the run over here, or joins it; it never starts a new run from a plan it
/// did not check.
fn create_or_join(
    client: &mut Client,
    plan: &dyn PlanSource,
    checked: bool,
    summary: &str,
    batch_size: usize,
) -> Result<Found> {
    let survey = plan.survey()?;
    let header = plan.header();
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CREATE_LOCK])?;
    if let Some(run) = live_run(&mut tx, &survey.sha256, summary)? {
        return Ok(Found::Run(run));
    }
    let last = tx.query_opt(
        "SELECT id, status FROM cutover.runs WHERE kind = 'apply' AND plan_sha256 = $1 ORDER BY id DESC LIMIT 1",
        &[&survey.sha256],
    )?;
    if let Some(last) = last {
        let (run, status): (i64, String) = (last.get(0), last.get(1));
        if status.parse() == Ok(RunStatus::Interrupted) {
            tx.execute(
                "UPDATE cutover.runs SET status = 'running', finished_at = NULL WHERE id = $1",
                &[&run],
            )?;
            tx.commit()?;
            tracing::info!(run, "resumed the interrupted run of this plan");
            return Ok(Found::Run(run));
        }
        if let Some(over) = finished(&mut tx, run)? {
            return Ok(Found::Over(over));
        }
    }
    if !checked {
        return Ok(Found::Unchecked);
    }
    let detail =
        serde_json::json!({"options": header.options, "summary": survey.summary, "shared": true});
    let options = serde_json::to_value(&header.options)?;
    let plugins = serde_json::to_value(&header.plugins)?;
    let run = begin_run(
        &mut tx,
        RunKind::Apply,
        &detail,
        Some((&survey.sha256, &options, &plugins)),
    )?;
    let mut items = Items {
        run,
        batch_size,
        seq: 0,
        writing: 0,
        slice: Vec::with_capacity(ITEMS_PER_INSERT),
    };
    plan.each(&mut |c| {
        items.slice.push(c.clone());
        if items.slice.len() == ITEMS_PER_INSERT {
            items.record(&mut tx)?;
        }
        Ok(())
    })?;
    items.record(&mut tx)?;
    let writing = items.writing;
    let batches = writing.div_ceil(batch_size) as i32;
    tx.execute(
        "INSERT INTO cutover.batches (run_id, batch) SELECT $1, generate_series(0, $2 - 1)",
        &[&run, &batches],
    )?;
    tx.commit().context("starting the shared run")?;
    tracing::info!(run, connections = writing, batches, "started a shared run");
    Ok(Found::Run(run))
}

/// A new run's connections on their way into the database, a slice at a time.
struct Items {
    run: i64,
    batch_size: usize,
    /// The plan's order of the next connection.
    seq: usize,
    /// How many connections to write so far: the next one's place in the batches.
    writing: usize,
    slice: Vec<ConnectionPlan>,
}

impl Items {
    /// Records the slice held: its connections as the run's items (those to write given
    /// their batch), and the failures the plan carries as the run's failed changes.
    fn record(&mut self, tx: &mut postgres::Transaction<'_>) -> Result<()> {
        if self.slice.is_empty() {
            return Ok(());
        }
        let slice = std::mem::take(&mut self.slice);
        let mut seq = Vec::with_capacity(slice.len());
        let mut batch = Vec::with_capacity(slice.len());
        for c in &slice {
            seq.push(self.seq as i32);
            self.seq += 1;
            batch.push(if c.status.writes() {
                self.writing += 1;
                ((self.writing - 1) / self.batch_size) as i32
            } else {
                -1
            });
        }
        let keys: Vec<&str> = slice.iter().map(|c| c.key.as_str()).collect();
        let ids: Vec<&str> = slice.iter().map(|c| c.id.as_str()).collect();
        let status: Vec<&str> = slice.iter().map(|c| c.status.as_str()).collect();
        let reason: Vec<Option<&str>> = slice.iter().map(|c| c.reason.as_deref()).collect();
        let input: Vec<&str> = slice.iter().map(|c| c.input_sha256.as_str()).collect();
        let output: Vec<Option<&str>> = slice.iter().map(|c| c.output_sha256.as_deref()).collect();
        tx.execute(
            "INSERT INTO cutover.run_items (run_id, seq, batch, key, connection_id, status, reason, input_sha256, output_sha256)
             SELECT $1, * FROM unnest($2::int[], $3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[])",
            &[&self.run, &seq, &batch, &keys, &ids, &status, &reason, &input, &output],
        )
        .context("recording the run's plan")?;
        let failed: Vec<NewFailure> = slice
            .iter()
            .filter(|c| c.status == Status::Failed)
            .map(|c| NewFailure {
                connection_id: &c.id,
                key: &c.key,
                before_sha256: &c.input_sha256,
                error: c.reason.as_deref().unwrap_or(""),
            })
            .collect();
        super::transaction::record_failures(tx, self.run, &worker_name(), &failed)
    }
}

/// The apply run going with plan digest `sha`, if any; refuses while a run of another plan
/// is going, naming it and its live workers.
fn live_run(
    client: &mut impl postgres::GenericClient,
    sha: &str,
    summary: &str,
) -> Result<Option<i64>> {
    let live = client.query(
        "SELECT r.id, r.plan_sha256, r.actor, r.started_at,
                (SELECT string_agg(w.id, ', ' ORDER BY w.started_at) FROM cutover.workers w
                  WHERE w.run_id = r.id AND w.state = 'working'
                    AND w.heartbeat_at > now() - w.lease_seconds * interval '1 second')
         FROM cutover.runs r WHERE r.kind = 'apply' AND r.status = 'running' ORDER BY r.id",
        &[],
    )?;
    if let Some(same) = live
        .iter()
        .find(|r| r.get::<_, Option<String>>(1).as_deref() == Some(sha))
    {
        return Ok(Some(same.get(0)));
    }
    if let Some(other) = live.first() {
        let (id, actor, since, workers): (i64, String, String, Option<String>) =
            (other.get(0), other.get(2), other.get(3), other.get(4));
        bail!(
            "run {id} (another plan, started by {actor} at {since}) is applying fleet {summary}{}; nothing was written. Wait for it to end, or share it: `cutover apply --join {id}`",
            match workers {
                Some(w) => format!(" with workers {w}"),
                None => " and has no live worker (`cutover apply --join` finishes it)".into(),
            }
        );
    }
    Ok(None)
}

/// Takes the fleet's writer lock, shared with the other apply workers.
fn take_shared_lock(client: &mut Client, summary: &str) -> Result<()> {
    let taken: bool = client
        .query_one("SELECT pg_try_advisory_lock_shared($1)", &[&WRITER_LOCK])?
        .get(0);
    if !taken {
        bail!(
            "the fleet {summary} is locked by a rollback, pin or import in progress; apply again when it ends"
        );
    }
    Ok(())
}
