//! Planning a fleet: the plan's header, the selected documents planned on every core and
//! handed on in key order, each on its platform's planner, with every secret it shows
//! redacted.

use super::chain::Planner;
use super::select::Selection;
use super::types::{ConnectionPlan, FORMAT, Plan, PlanBuilder, PluginRef, Status, Summary};
use crate::cores;
use crate::document::Document;
use crate::fleet::Entry;
use crate::redact::Secrets;
use anyhow::Result;
use serde_json::Value;

impl Planner<'_> {
    /// Plans every connection of the fleet (or those in `options.only`) on every core,
    /// calling `progress` after each, and collects the plan. The plan lists connections in
    /// file-name order, whatever order the workers finish in.
    pub fn plan(&self, mut progress: impl FnMut(&ConnectionPlan) + Send) -> Result<Plan> {
        let selection = self.select()?;
        let mut connections = Vec::with_capacity(selection.len());
        self.plan_each(&selection, |plan| {
            progress(&plan);
            connections.push(plan);
            Ok(())
        })?;
        Ok(Plan {
            connections,
            ..self.header()
        })
    }

    /// How many of the selected connections plan to each status, each plan let go as soon
    /// as it is counted: what a plan of the whole fleet costs without holding it.
    pub fn summary(&self, selection: &Selection) -> Result<Summary> {
        let mut summary = Summary::default();
        self.plan_each(selection, |plan| {
            summary.count(plan.status);
            Ok(())
        })?;
        Ok(summary)
    }

    /// The plan's header: everything but the connections.
    pub fn header(&self) -> Plan {
        Plan {
            format: FORMAT.into(),
            cutover_version: env!("CARGO_PKG_VERSION").into(),
            fleet: self.fleet.identity(),
            options: self.options.clone(),
            plugins: self.registry.all().iter().map(PluginRef::from).collect(),
            connections: Vec::new(),
        }
    }

    /// Plans the selected documents on up to one worker per core and hands each plan to
    /// `emit` in key order, as soon as it and every one before it are done.
    ///
    /// Memory stays flat in the fleet's size: each worker reads, plans and lets go of one
    /// document at a time, a plan keeps the hash of a migrated document, not the document
    /// (apply migrates again and checks the hash, see [`crate::write::apply`]), and only plans that
    /// finished ahead of an earlier one wait here.
    pub fn plan_each(
        &self,
        selection: &Selection,
        emit: impl FnMut(ConnectionPlan) -> Result<()>,
    ) -> Result<()> {
        self.plan_each_with(selection, false, emit)
    }

    /// [`Planner::plan_each`] for a plan that is shown: each connection's plan also carries
    /// what its patches replace ([`ConnectionPlan::shown_before`]), masked as the patches
    /// are, taken from the document read to plan it.
    pub fn plan_each_shown(
        &self,
        selection: &Selection,
        emit: impl FnMut(ConnectionPlan) -> Result<()>,
    ) -> Result<()> {
        self.plan_each_with(selection, true, emit)
    }

    fn plan_each_with(
        &self,
        selection: &Selection,
        shown: bool,
        mut emit: impl FnMut(ConnectionPlan) -> Result<()>,
    ) -> Result<()> {
        use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
        let documents = selection.documents();
        let workers = cores::workers(documents.len());
        let (next, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
        // Bounded: workers wait while the emitter is behind.
        let (send, receive) =
            std::sync::mpsc::sync_channel::<(usize, Result<ConnectionPlan>)>(workers * 4);
        std::thread::scope(|scope| {
            for _ in 0..workers {
                let send = send.clone();
                let (next, stop) = (&next, &stop);
                scope.spawn(move || {
                    while !stop.load(Relaxed) {
                        let i = next.fetch_add(1, Relaxed);
                        let Some((key, problem)) = documents.get(i) else { break };
                        let entry = match selection.take(key) {
                            Some(bytes) => Ok(Entry::new(key, bytes)),
                            None => self.fleet.read(key),
                        };
                        let plan = entry.map(|entry| {
                            let mut plan = match problem {
                                Some(problem) => PlanBuilder::new(key, entry.sha256.clone()).stop(Status::Invalid, problem.clone()),
                                None => self.plan_entry(&entry),
                            };
                            plan.output = None;
                            if shown {
                                plan.shown_before = self.shown_before(&entry, &plan);
                            }
                            tracing::debug!(connection = %plan.id, status = plan.status.as_str(), reason = plan.reason.as_deref().unwrap_or(""), "planned");
                            plan
                        });
                        if send.send((i, plan)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(send);
            let mut waiting = std::collections::BTreeMap::new();
            let mut due = 0;
            let mut result = Ok(());
            for (i, plan) in receive.iter() {
                if result.is_err() {
                    continue; // drain, so every worker can finish
                }
                waiting.insert(i, plan);
                while let Some(plan) = waiting.remove(&due) {
                    due += 1;
                    if let Err(e) = plan.and_then(&mut emit) {
                        stop.store(true, Relaxed);
                        result = Err(e);
                        break;
                    }
                }
            }
            result
        })
    }

    /// Plans one connection document. What the plan shows of the documents (patches,
    /// reasons, notes, actions, logs) has every secret value redacted.
    pub fn plan_entry(&self, entry: &Entry) -> ConnectionPlan {
        let mut secrets = Secrets::new();
        let mut plan = self.plan_document(entry, &mut secrets);
        match &entry.parsed {
            Ok(Document::Airbyte(connection)) => plan.redact(&secrets, connection.config()),
            // An Elastic document's secrets are its `sensitive` configuration fields.
            Ok(Document::Elastic(_)) => match serde_json::from_slice::<Value>(&entry.bytes) {
                Ok(document) => {
                    secrets.learn_config(&document);
                    plan.redact(&secrets, &Value::Null);
                }
                Err(_) => plan.redact(&secrets, &Value::Null),
            },
            Err(_) => {}
        }
        plan
    }

    /// What a planned connection's patches replace, masked as they are: the connection's
    /// three documents (secrets by the spec of the version planned from, the usual names
    /// and every secret value wherever else it appears), or an Elastic connector document
    /// (its `sensitive` fields). None when the plan changes nothing.
    fn shown_before(&self, entry: &Entry, plan: &ConnectionPlan) -> Option<Value> {
        if plan.output_sha256.is_none() || plan.steps.is_empty() {
            return None;
        }
        let before: Value = serde_json::from_slice(&entry.bytes).ok()?;
        Some(match &entry.parsed {
            Ok(Document::Elastic(_)) => crate::elastic::redact::document(&before),
            _ => {
                let names = match (&plan.connector, &plan.from) {
                    (Some(connector), Some(version)) => {
                        self.fleet.specs().secret_names(connector, version)
                    }
                    _ => Default::default(),
                };
                crate::redact::masked_document(before, names)
            }
        })
    }

    /// Plans one connection document on its platform's planner, learning its secrets as
    /// the chain runs.
    fn plan_document(&self, entry: &Entry, secrets: &mut Secrets) -> ConnectionPlan {
        match &entry.parsed {
            Ok(Document::Airbyte(connection)) => self.plan_airbyte(entry, connection, secrets),
            Ok(Document::Elastic(connector)) => crate::elastic::plan::plan(self, entry, connector),
            Err(e) => PlanBuilder::new(&entry.key, entry.sha256.clone()).stop(
                Status::Invalid,
                format!("{}: {e}", self.fleet.display_key(&entry.key)),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::Fleet;
    use crate::plan::Options;
    use crate::registry::Registry;
    use crate::sandbox::{Limits, Sandbox};
    use crate::store::{DocumentWriter, Documents};
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    /// A store that counts each document's reads.
    struct Counting {
        inner: Arc<dyn Documents>,
        reads: Mutex<BTreeMap<String, usize>>,
    }

    impl Documents for Counting {
        fn summary(&self) -> String {
            self.inner.summary()
        }
        fn identity(&self) -> String {
            self.inner.identity()
        }
        fn keys(&self) -> Result<Vec<String>> {
            self.inner.keys()
        }
        fn read(&self, key: &str) -> Result<Vec<u8>> {
            *self
                .reads
                .lock()
                .unwrap()
                .entry(key.to_owned())
                .or_default() += 1;
            self.inner.read(key)
        }
        fn display_key(&self, key: &str) -> String {
            self.inner.display_key(key)
        }
        fn writer(&self) -> Result<Box<dyn DocumentWriter + '_>> {
            self.inner.writer()
        }
        fn id_of(&self, key: &str) -> Option<String> {
            self.inner.id_of(key)
        }
    }

    fn connection(id: &str) -> String {
        serde_json::json!({
            "id": id, "name": id, "connector": "airbyte/source-example", "version": "1.0.0",
            "config": {}, "catalog": {"streams": []}, "state": []
        })
        .to_string()
    }

    /// A directory fleet's documents are read once per plan: selecting reads each to learn
    /// its id and keeps it for planning. Two documents with one id are both invalid, and
    /// one that is not a connection too, each read once all the same.
    #[test]
    fn a_plan_reads_each_document_of_a_directory_fleet_once() {
        let dir = tempfile::tempdir().unwrap();
        let connections = dir.path().join("connections");
        std::fs::create_dir(&connections).unwrap();
        for (key, text) in [
            ("a", connection("a")),
            ("b", connection("b")),
            ("c1", connection("c")),
            ("c2", connection("c")),
            ("broken", "{not json".to_owned()),
        ] {
            std::fs::write(connections.join(format!("{key}.json")), text).unwrap();
        }
        let mut fleet = Fleet::open(dir.path()).unwrap();
        let counting = Arc::new(Counting {
            inner: Arc::new(crate::store::directory::DirDocuments::open(&connections).unwrap()),
            reads: Mutex::new(BTreeMap::new()),
        });
        let seen = counting.clone();
        fleet.wrap_documents(|_| counting);
        let sandbox = Sandbox::new(Limits::default()).unwrap();
        let registry = Registry::load(
            &dir.path().join("plugins"),
            &sandbox,
            &Default::default(),
            None,
        )
        .unwrap();
        let options = Options::default();
        let planner = Planner {
            fleet: &fleet,
            registry: &registry,
            sandbox: &sandbox,
            options: &options,
            run_plugins: false,
        };
        let plan = planner.plan(|_| {}).unwrap();
        let statuses: Vec<(&str, Status)> = plan
            .connections
            .iter()
            .map(|c| (c.key.as_str(), c.status))
            .collect();
        assert_eq!(
            statuses,
            [
                ("a", Status::Blocked),
                ("b", Status::Blocked),
                ("broken", Status::Invalid),
                ("c1", Status::Invalid),
                ("c2", Status::Invalid),
            ]
        );
        let counted = seen.reads.lock().unwrap().clone();
        assert_eq!(
            counted,
            ["a", "b", "broken", "c1", "c2"]
                .map(|k| (k.to_owned(), 1))
                .into_iter()
                .collect::<BTreeMap<_, _>>(),
            "each document is read once"
        );
    }
}
