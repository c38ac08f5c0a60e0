//! The operator's dashboard, `GET /admin`: revenue today and this month, orders by status,
//! payments to review, the provisioning queue, renewals due, failed jobs and customers' open
//! requests, each a card linking to the list behind it. The figures come from one query.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use sqlx::{FromRow, PgExecutor};

use crate::accounts::extract::PageAdmin;
use crate::app::AppState;
use crate::db::timed;
use crate::error::AppResult;
use crate::money::format_pkr;
use crate::orders::OrderStatus;
use crate::web::pages::{Layout, render};

/// How far ahead a renewal counts as due.
pub const RENEWAL_WINDOW_DAYS: i32 = 7;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin", get(dashboard))
}

// ---------------------------------------------------------------------------------------------
// The figures

/// Every figure of the dashboard, counted in one statement.
#[derive(Clone, Debug, Default, FromRow)]
pub struct Figures {
    /// Sum of `final_amount_pkr` of paid, processing and active orders paid since midnight PKT.
    pub revenue_today_pkr: i64,
    pub orders_paid_today: i64,
    /// The same since the first of the month, PKT.
    pub revenue_month_pkr: i64,
    pub orders_paid_month: i64,
    pub orders_pending_payment: i64,
    pub orders_paid: i64,
    pub orders_processing: i64,
    pub orders_active: i64,
    pub orders_cancelled: i64,
    pub orders_expired: i64,
    pub payments_in_review: i64,
    /// Services being provisioned with no backend: an operator sets them up by hand.
    pub provisioning_manual: i64,
    /// Services being built on a Proxmox backend.
    pub provisioning_building: i64,
    pub services_failed: i64,
    pub services_suspended: i64,
    /// Active or suspended services whose renewal date is within the window (or already past).
    pub renewals_due: i64,
    pub jobs_failed: i64,
    /// `service_logs` rows still pending with an `<action>_requested` action.
    pub open_requests: i64,
}

/// Counts the dashboard's figures. Day and month start at midnight in Asia/Karachi, the time
/// the site shows; each table is scanned once with `count(*) filter (...)`.
pub async fn figures(db: impl PgExecutor<'_>, renewal_window_days: i32) -> sqlx::Result<Figures> {
    timed(
        "dashboard.figures",
        sqlx::query_as(
            "with bounds as (
                 select date_trunc('day', now() at time zone 'Asia/Karachi')
                            at time zone 'Asia/Karachi' as day_start,
                        date_trunc('month', now() at time zone 'Asia/Karachi')
                            at time zone 'Asia/Karachi' as month_start
             ),
             o as (
                 select coalesce(sum(final_amount_pkr) filter (where earning and paid_at >= day_start), 0)::bigint
                            as revenue_today_pkr,
                        count(*) filter (where earning and paid_at >= day_start) as orders_paid_today,
                        coalesce(sum(final_amount_pkr) filter (where earning and paid_at >= month_start), 0)::bigint
                            as revenue_month_pkr,
                        count(*) filter (where earning and paid_at >= month_start) as orders_paid_month,
                        count(*) filter (where status = 'pending_payment') as orders_pending_payment,
                        count(*) filter (where status = 'paid') as orders_paid,
                        count(*) filter (where status = 'processing') as orders_processing,
                        count(*) filter (where status = 'active') as orders_active,
                        count(*) filter (where status = 'cancelled') as orders_cancelled,
                        count(*) filter (where status = 'expired') as orders_expired
                 from (select final_amount_pkr, status, paid_at,
                              status in ('paid', 'processing', 'active') as earning
                       from orders) as orders, bounds
             ),
             s as (
                 select count(*) filter (where status = 'provisioning' and backend_id is null)
                            as provisioning_manual,
                        count(*) filter (where status = 'provisioning' and backend_id is not null)
                            as provisioning_building,
                        count(*) filter (where status = 'failed') as services_failed,
                        count(*) filter (where status = 'suspended') as services_suspended,
                        count(*) filter (where status in ('active', 'suspended')
                                           and next_renewal_date < now() + make_interval(days => $1))
                            as renewals_due
                 from services
             )
             select o.*, s.*,
                    (select count(*) from payments where status = 'review') as payments_in_review,
                    (select count(*) from jobs where status = 'failed') as jobs_failed,
                    (select count(*) from service_logs
                     where status = 'pending' and action like '%\\_requested') as open_requests
             from o, s",
        )
        .bind(renewal_window_days)
        .fetch_one(db),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// The page

/// An order status with its count, linking to the orders list filtered by it.
struct StatusCount {
    status: &'static str,
    label: &'static str,
    count: i64,
}

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    layout: Layout,
    figures: Figures,
    revenue_today: String,
    revenue_month: String,
    orders: Vec<StatusCount>,
    renewal_window_days: i32,
}

/// `GET /admin`: the operator's dashboard (customers get the 403 page, visitors the login).
async fn dashboard(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
) -> AppResult<Response> {
    let figures = figures(&state.db, RENEWAL_WINDOW_DAYS).await?;
    let orders = OrderStatus::ALL
        .iter()
        .map(|&status| StatusCount {
            status: status.as_str(),
            label: status.label(),
            count: match status {
                OrderStatus::PendingPayment => figures.orders_pending_payment,
                OrderStatus::Paid => figures.orders_paid,
                OrderStatus::Processing => figures.orders_processing,
                OrderStatus::Active => figures.orders_active,
                OrderStatus::Cancelled => figures.orders_cancelled,
                OrderStatus::Expired => figures.orders_expired,
            },
        })
        .collect();
    render(&DashboardPage {
        layout: Layout::for_page("Dashboard", &admin.context),
        revenue_today: format_pkr(figures.revenue_today_pkr),
        revenue_month: format_pkr(figures.revenue_month_pkr),
        figures,
        orders,
        renewal_window_days: RENEWAL_WINDOW_DAYS,
    })
}
