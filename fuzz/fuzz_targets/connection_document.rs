//! Any bytes as a connection document: parsing never panics, and a document cutover
//! accepts survives its own write and re-read unchanged: an Airbyte connection as it is, an
//! Elastic connector as a migration writes it (its jobs emptied, the rest kept).
#![no_main]

use cutover::connection::Connection;
use cutover::document::Document;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(Document::Elastic(connector)) = Document::parse(data) {
        let written = connector.migrated_bytes(&connector.plugin_document());
        let Ok(Document::Elastic(again)) = Document::parse(&written) else {
            panic!("cutover reads the connector it writes")
        };
        assert_eq!(
            (&again.id, &again.service_type),
            (&connector.id, &connector.service_type)
        );
        assert_eq!(again.configuration(), connector.configuration());
        assert!(
            again.jobs.is_empty(),
            "a migrated connector lists no jobs: apply cancels them"
        );
        assert_eq!(
            again.migrated_bytes(&again.plugin_document()),
            written,
            "writing is stable"
        );
        return;
    }
    let Ok(connection) = Connection::parse(data) else {
        return;
    };
    let written = connection.to_bytes();
    let again = Connection::parse(&written).expect("cutover reads what it writes");
    assert_eq!(again.id, connection.id);
    assert_eq!(again.version, connection.version);
    assert_eq!(again.pin, connection.pin);
    assert_eq!(again.to_bytes(), written, "writing is stable");
});
