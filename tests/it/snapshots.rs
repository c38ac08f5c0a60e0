//! Snapshots against fakepve's snapshot endpoints: within the plan's limit a customer takes,
//! rolls back to (typed confirmation; the server restarts) and deletes snapshots as durable
//! jobs that look before they act; a VM left locked by an interrupted snapshot fails the
//! request with what the operator must do, and the operator's retry finishes it once unlocked.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::console::{active_server, app_with_consoles};
use crate::fakepve::FakePve;
use crate::helpers::{TestApp, TestResponse};

const VMID: u32 = 5000;

pub(crate) fn token(login: &Value) -> Option<&str> {
    login["access_token"].as_str()
}

pub(crate) async fn call(
    app: &TestApp,
    login: &Value,
    method: Method,
    path: &str,
    body: Value,
) -> TestResponse {
    app.send_json_as(token(login), method, path, &body).await
}

async fn limit(db: &PgPool, n: i32) {
    sqlx::query("update backend_templates set snapshot_limit = $1")
        .bind(n)
        .execute(db)
        .await
        .unwrap();
}

/// Runs the queued jobs now (backoffs skipped).
pub(crate) async fn run_jobs(app: &TestApp) {
    sqlx::query("update jobs set run_at = now() where status = 'queued'")
        .execute(&app.db)
        .await
        .unwrap();
    app.deliver_mail().await;
}

/// The newest log line of `action`: (status, details).
pub(crate) async fn last_line(db: &PgPool, id: i32, action: &str) -> (String, String) {
    sqlx::query_as(
        "select status, coalesce(details, '') from service_logs
         where service_id = $1 and action = $2 order by id desc limit 1",
    )
    .bind(id)
    .bind(action)
    .fetch_one(db)
    .await
    .unwrap()
}

#[sqlx::test]
async fn a_customer_takes_rolls_back_to_and_deletes_snapshots_within_the_plans_limit(db: PgPool) {
    let fake = FakePve::start().await;
    let app = app_with_consoles(db, Duration::from_secs(600)).await;
    let (login, _admin, id) = active_server(&app, &fake, "ayesha@example.pk").await;
    let base = format!("/api/v1/services/{id}/snapshots");

    // The plan includes none yet.
    let listed = app.get_as(token(&login).unwrap(), &base).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text());
    assert_eq!(listed.json(), json!({ "limit": 0, "items": [] }));
    let refused = call(
        &app,
        &login,
        Method::POST,
        &base,
        json!({ "name": "before-update" }),
    )
    .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.text().contains("includes no snapshots"),
        "{}",
        refused.text()
    );

    limit(&app.db, 2).await;
    let bad = call(
        &app,
        &login,
        Method::POST,
        &base,
        json!({ "name": "1 bad name" }),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        bad.json()["errors"]["name"]
            .as_str()
            .unwrap()
            .contains("starting with a letter")
    );

    let taken = call(
        &app,
        &login,
        Method::POST,
        &base,
        json!({ "name": "before-update", "description": "clean install" }),
    )
    .await;
    assert_eq!(taken.status, StatusCode::ACCEPTED, "{}", taken.text());
    assert_eq!(taken.json()["log"]["status"], "pending");
    // One request at a time.
    let busy = call(
        &app,
        &login,
        Method::POST,
        &base,
        json!({ "name": "second" }),
    )
    .await;
    assert_eq!(busy.status, StatusCode::CONFLICT);
    assert!(busy.text().contains("under way"), "{}", busy.text());
    run_jobs(&app).await;
    assert_eq!(
        last_line(&app.db, id, "snapshot_create").await,
        (
            "success".to_owned(),
            "snapshot \"before-update\" taken".to_owned()
        )
    );
    let list = app.get_as(token(&login).unwrap(), &base).await.json();
    assert_eq!(list["limit"], 2);
    assert_eq!(list["items"][0]["name"], "before-update");
    assert_eq!(list["items"][0]["description"], "clean install");
    assert_eq!(list["items"][0]["complete"], true);
    assert!(list["items"][0]["created_at"].is_string());

    // The same name again, and past the limit: 409.
    let again = call(
        &app,
        &login,
        Method::POST,
        &base,
        json!({ "name": "before-update" }),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(
        call(
            &app,
            &login,
            Method::POST,
            &base,
            json!({ "name": "second" })
        )
        .await
        .status,
        StatusCode::ACCEPTED
    );
    run_jobs(&app).await;
    let full = call(
        &app,
        &login,
        Method::POST,
        &base,
        json!({ "name": "third" }),
    )
    .await;
    assert_eq!(full.status, StatusCode::CONFLICT);
    assert!(
        full.text().contains("at most 2 snapshots"),
        "{}",
        full.text()
    );

    // A rollback needs the name typed again; then the server runs on the snapshot.
    let rollback = format!("{base}/before-update/rollback");
    let unconfirmed = call(
        &app,
        &login,
        Method::POST,
        &rollback,
        json!({ "confirm": "yes" }),
    )
    .await;
    assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unconfirmed.json()["errors"]["confirm"]
            .as_str()
            .unwrap()
            .contains("before-update")
    );
    let rolled = call(
        &app,
        &login,
        Method::POST,
        &rollback,
        json!({ "confirm": "before-update" }),
    )
    .await;
    assert_eq!(rolled.status, StatusCode::ACCEPTED, "{}", rolled.text());
    run_jobs(&app).await;
    assert_eq!(
        last_line(&app.db, id, "snapshot_rollback").await,
        (
            "success".to_owned(),
            "rolled back to \"before-update\" and started".to_owned()
        )
    );
    let vm = fake
        .vms()
        .await
        .into_iter()
        .find(|vm| vm["vmid"] == json!(VMID))
        .unwrap();
    assert_eq!(
        vm["status"], "running",
        "the server restarted on the snapshot"
    );
    assert_eq!(vm["config"]["parent"], "before-update");
    let requests = fake.requests().await;
    assert_eq!(
        requests
            .iter()
            .filter(|(m, p)| m == "POST" && p.ends_with("/snapshot/before-update/rollback"))
            .count(),
        1
    );

    // Delete; a name that is not there is a 404.
    let deleted = call(
        &app,
        &login,
        Method::DELETE,
        &format!("{base}/second"),
        json!(null),
    )
    .await;
    assert_eq!(deleted.status, StatusCode::ACCEPTED, "{}", deleted.text());
    run_jobs(&app).await;
    let list = app.get_as(token(&login).unwrap(), &base).await.json();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["before-update"]);
    let missing = call(
        &app,
        &login,
        Method::DELETE,
        &format!("{base}/nope"),
        json!(null),
    )
    .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Someone else's server: 404 on every snapshot route.
    let stranger = app.verified_customer("bilal@example.pk").await;
    assert_eq!(
        app.get_as(token(&stranger).unwrap(), &base).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(
            &app,
            &stranger,
            Method::POST,
            &rollback,
            json!({ "confirm": "before-update" })
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );

    // The page lists them with a typed rollback and a form for one more.
    let mut visitor = crate::pages::Visitor::new(&app);
    visitor
        .log_in("ayesha@example.pk", "correct-horse-battery")
        .await;
    let page = visitor.get(&format!("/account/services/{id}")).await.text();
    assert!(page.contains("data-snapshot=\"before-update\""), "{page}");
    assert!(page.contains("Type <code>before-update</code> to roll back"));
    assert!(page.contains("id=\"take-snapshot\""));
    let wrong = visitor
        .submit(
            &format!("/account/services/{id}"),
            &format!("/account/services/{id}/snapshots/before-update/rollback"),
            &[("confirm", "before")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        wrong
            .text()
            .contains("before-update, to confirm: the server goes back to it"),
        "{}",
        wrong.text()
    );
    let from_page = visitor
        .submit(
            &format!("/account/services/{id}"),
            &format!("/account/services/{id}/snapshots"),
            &[("name", "from-page"), ("description", "")],
        )
        .await;
    assert_eq!(
        from_page.status,
        StatusCode::SEE_OTHER,
        "{}",
        from_page.text()
    );
}

#[sqlx::test]
async fn a_vm_left_locked_by_an_interrupted_snapshot_fails_the_request_until_the_operator_unlocks_it(
    db: PgPool,
) {
    let fake = FakePve::start().await;
    let app = app_with_consoles(db, Duration::from_secs(600)).await;
    let (login, admin, id) = active_server(&app, &fake, "ayesha@example.pk").await;
    limit(&app.db, 3).await;
    let base = format!("/api/v1/services/{id}/snapshots");

    // A snapshot task killed half-way: the VM stays locked, the snapshot is incomplete.
    fake.interrupt_snapshot(VMID, "broken").await;
    let list = app.get_as(token(&login).unwrap(), &base).await.json();
    assert_eq!(list["items"][0]["name"], "broken");
    assert_eq!(list["items"][0]["complete"], false);
    let onto_broken = call(
        &app,
        &login,
        Method::POST,
        &format!("{base}/broken/rollback"),
        json!({ "confirm": "broken" }),
    )
    .await;
    assert_eq!(onto_broken.status, StatusCode::CONFLICT);
    assert!(
        onto_broken.text().contains("incomplete"),
        "{}",
        onto_broken.text()
    );

    // A new snapshot waits on the lock, retrying, and fails once the retries are spent.
    let taken = call(
        &app,
        &login,
        Method::POST,
        &base,
        json!({ "name": "after" }),
    )
    .await;
    assert_eq!(taken.status, StatusCode::ACCEPTED, "{}", taken.text());
    run_jobs(&app).await;
    assert_eq!(
        last_line(&app.db, id, "snapshot_create").await.0,
        "pending",
        "a lock is retried"
    );
    sqlx::query("update jobs set max_attempts = attempts + 1 where kind = 'snapshot_action'")
        .execute(&app.db)
        .await
        .unwrap();
    run_jobs(&app).await;
    let (status, details) = last_line(&app.db, id, "snapshot_create").await;
    assert_eq!(status, "failed");
    assert!(details.contains("qm unlock 5000"), "{details}");
    assert!(details.contains("qm delsnapshot 5000"), "{details}");
    let creates = fake
        .requests()
        .await
        .iter()
        .filter(|(m, p)| m == "POST" && p.ends_with("/qemu/5000/snapshot"))
        .count();
    assert_eq!(creates, 0, "nothing was asked of a locked VM");
    // The customer reads that we are on it, not the node's commands.
    let mut visitor = crate::pages::Visitor::new(&app);
    visitor
        .log_in("ayesha@example.pk", "correct-horse-battery")
        .await;
    let page = visitor.get(&format!("/account/services/{id}")).await.text();
    assert!(page.contains("we are looking into it"), "{page}");
    assert!(!page.contains("qm unlock"));

    // The operator unlocks the VM on the node and retries the job: the snapshot is taken.
    fake.unlock(VMID).await;
    let job: i64 = sqlx::query_scalar(
        "select id from jobs where kind = 'snapshot_action' and status = 'failed'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    let retried = call(
        &app,
        &admin,
        Method::POST,
        &format!("/api/v1/admin/jobs/{job}/retry"),
        json!({}),
    )
    .await;
    assert!(retried.status.is_success(), "{}", retried.text());
    run_jobs(&app).await;
    assert_eq!(
        last_line(&app.db, id, "snapshot_create").await,
        ("success".to_owned(), "snapshot \"after\" taken".to_owned())
    );
    let list = app.get_as(token(&login).unwrap(), &base).await.json();
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["after"]);

    // An operator's own snapshot request is audited.
    let operator = call(
        &app,
        &admin,
        Method::POST,
        &format!("/api/v1/admin/services/{id}/snapshots"),
        json!({ "name": "ops-check" }),
    )
    .await;
    assert_eq!(operator.status, StatusCode::ACCEPTED, "{}", operator.text());
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'snapshot_create'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(audited, 1);
}

#[sqlx::test]
async fn the_operator_takes_a_snapshot_from_the_service_page_and_it_is_audited(db: PgPool) {
    let fake = FakePve::start().await;
    let app = app_with_consoles(db, Duration::from_secs(600)).await;
    let (_login, admin, id) = active_server(&app, &fake, "ayesha@example.pk").await;
    limit(&app.db, 1).await;
    let email: String = sqlx::query_scalar("select email from users where id = $1")
        .bind(admin["user"]["id"].as_i64().unwrap() as i32)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let mut operator = crate::pages::Visitor::new(&app);
    operator.log_in(&email, "operator-passphrase").await;
    let page = format!("/admin/services/{id}");
    let html = operator.get(&page).await.text();
    assert!(
        html.contains(&format!("action=\"/admin/services/{id}/snapshots\"")),
        "{html}"
    );

    let refused = operator
        .submit(
            &page,
            &format!("{page}/snapshots"),
            &[("name", "x"), ("description", "")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let taken = operator
        .submit(
            &page,
            &format!("{page}/snapshots"),
            &[("name", "ops-check"), ("description", "before the move")],
        )
        .await;
    assert_eq!(taken.status, StatusCode::SEE_OTHER, "{}", taken.text());
    run_jobs(&app).await;
    assert_eq!(
        last_line(&app.db, id, "snapshot_create").await,
        (
            "success".to_owned(),
            "snapshot \"ops-check\" taken".to_owned()
        )
    );
    let html = operator.get(&page).await.text();
    assert!(html.contains("data-snapshot=\"ops-check\""), "{html}");
    assert!(
        html.contains("id=\"snapshots-full\""),
        "the plan's one snapshot is taken"
    );
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'snapshot_create' and entity_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(audited, 1);
}
