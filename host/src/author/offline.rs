//! What answers a connector's requests when it runs offline: the `sitecustomize.py` that
//! replaces the HTTP transports (`requests`, `httpx` sync and async, `http.client`) and the
//! gRPC channel in the connector's own process, and the recorded responses
//! (`responses.json`) it answers from. The format is described in [`super::connector`].
//!
//! The answer is chosen in Python (the connector's process), so the Rust side only checks
//! a `responses.json` is well formed before any connector sees it: a typo in a field
//! would otherwise answer nothing and leave a verification failing for a wrong reason.
//!
//! Over 600 lines because its tests run `sitecustomize.py` under a real interpreter, one
//! transport and one option at a time; the module's own code is under 300.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// `sitecustomize.py` for the connector's interpreter: no request reaches the network.
///
/// Its choice of answer (`_recorded_answer`) is plain Python (no `requests`, no `grpc`) so
/// that it can be tested with any interpreter; the transports only turn its answer into
/// their own response object. Kept as a Python file so that it reads (and lints) as one.
pub const SITECUSTOMIZE: &str = include_str!("sitecustomize.py");

/// A `responses.json`: answers for requests the empty page cannot answer (a token, a list
/// of accounts the connector needs one of, a job's status), shaped like the vendor's.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Recorded {
    /// That these are not the vendor's answers, and where their shape comes from (the
    /// connector's own code, schemas or test fixtures). Shown with every result they made.
    #[serde(alias = "about")]
    pub note: String,
    /// Why the connector's `time.sleep` returns at once here (a report polled every 30 s, a
    /// rate limit of one request a minute): offline, every answer is already there, and a
    /// read of two years of reports would otherwise take hours. Absent: it sleeps as it
    /// would against the vendor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_waiting: Option<String>,
    pub responses: Vec<Entry>,
}

/// One recorded answer, for the requests whose URL contains `url`. (Its fields are checked
/// by [`Recorded::parse`]: serde cannot refuse unknown fields beside a flattened struct.)
#[derive(Clone, Debug, Deserialize, Serialize)]
pub struct Entry {
    pub url: String,
    /// Only requests of this method (any method when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Only requests whose body contains this text: a GraphQL API takes every query at one
    /// URL, and tells them apart by the query in the body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_contains: Option<String>,
    /// Only in these connector commands (`spec`, `check`, `discover`, `read`): an answer
    /// that would change what discover declares (hubspot's custom properties) but that a
    /// read needs, given to the read alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Vec<String>>,
    #[serde(flatten)]
    pub answer: Answer,
    /// Answers given in turn, one per request; the last repeats. Instead of `answer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence: Option<Vec<Answer>>,
}

/// What a request is answered with. Every field is optional: `200`, a JSON content type,
/// and the empty page.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct Answer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// A JSON body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// A body that is not JSON (a CSV export, a gzip-less text file), sent as it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// The fields of an [`Entry`] (with an [`Answer`]'s) and of an answer in a sequence.
const ENTRY_FIELDS: &[&str] = &[
    "url",
    "method",
    "body_contains",
    "commands",
    "sequence",
    "status",
    "headers",
    "body",
    "text",
];
const ANSWER_FIELDS: &[&str] = &["status", "headers", "body", "text"];
/// The connector commands an entry's `commands` may name.
const COMMANDS: &[&str] = &["spec", "check", "discover", "read"];

impl Answer {
    fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.headers.is_empty()
            && self.body.is_none()
            && self.text.is_none()
    }
}

impl Recorded {
    /// What a result made with these answers says of them: the note, and why the
    /// connector did not wait, if it did not.
    pub fn described(&self) -> String {
        match &self.no_waiting {
            Some(why) => format!("{} Its waits returned at once: {why}", self.note),
            None => self.note.clone(),
        }
    }

    /// A version's recorded responses layered over its connector's: the version's entries
    /// first, so that they answer before the connector's where both match a request, and
    /// the connector's after them, so that a version file holds only what differs for that
    /// version (a copy of the connector's token entry would drift from it). Both notes are
    /// kept; the version's `no_waiting` wins, else the connector's applies.
    pub fn layered(version: Option<Self>, connector: Option<Self>) -> Option<Self> {
        match (version, connector) {
            (Some(mut version), Some(connector)) => {
                version.note = format!("{} {}", version.note.trim_end(), connector.note);
                version.no_waiting = version.no_waiting.or(connector.no_waiting);
                version.responses.extend(connector.responses);
                Some(version)
            }
            (version, connector) => version.or(connector),
        }
    }

    /// Parses and checks a `responses.json`'s text.
    pub fn parse(text: &str) -> Result<Self> {
        let value: Value = serde_json::from_str(text)?;
        for entry in value["responses"].as_array().into_iter().flatten() {
            let sequence = entry.get("sequence").and_then(Value::as_array);
            for (object, allowed) in std::iter::once((entry, ENTRY_FIELDS))
                .chain(sequence.into_iter().flatten().map(|a| (a, ANSWER_FIELDS)))
            {
                for key in object.as_object().into_iter().flat_map(|o| o.keys()) {
                    if !allowed.contains(&key.as_str()) {
                        bail!("unknown field `{key}` (known: {})", allowed.join(", "));
                    }
                }
            }
        }
        let recorded: Self = serde_json::from_value(value)?;
        if recorded.note.trim().is_empty() {
            bail!(
                "its note is empty: say whose answers these are not, and where their shape comes from"
            );
        }
        if recorded
            .no_waiting
            .as_ref()
            .is_some_and(|why| why.trim().is_empty())
        {
            bail!("its no_waiting is empty: say what the connector waits for");
        }
        for entry in &recorded.responses {
            let answers = match &entry.sequence {
                Some(sequence) => {
                    if !entry.answer.is_empty() {
                        bail!("{}: a sequence and an answer beside it", entry.url);
                    }
                    if sequence.is_empty() {
                        bail!("{}: an empty sequence", entry.url);
                    }
                    sequence.iter().collect()
                }
                None => vec![&entry.answer],
            };
            if let Some(unknown) = entry
                .commands
                .iter()
                .flatten()
                .find(|c| !COMMANDS.contains(&c.as_str()))
            {
                bail!(
                    "{}: `{unknown}` is no connector command (known: {})",
                    entry.url,
                    COMMANDS.join(", ")
                );
            }
            for answer in answers {
                if answer.body.is_some() && answer.text.is_some() {
                    bail!("{}: both a JSON body and a text", entry.url);
                }
                if let Some(status) = answer.status
                    && !(100..600).contains(&status)
                {
                    bail!("{}: {status} is no HTTP status", entry.url);
                }
            }
        }
        Ok(recorded)
    }

    /// The recorded responses at `path`, if there is such a file.
    pub fn read(path: &Path) -> Result<Option<Self>> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text)
                .map(Some)
                .with_context(|| format!("{} is no recorded responses file", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::path::PathBuf;
    use std::process::Command;

    /// Runs `script` under a plain interpreter with `sitecustomize.py` of `dir` loaded, the
    /// recorded `responses` and the connector `command`; its output, or None if it failed.
    fn python(dir: &Path, script: &str, responses: &Value, command: &str) -> Option<String> {
        let output = Command::new("python3")
            .args(["-S", "-c", script])
            .env("PYTHONPATH", dir)
            .env("CUTOVER_RESPONSES", responses.to_string())
            .env("CUTOVER_COMMAND", command)
            .output()
            .expect("python3 runs (the connectors need it)");
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
    }

    #[test]
    fn the_old_format_and_the_new_one_parse() {
        let old = Recorded::parse(
            r#"{"about": "not the vendor's", "responses": [{"url": "/v2/profiles", "body": []}]}"#,
        )
        .unwrap();
        assert_eq!(old.note, "not the vendor's");
        assert_eq!(old.responses[0].answer.body, Some(json!([])));
        let new = Recorded::parse(
            r#"{"note": "n", "responses": [{"url": "/token", "method": "POST", "sequence": [
                {"status": 429, "headers": {"Retry-After": "0"}}, {"body": {"access_token": "t"}}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            new.responses[0].sequence.as_ref().unwrap()[0].status,
            Some(429)
        );
    }

    #[test]
    fn a_malformed_file_is_refused() {
        for (text, why) in [
            (r#"{"responses": []}"#, "no note"),
            (r#"{"note": " ", "responses": []}"#, "an empty note"),
            (
                r#"{"note": "n", "responses": [{"url": "/x", "bdoy": {}}]}"#,
                "a misspelt field",
            ),
            (
                r#"{"note": "n", "responses": [{"url": "/x", "body": {}, "text": ""}]}"#,
                "two bodies",
            ),
            (
                r#"{"note": "n", "responses": [{"url": "/x", "body": {}, "sequence": [{}]}]}"#,
                "a sequence beside an answer",
            ),
            (
                r#"{"note": "n", "responses": [{"url": "/x", "sequence": []}]}"#,
                "an empty sequence",
            ),
            (
                r#"{"note": "n", "responses": [{"url": "/x", "status": 9}]}"#,
                "a status out of range",
            ),
            (
                r#"{"note": "n", "no_waiting": "", "responses": []}"#,
                "no waiting without a reason",
            ),
            (
                r#"{"note": "n", "responses": [{"url": "/x", "commands": ["sync"]}]}"#,
                "an unknown command",
            ),
        ] {
            assert!(Recorded::parse(text).is_err(), "{why} was accepted");
        }
    }

    /// An entry limited to some commands answers in those alone.
    #[test]
    fn an_entry_for_the_read_answers_the_read_alone() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sitecustomize.py"), SITECUSTOMIZE).unwrap();
        let responses = json!({"note": "n", "responses": [
            {"url": "/properties", "commands": ["read"], "body": [{"name": "custom"}]}]});
        let answered = |command: &str| {
            python(
                dir.path(),
                "import sitecustomize as s; print(s._answer('GET', 'https://x/properties')[2].decode())",
                &responses,
                command,
            )
            .expect("the script runs")
        };
        assert_eq!(answered("read"), r#"[{"name": "custom"}]"#);
        assert_eq!(answered("discover"), "{}", "discover gets the empty page");
    }

    /// A version's file adds to its connector's: its own entries answer first, the
    /// connector's answer what it does not name, and the result names both notes.
    #[test]
    fn a_version_file_answers_before_its_connectors() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sitecustomize.py"), SITECUSTOMIZE).unwrap();
        let version = Recorded::parse(
            r#"{"note": "version's.", "responses": [{"url": "/scopes", "body": ["read_orders"]}]}"#,
        )
        .unwrap();
        let connector = Recorded::parse(
            r#"{"note": "connector's.", "no_waiting": "a report is polled", "responses": [
                {"url": "/scopes", "body": []}, {"url": "/shop", "body": {"id": 1}}]}"#,
        )
        .unwrap();
        let layered = Recorded::layered(Some(version.clone()), Some(connector.clone())).unwrap();
        assert_eq!(layered.note, "version's. connector's.");
        assert_eq!(layered.no_waiting.as_deref(), Some("a report is polled"));
        let responses = serde_json::to_value(&layered).unwrap();
        let answered = |url: &str| {
            python(
                dir.path(),
                &format!("import sitecustomize as s; print(s._answer('GET', 'https://x{url}')[2].decode())"),
                &responses,
                "read",
            )
            .expect("the script runs")
        };
        assert_eq!(
            answered("/scopes"),
            r#"["read_orders"]"#,
            "the version's entry first"
        );
        assert_eq!(
            answered("/shop"),
            r#"{"id": 1}"#,
            "the connector's entry after it"
        );
        assert_eq!(answered("/other"), "{}");
        // One file alone is itself.
        assert_eq!(
            Recorded::layered(None, Some(connector)).unwrap().note,
            "connector's."
        );
        assert_eq!(
            Recorded::layered(Some(version), None).unwrap().note,
            "version's."
        );
        assert!(Recorded::layered(None, None).is_none());
    }

    /// A connector's sleeps return at once only where the file says why, and its results
    /// say so too.
    #[test]
    fn waits_return_at_once_only_where_the_file_says_why() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sitecustomize.py"), SITECUSTOMIZE).unwrap();
        let slept = |responses: &Value| {
            python(
                dir.path(),
                "import sitecustomize, time; t = time.monotonic(); time.sleep(2); print(time.monotonic() - t)",
                responses,
                "read",
            )
            .expect("the script runs")
            .parse::<f64>()
            .unwrap()
        };
        let waiting = json!({"note": "n", "responses": []});
        assert!(
            slept(&waiting) >= 2.0,
            "a connector sleeps as it would by default"
        );
        // airbyte-cdk's rate limiter (a stand-in with its module path and method) refuses
        // by default, and lets every call through when waits return at once.
        let limiter = dir.path().join("airbyte_cdk/sources/streams");
        std::fs::create_dir_all(&limiter).unwrap();
        for package in [
            "airbyte_cdk",
            "airbyte_cdk/sources",
            "airbyte_cdk/sources/streams",
        ] {
            std::fs::write(dir.path().join(package).join("__init__.py"), "").unwrap();
        }
        std::fs::write(
            limiter.join("call_rate.py"),
            "class APIBudget:\n    def _do_acquire(self, request):\n        raise RuntimeError('Rate limit=1/1.0m is already full')\n",
        )
        .unwrap();
        let acquire = |responses: &Value| {
            python(
                dir.path(),
                "import sitecustomize\nfrom airbyte_cdk.sources.streams.call_rate import APIBudget\nAPIBudget()._do_acquire('GET /reports')",
                responses,
                "read",
            )
            .is_some()
        };
        assert!(!acquire(&waiting), "the limiter refuses by default");
        let text =
            r#"{"note": "n", "no_waiting": "reports are polled every 30 s", "responses": []}"#;
        let recorded = Recorded::parse(text).unwrap();
        assert!(slept(&serde_json::to_value(&recorded).unwrap()) < 1.0);
        assert!(
            acquire(&serde_json::to_value(&recorded).unwrap()),
            "every call is let through"
        );
        assert_eq!(
            recorded.described(),
            "n Its waits returned at once: reports are polled every 30 s"
        );
    }

    /// The transport's choice of answer, run by a real interpreter: by URL, method and
    /// body, in sequence with the last repeating, with status, headers and a text body;
    /// the empty page for the rest. Then through `http.client`, body and all.
    #[test]
    fn requests_are_answered_by_url_method_and_turn() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sitecustomize.py"), SITECUSTOMIZE).unwrap();
        let responses = json!({"note": "n", "responses": [
            {"url": "/token", "method": "POST", "body": {"access_token": "t"}},
            {"url": "/token", "status": 405},
            {"url": "/graphql", "body_contains": "products(", "body": {"data": {"products": {"nodes": []}}}},
            {"url": "/jobs/1", "sequence": [
                {"status": 429, "headers": {"Retry-After": "0"}},
                {"body": {"status": "done"}}]},
            {"url": "/export.csv", "headers": {"Content-Type": "text/csv"}, "text": "id\n1\n"}]});
        let script = r#"
import json, sitecustomize as s
print(json.dumps([[st, h, b.decode()] for st, h, b in [
    s._answer("post", "https://x/token"), s._answer("GET", "https://x/token"),
    s._answer("GET", "https://x/jobs/1"), s._answer("GET", "https://x/jobs/1"),
    s._answer("GET", "https://x/jobs/1"), s._answer("GET", "https://x/export.csv"),
    s._answer("GET", "https://x/other"), s._answer("POST", "https://x/graphql", b'{"query": "{ products(first: 1) { id } }"}'),
    s._answer("POST", "https://x/graphql", '{"query": "{ shop { id } }"}')]]))
# The same answers through `http.client` (what recurly's client speaks), with no network.
import http.client
c = http.client.HTTPSConnection("x.invalid")
c.request("POST", "/token", body="{}", headers={"Authorization": "Basic x"})
r = c.getresponse()
print(json.dumps([r.status, r.getheader("Content-Type"), r.read().decode()]))
c.request("POST", "/graphql", body=b'{"query": "{ products(first: 9) { id } }"}')
r = c.getresponse()
print(json.dumps([r.status, r.getheader("Content-Type"), r.read().decode()]))
"#;
        let (lines, _) = run_python(
            Path::new("python3"),
            &["-S"],
            dir.path(),
            script,
            &responses,
        );
        let [answers, token, graphql] = &lines[..] else {
            panic!("three lines expected: {lines:?}")
        };
        let json = json!({"Content-Type": "application/json"});
        assert_eq!(
            *answers,
            json!([
                [200, json, r#"{"access_token": "t"}"#],
                [405, json, r#"{"data": []}"#],
                [429, {"Content-Type": "application/json", "Retry-After": "0"}, r#"{"data": []}"#],
                [200, json, r#"{"status": "done"}"#],
                [200, json, r#"{"status": "done"}"#],
                [200, {"Content-Type": "text/csv"}, "id\n1\n"],
                [200, json, r#"{"data": []}"#],
                [200, json, r#"{"data": {"products": {"nodes": []}}}"#],
                [200, json, r#"{"data": []}"#],
            ])
        );
        assert_eq!(
            *token,
            json!([200, "application/json", r#"{"access_token": "t"}"#])
        );
        assert_eq!(
            *graphql,
            json!([
                200,
                "application/json",
                r#"{"data": {"products": {"nodes": []}}}"#
            ])
        );
    }

    /// Runs `script` with `python` (and `args`), `dir` (holding the `sitecustomize.py`)
    /// first on its path, answering from `responses`: the JSON lines it printed, and those
    /// of its request log.
    fn run_python(
        python: &Path,
        args: &[&str],
        dir: &Path,
        script: &str,
        responses: &Value,
    ) -> (Vec<Value>, Vec<Value>) {
        let log = dir.join("requests.jsonl");
        let output = Command::new(python)
            .args(args)
            .args(["-c", script])
            .env("PYTHONPATH", dir)
            .env("CUTOVER_RESPONSES", responses.to_string())
            .env("CUTOVER_EMPTY_PAGE", r#"{"data": []}"#)
            .env("CUTOVER_REQUEST_LOG", &log)
            .output()
            .expect("python3 runs (the connectors need it)");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let json_lines = |text: &str| -> Vec<Value> {
            text.lines()
                .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
                .collect()
        };
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        (
            json_lines(&String::from_utf8_lossy(&output.stdout)),
            json_lines(&logged),
        )
    }

    /// The gRPC channel, with stand-ins for `grpc` and protobuf's `json_format` (plain
    /// Python has neither): calls are matched by method path and serialized request, a
    /// recorded body is read into the response type (a list: a stream of them), and the
    /// rest get the empty message or the empty stream, through every way gRPC's callables
    /// are called. The real modules are [`google_ads_calls_are_answered_offline`]'s.
    #[test]
    fn grpc_calls_are_answered_by_method_path() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sitecustomize.py"), SITECUSTOMIZE).unwrap();
        std::fs::write(
            dir.path().join("grpc.py"),
            "class Channel: pass\nclass Call: pass\nclass Future: pass\n\
             class StatusCode:\n    OK = 'OK'\n\
             def secure_channel(*a, **k): raise OSError('the network')\n\
             insecure_channel = secure_channel\n",
        )
        .unwrap();
        let protobuf = dir.path().join("google").join("protobuf");
        std::fs::create_dir_all(&protobuf).unwrap();
        std::fs::write(dir.path().join("google").join("__init__.py"), "").unwrap();
        std::fs::write(protobuf.join("__init__.py"), "").unwrap();
        std::fs::write(
            protobuf.join("json_format.py"),
            "def ParseDict(js, message):\n    message.update(js)\n",
        )
        .unwrap();
        let responses = json!({"note": "n", "responses": [
            {"url": "/token", "body": {"access_token": "t"}},
            {"url": "Service/Search", "body_contains": "FROM customer", "body": {"id": 1}},
            {"url": "Service/Stream", "body": [{"page": 1}, {"page": 2}]}]});
        let script = r#"
import json, grpc, sitecustomize
class Message(dict):
    def SerializeToString(self):
        return json.dumps(self, sort_keys=True).encode()
def parse(data):
    return Message(json.loads(data or b"{}"))
channel = grpc.secure_channel("googleads.googleapis.com:443", object())
search = channel.unary_unary("/v1.Service/Search", request_serializer=str.encode, response_deserializer=parse)
stream = channel.unary_stream("/v1.Service/Stream", request_serializer=str.encode, response_deserializer=parse)
other = channel.unary_stream("/v1.Service/Other", request_serializer=str.encode, response_deserializer=parse)
response, call = search.with_call("SELECT customer.id FROM customer")
print(json.dumps([
    search("SELECT customer.id FROM customer"), response, call.code(), list(call.trailing_metadata()),
    search.future("SELECT campaign.id FROM campaign").result(),
    list(stream("SELECT 1")), list(other("SELECT 1")),
    isinstance(channel, grpc.Channel)]))
try:
    channel.unary_unary("/v1.Service/Stream", response_deserializer=parse)("x")
    print(json.dumps("a list answered a unary call"))
except ValueError as e:
    print(json.dumps("refused"))
"#;
        let (lines, log) = run_python(
            Path::new("python3"),
            &["-S"],
            dir.path(),
            script,
            &responses,
        );
        assert_eq!(
            lines,
            vec![
                json!([{"id": 1}, {"id": 1}, "OK", [], {}, [{"page": 1}, {"page": 2}], [], true]),
                json!("refused")
            ]
        );
        assert_eq!(log.len(), 6, "{log:?}");
        assert_eq!(
            log[0],
            json!({"method": "POST", "url": "/v1.Service/Search", "status": 200})
        );
    }

    /// google-ads' own client (its interceptors, its proto-plus messages, api_core's
    /// wrappers) through the channel, in a google-ads venv if one was installed beside
    /// this build (`<target>/connectors`, or `$CUTOVER_VENVS`); without one there is
    /// nothing to run it with, and the test says so.
    #[test]
    fn google_ads_calls_are_answered_offline() {
        let Some(python) = google_ads_python() else {
            eprintln!("no google-ads venv found: the real gRPC client is not exercised");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sitecustomize.py"), SITECUSTOMIZE).unwrap();
        let responses = json!({"note": "n", "responses": [
            {"url": "GoogleAdsService/Search", "body_contains": "FROM customer",
             "body": {"results": [{"customer": {"id": "42", "manager": false, "time_zone": "Europe/Paris"}}]}},
            {"url": "GoogleAdsService/SearchStream",
             "body": [{"results": [{"campaign": {"id": "7"}}]}, {"results": [{"campaign": {"id": "8"}}]}]}]});
        let script = r#"
import json
from google.auth.credentials import AnonymousCredentials
from google.ads.googleads.client import GoogleAdsClient
client = GoogleAdsClient(credentials=AnonymousCredentials(), developer_token="d", use_proto_plus=True)
service = client.get_service("GoogleAdsService")
def search(query):
    request = client.get_type("SearchGoogleAdsRequest")
    request.query, request.customer_id = query, "42"
    return list(service.search(request))
stream = client.get_type("SearchGoogleAdsStreamRequest")
stream.query, stream.customer_id = "SELECT campaign.id FROM campaign", "42"
fields = client.get_type("SearchGoogleAdsFieldsRequest")
fields.query = "SELECT name WHERE name = 'campaign.id'"
print(json.dumps([
    [[r.customer.id, r.customer.manager, r.customer.time_zone] for r in search("SELECT customer.id FROM customer")],
    len(search("SELECT campaign.id FROM campaign")),
    [r.campaign.id for batch in service.search_stream(stream) for r in batch.results],
    len(list(client.get_service("GoogleAdsFieldService").search_google_ads_fields(request=fields)))]))
"#;
        let (lines, log) = run_python(&python, &[], dir.path(), script, &responses);
        assert_eq!(
            lines,
            vec![json!([[[42, false, "Europe/Paris"]], 0, [7, 8], 0])]
        );
        assert_eq!(log.len(), 4, "{log:?}");
        assert!(
            log[0]["url"]
                .as_str()
                .unwrap()
                .ends_with("services.GoogleAdsService/Search"),
            "{log:?}"
        );
    }

    /// The `httpx` transports, with a stand-in `httpx` (plain Python has none): a sync
    /// and an async request are answered by URL, method and body, as `requests`' are, and
    /// noted. The real module is [`httpx_clients_are_answered_offline`]'s.
    #[test]
    fn httpx_requests_are_answered_sync_and_async() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sitecustomize.py"), SITECUSTOMIZE).unwrap();
        std::fs::write(
            dir.path().join("httpx.py"),
            "class Request:\n\
             \x20   def __init__(self, method, url, content=b''):\n\
             \x20       self.method, self.url, self._content = method, url, content\n\
             \x20   def read(self):\n        return self._content\n\
             \x20   async def aread(self):\n        return self._content\n\
             class Response:\n\
             \x20   def __init__(self, status_code, headers=None, content=b'', request=None):\n\
             \x20       self.status_code, self.headers, self.content, self.request = status_code, headers, content, request\n\
             class HTTPTransport:\n\
             \x20   def handle_request(self, request):\n        raise OSError('the network')\n\
             class AsyncHTTPTransport:\n\
             \x20   async def handle_async_request(self, request):\n        raise OSError('the network')\n",
        )
        .unwrap();
        let script = r#"
import asyncio, json, httpx, sitecustomize
def shown(r):
    return [r.status_code, r.headers["Content-Type"], r.content.decode(), r.request.url]
login = httpx.HTTPTransport().handle_request(httpx.Request("POST", "https://api.x/auth/v1/login", b'{"username": "u"}'))
async def queries():
    transport = httpx.AsyncHTTPTransport()
    return [await transport.handle_async_request(httpx.Request("POST", "https://engine.x/?database=d", body))
            for body in [b"SELECT * FROM information_schema.columns", b"SELECT 1"]]
print(json.dumps([shown(r) for r in [login] + asyncio.run(queries())]))
"#;
        let (lines, log) = run_python(
            Path::new("python3"),
            &["-S"],
            dir.path(),
            script,
            &firebolt_like_responses(),
        );
        assert_eq!(
            lines,
            vec![json!([
                [
                    200,
                    "application/json",
                    r#"{"access_token": "t"}"#,
                    "https://api.x/auth/v1/login"
                ],
                [
                    200,
                    "application/json",
                    r#"{"rows": 1}"#,
                    "https://engine.x/?database=d"
                ],
                [
                    200,
                    "application/json",
                    r#"{"data": []}"#,
                    "https://engine.x/?database=d"
                ]
            ])]
        );
        assert_eq!(
            log,
            vec![
                json!({"method": "POST", "url": "https://api.x/auth/v1/login", "status": 200}),
                json!({"method": "POST", "url": "https://engine.x/?database=d", "status": 200}),
                json!({"method": "POST", "url": "https://engine.x/?database=d", "status": 200}),
            ]
        );
    }

    /// A login, and two queries told apart by their body at one URL.
    fn firebolt_like_responses() -> Value {
        json!({"note": "n", "responses": [
            {"url": "/auth/v1/login", "method": "POST", "body": {"access_token": "t"}},
            {"url": "engine.x/", "body_contains": "information_schema.columns", "body": {"rows": 1}}]})
    }

    /// The real `httpx` (its `Client` and `AsyncClient`, their URL joining, query params and
    /// content encoding) through the transports, in a connector venv that has it installed
    /// beside this build; without one there is nothing to run it with, and the test says so.
    #[test]
    fn httpx_clients_are_answered_offline() {
        let Some(python) = httpx_python() else {
            eprintln!("no connector venv with httpx found: the real httpx is not exercised");
            return;
        };
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sitecustomize.py"), SITECUSTOMIZE).unwrap();
        let script = r#"
import asyncio, json, httpx
with httpx.Client(base_url="https://api.x") as client:
    login = client.post("/auth/v1/login", json={"username": "u"})
async def query(body):
    async with httpx.AsyncClient() as client:
        return await client.post("https://engine.x/", params={"database": "d"}, content=body)
answers = [login] + [asyncio.run(query(b)) for b in ["SELECT * FROM information_schema.columns", "SELECT 1"]]
print(json.dumps([[r.status_code, r.json(), str(r.request.url)] for r in answers]))
"#;
        let (lines, log) = run_python(&python, &[], dir.path(), script, &firebolt_like_responses());
        assert_eq!(
            lines,
            vec![json!([
                [200, {"access_token": "t"}, "https://api.x/auth/v1/login"],
                [200, {"rows": 1}, "https://engine.x/?database=d"],
                [200, {"data": []}, "https://engine.x/?database=d"]
            ])]
        );
        assert_eq!(log.len(), 3, "{log:?}");
    }

    /// The interpreter of a google-ads venv, if this build's connectors hold one.
    fn google_ads_python() -> Option<PathBuf> {
        connector_python(|venv| {
            venv.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("google-ads-"))
        })
    }

    /// The interpreter of a connector venv with `httpx` installed (firebolt's), if this
    /// build's connectors hold one.
    fn httpx_python() -> Option<PathBuf> {
        connector_python(|venv| {
            std::fs::read_dir(venv.join("lib"))
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok())
                .any(|python| python.path().join("site-packages/httpx").is_dir())
        })
    }

    /// The interpreter of the last (by name) fully installed venv among this build's
    /// connectors (`<target>/connectors`, or `$CUTOVER_VENVS`) that `wanted` accepts.
    fn connector_python(wanted: impl Fn(&Path) -> bool) -> Option<PathBuf> {
        let venvs = match std::env::var_os("CUTOVER_VENVS") {
            Some(venvs) => PathBuf::from(venvs),
            // The test runs as <target>/debug/deps/<test>: the venvs are <target>/connectors.
            None => std::env::current_exe()
                .ok()?
                .ancestors()
                .nth(3)?
                .join("connectors"),
        };
        let mut found: Vec<PathBuf> = std::fs::read_dir(venvs)
            .ok()?
            .filter_map(|e| e.ok())
            // A half-built venv (still installing, or failed) has no mark.
            .filter(|e| e.path().join(crate::author::connector::INSTALLED).is_file())
            .filter(|e| wanted(&e.path()))
            .map(|e| e.path().join("bin").join("python"))
            .collect();
        found.sort();
        found.pop()
    }
}
