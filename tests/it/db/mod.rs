//! Repository tests: every function against a real, freshly migrated PostgreSQL database.

mod audit;
mod backends;
mod catalog;
mod constraints;
mod founding_document;
mod jobs;
mod migrations;
mod orders;
mod plans;
mod promo_codes;
mod services;
mod sessions;
mod statuses;
mod tokens;
mod users;

use nextgenrdp::accounts::users::{NewUser, User};
use sqlx::PgPool;

/// Inserts a customer with the given e-mail.
pub async fn customer(db: &PgPool, email: &str) -> User {
    nextgenrdp::accounts::users::insert(
        db,
        &NewUser {
            name: "Ayesha Khan",
            email,
            phone: Some("+923001234567"),
            password_hash: "$2b$04$abcdefghijklmnopqrstuuS1BfBFOKr3hNq0T4WFd8vd1uBrqWG.O",
            role: nextgenrdp::accounts::Role::Customer,
        },
    )
    .await
    .unwrap()
}
