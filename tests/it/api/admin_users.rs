//! `/api/v1/admin/users` and `/api/v1/admin/customers`: the operator's account list, disabling an
//! account, and a customer's whole picture.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::TestApp;

#[sqlx::test]
async fn admin_routes_need_an_operator(db: PgPool) {
    let app = TestApp::new(db);
    let customer = app.verified_customer("ayesha@example.pk").await;
    assert_eq!(
        app.get("/api/v1/admin/users").await.status,
        StatusCode::UNAUTHORIZED
    );
    let forbidden = app
        .get_as(
            customer["access_token"].as_str().unwrap(),
            "/api/v1/admin/users",
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert_eq!(forbidden.header("content-type"), "application/problem+json");
    let id = customer["user"]["id"].as_i64().unwrap();
    let disable = app
        .send_json_as(
            customer["access_token"].as_str(),
            Method::POST,
            &format!("/api/v1/admin/users/{id}/disable"),
            &json!({}),
        )
        .await;
    assert_eq!(disable.status, StatusCode::FORBIDDEN);
}

#[sqlx::test]
async fn the_operator_searches_and_pages_accounts(db: PgPool) {
    let app = TestApp::new(db);
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let token = admin["access_token"].as_str().unwrap();
    app.verified_customer("ayesha@example.pk").await;
    app.verified_customer("bilal@example.pk").await;

    let all = app
        .get_as(token, "/api/v1/admin/users?per_page=2")
        .await
        .json();
    assert_eq!(all["total"], 3);
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    let page_two = app
        .get_as(token, "/api/v1/admin/users?per_page=2&page=2")
        .await
        .json();
    assert_eq!(page_two["items"].as_array().unwrap().len(), 1);
    let found = app
        .get_as(token, "/api/v1/admin/users?search=BILAL")
        .await
        .json();
    assert_eq!(found["total"], 1);
    assert_eq!(found["items"][0]["email"], "bilal@example.pk");

    for bad in [
        "/api/v1/admin/users?page=0",
        "/api/v1/admin/users?per_page=1000",
        "/api/v1/admin/users?page=x",
    ] {
        let response = app.get_as(token, bad).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{bad}");
    }
}

/// Past 10,000 matching accounts the total is the database's estimate, marked so; below it
/// (a search) it is exact again, and paging goes on while pages come back full.
#[sqlx::test]
async fn past_ten_thousand_accounts_the_total_is_an_estimate(db: PgPool) {
    let app = TestApp::new(db);
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let token = admin["access_token"].as_str().unwrap();
    crate::helpers::bulk_customers(&app.db, 10_500).await;

    let all = app.get_as(token, "/api/v1/admin/users?per_page=100").await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text());
    let all = all.json();
    assert_eq!(all["total_exact"], false, "{all}");
    let total = all["total"].as_i64().unwrap();
    assert!(
        (10_001..=12_000).contains(&total),
        "an estimate near the 10,501 accounts: {total}"
    );
    assert_eq!(all["items"].as_array().unwrap().len(), 100);
    let far = app
        .get_as(token, "/api/v1/admin/users?per_page=100&page=106")
        .await
        .json();
    assert_eq!(
        far["items"].as_array().unwrap().len(),
        1,
        "the last page holds the 10,501st account"
    );

    let some = app
        .get_as(token, "/api/v1/admin/users?search=bulk1050")
        .await
        .json();
    assert_eq!(some["total_exact"], true);
    assert_eq!(some["total"], 2, "bulk1050 and bulk10500");
    let exactly = app
        .get_as(token, "/api/v1/admin/users?search=example.pk")
        .await
        .json();
    assert_eq!(
        exactly["total_exact"], false,
        "10,500 customers match: estimated"
    );
}

#[sqlx::test]
async fn disabling_an_account_ends_its_sessions_at_once_and_is_audited(db: PgPool) {
    let app = TestApp::new(db);
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let token = admin["access_token"].as_str();
    let customer = app.verified_customer("ayesha@example.pk").await;
    let id = customer["user"]["id"].as_i64().unwrap();

    let disabled = app
        .send_json_as(
            token,
            Method::POST,
            &format!("/api/v1/admin/users/{id}/disable"),
            &json!({}),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text());
    assert!(disabled.json()["disabled_at"].is_string());
    assert_eq!(
        app.get_as(customer["access_token"].as_str().unwrap(), "/api/v1/me")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let audit = nextgenrdp::audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("user", Some(&id.to_string())),
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "user.disable");
    assert_eq!(
        audit[0].actor_user_id,
        Some(admin["user"]["id"].as_i64().unwrap() as i32)
    );

    let enabled = app
        .send_json_as(
            token,
            Method::POST,
            &format!("/api/v1/admin/users/{id}/enable"),
            &json!({}),
        )
        .await;
    assert_eq!(enabled.json()["disabled_at"], serde_json::Value::Null);
    app.login("ayesha@example.pk", "correct-horse-battery")
        .await;

    let own = admin["user"]["id"].as_i64().unwrap();
    let myself = app
        .send_json_as(
            token,
            Method::POST,
            &format!("/api/v1/admin/users/{own}/disable"),
            &json!({}),
        )
        .await;
    assert_eq!(myself.status, StatusCode::CONFLICT);
    let missing = app
        .send_json_as(
            token,
            Method::POST,
            "/api/v1/admin/users/999999/disable",
            &json!({}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
}

#[sqlx::test]
async fn the_customers_whole_picture_shows_each_role_its_part(db: PgPool) {
    use nextgenrdp::accounts::Role;
    let app = TestApp::with_default_catalog(db).await;
    let owner = app.admin("operator@nextgenrdp.pk").await;
    let ayesha = super::idor::victim(&app, &owner).await;
    let id = ayesha.login["user"]["id"].as_i64().unwrap();
    let path = format!("/api/v1/admin/customers/{id}");
    let bearer = |login: &Value| login["access_token"].as_str().unwrap().to_owned();

    let picture = app.get_as(&bearer(&owner), &path).await;
    assert_eq!(picture.status, StatusCode::OK, "{}", picture.text());
    let text = picture.text();
    assert!(
        !text.contains("Ayesha-Secret-Pass-91"),
        "no credentials in the picture"
    );
    let picture = picture.json();
    assert_eq!(picture["customer"]["email"], "ayesha@example.pk");
    assert_eq!(picture["services"][0]["ip_address"], "203.0.113.77");
    assert_eq!(picture["money"]["orders_total"], 1);
    assert_eq!(
        picture["money"]["payments"][0]["gateway_txn_id"],
        "TID7788990011"
    );
    assert_eq!(
        picture["support"]["tickets"][0]["subject"],
        "Ayesha's question"
    );
    assert!(picture["sessions"].as_array().unwrap().len() >= 2);

    // Technical sees the services, not the money or the tickets; support sees both.
    let technical = app.staff("tariq@nextgenrdp.pk", Role::Technical).await;
    let seen = app.get_as(&bearer(&technical), &path).await.json();
    assert_eq!(seen["services"][0]["ip_address"], "203.0.113.77");
    assert!(
        seen["money"].is_null() && seen["support"].is_null(),
        "{seen}"
    );
    let support = app.staff("sana@nextgenrdp.pk", Role::Support).await;
    let seen = app.get_as(&bearer(&support), &path).await.json();
    assert!(
        seen["money"].is_object() && seen["support"].is_object(),
        "{seen}"
    );

    // Notes: support writes one, everyone on the staff reads it; bad ones are refused.
    let notes = format!("{path}/notes");
    let empty = app
        .send_json_as(
            Some(&bearer(&support)),
            Method::POST,
            &notes,
            &json!({ "body": " " }),
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.json()["errors"]["body"].is_string());
    let long = app
        .send_json_as(
            Some(&bearer(&support)),
            Method::POST,
            &notes,
            &json!({ "body": "x".repeat(2001) }),
        )
        .await;
    assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY);
    let noted = app
        .send_json_as(
            Some(&bearer(&support)),
            Method::POST,
            &notes,
            &json!({ "body": "Called about a refund; prefers WhatsApp" }),
        )
        .await;
    assert_eq!(noted.status, StatusCode::CREATED, "{}", noted.text());
    assert_eq!(noted.json()["author_name"], "Shop Operator");
    let seen = app.get_as(&bearer(&technical), &path).await.json();
    assert_eq!(
        seen["notes"][0]["body"],
        "Called about a refund; prefers WhatsApp"
    );
    let nobody = app
        .send_json_as(
            Some(&bearer(&support)),
            Method::POST,
            "/api/v1/admin/customers/999999/notes",
            &json!({ "body": "lost" }),
        )
        .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.get_as(&bearer(&owner), "/api/v1/admin/customers/999999")
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Already confirmed: nothing to resend. Ending the sessions logs her out everywhere.
    let resend = app
        .send_json_as(
            Some(&bearer(&support)),
            Method::POST,
            &format!("{path}/resend-verification"),
            &json!({}),
        )
        .await;
    assert_eq!(resend.status, StatusCode::CONFLICT, "{}", resend.text());
    let ended = app
        .send_json_as(
            Some(&bearer(&support)),
            Method::POST,
            &format!("{path}/end-sessions"),
            &json!({}),
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.text());
    assert!(ended.json()["sessions_ended"].as_u64().unwrap() >= 2);
    assert_eq!(
        app.get_as(&bearer(&ayesha.login), "/api/v1/me")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action in ('customer.note', 'user.end_sessions')",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(audited, 2);
}

/// `POST /api/v1/admin/users` opens a customer's account (the customer chooses the password
/// from a mailed link) and `PATCH /api/v1/admin/users/{id}` changes name, phone or e-mail; each
/// audited, each field at fault named, nothing written on a refusal.
#[sqlx::test]
async fn the_operator_opens_and_edits_a_customers_account(db: PgPool) {
    let app = TestApp::new(db);
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let token = admin["access_token"].as_str();
    let accounts = || async {
        sqlx::query_scalar::<_, i64>("select count(*) from users")
            .fetch_one(&app.db)
            .await
            .unwrap()
    };
    let before = accounts().await;

    let refused = app
        .send_json_as(
            token,
            Method::POST,
            "/api/v1/admin/users",
            &json!({ "name": " ", "email": "not-an-address", "phone": "12" }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let errors = &refused.json()["errors"];
    for field in ["name", "email", "phone"] {
        assert!(errors.get(field).is_some(), "{field}: {errors}");
    }
    assert_eq!(accounts().await, before);

    let opened = app
        .send_json_as(
            token,
            Method::POST,
            "/api/v1/admin/users",
            &json!({ "name": "Hamza Qureshi", "email": "Hamza@Example.pk", "phone": "0301-7654321" }),
        )
        .await;
    assert_eq!(opened.status, StatusCode::CREATED, "{}", opened.text());
    let opened = opened.json();
    assert_eq!(opened["role"], "customer");
    assert_eq!(opened["is_verified"], false);
    assert_eq!(opened["phone"], "+923017654321");
    let id = opened["id"].as_i64().unwrap();
    let again = app
        .send_json_as(
            token,
            Method::POST,
            "/api/v1/admin/users",
            &json!({ "name": "Someone", "email": "hamza@example.pk" }),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // The customer chooses a password from the mailed link, which confirms the address too.
    let reset = app
        .token_mailed_to("hamza@example.pk", "/reset-password")
        .await;
    let mails = app.mails_to("hamza@example.pk").await;
    assert!(
        mails.last().unwrap().contains("choose your password"),
        "{mails:?}"
    );
    let chosen = app
        .send_json(
            Method::POST,
            "/api/v1/auth/reset-password",
            &json!({ "token": reset, "password": "hamza-long-passphrase" }),
        )
        .await;
    assert!(chosen.status.is_success(), "{}", chosen.text());
    let login = app.login("hamza@example.pk", "hamza-long-passphrase").await;
    assert_eq!(login["user"]["is_verified"], true, "{login}");

    // Edits: name and phone; a new e-mail must be confirmed again.
    let path = format!("/api/v1/admin/users/{id}");
    let edited = app
        .send_json_as(
            token,
            Method::PATCH,
            &path,
            &json!({ "name": "Hamza Q.", "phone": "" }),
        )
        .await;
    assert_eq!(edited.status, StatusCode::OK, "{}", edited.text());
    assert_eq!(edited.json()["name"], "Hamza Q.");
    assert_eq!(edited.json()["phone"], Value::Null);
    assert_eq!(edited.json()["email"], "hamza@example.pk");
    let moved = app
        .send_json_as(
            token,
            Method::PATCH,
            &path,
            &json!({ "email": "hamza.q@example.pk" }),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text());
    assert_eq!(moved.json()["is_verified"], false);
    app.token_mailed_to("hamza.q@example.pk", "/verify-email")
        .await;
    let taken = app
        .send_json_as(
            token,
            Method::PATCH,
            &path,
            &json!({ "email": "OWNER@nextgenrdp.pk" }),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    for (body, field) in [
        (json!({ "phone": "12" }), "phone"),
        (json!({ "email": "nope" }), "email"),
        (json!({ "name": "" }), "name"),
    ] {
        let refused = app.send_json_as(token, Method::PATCH, &path, &body).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        assert!(refused.json()["errors"].get(field).is_some(), "{body}");
    }
    let unknown = app
        .send_json_as(token, Method::PATCH, &path, &json!({ "role": "owner" }))
        .await;
    assert!(unknown.status.is_client_error());
    let now = app.get_as(token.unwrap(), &path).await.json();
    assert_eq!(
        (
            now["name"].as_str(),
            now["email"].as_str(),
            now["role"].as_str()
        ),
        (
            Some("Hamza Q."),
            Some("hamza.q@example.pk"),
            Some("customer")
        )
    );
    let missing = app
        .send_json_as(
            token,
            Method::PATCH,
            "/api/v1/admin/users/999999",
            &json!({ "name": "X Y" }),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    let audited: Vec<String> = sqlx::query_scalar(
        "select action from audit_log where entity_type = 'user' and entity_id = $1 order by id",
    )
    .bind(id.to_string())
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(audited, ["user.create", "user.update", "user.update"]);

    // Support edits customers, never another staff member's account (its e-mail leads to its
    // password).
    let support = app
        .staff("sana@nextgenrdp.pk", nextgenrdp::accounts::Role::Support)
        .await;
    let owner_id = admin["user"]["id"].as_i64().unwrap();
    let refused = app
        .send_json_as(
            support["access_token"].as_str(),
            Method::PATCH,
            &format!("/api/v1/admin/users/{owner_id}"),
            &json!({ "email": "sana.owns.it@example.pk" }),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    let by_support = app
        .send_json_as(
            support["access_token"].as_str(),
            Method::PATCH,
            &path,
            &json!({ "name": "Hamza Qureshi" }),
        )
        .await;
    assert_eq!(by_support.status, StatusCode::OK, "{}", by_support.text());
}
