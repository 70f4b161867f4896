//! The `cutover` schema, created and upgraded by the binary itself.
//!
//! Each entry of [`MIGRATIONS`] takes the schema one version up, in one transaction, with
//! the version recorded in `cutover.schema_version`. Hosts that start at once serialize on
//! a transaction-scoped advisory lock, so each step runs exactly once. A database whose
//! schema is newer than this binary is refused before anything is read or written: an
//! older binary would misread what a newer one records.

use anyhow::{Context, Result, bail};
use postgres::Client;

/// The schema, one step per version: step `i` takes a database from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    // 1: documents, the ledger, shared runs and their workers.
    r#"
    CREATE TABLE cutover.fleet (
        id text PRIMARY KEY,
        created_at timestamptz NOT NULL DEFAULT now()
    );
    INSERT INTO cutover.fleet (id) VALUES (md5(random()::text || clock_timestamp()::text));

    -- One row per connection document; body holds its exact bytes (jsonb would reorder
    -- keys and lose a rollback's byte-for-byte promise).
    CREATE TABLE cutover.documents (
        key text COLLATE "C" PRIMARY KEY,
        body bytea NOT NULL,
        sha256 text NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE cutover.runs (
        id bigserial PRIMARY KEY,
        kind text NOT NULL,
        started_at text NOT NULL,
        finished_at text,
        status text NOT NULL,
        actor text NOT NULL,
        cutover_version text NOT NULL,
        detail jsonb NOT NULL DEFAULT '{}',
        -- A shared apply run: the plan it carries out (its digest, options and plugins).
        plan_sha256 text,
        options jsonb,
        plugins jsonb
    );
    CREATE INDEX runs_by_status ON cutover.runs (status);

    CREATE TABLE cutover.changes (
        id bigserial PRIMARY KEY,
        run_id bigint NOT NULL REFERENCES cutover.runs (id),
        connection_id text NOT NULL,
        key text COLLATE "C" NOT NULL,
        from_version text,
        to_version text,
        before_sha256 text NOT NULL,
        after_sha256 text,
        snapshot bytea,
        state text NOT NULL,
        error text,
        at text NOT NULL,
        worker text
    );
    CREATE INDEX changes_by_run ON cutover.changes (run_id);
    CREATE INDEX changes_by_connection ON cutover.changes (connection_id);
    -- A run writes a document at most once: the database says so, not only the code.
    CREATE UNIQUE INDEX changes_written_once ON cutover.changes (run_id, key) WHERE state <> 'failed';

    CREATE TABLE cutover.steps (
        change_id bigint NOT NULL REFERENCES cutover.changes (id),
        seq integer NOT NULL,
        from_version text NOT NULL,
        to_version text NOT NULL,
        plugin_file text,
        plugin_sha256 text,
        plugin_signer text,
        input_sha256 text NOT NULL,
        output_sha256 text NOT NULL,
        PRIMARY KEY (change_id, seq)
    );

    -- What a shared run is to do: each connection of its plan, in batches.
    CREATE TABLE cutover.run_items (
        run_id bigint NOT NULL REFERENCES cutover.runs (id),
        seq integer NOT NULL,
        batch integer NOT NULL,
        key text COLLATE "C" NOT NULL,
        connection_id text NOT NULL,
        status text NOT NULL,
        reason text,
        input_sha256 text NOT NULL,
        output_sha256 text,
        PRIMARY KEY (run_id, seq)
    );
    CREATE INDEX run_items_by_batch ON cutover.run_items (run_id, batch);

    -- Who holds which batch: a lease, renewed while its worker works.
    CREATE TABLE cutover.batches (
        run_id bigint NOT NULL REFERENCES cutover.runs (id),
        batch integer NOT NULL,
        state text NOT NULL DEFAULT 'pending',
        worker text,
        lease_until timestamptz,
        attempts integer NOT NULL DEFAULT 0,
        written integer NOT NULL DEFAULT 0,
        failed integer NOT NULL DEFAULT 0,
        PRIMARY KEY (run_id, batch)
    );
    CREATE INDEX batches_open ON cutover.batches (run_id, batch) WHERE state <> 'done';

    CREATE TABLE cutover.workers (
        id text PRIMARY KEY,
        run_id bigint NOT NULL REFERENCES cutover.runs (id),
        actor text NOT NULL,
        pid integer NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        heartbeat_at timestamptz NOT NULL DEFAULT now(),
        state text NOT NULL DEFAULT 'working',
        written integer NOT NULL DEFAULT 0,
        failed integer NOT NULL DEFAULT 0
    );
    CREATE INDEX workers_by_run ON cutover.workers (run_id);
    "#,
    // 2: each worker's lease length, so that whoever asks (`status`, a refusal) tells a
    // live worker from a dead one by that worker's own setting. Workers that came before
    // it were judged by a minute.
    r#"
    ALTER TABLE cutover.workers ADD COLUMN lease_seconds integer NOT NULL DEFAULT 60;
    "#,
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// An arbitrary constant that names schema upgrades among advisory locks.
const UPGRADE_LOCK: i64 = 0x6375_746f_7665_7201;

/// Creates or upgrades the schema, or refuses a database newer than this binary.
pub fn ensure(client: &mut Client, summary: &str) -> Result<()> {
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&UPGRADE_LOCK])?;
    tx.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS cutover;
         CREATE TABLE IF NOT EXISTS cutover.schema_version (
             version integer PRIMARY KEY,
             applied_at timestamptz NOT NULL DEFAULT now(),
             cutover_version text NOT NULL
         );",
    )
    .with_context(|| format!("creating the cutover schema in {summary}"))?;
    let current: i32 = tx
        .query_one(
            "SELECT coalesce(max(version), 0) FROM cutover.schema_version",
            &[],
        )?
        .get(0);
    if current > SCHEMA_VERSION {
        bail!(
            "PostgreSQL fleet {summary} has cutover schema version {current}, newer than this cutover understands ({SCHEMA_VERSION}); run a cutover at least as new as the one that upgraded it"
        );
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let version = i as i32 + 1;
        tx.batch_execute(step)
            .with_context(|| format!("upgrading {summary} to cutover schema version {version}"))?;
        tx.execute(
            "INSERT INTO cutover.schema_version (version, cutover_version) VALUES ($1, $2)",
            &[&version, &env!("CARGO_PKG_VERSION")],
        )?;
        tracing::info!(version, "upgraded the fleet's cutover schema");
    }
    tx.commit()
        .with_context(|| format!("committing the cutover schema of {summary}"))?;
    Ok(())
}
