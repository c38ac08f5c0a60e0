use nextgenrdp::jobs::JobStatus;
use std::collections::HashSet;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use nextgenrdp::jobs::{self, Job};
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

async fn enqueue(db: &PgPool, kind: &str) -> i64 {
    jobs::enqueue(db, kind, &json!({ "service_id": 42 }), None, None)
        .await
        .unwrap()
        .unwrap()
}

fn ids(jobs: &[Job]) -> Vec<i64> {
    jobs.iter().map(|j| j.id).collect()
}

#[sqlx::test]
async fn an_enqueued_job_is_queued_to_run_now_with_its_payload(db: PgPool) {
    let before = Utc::now();
    let id = jobs::enqueue(
        &db,
        "provision",
        &json!({ "service_id": 42, "plan": "vps-nano-one" }),
        None,
        None,
    )
    .await
    .unwrap()
    .expect("a new job");
    let job = jobs::find(&db, id).await.unwrap().unwrap();
    assert_eq!(job.kind, "provision");
    assert_eq!(
        job.payload,
        json!({ "service_id": 42, "plan": "vps-nano-one" })
    );
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!((job.attempts, job.max_attempts), (0, 10));
    assert!(
        job.run_at >= before - Duration::seconds(5)
            && job.run_at <= Utc::now() + Duration::seconds(5)
    );
    assert!(job.locked_at.is_none() && job.locked_by.is_none() && job.finished_at.is_none());
    assert!(jobs::find(&db, id + 1).await.unwrap().is_none());

    let later = Utc::now() + Duration::hours(1);
    let delayed = jobs::enqueue(&db, "email", &json!({}), None, Some(later))
        .await
        .unwrap()
        .unwrap();
    let delayed = jobs::find(&db, delayed).await.unwrap().unwrap();
    assert_eq!(delayed.run_at.timestamp_micros(), later.timestamp_micros());
}

#[sqlx::test]
async fn a_dedupe_key_enqueued_twice_is_one_job(db: PgPool) {
    let first = jobs::enqueue(
        &db,
        "provision",
        &json!({ "n": 1 }),
        Some("provision:service:42"),
        None,
    )
    .await
    .unwrap();
    let second = jobs::enqueue(
        &db,
        "provision",
        &json!({ "n": 2 }),
        Some("provision:service:42"),
        None,
    )
    .await
    .unwrap();
    assert!(first.is_some());
    assert_eq!(second, None);
    let all = jobs::list(&db, None, 10, 0).await.unwrap();
    assert_eq!(ids(&all), vec![first.unwrap()]);
    assert_eq!(all[0].payload, json!({ "n": 1 }), "the first one is kept");
    assert_eq!(all[0].dedupe_key.as_deref(), Some("provision:service:42"));

    // jobs without a key are never merged
    enqueue(&db, "email").await;
    enqueue(&db, "email").await;
    assert_eq!(jobs::list(&db, None, 10, 0).await.unwrap().len(), 3);
}

#[sqlx::test]
async fn enqueue_notifies_the_workers_but_a_duplicate_does_not(db: PgPool) {
    let mut listener = PgListener::connect_with(&db).await.unwrap();
    listener.listen(jobs::NOTIFY_CHANNEL).await.unwrap();

    jobs::enqueue(&db, "provision", &json!({}), Some("k"), None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        jobs::enqueue(&db, "duplicate", &json!({}), Some("k"), None)
            .await
            .unwrap(),
        None
    );
    jobs::enqueue(&db, "email", &json!({}), None, None)
        .await
        .unwrap()
        .unwrap();

    let mut received = Vec::new();
    for _ in 0..2 {
        let note = tokio::time::timeout(StdDuration::from_secs(10), listener.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(note.channel(), jobs::NOTIFY_CHANNEL);
        received.push(note.payload().to_string());
    }
    assert_eq!(received, vec!["provision", "email"]);

    // inside a transaction the notification waits for the commit, and a rollback drops it
    let mut tx = db.begin().await.unwrap();
    jobs::enqueue(&mut *tx, "rolled_back", &json!({}), None, None)
        .await
        .unwrap()
        .unwrap();
    tx.rollback().await.unwrap();
    jobs::enqueue(&db, "after", &json!({}), None, None)
        .await
        .unwrap()
        .unwrap();
    let note = tokio::time::timeout(StdDuration::from_secs(10), listener.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(note.payload(), "after");
}

#[sqlx::test]
async fn claim_takes_ready_jobs_of_the_wanted_kinds_oldest_first(db: PgPool) {
    let a = enqueue(&db, "provision").await;
    let b = enqueue(&db, "email").await;
    let c = enqueue(&db, "provision").await;
    jobs::enqueue(
        &db,
        "provision",
        &json!({}),
        None,
        Some(Utc::now() + Duration::hours(1)),
    )
    .await
    .unwrap();
    // make `c` older than `a`: claims go by run_at
    sqlx::query("update jobs set run_at = now() - interval '1 minute' where id = $1")
        .bind(c)
        .execute(&db)
        .await
        .unwrap();

    let kinds = vec!["provision".to_string()];
    let claimed = jobs::claim(&db, "worker-1", Some(&kinds), 10)
        .await
        .unwrap();
    assert_eq!(
        ids(&claimed),
        vec![c, a],
        "the future job and the email are left"
    );
    for job in &claimed {
        assert_eq!(job.status, JobStatus::Running);
        assert_eq!(job.locked_by.as_deref(), Some("worker-1"));
        assert!(job.locked_at.is_some());
        assert_eq!(job.attempts, 1);
    }
    assert!(
        jobs::claim(&db, "worker-1", Some(&kinds), 10)
            .await
            .unwrap()
            .is_empty()
    );
    let empty: Vec<String> = vec![];
    assert!(
        jobs::claim(&db, "worker-1", Some(&empty), 10)
            .await
            .unwrap()
            .is_empty()
    );

    let d = enqueue(&db, "email").await;
    let one = jobs::claim(&db, "worker-2", None, 1).await.unwrap();
    assert_eq!(ids(&one), vec![b]);
    let rest = jobs::claim(&db, "worker-2", None, 10).await.unwrap();
    assert_eq!(ids(&rest), vec![d]);
    assert_eq!(
        jobs::find(&db, b).await.unwrap().unwrap().status,
        JobStatus::Running
    );
}

#[sqlx::test]
async fn two_concurrent_claimers_never_get_the_same_job(db: PgPool) {
    let mut enqueued = HashSet::new();
    for _ in 0..20 {
        enqueued.insert(enqueue(&db, "provision").await);
    }
    let claimer = |name: &'static str| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let batch = jobs::claim(&db, name, None, 5).await.unwrap();
                if batch.is_empty() {
                    break;
                }
                assert!(batch.iter().all(|j| j.locked_by.as_deref() == Some(name)));
                got.extend(ids(&batch));
                tokio::task::yield_now().await;
            }
            got
        })
    };
    let (one, two) = (claimer("worker-1"), claimer("worker-2"));
    let (one, two) = (one.await.unwrap(), two.await.unwrap());
    let all: Vec<i64> = one.iter().chain(&two).copied().collect();
    assert_eq!(
        all.len(),
        20,
        "each job claimed exactly once (got {} + {})",
        one.len(),
        two.len()
    );
    assert_eq!(all.into_iter().collect::<HashSet<_>>(), enqueued);
    let attempts: Vec<i32> = sqlx::query_scalar("select attempts from jobs")
        .fetch_all(&db)
        .await
        .unwrap();
    assert!(attempts.iter().all(|&a| a == 1));
}

#[sqlx::test]
async fn a_completed_job_is_succeeded_once(db: PgPool) {
    let id = enqueue(&db, "email").await;
    assert!(!jobs::complete(&db, id).await.unwrap(), "not running yet");
    jobs::claim(&db, "worker-1", None, 1).await.unwrap();
    assert!(jobs::complete(&db, id).await.unwrap());
    let job = jobs::find(&db, id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Succeeded);
    assert!(job.finished_at.is_some());
    assert!(!jobs::complete(&db, id).await.unwrap());
    assert!(
        jobs::claim(&db, "worker-1", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

#[sqlx::test]
async fn a_failure_is_retried_later_or_failed_for_good_and_an_operator_can_retry(db: PgPool) {
    let id = enqueue(&db, "provision").await;
    assert!(!jobs::fail(&db, id, "not running", None).await.unwrap());
    jobs::claim(&db, "worker-1", None, 1).await.unwrap();

    let retry_at = Utc::now() + Duration::minutes(5);
    assert!(
        jobs::fail(&db, id, "hypervisor timeout", Some(retry_at))
            .await
            .unwrap()
    );
    let job = jobs::find(&db, id).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert_eq!(job.run_at.timestamp_micros(), retry_at.timestamp_micros());
    assert_eq!(job.last_error.as_deref(), Some("hypervisor timeout"));
    assert!(job.locked_at.is_none() && job.locked_by.is_none() && job.finished_at.is_none());
    assert!(
        jobs::claim(&db, "worker-1", None, 10)
            .await
            .unwrap()
            .is_empty(),
        "not before retry_at"
    );

    sqlx::query("update jobs set run_at = now() where id = $1")
        .bind(id)
        .execute(&db)
        .await
        .unwrap();
    let again = jobs::claim(&db, "worker-2", None, 10).await.unwrap();
    assert_eq!(ids(&again), vec![id]);
    assert_eq!(again[0].attempts, 2);
    assert!(jobs::fail(&db, id, "no capacity", None).await.unwrap());
    let failed = jobs::find(&db, id).await.unwrap().unwrap();
    assert_eq!(failed.status, JobStatus::Failed);
    assert_eq!(failed.last_error.as_deref(), Some("no capacity"));
    assert!(failed.finished_at.is_some());
    assert!(
        jobs::claim(&db, "worker-1", None, 10)
            .await
            .unwrap()
            .is_empty()
    );

    assert!(jobs::retry(&db, id).await.unwrap());
    let requeued = jobs::find(&db, id).await.unwrap().unwrap();
    assert_eq!(requeued.status, JobStatus::Queued);
    assert!(requeued.finished_at.is_none());
    assert!(requeued.run_at <= Utc::now() + Duration::seconds(5));
    assert!(
        !jobs::retry(&db, id).await.unwrap(),
        "only a failed job is retried"
    );
    let third = jobs::claim(&db, "worker-1", None, 10).await.unwrap();
    assert_eq!((third[0].id, third[0].attempts), (id, 3));
    assert!(!jobs::retry(&db, id + 1).await.unwrap());
}

#[sqlx::test]
async fn jobs_are_listed_newest_first_and_counted_by_status(db: PgPool) {
    let a = enqueue(&db, "email").await;
    let b = enqueue(&db, "email").await;
    let c = enqueue(&db, "provision").await;
    let d = enqueue(&db, "provision").await;
    let claimed = jobs::claim(&db, "worker-1", None, 3).await.unwrap();
    assert_eq!(ids(&claimed), vec![a, b, c]);
    jobs::complete(&db, a).await.unwrap();
    jobs::fail(&db, b, "boom", None).await.unwrap();

    assert_eq!(
        ids(&jobs::list(&db, None, 10, 0).await.unwrap()),
        vec![d, c, b, a]
    );
    assert_eq!(ids(&jobs::list(&db, None, 2, 1).await.unwrap()), vec![c, b]);
    assert_eq!(
        ids(&jobs::list(&db, Some("queued"), 10, 0).await.unwrap()),
        vec![d]
    );
    assert_eq!(
        ids(&jobs::list(&db, Some("failed"), 10, 0).await.unwrap()),
        vec![b]
    );

    let counts: Vec<(String, i64)> = jobs::count_by_status(&db)
        .await
        .unwrap()
        .into_iter()
        .map(|(status, total)| {
            assert!(total.exact);
            (status, total.count)
        })
        .collect();
    let expected: Vec<(String, i64)> = [
        ("failed", 1),
        ("queued", 1),
        ("running", 1),
        ("succeeded", 1),
    ]
    .into_iter()
    .map(|(s, n)| (s.to_string(), n))
    .collect();
    assert_eq!(counts, expected);
    jobs::complete(&db, c).await.unwrap();
    let counts = jobs::count_by_status(&db).await.unwrap();
    assert!(
        counts.iter().all(|(status, _)| status != "running"),
        "{counts:?}"
    );
    assert!(
        counts
            .iter()
            .any(|(status, total)| status == "succeeded" && total.count == 2)
    );
}

#[sqlx::test]
async fn running_jobs_with_a_stale_lock_are_queued_again(db: PgPool) {
    let stale = enqueue(&db, "provision").await;
    let fresh = enqueue(&db, "provision").await;
    let done = enqueue(&db, "provision").await;
    jobs::claim(&db, "worker-dead", None, 10).await.unwrap();
    jobs::complete(&db, done).await.unwrap();
    sqlx::query("update jobs set locked_at = now() - interval '1 hour' where id = any($1)")
        .bind(vec![stale, done])
        .execute(&db)
        .await
        .unwrap();

    let reclaimed = jobs::reclaim_stale(&db, Utc::now() - Duration::minutes(15))
        .await
        .unwrap();
    assert_eq!(reclaimed, 1, "only the running job with an old lock");
    let job = jobs::find(&db, stale).await.unwrap().unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert!(job.locked_at.is_none() && job.locked_by.is_none());
    assert!(
        job.last_error.as_deref().unwrap().contains("worker-dead"),
        "{:?}",
        job.last_error
    );
    assert_eq!(
        jobs::find(&db, fresh).await.unwrap().unwrap().status,
        JobStatus::Running
    );
    assert_eq!(
        jobs::find(&db, done).await.unwrap().unwrap().status,
        JobStatus::Succeeded
    );

    let again = jobs::claim(&db, "worker-2", None, 10).await.unwrap();
    assert_eq!((ids(&again), again[0].attempts), (vec![stale], 2));
    assert_eq!(
        jobs::reclaim_stale(&db, Utc::now() - Duration::minutes(15))
            .await
            .unwrap(),
        0
    );
}
