//! Host bindings for `cutover:migration@1.1.0`: 1.0.0 plus the state streams.

use crate::manifest::{self as host, DeadlineAction, Precondition};
use crate::migration::{self, Action, StreamDescriptor};
use crate::sandbox::store::HostState;
use wasmtime::component::Resource;

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

pub fn add_to_linker(linker: &mut wasmtime::component::Linker<HostState>) -> anyhow::Result<()> {
    Ok(Plugin::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(linker, |s| s)?)
}

/// The connection without its state, which crosses through the streams.
impl From<&crate::migration::Input> for wit::Connection {
    fn from(c: &crate::migration::Input) -> Self {
        wit::Connection {
            id: c.id.clone(),
            connector: c.connector.clone(),
            version: c.version.clone(),
            config: c.config.clone(),
            catalog: c.catalog.clone(),
            state: String::new(),
        }
    }
}

impl state_stream::Host for HostState {}

impl state_stream::HostStateReader for HostState {
    fn size(&mut self, reader: Resource<StateReader>) -> u64 {
        self.table().get(&reader).map(StateReader::size).unwrap_or(0)
    }

    fn read(&mut self, reader: Resource<StateReader>, max: u32) -> Vec<u8> {
        self.table().get_mut(&reader).map(|r| r.read(max as usize)).unwrap_or_default()
    }

    fn drop(&mut self, reader: Resource<StateReader>) -> wasmtime::Result<()> {
        self.table().delete(reader)?;
        Ok(())
    }
}

impl state_stream::HostStateWriter for HostState {
    fn write(&mut self, writer: Resource<StateWriter>, bytes: Vec<u8>) -> Result<(), String> {
        match self.table().get_mut(&writer) {
            Ok(w) => w.write(&bytes),
            Err(e) => Err(e.to_string()),
        }
    }

    fn drop(&mut self, writer: Resource<StateWriter>) -> wasmtime::Result<()> {
        self.table().delete(writer)?;
        Ok(())
    }
}
