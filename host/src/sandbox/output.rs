//! What a plugin returns is taken out of its memory under the call's limits.
//!
//! The canonical ABI hands the host an outcome as pointers into the plugin's memory, and
//! lifting it copies every string of every action and note. A plugin can return a million
//! actions that all point at the same 4 KiB reason: the copy alone would be 4 GB, made by
//! the host after the plugin's deadline stopped applying (it only interrupts wasm code),
//! and then every later stage (deduplication, rendering, the plan file) would work
//! through it. So the lifting itself is bounded: each call's store gets a budget of bytes
//! the host may copy out of the plugin ([`lifting_budget`]: the documents' output limit,
//! plus the allowed actions and notes and their text), and wasmtime charges every list
//! and string against it *before* allocating for it. A plugin over the budget is stopped
//! at the first list or string that does not fit, at a cost to the host of at most the
//! budget. What fits is then held to the exact limits ([`check`]): counts of actions and
//! notes, and the bytes of their text. Either way the error ([`OutputLimit`]) is that
//! connection's alone.

use super::Limits;
use crate::migration::{Action, Outcome};

/// What lifting one element of a list costs beyond its strings (the host's own copy of
/// an action or a note: a few words each).
const PER_ITEM: usize = 128;

/// Why a plugin's output was not taken.
#[derive(Debug, thiserror::Error)]
pub enum OutputLimit {
    #[error("{found} actions, over the limit of {limit} ([limits] actions in cutover.toml)")]
    Actions { found: usize, limit: usize },
    #[error("{found} notes, over the limit of {limit} ([limits] notes in cutover.toml)")]
    Notes { found: usize, limit: usize },
    #[error(
        "{found} bytes of action and note text, over the limit of {limit} ([limits] text_bytes in cutover.toml)"
    )]
    Text { found: usize, limit: usize },
    #[error(
        "more than its output limits allow in all ({0} bytes: documents up to [limits] output_bytes, at most [limits] actions and notes, their text up to text_bytes)"
    )]
    Lifting(usize),
}

/// The bytes the host may copy out of one call's plugin.
pub fn lifting_budget(limits: &Limits) -> usize {
    limits
        .output_bytes
        .saturating_add(limits.text_bytes)
        .saturating_add(
            limits
                .actions
                .saturating_add(limits.notes)
                .saturating_mul(PER_ITEM),
        )
}

/// Whether a call failed because its output went over the lifting budget.
pub fn is_over_budget(e: &wasmtime::Error) -> bool {
    // wasmtime's error for it is private; its message is stable within the pinned version
    // (the hostile plugin tests would notice a change).
    e.chain().any(|cause| {
        cause
            .to_string()
            .contains("fuel allocated for hostcalls has been exhausted")
    })
}

/// The bytes of text in an action.
fn text_len(action: &Action) -> usize {
    match action {
        Action::RefreshSchema { reason }
        | Action::RetestSource { reason }
        | Action::FullSync { reason } => reason.len(),
        Action::ClearStream { stream, reason } => {
            stream.name.len() + stream.namespace.as_ref().map_or(0, String::len) + reason.len()
        }
        Action::ReviewField { pointer, reason } => pointer.len() + reason.len(),
    }
}

/// Holds a lifted outcome to the limits on actions, notes and their text.
pub fn check(outcome: &Outcome, limits: &Limits) -> Result<(), OutputLimit> {
    if outcome.actions.len() > limits.actions {
        return Err(OutputLimit::Actions {
            found: outcome.actions.len(),
            limit: limits.actions,
        });
    }
    if outcome.notes.len() > limits.notes {
        return Err(OutputLimit::Notes {
            found: outcome.notes.len(),
            limit: limits.notes,
        });
    }
    let text = outcome.actions.iter().map(text_len).sum::<usize>()
        + outcome.notes.iter().map(String::len).sum::<usize>();
    if text > limits.text_bytes {
        return Err(OutputLimit::Text {
            found: text,
            limit: limits.text_bytes,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(actions: usize, notes: usize, reason: &str) -> Outcome {
        Outcome {
            config: "{}".into(),
            catalog: "{\"streams\":[]}".into(),
            state: "[]".into(),
            actions: (0..actions)
                .map(|_| Action::RefreshSchema {
                    reason: reason.into(),
                })
                .collect(),
            notes: (0..notes).map(|_| reason.to_owned()).collect(),
        }
    }

    #[test]
    fn counts_and_text_are_held_to_their_limits() {
        let limits = Limits {
            actions: 3,
            notes: 2,
            text_bytes: 10,
            ..Limits::default()
        };
        check(&outcome(3, 2, "ab"), &limits).unwrap();
        assert!(matches!(
            check(&outcome(4, 0, ""), &limits),
            Err(OutputLimit::Actions { found: 4, limit: 3 })
        ));
        assert!(matches!(
            check(&outcome(0, 3, ""), &limits),
            Err(OutputLimit::Notes { found: 3, limit: 2 })
        ));
        assert!(matches!(
            check(&outcome(3, 2, "abc"), &limits),
            Err(OutputLimit::Text {
                found: 15,
                limit: 10
            })
        ));
    }

    #[test]
    fn the_budget_covers_every_limit() {
        let limits = Limits::default();
        assert!(lifting_budget(&limits) > limits.output_bytes + limits.text_bytes);
        let huge = Limits {
            output_bytes: usize::MAX,
            ..Limits::default()
        };
        assert_eq!(lifting_budget(&huge), usize::MAX);
    }
}
