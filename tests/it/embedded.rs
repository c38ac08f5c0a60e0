//! The embedded PostgreSQL cluster against the machine's real server binaries: it starts on a
//! fresh directory, serves the `nextgenrdp` database over a unix socket only, and a second
//! start on the same directory finds the data the first one wrote.

use std::path::Path;

use nextgenrdp::db::embedded::EmbeddedCluster;

/// Whether initdb/pg_ctl are installed where `EmbeddedCluster` looks for them.
fn server_binaries_installed() -> bool {
    let has_both = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    let in_path = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| has_both(&dir)));
    let versioned = std::fs::read_dir("/usr/lib/postgresql").is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|entry| has_both(&entry.path().join("bin")))
    });
    in_path || versioned
}

#[tokio::test]
async fn embedded_cluster_starts_serves_a_database_and_restarts_on_the_same_directory() {
    if !server_binaries_installed() && std::env::var("CI").as_deref() != Ok("true") {
        eprintln!("skipping: no PostgreSQL server binaries (initdb, pg_ctl) installed");
        return;
    }
    let data_dir = tempfile::tempdir().expect("temporary data directory");

    let cluster = EmbeddedCluster::start(data_dir.path())
        .await
        .expect("first start");
    let url = cluster.database_url().to_owned();
    eprintln!("embedded cluster URL: {url}");
    assert!(data_dir.path().join("postgres/PG_VERSION").is_file());
    {
        let pool = nextgenrdp::db::connect(&url, 2).await.expect("connect");
        let one: i32 = sqlx::query_scalar("select 1")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(one, 1);
        let database: String = sqlx::query_scalar("select current_database()")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(database, "nextgenrdp");
        let listen: String = sqlx::query_scalar("show listen_addresses")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(listen, "", "the embedded cluster must not listen on TCP");
        let encoding: String = sqlx::query_scalar("show server_encoding")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(encoding, "UTF8");
        sqlx::query("create table survives_restart (note text not null)")
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("insert into survives_restart values ('kept')")
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }

    // A second start while the first is running reuses that server and leaves it running.
    let second = EmbeddedCluster::start(data_dir.path())
        .await
        .expect("start while running");
    assert_eq!(second.database_url(), url);
    second
        .stop()
        .await
        .expect("stopping a reused cluster is a no-op");
    let pool = nextgenrdp::db::connect(&url, 1)
        .await
        .expect("still running");
    pool.close().await;

    cluster.stop().await.expect("first stop");
    assert!(
        !data_dir.path().join("postgres/postmaster.pid").exists(),
        "stop must shut the server down"
    );

    let cluster = EmbeddedCluster::start(data_dir.path())
        .await
        .expect("restart");
    assert_eq!(cluster.database_url(), url);
    {
        let pool = nextgenrdp::db::connect(cluster.database_url(), 2)
            .await
            .expect("connect after restart");
        let note: String = sqlx::query_scalar("select note from survives_restart")
            .fetch_one(&pool)
            .await
            .expect("the table written before the restart");
        assert_eq!(note, "kept");
        pool.close().await;
    }
    cluster.stop().await.expect("second stop");
}
