//! The dashboard's charts: revenue per day (30 days) and per month (12 months), orders and new
//! customers per day, active services by plan and by location, renewals collected against
//! lapsed per month. Days and months are Pakistan's (PKT). Each series reads one index range
//! (migrations 20261205000009 and 20261212000028), so a shop of a million orders pays for the
//! window drawn, not for its history.

use chrono::{Datelike, NaiveDate};
use sqlx::PgPool;

use crate::db::timed;
use crate::web::bars::{BarChart, Column, RankChart, count};

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

/// Per PKT day of the last [`DAYS`]: revenue, orders paid, orders placed, new customers.
async fn days(db: &PgPool) -> sqlx::Result<Vec<(NaiveDate, i64, i64, i64, i64)>> {
    timed(
        "dashboard.trend_days",
        sqlx::query_as(
            "with bounds as (
                 select (now() at time zone 'Asia/Karachi')::date - ($1 - 1) as first_day
             ),
             days as (
                 select generate_series(first_day, first_day + ($1 - 1), interval '1 day')::date
                        as day
                 from bounds
             ),
             since as (select first_day::timestamp at time zone 'Asia/Karachi' as at from bounds),
             paid as (
                 select (paid_at at time zone 'Asia/Karachi')::date as day,
                        sum(final_amount_pkr)::bigint as revenue, count(*) as orders
                 from orders, since
                 where status in ('paid', 'processing', 'active') and paid_at >= since.at
                 group by 1
             ),
             placed as (
                 select (created_at at time zone 'Asia/Karachi')::date as day, count(*) as orders
                 from orders, since where created_at >= since.at group by 1
             ),
             joined as (
                 select (created_at at time zone 'Asia/Karachi')::date as day, count(*) as users
                 from users, since where created_at >= since.at group by 1
             )
             select d.day, coalesce(p.revenue, 0), coalesce(p.orders, 0),
                    coalesce(o.orders, 0), coalesce(j.users, 0)
             from days d
             left join paid p using (day)
             left join placed o using (day)
             left join joined j using (day)
             order by d.day",
        )
        .bind(DAYS)
        .fetch_all(db),
    )
    .await
}

/// The PKT months from `$1 - 1` months ago to this one (`bounds.first_month`, `months.month`),
/// the start of a statement per month.
macro_rules! months_cte {
    () => {
        "with bounds as (
             select date_trunc('month', now() at time zone 'Asia/Karachi')
                    - make_interval(months => $1 - 1) as first_month
         ),
         months as (
             select generate_series(first_month, first_month + make_interval(months => $1 - 1),
                                    interval '1 month')::date as month
             from bounds
         ), "
    };
}

/// Revenue per PKT month of the last [`MONTHS`] (this one included).
async fn months(db: &PgPool) -> sqlx::Result<Vec<(NaiveDate, i64)>> {
    timed(
        "dashboard.trend_months",
        sqlx::query_as(concat!(
            months_cte!(),
            "paid as (
                 select date_trunc('month', paid_at at time zone 'Asia/Karachi')::date as month,
                        sum(final_amount_pkr)::bigint as revenue
                 from orders, bounds
                 where status in ('paid', 'processing', 'active')
                   and paid_at >= bounds.first_month at time zone 'Asia/Karachi'
                 group by 1
             )
             select m.month, coalesce(p.revenue, 0)
             from months m left join paid p using (month)
             order by m.month"
        ))
        .bind(MONTHS)
        .fetch_all(db),
    )
    .await
}

/// Renewal orders paid and lapsed (cancelled or expired unpaid) per PKT month.
async fn renewals(db: &PgPool) -> sqlx::Result<Vec<(NaiveDate, i64, i64)>> {
    timed(
        "dashboard.trend_renewals",
        sqlx::query_as(concat!(
            months_cte!(),
            "collected as (
                 select date_trunc('month', paid_at at time zone 'Asia/Karachi')::date as month,
                        count(*) as n
                 from orders, bounds
                 where kind = 'renewal' and status in ('paid', 'processing', 'active')
                   and paid_at >= bounds.first_month at time zone 'Asia/Karachi'
                 group by 1
             ),
             lapsed as (
                 select date_trunc('month', cancelled_at at time zone 'Asia/Karachi')::date
                        as month,
                        count(*) as n
                 from orders, bounds
                 where kind = 'renewal' and status in ('cancelled', 'expired')
                   and cancelled_at >= bounds.first_month at time zone 'Asia/Karachi'
                 group by 1
             )
             select m.month, coalesce(c.n, 0), coalesce(l.n, 0)
             from months m
             left join collected c using (month)
             left join lapsed l using (month)
             order by m.month"
        ))
        .bind(RENEWAL_MONTHS)
        .fetch_all(db),
    )
    .await
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
