use chrono::{Duration, Utc};
use nextgenrdp::accounts::sessions::{self, NewSession};
use sqlx::PgPool;

use super::customer;

async fn session(db: &PgPool, user_id: i32, hash: &str) -> sessions::Session {
    sessions::insert(
        db,
        &NewSession {
            user_id,
            token_hash: hash,
            expires_at: Utc::now() + Duration::days(30),
            ip_address: Some("203.0.113.7"),
            user_agent: Some("Mozilla/5.0"),
            two_factor: false,
        },
    )
    .await
    .unwrap()
}

#[sqlx::test]
async fn a_session_is_found_by_id_and_by_its_token_hash(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let s = session(&db, user.id, "hash-1").await;
    assert!(s.is_live(Utc::now()));
    assert_eq!(
        sessions::find(&db, s.id)
            .await
            .unwrap()
            .unwrap()
            .ip_address
            .as_deref(),
        Some("203.0.113.7")
    );
    let mut tx = db.begin().await.unwrap();
    let locked = sessions::find_by_token_hash_for_update(&mut *tx, "hash-1")
        .await
        .unwrap();
    assert_eq!(locked.unwrap().id, s.id);
    assert!(
        sessions::find_by_token_hash_for_update(&mut *tx, "other")
            .await
            .unwrap()
            .is_none()
    );
}

#[sqlx::test]
async fn rotation_retires_the_old_token_so_its_reuse_is_recognised(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let s = session(&db, user.id, "hash-1").await;
    let mut tx = db.begin().await.unwrap();
    sessions::rotate(
        &mut tx,
        s.id,
        "hash-1",
        "hash-2",
        Utc::now() + Duration::days(30),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let row = sessions::find(&db, s.id).await.unwrap().unwrap();
    assert_eq!(row.token_hash, "hash-2");
    assert!(row.rotated_at.is_some());
    assert_eq!(
        sessions::find_by_retired_token_hash(&db, "hash-1")
            .await
            .unwrap(),
        Some(s.id)
    );
    assert_eq!(
        sessions::find_by_retired_token_hash(&db, "hash-2")
            .await
            .unwrap(),
        None
    );
}

#[sqlx::test]
async fn revoke_only_touches_the_owners_live_session(db: PgPool) {
    let ayesha = customer(&db, "ayesha@example.pk").await;
    let bilal = customer(&db, "bilal@example.pk").await;
    let s = session(&db, ayesha.id, "hash-1").await;
    assert!(
        !sessions::revoke(&db, s.id, bilal.id, "user_revoked")
            .await
            .unwrap(),
        "not Bilal's"
    );
    assert!(
        sessions::revoke(&db, s.id, ayesha.id, "logout")
            .await
            .unwrap()
    );
    assert!(
        !sessions::revoke(&db, s.id, ayesha.id, "logout")
            .await
            .unwrap(),
        "already revoked"
    );
    let row = sessions::find(&db, s.id).await.unwrap().unwrap();
    assert_eq!(row.revoked_reason.as_deref(), Some("logout"));
    assert!(!row.is_live(Utc::now()));
}

#[sqlx::test]
async fn revoke_all_keeps_the_current_session_and_lists_only_live_ones(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let current = session(&db, user.id, "h1").await;
    session(&db, user.id, "h2").await;
    session(&db, user.id, "h3").await;
    sessions::touch(&db, current.id).await.unwrap();
    assert_eq!(
        sessions::list_live_for_user(&db, user.id).await.unwrap()[0].id,
        current.id
    );

    let revoked = sessions::revoke_all_for_user(&db, user.id, Some(current.id), "password_changed")
        .await
        .unwrap();
    assert_eq!(revoked, 2);
    let live = sessions::list_live_for_user(&db, user.id).await.unwrap();
    assert_eq!(
        live.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![current.id]
    );
    assert_eq!(
        sessions::revoke_all_for_user(&db, user.id, None, "password_reset")
            .await
            .unwrap(),
        1
    );
    assert!(
        sessions::list_live_for_user(&db, user.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[sqlx::test]
async fn stale_sessions_are_deleted(db: PgPool) {
    let user = customer(&db, "ayesha@example.pk").await;
    let old = sessions::insert(
        &db,
        &NewSession {
            user_id: user.id,
            token_hash: "old",
            expires_at: Utc::now() - Duration::days(1),
            ip_address: None,
            user_agent: None,
            two_factor: false,
        },
    )
    .await
    .unwrap();
    let live = session(&db, user.id, "live").await;
    assert_eq!(sessions::delete_stale(&db, Utc::now()).await.unwrap(), 1);
    assert!(sessions::find(&db, old.id).await.unwrap().is_none());
    assert!(sessions::find(&db, live.id).await.unwrap().is_some());
}
