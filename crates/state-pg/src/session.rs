//! The store's one database session, on a thread of its own: the synchronous client runs a
//! runtime of its own and would panic inside the caller's (the apply engine saves from async
//! code), so it lives on a plain thread and the store sends it jobs.
//!
//! A job blocks its caller only for its round trips, as the local store's fsync does — and
//! never forever: the start-up (TCP, TLS, authentication, then the caller's schema check) must
//! end by a deadline, and once connected the session's `lock_timeout` and `statement_timeout`
//! bound every statement. The session is never reconnected: the advisory lock lives and dies
//! with it, and a command that lost it must stop rather than go on unlocked. This module also
//! owns turning the client's errors into [`StateError::Backend`] with a hint of what to do;
//! nothing here knows the tables.

use std::collections::HashMap;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::PgTimeouts;
use super::conninfo::{ConnInfo, PasswordSource};
use super::tls::{self, SslMode};
use certplan_state::StateError;

/// The session's client with the statements it has prepared, keyed by their text: a save
/// then costs its round trips, not a parse of every statement too.
pub(super) struct Conn {
    pub client: postgres::Client,
    statements: HashMap<String, postgres::Statement>,
}

impl Conn {
    /// Returns `sql` prepared, preparing it on first use.
    pub fn statement(&mut self, sql: &str) -> Result<postgres::Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

/// A handle on the session's thread; clones share the session.
#[derive(Clone)]
pub(super) struct Session {
    jobs: mpsc::Sender<Job>,
    /// The server process serving the session: the advisory lock's holder as `pg_locks` says.
    pub backend_pid: i32,
}

/// Why a job did not succeed.
#[derive(Debug)]
pub(super) enum Failure {
    Db(postgres::Error),
    /// The session's thread is gone (it panicked): nothing more can be done on it.
    Gone,
    /// The server did not answer before the start-up's deadline, this long after it began.
    NoAnswer(Duration),
}

impl From<postgres::Error> for Failure {
    fn from(e: postgres::Error) -> Self {
        Failure::Db(e)
    }
}

impl Session {
    /// Connects on a new thread, giving up at `deadline`; the thread ends when the last handle
    /// is dropped, and the session with it.
    ///
    /// The client bounds only the TCP connect (`connect_timeout`): a server that accepts the
    /// connection and never answers would block its TLS or startup exchange forever. Hence
    /// the wait here. A thread given up on is left behind, blocked in the client; it ends
    /// (unused) if the server ever answers, and a command that fails this way soon exits.
    pub fn open(
        info: ConnInfo,
        timeouts: PgTimeouts,
        deadline: Instant,
    ) -> Result<Session, Failure> {
        let started = Instant::now();
        let (jobs, queue) = mpsc::channel::<Job>();
        let (opened, connected) = mpsc::sync_channel(1);
        std::thread::Builder::new()
            .name("certplan-pg".into())
            .spawn(move || {
                let mut conn = match connect(info, timeouts) {
                    Ok(conn) => conn,
                    Err(e) => {
                        let _ = opened.send(Err(e));
                        return;
                    }
                };
                let pid = conn.client.query_one("SELECT pg_backend_pid()", &[]).map(|r| r.get(0));
                let _ = opened.send(pid);
                for job in queue {
                    job(&mut conn);
                }
            })
            .map_err(|_| Failure::Gone)?;
        let backend_pid = receive(&connected, Some((started, deadline)))??;
        Ok(Session { jobs, backend_pid })
    }

    /// Runs `job` on the session and returns its result, blocking until it has run.
    pub fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Conn) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, Failure> {
        self.run_with(job, None)
    }

    /// [`run`](Session::run), giving up at `deadline` ([`Failure::NoAnswer`], counted from
    /// `started`): for the start-up, before the session's own timeouts may be relied on. A
    /// job given up on still runs to its end; nothing waits for it.
    pub fn run_until<T: Send + 'static>(
        &self,
        started: Instant,
        deadline: Instant,
        job: impl FnOnce(&mut Conn) -> Result<T, postgres::Error> + Send + 'static,
    ) -> Result<T, Failure> {
        self.run_with(job, Some((started, deadline)))
    }

    fn run_with<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Conn) -> Result<T, postgres::Error> + Send + 'static,
        deadline: Option<(Instant, Instant)>,
    ) -> Result<T, Failure> {
        let (reply, result) = mpsc::sync_channel(1);
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(job(conn));
        });
        self.jobs.send(job).map_err(|_| Failure::Gone)?;
        Ok(receive(&result, deadline)??)
    }
}

/// Waits for what the session's thread sends on `channel`, until `deadline` (begun at
/// `started`) if there is one.
fn receive<T>(
    channel: &mpsc::Receiver<T>,
    deadline: Option<(Instant, Instant)>,
) -> Result<T, Failure> {
    let Some((started, deadline)) = deadline else {
        return channel.recv().map_err(|_| Failure::Gone);
    };
    match channel.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(value) => Ok(value),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(Failure::NoAnswer(started.elapsed())),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(Failure::Gone),
    }
}

/// Connects as `info` says; `prefer` falls back to a connection without TLS when the
/// handshake fails, as libpq does. The session's statements are then bounded by `timeouts`.
fn connect(info: ConnInfo, timeouts: PgTimeouts) -> Result<Conn, postgres::Error> {
    let ConnInfo { mut config, sslmode, .. } = info;
    let attempt = |config: &mut postgres::Config, mode: SslMode| {
        config.ssl_mode(mode.client_mode());
        config.connect(tls::connector(mode))
    };
    let client = match attempt(&mut config, sslmode) {
        Err(e) if sslmode == SslMode::Prefer && tls::is_handshake_failure(&e) => {
            attempt(&mut config, SslMode::Disable)?
        }
        other => other?,
    };
    let mut conn = Conn { client, statements: HashMap::new() };
    // The server ends the session of a client it cannot reach within about a minute, and the
    // advisory lock with it: a runner cut off by the network does not hold the lock for the
    // hours of the system's keepalive defaults. (Ignored on Unix sockets.)
    let _ = conn.client.batch_execute(
        "SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; SET tcp_keepalives_count = 3",
    );
    // No statement may block the command forever: a save waits at most `lock_timeout` for
    // the workspace row another session keeps locked (an open transaction in psql, say), and
    // nothing runs longer than `statement_timeout`. The workspace lock is unaffected: it is
    // polled with pg_try_advisory_lock, which never waits.
    conn.client.batch_execute(&format!(
        "SET lock_timeout = {}; SET statement_timeout = {}",
        milliseconds(timeouts.lock),
        milliseconds(timeouts.statement)
    ))?;
    Ok(conn)
}

/// Returns `d` as a PostgreSQL timeout setting, in whole milliseconds: at least 1 (0 would
/// mean no timeout at all) and at most the largest the server takes.
fn milliseconds(d: Duration) -> u128 {
    d.as_millis().clamp(1, i32::MAX as u128)
}

/// What an error message needs to know of the store.
#[derive(Debug, Clone)]
pub(super) struct Names {
    /// The store's description.
    pub store: String,
    /// Where the server is, `host:port`.
    pub address: String,
    pub schema: String,
    pub password_source: PasswordSource,
    /// The session's timeouts, for saying what ran out.
    pub timeouts: PgTimeouts,
}

/// When a failure happened: connecting, or once connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Connect,
    Command,
}

/// Says what went wrong and what to do, never quoting the connection string.
pub(super) fn backend_error(names: &Names, phase: Phase, failure: Failure) -> StateError {
    let (cause, hint) = explain(names, phase, failure);
    StateError::Backend { store: names.store.clone(), cause, hint }
}

fn explain(names: &Names, phase: Phase, failure: Failure) -> (String, String) {
    const LOST_HINT: &str = "Nothing after the last saved step is recorded; the next run reconciles what this one left in flight";
    let e = match failure {
        Failure::Gone => {
            return ("the database session's thread stopped".to_owned(), LOST_HINT.to_owned());
        }
        Failure::NoAnswer(waited) => {
            return (
                format!(
                    "cannot connect to {}: the server did not answer within {}",
                    names.address,
                    seconds(waited)
                ),
                format!(
                    "Something accepts connections at {} but does not answer as PostgreSQL does (a proxy, \
                     load balancer or tunnel in front of a stopped server? the wrong port?). Check conn_str / \
                     PG_CONN_STR; for a server that is only slow, raise connect_timeout in it",
                    names.address
                ),
            );
        }
        Failure::Db(e) => e,
    };
    let Some(db) = e.as_db_error() else {
        let text = e.to_string();
        if phase == Phase::Command {
            if e.is_closed() || has_io_cause(&e) {
                return (
                    format!("the connection to PostgreSQL was lost ({text})"),
                    LOST_HINT.to_owned(),
                );
            }
            return (text, String::new());
        }
        if text.contains("password missing") {
            return (
                "the server asks for a password and none was given".to_owned(),
                password_hint(names),
            );
        }
        let cause = format!("cannot connect to {}: {text}{}", names.address, source_text(&e));
        if text.contains("does not support TLS") {
            return (
                cause,
                "The server does not offer TLS: enable ssl on it, or use sslmode=prefer or disable"
                    .to_owned(),
            );
        }
        if tls::is_handshake_failure(&e) || text.contains("TLS") {
            return (
                cause,
                "sslmode=verify-ca and verify-full trust the public CAs' roots only; for a server whose \
                 certificate no public CA signed, sslmode=require encrypts without verifying it"
                    .to_owned(),
            );
        }
        return (cause, unreachable_hint(names));
    };
    let code = db.code().code();
    let message = format!("{} (SQLSTATE {code})", db.message());
    let hint = match code {
        "28P01" => password_hint(names),
        "28000" => "Check the user name in conn_str, and the server's pg_hba.conf entry for this client".to_owned(),
        "3D000" => "Create the database, or name an existing one in conn_str".to_owned(),
        "42501" => format!(
            "Grant the user CREATE on the database (to make schema {:?}), or USAGE and CREATE on the schema and \
             SELECT, INSERT, UPDATE, DELETE on its tables",
            names.schema
        ),
        "53100" => "The database server's disk is full: free space on it. Nothing of this step was recorded; \
                    the next run reconciles what this one left in flight"
            .to_owned(),
        "53300" => "The server has no connection slot free; try again when fewer clients are connected".to_owned(),
        "25006" => "conn_str names a read-only server (a standby?); point it at the primary".to_owned(),
        "40001" | "40P01" => "Another writer keeps changing the same state; run the command again".to_owned(),
        "55P03" | "57014" => format!(
            "Nothing of this step was saved. Look for the session in pg_stat_activity (an open transaction on \
             schema {:?}, e.g. in psql) and end it, or wait for it; then run the command again, which \
             reconciles what this one left in flight",
            names.schema
        ),
        _ if code.starts_with("08") || code.starts_with("57P") => {
            return match phase {
                Phase::Connect => {
                    (format!("cannot connect to {}: {message}", names.address), unreachable_hint(names))
                }
                Phase::Command => {
                    (format!("the connection to PostgreSQL was lost: {message}"), LOST_HINT.to_owned())
                }
            };
        }
        _ => String::new(),
    };
    let cause = match code {
        "28P01" | "28000" => format!("authentication failed: {message}"),
        "53100" => format!("the database server's disk is full: {message}"),
        "42501" => format!("permission denied: {message}"),
        "55P03" => format!(
            "another session holds row locks on the state for too long (this one waited lock_timeout, {}, for them): {message}",
            seconds(names.timeouts.lock)
        ),
        "57014" => format!(
            "a statement on the state was cancelled (statement_timeout is {}): another session holds row locks \
             on the state for too long, or the server is overloaded: {message}",
            seconds(names.timeouts.statement)
        ),
        _ => message,
    };
    (cause, hint)
}

/// Writes a timeout for a message, e.g. `30 s` or `1.5 s`.
fn seconds(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 10.0 { format!("{s:.0} s") } else { format!("{:.1} s", s).replace(".0 s", " s") }
}

fn unreachable_hint(names: &Names) -> String {
    format!("Is PostgreSQL running at {}? Check conn_str / PG_CONN_STR", names.address)
}

/// Returns whether an I/O error is among the causes of `e`: the server or the network went.
fn has_io_cause(e: &postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// Tells where to put the password, given where this one came from.
fn password_hint(names: &Names) -> String {
    match names.password_source {
        PasswordSource::None => "Set the password in PGPASSWORD or in ~/.pgpass \
             (hostname:port:database:username:password, mode 0600) rather than in conn_str"
            .to_owned(),
        PasswordSource::ConnStr => {
            "The password in conn_str was refused; check it, and the user's entry \
             in the server's pg_hba.conf (better keep it in PGPASSWORD or ~/.pgpass)"
                .to_owned()
        }
        PasswordSource::Environment => {
            "The password in PGPASSWORD was refused; check it, and the user's \
             entry in the server's pg_hba.conf"
                .to_owned()
        }
        PasswordSource::PassFile => {
            "The password from the password file (PGPASSFILE or ~/.pgpass) was \
             refused; check its line for this server, and the user's entry in pg_hba.conf"
                .to_owned()
        }
    }
}

/// Returns the innermost cause of `e`, e.g. `: Connection refused (os error 111)`.
fn source_text(e: &postgres::Error) -> String {
    let mut source = std::error::Error::source(e);
    let mut innermost = None;
    while let Some(s) = source {
        innermost = Some(s.to_string());
        source = s.source();
    }
    innermost.map(|s| format!(": {s}")).unwrap_or_default()
}

/// Returns whether `failure` is worth running the transaction again for: a serialization
/// failure or a deadlock, which the server resolves by aborting one of the parties.
pub(super) fn is_transient(e: &postgres::Error) -> bool {
    e.code().is_some_and(|c| matches!(c.code(), "40001" | "40P01"))
}
