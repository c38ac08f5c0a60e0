//! The database itself refuses bogus rows, whatever the code above it does.

use sqlx::PgPool;

use super::customer;

/// Runs `sql` and returns the name of the constraint that refused it.
async fn refused_by(db: &PgPool, sql: &'static str) -> String {
    let err = sqlx::query(sql)
        .execute(db)
        .await
        .expect_err("the database accepted a bogus row");
    let db_err = err.as_database_error().expect("a database error");
    db_err
        .constraint()
        .map(str::to_owned)
        .unwrap_or_else(|| db_err.message().to_owned())
}

#[sqlx::test]
async fn a_bogus_order_status_is_refused(db: PgPool) {
    let constraint = refused_by(
        &db,
        "insert into orders (status, total_amount_pkr, final_amount_pkr) values ('shipped', 100, 100)",
    )
    .await;
    assert_eq!(constraint, "orders_status_check");
}

#[sqlx::test]
async fn an_order_whose_amounts_do_not_add_up_is_refused(db: PgPool) {
    let constraint = refused_by(
        &db,
        "insert into orders (status, total_amount_pkr, discount_amount_pkr, final_amount_pkr)
         values ('pending_payment', 1000, 100, 1000)",
    )
    .await;
    assert_eq!(constraint, "orders_final_amount_check");
    let constraint = refused_by(
        &db,
        "insert into orders (status, total_amount_pkr, final_amount_pkr) values ('pending_payment', -1, -1)",
    )
    .await;
    assert!(
        [
            "orders_total_amount_pkr_check",
            "orders_final_amount_pkr_check",
            // credit applied (0) cannot exceed a negative amount either
            "orders_credit_applied_check"
        ]
        .contains(&constraint.as_str()),
        "{constraint}"
    );
}

#[sqlx::test]
async fn a_negative_price_is_refused(db: PgPool) {
    sqlx::query("insert into product_categories (name, slug) values ('RDP', 'rdp')")
        .execute(&db)
        .await
        .unwrap();
    let constraint = refused_by(
        &db,
        "insert into plans (id, category_id, name, cpu, ram, storage, bandwidth, price_pkr)
         select 'rdp-bad', id, 'Bad', '1', '1', '1', '1', -1 from product_categories",
    )
    .await;
    assert_eq!(constraint, "plans_price_pkr_check");
}

#[sqlx::test]
async fn a_duplicate_email_differing_only_in_case_is_refused(db: PgPool) {
    customer(&db, "ayesha@example.pk").await;
    let err = nextgenrdp::accounts::users::insert(
        &db,
        &nextgenrdp::accounts::users::NewUser {
            name: "Someone Else",
            email: "Ayesha@Example.PK",
            phone: None,
            password_hash: "x",
            role: nextgenrdp::accounts::Role::Customer,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.as_database_error().unwrap().constraint(),
        Some("users_email_lower_key")
    );
}

#[sqlx::test]
async fn quantities_months_roles_and_service_states_are_checked(db: PgPool) {
    assert_eq!(
        refused_by(
            &db,
            "insert into order_items (quantity, price_at_order_pkr) values (0, 100)"
        )
        .await,
        "order_items_quantity_check"
    );
    assert_eq!(
        refused_by(
            &db,
            "insert into order_items (validity_months, price_at_order_pkr) values (0, 100)"
        )
        .await,
        "order_items_validity_months_check"
    );
    assert_eq!(
        refused_by(&db, "insert into users (name, email, password_hash, role) values ('x', 'x@y.pk', 'h', 'root')").await,
        "users_role_check"
    );
    assert_eq!(
        refused_by(
            &db,
            "insert into services (service_type, status) values ('rdp', 'sleeping')"
        )
        .await,
        "services_status_check"
    );
    assert_eq!(
        refused_by(
            &db,
            "insert into services (service_type, status) values ('mainframe', 'active')"
        )
        .await,
        "services_service_type_check"
    );
    assert_eq!(
        refused_by(
            &db,
            "insert into service_logs (action, status) values ('create', 'maybe')"
        )
        .await,
        "service_logs_status_check"
    );
}

#[sqlx::test]
async fn promo_codes_cannot_be_used_more_than_allowed_or_exceed_100_percent(db: PgPool) {
    assert_eq!(
        refused_by(&db, "insert into promo_codes (code, discount_type, discount_value) values ('HALF', 'percentage', 150)").await,
        "promo_codes_check"
    );
    assert_eq!(
        refused_by(
            &db,
            "insert into promo_codes (code, discount_type, discount_value) values ('X', 'bogus', 1)"
        )
        .await,
        "promo_codes_discount_type_check"
    );
    sqlx::query("insert into promo_codes (code, discount_type, discount_value, max_uses) values ('SAVE10', 'percentage', 10, 1)")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("update promo_codes set current_uses = current_uses + 1")
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(
        refused_by(
            &db,
            "update promo_codes set current_uses = current_uses + 1"
        )
        .await,
        "promo_codes_uses_within_max"
    );
    assert_eq!(
        refused_by(&db, "insert into promo_codes (code, discount_type, discount_value) values ('save10', 'fixed_amount', 100)").await,
        "promo_codes_code_upper_key"
    );
}
