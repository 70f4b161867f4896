//! A plugin's refusal.

/// Why a migration refused a connection: the contract's `migration-error`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MigrationError {
    /// The documents are not what the connector's version writes (malformed JSON, a
    /// config of another connector).
    InvalidInput(String),
    /// The documents are valid but in a shape the plugin does not know how to migrate.
    UnsupportedShape(String),
    /// Only the operator can decide (a choice the guide leaves open).
    NeedsOperator(String),
}

impl std::fmt::Display for MigrationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MigrationError::InvalidInput(m) => write!(f, "invalid input: {m}"),
            MigrationError::UnsupportedShape(m) => write!(f, "unsupported shape: {m}"),
            MigrationError::NeedsOperator(m) => write!(f, "needs the operator: {m}"),
        }
    }
}

impl std::error::Error for MigrationError {}
