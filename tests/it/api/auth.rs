//! `/api/v1/auth/*`: registration, verification, login, refresh rotation, logout, password reset,
//! and the attacks on each.

use axum::http::{Method, StatusCode};
use serde_json::json;
use sqlx::PgPool;

use crate::helpers::TestApp;

const PASSWORD: &str = "correct-horse-battery";

async fn register(app: &TestApp, body: serde_json::Value) -> crate::helpers::TestResponse {
    app.send_json(Method::POST, "/api/v1/auth/register", &body)
        .await
}

#[sqlx::test]
async fn registration_verification_and_login_work_end_to_end(db: PgPool) {
    let app = TestApp::new(db);
    let created = register(
        &app,
        json!({ "name": " Ayesha Khan ", "email": "Ayesha@Example.PK", "phone": "0300-1234567", "password": PASSWORD }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    assert_eq!(created.json()["status"], "verification_sent");

    // Unverified accounts may log in.
    let login = app.login("ayesha@example.pk", PASSWORD).await;
    let user = &login["user"];
    assert_eq!(user["email"], "ayesha@example.pk");
    assert_eq!(user["name"], "Ayesha Khan");
    assert_eq!(user["phone"], "+923001234567");
    assert_eq!(user["is_verified"], false);
    assert_eq!(user["two_factor_enabled"], false);
    assert!(user.get("password_hash").is_none());

    let token = app
        .token_mailed_to("ayesha@example.pk", "/verify-email")
        .await;
    let mail = app.mails_to("ayesha@example.pk").await.pop().unwrap();
    assert!(mail.contains("Subject: Confirm your e-mail"), "{mail}");
    let verified = app
        .send_json(
            Method::POST,
            "/api/v1/auth/verify-email",
            &json!({ "token": token }),
        )
        .await;
    assert_eq!(verified.status, StatusCode::OK, "{}", verified.text());
    assert_eq!(verified.json()["is_verified"], true);

    // The link works once.
    let again = app
        .send_json(
            Method::POST,
            "/api/v1/auth/verify-email",
            &json!({ "token": token }),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.json()["errors"]["token"].is_string());

    let login = app.login("AYESHA@example.pk", PASSWORD).await;
    assert_eq!(login["token_type"], "Bearer");
    assert_eq!(login["expires_in"], 900);
    assert!(
        login["refresh_token"].as_str().unwrap().len() >= 43,
        "256 bits"
    );
    assert_eq!(login["user"]["is_verified"], true);
    let me = app
        .get_as(login["access_token"].as_str().unwrap(), "/api/v1/me")
        .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["email"], "ayesha@example.pk");
}

#[sqlx::test]
async fn registration_names_every_bad_field_and_writes_nothing(db: PgPool) {
    let app = TestApp::new(db);
    let response = register(
        &app,
        json!({ "name": "", "email": "nope", "phone": "12345", "password": "password123" }),
    )
    .await;
    assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(response.header("content-type"), "application/problem+json");
    let errors = &response.json()["errors"];
    for field in ["name", "email", "phone", "password"] {
        assert!(errors[field].is_string(), "{field} not named: {errors}");
    }
    assert!(errors["password"].as_str().unwrap().contains("common"));

    let missing = register(&app, json!({ "name": "Ali", "password": PASSWORD })).await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        missing.json()["errors"]["email"].is_string(),
        "{}",
        missing.text()
    );

    let not_json = app
        .request(
            axum::http::Request::post("/api/v1/auth/register")
                .header("content-type", "application/json")
                .body(axum::body::Body::from("{not json"))
                .unwrap(),
        )
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    let wrong_type = app
        .request(
            axum::http::Request::post("/api/v1/auth/register")
                .body(axum::body::Body::from("name=x"))
                .unwrap(),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(
        nextgenrdp::accounts::users::count(&app.db, None)
            .await
            .unwrap()
            .count,
        0
    );
}

#[sqlx::test]
async fn registering_a_taken_email_answers_as_for_a_new_one_and_mails_its_owner(db: PgPool) {
    let app = TestApp::new(db);
    let first = register(
        &app,
        json!({ "name": "Ali Raza", "email": "ali@example.pk", "password": PASSWORD }),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED);
    let hash_before: String =
        sqlx::query_scalar("select password_hash from users where email = 'ali@example.pk'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    let twice = register(
        &app,
        json!({ "name": "Someone Else", "email": "ALI@Example.pk", "password": "another passphrase" }),
    )
    .await;
    // The same status and body as for a new address: nothing tells a stranger the address is
    // taken.
    assert_eq!(
        (twice.status, twice.body.clone()),
        (first.status, first.body.clone())
    );
    let fresh = register(
        &app,
        json!({ "name": "New", "email": "new@example.pk", "password": PASSWORD }),
    )
    .await;
    assert_eq!((fresh.status, fresh.body), (first.status, first.body));

    // Nothing changed on the account; its owner hears of the attempt.
    let (count, name, hash): (i64, String, String) = sqlx::query_as(
        "select (select count(*) from users where lower(email) = 'ali@example.pk'), name, password_hash
         from users where email = 'ali@example.pk'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!((count, name.as_str()), (1, "Ali Raza"));
    assert_eq!(hash, hash_before);
    let mails = app.mails_to("ali@example.pk").await;
    assert_eq!(mails.len(), 2, "the verification link and the note");
    assert!(
        mails[1].contains("Subject: Someone tried to register with your e-mail"),
        "{}",
        mails[1]
    );
    assert!(
        !mails[1].contains("verify-email?token="),
        "no link that acts"
    );

    // At most three such notes an hour, however often it is tried.
    for _ in 0..5 {
        let again = register(
            &app,
            json!({ "name": "Spam", "email": "ali@example.pk", "password": PASSWORD }),
        )
        .await;
        assert_eq!(again.status, StatusCode::CREATED);
    }
    assert_eq!(app.mails_to("ali@example.pk").await.len(), 4);
}

#[sqlx::test]
async fn a_wrong_password_and_an_unknown_email_get_identical_answers(db: PgPool) {
    let app = TestApp::new(db);
    app.verified_customer("ayesha@example.pk").await;
    let wrong = app
        .send_json(
            Method::POST,
            "/api/v1/auth/login",
            &json!({ "email": "ayesha@example.pk", "password": "wrong-password" }),
        )
        .await;
    let unknown = app
        .send_json(
            Method::POST,
            "/api/v1/auth/login",
            &json!({ "email": "nobody@example.pk", "password": "wrong-password" }),
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        (wrong.status, wrong.body.clone()),
        (unknown.status, unknown.body.clone())
    );

    // forgot-password and resend say the same thing whether or not the account exists
    for path in [
        "/api/v1/auth/forgot-password",
        "/api/v1/auth/resend-verification",
    ] {
        let known = app
            .send_json(Method::POST, path, &json!({ "email": "ayesha@example.pk" }))
            .await;
        let unknown = app
            .send_json(Method::POST, path, &json!({ "email": "nobody@example.pk" }))
            .await;
        assert_eq!(known.status, StatusCode::ACCEPTED);
        assert_eq!(known.body, unknown.body, "{path}");
    }
}

#[sqlx::test]
async fn refresh_rotates_the_token_and_a_reused_one_ends_the_session(db: PgPool) {
    let app = TestApp::new(db);
    let login = app.verified_customer("ayesha@example.pk").await;
    let first = login["refresh_token"].as_str().unwrap();

    let rotated = app
        .send_json(
            Method::POST,
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": first }),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text());
    let rotated = rotated.json();
    let second = rotated["refresh_token"].as_str().unwrap();
    assert_ne!(first, second);
    let access = rotated["access_token"].as_str().unwrap();
    assert_eq!(
        app.get_as(access, "/api/v1/me").await.status,
        StatusCode::OK
    );

    // The thief replays the first token: the whole session ends, for the thief and the owner.
    let replay = app
        .send_json(
            Method::POST,
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": first }),
        )
        .await;
    assert_eq!(replay.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get_as(access, "/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    let owner = app
        .send_json(
            Method::POST,
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": second }),
        )
        .await;
    assert_eq!(owner.status, StatusCode::UNAUTHORIZED);

    let garbage = app
        .send_json(
            Method::POST,
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": "made-up" }),
        )
        .await;
    assert_eq!(garbage.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test]
async fn logout_stops_the_access_token_at_once(db: PgPool) {
    let app = TestApp::new(db);
    let login = app.verified_customer("ayesha@example.pk").await;
    let access = login["access_token"].as_str().unwrap();
    let out = app
        .send_json_as(
            Some(access),
            Method::POST,
            "/api/v1/auth/logout",
            &json!({}),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    assert_eq!(
        app.get_as(access, "/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED
    );
    let refresh = app
        .send_json(
            Method::POST,
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": login["refresh_token"] }),
        )
        .await;
    assert_eq!(refresh.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test]
async fn forged_tampered_expired_and_alg_none_tokens_are_refused(db: PgPool) {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    let app = TestApp::new(db);
    let login = app.verified_customer("ayesha@example.pk").await;
    let access = login["access_token"].as_str().unwrap();
    let user_id = login["user"]["id"].as_i64().unwrap() as i32;
    let claims = nextgenrdp::accounts::jwt::verify(&[1; 32], access).unwrap();

    let wrong_key = nextgenrdp::accounts::jwt::issue(
        &[7; 32],
        user_id,
        claims.sid,
        nextgenrdp::accounts::Role::Owner,
    )
    .unwrap();
    let parts: Vec<&str> = access.split('.').collect();
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(payload.replace("customer", "owner")),
        parts[2]
    );
    let alg_none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        parts[1]
    );
    let now = chrono::Utc::now().timestamp();
    let expired = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &json!({ "sub": user_id.to_string(), "sid": claims.sid, "role": "customer", "iat": now - 3600, "exp": now - 60 }),
        &jsonwebtoken::EncodingKey::from_secret(&[1; 32]),
    )
    .unwrap();
    for (what, token) in [
        ("wrong key", wrong_key),
        ("tampered", tampered),
        ("alg none", alg_none),
        ("expired", expired),
        ("garbage", "abc".into()),
    ] {
        let response = app.get_as(&token, "/api/v1/me").await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{what}");
        assert_eq!(response.header("content-type"), "application/problem+json");
    }
    assert_eq!(
        app.get("/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED,
        "no token"
    );
}

#[sqlx::test]
async fn password_reset_works_once_and_ends_every_session(db: PgPool) {
    let app = TestApp::new(db);
    let login = app.verified_customer("ayesha@example.pk").await;
    let access = login["access_token"].as_str().unwrap();
    let asked = app
        .send_json(
            Method::POST,
            "/api/v1/auth/forgot-password",
            &json!({ "email": "Ayesha@example.pk" }),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    let token = app
        .token_mailed_to("ayesha@example.pk", "/reset-password")
        .await;

    let weak = app
        .send_json(
            Method::POST,
            "/api/v1/auth/reset-password",
            &json!({ "token": token, "password": "short" }),
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(weak.json()["errors"]["password"].is_string());

    let reset = app
        .send_json(
            Method::POST,
            "/api/v1/auth/reset-password",
            &json!({ "token": token, "password": "a brand new passphrase" }),
        )
        .await;
    assert_eq!(reset.status, StatusCode::OK, "{}", reset.text());
    assert_eq!(
        app.get_as(access, "/api/v1/me").await.status,
        StatusCode::UNAUTHORIZED,
        "old session ended"
    );
    let again = app
        .send_json(
            Method::POST,
            "/api/v1/auth/reset-password",
            &json!({ "token": token, "password": "yet another passphrase" }),
        )
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "single use");
    app.login("ayesha@example.pk", "a brand new passphrase")
        .await;
    let old = app
        .send_json(
            Method::POST,
            "/api/v1/auth/login",
            &json!({ "email": "ayesha@example.pk", "password": PASSWORD }),
        )
        .await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED);
}

#[sqlx::test]
async fn an_expired_reset_link_is_refused(db: PgPool) {
    let app = TestApp::new(db);
    app.verified_customer("ayesha@example.pk").await;
    app.send_json(
        Method::POST,
        "/api/v1/auth/forgot-password",
        &json!({ "email": "ayesha@example.pk" }),
    )
    .await;
    let token = app
        .token_mailed_to("ayesha@example.pk", "/reset-password")
        .await;
    sqlx::query("update one_time_tokens set expires_at = now() - interval '1 second' where purpose = 'password_reset'")
        .execute(&app.db)
        .await
        .unwrap();
    let reset = app
        .send_json(
            Method::POST,
            "/api/v1/auth/reset-password",
            &json!({ "token": token, "password": "a brand new passphrase" }),
        )
        .await;
    assert_eq!(reset.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test]
async fn too_many_logins_get_429_with_retry_after(db: PgPool) {
    let app = TestApp::new(db);
    app.verified_customer("ayesha@example.pk").await;
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let response = app
            .send_json(
                Method::POST,
                "/api/v1/auth/login",
                &json!({ "email": "ayesha@example.pk", "password": "guess-guess" }),
            )
            .await;
        statuses.push(response.status);
        if response.status == StatusCode::TOO_MANY_REQUESTS {
            let retry: u64 = response.header("retry-after").parse().unwrap();
            assert!((1..=900).contains(&retry), "{retry}");
        }
    }
    // The address logged in before (verified_customer), so it has its own 10 per 15 min.
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count(),
        10,
        "{statuses:?}"
    );
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count(),
        2
    );
    // even the right password is refused from there while it is limited
    let right = app
        .send_json(
            Method::POST,
            "/api/v1/auth/login",
            &json!({ "email": "ayesha@example.pk", "password": PASSWORD }),
        )
        .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
}

#[sqlx::test]
async fn a_disabled_account_cannot_log_in(db: PgPool) {
    let app = TestApp::new(db);
    let login = app.verified_customer("ayesha@example.pk").await;
    let id = login["user"]["id"].as_i64().unwrap() as i32;
    nextgenrdp::accounts::users::set_disabled(&app.db, id, true)
        .await
        .unwrap();
    let response = app
        .send_json(
            Method::POST,
            "/api/v1/auth/login",
            &json!({ "email": "ayesha@example.pk", "password": PASSWORD }),
        )
        .await;
    assert_eq!(response.status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.get_as(login["access_token"].as_str().unwrap(), "/api/v1/me")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

/// A login from `ip`.
async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> StatusCode {
    let request = axum::http::Request::post("/api/v1/auth/login")
        .header("content-type", "application/json")
        .header("x-forwarded-for", ip)
        .body(axum::body::Body::from(
            json!({ "email": email, "password": password }).to_string(),
        ))
        .unwrap();
    app.request(request).await.status
}

#[sqlx::test]
async fn failures_from_strangers_do_not_lock_the_owner_out_of_an_address_they_used_before(
    db: PgPool,
) {
    let app = TestApp::new(db);
    app.verified_customer("ayesha@example.pk").await; // logs in from 198.51.100.1
    // A stranger guesses from rotating addresses until the account's shared bucket is spent.
    let mut guesses = Vec::new();
    for n in 0..14 {
        let ip = format!("203.0.113.{}", n + 10);
        guesses.push(login_from(&app, &ip, "ayesha@example.pk", "guess-guess").await);
    }
    assert_eq!(
        guesses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count(),
        9,
        "guessing stays capped per account (the owner's first login, from an address new \
         then, counted there too): {guesses:?}"
    );
    assert_eq!(*guesses.last().unwrap(), StatusCode::TOO_MANY_REQUESTS);
    // A new address is limited too, even with the right password…
    assert_eq!(
        login_from(&app, "192.0.2.77", "ayesha@example.pk", PASSWORD).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // …but the owner, from the address they logged in from before, gets in.
    assert_eq!(
        login_from(&app, "198.51.100.1", "ayesha@example.pk", PASSWORD).await,
        StatusCode::OK
    );
}

#[sqlx::test]
async fn a_password_longer_than_bcrypt_reads_is_refused_not_cut(db: PgPool) {
    let app = TestApp::new(db);
    let long = format!("{}{}", "x".repeat(72), "-ending-one");
    let refused = register(
        &app,
        json!({ "name": "Long", "email": "long@example.pk", "password": long }),
    )
    .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.json()["errors"]["password"]
            .as_str()
            .unwrap()
            .contains("72 bytes"),
        "{}",
        refused.text()
    );
    assert_eq!(
        nextgenrdp::accounts::users::count(&app.db, None)
            .await
            .unwrap()
            .count,
        0
    );
    // An account whose old hash was made from a longer password (bcrypt kept 72 bytes of it):
    // the same first 72 bytes with another ending no longer log in.
    let hash = nextgenrdp::accounts::hash_password(&long, 4).unwrap();
    nextgenrdp::accounts::users::insert(
        &app.db,
        &nextgenrdp::accounts::users::NewUser {
            name: "Old",
            email: "old@example.pk",
            phone: None,
            password_hash: &hash,
            role: nextgenrdp::accounts::Role::Customer,
        },
    )
    .await
    .unwrap();
    let other_ending = format!("{}{}", "x".repeat(72), "-ending-two");
    let login = app
        .send_json(
            Method::POST,
            "/api/v1/auth/login",
            &json!({ "email": "old@example.pk", "password": other_ending }),
        )
        .await;
    assert_eq!(login.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(login.json()["errors"]["password"].is_string());
    // Exactly 72 bytes still work.
    let exact = "y".repeat(72);
    let created = register(
        &app,
        json!({ "name": "Exact", "email": "exact@example.pk", "password": exact }),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text());
    app.login("exact@example.pk", &exact).await;
}

#[sqlx::test]
async fn legacy_and_cheaper_hashes_are_replaced_at_the_next_login(db: PgPool) {
    let app = TestApp::new(db);
    // The old site's PHP hash ($2y$) and a plain one, both at cost 4; the shop now hashes at 5.
    let legacy = nextgenrdp::accounts::hash_password(PASSWORD, 4)
        .unwrap()
        .replacen("$2b$", "$2y$", 1);
    let cheap = bcrypt::hash(PASSWORD, 4).unwrap();
    for (email, hash) in [("legacy@example.pk", legacy), ("cheap@example.pk", cheap)] {
        nextgenrdp::accounts::users::insert(
            &app.db,
            &nextgenrdp::accounts::users::NewUser {
                name: "Old Customer",
                email,
                phone: None,
                password_hash: &hash,
                role: nextgenrdp::accounts::Role::Customer,
            },
        )
        .await
        .unwrap();
    }
    let mut settings = TestApp::settings();
    settings.bcrypt_cost = 5;
    let app = TestApp::with_settings(app.db.clone(), settings);
    for email in ["legacy@example.pk", "cheap@example.pk"] {
        app.login(email, PASSWORD).await;
        let hash: String = sqlx::query_scalar("select password_hash from users where email = $1")
            .bind(email)
            .fetch_one(&app.db)
            .await
            .unwrap();
        assert!(hash.starts_with("$2b$05$"), "{email}: {hash}");
        // and it still verifies
        app.login(email, PASSWORD).await;
    }
}
