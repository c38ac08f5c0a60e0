//! The embedded default: a private PostgreSQL cluster in `<data-dir>/postgres`, run from the
//! PostgreSQL server binaries installed on the machine, listening only on a unix socket in
//! `<data-dir>/postgres-socket` (never on a TCP port), so `nextgenrdp serve` works without a
//! `DATABASE_URL`.
//!
//! This module owns the cluster's whole life: finding `initdb`/`pg_ctl`, `initdb` on first use,
//! `pg_ctl start`/`stop`, running them as an unprivileged user when we are root (PostgreSQL
//! refuses to run as root), and creating the `nextgenrdp` database. A postmaster already
//! running on the directory (another `nextgenrdp` command, or a cluster left over from a crash)
//! is reused and left running.
//!
//! Weighed: the `postgresql_embedded` crate downloads PostgreSQL binaries from the internet at
//! run time, which this product cannot rely on (offline and locked-down hosts); the machine's
//! own packaged binaries (`apt-get install postgresql`) driven through `pg_ctl` need no network
//! and get the distribution's security updates.

mod binaries;
mod run_as;

use std::fs;
use std::io::ErrorKind;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

use binaries::{Binaries, find_binaries};
use run_as::{
    RunAs, check, check_traversable, chown, effective_uid, make_private_dir, pg_command, run,
    unprivileged_user,
};

/// The database the application uses inside the cluster.
const DATABASE: &str = "nextgenrdp";
/// The cluster's superuser (`initdb -U`), trusted over the private socket.
const SUPERUSER: &str = "postgres";
/// The port number; with no TCP listener it only names the socket file `.s.PGSQL.<port>`.
const PORT: u16 = 5432;
/// The system user created to run the server when we are root and there is no `postgres` user.
const SERVICE_USER: &str = "nextgenrdp";
/// `sizeof(sockaddr_un.sun_path)` on Linux is 108 bytes, one of which is the terminating NUL.
const MAX_SOCKET_PATH: usize = 107;
/// Where Debian/Ubuntu install the server binaries, one directory per major version.
const VERSIONED_BIN_ROOT: &str = "/usr/lib/postgresql";

const NOT_FOUND: &str = "PostgreSQL server binaries (initdb, pg_ctl) not found in PATH or \
     /usr/lib/postgresql/*/bin; install them (Debian/Ubuntu: apt-get install postgresql) or set \
     DATABASE_URL";

/// A running private cluster; stop it with [`EmbeddedCluster::stop`].
///
/// Dropping a cluster this process started without calling `stop` still stops it (blocking
/// for the fast shutdown), so an error between start and serve does not leave an orphaned
/// postmaster behind.
#[derive(Debug)]
pub struct EmbeddedCluster {
    url: String,
    cluster_dir: PathBuf,
    pg_ctl: PathBuf,
    /// The unprivileged user the server runs as when this process is root.
    run_as: Option<RunAs>,
    /// Whether this process started the postmaster, and so is the one to stop it.
    started: bool,
}

impl EmbeddedCluster {
    /// Initialises the cluster on first use, starts it (or reuses one already running on the
    /// same directory) and creates the `nextgenrdp` database.
    pub async fn start(data_dir: &Path) -> anyhow::Result<Self> {
        fs::create_dir_all(data_dir)
            .with_context(|| format!("creating the data directory {}", data_dir.display()))?;
        let data_dir = fs::canonicalize(data_dir)
            .with_context(|| format!("resolving the data directory {}", data_dir.display()))?;
        let cluster_dir = data_dir.join("postgres");
        let socket_dir = data_dir.join("postgres-socket");
        let log_file = data_dir.join("postgres.log");
        tracing::info!("starting embedded PostgreSQL in {}", cluster_dir.display());
        // Checked before anything is created: the server could not bind the socket.
        let socket_file = socket_dir.join(format!(".s.PGSQL.{PORT}"));
        let length = socket_file.as_os_str().len();
        if length > MAX_SOCKET_PATH {
            bail!(
                "the embedded PostgreSQL socket path {} is {length} bytes, longer than the \
                 {MAX_SOCKET_PATH} bytes a unix socket path may have; choose a shorter \
                 --data-dir (NEXTGENRDP_DATA_DIR)",
                socket_file.display()
            );
        }

        let existing_version = match fs::read_to_string(cluster_dir.join("PG_VERSION")) {
            Ok(version) => Some(version.trim().to_owned()),
            Err(e) if e.kind() == ErrorKind::NotFound => None,
            Err(e) => {
                return Err(e).with_context(|| {
                    format!("reading {}", cluster_dir.join("PG_VERSION").display())
                });
            }
        };
        let bin = find_binaries(existing_version.as_deref())?;
        tracing::debug!(bin = %bin.dir.display(), "using PostgreSQL server binaries");

        let run_as = if effective_uid()? == 0 {
            let user = unprivileged_user(&cluster_dir).await?;
            check_traversable(&data_dir, &user)?;
            Some(user)
        } else {
            None
        };

        // The cluster, socket and log belong to the server's user.
        make_private_dir(&cluster_dir, run_as.as_ref())?;
        make_private_dir(&socket_dir, run_as.as_ref())?;
        // Owner-only: the server log can quote statements and their data.
        fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&log_file)
            .with_context(|| format!("creating the log file {}", log_file.display()))?;
        if let Some(user) = &run_as {
            chown(&log_file, user)?;
        }

        if existing_version.is_none() {
            initdb(&bin, &cluster_dir, run_as.as_ref()).await?;
        }

        let mut cluster = EmbeddedCluster {
            url: String::new(),
            cluster_dir: cluster_dir.clone(),
            pg_ctl: bin.pg_ctl.clone(),
            run_as,
            started: false,
        };

        // A postmaster found running may still be starting up, or may be dying (its pid file
        // outlives it briefly after a crash): wait for it to accept connections, and start
        // our own once `pg_ctl status` no longer sees it.
        let deadline = Instant::now() + Duration::from_secs(30);
        let (mut connection, socket, port) = loop {
            let (socket, port) = match cluster.running_postmaster().await? {
                Postmaster::NotRunning => {
                    cluster.pg_ctl_start(&socket_dir, &log_file).await?;
                    // From here on a failure drops `cluster`, which stops the server we started.
                    let connection = connect_superuser(&socket_dir, PORT).await?;
                    break (connection, socket_dir, PORT);
                }
                Postmaster::Ready(socket, port) => (socket, port),
                Postmaster::NoSocket if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                    continue;
                }
                Postmaster::NoSocket => bail!(
                    "a PostgreSQL server is already running on {} without a unix socket; stop \
                     it (pg_ctl stop -D {}) and start nextgenrdp again",
                    cluster_dir.display(),
                    cluster_dir.display()
                ),
            };
            match connect_superuser(&socket, port).await {
                Ok(connection) => {
                    tracing::info!(
                        "reusing the PostgreSQL server already running on {} (socket {})",
                        cluster_dir.display(),
                        socket.display()
                    );
                    break (connection, socket, port);
                }
                Err(e) if Instant::now() < deadline => {
                    tracing::debug!(
                        "the running PostgreSQL does not accept connections yet: {e:#}"
                    );
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!(
                            "a PostgreSQL server is running on {} but has not accepted \
                             connections for 30 s; see its log {}",
                            cluster_dir.display(),
                            log_file.display()
                        )
                    });
                }
            }
        };

        ensure_database(&mut connection).await?;
        connection.close().await.ok();
        cluster.url = database_url(&socket, port, DATABASE);
        Ok(cluster)
    }

    /// The URL to connect to (unix socket).
    pub fn database_url(&self) -> &str {
        &self.url
    }

    /// The directory of the server binaries the cluster runs from; the client tools
    /// (`pg_dump`, `pg_restore`) of the same version are installed beside them.
    pub fn bin_dir(&self) -> Option<&Path> {
        self.pg_ctl.parent()
    }

    /// Stops the cluster (fast shutdown) if this process started it; a cluster that was
    /// already running when [`EmbeddedCluster::start`] found it is left running.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        if !self.started {
            return Ok(());
        }
        self.started = false;
        let output = run(self.stop_command(), "pg_ctl stop").await?;
        check(&output, "pg_ctl stop").with_context(|| {
            format!(
                "stopping embedded PostgreSQL in {}",
                self.cluster_dir.display()
            )
        })?;
        tracing::info!(
            "stopped embedded PostgreSQL in {}",
            self.cluster_dir.display()
        );
        Ok(())
    }

    /// Whether a postmaster is already running on the cluster (`pg_ctl status`), and its
    /// socket directory and port from `postmaster.pid` once it has written them. A stale pid
    /// file (crash) reads as not running, and `pg_ctl start` then deals with it.
    async fn running_postmaster(&self) -> anyhow::Result<Postmaster> {
        let pid_file = self.cluster_dir.join("postmaster.pid");
        if !pid_file.exists() {
            return Ok(Postmaster::NotRunning);
        }
        let mut command = pg_command(&self.pg_ctl, self.run_as.as_ref(), &self.cluster_dir);
        command.arg("status").arg("-D").arg(&self.cluster_dir);
        let output = run(command, "pg_ctl status").await?;
        match output.status.code() {
            Some(0) => {}
            // 3: not running (stale pid file).
            Some(3) => return Ok(Postmaster::NotRunning),
            _ => {
                check(&output, "pg_ctl status")?;
                return Ok(Postmaster::NotRunning);
            }
        }
        // Lines: pid, data directory, start time, port, first socket directory, listen
        // address, shared memory key, status; the socket line is filled in once the socket
        // exists.
        let contents = match fs::read_to_string(&pid_file) {
            Ok(contents) => contents,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Postmaster::NotRunning),
            Err(e) => return Err(e).with_context(|| format!("reading {}", pid_file.display())),
        };
        let lines: Vec<&str> = contents.lines().collect();
        let port = lines
            .get(3)
            .and_then(|port| port.trim().parse::<u16>().ok());
        let socket = lines.get(4).map(|dir| dir.trim()).unwrap_or_default();
        Ok(match port {
            Some(port) if !socket.is_empty() => Postmaster::Ready(PathBuf::from(socket), port),
            _ => Postmaster::NoSocket,
        })
    }

    /// `pg_ctl start -w`, listening on no TCP address and on a socket in `socket_dir`.
    async fn pg_ctl_start(&mut self, socket_dir: &Path, log_file: &Path) -> anyhow::Result<()> {
        let socket_dir = socket_dir
            .to_str()
            .context("the data directory path is not valid UTF-8")?;
        // pg_ctl hands `-o` to /bin/sh, and the server splits unix_socket_directories on
        // commas unless the entry is double-quoted.
        let server_options = format!(
            "-c listen_addresses= -c port={PORT} -c unix_socket_directories={}",
            shell_quote(&format!("\"{}\"", socket_dir.replace('"', "\"\"")))
        );
        let mut command = pg_command(&self.pg_ctl, self.run_as.as_ref(), &self.cluster_dir);
        command
            .arg("start")
            .arg("-w")
            .arg("-t")
            .arg("120")
            .arg("-D")
            .arg(&self.cluster_dir)
            .arg("-l")
            .arg(log_file)
            .arg("-o")
            .arg(server_options);
        let output = run(command, "pg_ctl start").await?;
        // pg_ctl may have left a server running even when it reports failure (e.g. the
        // wait timed out); stopping on drop is harmless if nothing is running.
        self.started = true;
        if !output.status.success() {
            bail!(
                "starting embedded PostgreSQL in {}: pg_ctl start failed ({}): {}\n\
                 the last lines of its log {}:\n{}",
                self.cluster_dir.display(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim(),
                log_file.display(),
                log_tail(log_file, 8)
            );
        }
        Ok(())
    }

    fn stop_command(&self) -> Command {
        let mut command = pg_command(&self.pg_ctl, self.run_as.as_ref(), &self.cluster_dir);
        command
            .arg("stop")
            .arg("-D")
            .arg(&self.cluster_dir)
            .arg("-m")
            .arg("fast")
            .arg("-w");
        command
    }
}

impl Drop for EmbeddedCluster {
    fn drop(&mut self) {
        if !self.started {
            return;
        }
        // Blocking, but only on a path where `stop` was not called (an error or a panic).
        match self.stop_command().output() {
            Ok(output) if output.status.success() => {
                tracing::info!(
                    "stopped embedded PostgreSQL in {}",
                    self.cluster_dir.display()
                );
            }
            Ok(output) => tracing::warn!(
                "stopping embedded PostgreSQL in {} failed: {}",
                self.cluster_dir.display(),
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Err(e) => tracing::warn!(
                "stopping embedded PostgreSQL in {} failed: {e}",
                self.cluster_dir.display()
            ),
        }
    }
}

/// What `postmaster.pid` says about a server running on the cluster.
#[derive(Debug)]
enum Postmaster {
    NotRunning,
    /// Running, but no unix socket recorded (yet, while it starts; or configured without).
    NoSocket,
    /// Running with its first unix socket directory and port.
    Ready(PathBuf, u16),
}

/// `initdb` with trust authentication for the `postgres` superuser and UTF-8; the C.UTF-8
/// locale (codepoint order, Unicode case mapping) where the system has it, else C.
async fn initdb(bin: &Binaries, cluster_dir: &Path, run_as: Option<&RunAs>) -> anyhow::Result<()> {
    tracing::info!(
        "initialising a new PostgreSQL cluster in {}",
        cluster_dir.display()
    );
    let attempt = |locale: &str| {
        let mut command = pg_command(&bin.initdb, run_as, cluster_dir);
        command
            .arg("-D")
            .arg(cluster_dir)
            .arg("-U")
            .arg(SUPERUSER)
            .arg("--auth=trust")
            .arg("-E")
            .arg("UTF8")
            .arg(locale)
            .arg("--no-instructions");
        command
    };
    let first = run(attempt("--locale=C.UTF-8"), "initdb").await?;
    if first.status.success() {
        return Ok(());
    }
    // initdb empties the directory when it fails, so a second attempt starts clean.
    tracing::info!(
        "initdb with the C.UTF-8 locale failed ({}); retrying with the C locale",
        String::from_utf8_lossy(&first.stderr).trim()
    );
    let second = run(attempt("--no-locale"), "initdb").await?;
    check(&second, "initdb").with_context(|| {
        format!(
            "initialising the PostgreSQL cluster in {} (the first attempt, with the C.UTF-8 \
             locale, said: {})",
            cluster_dir.display(),
            String::from_utf8_lossy(&first.stderr).trim()
        )
    })
}

/// A connection as the superuser to the `postgres` database over the socket.
async fn connect_superuser(socket: &Path, port: u16) -> anyhow::Result<PgConnection> {
    let options = PgConnectOptions::new_without_pgpass()
        .socket(socket)
        .port(port)
        .username(SUPERUSER)
        .database("postgres");
    PgConnection::connect_with(&options).await.with_context(|| {
        format!(
            "connecting to embedded PostgreSQL on socket {}",
            socket.display()
        )
    })
}

/// Creates the `nextgenrdp` database unless it exists.
async fn ensure_database(connection: &mut PgConnection) -> anyhow::Result<()> {
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(DATABASE)
            .fetch_one(&mut *connection)
            .await
            .context("looking up the nextgenrdp database")?;
    if !exists {
        tracing::info!("creating the {DATABASE} database");
        // A literal: sqlx 0.9 only takes audited dynamic SQL; this is `DATABASE`.
        match sqlx::query("create database nextgenrdp")
            .execute(&mut *connection)
            .await
        {
            Ok(_) => {}
            // Another process created it between our check and now.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("42P04") => {}
            Err(e) => return Err(e).context("creating the nextgenrdp database"),
        }
    }
    Ok(())
}

/// A URL `PgConnectOptions::from_str` reads as the unix socket in `socket`: libpq's
/// `?host=/dir` form (sqlx and libpq also accept the directory percent-encoded as the host,
/// `postgresql://postgres@%2Fdir:5432/db`, which is harder to read).
fn database_url(socket: &Path, port: u16, database: &str) -> String {
    format!(
        "postgresql://{SUPERUSER}@localhost:{port}/{database}?host={}",
        percent_encode(&socket.to_string_lossy())
    )
}

/// Percent-encodes everything but RFC 3986 unreserved characters and `/`.
fn percent_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => {
                encoded.push(byte as char)
            }
            _ => encoded.push_str(&format!("%{byte:02X}")),
        }
    }
    encoded
}

/// The last `lines` lines of the server log, for start errors.
fn log_tail(log_file: &Path, lines: usize) -> String {
    let log = fs::read_to_string(log_file).unwrap_or_default();
    let all: Vec<&str> = log.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Quotes `value` as one word for /bin/sh.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn the_url_names_the_socket_directory_and_the_database() {
        let url = database_url(Path::new("/tmp/a b,c/postgres-socket"), 5432, "nextgenrdp");
        assert_eq!(
            url,
            "postgresql://postgres@localhost:5432/nextgenrdp?host=/tmp/a%20b%2Cc/postgres-socket"
        );
        let options = PgConnectOptions::from_str(&url).unwrap();
        assert_eq!(
            options.get_socket(),
            Some(&PathBuf::from("/tmp/a b,c/postgres-socket"))
        );
        assert_eq!(options.get_database(), Some("nextgenrdp"));
        assert_eq!(options.get_username(), "postgres");
        assert_eq!(options.get_port(), 5432);
    }

    #[test]
    fn sqlx_also_reads_a_percent_encoded_socket_host() {
        let options =
            PgConnectOptions::from_str("postgresql://postgres@%2Ftmp%2Fsock:5432/db").unwrap();
        assert_eq!(options.get_socket(), Some(&PathBuf::from("/tmp/sock")));
    }

    #[test]
    fn server_options_survive_the_shell() {
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
    }
}
