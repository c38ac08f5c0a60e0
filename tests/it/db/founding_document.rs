//! The founding document (`nextgenrdp-schema-design.md`) against the migrated schema: for each of
//! its tables, an INSERT written to the document's DDL alone (its columns, its spellings, its
//! values) succeeds. The shop's existing front end and scripts write such statements; where the
//! schema is stricter than the document (README, "The founding document"), the document's own
//! values still pass.

use sqlx::PgPool;

/// One INSERT per table of the document, in the document's order, each using only the columns
/// the document gives that table.
const DOCUMENT_INSERTS: &[(&str, &str)] = &[
    (
        "users",
        "INSERT INTO users (name, email, phone, password_hash, is_verified)
         VALUES ('Sana Iqbal', 'sana@example.pk', '+923001112233',
                 '$2b$12$abcdefghijklmnopqrstuuS1BfBFOKr3hNq0T4WFd8vd1uBrqWG', true)",
    ),
    (
        "user_sessions",
        "INSERT INTO user_sessions (user_id, token_hash, expires_at, ip_address, user_agent)
         VALUES ((SELECT id FROM users WHERE email = 'sana@example.pk'), 'f1e2d3c4b5a6',
                 CURRENT_TIMESTAMP + INTERVAL '7 days', '203.0.113.9', 'Mozilla/5.0')",
    ),
    (
        "product_categories",
        "INSERT INTO product_categories (name, slug, description, display_order)
         VALUES ('Windows RDP', 'windows-rdp', 'Remote desktops', 1)",
    ),
    (
        "plans",
        "INSERT INTO plans (id, category_id, name, description, cpu, ram, storage, bandwidth, os,
                            price_pkr, is_active, theme_color, label)
         VALUES ('rdp-starter-one', (SELECT id FROM product_categories WHERE slug = 'windows-rdp'),
                 'Starter', 'For one user', '2 vCore', '4 GB RAM', '30 GB NVMe SSD', '500 GB',
                 'Windows Server 2022', 2500, true, 'sky', 'Recommended')",
    ),
    (
        "plan_features",
        "INSERT INTO plan_features (plan_id, feature) VALUES ('rdp-starter-one', 'Full admin access')",
    ),
    (
        "locations",
        "INSERT INTO locations (name, country_code, city, is_active, display_order)
         VALUES ('Karachi DC', 'PK', 'Karachi', true, 1)",
    ),
    (
        "orders",
        "INSERT INTO orders (user_id, status, total_amount_pkr, discount_amount_pkr,
                             final_amount_pkr, promo_code, payment_method, payment_reference, notes)
         VALUES ((SELECT id FROM users WHERE email = 'sana@example.pk'), 'pending_payment', 2500,
                 0, 2500, NULL, 'bank_transfer', 'TID12345678', 'Needs it by Monday')",
    ),
    (
        "order_items",
        "INSERT INTO order_items (order_id, plan_id, location_id, quantity, price_at_order_pkr,
                                  validity_months, start_date, end_date)
         VALUES ((SELECT max(id) FROM orders), 'rdp-starter-one',
                 (SELECT id FROM locations WHERE name = 'Karachi DC'), 1, 2500, 1,
                 CURRENT_TIMESTAMP, CURRENT_TIMESTAMP + INTERVAL '1 month')",
    ),
    (
        "promo_codes",
        "INSERT INTO promo_codes (code, discount_type, discount_value, min_order_value,
                                  max_discount_amount, valid_from, valid_until, is_active, max_uses,
                                  current_uses)
         VALUES ('WELCOME10', 'percentage', 10, 0, 1000, CURRENT_TIMESTAMP,
                 CURRENT_TIMESTAMP + INTERVAL '30 days', true, 100, 0)",
    ),
    (
        "services",
        "INSERT INTO services (order_item_id, user_id, service_type, status, hostname, ip_address,
                               username, password_encrypted, server_id, last_renewal_date,
                               next_renewal_date, termination_date)
         VALUES ((SELECT max(id) FROM order_items), (SELECT id FROM users WHERE email = 'sana@example.pk'),
                 'rdp', 'provisioning', 'sana-desk.example.pk', '203.0.113.10', 'Administrator',
                 NULL, 'vm-101', NULL, NULL, NULL)",
    ),
    (
        "service_logs",
        "INSERT INTO service_logs (service_id, action, status, details, performed_by)
         VALUES ((SELECT max(id) FROM services), 'create', 'success', 'Ordered',
                 (SELECT id FROM users WHERE email = 'sana@example.pk'))",
    ),
];

#[sqlx::test]
async fn every_tables_insert_written_to_the_document_succeeds(db: PgPool) {
    let tables: Vec<&str> = DOCUMENT_INSERTS.iter().map(|(table, _)| *table).collect();
    assert_eq!(
        tables,
        [
            "users",
            "user_sessions",
            "product_categories",
            "plans",
            "plan_features",
            "locations",
            "orders",
            "order_items",
            "promo_codes",
            "services",
            "service_logs",
        ],
        "every table of the document, in its order"
    );
    for (table, statement) in DOCUMENT_INSERTS {
        let done = sqlx::query(*statement)
            .execute(&db)
            .await
            .unwrap_or_else(|err| panic!("the document's INSERT into {table} failed: {err}"));
        assert_eq!(done.rows_affected(), 1, "{table}");
    }
}

#[sqlx::test]
async fn a_location_inserted_without_a_slug_gets_one_from_its_name(db: PgPool) {
    let slug_of = |name: &'static str| {
        let db = db.clone();
        async move {
            sqlx::query_scalar::<_, String>(
                "insert into locations (name, country_code) values ($1, 'PK') returning slug",
            )
            .bind(name)
            .fetch_one(&db)
            .await
            .unwrap()
        }
    };
    assert_eq!(slug_of("Karachi DC").await, "karachi-dc");
    // Taken: the next free number.
    assert_eq!(slug_of("Karachi  DC!").await, "karachi-dc-2");
    assert_eq!(slug_of("karachi dc").await, "karachi-dc-3");
    // Nothing usable in the name (Urdu script), or too short: still a valid slug.
    assert_eq!(slug_of("کراچی").await, "location");
    assert_eq!(slug_of("LA").await, "location-la");
    let long =
        slug_of("A very long name for a data centre somewhere in the north of Pakistan").await;
    assert!(long.len() <= 50 && !long.ends_with('-'), "{long}");
    // A slug given is kept.
    let given: String = sqlx::query_scalar(
        "insert into locations (name, country_code, slug) values ('Lahore', 'PK', 'lhr-1') returning slug",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(given, "lhr-1");
}
