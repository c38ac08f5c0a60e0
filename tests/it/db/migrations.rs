use sqlx::PgPool;

#[sqlx::test(migrations = false)]
async fn migrating_twice_changes_nothing_the_second_time(db: PgPool) {
    nextgenrdp::db::migrate(&db).await.unwrap();
    let before: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations")
        .fetch_one(&db)
        .await
        .unwrap();
    nextgenrdp::db::migrate(&db).await.unwrap();
    let after: i64 = sqlx::query_scalar("select count(*) from _sqlx_migrations")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(before, after);
    assert_eq!(after as usize, nextgenrdp::db::MIGRATOR.iter().count());
    nextgenrdp::db::check_ready(&db).await.unwrap();
}

#[sqlx::test(migrations = false)]
async fn an_unmigrated_database_is_not_ready(db: PgPool) {
    let err = nextgenrdp::db::check_ready(&db).await.unwrap_err();
    assert!(err.to_string().contains("not applied"), "{err}");
}

/// Every column of the founding document, with its type: `\d` must show them all.
#[sqlx::test]
async fn every_seed_table_has_every_seed_column_with_its_type(db: PgPool) {
    let seed: &[(&str, &[(&str, &str)])] = &[
        (
            "users",
            &[
                ("id", "integer"),
                ("name", "character varying(100)"),
                ("email", "character varying(255)"),
                ("phone", "character varying(20)"),
                ("password_hash", "character varying(255)"),
                ("is_verified", "boolean"),
                ("created_at", "timestamp with time zone"),
                ("updated_at", "timestamp with time zone"),
            ],
        ),
        (
            "user_sessions",
            &[
                ("id", "integer"),
                ("user_id", "integer"),
                ("token_hash", "character varying(255)"),
                ("expires_at", "timestamp with time zone"),
                ("ip_address", "character varying(45)"),
                ("user_agent", "text"),
                ("created_at", "timestamp with time zone"),
            ],
        ),
        (
            "product_categories",
            &[
                ("id", "integer"),
                ("name", "character varying(50)"),
                ("slug", "character varying(50)"),
                ("description", "text"),
                ("display_order", "integer"),
            ],
        ),
        (
            "plans",
            &[
                ("id", "character varying(50)"),
                ("category_id", "integer"),
                ("name", "character varying(100)"),
                ("description", "text"),
                ("cpu", "character varying(50)"),
                ("ram", "character varying(50)"),
                ("storage", "character varying(100)"),
                ("bandwidth", "character varying(50)"),
                ("os", "character varying(100)"),
                ("price_pkr", "integer"),
                ("is_active", "boolean"),
                ("theme_color", "character varying(20)"),
                ("label", "character varying(50)"),
                ("created_at", "timestamp with time zone"),
                ("updated_at", "timestamp with time zone"),
            ],
        ),
        (
            "plan_features",
            &[
                ("id", "integer"),
                ("plan_id", "character varying(50)"),
                ("feature", "text"),
            ],
        ),
        (
            "locations",
            &[
                ("id", "integer"),
                ("name", "character varying(100)"),
                ("country_code", "character varying(2)"),
                ("city", "character varying(100)"),
                ("is_active", "boolean"),
                ("display_order", "integer"),
            ],
        ),
        (
            "orders",
            &[
                ("id", "integer"),
                ("user_id", "integer"),
                ("status", "character varying(50)"),
                ("total_amount_pkr", "integer"),
                ("discount_amount_pkr", "integer"),
                ("final_amount_pkr", "integer"),
                ("promo_code", "character varying(50)"),
                ("payment_method", "character varying(50)"),
                ("payment_reference", "character varying(255)"),
                ("notes", "text"),
                ("created_at", "timestamp with time zone"),
                ("updated_at", "timestamp with time zone"),
            ],
        ),
        (
            "order_items",
            &[
                ("id", "integer"),
                ("order_id", "integer"),
                ("plan_id", "character varying(50)"),
                ("location_id", "integer"),
                ("quantity", "integer"),
                ("price_at_order_pkr", "integer"),
                ("validity_months", "integer"),
                ("start_date", "timestamp with time zone"),
                ("end_date", "timestamp with time zone"),
            ],
        ),
        (
            "promo_codes",
            &[
                ("id", "integer"),
                ("code", "character varying(50)"),
                ("discount_type", "character varying(20)"),
                ("discount_value", "integer"),
                ("min_order_value", "integer"),
                ("max_discount_amount", "integer"),
                ("valid_from", "timestamp with time zone"),
                ("valid_until", "timestamp with time zone"),
                ("is_active", "boolean"),
                ("max_uses", "integer"),
                ("current_uses", "integer"),
                ("created_at", "timestamp with time zone"),
            ],
        ),
        (
            "services",
            &[
                ("id", "integer"),
                ("order_item_id", "integer"),
                ("user_id", "integer"),
                ("service_type", "character varying(20)"),
                ("status", "character varying(20)"),
                ("hostname", "character varying(255)"),
                ("ip_address", "character varying(45)"),
                ("username", "character varying(100)"),
                ("password_encrypted", "character varying(255)"),
                ("server_id", "character varying(100)"),
                ("created_at", "timestamp with time zone"),
                ("updated_at", "timestamp with time zone"),
                ("last_renewal_date", "timestamp with time zone"),
                ("next_renewal_date", "timestamp with time zone"),
                ("termination_date", "timestamp with time zone"),
            ],
        ),
        (
            "service_logs",
            &[
                ("id", "integer"),
                ("service_id", "integer"),
                ("action", "character varying(50)"),
                ("status", "character varying(20)"),
                ("details", "text"),
                ("performed_by", "integer"),
                ("created_at", "timestamp with time zone"),
            ],
        ),
    ];
    for (table, columns) in seed {
        for (column, expected) in *columns {
            let found: Option<String> = sqlx::query_scalar(
                "select format_type(a.atttypid, a.atttypmod) from pg_attribute a
                 where a.attrelid = $1::regclass and a.attname = $2 and not a.attisdropped",
            )
            .bind(table)
            .bind(column)
            .fetch_optional(&db)
            .await
            .unwrap();
            assert_eq!(found.as_deref(), Some(*expected), "{table}.{column}");
        }
    }
    // every foreign key column of every table has an index starting with it
    let unindexed: Vec<String> = sqlx::query_scalar(
        "select c.conrelid::regclass || '.' || a.attname
         from pg_constraint c
         join pg_attribute a on a.attrelid = c.conrelid and a.attnum = c.conkey[1]
         where c.contype = 'f' and c.connamespace = 'public'::regnamespace
           and not exists (select 1 from pg_index i where i.indrelid = c.conrelid and i.indkey[0] = c.conkey[1])",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(
        unindexed.is_empty(),
        "foreign keys without an index: {unindexed:?}"
    );
}

/// The backfill of the founding document's `order_items.start_date` / `end_date`: an item
/// bought before a new purchase's item got its period at activation takes its service's first
/// period — from the service's dates when never renewed, from its first renewal when renewed —
/// and an item whose service never went live stays without one.
#[sqlx::test(migrations = false)]
async fn items_bought_before_get_their_first_period(db: PgPool) {
    nextgenrdp::db::MIGRATOR
        .run_to(20261213000029, &db)
        .await
        .unwrap();
    sqlx::raw_sql(
        "insert into users (id, name, email, password_hash) values (1, 'Sana', 'sana@example.pk', 'x');
         insert into product_categories (id, name, slug) values (1, 'RDP', 'rdp');
         insert into plans (id, category_id, name, cpu, ram, storage, bandwidth, price_pkr)
             values ('rdp-one', 1, 'One', '2', '4', '30', '500', 2500);
         insert into locations (id, name, country_code, slug) values (1, 'Karachi', 'PK', 'karachi');
         insert into orders (id, user_id, status, total_amount_pkr, final_amount_pkr)
             values (1, 1, 'active', 7500, 7500), (2, 1, 'active', 2500, 2500);
         -- Item 1: one server, never renewed. Item 2: one server, renewed once (order 2's
         -- renewal item 4). Item 3: its server never went live.
         insert into order_items (id, order_id, plan_id, location_id, price_at_order_pkr, validity_months)
             values (1, 1, 'rdp-one', 1, 2500, 1), (2, 1, 'rdp-one', 1, 2500, 3),
                    (3, 1, 'rdp-one', 1, 2500, 1);
         insert into services (id, order_item_id, user_id, service_type, status, plan_id, location_id,
                               last_renewal_date, next_renewal_date)
             values (1, 1, 1, 'rdp', 'active', 'rdp-one', 1, '2026-10-05 10:00+00', '2026-11-05 10:00+00'),
                    (2, 2, 1, 'rdp', 'active', 'rdp-one', 1, '2026-10-01 00:00+00', '2027-01-01 00:00+00'),
                    (3, 3, 1, 'rdp', 'failed', 'rdp-one', 1, null, null);
         insert into order_items (id, order_id, plan_id, location_id, price_at_order_pkr, validity_months,
                                  service_id, start_date, end_date)
             values (4, 2, 'rdp-one', 1, 2500, 3, 2, '2026-10-01 00:00+00', '2027-01-01 00:00+00');
         update services set last_renewal_date = '2026-10-01 00:00+00' where id = 2;",
    )
    .execute(&db)
    .await
    .unwrap();
    // Service 2 was activated on 1 July, renewed for 3 more months from its due date, 1 Oct.
    nextgenrdp::db::migrate(&db).await.unwrap();
    let periods: Vec<(i32, Option<String>, Option<String>)> = sqlx::query_as(
        "select id, to_char(start_date at time zone 'UTC', 'YYYY-MM-DD HH24:MI'),
                to_char(end_date at time zone 'UTC', 'YYYY-MM-DD HH24:MI')
         from order_items order by id",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    let period =
        |id: i32, start: &str, end: &str| (id, Some(start.to_owned()), Some(end.to_owned()));
    assert_eq!(
        periods,
        [
            period(1, "2026-10-05 10:00", "2026-11-05 10:00"),
            period(2, "2026-07-01 00:00", "2026-10-01 00:00"),
            (3, None, None),
            period(4, "2026-10-01 00:00", "2027-01-01 00:00"),
        ]
    );
}
