use chrono::{Duration, Utc};
use nextgenrdp::orders::promo_codes::{self, DiscountType, PromoCodeFields};
use sqlx::PgPool;

fn fields(code: &str, max_uses: Option<i32>) -> PromoCodeFields<'_> {
    PromoCodeFields {
        code,
        discount_type: DiscountType::Percentage,
        discount_value: 10,
        min_order_value: 1000,
        max_discount_amount: Some(500),
        valid_from: None,
        valid_until: None,
        is_active: true,
        max_uses,
    }
}

#[sqlx::test]
async fn a_code_is_found_by_id_and_by_its_code_in_any_case(db: PgPool) {
    let code = promo_codes::insert(&db, &fields("SAVE10", Some(5)))
        .await
        .unwrap();
    assert_eq!(code.code, "SAVE10");
    assert_eq!(code.current_uses(), 0);
    assert_eq!(code.min_order_value(), 1000);
    assert!(code.is_active());
    assert_eq!(code.max_uses, Some(5));
    assert_eq!(code.max_discount_amount, Some(500));

    assert_eq!(
        promo_codes::find(&db, code.id).await.unwrap().unwrap().code,
        "SAVE10"
    );
    assert!(promo_codes::find(&db, code.id + 1).await.unwrap().is_none());
    for typed in ["SAVE10", "save10", "Save10"] {
        let found = promo_codes::find_by_code(&db, typed).await.unwrap();
        assert_eq!(found.map(|c| c.id), Some(code.id), "{typed}");
    }
    assert!(
        promo_codes::find_by_code(&db, "SAVE20")
            .await
            .unwrap()
            .is_none()
    );
}

#[sqlx::test]
async fn a_code_differing_only_in_case_is_refused(db: PgPool) {
    promo_codes::insert(&db, &fields("SAVE10", None))
        .await
        .unwrap();
    assert!(
        promo_codes::insert(&db, &fields("save10", None))
            .await
            .is_err()
    );
    assert_eq!(promo_codes::list(&db).await.unwrap().len(), 1);
}

#[sqlx::test]
async fn the_list_shows_every_code_newest_first_with_its_uses(db: PgPool) {
    let older = promo_codes::insert(&db, &fields("WELCOME", None))
        .await
        .unwrap();
    let newer = promo_codes::insert(&db, &fields("EID25", Some(3)))
        .await
        .unwrap();
    assert!(promo_codes::claim_use(&db, newer.id).await.unwrap());
    assert!(promo_codes::claim_use(&db, newer.id).await.unwrap());
    let listed = promo_codes::list(&db).await.unwrap();
    let summary: Vec<(i32, i32)> = listed.iter().map(|c| (c.id, c.current_uses())).collect();
    assert_eq!(summary, vec![(newer.id, 2), (older.id, 0)]);
}

#[sqlx::test]
async fn update_replaces_every_editable_field_and_keeps_the_uses(db: PgPool) {
    let code = promo_codes::insert(&db, &fields("SAVE10", Some(5)))
        .await
        .unwrap();
    assert!(promo_codes::claim_use(&db, code.id).await.unwrap());
    let from = Utc::now();
    let until = from + Duration::days(30);
    let updated = promo_codes::update(
        &db,
        code.id,
        &PromoCodeFields {
            code: "FLAT300",
            discount_type: DiscountType::FixedAmount,
            discount_value: 300,
            min_order_value: 2000,
            max_discount_amount: None,
            valid_from: Some(from),
            valid_until: Some(until),
            is_active: false,
            max_uses: Some(50),
        },
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(updated.id, code.id);
    assert_eq!(updated.code, "FLAT300");
    assert_eq!(updated.discount_type, DiscountType::FixedAmount);
    assert_eq!(updated.discount_value, 300);
    assert_eq!(updated.min_order_value, Some(2000));
    assert_eq!(updated.max_discount_amount, None);
    assert_eq!(
        updated.valid_from.unwrap().timestamp_micros(),
        from.timestamp_micros()
    );
    assert_eq!(
        updated.valid_until.unwrap().timestamp_micros(),
        until.timestamp_micros()
    );
    assert!(!updated.is_active());
    assert_eq!(updated.max_uses, Some(50));
    assert_eq!(
        updated.current_uses(),
        1,
        "the usage count is not an editable field"
    );
    assert!(
        promo_codes::find_by_code(&db, "save10")
            .await
            .unwrap()
            .is_none()
    );

    assert!(
        promo_codes::update(&db, code.id + 1, &fields("NOPE", None))
            .await
            .unwrap()
            .is_none()
    );
    // max_uses below the uses already made is refused by the database
    assert!(
        promo_codes::update(&db, code.id, &fields("FLAT300", Some(0)))
            .await
            .is_err()
    );
}

#[sqlx::test]
async fn delete_removes_the_code_once(db: PgPool) {
    let code = promo_codes::insert(&db, &fields("SAVE10", None))
        .await
        .unwrap();
    assert!(promo_codes::delete(&db, code.id).await.unwrap());
    assert!(promo_codes::find(&db, code.id).await.unwrap().is_none());
    assert!(!promo_codes::delete(&db, code.id).await.unwrap());
}

#[sqlx::test]
async fn twenty_concurrent_claims_on_a_five_use_code_get_exactly_five(db: PgPool) {
    let code = promo_codes::insert(&db, &fields("LIMITED5", Some(5)))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let db = db.clone();
            tokio::spawn(async move { promo_codes::claim_use(&db, code.id).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        if task.await.unwrap() {
            won += 1;
        }
    }
    assert_eq!(won, 5);
    assert_eq!(
        promo_codes::find(&db, code.id)
            .await
            .unwrap()
            .unwrap()
            .current_uses,
        Some(5)
    );
    assert!(!promo_codes::claim_use(&db, code.id).await.unwrap());
}

#[sqlx::test]
async fn a_code_without_a_limit_is_always_claimed_and_an_unknown_one_never(db: PgPool) {
    let code = promo_codes::insert(&db, &fields("FOREVER", None))
        .await
        .unwrap();
    for _ in 0..7 {
        assert!(promo_codes::claim_use(&db, code.id).await.unwrap());
    }
    assert_eq!(
        promo_codes::find(&db, code.id)
            .await
            .unwrap()
            .unwrap()
            .current_uses(),
        7
    );
    assert!(!promo_codes::claim_use(&db, code.id + 1).await.unwrap());
    // a count left null by an older row counts as zero
    sqlx::query("update promo_codes set current_uses = null, max_uses = 1 where id = $1")
        .bind(code.id)
        .execute(&db)
        .await
        .unwrap();
    assert!(promo_codes::claim_use(&db, code.id).await.unwrap());
    assert!(!promo_codes::claim_use(&db, code.id).await.unwrap());
}

#[sqlx::test]
async fn a_released_use_can_be_claimed_again_and_the_count_never_goes_below_zero(db: PgPool) {
    let code = promo_codes::insert(&db, &fields("ONCE", Some(1)))
        .await
        .unwrap();
    assert!(
        !promo_codes::release_use(&db, code.id).await.unwrap(),
        "nothing to release yet"
    );
    assert_eq!(
        promo_codes::find(&db, code.id)
            .await
            .unwrap()
            .unwrap()
            .current_uses,
        Some(0)
    );

    assert!(promo_codes::claim_use(&db, code.id).await.unwrap());
    assert!(!promo_codes::claim_use(&db, code.id).await.unwrap());
    assert!(promo_codes::release_use(&db, code.id).await.unwrap());
    assert_eq!(
        promo_codes::find(&db, code.id)
            .await
            .unwrap()
            .unwrap()
            .current_uses,
        Some(0)
    );
    assert!(!promo_codes::release_use(&db, code.id).await.unwrap());
    assert_eq!(
        promo_codes::find(&db, code.id)
            .await
            .unwrap()
            .unwrap()
            .current_uses,
        Some(0)
    );
    assert!(promo_codes::claim_use(&db, code.id).await.unwrap());
    assert!(!promo_codes::release_use(&db, code.id + 1).await.unwrap());
}
