//! The background worker over a real database: it runs `send_email` jobs into `.eml` files,
//! retries and fails jobs as it should, wakes on NOTIFY, stops on shutdown, and two workers
//! never run a job twice.

use nextgenrdp::jobs::JobStatus;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use nextgenrdp::jobs;
use nextgenrdp::mail::{self, Mailer};
use nextgenrdp::worker::Worker;
use serde_json::json;
use sqlx::PgPool;

use crate::mail::eml_files;

const LINK: &str = "https://shop.example.pk/verify-email?token=dG9rZW4tZm9yLXRoZS13b3JrZXItdGVzdA";

fn worker(db: &PgPool, dir: &Path) -> Worker {
    let mailer = Mailer::files(dir.to_path_buf(), "NextGenRDP <no-reply@nextgenrdp.pk>");
    Worker::new(
        db.clone(),
        Arc::new(mailer),
        crate::helpers::test_provisioning(),
    )
}

async fn enqueue_mail(db: &PgPool, to: &str) -> i64 {
    let email = mail::verification_email(to, "Ali", LINK);
    mail::enqueue(db, &email).await.unwrap()
}

#[sqlx::test]
async fn a_send_email_job_writes_the_mail_and_succeeds(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let mut tx = db.begin().await.unwrap();
    let id = mail::enqueue(
        &mut *tx,
        &mail::verification_email("ali@example.pk", "Ali", LINK),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let job = jobs::find(&db, id).await.unwrap().unwrap();
    assert_eq!(
        (job.kind.as_str(), job.status.as_str()),
        (nextgenrdp::jobs::kinds::SEND_EMAIL, "queued")
    );

    assert_eq!(worker(&db, dir.path()).run_pending().await.unwrap(), 1);

    let files = eml_files(dir.path());
    assert_eq!(files.len(), 1);
    assert!(
        files[0]
            .to_str()
            .unwrap()
            .ends_with(&format!("-job-{id}.eml"))
    );
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    assert!(raw.contains("To: ali@example.pk") && raw.contains(LINK));
    let job = jobs::find(&db, id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert_eq!(job.attempts, 1);
    assert!(job.finished_at.is_some() && job.last_error.is_none());

    // Nothing left to do.
    assert_eq!(worker(&db, dir.path()).run_pending().await.unwrap(), 0);
}

#[sqlx::test]
async fn a_rolled_back_transaction_sends_no_mail(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let mut tx = db.begin().await.unwrap();
    mail::enqueue(
        &mut *tx,
        &mail::password_changed_email("ali@example.pk", "Ali"),
    )
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(worker(&db, dir.path()).run_pending().await.unwrap(), 0);
    assert!(eml_files(dir.path()).is_empty());
}

#[sqlx::test]
async fn a_job_of_an_unknown_kind_fails_for_good(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let id = jobs::enqueue(&db, "no_such_kind", &json!({}), None, None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(worker(&db, dir.path()).run_pending().await.unwrap(), 1);
    let job = jobs::find(&db, id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempts, 1);
    assert!(job.finished_at.is_some());
    let error = job.last_error.unwrap();
    assert!(error.contains("unknown job kind"), "{error}");
}

#[sqlx::test]
async fn an_invalid_payload_or_recipient_fails_for_good_without_leaking_the_payload(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let bad_payload = jobs::enqueue(
        &db,
        nextgenrdp::jobs::kinds::SEND_EMAIL,
        &json!({ "to": 42, "subject": "secret-token-123" }),
        None,
        None,
    )
    .await
    .unwrap()
    .unwrap();
    let mut email = mail::verification_email("ali@example.pk", "Ali", LINK);
    email.to = "not an address".into();
    let bad_recipient = mail::enqueue(&db, &email).await.unwrap();

    assert_eq!(worker(&db, dir.path()).run_pending().await.unwrap(), 2);
    for id in [bad_payload, bad_recipient] {
        let job = jobs::find(&db, id).await.unwrap().unwrap();
        assert_eq!((job.status.as_str(), job.attempts), ("failed", 1));
        let error = job.last_error.unwrap();
        assert!(
            !error.contains("secret-token-123") && !error.contains("token="),
            "{error}"
        );
    }
    assert!(eml_files(dir.path()).is_empty());
}

#[sqlx::test]
async fn a_failing_send_is_retried_later_with_backoff(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "not a directory").unwrap();
    let unwritable = worker(&db, &file.join("mail"));
    let id = enqueue_mail(&db, "ali@example.pk").await;

    // Ran once, rescheduled, and not run again in the same call.
    assert_eq!(unwritable.run_pending().await.unwrap(), 1);
    let job = jobs::find(&db, id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.attempts, 1);
    assert!(job.locked_at.is_none() && job.locked_by.is_none() && job.finished_at.is_none());
    let error = job.last_error.unwrap();
    assert!(error.contains("creating"), "{error}");
    let (future, delay): (bool, f64) = sqlx::query_as(
        "select run_at > now(), extract(epoch from run_at - now())::float8 from jobs where id = $1",
    )
    .bind(id)
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(
        future && (5.0..=10.5).contains(&delay),
        "retry in {delay} s"
    );
    assert_eq!(unwritable.run_pending().await.unwrap(), 0);

    // Once due again, a working mailer delivers it.
    sqlx::query("update jobs set run_at = now() where id = $1")
        .bind(id)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(worker(&db, dir.path()).run_pending().await.unwrap(), 1);
    let job = jobs::find(&db, id).await.unwrap().unwrap();
    assert_eq!((job.status.as_str(), job.attempts), ("succeeded", 2));
    assert_eq!(eml_files(dir.path()).len(), 1);
}

#[sqlx::test]
async fn the_last_attempt_fails_for_good(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let id = enqueue_mail(&db, "ali@example.pk").await;
    sqlx::query("update jobs set attempts = max_attempts - 1 where id = $1")
        .bind(id)
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(worker(&db, &file).run_pending().await.unwrap(), 1);
    let job = jobs::find(&db, id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Failed);
    assert_eq!(job.attempts, job.max_attempts);
    assert!(job.last_error.is_some() && job.finished_at.is_some());
}

#[sqlx::test]
async fn run_wakes_on_notify_and_stops_on_shutdown(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(worker(&db, dir.path()).run(async {
        let _ = stopped.await;
    }));
    // Let it claim (nothing), listen and go to sleep.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let started = Instant::now();
    let id = enqueue_mail(&db, "ali@example.pk").await;
    while eml_files(dir.path()).is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "the worker did not wake on NOTIFY"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The file is renamed into place before the job is recorded.
    let deadline = Instant::now() + Duration::from_secs(3);
    while jobs::find(&db, id).await.unwrap().unwrap().status != JobStatus::Succeeded {
        assert!(
            Instant::now() < deadline,
            "the job was not recorded as succeeded"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(2), task)
        .await
        .expect("the worker stops promptly on shutdown")
        .unwrap();
}

#[sqlx::test]
async fn two_workers_run_each_of_twenty_jobs_once(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let mut ids = Vec::new();
    for i in 0..20 {
        ids.push(enqueue_mail(&db, &format!("customer{i}@example.pk")).await);
    }
    let (one, two) = (worker(&db, dir.path()), worker(&db, dir.path()));
    assert_ne!(one.name(), two.name());
    let (ran_one, ran_two) = tokio::join!(one.run_pending(), two.run_pending());
    assert_eq!(ran_one.unwrap() + ran_two.unwrap(), 20);

    assert_eq!(eml_files(dir.path()).len(), 20);
    for id in ids {
        let job = jobs::find(&db, id).await.unwrap().unwrap();
        assert_eq!(
            (job.status.as_str(), job.attempts),
            ("succeeded", 1),
            "job {id}"
        );
    }
}
