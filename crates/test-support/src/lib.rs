//! What the crates' tests share, written once: a sandbox served on loopback with a client for
//! it ([`LocalSandbox`]); PostgreSQL — its URL, a connection that says clearly when the server
//! is not there, and a schema of the test's own ([`pg`]); Let's Encrypt's test CA, Pebble, with
//! its DNS server ([`pebble`]); headless Chromium, to open a page as a person would
//! ([`browser`]); and the [`contract`] every state backend keeps. Only tests depend on it.

pub mod browser;
pub mod contract;
pub mod pebble;
pub mod pg;
mod sandbox;

pub use sandbox::{LocalSandbox, test_client_options};
