//! The operator's searches, lists and dashboard figures can be answered from their indexes:
//! each statement's shape, planned with sequential scans priced out, names the index that
//! `bench/scale` relies on at a million orders. An index missing, or unusable for the query
//! (a wrong operator class, an expression it does not match), leaves a sequential scan here.

use sqlx::PgPool;

/// The plan of `sql` (with `$1` bound to `value`) when a sequential scan or a sort is the last
/// resort.
async fn plan(db: &PgPool, sql: &str, value: &str) -> String {
    let mut tx = db.begin().await.unwrap();
    // Sorting priced out too: on the test's empty tables a sort costs nothing, at a million rows
    // it is the cost the index order saves.
    for setting in [
        "set local enable_seqscan = off",
        "set local enable_sort = off",
    ] {
        sqlx::query(setting).execute(&mut *tx).await.unwrap();
    }
    // The statements are this file's own literals.
    let lines: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("explain {sql}")))
        .bind(value)
        .persistent(false)
        .fetch_all(&mut *tx)
        .await
        .unwrap();
    lines.join("\n")
}

#[sqlx::test]
async fn searches_by_part_of_a_word_go_through_trigram_indexes(db: PgPool) {
    for (sql, index) in [
        (
            "select id from users where email ilike $1 or name ilike $1",
            "users_email_trgm_idx",
        ),
        (
            "select id from services where hostname ilike $1",
            "services_hostname_trgm_idx",
        ),
        (
            "select id from payments where gateway_txn_id ilike $1 or gateway_reference ilike $1",
            "payments_gateway_txn_id_trgm_idx",
        ),
    ] {
        let plan = plan(&db, sql, "%ustomer42%").await;
        assert!(plan.contains(index), "{sql} without {index}:\n{plan}");
    }
}

#[sqlx::test]
async fn an_address_is_searched_by_its_beginning_through_a_range(db: PgPool) {
    let plan = plan(
        &db,
        "select id from services where ip_address like $1",
        "10.0.16.%",
    )
    .await;
    assert!(plan.contains("services_ip_address_prefix_idx"), "{plan}");
}

#[sqlx::test]
async fn an_order_is_found_by_its_whole_reference_through_a_b_tree(db: PgPool) {
    let plan = plan(
        &db,
        "select id from orders where upper(payment_reference) = upper($1)",
        "tid88442211",
    )
    .await;
    assert!(
        plan.contains("orders_payment_reference_upper_idx"),
        "{plan}"
    );
}

#[sqlx::test]
async fn lists_and_the_revenue_are_read_in_index_order(db: PgPool) {
    for (sql, index) in [
        (
            "select id from services where $1::text is not null
             order by created_at desc, id desc limit 25",
            "services_created_idx",
        ),
        (
            "select id from payments where $1::text is not null order by created_at, id limit 25",
            "payments_created_idx",
        ),
        (
            "select id from service_logs
             where $1::text is not null and status = 'pending' and action like '%\\_requested'
             order by created_at desc, id desc limit 100",
            "service_logs_open_requests_idx",
        ),
        (
            "select sum(final_amount_pkr) from orders
             where status in ('paid', 'processing', 'active') and paid_at >= $1::timestamptz",
            "orders_earning_paid_at_idx",
        ),
    ] {
        let plan = plan(&db, sql, "2026-12-01T00:00:00Z").await;
        assert!(plan.contains(index), "{sql} without {index}:\n{plan}");
    }
}
