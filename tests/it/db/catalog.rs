use nextgenrdp::catalog::file::{CatalogFile, DEFAULT_CATALOG};
use nextgenrdp::catalog::{categories, locations, plan_features, plans};
use sqlx::PgPool;

#[sqlx::test]
async fn import_export_import_export_gives_identical_files(db: PgPool) {
    CatalogFile::parse(DEFAULT_CATALOG)
        .unwrap()
        .import(&db)
        .await
        .unwrap();
    let first = CatalogFile::export(&db).await.unwrap().to_toml().unwrap();
    CatalogFile::parse(&first)
        .unwrap()
        .import(&db)
        .await
        .unwrap();
    let second = CatalogFile::export(&db).await.unwrap().to_toml().unwrap();
    assert_eq!(first, second);
    // and the export says what the default catalog says
    assert_eq!(
        CatalogFile::parse(&first).unwrap(),
        CatalogFile::parse(DEFAULT_CATALOG).unwrap()
    );
}

#[sqlx::test]
async fn import_is_idempotent(db: PgPool) {
    let file = CatalogFile::parse(DEFAULT_CATALOG).unwrap();
    file.import(&db).await.unwrap();
    let summary = file.import(&db).await.unwrap();
    assert_eq!(summary.plans_deactivated, 0);
    assert_eq!(plans::count(&db).await.unwrap(), file.plans.len() as i64);
    let features: i64 = sqlx::query_scalar("select count(*) from plan_features")
        .fetch_one(&db)
        .await
        .unwrap();
    let expected: usize = file.plans.iter().map(|p| p.features.len()).sum();
    assert_eq!(features, expected as i64);
}

#[sqlx::test]
async fn a_plan_missing_from_the_file_is_deactivated_not_deleted(db: PgPool) {
    let mut file = CatalogFile::parse(DEFAULT_CATALOG).unwrap();
    file.import(&db).await.unwrap();
    let dropped = file.plans.pop().unwrap();
    let dropped_location = file.locations.pop().unwrap();
    for plan in &mut file.plans {
        plan.locations.retain(|l| *l != dropped_location.slug);
    }
    let summary = file.import(&db).await.unwrap();
    assert_eq!(summary.plans_deactivated, 1);
    assert_eq!(summary.locations_deactivated, 1);
    let row = plans::find(&db, &dropped.id)
        .await
        .unwrap()
        .expect("still there");
    assert!(!row.is_active());
    assert!(
        plans::list_active(&db, None)
            .await
            .unwrap()
            .iter()
            .all(|p| p.id != dropped.id)
    );
    assert!(
        locations::list_active(&db)
            .await
            .unwrap()
            .iter()
            .all(|l| l.slug != dropped_location.slug)
    );
}

#[sqlx::test]
async fn a_failed_import_writes_nothing(db: PgPool) {
    let mut file = CatalogFile::parse(DEFAULT_CATALOG).unwrap();
    file.plans[3].price_pkr = -5;
    assert!(file.import(&db).await.is_err());
    assert_eq!(plans::count(&db).await.unwrap(), 0);
    assert!(categories::list(&db).await.unwrap().is_empty());
}

#[sqlx::test]
async fn categories_are_upserted_by_slug_and_deleted_only_when_unused(db: PgPool) {
    CatalogFile::parse(DEFAULT_CATALOG)
        .unwrap()
        .import(&db)
        .await
        .unwrap();
    let rdp = categories::find_by_slug(&db, "rdp").await.unwrap().unwrap();
    let renamed = categories::upsert_by_slug(
        &db,
        &categories::CategoryFields {
            name: "Remote Desktop",
            slug: "rdp",
            description: None,
            display_order: 9,
        },
    )
    .await
    .unwrap();
    assert_eq!(renamed.id, rdp.id);
    assert_eq!(
        categories::find(&db, rdp.id).await.unwrap().unwrap().name,
        "Remote Desktop"
    );
    assert_eq!(
        categories::list(&db).await.unwrap().last().unwrap().slug,
        "rdp",
        "display order 9 sorts last"
    );
    // plans reference it: the database refuses
    assert!(categories::delete(&db, rdp.id).await.is_err());
    let spare = categories::upsert_by_slug(
        &db,
        &categories::CategoryFields {
            name: "Spare",
            slug: "spare",
            description: None,
            display_order: 0,
        },
    )
    .await
    .unwrap();
    assert!(categories::delete(&db, spare.id).await.unwrap());
}

#[sqlx::test]
async fn active_plans_are_listed_by_category_with_features_and_locations(db: PgPool) {
    CatalogFile::parse(DEFAULT_CATALOG)
        .unwrap()
        .import(&db)
        .await
        .unwrap();
    let rdp = plans::list_active(&db, Some("rdp")).await.unwrap();
    assert!(!rdp.is_empty());
    assert!(rdp.iter().all(|p| p.id.starts_with("rdp-")));
    let orders: Vec<i32> = rdp.iter().map(|p| p.display_order).collect();
    assert!(orders.windows(2).all(|w| w[0] <= w[1]), "display order");
    assert!(
        plans::list_active(&db, Some("nothing"))
            .await
            .unwrap()
            .is_empty()
    );

    assert!(plans::set_active(&db, &rdp[0].id, false).await.unwrap());
    assert_eq!(
        plans::list_active(&db, Some("rdp")).await.unwrap().len(),
        rdp.len() - 1
    );
    assert_eq!(
        plans::list(&db).await.unwrap().len() as i64,
        plans::count(&db).await.unwrap()
    );

    let features = plan_features::list_for_plan(&db, &rdp[1].id).await.unwrap();
    assert!(!features.is_empty());
    assert!(features.windows(2).all(|w| w[0].position < w[1].position));
    let many = plan_features::list_for_plans(&db, &[rdp[1].id.clone(), rdp[2].id.clone()])
        .await
        .unwrap();
    assert!(many.len() > features.len());

    let sold_in = locations::list_for_plan(&db, &rdp[1].id).await.unwrap();
    assert!(!sold_in.is_empty());
    let pairs = locations::list_plan_location_slugs(&db).await.unwrap();
    assert!(
        pairs
            .iter()
            .any(|(plan, slug)| plan == &rdp[1].id && slug == &sold_in[0].slug)
    );
}

#[sqlx::test]
async fn plans_and_locations_are_upserted_found_and_replaced(db: PgPool) {
    CatalogFile::parse(DEFAULT_CATALOG)
        .unwrap()
        .import(&db)
        .await
        .unwrap();
    let karachi = locations::upsert_by_slug(
        &db,
        &locations::LocationFields {
            slug: "pk-karachi",
            name: "Pakistan (Karachi)",
            country_code: "PK",
            city: Some("Karachi"),
            is_active: true,
            display_order: 0,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        locations::find(&db, karachi.id)
            .await
            .unwrap()
            .unwrap()
            .city
            .as_deref(),
        Some("Karachi")
    );
    assert_eq!(locations::list(&db).await.unwrap()[0].slug, "pk-karachi");

    let mut plan = plans::find(&db, "vps-nano-one").await.unwrap().unwrap();
    plan.price_pkr = 1300;
    let fields = plans::PlanFields {
        id: &plan.id,
        category_id: plan.category_id.unwrap(),
        name: &plan.name,
        description: None,
        cpu: &plan.cpu,
        ram: &plan.ram,
        storage: &plan.storage,
        bandwidth: &plan.bandwidth,
        os: None,
        price_pkr: plan.price_pkr,
        is_active: true,
        theme_color: "teal",
        label: Some("New"),
        display_order: 0,
    };
    let saved = plans::upsert(&db, &fields).await.unwrap();
    assert_eq!(saved.price_pkr, 1300);
    assert_eq!(saved.label.as_deref(), Some("New"));

    let mut tx = db.begin().await.unwrap();
    locations::replace_for_plan(&mut tx, "vps-nano-one", &[karachi.id])
        .await
        .unwrap();
    plan_features::replace_for_plan(&mut tx, "vps-nano-one", &["One".into(), "Two".into()])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let sold_in = locations::list_for_plan(&db, "vps-nano-one").await.unwrap();
    assert_eq!(
        sold_in.iter().map(|l| l.slug.as_str()).collect::<Vec<_>>(),
        vec!["pk-karachi"]
    );
    let features: Vec<String> = plan_features::list_for_plan(&db, "vps-nano-one")
        .await
        .unwrap()
        .into_iter()
        .map(|f| f.feature)
        .collect();
    assert_eq!(features, vec!["One", "Two"]);

    let spare = plans::upsert(
        &db,
        &plans::PlanFields {
            id: "vps-spare",
            ..fields.clone()
        },
    )
    .await
    .unwrap();
    assert!(plans::delete(&db, &spare.id).await.unwrap());
    assert!(plans::find(&db, "vps-spare").await.unwrap().is_none());
}
