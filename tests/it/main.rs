//! The integration suite: one binary, files mirroring the code (`db/` the repositories, `http`
//! the routes, `cli` the real binary, `browser` real Chromium). Each database test gets a
//! fresh, migrated database from `#[sqlx::test]` (DATABASE_URL names the server; see
//! scripts/test).

mod api;
mod architecture;
mod backup;
mod browser;
mod cli;
mod clients;
mod console;
mod db;
mod embedded;
mod fake_easypaisa;
mod fake_jazzcash;
mod fake_whatsapp;
mod fakepve;
mod faults;
mod helpers;
mod http;
mod journey;
mod mail;
mod metrics;
mod openapi;
mod pages;
mod provisioning;
mod proxmox_client;
mod reinstall;
mod renewals;
mod schemathesis;
mod slow_clients;
mod snapshots;
mod support_journey;
mod usage;
mod worker;
