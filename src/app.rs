//! The application: shared state, and the `serve` lifecycle (database, migrations, default
//! catalog, HTTP server with graceful shutdown).

use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;
use sqlx::PgPool;
use tokio::net::TcpListener;

use crate::config::{CommonConfig, Secrets, ServeConfig};
use crate::db::Database;
use crate::mail::Mailer;
use crate::worker::Worker;
use crate::{catalog, web};

/// What every request handler can reach. Cheap to clone; nothing in it is per-node state that
/// another node would need (sessions, carts and jobs live in PostgreSQL).
#[derive(Clone)]
pub struct AppState {
    pub db: PgPool,
    pub settings: Arc<Settings>,
    /// This node's copy of the catalog, dropped on every catalog change (see `catalog::cache`).
    pub catalog: catalog::cache::CatalogCache,
}

/// Settings fixed at start-up.
#[derive(Debug)]
pub struct Settings {
    pub public_url: String,
    pub cors_origins: Vec<String>,
    pub request_timeout: std::time::Duration,
    pub secrets: Secrets,
    /// bcrypt cost of new password hashes.
    pub bcrypt_cost: u32,
    /// Believe X-Forwarded-For (only behind a proxy that sets it).
    pub trust_forwarded_for: bool,
    /// Hours an order may stay unpaid before it expires.
    pub order_expiry_hours: u32,
    /// The payment gateways offered.
    pub payments: crate::payments::PaymentSettings,
    /// The credential keyring and the thresholds of a service's life.
    pub provisioning: Arc<crate::provisioning::Provisioning>,
    /// The bearer token `/metrics` requires; `None`: loopback clients only.
    pub metrics_token: Option<secrecy::SecretString>,
    /// Whether operators must sign in with a second factor (`NEXTGENRDP_OPERATOR_2FA`).
    pub operator_two_factor: crate::accounts::two_factor::OperatorPolicy,
    /// Production: without a token `/metrics` answers nobody (a proxy on the same machine would
    /// make every visitor look local).
    pub metrics_token_required: bool,
}

impl Settings {
    /// Cookies are `Secure` when the shop is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

impl AppState {
    pub fn new(db: PgPool, settings: Settings) -> Self {
        Self {
            db,
            settings: Arc::new(settings),
            catalog: catalog::cache::CatalogCache::new(),
        }
    }
}

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
    let startup = Startup {
        secrets: Secrets::load(common)?,
        payments: config.payments.settings(common.environment)?,
        mailer: Arc::new(Mailer::from_config(&config.mail, common)?),
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
            provisioning: provisioning.clone(),
            public_url,
            cors_origins: config.cors_allow_list(),
            request_timeout: config.request_timeout(),
            secrets,
            bcrypt_cost: config.bcrypt_cost,
            trust_forwarded_for: config.trust_forwarded_for,
            order_expiry_hours: config.order_expiry_hours,
            payments,
            metrics_token,
            operator_two_factor: config.operator_two_factor,
            metrics_token_required: common.environment == crate::config::Environment::Production,
        },
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
            .with_jazzcash(state.settings.payments.jazzcash.clone())
            .with_order_expiry_hours(config.order_expiry_hours)
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
    let served = web::serve(
        listener,
        web::router(state),
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
