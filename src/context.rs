//! What a domain verb runs with: the database and the settings fixed at start-up. The ground
//! of the house (no domain, no HTTP): verbs take a `&Context`, and the router's `AppState`
//! (see `crate::app`) hands its own down.

use std::sync::Arc;

use sqlx::PgPool;

use crate::config::Secrets;

/// The database and the node's settings. Cheap to clone.
#[derive(Clone)]
pub struct Context {
    pub db: PgPool,
    pub settings: Arc<Settings>,
}

impl Context {
    pub fn new(db: PgPool, settings: Settings) -> Self {
        Self {
            db,
            settings: Arc::new(settings),
        }
    }
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
    /// The bearer token `/metrics` requires; `None`: loopback clients only.
    pub metrics_token: Option<secrecy::SecretString>,
    /// Whether operators must sign in with a second factor (`NEXTGENRDP_OPERATOR_2FA`).
    pub operator_two_factor: crate::config::OperatorPolicy,
    /// Production: without a token `/metrics` answers nobody (a proxy on the same machine would
    /// make every visitor look local).
    pub metrics_token_required: bool,
    /// How customers reach the shop (every page's footer, `/contact`, WhatsApp links).
    pub contact: std::sync::Arc<crate::config::Contact>,
    /// Whether WhatsApp messages can be sent (`NEXTGENRDP_WHATSAPP_*` set): customers may then
    /// choose e-mail + WhatsApp.
    pub whatsapp_enabled: bool,
    /// The backup policy in force on this node (the back office's backups page).
    pub backups: crate::config::BackupPolicy,
}

impl Settings {
    /// Cookies are `Secure` when the shop is served over https.
    pub fn secure_cookies(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}
