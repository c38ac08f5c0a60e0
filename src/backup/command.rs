//! `nextgenrdp backup create | list | restore`: what the operator types and reads.

use std::path::PathBuf;

use anyhow::bail;
use clap::Subcommand;

use super::{Checksum, PgTarget, Progress, checksum_path, default_dir, human_size};
use crate::config::CommonConfig;
use crate::db::Database;

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Back the database up (pg_dump, custom format) into <data-dir>/backups or DIR, with a
    /// .sha256 checksum file beside it.
    Create {
        /// Where to write the backup [default: <data-dir>/backups].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// List the backups, newest first, with size, time and whether the checksum verifies.
    List {
        /// Where the backups are [default: <data-dir>/backups].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
    /// Restore FILE into the database after verifying its checksum. Refuses a database that
    /// already has tables unless --force.
    Restore {
        /// A backup written by `backup create` (its .sha256 file must be beside it).
        file: PathBuf,
        /// Replace everything in the database's public schema with the backup.
        #[arg(long)]
        force: bool,
    },
}

/// Runs a `backup` command.
pub async fn run(common: &CommonConfig, command: BackupCommand) -> anyhow::Result<()> {
    match command {
        BackupCommand::Create { dir } => {
            let dir = dir.unwrap_or_else(|| default_dir(common));
            let database = Database::open(common).await?;
            let created = async {
                let target = PgTarget::new(common, &database)?;
                eprintln!("backing up {} into {}", target.describe(), dir.display());
                super::create(
                    &target,
                    &database.pool,
                    &dir,
                    &mut Progress::on_stderr("dumped"),
                )
                .await
            }
            .await;
            database.close().await;
            let created = created?;
            println!(
                "{} ({} bytes, {}) in {:.1} s, sha256 {}",
                created.path.display(),
                created.bytes,
                human_size(created.bytes),
                created.elapsed.as_secs_f64(),
                created.sha256
            );
            Ok(())
        }
        BackupCommand::List { dir } => {
            let dir = dir.unwrap_or_else(|| default_dir(common));
            let backups = super::list(&dir)?;
            if backups.is_empty() {
                println!("no backups in {}", dir.display());
                return Ok(());
            }
            for backup in backups {
                let checksum = match super::verify(&backup.path).await? {
                    Checksum::Verified => "checksum ok",
                    Checksum::Missing => "CHECKSUM MISSING",
                    Checksum::Mismatch => "CHECKSUM MISMATCH",
                };
                println!(
                    "{}  {}  {:>10}  {checksum}",
                    backup.path.display(),
                    backup.taken.format("%Y-%m-%d %H:%M:%S UTC"),
                    human_size(backup.bytes),
                );
            }
            Ok(())
        }
        BackupCommand::Restore { file, force } => {
            if !file.is_file() {
                bail!("{} is not a file", file.display());
            }
            match super::verify(&file).await? {
                Checksum::Verified => {}
                Checksum::Missing => bail!(
                    "{} has no checksum file {}; refusing to restore a backup that cannot be \
                     verified (nothing was changed)",
                    file.display(),
                    checksum_path(&file).display()
                ),
                Checksum::Mismatch => bail!(
                    "{} does not match its checksum in {}: the file is damaged or incomplete; \
                     refusing to restore it (nothing was changed)",
                    file.display(),
                    checksum_path(&file).display()
                ),
            }
            eprintln!("{}: checksum ok", file.display());
            let database = Database::open(common).await?;
            let restored = async {
                let target = PgTarget::new(common, &database)?;
                let restored = super::restore(
                    &target,
                    &database.pool,
                    &file,
                    force,
                    &mut Progress::on_stderr("restored"),
                )
                .await?;
                anyhow::Ok((target, restored))
            }
            .await;
            database.close().await;
            let (target, restored) = restored?;
            let replaced = if restored.replaced_tables > 0 {
                format!(
                    ", replacing its {} existing tables",
                    restored.replaced_tables
                )
            } else {
                String::new()
            };
            println!(
                "restored {} ({} tables with data) into {}{replaced} in {:.1} s",
                file.display(),
                restored.tables,
                target.describe(),
                restored.elapsed.as_secs_f64()
            );
            Ok(())
        }
    }
}
