//! Versioned schema migrations, embedded in the binary and applied at open inside one transaction.

use std::path::Path;

use rusqlite::Connection;

use crate::store::error::StoreError;

/// One step of the schema, kept as a SQL file under `migrations/`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub sql: &'static str,
}

/// Every migration, in order. Append only: a released migration is never edited.
pub const MIGRATIONS: &[Migration] = &[
    Migration { version: 1, name: "initial", sql: include_str!("../../../migrations/0001_initial.sql") },
    Migration {
        version: 2,
        name: "engine_checkpoint",
        sql: include_str!("../../../migrations/0002_engine_checkpoint.sql"),
    },
    Migration { version: 3, name: "redemptions", sql: include_str!("../../../migrations/0003_redemptions.sql") },
    Migration { version: 4, name: "market_names", sql: include_str!("../../../migrations/0004_market_names.sql") },
    Migration { version: 5, name: "silences", sql: include_str!("../../../migrations/0005_silences.sql") },
    Migration { version: 6, name: "plan_decisions", sql: include_str!("../../../migrations/0006_plan_decisions.sql") },
    Migration { version: 7, name: "plan_orders", sql: include_str!("../../../migrations/0007_plan_orders.sql") },
];

/// The schema version this binary creates and understands.
pub fn latest_version() -> i64 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Brings the schema up to [`latest_version`]; returns the versions applied now (empty when current).
/// Refuses a database written by a newer binary rather than guess at its schema.
pub(crate) fn migrate(conn: &Connection, path: &Path) -> Result<Vec<i64>, StoreError> {
    // IMMEDIATE takes the write lock first, so two processes cannot both apply the same step.
    conn.execute_batch("BEGIN IMMEDIATE").map_err(StoreError::sqlite("starting the migration transaction"))?;
    match apply_pending(conn, path) {
        Ok(applied) => {
            conn.execute_batch("COMMIT").map_err(StoreError::sqlite("committing the migrations"))?;
            Ok(applied)
        }
        Err(e) => {
            // The transaction is abandoned as a whole; a rollback failure adds nothing to the report.
            let _ = conn.execute_batch("ROLLBACK");
            Err(e)
        }
    }
}

fn apply_pending(conn: &Connection, path: &Path) -> Result<Vec<i64>, StoreError> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
             version    INTEGER PRIMARY KEY,
             name       TEXT NOT NULL,
             applied_at INTEGER NOT NULL
         ) STRICT",
    )
    .map_err(StoreError::sqlite("creating the schema_version table"))?;
    let current: i64 = conn
        .query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |row| row.get(0))
        .map_err(StoreError::sqlite("reading the schema version"))?;
    let supported = latest_version();
    if current > supported {
        return Err(StoreError::SchemaTooNew { path: path.to_path_buf(), found: current, supported });
    }
    let mut applied = Vec::new();
    for migration in MIGRATIONS.iter().filter(|m| m.version > current) {
        let failed = |e: rusqlite::Error| StoreError::Migration {
            version: migration.version,
            name: migration.name,
            message: e.to_string(),
        };
        conn.execute_batch(migration.sql).map_err(failed)?;
        conn.execute(
            "INSERT INTO schema_version (version, name, applied_at)
             VALUES (?1, ?2, CAST(unixepoch('subsec') * 1000 AS INTEGER))",
            (migration.version, migration.name),
        )
        .map_err(failed)?;
        applied.push(migration.version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_start_at_one_and_increase_by_one() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i64 + 1, "{}", migration.name);
            let upper = migration.sql.to_ascii_uppercase();
            assert!(!upper.contains("BEGIN") && !upper.contains("COMMIT"), "the runner owns the transaction");
        }
    }

    #[test]
    fn migrating_twice_applies_nothing_the_second_time() {
        let conn = Connection::open_in_memory().unwrap();
        assert_eq!(migrate(&conn, Path::new(":memory:")).unwrap(), [1, 2, 3, 4, 5, 6, 7]);
        assert!(migrate(&conn, Path::new(":memory:")).unwrap().is_empty());
        let rows: i64 = conn.query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 7);
    }

    #[test]
    fn a_newer_schema_is_refused_and_left_alone() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn, Path::new("x.db")).unwrap();
        conn.execute("INSERT INTO schema_version VALUES (99, 'future', 0)", []).unwrap();
        let err = migrate(&conn, Path::new("x.db")).unwrap_err();
        assert_eq!(err, StoreError::SchemaTooNew { path: "x.db".into(), found: 99, supported: 7 });
        let rows: i64 = conn.query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0)).unwrap();
        assert_eq!(rows, 8);
    }

    /// The allowed-value lists are `=` chains (see the note in `0001_initial.sql`): they must still
    /// accept exactly the listed values, and no statement that writes a row may build a temporary b-tree.
    #[test]
    fn value_lists_accept_exactly_their_values_without_temporary_btrees() {
        let conn = Connection::open_in_memory().unwrap();
        migrate(&conn, Path::new(":memory:")).unwrap();
        let decision = |value: &str| {
            conn.execute(
                "INSERT INTO decision_audit (whale_trade_key, wallet, market_id, token_id, decision, reason_code,
                 decided_at) VALUES ('k', 'w', 'm', 't', ?1, 'r', 0)",
                [value],
            )
        };
        for value in ["approved", "rejected", "skipped"] {
            decision(value).unwrap();
        }
        assert!(decision("maybe").is_err());
        let order = |id: &str, status: &str| {
            conn.execute(
                "INSERT INTO orders VALUES (?1, NULL, NULL, NULL, 't', 'buy', '0.5', '1', 'entry', ?2, 0, 0)",
                [id, status],
            )
        };
        let statuses = ["pending", "submitted", "partially_filled", "filled", "cancelled", "rejected", "unknown"];
        for (i, status) in statuses.iter().enumerate() {
            order(&format!("o{i}"), status).unwrap();
        }
        assert!(order("o9", "lost").is_err());
        for sql in [
            "INSERT INTO orders VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            "UPDATE orders SET status = ?2, updated_at = ?3 WHERE client_order_id = ?1",
            "INSERT INTO decision_audit VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            "INSERT INTO seen_whale_trades VALUES (?1, ?2, ?3, ?4)",
            "INSERT INTO positions VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        ] {
            let mut plan = conn.prepare(&format!("EXPLAIN {sql}")).unwrap();
            let mut rows = plan.raw_query(); // EXPLAIN runs nothing: the parameters stay unbound
            let mut opcodes = Vec::new();
            while let Some(row) = rows.next().unwrap() {
                opcodes.push(row.get::<_, String>(1).unwrap());
            }
            assert!(opcodes.len() > 5, "{sql}: {opcodes:?}");
            assert!(!opcodes.iter().any(|op| op == "OpenEphemeral"), "{sql} builds a temporary b-tree");
        }
    }
}
