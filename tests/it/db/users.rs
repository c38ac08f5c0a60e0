use nextgenrdp::accounts::users::{self, NewUser};
use sqlx::PgPool;

use super::customer;

#[sqlx::test]
async fn insert_then_find_returns_the_same_account(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    assert_eq!(user.role, nextgenrdp::accounts::Role::Customer);
    assert!(!user.is_verified());
    assert!(user.created_at.is_some());
    let found = users::find(&db, user.id).await.unwrap().unwrap();
    assert_eq!(found.email, "ayesha@example.pk");
    assert!(users::find(&db, user.id + 1000).await.unwrap().is_none());
}

#[sqlx::test]
async fn find_by_email_ignores_case(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let found = users::find_by_email(&db, "AYESHA@Example.PK")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, user.id);
    assert!(
        users::find_by_email(&db, "nobody@example.pk")
            .await
            .unwrap()
            .is_none()
    );
}

#[sqlx::test]
async fn list_and_count_search_names_and_emails_newest_first(db: PgPool) {
    let a = customer(&db, "ayesha@example.pk").await;
    let b = customer(&db, "bilal@example.pk").await;
    users::insert(
        &db,
        &NewUser {
            name: "Zara Ahmed",
            email: "z@shop.pk",
            phone: None,
            password_hash: "x",
            role: nextgenrdp::accounts::Role::Owner,
        },
    )
    .await
    .unwrap();
    let all = users::list(&db, None, 10, 0).await.unwrap();
    assert_eq!(all.len(), 3);
    assert_eq!(all[1].id, b.id, "newest first");
    assert_eq!(users::count(&db, None).await.unwrap().count, 3);

    let hits = users::list(&db, Some("example.pk"), 10, 0).await.unwrap();
    assert_eq!(
        hits.iter().map(|u| u.id).collect::<Vec<_>>(),
        vec![b.id, a.id]
    );
    assert_eq!(users::count(&db, Some("zara")).await.unwrap().count, 1);
    let page_two = users::list(&db, None, 2, 2).await.unwrap();
    assert_eq!(page_two.len(), 1);
    assert_eq!(page_two[0].id, a.id);
}

#[sqlx::test]
async fn mark_verified_sets_the_flag_and_the_time_once(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    assert!(users::mark_verified(&db, user.id).await.unwrap());
    let first = users::find(&db, user.id).await.unwrap().unwrap();
    assert!(first.is_verified());
    assert!(users::mark_verified(&db, user.id).await.unwrap());
    let again = users::find(&db, user.id).await.unwrap().unwrap();
    assert_eq!(first.email_verified_at, again.email_verified_at);
    assert!(!users::mark_verified(&db, 999_999).await.unwrap());
}

#[sqlx::test]
async fn profile_password_role_and_disabling_are_updated(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let updated = users::update_profile(&db, user.id, "Ayesha K.", None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.name, "Ayesha K.");
    assert_eq!(updated.phone, None);
    assert!(updated.updated_at >= user.updated_at);

    assert!(
        users::update_password_hash(&db, user.id, "newhash")
            .await
            .unwrap()
    );
    assert!(
        users::set_role(&db, user.id, nextgenrdp::accounts::Role::Support)
            .await
            .unwrap()
    );
    assert!(users::set_disabled(&db, user.id, true).await.unwrap());
    users::record_login(&db, user.id).await.unwrap();
    let row = users::find(&db, user.id).await.unwrap().unwrap();
    assert_eq!(row.password_hash, "newhash");
    assert_eq!(row.role, nextgenrdp::accounts::Role::Support);
    assert!(row.is_staff());
    assert!(row.disabled_at.is_some());
    assert!(row.last_login_at.is_some());

    assert!(users::set_disabled(&db, user.id, false).await.unwrap());
    assert!(
        users::find(&db, user.id)
            .await
            .unwrap()
            .unwrap()
            .disabled_at
            .is_none()
    );
}

#[sqlx::test]
async fn updated_at_is_kept_by_the_database(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    sqlx::query("update users set updated_at = now() - interval '1 day' where id = $1")
        .bind(user.id)
        .execute(&db)
        .await
        .unwrap();
    users::update_profile(&db, user.id, "New Name", None)
        .await
        .unwrap();
    let fresh: bool = sqlx::query_scalar(
        "select updated_at > now() - interval '1 minute' from users where id = $1",
    )
    .bind(user.id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(fresh, "the trigger did not refresh updated_at");
}
