//! Configuration: one typed struct read from flags and environment variables (clap `env`), and
//! the secrets the product needs, which never print.
//!
//! Secrets: in development a missing token-signing key or credential-encryption key is generated
//! once and kept in `<data-dir>/secrets` (0600); with `NEXTGENRDP_ENV=production` a missing
//! secret stops start-up, because a key that silently changes logs everybody out and makes stored
//! service passwords unreadable.

use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use secrecy::SecretString;

use crate::crypto::Key;

/// Where the process runs: development generates what is missing, production refuses to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Environment {
    Development,
    Production,
}

/// How logs are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Whether operators must use two-factor sign-in (`NEXTGENRDP_OPERATOR_2FA`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum OperatorPolicy {
    /// No `/admin` page or admin API route answers an operator who has not signed in with a
    /// second factor.
    #[default]
    Required,
    /// Operators may turn it on, like customers.
    Optional,
}

/// Settings every command shares: where the data lives and which database to use.
#[derive(Args, Clone, Debug)]
pub struct CommonConfig {
    /// PostgreSQL URL. Without it, a private PostgreSQL cluster runs in <data-dir>/postgres.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<SecretString>,

    /// Directory for the embedded database, generated secrets, mail files and backups.
    #[arg(
        long,
        env = "NEXTGENRDP_DATA_DIR",
        default_value = "./var",
        global = true
    )]
    pub data_dir: PathBuf,

    /// development (generates missing secrets) or production (requires them).
    #[arg(
        long = "env",
        env = "NEXTGENRDP_ENV",
        value_enum,
        default_value = "development",
        global = true
    )]
    pub environment: Environment,

    /// Log format.
    #[arg(
        long,
        env = "NEXTGENRDP_LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    pub log_format: LogFormat,

    /// Maximum connections in the database pool.
    #[arg(
        long,
        env = "NEXTGENRDP_DB_MAX_CONNECTIONS",
        default_value_t = 20,
        global = true
    )]
    pub db_max_connections: u32,

    /// Queries slower than this many milliseconds are logged with their label.
    #[arg(
        long,
        env = "NEXTGENRDP_SLOW_QUERY_MS",
        default_value_t = 250,
        global = true
    )]
    pub slow_query_ms: u64,
}

/// How e-mail leaves: SMTP when `NEXTGENRDP_SMTP_URL` is set, otherwise `.eml` files.
#[derive(Args, Clone, Debug)]
pub struct MailConfig {
    /// SMTP server, e.g. smtps://user:password@smtp.example.com:465 or
    /// smtp://mail.example.com:587?tls=required. Unset: mails are written as .eml files.
    #[arg(long, env = "NEXTGENRDP_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<SecretString>,

    /// Directory for .eml files when no SMTP server is configured [default: <data-dir>/mail].
    #[arg(long, env = "NEXTGENRDP_MAIL_DIR")]
    pub mail_dir: Option<PathBuf>,

    /// The sender of every e-mail.
    #[arg(
        long,
        env = "NEXTGENRDP_MAIL_FROM",
        default_value = "NextGenRDP <no-reply@nextgenrdp.pk>"
    )]
    pub mail_from: String,

    /// Where customers' replies to our e-mails go (`Reply-To`). Unset: the support e-mail
    /// (`NEXTGENRDP_SUPPORT_EMAIL`), if set.
    #[arg(long, env = "NEXTGENRDP_MAIL_REPLY_TO")]
    pub mail_reply_to: Option<String>,
}

/// How customers reach the shop: shown in every page's header and footer and on `/contact`,
/// and the number behind the WhatsApp links. Each is optional; what is unset is not shown.
#[derive(Args, Clone, Debug, Default)]
pub struct ContactConfig {
    /// The support e-mail address (also where replies to our e-mails go, unless
    /// NEXTGENRDP_MAIL_REPLY_TO says otherwise).
    #[arg(long, env = "NEXTGENRDP_SUPPORT_EMAIL")]
    pub support_email: Option<String>,
    /// The support phone number as people dial it, e.g. "0300 1234567".
    #[arg(long, env = "NEXTGENRDP_SUPPORT_PHONE")]
    pub support_phone: Option<String>,
    /// The WhatsApp number customers write to: "+92 300 1234567" or "0300-1234567".
    #[arg(long, env = "NEXTGENRDP_WHATSAPP_NUMBER")]
    pub whatsapp_number: Option<String>,
    /// When someone answers, e.g. "Mon–Sat, 10:00–22:00 PKT".
    #[arg(long, env = "NEXTGENRDP_BUSINESS_HOURS")]
    pub business_hours: Option<String>,
    /// The shop's postal address.
    #[arg(long, env = "NEXTGENRDP_BUSINESS_ADDRESS")]
    pub business_address: Option<String>,
}

/// The shop's contact details, checked.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Contact {
    pub email: Option<String>,
    /// As configured, for people to read.
    pub phone: Option<String>,
    /// The phone number in international form, digits only (`923001234567`), for `tel:`.
    pub phone_digits: Option<String>,
    /// As configured, for people to read.
    pub whatsapp: Option<String>,
    /// Digits only, international (`923001234567`), for `https://wa.me/`.
    pub whatsapp_digits: Option<String>,
    pub hours: Option<String>,
    pub address: Option<String>,
}

/// A Pakistani or international number as digits in international form: `+92 300 1234567`,
/// `0092…` and `0300-1234567` all become `923001234567`. `None` when it is not a number.
pub fn international_digits(number: &str) -> Option<String> {
    let trimmed = number.trim();
    if !trimmed
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return None;
    }
    let plus = trimmed.starts_with('+');
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let international = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_owned()
    } else if let Some(rest) = digits.strip_prefix('0') {
        format!("92{rest}")
    } else {
        digits
    };
    (8..=15)
        .contains(&international.len())
        .then_some(international)
}

impl ContactConfig {
    /// The details checked: an e-mail must be an address and numbers must be numbers.
    pub fn contact(&self) -> anyhow::Result<Contact> {
        let text = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let email = text(&self.support_email);
        if let Some(email) = &email {
            anyhow::ensure!(
                email.parse::<lettre::Address>().is_ok(),
                "NEXTGENRDP_SUPPORT_EMAIL {email:?} is not an e-mail address"
            );
        }
        let number = |value: Option<String>, name: &str| -> anyhow::Result<Option<String>> {
            match value {
                Some(value) => international_digits(&value).map(Some).ok_or_else(|| {
                    anyhow::anyhow!(
                        "{name} {value:?} is not a phone number (write it as +92 300 1234567 or 0300-1234567)"
                    )
                }),
                None => Ok(None),
            }
        };
        let phone = text(&self.support_phone);
        let whatsapp = text(&self.whatsapp_number);
        Ok(Contact {
            email,
            phone_digits: number(phone.clone(), "NEXTGENRDP_SUPPORT_PHONE")?,
            phone,
            whatsapp_digits: number(whatsapp.clone(), "NEXTGENRDP_WHATSAPP_NUMBER")?,
            whatsapp,
            hours: text(&self.business_hours),
            address: text(&self.business_address),
        })
    }
}

impl Contact {
    /// A WhatsApp click-to-chat link with `text` filled in, when there is a WhatsApp number.
    pub fn whatsapp_link(&self, text: &str) -> Option<String> {
        self.whatsapp_digits.as_ref().map(|digits| {
            let text: String = text
                .bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect();
            format!("https://wa.me/{digits}?text={text}")
        })
    }

    /// Whether any way to reach the shop is set.
    pub fn any(&self) -> bool {
        self.email.is_some() || self.phone.is_some() || self.whatsapp.is_some()
    }
}

impl MailConfig {
    /// Where .eml files go.
    pub fn mail_dir(&self, common: &CommonConfig) -> PathBuf {
        self.mail_dir
            .clone()
            .unwrap_or_else(|| common.data_dir.join("mail"))
    }
}

/// The payment gateways' settings.
#[derive(Args, Clone, Debug)]
pub struct PaymentConfig {
    /// Accounts shown for manual transfers: `channel|provider|title|number` separated by `;`,
    /// channel one of bank, jazzcash, easypaisa. Unset: example accounts (development only).
    #[arg(long, env = "NEXTGENRDP_MANUAL_ACCOUNTS")]
    pub manual_accounts: Option<String>,

    #[command(flatten)]
    pub jazzcash: JazzCashConfig,

    #[command(flatten)]
    pub easypaisa: EasypaisaConfig,
}

/// Easypaisa's (Easypay's) settings: the web server takes payments with them, the worker
/// reconciles. All five of store id, hash key, API username, API password and account number
/// enable it.
#[derive(Args, Clone, Debug)]
pub struct EasypaisaConfig {
    /// Easypay store id.
    #[arg(long, env = "NEXTGENRDP_EASYPAISA_STORE_ID")]
    pub easypaisa_store_id: Option<String>,

    /// Easypay hash key (16 characters; signs the checkout request).
    #[arg(long, env = "NEXTGENRDP_EASYPAISA_HASH_KEY", hide_env_values = true)]
    pub easypaisa_hash_key: Option<SecretString>,

    /// Easypay API username (the transaction inquiry).
    #[arg(long, env = "NEXTGENRDP_EASYPAISA_USERNAME")]
    pub easypaisa_username: Option<String>,

    /// Easypay API password (the transaction inquiry).
    #[arg(long, env = "NEXTGENRDP_EASYPAISA_PASSWORD", hide_env_values = true)]
    pub easypaisa_password: Option<SecretString>,

    /// The merchant's Easypaisa account number (the inquiry names it).
    #[arg(long, env = "NEXTGENRDP_EASYPAISA_ACCOUNT_NUM")]
    pub easypaisa_account_num: Option<String>,

    /// sandbox or production (Easypay's staging or live hosts).
    #[arg(long, env = "NEXTGENRDP_EASYPAISA_ENVIRONMENT", default_value = "sandbox",
          value_parser = ["sandbox", "production"])]
    pub easypaisa_environment: String,

    /// The hosted checkout's `Index.jsf`, if your account's documents name another host.
    #[arg(long, env = "NEXTGENRDP_EASYPAISA_CHECKOUT_URL")]
    pub easypaisa_checkout_url: Option<String>,

    /// The transaction inquiry (`inquire-transaction`), if your account's documents name
    /// another host.
    #[arg(long, env = "NEXTGENRDP_EASYPAISA_INQUIRY_URL")]
    pub easypaisa_inquiry_url: Option<String>,
}

/// WhatsApp Business Cloud API: template messages to customers who chose e-mail + WhatsApp.
/// Off unless both the token and the phone number id are set.
#[derive(Args, Clone, Debug, Default)]
pub struct WhatsAppConfig {
    /// A permanent access token of the WhatsApp Business app (Meta's system user token).
    #[arg(long, env = "NEXTGENRDP_WHATSAPP_TOKEN", hide_env_values = true)]
    pub whatsapp_token: Option<SecretString>,
    /// The id of the WhatsApp phone number the messages come from (not the number itself).
    #[arg(long, env = "NEXTGENRDP_WHATSAPP_PHONE_NUMBER_ID")]
    pub whatsapp_phone_number_id: Option<String>,
    /// The Graph API's address with its version.
    #[arg(
        long,
        env = "NEXTGENRDP_WHATSAPP_API_URL",
        default_value = "https://graph.facebook.com/v21.0"
    )]
    pub whatsapp_api_url: String,
    /// The language code the message templates were approved in.
    #[arg(long, env = "NEXTGENRDP_WHATSAPP_LANGUAGE", default_value = "en")]
    pub whatsapp_language: String,
}

/// JazzCash's settings (the web server takes payments with them; the worker reconciles).
#[derive(Args, Clone, Debug)]
pub struct JazzCashConfig {
    /// JazzCash merchant id; with the password and integrity salt it enables JazzCash checkout.
    #[arg(long, env = "NEXTGENRDP_JAZZCASH_MERCHANT_ID")]
    pub jazzcash_merchant_id: Option<String>,

    /// JazzCash merchant password.
    #[arg(long, env = "NEXTGENRDP_JAZZCASH_PASSWORD", hide_env_values = true)]
    pub jazzcash_password: Option<SecretString>,

    /// JazzCash integrity salt (signs requests and verifies callbacks).
    #[arg(
        long,
        env = "NEXTGENRDP_JAZZCASH_INTEGRITY_SALT",
        hide_env_values = true
    )]
    pub jazzcash_integrity_salt: Option<SecretString>,

    /// sandbox or production.
    #[arg(long, env = "NEXTGENRDP_JAZZCASH_ENVIRONMENT", default_value = "sandbox",
          value_parser = ["sandbox", "production"])]
    pub jazzcash_environment: String,

    /// The merchant API's transaction status inquiry endpoint (from JazzCash's documentation
    /// for your account, e.g. https://sandbox.jazzcash.com.pk/ApplicationAPI/API/PaymentInquiry/Inquire).
    /// Unset: browser returns settle on their verified signature alone, and pending attempts
    /// are never reconciled.
    #[arg(long, env = "NEXTGENRDP_JAZZCASH_INQUIRY_URL")]
    pub jazzcash_inquiry_url: Option<String>,
}

/// Settings of the web server.
#[derive(Args, Clone, Debug)]
pub struct ServeConfig {
    /// Address to listen on.
    #[arg(long, env = "NEXTGENRDP_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// The address customers reach the shop at; used in e-mailed links.
    #[arg(long, env = "NEXTGENRDP_PUBLIC_URL")]
    pub public_url: Option<String>,

    #[command(flatten)]
    pub contact: ContactConfig,

    #[command(flatten)]
    pub whatsapp: WhatsAppConfig,

    /// Comma-separated origins allowed to call the API from a browser (CORS), e.g.
    /// https://shop.example.pk. Empty: no cross-origin access.
    #[arg(
        long,
        env = "NEXTGENRDP_CORS_ORIGINS",
        value_delimiter = ',',
        default_value = ""
    )]
    pub cors_origins: Vec<String>,

    /// Seconds in-flight requests get to finish after SIGTERM or ctrl-c.
    #[arg(long, env = "NEXTGENRDP_SHUTDOWN_TIMEOUT_SECS", default_value_t = 20)]
    pub shutdown_timeout_secs: u64,

    /// Seconds one request may take before it is answered 408.
    #[arg(long, env = "NEXTGENRDP_REQUEST_TIMEOUT_SECS", default_value_t = 30)]
    pub request_timeout_secs: u64,

    /// Seconds a client has to send a request's headers, from the connection's start or the
    /// previous response; a connection that takes longer (or idles that long between requests)
    /// is closed.
    #[arg(long, env = "NEXTGENRDP_HEADER_READ_TIMEOUT_SECS", default_value_t = 10,
          value_parser = clap::value_parser!(u64).range(1..=600))]
    pub header_read_timeout_secs: u64,

    /// Connections open at once; more wait until one closes.
    #[arg(long, env = "NEXTGENRDP_MAX_CONNECTIONS", default_value_t = 1024,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_connections: u64,

    #[command(flatten)]
    pub mail: MailConfig,

    #[command(flatten)]
    pub payments: PaymentConfig,

    #[command(flatten)]
    pub lifecycle: LifecycleConfig,

    #[command(flatten)]
    pub backups: BackupConfig,

    /// bcrypt cost for new password hashes (10 to 15; each step doubles the time).
    #[arg(long, env = "NEXTGENRDP_BCRYPT_COST", default_value_t = 12,
          value_parser = clap::value_parser!(u32).range(4..=15))]
    pub bcrypt_cost: u32,

    /// Take the client address from the X-Forwarded-For header (behind a reverse proxy only).
    #[arg(long, env = "NEXTGENRDP_TRUST_FORWARDED_FOR", default_value_t = false, action = clap::ArgAction::Set)]
    pub trust_forwarded_for: bool,

    /// Days an answered support ticket waits on its customer before it closes by itself (a
    /// reminder goes out two days before).
    #[arg(long, env = "NEXTGENRDP_TICKET_AUTO_CLOSE_DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(u32).range(1..=365))]
    pub ticket_auto_close_days: u32,

    /// Hours an order may stay unpaid before it expires (and its promo code use is released).
    #[arg(long, env = "NEXTGENRDP_ORDER_EXPIRY_HOURS", default_value_t = 48,
          value_parser = clap::value_parser!(u32).range(1..=720))]
    pub order_expiry_hours: u32,

    /// Bearer token `/metrics` requires. Unset: only clients on this machine (loopback) may read it.
    #[arg(long, env = "NEXTGENRDP_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<SecretString>,

    /// Whether operators must sign in with a second factor: required (no /admin page or admin
    /// API route answers until they have) or optional (like customers).
    #[arg(
        long = "operator-2fa",
        env = "NEXTGENRDP_OPERATOR_2FA",
        value_enum,
        default_value = "required"
    )]
    pub operator_two_factor: OperatorPolicy,

    /// Run the background worker inside `serve`.
    #[arg(long, env = "NEXTGENRDP_RUN_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub run_worker: bool,

    /// Load the bundled default catalog when the database has no plans yet.
    #[arg(long, env = "NEXTGENRDP_SEED_CATALOG", default_value_t = true, action = clap::ArgAction::Set)]
    pub seed_catalog: bool,
}

impl ServeConfig {
    pub fn shutdown_timeout(&self) -> Duration {
        Duration::from_secs(self.shutdown_timeout_secs)
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.request_timeout_secs)
    }

    /// The CORS allow-list without blanks.
    pub fn cors_allow_list(&self) -> Vec<String> {
        self.cors_origins
            .iter()
            .map(|o| o.trim().trim_end_matches('/').to_owned())
            .filter(|o| !o.is_empty())
            .collect()
    }
}

/// The thresholds of a service's life after it is sold, every one configurable.
#[derive(Args, Clone, Debug)]
pub struct LifecycleConfig {
    /// Days before a service's due date on which its renewal reminder is e-mailed (the renewal
    /// order is raised at the first of them), comma-separated.
    #[arg(
        long,
        env = "NEXTGENRDP_RENEWAL_REMINDER_DAYS",
        value_delimiter = ',',
        default_value = "7,3,1"
    )]
    pub renewal_reminder_days: Vec<u32>,

    /// Days past its due date an unpaid service keeps running before it is suspended.
    #[arg(long, env = "NEXTGENRDP_SUSPEND_AFTER_DAYS", default_value_t = 3)]
    pub suspend_after_days: u32,

    /// Days past its due date an unpaid service is terminated (its server deleted).
    #[arg(long, env = "NEXTGENRDP_TERMINATE_AFTER_DAYS", default_value_t = 14)]
    pub terminate_after_days: u32,

    /// Days a released IP address is held back before another customer gets it.
    #[arg(long, env = "NEXTGENRDP_IP_HOLD_DAYS", default_value_t = 7)]
    pub ip_hold_days: u32,

    /// What happens when a server uses its plan's monthly traffic: `nothing`, `notify` (e-mails
    /// at 80 % and 100 %) or `throttle` (the e-mails, and its network limited to
    /// `--traffic-throttle-rate` until the month ends).
    #[arg(
        long,
        env = "NEXTGENRDP_TRAFFIC_OVERAGE",
        value_enum,
        default_value = "notify"
    )]
    pub traffic_overage: TrafficOverage,

    /// The network limit of a throttled server, in megabytes per second (Proxmox's `rate` on
    /// its NIC; 1 MB/s is 8 Mbit/s).
    #[arg(long, env = "NEXTGENRDP_TRAFFIC_THROTTLE_RATE", default_value_t = 1.0)]
    pub traffic_throttle_rate: f64,
}

/// What happens when a server uses its plan's monthly traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TrafficOverage {
    /// No e-mails, no limit.
    Nothing,
    /// E-mails at 80 % and 100 % of the allowance.
    Notify,
    /// The e-mails, and the network limited until the month ends.
    Throttle,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            renewal_reminder_days: vec![7, 3, 1],
            suspend_after_days: 3,
            terminate_after_days: 14,
            ip_hold_days: 7,
            traffic_overage: TrafficOverage::Notify,
            traffic_throttle_rate: 1.0,
        }
    }
}

/// The backup policy in force, as the back office shows it.
#[derive(Clone, Debug, Default)]
pub struct BackupPolicy {
    /// Where this node's backups are (`<data-dir>/backups`).
    pub dir: std::path::PathBuf,
    /// Whether the worker backs up once a day on its own.
    pub daily: bool,
    /// Whether this node's worker backs up at all (`daily` or `manual`): "back up now" works.
    pub takes_backups: bool,
    pub keep_daily: u32,
    pub keep_weekly: u32,
}

/// Whether the worker backs up on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum BackupSchedule {
    /// Once a day (UTC), then old backups are pruned; and when an operator asks.
    Daily,
    /// Only when an operator asks ("back up now" in the back office) or the command line does.
    Manual,
    /// Never on this node's worker (another node backs up); `nextgenrdp backup create` only.
    Off,
}

/// The scheduled backup's settings (flags and environment).
#[derive(Args, Clone, Debug)]
pub struct BackupConfig {
    /// daily: the worker backs the database up once a day into <data-dir>/backups and prunes
    /// old backups, and when an operator asks; manual: only when an operator asks; off: this
    /// node's worker never backs up (`nextgenrdp backup create` still does).
    #[arg(
        long,
        env = "NEXTGENRDP_BACKUP_SCHEDULE",
        value_enum,
        default_value = "daily"
    )]
    pub backup_schedule: BackupSchedule,

    /// The scheduled backup keeps the newest backup of each of this many last days.
    #[arg(long, env = "NEXTGENRDP_BACKUP_KEEP_DAILY", default_value_t = 7,
          value_parser = clap::value_parser!(u32).range(1..=3660))]
    pub backup_keep_daily: u32,

    /// The scheduled backup also keeps the newest backup of each of this many last ISO weeks.
    #[arg(long, env = "NEXTGENRDP_BACKUP_KEEP_WEEKLY", default_value_t = 4,
          value_parser = clap::value_parser!(u32).range(0..=520))]
    pub backup_keep_weekly: u32,
}

/// The secrets of a running node.
#[derive(Debug)]
pub struct Secrets {
    /// Signs access tokens (JWT, HS256).
    pub token_signing_key: Key,
    /// Encrypts service credentials at rest (AES-256-GCM).
    pub credential_key: Key,
    /// Earlier credential keys, still able to open values not yet re-sealed by `keys rotate`.
    pub previous_credential_keys: Vec<Key>,
}

/// Earlier credential keys: hex keys separated by commas or whitespace.
pub const PREVIOUS_CREDENTIAL_KEYS_ENV: &str = "NEXTGENRDP_CREDENTIAL_KEYS_PREVIOUS";
/// Their file in `<data-dir>/secrets`, one hex key per line (written by `keys rotate`).
pub const PREVIOUS_CREDENTIAL_KEYS_FILE: &str = "credential_keys_previous";
/// The current credential key's environment variable.
pub const CREDENTIAL_KEY_ENV: &str = "NEXTGENRDP_CREDENTIAL_KEY";
/// The current credential key's file in `<data-dir>/secrets`.
pub const CREDENTIAL_KEY_FILE: &str = "credential_key";

/// One secret: its environment variable and its file name in `<data-dir>/secrets`.
struct SecretSpec {
    env: &'static str,
    file: &'static str,
}

const TOKEN_SIGNING_KEY: SecretSpec = SecretSpec {
    env: "NEXTGENRDP_TOKEN_SIGNING_KEY",
    file: "token_signing_key",
};
const CREDENTIAL_KEY: SecretSpec = SecretSpec {
    env: CREDENTIAL_KEY_ENV,
    file: CREDENTIAL_KEY_FILE,
};

impl Secrets {
    /// Reads the secrets from the environment, else from `<data-dir>/secrets`; in development
    /// generates the missing ones there, in production refuses to start without them.
    pub fn load(common: &CommonConfig) -> anyhow::Result<Self> {
        let dir = common.data_dir.join("secrets");
        Ok(Self {
            token_signing_key: load_key(&TOKEN_SIGNING_KEY, &dir, common.environment)?,
            credential_key: load_key(&CREDENTIAL_KEY, &dir, common.environment)?,
            previous_credential_keys: load_previous_keys(&dir)?,
        })
    }

    /// The keyring credentials are sealed and opened with.
    pub fn keyring(&self) -> crate::crypto::Keyring {
        crate::crypto::Keyring::new(&self.credential_key, &self.previous_credential_keys)
    }
}

/// The earlier credential keys, from the environment or else the secrets directory.
fn load_previous_keys(dir: &Path) -> anyhow::Result<Vec<Key>> {
    let (text, source) = match std::env::var(PREVIOUS_CREDENTIAL_KEYS_ENV) {
        Ok(text) => (text, PREVIOUS_CREDENTIAL_KEYS_ENV.to_owned()),
        Err(_) => {
            let path = dir.join(PREVIOUS_CREDENTIAL_KEYS_FILE);
            match std::fs::read_to_string(&path) {
                Ok(text) => (text, path.display().to_string()),
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
                Err(err) => {
                    return Err(err).with_context(|| format!("reading {}", path.display()));
                }
            }
        }
    };
    text.split(|c: char| c == ',' || c.is_whitespace())
        .filter(|part| !part.is_empty())
        .map(|part| Key::from_hex(part).with_context(|| format!("{source} holds an invalid key")))
        .collect()
}

fn load_key(spec: &SecretSpec, dir: &Path, env: Environment) -> anyhow::Result<Key> {
    if let Ok(value) = std::env::var(spec.env) {
        return Key::from_hex(&value).with_context(|| format!("{} is not valid", spec.env));
    }
    let path = dir.join(spec.file);
    if path.exists() {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("reading {}", path.display()))?;
        return Key::from_hex(&text).with_context(|| format!("{} is not valid", path.display()));
    }
    if env == Environment::Production {
        bail!(
            "{} is not set and {} does not exist; in production every secret must be provided \
             (generate one with: openssl rand -hex 32)",
            spec.env,
            path.display()
        );
    }
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).context("the operating system gave no random bytes")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("restricting {}", dir.display()))?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(hex::encode(bytes).as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    tracing::info!(path = %path.display(), "generated {} for development", spec.env);
    Ok(Key::from_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_numbers_become_international_digits() {
        for (written, digits) in [
            ("+92 300 1234567", Some("923001234567")),
            ("0300-1234567", Some("923001234567")),
            ("0092 (300) 1234567", Some("923001234567")),
            ("+44 20 7946 0958", Some("442079460958")),
            ("call us", None),
            ("12", None),
        ] {
            assert_eq!(
                international_digits(written).as_deref(),
                digits,
                "{written}"
            );
        }
        let contact = ContactConfig {
            whatsapp_number: Some("0300 1234567".into()),
            support_email: Some(" help@shop.pk ".into()),
            ..ContactConfig::default()
        }
        .contact()
        .unwrap();
        assert_eq!(contact.email.as_deref(), Some("help@shop.pk"));
        assert_eq!(
            contact.whatsapp_link("Order NGR-12: paid?").unwrap(),
            "https://wa.me/923001234567?text=Order%20NGR-12%3A%20paid%3F"
        );
        let wrong = ContactConfig {
            support_email: Some("not an address".into()),
            ..ContactConfig::default()
        };
        assert!(
            wrong
                .contact()
                .unwrap_err()
                .to_string()
                .contains("NEXTGENRDP_SUPPORT_EMAIL")
        );
    }

    fn common(dir: &Path, environment: Environment) -> CommonConfig {
        CommonConfig {
            database_url: None,
            data_dir: dir.to_path_buf(),
            environment,
            log_format: LogFormat::Pretty,
            db_max_connections: 5,
            slow_query_ms: 250,
        }
    }

    #[test]
    fn development_generates_missing_secrets_once_with_private_permissions() {
        let dir = tempfile::tempdir().unwrap();
        let first = Secrets::load(&common(dir.path(), Environment::Development)).unwrap();
        let again = Secrets::load(&common(dir.path(), Environment::Development)).unwrap();
        assert_eq!(
            first.token_signing_key.expose(),
            again.token_signing_key.expose()
        );
        assert_ne!(
            first.token_signing_key.expose(),
            first.credential_key.expose()
        );
        let mode = std::fs::metadata(dir.path().join("secrets/credential_key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn production_refuses_to_start_without_its_secrets() {
        let dir = tempfile::tempdir().unwrap();
        let err = Secrets::load(&common(dir.path(), Environment::Production)).unwrap_err();
        assert!(
            err.to_string().contains("NEXTGENRDP_TOKEN_SIGNING_KEY"),
            "{err}"
        );
        assert!(!dir.path().join("secrets").exists());
    }

    #[test]
    fn keys_never_print() {
        let key = Key::from_bytes([7; 32]);
        assert_eq!(format!("{key:?}"), "Key([REDACTED])");
    }
}
