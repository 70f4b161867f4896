//! What answers a connector's HTTP requests when it runs offline: the `sitecustomize.py`
//! that replaces the transport in the connector's own process, and the recorded responses
//! (`responses.json`) it answers from. The format is described in [`super::connector`].
//!
//! The answer is chosen in Python (the connector's process), so the Rust side only checks
//! a `responses.json` is well formed before any connector sees it: a typo in a field
//! would otherwise answer nothing and leave a verification failing for a wrong reason.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

/// `sitecustomize.py` for the connector's interpreter: no request reaches the network.
///
/// `_answer` is plain Python (no `requests`) so that it can be tested with any interpreter;
/// the transports below only turn its answer into their own response object.
pub const SITECUSTOMIZE: &str = r#"
import json, os

_options = json.loads(os.environ.get("CUTOVER_RESPONSES") or "{}")
_recorded = _options.get("responses", [])

if _options.get("no_waiting"):
    # A report the connector polls for, or a rate limit it keeps, has nothing to wait for
    # when every answer is recorded: its sleeps return at once.
    import time
    time.sleep = lambda seconds=0: None
# How many times each recorded entry with a `sequence` has answered, by its index.
_turns = {}

def _answer(method, url, body=None):
    """(status, headers, body bytes) for a request: the first recorded entry whose `url`
    is part of the URL (and whose `method` and `body_contains`, if it has them, match the
    request's), else the empty page."""
    empty = os.environ.get("CUTOVER_EMPTY_PAGE", "{}")
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    elif not isinstance(body, str):
        body = ""  # none, or streamed from a file or generator: not looked into
    for index, entry in enumerate(_recorded):
        if entry.get("url", "\0") not in url:
            continue
        if entry.get("method") and entry["method"].upper() != method.upper():
            continue
        if "body_contains" in entry and entry["body_contains"] not in body:
            continue
        answer = entry
        if "sequence" in entry:
            turn = _turns.get(index, 0)
            _turns[index] = turn + 1
            answer = entry["sequence"][min(turn, len(entry["sequence"]) - 1)]
        headers = {"Content-Type": "application/json"}
        headers.update(answer.get("headers") or {})
        if "text" in answer:
            body = answer["text"]
        elif "body" in answer:
            body = json.dumps(answer["body"])
        else:
            body = empty
        return int(answer.get("status", 200)), headers, body.encode()
    return 200, {"Content-Type": "application/json"}, empty.encode()

def _log(method, url, status):
    log = os.environ.get("CUTOVER_REQUEST_LOG")
    if log:
        with open(log, "a") as f:
            f.write(json.dumps({"method": method, "url": url, "status": status}) + "\n")

import http, http.client, io

def _phrase(status):
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""

# Clients that speak `http.client` themselves (recurly's): the request is noted instead of
# sent, and the answer read back through `http.client`'s own response parser.
class _Socket:
    def __init__(self, data):
        self._data = data

    def makefile(self, mode, *args, **kwargs):
        return io.BytesIO(self._data)

def _putrequest(self, method, url, *args, **kwargs):
    if "://" not in url:
        scheme = "https" if isinstance(self, http.client.HTTPSConnection) else "http"
        url = "%s://%s%s" % (scheme, self.host, url)
    self._cutover_request = (method, url, b"")

def _send(self, data):
    if isinstance(data, str):
        data = data.encode("latin-1")
    if isinstance(data, bytes):
        method, url, body = self._cutover_request
        self._cutover_request = (method, url, body + data)

def _endheaders(self, message_body=None, **kwargs):
    if message_body is not None:
        _send(self, message_body)

def _getresponse(self):
    method, url, sent = self._cutover_request
    status, headers, body = _answer(method, url, sent)
    _log(method, url, status)
    head = "HTTP/1.1 %d %s\r\n" % (status, _phrase(status))
    for name, value in headers.items():
        head += "%s: %s\r\n" % (name, value)
    head += "Content-Length: %d\r\n\r\n" % len(body)
    response = self.response_class(_Socket(head.encode("latin-1") + body), method=method)
    response.begin()
    return response

http.client.HTTPConnection.connect = lambda self: None
http.client.HTTPConnection.putrequest = _putrequest
http.client.HTTPConnection.putheader = lambda self, header, *values: None
http.client.HTTPConnection.endheaders = _endheaders
http.client.HTTPConnection.send = _send
http.client.HTTPConnection.getresponse = _getresponse

try:
    import requests, requests.adapters
    from requests.models import Response
    from requests.structures import CaseInsensitiveDict

    def _adapter_send(self, request, **kwargs):
        status, headers, body = _answer(request.method, request.url, request.body)
        _log(request.method, request.url, status)
        r = Response()
        r.status_code = status
        r.reason = _phrase(status)
        r._content = body
        r.headers = CaseInsensitiveDict(headers)
        r.url = request.url
        r.request = request
        r.encoding = "utf-8"
        r.connection = self
        try:
            import urllib3
            r.raw = urllib3.HTTPResponse(body=io.BytesIO(body), status=status, preload_content=False,
                                         request_url=request.url, headers=headers)
        except Exception:
            pass
        return r

    requests.adapters.HTTPAdapter.send = _adapter_send
except ImportError:
    pass
"#;

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
    "sequence",
    "status",
    "headers",
    "body",
    "text",
];
const ANSWER_FIELDS: &[&str] = &["status", "headers", "body", "text"];

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
    use std::process::Command;

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
        ] {
            assert!(Recorded::parse(text).is_err(), "{why} was accepted");
        }
    }

    /// A connector's sleeps return at once only where the file says why, and its results
    /// say so too.
    #[test]
    fn waits_return_at_once_only_where_the_file_says_why() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("sitecustomize.py"), SITECUSTOMIZE).unwrap();
        let slept = |responses: &Value| {
            let output = Command::new("python3")
                .args([
                    "-S",
                    "-c",
                    "import sitecustomize, time; t = time.monotonic(); time.sleep(2); print(time.monotonic() - t)",
                ])
                .env("PYTHONPATH", dir.path())
                .env("CUTOVER_RESPONSES", responses.to_string())
                .output()
                .expect("python3 runs (the connectors need it)");
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8_lossy(&output.stdout)
                .trim()
                .parse::<f64>()
                .unwrap()
        };
        let waiting = json!({"note": "n", "responses": []});
        assert!(
            slept(&waiting) >= 2.0,
            "a connector sleeps as it would by default"
        );
        let text =
            r#"{"note": "n", "no_waiting": "reports are polled every 30 s", "responses": []}"#;
        let recorded = Recorded::parse(text).unwrap();
        assert!(slept(&serde_json::to_value(&recorded).unwrap()) < 1.0);
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
        let output = Command::new("python3")
            .args(["-S", "-c", script])
            .env("PYTHONPATH", dir.path())
            .env("CUTOVER_RESPONSES", responses.to_string())
            .env("CUTOVER_EMPTY_PAGE", r#"{"data": []}"#)
            .output()
            .expect("python3 runs (the connectors need it)");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let lines: Vec<Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let [answers, token, graphql] = &lines[..] else {
            panic!("three lines expected: {stdout}")
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
}
