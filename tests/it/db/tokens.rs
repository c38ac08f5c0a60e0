use chrono::{Duration, Utc};
use nextgenrdp::accounts::tokens::{self, Purpose};
use sqlx::PgPool;

use super::customer;

#[sqlx::test]
async fn a_token_is_consumed_once_and_only_for_its_purpose(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let token = tokens::insert(
        &db,
        user.id,
        Purpose::EmailVerification,
        "t1",
        Utc::now() + Duration::hours(24),
    )
    .await
    .unwrap();
    assert_eq!(token.purpose, "email_verification");
    assert_eq!(
        tokens::consume(&db, Purpose::PasswordReset, "t1")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        tokens::consume(&db, Purpose::EmailVerification, "t1")
            .await
            .unwrap(),
        Some(user.id)
    );
    assert_eq!(
        tokens::consume(&db, Purpose::EmailVerification, "t1")
            .await
            .unwrap(),
        None
    );
}

#[sqlx::test]
async fn an_expired_or_voided_token_is_refused(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    tokens::insert(
        &db,
        user.id,
        Purpose::PasswordReset,
        "old",
        Utc::now() - Duration::minutes(1),
    )
    .await
    .unwrap();
    assert_eq!(
        tokens::consume(&db, Purpose::PasswordReset, "old")
            .await
            .unwrap(),
        None
    );

    tokens::insert(
        &db,
        user.id,
        Purpose::PasswordReset,
        "new",
        Utc::now() + Duration::hours(1),
    )
    .await
    .unwrap();
    assert_eq!(
        tokens::void_for_user(&db, user.id, Purpose::PasswordReset)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        tokens::consume(&db, Purpose::PasswordReset, "new")
            .await
            .unwrap(),
        None
    );
}
