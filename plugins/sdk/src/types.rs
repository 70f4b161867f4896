//! The plain Rust side of the contract: what a plugin receives, returns and describes.

use serde_json::Value;

pub use cutover_contract::{Action, DeadlineAction, Manifest, Precondition, StreamDescriptor};

/// Why a migration refused a connection (the contract's `migration-error`).
pub use cutover_contract::MigrationError as Error;

/// One connection, parsed.
#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    /// The connection's id in the fleet.
    pub id: String,
    /// The connector, as `<vendor>/<image>`.
    pub connector: String,
    /// The connector version the documents are valid for now.
    pub version: String,
    /// The source config.
    pub config: Value,
    /// The `ConfiguredAirbyteCatalog`.
    pub catalog: Value,
    /// The `AirbyteStateMessage`s.
    pub state: Vec<Value>,
}

impl Connection {
    /// Parses the documents as the host passes them, checking the outer shapes
    /// (config an object, catalog an object with a `streams` array, state an array).
    pub fn parse(
        id: String,
        connector: String,
        version: String,
        config: &str,
        catalog: &str,
        state: &str,
    ) -> Result<Self> {
        let parse = |what: &str, text: &str| -> Result<Value> {
            serde_json::from_str(text)
                .map_err(|e| Error::InvalidInput(format!("{what} is not valid JSON: {e}")))
        };
        let config = parse("config", config)?;
        if !config.is_object() {
            return Err(Error::InvalidInput("config must be a JSON object".into()));
        }
        let catalog = parse("catalog", catalog)?;
        if !catalog.get("streams").is_some_and(Value::is_array) {
            return Err(Error::InvalidInput(
                "catalog must be a ConfiguredAirbyteCatalog: an object with a \"streams\" array"
                    .into(),
            ));
        }
        let state = match parse("state", state)? {
            Value::Array(messages) => messages,
            Value::Null => Vec::new(),
            _ => {
                return Err(Error::InvalidInput(
                    "state must be a JSON array of AirbyteStateMessage".into(),
                ));
            }
        };
        Ok(Self {
            id,
            connector,
            version,
            config,
            catalog,
            state,
        })
    }

    /// Starts an outcome that leaves every document as it is.
    pub fn into_outcome(self) -> Outcome {
        Outcome {
            config: self.config,
            catalog: self.catalog,
            state: self.state,
            actions: Vec::new(),
            notes: Vec::new(),
        }
    }
}

/// A connection as the host passes it: the documents still as JSON text. Plugins whose
/// states can be very large override [`Migration::migrate_documents`](crate::Migration::migrate_documents)
/// to transform the text without building a DOM of it; every other plugin gets the parsed
/// [`Connection`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawConnection {
    /// The connection's id in the fleet.
    pub id: String,
    /// The connector, as `<vendor>/<image>`.
    pub connector: String,
    /// The connector version the documents are valid for now.
    pub version: String,
    /// The source config, as JSON text.
    pub config: String,
    /// The `ConfiguredAirbyteCatalog`, as JSON text.
    pub catalog: String,
    /// A JSON array of `AirbyteStateMessage`.
    pub state: String,
}

impl RawConnection {
    /// Parses the documents (see [`Connection::parse`]).
    pub fn parse(self) -> Result<Connection> {
        Connection::parse(
            self.id,
            self.connector,
            self.version,
            &self.config,
            &self.catalog,
            &self.state,
        )
    }
}

/// A migrated connection with its config and catalog as JSON text; its state has been
/// written to the [`StateOut`] the migration was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawOutcome {
    /// The migrated config, as JSON text.
    pub config: String,
    /// The migrated catalog, as JSON text.
    pub catalog: String,
    /// What the operator must still do.
    pub actions: Vec<Action>,
    /// Remarks for the plan.
    pub notes: Vec<String>,
}

impl RawOutcome {
    /// Writes a parsed outcome's state to `state` and keeps the rest as text.
    pub fn write(outcome: Outcome, state: &mut StateOut<'_>) -> Result<Self> {
        let (config, catalog) = {
            let text = |v: &Value| {
                serde_json::to_string(v).expect("a serde_json::Value always serializes")
            };
            (text(&outcome.config), text(&outcome.catalog))
        };
        serde_json::to_writer(&mut *state, &outcome.state)
            .map_err(|e| Error::UnsupportedShape(format!("writing the migrated state: {e}")))?;
        Ok(Self {
            config,
            catalog,
            actions: outcome.actions,
            notes: outcome.notes,
        })
    }
}

/// Where a migration writes the connection's new state (a JSON array of state messages).
///
/// In the sandbox it sends the bytes to the host in chunks as they come (contract 1.1.0),
/// so a state of hundreds of megabytes never has to be held whole in guest memory; natively
/// (in tests) it collects them.
#[derive(Default)]
pub struct StateOut<'a> {
    buffer: Vec<u8>,
    #[cfg(target_arch = "wasm32")]
    sink: Option<&'a crate::guest::Sink>,
    _call: std::marker::PhantomData<&'a ()>,
}

impl<'a> StateOut<'a> {
    /// Chunks this large go to the host at once.
    #[cfg(target_arch = "wasm32")]
    const CHUNK: usize = 1 << 16;

    #[cfg(target_arch = "wasm32")]
    pub(crate) fn streaming(sink: &'a crate::guest::Sink) -> Self {
        Self {
            buffer: Vec::with_capacity(Self::CHUNK),
            sink: Some(sink),
            _call: std::marker::PhantomData,
        }
    }

    /// What was written, when nothing streamed it away (native runs).
    pub fn into_string(self) -> String {
        String::from_utf8(self.buffer).expect("a state is written as JSON text")
    }
}

impl std::io::Write for StateOut<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buffer.extend_from_slice(bytes);
        #[cfg(target_arch = "wasm32")]
        if self.buffer.len() >= Self::CHUNK {
            self.flush()?;
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        #[cfg(target_arch = "wasm32")]
        if let Some(sink) = self.sink {
            sink.write(&self.buffer).map_err(std::io::Error::other)?;
            self.buffer.clear();
        }
        Ok(())
    }
}

/// The migrated connection and what is left to do.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// The migrated source config.
    pub config: Value,
    /// The migrated `ConfiguredAirbyteCatalog`.
    pub catalog: Value,
    /// The migrated `AirbyteStateMessage`s.
    pub state: Vec<Value>,
    /// What the operator must still do.
    pub actions: Vec<Action>,
    /// Remarks for the plan.
    pub notes: Vec<String>,
}

impl Outcome {
    /// Adds an action for the operator.
    pub fn action(&mut self, action: Action) {
        if !self.actions.contains(&action) {
            self.actions.push(action);
        }
    }

    /// Adds a remark for the plan.
    pub fn note(&mut self, note: impl Into<String>) {
        self.notes.push(note.into());
    }

    /// The three documents as compact JSON text, in the order config, catalog, state.
    pub fn documents(&self) -> (String, String, String) {
        let text =
            |v: &Value| serde_json::to_string(v).expect("a serde_json::Value always serializes");
        (
            text(&self.config),
            text(&self.catalog),
            text(&Value::Array(self.state.clone())),
        )
    }
}

/// A migration's result: a value or the refusal.
pub type Result<T, E = Error> = std::result::Result<T, E>;
