use chrono::{Duration, Utc};
use nextgenrdp::catalog::file::{CatalogFile, DEFAULT_CATALOG};
use nextgenrdp::catalog::locations;
use nextgenrdp::orders::items::{self, NewOrderItem};
use nextgenrdp::orders::orders::{self, NewOrder, Order, OrderFilter};
use nextgenrdp::orders::{OrderStatus, can_transition};
use sqlx::PgPool;

use super::customer;

/// Inserts an order of `total` PKR with `discount` off for `user_id`.
pub async fn order(db: &PgPool, user_id: i32, total: i32, discount: i32) -> Order {
    orders::insert(
        db,
        &NewOrder {
            user_id,
            total_amount_pkr: total,
            discount_amount_pkr: discount,
            final_amount_pkr: total - discount,
            promo_code: (discount > 0).then_some("SAVE10"),
            promo_code_id: None,
            payment_method: Some("bank_transfer"),
            notes: None,
        },
    )
    .await
    .unwrap()
}

/// The default catalog, imported; returns the id of its first location.
pub async fn catalog(db: &PgPool) -> i32 {
    CatalogFile::parse(DEFAULT_CATALOG)
        .unwrap()
        .import(db)
        .await
        .unwrap();
    locations::list(db).await.unwrap()[0].id
}

#[sqlx::test]
async fn a_new_order_awaits_payment_and_is_found_by_id(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let placed = order(&db, user.id, 2500, 250).await;
    assert_eq!(placed.status, OrderStatus::PendingPayment);
    assert_eq!(placed.user_id, Some(user.id));
    assert_eq!(placed.final_amount_pkr, 2250);
    assert_eq!(placed.discount_amount_pkr(), 250);
    assert_eq!(placed.promo_code.as_deref(), Some("SAVE10"));
    assert_eq!(placed.payment_method.as_deref(), Some("bank_transfer"));
    assert!(placed.payment_reference.is_none());
    assert!(placed.created_at.is_some());

    let found = orders::find(&db, placed.id).await.unwrap().unwrap();
    assert_eq!(found.total_amount_pkr, 2500);
    assert_eq!(found.status, OrderStatus::PendingPayment);
    assert!(orders::find(&db, placed.id + 1000).await.unwrap().is_none());
}

#[sqlx::test]
async fn the_database_refuses_an_order_whose_amounts_do_not_add_up(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let wrong = orders::insert(
        &db,
        &NewOrder {
            user_id: user.id,
            total_amount_pkr: 2500,
            discount_amount_pkr: 100,
            final_amount_pkr: 2500,
            promo_code: None,
            promo_code_id: None,
            payment_method: None,
            notes: Some("sum is off"),
        },
    )
    .await;
    assert!(wrong.is_err());
    assert_eq!(
        orders::count(&db, &OrderFilter::default())
            .await
            .unwrap()
            .count,
        0
    );
}

#[sqlx::test]
async fn find_for_user_hides_another_customers_order(db: PgPool) {
    let ayesha = customer(&db, "ayesha@example.pk").await;
    let bilal = customer(&db, "bilal@example.pk").await;
    let placed = order(&db, ayesha.id, 2500, 0).await;
    let own = orders::find_for_user(&db, placed.id, ayesha.id)
        .await
        .unwrap();
    assert_eq!(own.unwrap().id, placed.id);
    assert!(
        orders::find_for_user(&db, placed.id, bilal.id)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        orders::find_for_user(&db, placed.id + 1, ayesha.id)
            .await
            .unwrap()
            .is_none()
    );
}

#[sqlx::test]
async fn find_for_update_locks_the_order_until_the_transaction_ends(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let placed = order(&db, user.id, 2500, 0).await;
    let mut tx = db.begin().await.unwrap();
    let locked = orders::find_for_update(&mut *tx, placed.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(locked.id, placed.id);
    // another connection cannot lock it meanwhile
    let blocked = sqlx::query("select id from orders where id = $1 for update nowait")
        .bind(placed.id)
        .execute(&db)
        .await
        .unwrap_err();
    assert_eq!(
        blocked.as_database_error().unwrap().code().as_deref(),
        Some("55P03")
    );
    tx.commit().await.unwrap();
    sqlx::query("select id from orders where id = $1 for update nowait")
        .bind(placed.id)
        .execute(&db)
        .await
        .unwrap();
    assert!(
        orders::find_for_update(&db, placed.id + 1)
            .await
            .unwrap()
            .is_none()
    );
}

#[sqlx::test]
async fn a_customers_orders_are_listed_newest_first_and_counted(db: PgPool) {
    let ayesha = customer(&db, "ayesha@example.pk").await;
    let bilal = customer(&db, "bilal@example.pk").await;
    let first = order(&db, ayesha.id, 1200, 0).await;
    let second = order(&db, ayesha.id, 2500, 0).await;
    let third = order(&db, ayesha.id, 4500, 0).await;
    order(&db, bilal.id, 9800, 0).await;

    let all = orders::list_for_user(&db, ayesha.id, 10, 0).await.unwrap();
    let ids: Vec<i32> = all.iter().map(|o| o.id).collect();
    assert_eq!(ids, vec![third.id, second.id, first.id]);
    let page_two = orders::list_for_user(&db, ayesha.id, 2, 2).await.unwrap();
    assert_eq!(
        page_two.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![first.id]
    );
    assert_eq!(orders::count_for_user(&db, ayesha.id).await.unwrap(), 3);
    assert_eq!(orders::count_for_user(&db, bilal.id).await.unwrap(), 1);
    assert_eq!(
        orders::count_for_user(&db, bilal.id + 100).await.unwrap(),
        0
    );
}

#[sqlx::test]
async fn the_operator_list_filters_by_status_and_customer(db: PgPool) {
    let ayesha = customer(&db, "ayesha@example.pk").await;
    let bilal = customer(&db, "bilal@example.pk").await;
    let a1 = order(&db, ayesha.id, 1200, 0).await;
    let a2 = order(&db, ayesha.id, 2500, 0).await;
    let b1 = order(&db, bilal.id, 9800, 0).await;
    assert!(
        nextgenrdp::orders::transition(
            &mut db.acquire().await.unwrap(),
            a2.id,
            OrderStatus::PendingPayment,
            OrderStatus::Paid
        )
        .await
        .unwrap()
    );
    assert!(
        nextgenrdp::orders::transition(
            &mut db.acquire().await.unwrap(),
            b1.id,
            OrderStatus::PendingPayment,
            OrderStatus::Paid
        )
        .await
        .unwrap()
    );

    let everything = orders::list(&db, &OrderFilter::default(), 10, 0)
        .await
        .unwrap();
    assert_eq!(
        everything.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![b1.id, a2.id, a1.id]
    );
    let paid = orders::list(
        &db,
        &OrderFilter {
            status: Some("paid"),
            ..Default::default()
        },
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(
        paid.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![b1.id, a2.id]
    );
    let ayesha_paid = orders::list(
        &db,
        &OrderFilter {
            status: Some("paid"),
            user_id: Some(ayesha.id),
            ..Default::default()
        },
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(
        ayesha_paid.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![a2.id]
    );
    let ayesha_all = orders::list(
        &db,
        &OrderFilter {
            user_id: Some(ayesha.id),
            ..Default::default()
        },
        1,
        1,
    )
    .await
    .unwrap();
    assert_eq!(
        ayesha_all.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![a1.id]
    );
    assert!(
        orders::list(
            &db,
            &OrderFilter {
                status: Some("cancelled"),
                ..Default::default()
            },
            10,
            0
        )
        .await
        .unwrap()
        .is_empty()
    );

    assert_eq!(
        orders::count(&db, &OrderFilter::default())
            .await
            .unwrap()
            .count,
        3
    );
    assert_eq!(
        orders::count(
            &db,
            &OrderFilter {
                status: Some("paid"),
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .count,
        2
    );
    assert_eq!(
        orders::count(
            &db,
            &OrderFilter {
                status: Some("pending_payment"),
                user_id: Some(ayesha.id),
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .count,
        1
    );
    assert_eq!(
        orders::count(
            &db,
            &OrderFilter {
                user_id: Some(bilal.id),
                ..Default::default()
            }
        )
        .await
        .unwrap()
        .count,
        1
    );
}

#[sqlx::test]
async fn a_status_change_from_the_wrong_status_changes_nothing(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let placed = order(&db, user.id, 2500, 0).await;

    // the order is pending, not paid: moving it "from paid" must not touch it
    assert!(
        !nextgenrdp::orders::transition(
            &mut db.acquire().await.unwrap(),
            placed.id,
            OrderStatus::Paid,
            OrderStatus::Active
        )
        .await
        .unwrap()
    );
    let row = orders::find(&db, placed.id).await.unwrap().unwrap();
    assert_eq!(row.status, OrderStatus::PendingPayment);
    assert_eq!(row.updated_at, placed.updated_at);

    assert!(
        nextgenrdp::orders::transition(
            &mut db.acquire().await.unwrap(),
            placed.id,
            OrderStatus::PendingPayment,
            OrderStatus::Paid
        )
        .await
        .unwrap()
    );
    // a second, stale confirmation (or an expiry racing the payment) finds it paid already
    assert!(
        !nextgenrdp::orders::transition(
            &mut db.acquire().await.unwrap(),
            placed.id,
            OrderStatus::PendingPayment,
            OrderStatus::Paid
        )
        .await
        .unwrap()
    );
    assert!(
        !nextgenrdp::orders::transition(
            &mut db.acquire().await.unwrap(),
            placed.id,
            OrderStatus::PendingPayment,
            OrderStatus::Expired
        )
        .await
        .unwrap()
    );
    assert_eq!(
        orders::find(&db, placed.id).await.unwrap().unwrap().status,
        OrderStatus::Paid
    );
    // a move the life cycle does not have is refused before the database is asked
    let refused = nextgenrdp::orders::transition(
        &mut db.acquire().await.unwrap(),
        placed.id,
        OrderStatus::Paid,
        OrderStatus::Cancelled,
    )
    .await
    .unwrap_err();
    assert_eq!(
        refused.to_string(),
        "an order cannot move from paid to cancelled"
    );
    assert_eq!(
        orders::find(&db, placed.id).await.unwrap().unwrap().status,
        OrderStatus::Paid
    );

    assert!(can_transition(OrderStatus::Paid, OrderStatus::Processing));
    assert!(
        nextgenrdp::orders::transition(
            &mut db.acquire().await.unwrap(),
            placed.id,
            OrderStatus::Paid,
            OrderStatus::Processing
        )
        .await
        .unwrap()
    );
    assert!(
        nextgenrdp::orders::transition(
            &mut db.acquire().await.unwrap(),
            placed.id,
            OrderStatus::Processing,
            OrderStatus::Active
        )
        .await
        .unwrap()
    );
    assert_eq!(
        orders::find(&db, placed.id).await.unwrap().unwrap().status,
        OrderStatus::Active
    );
    assert!(
        !nextgenrdp::orders::transition(
            &mut db.acquire().await.unwrap(),
            placed.id + 1,
            OrderStatus::PendingPayment,
            OrderStatus::Paid
        )
        .await
        .unwrap()
    );
}

#[sqlx::test]
async fn set_payment_records_the_method_and_reference(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let placed = order(&db, user.id, 2500, 0).await;
    assert!(
        orders::set_payment(&db, placed.id, "jazzcash", Some("JC-20261126-0042"))
            .await
            .unwrap()
            .is_some()
    );
    let row = orders::find(&db, placed.id).await.unwrap().unwrap();
    assert_eq!(row.payment_method.as_deref(), Some("jazzcash"));
    assert_eq!(row.payment_reference.as_deref(), Some("JC-20261126-0042"));
    assert!(
        orders::set_payment(&db, placed.id, "easypaisa", None)
            .await
            .unwrap()
            .is_some()
    );
    let row = orders::find(&db, placed.id).await.unwrap().unwrap();
    assert_eq!(row.payment_method.as_deref(), Some("easypaisa"));
    assert!(row.payment_reference.is_none());
    assert!(
        orders::set_payment(&db, placed.id + 1, "jazzcash", None)
            .await
            .unwrap()
            .is_none()
    );
}

#[sqlx::test]
async fn only_old_unpaid_orders_are_listed_as_expired_oldest_first(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let oldest = order(&db, user.id, 1200, 0).await;
    let old = order(&db, user.id, 2500, 0).await;
    let old_but_paid = order(&db, user.id, 4500, 0).await;
    let fresh = order(&db, user.id, 8500, 0).await;
    for (id, hours) in [(oldest.id, 72), (old.id, 48), (old_but_paid.id, 48)] {
        sqlx::query(
            "update orders set created_at = now() - make_interval(hours => $2) where id = $1",
        )
        .bind(id)
        .bind(hours)
        .execute(&db)
        .await
        .unwrap();
    }
    assert!(
        nextgenrdp::orders::transition(
            &mut db.acquire().await.unwrap(),
            old_but_paid.id,
            OrderStatus::PendingPayment,
            OrderStatus::Paid
        )
        .await
        .unwrap()
    );

    let cutoff = Utc::now() - Duration::hours(24);
    let expired = orders::list_expired_unpaid(&db, cutoff, 10).await.unwrap();
    assert_eq!(
        expired.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![oldest.id, old.id]
    );
    let first = orders::list_expired_unpaid(&db, cutoff, 1).await.unwrap();
    assert_eq!(
        first.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![oldest.id]
    );
    let everything = orders::list_expired_unpaid(&db, Utc::now() + Duration::minutes(1), 10)
        .await
        .unwrap();
    assert_eq!(
        everything.iter().map(|o| o.id).collect::<Vec<_>>(),
        vec![oldest.id, old.id, fresh.id]
    );
}

#[sqlx::test]
async fn items_are_listed_per_order_and_get_their_dates(db: PgPool) {
    let location_id = catalog(&db).await;
    let user = customer(&db, "ayesha@example.pk").await;
    let placed = order(&db, user.id, 2500 * 2 + 1200, 0).await;
    let other = order(&db, user.id, 1200, 0).await;
    let rdp = items::insert(
        &db,
        &NewOrderItem {
            os_template_id: None,
            os_template_name: None,
            ssh_keys: None,
            order_id: placed.id,
            plan_id: "rdp-starter-one",
            location_id,
            quantity: 2,
            price_at_order_pkr: 2500,
            validity_months: 1,
        },
    )
    .await
    .unwrap();
    assert_eq!(rdp.order_id, Some(placed.id));
    assert_eq!(rdp.plan_id.as_deref(), Some("rdp-starter-one"));
    assert_eq!(rdp.location_id, Some(location_id));
    assert_eq!(
        (rdp.quantity, rdp.price_at_order_pkr, rdp.validity_months),
        (2, 2500, 1)
    );
    assert!(rdp.start_date.is_none() && rdp.end_date.is_none());
    let vps = items::insert(
        &db,
        &NewOrderItem {
            os_template_id: None,
            os_template_name: None,
            ssh_keys: None,
            order_id: placed.id,
            plan_id: "vps-nano-one",
            location_id,
            quantity: 1,
            price_at_order_pkr: 1200,
            validity_months: 3,
        },
    )
    .await
    .unwrap();
    items::insert(
        &db,
        &NewOrderItem {
            os_template_id: None,
            os_template_name: None,
            ssh_keys: None,
            order_id: other.id,
            plan_id: "vps-nano-one",
            location_id,
            quantity: 1,
            price_at_order_pkr: 1200,
            validity_months: 1,
        },
    )
    .await
    .unwrap();

    let listed = items::list_for_order(&db, placed.id).await.unwrap();
    assert_eq!(
        listed.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![rdp.id, vps.id]
    );
    assert!(
        items::list_for_order(&db, placed.id + 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        items::find(&db, vps.id)
            .await
            .unwrap()
            .unwrap()
            .validity_months,
        3
    );
    assert!(items::find(&db, vps.id + 100).await.unwrap().is_none());

    let start = Utc::now();
    let end = start + Duration::days(90);
    assert!(items::set_dates(&db, vps.id, start, end).await.unwrap());
    let dated = items::find(&db, vps.id).await.unwrap().unwrap();
    assert_eq!(
        dated.start_date.unwrap().timestamp_micros(),
        start.timestamp_micros()
    );
    assert_eq!(
        dated.end_date.unwrap().timestamp_micros(),
        end.timestamp_micros()
    );
    // an end before the start is refused
    assert!(items::set_dates(&db, vps.id, end, start).await.is_err());
    assert!(
        !items::set_dates(&db, vps.id + 100, start, end)
            .await
            .unwrap()
    );
}

#[sqlx::test]
async fn an_item_for_an_unknown_plan_is_refused(db: PgPool) {
    let location_id = catalog(&db).await;
    let user = customer(&db, "ayesha@example.pk").await;
    let placed = order(&db, user.id, 2500, 0).await;
    let refused = items::insert(
        &db,
        &NewOrderItem {
            os_template_id: None,
            os_template_name: None,
            ssh_keys: None,
            order_id: placed.id,
            plan_id: "rdp-imaginary-nine",
            location_id,
            quantity: 1,
            price_at_order_pkr: 2500,
            validity_months: 1,
        },
    )
    .await;
    assert!(refused.is_err());
    assert!(
        items::list_for_order(&db, placed.id)
            .await
            .unwrap()
            .is_empty()
    );
}

/// The figures the database keeps of each customer's orders, against a count of the orders.
async fn figures_match_the_orders(db: &PgPool) {
    let drift: Vec<(i32, i64, i64)> = sqlx::query_as(
        "select u.id, coalesce(c.orders, 0)::bigint, count(o.id)
         from users u
         left join customer_orders c on c.user_id = u.id
         left join orders o on o.user_id = u.id
         group by u.id, c.orders, c.last_order_at
         having coalesce(c.orders, 0) <> count(o.id)
             or c.last_order_at is distinct from max(o.created_at)",
    )
    .fetch_all(db)
    .await
    .unwrap();
    assert!(
        drift.is_empty(),
        "figures differ from the orders: {drift:?}"
    );
}

#[sqlx::test]
async fn each_customers_order_figures_follow_every_change_to_the_orders(db: PgPool) {
    let ayesha = customer(&db, "ayesha@example.pk").await;
    let bilal = customer(&db, "bilal@example.pk").await;
    let first = order(&db, ayesha.id, 1000, 0).await;
    let second = order(&db, ayesha.id, 2000, 0).await;
    order(&db, bilal.id, 3000, 0).await;
    figures_match_the_orders(&db).await;

    // An order moved to another customer, and one dated earlier.
    sqlx::query("update orders set user_id = $2 where id = $1")
        .bind(second.id)
        .bind(bilal.id)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("update orders set created_at = created_at - interval '9 days' where id = $1")
        .bind(first.id)
        .execute(&db)
        .await
        .unwrap();
    figures_match_the_orders(&db).await;
    // A status change touches no figure, and a deleted order leaves them.
    sqlx::query("update orders set status = 'cancelled' where id = $1")
        .bind(first.id)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("delete from orders where id = $1")
        .bind(second.id)
        .execute(&db)
        .await
        .unwrap();
    figures_match_the_orders(&db).await;
    let (orders, _): (i32, Option<chrono::DateTime<Utc>>) =
        sqlx::query_as("select orders, last_order_at from customer_orders where user_id = $1")
            .bind(bilal.id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(orders, 1);
    // An account deleted keeps its orders (without an owner) and loses its figures.
    sqlx::query("delete from users where id = $1")
        .bind(ayesha.id)
        .execute(&db)
        .await
        .unwrap();
    figures_match_the_orders(&db).await;
    let left: i64 = sqlx::query_scalar("select count(*) from customer_orders where user_id = $1")
        .bind(ayesha.id)
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

/// A search by text alone is answered from the customers' figures; every page and total must be
/// what the search with every match gathered (`list` and `count`) gives.
#[sqlx::test]
async fn a_search_by_text_alone_pages_as_the_full_search_does(db: PgPool) {
    let mut customers = Vec::new();
    for n in 0..12 {
        customers.push(customer(&db, &format!("shopper{n}@example.pk")).await);
    }
    let other = customer(&db, "zara@example.pk").await;
    // Orders spread over days, several customers' orders at the same instant (ties).
    for (i, who) in customers.iter().cycle().take(70).enumerate() {
        let placed = order(&db, who.id, 1000 + i as i32, 0).await;
        sqlx::query(
            "update orders set created_at = now() - make_interval(hours => $2) where id = $1",
        )
        .bind(placed.id)
        .bind(((i * 7) % 23) as i32)
        .execute(&db)
        .await
        .unwrap();
    }
    // Another customer's order named by its reference, and one by its number.
    let named = order(&db, other.id, 5000, 0).await;
    orders::set_payment(&db, named.id, "manual", Some("TID-SHOPPER-1"))
        .await
        .unwrap();
    let numbered = order(&db, other.id, 6000, 0).await;
    figures_match_the_orders(&db).await;

    let number = numbered.id.to_string();
    for search in [
        "shopper",
        "SHOPPER1",
        "shopper11@",
        "tid-shopper-1",
        number.as_str(),
        "nobody",
    ] {
        let filter = OrderFilter {
            search: Some(search),
            ..OrderFilter::default()
        };
        let total = orders::count(&db, &filter).await.unwrap();
        for (limit, offset) in [(25, 0), (25, 25), (25, 50), (10, 60), (7, 3), (25, 100)] {
            let (page, page_total) = orders::page(&db, &filter, limit, offset).await.unwrap();
            let full = orders::list(&db, &filter, limit, offset).await.unwrap();
            let ids = |orders: &[Order]| orders.iter().map(|o| o.id).collect::<Vec<_>>();
            assert_eq!(ids(&page), ids(&full), "{search} {limit}@{offset}");
            assert_eq!(page_total, total, "{search}");
        }
    }
}
