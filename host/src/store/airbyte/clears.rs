//! What a connection's jobs say about its clears.
//!
//! A clear (`connections/clear/stream`) is not safe to repeat: every call signals the
//! connection's workflow, which fails the jobs still going and starts a new reset job
//! (`SchedulerHandler.resetConnectionStream` → `TemporalClient.resetConnection`), and that
//! job deletes the data and the state of its streams again. So before a clear is sent, and
//! again when its answer was lost or a run was cut after sending it, the server's jobs
//! (`jobs/list`) say which streams need it still: a stream is cleared when its newest job
//! that touches it is a clear or reset naming it (not failed or cancelled before it ran):
//! nothing has synced it since, so clearing it again would change nothing but start a job.
//!
//! The same jobs tell a rollback which streams a write's clear emptied: their state cannot
//! come back, since the data it counted is gone.

use crate::migration::StreamDescriptor;
use serde_json::Value;

/// The config types of the jobs that touch a connection's streams.
pub const JOB_TYPES: &[&str] = &["sync", "refresh", "clear", "reset_connection"];

/// One job, as far as clears are concerned.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub id: i64,
    /// Seconds since the epoch, the server's clock.
    pub created_at: i64,
    /// A clear or a reset (else a sync or a refresh, which touch every stream).
    pub clears: bool,
    /// Failed or cancelled: a job the next one replaced before it ran may have done nothing.
    pub failed: bool,
    pub streams: Vec<StreamDescriptor>,
}

impl Job {
    /// Reads a `JobWithAttemptsRead` (or a `JobInfoRead`).
    pub fn read(entry: &Value) -> Option<Self> {
        let job = entry.get("job")?;
        let kind = job.get("configType")?.as_str()?;
        let status = job
            .get("status")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let streams = job
            .pointer("/resetConfig/streamsToReset")
            .or(job.get("enabledStreams"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|d| {
                Some(StreamDescriptor {
                    name: d.get("name")?.as_str()?.to_owned(),
                    namespace: d
                        .get("namespace")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                })
            })
            .collect();
        Some(Self {
            id: job.get("id")?.as_i64()?,
            created_at: job.get("createdAt").and_then(Value::as_i64).unwrap_or(0),
            clears: kind == "clear" || kind == "reset_connection",
            failed: status == "failed" || status == "cancelled",
            streams,
        })
    }
}

/// Of `wanted`, the streams the jobs show cleared with nothing synced since.
pub fn cleared_since_last_sync(jobs: &[Job], wanted: &[StreamDescriptor]) -> Vec<StreamDescriptor> {
    let mut newest_first: Vec<&Job> = jobs.iter().collect();
    newest_first.sort_by_key(|j| std::cmp::Reverse((j.created_at, j.id)));
    wanted
        .iter()
        .filter(|stream| {
            newest_first
                .iter()
                .find(|j| !j.clears || (!j.failed && j.streams.contains(stream)))
                .is_some_and(|j| j.clears)
        })
        .cloned()
        .collect()
}

/// The streams clear or reset jobs created at `since` (seconds since the epoch) or later
/// named.
pub fn cleared_after(jobs: &[Job], since: i64) -> Vec<StreamDescriptor> {
    let mut streams: Vec<StreamDescriptor> = jobs
        .iter()
        .filter(|j| j.clears && j.created_at >= since)
        .flat_map(|j| j.streams.iter().cloned())
        .collect();
    streams.sort();
    streams.dedup();
    streams
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(name: &str) -> StreamDescriptor {
        StreamDescriptor {
            name: name.into(),
            namespace: None,
        }
    }

    fn job(id: i64, clears: bool, failed: bool, streams: &[&str]) -> Job {
        Job {
            id,
            created_at: 100 + id,
            clears,
            failed,
            streams: streams.iter().map(|s| stream(s)).collect(),
        }
    }

    #[test]
    fn a_stream_is_cleared_until_something_syncs_it() {
        let wanted = [stream("a"), stream("b"), stream("c")];
        let jobs = [
            job(1, true, false, &["c"]),
            job(2, false, false, &[]),
            job(3, true, false, &["a"]),
            job(4, true, true, &["b"]),
        ];
        assert_eq!(
            cleared_since_last_sync(&jobs, &wanted),
            vec![stream("a")],
            "b's clear failed, c synced since"
        );
        assert!(cleared_since_last_sync(&[], &wanted).is_empty());
        assert_eq!(cleared_after(&jobs, 103), vec![stream("a"), stream("b")]);
    }

    #[test]
    fn reads_a_listed_job() {
        let entry = serde_json::json!({"job": {"id": 7, "configType": "clear", "configId": "c", "createdAt": 5, "updatedAt": 5, "status": "pending",
            "resetConfig": {"streamsToReset": [{"name": "ads", "namespace": "n"}]}}, "attempts": []});
        let job = Job::read(&entry).unwrap();
        assert!(job.clears && !job.failed);
        assert_eq!(
            job.streams,
            vec![StreamDescriptor {
                name: "ads".into(),
                namespace: Some("n".into())
            }]
        );
    }
}
