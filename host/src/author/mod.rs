//! The plugin author's toolkit: everything `cutover plugin new|test|guide|import-metadata`
//! does, as a library.
//!
//! An author starts from the connector's own breaking-change entry ([`metadata`]), scaffolds
//! a crate ([`scaffold`]; an Elastic connector's from [`elastic_template`]), pins its behaviour down in golden fixtures checked through the
//! real sandbox ([`golden`]), and publishes a guide rendered from the plugin itself
//! ([`guide`]). [`package`] finds and builds the plugin: a crate with cargo, or a Python
//! project with componentize-py ([`python`]). A breaking version made from data
//! ([`generated`]) has no code: its table is joined to the generic engine, compiled once
//! ([`join`]). [`import`] makes such a version from the connector's metadata and its real
//! packages ([`connector`]), [`verify`] checks it with the real new connector, and
//! [`catalogue`] writes CATALOGUE.md.

pub mod catalogue;
pub mod connector;
pub mod declarative;
pub mod elastic_template;
pub mod generated;
pub mod golden;
pub mod guide;
pub mod history;
pub mod import;
pub mod join;
pub mod metadata;
pub mod offline;
pub mod package;
pub mod python;
pub mod scaffold;
pub mod source_tree;
pub mod spec_config;
pub mod verify;
