//! Doubles of the platforms cutover reads connections from and writes them to, for tests
//! and benchmarks that cannot run the platform itself.
//!
//! A double is faithful, not convenient: it speaks real HTTP on 127.0.0.1 ([`http`]), checks
//! every request and response against the platform's published API spec ([`openapi`]), and
//! reproduces the server behaviour the platform documents, refusals and failures included.
//! Each platform has its own module ([`airbyte`], [`elastic`]); the HTTP layer and the spec
//! checks are shared ([`openapi`] reads OpenAPI documents; Elasticsearch publishes its own
//! REST API spec format, which [`elastic`] reads).

pub mod airbyte;
pub mod elastic;
pub mod http;
pub mod openapi;
