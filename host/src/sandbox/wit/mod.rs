//! One module per version of the `cutover:migration` WIT package.
//!
//! Each module generates host bindings for its own copy of the contract (under
//! `wit/since_v*`) and converts them into the host's version-independent types. A plugin
//! built against an older contract keeps loading when the contract grows: the host picks
//! the module that matches the version the component imports.

pub mod since_v1_0_0;
pub mod since_v1_1_0;

/// The conversions between a contract version's generated types and the host's own,
/// identical in every version so far: each version module invokes this with its `wit`
/// types in scope.
macro_rules! shared_conversions {
    () => {
        impl self::cutover::migration::host::Host for HostState {
            fn log(&mut self, level: self::cutover::migration::host::Level, message: String) {
                use self::cutover::migration::host::Level;
                use crate::sandbox::LogLevel;
                let level = match level {
                    Level::Trace => LogLevel::Trace,
                    Level::Debug => LogLevel::Debug,
                    Level::Info => LogLevel::Info,
                    Level::Warn => LogLevel::Warn,
                    Level::Error => LogLevel::Error,
                };
                self.log.push(level, message);
            }
        }

        impl self::cutover::migration::types::Host for HostState {}

        impl From<wit::Manifest> for host::Manifest {
            fn from(m: wit::Manifest) -> Self {
                host::Manifest {
                    connector: m.connector,
                    applies_to: m.applies_to,
                    produces: m.produces,
                    message: m.message,
                    upgrade_deadline: m.upgrade_deadline,
                    deadline_action: m.deadline_action.map(|a| match a {
                        wit::DeadlineAction::Disable => DeadlineAction::Disable,
                        wit::DeadlineAction::AutoUpgrade => DeadlineAction::AutoUpgrade,
                    }),
                    documentation_url: m.documentation_url,
                    scoped_streams: m.scoped_streams,
                    preconditions: m
                        .preconditions
                        .into_iter()
                        .map(|p| Precondition { subject: p.subject, requirement: p.requirement })
                        .collect(),
                    guide: m.guide,
                }
            }
        }

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
                let stream = |s: wit::StreamDescriptor| StreamDescriptor { name: s.name, namespace: s.namespace };
                match a {
                    wit::Action::RefreshSchema(reason) => Action::RefreshSchema { reason },
                    wit::Action::ClearStream(s) => Action::ClearStream { stream: stream(s.stream), reason: s.reason },
                    wit::Action::ReviewField(f) => Action::ReviewField { pointer: f.pointer, reason: f.reason },
                    wit::Action::RetestSource(reason) => Action::RetestSource { reason },
                }
            }
        }

        impl From<wit::MigrationError> for migration::MigrationError {
            fn from(e: wit::MigrationError) -> Self {
                match e {
                    wit::MigrationError::InvalidInput(m) => Self::InvalidInput(m),
                    wit::MigrationError::UnsupportedShape(m) => Self::UnsupportedShape(m),
                    wit::MigrationError::NeedsOperator(m) => Self::NeedsOperator(m),
                }
            }
        }
    };
}

pub(crate) use shared_conversions;


use anyhow::{Result, bail};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The contract versions this host understands, newest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContractVersion {
    V1_1_0,
    V1_0_0,
}

impl ContractVersion {
    pub fn as_str(self) -> &'static str {
        match self {
            ContractVersion::V1_0_0 => "1.0.0",
            ContractVersion::V1_1_0 => "1.1.0",
        }
    }

    /// Reads the contract version from the interfaces the component imports
    /// (`cutover:migration/types@X.Y.Z`).
    pub fn of(engine: &Engine, component: &Component) -> Result<Self> {
        let ty = component.component_type();
        let mut seen = Vec::new();
        for (name, _) in ty.imports(engine) {
            if let Some(rest) = name.strip_prefix("cutover:migration/") {
                let version = rest.split_once('@').map(|(_, v)| v).unwrap_or("");
                match version {
                    "1.0.0" => return Ok(ContractVersion::V1_0_0),
                    "1.1.0" => return Ok(ContractVersion::V1_1_0),
                    other => seen.push(other.to_owned()),
                }
            }
        }
        if seen.is_empty() {
            bail!("it does not import the cutover:migration contract; build it with the cutover-plugin SDK")
        }
        bail!(
            "it was built against cutover:migration@{}, which this host does not know (it knows 1.0.0 and 1.1.0); upgrade cutover",
            seen[0]
        )
    }
}
