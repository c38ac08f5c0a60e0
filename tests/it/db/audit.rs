use nextgenrdp::audit::{self, NewAuditEntry};
use serde_json::json;
use sqlx::PgPool;

use super::customer;

fn entry<'a>(
    actor: Option<i32>,
    entity_type: &'a str,
    entity_id: Option<&'a str>,
) -> NewAuditEntry<'a> {
    NewAuditEntry {
        actor_user_id: actor,
        action: "plan.update",
        entity_type,
        entity_id,
        before: Some(json!({ "price_pkr": 2500 })),
        after: Some(json!({ "price_pkr": 2700 })),
        ip_address: Some("203.0.113.9"),
    }
}

#[sqlx::test]
async fn an_entry_keeps_the_actor_and_the_json_before_and_after(db: PgPool) {
    let admin = customer(&db, "ops@nextgenrdp.pk").await;
    let row = audit::insert(
        &db,
        &NewAuditEntry {
            actor_user_id: Some(admin.id),
            action: "plan.update",
            entity_type: "plan",
            entity_id: Some("rdp-starter-one"),
            before: Some(
                json!({ "price_pkr": 2500, "features": ["2 vCore", "4 GB"], "label": null }),
            ),
            after: Some(
                json!({ "price_pkr": 2700, "features": ["2 vCore", "4 GB"], "label": "Sale" }),
            ),
            ip_address: Some("203.0.113.9"),
        },
    )
    .await
    .unwrap();
    assert!(row.id > 0);
    assert_eq!(row.actor_user_id, Some(admin.id));
    assert_eq!(row.action, "plan.update");
    assert_eq!(row.entity_type, "plan");
    assert_eq!(row.entity_id.as_deref(), Some("rdp-starter-one"));
    assert_eq!(row.before.as_ref().unwrap()["price_pkr"], 2500);
    assert_eq!(
        row.before.as_ref().unwrap()["label"],
        serde_json::Value::Null
    );
    assert_eq!(
        row.after,
        Some(json!({ "price_pkr": 2700, "features": ["2 vCore", "4 GB"], "label": "Sale" }))
    );
    assert_eq!(row.ip_address.as_deref(), Some("203.0.113.9"));

    // a creation has no before, a system action no actor
    let created = audit::insert(
        &db,
        &NewAuditEntry {
            actor_user_id: None,
            action: "promo_code.create",
            entity_type: "promo_code",
            entity_id: None,
            before: None,
            after: Some(json!({ "code": "SAVE10" })),
            ip_address: None,
        },
    )
    .await
    .unwrap();
    assert!(created.before.is_none(), "absent, not JSON null");
    assert!(created.actor_user_id.is_none() && created.entity_id.is_none());
    let stored: Option<String> =
        sqlx::query_scalar("select before::text from audit_log where id = $1")
            .bind(created.id)
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(stored.is_none(), "SQL NULL, not the JSON null");
}

#[sqlx::test]
async fn the_log_is_listed_newest_first_per_entity_and_counted(db: PgPool) {
    let admin = customer(&db, "ops@nextgenrdp.pk").await;
    let p1 = audit::insert(&db, &entry(Some(admin.id), "plan", Some("rdp-starter-one")))
        .await
        .unwrap();
    let p2 = audit::insert(&db, &entry(Some(admin.id), "plan", Some("vps-nano-one")))
        .await
        .unwrap();
    let p3 = audit::insert(&db, &entry(Some(admin.id), "plan", Some("rdp-starter-one")))
        .await
        .unwrap();
    let u1 = audit::insert(&db, &entry(None, "user", Some("7")))
        .await
        .unwrap();

    let ids = |rows: Vec<audit::AuditEntry>| rows.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        ids(audit::list(&db, &of(None, None), 10, 0).await.unwrap()),
        vec![u1.id, p3.id, p2.id, p1.id]
    );
    assert_eq!(
        ids(audit::list(&db, &of(Some("plan"), None), 10, 0)
            .await
            .unwrap()),
        vec![p3.id, p2.id, p1.id]
    );
    assert_eq!(
        ids(
            audit::list(&db, &of(Some("plan"), Some("rdp-starter-one")), 10, 0)
                .await
                .unwrap()
        ),
        vec![p3.id, p1.id]
    );
    assert_eq!(
        ids(audit::list(&db, &of(Some("plan"), None), 1, 1)
            .await
            .unwrap()),
        vec![p2.id]
    );
    assert!(
        audit::list(&db, &of(Some("order"), None), 10, 0)
            .await
            .unwrap()
            .is_empty()
    );
    // an entity id alone matches whatever the type
    assert_eq!(
        ids(audit::list(&db, &of(None, Some("7")), 10, 0).await.unwrap()),
        vec![u1.id]
    );

    assert_eq!(audit::count(&db, &of(None, None)).await.unwrap().count, 4);
    assert_eq!(
        audit::count(&db, &of(Some("plan"), None))
            .await
            .unwrap()
            .count,
        3
    );
    assert_eq!(
        audit::count(&db, &of(Some("plan"), Some("vps-nano-one")))
            .await
            .unwrap()
            .count,
        1
    );
    assert_eq!(
        audit::count(&db, &of(Some("user"), Some("8")))
            .await
            .unwrap()
            .count,
        0
    );
}

/// The filter of entity type `entity_type` and id `entity_id`, each optional.
fn of(entity_type: Option<&str>, entity_id: Option<&str>) -> audit::AuditFilter {
    audit::AuditFilter {
        entity_type: entity_type.map(str::to_owned),
        entity_id: entity_id.map(str::to_owned),
        ..Default::default()
    }
}
