//! Allocation of VM ids and IP addresses by our database: never twice, ids never reused,
//! released addresses held back.

use nextgenrdp::provisioning::backends::{self, BackendFields};
use sqlx::PgPool;

async fn backend(db: &PgPool, vmid_max: i32) -> i32 {
    let location: i32 = sqlx::query_scalar(
        "insert into locations (name, country_code, slug) values ('Karachi', 'PK', 'pk-karachi')
         returning id",
    )
    .fetch_one(db)
    .await
    .unwrap();
    let backend = backends::insert(
        db,
        &BackendFields {
            name: "pve-khi".into(),
            driver: nextgenrdp::provisioning::backends::BackendDriver::Proxmox,
            location_id: location,
            is_active: true,
            api_url: Some("https://10.0.0.2:8006".into()),
            token_id: Some("billing@pve!provisioner".into()),
            node: Some("pve1".into()),
            storage: Some("local-lvm".into()),
            vmid_min: Some(100),
            vmid_max: Some(vmid_max),
            ip_gateway: Some("192.0.2.1".into()),
            ip_prefix: Some(24),
            ..Default::default()
        },
        Some("v1:00000000:sealed"),
    )
    .await
    .unwrap();
    backend.id
}

async fn service(db: &PgPool) -> i32 {
    sqlx::query_scalar(
        "insert into services (service_type, status) values ('vps', 'provisioning') returning id",
    )
    .fetch_one(db)
    .await
    .unwrap()
}

#[sqlx::test]
async fn vm_ids_come_from_the_range_once_each_and_are_never_reused(db: PgPool) {
    let backend = backend(&db, 102).await;
    let (a, b, c, d) = (
        service(&db).await,
        service(&db).await,
        service(&db).await,
        service(&db).await,
    );
    let mut conn = db.acquire().await.unwrap();
    assert_eq!(
        backends::allocate_vmid(&mut conn, backend, a)
            .await
            .unwrap(),
        Some(100)
    );
    assert_eq!(
        backends::allocate_vmid(&mut conn, backend, a)
            .await
            .unwrap(),
        Some(100),
        "a service keeps its id"
    );
    assert_eq!(
        backends::allocate_vmid(&mut conn, backend, b)
            .await
            .unwrap(),
        Some(101)
    );
    // A burnt id is not handed out again; the next one is.
    assert!(
        backends::burn_vmid(&db, backend, 101, "taken")
            .await
            .unwrap()
    );
    assert_eq!(
        backends::allocate_vmid(&mut conn, backend, c)
            .await
            .unwrap(),
        Some(102)
    );
    assert_eq!(
        backends::allocate_vmid(&mut conn, backend, d)
            .await
            .unwrap(),
        None,
        "the range is used up"
    );
    assert_eq!(
        backends::location_capacity(&db, location_of(&db, backend).await, 7)
            .await
            .unwrap(),
        Some(0)
    );
}

async fn location_of(db: &PgPool, backend: i32) -> i32 {
    sqlx::query_scalar("select location_id from provisioning_backends where id = $1")
        .bind(backend)
        .fetch_one(db)
        .await
        .unwrap()
}

#[sqlx::test]
async fn an_address_goes_to_one_service_and_is_held_back_after_release(db: PgPool) {
    let backend = backend(&db, 199).await;
    let added = backends::add_addresses(&db, backend, &["192.0.2.10".into(), "192.0.2.10".into()])
        .await
        .unwrap();
    assert_eq!(added, 1, "an address is in a pool once");
    let (first, second) = (service(&db).await, service(&db).await);
    assert_eq!(
        backends::allocate_ip(&db, backend, first, 7)
            .await
            .unwrap()
            .as_deref(),
        Some("192.0.2.10")
    );
    assert_eq!(
        backends::allocate_ip(&db, backend, first, 7)
            .await
            .unwrap()
            .as_deref(),
        Some("192.0.2.10"),
        "a service keeps its address"
    );
    assert_eq!(
        backends::allocate_ip(&db, backend, second, 7)
            .await
            .unwrap(),
        None
    );
    assert!(backends::release_ip(&db, first).await.unwrap());
    assert_eq!(
        backends::allocate_ip(&db, backend, second, 7)
            .await
            .unwrap(),
        None,
        "held back for 7 days"
    );
    let pool = backends::list_addresses(&db, backend, 7).await.unwrap();
    assert!(!pool[0].available && pool[0].service_id.is_none());
    // Eight days later it is free again.
    sqlx::query("update ip_addresses set released_at = now() - interval '8 days'")
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(
        backends::allocate_ip(&db, backend, second, 7)
            .await
            .unwrap()
            .as_deref(),
        Some("192.0.2.10")
    );
    // The database refuses a second address for one service whatever the code does.
    let dup = sqlx::query(
        "insert into ip_addresses (backend_id, address, service_id) values ($1, '192.0.2.11', $2)",
    )
    .bind(backend)
    .bind(second)
    .execute(&db)
    .await;
    assert!(dup.is_err(), "a service holds one address");
}
