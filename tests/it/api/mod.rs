//! The JSON API, route by route.

mod admin_users;
mod auth;
mod me;
