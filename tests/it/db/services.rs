use chrono::{Duration, Utc};
use nextgenrdp::orders::items::{self, NewOrderItem, OrderItem};
use nextgenrdp::services::services::{self, NewService, Service, ServiceFilter};
use nextgenrdp::services::{ServiceAction, ServiceStatus, logs};
use sqlx::PgPool;

use super::customer;
use super::orders::{catalog, order};

/// An order of one item of `plan_id` for `user_id`.
async fn item(db: &PgPool, user_id: i32, location_id: i32, plan_id: &str) -> OrderItem {
    let placed = order(db, user_id, 2500, 0).await;
    items::insert(
        db,
        &NewOrderItem {
            os_template_id: None,
            os_template_name: None,
            ssh_keys: None,
            order_id: placed.id,
            plan_id,
            location_id,
            quantity: 1,
            price_at_order_pkr: 2500,
            validity_months: 1,
        },
    )
    .await
    .unwrap()
}

async fn service(db: &PgPool, user_id: i32, order_item_id: Option<i32>, kind: &str) -> Service {
    services::insert(
        db,
        &NewService {
            order_item_id,
            user_id,
            service_type: kind,
            plan_id: None,
            location_id: None,
            validity_months: None,
        },
    )
    .await
    .unwrap()
}

/// Forces a service's status, bypassing the guard (test set-up only).
async fn force_status(db: &PgPool, id: i32, status: &str) {
    sqlx::query("update services set status = $2 where id = $1")
        .bind(id)
        .bind(status)
        .execute(db)
        .await
        .unwrap();
}

#[sqlx::test]
async fn a_new_service_is_provisioning_and_is_found_by_id(db: PgPool) {
    let location_id = catalog(&db).await;
    let user = customer(&db, "ayesha@example.pk").await;
    let bought = item(&db, user.id, location_id, "rdp-starter-one").await;
    let created = service(&db, user.id, Some(bought.id), "rdp").await;
    assert_eq!(created.status, ServiceStatus::Provisioning);
    assert_eq!(created.service_type, "rdp");
    assert_eq!(created.order_item_id, Some(bought.id));
    assert_eq!(created.user_id, Some(user.id));
    assert!(created.hostname.is_none() && created.password_encrypted.is_none());
    assert_eq!(
        services::find(&db, created.id)
            .await
            .unwrap()
            .unwrap()
            .service_type,
        "rdp"
    );
    assert!(services::find(&db, created.id + 1).await.unwrap().is_none());
    // the database refuses a type it does not sell
    let wrong = services::insert(
        &db,
        &NewService {
            order_item_id: None,
            user_id: user.id,
            service_type: "vpn",
            plan_id: None,
            location_id: None,
            validity_months: None,
        },
    )
    .await;
    assert!(wrong.is_err());
}

#[sqlx::test]
async fn find_for_user_hides_another_customers_service(db: PgPool) {
    let ayesha = customer(&db, "ayesha@example.pk").await;
    let bilal = customer(&db, "bilal@example.pk").await;
    let created = service(&db, ayesha.id, None, "vps").await;
    assert_eq!(
        services::find_for_user(&db, created.id, ayesha.id)
            .await
            .unwrap()
            .unwrap()
            .id,
        created.id
    );
    assert!(
        services::find_for_user(&db, created.id, bilal.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        services::find_for_user(&db, created.id + 1, ayesha.id)
            .await
            .unwrap()
            .is_none()
    );
}

#[sqlx::test]
async fn find_for_update_locks_the_service_until_the_transaction_ends(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let created = service(&db, user.id, None, "vps").await;
    let mut tx = db.begin().await.unwrap();
    assert_eq!(
        services::find_for_update(&mut *tx, created.id)
            .await
            .unwrap()
            .unwrap()
            .id,
        created.id
    );
    let blocked = sqlx::query("select id from services where id = $1 for update nowait")
        .bind(created.id)
        .execute(&db)
        .await
        .unwrap_err();
    assert_eq!(
        blocked.as_database_error().unwrap().code().as_deref(),
        Some("55P03")
    );
    tx.rollback().await.unwrap();
    sqlx::query("select id from services where id = $1 for update nowait")
        .bind(created.id)
        .execute(&db)
        .await
        .unwrap();
    assert!(
        services::find_for_update(&db, created.id + 1)
            .await
            .unwrap()
            .is_none()
    );
}

#[sqlx::test]
async fn services_are_listed_per_customer_and_for_the_operator(db: PgPool) {
    let ayesha = customer(&db, "ayesha@example.pk").await;
    let bilal = customer(&db, "bilal@example.pk").await;
    let a1 = service(&db, ayesha.id, None, "rdp").await;
    let a2 = service(&db, ayesha.id, None, "vps").await;
    let b1 = service(&db, bilal.id, None, "vps").await;
    force_status(&db, a2.id, "active").await;
    force_status(&db, b1.id, "active").await;

    let mine = services::list_for_user(&db, ayesha.id).await.unwrap();
    assert_eq!(
        mine.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![a2.id, a1.id]
    );
    assert!(
        services::list_for_user(&db, bilal.id + 100)
            .await
            .unwrap()
            .is_empty()
    );

    let all = services::list(
        &db,
        &ServiceFilter {
            status: None,
            user_id: None,
            location_id: None,
            search: None,
        },
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(
        all.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![b1.id, a2.id, a1.id]
    );
    let active = services::list(
        &db,
        &ServiceFilter {
            status: Some(ServiceStatus::Active),
            user_id: None,
            location_id: None,
            search: None,
        },
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(
        active.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![b1.id, a2.id]
    );
    let bilal_active = services::list(
        &db,
        &ServiceFilter {
            status: Some(ServiceStatus::Active),
            user_id: Some(bilal.id),
            location_id: None,
            search: None,
        },
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(
        bilal_active.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![b1.id]
    );
    let page = services::list(
        &db,
        &ServiceFilter {
            status: None,
            user_id: None,
            location_id: None,
            search: None,
        },
        1,
        2,
    )
    .await
    .unwrap();
    assert_eq!(page.iter().map(|s| s.id).collect::<Vec<_>>(), vec![a1.id]);

    assert_eq!(
        services::count(
            &db,
            &ServiceFilter {
                status: None,
                user_id: None,
                location_id: None,
                search: None,
            }
        )
        .await
        .unwrap()
        .count,
        3
    );
    assert_eq!(
        services::count(
            &db,
            &ServiceFilter {
                status: Some(ServiceStatus::Provisioning),
                user_id: None,
                location_id: None,
                search: None,
            }
        )
        .await
        .unwrap()
        .count,
        1
    );
    assert_eq!(
        services::count(
            &db,
            &ServiceFilter {
                status: Some(ServiceStatus::Active),
                user_id: Some(ayesha.id),
                location_id: None,
                search: None,
            }
        )
        .await
        .unwrap()
        .count,
        1
    );
    assert_eq!(
        services::count(
            &db,
            &ServiceFilter {
                status: Some(ServiceStatus::Failed),
                user_id: None,
                location_id: None,
                search: None,
            }
        )
        .await
        .unwrap()
        .count,
        0
    );
}

#[sqlx::test]
async fn a_status_change_from_the_wrong_status_changes_nothing(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let created = service(&db, user.id, None, "vps").await;

    assert!(
        !nextgenrdp::services::transition(
            &db,
            created.id,
            ServiceStatus::Active,
            ServiceStatus::Suspended,
            None
        )
        .await
        .unwrap()
    );
    let row = services::find(&db, created.id).await.unwrap().unwrap();
    assert_eq!(row.status, ServiceStatus::Provisioning);
    assert_eq!(row.updated_at, created.updated_at);

    assert!(
        nextgenrdp::services::transition(
            &db,
            created.id,
            ServiceStatus::Provisioning,
            ServiceStatus::Failed,
            Some("hypervisor full")
        )
        .await
        .unwrap()
    );
    let failed = services::find(&db, created.id).await.unwrap().unwrap();
    assert_eq!(failed.status, ServiceStatus::Failed);
    assert_eq!(failed.failure_reason.as_deref(), Some("hypervisor full"));
    // a retried provisioning job that still thinks it is provisioning changes nothing
    assert!(
        !nextgenrdp::services::transition(
            &db,
            created.id,
            ServiceStatus::Provisioning,
            ServiceStatus::Active,
            None
        )
        .await
        .unwrap()
    );
    assert_eq!(
        services::find(&db, created.id)
            .await
            .unwrap()
            .unwrap()
            .status,
        ServiceStatus::Failed
    );

    // an operator's retry: back to provisioning, then active, clearing the reason
    assert!(
        nextgenrdp::services::transition(
            &db,
            created.id,
            ServiceStatus::Failed,
            ServiceStatus::Provisioning,
            None
        )
        .await
        .unwrap()
    );
    assert!(
        nextgenrdp::services::transition(
            &db,
            created.id,
            ServiceStatus::Provisioning,
            ServiceStatus::Active,
            None
        )
        .await
        .unwrap()
    );
    let active = services::find(&db, created.id).await.unwrap().unwrap();
    assert_eq!(active.status, ServiceStatus::Active);
    assert!(active.failure_reason.is_none());
    assert!(active.termination_date.is_none());

    assert!(
        nextgenrdp::services::transition(
            &db,
            created.id,
            ServiceStatus::Active,
            ServiceStatus::Terminated,
            None
        )
        .await
        .unwrap()
    );
    let terminated = services::find(&db, created.id).await.unwrap().unwrap();
    assert_eq!(terminated.status, ServiceStatus::Terminated);
    assert!(
        terminated.termination_date.is_some(),
        "terminating stamps the date"
    );
    assert!(
        !nextgenrdp::services::transition(
            &db,
            created.id + 1,
            ServiceStatus::Active,
            ServiceStatus::Suspended,
            None
        )
        .await
        .unwrap()
    );
    // a move the machine does not have is refused, and changes nothing
    let refused = nextgenrdp::services::transition(
        &db,
        created.id,
        ServiceStatus::Terminated,
        ServiceStatus::Active,
        None,
    )
    .await
    .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "a service cannot move from terminated to active"
    );
}

#[sqlx::test]
async fn credentials_and_server_id_are_recorded_and_the_password_never_serialised(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let created = service(&db, user.id, None, "rdp").await;
    assert!(
        services::set_credentials(
            &db,
            created.id,
            "rdp-42.nextgenrdp.pk",
            "203.0.113.42",
            "Administrator",
            "v1:nonce:sealed"
        )
        .await
        .unwrap()
    );
    assert!(
        services::set_server_id(&db, created.id, "vm-4242")
            .await
            .unwrap()
    );
    let row = services::find(&db, created.id).await.unwrap().unwrap();
    assert_eq!(row.hostname.as_deref(), Some("rdp-42.nextgenrdp.pk"));
    assert_eq!(row.ip_address.as_deref(), Some("203.0.113.42"));
    assert_eq!(row.username.as_deref(), Some("Administrator"));
    assert_eq!(row.password_encrypted.as_deref(), Some("v1:nonce:sealed"));
    assert_eq!(row.server_id.as_deref(), Some("vm-4242"));

    let json = serde_json::to_value(&row).unwrap();
    assert_eq!(json["hostname"], "rdp-42.nextgenrdp.pk");
    assert!(json.get("password_encrypted").is_none());
    assert!(!json.to_string().contains("sealed"));

    assert!(
        !services::set_credentials(&db, created.id + 1, "h", "ip", "u", "p")
            .await
            .unwrap()
    );
    assert!(
        !services::set_server_id(&db, created.id + 1, "vm-1")
            .await
            .unwrap()
    );
}

#[sqlx::test]
async fn only_active_and_suspended_services_come_due_for_renewal(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let now = Utc::now();
    let mut made = Vec::new();
    // (status, next renewal in days from now)
    for (status, days) in [
        ("active", -2),    // due, overdue longest
        ("suspended", -1), // due
        ("active", 5),     // not yet
        ("provisioning", -3),
        ("terminated", -3),
        ("failed", -3),
    ] {
        let s = service(&db, user.id, None, "vps").await;
        force_status(&db, s.id, status).await;
        let next = now + Duration::days(days);
        assert!(
            services::set_renewal_dates(&db, s.id, next - Duration::days(30), next)
                .await
                .unwrap()
        );
        made.push(s.id);
    }
    let row = services::find(&db, made[0]).await.unwrap().unwrap();
    let next = now - Duration::days(2);
    assert_eq!(
        row.next_renewal_date.unwrap().timestamp_micros(),
        next.timestamp_micros()
    );
    assert_eq!(
        row.last_renewal_date.unwrap().timestamp_micros(),
        (next - Duration::days(30)).timestamp_micros()
    );

    let due = services::list_due_for_renewal(&db, now, None, 10)
        .await
        .unwrap();
    assert_eq!(
        due.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![made[0], made[1]]
    );
    let first = services::list_due_for_renewal(&db, now, None, 1)
        .await
        .unwrap();
    assert_eq!(
        first.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![made[0]]
    );
    let within_a_week = services::list_due_for_renewal(&db, now + Duration::days(7), None, 10)
        .await
        .unwrap();
    assert_eq!(
        within_a_week.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![made[0], made[1], made[2]]
    );
    // The next batch starts just after the last one read.
    let after = within_a_week[0]
        .next_renewal_date
        .map(|d| (d, within_a_week[0].id));
    let rest = services::list_due_for_renewal(&db, now + Duration::days(7), after, 10)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![made[1], made[2]]
    );
    assert!(
        !services::set_renewal_dates(&db, made[5] + 1, now, now)
            .await
            .unwrap()
    );
}

#[sqlx::test]
async fn the_services_of_an_order_are_found_through_its_items(db: PgPool) {
    let location_id = catalog(&db).await;
    let user = customer(&db, "ayesha@example.pk").await;
    let first_item = item(&db, user.id, location_id, "rdp-starter-one").await;
    let second_item = items::insert(
        &db,
        &NewOrderItem {
            os_template_id: None,
            os_template_name: None,
            ssh_keys: None,
            order_id: first_item.order_id.unwrap(),
            plan_id: "vps-nano-one",
            location_id,
            quantity: 1,
            price_at_order_pkr: 1200,
            validity_months: 1,
        },
    )
    .await
    .unwrap();
    let other_item = item(&db, user.id, location_id, "vps-nano-one").await;
    let s1 = service(&db, user.id, Some(first_item.id), "rdp").await;
    let s2 = service(&db, user.id, Some(second_item.id), "vps").await;
    let s3 = service(&db, user.id, Some(second_item.id), "vps").await;
    service(&db, user.id, Some(other_item.id), "vps").await;
    service(&db, user.id, None, "vps").await;

    let of_order = services::list_for_order(&db, first_item.order_id.unwrap())
        .await
        .unwrap();
    assert_eq!(
        of_order.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![s1.id, s2.id, s3.id]
    );
    let of_other = services::list_for_order(&db, other_item.order_id.unwrap())
        .await
        .unwrap();
    assert_eq!(of_other.len(), 1);
    assert!(
        services::list_for_order(&db, 999_999)
            .await
            .unwrap()
            .is_empty()
    );
}

#[sqlx::test]
async fn a_services_log_is_listed_newest_first(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let admin = customer(&db, "ops@nextgenrdp.pk").await;
    let created = service(&db, user.id, None, "vps").await;
    let other = service(&db, user.id, None, "vps").await;

    let first = logs::insert(
        &db,
        created.id,
        ServiceAction::Create,
        "pending",
        None,
        None,
    )
    .await
    .unwrap();
    assert_eq!(first.service_id, Some(created.id));
    assert_eq!(
        (first.action.as_str(), first.status.as_str()),
        ("create", "pending")
    );
    assert!(first.details.is_none() && first.performed_by.is_none());
    assert!(first.created_at.is_some());
    let second = logs::insert(
        &db,
        created.id,
        ServiceAction::PasswordReset,
        "success",
        Some("by operator"),
        Some(admin.id),
    )
    .await
    .unwrap();
    assert_eq!(second.details.as_deref(), Some("by operator"));
    assert_eq!(second.performed_by, Some(admin.id));
    logs::insert(
        &db,
        other.id,
        ServiceAction::Suspend,
        "failed",
        Some("timeout"),
        None,
    )
    .await
    .unwrap();

    let listed = logs::list_for_service(&db, created.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|l| l.id).collect::<Vec<_>>(),
        vec![second.id, first.id]
    );
    assert!(
        logs::list_for_service(&db, other.id + 100)
            .await
            .unwrap()
            .is_empty()
    );
    // the database refuses a status it does not know
    assert!(
        logs::insert(&db, created.id, ServiceAction::Create, "done", None, None)
            .await
            .is_err()
    );
}
