//! Host bindings for `cutover:migration@1.2.0`: 1.1.0 plus Elastic connector documents
//! (`migrate-connector`) and the `full-sync` action.

use crate::migration::{self, Action, ConnectorInput};
use crate::sandbox::store::HostState;
use wasmtime::component::Resource;

/// The contract version these bindings implement.
pub const VERSION: &str = "1.2.0";

wasmtime::component::bindgen!({
    path: "../wit/since_v1.2.0",
    world: "plugin",
    with: {
        "cutover:migration/state-stream.state-reader": crate::sandbox::stream::StateReader,
        "cutover:migration/state-stream.state-writer": crate::sandbox::stream::StateWriter,
    },
});

use self::cutover::migration::state_stream;
use self::cutover::migration::types as wit;

pub use self::Plugin as Bindings;
pub use self::PluginPre as BindingsPre;

super::shared_conversions!(wit::Action::FullSync(reason) => Action::FullSync { reason });
super::streamed_state!();

pub fn add_to_linker(linker: &mut wasmtime::component::Linker<HostState>) -> anyhow::Result<()> {
    Ok(Plugin::add_to_linker::<
        HostState,
        wasmtime::component::HasSelf<HostState>,
    >(linker, |s| s)?)
}

/// Calls `migrate-connector` with one Elastic connector document.
pub fn migrate_connector(
    bindings: &Bindings,
    store: &mut wasmtime::Store<HostState>,
    input: &ConnectorInput,
) -> super::CallResult<migration::ConnectorOutcome> {
    let arg = wit::Connector {
        id: input.id.clone(),
        version: input.version.clone(),
        document: input.document.clone(),
    };
    Ok(bindings
        .call_migrate_connector(store, &arg)?
        .map(|o| migration::ConnectorOutcome {
            document: o.document,
            actions: o.actions.into_iter().map(Action::from).collect(),
            notes: o.notes,
        })
        .map_err(migration::MigrationError::from))
}
