//! Reads `pg_stat_statements` (the server's own per-statement figures, across every node) when
//! the extension is installed in this database.

use sqlx::{FromRow, PgPool};

use super::timed;

/// One statement as `pg_stat_statements` normalises it (literals replaced by `$n`).
#[derive(Clone, Debug, FromRow)]
pub struct Statement {
    pub query: String,
    pub calls: i64,
    pub total_ms: f64,
    pub mean_ms: f64,
    pub rows: i64,
}

/// The schema the extension lives in, or `None` when it is not installed here.
pub async fn extension_schema(db: &PgPool) -> sqlx::Result<Option<String>> {
    timed(
        "stat_statements.extension_schema",
        sqlx::query_scalar(
            "select n.nspname::text from pg_extension e
             join pg_namespace n on n.oid = e.extnamespace
             where e.extname = 'pg_stat_statements'",
        )
        .fetch_optional(db),
    )
    .await
}

/// Which figure the top list is ordered by.
#[derive(Clone, Copy, Debug)]
pub enum Order {
    TotalTime,
    MeanTime,
}

/// The `limit` statements of this database with the most total (or mean) execution time. Fails
/// when the extension exists but is not loaded (`shared_preload_libraries`).
pub async fn top(
    db: &PgPool,
    schema: &str,
    order: Order,
    limit: i64,
) -> sqlx::Result<Vec<Statement>> {
    let (label, column) = match order {
        Order::TotalTime => ("stat_statements.top_by_total", "total_exec_time"),
        Order::MeanTime => ("stat_statements.top_by_mean", "mean_exec_time"),
    };
    // Built at run time: the view's schema is wherever the extension was created (quoted as
    // an identifier), and the order column is one of the two fixed names above.
    let sql = format!(
        "select s.query, s.calls, s.total_exec_time as total_ms,
                s.mean_exec_time as mean_ms, s.rows
         from {}.pg_stat_statements s
         where s.dbid = (select oid from pg_database where datname = current_database())
         order by s.{column} desc
         limit $1",
        quote_identifier(schema)
    );
    let sql = sqlx::AssertSqlSafe(sql);
    timed(label, sqlx::query_as(sql).bind(limit).fetch_all(db)).await
}

/// `name` as a PostgreSQL identifier: double-quoted, inner quotes doubled.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::quote_identifier;

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(quote_identifier("public"), "\"public\"");
        assert_eq!(quote_identifier("we\"ird"), "\"we\"\"ird\"");
    }
}
