//! The server pages: the customer's `/account/services*` (list, detail, reveal, actions,
//! renewal), the operator's `/admin/services*` and `/admin/provisioning`, and the backend pages
//! `/admin/backends*`, through cookies and CSRF tokens as a browser sends them.

use axum::http::StatusCode;
use nextgenrdp::services::ServiceStatus;
use nextgenrdp::services::logs;
use nextgenrdp::services::services::{self, NewService};
use serde_json::Value;
use sqlx::PgPool;

use super::Visitor;
use crate::api::cart::location_of;
use crate::helpers::{TestApp, TestResponse};
use crate::provisioning::{PLAN, paid_order};

const PASSWORD: &str = "correct-horse-battery";
const OPERATOR_PASSWORD: &str = "operator-passphrase";
const SERVER_PASSWORD: &str = "Kx7vQ2mPz9wR-page";

fn user_id(login: &Value) -> i32 {
    login["user"]["id"].as_i64().unwrap() as i32
}

/// A service of the customer's waiting for an operator (no backend: the manual driver).
async fn provisioning_service(app: &TestApp, customer: &Value) -> i32 {
    let location = location_of(&app.db, PLAN).await;
    services::insert(
        &app.db,
        &NewService {
            order_item_id: None,
            user_id: user_id(customer),
            service_type: "rdp",
            plan_id: Some(PLAN),
            location_id: Some(location),
            validity_months: Some(1),
        },
    )
    .await
    .unwrap()
    .id
}

async fn logged_in<'a>(app: &'a TestApp, email: &str, password: &str, ip: &str) -> Visitor<'a> {
    let mut visitor = Visitor::from(app, ip);
    visitor.log_in(email, password).await;
    visitor
}

/// Provisions the service by hand through the operator's form; panics unless it works.
async fn provision_by_form(operator: &mut Visitor<'_>, id: i32) {
    let page = format!("/admin/services/{id}");
    let done = operator
        .submit(
            &page,
            &format!("{page}/provision"),
            &[
                ("hostname", "rdp7.lahore.nextgenrdp.pk"),
                ("ip_address", "203.0.113.17"),
                ("username", "Administrator"),
                ("password", SERVER_PASSWORD),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    assert_eq!(
        done.header("location"),
        format!("/admin/services/{id}?notice=provisioned")
    );
}

fn assert_page(response: &TestResponse, status: StatusCode) -> String {
    let text = response.text();
    assert_eq!(response.status, status, "{text}");
    text
}

#[sqlx::test]
async fn a_paid_manual_order_is_provisioned_by_hand_and_the_customer_then_reveals_its_password(
    db: PgPool,
) {
    let app = TestApp::with_default_catalog(db).await;
    let (customer, _, order) = paid_order(&app, "ayesha@example.pk", 1).await;
    let id = services::list_for_user(&app.db, user_id(&customer))
        .await
        .unwrap()[0]
        .id;
    let mut visitor = logged_in(&app, "ayesha@example.pk", PASSWORD, "198.51.100.31").await;

    let list = assert_page(&visitor.get("/account/services").await, StatusCode::OK);
    assert!(
        list.contains(&format!(r#"data-service-id="{id}""#)),
        "{list}"
    );
    assert!(list.contains("Being prepared"), "{list}");
    let page = assert_page(
        &visitor.get(&format!("/account/services/{id}")).await,
        StatusCode::OK,
    );
    assert!(page.contains("being prepared by our team"), "{page}");
    assert!(!page.contains("reveal-password"), "nothing to reveal yet");
    assert!(
        !page.contains("/actions"),
        "no power actions before it is ready"
    );

    // The operator finds it in the queue, fails the form once, then provisions it.
    let mut operator = logged_in(
        &app,
        "ops-ayesha@example.pk",
        OPERATOR_PASSWORD,
        "198.51.100.90",
    )
    .await;
    let queue = assert_page(&operator.get("/admin/provisioning").await, StatusCode::OK);
    let manual =
        &queue[queue.find(r#"id="manual""#).unwrap()..queue.find(r#"id="requests""#).unwrap()];
    assert!(
        manual.contains(&format!(r#"data-service-id="{id}""#)),
        "{queue}"
    );
    let admin_page = assert_page(
        &operator.get(&format!("/admin/services/{id}")).await,
        StatusCode::OK,
    );
    assert!(
        admin_page.contains(&format!(r#"href="/admin/orders/{order}""#)),
        "{admin_page}"
    );
    assert!(admin_page.contains("Provision by hand"), "{admin_page}");
    let refused = operator
        .submit(
            &format!("/admin/services/{id}"),
            &format!("/admin/services/{id}/provision"),
            &[
                ("hostname", "rdp7.lahore.nextgenrdp.pk"),
                ("ip_address", "not-an-ip"),
                ("username", "Administrator"),
                ("password", SERVER_PASSWORD),
            ],
        )
        .await;
    let refused = assert_page(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.contains(r#"id="ip_address-error""#), "{refused}");
    assert!(
        refused.contains(r#"value="rdp7.lahore.nextgenrdp.pk""#),
        "typed values stay"
    );
    assert!(
        !refused.contains(SERVER_PASSWORD),
        "a password is never echoed"
    );
    provision_by_form(&mut operator, id).await;
    let queue = assert_page(&operator.get("/admin/provisioning").await, StatusCode::OK);
    assert!(
        !queue.contains(&format!(r#"data-service-id="{id}""#)),
        "{queue}"
    );

    // The customer's page now shows it running, with its address, and reveals the password.
    let page = assert_page(
        &visitor.get(&format!("/account/services/{id}")).await,
        StatusCode::OK,
    );
    assert!(page.contains(r#"data-status="active""#), "{page}");
    assert!(page.contains("203.0.113.17"), "{page}");
    assert!(!page.contains(SERVER_PASSWORD), "hidden until revealed");
    let revealed = visitor
        .submit(
            &format!("/account/services/{id}"),
            &format!("/account/services/{id}/credentials"),
            &[],
        )
        .await;
    let revealed_text = assert_page(&revealed, StatusCode::OK);
    assert!(
        revealed_text.contains(&format!(r#"value="{SERVER_PASSWORD}""#)),
        "{revealed_text}"
    );
    assert!(revealed.header("cache-control").contains("no-store"));
    let page = assert_page(
        &visitor.get(&format!("/account/services/{id}")).await,
        StatusCode::OK,
    );
    assert!(
        !page.contains(SERVER_PASSWORD),
        "shown once, not kept on the page"
    );
    assert!(page.contains("Login details viewed"), "{page}");
    assert!(
        !page.contains("ops-ayesha"),
        "the history names no operator"
    );
}

#[sqlx::test]
async fn someone_elses_service_is_a_404_and_an_empty_list_points_to_the_plans(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let owner = app.verified_customer("owner@example.pk").await;
    let id = provisioning_service(&app, &owner).await;
    app.verified_customer("other@example.pk").await;
    let mut other = logged_in(&app, "other@example.pk", PASSWORD, "198.51.100.32").await;

    let list = assert_page(&other.get("/account/services").await, StatusCode::OK);
    assert!(list.contains(r#"id="no-services""#), "{list}");
    assert!(list.contains(r#"href="/rdp""#) && list.contains(r#"href="/vps""#));
    assert_page(
        &other.get(&format!("/account/services/{id}")).await,
        StatusCode::NOT_FOUND,
    );
    let token = other.csrf_of("/account/services").await;
    for action in ["credentials", "actions", "renew"] {
        let response = other
            .post(
                &format!("/account/services/{id}/{action}"),
                &[
                    ("action", "reboot"),
                    ("validity_months", "1"),
                    ("csrf_token", &token),
                ],
            )
            .await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{action}");
    }
    let anonymous = Visitor::new(&app).get("/account/services").await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    assert!(anonymous.header("location").starts_with("/login?next="));
}

#[sqlx::test]
async fn a_power_action_needs_the_csrf_token_and_reaches_the_operators_queue(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let customer = app.verified_customer("bilal@example.pk").await;
    app.admin("owner@nextgenrdp.pk").await;
    let id = provisioning_service(&app, &customer).await;
    let mut operator = logged_in(
        &app,
        "owner@nextgenrdp.pk",
        OPERATOR_PASSWORD,
        "198.51.100.90",
    )
    .await;
    provision_by_form(&mut operator, id).await;
    let mut visitor = logged_in(&app, "bilal@example.pk", PASSWORD, "198.51.100.33").await;
    let page = format!("/account/services/{id}");
    let before = assert_page(&visitor.get(&page).await, StatusCode::OK);
    // A new server runs: Stop and Restart, no Start; setup is done, not "in progress".
    assert!(!before.contains(r#"id="action-start""#), "{before}");
    assert!(before.contains(r#"id="action-stop""#) && before.contains(r#"id="action-reboot""#));
    assert!(before.contains("Our team carries out these requests by hand"));
    let history = &before[before.find(r#"id="history""#).unwrap()..];
    assert!(!history.contains("In progress"), "{history}");

    let forged = visitor
        .post(&format!("{page}/actions"), &[("action", "reboot")])
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let requested = visitor
        .submit(&page, &format!("{page}/actions"), &[("action", "reboot")])
        .await;
    assert_eq!(
        requested.status,
        StatusCode::SEE_OTHER,
        "{}",
        requested.text()
    );
    assert_eq!(
        requested.header("location"),
        format!("{page}?notice=reboot-requested")
    );
    let shown = assert_page(
        &visitor.get(requested.header("location")).await,
        StatusCode::OK,
    );
    assert!(shown.contains("Restart requested"), "{shown}");
    assert!(
        shown.contains("Our team restarts your server by hand"),
        "{shown}"
    );
    assert!(!shown.contains("a minute or two"));
    // While it waits, the power buttons wait too.
    assert!(shown.contains("A request is waiting to be done"));
    assert!(!shown.contains(r#"id="action-stop""#) && !shown.contains(r#"id="action-reboot""#));
    assert!(shown.contains(r#"id="action-reset_password""#));

    let queue = assert_page(&operator.get("/admin/provisioning").await, StatusCode::OK);
    let requests =
        &queue[queue.find(r#"id="requests""#).unwrap()..queue.find(r#"id="failed""#).unwrap()];
    assert!(
        requests.contains(&format!(r#"data-service-id="{id}""#)),
        "{queue}"
    );
    assert!(requests.contains("Restart requested"), "{queue}");

    // An action that is not offered is refused on the page.
    let nonsense = visitor
        .submit(
            &page,
            &format!("{page}/actions"),
            &[("action", "format-disk")],
        )
        .await;
    assert_eq!(nonsense.status, StatusCode::UNPROCESSABLE_ENTITY);
}

#[sqlx::test]
async fn renewing_leads_to_the_order_to_pay_and_the_page_links_it(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let customer = app.verified_customer("sana@example.pk").await;
    app.admin("owner@nextgenrdp.pk").await;
    let id = provisioning_service(&app, &customer).await;
    let mut operator = logged_in(
        &app,
        "owner@nextgenrdp.pk",
        OPERATOR_PASSWORD,
        "198.51.100.90",
    )
    .await;
    provision_by_form(&mut operator, id).await;
    let mut visitor = logged_in(&app, "sana@example.pk", PASSWORD, "198.51.100.34").await;
    let page = format!("/account/services/{id}");

    let refused = visitor
        .submit(&page, &format!("{page}/renew"), &[("validity_months", "5")])
        .await;
    let refused = assert_page(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.contains(r#"id="validity_months-error""#),
        "{refused}"
    );
    let renewed = visitor
        .submit(&page, &format!("{page}/renew"), &[("validity_months", "3")])
        .await;
    assert_eq!(renewed.status, StatusCode::SEE_OTHER, "{}", renewed.text());
    let target = renewed.header("location").to_owned();
    assert!(target.starts_with("/account/orders/"), "{target}");
    // A renewal does not expire and the server keeps running: the page says so, with dates.
    let renewal = assert_page(&visitor.get(&target).await, StatusCode::OK);
    assert!(renewal.contains("Your server keeps running"), "{renewal}");
    assert!(renewal.contains("suspended on") && renewal.contains("deleted with its data on"));
    assert!(!renewal.contains("the order expires") && !renewal.contains("start your server"));
    let shown = assert_page(&visitor.get(&page).await, StatusCode::OK);
    assert!(
        shown.contains(&format!(r#"href="{target}" id="pending-renewal""#)),
        "{shown}"
    );
}

#[sqlx::test]
async fn the_operator_suspends_resumes_and_terminates_only_after_confirming(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let customer = app.verified_customer("kamran@example.pk").await;
    app.admin("owner@nextgenrdp.pk").await;
    let id = provisioning_service(&app, &customer).await;
    let mut operator = logged_in(
        &app,
        "owner@nextgenrdp.pk",
        OPERATOR_PASSWORD,
        "198.51.100.90",
    )
    .await;
    provision_by_form(&mut operator, id).await;
    let page = format!("/admin/services/{id}");

    let suspended = operator
        .submit(
            &page,
            &format!("{page}/suspend"),
            &[("reason", "Abuse report")],
        )
        .await;
    assert_eq!(
        suspended.status,
        StatusCode::SEE_OTHER,
        "{}",
        suspended.text()
    );
    let mut visitor = logged_in(&app, "kamran@example.pk", PASSWORD, "198.51.100.35").await;
    let shown = assert_page(
        &visitor.get(&format!("/account/services/{id}")).await,
        StatusCode::OK,
    );
    assert!(shown.contains("suspended: Abuse report"), "{shown}");
    // A second suspension is refused with the reason on the page.
    let again = operator
        .submit(&page, &format!("{page}/suspend"), &[("reason", "Again")])
        .await;
    let again = assert_page(&again, StatusCode::CONFLICT);
    assert!(again.contains("is suspended"), "{again}");
    let resumed = operator.submit(&page, &format!("{page}/resume"), &[]).await;
    assert_eq!(resumed.status, StatusCode::SEE_OTHER, "{}", resumed.text());

    let unconfirmed = operator
        .submit(&page, &format!("{page}/terminate"), &[])
        .await;
    let unconfirmed = assert_page(&unconfirmed, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unconfirmed.contains(r#"id="confirm-error""#),
        "{unconfirmed}"
    );
    assert_eq!(
        services::find(&app.db, id).await.unwrap().unwrap().status,
        ServiceStatus::Active
    );
    let terminated = operator
        .submit(&page, &format!("{page}/terminate"), &[("confirm", "yes")])
        .await;
    assert_eq!(
        terminated.status,
        StatusCode::SEE_OTHER,
        "{}",
        terminated.text()
    );
    let shown = assert_page(&operator.get(&page).await, StatusCode::OK);
    assert!(shown.contains(r#"data-status="terminated""#), "{shown}");
    assert!(
        shown.contains("owner@nextgenrdp.pk"),
        "the log names the operator: {shown}"
    );
    let list = assert_page(
        &operator
            .get("/admin/services?status=terminated&customer=kamran@example.pk")
            .await,
        StatusCode::OK,
    );
    assert!(
        list.contains(&format!(r#"data-service-id="{id}""#)),
        "{list}"
    );
    let searched = assert_page(
        &operator.get(&format!("/admin/services?search={id}")).await,
        StatusCode::OK,
    );
    assert!(
        searched.contains(&format!(r#"data-service-id="{id}""#)),
        "{searched}"
    );
    assert!(
        searched.contains(&format!(r#"value="{id}""#)),
        "the search stays in its field"
    );
    let missed = assert_page(
        &operator.get("/admin/services?search=no-such-host").await,
        StatusCode::OK,
    );
    assert!(!missed.contains("data-service-id"), "{missed}");
    assert!(missed.contains("0 services"), "{missed}");
    let unknown = operator
        .get("/admin/services?customer=nobody@example.pk")
        .await;
    let unknown = assert_page(&unknown, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.contains(r#"id="customer-error""#), "{unknown}");
}

#[sqlx::test]
async fn a_backend_form_with_mistakes_comes_back_with_them_and_its_pool_takes_addresses(
    db: PgPool,
) {
    let app = TestApp::with_default_catalog(db).await;
    app.admin("owner@nextgenrdp.pk").await;
    let location = location_of(&app.db, PLAN).await.to_string();
    let mut operator = logged_in(
        &app,
        "owner@nextgenrdp.pk",
        OPERATOR_PASSWORD,
        "198.51.100.90",
    )
    .await;
    let mut fields = vec![
        ("name", "pve-lahore-1"),
        ("driver", "proxmox"),
        ("location_id", location.as_str()),
        ("is_active", "on"),
        ("api_url", "http://pve1.example.pk:8006"),
        ("token_id", "ngr-shop"),
        ("token_secret", "5e1a0f6c-2b7d-4c1e-9f3a-7d2c8b6e4a10"),
        ("node", "pve1"),
        ("storage", "local-lvm"),
        ("bridge", "vmbr0"),
        ("vmid_min", "6000"),
        ("vmid_max", "5000"),
        ("ip_gateway", "203.0.113.1"),
        ("ip_prefix", "24"),
        ("nameservers", "1.1.1.1,8.8.8.8"),
    ];
    let refused = operator
        .submit("/admin/backends/new", "/admin/backends", &fields)
        .await;
    let refused = assert_page(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["api_url", "token_id", "vmid_max"] {
        assert!(
            refused.contains(&format!(r#"id="{field}-error""#)),
            "{field}: {refused}"
        );
    }
    assert!(refused.contains("must be an https:// address"), "{refused}");
    assert!(
        refused.contains(r#"value="pve-lahore-1""#),
        "typed values stay"
    );
    assert!(
        !refused.contains("5e1a0f6c"),
        "the token secret is never echoed"
    );

    fields[4].1 = "https://pve1.example.pk:8006";
    fields[5].1 = "ngr@pve!shop";
    fields[11].1 = "6999";
    let created = operator
        .submit("/admin/backends/new", "/admin/backends", &fields)
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.text());
    let page = created
        .header("location")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let stored: Option<String> =
        sqlx::query_scalar("select token_secret_encrypted from provisioning_backends")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(
        !stored.unwrap().contains("5e1a0f6c"),
        "the secret is sealed"
    );

    // A second active backend for the location is refused beside the location.
    fields[0].1 = "pve-lahore-2";
    let taken = operator
        .submit("/admin/backends/new", "/admin/backends", &fields)
        .await;
    let taken = assert_page(&taken, StatusCode::CONFLICT);
    assert!(
        taken.contains("This location already has an active backend."),
        "{taken}"
    );

    // The pool: a range is expanded, an address outside the network is refused.
    let outside = operator
        .submit(
            &page,
            &format!("{page}/addresses"),
            &[("addresses", "203.0.113.20\n198.51.100.7")],
        )
        .await;
    let outside = assert_page(&outside, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(outside.contains(r#"id="addresses-error""#), "{outside}");
    assert!(outside.contains("198.51.100.7"), "{outside}");
    let added = operator
        .submit(
            &page,
            &format!("{page}/addresses"),
            &[("addresses", "203.0.113.10-203.0.113.12\n203.0.113.20")],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.text());
    let shown = assert_page(&operator.get(&page).await, StatusCode::OK);
    for address in [
        "203.0.113.10",
        "203.0.113.11",
        "203.0.113.12",
        "203.0.113.20",
    ] {
        assert!(
            shown.contains(&format!(r#"data-address="{address}""#)),
            "{address}: {shown}"
        );
    }
    assert!(shown.contains("4 more servers"), "{shown}");
    let list = assert_page(&operator.get("/admin/backends").await, StatusCode::OK);
    assert!(
        list.contains("pve-lahore-1") && list.contains("4 servers"),
        "{list}"
    );

    let removed = operator
        .submit(
            &page,
            &format!("{page}/addresses/remove"),
            &[("address", "203.0.113.20")],
        )
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    assert!(
        removed
            .header("location")
            .contains("notice=address-removed")
    );
    let shown = assert_page(&operator.get(&page).await, StatusCode::OK);
    assert!(!shown.contains(r#"data-address="203.0.113.20""#), "{shown}");

    // A template for the plan.
    let template = operator
        .submit(
            &page,
            &format!("{page}/templates"),
            &[
                ("plan_id", PLAN),
                ("template_vmid", "9000"),
                ("cores", "4"),
                ("memory_mb", "8192"),
                ("disk_gb", "80"),
                ("username", "Administrator"),
            ],
        )
        .await;
    assert_eq!(
        template.status,
        StatusCode::SEE_OTHER,
        "{}",
        template.text()
    );
    let shown = assert_page(&operator.get(&page).await, StatusCode::OK);
    assert!(
        shown.contains(&format!(r#"data-plan-id="{PLAN}""#)),
        "{shown}"
    );
}

#[sqlx::test]
async fn the_operator_pages_refuse_customers(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let customer = app.verified_customer("curious@example.pk").await;
    let id = provisioning_service(&app, &customer).await;
    let mut visitor = logged_in(&app, "curious@example.pk", PASSWORD, "198.51.100.36").await;
    for path in [
        "/admin/services".to_owned(),
        format!("/admin/services/{id}"),
        "/admin/provisioning".to_owned(),
        "/admin/backends".to_owned(),
        "/admin/backends/new".to_owned(),
    ] {
        let response = visitor.get(&path).await;
        assert_eq!(response.status, StatusCode::FORBIDDEN, "{path}");
    }
    let token = visitor.csrf_of("/account/services").await;
    let forced = visitor
        .post(
            &format!("/admin/services/{id}/provision"),
            &[
                ("hostname", "x.example.pk"),
                ("ip_address", "203.0.113.9"),
                ("username", "Administrator"),
                ("password", SERVER_PASSWORD),
                ("csrf_token", &token),
            ],
        )
        .await;
    assert_eq!(forced.status, StatusCode::FORBIDDEN);
    assert_eq!(
        services::find(&app.db, id).await.unwrap().unwrap().status,
        ServiceStatus::Provisioning
    );
}

#[sqlx::test]
async fn the_operator_closes_a_request_from_the_queue_and_it_leaves_the_queue(db: PgPool) {
    let app = TestApp::with_default_catalog(db).await;
    let customer = app.verified_customer("hina@example.pk").await;
    app.admin("owner@nextgenrdp.pk").await;
    let id = provisioning_service(&app, &customer).await;
    let mut operator = logged_in(
        &app,
        "owner@nextgenrdp.pk",
        OPERATOR_PASSWORD,
        "198.51.100.90",
    )
    .await;
    provision_by_form(&mut operator, id).await;
    let mut visitor = logged_in(&app, "hina@example.pk", PASSWORD, "198.51.100.36").await;
    let page = format!("/account/services/{id}");
    for action in ["reboot", "reset_password"] {
        let requested = visitor
            .submit(&page, &format!("{page}/actions"), &[("action", action)])
            .await;
        assert_eq!(requested.status, StatusCode::SEE_OTHER, "{action}");
    }
    let open = logs::list_open_requests(&app.db, 10).await.unwrap();
    let request_of = |action: &str| {
        open.iter()
            .find(|l| l.action.as_str() == format!("{action}_requested"))
            .unwrap()
            .id
    };
    let (reboot, reset) = (request_of("reboot"), request_of("password_reset"));
    let resolve = |log: i32| format!("/admin/services/{id}/requests/{log}/resolve");

    // The queue offers both forms for each request; only the reset asks for a password.
    let queue = assert_page(&operator.get("/admin/provisioning").await, StatusCode::OK);
    let requests =
        &queue[queue.find(r#"id="requests""#).unwrap()..queue.find(r#"id="failed""#).unwrap()];
    for log in [reboot, reset] {
        assert!(
            requests.contains(&format!(r#"action="{}""#, resolve(log))),
            "{requests}"
        );
    }
    assert!(requests.contains(&format!(r#"id="request-{reset}-password""#)));
    assert!(!requests.contains(&format!(r#"id="request-{reboot}-password""#)));
    assert!(
        requests.contains(
            r#"<span class="request-server">203.0.113.17 · rdp7.lahore.nextgenrdp.pk</span>"#
        ),
        "each card names the server: {requests}"
    );

    // Declining without a note comes back with the reason; nothing is closed.
    let refused = operator
        .submit(
            "/admin/provisioning",
            &resolve(reboot),
            &[("outcome", "declined"), ("note", " "), ("from", "queue")],
        )
        .await;
    let refused = assert_page(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.contains(&format!("Request #{reboot}: Note is required")),
        "{refused}"
    );
    assert!(refused.contains(&format!(r#"data-request-id="{reboot}""#)));

    let done = operator
        .submit(
            "/admin/provisioning",
            &resolve(reboot),
            &[("outcome", "done"), ("from", "queue")],
        )
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.text());
    assert_eq!(
        done.header("location"),
        "/admin/provisioning?notice=request-done"
    );
    let queue = assert_page(&operator.get(done.header("location")).await, StatusCode::OK);
    assert!(queue.contains("The request is marked done"), "{queue}");
    assert!(
        !queue.contains(&format!(r#"data-request-id="{reboot}""#)),
        "{queue}"
    );
    assert!(
        queue.contains(&format!(r#"data-request-id="{reset}""#)),
        "{queue}"
    );
    let again = operator
        .submit(
            "/admin/provisioning",
            &resolve(reboot),
            &[("outcome", "done"), ("from", "queue")],
        )
        .await;
    let again = assert_page(&again, StatusCode::CONFLICT);
    assert!(again.contains("already closed"), "{again}");

    // The service page lists the reset with its forms; done there with the new password.
    let service_page = format!("/admin/services/{id}");
    let shown = assert_page(&operator.get(&service_page).await, StatusCode::OK);
    assert!(
        shown.contains(&format!(r#"data-request-id="{reset}""#)),
        "{shown}"
    );
    let reset_done = operator
        .submit(
            &service_page,
            &resolve(reset),
            &[("outcome", "done"), ("password", "Page-Reset-Pass-88")],
        )
        .await;
    assert_eq!(
        reset_done.status,
        StatusCode::SEE_OTHER,
        "{}",
        reset_done.text()
    );
    assert_eq!(
        reset_done.header("location"),
        format!("{service_page}?notice=request-done")
    );
    let shown = assert_page(&operator.get(&service_page).await, StatusCode::OK);
    assert!(
        !shown.contains(r#"id="requests""#),
        "no request left: {shown}"
    );
    assert!(!shown.contains("Page-Reset-Pass-88"));
    let revealed = visitor
        .submit(&page, &format!("{page}/credentials"), &[])
        .await;
    let revealed = assert_page(&revealed, StatusCode::OK);
    assert!(
        revealed.contains(r#"value="Page-Reset-Pass-88""#),
        "{revealed}"
    );
    let queue = assert_page(&operator.get("/admin/provisioning").await, StatusCode::OK);
    assert!(queue.contains("No open request."), "{queue}");
}

#[sqlx::test]
async fn an_operator_retries_a_failed_job_from_the_provisioning_queue_once(db: PgPool) {
    let app = TestApp::new(db);
    app.admin("ops-bilal@example.pk").await;
    let id = nextgenrdp::jobs::enqueue(
        &app.db,
        "no_such_kind",
        &serde_json::json!({"service_id": 7}),
        None,
        None,
    )
    .await
    .unwrap()
    .unwrap();
    app.deliver_mail().await; // the worker fails an unknown kind for good at once
    let mut operator = logged_in(
        &app,
        "ops-bilal@example.pk",
        OPERATOR_PASSWORD,
        "198.51.100.91",
    )
    .await;
    let action = format!("/admin/jobs/{id}/retry");
    let retried = operator.submit("/admin/provisioning", &action, &[]).await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER, "{}", retried.text());
    assert_eq!(
        retried.header("location"),
        "/admin/provisioning?notice=job-retried"
    );
    let job = nextgenrdp::jobs::find(&app.db, id).await.unwrap().unwrap();
    assert_eq!(job.status, nextgenrdp::jobs::JobStatus::Queued);
    // Queued now: a second click changes nothing and says so.
    let again = operator.submit("/admin/provisioning", &action, &[]).await;
    assert_eq!(
        again.header("location"),
        "/admin/provisioning?notice=job-not-failed"
    );
    let audit = nextgenrdp::audit::list(
        &app.db,
        &nextgenrdp::audit::AuditFilter::entity("job", Some(&id.to_string())),
        10,
        0,
    )
    .await
    .unwrap();
    assert_eq!(audit.len(), 1, "one retry, one audit row");
}
