//! Faults, through the real binary: a node killed with SIGKILL in the middle of checkouts and
//! payment approvals, PostgreSQL stopped and started again under load, and two nodes sharing one
//! database while their workers build servers.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::api::cart::location_of;
use crate::fakepve::FakePve;
use crate::helpers::{Node, TestApp, database_url_for, free_port, run_binary};
use crate::provisioning::{PLAN, proxmox_backend};

fn token(login: &Value) -> String {
    login["access_token"].as_str().unwrap().to_owned()
}

/// What the shoppers saw: HTTP statuses, and 0 for a request that got no answer.
type Seen = Arc<Mutex<Vec<u16>>>;

fn record(seen: &Seen, result: &Result<reqwest::Response, reqwest::Error>) {
    let status = result.as_ref().map_or(0, |r| r.status().as_u16());
    seen.lock().unwrap().push(status);
}

/// A customer shopping in a loop: a plan into the cart, checkout, a manual transfer reported.
async fn shop(
    base: Arc<Mutex<String>>,
    token: String,
    location: i32,
    stop: Arc<AtomicBool>,
    seen: Seen,
) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut round = 0;
    while !stop.load(Ordering::Relaxed) {
        round += 1;
        let base = base.lock().unwrap().clone();
        let added = client
            .post(format!("{base}/api/v1/cart/items"))
            .bearer_auth(&token)
            .json(&json!({ "plan_id": PLAN, "location_id": location, "quantity": 1 + round % 2, "validity_months": 1 }))
            .send()
            .await;
        record(&seen, &added);
        let placed = client
            .post(format!("{base}/api/v1/orders"))
            .bearer_auth(&token)
            .header(
                "idempotency-key",
                format!("{}-{round}", &token[token.len() - 12..]),
            )
            .json(&json!({}))
            .send()
            .await;
        record(&seen, &placed);
        let Ok(placed) = placed else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        if placed.status() != 201 {
            continue;
        }
        let Ok(body) = placed.json::<Value>().await else {
            continue;
        };
        let order = body["order"]["id"].as_i64().unwrap();
        let paid = client
            .post(format!("{base}/api/v1/orders/{order}/payments"))
            .bearer_auth(&token)
            .json(&json!({ "method": "manual", "reference": format!("TID{order}0{round}9"), "channel": "bank" }))
            .send()
            .await;
        record(&seen, &paid);
    }
}

/// The operator approving every transfer waiting for review, in a loop.
async fn approve_all(base: &str, token: &str, seen: Option<&Seen>) -> usize {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let Ok(listed) = client
        .get(format!(
            "{base}/api/v1/admin/payments?status=review&per_page=100"
        ))
        .bearer_auth(token)
        .send()
        .await
    else {
        return 0;
    };
    let Ok(listed) = listed.json::<Value>().await else {
        return 0;
    };
    let mut approved = 0;
    for payment in listed["items"].as_array().into_iter().flatten() {
        let id = payment["id"].as_i64().unwrap();
        let result = client
            .post(format!("{base}/api/v1/admin/payments/{id}/approve"))
            .bearer_auth(token)
            .json(&json!({}))
            .send()
            .await;
        if let Some(seen) = seen {
            record(seen, &result);
        }
        if result.is_ok_and(|r| r.status() == 200) {
            approved += 1;
        }
    }
    approved
}

/// Every order whole: items present and summing to its total, final = total − discount; every
/// paid order has one service per unit bought and is covered exactly by succeeded payments;
/// no service belongs to an unpaid order. Returns the ids of orders breaking a rule, by rule.
async fn broken_orders(db: &PgPool) -> Vec<(String, Vec<i32>)> {
    let rules = [
        (
            "orders without items or whose total is not the sum of their lines",
            "select o.id from orders o left join order_items i on i.order_id = o.id
             group by o.id
             having count(i.id) = 0
                 or o.total_amount_pkr <> coalesce(sum(i.price_at_order_pkr * i.quantity * i.validity_months), 0)
                 or o.final_amount_pkr <> o.total_amount_pkr - coalesce(o.discount_amount_pkr, 0)",
        ),
        (
            "paid orders without one service per unit",
            "select o.id from orders o
             where o.status in ('paid', 'processing', 'active')
               and (select count(*) from services s join order_items i on s.order_item_id = i.id
                    where i.order_id = o.id)
                   <> (select sum(quantity) from order_items i where i.order_id = o.id)",
        ),
        (
            "paid orders not covered exactly by succeeded payments",
            "select o.id from orders o
             where o.status in ('paid', 'processing', 'active')
               and o.final_amount_pkr <> (select coalesce(sum(amount_pkr), 0) from payments p
                                          where p.order_id = o.id and p.status = 'succeeded')",
        ),
        (
            "services of orders that are not paid",
            "select distinct o.id from services s join order_items i on s.order_item_id = i.id
             join orders o on o.id = i.order_id
             where o.status not in ('paid', 'processing', 'active')",
        ),
    ];
    let mut broken = Vec::new();
    for (rule, sql) in rules {
        let ids: Vec<i32> = sqlx::query_scalar(sql).fetch_all(db).await.unwrap();
        if !ids.is_empty() {
            broken.push((rule.to_owned(), ids));
        }
    }
    broken
}

/// How many times each status was seen.
fn histogram(seen: &Seen) -> std::collections::BTreeMap<u16, usize> {
    let mut counts = std::collections::BTreeMap::new();
    for status in seen.lock().unwrap().iter() {
        *counts.entry(*status).or_default() += 1;
    }
    counts
}

async fn count(db: &PgPool, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(db).await.unwrap()
}

#[sqlx::test]
async fn a_node_killed_mid_checkout_leaves_every_order_whole(db: PgPool) {
    let app = TestApp::with_default_catalog(db.clone()).await;
    let admin = token(&app.admin("operator@nextgenrdp.pk").await);
    let mut shoppers = Vec::new();
    for n in 0..8 {
        shoppers.push(token(
            &app.verified_customer(&format!("shopper{n}@example.pk"))
                .await,
        ));
    }
    let location = location_of(&db, PLAN).await;
    let data_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut node = Node::spawn(&database_url_for(&db), port, data_dir.path(), "node");
    node.wait_up().await;
    let base = Arc::new(Mutex::new(node.base.clone()));

    let stop = Arc::new(AtomicBool::new(false));
    let seen: Seen = Arc::default();
    let mut tasks = Vec::new();
    for shopper in &shoppers {
        tasks.push(tokio::spawn(shop(
            base.clone(),
            shopper.clone(),
            location,
            stop.clone(),
            seen.clone(),
        )));
    }
    let approver = {
        let (base, admin, stop, seen) =
            (node.base.clone(), admin.clone(), stop.clone(), seen.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                approve_all(&base, &admin, Some(&seen)).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };

    // Load until some orders are paid, then SIGKILL in the middle of it.
    let deadline = Instant::now() + Duration::from_secs(60);
    // (A paid order whose servers await the operator is `processing`.)
    while count(&db, "select count(*) from orders where paid_at is not null").await < 5 {
        assert!(
            Instant::now() < deadline,
            "no order got paid under load; statuses seen: {:?}\n{}",
            histogram(&seen),
            node.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    node.kill9();
    let orders_at_kill = count(&db, "select count(*) from orders").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        seen.lock().unwrap().contains(&0),
        "some requests were cut off by the kill"
    );

    // Restart on the same port; the shoppers carry on.
    let mut node = Node::spawn(&database_url_for(&db), port, data_dir.path(), "node-2");
    node.wait_up().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    while count(&db, "select count(*) from orders").await < orders_at_kill + 10 {
        assert!(
            Instant::now() < deadline,
            "checkout did not resume after the restart"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    approver.await.unwrap();
    while approve_all(&node.base, &admin, None).await > 0 {}
    node.terminate();

    let statuses = seen.lock().unwrap().clone();
    assert!(
        !statuses.iter().any(|s| *s >= 500),
        "no request may fail with a server error: {:?}",
        statuses.iter().filter(|s| **s >= 500).collect::<Vec<_>>()
    );
    let broken = broken_orders(&db).await;
    assert!(broken.is_empty(), "broken orders: {broken:?}");
    let paid = count(&db, "select count(*) from orders where paid_at is not null").await;
    let total = count(&db, "select count(*) from orders").await;
    // (An order stays unpaid only when the kill cut its checkout's answer or its transfer's
    // report; whether the SIGKILL lands there is chance, so that is not asserted.)
    assert!(paid >= 10 && total >= paid, "paid {paid} of {total}");
    // The idempotency record of every order points at a whole order.
    assert_eq!(
        count(
            &db,
            "select count(*) from idempotency_keys k where k.order_id is not null
             and not exists (select 1 from orders o where o.id = k.order_id)"
        )
        .await,
        0
    );
}

#[sqlx::test]
async fn postgres_restarted_under_load_means_503s_then_recovery_without_a_restart(_db: PgPool) {
    use nextgenrdp::db::embedded::EmbeddedCluster;

    // Its own cluster, to stop and start: under /tmp so the unprivileged server user reaches it.
    let pg_dir = tempfile::Builder::new()
        .prefix("ngr-fault-pg")
        .tempdir_in("/tmp")
        .unwrap();
    let cluster = EmbeddedCluster::start(pg_dir.path()).await.unwrap();
    let url = cluster.database_url().to_owned();
    let data_dir = tempfile::tempdir().unwrap();
    let mut node = Node::spawn(&url, free_port(), data_dir.path(), "node");
    node.wait_up().await;

    // A customer made as an operator would, logged in through the API.
    let create = run_binary(
        &url,
        &[
            "user",
            "create",
            "--email",
            "farah@example.pk",
            "--name",
            "Farah",
        ],
        &[("NEXTGENRDP_BCRYPT_COST", "4")],
        "correct-horse-battery\n",
    );
    assert!(create.status.success(), "{create:?}");
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let login: Value = client
        .post(format!("{}/api/v1/auth/login", node.base))
        .json(&json!({ "email": "farah@example.pk", "password": "correct-horse-battery" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token(&login);

    // Load: the customer's orders (a database read per request), and readiness.
    let stop = Arc::new(AtomicBool::new(false));
    let seen: Arc<Mutex<Vec<(Instant, u16)>>> = Arc::default();
    let mut tasks = Vec::new();
    for n in 0..4 {
        let (client, base, token, stop, seen) = (
            client.clone(),
            node.base.clone(),
            token.clone(),
            stop.clone(),
            seen.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let path = if n == 0 { "/readyz" } else { "/api/v1/orders" };
                let result = client
                    .get(format!("{base}{path}"))
                    .bearer_auth(&token)
                    .send()
                    .await;
                let status = result.map_or(0, |r| r.status().as_u16());
                seen.lock().unwrap().push((Instant::now(), status));
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;

    let stopped = Instant::now();
    cluster.stop().await.unwrap();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let cluster = EmbeddedCluster::start(pg_dir.path()).await.unwrap();
    let restarted = Instant::now();
    assert_eq!(cluster.database_url(), url);
    // Recovery: the same node answers again, without being restarted.
    let deadline = restarted + Duration::from_secs(30);
    loop {
        let recent: Vec<u16> = seen
            .lock()
            .unwrap()
            .iter()
            .rev()
            .take(12)
            .map(|(_, s)| *s)
            .collect();
        if recent.len() == 12 && recent.iter().all(|s| *s == 200) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no recovery: {recent:?}\n{}",
            node.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    assert!(
        node.child.try_wait().unwrap().is_none(),
        "the node kept running"
    );

    let seen = seen.lock().unwrap().clone();
    let before: Vec<u16> = seen
        .iter()
        .filter(|(at, _)| *at < stopped)
        .map(|(_, s)| *s)
        .collect();
    assert!(
        !before.is_empty() && before.iter().all(|s| *s == 200),
        "{before:?}"
    );
    let down: Vec<u16> = seen
        .iter()
        .filter(|(at, _)| *at > stopped + Duration::from_millis(200) && *at < restarted)
        .map(|(_, s)| *s)
        .collect();
    assert!(
        down.iter().filter(|s| **s == 503).count() >= 4,
        "503s while the database was down: {down:?}"
    );
    let unclear: Vec<&(Instant, u16)> = seen
        .iter()
        .filter(|(_, s)| *s != 200 && *s != 503)
        .collect();
    assert!(
        unclear.is_empty(),
        "every answer is 200 or 503, none cut off: {:?}\n{}",
        unclear.iter().map(|(_, s)| s).collect::<Vec<_>>(),
        node.log_text()
    );
    node.terminate();
    cluster.stop().await.unwrap();
}

#[sqlx::test]
async fn two_nodes_on_one_database_run_every_job_once_and_build_every_server_once(db: PgPool) {
    let fake = FakePve::start().await;
    fake.set_time_scale(0.01).await;
    let app = TestApp::with_default_catalog(db.clone()).await;
    let addresses: Vec<String> = (10..40).map(|n| format!("203.0.113.{n}")).collect();
    let addresses: Vec<&str> = addresses.iter().map(String::as_str).collect();
    proxmox_backend(&db, &fake, &addresses).await;
    let admin = token(&app.admin("operator@nextgenrdp.pk").await);
    let mut customers = Vec::new();
    for n in 0..8 {
        customers.push(token(
            &app.verified_customer(&format!("buyer{n}@example.pk")).await,
        ));
    }
    // Everything the in-process app queued so far (verification mails) is done.
    assert_eq!(
        count(&db, "select count(*) from jobs where status = 'queued'").await,
        0
    );

    // Two nodes on the same database, each with its own worker and mail folder.
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let mut nodes = [
        Node::spawn(&database_url_for(&db), free_port(), dirs[0].path(), "a"),
        Node::spawn(&database_url_for(&db), free_port(), dirs[1].path(), "b"),
    ];
    for node in &mut nodes {
        node.wait_up().await;
    }
    let location = location_of(&db, PLAN).await;
    let client = reqwest::Client::new();
    // Customers buy through both nodes, alternately, while both nodes' workers run; the
    // operator approves on either.
    let mut units = 0;
    for (n, customer) in customers.iter().enumerate() {
        let base = &nodes[n % 2].base;
        let quantity = 1 + (n % 2) as i64;
        units += quantity;
        let added = client
            .post(format!("{base}/api/v1/cart/items"))
            .bearer_auth(customer)
            .json(&json!({ "plan_id": PLAN, "location_id": location, "quantity": quantity }))
            .send()
            .await
            .unwrap();
        assert_eq!(added.status(), 201);
        let placed: Value = client
            .post(format!("{base}/api/v1/orders"))
            .bearer_auth(customer)
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let order = placed["order"]["id"].as_i64().unwrap();
        let paid = client
            .post(format!("{base}/api/v1/orders/{order}/payments"))
            .bearer_auth(customer)
            .json(&json!({ "method": "manual", "reference": format!("TID{order}5511"), "channel": "bank" }))
            .send()
            .await
            .unwrap();
        assert_eq!(paid.status(), 201);
        approve_all(&nodes[(n + 1) % 2].base, &admin, None).await;
    }

    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let active = count(&db, "select count(*) from services where status = 'active'").await;
        let pending = count(
            &db,
            "select count(*) from jobs
             where status = 'running' or (status = 'queued' and run_at <= now())",
        )
        .await;
        if active == units && pending == 0 {
            break;
        }
        let failed = count(&db, "select count(*) from services where status = 'failed'").await;
        assert_eq!(
            failed,
            0,
            "a build failed:\n{}\n{}",
            nodes[0].log_text(),
            nodes[1].log_text()
        );
        assert!(
            Instant::now() < deadline,
            "{active} of {units} services active, {pending} jobs pending"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for node in &mut nodes {
        node.terminate();
    }

    // Every server built once: one clone per service, one VM id and one address each.
    let requests = fake.requests().await;
    let clones = requests
        .iter()
        .filter(|(method, path)| method == "POST" && path.ends_with("/clone"))
        .count();
    assert_eq!(clones as i64, units, "one clone per service");
    assert_eq!(
        count(
            &db,
            "select count(distinct vmid) from services where vmid is not null"
        )
        .await,
        units
    );
    assert_eq!(
        count(
            &db,
            "select count(*) from ip_addresses where service_id is not null"
        )
        .await,
        units
    );
    // Every job ran once: none failed, none was taken twice (a snooze while a Proxmox task
    // runs costs no attempt), and every e-mail job wrote one mail, on one node or the other.
    assert_eq!(
        count(&db, "select count(*) from jobs where status = 'failed'").await,
        0
    );
    let retried: Vec<(String, i32, Option<String>)> = sqlx::query_as(
        "select kind, attempts, last_error from jobs where status = 'succeeded' and attempts <> 1",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(retried.is_empty(), "jobs not run exactly once: {retried:?}");
    let mails_sent = count(
        &db,
        "select count(*) from jobs where kind = 'send_email' and status = 'succeeded'
         and finished_at > (select min(created_at) from orders)",
    )
    .await;
    let per_node: Vec<usize> = dirs
        .iter()
        .map(|dir| {
            walk(dir.path())
                .iter()
                .filter(|p| p.extension().is_some_and(|e| e == "eml"))
                .count()
        })
        .collect();
    let mail_files: usize = per_node.iter().sum();
    assert!(mails_sent > 0);
    assert_eq!(mail_files as i64, mails_sent, "one mail per e-mail job");
    eprintln!("mails written per node: {per_node:?}");
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}
