//! Any text as a plugin's returned documents (config, catalog and state separated by NUL
//! bytes): the host's checks never panic, and output they accept always makes a connection
//! document the next run can read; its conformance checks and redaction never panic, and
//! the text made inert for a terminal holds no control character.
#![no_main]

use cutover::connection::Connection;
use cutover::migration::Outcome;
use cutover::plan::Changes;
use libfuzzer_sys::fuzz_target;

const BASE: &str = r#"{"id":"c","connector":"airbyte/source-x","version":"1.0.0","pin":null,
  "config":{"a":1},"catalog":{"streams":[]},"state":[]}"#;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.splitn(3, '\0');
    let outcome = Outcome {
        config: parts.next().unwrap_or_default().to_owned(),
        catalog: parts.next().unwrap_or_default().to_owned(),
        state: parts.next().unwrap_or_default().to_owned(),
        actions: Vec::new(),
        notes: Vec::new(),
    };
    let shown = cutover::terminal::line(&text);
    assert!(
        !shown.chars().any(char::is_control),
        "inert text holds no control character"
    );
    let Ok((config, catalog, state)) = cutover::plan::read_outcome(&outcome) else {
        return;
    };
    let base = Connection::parse(BASE.as_bytes()).unwrap();
    let before = cutover::conformance::Documents {
        catalog: base.catalog(),
        state: &base.state(),
    };
    let _ = cutover::conformance::problems(
        &before,
        &cutover::conformance::Documents {
            catalog: &catalog,
            state: &state,
        },
        None,
    );
    let mut changes = Changes::between(&base, &config, &catalog, &state);
    let mut secrets = cutover::redact::Secrets::new();
    secrets.learn_config(base.config());
    secrets.learn_config(&config);
    secrets.redact_config_patch(&mut changes.config, base.config());
    secrets.redact_patch(&mut changes.state);
    let next = base.migrated(&semver::Version::new(2, 0, 0), config, catalog, state);
    Connection::parse(&next.to_bytes()).expect("accepted output makes a readable document");
});
