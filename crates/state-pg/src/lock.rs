//! The workspace lock: a session-level advisory lock on the store's own session, held until
//! the [`StateLock`] is dropped, and a row naming its holder so that a refused run can say who.
//!
//! The server, not the row, is what excludes: a holder that dies (killed, cut off) loses its
//! session and the lock with it, and the row it leaves is replaced by the next holder's and
//! never taken for a live holder's (it must name the session that holds the lock). That
//! session's backend pid is the lock's id: `force` ends a session only when it is the one it
//! was told of, so a run that took the lock after a stuck one is never ended by mistake.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::schema::Sql;
use super::session::{Conn, Failure, Session};
use certplan_state::{LockInfo, StateLock};

/// How often a waiting `lock` asks again.
const POLL: Duration = Duration::from_millis(200);

/// How long `force_unlock` waits for a terminated session to be gone.
pub(super) const TERMINATION_WAIT: Duration = Duration::from_secs(5);

/// Derives the advisory lock key of `workspace` in `schema`.
///
/// Advisory locks are keyed per database, not per schema: a key made of the workspace alone
/// (or, as Terraform's backend does, of a row id every schema numbers from 1) makes two
/// schemas in one database block each other. Hashing the schema name in keeps them apart;
/// the domain tag keeps the key off those other applications may derive from the same names.
pub(super) fn lock_key(schema: &str, workspace: &str) -> i64 {
    key(&["certplan workspace lock", schema, workspace])
}

/// Derives the key that serializes creating and migrating `schema`.
pub(super) fn schema_key(schema: &str) -> i64 {
    key(&["certplan schema", schema])
}

fn key(parts: &[&str]) -> i64 {
    use sha2::Digest as _;
    let mut hash = sha2::Sha256::new();
    for part in parts {
        // Length-prefixed, so that ("ab", "c") and ("a", "bc") differ.
        hash.update((part.len() as u64).to_be_bytes());
        hash.update(part.as_bytes());
    }
    let bytes: [u8; 32] = hash.finalize().into();
    i64::from_be_bytes(bytes[..8].try_into().expect("8 bytes"))
}

/// Splits a bigint advisory key as `pg_locks` shows it: `classid` the high half, `objid` the
/// low half.
fn key_halves(key: i64) -> (i64, i64) {
    let key = key as u64;
    ((key >> 32) as i64, (key & 0xffff_ffff) as i64)
}

/// Everything the lock's operations need, shared with the guard a [`StateLock`] holds.
#[derive(Clone)]
pub(super) struct Locker {
    pub session: Session,
    pub sql: Arc<Sql>,
    pub workspace: String,
    pub key: i64,
    /// Whether this store's session holds the lock: advisory locks nest within a session, so
    /// a second `lock` from it would otherwise succeed.
    pub held: Arc<AtomicBool>,
}

/// The outcome of one try.
pub(super) enum Attempt {
    Taken(StateLock),
    Held(Option<LockInfo>),
}

/// The outcome of a forced unlock.
pub(super) enum Forced {
    /// Released: who held the lock, or whose row a dead holder left; `None`: neither.
    Released(Option<LockInfo>),
    /// Held by this holder, not the one named: nothing was done.
    HeldByOther(LockInfo),
    /// This holder's session was told to end and still holds the lock: its row was kept.
    StillRunning(LockInfo),
}

impl Locker {
    /// Takes the lock for `operation`, asking again until `timeout` has passed.
    pub fn acquire(&self, operation: &str, timeout: Duration) -> Result<Attempt, Failure> {
        let deadline = Instant::now() + timeout;
        loop {
            if !self.held.load(Ordering::SeqCst) && self.try_take(operation)? {
                self.held.store(true, Ordering::SeqCst);
                let guard = Guard { locker: self.clone() };
                return Ok(Attempt::Taken(StateLock::new(Box::new(guard))));
            }
            let now = Instant::now();
            if now >= deadline {
                let holder = match self.holder()? {
                    Some((pid, info)) => Some(with_session(info, pid)),
                    // Held by this store's own session.
                    None if self.held.load(Ordering::SeqCst) => Some(LockInfo {
                        backend_pid: Some(self.session.backend_pid),
                        ..LockInfo::current(operation)
                    }),
                    // Released between the try and the look.
                    None => None,
                };
                return Ok(Attempt::Held(holder));
            }
            std::thread::sleep(POLL.min(deadline - now));
        }
    }

    /// Tries the lock once; when taken, writes the holder row.
    fn try_take(&self, operation: &str) -> Result<bool, Failure> {
        let info =
            serde_json::to_string(&LockInfo::current(operation)).expect("lock info serialises");
        let (sql, workspace, key) = (self.sql.clone(), self.workspace.clone(), self.key);
        self.session.run(move |conn: &mut Conn| {
            let taken: bool =
                conn.client.query_one("SELECT pg_try_advisory_lock($1)", &[&key])?.get(0);
            if taken {
                let upsert = conn.statement(&sql.lock_row_upsert)?;
                if let Err(e) = conn.client.execute(&upsert, &[&workspace, &info]) {
                    let _ = conn.client.execute("SELECT pg_advisory_unlock($1)", &[&key]);
                    return Err(e);
                }
            }
            Ok(taken)
        })
    }

    /// Returns the session holding the lock, other than this store's, and its holder row. A
    /// holder writes its row just after taking the lock: a row not there yet is looked for
    /// again for a moment, so that a refusal names the holder.
    pub fn holder(&self) -> Result<Option<(i32, Option<LockInfo>)>, Failure> {
        let (high, low) = key_halves(self.key);
        let mut attempts = 0;
        loop {
            let (sql, workspace) = (self.sql.clone(), self.workspace.clone());
            let found = self.session.run(move |conn: &mut Conn| {
                let statement = conn.statement(&sql.lock_holder)?;
                let row = conn.client.query_opt(&statement, &[&workspace, &high, &low])?;
                Ok(row.map(|r| (r.get::<_, i32>(0), r.get::<_, Option<String>>(1))))
            })?;
            let found =
                found.map(|(pid, info)| (pid, info.and_then(|i| serde_json::from_str(&i).ok())));
            attempts += 1;
            match found {
                Some((_, None)) if attempts < HOLDER_ROW_ATTEMPTS => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                found => return Ok(found),
            }
        }
    }

    /// Returns who holds the lock in another session, if one does.
    pub fn live_holder(&self) -> Result<Option<LockInfo>, Failure> {
        Ok(self.holder()?.map(|(pid, info)| with_session(info, pid)))
    }

    /// Ends the session holding the lock when its backend pid is `lock_id`, and once it is
    /// gone deletes its holder row; with no session holding the lock, deletes the row a dead
    /// holder left, whatever its id. Any other holder is left alone.
    pub fn force(&self, lock_id: &str) -> Result<Forced, Failure> {
        let Some((pid, info)) = self.holder()? else {
            return Ok(Forced::Released(self.delete_dead_row()?));
        };
        if pid.to_string() != lock_id.trim() {
            return Ok(Forced::HeldByOther(with_session(info, pid)));
        }
        self.session.run(move |conn: &mut Conn| {
            // `false`: the session is gone already.
            conn.client.execute("SELECT pg_terminate_backend($1)", &[&pid])?;
            Ok(())
        })?;
        let deadline = Instant::now() + TERMINATION_WAIT;
        let still = loop {
            let still = self.holder()?.is_some_and(|(p, _)| p == pid);
            if !still || Instant::now() >= deadline {
                break still;
            }
            std::thread::sleep(Duration::from_millis(50));
        };
        if still {
            // Its row still names a live holder: deleting it would hide who holds the lock.
            return Ok(Forced::StillRunning(with_session(info, pid)));
        }
        // Only its own row: a run that took the lock the moment it was free keeps its row.
        let (sql, workspace) = (self.sql.clone(), self.workspace.clone());
        let row = self.session.run(move |conn: &mut Conn| {
            let statement = conn.statement(&sql.lock_row_delete_of)?;
            Ok(conn
                .client
                .query_opt(&statement, &[&workspace, &pid])?
                .map(|r| r.get::<_, String>(0)))
        })?;
        let row: Option<LockInfo> = row.and_then(|r| serde_json::from_str(&r).ok());
        Ok(Forced::Released(Some(with_session(info.or(row), pid))))
    }

    /// Deletes the holder row whose session no longer holds the lock, returning who it named.
    fn delete_dead_row(&self) -> Result<Option<LockInfo>, Failure> {
        let (sql, workspace) = (self.sql.clone(), self.workspace.clone());
        let (high, low) = key_halves(self.key);
        let row = self.session.run(move |conn: &mut Conn| {
            let statement = conn.statement(&sql.lock_row_delete_dead)?;
            let row = conn.client.query_opt(&statement, &[&workspace, &high, &low])?;
            Ok(row.map(|r| (r.get::<_, String>(0), r.get::<_, i32>(1))))
        })?;
        Ok(row.map(|(info, pid)| with_session(serde_json::from_str(&info).ok(), pid)))
    }
}

/// How many times the holder row of a session that holds the lock is looked for (20 ms apart).
const HOLDER_ROW_ATTEMPTS: u32 = 10;

/// Returns the holder as its row says, or as little as the server knows: its session.
fn with_session(info: Option<LockInfo>, pid: i32) -> LockInfo {
    let mut info = info.unwrap_or_else(|| LockInfo {
        operation: "(unknown)".to_owned(),
        who: "unknown".to_owned(),
        host: "unknown-host".to_owned(),
        pid: 0,
        since: chrono::Utc::now(),
        backend_pid: None,
    });
    info.backend_pid = Some(pid);
    info
}

/// Releases the lock when dropped: the holder row first, so that it never deletes the row of
/// a holder that took the lock in between.
struct Guard {
    locker: Locker,
}

impl Drop for Guard {
    fn drop(&mut self) {
        let (sql, workspace, key) =
            (self.locker.sql.clone(), self.locker.workspace.clone(), self.locker.key);
        // A lost session has released the lock already; nothing to report from a drop.
        let _ = self.locker.session.run(move |conn: &mut Conn| {
            let statement = conn.statement(&sql.lock_row_delete_own)?;
            conn.client.execute(&statement, &[&workspace])?;
            conn.client.execute("SELECT pg_advisory_unlock($1)", &[&key])?;
            Ok(())
        });
        self.locker.held.store(false, Ordering::SeqCst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_keys_differ_across_schemas_and_workspaces() {
        let keys = [
            lock_key("certplan", "default"),
            lock_key("other", "default"),
            lock_key("certplan", "prod"),
            lock_key("certplandefault", ""),
            schema_key("certplan"),
        ];
        for (i, a) in keys.iter().enumerate() {
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(lock_key("certplan", "default"), lock_key("certplan", "default"), "stable");
        let (high, low) = key_halves(-2);
        assert_eq!((high, low), (0xffff_ffff, 0xffff_fffe));
    }
}
