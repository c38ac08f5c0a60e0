//! The account pages (`/register`, `/login`, `/logout`, `/verify-email`, `/forgot-password`,
//! `/reset-password`, `/account*`) and the operator's `/admin/customers`, through forms, cookies and
//! CSRF tokens as a browser sends them; and the attacks on each.

use axum::http::StatusCode;
use nextgenrdp::accounts::{sessions, users};
use sqlx::PgPool;

use super::{Visitor, csrf_in, set_cookie_header};
use crate::helpers::TestApp;

const PASSWORD: &str = "correct-horse-battery";

async fn user_id(app: &TestApp, email: &str) -> i32 {
    users::find_by_email(&app.db, email)
        .await
        .unwrap()
        .expect("the account exists")
        .id
}

async fn live_sessions(app: &TestApp, email: &str) -> usize {
    sessions::list_live_for_user(&app.db, user_id(app, email).await)
        .await
        .unwrap()
        .len()
}

/// A verified customer (through the API), logged in through the login form.
async fn logged_in_customer<'a>(app: &'a TestApp, email: &str) -> Visitor<'a> {
    app.verified_customer(email).await;
    let mut visitor = Visitor::new(app);
    visitor.log_in(email, PASSWORD).await;
    visitor
}

fn location(response: &crate::helpers::TestResponse) -> &str {
    response.header("location")
}

#[sqlx::test]
async fn registering_through_the_form_says_check_your_mail_and_the_mailed_link_confirms(
    db: PgPool,
) {
    let app = TestApp::new(db);
    let mut visitor = Visitor::new(&app);
    let form = visitor.get("/register").await;
    assert_eq!(form.status, StatusCode::OK);
    let html = form.text();
    for field in ["name", "email", "phone", "password"] {
        assert!(
            html.contains(&format!(r#"<label for="{field}">"#)),
            "{field} has no label"
        );
    }
    assert!(html.contains(r#"autocomplete="new-password""#));

    let created = visitor
        .submit(
            "/register",
            "/register",
            &[
                ("name", "Ayesha Khan"),
                ("email", "Ayesha@Example.PK"),
                ("phone", "0300-1234567"),
                ("password", PASSWORD),
            ],
        )
        .await;
    // The same page whether or not the address had an account: check your e-mail, then log in.
    assert_eq!(created.status, StatusCode::OK, "{}", created.text());
    assert!(
        created.text().contains("Check your e-mail"),
        "{}",
        created.text()
    );
    assert!(
        created.text().contains("ayesha@example.pk")
            || created.text().contains("Ayesha@Example.PK")
    );
    assert!(set_cookie_header(&created, "ngr_session").is_none());
    assert!(visitor.session().is_none());

    visitor.log_in("ayesha@example.pk", PASSWORD).await;
    let login = visitor.get("/login").await;
    assert_eq!(
        login.status,
        StatusCode::SEE_OTHER,
        "logged in: /login moves on"
    );
    let account = visitor.get("/account?notice=welcome").await;
    assert_eq!(account.status, StatusCode::OK);
    let html = account.text();
    assert!(html.contains("ayesha@example.pk"), "{html}");
    assert!(
        html.contains("confirm your address"),
        "the welcome notice asks to confirm: {html}"
    );
    assert!(html.contains("Not verified"));
    assert!(html.contains("Resend verification e-mail"));
    assert!(html.contains("This device"));
    assert!(
        html.contains("Chrome on Android"),
        "the session's browser is named"
    );

    // Opening the link (as a mail scanner would) changes nothing; the button confirms.
    let token = app
        .token_mailed_to("ayesha@example.pk", "/verify-email")
        .await;
    let link = format!("/verify-email?token={token}");
    let landing = visitor.get(&link).await;
    assert_eq!(landing.status, StatusCode::OK);
    assert!(landing.text().contains("Confirm my e-mail"));
    let user = users::find_by_email(&app.db, "ayesha@example.pk")
        .await
        .unwrap()
        .unwrap();
    assert!(!user.is_verified(), "a GET must not consume the token");

    let confirmed = visitor
        .submit(&link, "/verify-email", &[("token", &token)])
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.text());
    assert!(confirmed.text().contains("Your e-mail is confirmed"));

    let html = visitor.get("/account").await.text();
    assert!(html.contains(r#"id="email-status">Verified<"#), "{html}");
    assert!(!html.contains("Resend verification e-mail"));

    // The link works once.
    let again = visitor
        .submit(&link, "/verify-email", &[("token", &token)])
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.text().contains("does not work any more"));
    assert!(
        again.text().contains(r#"href="/account""#),
        "it offers a new link"
    );
}

#[sqlx::test]
async fn registration_errors_are_shown_beside_each_field_with_the_input_kept(db: PgPool) {
    let app = TestApp::new(db);
    let mut visitor = Visitor::new(&app);
    let refused = visitor
        .submit(
            "/register",
            "/register",
            &[
                ("name", "  "),
                ("email", "ali-at-example"),
                ("phone", "12345"),
                ("password", "password123"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text();
    for field in ["name", "email", "phone", "password"] {
        assert!(
            html.contains(&format!(r#"id="{field}-error""#)),
            "no error beside {field}: {html}"
        );
    }
    assert!(
        html.contains(r#"aria-describedby="email-hint email-error""#),
        "{html}"
    );
    assert!(html.contains(r#"aria-invalid="true""#));
    assert!(html.contains("Password is too common"), "{html}");
    assert!(
        html.contains(r#"value="ali-at-example""#),
        "the e-mail is kept"
    );
    assert!(html.contains(r#"value="12345""#), "the phone is kept");
    assert!(!html.contains("password123"), "a password is never echoed");
    assert_eq!(users::count(&app.db, None).await.unwrap().count, 0);
    assert!(visitor.session().is_none());

    // A taken e-mail (in any case) answers exactly like a new one: nobody learns who has an
    // account here.
    app.verified_customer("ali@example.pk").await;
    let register = async |visitor: &mut Visitor<'_>, email: &str| {
        let answer = visitor
            .submit(
                "/register",
                "/register",
                &[("name", "Ali"), ("email", email), ("password", PASSWORD)],
            )
            .await;
        (answer.status, answer.text().replace(email, "EMAIL"))
    };
    let (taken_status, taken_page) = register(&mut visitor, "ALI@example.pk").await;
    let (new_status, new_page) = register(&mut visitor, "new-ali@example.pk").await;
    assert_eq!(taken_status, StatusCode::OK);
    assert_eq!(
        (taken_status, strip_csrf(&taken_page)),
        (new_status, strip_csrf(&new_page))
    );
    assert!(visitor.session().is_none());
}

/// A page without its CSRF token (the only part that differs between two visits).
fn strip_csrf(html: &str) -> String {
    match crate::pages::csrf_in(html) {
        Some(token) => html.replace(&token, "TOKEN"),
        None => html.to_owned(),
    }
}

#[sqlx::test]
async fn a_wrong_password_gets_the_generic_error_the_email_kept_and_no_cookie(db: PgPool) {
    let app = TestApp::new(db);
    app.verified_customer("ayesha@example.pk").await;
    let mut visitor = Visitor::new(&app);
    let wrong = visitor
        .submit(
            "/login",
            "/login",
            &[
                ("email", "ayesha@example.pk"),
                ("password", "not-my-password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    let html = wrong.text();
    assert!(html.contains("E-mail or password is wrong."), "{html}");
    assert!(
        html.contains(r#"value="ayesha@example.pk""#),
        "the e-mail is kept"
    );
    assert!(!html.contains("not-my-password"));
    assert!(set_cookie_header(&wrong, "ngr_session").is_none());
    assert!(visitor.session().is_none());
    assert_eq!(
        live_sessions(&app, "ayesha@example.pk").await,
        1,
        "only the API login's session"
    );

    // An unknown e-mail gets the very same page.
    let unknown = visitor
        .submit(
            "/login",
            "/login",
            &[
                ("email", "nobody@example.pk"),
                ("password", "not-my-password"),
            ],
        )
        .await;
    assert_eq!(unknown.status, wrong.status);
    assert_eq!(
        unknown
            .text()
            .replace("nobody@example.pk", "ayesha@example.pk"),
        html
    );
}

#[sqlx::test]
async fn too_many_login_attempts_say_how_long_to_wait(db: PgPool) {
    let app = TestApp::new(db);
    app.verified_customer("ayesha@example.pk").await;
    let mut visitor = Visitor::new(&app);
    let mut last = None;
    for _ in 0..11 {
        last = Some(
            visitor
                .submit(
                    "/login",
                    "/login",
                    &[("email", "ayesha@example.pk"), ("password", "guess-guess")],
                )
                .await,
        );
    }
    let limited = last.unwrap();
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        limited
            .text()
            .contains("Please wait 15 minutes and try again."),
        "{}",
        limited.text()
    );
    // Even the right password waits now.
    let right = visitor
        .submit(
            "/login",
            "/login",
            &[("email", "ayesha@example.pk"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(visitor.session().is_none());
}

#[sqlx::test]
async fn a_disabled_account_is_told_so_after_the_right_password(db: PgPool) {
    let app = TestApp::new(db);
    app.verified_customer("ayesha@example.pk").await;
    users::set_disabled(&app.db, user_id(&app, "ayesha@example.pk").await, true)
        .await
        .unwrap();
    let mut visitor = Visitor::new(&app);
    let refused = visitor
        .submit(
            "/login",
            "/login",
            &[("email", "ayesha@example.pk"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .contains("This account is disabled; contact support."),
        "{}",
        refused.text()
    );
    assert!(visitor.session().is_none());
}

#[sqlx::test]
async fn forms_without_the_csrf_token_or_with_another_visitors_are_refused(db: PgPool) {
    let app = TestApp::new(db);
    let mut visitor = Visitor::new(&app);
    visitor.get("/register").await;
    let fields = [
        ("name", "Ali"),
        ("email", "ali@example.pk"),
        ("password", PASSWORD),
    ];
    let without = visitor.post("/register", &fields).await;
    assert_eq!(without.status, StatusCode::FORBIDDEN);
    assert!(without.text().contains("did not come from this site"));

    // A token read from another visitor's page does not match this visitor's cookie.
    let mut attacker = Visitor::from(&app, "203.0.113.9");
    let foreign = attacker.csrf_of("/register").await;
    assert_ne!(Some(foreign.as_str()), visitor.cookie("ngr_csrf"));
    let mut forged = fields.to_vec();
    forged.push(("csrf_token", &foreign));
    let crossed = visitor.post("/register", &forged).await;
    assert_eq!(crossed.status, StatusCode::FORBIDDEN);
    assert_eq!(
        users::count(&app.db, None).await.unwrap().count,
        0,
        "nothing written"
    );
    assert!(visitor.session().is_none());

    // Logged in, a forged password change or logout does nothing either.
    let mut customer = logged_in_customer(&app, "ayesha@example.pk").await;
    let change = customer
        .post(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "brand-new-secret"),
                ("confirm_password", "brand-new-secret"),
            ],
        )
        .await;
    assert_eq!(change.status, StatusCode::FORBIDDEN);
    let logout = customer.post("/logout", &[("csrf_token", &foreign)]).await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN);
    assert_eq!(
        customer.get("/account").await.status,
        StatusCode::OK,
        "still logged in"
    );
    app.login("ayesha@example.pk", PASSWORD).await;
}

#[sqlx::test]
async fn logging_out_ends_the_session_not_just_the_cookie(db: PgPool) {
    let app = TestApp::new(db);
    let mut visitor = logged_in_customer(&app, "ayesha@example.pk").await;
    let old_cookie = visitor.session().unwrap().to_owned();
    let home = visitor.get("/").await.text();
    assert!(
        home.contains(r#"action="/logout""#),
        "the nav has a log-out button"
    );
    assert!(!home.contains(r#"href="/register""#));

    let out = visitor.submit("/account", "/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&out), "/");
    let cleared = set_cookie_header(&out, "ngr_session").expect("the cookie is cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(visitor.session().is_none());
    let home = visitor.get("/").await.text();
    assert!(home.contains(r#"href="/login""#) && home.contains(r#"href="/register""#));

    // Someone who copied the cookie is logged out too.
    let mut thief = Visitor::from(&app, "203.0.113.9");
    thief.set_cookie("ngr_session", &old_cookie);
    let account = thief.get("/account").await;
    assert_eq!(account.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&account), "/login?next=%2Faccount");
}

#[sqlx::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others(db: PgPool) {
    let app = TestApp::new(db);
    let mut phone = logged_in_customer(&app, "ayesha@example.pk").await;
    let mut laptop = Visitor::from(&app, "198.51.100.30");
    laptop.log_in("ayesha@example.pk", PASSWORD).await;

    // Mistakes are shown beside their field.
    let mismatch = phone
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "brand-new-secret"),
                ("confirm_password", "brand-new-secreT"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        mismatch.text().contains(
            r#"id="confirm_password-error">Repeated password must match the new password.<"#
        ),
        "{}",
        mismatch.text()
    );
    let wrong = phone
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", "not-it-at-all"),
                ("new_password", "brand-new-secret"),
                ("confirm_password", "brand-new-secret"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text().contains(
        r#"id="current_password-error">Current password is not your current password.<"#
    ));
    assert!(!wrong.text().contains("not-it-at-all") && !wrong.text().contains("brand-new-secret"));
    assert_eq!(
        laptop.get("/account").await.status,
        StatusCode::OK,
        "nothing changed yet"
    );

    let changed = phone
        .submit(
            "/account",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "brand-new-secret"),
                ("confirm_password", "brand-new-secret"),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER, "{}", changed.text());
    assert_eq!(location(&changed), "/account?notice=password-changed");
    let account = phone.get("/account?notice=password-changed").await;
    assert_eq!(account.status, StatusCode::OK);
    assert!(
        account
            .text()
            .contains("Your other devices are logged out.")
    );
    let ended = laptop.get("/account").await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER);
    assert!(location(&ended).starts_with("/login"));

    let mut again = Visitor::from(&app, "198.51.100.31");
    again.log_in("ayesha@example.pk", "brand-new-secret").await;
}

#[sqlx::test]
async fn the_profile_is_saved_or_its_errors_shown(db: PgPool) {
    let app = TestApp::new(db);
    let mut visitor = logged_in_customer(&app, "ayesha@example.pk").await;
    let refused = visitor
        .submit(
            "/account",
            "/account/profile",
            &[("name", ""), ("phone", "12345")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text();
    assert!(
        html.contains(r#"id="name-error">Full name is required.<"#),
        "{html}"
    );
    assert!(html.contains(r#"id="phone-error">"#));
    assert!(html.contains(r#"value="12345""#));

    let saved = visitor
        .submit(
            "/account",
            "/account/profile",
            &[("name", " Ayesha K. "), ("phone", "0300 1234567")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
    assert_eq!(location(&saved), "/account?notice=profile-saved");
    let user = users::find_by_email(&app.db, "ayesha@example.pk")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (user.name.as_str(), user.phone.as_deref()),
        ("Ayesha K.", Some("+923001234567"))
    );
    let html = visitor.get("/account?notice=profile-saved").await.text();
    assert!(html.contains("Your profile is saved."));
    assert!(html.contains(r#"value="Ayesha K.""#));
}

#[sqlx::test]
async fn another_device_is_logged_out_from_the_sessions_table(db: PgPool) {
    let app = TestApp::new(db);
    let mut phone = logged_in_customer(&app, "ayesha@example.pk").await;
    let mut laptop = Visitor::from(&app, "198.51.100.30");
    laptop.log_in("ayesha@example.pk", PASSWORD).await;
    let mut tablet = Visitor::from(&app, "198.51.100.40");
    tablet.log_in("ayesha@example.pk", PASSWORD).await;

    let owner = user_id(&app, "ayesha@example.pk").await;
    let live = sessions::list_live_for_user(&app.db, owner).await.unwrap();
    let laptop_session = live
        .iter()
        .find(|s| s.ip_address.as_deref() == Some("198.51.100.30"))
        .unwrap()
        .id;
    let html = phone.get("/account").await.text();
    assert!(
        html.contains(&format!(
            r#"action="/account/sessions/{laptop_session}/revoke""#
        )),
        "{html}"
    );
    assert!(html.contains("198.51.100.30") && html.contains("198.51.100.40"));
    assert!(html.contains("PKT"), "times are in Pakistan time");

    let revoked = phone
        .submit(
            "/account",
            &format!("/account/sessions/{laptop_session}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&revoked), "/account?notice=session-revoked");
    assert_eq!(laptop.get("/account").await.status, StatusCode::SEE_OTHER);
    assert_eq!(tablet.get("/account").await.status, StatusCode::OK);

    let everywhere = phone
        .submit("/account", "/account/sessions/revoke-others", &[])
        .await;
    assert_eq!(location(&everywhere), "/account?notice=sessions-revoked");
    assert_eq!(tablet.get("/account").await.status, StatusCode::SEE_OTHER);
    assert_eq!(phone.get("/account").await.status, StatusCode::OK);
    assert_eq!(live_sessions(&app, "ayesha@example.pk").await, 1);
}

#[sqlx::test]
async fn a_customer_cannot_revoke_another_customers_session(db: PgPool) {
    let app = TestApp::new(db);
    let mut ayesha = logged_in_customer(&app, "ayesha@example.pk").await;
    let mut bilal = logged_in_customer(&app, "bilal@example.pk").await;
    let bilal_id = user_id(&app, "bilal@example.pk").await;
    let bilal_sessions = sessions::list_live_for_user(&app.db, bilal_id)
        .await
        .unwrap();
    for session in &bilal_sessions {
        let refused = ayesha
            .submit(
                "/account",
                &format!("/account/sessions/{}/revoke", session.id),
                &[],
            )
            .await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND);
        assert!(refused.header("content-type").starts_with("text/html"));
    }
    assert_eq!(
        sessions::list_live_for_user(&app.db, bilal_id)
            .await
            .unwrap()
            .len(),
        bilal_sessions.len()
    );
    assert_eq!(bilal.get("/account").await.status, StatusCode::OK);
}

#[sqlx::test]
async fn anonymous_visitors_are_sent_to_log_in_and_come_back(db: PgPool) {
    let app = TestApp::new(db);
    app.verified_customer("ayesha@example.pk").await;
    let mut visitor = Visitor::new(&app);
    let account = visitor.get("/account").await;
    assert_eq!(account.status, StatusCode::SEE_OTHER);
    assert_eq!(location(&account), "/login?next=%2Faccount");
    let admin = visitor.get("/admin/customers?page=2").await;
    assert_eq!(
        location(&admin),
        "/login?next=%2Fadmin%2Fcustomers%3Fpage%3D2"
    );

    let form = visitor
        .get("/login?next=%2Faccount%3Fnotice%3Dprofile-saved")
        .await
        .text();
    assert!(
        form.contains(r#"name="next" value="/account?notice=profile-saved""#),
        "{form}"
    );
    let token = csrf_in(&form).unwrap();
    let back = visitor
        .post(
            "/login",
            &[
                ("email", "ayesha@example.pk"),
                ("password", PASSWORD),
                ("next", "/account?notice=profile-saved"),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(location(&back), "/account?notice=profile-saved");
    // Logged in, the login page sends them on.
    assert_eq!(location(&visitor.get("/login").await), "/account");
}

#[sqlx::test]
async fn another_site_as_next_is_ignored(db: PgPool) {
    let app = TestApp::new(db);
    app.verified_customer("ayesha@example.pk").await;
    for evil in [
        "https://evil.example",
        "//evil.example/path",
        "/\\evil.example",
    ] {
        let mut visitor = Visitor::new(&app);
        let form = visitor
            .get(&format!(
                "/login?next={}",
                nextgenrdp::accounts::extract::urlencode(evil)
            ))
            .await
            .text();
        assert!(
            form.contains(r#"name="next" value="/account""#),
            "{evil}: {form}"
        );
        let token = csrf_in(&form).unwrap();
        let response = visitor
            .post(
                "/login",
                &[
                    ("email", "ayesha@example.pk"),
                    ("password", PASSWORD),
                    ("next", evil),
                    ("csrf_token", &token),
                ],
            )
            .await;
        assert_eq!(response.status, StatusCode::SEE_OTHER);
        assert_eq!(location(&response), "/account", "{evil}");
    }
}

#[sqlx::test]
async fn forgot_and_reset_the_password_through_the_pages(db: PgPool) {
    let app = TestApp::new(db);
    app.verified_customer("ayesha@example.pk").await;
    let mut old_browser = Visitor::from(&app, "198.51.100.50");
    old_browser.log_in("ayesha@example.pk", PASSWORD).await;

    let mut visitor = Visitor::new(&app);
    let known = visitor
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "Ayesha@example.pk")],
        )
        .await;
    assert_eq!(known.status, StatusCode::OK);
    assert!(known.text().contains(
        "If an account uses this e-mail, a link to choose a new password is on its way."
    ));
    let unknown = visitor
        .submit(
            "/forgot-password",
            "/forgot-password",
            &[("email", "nobody@example.pk")],
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.text()),
        (known.status, known.text()),
        "no hint whether the account exists"
    );

    let token = app
        .token_mailed_to("ayesha@example.pk", "/reset-password")
        .await;
    let page = format!("/reset-password?token={token}");
    let form = visitor.get(&page).await.text();
    assert!(form.contains(&format!(r#"name="token" value="{token}""#)));

    let mismatch = visitor
        .submit(
            &page,
            "/reset-password",
            &[
                ("token", &token),
                ("password", "brand-new-secret"),
                ("confirm_password", "other-new-secret"),
            ],
        )
        .await;
    assert_eq!(mismatch.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(mismatch.text().contains(r#"id="confirm_password-error""#));
    let weak = visitor
        .submit(
            &page,
            "/reset-password",
            &[
                ("token", &token),
                ("password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        weak.text()
            .contains(r#"id="password-error">New password must be at least 8 characters.<"#),
        "{}",
        weak.text()
    );

    let reset = visitor
        .submit(
            &page,
            "/reset-password",
            &[
                ("token", &token),
                ("password", "brand-new-secret"),
                ("confirm_password", "brand-new-secret"),
            ],
        )
        .await;
    assert_eq!(reset.status, StatusCode::SEE_OTHER, "{}", reset.text());
    assert_eq!(location(&reset), "/login?notice=password-reset");
    assert!(
        visitor
            .get("/login?notice=password-reset")
            .await
            .text()
            .contains("Your password is changed.")
    );
    assert_eq!(
        old_browser.get("/account").await.status,
        StatusCode::SEE_OTHER,
        "every session ended"
    );
    visitor
        .log_in("ayesha@example.pk", "brand-new-secret")
        .await;

    // The link works once.
    let reused = visitor
        .submit(
            &page,
            "/reset-password",
            &[
                ("token", &token),
                ("password", "another-secret-1"),
                ("confirm_password", "another-secret-1"),
            ],
        )
        .await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        reused
            .text()
            .contains("This link is invalid, used or expired"),
        "{}",
        reused.text()
    );
    assert!(reused.text().contains(r#"href="/forgot-password""#));
}

#[sqlx::test]
async fn an_unverified_customer_can_ask_for_a_new_link(db: PgPool) {
    let app = TestApp::new(db);
    let mut visitor = Visitor::new(&app);
    visitor
        .submit(
            "/register",
            "/register",
            &[
                ("name", "Ayesha"),
                ("email", "ayesha@example.pk"),
                ("password", PASSWORD),
            ],
        )
        .await;
    let first = app
        .token_mailed_to("ayesha@example.pk", "/verify-email")
        .await;
    visitor.log_in("ayesha@example.pk", PASSWORD).await;
    let resent = visitor
        .submit("/account", "/account/resend-verification", &[])
        .await;
    assert_eq!(location(&resent), "/account?notice=verification-sent");
    let second = app
        .token_mailed_to("ayesha@example.pk", "/verify-email")
        .await;
    assert_ne!(first, second);
    let old = visitor
        .submit(
            &format!("/verify-email?token={first}"),
            "/verify-email",
            &[("token", &first)],
        )
        .await;
    assert_eq!(
        old.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the older link is void"
    );
    let new = visitor
        .submit(
            &format!("/verify-email?token={second}"),
            "/verify-email",
            &[("token", &second)],
        )
        .await;
    assert_eq!(new.status, StatusCode::OK);
    let again = visitor
        .submit("/account", "/account/resend-verification", &[])
        .await;
    assert_eq!(location(&again), "/account?notice=already-verified");
}

#[sqlx::test]
async fn the_operator_lists_customers_and_disabling_one_logs_it_out_at_once(db: PgPool) {
    let app = TestApp::new(db);
    let mut customer = logged_in_customer(&app, "ayesha@example.pk").await;
    app.verified_customer("bilal@example.pk").await;
    sqlx::query("update users set phone = '+923001234567' where email = 'bilal@example.pk'")
        .execute(&app.db)
        .await
        .unwrap();

    let forbidden = customer.get("/admin/customers").await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    assert!(
        forbidden.text().contains("This page is for the shop"),
        "{}",
        forbidden.text()
    );
    assert!(
        !customer
            .get("/account")
            .await
            .text()
            .contains(r#"href="/admin">Admin</a>"#),
        "no Admin link for customers"
    );

    app.admin("boss@example.pk").await;
    let mut operator = Visitor::from(&app, "198.51.100.60");
    operator
        .log_in("boss@example.pk", "operator-passphrase")
        .await;
    // The list's old address sends to the new one, query and all.
    let old = operator.get("/admin/users?search=bilal").await;
    assert_eq!(old.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(location(&old), "/admin/customers?search=bilal");
    let list = operator.get("/admin/customers").await;
    assert_eq!(list.status, StatusCode::OK);
    let html = list.text();
    assert!(
        html.contains(r#"href="/admin">Admin</a>"#),
        "the nav links to the admin pages"
    );
    assert!(
        html.contains(r#"<a href="/admin/customers" aria-current="page">Customers</a>"#),
        "the back office's menu marks where the operator is"
    );
    for email in ["ayesha@example.pk", "bilal@example.pk", "boss@example.pk"] {
        assert!(html.contains(email), "{email} missing");
    }
    assert!(html.contains("3 accounts"));
    assert!(html.contains(" PKT"));

    let searched = operator.get("/admin/customers?search=BILAL").await.text();
    assert!(searched.contains("bilal@example.pk") && !searched.contains("ayesha@example.pk"));
    assert!(searched.contains("1 account matching"));
    // By phone, as the customer says it on the phone.
    let by_phone = operator
        .get("/admin/customers?search=0300-1234567")
        .await
        .text();
    assert!(by_phone.contains("bilal@example.pk") && !by_phone.contains("ayesha@example.pk"));

    // Past 10,000 accounts the page says the count is an estimate, and pages on.
    crate::helpers::bulk_customers(&app.db, 10_100).await;
    let many = operator.get("/admin/customers").await.text();
    assert!(many.contains("about 1"), "an estimated count: {many}");
    assert!(many.contains(" of about "), "pages of an estimate");
    assert!(
        many.contains(r#"href="/admin/customers?page=2""#),
        "a next page"
    );
    sqlx::query("delete from users where email like 'bulk%'")
        .execute(&app.db)
        .await
        .unwrap();

    // The customer's page: the name links there, the phone has a WhatsApp link, and disabling
    // is behind a confirmation that says what happens.
    let ayesha = user_id(&app, "ayesha@example.pk").await;
    assert!(html.contains(&format!(
        r#"<a href="/admin/customers/{ayesha}">Ayesha Khan</a>"#
    )));
    let bilal = user_id(&app, "bilal@example.pk").await;
    let page = operator
        .get(&format!("/admin/customers/{bilal}"))
        .await
        .text();
    assert!(
        page.contains(r#"href="https://wa.me/923001234567""#),
        "{page}"
    );
    assert!(page.contains("No services."), "{page}");
    // A reseller's hundreds of servers: the newest 25, and a link to all of them.
    sqlx::query(
        "insert into services (user_id, service_type, status, plan_id, location_id)
         select $1, 'rdp', 'active', (select id from plans order by id limit 1),
                (select id from locations order by id limit 1)
         from generate_series(1, 30)",
    )
    .bind(bilal)
    .execute(&app.db)
    .await
    .unwrap();
    let page = operator
        .get(&format!("/admin/customers/{bilal}"))
        .await
        .text();
    assert_eq!(
        page.matches(r#"href="/admin/services/"#).count(),
        25,
        "{page}"
    );
    assert!(
        page.contains(&format!(
            r#"<a href="/admin/services?customer={bilal}">Every service of"#
        )) && page.contains("(30)</a>"),
        "{page}"
    );
    let page = operator
        .get(&format!("/admin/customers/{ayesha}"))
        .await
        .text();
    assert!(page.contains(r#"<details class="confirm" id="confirm-disable">"#));
    let devices = live_sessions(&app, "ayesha@example.pk").await;
    assert!(
        page.contains(&format!(
            "is logged out on every device ({devices} now) and cannot log in"
        )),
        "{page}"
    );

    let disabled = operator
        .submit(
            &format!("/admin/customers/{ayesha}"),
            &format!("/admin/customers/{ayesha}/disable"),
            &[],
        )
        .await;
    assert_eq!(
        disabled.status,
        StatusCode::SEE_OTHER,
        "{}",
        disabled.text()
    );
    assert_eq!(
        location(&disabled),
        format!("/admin/customers/{ayesha}?notice=disabled")
    );
    let ended = customer.get("/account").await;
    assert_eq!(
        ended.status,
        StatusCode::SEE_OTHER,
        "the customer's session ended at once"
    );
    assert_eq!(live_sessions(&app, "ayesha@example.pk").await, 0);
    let html = operator
        .get(&format!("/admin/customers/{ayesha}?notice=disabled"))
        .await
        .text();
    assert!(html.contains("The account is disabled and logged out everywhere."));
    assert!(html.contains(&format!(r#"action="/admin/customers/{ayesha}/enable""#)));

    let enabled = operator
        .submit(
            &format!("/admin/customers/{ayesha}"),
            &format!("/admin/customers/{ayesha}/enable"),
            &[],
        )
        .await;
    assert_eq!(
        location(&enabled),
        format!("/admin/customers/{ayesha}?notice=enabled")
    );
    customer.log_in("ayesha@example.pk", PASSWORD).await;

    // Notes: an empty one comes back with the problem beside the field; a real one is listed
    // with its author, and audited.
    let empty = operator
        .submit(
            &format!("/admin/customers/{ayesha}"),
            &format!("/admin/customers/{ayesha}/notes"),
            &[("body", "   ")],
        )
        .await;
    assert_eq!(empty.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(empty.text().contains("write the note first"));
    let noted = operator
        .submit(
            &format!("/admin/customers/{ayesha}"),
            &format!("/admin/customers/{ayesha}/notes"),
            &[("body", "Prefers WhatsApp after 6 pm")],
        )
        .await;
    assert_eq!(noted.status, StatusCode::SEE_OTHER, "{}", noted.text());
    let page = operator
        .get(&format!("/admin/customers/{ayesha}"))
        .await
        .text();
    assert!(page.contains("Prefers WhatsApp after 6 pm") && page.contains("Shop Operator"));
    assert!(
        !customer
            .get("/account")
            .await
            .text()
            .contains("Prefers WhatsApp"),
        "notes stay with the staff"
    );

    // The operator has no button against their own account; a forged request is refused.
    let boss = user_id(&app, "boss@example.pk").await;
    let own_page = operator
        .get(&format!("/admin/customers/{boss}"))
        .await
        .text();
    assert!(!own_page.contains(&format!(r#"action="/admin/customers/{boss}/disable""#)));
    let own = operator
        .submit(
            "/admin/customers",
            &format!("/admin/customers/{boss}/disable"),
            &[],
        )
        .await;
    assert_eq!(
        location(&own),
        format!("/admin/customers/{boss}?notice=self")
    );

    // A customer cannot press the button either.
    let refused = customer
        .submit(
            "/account",
            &format!("/admin/customers/{bilal}/disable"),
            &[],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(
        users::find(&app.db, bilal)
            .await
            .unwrap()
            .unwrap()
            .disabled_at
            .is_none()
    );
}

#[sqlx::test]
async fn the_operator_pages_through_many_accounts(db: PgPool) {
    let app = TestApp::new(db);
    for n in 0..30 {
        users::insert(
            &app.db,
            &users::NewUser {
                name: &format!("Customer {n}"),
                email: &format!("customer{n}@example.pk"),
                phone: None,
                password_hash: "x",
                role: nextgenrdp::accounts::Role::Customer,
            },
        )
        .await
        .unwrap();
    }
    app.admin("boss@example.pk").await;
    let mut operator = Visitor::new(&app);
    operator
        .log_in("boss@example.pk", "operator-passphrase")
        .await;
    let first = operator.get("/admin/customers").await.text();
    assert_eq!(first.matches("<tr data-user-id=").count(), 25);
    assert!(first.contains("page 1 of 2"));
    assert!(
        first.contains(r#"href="/admin/customers?page=2" rel="next""#),
        "{first}"
    );
    let second = operator.get("/admin/customers?page=2").await.text();
    assert_eq!(second.matches("<tr data-user-id=").count(), 6);
    assert!(second.contains(r#"href="/admin/customers" rel="prev""#));
    // Nonsense pages show the nearest real one instead of failing.
    assert_eq!(
        operator.get("/admin/customers?page=abc").await.status,
        StatusCode::OK
    );
    assert_eq!(
        operator
            .get("/admin/customers?page=99")
            .await
            .text()
            .matches("<tr data-user-id=")
            .count(),
        6
    );
}

#[sqlx::test]
async fn notices_are_fixed_texts_never_the_query(db: PgPool) {
    let app = TestApp::new(db);
    let mut visitor = logged_in_customer(&app, "ayesha@example.pk").await;
    let html = visitor
        .get("/account?notice=%3Cscript%3Ealert(1)%3C%2Fscript%3E")
        .await
        .text();
    assert!(!html.contains("<script>alert"));
    assert!(!html.contains("alert(1)"));
    let html = visitor.get("/account?notice=profile-saved").await.text();
    assert!(html.contains("Your profile is saved."));
}

#[sqlx::test]
async fn link_pages_without_a_token_explain_themselves(db: PgPool) {
    let app = TestApp::new(db);
    let mut visitor = Visitor::new(&app);
    for path in ["/verify-email", "/reset-password?token="] {
        let page = visitor.get(path).await;
        assert_eq!(page.status, StatusCode::BAD_REQUEST, "{path}");
        assert!(page.text().contains("This link is incomplete"));
    }
    let bogus = visitor
        .submit(
            "/verify-email?token=nope",
            "/verify-email",
            &[("token", "nope")],
        )
        .await;
    assert_eq!(bogus.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test]
async fn a_guest_cart_joins_the_account_when_logging_in_through_the_form(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    app.verified_customer("ayesha@example.pk").await;
    let mut visitor = Visitor::new(&app);
    visitor.get("/").await;
    let location = nextgenrdp::catalog::locations::list_for_plan(&app.db, "rdp-starter-one")
        .await
        .unwrap()[0]
        .id;
    let body = serde_json::json!({
        "plan_id": "rdp-starter-one", "location_id": location, "validity_months": 1, "quantity": 2
    });
    let added = app
        .request(
            axum::http::Request::post("/api/v1/cart/items")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap(),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    let token = added.json()["cart_token"].as_str().unwrap().to_owned();
    visitor.set_cookie("ngr_cart", &token);

    visitor.log_in("ayesha@example.pk", PASSWORD).await;
    let owner = user_id(&app, "ayesha@example.pk").await;
    let cart = nextgenrdp::orders::carts::find_for_user(&app.db, owner)
        .await
        .unwrap()
        .expect("the account has the cart now");
    let lines = nextgenrdp::orders::carts::list_lines(&app.db, cart.id)
        .await
        .unwrap();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].quantity, 2);
}

#[sqlx::test]
async fn a_csrf_token_planted_in_the_browser_is_worthless_against_a_logged_in_session(db: PgPool) {
    let app = TestApp::new(db);
    let mut victim = logged_in_customer(&app, "ayesha@example.pk").await;
    let before_name: String =
        sqlx::query_scalar("select name from users where email = 'ayesha@example.pk'")
            .fetch_one(&app.db)
            .await
            .unwrap();

    // The attacker gets a genuine token of their own (as a visitor of the shop, or logged in as
    // themselves) and plants it as the victim's CSRF cookie (from a sibling subdomain, or over
    // plain http), then has the victim's browser submit a form carrying it.
    let mut attacker = logged_in_customer(&app, "mallory@example.pk").await;
    let for_attacker = attacker.csrf_of("/account").await;
    let mut stranger = Visitor::from(&app, "203.0.113.66");
    let anonymous = stranger.csrf_of("/login").await;
    for planted in [for_attacker, anonymous] {
        victim.set_cookie("ngr_csrf", &planted);
        let forged = victim
            .post(
                "/account/profile",
                &[("name", "Pwned"), ("phone", ""), ("csrf_token", &planted)],
            )
            .await;
        assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.text());
    }
    let name: String =
        sqlx::query_scalar("select name from users where email = 'ayesha@example.pk'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(name, before_name, "nothing changed");

    // The victim's next page gets a fresh token bound to their session, which works.
    let saved = victim
        .submit(
            "/account",
            "/account/profile",
            &[("name", "Ayesha K."), ("phone", "")],
        )
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER, "{}", saved.text());
}

#[sqlx::test]
async fn logging_in_issues_a_new_csrf_token_bound_to_the_new_session(db: PgPool) {
    let app = TestApp::new(db);
    app.verified_customer("ayesha@example.pk").await;
    let mut visitor = Visitor::new(&app);
    let before = visitor.csrf_of("/login").await;
    visitor.log_in("ayesha@example.pk", PASSWORD).await;
    let after = visitor.csrf_of("/account").await;
    assert_ne!(before, after);
    assert_eq!(visitor.cookie("ngr_csrf"), Some(after.as_str()));
    // The token from before logging in no longer passes.
    let stale = visitor
        .post(
            "/account/profile",
            &[("name", "X"), ("phone", ""), ("csrf_token", &before)],
        )
        .await;
    assert_eq!(stale.status, StatusCode::FORBIDDEN);
}

#[sqlx::test]
async fn under_https_the_csrf_cookie_is_a_host_only_secure_cookie(db: PgPool) {
    let mut settings = TestApp::settings();
    settings.public_url = "https://shop.example.pk".into();
    let app = TestApp::with_settings(db, settings);
    let page = app.get("/login").await;
    let cookie = crate::pages::set_cookie_header(&page, "__Host-ngr_csrf").expect("__Host- cookie");
    for attribute in ["Secure", "Path=/", "HttpOnly", "SameSite=Lax"] {
        assert!(cookie.contains(attribute), "{attribute}: {cookie}");
    }
    assert!(!cookie.contains("Domain"), "{cookie}");
    assert!(crate::pages::set_cookie_header(&page, "ngr_csrf").is_none());
}

#[sqlx::test]
async fn a_browser_that_logged_in_before_is_not_locked_out_by_failures_from_elsewhere(db: PgPool) {
    let app = TestApp::new(db);
    app.verified_customer("ayesha@example.pk").await;
    // Ayesha logs in on her phone once; the browser keeps its login-device cookie.
    let mut phone = Visitor::from(&app, "39.32.10.5");
    phone.log_in("ayesha@example.pk", PASSWORD).await;
    let device = phone
        .cookie("ngr_device")
        .expect("a login-device cookie")
        .to_owned();
    phone.submit("/account", "/logout", &[]).await;

    // Someone guesses her password from many addresses until her account's shared bucket is
    // spent: from any new address, even the right password now waits.
    for n in 0..12 {
        let mut stranger = Visitor::from(&app, &format!("203.0.113.{}", 100 + n));
        stranger
            .submit(
                "/login",
                "/login",
                &[("email", "ayesha@example.pk"), ("password", "guess-guess")],
            )
            .await;
    }
    let mut elsewhere = Visitor::from(&app, "39.32.77.1");
    let refused = elsewhere
        .submit(
            "/login",
            "/login",
            &[("email", "ayesha@example.pk"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);

    // Her phone, on a new mobile address but with its cookie, gets in.
    let mut phone = Visitor::from(&app, "39.32.200.9");
    phone.set_cookie("ngr_device", &device);
    phone.log_in("ayesha@example.pk", PASSWORD).await;
    // A forged cookie is just no cookie.
    let mut forger = Visitor::from(&app, "203.0.113.250");
    forger.set_cookie("ngr_device", &device.replace('.', "x"));
    let forged = forger
        .submit(
            "/login",
            "/login",
            &[("email", "ayesha@example.pk"), ("password", PASSWORD)],
        )
        .await;
    assert_eq!(forged.status, StatusCode::TOO_MANY_REQUESTS);
}

#[sqlx::test]
async fn the_account_page_shows_the_credit_balance_and_its_history(db: PgPool) {
    let app = TestApp::new(db);
    let mut customer = logged_in_customer(&app, "ayesha@example.pk").await;
    let empty = customer.get("/account").await.text();
    assert!(empty.contains(r#"id="credit-balance">Rs 0<"#), "{empty}");
    assert!(empty.contains("No credit yet"));

    let admin = app.admin("owner@nextgenrdp.pk").await;
    let id = user_id(&app, "ayesha@example.pk").await;
    for (amount, reason) in [(1500, "Goodwill for the outage"), (-400, "Given twice")] {
        let moved = app
            .send_json_as(
                admin["access_token"].as_str(),
                axum::http::Method::POST,
                &format!("/api/v1/admin/users/{id}/credit"),
                &serde_json::json!({ "amount_pkr": amount, "reason": reason }),
            )
            .await;
        assert_eq!(moved.status, StatusCode::CREATED, "{}", moved.text());
    }
    let html = customer.get("/account").await.text();
    assert!(html.contains(r#"id="credit-balance">Rs 1,100<"#), "{html}");
    assert!(html.contains("Goodwill for the outage") && html.contains("+Rs 1,500"));
    assert!(html.contains("-Rs 400"));
}
