//! Slow and idle clients against the real binary: a connection that drips its headers, says
//! nothing, or idles after a response is closed after the header-read timeout, while normal
//! requests are answered meanwhile; and connections beyond the bound wait for one to close.

use std::time::{Duration, Instant};

use sqlx::PgPool;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{Node, database_url_for, free_port};

/// Whether the server closed `stream` within `within`: a read returns end-of-file (or an error)
/// instead of waiting.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + within;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue, // a response (the 408 hyper may send): read on to the end
            Err(_) => return false,
        }
    }
}

async fn node(db: &PgPool, data_dir: &std::path::Path, env: &[(&str, &str)]) -> Node {
    let mut env = env.to_vec();
    env.push(("NEXTGENRDP_RUN_WORKER", "false"));
    let mut node = Node::spawn_with(&database_url_for(db), free_port(), data_dir, "node", &env);
    node.wait_up().await;
    node
}

#[sqlx::test]
async fn slow_header_and_silent_connections_are_closed_while_others_are_served(db: PgPool) {
    let data_dir = tempfile::tempdir().unwrap();
    let node = node(
        &db,
        data_dir.path(),
        &[("NEXTGENRDP_HEADER_READ_TIMEOUT_SECS", "2")],
    )
    .await;
    let address = node.base.trim_start_matches("http://").to_owned();

    // 300 connections: each starts a request and drips a header line every second, never
    // finishing (slowloris); before, such connections stayed open indefinitely.
    let mut drips = Vec::new();
    for n in 0..300 {
        let address = address.clone();
        drips.push(tokio::spawn(async move {
            let mut stream = TcpStream::connect(&address).await.unwrap();
            let opened = Instant::now();
            stream
                .write_all(b"GET /api/v1/plans HTTP/1.1\r\nHost: shop\r\n")
                .await
                .unwrap();
            for line in 0..30 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let header = format!("X-Drip-{n}-{line}: a\r\n");
                if stream.write_all(header.as_bytes()).await.is_err() {
                    return opened.elapsed();
                }
                let mut probe = [0u8; 1024];
                if let Ok(Ok(0) | Err(_)) =
                    tokio::time::timeout(Duration::from_millis(1), stream.read(&mut probe)).await
                {
                    return opened.elapsed();
                }
            }
            panic!("connection {n} was still open after 30 s of dripping headers");
        }));
    }
    // One that connects and says nothing at all.
    let mut silent = TcpStream::connect(&address).await.unwrap();

    // Meanwhile, ordinary requests are answered.
    let client = reqwest::Client::new();
    let mut latencies = Vec::new();
    for _ in 0..40 {
        let started = Instant::now();
        let answer = client
            .get(format!("{}/api/v1/plans", node.base))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        answer.bytes().await.unwrap();
        latencies.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    latencies.sort();
    println!(
        "catalog requests during 300 dripping connections: median {:?}, max {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );

    assert!(
        closed_within(&mut silent, Duration::from_secs(10)).await,
        "a connection that never sent a byte stayed open"
    );
    let mut held = Vec::new();
    for drip in drips {
        held.push(drip.await.unwrap());
    }
    held.sort();
    println!(
        "dripping connections closed after {:?} (first) to {:?} (last)",
        held[0],
        held[held.len() - 1]
    );
}

#[sqlx::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_timeout(db: PgPool) {
    let data_dir = tempfile::tempdir().unwrap();
    let node = node(
        &db,
        data_dir.path(),
        &[("NEXTGENRDP_HEADER_READ_TIMEOUT_SECS", "2")],
    )
    .await;
    let mut stream = TcpStream::connect(node.base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await
        .unwrap();
    let mut answer = vec![0u8; 4096];
    let read = stream.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
    // Kept alive: a second request on it works...
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: shop\r\n\r\n")
        .await
        .unwrap();
    let read = stream.read(&mut answer).await.unwrap();
    assert!(String::from_utf8_lossy(&answer[..read]).starts_with("HTTP/1.1 200"));
    // ...and idle, it is closed by the server.
    assert!(
        closed_within(&mut stream, Duration::from_secs(10)).await,
        "an idle keep-alive connection stayed open"
    );
}

#[sqlx::test]
async fn connections_beyond_the_bound_wait_until_one_closes(db: PgPool) {
    let data_dir = tempfile::tempdir().unwrap();
    let node = node(
        &db,
        data_dir.path(),
        &[
            ("NEXTGENRDP_MAX_CONNECTIONS", "4"),
            ("NEXTGENRDP_HEADER_READ_TIMEOUT_SECS", "60"),
        ],
    )
    .await;
    let address = node.base.trim_start_matches("http://").to_owned();
    let mut holders = Vec::new();
    for _ in 0..4 {
        holders.push(TcpStream::connect(&address).await.unwrap());
    }
    // Let the server take them (and close wait_up's connection).
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The bound is reached: a fifth client is not served (its connection waits in the backlog)...
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .unwrap();
    let waiting = client.get(format!("{}/healthz", node.base)).send().await;
    assert!(waiting.is_err(), "served beyond the bound: {waiting:?}");
    // ...until connections close.
    drop(holders);
    let served = client
        .get(format!("{}/healthz", node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), 200);
}
