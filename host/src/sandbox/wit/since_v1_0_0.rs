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

pub fn add_to_linker(linker: &mut wasmtime::component::Linker<HostState>) -> anyhow::Result<()> {
    Ok(Plugin::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(linker, |s| s)?)
}

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

impl From<&crate::migration::Input> for wit::Connection {
    fn from(c: &crate::migration::Input) -> Self {
        wit::Connection {
            id: c.id.clone(),
            connector: c.connector.clone(),
            version: c.version.clone(),
            config: c.config.clone(),
            catalog: c.catalog.clone(),
            state: c.state.clone(),
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
