//! One module per version of the `cutover:migration` WIT package, and the one list of them.
//!
//! Each module generates host bindings for its own copy of the contract (under
//! `wit/since_v*`) and converts them into the host's version-independent types. A plugin
//! built against an older contract keeps loading when the contract grows: the host reads
//! the version a component imports and picks, from [`KNOWN`], the module of the same
//! major.minor (a later patch changes no types, so it loads with its minor's bindings).
//!
//! Adding a version is a module here, a line in [`KNOWN`] and a variant in `Pre` and
//! `Bindings`; the sandbox and everything above it speak only the host's types.

pub mod since_v1_0_0;
pub mod since_v1_1_0;
pub mod since_v1_2_0;

/// The newest contract: what the SDK builds against.
pub use since_v1_2_0 as latest;

use crate::manifest::Manifest;
use crate::migration::{ConnectorInput, ConnectorOutcome, Input, MigrationError, Outcome};
use crate::sandbox::store::HostState;
use anyhow::{Result, bail};
use semver::Version;
use wasmtime::component::{Component, InstancePre, Linker};
use wasmtime::{Engine, Store};

/// A contract version this host has bindings for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ContractVersion {
    V1_0_0,
    V1_1_0,
    V1_2_0,
}

/// Every contract version this host understands, oldest first.
pub const KNOWN: [ContractVersion; 3] = [
    ContractVersion::V1_0_0,
    ContractVersion::V1_1_0,
    ContractVersion::V1_2_0,
];

impl ContractVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ContractVersion::V1_0_0 => since_v1_0_0::VERSION,
            ContractVersion::V1_1_0 => since_v1_1_0::VERSION,
            ContractVersion::V1_2_0 => since_v1_2_0::VERSION,
        }
    }

    /// The known version written as `text` (what [`Self::as_str`] returns).
    pub fn parse(text: &str) -> Option<Self> {
        KNOWN.into_iter().find(|known| known.as_str() == text)
    }

    pub fn version(self) -> Version {
        Version::parse(self.as_str()).expect("each contract module names a semver version")
    }

    /// Whether plugins of this version can migrate Elastic connectors (`migrate-connector`).
    pub fn carries_connectors(self) -> bool {
        self >= ContractVersion::V1_2_0
    }

    /// The known version whose bindings serve a component built against `imported`: the
    /// same major.minor, at or below its patch.
    pub fn matching(imported: &Version) -> Option<Self> {
        KNOWN.into_iter().rev().find(|known| {
            let v = known.version();
            v.major == imported.major
                && v.minor == imported.minor
                && v.patch <= imported.patch
                && imported.pre.is_empty()
        })
    }

    /// Reads the contract version from the interfaces the component imports
    /// (`cutover:migration/types@X.Y.Z`).
    pub fn of(engine: &Engine, component: &Component) -> Result<Self> {
        let ty = component.component_type();
        let mut seen = Vec::new();
        for (name, _) in ty.imports(engine) {
            if let Some(rest) = name.strip_prefix("cutover:migration/") {
                let text = rest.split_once('@').map(|(_, v)| v).unwrap_or("");
                let Ok(version) = Version::parse(text) else {
                    bail!(
                        "it imports {name}, whose version {text:?} is not semver; rebuild it with the cutover-plugin SDK"
                    );
                };
                match Self::matching(&version) {
                    Some(known) => return Ok(known),
                    None => seen.push(version),
                }
            }
        }
        let Some(first) = seen.first() else {
            bail!(
                "it does not import the cutover:migration contract; build it with the cutover-plugin SDK"
            )
        };
        let known: Vec<&str> = KNOWN.iter().map(|k| k.as_str()).collect();
        bail!(
            "it was built against cutover:migration@{first}, which this host does not know (it knows {}); upgrade cutover",
            known.join(", ")
        )
    }

    /// A linker with WASI and this version's host interfaces: one per version, so that a
    /// later patch's imports resolve (by semver) to exactly this version's definitions.
    pub fn linker(self, engine: &Engine) -> Result<Linker<HostState>> {
        let mut linker = Linker::new(engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(anyhow::Error::from)?;
        match self {
            ContractVersion::V1_0_0 => since_v1_0_0::add_to_linker(&mut linker)?,
            ContractVersion::V1_1_0 => since_v1_1_0::add_to_linker(&mut linker)?,
            ContractVersion::V1_2_0 => since_v1_2_0::add_to_linker(&mut linker)?,
        }
        Ok(linker)
    }
}

/// A plugin pre-linked against the bindings of its contract version.
pub(crate) enum Pre {
    V1_0_0(since_v1_0_0::BindingsPre<HostState>),
    V1_1_0(since_v1_1_0::BindingsPre<HostState>),
    V1_2_0(since_v1_2_0::BindingsPre<HostState>),
}

/// One instance of a plugin, by contract version.
pub(crate) enum Bindings {
    V1_0_0(since_v1_0_0::Bindings),
    V1_1_0(since_v1_1_0::Bindings),
    V1_2_0(since_v1_2_0::Bindings),
}

impl Pre {
    pub fn new(version: ContractVersion, pre: InstancePre<HostState>) -> Result<Self> {
        let missing = |e: wasmtime::Error| {
            anyhow::Error::from(e).context(format!(
                "it does not export the cutover:migration@{} plugin world",
                version.as_str()
            ))
        };
        Ok(match version {
            ContractVersion::V1_0_0 => {
                Pre::V1_0_0(since_v1_0_0::BindingsPre::new(pre).map_err(missing)?)
            }
            ContractVersion::V1_1_0 => {
                Pre::V1_1_0(since_v1_1_0::BindingsPre::new(pre).map_err(missing)?)
            }
            ContractVersion::V1_2_0 => {
                Pre::V1_2_0(since_v1_2_0::BindingsPre::new(pre).map_err(missing)?)
            }
        })
    }

    pub fn instantiate(&self, store: &mut Store<HostState>) -> wasmtime::Result<Bindings> {
        Ok(match self {
            Pre::V1_0_0(pre) => Bindings::V1_0_0(pre.instantiate(store)?),
            Pre::V1_1_0(pre) => Bindings::V1_1_0(pre.instantiate(store)?),
            Pre::V1_2_0(pre) => Bindings::V1_2_0(pre.instantiate(store)?),
        })
    }
}

/// What a call returns: a trap or limit (outer), or the plugin's own answer (inner).
pub(crate) type CallResult<T> = wasmtime::Result<Result<T, MigrationError>>;

impl Bindings {
    pub fn manifest(&self, store: &mut Store<HostState>) -> wasmtime::Result<Manifest> {
        Ok(match self {
            Bindings::V1_0_0(b) => b.call_manifest(store)?.into(),
            Bindings::V1_1_0(b) => b.call_manifest(store)?.into(),
            Bindings::V1_2_0(b) => b.call_manifest(store)?.into(),
        })
    }

    /// Migrates an Airbyte connection; `output_limit` bounds a streamed state.
    pub fn migrate(
        &self,
        store: &mut Store<HostState>,
        input: &Input,
        output_limit: usize,
    ) -> CallResult<Outcome> {
        match self {
            Bindings::V1_0_0(b) => since_v1_0_0::migrate(b, store, input),
            Bindings::V1_1_0(b) => since_v1_1_0::migrate(b, store, input, output_limit),
            Bindings::V1_2_0(b) => since_v1_2_0::migrate(b, store, input, output_limit),
        }
    }

    /// Migrates an Elastic connector document; only contracts that carry connectors can.
    pub fn migrate_connector(
        &self,
        store: &mut Store<HostState>,
        input: &ConnectorInput,
    ) -> CallResult<ConnectorOutcome> {
        match self {
            Bindings::V1_2_0(b) => since_v1_2_0::migrate_connector(b, store, input),
            Bindings::V1_0_0(_) | Bindings::V1_1_0(_) => Ok(Err(MigrationError::UnsupportedShape(
                "the plugin was built against a contract before 1.2.0, which cannot carry Elastic connector documents".into(),
            ))),
        }
    }
}

/// A streamed state that went over the output limit (contracts 1.1.0 and later).
#[derive(Debug)]
pub struct OutputOverflow(pub usize);

impl std::fmt::Display for OutputOverflow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the streamed state reached {} bytes, over the output limit",
            self.0
        )
    }
}

impl std::error::Error for OutputOverflow {}

/// The conversions between a contract version's generated types and the host's own,
/// identical in every version so far: each version module invokes this with its `wit`
/// types in scope, naming the action cases its version adds beyond 1.0.0's. The records
/// the SDK converts too (manifest, refusals, log levels) are `cutover_contract`'s, whose
/// `wit_conversions!` writes both sides' conversions.
macro_rules! shared_conversions {
    ($($extra_action:pat => $extra_host_action:expr),* $(,)?) => {
        cutover_contract::wit_conversions!(types: wit, log: wit_log);
        use self::cutover::migration::host as wit_log;

        impl self::cutover::migration::host::Host for HostState {
            fn log(&mut self, level: wit_log::Level, message: String) {
                self.log.push(level.into(), message);
            }
        }

        impl self::cutover::migration::types::Host for HostState {}

        impl From<wit::Outcome> for migration::Outcome {
            fn from(o: wit::Outcome) -> Self {
                migration::Outcome {
                    config: o.config,
                    catalog: o.catalog,
                    state: o.state,
                    actions: o.actions.into_iter().map(Action::from).collect(),
                    notes: o.notes,
                }
            }
        }

        impl From<wit::Action> for Action {
            fn from(a: wit::Action) -> Self {
                match a {
                    wit::Action::RefreshSchema(reason) => Action::RefreshSchema { reason },
                    wit::Action::ClearStream(s) => Action::ClearStream { stream: s.stream.into(), reason: s.reason },
                    wit::Action::ReviewField(f) => Action::ReviewField { pointer: f.pointer, reason: f.reason },
                    wit::Action::RetestSource(reason) => Action::RetestSource { reason },
                    $($extra_action => $extra_host_action,)*
                }
            }
        }
    };
}

pub(crate) use shared_conversions;

/// The state streams of 1.1.0 and later, the same in each: the resources' host side, the
/// connection crossing without its state, and a `migrate` that streams the state in and
/// out, bounded by the output limit.
macro_rules! streamed_state {
    () => {
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
                self.table()
                    .get(&reader)
                    .map(StateReader::size)
                    .unwrap_or(0)
            }

            fn read(&mut self, reader: Resource<StateReader>, max: u32) -> Vec<u8> {
                self.table()
                    .get_mut(&reader)
                    .map(|r| r.read(max as usize))
                    .unwrap_or_default()
            }

            fn drop(&mut self, reader: Resource<StateReader>) -> wasmtime::Result<()> {
                self.table().delete(reader)?;
                Ok(())
            }
        }

        impl state_stream::HostStateWriter for HostState {
            fn write(
                &mut self,
                writer: Resource<StateWriter>,
                bytes: Vec<u8>,
            ) -> Result<(), String> {
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

        /// Streams the state in, calls `migrate`, and collects the state the plugin wrote.
        pub fn migrate(
            bindings: &Bindings,
            store: &mut wasmtime::Store<HostState>,
            input: &crate::migration::Input,
            output_limit: usize,
        ) -> super::CallResult<migration::Outcome> {
            let arg = input.into();
            let table = store.data_mut().table();
            let reader = table.push(StateReader::new(input.state.clone()))?;
            let writer = table.push(StateWriter::new(output_limit, input.state.len()))?;
            let (reader_handle, writer_handle) = (
                Resource::new_borrow(reader.rep()),
                Resource::new_borrow(writer.rep()),
            );
            let result = bindings.call_migrate(&mut *store, &arg, reader_handle, writer_handle)?;
            let table = store.data_mut().table();
            table.delete(reader)?;
            let written = table.delete(writer)?;
            if let Some(size) = written.overflow {
                return Err(wasmtime::Error::new(super::OutputOverflow(size)));
            }
            let state = String::from_utf8(written.into_bytes())
                .map_err(|_| wasmtime::Error::msg("the plugin wrote a state that is not UTF-8"))?;
            Ok(result
                .map(|o| migration::Outcome {
                    state,
                    ..migration::Outcome::from(o)
                })
                .map_err(migration::MigrationError::from))
        }
    };
}

pub(crate) use streamed_state;

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).unwrap()
    }

    #[test]
    fn versions_match_by_major_minor_and_a_later_patch() {
        assert_eq!(
            ContractVersion::matching(&v("1.0.0")),
            Some(ContractVersion::V1_0_0)
        );
        assert_eq!(
            ContractVersion::matching(&v("1.1.0")),
            Some(ContractVersion::V1_1_0)
        );
        assert_eq!(
            ContractVersion::matching(&v("1.1.7")),
            Some(ContractVersion::V1_1_0)
        );
        assert_eq!(
            ContractVersion::matching(&v("1.2.1")),
            Some(ContractVersion::V1_2_0)
        );
        // A later minor may carry types this host has never seen; a new major too.
        assert_eq!(ContractVersion::matching(&v("1.3.0")), None);
        assert_eq!(ContractVersion::matching(&v("2.0.0")), None);
        assert_eq!(ContractVersion::matching(&v("1.2.0-rc.1")), None);
    }

    #[test]
    fn the_list_is_ordered_and_latest_is_its_last() {
        assert!(KNOWN.windows(2).all(|w| w[0].version() < w[1].version()));
        assert_eq!(KNOWN.last().unwrap().as_str(), latest::VERSION);
    }
}
