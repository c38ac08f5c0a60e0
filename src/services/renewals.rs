//! Renewals: the renewal orders raised before a service's due date, their reminders, what
//! paying one does, and what not paying does.
//!
//! - The periodic `renewals` job ([`run_periodic`]) raises a renewal order `lead` days before
//!   `next_renewal_date` (the largest reminder threshold, 7 by default), e-mails reminders at
//!   each threshold (7/3/1 days; each once per due date, recorded in `renewal_notices`), suspends
//!   services unpaid `suspend_after_days` past their due date and terminates those unpaid
//!   `terminate_after_days` past it (the driver deletes the server; the IP is held back).
//! - Paying a renewal order ([`apply_paid_renewal`], inside the settle transaction, which moves
//!   the order out of `pending_payment` exactly once under its row lock) extends
//!   `next_renewal_date` by the months bought **from the old due date**, not from the payment
//!   date, and resumes a service suspended for non-payment. A second confirmation of the same
//!   payment finds the order already paid and changes nothing.

use anyhow::Context;
use chrono::{DateTime, Duration, Months, Utc};
use sqlx::PgPool;

use super::logs;
use super::provision::{self, ActionJob, DriverAction};
use super::services::{self, Service};
use crate::accounts::users;
use crate::db::text_enum::TransitionError;
use crate::db::timed;
use crate::error::{AppError, AppResult};
use crate::mail;
use crate::money::format_pkr;
use crate::orders::orders::{self, Order};
use crate::orders::pricing;
use crate::provisioning::Provisioning;
use crate::services::{ServiceAction, ServiceStatus};

pub use crate::jobs::kinds::RENEWALS;

/// Why a service suspended for non-payment is suspended (a renewal payment resumes only those).
pub const OVERDUE: &str = "overdue: renewal not paid";

/// Applies a just-paid renewal order to the services its items name: each due date moves by the
/// months bought from the old due date, and a service suspended for non-payment resumes. Runs
/// inside the settle transaction, after the order left `pending_payment`.
pub async fn apply_paid_renewal(tx: &mut sqlx::PgConnection, order: &Order) -> AppResult<()> {
    let items: Vec<(i32, Option<i32>, i32)> = timed(
        "renewals.items",
        sqlx::query_as(
            "select id, service_id, validity_months from order_items
             where order_id = $1 and service_id is not null order by id",
        )
        .bind(order.id)
        .fetch_all(&mut *tx),
    )
    .await?;
    for (item_id, service_id, months) in items {
        let Some(service_id) = service_id else {
            continue;
        };
        let Some(service) = services::find_for_update(&mut *tx, service_id).await? else {
            continue;
        };
        if !matches!(
            service.status,
            ServiceStatus::Active | ServiceStatus::Suspended
        ) {
            logs::insert(
                &mut *tx,
                service.id,
                ServiceAction::Renew,
                "failed",
                Some(&format!(
                    "order {} was paid while the service is {}: refund or credit it",
                    order.id, service.status
                )),
                None,
            )
            .await?;
            continue;
        }
        let old_due = service.next_renewal_date.unwrap_or_else(Utc::now);
        let new_due = add_months(old_due, months);
        services::set_renewal_dates(&mut *tx, service.id, old_due, new_due).await?;
        crate::orders::items::set_dates(&mut *tx, item_id, old_due, new_due).await?;
        logs::insert(
            &mut *tx,
            service.id,
            ServiceAction::Renew,
            "success",
            Some(&format!(
                "order {}: {months} month(s), due {} → {}",
                order.id,
                old_due.format("%Y-%m-%d"),
                new_due.format("%Y-%m-%d")
            )),
            None,
        )
        .await?;
        if service.status == ServiceStatus::Suspended
            && service.suspended_reason.as_deref() == Some(OVERDUE)
        {
            crate::services::transition(
                &mut *tx,
                service.id,
                ServiceStatus::Suspended,
                ServiceStatus::Active,
                None,
            )
            .await?;
            services::set_suspended_reason(&mut *tx, service.id, None).await?;
            provision::enqueue_action(
                &mut *tx,
                &ActionJob {
                    service_id: service.id,
                    action: DriverAction::Resume,
                    requested_by: None,
                },
            )
            .await?;
        }
    }
    crate::orders::transition(
        &mut *tx,
        order.id,
        crate::orders::OrderStatus::Paid,
        crate::orders::OrderStatus::Active,
    )
    .await?;
    Ok(())
}

/// `months` after `date` (the last day of a shorter month when the day does not exist).
pub fn add_months(date: DateTime<Utc>, months: i32) -> DateTime<Utc> {
    date.checked_add_months(Months::new(months.max(1) as u32))
        .unwrap_or(date)
}

/// The renewal order awaiting payment for a service, if any.
///
/// Read from the service's few order items, then each order by its key. The `offset 0` keeps
/// the planner from pushing the kind and status into the orders' `(kind, status)` index: right
/// after a sweep raised thousands of renewal orders, statistics not yet refreshed call them one
/// row, and that plan read every pending renewal order for each service (13.7 ms each at 10,000;
/// 0.05 ms this way), so a sweep grew slower the more it raised.
pub async fn pending_renewal_order(
    db: impl sqlx::PgExecutor<'_>,
    service_id: i32,
) -> sqlx::Result<Option<i32>> {
    timed(
        "renewals.pending_order",
        sqlx::query_scalar(
            "select id from (select o.id, o.kind, o.status
                             from order_items i join orders o on o.id = i.order_id
                             where i.service_id = $1
                             offset 0) as of_service
             where kind = 'renewal' and status = 'pending_payment'
             order by id desc limit 1",
        )
        .bind(service_id)
        .fetch_optional(db),
    )
    .await
}

/// When the servers a renewal order renews are due (the earliest, if several).
pub async fn due_date_of_order(
    db: impl sqlx::PgExecutor<'_>,
    order_id: i32,
) -> sqlx::Result<Option<chrono::DateTime<chrono::Utc>>> {
    timed(
        "renewals.due_date_of_order",
        sqlx::query_scalar(
            "select min(s.next_renewal_date)
             from order_items i join services s on s.id = i.service_id
             where i.order_id = $1",
        )
        .bind(order_id)
        .fetch_one(db),
    )
    .await
}

/// The monthly price a service renews at: what its customer paid per month, else the plan's
/// price today.
async fn monthly_price(tx: &mut sqlx::PgConnection, service: &Service) -> sqlx::Result<i32> {
    let price: Option<i32> = timed(
        "renewals.monthly_price",
        sqlx::query_scalar(
            "select coalesce(
                 (select price_at_order_pkr from order_items where id = $1),
                 (select price_pkr from plans where id = $2))",
        )
        .bind(service.order_item_id)
        .bind(&service.plan_id)
        .fetch_one(&mut *tx),
    )
    .await?;
    Ok(price.unwrap_or(0))
}

/// Raises a renewal order of `months` for the service (the caller holds its row lock and has
/// checked none is pending), spends the customer's credit on it when `use_credit`, and e-mails
/// what is left to pay (nothing when the credit paid it all: the payment's e-mail follows).
async fn raise(
    tx: &mut sqlx::PgConnection,
    ctx: &Provisioning,
    service: &Service,
    months: i32,
    use_credit: bool,
) -> AppResult<Order> {
    let monthly = monthly_price(&mut *tx, service).await?;
    let line = pricing::Line {
        monthly_price_pkr: monthly,
        months,
        quantity: 1,
    };
    // Never a silently capped amount: an order that cannot hold it is not raised.
    let Some(total) = pricing::order_amount(line.total()) else {
        return Err(AppError::conflict(
            "total",
            format!(
                "renewing service {} for {months} month(s) would cost more than an order can hold",
                service.id
            ),
        ));
    };
    let order = orders::insert_renewal(
        &mut *tx,
        &orders::NewRenewal {
            user_id: service.user_id,
            service_id: service.id,
            plan_id: service.plan_id.as_deref(),
            location_id: service.location_id,
            monthly_price_pkr: monthly,
            months,
            total_pkr: total,
            notes: &format!("renewal of service #{}", service.id),
        },
    )
    .await?;
    // Sales tax at today's rate for the customer's province (else the seller's).
    let settings = crate::orders::billing::settings(&mut *tx).await?;
    let province = match service.user_id {
        Some(user_id) if settings.tax_mode != crate::orders::tax::TaxMode::Off => {
            crate::accounts::billing::find(&mut *tx, user_id)
                .await?
                .province
        }
        _ => None,
    };
    let order = crate::orders::billing::apply_tax(&mut *tx, &settings, order, province).await?;
    let order = if use_credit {
        crate::orders::apply_credit(&mut *tx, order).await?
    } else {
        order
    };
    let order_id = order.id;
    logs::insert(
        &mut *tx,
        service.id,
        ServiceAction::RenewalOrder,
        "pending",
        Some(&format!(
            "order {order_id}: {months} month(s) for {}",
            format_pkr(order.final_amount_pkr)
        )),
        None,
    )
    .await?;
    if let Some(user_id) = service.user_id
        && order.due_pkr() > 0
        && let Some(user) = users::find(&mut *tx, user_id).await?
    {
        let due = service
            .next_renewal_date
            .map(|d| d.format("%d %b %Y").to_string())
            .unwrap_or_else(|| "soon".into());
        let link = format!("{}/account/orders/{order_id}", ctx.public_url);
        let email = mail::notice_email(
            &user.email,
            &user.name,
            &format!("Renew server #{} before {due}", service.id),
            &[
                if order.credit_applied_pkr > 0 {
                    format!(
                        "Server #{} is due for renewal on {due}. Renewal order {order_id} for \
                         {months} month(s) costs {}; {} of your account credit pays part of \
                         it, {} is left to pay.",
                        service.id,
                        format_pkr(order.final_amount_pkr),
                        format_pkr(order.credit_applied_pkr),
                        format_pkr(order.due_pkr())
                    )
                } else {
                    format!(
                        "Server #{} is due for renewal on {due}. Renewal order {order_id} for \
                         {months} month(s) costs {}.",
                        service.id,
                        format_pkr(order.final_amount_pkr)
                    )
                },
                format!(
                    "Pay it before the due date to keep the server running: unpaid, it is \
                     suspended {} days after the due date and deleted {} days after it.",
                    ctx.lifecycle.suspend_after_days, ctx.lifecycle.terminate_after_days
                ),
            ],
            Some(("Pay the renewal", &link)),
        );
        mail::enqueue(&mut *tx, &email).await?;
        crate::accounts::whatsapp::notify_in(
            &mut *tx,
            user.id,
            crate::mail::whatsapp::RENEWAL_REMINDER,
            &[
                format!("#{}", service.id),
                due.clone(),
                format_pkr(order.due_pkr()),
            ],
        )
        .await?;
    }
    Ok(order)
}

/// A customer renews a service now for `months` (1, 3, 6 or 12): a renewal order to pay, in the
/// caller's transaction, with the account's credit spent on it when `use_credit`. An older
/// renewal order still awaiting payment is cancelled in favour of this one (its credit back).
/// (`payments::pay::renew` opens the transaction and settles an order the credit paid in full.)
pub async fn renew_in(
    tx: &mut sqlx::PgConnection,
    ctx: &Provisioning,
    user_id: i32,
    service_id: i32,
    months: i32,
    use_credit: bool,
) -> AppResult<Order> {
    if !crate::orders::pricing::VALIDITY_MONTHS.contains(&months) {
        return Err(AppError::Validation(
            [(
                "validity_months".to_owned(),
                "must be one of 1, 3, 6 or 12".to_owned(),
            )]
            .into(),
        ));
    }
    let service = services::find_for_update(&mut *tx, service_id)
        .await?
        .filter(|s| s.user_id == Some(user_id))
        .ok_or(AppError::NotFound("service"))?;
    if !matches!(
        service.status,
        ServiceStatus::Active | ServiceStatus::Suspended
    ) {
        return Err(AppError::Conflict {
            detail: format!(
                "service {} is {}; only an active or suspended service can be renewed",
                service.id, service.status
            ),
            field: Some("status".into()),
        });
    }
    while let Some(old) = pending_renewal_order(&mut *tx, service.id).await? {
        crate::orders::transition(
            &mut *tx,
            old,
            crate::orders::OrderStatus::PendingPayment,
            crate::orders::OrderStatus::Cancelled,
        )
        .await?;
    }
    raise(tx, ctx, &service, months, use_credit).await
}

/// What one run of the periodic job did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Sweep {
    pub raised: usize,
    pub reminded: usize,
    pub suspended: usize,
    pub terminated: usize,
}

/// Services the sweep reads at a time.
pub const SWEEP_BATCH: i64 = 500;

/// The periodic renewals job: raise due renewal orders, send reminders, suspend and terminate
/// the overdue — every service due, batch after batch of [`SWEEP_BATCH`] (progress logged after
/// each). Each service is handled in its own transaction under its row lock, so a sweep that
/// stops half-way leaves whole services behind, and the next one (or a second worker's) skips
/// what is done: an order is raised once per due date, a reminder once per threshold.
pub async fn run_periodic(db: &PgPool, ctx: &Provisioning) -> anyhow::Result<Sweep> {
    run_periodic_in_batches(db, ctx, SWEEP_BATCH).await
}

/// [`run_periodic`] reading `batch` services at a time.
pub async fn run_periodic_in_batches(
    db: &PgPool,
    ctx: &Provisioning,
    batch: i64,
) -> anyhow::Result<Sweep> {
    let now = Utc::now();
    let lead = Duration::days(i64::from(ctx.lifecycle.renewal_lead_days()));
    let mut sweep = Sweep::default();
    let mut after = None;
    let mut seen = 0;
    loop {
        let due = services::list_due_for_renewal(db, now + lead, after, batch).await?;
        let Some(last) = due.last() else {
            break;
        };
        after = last.next_renewal_date.map(|date| (date, last.id));
        seen += due.len();
        for service in due {
            sweep_one(db, ctx, service.id, now, &mut sweep).await?;
        }
        tracing::info!(
            seen,
            raised = sweep.raised,
            reminded = sweep.reminded,
            suspended = sweep.suspended,
            terminated = sweep.terminated,
            "renewals sweep: batch done"
        );
        if after.is_none() {
            break;
        }
    }
    Ok(sweep)
}

/// One service's step of the sweep, in its own transaction under its row lock.
async fn sweep_one(
    db: &PgPool,
    ctx: &Provisioning,
    service_id: i32,
    now: DateTime<Utc>,
    sweep: &mut Sweep,
) -> anyhow::Result<()> {
    let lc = &ctx.lifecycle;
    let mut tx = db.begin().await?;
    let Some(service) = services::find_for_update(&mut *tx, service_id).await? else {
        return Ok(());
    };
    let Some(due) = service.next_renewal_date else {
        return Ok(());
    };
    if !matches!(
        service.status,
        ServiceStatus::Active | ServiceStatus::Suspended
    ) {
        return Ok(());
    }
    let overdue = now - due;
    if overdue > Duration::days(i64::from(lc.terminate_after_days))
        && service.suspended_reason.as_deref() == Some(OVERDUE)
    {
        terminate_overdue(&mut tx, ctx, &service).await?;
        sweep.terminated += 1;
    } else if overdue > Duration::days(i64::from(lc.suspend_after_days))
        && service.status == ServiceStatus::Active
    {
        suspend_overdue(&mut tx, ctx, &service).await?;
        sweep.suspended += 1;
    } else if service.status == ServiceStatus::Active {
        let mut raised_now = false;
        if pending_renewal_order(&mut *tx, service.id).await?.is_none()
            && !renewed_for(&mut tx, service.id, due).await?
        {
            let months = service.validity_months.unwrap_or(1);
            match raise(&mut tx, ctx, &service, months, false).await {
                Ok(_) => {
                    sweep.raised += 1;
                    raised_now = true;
                }
                // One renewal an order cannot hold stops that service's step (nothing of
                // it is written: the transaction is dropped), not the whole sweep.
                Err(AppError::Conflict { detail, .. }) => {
                    tracing::error!(service.id = service.id, "renewal not raised: {detail}");
                    return Ok(());
                }
                Err(err) => return Err(err.into()),
            }
        }
        // The order's own e-mail is the first reminder: the thresholds it covers are
        // recorded without a second mail.
        if remind(&mut tx, ctx, &service, due, now, !raised_now).await? {
            sweep.reminded += 1;
        }
    }
    tx.commit().await.context("committing a renewal step")?;
    Ok(())
}

/// Whether a renewal order for this due date was already raised (paid, cancelled or pending):
/// one is raised per due date, the customer's own renewals aside.
async fn renewed_for(
    tx: &mut sqlx::PgConnection,
    service_id: i32,
    due: DateTime<Utc>,
) -> sqlx::Result<bool> {
    timed(
        "renewals.raised_for_due_date",
        sqlx::query_scalar(
            "select exists (select 1 from renewal_notices
                            where service_id = $1 and due_date = $2 and days_before = 0)",
        )
        .bind(service_id)
        .bind(due)
        .fetch_one(&mut *tx),
    )
    .await
}

/// E-mails (when `send`) the reminder of the nearest threshold reached, once per due date and
/// threshold; returns whether one was mailed.
async fn remind(
    tx: &mut sqlx::PgConnection,
    ctx: &Provisioning,
    service: &Service,
    due: DateTime<Utc>,
    now: DateTime<Utc>,
    send: bool,
) -> sqlx::Result<bool> {
    // Marks the due date as having had its order raised (days_before 0 is never a threshold).
    timed(
        "renewals.mark_raised",
        sqlx::query(
            "insert into renewal_notices (service_id, due_date, days_before) values ($1, $2, 0)
             on conflict do nothing",
        )
        .bind(service.id)
        .bind(due)
        .execute(&mut *tx),
    )
    .await?;
    let left = due - now;
    let reached: Vec<i32> = ctx
        .lifecycle
        .renewal_reminder_days
        .iter()
        .map(|d| *d as i32)
        .filter(|d| left <= Duration::days(i64::from(*d)))
        .collect();
    let Some(nearest) = reached.iter().copied().min() else {
        return Ok(false);
    };
    // Every threshold reached counts as sent; only the nearest is mailed, so a late run does
    // not send three reminders at once.
    let inserted: Vec<i32> = timed(
        "renewals.record_notices",
        sqlx::query_scalar(
            "insert into renewal_notices (service_id, due_date, days_before)
             select $1, $2, d from unnest($3::int[]) as d
             on conflict do nothing
             returning days_before",
        )
        .bind(service.id)
        .bind(due)
        .bind(&reached)
        .fetch_all(&mut *tx),
    )
    .await?;
    if !inserted.contains(&nearest) || !send {
        return Ok(false);
    }
    let Some(order_id) = pending_renewal_order(&mut *tx, service.id).await? else {
        return Ok(false);
    };
    if let Some(user_id) = service.user_id
        && let Some(user) = users::find(&mut *tx, user_id).await?
    {
        let days = (left.num_hours().max(0) + 23) / 24;
        let link = format!("{}/account/orders/{order_id}", ctx.public_url);
        let email = mail::notice_email(
            &user.email,
            &user.name,
            &format!("Reminder: server #{} is due in {days} day(s)", service.id),
            &[format!(
                "Server #{} is due for renewal on {}. Renewal order {order_id} is waiting for \
                 payment.",
                service.id,
                due.format("%d %b %Y")
            )],
            Some(("Pay the renewal", &link)),
        );
        mail::enqueue(&mut *tx, &email).await?;
        let amount = crate::orders::orders::find(&mut *tx, order_id)
            .await?
            .map_or_else(String::new, |order| format_pkr(order.due_pkr()));
        crate::accounts::whatsapp::notify_in(
            &mut *tx,
            user.id,
            crate::mail::whatsapp::RENEWAL_REMINDER,
            &[
                format!("#{}", service.id),
                due.format("%d %b %Y").to_string(),
                amount,
            ],
        )
        .await?;
    }
    Ok(true)
}

async fn suspend_overdue(
    tx: &mut sqlx::PgConnection,
    ctx: &Provisioning,
    service: &Service,
) -> Result<(), TransitionError> {
    crate::services::transition(
        &mut *tx,
        service.id,
        ServiceStatus::Active,
        ServiceStatus::Suspended,
        None,
    )
    .await?;
    services::set_suspended_reason(&mut *tx, service.id, Some(OVERDUE)).await?;
    logs::insert(
        &mut *tx,
        service.id,
        ServiceAction::Suspend,
        "success",
        Some(OVERDUE),
        None,
    )
    .await?;
    provision::enqueue_action(
        &mut *tx,
        &ActionJob {
            service_id: service.id,
            action: DriverAction::Suspend,
            requested_by: None,
        },
    )
    .await?;
    notify(
        tx,
        ctx,
        service,
        &format!("Server #{} is suspended", service.id),
        &format!(
            "Server #{} was suspended because its renewal was not paid. Pay the renewal order              to resume it; unpaid, it is deleted {} days after its due date.",
            service.id, ctx.lifecycle.terminate_after_days
        ),
    )
    .await?;
    Ok(())
}

async fn terminate_overdue(
    tx: &mut sqlx::PgConnection,
    ctx: &Provisioning,
    service: &Service,
) -> AppResult<()> {
    crate::services::transition(
        &mut *tx,
        service.id,
        ServiceStatus::Suspended,
        ServiceStatus::Terminated,
        None,
    )
    .await?;
    logs::insert(
        &mut *tx,
        service.id,
        ServiceAction::Terminate,
        "success",
        Some("renewal unpaid past the termination threshold"),
        None,
    )
    .await?;
    while let Some(order) = pending_renewal_order(&mut *tx, service.id).await? {
        crate::orders::transition(
            &mut *tx,
            order,
            crate::orders::OrderStatus::PendingPayment,
            crate::orders::OrderStatus::Cancelled,
        )
        .await?;
    }
    provision::enqueue_action(
        &mut *tx,
        &ActionJob {
            service_id: service.id,
            action: DriverAction::Terminate,
            requested_by: None,
        },
    )
    .await?;
    notify(
        tx,
        ctx,
        service,
        &format!("Server #{} is terminated", service.id),
        &format!(
            "Server #{} was terminated because its renewal was not paid, and its data deleted.",
            service.id
        ),
    )
    .await?;
    Ok(())
}

/// E-mails the service's owner a short notice.
async fn notify(
    tx: &mut sqlx::PgConnection,
    ctx: &Provisioning,
    service: &Service,
    subject: &str,
    text: &str,
) -> sqlx::Result<()> {
    if let Some(user_id) = service.user_id
        && let Some(user) = users::find(&mut *tx, user_id).await?
    {
        let link = format!("{}/account/services/{}", ctx.public_url, service.id);
        let email = mail::notice_email(
            &user.email,
            &user.name,
            subject,
            &[text.to_owned()],
            Some(("See your server", &link)),
        );
        mail::enqueue(&mut *tx, &email).await?;
    }
    Ok(())
}
