//! Moving a connector definition's default version: the first step of a self-managed
//! upgrade ("update the local connector image"), done only when the operator asks.
//!
//! `source_definitions/update {sourceDefinitionId, dockerImageTag}` makes the new version
//! the one every source without a pin runs. Before it moves the default past a breaking
//! change, Airbyte pins each source that change affects (one of its connections syncs a
//! stream in the change's scope, or the change has no scope) at the old default, origin
//! `breaking_change` (`ActorDefinitionVersionUpdater`); those are the connections cutover
//! then migrates, lifting each pin as it writes. Every other unpinned source moves to the
//! new version with the default, as it is; sources pinned already stay where they are.
//!
//! Which breaking changes lie between the two versions, and which connections they
//! affect, is what the fleet's plan says (its plugins carry the changes); [`DefaultMove`]
//! is that, per connection, and [`AirbyteDocuments::move_default`] sends the one request.

use super::AirbyteDocuments;
use super::document::Parts;
use crate::store::Documents;
use anyhow::{Context, Result, bail};
use serde::Serialize;
use serde_json::{Value, json};

/// One connection, as the move concerns it.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Affected {
    pub id: String,
    pub name: String,
    /// The version its source runs now.
    pub version: String,
}

/// What moving a definition's default version does to the fleet's connections.
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct DefaultMove {
    pub connector: String,
    pub definition_id: String,
    /// A workspace of the fleet, which the request names.
    pub workspace_id: String,
    pub from: String,
    pub to: String,
    /// Unpinned, and affected by a breaking change on the way: Airbyte pins them at `from`,
    /// and cutover then migrates them.
    pub pinned_by_airbyte: Vec<Affected>,
    /// Unpinned and unaffected: they run `to` as soon as the default moves.
    pub moved: Vec<Affected>,
    /// Pinned already (by a user or an earlier breaking change): they stay.
    pub held: Vec<Affected>,
}

impl AirbyteDocuments {
    /// What moving `connector`'s default to `to` would do; `affected(id)` says whether a
    /// breaking change between the two versions affects a connection (from the plan).
    pub fn default_move(
        &self,
        connector: &str,
        to: &str,
        affected: &dyn Fn(&str) -> bool,
    ) -> Result<DefaultMove> {
        let keys = self.keys()?;
        let mut found: Option<(String, String)> = None;
        let mut parts = Vec::new();
        for (key, bytes) in keys
            .iter()
            .zip(self.read_many(&keys.iter().map(String::as_str).collect::<Vec<_>>()))
        {
            let p =
                Parts::from_document(&bytes.with_context(|| format!("reading connection {key}"))?)?;
            if p.connector != connector {
                continue;
            }
            found.get_or_insert_with(|| (p.definition_id.clone(), p.workspace_id.clone()));
            parts.push(p);
        }
        let Some((definition_id, workspace_id)) = found else {
            bail!("no connection of the fleet reads from {connector}; nothing would move");
        };
        let (_, from) = self.definition(&parts[0].id, &definition_id)?;
        if from == to {
            bail!("{connector}'s default version is {to} already");
        }
        let known = self.call(
            &parts[0].id,
            "actor_definition_versions/resolve",
            &json!({"actorDefinitionId": definition_id, "actorType": "source", "dockerImageTag": to}),
        );
        if !matches!(known, Ok(Some(_))) {
            bail!("Airbyte knows no version {to} of {connector}; add it to the deployment first");
        }
        let mut plan = DefaultMove {
            connector: connector.to_owned(),
            definition_id,
            workspace_id,
            from: from.clone(),
            to: to.to_owned(),
            pinned_by_airbyte: Vec::new(),
            moved: Vec::new(),
            held: Vec::new(),
        };
        for p in parts {
            let entry = Affected {
                id: p.id.clone(),
                name: p.name.clone(),
                version: p.version.clone(),
            };
            if p.pin.is_some() || p.version_pin.is_some() || p.version != from {
                plan.held.push(entry);
            } else if affected(&p.id) {
                plan.pinned_by_airbyte.push(entry);
            } else {
                plan.moved.push(entry);
            }
        }
        Ok(plan)
    }

    /// Moves the definition's default (`source_definitions/update`), then reads back which
    /// sources Airbyte pinned; an error names any connection that did not end as planned.
    pub fn move_default(&self, plan: &DefaultMove) -> Result<()> {
        let key = plan
            .pinned_by_airbyte
            .iter()
            .chain(&plan.moved)
            .chain(&plan.held)
            .next()
            .map(|c| c.id.clone())
            .unwrap_or_default();
        self.answer(
            &key,
            "source_definitions/update",
            &json!({"sourceDefinitionId": plan.definition_id, "dockerImageTag": plan.to, "workspaceId": plan.workspace_id}),
        )?;
        self.definitions
            .lock()
            .expect("definitions lock")
            .remove(&plan.definition_id);
        *self.pins.lock().expect("pins lock") = None;
        let mut unexpected = Vec::new();
        for (list, want) in [
            (&plan.pinned_by_airbyte, plan.from.as_str()),
            (&plan.moved, plan.to.as_str()),
        ] {
            for c in list {
                let p = self.fetch(&c.id, None)?.parts()?;
                if p.version != want {
                    unexpected.push(format!(
                        "{} ({}) runs {}, not {want}",
                        c.name, c.id, p.version
                    ));
                }
            }
        }
        if !unexpected.is_empty() {
            bail!(
                "moved {}'s default to {}, but Airbyte did not pin as planned: {}; `cutover status` shows each connection now",
                plan.connector,
                plan.to,
                unexpected.join("; ")
            );
        }
        Ok(())
    }
}

impl DefaultMove {
    /// The move as the operator reads it before saying yes.
    pub fn describe(&self) -> String {
        let names = |list: &[Affected]| -> String {
            list.iter()
                .map(|c| {
                    format!(
                        "\n    {} ({}, at {})",
                        crate::terminal::line(&c.name),
                        c.id,
                        c.version
                    )
                })
                .collect()
        };
        let mut out = format!(
            "Moving the default version of {} from {} to {} (source_definitions/update):\n",
            self.connector, self.from, self.to
        );
        out.push_str(&format!(
            "  Airbyte pins {} connection(s) at {}, a breaking change on the way affecting them; cutover then migrates them (`cutover apply`):{}\n",
            self.pinned_by_airbyte.len(),
            self.from,
            names(&self.pinned_by_airbyte)
        ));
        out.push_str(&format!(
            "  {} connection(s) move to {} with the default, as they are:{}\n",
            self.moved.len(),
            self.to,
            names(&self.moved)
        ));
        out.push_str(&format!(
            "  {} connection(s) stay where they are pinned:{}\n",
            self.held.len(),
            names(&self.held)
        ));
        out
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("a move serializes")
    }
}
