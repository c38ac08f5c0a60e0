//! Finding the PostgreSQL server binaries installed on the machine.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{NOT_FOUND, VERSIONED_BIN_ROOT};

/// The directory holding `initdb`, `pg_ctl` and `postgres`.
#[derive(Debug)]
pub(super) struct Binaries {
    pub(super) dir: PathBuf,
    pub(super) initdb: PathBuf,
    pub(super) pg_ctl: PathBuf,
}

impl Binaries {
    fn in_dir(dir: &Path) -> Option<Self> {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|name| is_executable(&dir.join(name)))
            .then(|| Binaries {
                dir: dir.to_path_buf(),
                initdb: dir.join("initdb"),
                pg_ctl: dir.join("pg_ctl"),
            })
    }
}

/// Finds the server binaries: those of the existing cluster's major version if installed
/// (a cluster only starts with its own major version), else the first `pg_ctl` in PATH
/// (through its symlink to the directory it came from), else the highest version in
/// `/usr/lib/postgresql/*/bin`.
pub(super) fn find_binaries(cluster_version: Option<&str>) -> anyhow::Result<Binaries> {
    if let Some(version) = cluster_version {
        let dir = Path::new(VERSIONED_BIN_ROOT).join(version).join("bin");
        if let Some(found) = Binaries::in_dir(&dir) {
            return Ok(found);
        }
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let pg_ctl = dir.join("pg_ctl");
            if !is_executable(&pg_ctl) {
                continue;
            }
            let resolved = fs::canonicalize(&pg_ctl).ok();
            if let Some(found) = resolved
                .as_deref()
                .and_then(Path::parent)
                .and_then(Binaries::in_dir)
            {
                return Ok(found);
            }
            if let Some(found) = Binaries::in_dir(&dir) {
                return Ok(found);
            }
        }
    }
    let mut versions: Vec<(Vec<u32>, PathBuf)> = match fs::read_dir(VERSIONED_BIN_ROOT) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let version = name
                    .split('.')
                    .map(|part| part.parse::<u32>().ok())
                    .collect::<Option<Vec<u32>>>()?;
                Some((version, entry.path().join("bin")))
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions
        .iter()
        .find_map(|(_, dir)| Binaries::in_dir(dir))
        .context(NOT_FOUND)
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|meta| meta.is_file() && meta.mode() & 0o111 != 0)
}
