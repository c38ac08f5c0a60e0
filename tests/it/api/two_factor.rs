//! Two-factor sign-in through the API: enrolment, the login's second step, replay, recovery
//! codes, turning it off, the operators' obligation and the fresh code sensitive actions need.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::helpers::{TestApp, TestResponse};

const PASSWORD: &str = "correct-horse-battery";

fn bearer(login: &Value) -> &str {
    login["access_token"].as_str().unwrap()
}

/// The secret of an enrolment answer, as bytes.
fn secret_of(enrolment: &Value) -> Vec<u8> {
    totp_rs::Secret::Encoded(enrolment["secret"].as_str().unwrap().to_owned())
        .to_bytes()
        .unwrap()
}

/// The code of `secret` `steps` 30-second steps from now.
fn code(secret: &[u8], steps: i64) -> String {
    let at = chrono::Utc::now() + chrono::Duration::seconds(30 * steps);
    nextgenrdp::accounts::two_factor::code_at(secret, at)
}

async fn post(app: &TestApp, token: Option<&str>, path: &str, body: Value) -> TestResponse {
    app.send_json_as(token, Method::POST, path, &body).await
}

/// A verified customer with two-factor sign-in turned on through the API: (login, secret,
/// recovery codes).
async fn enrolled(app: &TestApp, email: &str) -> (Value, Vec<u8>, Vec<String>) {
    let login = app.verified_customer(email).await;
    let started = post(
        app,
        Some(bearer(&login)),
        "/api/v1/me/two-factor",
        json!({}),
    )
    .await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    assert_eq!(started.header("cache-control"), "no-store");
    let enrolment = started.json();
    let secret = secret_of(&enrolment);
    let confirmed = post(
        app,
        Some(bearer(&login)),
        "/api/v1/me/two-factor/confirm",
        json!({ "code": code(&secret, 0) }),
    )
    .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text());
    let codes = enrolment["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    (login, secret, codes)
}

#[sqlx::test]
async fn a_customer_turns_it_on_and_every_login_then_needs_a_code_once(db: PgPool) {
    let app = TestApp::new(db);
    let login = app.verified_customer("ayesha@example.pk").await;
    let other_device = app.login("ayesha@example.pk", PASSWORD).await;
    let token = bearer(&login);

    let started = post(&app, Some(token), "/api/v1/me/two-factor", json!({})).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.text());
    let enrolment = started.json();
    let uri = enrolment["otpauth_uri"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/NextGenRDP:ayesha%40example.pk?secret=")
            && uri.contains("issuer=NextGenRDP"),
        "{uri}"
    );
    let secret = secret_of(&enrolment);
    assert_eq!(secret.len(), 20, "160 bits");
    let codes = enrolment["recovery_codes"].as_array().unwrap();
    assert_eq!(codes.len(), 10);
    // Stored sealed: neither the secret nor a recovery code is in any column in clear.
    let dump: String = sqlx::query_scalar(
        "select string_agg(t::text, ' ') from (
             select * from user_two_factor) t",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert!(!dump.contains(enrolment["secret"].as_str().unwrap()));
    assert!(!dump.contains(&hex::encode(&secret)));
    let hashes: String =
        sqlx::query_scalar("select string_agg(code_hash, ' ') from two_factor_recovery_codes")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(!hashes.contains(codes[0].as_str().unwrap()));

    // Pending: logins are unchanged until the first code confirms it.
    let status = app.get_as(token, "/api/v1/me/two-factor").await.json();
    assert_eq!(
        (status["enabled"].clone(), status["pending"].clone()),
        (json!(false), json!(true))
    );
    let plain = app.login("ayesha@example.pk", PASSWORD).await;
    assert!(plain["access_token"].is_string());
    let wrong = post(
        &app,
        Some(token),
        "/api/v1/me/two-factor/confirm",
        json!({ "code": "000000" }),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.json()["errors"]["code"].is_string());
    let confirmed = post(
        &app,
        Some(token),
        "/api/v1/me/two-factor/confirm",
        json!({ "code": code(&secret, 0) }),
    )
    .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text());
    assert_eq!(confirmed.json()["enabled"], true);
    assert_eq!(confirmed.json()["recovery_codes_left"], 10);
    // This session goes on; the others (opened with a password alone) end.
    assert_eq!(
        app.get_as(token, "/api/v1/me").await.json()["two_factor_enabled"],
        true
    );
    assert_eq!(
        app.get_as(bearer(&other_device), "/api/v1/me").await.status,
        401
    );
    let mail = app.mails_to("ayesha@example.pk").await.pop().unwrap();
    assert!(mail.contains("Subject: Two-factor sign-in is on"), "{mail}");
    let again = post(&app, Some(token), "/api/v1/me/two-factor", json!({})).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    // A login now stops at the second step: no token without the code.
    let first = app.login("ayesha@example.pk", PASSWORD).await;
    assert_eq!(first["mfa_required"], true);
    assert!(first.get("access_token").is_none(), "{first}");
    let mfa_token = first["mfa_token"].as_str().unwrap();
    let bad = post(
        &app,
        None,
        "/api/v1/auth/mfa",
        json!({ "mfa_token": mfa_token, "code": "123456" }),
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.json()["errors"]["code"].is_string());
    // The code confirm used is spent: a replay inside its window is refused.
    let replayed = post(
        &app,
        None,
        "/api/v1/auth/mfa",
        json!({ "mfa_token": mfa_token, "code": code(&secret, 0) }),
    )
    .await;
    assert_eq!(
        replayed.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        replayed.text()
    );
    assert!(
        replayed.json()["errors"]["code"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    let next_code = code(&secret, 1);
    let tokens = post(
        &app,
        None,
        "/api/v1/auth/mfa",
        json!({ "mfa_token": mfa_token, "code": next_code }),
    )
    .await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.text());
    assert!(tokens.json()["access_token"].is_string());
    assert_eq!(
        app.get_as(bearer(&tokens.json()), "/api/v1/me")
            .await
            .status,
        200
    );
    // The second step's token works once.
    let reused = post(
        &app,
        None,
        "/api/v1/auth/mfa",
        json!({ "mfa_token": mfa_token, "code": code(&secret, 1) }),
    )
    .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(reused.json()["errors"]["mfa_token"].is_string());

    // A recovery code logs in once, and the owner hears of it.
    let recovery = codes[3].as_str().unwrap().to_uppercase();
    let second = app.login("ayesha@example.pk", PASSWORD).await;
    let with_recovery = post(
        &app,
        None,
        "/api/v1/auth/mfa",
        json!({ "mfa_token": second["mfa_token"], "code": recovery }),
    )
    .await;
    assert_eq!(
        with_recovery.status,
        StatusCode::OK,
        "{}",
        with_recovery.text()
    );
    let mail = app.mails_to("ayesha@example.pk").await.pop().unwrap();
    assert!(mail.contains("A recovery code was used"), "{mail}");
    let third = app.login("ayesha@example.pk", PASSWORD).await;
    let spent = post(
        &app,
        None,
        "/api/v1/auth/mfa",
        json!({ "mfa_token": third["mfa_token"], "code": recovery }),
    )
    .await;
    assert_eq!(spent.status, StatusCode::UNPROCESSABLE_ENTITY);
    let status = app.get_as(token, "/api/v1/me/two-factor").await.json();
    assert_eq!(status["recovery_codes_left"], 9);
}

#[sqlx::test]
async fn five_wrong_codes_end_the_second_step(db: PgPool) {
    let app = TestApp::new(db);
    let (_, secret, _) = enrolled(&app, "ayesha@example.pk").await;
    let first = app.login("ayesha@example.pk", PASSWORD).await;
    for _ in 0..5 {
        let wrong = post(
            &app,
            None,
            "/api/v1/auth/mfa",
            json!({ "mfa_token": first["mfa_token"], "code": "999999" }),
        )
        .await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let right = post(
        &app,
        None,
        "/api/v1/auth/mfa",
        json!({ "mfa_token": first["mfa_token"], "code": code(&secret, 1) }),
    )
    .await;
    assert_eq!(
        right.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        right.text()
    );
    assert!(right.json()["errors"]["mfa_token"].is_string());
    let sessions: i64 =
        sqlx::query_scalar("select count(*) from user_sessions where revoked_at is null")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(sessions, 1, "only the enrolling session");
}

#[sqlx::test]
async fn turning_it_off_and_new_recovery_codes_need_a_code(db: PgPool) {
    let app = TestApp::new(db);
    let (login, secret, codes) = enrolled(&app, "ayesha@example.pk").await;
    let token = bearer(&login);

    let renewed = post(
        &app,
        Some(token),
        "/api/v1/me/two-factor/recovery-codes",
        json!({ "code": code(&secret, 1) }),
    )
    .await;
    assert_eq!(renewed.status, StatusCode::CREATED, "{}", renewed.text());
    let fresh = renewed.json()["recovery_codes"].clone();
    assert_eq!(fresh.as_array().unwrap().len(), 10);
    assert!(!fresh.as_array().unwrap().contains(&json!(codes[0])));

    // The old codes are void; a wrong code changes nothing.
    let old_code = app
        .send_json_as(
            Some(token),
            Method::DELETE,
            "/api/v1/me/two-factor",
            &json!({ "code": codes[0] }),
        )
        .await;
    assert_eq!(old_code.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        app.get_as(token, "/api/v1/me").await.json()["two_factor_enabled"],
        true
    );
    let off = app
        .send_json_as(
            Some(token),
            Method::DELETE,
            "/api/v1/me/two-factor",
            &json!({ "code": fresh[0] }),
        )
        .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{}", off.text());
    assert_eq!(
        app.get_as(token, "/api/v1/me").await.json()["two_factor_enabled"],
        false
    );
    let plain = app.login("ayesha@example.pk", PASSWORD).await;
    assert!(plain["access_token"].is_string());
    let rows: i64 = sqlx::query_scalar(
        "select (select count(*) from user_two_factor) + (select count(*) from two_factor_recovery_codes)",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(rows, 0);
    let audited: Vec<String> = sqlx::query_scalar("select action from audit_log order by id")
        .fetch_all(&app.db)
        .await
        .unwrap();
    assert_eq!(
        audited,
        ["user.two_factor_enable", "user.two_factor_disable"]
    );
}

#[sqlx::test]
async fn an_operator_without_two_factor_gets_403_naming_it_until_it_is_on(db: PgPool) {
    let app = TestApp::new(db.clone());
    app.admin_account("owner@nextgenrdp.pk").await;
    let login = app
        .login("owner@nextgenrdp.pk", "operator-passphrase")
        .await;
    let token = bearer(&login);
    for path in [
        "/api/v1/admin/users",
        "/api/v1/admin/orders",
        "/api/v1/admin/payments",
    ] {
        let refused = app.get_as(token, path).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{path}");
        let problem = refused.json();
        let why = problem["errors"]["two-factor"].as_str().unwrap();
        assert!(
            why.contains("/api/v1/me/two-factor") && why.contains("/account/two-factor"),
            "{why}"
        );
    }
    // Enrolling works with that session, and then the same session may act.
    let enrolment = post(&app, Some(token), "/api/v1/me/two-factor", json!({}))
        .await
        .json();
    let confirmed = post(
        &app,
        Some(token),
        "/api/v1/me/two-factor/confirm",
        json!({ "code": code(&secret_of(&enrolment), 0) }),
    )
    .await;
    assert_eq!(confirmed.status, StatusCode::OK);
    assert_eq!(
        app.get_as(token, "/api/v1/admin/users").await.status,
        StatusCode::OK
    );
    // Turned off again, the same session no longer opens the back office.
    let off = app
        .send_json_as(
            Some(token),
            Method::DELETE,
            "/api/v1/me/two-factor",
            &json!({ "code": code(&secret_of(&enrolment), 1) }),
        )
        .await;
    assert_eq!(off.status, StatusCode::NO_CONTENT, "{}", off.text());
    let refused = app.get_as(token, "/api/v1/admin/users").await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(refused.json()["errors"]["two-factor"].is_string());

    // With NEXTGENRDP_OPERATOR_2FA=optional an operator may go without.
    let mut settings = TestApp::settings();
    settings.operator_two_factor = nextgenrdp::accounts::two_factor::OperatorPolicy::Optional;
    let optional = TestApp::with_settings(db, settings);
    optional.admin_account("second@nextgenrdp.pk").await;
    let login = optional
        .login("second@nextgenrdp.pk", "operator-passphrase")
        .await;
    assert_eq!(
        optional
            .get_as(bearer(&login), "/api/v1/admin/users")
            .await
            .status,
        StatusCode::OK
    );
}

#[sqlx::test]
async fn revealing_approving_and_changing_credentials_need_a_code_from_the_last_ten_minutes(
    db: PgPool,
) {
    let app = TestApp::with_default_catalog(db).await;
    let admin = app.admin("owner@nextgenrdp.pk").await;
    let token = bearer(&admin);
    let (customer, order) =
        crate::api::payments::customer_with_order(&app, "ayesha@example.pk").await;
    let payment = app
        .report_transfer(bearer(&customer), order, "TID10203040", "bank")
        .await;
    let id = payment["id"].as_i64().unwrap();
    // The login's code was 11 minutes ago.
    sqlx::query("update user_sessions set two_factor_at = now() - interval '11 minutes'")
        .execute(&app.db)
        .await
        .unwrap();
    let approve_path = format!("/api/v1/admin/payments/{id}/approve");
    let approve = async || {
        app.send_json_as(Some(token), Method::POST, &approve_path, &json!({}))
            .await
    };
    let refused = approve().await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text());
    assert!(
        refused.json()["errors"]["two-factor"]
            .as_str()
            .unwrap()
            .contains("/api/v1/me/two-factor/verify")
    );
    let status: String = sqlx::query_scalar("select status from payments where id = $1")
        .bind(id as i32)
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(status, "review", "nothing changed");
    let password = app
        .send_json_as(
            Some(token),
            Method::POST,
            "/api/v1/me/password",
            &json!({ "current_password": "operator-passphrase", "new_password": "another long passphrase" }),
        )
        .await;
    assert_eq!(password.status, StatusCode::FORBIDDEN);
    // Reading is not sensitive: lists still answer.
    assert_eq!(
        app.get_as(token, "/api/v1/admin/payments").await.status,
        StatusCode::OK
    );

    let user_id: i32 =
        sqlx::query_scalar("select id from users where email = 'owner@nextgenrdp.pk'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let wrong = post(
        &app,
        Some(token),
        "/api/v1/me/two-factor/verify",
        json!({ "code": "000000" }),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let code = crate::helpers::totp_code(&app.db, user_id).await;
    let verified = post(
        &app,
        Some(token),
        "/api/v1/me/two-factor/verify",
        json!({ "code": code }),
    )
    .await;
    assert_eq!(
        verified.status,
        StatusCode::NO_CONTENT,
        "{}",
        verified.text()
    );
    let approved = approve().await;
    assert_eq!(approved.status, StatusCode::OK, "{}", approved.text());
}

#[sqlx::test]
async fn codes_are_rate_limited_per_account_across_logins(db: PgPool) {
    let app = TestApp::new(db);
    let (_, secret, _) = enrolled(&app, "ayesha@example.pk").await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let first = app.login("ayesha@example.pk", PASSWORD).await;
        for _ in 0..4 {
            let wrong = post(
                &app,
                None,
                "/api/v1/auth/mfa",
                json!({ "mfa_token": first["mfa_token"], "code": "111111" }),
            )
            .await;
            statuses.push(wrong.status);
        }
    }
    // 10 codes per account in 15 minutes, whatever the login they answer.
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY)
            .count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(statuses[10], StatusCode::TOO_MANY_REQUESTS);
    // Even the right code waits now.
    let last = app.login("ayesha@example.pk", PASSWORD).await;
    let right = post(
        &app,
        None,
        "/api/v1/auth/mfa",
        json!({ "mfa_token": last["mfa_token"], "code": code(&secret, 1) }),
    )
    .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
}
