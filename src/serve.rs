//! `nextgenrdp serve`: the lifecycle of a node (database, migrations, default catalog, the
//! worker beside the HTTP server, graceful shutdown). The top of the house, with the CLI.

use std::sync::Arc;

use anyhow::Context as _;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;

use crate::app::{AppState, Settings};
use crate::catalog;
use crate::config::{CommonConfig, Secrets, ServeConfig};
use crate::db::Database;
use crate::mail::Mailer;
use crate::router;
use crate::web;
use crate::worker::Worker;

/// `nextgenrdp serve`: opens the database (embedded when no DATABASE_URL), migrates, seeds the
/// default catalog into an empty database, then serves until SIGTERM or ctrl-c.
pub async fn serve(common: &CommonConfig, config: &ServeConfig) -> anyhow::Result<()> {
    let listener = TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("listening on {}", config.listen))?;
    let local = listener.local_addr()?;
    // Configuration first: a missing secret or a bad setting stops start-up before anything
    // touches the database.
    config.lifecycle.validate()?;
    let contact = Arc::new(config.contact.contact()?);
    // Checked here, before the database: a half-set WhatsApp stops start-up, naming what is
    // missing. The worker below builds its own client from the same settings.
    let whatsapp_enabled = config.whatsapp.settings()?.is_some();
    let startup = Startup {
        secrets: Secrets::load(common)?,
        payments: config.payments.settings(common.environment)?,
        mailer: Arc::new(Mailer::from_config(
            &config.mail,
            common,
            config.contact.support_email.as_deref(),
        )?),
        contact,
        whatsapp_enabled,
    };
    crate::telemetry::install_metrics_recorder();
    log_jazzcash_inquiry(startup.payments.jazzcash.as_ref());
    let database = Database::open(common).await?;
    let result = serve_on(common, config, startup, &database, listener, local).await;
    database.close().await;
    result
}

/// Says at start-up whether JazzCash payments are confirmed with JazzCash itself.
pub fn log_jazzcash_inquiry(jazzcash: Option<&crate::payments::jazzcash::JazzCash>) {
    match jazzcash {
        Some(jazzcash) if jazzcash.inquiry_url.is_none() => tracing::warn!(
            "JazzCash status inquiry is off (NEXTGENRDP_JAZZCASH_INQUIRY_URL is not set): a \
             browser return settles on its verified signature alone, and attempts left pending \
             are not reconciled"
        ),
        Some(_) => tracing::info!(
            "JazzCash status inquiry is on: browser returns are confirmed with JazzCash, pending \
             attempts reconciled every 5 minutes"
        ),
        None => {}
    }
}

/// What `serve` reads from configuration before it opens the database.
struct Startup {
    secrets: Secrets,
    payments: crate::payments::PaymentSettings,
    mailer: Arc<Mailer>,
    contact: Arc<crate::config::Contact>,
    whatsapp_enabled: bool,
}

async fn serve_on(
    common: &CommonConfig,
    config: &ServeConfig,
    startup: Startup,
    database: &Database,
    listener: TcpListener,
    local: std::net::SocketAddr,
) -> anyhow::Result<()> {
    crate::db::migrate(&database.pool).await?;
    if config.seed_catalog {
        catalog::file::seed_if_empty(&database.pool).await?;
    }
    let Startup {
        secrets,
        payments,
        mailer,
        contact,
        whatsapp_enabled,
    } = startup;
    let public_url = config
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{local}"))
        .trim_end_matches('/')
        .to_owned();
    let provisioning = crate::provisioning::Provisioning::new(
        secrets.keyring(),
        config.lifecycle.clone(),
        public_url.clone(),
    );
    let metrics_token = config
        .metrics_token
        .clone()
        .filter(|token| !token.expose_secret().is_empty());
    if metrics_token.is_none() && common.environment == crate::config::Environment::Production {
        tracing::warn!(
            "NEXTGENRDP_METRICS_TOKEN is not set: in production /metrics answers 403 to everyone"
        );
    }
    let state = AppState::new(
        database.pool.clone(),
        Settings {
            public_url,
            cors_origins: config.cors_allow_list(),
            request_timeout: config.request_timeout(),
            secrets,
            bcrypt_cost: config.bcrypt_cost,
            trust_forwarded_for: config.trust_forwarded_for,
            order_expiry_hours: config.order_expiry_hours,
            metrics_token,
            operator_two_factor: config.operator_two_factor,
            metrics_token_required: common.environment == crate::config::Environment::Production,
            contact,
            whatsapp_enabled,
            backups: config.backups.policy(common),
        },
        payments,
        provisioning.clone(),
    );
    // The worker runs beside the web server unless this node is web-only; any number of nodes
    // may run one (jobs are claimed with SKIP LOCKED).
    let worker = if config.run_worker {
        tracing::info!(
            "background worker started; e-mail goes to {}",
            mailer.describe()
        );
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = Worker::new(database.pool.clone(), mailer, provisioning)
            .with_jazzcash(state.payments.jazzcash.clone())
            .with_easypaisa(state.payments.easypaisa.clone())
            .with_order_expiry_hours(config.order_expiry_hours)
            .with_ticket_auto_close_days(config.ticket_auto_close_days)
            .with_whatsapp(config.whatsapp.settings()?)
            .with_backups(config.backups.settings(common, database)?);
        let task = tokio::spawn(worker.run(async {
            let _ = stopped.await;
        }));
        Some((stop, task))
    } else {
        None
    };
    // Catalog cache invalidation across nodes: LISTEN for the catalog triggers' notifications
    // (holds one pool connection); stopped when serving ends.
    let catalog_listener = state.catalog.spawn_listener(database.pool.clone());
    tracing::info!("NextGenRDP listening on http://{local}");
    let limits = config.server_limits();
    web::server::raise_file_limit(limits.max_connections);
    let served = router::serve(
        listener,
        router::router(state),
        config.shutdown_timeout(),
        limits,
    )
    .await;
    catalog_listener.abort();
    if let Some((stop, task)) = worker {
        let _ = stop.send(());
        let _ = task.await;
    }
    served
}
