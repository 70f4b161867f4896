//! Host bindings for `cutover:migration@1.0.0`.

use crate::manifest::{self as host, DeadlineAction, Precondition};
use crate::migration::{self, Action, StreamDescriptor};
use crate::sandbox::store::HostState;

wasmtime::component::bindgen!({
    path: "../wit/since_v1.0.0",
    world: "plugin",
});

use self::cutover::migration::types as wit;

pub use self::Plugin as Bindings;
pub use self::PluginPre as BindingsPre;

super::shared_conversions!();

pub fn add_to_linker(linker: &mut wasmtime::component::Linker<HostState>) -> anyhow::Result<()> {
    Ok(Plugin::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(linker, |s| s)?)
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
