//! Renewals: the periodic job raises renewal orders and reminders once, suspends and terminates
//! the unpaid, and a renewal payment — even confirmed twice — extends the due date once, from
//! the old due date, resuming a service suspended for non-payment.

use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{DateTime, Duration, Months, Utc};
use nextgenrdp::services::ServiceStatus;
use nextgenrdp::services::provision;
use nextgenrdp::services::renewals::{self, Sweep};
use nextgenrdp::services::services::{self, Service};
use serde_json::Value;
use sqlx::PgPool;

use crate::api::payments::{jazzcash_result, post_ipn, start_jazzcash};
use crate::helpers::{JAZZCASH_SALT, TestApp, test_provisioning};
use crate::provisioning::paid_order;

/// A customer's active (manually provisioned) service due on `due`.
async fn active_service(app: &TestApp, email: &str, due: DateTime<Utc>) -> (Value, Service) {
    let (login, _admin, order) = paid_order(app, email, 1).await;
    let service = services::list_for_order(&app.db, order as i32)
        .await
        .unwrap()
        .remove(0);
    let mut tx = app.db.begin().await.unwrap();
    assert!(
        provision::activate(&mut tx, &test_provisioning(), &service, None, "by hand")
            .await
            .unwrap()
    );
    services::set_renewal_dates(&mut *tx, service.id, due - Months::new(1), due)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let service = services::find(&app.db, service.id).await.unwrap().unwrap();
    (login, service)
}

async fn set_due(db: &PgPool, service_id: i32, due: DateTime<Utc>) {
    sqlx::query("update services set next_renewal_date = $2 where id = $1")
        .bind(service_id)
        .bind(due)
        .execute(db)
        .await
        .unwrap();
}

async fn sweep(app: &TestApp) -> Sweep {
    renewals::run_periodic(&app.db, &test_provisioning())
        .await
        .unwrap()
}

async fn reload(db: &PgPool, id: i32) -> Service {
    services::find(db, id).await.unwrap().unwrap()
}

async fn queued_actions(db: &PgPool, service_id: i32) -> Vec<String> {
    sqlx::query_scalar(
        "select payload->>'action' from jobs
         where kind = 'service_action' and (payload->>'service_id')::int = $1 order by id",
    )
    .bind(service_id)
    .fetch_all(db)
    .await
    .unwrap()
}

/// Whole seconds, as PostgreSQL keeps microseconds.
fn secs(date: DateTime<Utc>) -> i64 {
    date.timestamp()
}

#[sqlx::test]
async fn a_renewal_confirmed_many_times_extends_the_due_date_once_from_the_old_one(db: PgPool) {
    let app = Arc::new(TestApp::with_default_catalog(db).await);
    let due = Utc::now() + Duration::days(5);
    let (login, service) = active_service(&app, "ayesha@example.pk", due).await;

    let order = nextgenrdp::payments::pay::renew(
        &app.db,
        &test_provisioning(),
        service.user_id.unwrap(),
        service.id,
        3,
        false,
    )
    .await
    .unwrap();
    assert_eq!(order.kind.as_str(), "renewal");
    assert_eq!(order.final_amount_pkr, 3 * 4500);

    let form = start_jazzcash(&app, &login, i64::from(order.id)).await;
    let success = Arc::new(jazzcash_result(&form, "000", JAZZCASH_SALT));
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let (app, success) = (app.clone(), success.clone());
        tasks.push(tokio::spawn(async move {
            post_ipn(&app, &success).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    // And once more, late.
    assert_eq!(post_ipn(&app, &success).await.status, StatusCode::OK);

    let renewed = reload(&app.db, service.id).await;
    assert_eq!(
        secs(renewed.next_renewal_date.unwrap()),
        secs(due + Months::new(3)),
        "three months from the old due date, once"
    );
    assert_eq!(secs(renewed.last_renewal_date.unwrap()), secs(due));
    let renew_logs = nextgenrdp::services::logs::list_for_service(&app.db, service.id)
        .await
        .unwrap()
        .into_iter()
        .filter(|l| l.action == "renew" && l.status == "success")
        .count();
    assert_eq!(renew_logs, 1);
    let status: String = sqlx::query_scalar("select status from orders where id = $1")
        .bind(order.id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "active");
}

#[sqlx::test]
async fn renewal_orders_and_reminders_are_raised_once_then_unpaid_services_are_suspended_and_resumed_by_payment(
    db: PgPool,
) {
    let app = TestApp::with_default_catalog(db).await;
    let now = Utc::now();
    let (_login, service) =
        active_service(&app, "bilal@example.pk", now + Duration::days(20)).await;

    assert_eq!(sweep(&app).await, Sweep::default(), "not due yet");

    set_due(&app.db, service.id, now + Duration::days(6)).await;
    let first = sweep(&app).await;
    assert_eq!(
        (first.raised, first.reminded),
        (1, 0),
        "the order is the first reminder"
    );
    let order = renewals::pending_renewal_order(&app.db, service.id)
        .await
        .unwrap()
        .expect("a renewal order awaits payment");
    assert_eq!(sweep(&app).await, Sweep::default(), "raised once");

    set_due(&app.db, service.id, now + Duration::hours(60)).await;
    assert_eq!(sweep(&app).await.reminded, 1, "the 3-day reminder");
    assert_eq!(sweep(&app).await.reminded, 0, "once");
    let mails = app.mails_to("bilal@example.pk").await;
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.contains("Subject: Renew server"))
            .count(),
        1
    );
    assert_eq!(
        mails
            .iter()
            .filter(|m| m.contains("Subject: Reminder"))
            .count(),
        1
    );

    // Four days overdue, past the 3-day grace: suspended, the server stopped.
    let old_due = now - Duration::days(4);
    set_due(&app.db, service.id, old_due).await;
    assert_eq!(sweep(&app).await.suspended, 1);
    let suspended = reload(&app.db, service.id).await;
    assert_eq!(suspended.status, ServiceStatus::Suspended);
    assert_eq!(
        suspended.suspended_reason.as_deref(),
        Some(renewals::OVERDUE)
    );
    assert_eq!(queued_actions(&app.db, service.id).await, ["suspend"]);

    // The customer pays the (still open) renewal order: resumed, due moved from the old date.
    let admin = app.admin("cashier@nextgenrdp.pk").await;
    let login = app.login("bilal@example.pk", "correct-horse-battery").await;
    let payment = app
        .report_transfer(
            login["access_token"].as_str().unwrap(),
            order.into(),
            "TID5551234",
            "bank",
        )
        .await;
    app.approve_payment(
        admin["access_token"].as_str().unwrap(),
        payment["id"].as_i64().unwrap(),
    )
    .await;
    let resumed = reload(&app.db, service.id).await;
    assert_eq!(resumed.status, ServiceStatus::Active);
    assert_eq!(resumed.suspended_reason, None);
    assert_eq!(
        secs(resumed.next_renewal_date.unwrap()),
        secs(old_due + Months::new(1))
    );
    assert_eq!(
        queued_actions(&app.db, service.id).await,
        ["suspend", "resume"]
    );
}

/// More services due than one batch reads: one sweep reaches every one of them (a sweep that
/// read only its first batch would leave the rest behind every hour), and the next raises none.
#[sqlx::test]
async fn one_sweep_reaches_every_service_due_batch_after_batch(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let due = Utc::now() + Duration::days(3);
    let mut ids = Vec::new();
    for i in 0..5 {
        let (_, service) = active_service(&app, &format!("batch{i}@example.pk"), due).await;
        // The same due date for all: the batches are cut between equal dates, by id.
        set_due(&app.db, service.id, due).await;
        ids.push(service.id);
    }
    let first = renewals::run_periodic_in_batches(&app.db, &test_provisioning(), 2)
        .await
        .unwrap();
    assert_eq!(first.raised, 5, "{first:?}");
    for id in &ids {
        let orders: i64 = sqlx::query_scalar(
            "select count(*) from order_items i join orders o on o.id = i.order_id
             where i.service_id = $1 and o.kind = 'renewal'",
        )
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
        assert_eq!(orders, 1, "service {id}");
    }
    let again = renewals::run_periodic_in_batches(&app.db, &test_provisioning(), 2)
        .await
        .unwrap();
    assert_eq!(again.raised, 0, "{again:?}");
}

#[sqlx::test]
async fn a_service_unpaid_past_the_termination_threshold_is_terminated(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let now = Utc::now();
    let (_login, service) = active_service(&app, "sana@example.pk", now - Duration::days(5)).await;
    assert_eq!(sweep(&app).await.suspended, 1);
    set_due(&app.db, service.id, now - Duration::days(15)).await;
    assert_eq!(sweep(&app).await.terminated, 1);
    let ended = reload(&app.db, service.id).await;
    assert_eq!(ended.status, ServiceStatus::Terminated);
    assert!(ended.termination_date.is_some());
    assert_eq!(
        queued_actions(&app.db, service.id).await,
        ["suspend", "terminate"]
    );
    assert_eq!(
        renewals::pending_renewal_order(&app.db, service.id)
            .await
            .unwrap(),
        None,
        "no renewal left open"
    );
    let mails = app.mails_to("sana@example.pk").await;
    assert!(mails.iter().any(|m| m.contains("is terminated")));
    // A suspension by the operator (not for non-payment) is never terminated by the sweep.
    let (_login, other) = active_service(&app, "omar@example.pk", now - Duration::days(1)).await;
    sqlx::query(
        "update services set status = 'suspended', suspended_reason = 'abuse report' where id = $1",
    )
    .bind(other.id)
    .execute(&app.db)
    .await
    .unwrap();
    set_due(&app.db, other.id, now - Duration::days(30)).await;
    assert_eq!(sweep(&app).await.terminated, 0);
}

#[sqlx::test]
async fn a_renewal_an_order_cannot_hold_is_refused_and_the_sweep_goes_on(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let due = Utc::now() + Duration::days(6);
    let (_huge_login, huge) = active_service(&app, "huge@example.pk", due).await;
    let (_login, normal) = active_service(&app, "normal@example.pk", due).await;
    // 12 months at Rs 2,000,000,000 a month: more than an order's integer amount holds.
    sqlx::query("update services set validity_months = 12 where id = $1")
        .bind(huge.id)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("update order_items set price_at_order_pkr = 2000000000 where id = $1")
        .bind(huge.order_item_id)
        .execute(&app.db)
        .await
        .unwrap();

    let swept = sweep(&app).await;
    assert_eq!(swept.raised, 1, "the other service's renewal is raised");
    assert!(
        renewals::pending_renewal_order(&app.db, normal.id)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        renewals::pending_renewal_order(&app.db, huge.id)
            .await
            .unwrap()
            .is_none(),
        "no capped order is written"
    );
}

#[sqlx::test]
async fn a_customer_who_chose_whatsapp_is_reminded_there_too(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let now = Utc::now();
    let (login, service) = active_service(&app, "bilal@example.pk", now + Duration::days(6)).await;
    sqlx::query(
        "update users set whatsapp_number = '923001234567', whatsapp_verified_at = now(),
             notify_whatsapp = true where id = $1",
    )
    .bind(login["user"]["id"].as_i64().unwrap() as i32)
    .execute(&app.db)
    .await
    .unwrap();
    assert_eq!(sweep(&app).await.raised, 1);
    set_due(&app.db, service.id, now + Duration::hours(60)).await;
    assert_eq!(sweep(&app).await.reminded, 1);
    let sent: Vec<Value> =
        sqlx::query_scalar("select payload from jobs where kind = 'send_whatsapp' order by id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    let reminders: Vec<&Value> = sent
        .iter()
        .filter(|m| m["template"] == "ngr_renewal_reminder")
        .collect();
    assert_eq!(
        reminders.len(),
        2,
        "the renewal order and the 3-day reminder: {sent:?}"
    );
    for reminder in reminders {
        assert_eq!(reminder["to"], "923001234567");
        assert_eq!(reminder["parameters"][0], format!("#{}", service.id));
        assert!(
            reminder["parameters"][2]
                .as_str()
                .unwrap()
                .starts_with("Rs "),
            "{reminder}"
        );
    }
}
