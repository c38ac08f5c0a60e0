//! The staff page (`/admin/staff`, the API's `/api/v1/admin/staff`): the owner invites someone
//! with a role, the e-mailed link sets their password, they log in and set up two-factor
//! sign-in, and their role opens exactly its part; roles change, never one's own or the last
//! owner's.

use axum::http::{Method, StatusCode};
use serde_json::json;

use super::Visitor;
use crate::helpers::TestApp;

#[sqlx::test]
async fn the_owner_invites_a_support_agent_who_sets_a_password_and_sees_only_support(
    db: sqlx::PgPool,
) {
    let app = TestApp::with_default_catalog(db).await;
    app.admin("owner@nextgenrdp.pk").await;
    let mut owner = Visitor::from(&app, "198.51.100.100");
    owner
        .log_in("owner@nextgenrdp.pk", "operator-passphrase")
        .await;

    // A bad invitation comes back with the problems beside the fields.
    let refused = owner
        .submit(
            "/admin/staff",
            "/admin/staff",
            &[
                ("name", ""),
                ("email", "not-an-address"),
                ("role", "customer"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let html = refused.text();
    assert!(html.contains("Choose one of the staff roles."), "{html}");
    let refused = owner
        .submit(
            "/admin/staff",
            "/admin/staff",
            &[
                ("name", "Sana Iqbal"),
                ("email", "not-an-address"),
                ("role", "support"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .text()
            .contains("e-mail address like name@example.com")
    );
    assert!(
        refused.text().contains(r#"value="Sana Iqbal""#),
        "the form keeps what was typed"
    );

    let invited = owner
        .submit(
            "/admin/staff",
            "/admin/staff",
            &[
                ("name", "Sana Iqbal"),
                ("email", "sana@nextgenrdp.pk"),
                ("role", "support"),
            ],
        )
        .await;
    assert_eq!(invited.status, StatusCode::SEE_OTHER, "{}", invited.text());
    assert_eq!(invited.header("location"), "/admin/staff?notice=invited");
    let html = owner.get("/admin/staff?notice=invited").await.text();
    assert!(
        html.contains("sana@nextgenrdp.pk") && html.contains("Invited"),
        "{html}"
    );
    // The same address twice: refused.
    let twice = owner
        .submit(
            "/admin/staff",
            "/admin/staff",
            &[
                ("name", "Sana"),
                ("email", "sana@nextgenrdp.pk"),
                ("role", "billing"),
            ],
        )
        .await;
    assert_eq!(twice.status, StatusCode::CONFLICT);

    // The invitation: a link to choose a password.
    let mail = app.mails_to("sana@nextgenrdp.pk").await.join("\n");
    assert!(mail.contains("invited you to run NextGenRDP"), "{mail}");
    assert!(mail.contains("support (customers, tickets and customers' requests)"));
    let token = app.token_mailed_to("sana@nextgenrdp.pk", "/invite").await;
    let mut sana = Visitor::from(&app, "198.51.100.101");
    let form = sana.get(&format!("/invite?token={token}")).await.text();
    assert!(form.contains(&format!(r#"name="token" value="{token}""#)));
    let weak = sana
        .submit(
            &format!("/invite?token={token}"),
            "/invite",
            &[
                ("token", &token),
                ("password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(weak.status, StatusCode::UNPROCESSABLE_ENTITY);
    let accepted = sana
        .submit(
            &format!("/invite?token={token}"),
            "/invite",
            &[
                ("token", &token),
                ("password", "operator-passphrase"),
                ("confirm_password", "operator-passphrase"),
            ],
        )
        .await;
    assert_eq!(
        accepted.status,
        StatusCode::SEE_OTHER,
        "{}",
        accepted.text()
    );
    assert_eq!(
        accepted.header("location"),
        "/login?notice=invite-accepted&next=%2Fadmin"
    );
    let again = sana
        .submit(
            &format!("/invite?token={token}"),
            "/invite",
            &[
                ("token", &token),
                ("password", "another-passphrase"),
                ("confirm_password", "another-passphrase"),
            ],
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a link works once"
    );

    // She logs in; without two-factor sign-in the back office sends her to set it up.
    sana.log_in("sana@nextgenrdp.pk", "operator-passphrase")
        .await;
    let gate = sana.get("/admin").await;
    assert_eq!(gate.status, StatusCode::FORBIDDEN);
    assert!(gate.text().contains("Set up two-factor sign-in"));
    // Once it is on (as the authenticator would), her menu is support's.
    let sana_id: i32 =
        sqlx::query_scalar("select id from users where email = 'sana@nextgenrdp.pk'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    crate::helpers::enable_two_factor(&app.db, sana_id).await;
    let mut sana = Visitor::from(&app, "198.51.100.102");
    sana.log_in("sana@nextgenrdp.pk", "operator-passphrase")
        .await;
    let menu = sana.get("/admin").await.text();
    assert!(
        menu.contains(r#"href="/admin/tickets""#) && menu.contains(r#"href="/admin/customers""#)
    );
    assert!(
        !menu.contains(r#"href="/admin/backends""#) && !menu.contains(r#"href="/admin/staff""#)
    );
    assert_eq!(sana.get("/admin/staff").await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        sana.get("/admin/backends").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(sana.get("/admin/tickets").await.status, StatusCode::OK);

    // The owner makes her technical: her sessions end, and the next login opens technical's part.
    let changed = owner
        .submit(
            "/admin/staff",
            &format!("/admin/staff/{sana_id}/role"),
            &[("role", "technical")],
        )
        .await;
    assert_eq!(
        changed.header("location"),
        "/admin/staff?notice=role-changed"
    );
    assert_eq!(
        sana.get("/admin").await.status,
        StatusCode::SEE_OTHER,
        "logged out"
    );
    let mut sana = Visitor::from(&app, "198.51.100.103");
    sana.log_in("sana@nextgenrdp.pk", "operator-passphrase")
        .await;
    assert_eq!(sana.get("/admin/backends").await.status, StatusCode::OK);
    assert_eq!(
        sana.get("/admin/tickets").await.status,
        StatusCode::FORBIDDEN
    );
    let audited: Vec<String> =
        sqlx::query_scalar("select action from audit_log where action like 'staff.%' order by id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(
        audited,
        ["staff.invite", "staff.accept_invite", "staff.role"]
    );
}

#[sqlx::test]
async fn roles_change_through_the_api_but_never_ones_own_nor_the_last_owners(db: sqlx::PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let owner = app.admin("owner@nextgenrdp.pk").await;
    let token = owner["access_token"].as_str().unwrap().to_owned();
    let owner_id = owner["user"]["id"].as_i64().unwrap();
    let patch = |id: i64, role: &str| {
        let token = token.clone();
        let app = &app;
        let role = role.to_owned();
        async move {
            app.send_json_as(
                Some(&token),
                Method::PATCH,
                &format!("/api/v1/admin/staff/{id}"),
                &json!({ "role": role }),
            )
            .await
        }
    };
    assert_eq!(
        patch(owner_id, "billing").await.status,
        StatusCode::CONFLICT
    );

    let invited = app
        .send_json_as(
            Some(&token),
            Method::POST,
            "/api/v1/admin/staff",
            &json!({ "name": "Bilal Ahmed", "email": "bilal@nextgenrdp.pk", "role": "owner" }),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.text());
    let bilal = invited.json()["id"].as_i64().unwrap();
    assert_eq!(invited.json()["role"], "owner");
    let bad = app
        .send_json_as(
            Some(&token),
            Method::POST,
            "/api/v1/admin/staff",
            &json!({ "name": "X", "email": "x@nextgenrdp.pk", "role": "customer" }),
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let staff = app.get_as(&token, "/api/v1/admin/staff").await.json();
    assert_eq!(staff.as_array().unwrap().len(), 2);

    // Two owners: Bilal may become billing; then the first owner is the last one.
    let made = patch(bilal, "billing").await;
    assert_eq!(made.status, StatusCode::OK, "{}", made.text());
    assert_eq!(made.json()["role"], "billing");
    assert!(
        made.json()["permissions"]
            .as_array()
            .unwrap()
            .contains(&json!("manage_money"))
    );
    assert_eq!(
        patch(999_999, "support").await.status,
        StatusCode::NOT_FOUND
    );
    let wrong = patch(bilal, "root").await;
    assert_eq!(
        wrong.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        wrong.text()
    );
    // The accept endpoint refuses a made-up token.
    let accept = app
        .send_json(
            Method::POST,
            "/api/v1/auth/accept-invite",
            &json!({ "token": "made-up", "password": "a-long-passphrase" }),
        )
        .await;
    assert_eq!(accept.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test]
async fn the_settings_page_shows_what_this_machine_runs_with_to_the_owner_only(db: sqlx::PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    app.admin("owner@nextgenrdp.pk").await;
    app.staff("sana@nextgenrdp.pk", nextgenrdp::accounts::Role::Support)
        .await;
    let mut owner = Visitor::from(&app, "198.51.100.110");
    owner
        .log_in("owner@nextgenrdp.pk", "operator-passphrase")
        .await;
    let page = owner.get("/admin/settings").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(html.contains("http://shop.test"), "{html}");
    assert!(html.contains("<code class=\"muted\">NEXTGENRDP_OPERATOR_2FA</code>"));
    assert!(html.contains("<dt>Two-factor sign-in for the staff</dt><dd>required<br>"));
    assert!(html.contains(r#"<a href="/admin/settings" aria-current="page">Settings</a>"#));
    let mut sana = Visitor::from(&app, "198.51.100.111");
    sana.log_in("sana@nextgenrdp.pk", "operator-passphrase")
        .await;
    assert_eq!(
        sana.get("/admin/settings").await.status,
        StatusCode::FORBIDDEN
    );
}
