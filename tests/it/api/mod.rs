//! The JSON API, route by route.

mod admin_catalog;
mod admin_orders;
mod admin_users;
mod auth;
mod backends;
pub mod cart;
mod catalog;
mod credit;
mod easypaisa;
mod hostile;
mod idor;
pub mod invoices;
mod jazzcash;
mod jobs;
mod me;
mod orders;
pub mod payments;
mod refunds;
mod roles;
mod services;
pub mod ssh_keys;
mod tickets;
mod two_factor;
pub mod whatsapp;
