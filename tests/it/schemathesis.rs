//! Schemathesis, property-based API testing, against the served `/api/v1/openapi.json`: the real
//! router over TCP with the default catalog and real data, fuzzed once with a customer's bearer
//! token and once with an operator's. No answer may be a 5xx, and every answer must be one the
//! document describes (status code, content type, headers and body schema). Schemathesis (MIT)
//! runs as a separate process from the venv `scripts/schemathesis-env` makes; `scripts/test`
//! names its `st` in `SCHEMATHESIS`.
//!
//! A failure prints Schemathesis' report: each case with a `curl` line that reproduces it (the
//! token filtered out) against a server started the same way. The run is reproducible: fixed
//! seed, one worker, no example database carried between runs.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use tokio::process::Command;

use crate::api::cart::location_of;
use crate::browser::AppServer;
use crate::helpers::TestApp;

/// The seed of every run: the same cases each time (change it to explore, then fix what it
/// finds and put it back).
const SEED: &str = "20260926";
/// Generated cases per operation (the coverage phase's boundary cases come on top): both runs
/// take about 70 s on an idle 2-core machine, so they stay well within three minutes in CI.
const MAX_EXAMPLES: &str = "50";
/// A bound on one run, so that a hung run fails instead of stalling the suite.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);

const PLAN: &str = "rdp-business-two";

#[sqlx::test]
async fn the_api_answers_as_its_document_says_to_a_customer_and_an_operator(db: PgPool) {
    let st = schemathesis();
    let app = TestApp::with_default_catalog(db).await;
    let operator = app.admin("owner@nextgenrdp.pk").await;
    let customer = app.verified_customer("ayesha@example.pk").await;
    seed_customer_data(&app, &customer, &operator).await;
    let server = AppServer::start(app.router.clone()).await;
    let document = server.url("/api/v1/openapi.json");

    // The customer's run leaves out the back office, where a customer only ever meets the
    // same 403 (tests/it/api/idor.rs holds every operator route to it); the operator's covers
    // the whole document.
    let mut failures = Vec::new();
    for (who, login, skip) in [
        (
            "customer",
            &customer,
            &["--exclude-path-regex", "^/api/v1/admin/"][..],
        ),
        ("operator", &operator, &[][..]),
    ] {
        let (ok, report) = run(&st, &document, token(login), skip).await;
        eprintln!("Schemathesis as the {who}:\n{}", summary(&report));
        if !ok {
            failures.push(format!(
                "===== Schemathesis as the {who} failed =====\n{report}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Real data for the fuzzer to find through the lists it reads: a paid order whose server the
/// operator set up by hand (an active service with credentials), a second order whose manual
/// transfer waits in the operator's review queue, and a plan in the cart.
async fn seed_customer_data(app: &TestApp, customer: &Value, operator: &Value) {
    let paid = order_with_transfer(app, customer, "TID88442211").await;
    app.approve_payment(token(operator), paid).await;
    let services = app.get_as(token(customer), "/api/v1/services").await.json();
    let service = services["items"][0]["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("the paid order made no service: {services}"));
    let provisioned = post(
        app,
        operator,
        &format!("/api/v1/admin/services/{service}/provision"),
        json!({
            "hostname": "rdp1.lahore.nextgenrdp.pk",
            "ip_address": "203.0.113.10",
            "username": "Administrator",
            "password": "Kx7vQ2mPz9wR-1",
        }),
    )
    .await;
    assert_eq!(provisioned.status, StatusCode::OK, "{}", provisioned.text());

    order_with_transfer(app, customer, "TID99553322").await;
    add_to_cart(app, customer).await;
}

async fn add_to_cart(app: &TestApp, customer: &Value) {
    let location = location_of(&app.db, PLAN).await;
    let added = post(
        app,
        customer,
        "/api/v1/cart/items",
        json!({ "plan_id": PLAN, "location_id": location }),
    )
    .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text());
}

/// An order of one plan with a manual transfer reported (in review); returns the payment id.
async fn order_with_transfer(app: &TestApp, customer: &Value, reference: &str) -> i64 {
    add_to_cart(app, customer).await;
    let placed = post(app, customer, "/api/v1/orders", json!({})).await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text());
    let order = placed.json()["order"]["id"].as_i64().unwrap();
    app.report_transfer(token(customer), order, reference, "jazzcash")
        .await["id"]
        .as_i64()
        .unwrap()
}

/// Runs Schemathesis over the document with `token` (less the operations `skip` filters out);
/// returns whether it passed, and its report.
async fn run(st: &PathBuf, document: &str, token: &str, skip: &[&str]) -> (bool, String) {
    // Its working directory holds its example database and crash cache: a fresh one each run,
    // so that no earlier run changes which cases this one tries.
    let workdir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let mut command = Command::new(st);
    command
        .arg("run")
        .arg(document)
        .args(["--header", &format!("Authorization: Bearer {token}")])
        // Every check, but one: `positive_data_acceptance` wants a 2xx for any body the schema
        // allows, and the shop refuses many such bodies by rules no schema can state (an
        // unknown promo code, an empty cart, a wrong current password, a spent link); those
        // refusals are documented 4xx answers, which the other checks do hold to the document.
        .args(["--checks", "all"])
        .args(["--exclude-checks", "positive_data_acceptance"])
        // Operations that would spoil the run itself or reach off this machine:
        // - logging out ends the session of the token under test, and the stateful phase
        //   reads the caller's own session id from GET /me/sessions and would end it through
        //   DELETE /me/sessions/{id}: everything after would be a 401. (DELETE /me/sessions
        //   ends the others only, so it stays.)
        // - a backend check connects to the backend's `api_url`, which the fuzzer writes: the
        //   suite sends no traffic off the machine.
        .args(["--exclude-operation-id", "logout"])
        .args(["--exclude-operation-id", "revoke_session"])
        .args(["--exclude-operation-id", "check_backend"])
        .args(skip)
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", SEED])
        .args(["--workers", "1"])
        .args(["--generation-database", "none"])
        // Generous for a debug build on a busy 2-core machine; the server's own limit is 30 s.
        .args(["--request-timeout", "20"])
        .args(["--wait-for-schema", "10"])
        .arg("--no-color")
        .current_dir(workdir.path())
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let output = tokio::time::timeout(RUN_TIMEOUT, command.output())
        .await
        .unwrap_or_else(|_| panic!("Schemathesis did not finish within {RUN_TIMEOUT:?}"))
        .expect("Schemathesis failed to start");
    let mut report = String::from_utf8_lossy(&output.stdout).into_owned();
    report.push_str(&String::from_utf8_lossy(&output.stderr));
    report.push_str(&format!(
        "\n({}, after {:.0?})\n",
        output.status,
        started.elapsed()
    ));
    (output.status.success(), report)
}

/// The summary at the end of a report (operations, phases, failures, cases, time).
fn summary(report: &str) -> &str {
    report
        .rfind("= SUMMARY =")
        .and_then(|at| report[at..].find('\n').map(|eol| &report[at + eol + 1..]))
        .unwrap_or(report)
}

/// The `st` executable: `$SCHEMATHESIS`, else the venv `scripts/schemathesis-env` makes.
fn schemathesis() -> PathBuf {
    let st = std::env::var_os("SCHEMATHESIS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/schemathesis-venv/bin/st")
        });
    assert!(
        st.exists(),
        "Schemathesis is not installed ({} is missing): run scripts/schemathesis-env, or set \
         SCHEMATHESIS to its `st`",
        st.display()
    );
    st
}

fn token(login: &Value) -> &str {
    login["access_token"].as_str().unwrap()
}

async fn post(
    app: &TestApp,
    login: &Value,
    path: &str,
    body: Value,
) -> crate::helpers::TestResponse {
    app.send_json_as(Some(token(login)), Method::POST, path, &body)
        .await
}
