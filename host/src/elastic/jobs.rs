//! Pending sync jobs: a sync job keeps its own copy of the connector's configuration,
//! filtering, pipeline and sync cursor (`SyncJobIndex.create` in the connectors service),
//! and the job runner uses that copy. A job queued before a migration would run with the old
//! configuration, so a plan lists a connector's unfinished jobs and apply cancels them:
//! the Connector API can cancel a job but cannot rewrite its copy.
//!
//! The fleet's document lists them under `pending_sync_jobs`, each as the job's type, how
//! it was triggered and its status, which is what a new job needs to be queued again (a
//! rollback does that), in that order. A job in progress means the connectors service is
//! running: the upgrade order says to stop it first, so such a connector is blocked.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The field of a connector document that lists its unfinished sync jobs.
pub const FIELD: &str = "pending_sync_jobs";

/// One unfinished sync job of a connector.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// `full`, `incremental` or `access_control`.
    pub job_type: String,
    /// `on_demand` or `scheduled`.
    pub trigger_method: String,
    /// `pending`, `suspended` (resumes with its copy) or `in_progress`.
    pub status: String,
}

impl Job {
    /// Whether the job is running now: the connectors service is up.
    pub fn is_running(&self) -> bool {
        self.status == "in_progress"
    }

    /// Whether a job in `status` is unfinished and may still run with its copy (a
    /// `canceling` job will not: the service cancels it when it claims it).
    pub fn is_unfinished(status: &str) -> bool {
        matches!(status, "pending" | "suspended" | "in_progress")
    }
}

impl std::fmt::Display for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} sync ({}, {})",
            self.job_type, self.trigger_method, self.status
        )
    }
}

/// The jobs a document lists (none when it has no such field).
pub fn read(doc: &Map<String, Value>) -> Result<Vec<Job>, String> {
    match doc.get(FIELD) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(jobs) => serde_json::from_value(jobs.clone()).map_err(|e| {
            format!("field {FIELD:?} must list jobs as {{\"job_type\": …, \"trigger_method\": …, \"status\": …}}: {e}")
        }),
    }
}

/// What the plan says about a connector's jobs, if it has any; `Err` when one is running.
pub fn plan_note(jobs: &[Job]) -> Result<Option<String>, String> {
    if let Some(running) = jobs.iter().find(|j| j.is_running()) {
        return Err(format!(
            "a {running} is running, so the connectors service is up: stop it (the upgrade order has it upgraded last) and plan again"
        ));
    }
    if jobs.is_empty() {
        return Ok(None);
    }
    let listed: Vec<String> = jobs.iter().map(ToString::to_string).collect();
    Ok(Some(format!(
        "{} unfinished sync job(s) hold a copy of the old configuration and will be canceled: {}; start a sync once the connectors service runs the new version",
        jobs.len(),
        listed.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn lists_jobs_and_blocks_on_a_running_one() {
        let doc = json!({FIELD: [{"job_type": "full", "trigger_method": "scheduled", "status": "pending"}]});
        let jobs = read(doc.as_object().unwrap()).unwrap();
        assert!(
            plan_note(&jobs)
                .unwrap()
                .unwrap()
                .contains("full sync (scheduled, pending)")
        );
        let running = vec![Job {
            job_type: "incremental".into(),
            trigger_method: "on_demand".into(),
            status: "in_progress".into(),
        }];
        assert!(plan_note(&running).unwrap_err().contains("stop it"));
        assert_eq!(plan_note(&[]).unwrap(), None);
        assert!(read(json!({FIELD: [{"job_type": "full"}]}).as_object().unwrap()).is_err());
    }
}
