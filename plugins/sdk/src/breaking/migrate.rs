//! [`Compiled::migrate`]: one connection through a breaking version made from data.

use super::{Compiled, ConfigChange, DateFormat};
use crate::discovered::Discovered;
use crate::{Action, Connection, Error, Outcome, Result, StreamDescriptor, catalog, config, state};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Why one synced stream must be re-read, in the words of the plan.
type Reasons = BTreeMap<String, Vec<String>>;

impl Compiled {
    /// Migrates `connection` (see the module docs), conforming it to `target`, the new
    /// version's catalog (the same text as [`Compiled::catalog`], given as `'static`
    /// because a plugin carries it for its whole life).
    pub fn migrate(&self, connection: Connection, target: &Discovered) -> Result<Outcome> {
        self.refuse_unmet(&connection)?;
        let renewals = self.renewals(&connection.config);
        let mut out = connection.into_outcome();
        for entry in catalog::streams(&out.catalog) {
            if catalog::descriptor(entry).is_none() {
                return Err(Error::InvalidInput(
                    "a configured stream has no stream.name".into(),
                ));
            }
        }
        let stand_ins = self.stand_ins(&out.catalog, target)?;
        self.rewrite_config(&mut out)?;
        let mut reasons = Reasons::new();
        let mut drop_state = BTreeSet::new();
        self.carry_renamed(&mut out, &stand_ins);
        self.split_streams(&mut out, &mut reasons, &mut drop_state, &stand_ins);
        self.drop_removed(&mut out, &stand_ins);
        // The stand-ins that kept their names, each with the catalogs' name of its stream.
        let standing: BTreeMap<String, String> = stand_ins
            .iter()
            .filter(|s| catalog::find(&out.catalog, s).is_some())
            .filter_map(|s| Some((s.clone(), self.table.named_by_config.clone()?)))
            .collect();
        for (stream, named) in &standing {
            out.note(format!(
                "{stream}: named by the config, it is the stream {} discovered as {named}: migrated as {named} is, with {}'s {named} as it was discovered",
                self.table.old.version, self.table.produces
            ));
        }
        // The catalogs' name of a synced stream, by which the diff and the lists know it.
        let known = |name: &str| -> String {
            standing
                .get(name)
                .cloned()
                .unwrap_or_else(|| name.to_owned())
        };

        let conformed = out.conform_to_standing_for(target, &standing)?;
        let produces = &self.table.produces;
        let keeps_state = |name: &str| self.table.state_kept.contains(&known(name));
        // Streams whose cursor changed and whose state the new version still reads.
        let mut kept = BTreeSet::new();
        for c in &conformed {
            if c.choices.contains(&"cursor_field") {
                if keeps_state(&c.stream.name) {
                    kept.insert(c.stream.name.clone());
                } else {
                    add(
                        &mut reasons,
                        &c.stream.name,
                        "the cursor it syncs by changed",
                    );
                    drop_state.insert(c.stream.name.clone());
                }
            }
            if c.choices.contains(&"sync_mode") {
                drop_state.insert(c.stream.name.clone());
            }
        }
        let synced: Vec<StreamDescriptor> = catalog::streams(&out.catalog)
            .iter()
            .filter_map(catalog::descriptor)
            .collect();
        for stream in &synced {
            let name = stream.name.as_str();
            let known = known(name);
            if self.table.scoped_impact.contains(&known) {
                add(
                    &mut reasons,
                    name,
                    &format!("{produces} lists it in scopedImpact"),
                );
            }
            for change in self.changed.get(&known).into_iter().flatten() {
                if *change == super::Change::Cursor && keeps_state(name) {
                    kept.insert(name.to_owned());
                    continue;
                }
                if change.rereads() {
                    add(
                        &mut reasons,
                        name,
                        &format!("its {} changed", change.describe()),
                    );
                }
                if *change == super::Change::Cursor {
                    drop_state.insert(name.to_owned());
                }
            }
            if self.table.records_changed.contains(&known) {
                add(&mut reasons, name, "its records changed");
            }
            if self.table.state_changed.contains(&known) {
                add(&mut reasons, name, "its state changed shape");
                drop_state.insert(name.to_owned());
            }
        }
        for stream in &synced {
            if let Some(fault) = self.table.connector_faults.get(&stream.name) {
                out.note(format!(
                    "{stream}: {produces} itself cannot read it, whatever the migration does: {fault}"
                ));
            }
        }
        for name in &kept {
            out.note(format!(
                "{name}: its cursor changed, but {produces} reads the state the old one left: the state is kept and the cursor change asks no clear"
            ));
        }
        for name in &drop_state {
            if state::remove_stream(&mut out.state, name).is_some() {
                out.note(format!(
                    "{name}: its state is dropped ({produces} could not read it); the next sync reads it from the start"
                ));
            }
        }
        for stream in synced {
            let Some(why) = reasons.get(&stream.name) else {
                continue;
            };
            let entry = catalog::find(&out.catalog, &stream.name).expect("synced");
            let mode = entry.get("sync_mode").and_then(Value::as_str);
            let dest = entry.get("destination_sync_mode").and_then(Value::as_str);
            if mode == Some("full_refresh") && dest == Some("overwrite") {
                continue;
            }
            out.action(Action::ClearStream {
                reason: format!(
                    "{}; clear it so the destination is re-read under {produces}",
                    why.join("; ")
                ),
                stream,
            });
        }
        renewals.into_iter().for_each(|a| out.action(a));
        Ok(out)
    }

    /// A `review-field` action for each value the table asks to renew, judged like the
    /// refusals on the config the connection has before the migration.
    fn renewals(&self, config: &Value) -> Vec<Action> {
        self.table
            .needs_operator
            .iter()
            .filter(|r| r.asks_renewal(config))
            .map(|r| Action::ReviewField {
                pointer: r.field.clone(),
                reason: format!(
                    "renew it before the first sync at {}: {}",
                    self.table.produces, r.action
                ),
            })
            .collect()
    }

    /// Refuses a connection whose config lacks what only its operator can give.
    fn refuse_unmet(&self, connection: &Connection) -> Result<()> {
        super::refuse_unmet(
            &self.table.connector,
            &self.table.produces,
            &self.table.needs_operator,
            &connection.config,
        )
    }

    /// The refusal of a connection that lacks `what` (the field and the action).
    fn needs_operator(&self, what: &str) -> Error {
        super::requirement::needs_operator(&self.table.connector, &self.table.produces, what)
    }

    fn rewrite_config(&self, out: &mut Outcome) -> Result<()> {
        for change in &self.table.config {
            match change {
                ConfigChange::Move { from, to } => {
                    if config::move_field(&mut out.config, from, to)? {
                        out.note(format!("config: {from} moved to {to}"));
                    }
                }
                ConfigChange::Default { at, value, when } => {
                    let applies = when
                        .as_deref()
                        .is_none_or(|when| out.config.pointer(when).is_some());
                    if applies && out.config.pointer(at).is_none() {
                        config::set_field(&mut out.config, at, value.clone())?;
                        out.note(format!("config: {at} set to {value}, the new default"));
                    }
                }
                ConfigChange::Drop { at } => {
                    if config::remove_field(&mut out.config, at).is_some() {
                        out.note(format!(
                            "config: {at} dropped ({} no longer accepts it)",
                            self.table.produces
                        ));
                    }
                }
                ConfigChange::Reformat { at, from, to } => {
                    self.reformat(out, at, from, to)?;
                }
            }
        }
        Ok(())
    }

    /// [`ConfigChange::Reformat`]: the value is named nowhere (the field could be one the
    /// operator keeps private), only its pointer and the formats.
    fn reformat(
        &self,
        out: &mut Outcome,
        at: &str,
        from: &DateFormat,
        to: &DateFormat,
    ) -> Result<()> {
        let Some(value) = out.config.pointer(at) else {
            return Ok(());
        };
        let text = value.as_str();
        if text.is_some_and(|t| to.read(t).is_some()) {
            return Ok(());
        }
        let Some(moment) = text.and_then(|t| from.read(t)) else {
            return Err(self.needs_operator(&format!(
                "{at}: its value is not a real date written {from} (nor {to}); set it as {to}"
            )));
        };
        let Some(rewritten) = to.write(&moment) else {
            return Err(self.needs_operator(&format!(
                "{at}: its value holds more than {to} can (a time of day or a finer fraction of a second); set it as {to}"
            )));
        };
        config::set_field(&mut out.config, at, Value::String(rewritten))?;
        out.note(format!("config: {at} rewritten from {from} to {to}"));
        Ok(())
    }

    /// The synced streams that stand for the table's `named-by-config` stream
    /// ([`super::Table::named_by_config`]): every one the old version's catalog does not know
    /// by name, that is one the new version does not discover and the table does not
    /// rename, split or remove. When that stream moves (renamed or split), a connection
    /// syncing more than one of it is refused: they would become one.
    fn stand_ins(&self, catalog: &Value, target: &Discovered) -> Result<Vec<String>> {
        let Some(named) = &self.table.named_by_config else {
            return Ok(Vec::new());
        };
        let t = &self.table;
        let mut found = Vec::new();
        for stream in catalog::streams(catalog)
            .iter()
            .filter_map(catalog::descriptor)
        {
            let name = stream.name;
            let known = name == *named
                || t.renamed.contains_key(&name)
                || t.split.contains_key(&name)
                || self.removed.contains(&name)
                || target.stream(&name)?.is_some();
            if !known {
                found.push(name);
            }
        }
        let moves = t.renamed.contains_key(named) || t.split.contains_key(named);
        let synced = found.len() + usize::from(catalog::find(catalog, named).is_some());
        if moves && synced > 1 {
            return Err(Error::InvalidInput(format!(
                "{} streams ({}) stand for {named}, the one stream {} names by its config and {} moves: a connection at {} syncs one",
                synced,
                found.join(", "),
                t.connector,
                t.produces,
                t.old.version
            )));
        }
        Ok(found)
    }

    /// `name` and, when it is the stream the config names, the synced streams that stand
    /// for it.
    fn and_stand_ins<'a>(
        &'a self,
        name: &'a str,
        stand_ins: &'a [String],
    ) -> impl Iterator<Item = &'a str> {
        let standing = self.table.named_by_config.as_deref() == Some(name);
        std::iter::once(name).chain(
            stand_ins
                .iter()
                .filter(move |_| standing)
                .map(String::as_str),
        )
    }

    fn carry_renamed(&self, out: &mut Outcome, stand_ins: &[String]) {
        for (named, to) in &self.table.renamed {
            for from in self.and_stand_ins(named, stand_ins) {
                self.carry_one(out, from, to);
            }
        }
    }

    fn carry_one(&self, out: &mut Outcome, from: &str, to: &str) {
        if catalog::find(&out.catalog, to).is_some() {
            return;
        }
        if catalog::rename_stream(&mut out.catalog, from, to) {
            let carried = state::rename_stream(&mut out.state, from, to);
            out.note(format!(
                "{from} is {to} in {}: its selection{} carried",
                self.table.produces,
                if carried { " and state are" } else { " is" }
            ));
        }
    }

    fn split_streams(
        &self,
        out: &mut Outcome,
        reasons: &mut Reasons,
        drop_state: &mut BTreeSet<String>,
        stand_ins: &[String],
    ) {
        let splits = self.table.split.iter().flat_map(|(named, parts)| {
            self.and_stand_ins(named, stand_ins)
                .map(move |from| (from, parts))
        });
        for (from, parts) in splits {
            let Some(entry) = catalog::find(&out.catalog, from).cloned() else {
                continue;
            };
            remove_entry(&mut out.catalog, from);
            state::remove_stream(&mut out.state, from);
            for part in parts {
                if catalog::find(&out.catalog, part).is_some() {
                    continue;
                }
                let mut copy = entry.clone();
                copy["stream"]["name"] = Value::String(part.clone());
                push_entry(&mut out.catalog, copy);
                add(reasons, part, &format!("it replaces {from}"));
                drop_state.insert(part.clone());
            }
            out.note(format!(
                "{from} is split into {} in {}: each synced as {from} was, from the start",
                parts.join(", "),
                self.table.produces
            ));
        }
    }

    fn drop_removed(&self, out: &mut Outcome, stand_ins: &[String]) {
        let removed = self
            .removed
            .iter()
            .flat_map(|named| self.and_stand_ins(named, stand_ins));
        for name in removed {
            if remove_entry(&mut out.catalog, name) {
                state::remove_stream(&mut out.state, name);
                out.note(format!(
                    "{name}: removed in {}; it is no longer synced and its data stays in the destination as it is",
                    self.table.produces
                ));
            }
        }
    }
}

fn add(reasons: &mut Reasons, stream: &str, why: &str) {
    let list = reasons.entry(stream.to_owned()).or_default();
    if !list.iter().any(|w| w == why) {
        list.push(why.to_owned());
    }
}

fn remove_entry(catalog: &mut Value, name: &str) -> bool {
    let Some(streams) = catalog.get_mut("streams").and_then(Value::as_array_mut) else {
        return false;
    };
    let before = streams.len();
    streams.retain(|e| {
        e.get("stream")
            .and_then(|s| s.get("name"))
            .and_then(Value::as_str)
            != Some(name)
    });
    streams.len() != before
}

fn push_entry(catalog: &mut Value, entry: Value) {
    if let Some(streams) = catalog.get_mut("streams").and_then(Value::as_array_mut) {
        streams.push(entry);
    }
}
