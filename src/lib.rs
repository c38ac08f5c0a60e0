//! NextGenRDP: sells Windows RDP and Linux VPS plans priced in PKR and runs the business behind
//! the sale. One library, driven by the `nextgenrdp` binary (web server, worker, CLI).

pub mod accounts;
pub mod app;
pub mod audit;
pub mod backup;
pub mod catalog;
pub mod cli;
pub mod config;
pub mod context;
pub mod crypto;
pub mod customers;
pub mod db;
pub mod error;
pub mod jobs;
pub mod keys;
pub mod mail;
pub mod money;
pub mod orders;
pub mod payments;
pub mod provisioning;
pub mod router;
pub mod secrets;
pub mod serve;
pub mod services;
pub mod support;
pub mod telemetry;
pub mod web;
pub mod worker;
