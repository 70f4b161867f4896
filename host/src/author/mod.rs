//! The plugin author's toolkit: everything `cutover plugin new|test|guide|import-metadata`
//! does, as a library.
//!
//! An author starts from the connector's own breaking-change entry ([`metadata`]), scaffolds
//! a crate ([`scaffold`]; an Elastic connector's from [`elastic_template`]), pins its behaviour down in golden fixtures checked through the
//! real sandbox ([`golden`]), and publishes a guide rendered from the plugin itself
//! ([`guide`]). [`package`] finds and builds the plugin: a crate with cargo, or a Python
//! project with componentize-py ([`python`]).

pub mod elastic_template;
pub mod golden;
pub mod guide;
pub mod metadata;
pub mod package;
pub mod python;
pub mod scaffold;
