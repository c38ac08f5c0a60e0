//! The background worker: runs the durable jobs of [`crate::jobs`].
//!
//! It claims ready jobs in batches, runs each ([`Worker::dispatch`] by kind), and records the
//! outcome: succeeded; queued again after an exponential backoff (10 s, 20 s, 40 s ... capped at
//! an hour, with a little jitter) while attempts remain; or failed for good when they are spent
//! or the error is [`Permanent`]. With nothing to do it sleeps until a `NOTIFY` on
//! [`jobs::NOTIFY_CHANNEL`] (sent when a job is enqueued) or a 5 s poll, whichever comes first,
//! and now and then puts back in the queue the jobs of workers that died holding them.
//!
//! Jobs are logged by id and kind, never by payload: payloads may hold links with tokens.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use chrono::Utc;
use sqlx::PgPool;
use sqlx::postgres::PgListener;

use crate::jobs::{self, Job, Permanent, Snooze, is_permanent, payload, snooze_of};
use crate::mail::{self, Email, Mailer};
use crate::provisioning::Provisioning;
use crate::services::provision;

/// Jobs claimed at once.
const BATCH: i64 = 10;
/// The longest sleep with nothing to do, should a NOTIFY be missed.
const POLL_INTERVAL: Duration = Duration::from_secs(5);
/// How often running jobs with an expired lock are put back in the queue.
const RECLAIM_EVERY: Duration = Duration::from_secs(60);
/// A job locked for longer than this is taken to have lost its worker.
const STALE_LOCK: Duration = Duration::from_secs(10 * 60);
/// A job running longer than this is abandoned as failed (retried), well before its lock is
/// taken for stale.
const JOB_TIMEOUT: Duration = Duration::from_secs(5 * 60);
/// How long to wait before listening again after the listener failed.
const LISTEN_RETRY: Duration = Duration::from_secs(30);
/// The first retry's delay, doubled at each further attempt...
const BACKOFF_BASE: Duration = Duration::from_secs(10);
/// ...up to this.
const BACKOFF_MAX: Duration = Duration::from_secs(60 * 60);

/// Runs jobs. Any number of workers (threads, processes, machines) can run side by side: each
/// job is claimed by one of them.
pub struct Worker {
    db: PgPool,
    mailer: Arc<Mailer>,
    provisioning: Arc<Provisioning>,
    name: String,
    order_expiry: chrono::Duration,
    /// The daily `backup` job's settings; `None`: this node does not back up.
    backups: Option<Arc<crate::backup::BackupSettings>>,
    /// JazzCash with its status inquiry, for `reconcile_payments`; `None`: this node does not
    /// reconcile.
    jazzcash: Option<Arc<crate::payments::jazzcash::JazzCash>>,
    /// Easypaisa with its transaction inquiry, for `reconcile_payments`.
    easypaisa: Option<Arc<crate::payments::easypaisa::Easypaisa>>,
    /// The WhatsApp Cloud API, for `send_whatsapp`; `None`: such jobs fail, saying so.
    whatsapp: Option<Arc<crate::mail::whatsapp::WhatsApp>>,
    /// Days a ticket may wait on its customer before it closes.
    ticket_auto_close_days: u32,
}

/// Periodic jobs: each is enqueued once per period whatever the number of workers (the
/// period's number is in its dedupe key), then runs like any other job.
const SCHEDULES: &[(&str, u64)] = &[
    (EXPIRE_ORDERS, 300),
    (CLEAN_UP, 3600),
    (crate::services::renewals::RENEWALS, 3600),
    (CLOSE_STALE_TICKETS, 3600),
    (
        crate::jobs::kinds::SAMPLE_USAGE,
        crate::services::usage::SAMPLE_EVERY_SECS,
    ),
];
pub use crate::jobs::kinds::{CLEAN_UP, CLOSE_STALE_TICKETS, EXPIRE_ORDERS, RECONCILE_PAYMENTS};
const RECONCILE_EVERY_SECS: u64 = 300;
/// How often the worker looks whether a periodic job is due.
const SCHEDULE_EVERY: Duration = Duration::from_secs(60);

/// Whether a batch ran to its end or stopped for shutdown.
enum Batch {
    Done,
    Stopped,
}

/// What ended an idle wait.
enum Wake {
    Shutdown,
    Notified,
    Timeout,
    ListenerFailed(sqlx::Error),
}

impl Worker {
    /// A worker named `<hostname>-<pid>-<random>` (the name its locks carry).
    pub fn new(db: PgPool, mailer: Arc<Mailer>, provisioning: Arc<Provisioning>) -> Self {
        let mut random = [0u8; 4];
        let suffix = match getrandom::fill(&mut random) {
            Ok(()) => hex::encode(random),
            Err(_) => format!("{:08x}", Utc::now().timestamp_subsec_nanos()),
        };
        let name = format!("{}-{}-{suffix}", hostname(), std::process::id());
        Self {
            db,
            mailer,
            provisioning,
            name,
            order_expiry: chrono::Duration::hours(48),
            backups: None,
            jazzcash: None,
            easypaisa: None,
            ticket_auto_close_days: 7,
            whatsapp: None,
        }
    }

    /// Reconciles pending JazzCash attempts (`reconcile_payments`, every 5 minutes) when its
    /// status inquiry is configured.
    pub fn with_jazzcash(mut self, jazzcash: Option<crate::payments::jazzcash::JazzCash>) -> Self {
        self.jazzcash = jazzcash.filter(|j| j.inquiry_url.is_some()).map(Arc::new);
        self
    }

    /// Reconciles pending Easypaisa attempts (`reconcile_payments`, every 5 minutes) too.
    pub fn with_easypaisa(
        mut self,
        easypaisa: Option<crate::payments::easypaisa::Easypaisa>,
    ) -> Self {
        self.easypaisa = easypaisa.map(Arc::new);
        self
    }

    /// Backs the database up daily (the `backup` job) with these settings; `None`: never.
    pub fn with_backups(mut self, settings: Option<crate::backup::BackupSettings>) -> Self {
        self.backups = settings.map(Arc::new);
        self
    }

    /// Sends WhatsApp messages through `whatsapp` (none by default).
    pub fn with_whatsapp(mut self, whatsapp: Option<crate::mail::whatsapp::WhatsApp>) -> Self {
        self.whatsapp = whatsapp.map(Arc::new);
        self
    }

    /// Sets how many days an answered ticket waits on its customer before it closes (default 7).
    pub fn with_ticket_auto_close_days(mut self, days: u32) -> Self {
        self.ticket_auto_close_days = days;
        self
    }

    /// Sets how long an order may stay unpaid (default 48 hours).
    pub fn with_order_expiry_hours(mut self, hours: u32) -> Self {
        self.order_expiry = chrono::Duration::hours(i64::from(hours));
        self
    }

    /// Enqueues the periodic jobs whose period has begun (idempotent across workers).
    pub async fn enqueue_due_schedules(&self) -> sqlx::Result<()> {
        let now = Utc::now().timestamp().max(0) as u64;
        for (kind, period) in SCHEDULES {
            let key = format!("{kind}:{}", now / period);
            jobs::enqueue(&self.db, kind, &serde_json::json!({}), Some(&key), None).await?;
        }
        // Only from nodes that can ask JazzCash or Easypaisa.
        if self.jazzcash.is_some() || self.easypaisa.is_some() {
            let key = format!("{RECONCILE_PAYMENTS}:{}", now / RECONCILE_EVERY_SECS);
            let payload = serde_json::json!({});
            jobs::enqueue(&self.db, RECONCILE_PAYMENTS, &payload, Some(&key), None).await?;
        }
        // Daily (UTC day), and only from nodes that back up: the file lands on the node that
        // runs the job.
        if self.backups.as_ref().is_some_and(|b| b.scheduled) {
            let key = format!("{}:{}", crate::backup::BACKUP, now / 86_400);
            let payload = serde_json::json!({});
            jobs::enqueue(&self.db, crate::backup::BACKUP, &payload, Some(&key), None).await?;
        }
        Ok(())
    }

    /// The name this worker locks jobs with.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs jobs until `shutdown` resolves; then finishes the job in hand, puts the rest of its
    /// batch back in the queue and returns.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = pin!(shutdown);
        let mut listener: Option<PgListener> = None;
        let mut next_listen = Instant::now();
        let mut next_reclaim = Instant::now();
        let mut next_schedule = Instant::now();
        tracing::info!(worker = %self.name, mailer = %self.mailer.describe(), "worker started");
        loop {
            if resolved(shutdown.as_mut()) {
                break;
            }
            // Listen before claiming: a job enqueued after an empty claim then still wakes us.
            if listener.is_none() && Instant::now() >= next_listen {
                match self.listen().await {
                    Ok(new) => listener = Some(new),
                    Err(err) => {
                        tracing::warn!(
                            "listening for new jobs failed, polling every {}s instead: {err}",
                            POLL_INTERVAL.as_secs()
                        );
                        next_listen = Instant::now() + LISTEN_RETRY;
                    }
                }
            }
            if Instant::now() >= next_reclaim {
                next_reclaim = Instant::now() + RECLAIM_EVERY;
                if let Err(err) = self.reclaim_stale().await {
                    tracing::error!("reclaiming stale jobs failed: {err:#}");
                }
            }

            if Instant::now() >= next_schedule {
                next_schedule = Instant::now() + SCHEDULE_EVERY;
                if let Err(err) = self.enqueue_due_schedules().await {
                    tracing::error!("enqueuing periodic jobs failed: {err}");
                }
            }

            match jobs::claim(&self.db, &self.name, None, BATCH).await {
                Ok(batch) if !batch.is_empty() => {
                    match self.run_batch(batch, Some(shutdown.as_mut())).await {
                        Batch::Done => continue,
                        Batch::Stopped => break,
                    }
                }
                Ok(_) => {}
                Err(err) => tracing::error!("claiming jobs failed: {err}"),
            }

            // Nothing ready (or the database is unreachable): wait.
            let wake = tokio::select! {
                biased;
                () = shutdown.as_mut() => Wake::Shutdown,
                wake = wait_for_job(listener.as_mut()) => wake,
            };
            match wake {
                Wake::Shutdown => break,
                Wake::Notified | Wake::Timeout => {}
                Wake::ListenerFailed(err) => {
                    tracing::warn!("the job listener failed, polling until it is back: {err}");
                    listener = None;
                    next_listen = Instant::now() + LISTEN_RETRY;
                }
            }
        }
        tracing::info!(worker = %self.name, "worker stopped");
    }

    /// `worker --once`, for a cron-driven node: enqueues the periodic jobs whose period has
    /// begun (once per period across every worker, as [`Worker::run`] does), then runs
    /// everything ready ([`Worker::run_pending`]); returns how many jobs ran.
    pub async fn run_once(&self) -> anyhow::Result<usize> {
        self.enqueue_due_schedules().await?;
        self.run_pending().await
    }

    /// Runs every job that is ready now, batch after batch, until none is left; returns how many
    /// ran. Jobs that fail are rescheduled into the future and so not run again here.
    pub async fn run_pending(&self) -> anyhow::Result<usize> {
        self.reclaim_stale().await?;
        let mut ran = 0;
        loop {
            let batch = jobs::claim(&self.db, &self.name, None, BATCH).await?;
            if batch.is_empty() {
                return Ok(ran);
            }
            ran += batch.len();
            self.run_batch(batch, None::<Pin<&mut std::future::Pending<()>>>)
                .await;
        }
    }

    /// Runs a claimed batch in order. With `shutdown`, stops before the next job once it has
    /// resolved and returns the jobs not started to the queue.
    async fn run_batch<F: Future<Output = ()>>(
        &self,
        batch: Vec<Job>,
        mut shutdown: Option<Pin<&mut F>>,
    ) -> Batch {
        for (i, job) in batch.iter().enumerate() {
            if let Some(shutdown) = shutdown.as_mut()
                && resolved(shutdown.as_mut())
            {
                self.release(&batch[i..]).await;
                return Batch::Stopped;
            }
            self.run_job(job).await;
        }
        Batch::Done
    }

    /// Runs one claimed job and records how it went.
    async fn run_job(&self, job: &Job) {
        let started = Instant::now();
        let result = match tokio::time::timeout(JOB_TIMEOUT, self.dispatch(job)).await {
            Ok(result) => result,
            Err(_) => Err(anyhow::anyhow!(
                "timed out after {} s",
                JOB_TIMEOUT.as_secs()
            )),
        };
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let outcome = match result {
            Ok(()) => {
                tracing::info!(job.id = job.id, job.kind = %job.kind, attempt = job.attempts, elapsed_ms, "job succeeded");
                jobs::complete(&self.db, job.id).await.map(|_| "succeeded")
            }
            Err(err) if snooze_of(&err).is_some() => {
                let delay = snooze_of(&err).map(|s| s.delay).unwrap_or(POLL_INTERVAL);
                let claimed = job.locked_at.unwrap_or_else(Utc::now);
                let run_at = claimed
                    + started.elapsed()
                    + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::seconds(10));
                tracing::info!(job.id = job.id, job.kind = %job.kind, elapsed_ms, %run_at, "job snoozed: {err:#}");
                jobs::snooze(&self.db, job.id, &format!("{err:#}"), run_at)
                    .await
                    .map(|_| "snoozed")
            }
            Err(err) => {
                let error = format!("{err:#}");
                let retry_at = if is_permanent(&err) || job.attempts >= job.max_attempts {
                    None
                } else {
                    // From the database's clock (the claim's time plus the run's), as `claim`
                    // compares run_at with it.
                    let claimed = job.locked_at.unwrap_or_else(Utc::now);
                    Some(claimed + started.elapsed() + backoff(job.attempts))
                };
                match retry_at {
                    Some(retry_at) => tracing::warn!(
                        job.id = job.id, job.kind = %job.kind, attempt = job.attempts,
                        max_attempts = job.max_attempts, elapsed_ms, %retry_at,
                        "job failed, will retry: {error}"
                    ),
                    None => tracing::error!(
                        job.id = job.id, job.kind = %job.kind, attempt = job.attempts,
                        max_attempts = job.max_attempts, elapsed_ms,
                        "job failed for good: {error}"
                    ),
                }
                let outcome = if retry_at.is_some() {
                    "retry"
                } else {
                    "failed"
                };
                jobs::fail(&self.db, job.id, &error, retry_at)
                    .await
                    .map(|_| outcome)
            }
        };
        match outcome {
            Ok(outcome) => {
                metrics::counter!("jobs_run_total", "kind" => job.kind.clone(), "outcome" => outcome)
                    .increment(1);
            }
            // The job stays running until its lock expires and it is reclaimed.
            Err(err) => tracing::error!(
                job.id = job.id, job.kind = %job.kind,
                "recording the job's outcome failed: {err}"
            ),
        }
    }

    /// Renders the documents a mail carries.
    async fn attachments(&self, email: &Email) -> anyhow::Result<Vec<mail::File>> {
        let mut files = Vec::with_capacity(email.attachments.len());
        for attachment in &email.attachments {
            match attachment {
                mail::Attachment::Invoice { invoice_id } => {
                    let Some(invoice) =
                        crate::payments::invoices::find(&self.db, *invoice_id).await?
                    else {
                        anyhow::bail!("invoice {invoice_id} to attach does not exist");
                    };
                    let logo = crate::orders::billing::logo(&self.db).await?;
                    files.push(mail::File {
                        name: crate::payments::invoices::pdf::file_name(&invoice),
                        content_type: "application/pdf".to_owned(),
                        bytes: crate::payments::invoices::pdf::render(&invoice, logo.as_ref())?,
                    });
                }
            }
        }
        Ok(files)
    }

    /// Runs one job by kind. New kinds are added here.
    async fn dispatch(&self, job: &Job) -> anyhow::Result<()> {
        match job.kind.as_str() {
            mail::SEND_EMAIL => {
                let email = payload::<Email>(job)?;
                let files = self.attachments(&email).await?;
                self.mailer
                    .send(&format!("job-{}", job.id), &email, &files)
                    .await
            }
            crate::jobs::kinds::SEND_WHATSAPP => {
                let message = payload::<crate::mail::whatsapp::TemplateMessage>(job)?;
                let Some(whatsapp) = &self.whatsapp else {
                    return Err(Permanent::error(
                        "WhatsApp is not configured on this worker (NEXTGENRDP_WHATSAPP_TOKEN, \
                         NEXTGENRDP_WHATSAPP_PHONE_NUMBER_ID)",
                    ));
                };
                let id = whatsapp.send(&message).await?;
                tracing::info!(job.id = job.id, whatsapp.message = %id, "WhatsApp message sent");
                Ok(())
            }
            CLOSE_STALE_TICKETS => {
                let round = crate::support::tickets::close_stale(
                    &self.db,
                    &self.provisioning.public_url,
                    self.ticket_auto_close_days,
                )
                .await?;
                if round.reminded + round.closed > 0 {
                    tracing::info!(
                        "tickets: {} reminded, {} closed after {} days",
                        round.reminded,
                        round.closed,
                        self.ticket_auto_close_days
                    );
                }
                Ok(())
            }
            EXPIRE_ORDERS => {
                let expired =
                    crate::orders::checkout::expire_unpaid(&self.db, self.order_expiry).await?;
                if expired > 0 {
                    tracing::info!("expired {expired} unpaid orders");
                }
                Ok(())
            }
            CLEAN_UP => {
                let now = Utc::now();
                let sessions = crate::accounts::sessions::delete_stale(
                    &self.db,
                    now - chrono::Duration::days(7),
                )
                .await?;
                let limits =
                    crate::web::rate_limit::delete_expired(&self.db, Duration::from_secs(86_400))
                        .await?;
                let carts = crate::orders::carts::delete_stale_guest_carts(
                    &self.db,
                    now - chrono::Duration::days(30),
                )
                .await?;
                let challenges =
                    crate::accounts::two_factor::user_two_factor::delete_stale_challenges(
                        &self.db,
                        now - chrono::Duration::days(1),
                    )
                    .await?;
                let origins = crate::accounts::origins::delete_stale(
                    &self.db,
                    now - chrono::Duration::days(crate::accounts::origins::REMEMBERED_DAYS),
                )
                .await?;
                let consoles = crate::services::console::delete_stale(
                    &self.db,
                    now - chrono::Duration::days(1),
                )
                .await?;
                tracing::info!(
                    "clean-up: {sessions} sessions, {limits} rate-limit counters, {carts} guest \
                     carts, {challenges} login second steps, {origins} login addresses, \
                     {consoles} console links"
                );
                Ok(())
            }
            crate::services::renewals::RENEWALS => {
                let sweep =
                    crate::services::renewals::run_periodic(&self.db, &self.provisioning).await?;
                tracing::info!(
                    "renewals: {} orders raised, {} reminders, {} suspended, {} terminated",
                    sweep.raised,
                    sweep.reminded,
                    sweep.suspended,
                    sweep.terminated
                );
                Ok(())
            }
            crate::backup::BACKUP => match &self.backups {
                Some(settings) => crate::backup::run_scheduled(settings, &self.db).await,
                // Another node scheduled it; leave it for one that backs up.
                None => Err(Snooze::error(
                    Duration::from_secs(600),
                    "backups are off on this node",
                )),
            },
            RECONCILE_PAYMENTS => {
                if self.jazzcash.is_none() && self.easypaisa.is_none() {
                    return Err(Snooze::error(
                        Duration::from_secs(600),
                        "payment inquiries are off on this node",
                    ));
                }
                let public_url = &self.provisioning.public_url;
                let rounds = [
                    match &self.jazzcash {
                        Some(jazzcash) => Some((
                            "JazzCash",
                            crate::payments::callbacks::reconcile(&self.db, jazzcash, public_url)
                                .await?,
                        )),
                        None => None,
                    },
                    match &self.easypaisa {
                        Some(easypaisa) => Some((
                            "Easypaisa",
                            crate::payments::easypaisa_results::reconcile(
                                &self.db, easypaisa, public_url,
                            )
                            .await?,
                        )),
                        None => None,
                    },
                ];
                for (gateway, done) in rounds.into_iter().flatten() {
                    if done.asked > 0 {
                        tracing::info!(
                            "{gateway} reconciliation: {} asked, {} paid, {} failed, {} unanswered",
                            done.asked,
                            done.paid,
                            done.failed,
                            done.unanswered
                        );
                    }
                }
                Ok(())
            }
            provision::PROVISION_SERVICE => {
                provision::run_provision(&self.provisioning, &self.db, job).await
            }
            crate::jobs::kinds::SAMPLE_USAGE => {
                let round =
                    crate::services::usage::sample_all(&self.db, &self.provisioning).await?;
                // The month's traffic, now counted, against the plans' allowances.
                let traffic =
                    crate::services::traffic::enforce(&self.db, &self.provisioning).await?;
                if round.sampled + round.failed > 0 {
                    tracing::info!(
                        "usage: {} servers sampled, {} not reached; {} traffic notices, {} \
                         throttled, {} limits lifted",
                        round.sampled,
                        round.failed,
                        traffic.notices,
                        traffic.throttled,
                        traffic.lifted
                    );
                }
                Ok(())
            }
            crate::jobs::kinds::REINSTALL_SERVICE => {
                crate::services::reinstall::run_job(&self.provisioning, &self.db, job).await
            }
            crate::jobs::kinds::SNAPSHOT_ACTION => {
                crate::services::snapshots::run_job(&self.provisioning, &self.db, job).await
            }
            provision::SERVICE_ACTION => {
                provision::run_action(&self.provisioning, &self.db, job).await
            }
            other => Err(Permanent::error(format!("unknown job kind {other:?}"))),
        }
    }

    /// A listener subscribed to the job channel.
    async fn listen(&self) -> sqlx::Result<PgListener> {
        let mut listener = PgListener::connect_with(&self.db).await?;
        listener.listen(jobs::NOTIFY_CHANNEL).await?;
        Ok(listener)
    }

    async fn reclaim_stale(&self) -> sqlx::Result<()> {
        let older_than = Utc::now() - STALE_LOCK;
        let reclaimed = jobs::reclaim_stale(&self.db, older_than).await?;
        if reclaimed > 0 {
            tracing::warn!(
                reclaimed,
                "put back in the queue jobs whose worker stopped answering"
            );
        }
        Ok(())
    }

    /// Returns claimed jobs this worker will not run (it is stopping) to the queue, to run now,
    /// without counting the attempt.
    async fn release(&self, jobs: &[Job]) {
        let ids: Vec<i64> = jobs.iter().map(|job| job.id).collect();
        let released = jobs::release(&self.db, &ids, &self.name).await;
        if let Err(err) = released {
            tracing::error!(
                "returning {} claimed job(s) to the queue failed; they run again once their \
                 lock expires: {err}",
                ids.len()
            );
        }
    }
}

/// The delay before retry number `attempts` (the attempt that just failed): 10 s · 2^(attempts-1)
/// capped at an hour, less up to 10 % jitter so that jobs that failed together spread out.
pub fn backoff(attempts: i32) -> chrono::Duration {
    let exponent = attempts.clamp(1, 20) as u32 - 1;
    let delay = BACKOFF_BASE.saturating_mul(1 << exponent).min(BACKOFF_MAX);
    let mut random = [0u8; 2];
    let jitter = match getrandom::fill(&mut random) {
        Ok(()) => f64::from(u16::from_le_bytes(random)) / f64::from(u16::MAX) * 0.1,
        Err(_) => 0.0,
    };
    let delay = delay.mul_f64(1.0 - jitter);
    chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::hours(1))
}

/// Waits for a NOTIFY on the job channel, or the poll interval.
async fn wait_for_job(listener: Option<&mut PgListener>) -> Wake {
    let Some(listener) = listener else {
        tokio::time::sleep(POLL_INTERVAL).await;
        return Wake::Timeout;
    };
    match tokio::time::timeout(POLL_INTERVAL, listener.try_recv()).await {
        // A notification, or the connection was lost (and re-established): either way, look.
        Ok(Ok(_)) => Wake::Notified,
        Ok(Err(err)) => Wake::ListenerFailed(err),
        Err(_) => Wake::Timeout,
    }
}

/// Whether `future` has resolved, without waiting. Must not be asked again once true.
fn resolved<F: Future<Output = ()>>(future: Pin<&mut F>) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    matches!(future.poll(&mut cx), Poll::Ready(()))
}

/// This machine's name, for worker names.
fn hostname() -> String {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_default();
    let name: String = name
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
        .take(60)
        .collect();
    if name.is_empty() {
        "worker".to_owned()
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_ten_seconds_up_to_an_hour_with_a_little_jitter() {
        for (attempts, full) in [
            (1, 10),
            (2, 20),
            (3, 40),
            (4, 80),
            (9, 2560),
            (10, 3600),
            (50, 3600),
        ] {
            let delay = backoff(attempts).num_milliseconds();
            let full = full * 1000;
            assert!(
                delay <= full && delay >= full * 9 / 10,
                "attempt {attempts}: {delay} ms"
            );
        }
    }

    #[test]
    fn permanent_errors_are_found_under_context() {
        let err = Permanent::error("bad address").context("sending");
        assert!(is_permanent(&err));
        assert!(!is_permanent(&anyhow::anyhow!("connection refused")));
    }

    #[test]
    fn worker_names_fit_the_lock_column() {
        let name = format!("{}-{}-{}", hostname(), std::process::id(), "0123abcd");
        assert!(name.len() <= 100);
    }
}
