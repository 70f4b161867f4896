//! Host bindings for `cutover:migration@1.1.0`: 1.0.0 plus the state streams.

use crate::migration::{self, Action};
use crate::sandbox::store::HostState;
use wasmtime::component::Resource;

/// The contract version these bindings implement.
pub const VERSION: &str = "1.1.0";

wasmtime::component::bindgen!({
    path: "../wit/since_v1.1.0",
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

super::shared_conversions!();
super::streamed_state!();

pub fn add_to_linker(linker: &mut wasmtime::component::Linker<HostState>) -> anyhow::Result<()> {
    Ok(Plugin::add_to_linker::<
        HostState,
        wasmtime::component::HasSelf<HostState>,
    >(linker, |s| s)?)
}
