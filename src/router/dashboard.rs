//! The operator's dashboard, `GET /admin`: the charts of `trends` (revenue for the roles that
//! see it), revenue today and this month, orders by status,
//! payments to review, the provisioning queue, renewals due, failed jobs and customers' open
//! requests, each a card linking to the list behind it. Each figure is read through an index
//! (`figures`), so the page costs the same on a shop of a million orders as on a new one.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::get;
use sqlx::PgPool;

use crate::accounts::extract::PageAdmin;
use crate::accounts::staff::Permission;
use crate::app::AppState;
use crate::db::timed;
use crate::db::total::{self, Total};
use crate::error::AppResult;
use crate::money::format_pkr;
use crate::orders::OrderStatus;
use crate::total_sql;
use crate::web::pages::{Layout, render};

/// How far ahead a renewal counts as due.
pub const RENEWAL_WINDOW_DAYS: i32 = 7;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin", get(dashboard))
}

// ---------------------------------------------------------------------------------------------
// The figures

/// Every figure of the dashboard. The counts are exact below 10,000 and the planner's estimate
/// above (`db::total`): the page prints "about 500,000 active orders" rather than reading half a
/// million index entries on every visit.
#[derive(Clone, Debug)]
pub struct Figures {
    /// Sum of `final_amount_pkr` of paid, processing and active orders paid since midnight PKT.
    pub revenue_today_pkr: i64,
    pub orders_paid_today: i64,
    /// The same since the first of the month, PKT.
    pub revenue_month_pkr: i64,
    pub orders_paid_month: i64,
    /// Orders in each status, in [`OrderStatus::ALL`]'s order.
    pub orders: Vec<(OrderStatus, Total)>,
    pub payments_in_review: Total,
    /// Services being provisioned with no backend: an operator sets them up by hand.
    pub provisioning_manual: Total,
    /// Services being built on a Proxmox backend.
    pub provisioning_building: Total,
    pub services_failed: Total,
    pub services_suspended: Total,
    /// Active or suspended services whose renewal date is within the window (or already past).
    pub renewals_due: Total,
    pub jobs_failed: Total,
    /// `service_logs` rows still pending with an `<action>_requested` action.
    pub open_requests: Total,
    /// Tickets whose customer spoke last, and when the longest-waiting one last moved.
    pub tickets_awaiting_us: Total,
    pub oldest_ticket_waiting: Option<chrono::DateTime<chrono::Utc>>,
}

/// How long ago `since` was, as people say it: `5 minutes`, `3 hours`, `2 days`.
pub fn age(since: chrono::DateTime<chrono::Utc>, now: chrono::DateTime<chrono::Utc>) -> String {
    let minutes = (now - since).num_minutes().max(0);
    let (n, unit) = match minutes {
        m if m < 60 => (m, "minute"),
        m if m < 48 * 60 => (m / 60, "hour"),
        m => (m / (24 * 60), "day"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

impl Figures {
    /// "oldest waiting 3 hours", or "" when nothing waits.
    pub fn oldest_ticket_age(&self) -> String {
        self.oldest_ticket_waiting
            .map(|at| format!("oldest waiting {}", age(at, chrono::Utc::now())))
            .unwrap_or_default()
    }

    /// The services being provisioned, by hand or on Proxmox.
    pub fn provisioning(&self) -> Total {
        Total {
            count: self.provisioning_manual.count + self.provisioning_building.count,
            exact: self.provisioning_manual.exact && self.provisioning_building.exact,
        }
    }
}

/// Revenue today and this month, PKT: a range scan of the partial covering index on the
/// earning orders' `paid_at` (`orders_earning_paid_at_idx`), so it reads this month's paid
/// orders only, however many came before.
async fn revenue(db: &PgPool) -> sqlx::Result<(i64, i64, i64, i64)> {
    timed(
        "dashboard.revenue",
        sqlx::query_as(
            "with bounds as (
                 select date_trunc('day', now() at time zone 'Asia/Karachi')
                            at time zone 'Asia/Karachi' as day_start,
                        date_trunc('month', now() at time zone 'Asia/Karachi')
                            at time zone 'Asia/Karachi' as month_start
             )
             select coalesce(sum(final_amount_pkr) filter (where paid_at >= day_start), 0)::bigint,
                    count(*) filter (where paid_at >= day_start),
                    coalesce(sum(final_amount_pkr), 0)::bigint,
                    count(*)
             from orders, bounds
             where status in ('paid', 'processing', 'active') and paid_at >= month_start",
        )
        .fetch_one(db),
    )
    .await
}

/// Counts the dashboard's figures, each through an index: the revenue from this month's paid
/// orders, every count exact when the planner expects it small and estimated when large.
pub async fn figures(db: &PgPool, renewal_window_days: i32) -> sqlx::Result<Figures> {
    let (revenue_today_pkr, orders_paid_today, revenue_month_pkr, orders_paid_month) =
        revenue(db).await?;
    let mut orders = Vec::with_capacity(OrderStatus::ALL.len());
    for &status in OrderStatus::ALL {
        let sql = total_sql!("dashboard.orders", "from orders where status = $1");
        orders.push((
            status,
            total::count_unless_large(db, sql, |q| q.bind(status)).await?,
        ));
    }
    let plain = |q| q;
    Ok(Figures {
        revenue_today_pkr,
        orders_paid_today,
        revenue_month_pkr,
        orders_paid_month,
        orders,
        payments_in_review: total::count_unless_large(
            db,
            total_sql!(
                "dashboard.payments_in_review",
                "from payments where status = 'review'"
            ),
            plain,
        )
        .await?,
        provisioning_manual: total::count_unless_large(
            db,
            total_sql!(
                "dashboard.provisioning_manual",
                "from services where status = 'provisioning' and backend_id is null"
            ),
            plain,
        )
        .await?,
        provisioning_building: total::count_unless_large(
            db,
            total_sql!(
                "dashboard.provisioning_building",
                "from services where status = 'provisioning' and backend_id is not null"
            ),
            plain,
        )
        .await?,
        services_failed: total::count_unless_large(
            db,
            total_sql!(
                "dashboard.services_failed",
                "from services where status = 'failed'"
            ),
            plain,
        )
        .await?,
        services_suspended: total::count_unless_large(
            db,
            total_sql!(
                "dashboard.services_suspended",
                "from services where status = 'suspended'"
            ),
            plain,
        )
        .await?,
        renewals_due: total::count_unless_large(
            db,
            total_sql!(
                "dashboard.renewals_due",
                "from services where status in ('active', 'suspended')
                   and next_renewal_date < now() + make_interval(days => $1)"
            ),
            |q| q.bind(renewal_window_days),
        )
        .await?,
        jobs_failed: total::count_unless_large(
            db,
            total_sql!("dashboard.jobs_failed", "from jobs where status = 'failed'"),
            plain,
        )
        .await?,
        open_requests: total::count_unless_large(
            db,
            total_sql!(
                "dashboard.open_requests",
                "from service_logs where status = 'pending' and action like '%\\_requested'"
            ),
            plain,
        )
        .await?,
        tickets_awaiting_us: total::count_unless_large(
            db,
            total_sql!(
                "dashboard.tickets_awaiting_us",
                "from tickets where status = 'awaiting_us'"
            ),
            plain,
        )
        .await?,
        // The queue's index, (status, last_message_at): its first entry.
        oldest_ticket_waiting: timed(
            "dashboard.oldest_ticket_waiting",
            sqlx::query_scalar(
                "select min(last_message_at) from tickets where status = 'awaiting_us'",
            )
            .fetch_one(db),
        )
        .await?,
    })
}

// ---------------------------------------------------------------------------------------------
// The page

/// An order status with its count, linking to the orders list filtered by it.
struct StatusCount {
    status: &'static str,
    label: &'static str,
    count: Total,
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
    /// `NEXTGENRDP_MANUAL_ACCOUNTS` is unset: customers paying by transfer see no accounts.
    no_transfer_accounts: bool,
    trends: super::trends::Trends,
    /// Whether the viewer's role sees revenue (the revenue cards and charts).
    sees_revenue: bool,
}

/// `GET /admin`: the operator's dashboard (customers get the 403 page, visitors the login).
async fn dashboard(
    State(state): State<AppState>,
    PageAdmin(admin): PageAdmin,
) -> AppResult<Response> {
    let figures = figures(&state.db, RENEWAL_WINDOW_DAYS).await?;
    let trends = super::trends::trends(&state.db).await?;
    let orders = figures
        .orders
        .iter()
        .map(|&(status, count)| StatusCount {
            status: status.as_str(),
            label: status.label(),
            count,
        })
        .collect();
    render(&DashboardPage {
        layout: Layout::for_page("Dashboard", &admin.context),
        revenue_today: format_pkr(figures.revenue_today_pkr),
        revenue_month: format_pkr(figures.revenue_month_pkr),
        figures,
        orders,
        renewal_window_days: RENEWAL_WINDOW_DAYS,
        no_transfer_accounts: state.payments.manual.example,
        trends,
        sees_revenue: admin.user.can(Permission::Revenue),
    })
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, Utc};

    use super::age;

    #[test]
    fn ages_read_as_people_say_them() {
        let now = Utc::now();
        assert_eq!(age(now, now), "0 minutes");
        assert_eq!(age(now - Duration::minutes(1), now), "1 minute");
        assert_eq!(age(now - Duration::minutes(59), now), "59 minutes");
        assert_eq!(age(now - Duration::hours(3), now), "3 hours");
        assert_eq!(age(now - Duration::hours(47), now), "47 hours");
        assert_eq!(age(now - Duration::days(4), now), "4 days");
        assert_eq!(
            age(now + Duration::minutes(5), now),
            "0 minutes",
            "clock skew"
        );
    }
}
