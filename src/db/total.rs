//! The totals of the operator's lists, whose cost does not grow with the tables: counted
//! exactly up to [`EXACT_UP_TO`] matching rows, and beyond that the planner's estimate of the
//! same filtered query (`EXPLAIN`, planned with the request's values), marked as an estimate.
//!
//! An exact `count(*)` reads every matching row — 35 ms for a million orders on every first page
//! of the operator's list, more as the shop grows — to print a number nobody pages to the end
//! of. Counting through `limit 10001` reads at most 10,001 index entries (about a millisecond);
//! the estimate costs one planning. Below the bound the total is what it always was, so a small
//! shop, and every test, sees exact totals. Considered: keyset pages with "more" and no total
//! (the API's `total` is a contract integrations page with), and `pg_class.reltuples` (knows
//! nothing of the filters).

use sqlx::postgres::PgArguments;
use sqlx::query::Query;
use sqlx::{PgPool, Postgres, Row};

use super::timed;

/// Lists count their matching rows exactly up to this many; beyond, they estimate.
pub const EXACT_UP_TO: i64 = 10_000;

/// How many rows a list's filters match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Total {
    /// Exact when `exact`; otherwise the planner's estimate, never under [`EXACT_UP_TO`] + 1.
    pub count: i64,
    /// False when more than [`EXACT_UP_TO`] rows match and `count` is an estimate.
    pub exact: bool,
}

impl Total {
    /// The total as a page prints it: `1,234`, or `about 1,000,000` for an estimate.
    pub fn describe(&self) -> String {
        let count = crate::money::group_thousands(self.count);
        if self.exact {
            count
        } else {
            format!("about {count}")
        }
    }
}

/// The two statements of a bounded total over one `from … where …` clause: made by
/// [`total_sql!`](crate::total_sql) from a literal, so both read the same rows.
#[derive(Clone, Copy, Debug)]
pub struct TotalSql {
    pub label: &'static str,
    pub estimate_label: &'static str,
    /// `select count(*)` of at most `EXACT_UP_TO + 1` matching rows.
    pub capped: &'static str,
    /// `explain (format json)` of the matching rows.
    pub estimate: &'static str,
}

/// The [`TotalSql`] of a `from … where …` literal (or a macro that expands to one), under a
/// query label.
#[macro_export]
macro_rules! total_sql {
    ($label:literal, $($from_where:tt)+) => {
        $crate::db::total::TotalSql {
            label: $label,
            estimate_label: concat!($label, ".estimate"),
            // The limit is EXACT_UP_TO + 1 (a unit test holds them together).
            capped: concat!(
                "select count(*) from (select 1 ",
                $($from_where)+,
                " limit 10001) as matching"
            ),
            estimate: concat!("explain (format json) select 1 ", $($from_where)+),
        }
    };
}

/// Counts the rows `sql` matches with the parameters `bind` adds: exactly up to
/// [`EXACT_UP_TO`], else the planner's estimate. Both statements are planned with the values
/// (the filters are optional: ARCHITECTURE.md, "A request").
pub async fn count(
    db: &PgPool,
    sql: TotalSql,
    bind: impl Fn(Query<'static, Postgres, PgArguments>) -> Query<'static, Postgres, PgArguments>,
) -> sqlx::Result<Total> {
    let capped = capped(db, &sql, &bind).await?;
    if capped <= EXACT_UP_TO {
        return Ok(Total {
            count: capped,
            exact: true,
        });
    }
    Ok(Total {
        count: estimate(db, &sql, &bind).await?.max(EXACT_UP_TO + 1),
        exact: false,
    })
}

/// Counts the rows `sql` matches, asking the planner first: where it expects
/// [`EXACT_UP_TO`] rows or more, its estimate is the answer and nothing is read; otherwise the
/// rows are counted as [`count`] does. For figures shown together (the dashboard), where a
/// large one would otherwise read 10,001 index entries just to be called "about".
pub async fn count_unless_large(
    db: &PgPool,
    sql: TotalSql,
    bind: impl Fn(Query<'static, Postgres, PgArguments>) -> Query<'static, Postgres, PgArguments>,
) -> sqlx::Result<Total> {
    let planned = estimate(db, &sql, &bind).await?;
    if planned >= EXACT_UP_TO {
        return Ok(Total {
            count: planned,
            exact: false,
        });
    }
    let capped = capped(db, &sql, &bind).await?;
    Ok(if capped <= EXACT_UP_TO {
        Total {
            count: capped,
            exact: true,
        }
    } else {
        Total {
            count: planned.max(EXACT_UP_TO + 1),
            exact: false,
        }
    })
}

async fn capped(
    db: &PgPool,
    sql: &TotalSql,
    bind: &impl Fn(Query<'static, Postgres, PgArguments>) -> Query<'static, Postgres, PgArguments>,
) -> sqlx::Result<i64> {
    timed(
        sql.label,
        bind(sqlx::query(sql.capped))
            .persistent(false)
            .fetch_one(db),
    )
    .await?
    .try_get(0)
}

async fn estimate(
    db: &PgPool,
    sql: &TotalSql,
    bind: &impl Fn(Query<'static, Postgres, PgArguments>) -> Query<'static, Postgres, PgArguments>,
) -> sqlx::Result<i64> {
    let plan: serde_json::Value = timed(
        sql.estimate_label,
        bind(sqlx::query(sql.estimate))
            .persistent(false)
            .fetch_one(db),
    )
    .await?
    .try_get(0)?;
    Ok(planned_rows(&plan))
}

/// The rows the top node of an `explain (format json)` plan expects.
fn planned_rows(plan: &serde_json::Value) -> i64 {
    plan[0]["Plan"]["Plan Rows"]
        .as_f64()
        .map_or(0, |rows| rows.round() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_capped_count_reads_one_row_past_the_bound() {
        let sql = crate::total_sql!("t.count", "from t where x = $1");
        assert_eq!(
            sql.capped,
            format!(
                "select count(*) from (select 1 from t where x = $1 limit {}) as matching",
                EXACT_UP_TO + 1
            )
        );
        assert_eq!(
            sql.estimate,
            "explain (format json) select 1 from t where x = $1"
        );
        assert_eq!(sql.estimate_label, "t.count.estimate");
    }

    #[test]
    fn an_estimate_is_read_off_the_top_plan_node() {
        let plan = serde_json::json!([{"Plan": {"Node Type": "Seq Scan", "Plan Rows": 998213.0}}]);
        assert_eq!(planned_rows(&plan), 998_213);
        assert_eq!(planned_rows(&serde_json::json!([])), 0);
    }

    #[test]
    fn a_total_says_when_it_is_an_estimate() {
        let exact = Total {
            count: 1234,
            exact: true,
        };
        let estimate = Total {
            count: 1_000_000,
            exact: false,
        };
        assert_eq!(exact.describe(), "1,234");
        assert_eq!(estimate.describe(), "about 1,000,000");
    }
}
