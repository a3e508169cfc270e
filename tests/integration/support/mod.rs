//! Test support: a builder that runs `followup` in a fresh temp dir
//! (`Test`), and a local HTTP server (`server`).
pub mod server;
pub mod tls;
