//! Integrators' clients, generated from the document the shop serves: `openapi-python-client`
//! (PyPI) must generate without a single warning, and the generated package alone then drives the
//! whole purchase against the real router over TCP (`tests/clients/journey.py`); and
//! `openapi-typescript` (npm) must turn the same document into types that `tsc --noEmit` accepts
//! for the same journey written with `openapi-fetch` (`tests/clients/journey.ts`). A new endpoint
//! that a generator cannot describe fails here. The generators come from
//! `scripts/client-generators-env` (pinned; `scripts/test` names them in `OPENAPI_PYTHON_CLIENT`
//! and `OPENAPI_TS_DIR`).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use axum::http::StatusCode;
use sqlx::PgPool;
use tokio::process::Command;

use crate::api::cart::promo;
use crate::browser::AppServer;
use crate::helpers::{OPERATOR_TOTP_SECRET, TestApp, test_provisioning};

/// A bound on each tool's run, so that a hung one fails instead of stalling the suite.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);
const OPERATOR: &str = "owner@nextgenrdp.pk";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tool(variable: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join(default));
    assert!(
        path.exists(),
        "{} is missing: run scripts/client-generators-env, or set {variable}",
        path.display()
    );
    path
}

/// Runs `command` to its end (within [`RUN_TIMEOUT`]): (success, stdout + stderr).
async fn run(command: &mut Command) -> (bool, String) {
    let child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|err| panic!("cannot start {command:?}: {err}"));
    let output = tokio::time::timeout(RUN_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{command:?} ran longer than {RUN_TIMEOUT:?}"))
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

/// The document as the shop serves it, written to `dir/openapi.json`.
async fn served_document(app: &TestApp, dir: &Path) -> PathBuf {
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status, StatusCode::OK);
    let path = dir.join("openapi.json");
    std::fs::write(&path, &response.body).unwrap();
    path
}

#[sqlx::test]
async fn a_generated_python_client_buys_pays_and_gets_its_server(db: PgPool) {
    let generator = tool(
        "OPENAPI_PYTHON_CLIENT",
        "target/openapi-client-venv/bin/openapi-python-client",
    );
    let python = generator.with_file_name("python");
    let app = TestApp::with_default_catalog(db.clone()).await;
    promo(
        &app.db,
        "('WELCOME10', 'percentage', 10, 0, null, null, null, null)",
    )
    .await;
    app.staff(OPERATOR, nextgenrdp::accounts::Role::Owner).await;
    let work = tempfile::tempdir().unwrap();
    let document = served_document(&app, work.path()).await;

    // Generation: not one warning (a dropped schema, response or endpoint is a warning).
    let config = work.path().join("config.yaml");
    std::fs::write(
        &config,
        "project_name_override: nextgenrdp-client\npackage_name_override: nextgenrdp_client\n\
         post_hooks: []\n",
    )
    .unwrap();
    let package = work.path().join("nextgenrdp_client");
    let (ok, output) = run(Command::new(&generator)
        .arg("generate")
        .arg("--path")
        .arg(&document)
        .arg("--meta")
        .arg("none")
        .arg("--output-path")
        .arg(&package)
        .arg("--config")
        .arg(&config))
    .await;
    assert!(ok, "openapi-python-client failed:\n{output}");
    let lowered = output.to_lowercase();
    assert!(
        !lowered.contains("warning") && !lowered.contains("error") && !lowered.contains("unable"),
        "openapi-python-client warned:\n{output}"
    );
    assert!(package.join("api/payments/upload_receipt.py").is_file());

    // The journey, through the generated package only, against the real router over TCP; the
    // shop's e-mails are delivered into the mail directory as a worker would.
    let server = AppServer::start(app.router.clone()).await;
    let mail_dir = app.mail_dir.path().to_path_buf();
    let mailer = {
        let (db, dir) = (db.clone(), mail_dir.clone());
        tokio::spawn(async move {
            let worker = nextgenrdp::worker::Worker::new(
                db,
                std::sync::Arc::new(nextgenrdp::mail::Mailer::files(
                    dir,
                    "NextGenRDP <no-reply@shop.test>",
                )),
                test_provisioning(),
            );
            loop {
                worker.run_pending().await.unwrap();
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let (ok, output) = run(Command::new(&python)
        .arg(manifest_dir().join("tests/clients/journey.py"))
        .env("PYTHONPATH", work.path())
        .env("NGR_BASE_URL", server.url(""))
        .env("NGR_MAIL_DIR", &mail_dir)
        .env("NGR_PLAN", "rdp-business-two")
        .env("NGR_PROMO", "WELCOME10")
        .env("NGR_OPERATOR_EMAIL", OPERATOR)
        .env("NGR_OPERATOR_PASSWORD", "operator-passphrase")
        .env("NGR_OPERATOR_TOTP", hex::encode(OPERATOR_TOTP_SECRET)))
    .await;
    mailer.abort();
    assert!(
        ok && output.contains("JOURNEY OK"),
        "the generated client's journey failed:\n{output}"
    );

    // What the journey did is in the database: a paid order with the promo, an approved
    // transfer with its receipt, an active server with the password the operator set.
    let (status, promo_code): (String, Option<String>) =
        sqlx::query_as("select status, promo_code from orders")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(status, "active");
    assert_eq!(promo_code.as_deref(), Some("WELCOME10"));
    let (payment_status, receipts): (String, i64) = sqlx::query_as(
        "select p.status, (select count(*) from payment_receipts r where r.payment_id = p.id)
         from payments p",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((payment_status.as_str(), receipts), ("succeeded", 1));
    let service: String = sqlx::query_scalar("select status from services")
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(service, "active");
}

#[sqlx::test]
async fn generated_typescript_types_accept_the_journey(db: PgPool) {
    let ts = tool("OPENAPI_TS_DIR", "target/openapi-ts");
    let bin = ts.join("node_modules/.bin");
    let app = TestApp::with_default_catalog(db).await;
    let work = tempfile::tempdir().unwrap();
    let document = served_document(&app, work.path()).await;

    let types = work.path().join("api.d.ts");
    let (ok, output) = run(Command::new(bin.join("openapi-typescript"))
        .arg(&document)
        .arg("--output")
        .arg(&types))
    .await;
    assert!(ok, "openapi-typescript failed:\n{output}");
    let lowered = output.to_lowercase();
    assert!(
        !lowered.contains("warn") && !lowered.contains("error"),
        "openapi-typescript warned:\n{output}"
    );

    std::fs::copy(
        manifest_dir().join("tests/clients/journey.ts"),
        work.path().join("journey.ts"),
    )
    .unwrap();
    std::os::unix::fs::symlink(ts.join("node_modules"), work.path().join("node_modules")).unwrap();
    std::fs::write(
        work.path().join("tsconfig.json"),
        r#"{
  "compilerOptions": {
    "strict": true, "noEmit": true, "target": "ES2022", "lib": ["ES2022", "DOM"],
    "module": "ESNext", "moduleResolution": "Bundler", "types": []
  },
  "files": ["journey.ts"]
}"#,
    )
    .unwrap();
    let (ok, output) = run(Command::new(bin.join("tsc"))
        .arg("-p")
        .arg(work.path().join("tsconfig.json")))
    .await;
    assert!(
        ok,
        "tsc refused the journey against the generated types:\n{output}"
    );
}
