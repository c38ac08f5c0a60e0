//! The dashboard's charts: revenue per day (30 days) and per month (12 months), orders and new
//! customers per day, active services by plan and by location, renewals collected against
//! lapsed per month. Days and months are Pakistan's (PKT). Each series reads one index range
//! (migrations 20261205000009 and 20261212000028), so a shop of a million orders pays for the
//! window drawn, not for its history.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use sqlx::PgPool;

use crate::db::timed;
use crate::web::bars::{BarChart, Column, RankChart, count};
use crate::web::forms::{pkt_midnight, pkt_today};

/// Days in the daily charts, months in the revenue chart, months in the renewals chart.
pub const DAYS: i32 = 30;
pub const MONTHS: i32 = 12;
pub const RENEWAL_MONTHS: i32 = 6;

/// Every chart of the dashboard.
pub struct Trends {
    pub revenue_days: BarChart,
    pub revenue_months: BarChart,
    pub orders_days: BarChart,
    pub customers_days: BarChart,
    pub renewals: BarChart,
    pub by_plan: RankChart,
    pub by_location: RankChart,
}

fn rupees(value: i64) -> String {
    crate::money::format_pkr(crate::money::Pkr(value))
}

fn day_label(day: NaiveDate) -> String {
    day.format("%-d %b").to_string()
}

fn month_label(month: NaiveDate) -> String {
    if month.month() == 1 {
        month.format("%b %Y").to_string()
    } else {
        month.format("%b").to_string()
    }
}

/// `(bucket, sum, count)` rows of one grouped range read, into a map by bucket.
type Buckets = BTreeMap<NaiveDate, (i64, i64)>;

/// Runs a grouped read of `sql` (`$1`: the range's start) and keys its rows by bucket. Planned
/// with the value (`persistent(false)`): the planner then expects the window's rows, not a
/// third of the table — an estimate that large made PostgreSQL JIT-compile the statement,
/// 200 ms at a million orders for a 30 ms read.
async fn buckets(
    db: &PgPool,
    label: &'static str,
    sql: &'static str,
    since: DateTime<Utc>,
) -> sqlx::Result<Buckets> {
    let rows: Vec<(NaiveDate, i64, i64)> = timed(
        label,
        sqlx::query_as(sql)
            .persistent(false)
            .bind(since)
            .fetch_all(db),
    )
    .await?;
    Ok(rows
        .into_iter()
        .map(|(day, sum, n)| (day, (sum, n)))
        .collect())
}

/// Per PKT day of the last [`DAYS`]: revenue, orders paid, orders placed, new customers.
async fn days(db: &PgPool) -> sqlx::Result<Vec<(NaiveDate, i64, i64, i64, i64)>> {
    let first = pkt_today() - Duration::days(i64::from(DAYS) - 1);
    let since = pkt_midnight(first);
    let paid = buckets(
        db,
        "dashboard.trend_paid_days",
        "select (paid_at at time zone 'Asia/Karachi')::date, sum(final_amount_pkr)::bigint,
                count(*)
         from orders
         where status in ('paid', 'processing', 'active') and paid_at >= $1
         group by 1",
        since,
    )
    .await?;
    let placed = buckets(
        db,
        "dashboard.trend_placed_days",
        "select (created_at at time zone 'Asia/Karachi')::date, 0::bigint, count(*)
         from orders where created_at >= $1 group by 1",
        since,
    )
    .await?;
    let joined = buckets(
        db,
        "dashboard.trend_customers_days",
        "select (created_at at time zone 'Asia/Karachi')::date, 0::bigint, count(*)
         from users where created_at >= $1 group by 1",
        since,
    )
    .await?;
    Ok((0..i64::from(DAYS))
        .map(|n| {
            let day = first + Duration::days(n);
            let (revenue, paid_orders) = paid.get(&day).copied().unwrap_or_default();
            let placed = placed.get(&day).map_or(0, |b| b.1);
            let joined = joined.get(&day).map_or(0, |b| b.1);
            (day, revenue, paid_orders, placed, joined)
        })
        .collect())
}

/// The first day of each of the last `n` PKT months, oldest first.
fn last_months(n: i32) -> Vec<NaiveDate> {
    let today = pkt_today();
    let mut month = today.with_day(1).unwrap_or(today);
    let mut months = vec![month];
    for _ in 1..n {
        month = (month - Duration::days(1)).with_day(1).unwrap_or(month);
        months.push(month);
    }
    months.reverse();
    months
}

/// Revenue per PKT month of the last [`MONTHS`] (this one included).
async fn months(db: &PgPool) -> sqlx::Result<Vec<(NaiveDate, i64)>> {
    let months = last_months(MONTHS);
    let paid = buckets(
        db,
        "dashboard.trend_months",
        "select date_trunc('month', paid_at at time zone 'Asia/Karachi')::date,
                sum(final_amount_pkr)::bigint, count(*)
         from orders
         where status in ('paid', 'processing', 'active') and paid_at >= $1
         group by 1",
        pkt_midnight(months[0]),
    )
    .await?;
    Ok(months
        .into_iter()
        .map(|m| (m, paid.get(&m).map_or(0, |b| b.0)))
        .collect())
}

/// Renewal orders paid and lapsed (cancelled or expired unpaid) per PKT month.
async fn renewals(db: &PgPool) -> sqlx::Result<Vec<(NaiveDate, i64, i64)>> {
    let months = last_months(RENEWAL_MONTHS);
    let since = pkt_midnight(months[0]);
    let collected = buckets(
        db,
        "dashboard.trend_renewals_collected",
        "select date_trunc('month', paid_at at time zone 'Asia/Karachi')::date, 0::bigint,
                count(*)
         from orders
         where kind = 'renewal' and status in ('paid', 'processing', 'active') and paid_at >= $1
         group by 1",
        since,
    )
    .await?;
    let lapsed = buckets(
        db,
        "dashboard.trend_renewals_lapsed",
        "select date_trunc('month', cancelled_at at time zone 'Asia/Karachi')::date, 0::bigint,
                count(*)
         from orders
         where kind = 'renewal' and status in ('cancelled', 'expired') and cancelled_at >= $1
         group by 1",
        since,
    )
    .await?;
    Ok(months
        .into_iter()
        .map(|m| {
            (
                m,
                collected.get(&m).map_or(0, |b| b.1),
                lapsed.get(&m).map_or(0, |b| b.1),
            )
        })
        .collect())
}

/// Active services per plan and per location, most first.
async fn active_services(db: &PgPool) -> sqlx::Result<(Vec<(String, i64)>, Vec<(String, i64)>)> {
    let counts: Vec<(Option<String>, Option<i32>, i64)> = timed(
        "dashboard.active_services",
        sqlx::query_as(
            "select plan_id, location_id, count(*) from services where status = 'active'
             group by plan_id, location_id",
        )
        .fetch_all(db),
    )
    .await?;
    let plans: Vec<(String, String)> = timed(
        "dashboard.plan_names",
        sqlx::query_as("select id, name from plans").fetch_all(db),
    )
    .await?;
    let locations: Vec<(i32, String)> = timed(
        "dashboard.location_names",
        sqlx::query_as("select id, name from locations").fetch_all(db),
    )
    .await?;
    let mut by_plan = std::collections::BTreeMap::<String, i64>::new();
    let mut by_location = std::collections::BTreeMap::<String, i64>::new();
    for (plan, location, n) in counts {
        let plan_name = plan
            .as_deref()
            .map(|id| {
                plans
                    .iter()
                    .find(|(p, _)| p == id)
                    .map_or_else(|| id.to_owned(), |(_, name)| name.clone())
            })
            .unwrap_or_else(|| "No plan".to_owned());
        let location_name = location
            .and_then(|id| locations.iter().find(|(l, _)| *l == id))
            .map_or_else(|| "No location".to_owned(), |(_, name)| name.clone());
        *by_plan.entry(plan_name).or_default() += n;
        *by_location.entry(location_name).or_default() += n;
    }
    let ranked = |map: std::collections::BTreeMap<String, i64>| {
        let mut rows: Vec<(String, i64)> = map.into_iter().collect();
        rows.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        rows.truncate(12);
        rows
    };
    Ok((ranked(by_plan), ranked(by_location)))
}

/// Reads every chart's numbers.
pub async fn trends(db: &PgPool) -> sqlx::Result<Trends> {
    let days = days(db).await?;
    let months = months(db).await?;
    let renewals = renewals(db).await?;
    let (by_plan, by_location) = active_services(db).await?;
    let daily = |pick: fn(&(NaiveDate, i64, i64, i64, i64)) -> i64| -> Vec<Column> {
        days.iter()
            .map(|row| Column {
                label: day_label(row.0),
                values: vec![pick(row)],
            })
            .collect()
    };
    Ok(Trends {
        revenue_days: BarChart {
            id: "chart-revenue-days",
            title: "Revenue per day, last 30 days",
            series: vec!["Revenue"],
            columns: daily(|r| r.1),
            format: rupees,
        },
        revenue_months: BarChart {
            id: "chart-revenue-months",
            title: "Revenue per month, last 12 months",
            series: vec!["Revenue"],
            columns: months
                .iter()
                .map(|(month, revenue)| Column {
                    label: month_label(*month),
                    values: vec![*revenue],
                })
                .collect(),
            format: rupees,
        },
        orders_days: BarChart {
            id: "chart-orders-days",
            title: "Orders per day, last 30 days",
            series: vec!["Placed", "Paid"],
            columns: days
                .iter()
                .map(|row| Column {
                    label: day_label(row.0),
                    values: vec![row.3, row.2],
                })
                .collect(),
            format: count,
        },
        customers_days: BarChart {
            id: "chart-customers-days",
            title: "New customers per day, last 30 days",
            series: vec!["New customers"],
            columns: daily(|r| r.4),
            format: count,
        },
        renewals: BarChart {
            id: "chart-renewals",
            title: "Renewals collected and lapsed per month",
            series: vec!["Collected", "Lapsed"],
            columns: renewals
                .iter()
                .map(|(month, collected, lapsed)| Column {
                    label: month_label(*month),
                    values: vec![*collected, *lapsed],
                })
                .collect(),
            format: count,
        },
        by_plan: RankChart {
            id: "chart-by-plan",
            title: "Active services by plan",
            rows: by_plan,
            format: count,
        },
        by_location: RankChart {
            id: "chart-by-location",
            title: "Active services by location",
            rows: by_location,
            format: count,
        },
    })
}
