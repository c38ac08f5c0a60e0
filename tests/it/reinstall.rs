//! OS choice at order and reinstall, end to end against fakepve: the operator lists the systems
//! a plan offers (each with its template VM per backend); the customer chooses one and SSH keys
//! in the cart; the server is cloned from that system's template with the keys through
//! cloud-init. A reinstall (typed confirmation, at most 3 a day for customers, audited for
//! operators) rebuilds the server on the same VM id and address with a new password, each step
//! looking before it acts.

use axum::http::{Method, StatusCode};
use nextgenrdp::provisioning::proxmox::{ProxmoxClient, encode_sshkeys};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::api::cart::location_of;
use crate::api::ssh_keys::ED25519;
use crate::console::active_server;
use crate::fakepve::{FakePve, LINUX_TEMPLATE, NODE, WINDOWS_TEMPLATE};
use crate::helpers::TestApp;
use crate::provisioning::{PLAN, proxmox_backend};
use crate::snapshots::{call, last_line, run_jobs, token};

const VMID: u32 = 5000;

/// The operator offers Windows Server 2022 (first) and Ubuntu 24.04 with the plan, each with
/// its template VM on `backend`; returns (windows id, ubuntu id).
async fn offer_systems(app: &TestApp, admin: &Value, backend: i32) -> (i64, i64) {
    let windows = call(
        app,
        admin,
        Method::POST,
        "/api/v1/admin/os-templates",
        json!({
            "name": "Windows Server 2022", "family": "windows", "plan_ids": [PLAN],
            "images": [{ "backend_id": backend, "template_vmid": WINDOWS_TEMPLATE }],
        }),
    )
    .await;
    assert_eq!(windows.status, StatusCode::CREATED, "{}", windows.text());
    assert_eq!(windows.json()["username"], "Administrator");
    let ubuntu = call(
        app,
        admin,
        Method::POST,
        "/api/v1/admin/os-templates",
        json!({
            "name": "Ubuntu 24.04", "family": "linux", "username": "ubuntu", "sort_order": 1,
            "plan_ids": [PLAN],
            "images": [{ "backend_id": backend, "template_vmid": LINUX_TEMPLATE }],
        }),
    )
    .await;
    assert_eq!(ubuntu.status, StatusCode::CREATED, "{}", ubuntu.text());
    (
        windows.json()["id"].as_i64().unwrap(),
        ubuntu.json()["id"].as_i64().unwrap(),
    )
}

/// A customer's active server whose plan offers Windows Server 2022 and Ubuntu 24.04.
struct Offered {
    login: Value,
    admin: Value,
    id: i32,
    backend: i32,
    windows: i64,
    ubuntu: i64,
}

async fn offered_server(app: &TestApp, fake: &FakePve, email: &str) -> Offered {
    let (login, admin, id) = active_server(app, fake, email).await;
    let backend: i32 = sqlx::query_scalar("select backend_id from services where id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let (windows, ubuntu) = offer_systems(app, &admin, backend).await;
    Offered {
        login,
        admin,
        id,
        backend,
        windows,
        ubuntu,
    }
}

async fn add_key(app: &TestApp, login: &Value) -> i64 {
    let added = call(
        app,
        login,
        Method::POST,
        "/api/v1/me/ssh-keys",
        json!({ "name": "Laptop", "public_key": ED25519 }),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    added.json()["id"].as_i64().unwrap()
}

/// The VM's config as fakepve holds it.
async fn vm_config(fake: &FakePve) -> Value {
    fake.vms()
        .await
        .into_iter()
        .find(|vm| vm["vmid"] == VMID)
        .map(|vm| vm["config"].clone())
        .expect("the VM exists")
}

/// The SSH line the customer's key is stored as (its comment replaced by the key's name).
async fn stored_key(db: &PgPool, id: i64) -> String {
    sqlx::query_scalar("select public_key from ssh_keys where id = $1")
        .bind(id as i32)
        .fetch_one(db)
        .await
        .unwrap()
}

async fn password(app: &TestApp, login: &Value, id: i32) -> String {
    let shown = app
        .get_as(
            token(login).unwrap(),
            &format!("/api/v1/services/{id}/credentials"),
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text());
    shown.json()["password"].as_str().unwrap().to_owned()
}

#[sqlx::test]
async fn the_customer_chooses_a_system_and_keys_and_the_server_is_built_from_them(db: PgPool) {
    let fake = FakePve::start().await;
    let app = TestApp::with_default_catalog(db).await;
    let backend = proxmox_backend(&app.db, &fake, &["203.0.113.20"]).await;
    let admin = app.admin("ops@example.pk").await;
    let (windows, ubuntu) = offer_systems(&app, &admin, backend).await;

    // The plan lists its systems, in the operator's order.
    let plan = app.get(&format!("/api/v1/plans/{PLAN}")).await;
    assert_eq!(
        plan.json()["templates"],
        json!([
            { "id": windows, "name": "Windows Server 2022", "family": "windows" },
            { "id": ubuntu, "name": "Ubuntu 24.04", "family": "linux" },
        ])
    );

    let login = app.verified_customer("bilal@example.pk").await;
    let key = add_key(&app, &login).await;
    let location = location_of(&app.db, PLAN).await;
    let line = |template: Value, keys: Value| {
        json!({ "plan_id": PLAN, "location_id": location, "template_id": template,
                "ssh_key_ids": keys })
    };
    // A system the plan does not offer, keys on Windows, someone else's key, a guest's keys:
    // each a 422 naming its field, and nothing written.
    for (body, field, words) in [
        (
            line(json!(99999), json!([])),
            "template_id",
            "choose one of: Windows Server 2022",
        ),
        (
            line(json!(windows), json!([key])),
            "ssh_key_ids",
            "SSH keys are for Linux",
        ),
        (
            line(json!(ubuntu), json!([key + 1000])),
            "ssh_key_ids",
            "no SSH key",
        ),
    ] {
        let refused = call(&app, &login, Method::POST, "/api/v1/cart/items", body).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.text()
        );
        let problem = refused.json()["errors"][field].as_str().unwrap().to_owned();
        assert!(problem.contains(words), "{problem}");
    }
    let guest = app
        .send_json_as(
            None,
            Method::POST,
            "/api/v1/cart/items",
            &line(json!(ubuntu), json!([key])),
        )
        .await;
    assert_eq!(guest.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        guest.json()["errors"]["ssh_key_ids"]
            .as_str()
            .unwrap()
            .contains("sign in")
    );
    let lines: i64 = sqlx::query_scalar("select count(*) from cart_items")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(lines, 0);

    // Left out, the system is the plan's first.
    let default = app
        .send_json_as(
            None,
            Method::POST,
            "/api/v1/cart/items",
            &json!({ "plan_id": PLAN, "location_id": location }),
        )
        .await;
    assert_eq!(default.status, StatusCode::CREATED, "{}", default.text());
    assert_eq!(
        default.json()["items"][0]["template_name"],
        "Windows Server 2022"
    );

    let added = call(
        &app,
        &login,
        Method::POST,
        "/api/v1/cart/items",
        line(json!(ubuntu), json!([key])),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    let item = &added.json()["items"][0];
    assert_eq!(item["template_id"], ubuntu);
    assert_eq!(item["template_name"], "Ubuntu 24.04");
    assert_eq!(item["ssh_key_ids"], json!([key]));

    let placed = call(&app, &login, Method::POST, "/api/v1/orders", json!({})).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let order = placed.json()["order"]["id"].as_i64().unwrap();
    // Deleting the key after checkout does not change what was bought.
    let line_key = stored_key(&app.db, key).await;
    let gone = call(
        &app,
        &login,
        Method::DELETE,
        &format!("/api/v1/me/ssh-keys/{key}"),
        json!(null),
    )
    .await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    let payment = app
        .report_transfer(token(&login).unwrap(), order, "TID8822331", "bank")
        .await;
    app.approve_payment(token(&admin).unwrap(), payment["id"].as_i64().unwrap())
        .await;
    app.deliver_mail().await;

    let services = app.get_as(token(&login).unwrap(), "/api/v1/services").await;
    let service = &services.json()["items"][0];
    assert_eq!(service["status"], "active", "{service}");
    assert_eq!(service["template_id"], ubuntu);
    assert_eq!(service["template_name"], "Ubuntu 24.04");
    assert_eq!(service["username"], "ubuntu");
    // Cloned from the Linux template, with the system's user and the key through cloud-init.
    let config = vm_config(&fake).await;
    assert_eq!(config["ciuser"], "ubuntu", "{config}");
    assert_eq!(config["sshkeys"], encode_sshkeys(&line_key), "{config}");
    let clones: Vec<(String, String)> = fake
        .requests()
        .await
        .into_iter()
        .filter(|(method, path)| method == "POST" && path.ends_with("/clone"))
        .collect();
    assert_eq!(
        clones,
        [(
            "POST".to_owned(),
            format!("/api2/json/nodes/{NODE}/qemu/{LINUX_TEMPLATE}/clone")
        )]
    );
}

#[sqlx::test]
async fn a_reinstall_rebuilds_the_same_vm_and_address_with_a_new_password(db: PgPool) {
    let fake = FakePve::start().await;
    let app = TestApp::with_default_catalog(db).await;
    let Offered {
        login,
        admin,
        id,
        windows,
        ubuntu,
        ..
    } = offered_server(&app, &fake, "sana@example.pk").await;
    let key = add_key(&app, &login).await;
    let before = password(&app, &login, id).await;
    let address: String = sqlx::query_scalar("select ip_address from services where id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap();
    let path = format!("/api/v1/services/{id}/reinstall");
    let confirm = format!("srv{id}");

    // No system named where the plan offers a choice; a wrong confirmation; someone else.
    let unnamed = call(
        &app,
        &login,
        Method::POST,
        &path,
        json!({ "confirm": confirm }),
    )
    .await;
    assert_eq!(unnamed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unnamed.json()["errors"]["template_id"]
            .as_str()
            .unwrap()
            .contains("Ubuntu 24.04")
    );
    let unconfirmed = call(
        &app,
        &login,
        Method::POST,
        &path,
        json!({ "template_id": ubuntu, "confirm": "yes" }),
    )
    .await;
    assert_eq!(unconfirmed.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        unconfirmed.json()["errors"]["confirm"]
            .as_str()
            .unwrap()
            .contains(&confirm)
    );
    let stranger = app.verified_customer("stranger@example.pk").await;
    let foreign = call(
        &app,
        &stranger,
        Method::POST,
        &path,
        json!({ "template_id": ubuntu, "confirm": confirm }),
    )
    .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);

    let asked = call(
        &app,
        &login,
        Method::POST,
        &path,
        json!({ "template_id": ubuntu, "ssh_key_ids": [key], "confirm": confirm }),
    )
    .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text());
    assert_eq!(asked.json()["log"]["action"], "reinstall");
    assert_eq!(asked.json()["log"]["status"], "pending");
    // While it runs the server is busy: no second reinstall, no power action.
    let again = call(
        &app,
        &login,
        Method::POST,
        &path,
        json!({ "template_id": ubuntu, "confirm": confirm }),
    )
    .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text());
    let reboot = call(
        &app,
        &login,
        Method::POST,
        &format!("/api/v1/services/{id}/actions"),
        json!({ "action": "reboot" }),
    )
    .await;
    assert_eq!(reboot.status, StatusCode::CONFLICT, "{}", reboot.text());
    assert!(reboot.text().contains("being reinstalled"));

    run_jobs(&app).await;
    let (status, details) = last_line(&app.db, id, "reinstall").await;
    assert_eq!(status, "success", "{details}");
    assert!(
        details.contains("Ubuntu 24.04") && details.contains("VM 5000"),
        "{details}"
    );
    // Same VM id and address; the new system's user, keys and a new password.
    let service = app
        .get_as(token(&login).unwrap(), &format!("/api/v1/services/{id}"))
        .await;
    let service = &service.json()["service"];
    assert_eq!(service["ip_address"], address.as_str());
    assert_eq!(service["username"], "ubuntu");
    assert_eq!(service["template_name"], "Ubuntu 24.04");
    let after = password(&app, &login, id).await;
    assert_ne!(after, before);
    let config = vm_config(&fake).await;
    assert_eq!(config["ciuser"], "ubuntu");
    assert!(config["cipassword"].as_str().is_some());
    assert_eq!(
        config["sshkeys"],
        encode_sshkeys(&stored_key(&app.db, key).await)
    );
    assert!(
        config["ipconfig0"].as_str().unwrap().contains(&address),
        "{config}"
    );
    let requests = fake.requests().await;
    let asked_for = |method: &str, tail: &str| {
        requests
            .iter()
            .filter(|(m, p)| m == method && p.ends_with(tail))
            .count()
    };
    assert_eq!(
        asked_for("DELETE", &format!("/qemu/{VMID}")),
        1,
        "{requests:?}"
    );
    assert_eq!(
        asked_for("POST", &format!("/qemu/{LINUX_TEMPLATE}/clone")),
        1
    );
    let running = fake
        .vms()
        .await
        .into_iter()
        .find(|vm| vm["vmid"] == VMID)
        .unwrap();
    assert_eq!(running["status"], "running");
    let mails = app.mails_to("sana@example.pk").await;
    assert!(
        mails
            .iter()
            .any(|m| m.contains(&format!("Your server #{id} was reinstalled"))),
        "{mails:?}"
    );

    // Two more today, then the customer waits; the operator may still (audited).
    for template in [windows, ubuntu] {
        let more = call(
            &app,
            &login,
            Method::POST,
            &path,
            json!({ "template_id": template, "confirm": confirm }),
        )
        .await;
        assert_eq!(more.status, StatusCode::ACCEPTED, "{}", more.text());
        run_jobs(&app).await;
        assert_eq!(last_line(&app.db, id, "reinstall").await.0, "success");
    }
    let limited = call(
        &app,
        &login,
        Method::POST,
        &path,
        json!({ "template_id": ubuntu, "confirm": confirm }),
    )
    .await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.text()
    );
    let operator = call(
        &app,
        &admin,
        Method::POST,
        &format!("/api/v1/admin/services/{id}/reinstall"),
        json!({ "template_id": windows, "confirm": confirm }),
    )
    .await;
    assert_eq!(operator.status, StatusCode::ACCEPTED, "{}", operator.text());
    let audited: i64 = sqlx::query_scalar(
        "select count(*) from audit_log where action = 'service.reinstall' and entity_id = $1",
    )
    .bind(id.to_string())
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(audited, 1);
    run_jobs(&app).await;
    let service = app
        .get_as(token(&login).unwrap(), &format!("/api/v1/services/{id}"))
        .await;
    assert_eq!(service.json()["service"]["username"], "Administrator");
    assert_eq!(vm_config(&fake).await["ciuser"], "Administrator");
}

#[sqlx::test]
async fn each_reinstall_step_looks_before_it_acts(db: PgPool) {
    let fake = FakePve::start().await;
    let app = TestApp::with_default_catalog(db).await;
    let Offered {
        admin,
        id,
        backend,
        ubuntu,
        ..
    } = offered_server(&app, &fake, "kiran@example.pk").await;
    let confirm = format!("srv{id}");
    let reinstall = |body: Value| {
        let app = &app;
        let admin = &admin;
        async move {
            let answer = call(
                app,
                admin,
                Method::POST,
                &format!("/api/v1/admin/services/{id}/reinstall"),
                body,
            )
            .await;
            assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text());
        }
    };

    // A system the backend has no template VM for: the reinstall fails before the old system
    // is touched.
    sqlx::query("delete from backend_os_templates where os_template_id = $1")
        .bind(ubuntu as i32)
        .execute(&app.db)
        .await
        .unwrap();
    let deletes = |requests: &[(String, String)]| {
        requests
            .iter()
            .filter(|(m, p)| m == "DELETE" && p.ends_with(&format!("/qemu/{VMID}")))
            .count()
    };
    reinstall(json!({ "template_id": ubuntu, "confirm": confirm })).await;
    run_jobs(&app).await;
    let (status, details) = last_line(&app.db, id, "reinstall").await;
    assert_eq!(status, "failed");
    assert!(
        details.contains("has no template VM for Ubuntu 24.04"),
        "{details}"
    );
    assert_eq!(
        deletes(&fake.requests().await),
        0,
        "the old system is untouched"
    );
    let running = fake
        .vms()
        .await
        .into_iter()
        .find(|vm| vm["vmid"] == VMID)
        .unwrap();
    assert_eq!(running["status"], "running");
    sqlx::query(
        "insert into backend_os_templates (backend_id, os_template_id, template_vmid)
         values ($1, $2, $3)",
    )
    .bind(backend)
    .bind(ubuntu as i32)
    .bind(crate::fakepve::LINUX_TEMPLATE as i32)
    .execute(&app.db)
    .await
    .unwrap();

    // A lost answer: the clone was made but the step still says `destroyed`. The job finds our
    // VM at the id and carries on without cloning again.
    reinstall(json!({ "template_id": ubuntu, "confirm": confirm })).await;
    sqlx::query("update service_reinstalls set step = 'destroyed' where service_id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    let clones_before = fake
        .requests()
        .await
        .iter()
        .filter(|(m, p)| m == "POST" && p.ends_with("/clone"))
        .count();
    run_jobs(&app).await;
    assert_eq!(last_line(&app.db, id, "reinstall").await.0, "success");
    let clones_after = fake
        .requests()
        .await
        .iter()
        .filter(|(m, p)| m == "POST" && p.ends_with("/clone"))
        .count();
    assert_eq!(clones_after, clones_before, "no second clone");

    // A VM at our id that is not ours is never deleted: the reinstall fails saying so.
    let client = ProxmoxClient::new(fake.client_config()).unwrap();
    client
        .update_config(
            NODE,
            VMID,
            &[("description", "someone else's VM".to_owned())],
        )
        .await
        .unwrap();
    reinstall(json!({ "template_id": ubuntu, "confirm": confirm })).await;
    run_jobs(&app).await;
    let (status, details) = last_line(&app.db, id, "reinstall").await;
    assert_eq!(status, "failed");
    assert!(
        details.contains("does not carry this service's marker"),
        "{details}"
    );
    let step: String = sqlx::query_scalar(
        "select step from service_reinstalls where service_id = $1 order by id desc limit 1",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(step, "failed");
    assert!(
        fake.vms().await.iter().any(|vm| vm["vmid"] == VMID),
        "the VM is still there"
    );
}

/// Waits (up to 10 s) for the page the last click loads to show `css`.
async fn wait_for(browser: &crate::browser::Browser, css: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while browser.count(css).await == 0 {
        assert!(std::time::Instant::now() < deadline, "no {css} after 10 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

#[sqlx::test]
async fn the_choice_and_the_reinstall_work_in_a_real_browser_on_desktop_and_phone(db: PgPool) {
    use crate::browser::{AppServer, Browser, PHONE};
    use crate::support_journey::{click, log_in, type_into};
    let Some(browser) = Browser::start().await else {
        return;
    };
    let fake = FakePve::start().await;
    let app = TestApp::with_default_catalog(db).await;
    let email = "zara@example.pk";
    let Offered {
        login, id, ubuntu, ..
    } = offered_server(&app, &fake, email).await;
    add_key(&app, &login).await;
    let server = AppServer::start(app.router.clone()).await;
    let client = browser.client();
    log_in(
        client,
        &server,
        &app.db,
        email,
        "correct-horse-battery",
        &format!("/plans/{PLAN}"),
    )
    .await;
    // The plan page: the systems to choose from and the customer's key.
    assert_eq!(browser.count("#template_id option").await, 2);
    assert_eq!(browser.count("input[name=ssh_key_ids]").await, 1);
    browser.screenshot("plan-system-choice-desktop").await;

    let page = format!("/account/services/{id}");
    browser.goto(&server.url(&page)).await;
    assert_eq!(browser.count("#reinstall-form").await, 1);
    browser
        .js(&format!(
            "document.querySelector('#reinstall-template').value = '{ubuntu}'; return null;"
        ))
        .await;
    click(client, "#reinstall-form input[name=ssh_key_ids]").await;
    // A wrong word first: the page says what to type, and nothing is queued.
    type_into(client, "#reinstall-confirm", "yes").await;
    click(client, "#reinstall-button").await;
    wait_for(&browser, "#reinstall-confirm-error").await;
    assert!(
        browser
            .text("#reinstall-confirm-error")
            .await
            .contains(&format!("srv{id}"))
    );
    type_into(client, "#reinstall-confirm", &format!("srv{id}")).await;
    click(client, "#reinstall-button").await;
    wait_for(&browser, "#reinstall-running").await;
    assert!(
        browser
            .text("#reinstall-running")
            .await
            .contains("Ubuntu 24.04")
    );
    browser.screenshot("reinstall-running-desktop").await;

    run_jobs(&app).await;
    browser.set_window_size(PHONE).await;
    browser.goto(&server.url(&page)).await;
    assert_eq!(browser.count("#reinstall-running").await, 0);
    let overflow = browser
        .js("return document.documentElement.scrollWidth > window.innerWidth;")
        .await;
    assert_eq!(overflow, json!(false), "the server's page fits a phone");
    browser.screenshot("reinstall-done-phone").await;

    // The operator's systems page, in a second browser, on a phone and at desktop width.
    let operator = browser.second_session().await;
    log_in(
        &operator,
        &server,
        &app.db,
        &format!("ops-{email}"),
        "operator-passphrase",
        "/admin/os-templates",
    )
    .await;
    let forms = operator
        .find_all(fantoccini::Locator::Css(
            "form.form[action^='/admin/os-templates']",
        ))
        .await
        .unwrap();
    assert_eq!(forms.len(), 3, "two systems and the new one");
    crate::browser::screenshot_of(&operator, "admin-systems-desktop").await;
    operator.close().await.unwrap();
    browser.close().await;
}
