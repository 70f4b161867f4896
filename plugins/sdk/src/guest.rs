//! The component glue: the WIT bindings and the conversions between them and the SDK's
//! plain Rust types. Only built for `wasm32`.
//!
//! The bindings are exported here, once, and call into the plugin through two symbols its
//! [`export!`](crate::export) defines. That keeps wit-bindgen out of plugin crates entirely.

use crate::{Action, Manifest, RawConnection, RawOutcome, StateOut};
use bindings::cutover::migration::state_stream::{StateReader, StateWriter};

mod bindings {
    wit_bindgen::generate!({
        path: "wit",
        world: "plugin",
    });
}

use bindings::Guest;
use bindings::cutover::migration::host as wit_log;
use bindings::cutover::migration::types as wit;

cutover_contract::wit_conversions!(types: wit, log: wit_log);

unsafe extern "Rust" {
    fn __cutover_plugin_manifest() -> Manifest;
    fn __cutover_plugin_migrate(
        connection: RawConnection,
        state: &mut StateOut<'_>,
    ) -> crate::Result<RawOutcome>;
    fn __cutover_plugin_migrate_connector(
        connector: crate::elastic::Connector,
    ) -> crate::Result<crate::elastic::ConnectorOutcome>;
}

struct Component;

impl Guest for Component {
    fn manifest() -> wit::Manifest {
        // SAFETY: defined by the plugin's `export!`, with exactly this signature.
        unsafe { __cutover_plugin_manifest() }.into()
    }

    fn migrate(
        c: wit::Connection,
        state: &StateReader,
        out: &StateWriter,
    ) -> Result<wit::Outcome, wit::MigrationError> {
        let connection = RawConnection {
            id: c.id,
            connector: c.connector,
            version: c.version,
            config: c.config,
            catalog: c.catalog,
            state: read_all(state)?,
        };
        let mut sink = StateOut::streaming(out);
        // SAFETY: defined by the plugin's `export!`, with exactly this signature.
        let outcome = unsafe { __cutover_plugin_migrate(connection, &mut sink) }
            .map_err(wit::MigrationError::from)?;
        std::io::Write::flush(&mut sink).map_err(|e| {
            wit::MigrationError::UnsupportedShape(format!("writing the migrated state: {e}"))
        })?;
        Ok(wit::Outcome {
            config: outcome.config,
            catalog: outcome.catalog,
            state: String::new(),
            actions: outcome.actions.into_iter().map(into_wit_action).collect(),
            notes: outcome.notes,
        })
    }

    fn migrate_connector(c: wit::Connector) -> Result<wit::ConnectorOutcome, wit::MigrationError> {
        let connector = crate::elastic::Connector::parse(c.id, c.version, &c.document)
            .map_err(wit::MigrationError::from)?;
        // SAFETY: defined by the plugin's `export!` or `export_connector!`, with exactly this signature.
        let outcome = unsafe { __cutover_plugin_migrate_connector(connector) }
            .map_err(wit::MigrationError::from)?;
        Ok(wit::ConnectorOutcome {
            document: outcome.document_text(),
            actions: outcome.actions.into_iter().map(into_wit_action).collect(),
            notes: outcome.notes,
        })
    }
}

/// Reads the whole state from the host. The first read asks for all of it, so the list the
/// host writes into guest memory is the state's buffer itself: no second copy, and no
/// chunk beside it at the peak. Whatever the host hands out beyond that first read (it may
/// give less than asked) is appended.
fn read_all(state: &StateReader) -> Result<String, wit::MigrationError> {
    let size = u32::try_from(state.size()).unwrap_or(u32::MAX);
    let mut bytes = state.read(size);
    loop {
        let chunk = state.read(1 << 20);
        if chunk.is_empty() {
            break;
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes)
        .map_err(|_| wit::MigrationError::InvalidInput("the state is not UTF-8".into()))
}

/// The host's state writer, as [`StateOut`] sends to it.
pub(crate) type Sink = StateWriter;

fn into_wit_action(a: Action) -> wit::Action {
    match a {
        Action::RefreshSchema { reason } => wit::Action::RefreshSchema(reason),
        Action::ClearStream { stream, reason } => wit::Action::ClearStream(wit::StreamAction {
            stream: stream.into(),
            reason,
        }),
        Action::ReviewField { pointer, reason } => {
            wit::Action::ReviewField(wit::FieldAction { pointer, reason })
        }
        Action::RetestSource { reason } => wit::Action::RetestSource(reason),
        Action::FullSync { reason } => wit::Action::FullSync(reason),
    }
}

pub(crate) fn log(level: cutover_contract::LogLevel, message: &str) {
    wit_log::log(level.into(), message);
}

bindings::export!(Component with_types_in bindings);
