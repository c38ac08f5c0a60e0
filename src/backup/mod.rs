//! Backups of the database: `nextgenrdp backup create | list | restore` and the daily `backup`
//! job with its retention.
//!
//! A backup is one `pg_dump --format=custom` file, `<dir>/nextgenrdp-<UTC time>.dump`, next to
//! a `sha256sum`-format checksum file, written under a temporary name and renamed when whole.
//!
//! Why pg_dump's custom format:
//! - **vs plain SQL** (`pg_dump` without `-F`): both are logical dumps, consistent as of one
//!   snapshot, restorable on any newer server, machine or architecture. The custom format is
//!   compressed and read by `pg_restore`, which can list it (we check the archive is readable
//!   before touching the target), restore it in one transaction and skip owners and grants,
//!   so it lands on a new machine whatever its role names. A plain file needs `psql` and is
//!   edited by hand to do the same.
//! - **vs pg_basebackup + WAL archiving**: a physical copy of the whole cluster plus the
//!   write-ahead log gives point-in-time recovery (to any second, not just to the last dump)
//!   and scales to large databases, but needs the same major version and architecture to
//!   restore, an archive destination, `archive_command` on the server (impossible on many
//!   managed DATABASE_URL servers) and monitoring that the archive keeps up. Our database is
//!   small (a dump takes well under a second) and one daily dump loses at most a day, which the
//!   payment and service records can be rebuilt from; point-in-time recovery is the next step
//!   when that is no longer acceptable.
//!
//! Backups hold hashed passwords and sealed credentials (the keys are not in them: keep
//! `<data-dir>/secrets` or the key variables with the backups, separately), so the directory is
//! 0700 and the files 0600.

mod command;
mod pg_tools;
mod retention;

use std::collections::HashMap;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::PgPool;

pub use command::{BackupCommand, run};
pub use pg_tools::{PgTarget, Progress, human_size};
pub use retention::Retention;

use crate::config::CommonConfig;
use crate::db::Database;

pub use crate::jobs::kinds::BACKUP;
/// Backups are named `nextgenrdp-<UTC time>.dump`.
const PREFIX: &str = "nextgenrdp-";
const SUFFIX: &str = ".dump";
const TIME_FORMAT: &str = "%Y%m%dT%H%M%SZ";
/// Where a forced restore keeps the replaced schema until the restore has succeeded.
const REPLACED_SCHEMA: &str = "nextgenrdp_before_restore";

pub use crate::config::{BackupConfig, BackupSchedule};

impl BackupConfig {
    /// The worker's backup settings for `database`: it backs up daily when scheduled, and
    /// whenever an operator asks ("back up now"); `None` when this node never backs up.
    pub fn settings(
        &self,
        common: &CommonConfig,
        database: &Database,
    ) -> anyhow::Result<Option<BackupSettings>> {
        if self.backup_schedule == BackupSchedule::Off {
            return Ok(None);
        }
        Ok(Some(BackupSettings {
            dir: default_dir(common),
            target: PgTarget::new(common, database)?,
            retention: Retention {
                keep_daily: self.backup_keep_daily as usize,
                keep_weekly: self.backup_keep_weekly as usize,
            },
            scheduled: self.backup_schedule == BackupSchedule::Daily,
        }))
    }

    /// What the back office shows of the policy: where, how often, how many kept.
    pub fn policy(&self, common: &CommonConfig) -> crate::config::BackupPolicy {
        crate::config::BackupPolicy {
            dir: default_dir(common),
            daily: self.backup_schedule == BackupSchedule::Daily,
            takes_backups: self.backup_schedule != BackupSchedule::Off,
            keep_daily: self.backup_keep_daily,
            keep_weekly: self.backup_keep_weekly,
        }
    }
}

/// What the scheduled `backup` job needs.
#[derive(Clone, Debug)]
pub struct BackupSettings {
    pub dir: PathBuf,
    pub target: PgTarget,
    pub retention: Retention,
    /// Whether the worker backs up daily on its own (`NEXTGENRDP_BACKUP_SCHEDULE=daily`).
    pub scheduled: bool,
}

/// `<data-dir>/backups`.
pub fn default_dir(common: &CommonConfig) -> PathBuf {
    common.data_dir.join("backups")
}

/// A backup just written.
#[derive(Debug)]
pub struct Created {
    pub path: PathBuf,
    pub bytes: u64,
    pub sha256: String,
    pub elapsed: Duration,
}

/// Dumps the database into a new backup in `dir`.
pub async fn create(
    target: &PgTarget,
    db: &PgPool,
    dir: &Path,
    progress: &mut Progress,
) -> anyhow::Result<Created> {
    let started = Instant::now();
    let pg_dump = target.tool("pg_dump", db).await?;
    let tables: i64 = sqlx::query_scalar(
        "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema')
           and n.nspname not like 'pg\\_toast%'",
    )
    .fetch_one(db)
    .await
    .context("counting the tables to back up")?;
    match std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
    {
        Ok(()) => {}
        Err(err) => return Err(err).with_context(|| format!("creating {}", dir.display())),
    }
    let name = file_name(Utc::now());
    let path = dir.join(&name);
    if path.exists() {
        bail!("{} already exists; try again in a second", path.display());
    }
    let partial = TempFile::new(dir.join(format!(".{name}.partial")));
    let mut file = tokio::fs::File::from_std(
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&partial.0)
            .with_context(|| format!("creating {}", partial.0.display()))?,
    );
    let mut command = target.command(&pg_dump);
    command.arg("--format=custom").arg("--verbose");
    let written = pg_tools::run(
        command,
        "pg_dump",
        tables as usize,
        Some(&mut file),
        progress,
    )
    .await
    .context("dumping the database")?;
    file.sync_all().await.context("writing the backup")?;
    drop(file);
    // The checksum first: a listed backup always has one.
    let checksum = TempFile::new(dir.join(format!(".{name}.sha256.partial")));
    write_private(
        &checksum.0,
        format!("{}  {name}\n", written.sha256).as_bytes(),
    )?;
    std::fs::rename(&checksum.0, checksum_path(&path)).context("naming the checksum file")?;
    checksum.keep();
    std::fs::rename(&partial.0, &path).context("naming the backup")?;
    partial.keep();
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(Created {
        path,
        bytes: written.bytes,
        sha256: written.sha256,
        elapsed: started.elapsed(),
    })
}

/// Whether a backup's checksum file matches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Checksum {
    Verified,
    Missing,
    Mismatch,
}

/// A backup found in a directory.
#[derive(Debug)]
pub struct Listed {
    pub path: PathBuf,
    pub taken: DateTime<Utc>,
    pub bytes: u64,
    /// When the file last changed (part of what a remembered checksum verdict is keyed by).
    pub modified: Option<std::time::SystemTime>,
}

/// The backups in `dir`, newest first (none when it does not exist).
pub fn list(dir: &Path) -> anyhow::Result<Vec<Listed>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(err) => return Err(err).with_context(|| format!("listing {}", dir.display())),
    };
    let mut backups = Vec::new();
    for entry in entries {
        let entry = entry.with_context(|| format!("listing {}", dir.display()))?;
        let Some(taken) = entry.file_name().to_str().and_then(taken_at) else {
            continue;
        };
        let meta = entry.metadata()?;
        if meta.is_file() {
            backups.push(Listed {
                path: entry.path(),
                taken,
                bytes: meta.len(),
                modified: meta.modified().ok(),
            });
        }
    }
    backups.sort_by_key(|backup| std::cmp::Reverse(backup.taken));
    Ok(backups)
}

/// Checks `file` against `<file>.sha256`.
pub async fn verify(file: &Path) -> anyhow::Result<Checksum> {
    let expected = match std::fs::read_to_string(checksum_path(file)) {
        Ok(text) => text.split_whitespace().next().unwrap_or("").to_lowercase(),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Checksum::Missing),
        Err(err) => {
            return Err(err).with_context(|| format!("reading {}", checksum_path(file).display()));
        }
    };
    let path = file.to_path_buf();
    let actual = tokio::task::spawn_blocking(move || sha256_of(&path)).await??;
    Ok(if actual == expected {
        Checksum::Verified
    } else {
        Checksum::Mismatch
    })
}

/// A file as it was when its checksum was read: a verdict stays true while none of this changes.
type Identity = (PathBuf, u64, Option<SystemTime>, Option<SystemTime>);

/// Verdicts already reached, by the identity of the dump and its checksum file.
static VERDICTS: LazyLock<Mutex<HashMap<Identity, Checksum>>> = LazyLock::new(Default::default);

/// [`verify`], remembered: a backup whose dump and checksum file have not changed (path, size,
/// modification times) since it was last read is not read again. The back office's page checks
/// the newest backups on every visit; a dump of gigabytes is read once per process, not per
/// visit. A missing checksum file is never remembered (it may be written next).
pub async fn verify_remembered(listed: &Listed) -> anyhow::Result<Checksum> {
    let sums = std::fs::metadata(checksum_path(&listed.path))
        .ok()
        .and_then(|meta| meta.modified().ok());
    let identity = (listed.path.clone(), listed.bytes, listed.modified, sums);
    if let Some(&verdict) = VERDICTS
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(&identity)
    {
        return Ok(verdict);
    }
    let verdict = verify(&listed.path).await?;
    if verdict != Checksum::Missing && identity.2.is_some() && identity.3.is_some() {
        let mut verdicts = VERDICTS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if verdicts.len() >= 1_000 {
            verdicts.clear(); // files come and go with retention: forget the old ones
        }
        verdicts.insert(identity, verdict);
    }
    Ok(verdict)
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub tables: usize,
    /// Tables that were in the database and were replaced (`--force`).
    pub replaced_tables: i64,
    pub elapsed: Duration,
}

/// Restores `file` (already verified) into the database; refuses a database that has tables
/// unless `force`, which replaces its `public` schema. A failed restore leaves the database as
/// it was: pg_restore runs in one transaction, and with `force` the old schema is kept aside
/// under another name until the restore has succeeded.
pub async fn restore(
    target: &PgTarget,
    db: &PgPool,
    file: &Path,
    force: bool,
    progress: &mut Progress,
) -> anyhow::Result<Restored> {
    let started = Instant::now();
    let pg_restore = target.tool("pg_restore", db).await?;
    // `--` ends pg_restore's options: a file named like one (`--list`, `-f…`) stays a file.
    let listing = tokio::process::Command::new(&pg_restore)
        .arg("--list")
        .arg("--")
        .arg(file)
        .output()
        .await
        .context("running pg_restore --list")?;
    if !listing.status.success() {
        bail!(
            "{} is not a readable pg_dump archive: {}",
            file.display(),
            String::from_utf8_lossy(&listing.stderr).trim()
        );
    }
    let tables = String::from_utf8_lossy(&listing.stdout)
        .lines()
        .filter(|line| !line.starts_with(';') && line.contains(" TABLE DATA "))
        .count();

    let existing = existing_tables(db).await?;
    if existing.tables > 0 && !force {
        bail!(
            "the database {} is not empty ({}); nothing was restored. Restore into an empty \
             database, or pass --force to replace everything in it with the backup",
            target.describe(),
            existing
        );
    }
    let replacing = existing.tables > 0;
    if replacing {
        set_aside_public(db).await?;
    }
    let mut command = target.command(&pg_restore);
    command
        .args(["--no-owner", "--no-privileges", "--single-transaction"])
        .args(["--exit-on-error", "--verbose"])
        .arg("--")
        .arg(file);
    let restored = pg_tools::run(command, "pg_restore", tables, None, progress).await;
    if let Err(err) = restored {
        if replacing {
            put_back_public(db)
                .await
                .context("restoring failed, and putting the old schema back failed too")?;
            return Err(err.context("restoring failed; the database is as it was"));
        }
        return Err(err.context("restoring failed; nothing was restored"));
    }
    if replacing {
        sqlx::query("drop schema nextgenrdp_before_restore cascade")
            .execute(db)
            .await
            .context("dropping the replaced schema")?;
    }
    Ok(Restored {
        tables,
        replaced_tables: existing.tables,
        elapsed: started.elapsed(),
    })
}

/// What the target database already holds.
struct Existing {
    tables: i64,
    migrations: Option<i64>,
    users: Option<i64>,
}

impl std::fmt::Display for Existing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} tables in schema public", self.tables)?;
        if let Some(migrations) = self.migrations {
            write!(f, ", {migrations} migrations applied")?;
        }
        if let Some(users) = self.users {
            write!(f, ", {users} users")?;
        }
        Ok(())
    }
}

async fn existing_tables(db: &PgPool) -> anyhow::Result<Existing> {
    let tables: i64 =
        sqlx::query_scalar("select count(*) from pg_tables where schemaname = 'public'")
            .fetch_one(db)
            .await
            .context("looking at the target database")?;
    let has = async |table: &str| -> sqlx::Result<bool> {
        sqlx::query_scalar("select to_regclass($1) is not null")
            .bind(format!("public.{table}"))
            .fetch_one(db)
            .await
    };
    let migrations = if has("_sqlx_migrations").await? {
        Some(
            sqlx::query_scalar("select count(*) from public._sqlx_migrations")
                .fetch_one(db)
                .await?,
        )
    } else {
        None
    };
    let users = if has("users").await? {
        Some(
            sqlx::query_scalar("select count(*) from public.users")
                .fetch_one(db)
                .await?,
        )
    } else {
        None
    };
    Ok(Existing {
        tables,
        migrations,
        users,
    })
}

/// Moves every extension installed in schema `from` (pg_trgm) to schema `to`. An extension's
/// operators and functions live in its schema: they follow `public` wherever the restore puts it,
/// so the restored indexes (`gin_trgm_ops`) find them in `public`, and the set-aside schema's
/// own indexes keep theirs (they refer to them by id).
async fn move_extensions(tx: &mut sqlx::PgConnection, from: &str, to: &str) -> anyhow::Result<()> {
    sqlx::query(
        "select set_config('nextgenrdp.move_from', $1, true),
                set_config('nextgenrdp.move_to', $2, true)",
    )
    .bind(from)
    .bind(to)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "do $$
         declare
             name text;
         begin
             for name in
                 select e.extname from pg_extension e
                 join pg_namespace n on n.oid = e.extnamespace
                 where n.nspname = current_setting('nextgenrdp.move_from')
             loop
                 execute format('alter extension %I set schema %I', name,
                                current_setting('nextgenrdp.move_to'));
             end loop;
         end $$",
    )
    .execute(&mut *tx)
    .await
    .with_context(|| format!("moving the extensions of {from} to {to}"))?;
    Ok(())
}

/// Renames `public` out of the way (kept until the restore succeeds) and creates an empty one.
async fn set_aside_public(db: &PgPool) -> anyhow::Result<()> {
    let leftover: bool =
        sqlx::query_scalar("select exists (select 1 from pg_namespace where nspname = $1)")
            .bind(REPLACED_SCHEMA)
            .fetch_one(db)
            .await?;
    if leftover {
        bail!(
            "the schema {REPLACED_SCHEMA} exists: an earlier forced restore was interrupted and \
             it holds the data that restore replaced; look at it, then drop it (drop schema \
             {REPLACED_SCHEMA} cascade) and try again"
        );
    }
    let mut tx = db.begin().await?;
    sqlx::query("alter schema public rename to nextgenrdp_before_restore")
        .execute(&mut *tx)
        .await
        .context("setting the current schema aside")?;
    sqlx::query("create schema public")
        .execute(&mut *tx)
        .await
        .context("creating an empty schema")?;
    move_extensions(&mut tx, REPLACED_SCHEMA, "public").await?;
    tx.commit().await?;
    Ok(())
}

async fn put_back_public(db: &PgPool) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    // The extensions go back with the schema whose indexes use them, not down with the other.
    move_extensions(&mut tx, "public", REPLACED_SCHEMA).await?;
    sqlx::query("drop schema public cascade")
        .execute(&mut *tx)
        .await?;
    sqlx::query("alter schema nextgenrdp_before_restore rename to public")
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The scheduled job: a backup into the settings' directory, then retention. Logs what it did.
pub async fn run_scheduled(settings: &BackupSettings, db: &PgPool) -> anyhow::Result<()> {
    let created = create(&settings.target, db, &settings.dir, &mut Progress::silent()).await?;
    let backups = list(&settings.dir)?;
    let mut deleted = Vec::new();
    for expired in settings.retention.expired(&backups, |backup| backup.taken) {
        std::fs::remove_file(&expired.path)
            .with_context(|| format!("deleting the old backup {}", expired.path.display()))?;
        let _ = std::fs::remove_file(checksum_path(&expired.path));
        deleted.push(expired.path.display().to_string());
    }
    tracing::info!(
        backup.path = %created.path.display(),
        backup.bytes = created.bytes,
        elapsed_ms = created.elapsed.as_millis() as u64,
        "backed up the database to {} ({}); deleted {} old backup(s){}{}",
        created.path.display(),
        human_size(created.bytes),
        deleted.len(),
        if deleted.is_empty() { "" } else { ": " },
        deleted.join(", ")
    );
    Ok(())
}

fn file_name(at: DateTime<Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", at.format(TIME_FORMAT))
}

/// When the backup named `name` was taken, or `None` when it is not a backup's name.
fn taken_at(name: &str) -> Option<DateTime<Utc>> {
    let time = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    NaiveDateTime::parse_from_str(time, TIME_FORMAT)
        .ok()
        .map(|time| time.and_utc())
}

/// `<file>.sha256`.
pub fn checksum_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

fn sha256_of(path: &Path) -> anyhow::Result<String> {
    use std::io::Read;
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file
            .read(&mut buffer)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

fn write_private(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

/// A file deleted on drop unless kept: a dump interrupted (error, timeout) leaves nothing.
struct TempFile(PathBuf, bool);

impl TempFile {
    fn new(path: PathBuf) -> Self {
        Self(path, false)
    }

    fn keep(mut self) {
        self.1 = true;
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.1 {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// A backup asked for from the back office ("back up now"): a `backup` job any worker runs
/// (durable: queued work survives a restart), at most one per minute however often the button
/// is pressed. Audited as `backup.request`. The job's id; `None` when one was just asked for.
pub async fn request_now(
    db: &PgPool,
    actor: &crate::audit::Actor<'_>,
) -> crate::error::AppResult<Option<i64>> {
    let mut tx = db.begin().await?;
    let key = format!("{BACKUP}:now:{}", Utc::now().timestamp() / 60);
    let payload = serde_json::json!({ "requested_by": actor.user_id });
    let id = crate::jobs::enqueue(&mut *tx, BACKUP, &payload, Some(&key), None).await?;
    if id.is_some() {
        crate::audit::insert(
            &mut *tx,
            &crate::audit::NewAuditEntry {
                after: Some(payload),
                ..actor.entry("backup.request", "backup", None)
            },
        )
        .await?;
    }
    tx.commit().await?;
    Ok(id)
}

/// The backup named `name` in `dir`, opened for download with its size; `None` when `name` is
/// not a backup's name or no such file is there (never a path outside `dir`). Audited as
/// `backup.download`: a backup holds every customer's data.
pub async fn open_for_download(
    db: &PgPool,
    actor: &crate::audit::Actor<'_>,
    dir: &Path,
    name: &str,
) -> crate::error::AppResult<Option<(tokio::fs::File, u64)>> {
    if taken_at(name).is_none() || name.contains('/') {
        return Ok(None);
    }
    let path = dir.join(name);
    let file = match tokio::fs::File::open(&path).await {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(crate::error::AppError::Internal(err.into())),
    };
    let bytes = file
        .metadata()
        .await
        .map_err(|err| crate::error::AppError::Internal(err.into()))?
        .len();
    crate::audit::insert(
        db,
        &crate::audit::NewAuditEntry {
            after: Some(serde_json::json!({ "file": name, "bytes": bytes })),
            ..actor.entry("backup.download", "backup", Some(name))
        },
    )
    .await?;
    Ok(Some((file, bytes)))
}

/// The name of a listed backup's file.
impl Listed {
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn backup_names_carry_their_utc_time() {
        let at = Utc.with_ymd_and_hms(2025, 3, 9, 4, 5, 6).unwrap();
        let name = file_name(at);
        assert_eq!(name, "nextgenrdp-20250309T040506Z.dump");
        assert_eq!(taken_at(&name), Some(at));
        for other in [
            "nextgenrdp-20250309T040506Z.dump.sha256",
            ".nextgenrdp-20250309T040506Z.dump.partial",
            "notes.txt",
        ] {
            assert_eq!(taken_at(other), None, "{other}");
        }
    }
}
