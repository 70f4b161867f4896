//! Conditional writes of documents in PostgreSQL, inside a caller's transaction: the
//! document part of every write, with or without ledger rows beside it.

use crate::ground::sha256_hex;
use crate::store::{StoreError, Write};
use anyhow::{Context, Result};
use postgres::GenericClient;
use std::collections::HashSet;

/// Replaces documents inside the caller's transaction, each only where it still holds the
/// bytes its write replaces (a conditional update, by sha256; a write of a new document,
/// whose `before` is empty, only where there is none). One result per write.
pub(crate) fn replace(
    tx: &mut impl GenericClient,
    writes: &[Write<'_>],
) -> Result<Vec<Result<()>>> {
    let keys: Vec<&str> = writes.iter().map(|w| w.key).collect();
    let before_sha: Vec<String> = writes.iter().map(|w| sha256_hex(w.before)).collect();
    let after_sha: Vec<String> = writes.iter().map(|w| sha256_hex(w.after)).collect();
    let after: Vec<&[u8]> = writes.iter().map(|w| w.after).collect();
    let new: Vec<bool> = writes.iter().map(|w| w.before.is_empty()).collect();
    let mut replaced: HashSet<String> = tx
        .query(
            "UPDATE cutover.documents d SET body = u.after, sha256 = u.after_sha, updated_at = now()
             FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::bool[]) AS u(key, before_sha, after, after_sha, new)
             WHERE d.key = u.key AND d.sha256 = u.before_sha AND NOT u.new
             RETURNING d.key",
            &[&keys, &before_sha, &after, &after_sha, &new],
        )
        .context("replacing documents")?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if new.iter().any(|n| *n) {
        let created = tx
            .query(
                "INSERT INTO cutover.documents (key, body, sha256)
                 SELECT key, after, after_sha FROM unnest($1::text[], $2::bytea[], $3::text[], $4::bool[]) AS u(key, after, after_sha, new)
                 WHERE new
                 ON CONFLICT (key) DO NOTHING RETURNING key",
                &[&keys, &after, &after_sha, &new],
            )
            .context("creating documents")?;
        replaced.extend(created.iter().map(|r| r.get::<_, String>(0)));
    }
    Ok(writes
        .iter()
        .zip(&before_sha)
        .map(|(w, before)| {
            if replaced.contains(w.key) {
                Ok(())
            } else {
                Err(StoreError::Conflict {
                    key: w.key.to_owned(),
                    detail: if w.before.is_empty() {
                        "a document with this key already exists".to_owned()
                    } else {
                        format!(
                            "it no longer holds sha256 {}, which the write replaces",
                            &before[..12]
                        )
                    },
                }
                .into())
            }
        })
        .collect())
}
