//! The ground floor: facts every layer above may use and that know nothing of connectors,
//! plans or stores. Content digests, files replaced atomically ([`atomic`]), crash-test
//! hooks ([`mod@failpoint`]), the clock and the actor of a run ([`clock`]), and the batch size
//! the write path and the stores share.

pub mod atomic;
pub mod clock;
pub mod failpoint;

pub use atomic::write_atomic;
pub use clock::{actor, now, worker};
pub use failpoint::failpoint;

use sha2::{Digest, Sha256};

/// The sha256 of some bytes, as lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// How many connections are written per batch: their intents share one ledger commit and
/// their documents one flush. Large enough to amortize the flushes, small enough that an
/// interrupted run leaves little to settle and a batch's snapshots stay in memory briefly.
pub const BATCH: usize = 256;
