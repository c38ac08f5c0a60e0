//! The real `nextgenrdp` binary: every command, run as an operator would run it.

use std::process::{Command, Output, Stdio};

use sqlx::PgPool;

use crate::helpers::{binary, database_url_for, free_port, run_binary};

/// Runs the binary with `args` on the test database, feeding `stdin`.
fn run(db: &PgPool, args: &[&str], stdin: &str) -> Output {
    run_binary(&database_url_for(db), args, &[], stdin)
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["catalog", "--help"],
        vec!["catalog", "import", "--help"],
        vec!["catalog", "export", "--help"],
        vec!["user", "--help"],
        vec!["user", "create", "--help"],
        vec!["user", "reset-2fa", "--help"],
        vec!["worker", "--help"],
        vec!["keys", "--help"],
        vec!["keys", "rotate", "--help"],
        vec!["backup", "--help"],
        vec!["backup", "create", "--help"],
        vec!["backup", "list", "--help"],
        vec!["backup", "restore", "--help"],
    ] {
        let output = Command::new(binary()).args(&args).output().unwrap();
        assert!(output.status.success(), "{args:?}");
        let text = stdout(&output);
        assert!(text.contains("Usage: nextgenrdp"), "{args:?}: {text}");
    }
    let serve = Command::new(binary())
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = stdout(&serve);
    for flag in [
        "--listen",
        "--data-dir",
        "NEXTGENRDP_LISTEN",
        "NEXTGENRDP_DATA_DIR",
        "DATABASE_URL",
    ] {
        assert!(text.contains(flag), "serve --help lacks {flag}");
    }
}

#[sqlx::test(migrations = false)]
async fn migrate_applies_everything_and_is_idempotent(db: PgPool) {
    for _ in 0..2 {
        let output = run(&db, &["migrate"], "");
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).contains("up to date"));
    }
    nextgenrdp::db::check_ready(&db).await.unwrap();
}

/// A cron-driven `worker --once` runs the periodic jobs too (order expiry, renewals, clean-up):
/// it enqueues those whose period has begun, then runs what is queued; run again in the same
/// period, it enqueues none a second time.
#[sqlx::test]
async fn worker_once_enqueues_the_due_periodic_jobs_then_runs_them(db: PgPool) {
    let user: i32 = sqlx::query_scalar(
        "insert into users (name, email, password_hash, role)
         values ('Bilal', 'bilal@example.pk', 'x', 'customer') returning id",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let stale: i32 = sqlx::query_scalar(
        "insert into orders (user_id, status, total_amount_pkr, discount_amount_pkr,
                             final_amount_pkr, created_at)
         values ($1, 'pending_payment', 5000, 0, 5000, now() - interval '3 days') returning id",
    )
    .bind(user)
    .fetch_one(&db)
    .await
    .unwrap();
    let fresh: i32 = sqlx::query_scalar(
        "insert into orders (user_id, status, total_amount_pkr, discount_amount_pkr,
                             final_amount_pkr)
         values ($1, 'pending_payment', 5000, 0, 5000) returning id",
    )
    .bind(user)
    .fetch_one(&db)
    .await
    .unwrap();

    // Backups are a periodic job too; they have their own tests.
    let once = || {
        run_binary(
            &database_url_for(&db),
            &["worker", "--once"],
            &[("NEXTGENRDP_BACKUP_SCHEDULE", "off")],
            "",
        )
    };
    let output = once();
    assert!(output.status.success(), "{}", stderr(&output));
    let status = |id: i32| {
        sqlx::query_scalar::<_, String>("select status from orders where id = $1")
            .bind(id)
            .fetch_one(&db)
    };
    assert_eq!(status(stale).await.unwrap(), "expired");
    assert_eq!(status(fresh).await.unwrap(), "pending_payment");
    let ran: Vec<(String, String)> =
        sqlx::query_as("select kind, status from jobs where dedupe_key is not null order by kind")
            .fetch_all(&db)
            .await
            .unwrap();
    for kind in ["clean_up", "expire_orders", "renewals"] {
        assert!(
            ran.iter().any(|(k, s)| k == kind && s == "succeeded"),
            "{kind} did not run: {ran:?}"
        );
    }
    let count: usize = stdout(&output)
        .trim()
        .strip_prefix("ran ")
        .and_then(|rest| rest.strip_suffix(" jobs"))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{}", stdout(&output)));
    assert!(count >= ran.len(), "ran {count} of {ran:?}");

    // Again in the same period: each periodic job is there once, whatever the number of runs.
    let again = once();
    assert!(again.status.success(), "{}", stderr(&again));
    let per_key: Vec<(String, i64)> = sqlx::query_as(
        "select dedupe_key, count(*) from jobs where dedupe_key is not null group by 1",
    )
    .fetch_all(&db)
    .await
    .unwrap();
    assert!(per_key.iter().all(|(_, n)| *n == 1), "{per_key:?}");
}

#[sqlx::test]
async fn catalog_import_then_export_round_trips_through_the_binary(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let default = concat!(env!("CARGO_MANIFEST_DIR"), "/catalog/default.toml");
    let output = run(&db, &["catalog", "import", default], "");
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("8 plans imported"),
        "{}",
        stdout(&output)
    );

    let first = dir.path().join("first.toml");
    let output = run(&db, &["catalog", "export", first.to_str().unwrap()], "");
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run(&db, &["catalog", "import", first.to_str().unwrap()], "");
    assert!(output.status.success(), "{}", stderr(&output));
    let to_stdout = run(&db, &["catalog", "export"], "");
    assert_eq!(stdout(&to_stdout), std::fs::read_to_string(&first).unwrap());
    assert_eq!(nextgenrdp::catalog::plans::count(&db).await.unwrap(), 8);
}

#[sqlx::test]
async fn a_bad_catalog_file_is_refused_naming_the_problem_and_writes_nothing(db: PgPool) {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let text =
        nextgenrdp::catalog::file::DEFAULT_CATALOG.replace("price_pkr = 4500", "price_pkr = -4500");
    std::fs::write(&bad, text).unwrap();
    let output = run(&db, &["catalog", "import", bad.to_str().unwrap()], "");
    assert!(!output.status.success());
    let err = stderr(&output);
    assert!(
        err.contains("rdp-business-two") && err.contains("price_pkr"),
        "{err}"
    );
    assert_eq!(nextgenrdp::catalog::plans::count(&db).await.unwrap(), 0);

    let output = run(&db, &["catalog", "import", "/no/such/file.toml"], "");
    assert!(!output.status.success());
    assert!(stderr(&output).contains("/no/such/file.toml"));
}

#[sqlx::test]
async fn user_create_makes_a_verified_operator_with_the_password_from_stdin(db: PgPool) {
    let output = run(
        &db,
        &[
            "user",
            "create",
            "--email",
            "Owner@NextGenRDP.pk",
            "--name",
            "Shop Owner",
            "--admin",
        ],
        "s3cret-passphrase\n",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("created owner account"));
    let user = nextgenrdp::accounts::users::find_by_email(&db, "owner@nextgenrdp.pk")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.email, "owner@nextgenrdp.pk", "stored normalised");
    assert_eq!(user.role, nextgenrdp::accounts::Role::Owner);
    assert!(user.is_verified());
    assert!(user.password_hash.starts_with("$2b$12$"), "bcrypt cost 12");
    assert!(nextgenrdp::accounts::verify_password(
        "s3cret-passphrase",
        &user.password_hash
    ));

    let again = run(
        &db,
        &[
            "user",
            "create",
            "--email",
            "owner@nextgenrdp.pk",
            "--name",
            "Again",
        ],
        "another-pass\n",
    );
    assert!(!again.status.success());
    assert!(stderr(&again).contains("already exists"));
}

#[sqlx::test]
async fn user_create_takes_a_staff_role_and_names_the_roles_it_knows(db: PgPool) {
    let created = run(
        &db,
        &[
            "user",
            "create",
            "--email",
            "sana@nextgenrdp.pk",
            "--name",
            "Sana Billing",
            "--role",
            "billing",
        ],
        "billing-passphrase\n",
    );
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(stdout(&created).contains("created billing account"));
    let user = nextgenrdp::accounts::users::find_by_email(&db, "sana@nextgenrdp.pk")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(user.role, nextgenrdp::accounts::Role::Billing);

    let unknown = run(
        &db,
        &[
            "user",
            "create",
            "--email",
            "x@nextgenrdp.pk",
            "--name",
            "X",
            "--role",
            "admin",
        ],
        "x-passphrase-long\n",
    );
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("owner, billing, support, technical"),
        "{}",
        stderr(&unknown)
    );
    let both = run(
        &db,
        &[
            "user",
            "create",
            "--email",
            "y@nextgenrdp.pk",
            "--name",
            "Y",
            "--role",
            "support",
            "--admin",
        ],
        "y-passphrase-long\n",
    );
    assert!(!both.status.success());
    assert!(
        nextgenrdp::accounts::users::find_by_email(&db, "x@nextgenrdp.pk")
            .await
            .unwrap()
            .is_none()
            && nextgenrdp::accounts::users::find_by_email(&db, "y@nextgenrdp.pk")
                .await
                .unwrap()
                .is_none()
    );
}

#[sqlx::test]
async fn user_create_refuses_bad_input_and_writes_nothing(db: PgPool) {
    let cases: [(&[&str], &str, &str); 4] = [
        (
            &["user", "create", "--email", "not-an-email", "--name", "X Y"],
            "long-enough-pw\n",
            "--email",
        ),
        (
            &["user", "create", "--email", "a@b.pk", "--name", "   "],
            "long-enough-pw\n",
            "--name",
        ),
        (
            &["user", "create", "--email", "a@b.pk", "--name", "Ali"],
            "short\n",
            "at least 8 characters",
        ),
        (
            &["user", "create", "--email", "a@b.pk", "--name", "Ali"],
            "an operator passphrase far longer than the seventy-two bytes bcrypt reads\n",
            "at most 72 bytes",
        ),
    ];
    for (args, stdin, expected) in cases {
        let output = run(&db, args, stdin);
        assert!(!output.status.success(), "{args:?}");
        assert!(
            stderr(&output).contains(expected),
            "{args:?}: {}",
            stderr(&output)
        );
    }
    assert_eq!(
        nextgenrdp::accounts::users::count(&db, None)
            .await
            .unwrap()
            .count,
        0
    );
}

/// Waits until `url` answers 200, or panics after 60 s with the server's log.
async fn wait_until_up(url: &str, log: &std::path::Path) {
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(response) = client.get(url).send().await
            && response.status() == 200
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "{url} never answered; log:\n{}",
        std::fs::read_to_string(log).unwrap_or_default()
    );
}

/// Sends SIGTERM and waits for the process to exit.
fn terminate(child: &mut std::process::Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    for _ in 0..300 {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child.kill().unwrap();
    panic!("the server did not stop within 30 s of SIGTERM");
}

#[tokio::test]
async fn serve_without_database_url_runs_its_own_postgres_and_serves_the_default_catalog() {
    // Under /tmp: when the tests run as root, the cluster runs as an unprivileged user who must
    // be able to reach the directory.
    let data_dir = tempfile::Builder::new()
        .prefix("ngr-serve")
        .tempdir_in("/tmp")
        .unwrap();
    let log_path = data_dir.path().join("serve.log");
    let port = free_port();
    let start = || {
        Command::new(binary())
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .arg("--data-dir")
            .arg(data_dir.path())
            .env_remove("DATABASE_URL")
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log_path).unwrap())
            .spawn()
            .unwrap()
    };
    let base = format!("http://127.0.0.1:{port}");

    let mut server = start();
    wait_until_up(&format!("{base}/healthz"), &log_path).await;
    assert_eq!(
        reqwest::get(format!("{base}/readyz"))
            .await
            .unwrap()
            .status(),
        200
    );
    let home = reqwest::get(format!("{base}/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        home.contains("Windows RDP") && home.contains("RDP Business"),
        "default catalog missing"
    );
    let vps = reqwest::get(format!("{base}/vps"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        vps.contains("VPS Nano") && vps.contains("Rs 1,200"),
        "default catalog missing"
    );
    assert!(data_dir.path().join("postgres/PG_VERSION").exists());
    assert!(data_dir.path().join("secrets/token_signing_key").exists());
    let status = terminate(&mut server);
    assert!(status.success(), "exit status {status}");
    assert!(
        !data_dir.path().join("postgres/postmaster.pid").exists(),
        "the embedded PostgreSQL was left running"
    );

    // The second start reuses the cluster and its data (the catalog is not loaded twice).
    let mut server = start();
    wait_until_up(&format!("{base}/healthz"), &log_path).await;
    let rdp = reqwest::get(format!("{base}/rdp"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(rdp.contains("RDP Starter"));
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        !log.contains("loaded the default catalog"),
        "catalog loaded again:\n{log}"
    );
    assert!(terminate(&mut server).success());
}

#[sqlx::test(migrations = false)]
async fn serve_in_production_without_secrets_stops_before_touching_the_database(db: PgPool) {
    let output = {
        let data_dir = tempfile::tempdir().unwrap();
        Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env("DATABASE_URL", database_url_for(&db))
            .env("NEXTGENRDP_DATA_DIR", data_dir.path())
            .env("NEXTGENRDP_ENV", "production")
            .env_remove("NEXTGENRDP_TOKEN_SIGNING_KEY")
            .env_remove("NEXTGENRDP_CREDENTIAL_KEY")
            .output()
            .unwrap()
    };
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("NEXTGENRDP_TOKEN_SIGNING_KEY"),
        "{}",
        stderr(&output)
    );
    let migrated: bool = sqlx::query_scalar("select to_regclass('_sqlx_migrations') is not null")
        .fetch_one(&db)
        .await
        .unwrap();
    assert!(
        !migrated,
        "the database was migrated before the configuration was checked"
    );
}

#[sqlx::test]
async fn keys_rotate_re_encrypts_every_credential_under_a_new_key(db: PgPool) {
    use nextgenrdp::crypto::Key;
    use nextgenrdp::crypto::Keyring;
    use nextgenrdp::provisioning::Provisioning;
    use secrecy::ExposeSecret;
    use std::os::unix::fs::PermissionsExt;

    // A shop whose data dir holds its credential key, with one sealed password and one token.
    let data_dir = tempfile::tempdir().unwrap();
    let secrets = data_dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    std::fs::set_permissions(&secrets, std::fs::Permissions::from_mode(0o700)).unwrap();
    std::fs::write(secrets.join("credential_key"), hex::encode([9u8; 32])).unwrap();
    let old = Keyring::new(&Key::from_bytes([9u8; 32]), &[]);
    let service: i32 = sqlx::query_scalar(
        "insert into services (service_type, status) values ('rdp', 'active') returning id",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let sealed = old.seal("Windows-Pa55word", &Provisioning::service_context(service));
    sqlx::query("update services set password_encrypted = $2 where id = $1")
        .bind(service)
        .bind(&sealed)
        .execute(&db)
        .await
        .unwrap();
    let location: i32 = sqlx::query_scalar(
        "insert into locations (name, country_code, slug) values ('Lahore', 'PK', 'pk-lahore') returning id",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let backend: i32 = sqlx::query_scalar(
        "insert into provisioning_backends (name, driver, location_id) values ('pve', 'manual', $1) returning id",
    )
    .bind(location)
    .fetch_one(&db)
    .await
    .unwrap();
    let token = old.seal("api-token-secret", &Provisioning::backend_context(backend));
    sqlx::query("update provisioning_backends set token_secret_encrypted = $2 where id = $1")
        .bind(backend)
        .bind(&token)
        .execute(&db)
        .await
        .unwrap();
    // And an operator's two-factor secret.
    let operator: i32 = sqlx::query_scalar(
        "insert into users (name, email, password_hash, role) values ('Op', 'op@example.pk', 'x', 'owner') returning id",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    let context = nextgenrdp::accounts::two_factor::secret_context(operator);
    nextgenrdp::accounts::two_factor::user_two_factor::put_secret(
        &db,
        operator,
        &old.seal("0a1b2c", &context),
    )
    .await
    .unwrap();

    let rotate = || {
        Command::new(binary())
            .args(["keys", "rotate"])
            .env("DATABASE_URL", database_url_for(&db))
            .env("NEXTGENRDP_DATA_DIR", data_dir.path())
            .env_remove("NEXTGENRDP_CREDENTIAL_KEY")
            .env_remove("NEXTGENRDP_CREDENTIAL_KEYS_PREVIOUS")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let output = rotate();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains(
            "1 service password(s), 1 backend token(s) and 1 two-factor secret(s) re-encrypted"
        ),
        "{}",
        stdout(&output)
    );

    // The new key is on disk (still private), the old one kept as previous.
    let new_hex = std::fs::read_to_string(secrets.join("credential_key")).unwrap();
    assert_ne!(new_hex.trim(), hex::encode([9u8; 32]));
    let mode = std::fs::metadata(secrets.join("credential_key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    let previous = std::fs::read_to_string(secrets.join("credential_keys_previous")).unwrap();
    assert!(previous.contains(&hex::encode([9u8; 32])));
    let new = Keyring::new(&Key::from_hex(&new_hex).unwrap(), &[]);
    let password: String =
        sqlx::query_scalar("select password_encrypted from services where id = $1")
            .bind(service)
            .fetch_one(&db)
            .await
            .unwrap();
    assert!(password.starts_with(&format!("v1:{}:", new.current_id())));
    assert_eq!(
        new.open(&password, &Provisioning::service_context(service))
            .unwrap()
            .expose_secret(),
        "Windows-Pa55word"
    );
    let token: String = sqlx::query_scalar(
        "select token_secret_encrypted from provisioning_backends where id = $1",
    )
    .bind(backend)
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(
        new.open(&token, &Provisioning::backend_context(backend))
            .unwrap()
            .expose_secret(),
        "api-token-secret"
    );
    let secret: String =
        sqlx::query_scalar("select secret_encrypted from user_two_factor where user_id = $1")
            .bind(operator)
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(
        new.open(&secret, &context).unwrap().expose_secret(),
        "0a1b2c"
    );

    // Again: another new key, everything moves once more, nothing is lost.
    let output = rotate();
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("1 service password(s), 1 backend token(s) and 1 two-factor"));
    let previous = std::fs::read_to_string(secrets.join("credential_keys_previous")).unwrap();
    assert_eq!(previous.lines().count(), 2);
}

#[sqlx::test]
async fn user_reset_2fa_turns_it_off_ends_every_session_and_is_audited(db: PgPool) {
    let app = crate::helpers::TestApp::new(db.clone());
    let login = app.admin("owner@nextgenrdp.pk").await;
    let token = login["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.get_as(&token, "/api/v1/admin/users").await.status, 200);

    let unknown = run(
        &db,
        &["user", "reset-2fa", "--email", "nobody@example.pk"],
        "",
    );
    assert!(!unknown.status.success());
    assert!(
        stderr(&unknown).contains("no account has the e-mail"),
        "{}",
        stderr(&unknown)
    );

    let output = run(
        &db,
        &["user", "reset-2fa", "--email", "Owner@NextGenRDP.pk"],
        "",
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("is reset"), "{}", stdout(&output));
    // Off, the secret and codes gone, every session ended at once.
    let (enabled, secrets, codes): (bool, i64, i64) = sqlx::query_as(
        "select two_factor_enabled_at is not null,
                (select count(*) from user_two_factor t where t.user_id = u.id),
                (select count(*) from two_factor_recovery_codes c where c.user_id = u.id)
         from users u where email = 'owner@nextgenrdp.pk'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((enabled, secrets, codes), (false, 0, 0));
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status, 401);
    let (action, actor, after): (String, Option<i32>, serde_json::Value) = sqlx::query_as(
        "select action, actor_user_id, after from audit_log where action = 'user.two_factor_reset'",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!((action.as_str(), actor), ("user.two_factor_reset", None));
    assert_eq!(after["by"], "cli");
    let mail = app.mails_to("owner@nextgenrdp.pk").await.pop().unwrap();
    assert!(
        mail.contains("Subject: Two-factor sign-in was reset"),
        "{mail}"
    );

    // Logging in with the password works again; the back office wants it set up first.
    let again = app
        .login("owner@nextgenrdp.pk", "operator-passphrase")
        .await;
    let admin_users = app
        .get_as(
            again["access_token"].as_str().unwrap(),
            "/api/v1/admin/users",
        )
        .await;
    assert_eq!(admin_users.status, 403);
    assert!(admin_users.json()["errors"]["two-factor"].is_string());
}

/// The `NEXTGENRDP_*` names (and `DATABASE_URL`) a text mentions.
fn setting_names(text: &str) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for (at, _) in text.match_indices("NEXTGENRDP_") {
        let name: String = text[at..]
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        names.insert(name.trim_end_matches('_').to_owned());
    }
    names
}

#[test]
fn env_example_names_every_setting_the_readme_and_the_code_know() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let table = &readme[readme.find("## Configuration").unwrap()..];
    let table = &table[..table.find("\n## ").unwrap()];
    let example = std::fs::read_to_string(format!("{root}/.env.example")).unwrap();
    let in_example = setting_names(&example);
    let in_readme: std::collections::BTreeSet<String> = setting_names(table)
        .into_iter()
        .filter(|name| name != "NEXTGENRDP")
        .collect();
    let mut in_code = std::collections::BTreeSet::new();
    for entry in walk(&format!("{root}/src")) {
        let text = std::fs::read_to_string(&entry).unwrap();
        for (at, _) in text.match_indices("env = \"NEXTGENRDP_") {
            in_code.extend(
                setting_names(&text[at..at + 80.min(text.len() - at)])
                    .into_iter()
                    .take(1),
            );
        }
    }
    let missing: Vec<_> = in_readme.difference(&in_example).collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
    let unknown: Vec<_> = in_example.difference(&in_readme).collect();
    assert!(
        unknown.is_empty(),
        ".env.example names settings the README does not: {unknown:?}"
    );
    let undocumented: Vec<_> = in_code.difference(&in_readme).collect();
    assert!(
        undocumented.is_empty(),
        "the README's table lacks {undocumented:?}"
    );
    assert!(example.contains("DATABASE_URL="));
}

fn walk(dir: &str) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(path.to_str().unwrap()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn settings_come_from_a_dot_env_file_unless_the_environment_sets_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join(".env"),
        "# the shop's contact details\nNEXTGENRDP_SUPPORT_EMAIL=not-an-address\nNEXTGENRDP_WHATSAPP_NUMBER=\"call us\"\n",
    )
    .unwrap();
    let run = |env: &[(&str, &str)]| {
        Command::new(binary())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .current_dir(dir.path())
            .env("NEXTGENRDP_DATA_DIR", dir.path().join("var"))
            .env_remove("NEXTGENRDP_SUPPORT_EMAIL")
            .env_remove("NEXTGENRDP_WHATSAPP_NUMBER")
            .env("DATABASE_URL", "postgres://nobody@127.0.0.1:1/none")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let from_file = run(&[]);
    assert!(!from_file.status.success());
    let said = String::from_utf8_lossy(&from_file.stderr);
    assert!(
        said.contains("NEXTGENRDP_SUPPORT_EMAIL \"not-an-address\""),
        "{said}"
    );
    // The environment's own value wins; the file still fills in the rest.
    let overridden = run(&[("NEXTGENRDP_SUPPORT_EMAIL", "help@nextgenrdp.pk")]);
    let said = String::from_utf8_lossy(&overridden.stderr);
    assert!(
        said.contains("NEXTGENRDP_WHATSAPP_NUMBER \"call us\""),
        "{said}"
    );
    // A file that is not one is an error naming it, not silently skipped.
    std::fs::write(dir.path().join(".env"), "NEXTGENRDP_LISTEN='unterminated\n").unwrap();
    let broken = run(&[]);
    assert!(!broken.status.success());
    assert!(String::from_utf8_lossy(&broken.stderr).contains("error: .env"));
}
