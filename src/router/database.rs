//! The operator's `/admin/database` page: this node's figures per query label since it started
//! (count, p50/p95/max from [`super::query_stats`]), the connection pool, and — when the
//! `pg_stat_statements` extension is available — the server's top statements by total and by
//! mean time; otherwise how to enable it.

use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;

use crate::accounts::extract::PageAdmin;
use crate::app::AppState;
use crate::db::query_stats::{self, QueryFigures};
use crate::db::stat_statements::{self, Order, Statement};
use crate::error::AppResult;
use crate::web::pages::Layout;
use crate::web::pages::render_with;

/// Statements shown in each top list.
const TOP_STATEMENTS: i64 = 10;
/// Characters of a statement's text shown.
const STATEMENT_CHARS: usize = 400;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/database", get(database_page))
}

/// A query label as a row of the table.
struct LabelRow {
    label: &'static str,
    count: u64,
    errors: u64,
    total: String,
    mean: String,
    p50: String,
    p95: String,
    max: String,
}

impl From<QueryFigures> for LabelRow {
    fn from(figures: QueryFigures) -> Self {
        Self {
            label: figures.label,
            count: figures.count,
            errors: figures.errors,
            total: millis(figures.total),
            mean: millis(figures.mean),
            p50: millis(figures.p50),
            p95: millis(figures.p95),
            max: millis(figures.max),
        }
    }
}

/// A `pg_stat_statements` entry as a row.
struct StatementRow {
    query: String,
    calls: i64,
    total: String,
    mean: String,
    rows: i64,
}

impl From<Statement> for StatementRow {
    fn from(statement: Statement) -> Self {
        let mut query: String = statement.query.chars().take(STATEMENT_CHARS).collect();
        if statement.query.chars().count() > STATEMENT_CHARS {
            query.push('…');
        }
        Self {
            query,
            calls: statement.calls,
            total: millis(Duration::from_secs_f64(
                statement.total_ms.max(0.0) / 1000.0,
            )),
            mean: millis(Duration::from_secs_f64(statement.mean_ms.max(0.0) / 1000.0)),
            rows: statement.rows,
        }
    }
}

/// What the page can say about `pg_stat_statements`.
enum ServerStatements {
    /// The extension is not installed in this database.
    Missing,
    /// Installed, but reading it failed (typically: not in `shared_preload_libraries`).
    Unreadable(String),
    Top {
        by_total: Vec<StatementRow>,
        by_mean: Vec<StatementRow>,
    },
}

#[derive(Template)]
#[template(path = "admin/database.html")]
struct DatabasePage {
    layout: Layout,
    labels: Vec<LabelRow>,
    pool_size: u32,
    pool_idle: usize,
    pool_max: u32,
    statements: ServerStatements,
}

/// `/admin/database`.
async fn database_page(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
) -> AppResult<Response> {
    let statements = server_statements(&state).await?;
    render_with(
        StatusCode::OK,
        &DatabasePage {
            layout: Layout::for_page("Database", &admin.context),
            labels: query_stats::snapshot()
                .into_iter()
                .map(LabelRow::from)
                .collect(),
            pool_size: state.db.size(),
            pool_idle: state.db.num_idle(),
            pool_max: state.db.options().get_max_connections(),
            statements,
        },
    )
}

async fn server_statements(state: &AppState) -> AppResult<ServerStatements> {
    let Some(schema) = stat_statements::extension_schema(&state.db).await? else {
        return Ok(ServerStatements::Missing);
    };
    let top = async |order| {
        stat_statements::top(&state.db, &schema, order, TOP_STATEMENTS)
            .await
            .map(|rows| rows.into_iter().map(StatementRow::from).collect())
    };
    let read =
        async { Ok::<_, sqlx::Error>((top(Order::TotalTime).await?, top(Order::MeanTime).await?)) };
    Ok(match read.await {
        Ok((by_total, by_mean)) => ServerStatements::Top { by_total, by_mean },
        Err(err) => {
            tracing::warn!("reading pg_stat_statements failed: {err}");
            let why = match &err {
                sqlx::Error::Database(db) => db.message().to_owned(),
                other => other.to_string(),
            };
            ServerStatements::Unreadable(why)
        }
    })
}

/// A duration in milliseconds, with precision where it matters.
fn millis(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_milliseconds() {
        assert_eq!(millis(Duration::from_micros(420)), "0.42 ms");
        assert_eq!(millis(Duration::from_micros(12_345)), "12.3 ms");
        assert_eq!(millis(Duration::from_millis(2_500)), "2500 ms");
    }
}
