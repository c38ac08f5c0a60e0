//! Running the server as an unprivileged user when this process is root (PostgreSQL refuses
//! to run as root), and the process plumbing around the server binaries.

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use anyhow::{Context, bail};

use super::{SERVICE_USER, SUPERUSER};

/// The unprivileged user the server runs as when this process is root.
#[derive(Debug, Clone)]
pub(super) struct RunAs {
    name: String,
    uid: u32,
    gid: u32,
    home: PathBuf,
}

/// A command for one of the server binaries: as the unprivileged user when root, in the
/// cluster directory (which that user can enter), with no stdin.
pub(super) fn pg_command(program: &Path, run_as: Option<&RunAs>, cluster_dir: &Path) -> Command {
    let mut command = Command::new(program);
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // pg_ctl and the server read these; every setting we need is explicit.
        .env_remove("PGDATA")
        .env_remove("PGPORT")
        .env_remove("PGHOST")
        .current_dir(cluster_dir);
    if let Some(user) = run_as {
        // std drops the supplementary groups when root changes uid.
        command
            .uid(user.uid)
            .gid(user.gid)
            .env("HOME", &user.home)
            .env("USER", &user.name)
            .env("LOGNAME", &user.name);
    }
    command
}

pub(super) async fn run(command: Command, what: &str) -> anyhow::Result<Output> {
    let program = command.get_program().to_string_lossy().into_owned();
    tokio::process::Command::from(command)
        .output()
        .await
        .with_context(|| format!("running {what} ({program})"))
}

pub(super) fn check(output: &Output, what: &str) -> anyhow::Result<()> {
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let message = if stderr.trim().is_empty() {
        stdout.trim()
    } else {
        stderr.trim()
    };
    bail!("{what} failed ({}): {message}", output.status)
}

/// The effective uid, from `/proc/self/status` (std has no `geteuid`).
pub(super) fn effective_uid() -> anyhow::Result<u32> {
    let from_status = fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1))
                .and_then(|euid| euid.parse().ok())
        });
    if let Some(uid) = from_status {
        return Ok(uid);
    }
    Ok(fs::metadata("/proc/self")
        .context("finding out whether we run as root (/proc/self)")?
        .uid())
}

/// The entries of `/etc/passwd` (name, uid, gid, home).
pub(super) fn passwd_entries() -> anyhow::Result<Vec<RunAs>> {
    let passwd = fs::read_to_string("/etc/passwd").context("reading /etc/passwd")?;
    Ok(passwd
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() < 7 {
                return None;
            }
            Some(RunAs {
                name: fields[0].to_owned(),
                uid: fields[2].parse().ok()?,
                gid: fields[3].parse().ok()?,
                home: PathBuf::from(fields[5]),
            })
        })
        .collect())
}

/// The user to run the server as when we are root: the owner of an existing cluster, else
/// `postgres`, else `nextgenrdp` (created as a system user if missing).
pub(super) async fn unprivileged_user(cluster_dir: &Path) -> anyhow::Result<RunAs> {
    let entries = passwd_entries()?;
    let owner = fs::metadata(cluster_dir).ok().map(|meta| meta.uid());
    let chosen = owner
        .filter(|&uid| uid != 0)
        .and_then(|uid| entries.iter().find(|entry| entry.uid == uid))
        .or_else(|| entries.iter().find(|e| e.name == SUPERUSER && e.uid != 0))
        .or_else(|| {
            entries
                .iter()
                .find(|e| e.name == SERVICE_USER && e.uid != 0)
        })
        .cloned();
    let mut user = match chosen {
        Some(user) => user,
        None => {
            tracing::info!(
                "PostgreSQL refuses to run as root; creating the system user {SERVICE_USER} \
                 to run the embedded cluster"
            );
            let mut command = Command::new("useradd");
            command
                .args(["--system", "--user-group", "--no-create-home"])
                .args(["--shell", "/usr/sbin/nologin"])
                .arg(SERVICE_USER)
                .stdin(Stdio::null());
            let output = run(command, "useradd").await?;
            check(&output, "useradd").with_context(|| {
                format!(
                    "creating the system user {SERVICE_USER} to run the embedded PostgreSQL \
                     (it refuses to run as root); create an unprivileged user named postgres \
                     or {SERVICE_USER}, run nextgenrdp as a non-root user, or set DATABASE_URL"
                )
            })?;
            passwd_entries()?
                .into_iter()
                .find(|e| e.name == SERVICE_USER)
                .with_context(|| format!("useradd did not add {SERVICE_USER} to /etc/passwd"))?
        }
    };
    if !user.home.is_dir() {
        user.home = cluster_dir.to_path_buf();
    }
    Ok(user)
}

/// Whether `user` may search (enter) a directory with this metadata, by the owner / group /
/// other bits in the order the kernel applies them (supplementary groups are dropped).
pub(super) fn can_traverse(meta: &fs::Metadata, user: &RunAs) -> bool {
    let mode = meta.mode();
    if meta.uid() == user.uid {
        mode & 0o100 != 0
    } else if meta.gid() == user.gid {
        mode & 0o010 != 0
    } else {
        mode & 0o001 != 0
    }
}

/// The server's user must be able to reach the cluster: every ancestor of the data
/// directory must let it through. The data directory itself is ours, so it gets the o+x bit
/// (enter, not list) when it lacks it.
pub(super) fn check_traversable(data_dir: &Path, user: &RunAs) -> anyhow::Result<()> {
    for ancestor in data_dir.ancestors().skip(1) {
        let meta = fs::metadata(ancestor)
            .with_context(|| format!("reading the permissions of {}", ancestor.display()))?;
        if !can_traverse(&meta, user) {
            bail!(
                "the embedded PostgreSQL runs as the unprivileged user {} (PostgreSQL refuses \
                 to run as root), which cannot enter {} (mode {:o}, owner uid {}), an ancestor \
                 of the data directory {}; choose a --data-dir (NEXTGENRDP_DATA_DIR) under a \
                 directory it can traverse, such as /var/lib/nextgenrdp or /tmp, or set \
                 DATABASE_URL",
                user.name,
                ancestor.display(),
                meta.mode() & 0o7777,
                meta.uid(),
                data_dir.display()
            );
        }
    }
    let meta = fs::metadata(data_dir)
        .with_context(|| format!("reading the permissions of {}", data_dir.display()))?;
    if !can_traverse(&meta, user) {
        let mode = (meta.mode() & 0o7777) | 0o001;
        tracing::info!(
            "letting {} enter the data directory {} (mode {mode:o})",
            user.name,
            data_dir.display()
        );
        fs::set_permissions(data_dir, fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting the mode of {}", data_dir.display()))?;
    }
    Ok(())
}

/// Creates `dir` (0700) if missing and, when root, hands it (recursively, if it belongs to
/// someone else) to the server's user.
pub(super) fn make_private_dir(dir: &Path, run_as: Option<&RunAs>) -> anyhow::Result<()> {
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::AlreadyExists && dir.is_dir() => {}
        Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
    }
    if let Some(user) = run_as {
        let meta = fs::metadata(dir).with_context(|| format!("reading {}", dir.display()))?;
        if meta.uid() != user.uid || meta.gid() != user.gid {
            chown_recursive(dir, user)?;
        }
    }
    Ok(())
}

pub(super) fn chown(path: &Path, user: &RunAs) -> anyhow::Result<()> {
    std::os::unix::fs::lchown(path, Some(user.uid), Some(user.gid))
        .with_context(|| format!("handing {} to the user {}", path.display(), user.name))
}

pub(super) fn chown_recursive(path: &Path, user: &RunAs) -> anyhow::Result<()> {
    chown(path, user)?;
    let meta = fs::symlink_metadata(path).with_context(|| format!("reading {}", path.display()))?;
    if meta.is_dir() {
        for entry in fs::read_dir(path).with_context(|| format!("listing {}", path.display()))? {
            let entry = entry.with_context(|| format!("listing {}", path.display()))?;
            chown_recursive(&entry.path(), user)?;
        }
    }
    Ok(())
}
