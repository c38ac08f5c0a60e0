//! `/admin/reports/revenue`: the revenue report over PKT days by plan, location or payment
//! method, with its CSV (`/admin/reports/revenue.csv`, the same query).

use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::accounts::extract::PageAdmin;
use crate::app::AppState;
use crate::error::AppResult;
use crate::money::format_pkr;
use crate::payments::reports::{self, ReportBy, ReportQuery};
use crate::web::bars::RankChart;
use crate::web::pages::{Layout, render};

#[derive(Template)]
#[template(path = "admin/payments/revenue.html")]
struct RevenuePage {
    layout: Layout,
    from: String,
    to: String,
    by: ReportBy,
    groupings: Vec<(ReportBy, &'static str)>,
    rows: Vec<(String, i64, String)>,
    total_orders: i64,
    total: String,
    chart: RankChart,
    csv_href: String,
}

fn rupees(value: i64) -> String {
    format_pkr(crate::money::Pkr(value))
}

pub(super) async fn revenue_page(
    State(state): State<AppState>,
    PageAdmin(staff): PageAdmin,
    Query(query): Query<ReportQuery>,
) -> AppResult<Response> {
    let (period, by) = query.parse()?;
    let report = reports::revenue(&state.db, period, by).await?;
    let csv_href = format!(
        "/admin/reports/revenue.csv?{}",
        serde_urlencoded::to_string([
            ("from", report.from.to_string()),
            ("to", report.to.to_string()),
            ("by", by.to_string()),
        ])
        .unwrap_or_default()
    );
    render(&RevenuePage {
        layout: Layout::for_page("Revenue report", &staff.context),
        from: report.from.to_string(),
        to: report.to.to_string(),
        by,
        groupings: vec![
            (ReportBy::Plan, "Plan"),
            (ReportBy::Location, "Location"),
            (ReportBy::Method, "Payment method"),
        ],
        chart: RankChart {
            id: "chart-revenue-report",
            title: "Revenue in the period",
            rows: report
                .rows
                .iter()
                .map(|r| (r.label.clone(), r.revenue_pkr))
                .collect(),
            format: rupees,
        },
        rows: report
            .rows
            .iter()
            .map(|r| (r.label.clone(), r.orders, rupees(r.revenue_pkr)))
            .collect(),
        total_orders: report.total_orders,
        total: rupees(report.total_revenue_pkr),
        csv_href,
    })
}

pub(super) async fn revenue_csv(
    State(state): State<AppState>,
    PageAdmin(_staff): PageAdmin,
    Query(query): Query<ReportQuery>,
) -> AppResult<Response> {
    let (period, by) = query.parse()?;
    let report = reports::revenue(&state.db, period, by).await?;
    let name = format!("revenue-{}-{}-by-{by}.csv", report.from, report.to);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        reports::csv(&report),
    )
        .into_response())
}
