//! What a plugin says about the breaking change it migrates, in the host's own terms,
//! independent of the contract version the plugin was built against: the contract's plain
//! types, which the SDK shares (`cutover-contract`), with the rules a usable manifest
//! follows ([`Manifest::check`]).

pub use cutover_contract::{Checked, DeadlineAction, InvalidManifest, Manifest, Precondition};
