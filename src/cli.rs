//! The `nextgenrdp` command line: clap definitions and what each command does.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};

use crate::accounts::{self, Email, Role, users};
use crate::catalog::file::CatalogFile;
use crate::config::{CommonConfig, ServeConfig};
use crate::db::{self, Database};

/// NextGenRDP: sell Windows RDP and Linux VPS plans in PKR and run the business behind the sale.
#[derive(Debug, Parser)]
#[command(name = "nextgenrdp", version, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub common: CommonConfig,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the web server (JSON API and pages). Applies pending migrations first.
    Serve(Box<ServeConfig>),
    /// Run the background worker alone (e-mail and other jobs), until SIGTERM or ctrl-c.
    Worker(Box<WorkerArgs>),
    /// Apply pending database migrations (idempotent).
    Migrate,
    /// Import or export the catalog (categories, locations, plans) as TOML.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Manage accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the keys that encrypt credentials at rest.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Back the database up, list the backups, restore one.
    #[command(subcommand)]
    Backup(crate::backup::BackupCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Re-encrypt every stored credential (service passwords, backend API tokens) with a new
    /// key. With keys in <data-dir>/secrets, a new key is generated and the old one kept in
    /// credential_keys_previous; with NEXTGENRDP_CREDENTIAL_KEY set, that (new) key is used and
    /// NEXTGENRDP_CREDENTIAL_KEYS_PREVIOUS must hold the old one(s). Restart every node after.
    Rotate,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub mail: crate::config::MailConfig,
    /// Run the jobs that are due now, then exit.
    #[arg(long)]
    pub once: bool,
    /// Days an answered support ticket waits on its customer before it closes by itself.
    #[arg(long, env = "NEXTGENRDP_TICKET_AUTO_CLOSE_DAYS", default_value_t = 7,
          value_parser = clap::value_parser!(u32).range(1..=365))]
    pub ticket_auto_close_days: u32,
    /// Hours an order may stay unpaid before it expires.
    #[arg(long, env = "NEXTGENRDP_ORDER_EXPIRY_HOURS", default_value_t = 48,
          value_parser = clap::value_parser!(u32).range(1..=720))]
    pub order_expiry_hours: u32,
    /// The address customers reach the shop at; used in e-mailed links.
    #[arg(
        long,
        env = "NEXTGENRDP_PUBLIC_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub public_url: String,
    #[command(flatten)]
    pub lifecycle: crate::provisioning::LifecycleConfig,
    #[command(flatten)]
    pub backups: crate::backup::BackupConfig,
    #[command(flatten)]
    pub jazzcash: crate::config::JazzCashConfig,
    #[command(flatten)]
    pub easypaisa: crate::config::EasypaisaConfig,
    #[command(flatten)]
    pub contact: crate::config::ContactConfig,
    #[command(flatten)]
    pub whatsapp: crate::config::WhatsAppConfig,
}

#[derive(Debug, Subcommand)]
pub enum CatalogCommand {
    /// Upsert the catalog from FILE; plans and locations missing from it are deactivated.
    Import {
        /// A catalog TOML file (see catalog/default.toml).
        file: PathBuf,
    },
    /// Write the whole catalog as TOML to FILE, or to standard output.
    Export {
        /// Where to write; standard output when omitted.
        file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (verified). The password is read from standard input when it is not a
    /// terminal, otherwise prompted for twice.
    Create(CreateUser),
    /// Turn two-factor sign-in off for an account whose owner lost their authenticator (they
    /// set it up again at their next login); ends every session of the account, e-mails its
    /// owner and writes the audit log.
    #[command(name = "reset-2fa")]
    ResetTwoFactor {
        /// The account's e-mail.
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Args)]
pub struct CreateUser {
    /// E-mail address (the login).
    #[arg(long)]
    pub email: String,
    /// Full name.
    #[arg(long)]
    pub name: String,
    /// Phone number.
    #[arg(long)]
    pub phone: Option<String>,
    /// The account's role: `customer` (the default) or a staff role, `owner` (everything,
    /// manages staff), `billing`, `support` or `technical`.
    #[arg(long, value_parser = parse_role, conflicts_with = "admin")]
    pub role: Option<Role>,
    /// The same as `--role owner` (kept from before staff roles).
    #[arg(long)]
    pub admin: bool,
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| format!("must be one of {}", Role::spellings()))
}

/// Runs the parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(config) => crate::serve::serve(&cli.common, &config).await,
        Command::Worker(args) => {
            args.lifecycle.validate()?;
            crate::telemetry::install_metrics_recorder();
            let secrets = crate::config::Secrets::load(&cli.common)?;
            let provisioning = crate::provisioning::Provisioning::new(
                secrets.keyring(),
                args.lifecycle.clone(),
                args.public_url.trim_end_matches('/').to_owned(),
            );
            let mailer = std::sync::Arc::new(crate::mail::Mailer::from_config(
                &args.mail,
                &cli.common,
                args.contact.support_email.as_deref(),
            )?);
            let jazzcash = args.jazzcash.settings()?;
            crate::serve::log_jazzcash_inquiry(jazzcash.as_ref());
            let easypaisa = args.easypaisa.settings()?;
            with_database(&cli.common, async |database: &Database| {
                db::migrate(&database.pool).await?;
                let worker =
                    crate::worker::Worker::new(database.pool.clone(), mailer, provisioning)
                        .with_jazzcash(jazzcash)
                        .with_easypaisa(easypaisa)
                        .with_order_expiry_hours(args.order_expiry_hours)
                        .with_ticket_auto_close_days(args.ticket_auto_close_days)
                        .with_whatsapp(args.whatsapp.settings()?)
                        .with_backups(args.backups.settings(&cli.common, database)?);
                if args.once {
                    let ran = worker.run_once().await?;
                    println!("ran {ran} jobs");
                } else {
                    tracing::info!("worker {} started", worker.name());
                    worker.run(crate::router::shutdown_signal()).await;
                }
                Ok(())
            })
            .await
        }
        Command::Backup(command) => crate::backup::run(&cli.common, command).await,
        Command::Migrate => {
            with_database(&cli.common, async |database: &Database| {
                db::migrate(&database.pool).await?;
                let applied = db::MIGRATOR.iter().count();
                println!("database is up to date ({applied} migrations)");
                Ok(())
            })
            .await
        }
        Command::Catalog(CatalogCommand::Import { file }) => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            let catalog =
                CatalogFile::parse(&text).with_context(|| format!("in {}", file.display()))?;
            with_database(&cli.common, async |database: &Database| {
                db::migrate(&database.pool).await?;
                let summary = catalog.import(&database.pool).await?;
                println!("{summary}");
                Ok(())
            })
            .await
        }
        Command::Catalog(CatalogCommand::Export { file }) => {
            with_database(&cli.common, async |database: &Database| {
                db::migrate(&database.pool).await?;
                let text = CatalogFile::export(&database.pool).await?.to_toml()?;
                match file {
                    Some(path) => std::fs::write(&path, text)
                        .with_context(|| format!("writing {}", path.display()))?,
                    None => print!("{text}"),
                }
                Ok(())
            })
            .await
        }
        Command::Keys(KeysCommand::Rotate) => {
            let ring = crate::keys::prepare_rotation(&cli.common)?;
            with_database(&cli.common, async |database: &Database| {
                db::migrate(&database.pool).await?;
                let rotated = crate::keys::reseal_all(&database.pool, &ring).await?;
                println!(
                    "credentials now sealed with key {}: {} service password(s), {} backend \
                     token(s) and {} two-factor secret(s) re-encrypted; restart every running \
                     node so it uses the new key",
                    ring.current_id(),
                    rotated.passwords,
                    rotated.tokens,
                    rotated.two_factor
                );
                Ok(())
            })
            .await
        }
        Command::User(UserCommand::ResetTwoFactor { email }) => {
            let email = Email::parse(&email).map_err(|why| anyhow::anyhow!("--email {why}"))?;
            with_database(&cli.common, async |database: &Database| {
                db::migrate(&database.pool).await?;
                let Some(user) = users::find_by_email(&database.pool, email.as_str()).await? else {
                    bail!("no account has the e-mail {email}");
                };
                let had = accounts::two_factor::reset(&database.pool, &user).await?;
                if had {
                    println!(
                        "two-factor sign-in of account {} ({email}) is reset: every session ended; \
                         they set it up again after logging in with their password",
                        user.id
                    );
                } else {
                    println!(
                        "account {} ({email}) had no two-factor sign-in; its sessions ended",
                        user.id
                    );
                }
                Ok(())
            })
            .await
        }
        Command::User(UserCommand::Create(args)) => {
            let email =
                Email::parse(&args.email).map_err(|why| anyhow::anyhow!("--email {why}"))?;
            let name = args.name.trim().to_owned();
            if name.is_empty() || name.chars().count() > 100 {
                bail!("--name must be 1 to 100 characters");
            }
            let password = read_password()?;
            let hash = tokio::task::spawn_blocking(move || {
                accounts::hash_password(&password, accounts::BCRYPT_COST)
            })
            .await??;
            let role = match (args.role, args.admin) {
                (Some(role), _) => role,
                (None, true) => Role::Owner,
                (None, false) => Role::Customer,
            };
            with_database(&cli.common, async |database: &Database| {
                db::migrate(&database.pool).await?;
                let mut tx = database.pool.begin().await?;
                if users::find_by_email(&mut *tx, email.as_str())
                    .await?
                    .is_some()
                {
                    bail!("an account with e-mail {email} already exists");
                }
                let user = users::insert(
                    &mut *tx,
                    &users::NewUser {
                        name: &name,
                        email: email.as_str(),
                        phone: args.phone.as_deref(),
                        password_hash: &hash,
                        role,
                    },
                )
                .await?;
                users::mark_verified(&mut *tx, user.id).await?;
                tx.commit().await?;
                println!(
                    "created {} account {} for {}",
                    role.as_str(),
                    user.id,
                    email
                );
                Ok(())
            })
            .await
        }
    }
}

/// Opens the database, runs `work`, and closes it (stopping the embedded cluster) either way.
async fn with_database(
    common: &CommonConfig,
    work: impl AsyncFnOnce(&Database) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let database = Database::open(common).await?;
    let result = work(&database).await;
    database.close().await;
    result
}

/// Reads the new account's password: the first line of standard input when piped, otherwise a
/// hidden prompt asked twice.
fn read_password() -> anyhow::Result<String> {
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let second = rpassword::prompt_password("Repeat password: ")?;
        if first != second {
            bail!("the passwords do not match");
        }
        first
    } else {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("reading the password from stdin")?;
        text.lines().next().unwrap_or("").to_owned()
    };
    if let Some(problem) = accounts::validation::password_problem(&password) {
        bail!("the password {problem}");
    }
    Ok(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
