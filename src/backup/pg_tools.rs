//! Running `pg_dump` and `pg_restore`: finding them, pointing them at the database without
//! putting its password on a command line, and turning their `--verbose` chatter into a
//! progress line.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::config::CommonConfig;
use crate::db::Database;

/// Where Debian/Ubuntu install PostgreSQL, one directory per major version.
const VERSIONED_BIN_ROOT: &str = "/usr/lib/postgresql";

/// The database the tools work on, and where to find them.
#[derive(Clone, Debug)]
pub struct PgTarget {
    /// A libpq URL without its password.
    url: String,
    /// The password taken out of the URL, handed over in `PGPASSWORD`.
    password: Option<SecretString>,
    /// The embedded cluster's binaries directory (the tools are in it too).
    bin_dir: Option<PathBuf>,
}

impl PgTarget {
    /// The database `database` was opened on: `DATABASE_URL`, or the embedded cluster.
    pub fn new(common: &CommonConfig, database: &Database) -> anyhow::Result<Self> {
        let (url, bin_dir) = match (&common.database_url, database.embedded()) {
            (_, Some(cluster)) => (
                cluster.database_url().to_owned(),
                cluster.bin_dir().map(Path::to_path_buf),
            ),
            (Some(url), None) => (url.expose_secret().to_owned(), None),
            (None, None) => bail!("no database URL to back up"),
        };
        let (url, password) = split_password(&url);
        Ok(Self {
            url,
            password: password.map(SecretString::from),
            bin_dir,
        })
    }

    /// The database named for people: its URL without the password.
    pub fn describe(&self) -> &str {
        &self.url
    }

    /// `name` (pg_dump, pg_restore) able to handle the server behind `db`: the embedded
    /// cluster's own, else the server's major version under /usr/lib/postgresql, else a newer
    /// one there, else the first in PATH.
    pub async fn tool(&self, name: &str, db: &PgPool) -> anyhow::Result<PathBuf> {
        if let Some(found) = self
            .bin_dir
            .as_ref()
            .map(|dir| dir.join(name))
            .filter(|path| is_executable(path))
        {
            return Ok(found);
        }
        let version: i32 = sqlx::query_scalar("select current_setting('server_version_num')::int")
            .fetch_one(db)
            .await
            .context("asking the server its version")?;
        let major = (version / 10_000) as u32;
        let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(VERSIONED_BIN_ROOT)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .filter_map(|entry| {
                        let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
                        Some((version, entry.path().join("bin").join(name)))
                    })
                    .filter(|(version, path)| *version >= major && is_executable(path))
                    .collect()
            })
            .unwrap_or_default();
        versions.sort();
        if let Some((_, path)) = versions.into_iter().next() {
            return Ok(path);
        }
        std::env::var_os("PATH")
            .and_then(|path| {
                std::env::split_paths(&path)
                    .map(|dir| dir.join(name))
                    .find(|path| is_executable(path))
            })
            .with_context(|| {
                format!(
                    "{name} (PostgreSQL {major} or newer) not found in {VERSIONED_BIN_ROOT}/*/bin \
                     or PATH; install the PostgreSQL client (Debian/Ubuntu: apt-get install \
                     postgresql-client)"
                )
            })
    }

    /// A command for `tool` on this database: `--dbname` without the password, which goes in
    /// the environment (not on a command line other users can read in `ps`); never prompts.
    pub fn command(&self, tool: &Path) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(tool);
        command
            .arg("--no-password")
            .arg(format!("--dbname={}", self.url))
            .stdin(Stdio::null())
            .kill_on_drop(true);
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password.expose_secret());
        }
        command
    }
}

/// Takes the password out of a `postgres://user:password@host/db` URL: the URL without it, and
/// the password percent-decoded.
pub fn split_password(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (url.to_owned(), None);
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (url.to_owned(), None);
    };
    let Some(colon) = rest[..at].find(':') else {
        return (url.to_owned(), None);
    };
    let password = percent_decode(&rest[colon + 1..at]);
    let without = format!("{}{}{}", &url[..scheme_end], &rest[..colon], &rest[at..]);
    (without, Some(password))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match hex {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.mode() & 0o111 != 0)
}

/// Where progress goes: a line on standard error (redrawn on a terminal, one every second
/// otherwise), or nowhere (the scheduled job, which logs its result instead).
pub struct Progress {
    shown: bool,
    terminal: bool,
    last: Option<Instant>,
    verb: &'static str,
}

impl Progress {
    pub fn on_stderr(verb: &'static str) -> Self {
        Self {
            shown: true,
            terminal: std::io::stderr().is_terminal(),
            last: None,
            verb,
        }
    }

    pub fn silent() -> Self {
        Self {
            shown: false,
            terminal: false,
            last: None,
            verb: "",
        }
    }

    fn update(&mut self, tables: usize, total: usize, bytes: Option<u64>, last: bool) {
        if !self.shown {
            return;
        }
        let every = if self.terminal {
            Duration::from_millis(100)
        } else {
            Duration::from_secs(1)
        };
        if !last && self.last.is_some_and(|at| at.elapsed() < every) {
            return;
        }
        self.last = Some(Instant::now());
        let written = bytes
            .map(|bytes| format!(", {} written", human_size(bytes)))
            .unwrap_or_default();
        let line = format!("{} {tables}/{total} tables{written}", self.verb);
        if self.terminal {
            eprint!("\r{line}\x1b[K{}", if last { "\n" } else { "" });
        } else {
            eprintln!("{line}");
        }
    }
}

/// What a tool run wrote to its output file.
pub struct Written {
    pub bytes: u64,
    pub sha256: String,
}

/// Runs `command` (a tool with `--verbose`) to its end, counting the tables it reports towards
/// `total` on `progress`; with `output`, copies its standard output there, hashing it. Fails
/// with the tool's error lines when it fails.
pub async fn run(
    mut command: tokio::process::Command,
    tool: &str,
    total: usize,
    mut output: Option<&mut tokio::fs::File>,
    progress: &mut Progress,
) -> anyhow::Result<Written> {
    command
        .stdout(if output.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped());
    let mut child = command.spawn().with_context(|| format!("running {tool}"))?;
    let mut stdout = child.stdout.take();
    let mut stderr = BufReader::new(child.stderr.take().context("no stderr")?).lines();
    let mut stdout_done = stdout.is_none();
    let mut stderr_done = false;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut tables = 0usize;
    let mut errors: Vec<String> = Vec::new();
    let prefix = format!("{tool}: ");
    let show_bytes = output.is_some();
    while !(stdout_done && stderr_done) {
        tokio::select! {
            read = async { stdout.as_mut().expect("stdout while not done").read(&mut buffer).await },
                if !stdout_done => {
                let n = read.with_context(|| format!("reading {tool}'s output"))?;
                if n == 0 {
                    stdout_done = true;
                    continue;
                }
                if let Some(file) = output.as_mut() {
                    file.write_all(&buffer[..n]).await.context("writing the backup")?;
                }
                hasher.update(&buffer[..n]);
                bytes += n as u64;
                progress.update(tables, total, Some(bytes), false);
            }
            line = stderr.next_line(), if !stderr_done => {
                let Some(line) = line.with_context(|| format!("reading {tool}'s messages"))? else {
                    stderr_done = true;
                    continue;
                };
                match line.strip_prefix(&prefix) {
                    Some(message) if message.contains("contents of table")
                        || message.contains("data for table") => {
                        tables += 1;
                        progress.update(tables, total, show_bytes.then_some(bytes), false);
                    }
                    Some(message) if !["error", "warning", "detail", "hint"]
                        .iter().any(|level| message.starts_with(level)) => {}
                    _ => {
                        errors.push(line);
                        if errors.len() > 20 {
                            errors.remove(0);
                        }
                    }
                }
            }
        }
    }
    let status = child
        .wait()
        .await
        .with_context(|| format!("waiting for {tool}"))?;
    if !status.success() {
        bail!("{tool} failed ({status}): {}", errors.join("\n"));
    }
    progress.update(tables, total, show_bytes.then_some(bytes), true);
    Ok(Written {
        bytes,
        sha256: hex::encode(hasher.finalize()),
    })
}

/// `bytes` for people: B, KiB, MiB, GiB.
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["B", "KiB", "MiB", "GiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_leaves_the_url_and_is_decoded() {
        assert_eq!(
            split_password("postgres://shop:p%40ss:w0rd@db.example:5432/shop?sslmode=require"),
            (
                "postgres://shop@db.example:5432/shop?sslmode=require".to_owned(),
                Some("p@ss:w0rd".to_owned())
            )
        );
    }

    #[test]
    fn a_url_without_a_password_is_left_alone() {
        for url in [
            "postgres://postgres@127.0.0.1:5432/postgres",
            "postgresql://postgres@localhost:5432/nextgenrdp?host=/tmp/a%20b/postgres-socket",
            "postgres:///db",
            "not a url",
        ] {
            assert_eq!(split_password(url), (url.to_owned(), None), "{url}");
        }
    }

    #[test]
    fn sizes_read_in_binary_units() {
        assert_eq!(human_size(999), "999 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 * 1024 * 1024), "3.0 MiB");
    }
}
