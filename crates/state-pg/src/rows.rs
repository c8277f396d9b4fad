//! The transactions on a workspace's rows: reading them into a [`State`] in one snapshot, a
//! save, and a push.
//!
//! A save is one transaction that first moves the workspace row's serial on from the one
//! this store last saw (compare-and-set) and then writes the rows `diff` found changed, so its
//! cost follows the change, not the size of the state. A push locks the workspace row and
//! decides on what it finds there — reading the whole stored state only when its lineage and
//! serial are the pushed one's, to tell the same state from a copy changed apart. Working out
//! what changed is `diff`'s business; the session and the lock are not this module's.

use std::collections::BTreeMap;

use certplan_core::Address;

use super::diff::{ListChange, Seen, Write};
use super::schema::{DEPOSED, INTENTS, Sql};
use super::session::{Conn, is_transient};
use certplan_state::{Deposed, Intent, State};

/// How many times a transaction the server aborted as a serialization failure or deadlock
/// is run again before giving up.
const TRANSIENT_ATTEMPTS: usize = 5;

/// How many rows one statement inserts at most, so that a push of a large state does not
/// send one huge message.
const CHUNK: usize = 5_000;

/// A workspace's rows as read, before they are made into a state.
pub(super) struct RawState {
    workspace: (String, i64, i32, String, Option<String>, String),
    resources: Vec<(String, String)>,
    lists: [Vec<(i64, String)>; 2],
}

/// Reads `workspace`'s rows in one snapshot; `None` when it has no row.
pub(super) fn read(
    conn: &mut Conn,
    sql: &Sql,
    workspace: &str,
) -> Result<Option<RawState>, postgres::Error> {
    let statements = ReadStatements::prepare(conn, sql)?;
    let mut tx = conn
        .client
        .build_transaction()
        .isolation_level(postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()?;
    let raw = statements.read(&mut tx, workspace)?;
    tx.commit()?;
    Ok(raw)
}

/// The statements that read a workspace's rows, prepared.
struct ReadStatements([postgres::Statement; 4]);

impl ReadStatements {
    fn prepare(conn: &mut Conn, sql: &Sql) -> Result<Self, postgres::Error> {
        Ok(ReadStatements([
            conn.statement(&sql.workspace_select)?,
            conn.statement(&sql.resources_select)?,
            conn.statement(&sql.lists[DEPOSED].select)?,
            conn.statement(&sql.lists[INTENTS].select)?,
        ]))
    }

    /// Reads `workspace`'s rows in the caller's transaction; `None` when it has no row.
    fn read(
        &self,
        tx: &mut postgres::Transaction<'_>,
        workspace: &str,
    ) -> Result<Option<RawState>, postgres::Error> {
        let statements = &self.0;
        let Some(row) = tx.query_opt(&statements[0], &[&workspace])? else { return Ok(None) };
        let head = (row.get(0), row.get(1), row.get(2), row.get(3), row.get(4), row.get(5));
        let resources = tx.query(&statements[1], &[&workspace])?;
        let resources = resources.iter().map(|r| (r.get(0), r.get(1))).collect();
        let mut list = |statement| -> Result<Vec<(i64, String)>, postgres::Error> {
            Ok(tx.query(statement, &[&workspace])?.iter().map(|r| (r.get(0), r.get(1))).collect())
        };
        let lists = [list(&statements[2])?, list(&statements[3])?];
        Ok(Some(RawState { workspace: head, resources, lists }))
    }
}

/// Makes the rows read into a state, and what the store remembers of them; the error says
/// which row could not be read.
pub(super) fn decode(raw: RawState) -> Result<(State, Seen), String> {
    let (lineage, serial, format_version, certplan_version, cloud, outputs) = raw.workspace;
    let format_version = u32::try_from(format_version).unwrap_or(u32::MAX);
    if format_version > certplan_state::FORMAT_VERSION {
        return Err(format!(
            "the state has format version {format_version}, newer than this certplan reads ({}); upgrade certplan",
            certplan_state::FORMAT_VERSION
        ));
    }
    let mut resources = BTreeMap::new();
    for (address, record) in &raw.resources {
        let parsed: Address =
            address.parse().map_err(|e| format!("cannot read resource row {address:?}: {e}"))?;
        resources.insert(parsed, json(&format!("resource {address}"), record)?);
    }
    let [deposed_rows, intent_rows] = raw.lists;
    let deposed: Vec<Deposed> =
        deposed_rows.iter().map(|(_, r)| json("deposed", r)).collect::<Result<_, _>>()?;
    let intents: Vec<Intent> =
        intent_rows.iter().map(|(_, r)| json("intent", r)).collect::<Result<_, _>>()?;
    let mut state = State {
        format_version,
        lineage,
        serial: u64::try_from(serial).unwrap_or_default(),
        certplan_version,
        resources,
        deposed,
        intents,
        outputs: json("outputs", &outputs)?,
        clouds: cloud.as_deref().map(|c| json("cloud", c)).transpose()?.unwrap_or_default(),
    };
    state.read_earlier_versions();
    let positions = [
        deposed_rows.iter().map(|(p, _)| *p).collect(),
        intent_rows.iter().map(|(p, _)| *p).collect(),
    ];
    let seen = Seen::of(&state, positions);
    Ok((state, seen))
}

/// Reads the JSON of a row; the error names the row.
fn json<T: serde::de::DeserializeOwned>(what: &str, text: &str) -> Result<T, String> {
    serde_json::from_str(text).map_err(|e| format!("cannot read the {what} row: {e}"))
}

/// How a save ended.
#[derive(Debug)]
pub(super) enum Saved {
    Committed,
    /// The stored version was not the expected one: this is what was found.
    Conflict {
        found: Option<(String, i64)>,
    },
}

/// Writes `write` as one transaction, if the stored version is still the expected one.
pub(super) fn save(conn: &mut Conn, sql: &Sql, write: &Write) -> Result<Saved, postgres::Error> {
    let w = write;
    retrying(|| {
        let update = conn.statement(&sql.workspace_update)?;
        let insert = conn.statement(&sql.workspace_insert)?;
        let version = conn.statement(&sql.workspace_version)?;
        let rows = RowStatements::prepare(conn, sql)?;
        let mut tx = conn.client.transaction()?;
        let cloud = w.cloud.clone().flatten();
        let moved = match &w.expected {
            Some((lineage, serial)) => {
                let cloud_changed = w.cloud.is_some();
                let params: [&(dyn postgres::types::ToSql + Sync); 10] = [
                    &w.workspace,
                    &w.lineage,
                    &w.serial,
                    &w.format_version,
                    &w.certplan_version,
                    &cloud_changed,
                    &cloud,
                    &w.outputs,
                    lineage,
                    serial,
                ];
                tx.execute(&update, &params)?
            }
            // A first save inserts the row, and must not take the place of one another
            // writer inserted meanwhile.
            None => {
                let outputs = w.outputs.clone().unwrap_or_else(|| "{}".to_owned());
                let params: [&(dyn postgres::types::ToSql + Sync); 7] = [
                    &w.workspace,
                    &w.lineage,
                    &w.serial,
                    &w.format_version,
                    &w.certplan_version,
                    &cloud,
                    &outputs,
                ];
                tx.execute(&insert, &params)?
            }
        };
        if moved != 1 {
            let found = tx.query_opt(&version, &[&w.workspace])?.map(|r| (r.get(0), r.get(1)));
            tx.rollback()?;
            return Ok(Saved::Conflict { found });
        }
        rows.write(&mut tx, w)?;
        tx.commit()?;
        Ok(Saved::Committed)
    })
}

/// How a push ended.
#[derive(Debug)]
pub(super) enum Pushed {
    /// Stored, as this serial.
    Committed(u64),
    /// The very same state was stored already: nothing was written. What it is stored as.
    Unchanged(Box<Seen>),
    Refused(String),
}

/// Replaces the workspace's rows with `write` (a [`RowDiff::push`] of `pushed`) as one
/// transaction; refused over another lineage, a newer serial, or the same lineage and serial
/// with other content, unless `force`. Over an existing state the pushed one is stored as a
/// serial newer than both; into an empty workspace, as it is; over itself, not at all.
pub(super) fn push(
    conn: &mut Conn,
    sql: &Sql,
    write: &Write,
    pushed: &State,
    force: bool,
) -> Result<Pushed, postgres::Error> {
    let w = write;
    retrying(|| {
        let reads = ReadStatements::prepare(conn, sql)?;
        let lock_row = conn.statement(&sql.workspace_lock_row)?;
        let replace = conn.statement(&sql.workspace_replace)?;
        let insert = conn.statement(&sql.workspace_insert)?;
        let resources_clear = conn.statement(&sql.resources_clear)?;
        let rows = RowStatements::prepare(conn, sql)?;
        let mut tx = conn.client.transaction()?;
        let cloud = w.cloud.clone().flatten();
        let outputs = w.outputs.clone().unwrap_or_else(|| "{}".to_owned());
        let as_is = w.serial;
        // Either the row is there (and locked until commit), or this transaction inserts it;
        // an insert that finds one another writer just made reads that one.
        let current: Option<(String, i64)> = loop {
            if let Some(row) = tx.query_opt(&lock_row, &[&w.workspace])? {
                break Some((row.get(0), row.get(1)));
            }
            let params: [&(dyn postgres::types::ToSql + Sync); 7] = [
                &w.workspace,
                &w.lineage,
                &as_is,
                &w.format_version,
                &w.certplan_version,
                &cloud,
                &outputs,
            ];
            if tx.execute(&insert, &params)? == 1 {
                break None;
            }
        };
        let serial = match current {
            None => as_is,
            Some((lineage, serial)) => {
                let current = (lineage.as_str(), u64::try_from(serial).unwrap_or_default());
                let pushing = (w.lineage.as_str(), u64::try_from(w.serial).unwrap_or_default());
                if !force && let Some(why) = certplan_state::push_refusal_of(current, pushing) {
                    tx.rollback()?;
                    return Ok(Pushed::Refused(why));
                }
                if current == pushing {
                    // The same state pushed again, or a copy changed apart from the stored one
                    // (two teammates' serial 5): only the content tells. The row is locked, so
                    // what is read is what a replace would replace.
                    let stored = reads.read(&mut tx, &w.workspace)?.map(decode);
                    let refusal = match stored {
                        Some(Ok((stored, seen)))
                            if certplan_state::same_records(&stored, pushed) =>
                        {
                            tx.rollback()?;
                            return Ok(Pushed::Unchanged(Box::new(seen)));
                        }
                        Some(Err(cause)) => format!(
                            "a state with the same lineage and serial (serial {}) that cannot be read ({cause})",
                            current.1
                        ),
                        _ => certplan_state::diverged(current.1),
                    };
                    if !force {
                        tx.rollback()?;
                        return Ok(Pushed::Refused(refusal));
                    }
                }
                // Readers must see a serial newer than any they may have read before.
                let serial = w.serial.max(serial) + 1;
                let params: [&(dyn postgres::types::ToSql + Sync); 7] = [
                    &w.workspace,
                    &w.lineage,
                    &serial,
                    &w.format_version,
                    &w.certplan_version,
                    &cloud,
                    &outputs,
                ];
                tx.execute(&replace, &params)?;
                tx.execute(&resources_clear, &[&w.workspace])?;
                serial
            }
        };
        rows.write(&mut tx, w)?;
        tx.commit()?;
        Ok(Pushed::Committed(u64::try_from(serial).unwrap_or_default()))
    })
}

/// The statements that write resource and list rows, prepared.
struct RowStatements {
    upsert: postgres::Statement,
    delete: postgres::Statement,
    lists: [[postgres::Statement; 3]; 2],
}

impl RowStatements {
    fn prepare(conn: &mut Conn, sql: &Sql) -> Result<Self, postgres::Error> {
        let mut list = |i: usize| -> Result<[postgres::Statement; 3], postgres::Error> {
            let l = &sql.lists[i];
            Ok([conn.statement(&l.insert)?, conn.statement(&l.delete)?, conn.statement(&l.clear)?])
        };
        let lists = [list(DEPOSED)?, list(INTENTS)?];
        Ok(RowStatements {
            upsert: conn.statement(&sql.resources_upsert)?,
            delete: conn.statement(&sql.resources_delete)?,
            lists,
        })
    }

    /// Writes the resource and list rows of `w`, skipping statements with nothing to do.
    fn write(&self, tx: &mut postgres::Transaction<'_>, w: &Write) -> Result<(), postgres::Error> {
        if !w.delete_addresses.is_empty() {
            tx.execute(&self.delete, &[&w.workspace, &w.delete_addresses])?;
        }
        for (addresses, records) in
            w.upsert_addresses.chunks(CHUNK).zip(w.upsert_records.chunks(CHUNK))
        {
            tx.execute(&self.upsert, &[&w.workspace, &addresses, &records])?;
        }
        for (change, [insert, delete, clear]) in w.lists.iter().zip(&self.lists) {
            let rows = match change {
                ListChange::Edit { delete: gone, insert } => {
                    if !gone.is_empty() {
                        tx.execute(delete, &[&w.workspace, gone])?;
                    }
                    insert
                }
                ListChange::Rewrite(rows) => {
                    tx.execute(clear, &[&w.workspace])?;
                    rows
                }
            };
            for chunk in rows.chunks(CHUNK) {
                let positions: Vec<i64> = chunk.iter().map(|r| r.position).collect();
                let digests: Vec<&str> = chunk.iter().map(|r| r.digest.as_str()).collect();
                let addresses: Vec<&str> = chunk.iter().map(|r| r.address.as_str()).collect();
                let records: Vec<&str> = chunk.iter().map(|r| r.record.as_str()).collect();
                tx.execute(insert, &[&w.workspace, &positions, &digests, &addresses, &records])?;
            }
        }
        Ok(())
    }
}

/// Runs a transaction, again when the server aborted it as a serialization failure or a
/// deadlock (it then rolled everything back), up to a few times.
fn retrying<T>(
    mut transaction: impl FnMut() -> Result<T, postgres::Error>,
) -> Result<T, postgres::Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match transaction() {
            Err(e) if is_transient(&e) && attempt < TRANSIENT_ATTEMPTS => {
                std::thread::sleep(std::time::Duration::from_millis(20 * attempt as u64));
            }
            other => return other,
        }
    }
}
