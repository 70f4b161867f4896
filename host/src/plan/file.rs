//! A plan's connections without holding them: a saved plan is read again from its file, a
//! connection at a time, whenever its connections are gone through.
//!
//! An apply checks a saved plan against the fleet, then writes its connections a batch at a
//! time; a shared run's first worker records them in the database instead. Holding the plan
//! for that grows with the fleet (some 750 bytes a connection once slimmed: 91 MiB at
//! 100k), so the plan is read from its file each time instead, and a plan made by `apply`
//! itself goes through a temporary file. What the whole plan says (its digest, its counts,
//! the connections that cannot be planned) is worked out in one pass when it is opened.
//!
//! The file is written by [`PlanWriter`], as the plan is made.

mod writer;

pub use writer::PlanWriter;

use super::types::{ConnectionPlan, Plan, Status, Summary};
use anyhow::{Context, Result};
use serde::de::{DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor};
use std::path::{Path, PathBuf};

/// A plan whose connections can be gone through, in order, as often as needed.
pub trait PlanSource: Sync {
    /// The plan's format, fleet, options and plugins; its connections are those of
    /// [`PlanSource::each`], not this plan's (which may have none).
    fn header(&self) -> &Plan;

    /// Hands each connection to `f`, in the plan's order, stopping at `f`'s first error.
    fn each(&self, f: &mut dyn FnMut(&ConnectionPlan) -> Result<()>) -> Result<()>;

    /// What the whole plan says, from one pass over its connections.
    fn survey(&self) -> Result<Survey>;
}

impl PlanSource for Plan {
    fn header(&self) -> &Plan {
        self
    }

    fn each(&self, f: &mut dyn FnMut(&ConnectionPlan) -> Result<()>) -> Result<()> {
        self.connections.iter().try_for_each(f)
    }

    fn survey(&self) -> Result<Survey> {
        let mut survey = Surveying::new(self);
        self.connections.iter().for_each(|c| survey.add(c));
        Ok(survey.finish())
    }
}

/// What one pass over a plan's connections tells.
#[derive(Clone, Debug)]
pub struct Survey {
    /// The digest that makes two plans the same run (see [`Surveying`]).
    pub sha256: String,
    pub summary: Summary,
    /// The connections that could not be planned, one line each: an apply refuses them.
    pub unplannable: Vec<String>,
}

impl Survey {
    /// How many connections the plan writes.
    pub fn writes(&self) -> usize {
        self.summary
            .0
            .iter()
            .filter(|(s, _)| s.writes())
            .map(|(_, n)| n)
            .sum()
    }

    /// Whether the plan writes or records anything: a connection to write or a failure.
    pub fn does_anything(&self) -> bool {
        self.writes() > 0 || self.summary.get(Status::Failed) > 0
    }
}

/// Works out a [`Survey`] a connection at a time.
///
/// The digest covers the fleet, the options, the plugins and every connection's key, input,
/// status and output, as the one JSON array `[fleet, options, plugins, [[key, input, status,
/// output], …]]`, hashed as it is written so that no part of it is held.
pub struct Surveying {
    hashing: sha2::Sha256,
    first: bool,
    summary: Summary,
    unplannable: Vec<String>,
}

impl Surveying {
    pub fn new(header: &Plan) -> Self {
        use sha2::Digest;
        let mut hashing = sha2::Sha256::new();
        // `[fleet,options,plugins]` without its closing bracket, then the list.
        let start = serde_json::to_vec(&(&header.fleet, &header.options, &header.plugins))
            .expect("a plan serializes");
        hashing.update(&start[..start.len() - 1]);
        hashing.update(b",[");
        Surveying {
            hashing,
            first: true,
            summary: Summary::default(),
            unplannable: Vec::new(),
        }
    }

    pub fn add(&mut self, c: &ConnectionPlan) {
        use sha2::Digest;
        if !self.first {
            self.hashing.update(b",");
        }
        self.first = false;
        let item =
            serde_json::to_vec(&(&c.key, &c.input_sha256, c.status.as_str(), &c.output_sha256))
                .expect("a plan serializes");
        self.hashing.update(&item);
        *self.summary.0.entry(c.status).or_default() += 1;
        if c.status.is_input_error() {
            self.unplannable.push(format!(
                "  {} ({}): {}",
                c.id,
                c.status.as_str(),
                c.reason.as_deref().unwrap_or("")
            ));
        }
    }

    pub fn finish(mut self) -> Survey {
        use sha2::Digest;
        self.hashing.update(b"]]");
        Survey {
            sha256: hex::encode(self.hashing.finalize()),
            summary: self.summary,
            unplannable: self.unplannable,
        }
    }
}

/// A saved plan, read again from its file each time its connections are gone through.
pub struct SavedPlan {
    path: PathBuf,
    header: Plan,
    survey: Survey,
}

impl SavedPlan {
    /// Opens a saved plan: reads it once, keeping its header and its [`Survey`].
    pub fn open(path: &Path) -> Result<Self> {
        let mut surveying = None;
        let header = read_each(path, &mut |header, c| {
            surveying
                .get_or_insert_with(|| Surveying::new(header))
                .add(c);
            Ok(())
        })?;
        let survey = surveying
            .unwrap_or_else(|| Surveying::new(&header))
            .finish();
        Ok(SavedPlan {
            path: path.to_owned(),
            header,
            survey,
        })
    }
}

impl PlanSource for SavedPlan {
    fn header(&self) -> &Plan {
        &self.header
    }

    fn each(&self, f: &mut dyn FnMut(&ConnectionPlan) -> Result<()>) -> Result<()> {
        read_each(&self.path, &mut |_, c| f(c)).map(drop)
    }

    fn survey(&self) -> Result<Survey> {
        Ok(self.survey.clone())
    }
}

/// Reads a saved plan from `path`, handing each connection ([`ConnectionPlan::slim`]) to
/// `each` with the plan's header as soon as it is read; returns the header, with no
/// connections. A plan file names its connections last, so the header is whole by then.
fn read_each(
    path: &Path,
    each: &mut dyn FnMut(&Plan, &ConnectionPlan) -> Result<()>,
) -> Result<Plan> {
    let file =
        std::fs::File::open(path).with_context(|| format!("reading plan {}", path.display()))?;
    read_each_from(std::io::BufReader::new(file), Some(path), each)
}

/// [`read_each`] from any reader (what [`Plan::read`] and [`Plan::from_slice`] collect),
/// naming `path` in the error if the text is not a plan. An error of `each` comes back as
/// it was.
pub(crate) fn read_each_from(
    reader: impl std::io::Read,
    path: Option<&Path>,
    each: &mut dyn FnMut(&Plan, &ConnectionPlan) -> Result<()>,
) -> Result<Plan> {
    let mut stopped = None;
    let mut reader = serde_json::Deserializer::from_reader(reader);
    let read = PlanSeed {
        each,
        stopped: &mut stopped,
    }
    .deserialize(&mut reader)
    .and_then(|plan| reader.end().map(|()| plan));
    if let Some(e) = stopped {
        return Err(e);
    }
    match path {
        Some(path) => {
            Plan::checked(read).with_context(|| format!("{} is not a usable plan", path.display()))
        }
        None => Plan::checked(read),
    }
}

/// A plan read with its connections handed out instead of collected.
struct PlanSeed<'a> {
    each: &'a mut dyn FnMut(&Plan, &ConnectionPlan) -> Result<()>,
    /// The error `each` stopped with, which serde can only carry as text.
    stopped: &'a mut Option<anyhow::Error>,
}

impl<'de> DeserializeSeed<'de> for PlanSeed<'_> {
    type Value = Plan;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Plan, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PlanSeed<'_> {
    type Value = Plan;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a cutover plan")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Plan, A::Error> {
        let mut fields = serde_json::Map::new();
        let mut header: Option<Plan> = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "connections" {
                fields.insert(key, serde_json::Value::Array(Vec::new()));
                let plan: Plan = serde_json::from_value(serde_json::Value::Object(fields.clone()))
                    .map_err(A::Error::custom)?;
                map.next_value_seed(Connections {
                    header: &plan,
                    each: &mut *self.each,
                    stopped: &mut *self.stopped,
                })?;
                header = Some(plan);
            } else {
                fields.insert(key, map.next_value()?);
            }
        }
        match header {
            Some(plan) => Ok(plan),
            None => Err(A::Error::missing_field("connections")),
        }
    }
}

/// A plan's list of connections, each slimmed and handed out as it is read.
struct Connections<'a, 'p> {
    header: &'p Plan,
    each: &'a mut dyn FnMut(&Plan, &ConnectionPlan) -> Result<()>,
    stopped: &'a mut Option<anyhow::Error>,
}

impl<'de> DeserializeSeed<'de> for Connections<'_, '_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Connections<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a list of connection plans")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(c) = seq.next_element::<SlimConnection>()? {
            if let Err(e) = (self.each)(self.header, &c.into()) {
                *self.stopped = Some(e);
                return Err(A::Error::custom("stopped"));
            }
        }
        Ok(())
    }
}

/// What [`ConnectionPlan::slim`] keeps of a connection's plan, read without building the
/// rest: the diffs, steps, actions and notes are skipped as they are parsed.
#[derive(serde::Deserialize)]
struct SlimConnection {
    id: String,
    #[serde(default)]
    name: Option<String>,
    key: String,
    #[serde(default)]
    connector: Option<String>,
    input_sha256: String,
    #[serde(default)]
    from: Option<semver::Version>,
    #[serde(default)]
    to: Option<semver::Version>,
    status: Status,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    output_sha256: Option<String>,
}

impl From<SlimConnection> for ConnectionPlan {
    fn from(c: SlimConnection) -> Self {
        ConnectionPlan {
            id: c.id,
            name: c.name,
            key: c.key,
            connector: c.connector,
            input_sha256: c.input_sha256,
            from: c.from,
            to: c.to,
            status: c.status,
            reason: c.reason,
            steps: Vec::new(),
            changes: Default::default(),
            actions: Vec::new(),
            notes: Vec::new(),
            output_sha256: c.output_sha256,
            output: None,
            shown_before: None,
        }
    }
}

/// Reading a saved plan whole.
impl Plan {
    /// Reads a saved plan, streaming it from the file, each connection slimmed as it is
    /// read.
    pub fn read(path: &std::path::Path) -> Result<Self> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("reading plan {}", path.display()))?;
        Self::read_from(std::io::BufReader::new(file), Some(path))
    }

    /// Parses a saved plan.
    pub fn from_slice(bytes: &[u8]) -> Result<Self> {
        Self::read_from(bytes, None)
    }

    /// A saved plan with its connections collected, as [`SavedPlan`] reads them.
    fn read_from(reader: impl std::io::Read, path: Option<&std::path::Path>) -> Result<Self> {
        let mut connections = Vec::new();
        let header = read_each_from(reader, path, &mut |_, c| {
            connections.push(c.clone());
            Ok(())
        })?;
        Ok(Plan {
            connections,
            ..header
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{FORMAT, Options, PluginRef};

    fn plan() -> Plan {
        let statuses = [
            Status::Migrate,
            Status::UpToDate,
            Status::Invalid,
            Status::Failed,
            Status::Upgrade,
        ];
        Plan {
            format: FORMAT.into(),
            cutover_version: "0.1.0".into(),
            fleet: "/srv/fleet".into(),
            options: Options::default(),
            plugins: vec![PluginRef {
                file: "source_pinterest_v2.wasm".into(),
                sha256: "ab".repeat(32),
                signer: None,
            }],
            connections: (0..7)
                .map(|i| {
                    let status = statuses[i % statuses.len()];
                    let output = status.writes().then(|| format!("{i:064x}"));
                    let mut c = ConnectionPlan::of_item(
                        format!("conn-{i}"),
                        format!("id-{i}"),
                        status,
                        format!("{:064x}", i + 100),
                        output,
                    );
                    c.reason = (status == Status::Invalid).then(|| "not JSON".to_owned());
                    // What a saved plan shows but apply does not read.
                    c.notes = vec![format!("note {i}")];
                    c.changes.config = json_patch::diff(
                        &serde_json::json!({"a": i}),
                        &serde_json::json!({"b": i}),
                    );
                    c
                })
                .collect(),
        }
    }

    #[test]
    fn a_saved_plan_read_a_connection_at_a_time_is_the_plan_read_whole() {
        let plan = plan();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&plan).unwrap()).unwrap();
        let whole = Plan::read(&path).unwrap();
        let saved = SavedPlan::open(&path).unwrap();
        assert!(saved.header().connections.is_empty());
        assert_eq!(
            Plan {
                connections: Vec::new(),
                ..whole.clone()
            },
            *saved.header()
        );
        let mut read = Vec::new();
        saved
            .each(&mut |c| {
                read.push(c.clone());
                Ok(())
            })
            .unwrap();
        assert_eq!(read, whole.connections);
        let (a, b) = (whole.survey().unwrap(), saved.survey().unwrap());
        assert_eq!(
            (&a.sha256, &a.summary, &a.unplannable),
            (&b.sha256, &b.summary, &b.unplannable)
        );
        assert_eq!(a.unplannable, vec!["  id-2 (invalid): not JSON".to_owned()]);
        assert_eq!((a.writes(), a.does_anything()), (3, true));

        // The digest is the sha256 of the whole array, written at once.
        let items: Vec<_> = plan
            .connections
            .iter()
            .map(|c| (&c.key, &c.input_sha256, c.status.as_str(), &c.output_sha256))
            .collect();
        let whole_text =
            serde_json::to_vec(&(&plan.fleet, &plan.options, &plan.plugins, items)).unwrap();
        assert_eq!(a.sha256, crate::ground::sha256_hex(&whole_text));

        // An error of the caller's stops the reading and comes back as it was.
        let mut seen = 0;
        let stopped = saved.each(&mut |_| {
            seen += 1;
            if seen == 3 {
                anyhow::bail!("enough")
            } else {
                Ok(())
            }
        });
        assert_eq!(
            (stopped.unwrap_err().to_string(), seen),
            ("enough".to_owned(), 3)
        );
    }

    #[test]
    fn a_file_that_is_not_a_plan_is_refused_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        for (name, text) in [
            ("broken.json", "{\"format\": "),
            ("list.json", "[]"),
            ("no-connections.json", "{\"format\": \"cutover-plan/2\"}"),
        ] {
            let path = dir.path().join(name);
            std::fs::write(&path, text).unwrap();
            let e = format!("{:#}", SavedPlan::open(&path).err().expect(name));
            assert!(e.contains(name) && e.contains("not a usable plan"), "{e}");
        }
    }
}
