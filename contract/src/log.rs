//! How much a plugin's log line matters.

use serde::{Deserialize, Serialize};

/// The level of one line a plugin logs through the host (the contract's `level`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Detail for the plugin's author.
    Trace,
    /// Detail for debugging a migration.
    Debug,
    /// What the migration did.
    Info,
    /// Something the operator should know.
    Warn,
    /// Something went wrong; the host shows the last error line when a plugin crashes.
    Error,
}
