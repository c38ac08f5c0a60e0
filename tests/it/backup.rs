//! Backups through the real binary: create → wipe → restore gives back every row; restore
//! refuses a non-empty database without --force and a file that fails its checksum; the
//! scheduled job backs up once a day and prunes by the retention rule.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use clap::Parser;
use sqlx::PgPool;

use crate::helpers::{TestApp, binary, database_url_for};
use crate::provisioning::paid_order;

/// Runs the binary with `args` on the test database.
fn run(db: &PgPool, data_dir: &Path, args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .env("DATABASE_URL", database_url_for(db))
        .env("NEXTGENRDP_DATA_DIR", data_dir)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn text(output: &Output) -> String {
    format!(
        "status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// A shop with the default catalog, an operator, a customer and a paid order (payment, service,
/// jobs, audit lines).
async fn seed(db: &PgPool) {
    let app = TestApp::with_default_catalog(db.clone()).await;
    paid_order(&app, "backup-buyer@example.pk", 1).await;
}

/// Every table of schema public with its row count and an md5 of its rows in order, and every
/// sequence with its position.
async fn fingerprint(db: &PgPool) -> BTreeMap<String, (i64, Option<String>)> {
    let tables: Vec<String> = sqlx::query_scalar(
        "select tablename::text from pg_tables where schemaname = 'public' order by 1",
    )
    .fetch_all(db)
    .await
    .unwrap();
    let mut print = BTreeMap::new();
    for table in tables {
        let row: (i64, Option<String>) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "select count(*), md5(string_agg(t::text, ',' order by t::text)) from public.\"{table}\" t"
        )))
        .fetch_one(db)
        .await
        .unwrap();
        print.insert(table, row);
    }
    let sequences: Vec<String> = sqlx::query_scalar(
        "select sequencename::text from pg_sequences where schemaname = 'public' order by 1",
    )
    .fetch_all(db)
    .await
    .unwrap();
    for sequence in sequences {
        let last: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "select case when is_called then last_value end from public.\"{sequence}\""
        )))
        .fetch_one(db)
        .await
        .unwrap();
        print.insert(format!("sequence {sequence}"), (last.unwrap_or(0), None));
    }
    print
}

async fn wipe(db: &PgPool) {
    sqlx::query("drop schema public cascade")
        .execute(db)
        .await
        .unwrap();
    sqlx::query("create schema public")
        .execute(db)
        .await
        .unwrap();
}

/// `backup create` into `dir`; the path it printed.
fn create(db: &PgPool, data_dir: &Path, dir: &Path) -> PathBuf {
    let output = run(
        db,
        data_dir,
        &["backup", "create", "--dir", dir.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", text(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let path = PathBuf::from(stdout.split_whitespace().next().unwrap());
    assert!(path.is_file(), "{}", text(&output));
    path
}

#[sqlx::test]
async fn a_backup_restored_into_a_wiped_database_gives_back_every_row(db: PgPool) {
    seed(&db).await;
    let before = fingerprint(&db).await;
    assert!(before["users"].0 >= 2 && before["orders"].0 == 1 && before["plans"].0 == 8);
    let data_dir = tempfile::tempdir().unwrap();

    // Into <data-dir>/backups by default, with progress on stderr and a sha256sum-format file.
    let output = run(&db, data_dir.path(), &["backup", "create"]);
    assert!(output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("tables"), "no progress: {}", text(&output));
    assert!(
        !stderr.contains("password") && !String::from_utf8_lossy(&output.stdout).contains('@'),
        "{}",
        text(&output)
    );
    let backups = data_dir.path().join("backups");
    let names: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    let dump = names.iter().find(|name| name.ends_with(".dump")).unwrap();
    assert!(
        dump.starts_with("nextgenrdp-") && dump.ends_with("Z.dump"),
        "{dump}"
    );
    let checksum = std::fs::read_to_string(backups.join(format!("{dump}.sha256"))).unwrap();
    assert_eq!(checksum.len(), 64 + 2 + dump.len() + 1, "{checksum}");
    assert!(checksum.ends_with(&format!("  {dump}\n")), "{checksum}");
    let verified = Command::new("sha256sum")
        .arg("-c")
        .arg(format!("{dump}.sha256"))
        .current_dir(&backups)
        .output();
    if let Ok(verified) = verified {
        assert!(verified.status.success(), "{}", text(&verified));
    }

    let listed = run(&db, data_dir.path(), &["backup", "list"]);
    assert!(listed.status.success(), "{}", text(&listed));
    let listing = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listing.contains(dump.as_str()) && listing.contains("checksum ok"),
        "{listing}"
    );

    wipe(&db).await;
    assert!(fingerprint(&db).await.is_empty());
    let path = backups.join(dump);
    let output = run(
        &db,
        data_dir.path(),
        &["backup", "restore", path.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("restored"),
        "{}",
        text(&output)
    );
    assert_eq!(fingerprint(&db).await, before);
    nextgenrdp::db::check_ready(&db).await.unwrap();
}

#[sqlx::test]
async fn restore_over_a_database_with_data_is_refused_without_force_and_replaces_it_with_force(
    db: PgPool,
) {
    seed(&db).await;
    let before = fingerprint(&db).await;
    let data_dir = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = create(&db, data_dir.path(), dir.path());

    // Life goes on after the backup.
    sqlx::query("update users set name = 'Changed Later'")
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("create table scratch (id int)")
        .execute(&db)
        .await
        .unwrap();
    let changed = fingerprint(&db).await;
    assert_ne!(changed, before);

    let output = run(
        &db,
        data_dir.path(),
        &["backup", "restore", path.to_str().unwrap()],
    );
    assert!(!output.status.success(), "{}", text(&output));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("not empty") && stderr.contains("--force"),
        "{}",
        text(&output)
    );
    assert_eq!(fingerprint(&db).await, changed);

    let output = run(
        &db,
        data_dir.path(),
        &["backup", "restore", "--force", path.to_str().unwrap()],
    );
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("replacing"),
        "{}",
        text(&output)
    );
    assert_eq!(fingerprint(&db).await, before);
    let leftover: bool = sqlx::query_scalar(
        "select exists (select 1 from pg_namespace where nspname = 'nextgenrdp_before_restore')",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert!(!leftover);
}

#[sqlx::test]
async fn a_damaged_backup_or_one_without_its_checksum_is_refused(db: PgPool) {
    seed(&db).await;
    let data_dir = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = create(&db, data_dir.path(), dir.path());
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    wipe(&db).await;

    let listed = run(
        &db,
        data_dir.path(),
        &["backup", "list", "--dir", dir.path().to_str().unwrap()],
    );
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("CHECKSUM MISMATCH"),
        "{}",
        text(&listed)
    );
    let output = run(
        &db,
        data_dir.path(),
        &["backup", "restore", "--force", path.to_str().unwrap()],
    );
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("does not match its checksum"),
        "{}",
        text(&output)
    );

    let mut checksum = path.clone().into_os_string();
    checksum.push(".sha256");
    std::fs::remove_file(checksum).unwrap();
    let output = run(
        &db,
        data_dir.path(),
        &["backup", "restore", path.to_str().unwrap()],
    );
    assert!(!output.status.success(), "{}", text(&output));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no checksum file"),
        "{}",
        text(&output)
    );
    assert!(fingerprint(&db).await.is_empty(), "something was restored");
}

/// Flags as `worker` reads them.
#[derive(Parser)]
struct WorkerFlags {
    #[command(flatten)]
    common: nextgenrdp::config::CommonConfig,
    #[command(flatten)]
    backups: nextgenrdp::backup::BackupConfig,
}

#[sqlx::test]
async fn the_daily_backup_job_runs_once_a_day_and_prunes_old_backups(db: PgPool) {
    seed(&db).await;
    let data_dir = tempfile::tempdir().unwrap();
    let backups = data_dir.path().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    // Ten daily backups from 1–10 January 2020 (ISO weeks 1 and 2).
    for day in 1..=10 {
        let name = format!("nextgenrdp-202001{day:02}T030000Z.dump");
        std::fs::write(backups.join(&name), b"old").unwrap();
        std::fs::write(backups.join(format!("{name}.sha256")), b"x").unwrap();
    }
    let url = database_url_for(&db);
    let flags = WorkerFlags::try_parse_from([
        "worker",
        "--database-url",
        &url,
        "--data-dir",
        data_dir.path().to_str().unwrap(),
        "--backup-schedule",
        "daily",
        "--backup-keep-daily",
        "7",
        "--backup-keep-weekly",
        "4",
    ])
    .unwrap();
    let database = nextgenrdp::db::Database::open(&flags.common).await.unwrap();
    let settings = flags.backups.settings(&flags.common, &database).unwrap();
    let mail_dir = tempfile::tempdir().unwrap();
    let worker = nextgenrdp::worker::Worker::new(
        db.clone(),
        std::sync::Arc::new(nextgenrdp::mail::Mailer::files(
            mail_dir.path().to_path_buf(),
            "NextGenRDP <no-reply@nextgenrdp.pk>",
        )),
        crate::helpers::test_provisioning(),
    )
    .with_backups(settings);

    for _ in 0..2 {
        worker.enqueue_due_schedules().await.unwrap();
        worker.run_pending().await.unwrap();
    }
    database.close().await;
    let jobs: Vec<String> = sqlx::query_scalar("select status from jobs where kind = 'backup'")
        .fetch_all(&db)
        .await
        .unwrap();
    assert_eq!(jobs, vec!["succeeded"]);

    let mut dumps: Vec<String> = std::fs::read_dir(&backups)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".dump"))
        .collect();
    dumps.sort();
    // Today's, the last six other days (5–10 January), and the newest of each ISO week (the
    // 5th and the 10th): 1–4 January go, with their checksum files.
    assert_eq!(dumps.len(), 7, "{dumps:?}");
    assert_eq!(dumps[0], "nextgenrdp-20200105T030000Z.dump");
    assert!(
        !backups
            .join("nextgenrdp-20200104T030000Z.dump.sha256")
            .exists()
    );
    let newest = backups.join(&dumps[6]);
    assert_eq!(
        nextgenrdp::backup::verify(&newest).await.unwrap(),
        nextgenrdp::backup::Checksum::Verified
    );
}

#[sqlx::test]
async fn a_backup_file_named_like_an_option_is_restored_as_a_file(db: PgPool) {
    seed(&db).await;
    let before = fingerprint(&db).await;
    let data_dir = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let made = create(&db, data_dir.path(), dir.path());
    // The operator renamed it `--list` (with its checksum file beside it).
    std::fs::rename(&made, dir.path().join("--list")).unwrap();
    let mut sum = made.as_os_str().to_owned();
    sum.push(".sha256");
    std::fs::rename(sum, dir.path().join("--list.sha256")).unwrap();
    wipe(&db).await;

    // Run from that directory and name the file as typed: `backup restore -- --list`. Passed to
    // pg_restore without `--`, the name was read as its `--list` option: the archive was listed,
    // nothing restored, and the command still said it restored.
    let output = Command::new(binary())
        .args(["backup", "restore", "--", "--list"])
        .current_dir(dir.path())
        .env("DATABASE_URL", database_url_for(&db))
        .env("NEXTGENRDP_DATA_DIR", data_dir.path())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", text(&output));
    assert_eq!(fingerprint(&db).await, before);
}

/// The back office's backups page: the policy and a warning while there is no backup, "back up
/// now" queuing a durable job that a worker runs, the new backup listed as verifying, the
/// download the owner's alone (streamed, audited), and a technical operator who may back up
/// but not download.
#[sqlx::test]
async fn the_backups_page_backs_up_now_and_lets_only_the_owner_download(db: PgPool) {
    use axum::http::StatusCode;
    use nextgenrdp::accounts::Role;

    use crate::pages::Visitor;
    seed(&db).await;
    let data_dir = tempfile::tempdir().unwrap();
    let url = database_url_for(&db);
    let flags = WorkerFlags::try_parse_from([
        "worker",
        "--database-url",
        &url,
        "--data-dir",
        data_dir.path().to_str().unwrap(),
        "--backup-schedule",
        "daily",
    ])
    .unwrap();
    let mut settings = TestApp::settings();
    settings.backups = flags.backups.policy(&flags.common);
    let app = TestApp::with_settings(db.clone(), settings);
    app.admin("owner@nextgenrdp.pk").await;
    app.staff("tariq@nextgenrdp.pk", Role::Technical).await;
    let mut owner = Visitor::from(&app, "198.51.100.70");
    owner
        .log_in("owner@nextgenrdp.pk", "operator-passphrase")
        .await;

    let page = owner.get("/admin/backups").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text());
    let html = page.text();
    assert!(
        html.contains(r#"id="backup-stale""#),
        "no backup yet: {html}"
    );
    assert!(html.contains("the newest backup of each of the last 7 days and of the last 4 weeks"));
    assert!(
        html.contains("nextgenrdp backup restore FILE"),
        "restore explained"
    );

    let asked = owner.submit("/admin/backups", "/admin/backups", &[]).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER);
    assert_eq!(asked.header("location"), "/admin/backups?notice=requested");
    let again = owner.submit("/admin/backups", "/admin/backups", &[]).await;
    assert_eq!(
        again.header("location"),
        "/admin/backups?notice=already",
        "one job however often it is pressed"
    );
    let html = owner.get("/admin/backups").await.text();
    assert!(
        html.contains(r#"<span class="badge job-queued">queued</span>"#),
        "the job's progress: {html}"
    );

    // A worker of this machine runs it.
    let database = nextgenrdp::db::Database::open(&flags.common).await.unwrap();
    let mail_dir = tempfile::tempdir().unwrap();
    let worker = nextgenrdp::worker::Worker::new(
        db.clone(),
        std::sync::Arc::new(nextgenrdp::mail::Mailer::files(
            mail_dir.path().to_path_buf(),
            "NextGenRDP <no-reply@nextgenrdp.pk>",
        )),
        crate::helpers::test_provisioning(),
    )
    .with_backups(flags.backups.settings(&flags.common, &database).unwrap());
    worker.run_pending().await.unwrap();

    let html = owner.get("/admin/backups").await.text();
    assert!(!html.contains(r#"id="backup-stale""#), "{html}");
    assert!(
        html.contains(r#"<span class="badge job-succeeded">succeeded</span>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<span class="badge status-active">Verifies</span>"#),
        "{html}"
    );
    let name = backup_names(data_dir.path());
    assert_eq!(name.len(), 1, "{name:?}");
    let name = &name[0];
    let link = format!(r#"<a href="/admin/backups/{name}/download" download>"#);
    assert!(html.contains(&link));

    // The owner downloads it whole; the bytes are the file's.
    let download = owner.get(&format!("/admin/backups/{name}/download")).await;
    assert_eq!(download.status, StatusCode::OK);
    assert_eq!(
        download.body,
        std::fs::read(data_dir.path().join("backups").join(name)).unwrap()
    );
    assert!(
        download
            .header("content-disposition")
            .contains(name.as_str())
    );
    for bad in ["..%2F..%2Fetc%2Fpasswd", "nextgenrdp-x.dump", "secrets"] {
        let refused = owner.get(&format!("/admin/backups/{bad}/download")).await;
        assert_eq!(refused.status, StatusCode::NOT_FOUND, "{bad}");
    }
    let audited: Vec<String> =
        sqlx::query_scalar("select action from audit_log where entity_type = 'backup' order by id")
            .fetch_all(&db)
            .await
            .unwrap();
    assert_eq!(audited, ["backup.request", "backup.download"]);

    // Technical backs up, but neither sees a download link nor downloads.
    let mut tariq = Visitor::from(&app, "198.51.100.71");
    tariq
        .log_in("tariq@nextgenrdp.pk", "operator-passphrase")
        .await;
    let html = tariq.get("/admin/backups").await.text();
    assert!(html.contains(name.as_str()) && !html.contains(&link));
    assert_eq!(
        tariq
            .get(&format!("/admin/backups/{name}/download"))
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    // The verdict is remembered while the file is unchanged, and a damaged dump (same size,
    // one byte flipped) is read again and named.
    let path = data_dir.path().join("backups").join(name);
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::thread::sleep(std::time::Duration::from_millis(20)); // a later modification time
    std::fs::write(&path, &bytes).unwrap();
    let html = owner.get("/admin/backups").await.text();
    assert!(html.contains("Does not match: damaged"), "{html}");
}

fn backup_names(data_dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data_dir.join("backups"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".dump"))
        .collect();
    names.sort();
    names
}
