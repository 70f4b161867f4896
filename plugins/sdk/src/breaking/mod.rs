//! A breaking version migrated from data, not from code.
//!
//! Most breaking versions Airbyte declares are changes that the two versions' real
//! discovered catalogs describe: a stream's schema, primary key or cursor changed, a stream
//! was removed. What the catalogs cannot show is small and per version: a stream renamed or
//! split, a config field moved, renamed, given a default, dropped or its date rewritten in
//! a new format, streams whose records changed although their schema did not, state whose
//! shape changed, and values only the operator can give. A [`Table`] holds exactly that, beside the connector's
//! `breakingChanges` entry; [`compile`] joins it with the two catalogs into a [`Compiled`]
//! version, whose [`Compiled::migrate`] migrates any connection at the old version:
//!
//! - every synced stream is conformed to the new catalog (schema, sync modes, cursor,
//!   primary key), keeping the user's selections where they remain valid
//!   ([`crate::discovered`]);
//! - a stream the user's config names is migrated as the stream the catalogs hold under
//!   the name their config gave ([`Table::named_by_config`]);
//! - a renamed stream carries its configuration and its state under the new name; a split
//!   stream becomes each of its parts, with the user's choices, and no state;
//! - a stream the new version no longer has is dropped from the catalog and the state,
//!   with a note (its data stays in the destination);
//! - the state of every stream whose cursor and state shape did not change is kept byte
//!   for byte, and so is that of a stream the table says keeps its state although its
//!   cursor changed (the new version reads the old cursor's value); the others lose it (the
//!   new version could not read it);
//! - a clear is asked for exactly the synced streams whose data must be re-read: the
//!   union of `scopedImpact`, the catalog diff, and the table's lists. `scopedImpact`
//!   alone is not enough: it is written by hand and misses streams (github 2.0.0 forgot
//!   `issue_timeline_events`). A stream synced `full_refresh` into `overwrite` is
//!   rewritten by its next sync and needs no clear.
//!
//! A break only the operator can finish (a new credential, a value only the user knows) is
//! a [`Requirement`]: while the connection's config does not satisfy it, the migration
//! refuses with [`Error::NeedsOperator`] naming the field and the action, so nothing is
//! written for that connection until the value is supplied.
//!
//! The diff is taken once, at build time ([`compile`]), so a plugin carries one catalog
//! (the new one) and a list of what changed, not two catalogs to compare on every call.

pub mod carried;
mod date_format;
mod diff;
mod migrate;
mod requirement;

pub use date_format::DateFormat;
pub use diff::{Change, normalized_schema, schema_changes};
pub use requirement::{Condition, Requirement, refuse_unmet};

use crate::{DeadlineAction, Error, Manifest, Result};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

/// One breaking version's data, as a generated plugin keeps it (`plugin.json`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Table {
    /// `airbyte/source-<name>`.
    pub connector: String,
    /// The versions it migrates from, e.g. `>=2.0.0, <3.0.0`.
    pub applies_to: String,
    /// The breaking version.
    pub produces: String,
    /// The `breakingChanges` entry's message.
    pub message: String,
    /// The upgrade deadline, `YYYY-MM-DD`, if the entry sets one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upgrade_deadline: Option<String>,
    /// `auto_upgrade` or `disable` (the platform's default when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_action: Option<String>,
    /// The migration guide's address.
    pub documentation_url: String,
    /// The entry's `scopedImpact` streams.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scoped_impact: Vec<String>,
    /// The last version before the break and the breaking version, whose real catalogs
    /// (and specs) the build reads.
    pub old: Side,
    /// The breaking version.
    pub new: Side,
    /// Streams renamed: old name → new name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub renamed: BTreeMap<String, String>,
    /// Streams split: old name → the new streams that replace it.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub split: BTreeMap<String, Vec<String>>,
    /// Streams whose records changed although their schema did not (values, ids, a
    /// resync the guide asks for): their data must be re-read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub records_changed: Vec<String>,
    /// Streams whose state changed shape: the old state is dropped and the stream
    /// re-read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub state_changed: Vec<String>,
    /// Streams whose cursor changed although the new version still reads the state the
    /// old cursor left (its code falls back to the old cursor's key, or the guide says
    /// their state carries): the state is kept byte for byte, and the cursor change alone
    /// asks no clear. Only with that evidence: otherwise a changed cursor drops the state.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub state_kept: Vec<String>,
    /// For a connector whose streams the user's config names (sftp-bulk 0.1.x's
    /// `stream_name`, s3 3.x's `dataset`, amazon-sqs 0.1.x's queue URL), the stream of the
    /// old catalog that stands for every stream a connection syncs under a name the catalogs
    /// do not know. The two catalogs were discovered with one config, so they hold that
    /// stream under the name it gave (`orders`); a connection whose config named it
    /// `contacts` syncs the same stream, and the catalog diff by name would pass it through
    /// with its old schema, cursor and state. Each such stream is migrated as the named one
    /// is: renamed, split or removed with it (then one connection may sync only one such
    /// stream), otherwise it keeps its own name (the new version names it by the config too)
    /// and takes the changes the diff and the lists above name for it, and the new catalog's
    /// stream of that name under its own name. Only for a stream whose changes do not depend
    /// on what the config names: its schema is the one discovered for the catalogs' config
    /// (a file connector's columns come from that config's files), as for a connection that
    /// kept the catalogs' name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub named_by_config: Option<String>,
    /// Streams the new version itself cannot read, whatever the migration does: a fault in
    /// the connector's code, found by the verification with the real new connector and
    /// traced there (stream → what fails, why, and where it is fixed, if anywhere). A
    /// connection that syncs one is told so in its plan before it upgrades: the migration
    /// cannot mend the connector, but the operator can deselect the stream or land on a
    /// release that reads it. The verification still reads such a stream, and fails there.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub connector_faults: BTreeMap<String, String>,
    /// Config rewrites, applied in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config: Vec<ConfigChange>,
    /// What only the operator can supply, or must renew ([`Requirement`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs_operator: Vec<Requirement>,
}

/// One side of the break: a version and where its real catalog and spec are.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Side {
    /// The connector version.
    pub version: String,
    /// Path of its discovered `AirbyteCatalog`, relative to the table.
    pub catalog: String,
    /// Path of its `ConnectorSpecification`, relative to the table.
    pub spec: String,
}

/// A config rewrite, on RFC 6901 pointers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", deny_unknown_fields)]
pub enum ConfigChange {
    /// Moves (or renames) a field; nothing happens when it is absent.
    Move {
        /// The field's pointer now.
        from: String,
        /// Its pointer in the new version.
        to: String,
    },
    /// Sets a field the new version requires when the config lacks it.
    Default {
        /// The field's pointer.
        at: String,
        /// The value it gets.
        value: Value,
        /// Only when this field is present (a connector's own config migration that picks a
        /// value by what the config has, such as an auth type by which secrets it holds).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        when: Option<String>,
    },
    /// Removes a field the new version no longer accepts.
    Drop {
        /// The field's pointer.
        at: String,
    },
    /// Rewrites a date the new version wants in another format, e.g. a `start_date` from
    /// `YYYY-MM-DD` to `YYYY-MM-DDTHH:mm:ssZ` (`2024-01-31` becomes `2024-01-31T00:00:00Z`):
    /// the formats are patterns of `YYYY MM DD HH mm ss SSS SSSSSS` ([`DateFormat`]). Nothing
    /// happens when the field is absent or already a real date in `to`. A value in neither
    /// format, or one `to` cannot hold whole (a time of day into a date-only format), is
    /// never guessed at: the connection needs its operator, who is told the field and the
    /// format (not the value).
    Reformat {
        /// The field's pointer.
        at: String,
        /// The format the old version took.
        from: DateFormat,
        /// The format the new version takes.
        to: DateFormat,
    },
}

/// A breaking version ready to migrate connections: the table, the catalog diff, and the
/// new version's catalog.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Compiled {
    /// The table it was compiled from.
    pub table: Table,
    /// For each stream of the new version that differs from the old (under its new name
    /// when renamed), what changed.
    pub changed: BTreeMap<String, Vec<Change>>,
    /// Streams of the old version the new one no longer has (and that are not renamed or
    /// split).
    pub removed: Vec<String>,
    /// Streams the new version adds; a connection does not sync them until its operator
    /// selects them.
    pub added: Vec<String>,
    /// The new version's discovered catalog, as JSON text.
    pub catalog: String,
}

/// Joins a table with the two versions' real discovered catalogs (JSON text).
pub fn compile(table: Table, old_catalog: &str, new_catalog: &str) -> Result<Compiled> {
    table.check()?;
    let old = diff::streams(old_catalog, &table.old.version)?;
    let new = diff::streams(new_catalog, &table.new.version)?;
    for (from, to) in &table.renamed {
        if !new.contains_key(to) {
            return Err(Error::UnsupportedShape(format!(
                "{} renames {from} to {to}, which {} does not discover",
                table.produces, table.new.version
            )));
        }
    }
    if let Some(name) = table.state_kept.iter().find(|n| !new.contains_key(*n)) {
        return Err(Error::UnsupportedShape(format!(
            "{} keeps the state of {name}, which {} does not discover",
            table.produces, table.new.version
        )));
    }
    for (from, parts) in &table.split {
        if let Some(part) = parts.iter().find(|p| !new.contains_key(*p)) {
            return Err(Error::UnsupportedShape(format!(
                "{} splits {from} into {part}, which {} does not discover",
                table.produces, table.new.version
            )));
        }
    }
    if let Some((name, _)) = table
        .connector_faults
        .iter()
        .find(|(n, _)| !new.contains_key(*n))
    {
        return Err(Error::UnsupportedShape(format!(
            "{} names a fault of {name}, which {} does not discover",
            table.produces, table.new.version
        )));
    }
    if let Some(name) = &table.named_by_config
        && !old.contains_key(name)
    {
        return Err(Error::UnsupportedShape(format!(
            "{} says {name} is named by the config, but {} does not discover {name}",
            table.produces, table.old.version
        )));
    }
    let mut changed = BTreeMap::new();
    let mut removed = Vec::new();
    for (name, before) in &old {
        if table.split.contains_key(name) {
            continue;
        }
        let target = table.renamed.get(name).unwrap_or(name);
        match new.get(target) {
            Some(after) => {
                let changes = diff::changes(before, after);
                if !changes.is_empty() {
                    changed.insert(target.clone(), changes);
                }
            }
            None => removed.push(name.clone()),
        }
    }
    let carried: Vec<&String> = old
        .keys()
        .map(|n| table.renamed.get(n).unwrap_or(n))
        .chain(table.split.values().flatten())
        .collect();
    let added = new
        .keys()
        .filter(|n| !carried.contains(n))
        .cloned()
        .collect();
    Ok(Compiled {
        table,
        changed,
        removed,
        added,
        catalog: new_catalog.to_owned(),
    })
}

impl Table {
    /// Refuses a table whose versions or lists cannot be right.
    pub fn check(&self) -> Result<()> {
        let bad = |what: String| Err(Error::UnsupportedShape(what));
        if semver::VersionReq::parse(&self.applies_to).is_err() {
            return bad(format!(
                "applies-to {:?} is not a version range",
                self.applies_to
            ));
        }
        if semver::Version::parse(&self.produces).is_err() {
            return bad(format!("produces {:?} is not a version", self.produces));
        }
        if self.new.version != self.produces {
            return bad(format!(
                "new.version {} is not the version produced, {}",
                self.new.version, self.produces
            ));
        }
        if let Some(a) = &self.deadline_action
            && a != "auto_upgrade"
            && a != "disable"
        {
            return bad(format!(
                "deadline-action {a:?} is neither auto_upgrade nor disable"
            ));
        }
        if let Some(name) = self.renamed.keys().find(|n| self.split.contains_key(*n)) {
            return bad(format!("{name} is both renamed and split"));
        }
        if let Some(name) = self
            .connector_faults
            .iter()
            .find_map(|(n, why)| why.trim().is_empty().then_some(n))
        {
            return bad(format!(
                "connector-faults says nothing of {name}: say what fails and why"
            ));
        }
        if let Some(name) = self
            .state_kept
            .iter()
            .find(|n| self.state_changed.contains(n))
        {
            return bad(format!("{name} both keeps its state and changes its shape"));
        }
        if let Some(name) = &self.named_by_config
            && name.trim().is_empty()
        {
            return bad("named-by-config names no stream".into());
        }
        for change in &self.config {
            let pointers: Vec<&str> = match change {
                ConfigChange::Move { from, to } => vec![from, to],
                ConfigChange::Default { at, .. }
                | ConfigChange::Drop { at }
                | ConfigChange::Reformat { at, .. } => vec![at],
            };
            if let Some(p) = pointers.iter().find(|p| !p.starts_with('/')) {
                return bad(format!("config pointer {p:?} does not start with /"));
            }
        }
        Ok(())
    }

    /// The plugin's manifest: the `breakingChanges` entry.
    pub fn manifest(&self, guide: String) -> Manifest {
        Manifest {
            connector: self.connector.clone(),
            applies_to: self.applies_to.clone(),
            produces: self.produces.clone(),
            message: self.message.clone(),
            upgrade_deadline: self.upgrade_deadline.clone(),
            deadline_action: match self.deadline_action.as_deref() {
                Some("auto_upgrade") => Some(DeadlineAction::AutoUpgrade),
                Some("disable") => Some(DeadlineAction::Disable),
                _ => None,
            },
            documentation_url: self.documentation_url.clone(),
            scoped_streams: self.scoped_impact.clone(),
            preconditions: Vec::new(),
            guide,
        }
    }
}

impl Compiled {
    /// Reads a compiled version from the JSON a plugin carries.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        serde_json::from_slice(bytes).map_err(|e| {
            Error::UnsupportedShape(format!(
                "the plugin's breaking-version data is unreadable: {e}"
            ))
        })
    }

    /// The JSON a plugin carries.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a compiled version always serializes")
    }

    /// The manifest, with a guide written from the data.
    pub fn manifest(&self) -> Manifest {
        self.table.manifest(self.guide())
    }

    /// What the plugin does, in words, from the data: the guide an operator reads.
    pub fn guide(&self) -> String {
        let t = &self.table;
        let mut lines = vec![
            format!(
                "# {} {}\n\n{}\n\nMigrates connections at {} by the two versions' real discovered catalogs ({} and {}).",
                t.connector, t.produces, t.message, t.applies_to, t.old.version, t.new.version
            ),
            String::new(),
        ];
        let list = |v: &[String]| v.join(", ");
        if !t.scoped_impact.is_empty() {
            lines.push(format!("- scopedImpact: {}", list(&t.scoped_impact)));
        }
        for (stream, changes) in &self.changed {
            let what: Vec<&str> = changes.iter().map(Change::describe).collect();
            lines.push(format!("- {stream}: {} changed", what.join(", ")));
        }
        for (from, to) in &t.renamed {
            lines.push(format!(
                "- {from} is renamed {to}; its selection and state are carried"
            ));
        }
        for (from, parts) in &t.split {
            lines.push(format!("- {from} is split into {}", list(parts)));
        }
        if !self.removed.is_empty() {
            lines.push(format!("- removed: {}", list(&self.removed)));
        }
        if !t.records_changed.is_empty() {
            lines.push(format!("- records changed: {}", list(&t.records_changed)));
        }
        if !t.state_changed.is_empty() {
            lines.push(format!("- state shape changed: {}", list(&t.state_changed)));
        }
        if !t.state_kept.is_empty() {
            lines.push(format!(
                "- state kept although the cursor changed (the new version reads it): {}",
                list(&t.state_kept)
            ));
        }
        if let Some(name) = &t.named_by_config {
            lines.push(format!(
                "- {name} is named by the config: every synced stream {} does not know by name is migrated as {name}",
                t.old.version
            ));
        }
        for change in &t.config {
            lines.push(format!("- config: {}", change.describe()));
        }
        for r in &t.needs_operator {
            let what = if r.renew {
                "renewed by the operator"
            } else {
                "needs the operator"
            };
            lines.push(format!("- {what}: {}: {}", r.field, r.action));
        }
        lines.join("\n") + "\n"
    }
}

impl ConfigChange {
    fn describe(&self) -> String {
        match self {
            ConfigChange::Move { from, to } => format!("{from} moves to {to}"),
            ConfigChange::Default {
                at,
                value,
                when: None,
            } => format!("{at} defaults to {value}"),
            ConfigChange::Default {
                at,
                value,
                when: Some(when),
            } => format!("{at} defaults to {value} where {when} is set"),
            ConfigChange::Drop { at } => format!("{at} is dropped"),
            ConfigChange::Reformat { at, from, to } => {
                format!("{at} is rewritten from {from} to {to}")
            }
        }
    }
}

#[cfg(test)]
mod tests;
