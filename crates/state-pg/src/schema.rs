//! The database schema certplan keeps state in: its tables, its version, and the migrations
//! that bring an older schema forward, run by certplan itself in one transaction.
//!
//! A schema whose version is newer than this build knows is refused before anything in it is
//! touched: an older certplan must never write what it cannot read. The statements the store
//! runs against these tables are built here too, so that a table's name is spelled once.

use super::session::Conn;

/// The schema version this build creates, and the newest it works with.
pub(super) const SCHEMA_VERSION: i32 = 1;

/// Why the schema could not be made ready.
#[derive(Debug)]
pub(super) enum SchemaFailure {
    Db(postgres::Error),
    /// The schema was made by a newer certplan.
    TooNew(i32),
}

impl From<postgres::Error> for SchemaFailure {
    fn from(e: postgres::Error) -> Self {
        SchemaFailure::Db(e)
    }
}

/// Checks that `name` can name a schema: PostgreSQL cuts longer identifiers to 63 bytes, and
/// two names cut to the same one would share their states.
pub(super) fn valid_schema_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("schema_name cannot be empty".to_owned());
    }
    if name.len() > 63 {
        return Err(format!("schema_name {name:?} is longer than PostgreSQL's 63 bytes"));
    }
    if name.contains('\0') {
        return Err("schema_name cannot hold a NUL character".to_owned());
    }
    Ok(())
}

/// Quotes `name` as an SQL identifier: any schema name is safe inside the statements.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// The migrations, in order: the one at index `i` brings a schema from version `i` to `i + 1`.
/// `{s}` stands for the quoted schema name.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // Version 1. One row per workspace with what is small and changes with every save; one
    // row per resource instance, per deposed certificate and per open intent, so that a save
    // writes what changed and nothing else.
    "CREATE TABLE {s}.workspaces (
        name text PRIMARY KEY,
        lineage text NOT NULL,
        serial bigint NOT NULL,
        format_version integer NOT NULL,
        certplan_version text NOT NULL,
        cloud jsonb,
        outputs jsonb NOT NULL DEFAULT '{}',
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE TABLE {s}.resources (
        workspace text NOT NULL REFERENCES {s}.workspaces (name) ON DELETE CASCADE,
        address text NOT NULL,
        record jsonb NOT NULL,
        PRIMARY KEY (workspace, address)
    );
    CREATE TABLE {s}.deposed (
        workspace text NOT NULL REFERENCES {s}.workspaces (name) ON DELETE CASCADE,
        position bigint NOT NULL,
        digest text NOT NULL,
        address text NOT NULL,
        record jsonb NOT NULL,
        PRIMARY KEY (workspace, position)
    );
    CREATE TABLE {s}.intents (
        workspace text NOT NULL REFERENCES {s}.workspaces (name) ON DELETE CASCADE,
        position bigint NOT NULL,
        digest text NOT NULL,
        address text NOT NULL,
        record jsonb NOT NULL,
        PRIMARY KEY (workspace, position)
    );
    CREATE TABLE {s}.locks (
        workspace text PRIMARY KEY,
        info jsonb NOT NULL,
        backend_pid integer NOT NULL,
        since timestamptz NOT NULL
    );",
];

/// Makes the schema ready: created when missing, migrated forward when older, refused when
/// newer. Concurrent first runs are serialized by a transaction-level advisory lock, because
/// `CREATE … IF NOT EXISTS` races with itself.
pub(super) fn ensure(conn: &mut Conn, schema: &str, key: i64) -> Result<(), SchemaFailure> {
    // The common case reads and creates nothing, so a user without CREATE on the database
    // can use a schema made for it.
    if let Some(version) = version(conn, schema)? {
        if version > SCHEMA_VERSION {
            return Err(SchemaFailure::TooNew(version));
        }
        if version == SCHEMA_VERSION {
            return Ok(());
        }
    }
    let s = quote(schema);
    let mut tx = conn.client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&key])?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {s};
         CREATE TABLE IF NOT EXISTS {s}.certplan_schema (version integer NOT NULL);"
    ))?;
    let found: Option<i32> =
        tx.query_one(&format!("SELECT max(version) FROM {s}.certplan_schema"), &[])?.get(0);
    let found = found.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(SchemaFailure::TooNew(found));
    }
    for migration in &MIGRATIONS[found as usize..] {
        tx.batch_execute(&migration.replace("{s}", &s))?;
    }
    tx.execute(&format!("DELETE FROM {s}.certplan_schema"), &[])?;
    tx.execute(
        &format!("INSERT INTO {s}.certplan_schema (version) VALUES ($1)"),
        &[&SCHEMA_VERSION],
    )?;
    tx.commit()?;
    Ok(())
}

/// Returns the schema's version, `None` when it has no version table yet.
fn version(conn: &mut Conn, schema: &str) -> Result<Option<i32>, postgres::Error> {
    let table = format!("{}.certplan_schema", quote(schema));
    let exists: Option<String> =
        conn.client.query_one("SELECT to_regclass($1)::text", &[&table])?.get(0);
    if exists.is_none() {
        return Ok(None);
    }
    let version: Option<i32> =
        conn.client.query_one(&format!("SELECT max(version) FROM {table}"), &[])?.get(0);
    Ok(Some(version.unwrap_or(0)))
}

/// The statements the store runs, for one schema.
#[derive(Debug)]
pub(super) struct Sql {
    pub workspace_select: String,
    pub workspace_version: String,
    pub workspace_lock_row: String,
    pub workspace_insert: String,
    pub workspace_update: String,
    pub workspace_replace: String,
    pub resources_select: String,
    pub resources_upsert: String,
    pub resources_delete: String,
    pub resources_clear: String,
    pub lists: [ListSql; 2],
    pub lock_row_upsert: String,
    pub lock_row_delete_own: String,
    pub lock_row_delete_of: String,
    pub lock_row_delete_dead: String,
    pub lock_holder: String,
}

/// The statements of a table kept as an ordered list (deposed certificates, intents).
#[derive(Debug)]
pub(super) struct ListSql {
    pub select: String,
    pub insert: String,
    pub delete: String,
    pub clear: String,
}

/// Which list table: an index into [`Sql::lists`].
pub(super) const DEPOSED: usize = 0;
pub(super) const INTENTS: usize = 1;

impl Sql {
    pub fn new(schema: &str) -> Self {
        let s = quote(schema);
        // The `pg_locks l` row of the workspace lock, granted, keyed by $2 and $3: a bigint
        // key is kept as classid (high half), objid (low half) and objsubid 1.
        let held = "l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND l.classid::bigint = $2 AND l.objid::bigint = $3";
        let list = |table: &str| {
            ListSql {
            select: format!(
                "SELECT position, record::text FROM {s}.{table} WHERE workspace = $1 ORDER BY position"
            ),
            insert: format!(
                "INSERT INTO {s}.{table} (workspace, position, digest, address, record)
                 SELECT $1, p, d, a, r::jsonb FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]) AS u(p, d, a, r)"
            ),
            delete: format!("DELETE FROM {s}.{table} WHERE workspace = $1 AND position = ANY($2::bigint[])"),
            clear: format!("DELETE FROM {s}.{table} WHERE workspace = $1"),
        }
        };
        Sql {
            workspace_select: format!(
                "SELECT lineage, serial, format_version, certplan_version, cloud::text, outputs::text
                 FROM {s}.workspaces WHERE name = $1"
            ),
            workspace_version: format!("SELECT lineage, serial FROM {s}.workspaces WHERE name = $1"),
            workspace_lock_row: format!(
                "SELECT lineage, serial FROM {s}.workspaces WHERE name = $1 FOR UPDATE"
            ),
            workspace_insert: format!(
                "INSERT INTO {s}.workspaces (name, lineage, serial, format_version, certplan_version, cloud, outputs)
                 VALUES ($1, $2, $3, $4, $5, $6::text::jsonb, $7::text::jsonb) ON CONFLICT (name) DO NOTHING"
            ),
            // The compare-and-set: the row is updated only while it still holds the lineage
            // and serial this store last saw, and the update locks it until commit, so a
            // concurrent writer's save waits and then finds the serial moved.
            workspace_update: format!(
                "UPDATE {s}.workspaces SET lineage = $2, serial = $3, format_version = $4, certplan_version = $5,
                     cloud = CASE WHEN $6 THEN $7::text::jsonb ELSE cloud END,
                     outputs = coalesce($8::text::jsonb, outputs), updated_at = now()
                 WHERE name = $1 AND lineage = $9 AND serial = $10"
            ),
            workspace_replace: format!(
                "UPDATE {s}.workspaces SET lineage = $2, serial = $3, format_version = $4, certplan_version = $5,
                     cloud = $6::text::jsonb, outputs = $7::text::jsonb, updated_at = now()
                 WHERE name = $1"
            ),
            resources_select: format!("SELECT address, record::text FROM {s}.resources WHERE workspace = $1"),
            resources_upsert: format!(
                "INSERT INTO {s}.resources (workspace, address, record)
                 SELECT $1, a, r::jsonb FROM unnest($2::text[], $3::text[]) AS u(a, r)
                 ON CONFLICT (workspace, address) DO UPDATE SET record = excluded.record"
            ),
            resources_delete: format!(
                "DELETE FROM {s}.resources WHERE workspace = $1 AND address = ANY($2::text[])"
            ),
            resources_clear: format!("DELETE FROM {s}.resources WHERE workspace = $1"),
            lists: [list("deposed"), list("intents")],
            // A holder killed before it could delete its row left it behind: replace it.
            lock_row_upsert: format!(
                "INSERT INTO {s}.locks (workspace, info, backend_pid, since)
                 VALUES ($1, $2::text::jsonb, pg_backend_pid(), now())
                 ON CONFLICT (workspace) DO UPDATE
                 SET info = excluded.info, backend_pid = excluded.backend_pid, since = excluded.since"
            ),
            lock_row_delete_own: format!(
                "DELETE FROM {s}.locks WHERE workspace = $1 AND backend_pid = pg_backend_pid()"
            ),
            lock_row_delete_of: format!(
                "DELETE FROM {s}.locks WHERE workspace = $1 AND backend_pid = $2 RETURNING info::text"
            ),
            // A row whose session holds the lock no more: a dead holder's.
            lock_row_delete_dead: format!(
                "DELETE FROM {s}.locks k WHERE k.workspace = $1
                   AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE {held} AND l.pid = k.backend_pid)
                 RETURNING k.info::text, k.backend_pid"
            ),
            // The session holding the advisory lock, as the server sees it, with its holder
            // row when that row is its own (not a dead holder's leftover).
            lock_holder: format!(
                "SELECT l.pid, (SELECT info::text FROM {s}.locks k WHERE k.workspace = $1 AND k.backend_pid = l.pid)
                 FROM pg_locks l
                 WHERE {held} AND l.pid <> pg_backend_pid()"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_schema_name_is_quoted_into_one_identifier() {
        assert_eq!(quote("certplan"), "\"certplan\"");
        assert_eq!(quote("a\"; DROP SCHEMA x; --"), "\"a\"\"; DROP SCHEMA x; --\"");
        assert!(valid_schema_name(&"x".repeat(63)).is_ok());
        assert!(valid_schema_name(&"x".repeat(64)).is_err());
        assert!(valid_schema_name("").is_err());
    }
}
