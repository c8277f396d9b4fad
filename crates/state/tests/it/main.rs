//! certplan-state's integration tests: one binary, so the suite links once.
//!
//! The pg backend's tests run against the real PostgreSQL (`CERTPLAN_TEST_PG`, by default
//! `postgres://postgres@127.0.0.1:5432/test`), each in a schema of its own that it drops at
//! the end; they fail, never skip, when the server is not reachable.

mod pg;
