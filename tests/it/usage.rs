//! Usage sampling against fakepve's status/current: the worker's `sample_usage` job turns the
//! VM's counters into bytes moved per sample (a counter reset after a reboot counted from zero),
//! adds them to the month's traffic, rolls samples up into hours, and the API and the page show
//! the series and "traffic this month" against the plan's allowance.

use std::time::Duration;

use axum::http::{Method, StatusCode};
use nextgenrdp::services::usage::allowance_bytes;
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::console::{active_server, app_with_consoles};
use crate::fakepve::FakePve;
use crate::helpers::TestApp;

const VMID: u32 = 5000;

/// Queues one `sample_usage` job and lets the worker run it.
async fn sample(app: &TestApp) {
    nextgenrdp::jobs::enqueue(&app.db, "sample_usage", &json!({}), None, None)
        .await
        .unwrap();
    app.deliver_mail().await;
}

async fn stats(fake: &FakePve, netin: u64, netout: u64) {
    fake.set_stats(
        VMID,
        json!({ "cpu": 0.25, "mem": 2_147_483_648u64, "netin": netin, "netout": netout,
                "diskread": netin / 2, "diskwrite": netout / 2 }),
    )
    .await;
}

fn token(login: &Value) -> &str {
    login["access_token"].as_str().unwrap()
}

#[sqlx::test]
async fn samples_become_bytes_moved_and_the_months_traffic(db: PgPool) {
    let fake = FakePve::start().await;
    let app = app_with_consoles(db, Duration::from_secs(600)).await;
    let (login, admin, id) = active_server(&app, &fake, "ayesha@example.pk").await;
    let base = format!("/api/v1/services/{id}/usage");

    // The first reading only sets the counters.
    stats(&fake, 1_000, 500).await;
    sample(&app).await;
    // A gigabyte in, half out; then the VM restarts and its counters start again.
    stats(&fake, 1_000_001_000, 500_000_500).await;
    sample(&app).await;
    stats(&fake, 2_000, 1_000).await;
    sample(&app).await;

    let day = app.get_as(token(&login), &base).await;
    assert_eq!(day.status, StatusCode::OK, "{}", day.text());
    let day = day.json();
    assert_eq!(day["range"], "24h");
    let points = day["points"].as_array().unwrap();
    assert_eq!(points.len(), 3);
    let moved_in: Vec<i64> = points
        .iter()
        .map(|p| p["net_in_bytes"].as_i64().unwrap())
        .collect();
    assert_eq!(moved_in, [0, 1_000_000_000, 2_000]);
    let moved_out: Vec<i64> = points
        .iter()
        .map(|p| p["net_out_bytes"].as_i64().unwrap())
        .collect();
    assert_eq!(moved_out, [0, 500_000_000, 1_000]);
    assert_eq!(points[1]["disk_read_bytes"], 500_000_000);
    assert!((points[0]["cpu"].as_f64().unwrap() - 0.25).abs() < 1e-6);
    assert_eq!(points[0]["mem_bytes"], 2_147_483_648u64);
    assert_eq!(day["traffic_used_bytes"], 1_500_003_000i64);
    let bandwidth: String = sqlx::query_scalar(
        "select p.bandwidth from plans p join services s on s.plan_id = p.id where s.id = $1",
    )
    .bind(id)
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(
        day["traffic_allowance_bytes"],
        json!(allowance_bytes(&bandwidth))
    );

    // The hours hold the sums.
    let week = app
        .get_as(token(&login), &format!("{base}?range=7d"))
        .await
        .json();
    let hours = week["points"].as_array().unwrap();
    let summed: i64 = hours
        .iter()
        .map(|p| p["net_in_bytes"].as_i64().unwrap())
        .sum();
    assert_eq!(summed, 1_000_002_000);

    // Bad ranges, strangers, operators.
    let bad = app.get_as(token(&login), &format!("{base}?range=1y")).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("24h, 7d or 30d"), "{}", bad.text());
    let stranger = app.verified_customer("bilal@example.pk").await;
    assert_eq!(
        app.get_as(token(&stranger), &base).await.status,
        StatusCode::NOT_FOUND
    );
    let operator = app
        .send_json_as(
            Some(token(&admin)),
            Method::GET,
            &format!("/api/v1/admin/services/{id}/usage?range=30d"),
            &json!(null),
        )
        .await;
    assert_eq!(operator.status, StatusCode::OK, "{}", operator.text());
    assert_eq!(operator.json()["traffic_used_bytes"], 1_500_003_000i64);

    // The page says it in words.
    let mut visitor = crate::pages::Visitor::new(&app);
    visitor
        .log_in("ayesha@example.pk", "correct-horse-battery")
        .await;
    let page = visitor.get(&format!("/account/services/{id}")).await.text();
    assert!(
        page.contains("Traffic this month: <strong id=\"traffic-used\">1.5 GB"),
        "{page}"
    );
    // Three charts with their numbers in words, and the ranges to switch to.
    assert_eq!(page.matches("<svg class=\"chart\"").count(), 3, "{page}");
    assert!(
        page.contains("<desc id=\"chart-cpu--last-24-hours-d\">average 25 %, peak 25 %</desc>"),
        "{page}"
    );
    assert!(page.contains("href=\"?range=7d#usage\""));
    let week = visitor
        .get(&format!("/account/services/{id}?range=7d"))
        .await
        .text();
    assert!(week.contains("CPU, last 7 days"), "{week}");
    // The operator's page shows the same card.
    let mut operator = crate::pages::Visitor::new(&app);
    operator
        .log_in(&admin_email(&app, &admin).await, "operator-passphrase")
        .await;
    let admin_page = operator.get(&format!("/admin/services/{id}")).await.text();
    assert_eq!(
        admin_page.matches("<svg class=\"chart\"").count(),
        3,
        "{admin_page}"
    );
}

async fn admin_email(app: &TestApp, admin: &Value) -> String {
    let id = admin["user"]["id"].as_i64().unwrap() as i32;
    sqlx::query_scalar("select email from users where id = $1")
        .bind(id)
        .fetch_one(&app.db)
        .await
        .unwrap()
}

/// One `sample_usage` round by a worker whose operator chose `overage` for used-up traffic.
async fn sample_with(app: &TestApp, overage: nextgenrdp::config::TrafficOverage) {
    nextgenrdp::jobs::enqueue(&app.db, "sample_usage", &json!({}), None, None)
        .await
        .unwrap();
    let provisioning = nextgenrdp::provisioning::Provisioning::new(
        nextgenrdp::crypto::Keyring::new(&nextgenrdp::crypto::Key::from_bytes([2; 32]), &[]),
        nextgenrdp::provisioning::LifecycleConfig {
            traffic_overage: overage,
            ..Default::default()
        },
        "http://shop.test".into(),
    );
    let mailer = nextgenrdp::mail::Mailer::files(
        app.mail_dir.path().to_path_buf(),
        "NextGenRDP <no-reply@shop.test>",
    );
    nextgenrdp::worker::Worker::new(app.db.clone(), std::sync::Arc::new(mailer), provisioning)
        .run_pending()
        .await
        .unwrap();
}

async fn net0(fake: &FakePve) -> String {
    let vm = fake
        .vms()
        .await
        .into_iter()
        .find(|vm| vm["vmid"] == VMID)
        .unwrap();
    // What the API's config shows: a running VM's change waits in `pending` on fakepve (a real
    // node with network hotplug, its default, applies it at once).
    vm["pending"]["net0"]
        .as_str()
        .or(vm["config"]["net0"].as_str())
        .map(str::to_owned)
        .unwrap_or_default()
}

#[sqlx::test]
async fn used_traffic_is_told_at_80_and_100_percent_and_throttled_until_the_month_ends(db: PgPool) {
    use nextgenrdp::config::TrafficOverage;
    let fake = FakePve::start().await;
    let app = app_with_consoles(db, Duration::from_secs(600)).await;
    let email = "hamza@example.pk";
    let (_login, _admin, id) = active_server(&app, &fake, email).await;
    sqlx::query("update plans set bandwidth = '1 GB' where id = $1")
        .bind(crate::provisioning::PLAN)
        .execute(&app.db)
        .await
        .unwrap();
    nextgenrdp::provisioning::proxmox::ProxmoxClient::new(fake.client_config())
        .unwrap()
        .update_config(
            crate::fakepve::NODE,
            VMID,
            &[("net0", "virtio,bridge=vmbr0".to_owned())],
        )
        .await
        .unwrap();
    let told = |mails: &[String], share: &str| {
        mails
            .iter()
            .filter(|m| m.contains(&format!("has used {share} % of its monthly traffic")))
            .count()
    };

    // 850 MB of 1 GB: the 80 % notice, once however often the sampler looks.
    stats(&fake, 1_000, 0).await;
    sample_with(&app, TrafficOverage::Throttle).await;
    stats(&fake, 850_001_000, 0).await;
    sample_with(&app, TrafficOverage::Throttle).await;
    sample_with(&app, TrafficOverage::Throttle).await;
    let mails = app.mails_to(email).await;
    assert_eq!(told(&mails, "80"), 1, "{mails:?}");
    assert_eq!(told(&mails, "100"), 0);
    assert!(
        !net0(&fake).await.contains("rate="),
        "not limited below 100 %"
    );

    // Past the allowance: the 100 % notice, and the NIC limited to 1 MB/s.
    stats(&fake, 1_200_001_000, 0).await;
    sample_with(&app, TrafficOverage::Throttle).await;
    sample_with(&app, TrafficOverage::Throttle).await;
    let mails = app.mails_to(email).await;
    assert_eq!(told(&mails, "100"), 1, "{mails:?}");
    assert!(mails.iter().any(|m| m.contains("limited to 1 MB/s")));
    let limited = net0(&fake).await;
    assert!(limited.ends_with("bridge=vmbr0,rate=1"), "{limited}");
    let lines: Vec<String> = sqlx::query_scalar(
        "select action from service_logs where service_id = $1 and action like 'traffic%'
         order by id",
    )
    .bind(id)
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(
        lines,
        ["traffic_notice", "traffic_notice", "traffic_throttle"]
    );

    // A new month: the limit is lifted.
    sqlx::query("update service_throttles set month = month - interval '1 month'")
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("delete from service_traffic")
        .execute(&app.db)
        .await
        .unwrap();
    sample_with(&app, TrafficOverage::Throttle).await;
    let lifted = net0(&fake).await;
    assert!(
        lifted.ends_with("bridge=vmbr0") && !lifted.contains("rate="),
        "{lifted}"
    );
    let left: i64 = sqlx::query_scalar("select count(*) from service_throttles")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
}

#[sqlx::test]
async fn an_operator_who_chose_nothing_sends_no_traffic_notices(db: PgPool) {
    use nextgenrdp::config::TrafficOverage;
    let fake = FakePve::start().await;
    let app = app_with_consoles(db, Duration::from_secs(600)).await;
    let email = "nida@example.pk";
    active_server(&app, &fake, email).await;
    sqlx::query("update plans set bandwidth = '1 GB' where id = $1")
        .bind(crate::provisioning::PLAN)
        .execute(&app.db)
        .await
        .unwrap();
    stats(&fake, 1_000, 0).await;
    sample_with(&app, TrafficOverage::Nothing).await;
    stats(&fake, 2_000_001_000, 0).await;
    sample_with(&app, TrafficOverage::Nothing).await;
    let mails = app.mails_to(email).await;
    assert!(
        !mails.iter().any(|m| m.contains("monthly traffic")),
        "{mails:?}"
    );
}
