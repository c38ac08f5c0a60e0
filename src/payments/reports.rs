//! The revenue report: what paid orders brought in over PKT days, by plan, by location or by
//! payment method, with a CSV for the accountant.
//!
//! Revenue is each earning order's `final_amount_pkr` (paid, processing or active; by
//! `paid_at`), as on the dashboard. By plan or location an order's revenue is shared among its
//! lines in proportion to their list value (price × quantity × months) — a discount or a tax
//! falls on every line alike — rounded to the rupee, so the rows can differ from the total by a
//! rupee or two; the total is the orders' own sum.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgPool;
use utoipa::{IntoParams, ToSchema};

use crate::db::text_enum::text_enum;
use crate::db::timed;
use crate::error::{AppError, AppResult};
use crate::web::forms::{parse_day, pkt_midnight, pkt_today};

text_enum! {
    /// How the report groups revenue.
    pub enum ReportBy {
        Plan = "plan",
        Location = "location",
        Method = "method",
    }
}

/// The days a report covers, PKT, both included.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// From `from` to `to` (`YYYY-MM-DD`, PKT); blank `from` is the first of this month, blank
    /// `to` today. 400 naming the field that makes no sense; at most 3 years.
    pub fn parse(from: Option<&str>, to: Option<&str>) -> AppResult<Self> {
        let today = pkt_today();
        let to = parse_day("to", to)?.unwrap_or(today);
        let from = parse_day("from", from)?.unwrap_or_else(|| today.with_day0(0).unwrap_or(today));
        if to < from {
            return Err(AppError::bad_request("to", "must not be before from"));
        }
        if (to - from).num_days() > 3 * 366 {
            return Err(AppError::bad_request(
                "to",
                "a report covers at most 3 years",
            ));
        }
        Ok(Self { from, to })
    }

    fn start(&self) -> DateTime<Utc> {
        pkt_midnight(self.from)
    }

    fn end(&self) -> DateTime<Utc> {
        pkt_midnight(self.to + Duration::days(1))
    }
}

use chrono::Datelike;

/// The report's period and grouping.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// The first PKT day (`2026-12-01`); absent: the first of this month.
    pub from: Option<String>,
    /// The last PKT day, included; absent: today.
    pub to: Option<String>,
    /// `plan` (the default), `location` or `method`.
    #[param(value_type = Option<ReportBy>)]
    pub by: Option<String>,
}

impl ReportQuery {
    /// The period and grouping, or 400 naming the field.
    pub fn parse(&self) -> AppResult<(Period, ReportBy)> {
        let period = Period::parse(self.from.as_deref(), self.to.as_deref())?;
        let by = match self.by.as_deref().map(str::trim).filter(|b| !b.is_empty()) {
            None => ReportBy::Plan,
            Some(text) => ReportBy::parse(text).ok_or_else(|| {
                AppError::bad_request("by", format!("must be one of {}", ReportBy::spellings()))
            })?,
        };
        Ok((period, by))
    }
}

/// One row of the report.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ReportRow {
    /// The plan's id, the location's id or the payment method.
    pub key: String,
    /// What people call it.
    pub label: String,
    /// Orders with a line (or the method) in this row.
    pub orders: i64,
    pub revenue_pkr: i64,
}

/// The report.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Report {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub by: ReportBy,
    /// Most revenue first.
    pub rows: Vec<ReportRow>,
    /// Earning orders paid in the period.
    pub total_orders: i64,
    /// Their `final_amount_pkr`, summed.
    pub total_revenue_pkr: i64,
}

/// The revenue of `period` grouped `by`: a range of `orders_earning_paid_at_idx`, then the
/// period's items.
pub async fn revenue(db: &PgPool, period: Period, by: ReportBy) -> AppResult<Report> {
    let (start, end) = (period.start(), period.end());
    let (total_orders, total_revenue_pkr): (i64, i64) = timed(
        "reports.revenue_total",
        sqlx::query_as(
            "select count(*), coalesce(sum(final_amount_pkr), 0)::bigint from orders
             where status in ('paid', 'processing', 'active') and paid_at >= $1 and paid_at < $2",
        )
        .bind(start)
        .bind(end)
        .fetch_one(db),
    )
    .await?;
    let rows: Vec<(String, String, i64, i64)> = match by {
        ReportBy::Method => timed(
            "reports.revenue_by_method",
            sqlx::query_as(
                "select coalesce(payment_method, 'unknown'), coalesce(payment_method, 'unknown'),
                            count(*), coalesce(sum(final_amount_pkr), 0)::bigint
                     from orders
                     where status in ('paid', 'processing', 'active')
                       and paid_at >= $1 and paid_at < $2
                     group by 1 order by 4 desc, 1",
            )
            .bind(start)
            .bind(end)
            .fetch_all(db),
        )
        .await?,
        ReportBy::Plan | ReportBy::Location => {
            let key = if by == ReportBy::Plan {
                "coalesce(s.plan_id, '—')"
            } else {
                "coalesce(s.location_id::text, '—')"
            };
            let label = if by == ReportBy::Plan {
                "coalesce(max(p.name), max(s.plan_id), 'Unknown plan')"
            } else {
                "coalesce(max(l.name), 'Unknown location')"
            };
            let sql = format!(
                "with paid as (
                     select id, final_amount_pkr from orders
                     where status in ('paid', 'processing', 'active')
                       and paid_at >= $1 and paid_at < $2
                 ),
                 shares as (
                     -- An order without lines (written by hand, or by an import) is one share
                     -- of its whole amount, under an unknown plan and location: the rows still add up.
                     select paid.id as order_id, i.plan_id, i.location_id,
                            i.price_at_order_pkr::numeric * i.quantity * i.validity_months as value,
                            paid.final_amount_pkr
                     from paid left join order_items i on i.order_id = paid.id
                 ),
                 weighted as (
                     select *, sum(value) over (partition by order_id) as order_value from shares
                 )
                 select {key}, {label}, count(distinct s.order_id),
                        coalesce(sum(round(case when s.order_value > 0
                            then s.final_amount_pkr * s.value / s.order_value
                            when s.value is null then s.final_amount_pkr else 0 end)), 0)::bigint
                 from weighted s
                 left join plans p on p.id = s.plan_id
                 left join locations l on l.id = s.location_id
                 group by 1 order by 4 desc, 1"
            );
            timed(
                if by == ReportBy::Plan {
                    "reports.revenue_by_plan"
                } else {
                    "reports.revenue_by_location"
                },
                sqlx::query_as(sqlx::AssertSqlSafe(sql))
                    .bind(start)
                    .bind(end)
                    .fetch_all(db),
            )
            .await?
        }
    };
    Ok(Report {
        from: period.from,
        to: period.to,
        by,
        rows: rows
            .into_iter()
            .map(|(key, label, orders, revenue_pkr)| ReportRow {
                label: if by == ReportBy::Method {
                    method_label(&key).to_owned()
                } else {
                    label
                },
                key,
                orders,
                revenue_pkr,
            })
            .collect(),
        total_orders,
        total_revenue_pkr,
    })
}

/// A payment method in words.
fn method_label(method: &str) -> &str {
    match method {
        "jazzcash" => "JazzCash",
        "easypaisa" => "Easypaisa",
        "manual" => "Bank or wallet transfer",
        "credit" => "Account credit",
        other => other,
    }
}

/// The report as CSV: a row per group, then the total.
pub fn csv(report: &Report) -> String {
    use super::invoices::csv_field;
    let mut out = format!("{},label,orders,revenue_pkr\n", report.by);
    for row in &report.rows {
        out.push_str(&format!(
            "{},{},{},{}\n",
            csv_field(&row.key),
            csv_field(&row.label),
            row.orders,
            row.revenue_pkr
        ));
    }
    out.push_str(&format!(
        "total,{} to {},{},{}\n",
        report.from, report.to, report.total_orders, report.total_revenue_pkr
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_period_defaults_to_this_month_and_refuses_nonsense() {
        let this_month = Period::parse(None, None).unwrap();
        assert_eq!(this_month.from.day(), 1);
        assert_eq!(this_month.to, pkt_today());
        let one_day = Period::parse(Some("2026-12-01"), Some("2026-12-01")).unwrap();
        // PKT midnight is 19:00 UTC the day before.
        assert_eq!(one_day.start().to_rfc3339(), "2026-11-30T19:00:00+00:00");
        assert_eq!(one_day.end().to_rfc3339(), "2026-12-01T19:00:00+00:00");
        assert!(Period::parse(Some("yesterday"), None).is_err());
        assert!(Period::parse(Some("2026-12-05"), Some("2026-12-01")).is_err());
        assert!(Period::parse(Some("2020-01-01"), Some("2026-01-01")).is_err());
        assert!(crate::db::text_enum::spellings_match_serde(ReportBy::ALL));
    }
}
