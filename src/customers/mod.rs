//! Customers: the whole picture of one customer for the back office — profile, sessions,
//! credit, orders, payments, services, tickets and the staff's internal notes — gathered from
//! the domains that own each part (this domain ranks above them all and owns only the notes).
//!
//! What the picture holds depends on who looks: a section the viewer's role may not see
//! (money, tickets) is left out, never blanked, so the API says `null` and the page shows no
//! card for it.

pub mod admin_api;
pub mod admin_pages;
pub mod notes;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::accounts::Role;
use crate::accounts::staff::Permission;
use crate::accounts::users::{self, User};
use crate::accounts::{credit, sessions};
use crate::error::{AppError, AppResult};
use crate::orders::orders::{self, Order};
use crate::payments::payments::{self, Payment};
use crate::services::services::{self, Service};
use crate::support::tickets::{self, Ticket};
pub use notes::Note;

/// How many of the newest orders, payments and tickets the picture lists (the lists behind
/// them hold the rest).
pub const NEWEST: i64 = 10;

/// How many services the picture lists (a reseller may have hundreds; the services page has
/// them all).
pub const SERVICES_SHOWN: i64 = 25;

/// The account part of the picture.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Profile {
    pub id: i32,
    pub name: String,
    pub email: String,
    /// E.164 (`+923001234567`), or null.
    pub phone: Option<String>,
    /// `https://wa.me/<digits>` for the phone, or null.
    pub whatsapp_url: Option<String>,
    pub role: Role,
    pub is_verified: bool,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub disabled_at: Option<DateTime<Utc>>,
    pub last_login_at: Option<DateTime<Utc>>,
    pub created_at: Option<DateTime<Utc>>,
    pub two_factor_enabled: bool,
}

impl From<&User> for Profile {
    fn from(user: &User) -> Self {
        Self {
            id: user.id,
            name: user.name.clone(),
            email: user.email.clone(),
            phone: user.phone.clone(),
            whatsapp_url: user.phone.as_deref().map(whatsapp_url),
            role: user.role,
            is_verified: user.is_verified(),
            email_verified_at: user.email_verified_at,
            disabled_at: user.disabled_at,
            last_login_at: user.last_login_at,
            created_at: user.created_at,
            two_factor_enabled: user.two_factor_enabled_at.is_some(),
        }
    }
}

/// A chat link to a phone number (WhatsApp wants the digits only, country code first).
pub fn whatsapp_url(phone: &str) -> String {
    let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
    format!("https://wa.me/{digits}")
}

/// A device signed in to the account.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct SessionSummary {
    pub id: i32,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Whether the session proved a second factor.
    pub two_factor: bool,
}

impl From<sessions::Session> for SessionSummary {
    fn from(session: sessions::Session) -> Self {
        Self {
            id: session.id,
            ip_address: session.ip_address,
            user_agent: session.user_agent,
            created_at: session.created_at,
            last_used_at: session.last_used_at,
            two_factor: session.two_factor_at.is_some(),
        }
    }
}

/// The money part: credit, orders and payments (for roles that see money).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Money {
    /// Account credit, whole PKR.
    pub credit_pkr: i32,
    /// How many orders the customer has.
    pub orders_total: i64,
    /// The newest orders, newest first.
    pub orders: Vec<Order>,
    /// The newest payments of all their orders, newest first.
    pub payments: Vec<Payment>,
}

/// The support part: tickets (for roles that answer them).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Support {
    pub tickets_total: i64,
    /// The most recently moved tickets first.
    pub tickets: Vec<Ticket>,
}

/// One customer's whole picture.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Picture {
    pub customer: Profile,
    /// The devices signed in now, newest first.
    pub sessions: Vec<SessionSummary>,
    /// How many services the customer has (terminated ones included).
    pub services_total: i64,
    /// The newest services, at most 25, newest first (no credentials: those are revealed one at
    /// a time); the rest through `GET /api/v1/admin/services?user_id=`.
    pub services: Vec<Service>,
    /// Null for a role that does not see money.
    pub money: Option<Money>,
    /// Null for a role that does not answer tickets.
    pub support: Option<Support>,
    /// The staff's internal notes, newest first.
    pub notes: Vec<Note>,
}

/// The picture of customer `id` as a `viewer` of this role may see it.
pub async fn picture(db: &PgPool, viewer: Role, id: i32) -> AppResult<Picture> {
    let user = users::find(db, id)
        .await?
        .ok_or(AppError::NotFound("customer"))?;
    let sessions = sessions::list_live_for_user(db, id).await?;
    let filter = services::ServiceFilter {
        user_id: Some(id),
        ..services::ServiceFilter::default()
    };
    let services_total = services::count(db, &filter).await?.count;
    let services = services::list(db, &filter, SERVICES_SHOWN, 0).await?;
    let money = if viewer.can(Permission::ViewMoney) {
        Some(Money {
            credit_pkr: credit::balance(db, id).await?,
            orders_total: orders::count_for_user(db, id).await?,
            orders: orders::list_for_user(db, id, NEWEST, 0).await?,
            payments: payments::list_for_user(db, id, NEWEST).await?,
        })
    } else {
        None
    };
    let support = if viewer.can(Permission::Tickets) {
        Some(Support {
            tickets_total: tickets::count_for_user(db, id).await?,
            tickets: tickets::list_for_user(db, id, NEWEST, 0).await?,
        })
    } else {
        None
    };
    Ok(Picture {
        customer: Profile::from(&user),
        sessions: sessions.into_iter().map(SessionSummary::from).collect(),
        services_total,
        services,
        money,
        support,
        notes: notes::list(db, id).await?,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn whatsapp_links_take_the_digits() {
        assert_eq!(
            super::whatsapp_url("+923001234567"),
            "https://wa.me/923001234567"
        );
    }
}
