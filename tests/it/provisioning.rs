//! Provisioning on Proxmox, end to end against fakepve run as a separate process: a paid order
//! becomes running VMs step by step; locks retry, failed tasks fail the service visibly and an
//! operator retry builds it; a worker that lost its place does not clone twice; two workers run
//! every job once; a sold-out location stops selling; no password is ever stored in clear.

use std::sync::Arc;

use axum::http::{Method, StatusCode};
use nextgenrdp::provisioning::Provisioning;
use nextgenrdp::provisioning::backends::{self, BackendFields, Template};
use nextgenrdp::services::services;
use nextgenrdp::services::{ProvisioningStep, ServiceStatus};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::api::cart::location_of;
use crate::fakepve::{FakePve, WINDOWS_TEMPLATE};
use crate::helpers::{TestApp, test_provisioning};

pub const PLAN: &str = "rdp-business-two";
const FIRST_VMID: i32 = 5000;

/// A Proxmox backend for the plan's first location, over `fake`, with `addresses` in its pool.
pub async fn proxmox_backend(db: &PgPool, fake: &FakePve, addresses: &[&str]) -> i32 {
    let ctx = test_provisioning();
    let location_id = location_of(db, PLAN).await;
    let mut tx = db.begin().await.unwrap();
    let backend = backends::insert(
        &mut *tx,
        &BackendFields {
            name: "pve-lahore".into(),
            driver: nextgenrdp::provisioning::backends::BackendDriver::Proxmox,
            location_id,
            is_active: true,
            api_url: Some(fake.url.clone()),
            token_id: Some(fake.token_id.clone()),
            tls_ca_pem: Some(fake.ca_pem.clone()),
            node: Some("pve1".into()),
            storage: Some("local-lvm".into()),
            bridge: Some("vmbr0".into()),
            vmid_min: Some(FIRST_VMID),
            vmid_max: Some(5999),
            ip_gateway: Some("203.0.113.1".into()),
            ip_prefix: Some(24),
            nameservers: Some("1.1.1.1 8.8.8.8".into()),
        },
        Some("v1:00000000:placeholder"),
    )
    .await
    .unwrap();
    let sealed = ctx.keyring.seal(
        &fake.token_secret,
        &Provisioning::backend_context(backend.id),
    );
    backends::set_token_secret(&mut *tx, backend.id, &sealed)
        .await
        .unwrap();
    backends::upsert_template(
        &mut *tx,
        &Template {
            backend_id: backend.id,
            plan_id: PLAN.into(),
            template_vmid: WINDOWS_TEMPLATE as i32,
            cores: 4,
            memory_mb: 8192,
            disk_gb: 80,
            username: "Administrator".into(),
            snapshot_limit: 0,
        },
    )
    .await
    .unwrap();
    let addresses: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
    backends::add_addresses(&mut *tx, backend.id, &addresses)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    backend.id
}

/// A verified customer orders `quantity` of the plan, pays by manual transfer, and the operator
/// approves it; returns (customer login, admin login, order id).
pub async fn paid_order(app: &TestApp, email: &str, quantity: i32) -> (Value, Value, i64) {
    let admin = app.admin(&format!("ops-{email}")).await;
    let login = app.verified_customer(email).await;
    let token = login["access_token"].as_str();
    let location = location_of(&app.db, PLAN).await;
    let added = app
        .send_json_as(
            token,
            Method::POST,
            "/api/v1/cart/items",
            &json!({ "plan_id": PLAN, "location_id": location, "quantity": quantity }),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
    let placed = app
        .send_json_as(token, Method::POST, "/api/v1/orders", &json!({}))
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let order = placed.json()["order"]["id"].as_i64().unwrap();
    let payment = app
        .report_transfer(
            token.unwrap(),
            order,
            &format!("TID{order}77{quantity}"),
            "bank",
        )
        .await;
    app.approve_payment(
        admin["access_token"].as_str().unwrap(),
        payment["id"].as_i64().unwrap(),
    )
    .await;
    (login, admin, order)
}

async fn services_of(db: &PgPool, order: i64) -> Vec<services::Service> {
    services::list_for_order(db, order as i32).await.unwrap()
}

async fn order_status(db: &PgPool, order: i64) -> String {
    sqlx::query_scalar("select status from orders where id = $1")
        .bind(order as i32)
        .fetch_one(db)
        .await
        .unwrap()
}

/// Runs every due job (the worker's `--once`).
async fn run_jobs(app: &TestApp) {
    app.deliver_mail().await;
}

/// Makes every queued job due now (skips retry backoffs and snoozes).
async fn make_jobs_due(db: &PgPool) {
    sqlx::query("update jobs set run_at = now() where status = 'queued'")
        .execute(db)
        .await
        .unwrap();
}

fn clones(requests: &[(String, String)]) -> usize {
    requests
        .iter()
        .filter(|(method, path)| method == "POST" && path.ends_with("/clone"))
        .count()
}

/// Every text value of every table holding `needle` (as `table.column`).
pub async fn columns_containing(db: &PgPool, needle: &str) -> Vec<String> {
    let columns: Vec<(String, String)> = sqlx::query_as(
        "select table_name::text, column_name::text from information_schema.columns
         where table_schema = 'public'
           and data_type in ('text', 'character varying', 'jsonb', 'json', 'bytea')",
    )
    .fetch_all(db)
    .await
    .unwrap();
    let mut found = Vec::new();
    for (table, column) in columns {
        // The names come from the catalog of our own schema, not from input.
        let hit: bool = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select exists (select 1 from \"{table}\" where \"{column}\"::text like '%' || $1 || '%')"
        )))
        .bind(needle)
        .fetch_one(db)
        .await
        .unwrap();
        if hit {
            found.push(format!("{table}.{column}"));
        }
    }
    found
}

#[sqlx::test]
async fn a_paid_order_is_built_on_proxmox_step_by_step(db: PgPool) {
    let fake = FakePve::start().await;
    let app = TestApp::with_default_catalog(db).await;
    proxmox_backend(
        &app.db,
        &fake,
        &["203.0.113.10", "203.0.113.11", "203.0.113.12"],
    )
    .await;
    let (login, _admin, order) = paid_order(&app, "ayesha@example.pk", 2).await;

    let created = services_of(&app.db, order).await;
    assert_eq!(created.len(), 2, "one service per unit bought");
    assert!(
        created
            .iter()
            .all(|s| s.status == ServiceStatus::Provisioning)
    );
    assert_eq!(order_status(&app.db, order).await, "processing");

    run_jobs(&app).await;
    let built = services_of(&app.db, order).await;
    for service in &built {
        assert_eq!(
            service.status,
            ServiceStatus::Active,
            "{:?}",
            service.failure_reason
        );
        assert_eq!(service.provisioning_step, ProvisioningStep::Done);
        assert!(service.next_renewal_date.is_some());
    }
    assert_eq!(order_status(&app.db, order).await, "active");
    let vmids: Vec<i32> = built.iter().map(|s| s.vmid.unwrap()).collect();
    assert_eq!(vmids, vec![FIRST_VMID, FIRST_VMID + 1]);
    let mut addresses: Vec<String> = built
        .iter()
        .map(|s| s.ip_address.clone().unwrap())
        .collect();
    addresses.dedup();
    assert_eq!(addresses.len(), 2, "each service has its own address");

    // The VMs as Proxmox sees them: cloned from the template, sized, addressed, running.
    let vms = fake.vms().await;
    for service in &built {
        let vm = vms
            .iter()
            .find(|vm| vm["vmid"] == service.vmid.unwrap())
            .expect("the VM exists on Proxmox");
        assert_eq!(vm["status"], "running");
        let config = &vm["config"];
        assert_eq!(
            config["description"],
            format!("nextgenrdp service {}", service.id)
        );
        assert_eq!(config["cores"].to_string().trim_matches('"'), "4");
        assert_eq!(config["memory"].to_string().trim_matches('"'), "8192");
        assert_eq!(config["ciuser"], "Administrator");
        assert_eq!(
            config["ipconfig0"],
            format!(
                "ip={}/24,gw=203.0.113.1",
                service.ip_address.as_deref().unwrap()
            )
        );
        // The password Proxmox got is the one the customer can reveal.
        let password = test_provisioning()
            .keyring
            .open(
                service.password_encrypted.as_deref().unwrap(),
                &Provisioning::service_context(service.id),
            )
            .unwrap();
        assert_eq!(config["cipassword"], password.expose_secret());
        assert!(
            columns_containing(&app.db, password.expose_secret())
                .await
                .is_empty(),
            "the password is stored only encrypted"
        );
    }
    assert_eq!(clones(&fake.requests().await), 2);
    assert!(
        columns_containing(&app.db, &fake.token_secret)
            .await
            .is_empty(),
        "the API token is stored only encrypted"
    );

    // The customer is told, without the password in the mail.
    let mails = app.mails_to("ayesha@example.pk").await;
    let ready: Vec<&String> = mails
        .iter()
        .filter(|m| m.contains("Subject: Your server #"))
        .collect();
    assert_eq!(ready.len(), 2);
    for mail in &ready {
        for service in &built {
            let sealed = service.password_encrypted.as_deref().unwrap();
            let password = test_provisioning()
                .keyring
                .open(sealed, &Provisioning::service_context(service.id))
                .unwrap();
            assert!(
                !mail.contains(password.expose_secret()),
                "no password by e-mail"
            );
        }
    }
    assert!(login["access_token"].is_string());

    // Running the jobs again changes nothing: no second clone.
    make_jobs_due(&app.db).await;
    run_jobs(&app).await;
    assert_eq!(clones(&fake.requests().await), 2);

    // The customer restarts a server: queued, carried out on Proxmox, one history line.
    let first = built[0].id;
    let asked = app
        .send_json_as(
            login["access_token"].as_str(),
            Method::POST,
            &format!("/api/v1/services/{first}/actions"),
            &json!({ "action": "reboot" }),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.text());
    run_jobs(&app).await;
    let reboots: Vec<(String, Option<String>)> = sqlx::query_as(
        "select status, details from service_logs where service_id = $1 and action = 'reboot'",
    )
    .bind(first)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(reboots.len(), 1, "{reboots:?}");
    assert_eq!(reboots[0].0, "success", "{reboots:?}");
    assert!(
        fake.requests().await.iter().any(|(m, p)| m == "POST"
            && p.ends_with(&format!("/{}/status/reboot", built[0].vmid.unwrap())))
    );
}

#[sqlx::test]
async fn a_config_lock_timeout_is_retried_with_backoff_then_succeeds(db: PgPool) {
    let fake = FakePve::start().await;
    let app = TestApp::with_default_catalog(db).await;
    proxmox_backend(&app.db, &fake, &["203.0.113.10"]).await;
    fake.fail_named(
        "POST",
        &format!("/nodes/pve1/qemu/{FIRST_VMID}/config"),
        "config_lock_timeout",
        Some(1),
    )
    .await;
    let (_login, _admin, order) = paid_order(&app, "bilal@example.pk", 1).await;

    run_jobs(&app).await;
    let service = &services_of(&app.db, order).await[0];
    assert_eq!(
        service.status,
        ServiceStatus::Provisioning,
        "a lock is not a failure"
    );
    assert_eq!(
        service.provisioning_step,
        ProvisioningStep::Cloned,
        "the clone is kept"
    );
    let (status, attempts, error): (String, i32, Option<String>) = sqlx::query_as(
        "select status, attempts, last_error from jobs where kind = 'provision_service'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(status, "queued", "queued again after a backoff");
    assert_eq!(attempts, 1);
    assert!(error.unwrap().contains("lock"), "the lock is recorded");

    make_jobs_due(&app.db).await;
    run_jobs(&app).await;
    let service = &services_of(&app.db, order).await[0];
    assert_eq!(
        service.status,
        ServiceStatus::Active,
        "{:?}",
        service.failure_reason
    );
    assert_eq!(
        clones(&fake.requests().await),
        1,
        "the retry did not clone again"
    );
}

#[sqlx::test]
async fn a_failed_clone_task_fails_the_service_visibly_and_an_operator_retry_builds_it(db: PgPool) {
    let fake = FakePve::start().await;
    let app = TestApp::with_default_catalog(db).await;
    proxmox_backend(&app.db, &fake, &["203.0.113.10"]).await;
    // The storage is too small for the clone: its task ends with TASK ERROR (HTTP was 200).
    fake.set_storage_avail("local-lvm", Some(1 << 30)).await;
    let (_login, admin, order) = paid_order(&app, "sana@example.pk", 1).await;

    run_jobs(&app).await;
    let service = services_of(&app.db, order).await.remove(0);
    assert_eq!(service.status, ServiceStatus::Failed);
    let reason = service.failure_reason.clone().unwrap();
    assert!(reason.contains("No space left"), "{reason}");
    let logs = nextgenrdp::services::logs::list_for_service(&app.db, service.id)
        .await
        .unwrap();
    assert!(
        logs.iter()
            .any(|l| l.action == "provision" && l.status == "failed")
    );
    assert_eq!(order_status(&app.db, order).await, "processing");

    // The operator makes room and retries: the service is built.
    fake.set_storage_avail("local-lvm", None).await;
    let admin_id = admin["user"]["id"].as_i64().unwrap() as i32;
    let actor = nextgenrdp::audit::Actor {
        user_id: admin_id,
        ip: "127.0.0.1",
    };
    nextgenrdp::services::lifecycle::retry(&app.db, &actor, service.id)
        .await
        .unwrap();
    run_jobs(&app).await;
    let service = services_of(&app.db, order).await.remove(0);
    assert_eq!(
        service.status,
        ServiceStatus::Active,
        "{:?}",
        service.failure_reason
    );
    assert_eq!(order_status(&app.db, order).await, "active");
    let vms = fake.vms().await;
    assert_eq!(
        vms.iter().filter(|vm| vm["vmid"] == FIRST_VMID).count(),
        1,
        "one VM"
    );
}

#[sqlx::test]
async fn a_worker_that_lost_its_place_after_cloning_carries_on_without_a_second_vm(db: PgPool) {
    let fake = FakePve::start().await;
    let app = TestApp::with_default_catalog(db).await;
    proxmox_backend(&app.db, &fake, &["203.0.113.10"]).await;
    // Stop the run after the clone (a lock at the configuration step)...
    fake.fail_named(
        "POST",
        &format!("/nodes/pve1/qemu/{FIRST_VMID}/config"),
        "config_lock_timeout",
        Some(1),
    )
    .await;
    let (_login, _admin, order) = paid_order(&app, "kamran@example.pk", 1).await;
    run_jobs(&app).await;
    let service = services_of(&app.db, order).await.remove(0);
    assert_eq!(service.provisioning_step, ProvisioningStep::Cloned);
    // ...then lose what it recorded, as a worker killed between issuing the clone and saving
    // the step would.
    sqlx::query(
        "update services set provisioning_step = 'allocated', task_upid = null where id = $1",
    )
    .bind(service.id)
    .execute(&app.db)
    .await
    .unwrap();

    make_jobs_due(&app.db).await;
    run_jobs(&app).await;
    let service = services_of(&app.db, order).await.remove(0);
    assert_eq!(
        service.status,
        ServiceStatus::Active,
        "{:?}",
        service.failure_reason
    );
    assert_eq!(service.vmid, Some(FIRST_VMID), "it found its own VM");
    assert_eq!(clones(&fake.requests().await), 1, "no second clone");
    assert_eq!(fake.vms().await.len(), 3, "two templates and one VM");
}

#[sqlx::test]
async fn a_vm_id_taken_by_a_vm_that_is_not_ours_is_burnt_and_another_used(db: PgPool) {
    let fake = FakePve::start().await;
    let app = TestApp::with_default_catalog(db).await;
    let backend = proxmox_backend(&app.db, &fake, &["203.0.113.10"]).await;
    // Somebody made VM 5000 by hand.
    let client =
        nextgenrdp::provisioning::proxmox::ProxmoxClient::new(fake.client_config()).unwrap();
    let upid = client
        .clone_vm(
            "pve1",
            WINDOWS_TEMPLATE,
            &nextgenrdp::provisioning::proxmox::CloneRequest {
                newid: FIRST_VMID as u32,
                name: "someone-elses",
                description: Some("made by hand"),
                storage: None,
                full: true,
            },
        )
        .await
        .unwrap();
    client
        .wait_task(
            &upid,
            std::time::Duration::from_secs(10),
            std::time::Duration::from_millis(100),
        )
        .await
        .unwrap();

    let (_login, _admin, order) = paid_order(&app, "zara@example.pk", 1).await;
    run_jobs(&app).await;
    let service = services_of(&app.db, order).await.remove(0);
    assert_eq!(
        service.status,
        ServiceStatus::Active,
        "{:?}",
        service.failure_reason
    );
    assert_eq!(service.vmid, Some(FIRST_VMID + 1));
    let burnt: Option<String> =
        sqlx::query_scalar("select burnt_reason from vm_ids where backend_id = $1 and vmid = $2")
            .bind(backend)
            .bind(FIRST_VMID)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert!(burnt.is_some());
    let vms = fake.vms().await;
    let theirs = vms.iter().find(|vm| vm["vmid"] == FIRST_VMID).unwrap();
    assert_eq!(theirs["name"], "someone-elses", "their VM is left alone");
}

#[sqlx::test]
async fn two_workers_build_every_service_once(db: PgPool) {
    let fake = FakePve::start().await;
    let app = TestApp::with_default_catalog(db).await;
    proxmox_backend(
        &app.db,
        &fake,
        &[
            "203.0.113.10",
            "203.0.113.11",
            "203.0.113.12",
            "203.0.113.13",
        ],
    )
    .await;
    let (_login, _admin, order) = paid_order(&app, "hamza@example.pk", 4).await;

    let worker = || {
        let mailer = nextgenrdp::mail::Mailer::files(
            app.mail_dir.path().to_path_buf(),
            "NextGenRDP <no-reply@shop.test>",
        );
        nextgenrdp::worker::Worker::new(app.db.clone(), Arc::new(mailer), test_provisioning())
    };
    let (one, two) = (worker(), worker());
    let (a, b) = tokio::join!(one.run_pending(), two.run_pending());
    a.unwrap();
    b.unwrap();

    let built = services_of(&app.db, order).await;
    assert_eq!(built.len(), 4);
    assert!(
        built.iter().all(|s| s.status == ServiceStatus::Active),
        "{built:?}"
    );
    assert_eq!(
        clones(&fake.requests().await),
        4,
        "every service cloned once"
    );
    let mut vmids: Vec<i32> = built.iter().map(|s| s.vmid.unwrap()).collect();
    vmids.sort();
    vmids.dedup();
    assert_eq!(vmids.len(), 4);
    let runs: i64 = sqlx::query_scalar(
        "select count(*) from jobs where kind = 'provision_service' and status = 'succeeded'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(runs, 4);
}

#[sqlx::test]
async fn a_location_whose_pool_is_empty_stops_selling(db: PgPool) {
    let fake = FakePve::start().await;
    let app = TestApp::with_default_catalog(db).await;
    proxmox_backend(&app.db, &fake, &["203.0.113.10"]).await;
    let location = location_of(&app.db, PLAN).await;
    let login = app.verified_customer("nida@example.pk").await;
    let token = login["access_token"].as_str();

    let two = app
        .send_json_as(
            token,
            Method::POST,
            "/api/v1/cart/items",
            &json!({ "plan_id": PLAN, "location_id": location, "quantity": 2 }),
        )
        .await;
    assert_eq!(two.status, StatusCode::CONFLICT, "{}", two.text());
    assert!(two.text().contains("only 1 more server"), "{}", two.text());

    // The one address goes to a paid order...
    paid_order(&app, "omar@example.pk", 1).await;
    run_jobs(&app).await;
    // ...and the location is sold out: the plan page says so and nothing more can be bought.
    let page = app.get(&format!("/plans/{PLAN}")).await.text();
    assert!(page.contains("sold out"), "the storefront says so");
    let one = app
        .send_json_as(
            token,
            Method::POST,
            "/api/v1/cart/items",
            &json!({ "plan_id": PLAN, "location_id": location }),
        )
        .await;
    assert_eq!(one.status, StatusCode::CONFLICT);
    assert!(one.text().contains("sold out"), "{}", one.text());
}

/// The `nextgenrdp worker` binary on the test database, with the tests' credential key.
fn worker_binary(db: &PgPool, data_dir: &std::path::Path, once: bool) -> std::process::Command {
    let mut command = std::process::Command::new(crate::helpers::binary());
    command.arg("worker");
    if once {
        command.arg("--once");
    }
    command
        .env("DATABASE_URL", crate::helpers::database_url_for(db))
        .env("NEXTGENRDP_DATA_DIR", data_dir)
        .env("NEXTGENRDP_CREDENTIAL_KEY", hex::encode([2u8; 32]))
        .env("NEXTGENRDP_TOKEN_SIGNING_KEY", hex::encode([1u8; 32]))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    command
}

#[sqlx::test]
async fn a_worker_killed_mid_provisioning_is_resumed_by_another_without_a_second_vm(db: PgPool) {
    let fake = FakePve::start().await;
    let app = TestApp::with_default_catalog(db).await;
    proxmox_backend(&app.db, &fake, &["203.0.113.10"]).await;
    let (_login, _admin, order) = paid_order(&app, "yusuf@example.pk", 1).await;
    // Every Proxmox answer takes 0.3 s, so provisioning takes seconds and can be cut short.
    fake.set_time_scale(1.0).await;
    fake.set_latency(0.3).await;
    let data_dir = tempfile::tempdir().unwrap();
    let mut worker = worker_binary(&app.db, data_dir.path(), false)
        .spawn()
        .unwrap();
    // Kill -9 as soon as the clone has been asked for: between steps, no clean shutdown.
    let mut cloned = false;
    for _ in 0..300 {
        if clones(&fake.requests().await) > 0 {
            cloned = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    worker.kill().unwrap();
    worker.wait().unwrap();
    assert!(cloned, "the worker never reached the clone");
    let service = services_of(&app.db, order).await.remove(0);
    assert_eq!(
        service.status,
        ServiceStatus::Provisioning,
        "killed before it could finish"
    );
    assert_ne!(service.provisioning_step, ProvisioningStep::Done);

    // Its lock on the job expires (as the stale-lock timeout would make it), and another
    // worker takes over from the recorded step.
    sqlx::query("update jobs set locked_at = now() - interval '1 hour' where status = 'running'")
        .execute(&app.db)
        .await
        .unwrap();
    fake.set_latency(0.0).await;
    fake.set_time_scale(0.01).await;
    make_jobs_due(&app.db).await;
    let status = worker_binary(&app.db, data_dir.path(), true)
        .status()
        .unwrap();
    assert!(status.success());
    let service = services_of(&app.db, order).await.remove(0);
    assert_eq!(
        service.status,
        ServiceStatus::Active,
        "{:?}",
        service.failure_reason
    );
    assert_eq!(
        clones(&fake.requests().await),
        1,
        "one clone, whatever the kill"
    );
    let ours = fake
        .vms()
        .await
        .into_iter()
        .filter(|vm| vm["name"].as_str().is_some_and(|n| n.starts_with("ngr-")))
        .count();
    assert_eq!(ours, 1, "one VM");
}
