//! Any bytes as a connection document: parsing never panics, and a document cutover
//! accepts survives its own write and re-read unchanged.
#![no_main]

use cutover::connection::Connection;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(connection) = Connection::parse(data) else { return };
    let written = connection.to_bytes();
    let again = Connection::parse(&written).expect("cutover reads what it writes");
    assert_eq!(again.id, connection.id);
    assert_eq!(again.version, connection.version);
    assert_eq!(again.pin, connection.pin);
    assert_eq!(again.to_bytes(), written, "writing is stable");
});
