//! [`PgStore`]: state in PostgreSQL, Terraform's `pg` backend made granular — one row per
//! workspace, per resource instance, per deposed certificate and per open intent, in a schema
//! several workspaces share without seeing each other's rows.
//!
//! It owns the store's contract on a database: a save is one transaction that checks and
//! advances the serial (compare-and-set) and writes only what changed; the lock is a
//! session-level advisory lock that dies with its holder, known to `force_unlock` by its id
//! (the holder's backend pid); nothing waits forever — the start-up has a deadline, and the
//! session's `lock_timeout` and `statement_timeout` ([`PgTimeouts`]) bound every statement
//! after it. The connection string is parsed in `conninfo` (which keeps the password out of
//! every message), the session lives on its own thread in `session`, TLS is `tls`'s, the
//! tables `schema`'s, what a save changes `diff`'s, the transactions on the rows `rows`', the
//! lock `lock`'s. The CLI resolves `PG_CONN_STR`
//! and `PG_SCHEMA_NAME`; this crate reads no environment but what it is handed. It is a crate
//! of its own so that what reads state without IO (the planner) never links a database client.

mod conninfo;
mod diff;
mod lock;
mod rows;
mod schema;
mod session;
mod tls;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use certplan_core::{Address, Sensitive};

use certplan_state::{LockInfo, State, StateError, StateLock, StateStore};
use diff::{RowDiff, Seen};
use lock::{Attempt, Forced, Locker};
use rows::{Pushed, Saved};
use schema::{SchemaFailure, Sql};
use session::{Failure, Names, Phase, Session};

/// Where a [`PgStore`] keeps state: Terraform's `pg` backend settings, and the workspace.
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// A libpq URL (`postgres://user@host:port/db?sslmode=require`) or `key=value` string.
    /// A password in it is a secret: it is never shown.
    pub conn_str: Sensitive,
    /// The schema holding certplan's tables, created on first use.
    pub schema_name: String,
    pub workspace: String,
}

/// How long certplan's session lets a statement wait, so that no command hangs on a database
/// that answers no more. The workspace lock is not bound by these: it is polled with a
/// try-lock, and waited for only as long as `lock`'s timeout says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgTimeouts {
    /// The session's `lock_timeout`: how long a statement waits for row locks another session
    /// holds — a save, for the workspace row an open transaction elsewhere keeps locked —
    /// before it fails. 30 s by default.
    pub lock: Duration,
    /// The session's `statement_timeout`: how long any one statement may take. 120 s by
    /// default: a push of 50 000 resources takes seconds.
    pub statement: Duration,
}

impl Default for PgTimeouts {
    fn default() -> Self {
        PgTimeouts { lock: Duration::from_secs(30), statement: Duration::from_secs(120) }
    }
}

/// State in PostgreSQL, for one workspace of one schema.
pub struct PgStore {
    names: Names,
    workspace: String,
    session: Session,
    sql: Arc<Sql>,
    locker: Locker,
    /// What this store last loaded or saved; `None` before either, when a save expects to
    /// find no state.
    seen: Option<Seen>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore").field("store", &self.names.store).finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects to the database `config` names and makes its schema ready (created, or
    /// migrated forward), with the default [`PgTimeouts`]. `env` looks up environment
    /// variables — `PGPASSWORD`, `PGPASSFILE`, `HOME`, `USER` — when the connection string has
    /// no password or user.
    pub fn connect(
        config: PgConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<PgStore, StateError> {
        PgStore::connect_with_timeouts(config, env, PgTimeouts::default())
    }

    /// [`connect`](PgStore::connect), the session's statements bounded by `timeouts`.
    ///
    /// The whole start-up — TCP, TLS, authentication and the schema check — must end within
    /// the connection string's `connect_timeout`, else 10 s: a server that accepts the
    /// connection and never answers fails it, naming the address, rather than hanging.
    pub fn connect_with_timeouts(
        config: PgConfig,
        env: &dyn Fn(&str) -> Option<String>,
        timeouts: PgTimeouts,
    ) -> Result<PgStore, StateError> {
        let invalid = |store: String, cause: String| StateError::Backend {
            store,
            cause,
            hint: "Check conn_str / PG_CONN_STR and schema_name / PG_SCHEMA_NAME".to_owned(),
        };
        let info = conninfo::parse(config.conn_str.expose(), env)
            .map_err(|cause| invalid("pg backend".to_owned(), cause))?;
        let names = Names {
            store: format!(
                "pg backend {} (schema {:?}, workspace {:?})",
                info.public, config.schema_name, config.workspace
            ),
            address: info.address.clone(),
            schema: config.schema_name.clone(),
            password_source: info.password_source,
            timeouts,
        };
        schema::valid_schema_name(&config.schema_name)
            .map_err(|cause| invalid(names.store.clone(), cause))?;
        certplan_state::valid_workspace_name(&config.workspace).map_err(|why| {
            invalid(names.store.clone(), format!("invalid workspace name: {why}"))
        })?;
        let started = Instant::now();
        let deadline = started + info.startup_timeout;
        let session = Session::open(info, timeouts, deadline)
            .map_err(|f| session::backend_error(&names, Phase::Connect, f))?;
        make_ready(&session, &names, started, deadline)?;
        let sql = Arc::new(Sql::new(&config.schema_name));
        let locker = Locker {
            session: session.clone(),
            sql: sql.clone(),
            workspace: config.workspace.clone(),
            key: lock::lock_key(&config.schema_name, &config.workspace),
            held: Arc::new(AtomicBool::new(false)),
        };
        Ok(PgStore { names, workspace: config.workspace, session, sql, locker, seen: None })
    }

    /// Returns the PostgreSQL session (backend process id) this store works on.
    pub fn backend_pid(&self) -> i32 {
        self.session.backend_pid
    }

    /// Saves `state` as [`StateStore::save`] and [`StateStore::save_touched`] do.
    fn save_with(
        &mut self,
        state: &mut State,
        touched: Option<&BTreeSet<Address>>,
    ) -> Result<(), StateError> {
        let seen = self.seen.get_or_insert_with(Seen::default);
        let expected = seen.version.clone();
        let serial = state.serial.max(expected.as_ref().map_or(0, |(_, s)| *s)) + 1;
        state.certplan_version = env!("CARGO_PKG_VERSION").to_owned();
        let (write, change) = RowDiff::save(&self.workspace, seen, state, serial, touched).split();
        let sql = self.sql.clone();
        let outcome = self
            .session
            .run(move |conn| rows::save(conn, &sql, &write))
            .map_err(|f| self.failed(f))?;
        match outcome {
            Saved::Committed => {
                change.committed(self.seen.get_or_insert_with(Seen::default), serial);
                state.serial = serial;
                Ok(())
            }
            Saved::Conflict { found } => Err(StateError::Conflict {
                store: self.describe(),
                expected: describe_version(expected.as_ref().map(|(l, s)| (l.as_str(), *s))),
                found: describe_version(found.as_ref().map(|(l, s)| (l.as_str(), *s as u64))),
            }),
        }
    }

    fn failed(&self, failure: Failure) -> StateError {
        session::backend_error(&self.names, Phase::Command, failure)
    }
}

/// Makes the schema ready on `session` by `deadline` (the start-up's, begun at `started`):
/// created, migrated, or refused when newer.
fn make_ready(
    session: &Session,
    names: &Names,
    started: Instant,
    deadline: Instant,
) -> Result<(), StateError> {
    let (schema_name, key) = (names.schema.clone(), lock::schema_key(&names.schema));
    let ensure = move |conn: &mut session::Conn| Ok(schema::ensure(conn, &schema_name, key));
    let failure = match session.run_until(started, deadline, ensure) {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(SchemaFailure::TooNew(version))) => {
            return Err(StateError::Backend {
                store: names.store.clone(),
                cause: format!(
                    "schema {:?} has version {version}, made by a newer certplan (this one knows up to {})",
                    names.schema,
                    schema::SCHEMA_VERSION
                ),
                hint: "Upgrade certplan; this one leaves the schema untouched".to_owned(),
            });
        }
        Ok(Err(SchemaFailure::Db(e))) => Failure::Db(e),
        Err(failure) => failure,
    };
    Err(session::backend_error(names, Phase::Command, failure))
}

/// What to do when this user may not end the lock holder's session.
const TERMINATE_HINT: &str = "Only a superuser, a member of the holder's role or of pg_signal_backend may end \
                              another session; ask one to, or wait for the holder to finish";

/// Names a stored version in a conflict message.
fn describe_version(version: Option<(&str, u64)>) -> String {
    match version {
        Some((lineage, serial)) => format!("lineage {lineage} serial {serial}"),
        None => "no state".to_owned(),
    }
}

impl StateStore for PgStore {
    fn describe(&self) -> String {
        self.names.store.clone()
    }

    fn lock(&self, operation: &str, timeout: Duration) -> Result<StateLock, StateError> {
        match self.locker.acquire(operation, timeout).map_err(|f| self.failed(f))? {
            Attempt::Taken(lock) => Ok(lock),
            Attempt::Held(holder) => {
                Err(StateError::Locked { store: self.describe(), holder: holder.map(Box::new) })
            }
        }
    }

    fn load(&mut self) -> Result<Option<State>, StateError> {
        let (sql, workspace) = (self.sql.clone(), self.workspace.clone());
        let raw = self
            .session
            .run(move |conn| rows::read(conn, &sql, &workspace))
            .map_err(|f| self.failed(f))?;
        let Some(raw) = raw else {
            self.seen = Some(Seen::default());
            return Ok(None);
        };
        let (state, seen) = rows::decode(raw).map_err(|cause| StateError::Backend {
            store: self.describe(),
            cause,
            hint: String::new(),
        })?;
        self.seen = Some(seen);
        Ok(Some(state))
    }

    /// Saves `state` as the serial after both its own and the stored one. Before any load,
    /// the store expects no state: a save then never writes over one it has not read.
    fn save(&mut self, state: &mut State) -> Result<(), StateError> {
        self.save_with(state, None)
    }

    fn save_touched(
        &mut self,
        state: &mut State,
        touched: &BTreeSet<Address>,
    ) -> Result<(), StateError> {
        self.save_with(state, Some(touched))
    }

    fn live_holder(&self) -> Option<Option<LockInfo>> {
        // A store that cannot reach its database cannot tell; its next load says why.
        self.locker.live_holder().ok()?.map(Some)
    }

    /// Ends the PostgreSQL session holding the lock — only when its backend pid is `lock_id`
    /// (a live run stops with it) — and then deletes its holder row; a row a dead holder left
    /// is deleted whatever its id. A holder row stays while its session does.
    fn force_unlock(&self, lock_id: &str) -> Result<Option<LockInfo>, StateError> {
        let forced = self.locker.force(lock_id).map_err(|failure| match failure {
            Failure::Db(e) if e.code().is_some_and(|c| c.code() == "42501") => {
                let why = e.as_db_error().map_or(e.to_string(), |d| d.message().to_owned());
                StateError::Backend {
                    store: self.describe(),
                    cause: format!("cannot end the session holding the lock: {why}"),
                    hint: TERMINATE_HINT.to_owned(),
                }
            }
            failure => self.failed(failure),
        })?;
        match forced {
            Forced::Released(holder) => Ok(holder),
            Forced::HeldByOther(holder) => Err(StateError::LockIdMismatch {
                store: self.describe(),
                lock_id: lock_id.to_owned(),
                holder: Some(Box::new(holder)),
            }),
            Forced::StillRunning(holder) => Err(StateError::Backend {
                store: self.describe(),
                cause: format!(
                    "the session holding the lock (lock id {}) was told to end, but still holds it after {} s; \
                     the lock and its holder row are left as they were",
                    holder.lock_id(),
                    lock::TERMINATION_WAIT.as_secs()
                ),
                hint: format!(
                    "Run force-unlock again in a moment; if it stays, have the database administrator end it \
                     (SELECT pg_terminate_backend({}))",
                    holder.lock_id()
                ),
            }),
        }
    }

    /// Replaces the workspace's rows with `state` in one transaction, which also checks what
    /// [`StateStore::push`] refuses against the stored state (the same one, its row locked).
    fn push(&mut self, state: &State, force: bool) -> Result<(), StateError> {
        let (write, change) = RowDiff::push(&self.workspace, state, state.serial).split();
        let sql = self.sql.clone();
        let pushed = state.clone();
        let outcome = self
            .session
            .run(move |conn| rows::push(conn, &sql, &write, &pushed, force))
            .map_err(|f| self.failed(f))?;
        match outcome {
            Pushed::Committed(serial) => {
                let mut seen = Seen::default();
                change.committed(&mut seen, serial);
                self.seen = Some(seen);
                Ok(())
            }
            Pushed::Unchanged(seen) => {
                self.seen = Some(*seen);
                Ok(())
            }
            Pushed::Refused(why) => Err(StateError::PushRefused { store: self.describe(), why }),
        }
    }
}
