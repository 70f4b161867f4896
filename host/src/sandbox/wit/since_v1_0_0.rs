//! Host bindings for `cutover:migration@1.0.0`: the state crosses as one string.

use crate::migration::{self, Action};
use crate::sandbox::store::HostState;

/// The contract version these bindings implement.
pub const VERSION: &str = "1.0.0";

wasmtime::component::bindgen!({
    path: "../wit/since_v1.0.0",
    world: "plugin",
});

use self::cutover::migration::types as wit;

pub use self::Plugin as Bindings;
pub use self::PluginPre as BindingsPre;

super::shared_conversions!();

pub fn add_to_linker(linker: &mut wasmtime::component::Linker<HostState>) -> anyhow::Result<()> {
    Ok(Plugin::add_to_linker::<
        HostState,
        wasmtime::component::HasSelf<HostState>,
    >(linker, |s| s)?)
}

impl From<&crate::migration::Input> for wit::Connection {
    fn from(c: &crate::migration::Input) -> Self {
        wit::Connection {
            id: c.id.clone(),
            connector: c.connector.clone(),
            version: c.version.clone(),
            config: c.config.clone(),
            catalog: c.catalog.clone(),
            state: c.state.to_string(),
        }
    }
}

/// Calls `migrate` with the state as one string.
pub fn migrate(
    bindings: &Bindings,
    store: &mut wasmtime::Store<HostState>,
    input: &migration::Input,
) -> super::CallResult<migration::Outcome> {
    let arg = input.into();
    Ok(bindings
        .call_migrate(store, &arg)?
        .map(migration::Outcome::from)
        .map_err(migration::MigrationError::from))
}
