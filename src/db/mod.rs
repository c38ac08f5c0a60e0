//! The database: connection pool, embedded migrations, the embedded PostgreSQL cluster, and the
//! query timing every repository function goes through.
//!
//! Queries are written with sqlx's runtime `query_as` + `FromRow` rather than the compile-time
//! `query!` macros: the macros need a live database or a committed `.sqlx` cache at build time,
//! and every repository function here is exercised against a real PostgreSQL by the test suite
//! instead, which catches the same mistakes without coupling the build to a database.

pub mod embedded;
pub mod query_stats;
pub mod stat_statements;
pub mod text_enum;
pub mod total;

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

/// The migrations, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Queries slower than this are logged; set once at start-up.
static SLOW_QUERY_MICROS: AtomicU64 = AtomicU64::new(250_000);

/// Sets the slow-query threshold.
pub fn set_slow_query_threshold(threshold: Duration) {
    SLOW_QUERY_MICROS.store(threshold.as_micros() as u64, Ordering::Relaxed);
}

/// Runs one labelled query, records its latency under the label (`db_query_duration_seconds`,
/// and this node's [`query_stats`]) and logs it when slower than the threshold. Every
/// repository function goes through here, so the metrics and the slow-query log know every
/// statement by name.
pub async fn timed<T>(
    label: &'static str,
    query: impl Future<Output = sqlx::Result<T>>,
) -> sqlx::Result<T> {
    let started = Instant::now();
    let result = query.await;
    let elapsed = started.elapsed();
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::histogram!("db_query_duration_seconds", "query" => label, "outcome" => outcome)
        .record(elapsed.as_secs_f64());
    query_stats::record(label, elapsed, result.is_ok());
    if elapsed.as_micros() as u64 >= SLOW_QUERY_MICROS.load(Ordering::Relaxed) {
        tracing::warn!(
            query = label,
            elapsed_ms = elapsed.as_millis() as u64,
            "slow query {label} took {} ms",
            elapsed.as_millis()
        );
    }
    result
}

/// The id a search names when it is a number (`42`): searches match it beside the text.
pub fn search_number(search: &str) -> Option<i32> {
    search.trim().parse().ok()
}

/// `term` as a `LIKE` pattern matching what begins with it, its `%`, `_` and `\` taken
/// literally.
pub fn prefix_pattern(term: &str) -> String {
    let mut pattern = contains_pattern(term);
    pattern.remove(0);
    pattern
}

/// `term` as an `ILIKE` pattern matching it anywhere, its `%`, `_` and `\` taken literally (a
/// search for `50%` finds "50%", not everything starting with 50).
pub fn contains_pattern(term: &str) -> String {
    let mut pattern = String::with_capacity(term.len() + 2);
    pattern.push('%');
    for c in term.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Opens a pool on `url`.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = url
        .parse::<PgConnectOptions>()
        .context("DATABASE_URL is not a valid PostgreSQL URL")?
        // sqlx logs every statement at info by default; our own `timed` covers that.
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Debug, Duration::from_secs(1));
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect_with(options)
        .await
        .context("connecting to PostgreSQL")
}

/// Applies the pending migrations; applying them again does nothing.
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    MIGRATOR
        .run(pool)
        .await
        .context("applying database migrations")
}

/// Why the database is not ready to serve.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("database unreachable: {0}")]
    Unreachable(#[source] sqlx::Error),
    #[error("database schema is behind: {missing} migration(s) not applied")]
    MigrationsPending { missing: usize },
}

/// Checks the database answers and has every migration this binary knows.
pub async fn check_ready(pool: &PgPool) -> Result<(), NotReady> {
    let applied: Vec<i64> = timed(
        "readiness.applied_migrations",
        sqlx::query_scalar("select version from _sqlx_migrations where success").fetch_all(pool),
    )
    .await
    .map_err(|err| match &err {
        // No migrations table yet: reachable, but nothing applied.
        sqlx::Error::Database(db) if db.code().as_deref() == Some("42P01") => {
            NotReady::MigrationsPending {
                missing: MIGRATOR.iter().count(),
            }
        }
        _ => NotReady::Unreachable(err),
    })?;
    let missing = MIGRATOR
        .iter()
        .filter(|m| m.migration_type.is_up_migration() && !applied.contains(&m.version))
        .count();
    if missing > 0 {
        return Err(NotReady::MigrationsPending { missing });
    }
    Ok(())
}

/// The database a command works on: the pool, and the embedded cluster behind it when no
/// `DATABASE_URL` was given (stopped by [`Database::close`]).
pub struct Database {
    pub pool: PgPool,
    cluster: Option<embedded::EmbeddedCluster>,
}

impl Database {
    /// Connects to `DATABASE_URL`, or starts the embedded cluster in `<data-dir>/postgres`.
    pub async fn open(common: &crate::config::CommonConfig) -> anyhow::Result<Self> {
        use secrecy::ExposeSecret;
        set_slow_query_threshold(Duration::from_millis(common.slow_query_ms));
        match &common.database_url {
            Some(url) => {
                let pool = connect(url.expose_secret(), common.db_max_connections).await?;
                Ok(Self {
                    pool,
                    cluster: None,
                })
            }
            None => {
                let cluster = embedded::EmbeddedCluster::start(&common.data_dir)
                    .await
                    .context(
                        "starting the embedded PostgreSQL (set DATABASE_URL to use another)",
                    )?;
                match connect(cluster.database_url(), common.db_max_connections).await {
                    Ok(pool) => Ok(Self {
                        pool,
                        cluster: Some(cluster),
                    }),
                    Err(err) => {
                        let _ = cluster.stop().await;
                        Err(err)
                    }
                }
            }
        }
    }

    /// The embedded cluster behind the pool, when no `DATABASE_URL` was given.
    pub fn embedded(&self) -> Option<&embedded::EmbeddedCluster> {
        self.cluster.as_ref()
    }

    /// Closes the pool and stops the embedded cluster if this process started it.
    pub async fn close(self) {
        self.pool.close().await;
        if let Some(cluster) = self.cluster
            && let Err(err) = cluster.stop().await
        {
            tracing::error!("stopping the embedded PostgreSQL failed: {err:#}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_patterns_take_wildcards_literally() {
        assert_eq!(contains_pattern("ali"), "%ali%");
        assert_eq!(contains_pattern(r"50%_\x"), r"%50\%\_\\x%");
    }
}
